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
the figures ``survival.*`` (Kaplan-Meier curves with their 95 % confidence
bands) and ``rg.*``.

Given a rate prediction (``predict``, e.g. from the ``rates.json`` that
``mdkit barrier`` writes), each group also gets the predicted survival
``exp(-K t)`` drawn beside its Kaplan-Meier curve and a row in ``rates.csv``:
predicted mean and median first-event time at the group's temperature
against the observed ones.  The observed mean is the exponential
(constant-rate) estimate with censoring, total observed time / number of
events, with its exact 95 % (Garwood) interval from the chi-squared
distribution; the observed median is the Kaplan-Meier one
with the interval where the 95 % band crosses 1/2.  A group's temperature
is its ``temperature_K`` when that is varied, else that of the longest
constant-temperature thermostatted stage of its runs.

Two ensembles of the same protocol (a distilled student and its teacher,
say) are compared by :func:`compare_first_events`: both Kaplan-Meier
medians with their intervals and the log-rank test between them.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import CensoredData, chi2, ecdf, logrank, norm

from mdkit import writer
from mdkit.errors import MdkitError
from mdkit.runfolder import RunFolder, SweepFolder, member_status, sweep_members

#: Power at which :func:`compare_first_events` states the smallest rate ratio it detects.
POWER = 0.8


class FirstEventError(MdkitError):
    """First-event times that cannot be compared (no runs, or times and flags that differ)."""


def member_table(folder) -> list[dict]:
    """One row per member with its varied values, status and key numbers."""
    rows = []
    for member in sweep_members(folder):
        row = {"name": member["name"], **member["values"], "status": member_status(member)}
        run = RunFolder(member["folder"])
        summary_path = run.summary
        if run.finished and summary_path.exists():
            summary = json.loads(summary_path.read_text())
            rg = summary["rg_angstrom"]["ion"]
            first = summary.get("first_core_to_shell_ps")
            row.update(duration_ps=summary["time_ps"][1] - summary["time_ps"][0],
                       migrated=first is not None, first_core_to_shell_ps=first,
                       rg_mean=rg["mean"], rg_std=rg["std"],
                       **{f"residence_{cls}_ps": t
                          for cls, t in summary.get("vacancy_residence_ps", {}).items()})
            ccs = run.output("ccs.csv")
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


def kaplan_meier(event_times, durations, confidence: float = 0.95) -> dict:
    """Kaplan-Meier median first-event time with its interval, and the curve.

    Parameters
    ----------
    event_times : sequence of float
        First-event times (ps) of the runs with an event.
    durations : sequence of float
        Lengths (ps) of the runs without one (right-censored there).
    confidence : float
        Of the pointwise band (Greenwood) around the curve.

    Returns
    -------
    dict
        ``median_first_event_ps``: the first time the curve is at or below
        1/2; ``median_low_ps`` and ``median_high_ps``: the first times the
        band's lower and upper curves are (the interval of the median); each
        None when that curve never gets there (no events at all, or too few
        before the runs end).  With events also ``survival``: ``time_ps``,
        ``still_in_core``, ``low`` and ``high`` (the curve and its band at
        the event and censoring times).
    """
    medians = {"median_first_event_ps": None, "median_low_ps": None, "median_high_ps": None}
    if len(event_times) == 0:
        return medians
    sf = survival(event_times, durations).sf
    with warnings.catch_warnings():  # undefined where the curve is 1 or 0: a gap
        warnings.simplefilter("ignore", RuntimeWarning)
        band = sf.confidence_interval(confidence)
    return {"median_first_event_ps": _crossing(sf.quantiles, sf.probabilities),
            "median_low_ps": _crossing(sf.quantiles, band.low.probabilities),
            "median_high_ps": _crossing(sf.quantiles, band.high.probabilities),
            "survival": {"time_ps": sf.quantiles.tolist(),
                         "still_in_core": sf.probabilities.tolist(),
                         "low": band.low.probabilities.tolist(),
                         "high": band.high.probabilities.tolist()}}


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
                 "median_first_event_ps": None, "median_low_ps": None, "median_high_ps": None}
        group.update(kaplan_meier(events, censored))
        group.update(observed_mean(events, censored))
        for key in sorted({k for r in runs for k in r if k.startswith("residence_")}):
            group[key] = float(np.mean([r.get(key, 0.0) for r in runs]))
        if any("ccs_mean" in r for r in runs):
            values = [r["ccs_mean"] for r in runs if "ccs_mean" in r]
            group.update(ccs_mean=float(np.mean(values)), ccs_spread=float(np.std(values)))
        out.append(group)
    return out


