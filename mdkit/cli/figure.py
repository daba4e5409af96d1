from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import FORCE, FORMATS, duration_ps, figure_formats, positive_int


class CLICommand:
    """snapshots above the Rg curve (the Figure-4 panel)

    Rg vs time with the stages shaded, and snapshots (start, each event,
    end, or --at times) joined to their times.
    """

    parents = (FORMATS, FORCE)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("run", metavar="RUN", help="run folder")
        parser.add_argument("--at", type=duration_ps, action="append",
                            help="a snapshot time (repeatable)")
        parser.add_argument("-o", "--output", help="file stem (default RUN/analysis/figure4)")
        parser.add_argument("--dpi", type=positive_int, default=300,
                            help="PNG resolution (default 300; 110 for a small web picture)")

    @staticmethod
    def run(args):
        from mdkit.analysis import RadiusOfGyration, draw
        from mdkit.analysis.figure import figure4
        from mdkit.runfolder import RunFolder

        folder = Path(args.run)
        frames = draw.RunFrames(folder)
        rg = RadiusOfGyration(frames.universe.atoms).run().results.rg
        stem = Path(args.output).with_suffix("") if args.output \
            else RunFolder(folder).output("figure4")
        for path in figure4(frames, rg, stem, at_ps=args.at,
                            formats=figure_formats(args.formats), dpi=args.dpi,
                            force=args.force):
            print(f"mdkit figure: {path}")
