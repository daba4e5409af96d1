"""Snapshot structures from a run, for collision-cross-section programs.

Frames are chosen by :func:`choose_frames` (given times, every N ps, each
event +- a window, the frames of minimal and maximal Rg, the stage ends) and
written by :func:`write_snapshots`, centred at the centre of mass, in any of

* ``xyz``: extended XYZ (element, x, y, z in Å) with the charge in the comment;
* ``imos``: XYZ with a fifth column of partial charges (e), as IMoS reads it;
* ``mfj``: MOBCAL's input (one coordinate set; x, y, z in Å, integer mass,
  partial charge).  The original MOBCAL knows parameters for H, C, N, O,
  Na, Si, S and Fe only; other elements need a MOBCAL with extended tables.

Partial charges are those the calculator gave during the run (GFN-FF and
xTB do); without them the net charge is spread evenly over the atoms and the
index file says so.  ``index.csv`` lists file stem, frame, time, stage, Rg
and why each frame was chosen.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, atomic_numbers

from mdkit.errors import MdkitError
from mdkit.runfolder import atomic_path, write_text
from mdkit.writer import claim

#: Written first in every snapshot folder: says the folder is mdkit's to write again.
MARKER = ".mdkit-snapshots"

FORMATS = ("xyz", "imos", "mfj")


def choose_frames(times, *, at_ps=(), every_ps=None, events=(), window_ps=0.0, rg=None,
                  extremes=False, stage=None) -> dict[int, list[str]]:
    """Frames wanted, each with the reasons it was chosen.

    Parameters
    ----------
    times : (n_frames,) array
        Frame times in ps.
    at_ps : sequence of float
        Times (ps); the nearest frame is taken.
    every_ps : float, optional
        One frame every so many ps, starting at the first frame.
    events : sequence of dict
        Events with a ``time_ps``; the frame at each event, and at +- ``window_ps``.
    window_ps : float
        Half width around each event (ps).
    rg : (n_frames,) array, optional
        Rg per frame (Å), needed for ``extremes``.
    extremes : bool
        Add the frames of minimal and maximal Rg.
    stage : (n_frames,) array of int, optional
        Stage index per frame; its last frame of each stage is added.

    Returns
    -------
    dict
        frame index -> list of reasons, in frame order.
    """
    times = np.asarray(times, dtype=float)
    chosen: dict[int, list[str]] = {}

    def add(frame, reason):
        chosen.setdefault(int(frame), []).append(reason)

    def nearest(t):
        return int(np.argmin(np.abs(times - t)))

    half = float(np.min(np.diff(times))) / 2 if len(times) > 1 else 0.0
    for t in at_ps:
        if not times[0] - half <= t <= times[-1] + half:
            raise MdkitError(f"--at {t:g} ps is outside the run, which has frames from "
                             f"{times[0]:g} to {times[-1]:g} ps.")
        add(nearest(t), f"at {t:g} ps")
    if every_ps is not None and every_ps <= 0:
        raise MdkitError(f"--every must be a positive duration, not {every_ps:g} ps.")
    if window_ps < 0:
        raise MdkitError(f"--window must be zero or a positive duration, not {window_ps:g} ps.")
    if every_ps:
        for t in np.arange(times[0], times[-1] + 1e-9, every_ps):
            add(nearest(t), f"every {every_ps:g} ps")
    for number, event in enumerate(events, 1):
        add(nearest(event["time_ps"]), f"event {number}")
        if window_ps:
            add(nearest(event["time_ps"] - window_ps), f"event {number} - {window_ps:g} ps")
            add(nearest(event["time_ps"] + window_ps), f"event {number} + {window_ps:g} ps")
    if extremes and rg is not None:
        add(int(np.argmin(rg)), "minimal Rg")
        add(int(np.argmax(rg)), "maximal Rg")
    if stage is not None:
        stage = np.asarray(stage)
        for last in np.flatnonzero(np.diff(stage) != 0).tolist() + [len(stage) - 1]:
            add(last, f"end of stage {stage[last]}")
    return dict(sorted(chosen.items()))


def write_snapshots(universe, frames: dict, folder, *, charge: int, rg=None, stage_names=None,
                    charges=None, formats=("xyz",), force: bool = False) -> Path:
    """Write the chosen frames of ``universe`` and an index.

    Parameters
    ----------
    universe : MDAnalysis.Universe
        With ``elements`` (as :func:`mdkit.store.open_run` gives it).
    frames : dict
        frame -> reasons, from :func:`choose_frames`.
    folder : path
        Output folder (created).
    charge : int
        Net charge of the ion (e).
    rg : (n_frames,) array, optional
        Rg per frame (Å) for the index.
    stage_names : (n_frames,) array of str, optional
        Stage name per frame for the index.
    charges : (len(frames), n_atoms) array, optional
        Partial charges (e) of the chosen frames, in frame order.
    formats : sequence of str
        Any of :data:`FORMATS`.
    force : bool
        A folder mdkit did not write is refused, or with ``force`` moved aside.

    Returns
    -------
    Path
        The index file.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise MdkitError(f"unknown snapshot format {sorted(unknown)[0]!r}; choose from "
                         f"{', '.join(FORMATS)}.")
    folder = claim(Path(folder), force=force, marker=MARKER)
    write_text(folder / MARKER, "")
    symbols = [str(e) for e in universe.atoms.elements]
    masses = atomic_masses[[atomic_numbers[s] for s in symbols]]
    even = charges is None
    rows = []
    for k, (frame, reasons) in enumerate(frames.items()):
        ts = universe.trajectory[frame]
        xyz = ts.positions.astype(float)
        xyz -= (masses[:, None] * xyz).sum(axis=0) / masses.sum()
        q = np.full(len(symbols), charge / len(symbols)) if even else charges[k]
        stem = f"frame{frame:06d}_{ts.time:.3f}ps"
        for fmt in formats:
            writer, suffix = _WRITERS[fmt]
            writer(folder / f"{stem}{suffix}", symbols, masses, xyz, q, charge, stem)
        rows.append({"file": stem, "frame": frame, "time_ps": round(float(ts.time), 6),
                     "stage": "" if stage_names is None else stage_names[frame],
                     "rg_angstrom": "" if rg is None else round(float(rg[frame]), 6),
                     "charges": "equal share of the net charge" if even else "calculator",
                     "reason": "; ".join(reasons)})
    index = folder / "index.csv"
    with atomic_path(index) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]) if rows else ["file"])
        writer.writeheader()
        writer.writerows(rows)
    return index