def _crossing(times, probabilities):
    """First time a survival curve is at or below 1/2 (ps), None if it never is."""
    below = np.flatnonzero(np.asarray(probabilities) <= 0.5)
    return float(times[below[0]]) if len(below) else None


def compare_first_events(times_a, observed_a, times_b, observed_b,
                         confidence: float = 0.95) -> dict:
    """Do two ensembles of runs have the same first-event time distribution?

    Each ensemble gets its Kaplan-Meier median (:func:`kaplan_meier`); the
    two are compared by the log-rank test (``scipy.stats.logrank``), which
    uses every run, censored ones included, and assumes the runs of the two
    ensembles independent (give them different seeds).

    Parameters
    ----------
    times_a, times_b : sequence of float
        Per run, its first-event time (ps) or, when it had none, its length
        (ps; the run is right-censored there).
    observed_a, observed_b : sequence of bool
        Per run, whether the event was seen.
    confidence : float
        Of the medians' intervals; the test's level is ``1 - confidence``.

    Returns
    -------
    dict
        ``a``, ``b``: ``n_runs``, ``n_events`` and what :func:`kaplan_meier`
        returns; ``logrank_z``: scipy's signed statistic (positive when
        ensemble a has more events than expected under equal distributions,
        its vacancy leaving sooner; ``z**2`` is the usual chi-squared with
        one degree of freedom) and ``pvalue`` (two-sided); ``compatible``:
        whether ``pvalue >= 1 - confidence``; ``detectable_rate_ratio``: the
        ratio of two constant rates the test detects with :data:`POWER` at
        that level given the events seen (Schoenfeld's approximation,
        ``exp((z_{1-a/2} + z_power) / sqrt(d p (1 - p)))`` for ``d`` events
        and a fraction ``p`` of runs in ensemble a).  The last four are None
        when neither ensemble has an event: there is nothing to compare.

    Raises
    ------
    FirstEventError
        An ensemble without runs, times and flags of different lengths, or
        a time that is not finite and >= 0.
    """
    samples = {}
    for label, times, observed in (("a", times_a, observed_a), ("b", times_b, observed_b)):
        times, observed = np.asarray(times, float), np.asarray(observed, bool)
        if times.ndim != 1 or times.shape != observed.shape:
            raise FirstEventError(f"ensemble {label} has {times.size} times but "
                                  f"{observed.size} event flags; give one of each per run.")
        if not len(times):
            raise FirstEventError(f"ensemble {label} has no runs; compare ensembles of at "
                                  "least one run each.")
        if not np.all(np.isfinite(times) & (times >= 0)):
            raise FirstEventError(f"ensemble {label} has a time that is not finite and >= 0 "
                                  f"({times.tolist()}).")
        samples[label] = (times[observed], times[~observed])
    result = {label: {"n_runs": len(events) + len(censored), "n_events": len(events),
                      **kaplan_meier(events, censored, confidence)}
              for label, (events, censored) in samples.items()}
    n_events = result["a"]["n_events"] + result["b"]["n_events"]
    result.update(logrank_z=None, pvalue=None, compatible=None, detectable_rate_ratio=None)
    if n_events:
        test = logrank(*(CensoredData(uncensored=events, right=censored)
                         for events, censored in samples.values()))
        share = result["a"]["n_runs"] / (result["a"]["n_runs"] + result["b"]["n_runs"])
        alpha = 1 - confidence
        result.update(logrank_z=float(test.statistic), pvalue=float(test.pvalue),
                      compatible=bool(test.pvalue >= alpha),
                      detectable_rate_ratio=float(np.exp(
                          (norm.ppf(1 - alpha / 2) + norm.ppf(POWER))
                          / np.sqrt(n_events * share * (1 - share)))))
    return result


def observed_mean(event_times, durations, confidence: float = 0.95) -> dict:
    """Constant-rate estimate of the mean first-event time, with censoring.

    Returns ``n_events``, ``observed_mean_ps`` (total observed time over the
    number of events; None without events) and its exact (Garwood) interval
    for a count over a fixed exposure, ``observed_mean_low_ps`` =
    2T / chi2(1 - a/2, 2n + 2) and ``observed_mean_high_ps`` =
    2T / chi2(a/2, 2n) (None without events).
    """
    n = len(event_times)
    exposure = float(np.sum(event_times) + np.sum(durations))
    alpha = 1 - confidence
    return {"n_events": n, "observed_mean_ps": exposure / n if n else None,
            "observed_mean_low_ps": 2 * exposure / chi2.ppf(1 - alpha / 2, 2 * n + 2),
            "observed_mean_high_ps": 2 * exposure / chi2.ppf(alpha / 2, 2 * n) if n else None}


