"""`mdkit validate`: a run's engine against a reference engine on the run's frames."""

import csv
import json

import numpy as np
import pytest
from matplotlib.image import imread

from mdkit.cli import main
from mdkit.validation import ValidationError, energy_statistics, force_statistics, validate_run


def test_statistics_by_hand():
    symbols = ["Ag", "S"]
    ref = np.zeros((2, 2, 3))
    run = np.zeros((2, 2, 3))
    run[0, 0] = [0.3, 0.4, 0.0]   # |dF| 0.5 on Ag in frame 0
    run[1, 1, 2] = -0.2           # S in frame 1
    rows = {r["element"]: r for r in force_statistics(symbols, run, ref)}
    assert rows["Ag"]["mae_eV_per_A"] == pytest.approx(0.7 / 6)
    assert rows["Ag"]["rmse_eV_per_A"] == pytest.approx(np.sqrt(0.25 / 6))
    assert rows["Ag"]["max_eV_per_A"] == pytest.approx(0.5)
    assert rows["S"]["max_eV_per_A"] == pytest.approx(0.2)
    assert rows["all"]["n_atoms"] == 4
    # a constant offset between engines is no error; the frame-to-frame part is
    energy = energy_statistics([10.0, 11.0, 12.5], [0.0, 1.0, 2.0], n_atoms=5)
    residual = np.array([10, 10, 10.5]) - 30.5 / 3
    assert energy["offset_eV_per_atom"] == pytest.approx(30.5 / 3 / 5)
    assert energy["rmse_eV_per_atom"] == pytest.approx(np.sqrt((residual ** 2).mean()) / 5)


def test_same_physics_two_implementations_agree(short_run, tmp_path):
    # asap3's EMT and ASE's own EMT are independent implementations of one
    # potential: on the run's own frames they must agree to round-off, which
    # also proves that each frame is compared with itself
    _, folder, _ = short_run(tmp_path, "ag13", "emt", heat=0.01, nve=0.004)
    result = validate_run(folder, "python", frames=4,
                          options={"factory": "ase.calculators.emt:EMT"}, progress=False)
    assert result["frames"] == [0, 5, 9, 14]
    overall = result["forces"][-1]
    assert overall["element"] == "all" and overall["reference_rms_eV_per_A"] > 0.01
    assert overall["max_eV_per_A"] < 1e-4
    assert result["energy"]["rmse_eV_per_atom"] < 1e-6
    with pytest.raises(ValidationError, match="more frames than the run has"):
        validate_run(folder, "python", frames=99, options={"factory": "ase.calculators.emt:EMT"})
    with pytest.raises(ValidationError, match="the run's own engine"):
        validate_run(folder, "emt", frames=2)


@pytest.mark.slow
def test_validate_emt_run_against_gpaw_from_the_command_line(short_run, tmp_path, capsys):
    _, folder, _ = short_run(tmp_path, "ag13", "emt", heat=0.01, nve=0.004)
    # Ag13 has 13 valence s electrons in degenerate icosahedral levels: the SCF
    # needs a smeared occupation to converge (an inline table, commas and all)
    argv = ["validate", str(folder), "--frames", "2", "--option", 'basis="sz(dzp)"',
            "--option", "h=0.3", "--option", "vacuum=3.0", "--option",
            "occupations={name='fermi-dirac', width=0.1}", "--quiet"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "emt against gpaw on 2 frames" in said and "meV/atom" in said
    table = list(csv.DictReader(open(folder / "analysis" / "validation_gpaw.csv")))
    assert [r["element"] for r in table] == ["Ag", "all"]
    summary = json.loads((folder / "analysis" / "validation_gpaw.json").read_text())
    assert float(table[0]["rmse_eV_per_A"]) == pytest.approx(
        summary["forces"][0]["rmse_eV_per_A"])
    # DFT forces on a 290 K Ag13 are tenths of an eV/Å; EMT's differ but stay that size
    assert 0.01 < summary["forces"][0]["reference_rms_eV_per_A"] < 2
    assert np.isfinite(summary["forces"][0]["mae_eV_per_A"])
    image = imread(folder / "analysis" / "validation_gpaw.png")
    assert image.shape[0] > 300 and image.shape[1] > 600 and image[..., :3].std() > 0.05
    # asked again, the frames kept on disk are reused (no GPAW call: same numbers)
    assert main(argv) == 0
    again = json.loads((folder / "analysis" / "validation_gpaw.json").read_text())
    assert again["forces"] == summary["forces"]