def _write_xyz(path, symbols, masses, xyz, q, charge, title):
    lines = [str(len(symbols)), f'charge={charge} comment="{title}, centred, Å"']
    lines += [f"{s:<2} {x:14.8f} {y:14.8f} {z:14.8f}" for s, (x, y, z) in zip(symbols, xyz)]
    write_text(Path(path), "\n".join(lines) + "\n")


def _write_imos(path, symbols, masses, xyz, q, charge, title):
    lines = [str(len(symbols)), f"{title} charge {charge} (x y z in Å, partial charge in e)"]
    lines += [f"{s:<2} {x:14.8f} {y:14.8f} {z:14.8f} {c:12.8f}"
              for s, (x, y, z), c in zip(symbols, xyz, q)]
    write_text(Path(path), "\n".join(lines) + "\n")


def _write_mfj(path, symbols, masses, xyz, q, charge, title):
    lines = [title, "1", str(len(symbols)), "ang", "calc", "1.0000"]
    lines += [f"{x:14.8f} {y:14.8f} {z:14.8f} {round(m):5d} {c:12.8f}"
              for (x, y, z), m, c in zip(xyz, masses, q)]
    write_text(Path(path), "\n".join(lines) + "\n")


_WRITERS = {"xyz": (_write_xyz, ".xyz"), "imos": (_write_imos, ".imos.xyz"),
            "mfj": (_write_mfj, ".mfj")}


def snapshots_of_run(run, *, at_ps=(), every_ps=None, events=False, window_ps=0.0,
                     extremes=False, stage_ends=False, output=None, formats=("xyz",),
                     force: bool = False) -> dict:
    """Choose frames of a run folder and write them (the ``mdkit snapshots`` pipeline).

    Parameters
    ----------
    run : mdkit.runfolder.RunFolder
    at_ps, every_ps, window_ps, extremes
        As for :func:`choose_frames` (ps).
    events : bool
        Add the frame of each migration event (the run is analysed first when
        it has no ``analysis/summary.json``).
    stage_ends : bool
        Add the last frame of each stage.
    output : path, optional
        Output folder (default ``RUN/snapshots``).
    formats : sequence of str
        Any of :data:`FORMATS`.

    Returns
    -------
    dict
        ``frames`` (frame -> reasons), ``index`` (path of index.csv) and
        ``calculator_charges`` (whether the partial charges are the engine's).
    """
    import json

    from mdkit import store
    from mdkit.analysis import RadiusOfGyration
    from mdkit.analysis.report import thermo_of_frames

    folder = run.path
    universe = store.open_run(folder)
    sites = store.read_sites(folder)
    thermo = thermo_of_frames(run, len(universe.trajectory))
    rg = RadiusOfGyration(universe.atoms).run().results
    found = []
    if events:
        summary = run.output("summary.json")
        if not summary.exists():
            from mdkit.analysis.report import analyze_run

            analyze_run(folder)
        found = json.loads(summary.read_text())["events"]
    frames = choose_frames(rg.times, at_ps=at_ps, every_ps=every_ps, events=found,
                           window_ps=window_ps, rg=rg.rg, extremes=extremes,
                           stage=thermo["stage"][:len(rg.rg)] if stage_ends else None)
    if not frames:
        raise MdkitError("no frames chosen; give --every, --at, --events, --extremes or "
                         "--stage-ends.")
    charges = store.read_charges(folder, list(frames))
    index = write_snapshots(universe, frames, Path(output) if output else folder / "snapshots",
                            charge=sites.charge, rg=rg.rg, stage_names=thermo["stage_name"],
                            charges=charges, formats=formats, force=force)
    return {"frames": frames, "index": index, "calculator_charges": charges is not None}