def _group_temperature(folder: Path, group: dict, keys: list[str]) -> float:
    import tomllib

    if "temperature_K" in keys:
        return float(group["temperature_K"])
    member = next(m for m in sweep_members(folder)
                  if all(m["values"].get(k) == group[k] for k in keys))
    stages = tomllib.loads(Path(member["spec"]).read_text())["stages"]
    # held: one target temperature (stages without a thermostat have none)
    held = [s for s in stages if isinstance(s.get("temperature_K"), (int, float))]
    return float(max(held, key=lambda s: s["duration_ps"])["temperature_K"])


def analyze_sweep(folder, formats=("png", "pdf"), predict=None) -> list[dict]:
    """Tables and figures comparing the groups of a sweep; returns the group rows.

    Parameters
    ----------
    folder : path
        The sweep folder.
    formats : tuple of str
        Figure formats.
    predict : callable, optional
        ``predict(temperature_K) -> dict`` with ``rate_per_ps``, ``mean_ps``
        and ``median_ps`` of the first event (e.g.
        :func:`mdkit.rates.waiting_time` over the hops of a barrier); adds
        the prediction to the groups, the figure and ``rates.csv``.
    """
    from mdkit.analysis.plots import COLUMN_IN, save

    folder = Path(folder)
    rows = member_table(folder)  # a damaged index fails here, before anything is written
    out = writer.make_folder(SweepFolder(folder).analysis)
    keys = [k for k in SweepFolder(folder).record()["vary"] if k != "seed"]
    groups = group_table(rows, keys)
    if predict is not None:
        for group in groups:
            temperature = _group_temperature(folder, group, keys)
            prediction = predict(temperature)
            group.update(group=", ".join(f"{k}={group[k]}" for k in keys) or "all",
                         temperature_used_K=temperature,
                         predicted_rate_per_ps=prediction["rate_per_ps"],
                         predicted_mean_ps=prediction["mean_ps"],
                         predicted_median_ps=prediction["median_ps"])
        _write(out / "rates.csv", [
            {**{k: g[k] for k in keys}, **{k: g.get(k) for k in (
                "temperature_used_K", "n_runs", "n_events", "predicted_mean_ps",
                "observed_mean_ps", "observed_mean_low_ps", "observed_mean_high_ps",
                "predicted_median_ps", "median_first_event_ps", "median_low_ps",
                "median_high_ps")}} for g in groups])
    _write(out / "members.csv", rows)
    _write(out / "groups.csv", [{k: v for k, v in g.items() if k != "survival"} for g in groups])
    writer.write_json(out / "groups.json", groups)

    fig = Figure(figsize=(COLUMN_IN, 2.4), layout="constrained")
    ax = fig.add_subplot()
    for group in groups:
        label = ", ".join(f"{k}={group[k]}" for k in keys) or "all"
        curve = group.get("survival")
        if curve:
            line, = ax.step([0] + curve["time_ps"], [1] + curve["still_in_core"],
                            where="post", label=f"{label} (n={group['n_runs']})")
            ax.fill_between([0] + curve["time_ps"], [1] + curve["low"], [1] + curve["high"],
                            step="post", color=line.get_color(), alpha=0.2, lw=0)
        else:
            line = ax.axhline(1.0, ls=":", label=f"{label} (n={group['n_runs']}, none "
                                                 f"migrated)")
        if "predicted_rate_per_ps" in group:
            end = max([r.get("duration_ps") or 0 for r in rows] + [1e-9])
            t = np.linspace(0, end, 200)
            ax.plot(t, np.exp(-group["predicted_rate_per_ps"] * t), ls="--", lw=1,
                    color=line.get_color(),
                    label=f"exp(-kt), barrier: mean {group['predicted_mean_ps']:.3g} ps")
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
    with writer.atomic_path(path) as tmp, tmp.open("w", newline="") as handle:
        table = csv.DictWriter(handle, columns)
        table.writeheader()
        table.writerows(rows)
