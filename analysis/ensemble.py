"""Sweep analysis: compare groups of runs (isomer, temperature, ...) across seeds.

Members that differ only in their seed form a group.  Per group:

* the first core-to-shell event time, as a Kaplan-Meier survival curve of
  "the vacancy is still in the core" (runs that never migrated are
  right-censored at their length, not dropped: dropping them would make
  migration look faster than it is) with its median when reached
  (``scipy.stats.ecdf``), and the fraction of runs that migrated;
* the vacancy's residence time per site class (mean over runs, ps);
* Rg mean and fluctuation (Å);
* CCS mean and spread when a member has a CCS table (``analysis/ccs.csv``).

Writes ``SWEEP/analysis/members.csv``, ``groups.csv``, ``groups.json`` and
the figures ``survival.*`` and ``rg.*``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import CensoredData, ecdf

from mdkit.store import member_status, sweep_members


def member_table(folder) -> list[dict]:
    """One row per member with its varied values, status and key numbers."""
    rows = []
    for member in sweep_members(folder):
        row = {"name": member["name"], **member["values"], "status": member_status(member)}
        summary_path = Path(member["folder"]) / "analysis" / "summary.json"
        if row["status"] == "finished" and summary_path.exists():
            summary = json.loads(summary_path.read_text())
            rg = summary["rg_angstrom"]["ion"]
            first = summary.get("first_core_to_shell_ps")
            row.update(duration_ps=summary["time_ps"][1] - summary["time_ps"][0],
                       migrated=first is not None, first_core_to_shell_ps=first,
                       rg_mean=rg["mean"], rg_std=rg["std"],
                       **{f"residence_{cls}_ps": t
                          for cls, t in summary.get("vacancy_residence_ps", {}).items()})
            ccs = Path(member["folder"]) / "analysis" / "ccs.csv"
            if ccs.exists():
                with ccs.open(newline="") as handle:
                    values = [float(r["ccs_A2"]) for r in csv.DictReader(handle)]
                row.update(ccs_mean=float(np.mean(values)), ccs_std=float(np.std(values)))
        rows.append(row)
    return rows


def survival(event_times, durations):
    """Kaplan-Meier estimate for runs with an event (times, ps) and without (durations).

    Returns the ``scipy.stats`` ECDF result; ``.sf`` is the probability that
    the vacancy is still in the core.
    """
    return ecdf(CensoredData(uncensored=np.asarray(event_times, float),
                             right=np.asarray(durations, float)))


def group_table(rows: list[dict], keys: list[str]) -> list[dict]:
    """Aggregate member rows into groups of equal ``keys`` values."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if "rg_mean" in row:
            groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for values, runs in groups.items():
        events = [r["first_core_to_shell_ps"] for r in runs if r["migrated"]]
        censored = [r["duration_ps"] for r in runs if not r["migrated"]]
        group = {**dict(zip(keys, values)), "n_runs": len(runs),
                 "fraction_migrated": len(events) / len(runs),
                 "rg_mean": float(np.mean([r["rg_mean"] for r in runs])),
                 "rg_fluctuation": float(np.mean([r["rg_std"] for r in runs])),
                 "median_first_event_ps": None}
        if events:
            sf = survival(events, censored).sf
            below = np.flatnonzero(sf.probabilities <= 0.5)
            if len(below):
                group["median_first_event_ps"] = float(sf.quantiles[below[0]])
            group["survival"] = {"time_ps": sf.quantiles.tolist(),
                                 "still_in_core": sf.probabilities.tolist()}
        for key in sorted({k for r in runs for k in r if k.startswith("residence_")}):
            group[key] = float(np.mean([r.get(key, 0.0) for r in runs]))
        if any("ccs_mean" in r for r in runs):
            values = [r["ccs_mean"] for r in runs if "ccs_mean" in r]
            group.update(ccs_mean=float(np.mean(values)), ccs_spread=float(np.std(values)))
        out.append(group)
    return out


def analyze_sweep(folder, formats=("png", "pdf")) -> list[dict]:
    """Tables and figures comparing the groups of a sweep; returns the group rows."""
    from mdkit.analysis.plots import COLUMN_IN, save

    folder = Path(folder)
    out = folder / "analysis"
    out.mkdir(exist_ok=True)
    rows = member_table(folder)
    keys = [k for k in json.loads((folder / "sweep.json").read_text())["vary"] if k != "seed"]
    groups = group_table(rows, keys)
    _write(out / "members.csv", rows)
    _write(out / "groups.csv", [{k: v for k, v in g.items() if k != "survival"} for g in groups])
    (out / "groups.json").write_text(json.dumps(groups, indent=1))

    fig = Figure(figsize=(COLUMN_IN, 2.4), layout="constrained")
    ax = fig.add_subplot()
    for group in groups:
        label = ", ".join(f"{k}={group[k]}" for k in keys) or "all"
        curve = group.get("survival")
        if curve:
            ax.step([0] + curve["time_ps"], [1] + curve["still_in_core"], where="post",
                    label=f"{label} (n={group['n_runs']})")
        else:
            ax.axhline(1.0, ls=":", label=f"{label} (n={group['n_runs']}, none migrated)")
    ax.set_xlabel("time / ps", fontsize=8)
    ax.set_ylabel("fraction with vacancy in core", fontsize=8)
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize=6, frameon=False)
    save(fig, out / "survival", formats)

    fig = Figure(figsize=(COLUMN_IN, 2.4), layout="constrained")
    ax = fig.add_subplot()
    labels = []
    for k, group in enumerate(groups):
        values = [r["rg_mean"] for r in rows if "rg_mean" in r
                  and all(r[key] == group[key] for key in keys)]
        ax.plot(np.full(len(values), k), values, "o", ms=3, alpha=0.7)
        ax.errorbar(k + 0.2, np.mean(values), yerr=np.std(values), fmt="s", ms=4, color="k")
        labels.append(", ".join(str(group[key]) for key in keys) or "all")
    ax.set_xticks(range(len(groups)), labels, fontsize=6)
    ax.set_ylabel("mean radius of gyration / Å", fontsize=8)
    save(fig, out / "rg", formats)
    return groups


def _write(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
