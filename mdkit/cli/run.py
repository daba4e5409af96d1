from __future__ import annotations

import sys

from mdkit.cli.analyze import analyze_and_print
from mdkit.cli.common import QUIET
from mdkit.errors import MdkitError


class CLICommand:
    """run (or resume) the MD protocol of a run spec

    Run the stages of a TOML run spec into a run folder beside it.  An
    interrupted run resumes from its last checkpoint; a finished one is left
    alone.
    """

    parents = (QUIET,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("spec", help="run spec (TOML), e.g. runs/ag28_iso1_gfnff.toml")
        parser.add_argument("--force", action="store_true",
                            help="start afresh; the old run folder is kept under a "
                                 "time-stamped name")
        parser.add_argument("--no-analyze", action="store_true",
                            help="do not analyse the finished run (see mdkit analyze)")

    @staticmethod
    def run(args):
        from mdkit.protocol import load_spec

        spec = load_spec(args.spec)  # validate before the heavy imports
        from mdkit.md import run
        from mdkit.runfolder import RunFolder

        progress = False if args.quiet else None
        folder = run(spec, force=args.force, progress=progress)
        print(f"mdkit run: {folder}")
        done = RunFolder(folder)
        if not args.no_analyze and done.finished and not done.output("summary.json").exists():
            try:
                analyze_and_print(folder, residence_ps=0.5, formats=("png", "pdf"),
                                  progress=progress)
            except MdkitError as err:  # the run itself is fine; say why it was not analysed
                print(f"mdkit run: not analysed: {err}", file=sys.stderr)
