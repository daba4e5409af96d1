"""The Figure-4 panel: snapshots of a run above its Rg-vs-time curve, each joined to its time.

Snapshots are taken at chosen times or, by default, at the start, at each
confirmed event and at the end.  All are drawn in the same view, in the
frame of the reference sites (see :mod:`mdkit.analysis.draw`), with the
vacant sites circled and the migrating atoms ringed.
"""

from __future__ import annotations


import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import ConnectionPatch

from . import draw
from .plots import _shade_stages, claim, save

WIDTH_IN = 7.0  # a journal page width


#: Most snapshots in the automatic choice; more would be too small to read in a row.
MAX_AUTO_SNAPSHOTS = 8


def snapshot_frames(times, events, at_ps=None) -> list[int]:
    """Frames to show: nearest to ``at_ps`` if given, else start, each event, end
    (with more than :data:`MAX_AUTO_SNAPSHOTS` of those, an even pick among them that
    keeps the start and the end)."""
    times = np.asarray(times, dtype=float)
    wanted = at_ps if at_ps else [times[0], *(e["time_ps"] for e in events), times[-1]]
    frames = sorted({int(np.argmin(np.abs(times - t))) for t in wanted})
    if not at_ps and len(frames) > MAX_AUTO_SNAPSHOTS:
        keep = np.linspace(0, len(frames) - 1, MAX_AUTO_SNAPSHOTS).round().astype(int)
        frames = [frames[k] for k in keep]
    return frames


def figure4(frames: draw.RunFrames, rg_angstrom, stem, at_ps=None, size_px: int = 300,
            formats=("png", "pdf"), renderer: str = "auto", progress=None, dpi: int = 300,
            force: bool = False):
    """Draw and write the panel; returns the paths written.

    Parameters
    ----------
    frames : RunFrames
    rg_angstrom : (n_frames,) array
        Rg of the ion per frame, Å.
    stem : path without suffix
    at_ps : sequence of float, optional
        Snapshot times (ps); default start, each event, end.
    size_px : int
        Rendered size of each snapshot, pixels.
    progress : callable, optional
        Called after each snapshot is rendered.
    dpi : int
        Resolution of the PNG (300 for print; about 110 keeps a web picture small).
    force : bool
        Move a file of that name that mdkit did not write aside (never deleted).
    """
    claim(stem, formats, force)
    times = frames.times
    chosen = snapshot_frames(times, frames.events, at_ps)
    n = len(chosen)
    fig = Figure(figsize=(WIDTH_IN, WIDTH_IN / n + 2.6), layout="constrained")
    grid = fig.add_gridspec(2, n, height_ratios=[WIDTH_IN / n, 2.2])
    curve = fig.add_subplot(grid[1, :])
    stage_index = {name: k for k, name in enumerate(dict.fromkeys(frames.stage_names))}
    _shade_stages(curve, times, [stage_index[s] for s in frames.stage_names], list(stage_index))
    curve.plot(times, rg_angstrom, lw=0.8, color="k")
    for event in frames.events:
        curve.axvline(event["time_ps"], color="C3", ls="--", lw=0.6)
    curve.set_xlim(times[0], times[-1])
    curve.set_xlabel("time / ps", fontsize=8)
    curve.set_ylabel("radius of gyration / Å", fontsize=8)
    curve.tick_params(labelsize=7)
    handles = {}
    for k, frame in enumerate(chosen):
        ax = fig.add_subplot(grid[0, k])
        scene = frames.scene(frame)
        image, projection = draw.render(scene, size_px, renderer=renderer)
        for handle in draw.compose(ax, image, projection, scene):
            handles.setdefault(handle.get_label(), handle)
        point = (times[frame], rg_angstrom[frame])
        curve.plot(*point, "o", ms=3.5, color="C0", zorder=5)
        fig.add_artist(ConnectionPatch(xyA=(0.5, 0.0), coordsA=ax.transAxes, xyB=point,
                                       coordsB=curve.transData, color="C0", lw=0.6))
        if progress:
            progress()
    fig.legend(handles=list(handles.values()) + [Line2D([], [], color="C3", ls="--", lw=0.6,
                                                        label="event")],
               loc="outside upper center", ncol=min(6, len(handles) + 1), fontsize=6,
               frameon=False)
    return save(fig, stem, formats, force=force, dpi=dpi, bbox_inches=None)
