from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import FORCE


class CLICommand:
    """self-contained HTML report of runs or a sweep

    Write RUN/analysis/report.html (analysing the run first if needed):
    summary, Rg and CCS, occupancy, events, the Figure-4 panel and a 3-D
    trajectory viewer.  Several runs go side by side on one page (-o); a
    sweep folder gets the ensemble page with links to its members' reports.
    """

    parents = (FORCE,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("runs", nargs="+", metavar="RUN", help="run or sweep folder(s)")
        parser.add_argument("-o", "--output",
                            help="page for several runs, e.g. compare.html")

    @staticmethod
    def run(args):
        from mdkit.analysis import html_report
        from mdkit.analysis.report import analyze_run
        from mdkit.runfolder import RunFolder, SweepFolder

        folders = [Path(f) for f in args.runs]
        if args.output is not None:  # before any analysis: a refused page costs no work
            html_report.claim_page(args.output, force=args.force)
        runs = [f for f in folders if not SweepFolder(f).index.exists()]
        for folder in folders:
            if SweepFolder(folder).index.exists():
                print(f"mdkit report: {html_report.sweep_report(folder)}")
            elif not RunFolder(folder).summary.exists():
                analyze_run(folder)
            elif len(runs) == 1:
                html_report.run_report(folder)
        if len(runs) == 1 and args.output is None:
            print(f"mdkit report: {RunFolder(runs[0]).report}")
        elif runs:
            print(f"mdkit report: {html_report.report(runs, args.output, force=args.force)}")
