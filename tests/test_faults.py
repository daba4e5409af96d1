"""Faults a run folder must survive, with real `mdkit run` subprocesses on a tiny EMT run.

kill -9 at random moments (inside the dynamics, at checkpoints and inside
the final join) and resume must give the trajectory of an uninterrupted run;
damage (lost meta.json, lost or truncated checkpoint.npz, a truncated
segment) must never cost a frame on disk.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from mdkit import store, writer

SPEC = """
[system]
build = "ag13"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 4
stride_fs = 10
checkpoint_ps = 0.01
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 300
duration_ps = 0.3
[[stages]]
name = "hold"
thermostat = "nose-hoover"
temperature_K = 300
duration_ps = 0.2
"""
N_FRAMES = 51  # 500 fs / 10 fs + the frame at 0 fs
VARIABLES = ("coordinates", "velocities", "time", "temperature", "total_energy", "stage")


def start(spec, *extra, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mdkit", "run", "--quiet", "--no-analyze",
                             *extra, str(spec)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(spec, *extra, cwd=None):
    process = start(spec, *extra, cwd=cwd)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def spec_in(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.toml"
    path.write_text(SPEC)
    return path


def same_as_reference(folder: Path, reference: Path):
    assert store.read_json(folder / "meta.json")["status"] == "finished"
    with netCDF4.Dataset(reference / "trajectory.nc") as a, \
            netCDF4.Dataset(folder / "trajectory.nc") as b:
        assert len(b.dimensions["frame"]) == N_FRAMES
        for name in VARIABLES:
            assert a[name].shape == b[name].shape, name
            # 1e-8: asap3 rebuilds its neighbour list on resume, which may change the order
            # of force sums in the last bit (the same bound as tests/test_md.py)
            assert np.abs(a[name][:] - b[name][:]).max() <= 1e-8, name
    thermo = store.read_thermo(folder)
    assert thermo["frame"].tolist() == list(range(N_FRAMES))
    assert not store.segments(folder)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    spec = spec_in(tmp_path_factory.mktemp("reference"))
    code, _, err = finish(spec)
    assert code == 0, err
    return spec.parent / "tiny"


def kill_when(process, ready, delay_s: float, limit_s: float = 60) -> bool:
    """SIGKILL ``process`` ``delay_s`` after ``ready()`` turns true; False if it ended first."""
    deadline = time.time() + limit_s
    while not ready() and process.poll() is None and time.time() < deadline:
        time.sleep(0.001)
    time.sleep(delay_s)
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait()
    return True


def test_sigkill_at_random_moments_and_inside_the_join(tmp_path, reference):
    """20 kills: half at a random moment after the first checkpoint, half just after the
    join has begun (its temporary file appears), spread over writing, verifying, the
    rename and the removal of the segments.  Each killed folder resumes to the
    uninterrupted trajectory."""
    chance = random.Random()
    kills = {"run": 0, "join": 0}
    for trial in range(20):
        kind = "join" if trial % 2 else "run"
        spec = spec_in(tmp_path / f"trial{trial}")
        folder = spec.parent / "tiny"
        tmp = writer.temporary_path(folder / "trajectory.nc")
        if kind == "run":
            ready = (folder / "checkpoint.npz").exists
            delay = chance.uniform(0.0, 0.8)
        else:
            ready = lambda: tmp.exists() or (folder / "trajectory.nc").exists()  # noqa: E731
            delay = chance.uniform(0.0, 0.05)
        process = start(spec)
        kills[kind] += kill_when(process, ready, delay)
        code, _, err = finish(spec)
        assert code == 0, err
        same_as_reference(folder, reference)
    # most kills land; a kill that came after the process ended still had to resume cleanly
    assert kills["run"] >= 5 and kills["join"] >= 5, kills


def _interrupted(tmp_path, name: str, min_segments: int = 10) -> Path:
    spec = spec_in(tmp_path / name)
    folder = spec.parent / "tiny"
    process = start(spec)
    killed = kill_when(process, lambda: len(store.segments(folder)) >= min_segments, 0.0)
    assert killed, "the run ended before it could be interrupted"
    return spec


def test_lost_meta_of_a_finished_run_loses_nothing(tmp_path, reference):
    spec = spec_in(tmp_path / "a")
    assert finish(spec)[0] == 0
    folder = spec.parent / "tiny"
    trajectory = (folder / "trajectory.nc").read_bytes()
    (folder / "meta.json").unlink()
    code, _, err = finish(spec)
    assert code == 0, err
    assert (folder / "trajectory.nc").read_bytes() == trajectory
    assert store.read_json(folder / "meta.json")["meta_rebuilt"]
    same_as_reference(folder, reference)


def test_lost_meta_of_an_interrupted_run_resumes_exactly(tmp_path, reference):
    spec = _interrupted(tmp_path, "a")
    (spec.parent / "tiny" / "meta.json").unlink()
    code, _, err = finish(spec)
    assert code == 0, err
    same_as_reference(spec.parent / "tiny", reference)


@pytest.mark.parametrize("damage", ["lost checkpoint", "truncated checkpoint",
                                    "truncated last segment"])
def test_damage_never_costs_a_frame(files, tmp_path, damage):
    """The run refuses in one sentence and changes nothing; --force keeps it all aside."""
    spec = _interrupted(tmp_path, "a")
    folder = spec.parent / "tiny"
    checkpoint = folder / "checkpoint.npz"
    if damage == "lost checkpoint":
        checkpoint.unlink()
    elif damage == "truncated checkpoint":
        checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    else:
        n_frames = int(store.load_checkpoint(folder)["n_frames"])
        last = [p for p in store.segments(folder) if int(p.name.split(".")[0]) < n_frames][-1]
        last.write_bytes(last.read_bytes()[:200])
    before = files(tmp_path)
    code, _, err = finish(spec)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "frames on disk" in err and "--force" in err
    assert files(tmp_path) == before

    code, _, err = finish(spec, "--force")
    assert code == 0, err
    kept = [p for p in tmp_path.joinpath("a").iterdir() if p.is_dir() and p.name != "tiny"]
    assert len(kept) == 1
    assert files(kept[0]) == {k.relative_to(Path("a/tiny")): v for k, v in before.items()
                              if k.parts[:2] == ("a", "tiny")}


def test_resume_from_another_directory_and_by_absolute_path(tmp_path, reference):
    spec = _interrupted(tmp_path, "a")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, _, err = finish(os.path.relpath(spec, elsewhere), cwd=elsewhere)
    assert code == 0, err
    same_as_reference(spec.parent / "tiny", reference)

    spec = _interrupted(tmp_path, "b")
    code, _, err = finish(spec.resolve(), cwd=tmp_path)
    assert code == 0, err
    same_as_reference(spec.parent / "tiny", reference)
