"""Sweeps: expansion, a real LocalCluster run, and kill-and-relaunch."""

import os
import signal
import subprocess
import sys
import time
import tomllib

import dask
import numpy as np
import pytest

from mdkit import ensemble, store
from mdkit.protocol import RunSpecError, load_spec


def test_expand_product_of_keys_and_seeds(make_spec, tmp_path):
    spec = make_spec(tmp_path, name="base")
    vary = ensemble.parse_vary(["vacancy=center,surface", "temperature_K=250,290"])
    folder = ensemble.expand(spec, vary, ensemble.parse_seeds("1-2,5"))
    assert folder == tmp_path / "base_sweep"
    members = store.sweep_members(folder)
    assert len(members) == 2 * 2 * 3
    names = {m["name"] for m in members}
    assert "vacancy-center_T-250_seed-1" in names and "vacancy-surface_T-290_seed-5" in names
    member = next(m for m in members if m["name"] == "vacancy-surface_T-250_seed-5")
    data = tomllib.loads(member["spec"].read_text())
    assert data["system"]["vacancy"] == "surface" and data["md"]["seed"] == 5
    temperatures = [s.get("temperature_K") for s in data["stages"]]
    assert temperatures == [250, 250, [250, 50]]  # the ramp keeps its end
    assert load_spec(member["spec"]).stages[2].temperature_K == (250.0, 50.0)
    # the same expansion again is a resume; a different one is refused
    assert ensemble.expand(spec, vary, [1, 2, 5]) == folder
    with pytest.raises(ensemble.SweepError, match="holds a different sweep"):
        ensemble.expand(spec, vary, [1, 2])
    with pytest.raises(ensemble.SweepError, match="must be KEY=V1,V2"):
        ensemble.parse_vary(["vacancy"])
    with pytest.raises(ensemble.SweepError, match="does not fit"):
        ensemble.expand(spec, {"stages.9.duration_ps": [1]}, [], tmp_path / "x")
    # a member that is not a valid run spec is named, and nothing is written
    with pytest.raises(RunSpecError, match=r"seed-1\.toml: \[md\] has unknown key 'temperature_K'"):
        ensemble.expand(spec, {"md.temperature_K": [290]}, [1], tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_sweep_runs_on_a_local_cluster(plot_image, colour_pixels, axis_rows, make_spec,
                                       tmp_path):
    from mdkit.analysis.ensemble import analyze_sweep
    from mdkit.analysis.report import analyze_member

    spec = make_spec(tmp_path, name="base", heat=0.1, hold=0.1, anneal=0.1, checkpoint=0.1)
    folder = ensemble.expand(spec, {"temperature_K": [250, 290]}, [1, 2])
    client = ensemble.client_for(n_workers=2)
    try:
        assert len(client.scheduler_info()["workers"]) == 2
        # the workers run with the sweep settings (no 10 ms profiler sampling the runs)
        profiling = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
        assert list(profiling.values()) == [False, False]
        results = ensemble.run_sweep(folder, client, analyze=analyze_member, progress=False)
    finally:
        ensemble.shutdown(client)
    members = store.sweep_members(folder)
    assert sorted(r["name"] for r in results) == sorted(m["name"] for m in members)
    assert all(r["status"] == "finished" for r in results)
    for member in store.sweep_members(folder):
        assert store.member_status(member) == "finished"
        assert len(store.open_run(member["folder"]).trajectory) == 16  # 0.3 ps, a frame per 20 fs
    groups = analyze_sweep(folder, formats=("png",))
    assert sorted(g["temperature_K"] for g in groups) == [250, 290]
    assert all(g["n_runs"] == 2 for g in groups)
    assert (folder / "analysis" / "groups.csv").exists()
    survival = plot_image(folder / "analysis" / "survival.png", panels=1)
    top, bottom = axis_rows(survival)
    # every group's curve starts at fraction 1 and never exceeds it: the highest curve
    # pixel sits at y = 1 (the figure's y range is -0.02 to 1.05)
    highest = np.argwhere(colour_pixels(survival, "C0"))[:, 0].min()
    assert abs(highest - (top + (bottom - top) * 0.05 / 1.07)) < 5


def test_killed_sweep_relaunch_loses_nothing_and_redoes_nothing(make_spec, tmp_path):
    spec = make_spec(tmp_path, name="base", heat=3.0, hold=3.0, anneal=3.0, checkpoint=0.3)
    command = [sys.executable, "-m", "mdkit", "sweep", str(spec), "--seeds", "1-5",
               "--workers", "2", "--no-analyze", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env, start_new_session=True)
    folder = tmp_path / "base_sweep"
    deadline = time.time() + 120
    while time.time() < deadline:
        done = [m for m in store.sweep_members(folder) if store.member_status(m) == "finished"] \
            if (folder / "sweep.json").exists() else []
        if done:
            break
        time.sleep(0.05)
    assert done, "no member finished within two minutes"
    os.killpg(process.pid, signal.SIGKILL)  # the sweep, its scheduler and its workers
    process.wait()
    members = store.sweep_members(folder)
    before = {m["name"]: store.member_status(m) for m in members}
    assert "finished" in before.values() and set(before.values()) != {"finished"}
    stamps = {m["name"]: (m["folder"] / "trajectory.nc").stat().st_mtime_ns
              for m in members if before[m["name"]] == "finished"}
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    for member in members:
        assert store.member_status(member) == "finished", member["name"]
        meta = store.read_json(member["folder"] / "meta.json")
        if member["name"] in stamps:  # finished before the kill: not run again
            assert (member["folder"] / "trajectory.nc").stat().st_mtime_ns == stamps[member["name"]]
            assert "resumed_at_ps" not in meta
        thermo = store.read_thermo(member["folder"])
        assert thermo["frame"].tolist() == list(range(451))  # none lost, none doubled


def test_slurm_cluster_job_script(tmp_path):
    """dask-jobqueue renders the batch script; nothing is submitted with no jobs."""
    cluster = ensemble.jobqueue_cluster("slurm", cores=4, memory="8GiB", walltime="02:00:00",
                                        jobs=0)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH" in script and "02:00:00" in script
    assert "export OMP_NUM_THREADS=1" in script and "--nworkers 4" in script
    # the batch job's workers get the sweep settings through DASK_* variables, read back by Dask
    env = dict(line.removeprefix("export ").split("=", 1) for line in script.splitlines()
               if line.startswith("export DASK_"))
    config = dask.config.collect_env(env)
    for key, value in ensemble.SWEEP_DASK_CONFIG.items():
        assert dask.config.get(key, config=config) == value


@pytest.mark.slow
def test_gpaw_members_run_under_mpi(tmp_path, monkeypatch):
    structure = tmp_path / "ag2.xyz"
    structure.write_text("2\ncharge=0\nAg 0 0 0\nAg 2.6 0 0\n")
    spec = tmp_path / "gpaw.toml"
    spec.write_text(f"""
[system]
file = "{structure}"
[calculator]
name = "gpaw"
basis = "sz(dzp)"
h = 0.3
vacuum = 3.0
[md]
timestep_fs = 2.0
stride_fs = 2.0
checkpoint_ps = 0.004
[[stages]]
thermostat = "langevin"
temperature_K = 290
duration_ps = 0.004
""")
    folder = ensemble.expand(spec, {}, [1])
    for key in ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM",
                "OMPI_MCA_rmaps_base_oversubscribe"):
        monkeypatch.setenv(key, "1")
    client = ensemble.client_for(n_workers=1)
    try:
        results = ensemble.run_sweep(folder, client, mpi_ranks=2, progress=False)
    finally:
        ensemble.shutdown(client)
    assert [r["status"] for r in results] == ["finished"], results
    member = store.sweep_members(folder)[0]
    assert store.read_json(member["folder"] / "meta.json")["mpi_ranks"] == 2


