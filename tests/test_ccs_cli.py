"""`mdkit ccs` on molecules that are not metal clusters, against peer programs' values.

References (none from this code):
* MOBCAL-2012 (Campuzano et al., Anal. Chem. 84, 1026 (2012); its public
  repository's sample-output/Choline_N2.out and Choline_He.out): choline+ in
  N2 115.92 Å², in He 55.40 Å², at 301 K, for the structure and charges of its
  Choline.mfj (tests/data/choline_mobcal2012.xyz).
* MOBCAL-2012's mobcal_N2.f built with gfortran -O2 -fno-automatic -std=legacy,
  T = 298 K, on ase.build.molecule('C60') (issue 13): 198.4 ± 1.1 Å² (neutral),
  212.1 ± 1.5 Å² (charge +1 spread evenly); the same program patched to one
  random fixed N2 axis per trajectory: 206.4 ± 0.5 Å².
* MassCCS (Cajahuaringa & Caetano; its public repository's ubiquitin 4+
  structure with per-atom charges, tests/data/ubiquitin_4plus_massccs.xyz):
  1061.7 ± 22.0 Å² in He.
"""

import math
import re
from pathlib import Path

import pytest

from mdkit.cli import main

DATA = Path(__file__).parent / "data"


def run(capsys, *argv):
    code = main(["ccs", *map(str, argv), "--quiet"])
    out = capsys.readouterr()
    return code, out.out, out.err


def value(text: str) -> tuple[float, float]:
    match = re.search(r"= ([\d.]+) ± ([\d.]+) \(stat\)", text)
    return float(match.group(1)), float(match.group(2))


@pytest.mark.parametrize("model, reference", [("mobcal-2012", 198.4), ("random-axis", 206.4)])
def test_c60_in_nitrogen_in_both_orientation_models(capsys, model, reference):
    """Neutral C60 in N2, 298 K: each N2 model within 2 % of MOBCAL-2012 run in that model."""
    code, out, _ = run(capsys, DATA / "c60.xyz", "--n2-model", model, "--error", "0.008")
    assert code == 0 and f"N2, {model}, 298 K" in out
    ccs, error = value(out)
    assert error < 0.01 * ccs
    assert ccs == pytest.approx(reference, rel=0.02)


def test_default_nitrogen_model_is_the_one_its_parameters_were_fitted_in(capsys):
    """The Campuzano N2 parameters belong to MOBCAL-2012's model, so it is the default."""
    code, out, _ = run(capsys, DATA / "c60.xyz", "--n2-model", "mobcal-2012", "--error", "0.02")
    default_code, default_out, _ = run(capsys, DATA / "c60.xyz", "--error", "0.02")
    assert code == default_code == 0 and "mobcal-2012" in default_out
    assert value(out) == value(default_out)


@pytest.mark.slow
def test_c60_cation_in_nitrogen_matches_mobcal(capsys):
    code, out, _ = run(capsys, DATA / "c60.xyz", "--charge", "1", "--error", "0.008")
    assert code == 0 and "net charge +1.00 e" in out
    assert value(out)[0] == pytest.approx(212.1, rel=0.02)


@pytest.mark.parametrize("gas, params, reference", [
    ("N2", [], 115.92),
    # MOBCAL-2012's He parameters differ from the original MOBCAL set shipped for He
    ("He", ["--params", DATA / "mobcal2012_he.toml"], 55.40)])
def test_choline_file_with_its_charges_matches_mobcal_2012_sample_output(capsys, gas, params,
                                                                          reference):
    code, out, _ = run(capsys, DATA / "choline_mobcal2012.xyz", "--gas", gas, *params,
                       "--temperature", "301", "--error", "0.006")
    assert code == 0 and "per-atom charges of the file" in out and "+1.00 e" in out
    assert value(out)[0] == pytest.approx(reference, rel=0.02)


