"""Rates from barriers, and the rate prediction beside a real EMT sweep."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from mdkit import barriers, ensemble, rates
from mdkit.analysis.ensemble import observed_mean
from mdkit.analysis.report import analyze_member
from mdkit.store import sweep_members
from mdkit.systems import build


def test_waiting_time_sums_the_channels():
    one = {"multiplicity": 1, "prefactor_THz": 2.0, "barrier_eV": 0.2}
    # k = nu exp(-Ea / kT): at kT = Ea the exponent is exactly -1
    temperature = 0.2 / 8.617330337217213e-05
    single = rates.waiting_time([one], temperature)
    assert single["rate_per_ps"] == pytest.approx(2.0 / np.e, rel=1e-9)
    twelve = rates.waiting_time([{**one, "multiplicity": 12}], temperature)
    assert twelve["mean_ps"] == pytest.approx(single["mean_ps"] / 12)
    both = rates.waiting_time([one, {**one, "barrier_eV": 0.4}], temperature)
    assert both["rate_per_ps"] == pytest.approx(2.0 / np.e + 2.0 / np.e ** 2)
    assert rates.survival(single["mean_ps"], single["rate_per_ps"]) == pytest.approx(1 / np.e)
    for temperature in (0, -5, float("nan"), float("inf")):
        with pytest.raises(rates.RateError, match="finite number of K > 0"):
            rates.waiting_time([one], temperature)
    for nu in (0.0, float("inf"), float("nan")):
        with pytest.raises(rates.RateError, match="finite number of THz > 0"):
            rates.waiting_time([{**one, "prefactor_THz": nu}], 290.0)


def test_observed_mean_and_its_exact_interval():
    # no censoring: the estimate is the sample mean
    assert observed_mean([1.0, 2.0, 6.0], [])["observed_mean_ps"] == pytest.approx(3.0)
    # one event over an exposure T: the 95 % upper rate bound is 5.572 / T (Garwood 1936,
    # the tabulated chi-squared quantile 11.143 / 2), the lower 0.0253 / T
    result = observed_mean([1.0], [9.0])
    assert result["observed_mean_low_ps"] == pytest.approx(10.0 / 5.572, rel=1e-3)
    assert result["observed_mean_high_ps"] == pytest.approx(10.0 / 0.02532, rel=1e-3)
    # no events: only a lower bound (3.689 / T for the upper rate bound at 97.5 %)
    none = observed_mean([], [5.0, 5.0])
    assert none["observed_mean_ps"] is None and none["observed_mean_high_ps"] is None
    assert none["observed_mean_low_ps"] == pytest.approx(10.0 / 3.689, rel=1e-3)


def test_vibrations_need_a_minimum_and_a_first_order_saddle():
    minimum = {"real_THz": np.array([1.0, 2.0]), "imaginary_THz": np.array([])}
    saddle = {"real_THz": np.array([4.0]), "imaginary_THz": np.array([1.0, 0.5])}
    with pytest.raises(rates.RateError, match="2 imaginary modes, not one"):
        rates.htst_prefactor_THz(minimum, saddle)
    assert rates.htst_prefactor_THz(minimum, {**saddle, "imaginary_THz": np.array([1.0])}) \
        == pytest.approx(0.5)


def test_sweep_analysis_overlays_the_barrier_prediction(plot_image, colour_pixels, axis_rows,
                                                        make_spec, tmp_path):
    """EMT hollow Ag12 (centre vacant): a barrier run and a small sweep, compared."""
    atoms, sites = build("ag13", vacancy="center")
    (hop,) = barriers.find_hops(atoms, sites, "core-to-shell")
    result = barriers.barrier(atoms, sites, hop, "emt", progress=False)
    summary = rates.hop_rates([result], [290.0], attempt_THz=2.0)
    (tmp_path / "barrier").mkdir()
    (tmp_path / "barrier" / "rates.json").write_text(json.dumps(summary))
    spec = make_spec(tmp_path, name="ag12", heat=1.0, hold=1.0, anneal=0.1,
                     checkpoint=1.0).read_text().replace('build = "ag55"', 'build = "ag13"')
    (tmp_path / "ag12.toml").write_text(spec)
    folder = ensemble.expand(tmp_path / "ag12.toml", {}, [1, 2, 3, 4])
    for member in sweep_members(folder):
        assert ensemble.run_member(member["spec"], analyze=analyze_member)["status"] == "finished"
    command = [sys.executable, "-m", "mdkit", "analyze", str(folder), "--barrier",
               str(tmp_path / "barrier"), "--formats", "png"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "predicted mean" in done.stdout and "KM median" in done.stdout
    with (folder / "analysis" / "rates.csv").open() as handle:
        (row,) = list(csv.DictReader(handle))
    # the group's temperature is the spec's held 290 K; the prediction is k(290 K)
    assert float(row["temperature_used_K"]) == 290
    # by hand: 12 equivalent hops at 2 THz each, k = 12 * 2/ps * exp(-Ea / kB T), with
    # CODATA 2018's kB (ASE's older constant differs by 4e-8 relative)
    rate_per_ps = 12 * 2.0 * np.exp(-result["barrier_forward_eV"] / (8.617333262e-5 * 290))
    assert float(row["predicted_mean_ps"]) == pytest.approx(1 / rate_per_ps, rel=1e-5)
    assert float(row["predicted_median_ps"]) == pytest.approx(np.log(2) / rate_per_ps, rel=1e-5)
    groups = json.loads((folder / "analysis" / "groups.json").read_text())
    assert groups[0]["n_runs"] == 4
    runs = [json.loads((m["folder"] / "analysis" / "summary.json").read_text())
            for m in sweep_members(folder)]
    events = [r["first_core_to_shell_ps"] for r in runs if r.get("first_core_to_shell_ps")]
    assert groups[0]["n_events"] == len(events)
    # the KM step curve and the dashed prediction exp(-kt) (both C0) start at fraction 1,
    # the figure's y range being -0.02 to 1.05; the prediction falls below 1/e by t = 1/k
    survival = plot_image(folder / "analysis" / "survival.png", panels=1)
    top, bottom = axis_rows(survival)
    curves = np.argwhere(colour_pixels(survival, "C0"))[:, 0]

    def row_at(fraction):
        return top + (bottom - top) * (1.05 - fraction) / 1.07

    assert abs(curves.min() - row_at(1.0)) < 5
    assert curves.max() > row_at(1 / np.e)
    bad = subprocess.run(command[:5] + ["--barrier", str(tmp_path)], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "is not a rates.json of mdkit barrier" in bad.stderr


def test_frequencies_without_a_folder_leave_the_working_directory_alone(tmp_path,
                                                                         monkeypatch):
    """ASE's Vibrations caches in ``./vib`` by default; mdkit keeps it in a private folder."""
    atoms, _ = build("ag13")
    atoms.center(vacuum=6.0)  # asap3's EMT wants a cell
    monkeypatch.chdir(tmp_path)
    # a user's file where ASE would put (then clean away) its equilibrium-force cache
    (tmp_path / "vib").mkdir()
    (tmp_path / "vib" / "cache.eq.json").write_text("the user's")
    result = rates.frequencies(atoms, "emt")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cache.eq.json", "vib"]
    assert (tmp_path / "vib" / "cache.eq.json").read_text() == "the user's"
    # 13 free atoms: 39 modes, translations and rotations (6) among the zero ones
    assert result["n_zero_modes"] >= 6
    assert result["n_zero_modes"] + len(result["real_THz"]) + len(result["imaginary_THz"]) \
        == 39