def test_a_value_or_key_twice_and_shared_member_folders_are_refused(make_spec, tmp_path):
    with pytest.raises(ensemble.SweepError, match="names 290.0 twice"):
        ensemble.parse_vary(["temperature_K=250,290,290.0"])
    with pytest.raises(ensemble.SweepError, match="names 'vacancy' twice"):
        ensemble.parse_vary(["vacancy=center", "vacancy=surface"])
    spec = make_spec(tmp_path, name="base")
    # ':' and '-' both become '-' in a member's name
    with pytest.raises(ensemble.SweepError, match="'dope-surface-Au' a second time"):
        ensemble.expand(spec, {"system.dope": ["surface:Au", "surface-Au"]}, [])
    assert not (tmp_path / "base_sweep").exists()


def test_a_batch_cluster_without_its_submit_command_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no sbatch, no qsub
    for kind, command in ensemble.SUBMIT.items():
        with pytest.raises(ensemble.SweepError, match=f"{command}, which is not on"):
            ensemble.check_cluster(kind)
    ensemble.check_cluster("local")
    fake = tmp_path / "sbatch"  # once the command is there, the kind is accepted
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    ensemble.check_cluster("slurm")


def test_failed_members_are_reported_in_every_later_launch(make_spec, tmp_path):
    # every member heats past a 1 K limit at its first frame: a run failure
    spec = make_spec(tmp_path, name="hot", heat=0.02, hold=0.02, anneal=0.02, checkpoint=0.02,
                     extra="max_temperature_K = 1")
    cluster = {"n_workers": 1}
    first = ensemble.sweep(spec, {}, [1, 2], cluster=cluster, progress=False)
    assert [r["status"] for r in first["results"]] == ["failed", "failed"]
    assert first["n_members"] == 2 and sorted(first["failed"]) == ["seed-1", "seed-2"]
    assert all("above max_temperature_K = 1" in why for why in first["failed"].values())
    again = ensemble.sweep(spec, {}, [1, 2], cluster=cluster, progress=False)
    assert again["results"] == []  # skipped, not retried ...
    assert again["failed"] == first["failed"]  # ... and still reported, with their reasons
