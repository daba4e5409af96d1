from __future__ import annotations

from mdkit.cli.common import FORCE, duration_ps, names


class CLICommand:
    """export frames for collision-cross-section programs

    Write chosen frames, centred, as XYZ (and IMoS / MOBCAL inputs) with an
    index.csv.
    """

    parents = (FORCE,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("run", metavar="RUN", help="run folder")
        parser.add_argument("--every", type=duration_ps,
                            help="one frame every DURATION (e.g. 1ps)")
        parser.add_argument("--at", type=duration_ps, action="append",
                            help="a frame at this time (repeatable)")
        parser.add_argument("--events", action="store_true",
                            help="the frame of each migration event")
        parser.add_argument("--window", type=duration_ps, default=0.0,
                            help="with --events, also the frames this long before and after")
        parser.add_argument("--extremes", action="store_true",
                            help="the frames of minimal and maximal Rg")
        parser.add_argument("--stage-ends", action="store_true",
                            help="the last frame of each stage")
        parser.add_argument("--format", default="xyz",
                            help="xyz, imos, mfj; comma-separated")
        parser.add_argument("-o", "--output", help="output folder (default RUN/snapshots)")

    @staticmethod
    def run(args):
        from mdkit.analysis.snapshots import snapshots_of_run
        from mdkit.runfolder import RunFolder

        done = snapshots_of_run(RunFolder(args.run), at_ps=args.at or (),
                                every_ps=args.every, events=args.events,
                                window_ps=args.window, extremes=args.extremes,
                                stage_ends=args.stage_ends, output=args.output,
                                formats=names(args.format), force=args.force)
        charges = "calculator" if done["calculator_charges"] else "evenly spread"
        print(f"mdkit snapshots: {len(done['frames'])} frames ({charges} charges) -> "
              f"{done['index']}")
