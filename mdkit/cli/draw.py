from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import FORCE, duration_ps, positive_int
from mdkit.errors import MdkitError


class CLICommand:
    """picture of a structure or a run frame in the site colours

    Draw metal atoms by site class (centre and shell blue, staple pink,
    tetrahedral green, Hg purple), S yellow, C grey, each vacant site as a
    red circle and the migrating atoms ringed; POV-Ray when installed, else
    matplotlib.
    """

    parents = (FORCE,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("target", metavar="FILE|RUN", help="structure file or run folder")
        parser.add_argument("--at", type=duration_ps,
                            help="time in the run (default: its last frame)")
        parser.add_argument("-o", "--output", required=True,
                            help="picture: .png, .pdf or .svg")
        parser.add_argument("--size", type=positive_int, default=600,
                            help="width in pixels (default 600)")
        parser.add_argument("--hydrogen", action="store_true", help="show H atoms")

    @staticmethod
    def run(args):
        from mdkit.analysis import draw

        target = Path(args.target)
        if target.is_dir():
            frames = draw.RunFrames(target)
            frame = len(frames) - 1 if args.at is None else frames.frame_at(args.at)
            scene = frames.scene(frame)
        else:
            if args.at is not None:
                raise MdkitError(f"--at picks a time in a run folder; {target} is a "
                                 "structure file.")
            from mdkit.systems import read_structure

            atoms, sites = read_structure(target)
            scene = draw.structure_scene(atoms, sites)
        picture = draw.draw(scene, args.output, size_px=args.size, show_h=args.hydrogen,
                            force=args.force)
        print(f"mdkit draw: {args.output} ({picture.renderer}, {len(scene.vacant)} vacant "
              f"site(s) circled)")
