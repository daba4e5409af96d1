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
    chance = random.Random(20261208)  # kill moments vary, yet a failure can be replayed
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


# --- a disk that refuses writes, read-only folders, what a kill leaves behind --------------
def limited(*args, cwd, limit_bytes: int):
    """``mdkit ARGS`` with files limited to ``limit_bytes`` (``ulimit -f``, standing in for a
    full disk).  asap3 starts MPI, whose runtime keeps its own shared-memory files unless
    told to use its hash store: that setting keeps the runtime clear of the limit."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PMIX_MCA_gds": "hash"}
    return subprocess.run([sys.executable, "-m", "mdkit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def one_sentence(done, *words):
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    for word in words:
        assert word in lines[0], lines[0]


def no_temporaries(root: Path):
    from mdkit.writer import is_temporary

    assert not [p for p in root.rglob("*") if is_temporary(p)]


LONG = SPEC.replace("checkpoint_ps = 0.01", "checkpoint_ps = 0.1").replace(
    "duration_ps = 0.2", "duration_ps = 2.2")  # 251 frames: about 90 kB joined, 5 kB a segment


def test_file_size_limit_during_the_join_loses_no_frame(tmp_path, files):
    (tmp_path / "tiny.toml").write_text(LONG)
    done = limited("run", "--quiet", "--no-analyze", "tiny.toml", cwd=tmp_path,
                   limit_bytes=64 * 1024)
    one_sentence(done, "segments", "trajectory.nc")
    folder = tmp_path / "tiny"
    no_temporaries(tmp_path)
    assert not (folder / "trajectory.nc").exists()
    on_disk = 0
    for part in store.segments(folder):
        with netCDF4.Dataset(part) as data:
            on_disk += len(data.dimensions["frame"])
    assert on_disk == 251
    # the same command without the limit joins what is there and finishes the run
    code, _, err = finish(tmp_path / "tiny.toml", cwd=tmp_path)
    assert code == 0, err
    with netCDF4.Dataset(folder / "trajectory.nc") as data:
        assert len(data.dimensions["frame"]) == 251
        assert np.allclose(data["time"][:], np.arange(251) * 0.01, atol=1e-6)
    assert store.read_thermo(folder)["frame"].tolist() == list(range(251))


def test_file_size_limit_during_analyze_and_build(tmp_path, files):
    spec = spec_in(tmp_path)
    assert finish(spec)[0] == 0
    before = files(tmp_path)
    # analyze: its PNG figures are larger than 64 kB at 300 dpi
    one_sentence(limited("analyze", "tiny", cwd=tmp_path, limit_bytes=64 * 1024),
                 "cannot write", "File too large")
    after = files(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    no_temporaries(tmp_path)
    import json

    for path in (tmp_path / "tiny" / "analysis").glob("*.json"):
        json.loads(path.read_text())  # what was written is whole
    # build: Ag561 in extended XYZ is about 44 kB
    one_sentence(limited("build", "ag561", "-o", "big.xyz", cwd=tmp_path,
                         limit_bytes=32 * 1024), "big.xyz", "File too large")
    assert not (tmp_path / "big.xyz").exists()
    no_temporaries(tmp_path)


def _chattr(flag: str, path: Path) -> bool:
    import shutil

    return shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "-R", flag, str(path)], capture_output=True).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="chattr +i needs root")
def test_read_only_run_folder_is_one_sentence(tmp_path, files, mdkit):
    spec = spec_in(tmp_path / "done")
    assert finish(spec)[0] == 0
    interrupted = _interrupted(tmp_path, "cut")
    folders = [spec.parent / "tiny", interrupted.parent / "tiny"]
    if not _chattr("+i", folders[0]):
        pytest.skip("this file system has no immutable flag")
    try:
        assert _chattr("+i", folders[1])
        before = files(tmp_path)
        one_sentence(mdkit("analyze", folders[0]), "Operation not permitted")
        one_sentence(mdkit("validate", folders[0], "--against", "python", "--option",
                           'factory="ase.calculators.emt:EMT"', "--frames", "2", "--quiet"),
                     "Operation not permitted")
        one_sentence(mdkit("run", "--quiet", "--no-analyze", interrupted), "read-only")
        one_sentence(mdkit("run", "--force", "--quiet", "--no-analyze", spec),
                     "cannot move")
        assert files(tmp_path) == before
    finally:
        for folder in folders:
            _chattr("-i", folder)


def test_temporaries_a_kill_left_in_analysis_go_with_the_next_run(tmp_path):
    """A kill mid-write leaves a temporary (tests/test_writer.py shows it); the run folder's
    owner clears those in analysis/ when it next writes there."""
    from mdkit.writer import temporary_path

    spec = spec_in(tmp_path)
    assert finish(spec)[0] == 0
    analysis = tmp_path / "tiny" / "analysis"
    analysis.mkdir()
    left = temporary_path(analysis / "rg.pdf")
    left.write_bytes(b"%PDF-1.4 cut short")
    older = analysis / ".rg.tmp.pdf"  # the name mdkit's writers used before mdkit.writer
    older.write_bytes(b"%PDF-1.4 cut short")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "mdkit", "analyze", "tiny", "--formats", "png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not left.exists() and not older.exists()
    no_temporaries(tmp_path)
