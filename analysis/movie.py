"""A movie of a run in the study's colour code, time and stage written on every frame.

Frames are drawn by :mod:`mdkit.analysis.draw` (same view throughout, the
vacant sites circled, the migrating atoms ringed) and encoded by ffmpeg
(Debian package ``ffmpeg``) into MP4 (H.264) or GIF; without ffmpeg a GIF is
still written, by Pillow.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mdkit import writer
from mdkit.progress import ItemProgress
from mdkit.runfolder import is_own_output

from . import draw

FORMATS = (".mp4", ".gif")


class MovieError(draw.DrawError):
    """A movie that cannot be made as asked."""


def movie_frames(n_frames: int, max_frames: int) -> np.ndarray:
    """Evenly spaced frame indices, at most ``max_frames``, first and last included."""
    return np.unique(np.linspace(0, n_frames - 1, min(n_frames, max_frames)).round()
                     .astype(int))


def write_movie(frames: draw.RunFrames, output, max_frames: int = 100, fps: float = 10.0,
                size_px: int = 480, renderer: str = "auto",
                progress: bool | None = None, force: bool = False) -> Path:
    """Draw frames of a run and encode them into ``output`` (.mp4 or .gif).

    Parameters
    ----------
    frames : RunFrames
    output : path
        Written under a temporary name, then renamed.  A file of that name
        that mdkit did not write is refused before any frame is drawn, or
        with ``force`` moved aside (never deleted).
    max_frames : int
        Frames of the movie, evenly spaced over the run.
    fps : float
        Frames per second of the movie.
    size_px : int
        Width of the movie, pixels.
    progress : bool, optional
        None: bar on a terminal, lines elsewhere; False: silent.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        raise MovieError(f"{output}: a movie is written as .mp4 or .gif, not "
                         f"{output.suffix or 'a file without suffix'}.")
    ffmpeg = shutil.which("ffmpeg")
    if suffix == ".mp4" and ffmpeg is None:
        raise MovieError("writing MP4 needs ffmpeg (Debian package ffmpeg); install it, or "
                         "write a .gif.")
    chosen = movie_frames(len(frames), max_frames)
    with tempfile.TemporaryDirectory(prefix="mdkit-movie-") as folder, \
            writer.output_path(output, force=force, mine=is_own_output) as tmp:
        # a failed encoder leaves no half file
        with ItemProgress(f"mdkit movie: {frames.folder.name}", "frames drawn", len(chosen),
                          progress) as bar:
            for k, frame in enumerate(chosen):
                draw.draw(frames.scene(frame), Path(folder) / f"f{k:05d}.png", size_px,
                          renderer=renderer)
                bar.advance()
        if ffmpeg:
            _ffmpeg(ffmpeg, Path(folder), fps, tmp)
        else:
            _pillow_gif(sorted(Path(folder).glob("f*.png")), fps, tmp)
        if suffix == ".gif":
            _mark_gif(tmp)
    return output


def _ffmpeg(ffmpeg: str, folder: Path, fps: float, out: Path) -> None:
    if out.suffix.lower() == ".mp4":
        # H.264 wants even sizes and yuv420p for players to accept it; the index (and the
        # comment that says mdkit wrote the file) goes first, where a reader finds it
        filters = ["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white", "-pix_fmt", "yuv420p",
                   "-metadata", f"comment={writer.MARK}", "-movflags", "+faststart"]
    else:
        filters = ["-vf", "split[a][b];[a]palettegen[p];[b][p]paletteuse"]
    done = subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-framerate", str(fps),
                           "-i", str(folder / "f%05d.png"), *filters, str(out)],
                          capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MovieError(f"ffmpeg could not encode {out.name}: {last}")


def _mark_gif(path: Path) -> None:
    """Put :data:`mdkit.writer.MARK` in a GIF as a comment extension, before its trailer."""
    data = path.read_bytes()
    mark = writer.MARK.encode()
    if not data.endswith(b";"):
        raise MovieError(f"{path.name} is not a whole GIF (no trailer); nothing was written.")
    # extension introducer, comment label, one data sub-block, block terminator
    path.write_bytes(data[:-1] + b"\x21\xfe" + bytes([len(mark)]) + mark + b"\x00;")


def _pillow_gif(paths, fps: float, out: Path) -> None:
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    images[0].save(out, save_all=True, append_images=images[1:], duration=int(1000 / fps),
                   loop=0)
