"""Everything about one run folder, into ``RUN/analysis/``.

:func:`analyze_run` computes Rg (whole ion, metal atoms, the initial metal
core), site occupancy, the vacancy's track and the migration events, and
writes:

    rg.csv          frame, time_ps, stage, rg_ion, rg_metal, rg_core (Å)
    occupancy.csv   frame, time_ps, then one column per site (atoms on it)
    vacancy.csv     frame, time_ps, vacant sites and their classes
    events.csv      time_ps, atom, from/to site and class, vacancy before/after
    summary.json    what happened, in numbers and in one sentence
    rg.*, occupancy.*, thermo.*   the figures
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from mdkit import store
from mdkit.runfolder import RunFolder, RunFolderError
from mdkit.sites import is_metal

CORE_CLASSES = ("center", "shell", "core")


def rg_selections(universe, sites) -> dict:
    """AtomGroups for Rg: the whole ion, its metal atoms, and its initial metal core.

    A group of fewer than two atoms is left out: its Rg is zero by definition.
    """
    metal = np.array([is_metal(str(e)) for e in universe.atoms.elements])
    core_atoms = sites.atoms[np.isin(sites.classes, CORE_CLASSES) & (sites.atoms >= 0)]
    groups = {"ion": universe.atoms, "metal": universe.atoms[metal],
              "core": universe.atoms[np.sort(core_atoms)]}
    return {name: group for name, group in groups.items() if len(group) >= 2}


def thermo_of_frames(run: RunFolder, n_frames: int) -> dict:
    """The thermo table of a run, refused when it has fewer rows than ``n_frames``.

    Every analysis that pairs frames with thermo rows (stages, times) reads
    it here, so a table cut short is refused alike everywhere instead of
    shifting stage ends.

    Returns
    -------
    dict
        Columns as :func:`mdkit.store.read_thermo` gives them, all rows.
    """
    thermo = store.read_thermo(run.path)
    if len(thermo["frame"]) < n_frames:
        raise RunFolderError(f"{run.thermo} holds {len(thermo['frame'])} rows for the "
                             f"{n_frames} frames of the trajectory; it is damaged.")
    return thermo


def analyze_run(folder, residence_ps: float = 0.5, formats=("png", "pdf"), report: bool = True,
                progress: bool | None = None) -> dict:
    """Analyse a run folder; returns the summary (also written as summary.json).

    Parameters
    ----------
    folder : path
        A run folder written by ``mdkit run`` (finished, running or crashed).
    residence_ps : float
        How long (ps) the vacancy must stay in its new site class for a
        migration to count as an event.
    formats : sequence of str
        Figure formats.
    report : bool
        Also draw the Figure-4 panel and write ``report.html``
        (:func:`mdkit.analysis.html_report.run_report`).
    progress : bool, optional
        Progress of the report's snapshots on stderr (None: bar on a terminal,
        lines elsewhere; False: silent).
    """
    from mdkit.analysis import RadiusOfGyration, SiteOccupancy, find_events, summarize
    from mdkit.analysis import plots, vacancy_track

    folder = Path(folder)
    run = RunFolder(folder)
    universe = store.open_run(folder)
    sites = store.read_sites(folder)
    n_frames = len(universe.trajectory)
    thermo = thermo_of_frames(run, n_frames)
    out = run.analysis
    stage = thermo["stage"][:n_frames]
    stage_names = list(dict.fromkeys(thermo["stage_name"]))

    rg = {name: RadiusOfGyration(group).run().results
          for name, group in rg_selections(universe, sites).items()}
    times = rg["ion"].times
    occupancy = SiteOccupancy(universe, sites).run().results
    track = vacancy_track(occupancy.occupancy, sites)
    events = find_events(occupancy.times, occupancy.occupancy, occupancy.assignment,
                         occupancy.atoms, sites, residence_ps=residence_ps)
    summary = summarize(occupancy.times, events, track, sites)

    _write_csv(run, "rg.csv", ["frame", "time_ps", "stage"] + [f"rg_{k}" for k in rg],
               zip(range(n_frames), times, thermo["stage_name"][:n_frames],
                   *[r.rg for r in rg.values()]))
    _write_csv(run, "occupancy.csv", ["frame", "time_ps"] +
               [f"site{i}_{c}" for i, c in enumerate(sites.classes)],
               ([f, t, *row] for f, (t, row) in enumerate(zip(times, occupancy.occupancy))))
    vacant = occupancy.occupancy == 0
    _write_csv(run, "vacancy.csv", ["frame", "time_ps", "vacant_sites", "vacant_classes"],
               ([f, t, " ".join(map(str, np.flatnonzero(v))),
                 " ".join(sites.classes[np.flatnonzero(v)])]
                for f, (t, v) in enumerate(zip(times, vacant))))
    columns = ["time_ps", "kind", "atom", "from_site", "from_class", "to_site", "to_class",
               "vacancy_before", "vacancy_after"]
    _write_csv(run, "events.csv", columns, ([e[c] for c in columns] for e in events))

    summary = {
        **summary,
        "run": str(folder),
        "n_frames": n_frames,
        "time_ps": [float(times[0]), float(times[-1])],
        "residence_ps": residence_ps,
        "events": events,
        "rg_angstrom": {name: _stats(r.rg, stage, stage_names) for name, r in rg.items()},
        "fit_rmsd_angstrom": {"mean": float(np.mean(occupancy.rmsd)),
                              "max": float(np.max(occupancy.rmsd))},
    }
    with run.writing("summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=1, default=_plain))

    plots.plot_rg([{"label": folder.name, "times": times, "rg": rg["ion"].rg, "stage": stage,
                    "stage_names": stage_names, "events": events}], out / "rg", formats)
    plots.plot_occupancy(times, occupancy.occupancy, sites, out / "occupancy", formats)
    plots.plot_thermo(thermo, out / "thermo", formats)
    if report:
        from mdkit.analysis.html_report import run_report

        run_report(folder, formats, progress)
    return summary


def _stats(values, stage, names) -> dict:
    """Mean, standard deviation and range overall and per stage (Å), and the relative
    change between the first and last 10 % of frames (%).

    The change is None, with ``change_note`` saying why, when the first tenth's
    mean is zero (strict JSON has no Infinity or NaN).
    """
    tenth = max(len(values) // 10, 1)
    start, end = values[:tenth].mean(), values[-tenth:].mean()
    change = {"change_percent": float(100 * (end / start - 1))} if start > 0 else {
        "change_percent": None, "change_note": "Rg is zero over the first tenth of the run"}
    per_stage = {names[s]: {"mean": float(values[stage == s].mean()),
                            "std": float(values[stage == s].std())}
                 for s in np.unique(stage)}
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max()),
            **change, "stages": per_stage}


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _write_csv(run: RunFolder, name: str, header, rows) -> None:
    with run.writing(name) as tmp, tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([f"{x:.6f}" if isinstance(x, (float, np.floating)) else x
                             for x in row])


def analyze_member(folder) -> dict:
    """:func:`analyze_run` with PNG figures only and no page, for the many members of a
    sweep (the sweep's report writes the members' pages)."""
    return analyze_run(folder, formats=("png",), report=False)
