"""CCS along a run folder: snapshots every so often, a table and a figure in RUN/analysis/."""

from __future__ import annotations

import csv
from pathlib import Path

from mdkit.runfolder import RunFolder

from .api import ccs_of_frames


def ccs_of_run(folder, every_ps: float = 0.5, progress=None, **ccs_kwargs) -> dict:
    """CCS of snapshots along one run, written to ``RUN/analysis/ccs.csv`` and ``ccs.png``.

    Parameters
    ----------
    folder : str or Path
        A run folder (see :mod:`mdkit.store`).
    every_ps : float
        Snapshot spacing, ps.
    progress : bool or None
        Progress on stderr: None (a bar on a terminal, lines in logs), False (silent).
    **ccs_kwargs
        Passed to :func:`mdkit.analysis.ccs.ccs` (method, gas, target_error, ...);
        frame f uses seed ``seed + f``.

    Returns
    -------
    dict
        ``results`` (one :func:`ccs` result per snapshot, with frame and
        time_ps), ``rows`` (the table's rows) and ``table`` (its path).
    """
    from mdkit import store
    from mdkit.analysis import RadiusOfGyration, plots
    from mdkit.analysis.snapshots import choose_frames
    from mdkit.progress import ItemProgress

    folder = Path(folder)
    run = RunFolder(folder)
    universe = store.open_run(folder)
    sites = store.read_sites(folder)
    thermo = store.read_thermo(folder)
    rg = RadiusOfGyration(universe.atoms).run().results
    frames = list(choose_frames(rg.times, every_ps=every_ps))
    charges = store.read_charges(folder, frames)
    with ItemProgress(f"mdkit ccs: {folder.name}", "snapshots", len(frames), progress) as bar:
        results = ccs_of_frames(universe, frames, charges_per_frame=charges,
                                charge=sites.charge,
                                progress=lambda done, total: bar.advance(), **ccs_kwargs)
    rows = [{"frame": f, "time_ps": rg.times[f], "stage": thermo["stage_name"][f],
             "rg_angstrom": rg.rg[f], "ccs_A2": r["ccs_A2"], "error_A2": r["error_A2"],
             "systematic_A2": "" if r["systematic_A2"] is None else r["systematic_A2"],
             "method": r["method"], "gas": r["gas"],
             "orientation_model": r["orientation_model"] or "", "param_set": r["param_set"]}
            for f, r in zip(frames, results)]
    with run.writing("ccs.csv") as tmp, tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))  # whole or not at all
        writer.writeheader()
        writer.writerows(rows)
    plots.plot_ccs([r["time_ps"] for r in rows], [r["ccs_A2"] for r in rows],
                   [r["error_A2"] for r in rows], rg.times, rg.rg, run.analysis / "ccs",
                   folder.name)
    return {"results": results, "rows": rows, "table": run.output("ccs.csv")}
