"""Figures of a run: Rg vs time, the occupancy map, temperature and energies.

Figures are sized for a journal column (3.4 in wide) and written in every
format asked for (PNG at 300 dpi, PDF, SVG).  They use matplotlib's object
interface (no pyplot state), so they work headless and in threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from mdkit import writer
from mdkit.runfolder import is_own_output
from mdkit.sites import SiteMap

COLUMN_IN = 3.4
FORMATS = ("png", "pdf")


def claim(stem, formats=FORMATS, force: bool = False) -> None:
    """Refuse (or with ``force`` move aside) the files ``stem.<format>`` that mdkit did not
    write; call it before drawing, so that a refused figure costs no work."""
    stem = Path(stem)
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if not is_own_output(path):
            writer.claim(path, force=force)


def save(fig: Figure, stem, formats=FORMATS, *, force: bool = False, dpi: int = 300,
         bbox_inches="tight") -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each format, each whole; returns the paths.

    A file of that name that mdkit did not write is refused, or with
    ``force`` moved aside (see :func:`mdkit.writer.output_path`); a run's
    or sweep's own ``analysis/`` outputs are simply written again.
    """
    stem = Path(stem)
    claim(stem, formats, force)  # every format first: a refusal leaves no figure half-made
    paths = []
    for fmt in formats:
        paths.append(writer.save_figure(fig, stem.with_name(f"{stem.name}.{fmt}"),
                                        claim_target=True, force=force, mine=is_own_output,
                                        dpi=dpi, bbox_inches=bbox_inches, format=fmt))
    return paths


def _shade_stages(ax, times, stage, names) -> None:
    """Alternate grey bands for the stages, named at the top."""
    stage = np.asarray(stage)
    starts = np.flatnonzero(np.r_[True, np.diff(stage) != 0])
    for k, first in enumerate(starts):
        last = starts[k + 1] if k + 1 < len(starts) else len(stage) - 1
        if k % 2 == 0:
            ax.axvspan(times[first], times[last], color="0.92", zorder=0, lw=0)
        ax.text((times[first] + times[last]) / 2, 1.0, names[stage[first]],
                transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=6)


def plot_rg(series: list[dict], stem, formats=FORMATS, force: bool = False) -> list[Path]:
    """Rg vs time for one or more runs, stages shaded and events marked.

    Parameters
    ----------
    series : list of dict
        Each with ``label``, ``times`` (ps), ``rg`` (Å), and optionally
        ``stage`` (stage index per frame), ``stage_names`` and ``events``
        (dicts with ``time_ps`` and ``kind``).  Stages are shaded from the
        first series.
    stem : path without suffix
    force : bool
        Move a file of that name that mdkit did not write aside (never deleted).
    """
    fig = Figure(figsize=(COLUMN_IN, 2.4), layout="constrained")
    ax = fig.add_subplot()
    first = series[0]
    if first.get("stage") is not None:
        _shade_stages(ax, first["times"], first["stage"], first["stage_names"])
    for k, run in enumerate(series):
        (line,) = ax.plot(run["times"], run["rg"], lw=0.8, label=run["label"])
        for event in run.get("events", ()):
            ax.axvline(event["time_ps"], color=line.get_color(), ls="--", lw=0.7)
            ax.plot(event["time_ps"], np.interp(event["time_ps"], run["times"], run["rg"]),
                    marker="v", color=line.get_color(), ms=4,
                    label=f"{event['kind']} event" if k == 0 and event is run["events"][0]
                    else None)
    ax.set_xlabel("time / ps", fontsize=8)
    ax.set_ylabel("radius of gyration / Å", fontsize=8)
    ax.set_xlim(min(r["times"][0] for r in series), max(r["times"][-1] for r in series))
    if len(series) > 1 or any(run.get("events") for run in series):
        ax.legend(fontsize=6, frameon=False)
    ax.tick_params(labelsize=7)
    return save(fig, stem, formats, force=force)


def plot_occupancy(times, occupancy, sites: SiteMap, stem, formats=FORMATS) -> list[Path]:
    """Occupancy map: sites (grouped by class, inner to outer) against time.

    Parameters
    ----------
    times : (n_frames,) array, ps
    occupancy : (n_frames, n_sites) array of int
    sites : SiteMap
    """
    order = np.concatenate([sites.select(c) for c in sites.class_names])
    data = np.clip(np.asarray(occupancy)[:, order].T, 0, 2)
    fig = Figure(figsize=(COLUMN_IN, min(0.8 + 0.035 * len(order), 4.5)), layout="constrained")
    ax = fig.add_subplot()
    cmap = ListedColormap(["#d62728", "#f0f0f0", "#1f77b4"])
    image = ax.imshow(data, aspect="auto", interpolation="nearest", cmap=cmap, vmin=-0.5,
                      vmax=2.5, extent=(times[0], times[-1], len(order) - 0.5, -0.5))
    bar = fig.colorbar(image, ax=ax, ticks=[0, 1, 2], fraction=0.05, pad=0.02)
    bar.ax.set_yticklabels(["vacant", "1", "2+"], fontsize=6)
    edges, centres, names = [], [], []
    position = 0
    for cls in sites.class_names:
        n = len(sites.select(cls))
        centres.append(position + (n - 1) / 2)
        names.append(cls)
        position += n
        edges.append(position - 0.5)
    for edge in edges[:-1]:
        ax.axhline(edge, color="k", lw=0.5)
    ax.set_yticks(centres, names, fontsize=6)
    ax.set_xlabel("time / ps", fontsize=8)
    ax.set_ylabel("site (by class)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return save(fig, stem, formats)


def plot_thermo(thermo: dict, stem, formats=FORMATS) -> list[Path]:
    """Temperature (K) and potential and total energy (eV) against time (ps)."""
    fig = Figure(figsize=(COLUMN_IN, 3.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    t = thermo["time_ps"]
    names = list(dict.fromkeys(thermo["stage_name"]))
    for ax in (top, bottom):
        _shade_stages(ax, t, [names.index(n) for n in thermo["stage_name"]], names)
        ax.tick_params(labelsize=7)
    top.plot(t, thermo["temperature_K"], lw=0.7, color="C3")
    top.set_ylabel("temperature / K", fontsize=8)
    bottom.plot(t, thermo["potential_eV"], lw=0.7, label="potential")
    bottom.plot(t, thermo["total_eV"], lw=0.7, label="total")
    bottom.set_ylabel("energy / eV", fontsize=8)
    bottom.set_xlabel("time / ps", fontsize=8)
    bottom.legend(fontsize=6, frameon=False)
    return save(fig, stem, formats)


def plot_ccs(times, ccs, error, rg_times, rg, stem, label="", formats=FORMATS) -> list[Path]:
    """CCS (Å², with its statistical error) above Rg (Å), against time (ps)."""
    fig = Figure(figsize=(COLUMN_IN, 3.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.errorbar(times, ccs, yerr=error, fmt="o-", ms=2.5, lw=0.7, capsize=1.5, label=label)
    top.set_ylabel("CCS / Å²", fontsize=8)
    bottom.plot(rg_times, rg, lw=0.7, color="C1")
    bottom.set_ylabel("radius of gyration / Å", fontsize=8)
    bottom.set_xlabel("time / ps", fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
    return save(fig, stem, formats)
