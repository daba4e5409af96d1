"""The shipped specialist ("ag-family"): its card re-measured on held-out frames.

``tests/data/ag_family_heldout.xyz`` holds frames of trajectories the student
never saw (seed 3 at 450 K, a temperature it was not trained at), labelled by
SevenNet-0 during ``mdkit train runs/train_ag_family.toml``; the student's
errors on them must match what its card states for the whole test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from mdkit.calculators import EngineError, make_calculator, shipped_model_path
from mdkit.training import FORCES_KEY, held_out_errors

pytestmark = pytest.mark.slow

FRAMES = Path(__file__).parent / "data" / "ag_family_heldout.xyz"
MODEL = shipped_model_path("ag-family")
CARD = json.loads(MODEL.with_suffix(".card.json").read_text())


def test_the_card_describes_the_shipped_model_and_its_teacher():
    assert CARD["teacher"]["name"] == "sevennet" and CARD["teacher"]["model"] == "7net-0"
    assert set(CARD["elements"]) == {"Ag", "C", "H", "Hg", "S"}
    trained = set(CARD["split"]["train"]["trajectories"])
    tested = set(CARD["split"]["test"]["trajectories"])
    assert trained and tested and not trained & tested  # split by trajectory


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_held_out_errors_are_those_of_the_card(dtype):
    frames = read(FRAMES, index=":")
    assert {frame.info["temperature_K"] for frame in frames} == {450.0}
    assert {frame.info["seed"] for frame in frames} == {3}
    tested = set(CARD["split"]["test"]["trajectories"])
    assert {frame.info["trajectory"].split("-", 1)[1] for frame in frames} <= tested
    errors = held_out_errors(MODEL, frames, dtype)
    card = CARD["held_out"][dtype]
    # a dozen frames against the card's hundreds: the same error within sampling noise
    assert errors["force_mae_eV_per_A"] == pytest.approx(card["force_mae_eV_per_A"], rel=0.3)
    for element, stats in errors["per_element"].items():
        assert stats["force_mae_eV_per_A"] == pytest.approx(
            card["per_element"][element]["force_mae_eV_per_A"], rel=0.5, abs=0.01)
    # and far better than knowing nothing: the teacher's own force scale
    scale = np.abs(np.concatenate([f.arrays[FORCES_KEY] for f in frames])).mean()
    assert errors["force_mae_eV_per_A"] < 0.2 * scale


def test_the_labels_are_sevennets_own():
    frame = read(FRAMES, index="0")
    atoms = frame.copy()
    atoms.calc = make_calculator("sevennet", atoms, int(frame.info["charge"]), model="7net-0")
    assert np.abs(atoms.get_forces() - frame.arrays[FORCES_KEY]).max() < 2e-3


def test_the_specialist_runs_by_name_and_refuses_an_element_it_never_saw():
    frame = read(FRAMES, index="0")
    atoms = frame.copy()
    atoms.calc = make_calculator("mace", atoms, -2, default_dtype="float32")  # ag-family
    assert np.isfinite(atoms.get_forces()).all()
    atoms[int(np.flatnonzero(atoms.symbols == "Ag")[0])].symbol = "Au"
    with pytest.raises(EngineError, match="trained on Ag, C, H, Hg, S only; atom .* is Au"):
        make_calculator("mace", atoms, -2)