@pytest.mark.slow
def test_ubiquitin_in_helium_agrees_with_massccs(capsys):
    code, out, _ = run(capsys, DATA / "ubiquitin_4plus_massccs.xyz", "--gas", "He",
                       "--error", "0.01")
    assert code == 0 and "+4.00 e" in out
    ccs, error = value(out)
    assert abs(ccs - 1061.7) < 3 * math.hypot(error, 22.0)


def test_a_gas_defined_in_a_params_file_is_selectable(capsys, tmp_path):
    """A new hard-sphere gas: one atom's PA and EHSS are pi (r_atom + r_gas)^2 exactly."""
    (tmp_path / "atom.xyz").write_text("1\n\nC 0.3 -1.0 2.0\n")
    (tmp_path / "xe.toml").write_text(
        '[gas.Xe]\nmass_amu = 131.29\npolarizability_A3 = 4.04\nhs_radius_A = 2.0\n'
        '[element.C]\nhs_radius_A = 1.5\n')
    for method in ("pa", "ehss"):
        code, out, err = run(capsys, tmp_path / "atom.xyz", "--params", tmp_path / "xe.toml",
                             "--gas", "Xe", "--method", method, "--error", "0.002")
        assert code == 0, err
        assert f"({method}, Xe," in out
        assert value(out)[0] == pytest.approx(math.pi * 3.5 ** 2, rel=0.006)


@pytest.mark.parametrize("text, key", [
    ("[gas.N2]\nmass_amu = -28.0\n", "gas.N2.mass_amu"),
    ("[element.C]\nhs_radius_A = -1.0\n", "element.C.hs_radius_A"),
    ("[gas.N2]\norientation_temperature_K = 0\n", "gas.N2.orientation_temperature_K"),
    ("[gas.N2]\npolarizability_A3 = -1.7\n", "gas.N2.polarizability_A3"),
    ("[element.C.N2]\nepsilon_meV = 3.0\nsigma = 3.2\n", "element.C.N2.sigma"),
    ("[gas.N2]\nmass = 28.0\n", "gas.N2.mass"),
    ("[gases.Ar]\nmass_amu = 40.0\n", "gases"),
])
def test_bad_params_files_are_refused_in_one_sentence(capsys, tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run(capsys, DATA / "c60.xyz", "--params", path, "--error", "0.05")
    assert code == 2 and out == ""
    assert str(path) in err and key in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_unknown_gas_is_refused(capsys):
    code, _, err = run(capsys, DATA / "c60.xyz", "--gas", "Ar")
    assert code == 2 and "unknown gas 'Ar'" in err


def test_every_result_prints_its_parameter_set_and_systematic_band(capsys, tmp_path):
    """A band where an element (Ag) has no published N2 values; none for published ones."""
    (tmp_path / "ags.xyz").write_text("2\ncharge=-1\nAg 0 0 0\nS 2.4 0 0\n")
    code, out, err = run(capsys, tmp_path / "ags.xyz", "--param-set", "uff-x1.20",
                         "--error", "0.02")
    assert code == 0, err
    assert "uff-x1.20 parameters" in out
    band = float(re.search(r"± ([\d.]+) \(sys\) Å²", out).group(1))
    assert band > 0
    code, out, err = run(capsys, DATA / "c60.xyz", "--error", "0.05")
    assert code == 0 and "mdkit parameters" in out and "± 0.00 (sys)" in out


def test_unknown_parameter_set_is_refused(capsys):
    code, out, err = run(capsys, DATA / "c60.xyz", "--param-set", "imos")
    assert code == 2 and out == "" and "unknown CCS parameter set 'imos'" in err
    assert err.count("\n") == 1


def test_an_ion_on_unpublished_parameters_is_told_its_band_is_not_the_whole_story(capsys):
    assert main(["ccs", str(DATA / "c60.xyz"), "--method", "pa", "--error", "0.05"]) == 0
    assert "note:" not in capsys.readouterr().out  # C: MOBCAL-2012's published values
    assert main(["ccs", "ag13", "--method", "pa", "--error", "0.05"]) == 0
    note = [line for line in capsys.readouterr().out.splitlines() if "note:" in line]
    assert len(note) == 1 and "Ag take UFF-based defaults" in note[0]
