from __future__ import annotations

from mdkit.cli.common import FORCE, QUIET, positive_float, positive_int


class CLICommand:
    """movie of a run in the site colours

    Frames drawn as by mdkit draw, the time and stage on each, encoded by
    ffmpeg (MP4 or GIF).
    """

    parents = (QUIET, FORCE)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("run", metavar="RUN", help="run folder")
        parser.add_argument("-o", "--output", required=True, help="movie: .mp4 or .gif")
        parser.add_argument("--frames", type=positive_int, default=100,
                            help="frames, evenly spaced (default 100)")
        parser.add_argument("--fps", type=positive_float, default=10.0,
                            help="frames per second (default 10)")
        parser.add_argument("--size", type=positive_int, default=480,
                            help="width in pixels (default 480)")

    @staticmethod
    def run(args):
        from mdkit.analysis import draw
        from mdkit.analysis.movie import write_movie

        frames = draw.RunFrames(args.run)
        path = write_movie(frames, args.output, max_frames=args.frames, fps=args.fps,
                           size_px=args.size, progress=False if args.quiet else None,
                           force=args.force)
        print(f"mdkit movie: {path}")
