"""The runner on real EMT dynamics: run folders, energy conservation, blow-ups, exact resume."""

import os
import random
import signal
import subprocess
import sys
import time

import netCDF4
import numpy as np
import pytest

from mdkit import store
from mdkit.md import MDBlowUp, RunStateError, run
from mdkit.protocol import load_spec
from mdkit.runfolder import RunFolder

def test_run_folder_reads_back_in_mdanalysis(make_spec, tmp_path):
    spec = load_spec(make_spec(tmp_path, second="nose-hoover"))
    folder = run(spec, progress=False)
    assert folder == tmp_path / "run"
    for name in ("spec.toml", "spec.json", "topology.xyz", "sites.json", "trajectory.nc",
                 "thermo.csv", "meta.json", "checkpoint.npz"):
        assert (folder / name).exists(), name
    assert not store.segments(folder)  # joined into trajectory.nc
    meta = store.read_json(folder / "meta.json")
    assert meta["status"] == "finished" and meta["calculator"] == "emt"
    for key in ("mdkit", "ase", "calculator_version", "host", "started", "ended", "command"):
        assert meta[key]

    universe = store.open_run(folder)
    thermo = store.read_thermo(folder)
    n_frames = spec.total_steps // spec.stride + 1
    assert len(universe.trajectory) == len(thermo["frame"]) == n_frames == meta["n_frames"]
    times = np.array([ts.time for ts in universe.trajectory])
    assert np.allclose(times, np.arange(n_frames) * spec.stride_fs / 1000)
    assert np.allclose(times, thermo["time_ps"])
    assert list(thermo["stage_name"][[0, 10, 11, 20, 21, 30]]) == \
        ["heat", "heat", "hold", "hold", "anneal", "anneal"]
    # the last frame is the state of the final checkpoint
    final = store.load_checkpoint(folder)
    assert np.allclose(universe.trajectory[-1].positions, final["positions"], atol=1e-4)
    # site attributes follow the SiteMap; the vacant centre has no atom
    sites = store.read_sites(folder)
    assert sites.classes[sites.vacant].tolist() == ["center"]
    for cls, count in sites.class_counts(occupied_only=True).items():
        assert np.sum(universe.atoms.site_classes == cls) == count
    with netCDF4.Dataset(folder / "trajectory.nc") as data:
        assert np.allclose(data["temperature"][:], thermo["temperature_K"])
        assert np.allclose(data["potential_energy"][:], thermo["potential_eV"])
        assert data["stage"][:].tolist() == thermo["stage"].tolist()
    # the anneal stage cools: its last frames are well below 290 K on average
    assert thermo["temperature_K"][-3:].mean() < 200


def test_finished_run_is_left_alone_and_force_keeps_the_old_one(make_spec, tmp_path, capsys):
    spec = load_spec(make_spec(tmp_path, heat=0.04, hold=0.04, anneal=0.04, checkpoint=0.04))
    folder = run(spec, progress=False)
    stamp = (folder / "trajectory.nc").stat().st_mtime_ns
    run(spec, progress=False)
    assert "already finished" in capsys.readouterr().err
    assert (folder / "trajectory.nc").stat().st_mtime_ns == stamp
    run(spec, force=True, progress=False)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("run.") and p.is_dir()]
    assert len(kept) == 1 and (kept[0] / "trajectory.nc").exists()


def test_changed_spec_refuses_to_resume(make_spec, tmp_path):
    path = make_spec(tmp_path, heat=0.04, hold=0.04, anneal=0.04, checkpoint=0.04)
    folder = run(load_spec(path), progress=False)
    meta = store.read_json(folder / "meta.json")
    store.write_json(folder / "meta.json", {**meta, "status": "running"})
    path.write_text(path.read_text().replace("seed = 3", "seed = 4"))
    with pytest.raises(RunStateError, match="differs from the spec the run"):
        run(load_spec(path), progress=False)


def _nve_ratio(make_spec, tmp_path, dt):
    spec = load_spec(make_spec(tmp_path / f"dt{dt}", dt=dt, stride=4, checkpoint=0.4,
                               heat=0.4, hold=2.0, anneal=0.004 * 1, second="nve"))
    folder = run(spec, progress=False)
    thermo = store.read_thermo(folder)
    nve = thermo["stage"] == 1
    return thermo["total_eV"][nve].std() / thermo["kinetic_eV"][nve].std()


