from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import FORCE, FORMATS, figure_formats
from mdkit.errors import MdkitError


class CLICommand:
    """compare runs in one figure

    Plot a quantity of several runs on one figure.
    """

    parents = (FORMATS, FORCE)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("quantity", choices=["rg"], help="what to plot")
        parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
        parser.add_argument("--selection", default="ion", choices=["ion", "metal", "core"],
                            help="atoms for Rg (default ion)")
        parser.add_argument("-o", "--output", default="rg.png",
                            help="output file (default rg.png)")

    @staticmethod
    def run(args):
        from mdkit import store
        from mdkit.analysis import RadiusOfGyration, plots
        from mdkit.analysis.report import rg_selections

        series = []
        for folder in map(Path, args.runs):
            universe = store.open_run(folder)
            groups = rg_selections(universe, store.read_sites(folder))
            if args.selection not in groups:
                raise MdkitError(f"{folder} has no {args.selection!r} atoms; choose one of "
                                 f"{', '.join(groups)}.")
            result = RadiusOfGyration(groups[args.selection]).run().results
            thermo = store.read_thermo(folder)
            series.append({"label": folder.name, "times": result.times, "rg": result.rg,
                           "stage": thermo["stage"][:len(result.rg)],
                           "stage_names": list(dict.fromkeys(thermo["stage_name"]))})
        for path in plots.plot_rg(series, Path(args.output).with_suffix(""),
                                  figure_formats(args.formats), force=args.force):
            print(f"mdkit plot: {path}")
