"""mdkit train end to end: an EMT teacher on Ag13, a tiny MACE student, held-out frames.

The student is judged only on trajectories it never saw (other seeds and a
temperature it was not trained at), against the teacher's own labels.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

pytestmark = pytest.mark.slow

SPEC = """
[teacher]
name = "emt"

[[systems]]
build = "ag13"

[sampling]
temperatures_K = [300, 600]
test_temperatures_K = [450]
seeds = [1, 2, 3]
duration_ps = {duration}
timestep_fs = 5.0
label_every_fs = 20
rattled = 10

[student]
hidden_irreps = "8x0e"
max_L = 1
correlation = 2
num_interactions = 2
r_max = 4.5
max_num_epochs = {epochs}
batch_size = 5
ema = true
"""


def mdkit(*args, cwd, check=True):
    result = subprocess.run([sys.executable, "-m", "mdkit", *args], cwd=cwd, text=True,
                            capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if check:
        assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    (root / "ag13.toml").write_text(SPEC.format(duration=0.5, epochs=15))
    mdkit("train", "ag13.toml", cwd=root)
    return root / "ag13"


def test_student_beats_threshold_on_held_out_trajectories(trained):
    from mace.calculators import MACECalculator

    card = __import__("json").loads((trained / "card.json").read_text())
    # the card leaves out each trajectory's first frames (all start from one structure)
    assert card["held_out_after_ps"] == pytest.approx(0.1)
    test = [frame for frame in read(trained / "test.xyz", index=":")
            if frame.info["time_ps"] > 0.1 + 1e-9]
    assert 0 < len(test) < len(read(trained / "test.xyz", index=":"))
    calculator = MACECalculator(model_paths=str(trained / "student.model"), device="cpu",
                                default_dtype="float64")
    errors, teacher = [], []
    for frame in test:
        atoms = frame.copy()
        atoms.calc = calculator
        errors.append(atoms.get_forces() - frame.arrays["teacher_forces"])
        teacher.append(frame.arrays["teacher_forces"])
    errors, teacher = np.concatenate(errors), np.concatenate(teacher)
    rmse, scale = np.sqrt((errors ** 2).mean()), np.sqrt((teacher ** 2).mean())
    # 15 epochs on 60 frames: about 11 % of the teacher's force scale here; predicting
    # zero forces would give 100 %
    assert rmse < 0.25 * scale, (rmse, scale)
    assert card["held_out"]["float64"]["force_rmse_eV_per_A"] == pytest.approx(rmse, rel=1e-6)
    assert card["teacher"]["name"] == "emt" and card["elements"] == ["Ag"]


def test_split_is_by_trajectory(trained):
    sets = {role: read(trained / f"{role}.xyz", index=":") for role in ("train", "valid", "test")}
    trajectories = {role: {a.info["trajectory"] for a in frames} for role, frames in sets.items()}
    assert not trajectories["train"] & trajectories["valid"]
    assert not trajectories["train"] & trajectories["test"]
    assert not trajectories["valid"] & trajectories["test"]
    assert {a.info["seed"] for a in sets["test"]} == {3}
    assert {a.info["seed"] for a in sets["valid"]} == {2}
    # the temperature only the test sees
    assert 450.0 in {a.info["temperature_K"] for a in sets["test"]}
    assert 450.0 not in {a.info.get("temperature_K") for a in sets["train"] + sets["valid"]}
    # 0.5 ps labelled every 20 fs: 25 frames per trajectory, 10 rattled copies
    assert len(sets["train"]) == 2 * 25 + 10 and len(sets["test"]) == 3 * 25


def test_labels_are_the_teachers(trained):
    from asap3 import EMT

    frame = read(trained / "test.xyz", index=7)
    atoms = frame.copy()
    atoms.center(vacuum=10.0)
    atoms.calc = EMT()
    np.testing.assert_allclose(atoms.get_forces(), frame.arrays["teacher_forces"], atol=1e-6)
    assert atoms.get_potential_energy() == pytest.approx(frame.info["teacher_energy"], abs=1e-6)


def test_student_refuses_an_element_it_never_saw(trained, tmp_path):
    from ase.cluster import Icosahedron

    from mdkit.calculators import EngineError, make_calculator

    atoms = Icosahedron("Ag", 2)
    atoms[3].symbol = "Au"
    with pytest.raises(EngineError, match="trained on Ag only; atom 3 is Au"):
        make_calculator("mace", atoms, 0, model=str(trained / "student.model"))


def _wait_for(condition, process, timeout=300):
    started = time.monotonic()
    while not condition():
        assert process.poll() is None, "mdkit train ended before it could be killed"
        assert time.monotonic() - started < timeout
        time.sleep(0.2)


def test_kill_during_labelling_loses_at_most_the_frame_in_flight(tmp_path):
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=2.0, epochs=2))
    labels = tmp_path / "ag13" / "labels"
    process = subprocess.Popen([sys.executable, "-m", "mdkit", "train", "ag13.toml"],
                               cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = labels / "train-Ag13-300K-seed1.xyz"
    _wait_for(lambda: first.exists() and first.read_text().count("Lattice") >= 20, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = first.read_bytes()
    # a torn write: half a frame at the end, as a kill inside write() would leave
    with first.open("ab") as handle:
        handle.write(before[: len(before) // 3][:200])
    kept = before.count(b"Lattice")
    mdkit("train", "ag13.toml", cwd=tmp_path)
    after = first.read_bytes()
    assert after.startswith(before)  # every frame written before the kill is still there
    assert after.count(b"Lattice") == 100 and kept >= 20
    frames = read(first, index=":")
    assert len(frames) == 100 and (tmp_path / "ag13" / "student.model").exists()


def test_kill_during_training_resumes_from_maces_checkpoint(tmp_path):
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=0.3, epochs=12))
    folder = tmp_path / "ag13"
    process = subprocess.Popen([sys.executable, "-m", "mdkit", "train", "ag13.toml"],
                               cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = folder / "mace" / "checkpoints"
    _wait_for(lambda: checkpoints.exists() and any(checkpoints.glob("*.pt")), process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (folder / "student.model").exists()
    mdkit("train", "ag13.toml", cwd=tmp_path)
    log = (folder / "train.log").read_text()
    assert "Loading checkpoint" in log
    assert (folder / "student.model").exists() and (folder / "card.json").exists()


@pytest.mark.parametrize("change, message", [
    ({"teacher": 'name = "nosuch"'}, "name 'nosuch' is not one of"),
    ({"systems": ""}, "[[systems]] is empty"),
    ({"seeds": "seeds = [2, 3]"}, "too few trajectories to split"),
    ({"student": 'hidden_irreps = "8x0e"\nno_such_option = 3'}, "'no_such_option' is not a "
                                                                 "mace_run_train option"),
    ({"student": 'hidden_irreps = "8x0e"\nswa = 3'}, "swa is a switch: true or false"),
])
def test_bad_training_specs_get_one_sentence(tmp_path, change, message):
    text = SPEC.format(duration=0.5, epochs=2)
    if "teacher" in change:
        text = text.replace('name = "emt"', change["teacher"])
    if "systems" in change:
        text = text.replace('[[systems]]\nbuild = "ag13"\n', "")
    if "seeds" in change:
        text = text.replace("seeds = [1, 2, 3]", change["seeds"])
    if "student" in change:
        text = text.replace('hidden_irreps = "8x0e"', change["student"])
    (tmp_path / "bad.toml").write_text(text)
    result = mdkit("train", "bad.toml", cwd=tmp_path, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "bad").exists()


def test_a_folder_mdkit_did_not_make_is_refused(tmp_path):
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=0.5, epochs=2))
    (tmp_path / "ag13").mkdir()
    (tmp_path / "ag13" / "notes.txt").write_text("mine")
    result = mdkit("train", "ag13.toml", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "not a folder mdkit wrote" in result.stderr
    assert sorted(p.name for p in (tmp_path / "ag13").iterdir()) == ["notes.txt"]


def test_a_changed_student_keeps_the_labels_and_the_earlier_training(tmp_path):
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=0.1, epochs=1))
    mdkit("train", "ag13.toml", cwd=tmp_path)
    folder = tmp_path / "ag13"
    labels = {p.name: p.read_bytes() for p in (folder / "labels").glob("*.xyz")}
    first = (folder / "student.model").read_bytes()
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=0.1, epochs=2))
    result = mdkit("train", "ag13.toml", cwd=tmp_path)
    assert "labels kept" in result.stderr and "labels:" not in result.stderr
    assert {p.name: p.read_bytes() for p in (folder / "labels").glob("*.xyz")} == labels
    earlier = list((folder / "earlier-students").iterdir())
    assert len(earlier) == 1 and (earlier[0] / "student.model").read_bytes() == first
    assert "Epoch 1" in (folder / "train.log").read_text()  # trained anew, 2 epochs
    # a changed sampling is another training: refused without --force
    (tmp_path / "ag13.toml").write_text(SPEC.format(duration=0.2, epochs=2))
    assert mdkit("train", "ag13.toml", cwd=tmp_path, check=False).returncode == 2