def test_nve_conserves_energy_with_second_order_error(make_spec, tmp_path):
    """Velocity Verlet conserves a shadow Hamiltonian: the total-energy fluctuation is
    O(dt^2) and tiny against the kinetic-energy fluctuation (which is O(1))."""
    fine, coarse = _nve_ratio(make_spec, tmp_path, 1.0), _nve_ratio(make_spec, tmp_path, 2.0)
    assert fine < 1e-3
    assert 2.5 < coarse / fine < 6.5  # 4 for a second-order integrator


def test_runaway_temperature_stops_the_run_and_keeps_frames(make_spec, tmp_path):
    path = make_spec(tmp_path, extra="max_temperature_K = 150", heat=0.4, checkpoint=0.2)
    with pytest.raises(MDBlowUp, match="temperature reached .* above max_temperature_K = 150"):
        run(load_spec(path), progress=False)
    folder = tmp_path / "run"
    meta = store.read_json(folder / "meta.json")
    assert meta["status"] == "failed" and "max_temperature_K" in meta["reason"]
    universe = store.open_run(folder)  # frames up to the failure stay readable
    assert len(universe.trajectory) == meta["n_frames"] >= 1
    with pytest.raises(RunStateError, match="failed earlier"):
        run(load_spec(path), progress=False)


def test_nve_drift_stops_the_run(make_spec, tmp_path):
    # a 2 fs NVE run drifts by ~1e-5 eV/atom (see the test above): a limit of 1e-7 trips
    path = make_spec(tmp_path, extra="nve_drift_eV_per_atom = 1e-7", second="nve")
    with pytest.raises(MDBlowUp, match="drifted by .* eV/atom in NVE"):
        run(load_spec(path), progress=False)


def _mdkit_run(spec_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mdkit", "run", "--quiet", "--no-analyze", str(spec_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def test_sigkill_at_random_moments_then_resume_is_exact(make_spec, tmp_path):
    reference = load_spec(make_spec(tmp_path / "reference", dt=2.0, heat=4.0, hold=4.0,
                                    anneal=4.0, checkpoint=0.4, stride=20))
    run(reference, progress=False)
    killed = make_spec(tmp_path / "killed", dt=2.0, heat=4.0, hold=4.0, anneal=4.0,
                       checkpoint=0.4, stride=20)
    folder = tmp_path / "killed" / "run"
    chance = random.Random(20261207)  # kill moments vary, yet a failure can be replayed
    kills = 0
    for _ in range(3):
        process = _mdkit_run(killed)
        deadline = time.time() + 60
        while not (folder / "checkpoint.npz").exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(chance.uniform(0.0, 1.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= 1
    assert _mdkit_run(killed).wait() == 0
    meta = store.read_json(folder / "meta.json")
    assert meta["status"] == "finished"
    with netCDF4.Dataset(tmp_path / "reference" / "run" / "trajectory.nc") as a, \
            netCDF4.Dataset(folder / "trajectory.nc") as b:
        for name in ("coordinates", "velocities", "time", "temperature", "total_energy", "stage"):
            assert a[name].shape == b[name].shape, name
            assert np.abs(a[name][:] - b[name][:]).max() <= 1e-8, name
    thermo = store.read_thermo(folder)
    assert thermo["frame"].tolist() == list(range(len(thermo["frame"])))  # none missing or doubled


def test_truncate_drops_a_row_cut_short_by_a_kill(make_spec, tmp_path):
    """A kill during the thermo append can leave '4' of '45,...': it must not survive."""
    spec = load_spec(make_spec(tmp_path, heat=0.04, hold=0.04, anneal=0.04, checkpoint=0.04))
    folder = run(spec, progress=False)
    thermo = folder / "thermo.csv"
    lines = thermo.read_text().splitlines()
    thermo.write_text("\n".join(lines[:4]) + "\n4")  # header, frames 0-2, a cut row
    RunFolder(folder).discard_after(3)
    assert store.read_thermo(folder)["frame"].tolist() == [0, 1, 2]



def test_a_new_thermostat_entry_without_a_thermostat_is_checked_for_drift(make_spec, tmp_path,
                                                                        monkeypatch):
    from dataclasses import replace

    from mdkit.thermostats import THERMOSTATS

    # the runner reads the entry's field, not the name "nve": the same limit trips
    monkeypatch.setitem(THERMOSTATS, "free", replace(THERMOSTATS["nve"]))
    path = make_spec(tmp_path, extra="nve_drift_eV_per_atom = 1e-7", second="nve")
    path.write_text(path.read_text().replace('thermostat = "nve"', 'thermostat = "free"'))
    with pytest.raises(MDBlowUp, match="drifted by .* eV/atom in NVE"):
        run(load_spec(path), progress=False)
