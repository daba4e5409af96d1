"""Physics checks of a student against its teacher, with engines whose answers are known.

Three real engines on bare silver clusters: asap3's EMT (the registry's
``emt``), ASE's own EMT (a separate implementation of the same model, through
the registry's ``python`` engine) and a Morse pair potential for Ag (another
model altogether).  Every number a check reports is compared with the same
quantity computed here with plain ASE (BFGS relaxations, ASE's NEB, velocity
Verlet) and numpy; an engine checked against itself must agree exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from ase import units
from ase.calculators.emt import EMT as AseEMT
from ase.calculators.morse import MorsePotential
from ase.mep import NEB
from ase.optimize import BFGS, FIRE

from mdkit import barriers, trust
from mdkit.systems import build

#: Morse parameters of Ag: Girifalco and Weizer, Phys. Rev. 114, 687 (1959):
#: D = 0.3323 eV, alpha = 1.3690 / Å, r0 = 3.115 Å (ASE's rho0 = alpha r0).
MORSE_AG = {"epsilon": 0.3323, "r0": 3.115, "rho0": 1.3690 * 3.115}
EMT = {"name": "emt"}
ASE_EMT = {"name": "python", "factory": "ase.calculators.emt:EMT"}
MORSE = {"name": "python", "factory": "ase.calculators.morse:MorsePotential", **MORSE_AG}
#: The same models as plain ASE calculators, for the numbers computed here.
PLAIN = {"emt": lambda: __import__("asap3").EMT(), "ase-emt": AseEMT,
         "morse": lambda: MorsePotential(**MORSE_AG)}
ENGINES = {"emt": EMT, "ase-emt": ASE_EMT, "morse": MORSE}
#: Tight relaxations, so that the check's LBFGS and the BFGS here find the same minimum.
FMAX = 0.001


def ase_relaxed(model: str, atoms):
    work = atoms.copy()
    work.center(vacuum=10.0)  # asap3 wants a cell
    work.calc = PLAIN[model]()
    BFGS(work, logfile=None).run(fmax=FMAX, steps=3000)
    return work


def ag54_isomers():
    """Ag55 with its centre, an inner-shell or a surface atom missing."""
    return {site: build("ag55", vacancy=site)[0] for site in ("center", "shell", "surface")}


# ------------------------------------------------------------------- isomers
def test_an_engine_against_itself_gives_zero_gaps_difference_and_computes_once(
        tmp_path, engine_calls):
    db = tmp_path / "checks.db"
    result = trust.isomer_check(EMT, EMT, structures=ag54_isomers(), fmax=FMAX, db=db)
    assert result["passes"] and result["same_order"] and result["converged"]
    assert result["largest_difference_eV"] == 0.0
    assert result["student_gaps_eV"] == result["teacher_gaps_eV"]
    engine_calls.clear()
    again = trust.isomer_check(EMT, EMT, structures=ag54_isomers(), fmax=FMAX, db=db)
    assert again == result and engine_calls == []  # every relaxation from the database


@pytest.mark.parametrize("student, passes", [("ase-emt", True), ("morse", False)])
def test_isomer_gaps_are_plain_ase_relaxations(tmp_path, student, passes):
    structures = ag54_isomers()
    result = trust.isomer_check(ENGINES[student], EMT, structures=structures, fmax=FMAX,
                                db=tmp_path / "checks.db")
    for role, model in (("teacher", "emt"), ("student", student)):
        energies = {label: ase_relaxed(model, atoms).get_potential_energy()
                    for label, atoms in structures.items()}
        lowest = min(energies.values())
        for label, energy in energies.items():
            assert result[f"{role}_gaps_eV"][label] == pytest.approx(energy - lowest, abs=1e-3)
        assert result[f"{role}_order"] == sorted(energies, key=energies.get)
    # a surface vacancy is cheapest, an inner-shell one dearest, in both models; Morse,
    # a pair potential, makes both vacancies much dearer than EMT does (1.6 eV more)
    assert result["same_order"] and result["teacher_order"] == ["surface", "center", "shell"]
    largest = max(abs(result["student_gaps_eV"][k] - result["teacher_gaps_eV"][k])
                  for k in structures)
    assert result["largest_difference_eV"] == pytest.approx(largest)
    assert result["passes"] is passes
    assert (largest <= trust.ISOMER_TOLERANCE_EV) is passes


def test_isomers_come_from_builders_that_have_them():
    structures = trust.isomer_structures("ag28")
    assert list(structures) == ["Iso1", "Iso2", "Iso3", "Iso4"]
    assert len({a.get_chemical_formula() for a in structures.values()}) == 1
    with pytest.raises(trust.CardSpecError, match="'ag13' has no isomers; builders with "
                                                  "isomers: ag28"):
        trust.isomer_structures("ag13")


# ------------------------------------------------------------------ distance
@pytest.mark.parametrize("system", ["ag13", "ag55"])
def test_centre_shell_distance_is_numpy_on_a_plain_ase_relaxation(tmp_path, system):
    atoms, sites = build(system)
    db = tmp_path / "checks.db"
    found = {student: trust.distance_check(ENGINES[student], EMT, system, fmax=FMAX, db=db)
             for student in ENGINES}
    mean = {}
    for model in ENGINES:
        relaxed = ase_relaxed(model, atoms)
        # ase.cluster.Icosahedron: the central atom first, then its 12 neighbours
        mean[model] = np.linalg.norm(relaxed.positions[1:13] - relaxed.positions[0],
                                     axis=1).mean()
    for student, result in found.items():
        assert result["shell_atoms"] == 12
        assert result["teacher_A"] == pytest.approx(mean["emt"], abs=1e-3)
        assert result["student_A"] == pytest.approx(mean[student], abs=1e-3)
        assert result["difference_A"] == pytest.approx(mean[student] - mean["emt"], abs=2e-3)
    assert found["emt"]["difference_A"] == 0.0 and found["emt"]["passes"]
    assert found["ase-emt"]["passes"]
    # Morse's Ag is bigger: its 3.115 Å pair minimum against EMT's contracted cluster
    assert found["morse"]["difference_A"] > 0.05 and not found["morse"]["passes"]


def test_the_shell_is_the_first_shell_around_the_centre_atom():
    atoms, sites = build("ag29")
    centre, shell = trust.centre_and_shell(sites)
    classes = sites.atom_classes(len(atoms))
    assert classes[centre] == "center" and len(shell) == 12
    assert set(classes[shell]) == {"shell"}
    _, sites = build("ag147")  # "shell" there is two shells: only the inner 12
    assert len(trust.centre_and_shell(sites)[1]) == 12
    _, sites = build("ag29", vacancy="shell")
    assert len(trust.centre_and_shell(sites)[1]) == 11
    with pytest.raises(trust.CardSpecError, match="needs one atom on a center site"):
        trust.centre_and_shell(build("ag28", vacancy="center")[1])


# ------------------------------------------------------------------- barrier
def ase_morse_barrier(atoms, sites, hop) -> float:
    """The hop's climbing-image NEB barrier with plain ASE and the Morse potential."""
    moving = sites.atoms[hop.moving_site]
    initial = atoms.copy()
    final = atoms.copy()
    final.positions[moving] = sites.positions[hop.vacant_site]
    for state in (initial, final):
        state.calc = PLAIN["morse"]()
        BFGS(state, logfile=None).run(fmax=0.005)
    images = [initial] + [initial.copy() for _ in range(5)] + [final]
    for image in images[1:-1]:
        image.calc = PLAIN["morse"]()
    neb = NEB(images, climb=True, method="improvedtangent",
              remove_rotation_and_translation=True)
    neb.interpolate(method="idpp")
    rng = np.random.default_rng(0)
    for image in images[1:-1]:  # off the symmetric path, as mdkit does
        positions = image.positions.copy()
        positions[moving] += rng.normal(scale=0.05, size=3)
        image.positions = positions
    assert FIRE(neb, logfile=None).run(fmax=0.01, steps=2000)
    energies = [image.get_potential_energy() for image in images]
    return max(energies) - energies[0]


def test_barrier_against_itself_and_against_a_plain_ase_band(tmp_path, engine_calls):
    atoms, sites = build("ag13", vacancy="center")
    (hop,) = barriers.find_hops(atoms, sites, "core-to-shell")
    settings = dict(vacancy="center", fmax=0.01, db=tmp_path / "checks.db",
                    folder=tmp_path / "bands")
    same = trust.barrier_check(EMT, EMT, "ag13", **settings)
    assert same["difference_eV"] == 0.0 and same["passes"] and same["converged"]
    # the hollow Ag12 fills: a small barrier, as tests/test_barrier.py finds
    assert 0 < same["teacher_eV"] < 0.3 and same["teacher_hop"] == hop.name
    morse = trust.barrier_check(MORSE, EMT, "ag13", **settings)
    expected = ase_morse_barrier(atoms, sites, hop)
    assert morse["student_eV"] == pytest.approx(expected, abs=2e-3)
    assert morse["teacher_eV"] == same["teacher_eV"]
    assert morse["difference_eV"] == pytest.approx(expected - same["teacher_eV"], abs=2e-3)
    assert abs(morse["difference_eV"]) > trust.BARRIER_TOLERANCE_EV and not morse["passes"]
    # each engine's band kept its own resume folder
    assert len(list((tmp_path / "bands").glob(f"*-{hop.name}-*/band.json"))) == 2
    engine_calls.clear()
    assert trust.barrier_check(MORSE, EMT, "ag13", **settings) == morse
    assert engine_calls == []


# ----------------------------------------------------------------------- nve
def ase_nve_drift(timestep_fs: float) -> float:
    """Velocity Verlet with plain ASE from a BFGS-relaxed Ag13: eV/atom/ps."""
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    atoms = ase_relaxed("emt", build("ag13")[0])
    thermalize_momenta(atoms, temperature_K=290, rng=np.random.default_rng(1))
    Stationary(atoms)
    ZeroRotation(atoms)
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    time_ps, energy = [], []

    def record():
        time_ps.append(dyn.nsteps * timestep_fs / 1000)
        energy.append(atoms.get_total_energy() / len(atoms))

    dyn.attach(record, interval=1)
    dyn.run(int(round(500 / timestep_fs)))
    return np.polyfit(time_ps, energy, 1)[0]


def test_nve_drift_is_tiny_at_1_fs_and_an_absurd_step_fails(tmp_path):
    atoms = build("ag13")[0]
    db = tmp_path / "checks.db"
    run = dict(duration_ps=0.5, temperature_K=290, seed=1, fmax=FMAX, db=db)
    fine = trust.nve_drift(EMT, atoms, timestep_fs=1.0, **run)
    # Ag's vibrations are slow (about 200 fs): 20 fs still drifts only about 0.1
    # meV/atom/ps, 40 fs is past what Verlet can follow
    coarse = trust.nve_drift(EMT, atoms, timestep_fs=40.0, **run)
    assert fine["steps"] == 500 and coarse["steps"] == 12
    assert abs(fine["drift_eV_per_atom_per_ps"]) < 1e-5
    assert fine["fluctuation_meV_per_atom"] < 0.01
    assert abs(coarse["drift_eV_per_atom_per_ps"]) > 1e-3
    for result, step in ((fine, 1.0), (coarse, 40.0)):
        assert result["drift_eV_per_atom_per_ps"] == pytest.approx(ase_nve_drift(step),
                                                                   rel=0.05, abs=1e-6)
    verdict = trust.compare_drift(coarse, fine)
    assert not verdict["passes"] and verdict["drift_ratio"] > 100
    assert "at most 2x the teacher's, or below 0.1 meV/atom/ps" in verdict["rule"]
    assert trust.compare_drift(fine, coarse)["passes"]  # better than the teacher is fine
    # the same engine and settings: the same run, taken from the database the second time
    same = trust.nve_check(EMT, EMT, "ag13", timestep_fs=1.0, **run)
    assert same["passes"] and same["drift_ratio"] == 1.0
    assert same["student"]["from_database"] and same["hydrogen_mass_amu"] is None
    other = trust.nve_check(ASE_EMT, EMT, "ag13", timestep_fs=1.0, **run)
    assert other["passes"] and not other["student"]["from_database"]
    assert other["student"]["drift_eV_per_atom_per_ps"] == pytest.approx(
        fine["drift_eV_per_atom_per_ps"], rel=0.05)


# --------------------------------------------------------- checks and card
@pytest.fixture(scope="module")
def morse_card(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card")
    spec = trust.card_settings({"distance": "ag13",
                                "barrier": {"system": "ag13", "vacancy": "center",
                                            "fmax": 0.01},
                                "nve": {"system": "ag13", "timestep_fs": 1.0}}, {"Ag"})
    physics = trust.physics_checks(spec, MORSE, EMT, folder / "checks.db", False,
                                   folder=folder / "bands")
    return folder, spec, physics


def test_physics_checks_run_what_the_card_names_and_a_rerun_computes_nothing(
        morse_card, engine_calls):
    folder, spec, physics = morse_card
    assert list(physics) == ["distance", "barrier", "nve"]
    assert spec["nve"]["duration_ps"] == 0.5 and spec["nve"]["hydrogen_mass_amu"] == 4.0
    assert spec["barrier"]["hop"] == "core-to-shell"
    assert not physics["distance"]["passes"] and not physics["barrier"]["passes"]
    for result in physics.values():
        assert isinstance(result["passes"], bool) and result["rule"]
    engine_calls.clear()
    again = trust.physics_checks(spec, MORSE, EMT, folder / "checks.db", False,
                                 folder=folder / "bands")
    assert engine_calls == []
    assert again["nve"]["student"].pop("from_database")
    assert not physics["nve"]["student"]["from_database"]
    again["nve"]["student"]["from_database"] = False
    again["nve"]["teacher"]["from_database"] = False
    assert again == physics


def test_card_markdown_shows_errors_speed_time_and_each_check(morse_card):
    _, _, physics = morse_card
    card = {"teacher": {"name": "emt"},
            "held_out": {"float64": {"frames": 75, "force_mae_eV_per_A": 0.0123,
                                     "force_rmse_eV_per_A": 0.0171,
                                     "energy_mae_meV_per_atom": 0.456,
                                     "per_element": {"Ag": {"force_mae_eV_per_A": 0.0123}}}},
            "speed": {"speedup": 18.46, "student_ms": 12.0, "teacher_ms": 221.5, "atoms": 172},
            "training_s": 3725.2, "physics": physics}
    text = trust.card_markdown(card)
    lines = text.splitlines()
    assert lines[0] == "| student vs emt | |" and lines[1] == "|---|---|"
    # two cells a row: no stray pipe inside a cell
    assert all(line.startswith("| ") and line.endswith(" |") and line.count("|") == 3
               for line in lines[2:])
    assert "| force MAE / RMSE (eV/Å) | 0.012 / 0.017 |" in lines
    assert "| force MAE per element (eV/Å) | Ag 0.012 |" in lines
    assert "| energy MAE (meV/atom) | 0.456 |" in lines
    assert "| speed against emt | 18.5x (12 vs 222 ms per call, 172 atoms) |" in lines
    assert "| training time | 1:02:05 |" in lines
    distance = physics["distance"]
    assert (f"| centre-shell distance ag13 (within 0.02 Å) | FAIL: "
            f"{distance['student_A']:.3f} vs {distance['teacher_A']:.3f} Å |") in lines
    assert any(line.startswith("| barrier ag13 core-to-shell (within 0.03 eV) | FAIL: ")
               for line in lines)
    nve = [line for line in lines if line.startswith("| NVE drift ag13, 1 fs")]
    assert len(nve) == 1 and "| pass: " in nve[0] and "meV/atom/ps" in nve[0]
    assert len(lines) == 2 + 6 + 3


# -------------------------------------------------------------- spec [card]
SPEC = """
[teacher]
name = "emt"

[[systems]]
build = "ag13"

[sampling]
temperatures_K = [300, 600]
test_temperatures_K = [450]
seeds = [1, 2, 3]
duration_ps = 0.3
timestep_fs = 5.0
label_every_fs = 20
rattled = 10

[student]
hidden_irreps = "8x0e"
max_L = 1
correlation = 2
num_interactions = 2
r_max = 4.5
max_num_epochs = 6
batch_size = 5
"""


@pytest.mark.parametrize("card, message", [
    ('[card]\nbogus = "ag13"', "[card] has no check 'bogus'; valid: isomers, barrier, "
                               "distance, nve."),
    ('[card]\nnve = { system = "ag13", timestep = 2 }', "[card] nve has no key 'timestep'; "
                                                        "valid: system, vacancy, duration_ps"),
    ('[card]\nnve = { system = "ag13", duration_ps = -1 }', "[card] nve duration_ps = -1 must "
                                                            "be a number > 0."),
    ('[card]\nbarrier = { system = "ag13", vacancy = "center", n_images = 2.5 }',
     "[card] barrier n_images = 2.5 must be a whole number > 0."),
    ("[card]\nnve = 3", "[card] nve = 3 must be a system name"),
    ('[card]\nnve = { vacancy = "center" }', "[card] nve needs system = \"NAME\""),
    ('[card]\nisomers = "ag13"', "[card] isomers: system 'ag13' has no isomers; builders with "
                                 "isomers: ag28."),
    ('[card]\nisomers = "ag28"', "[card] isomers system 'ag28' has C, H, S, which the student "
                                 "is not trained on (it knows Ag)."),
    ('[card]\ndistance = { system = "ag13", vacancy = "center" }',
     "[card] distance: the centre-shell distance needs one atom on a center site"),
    ('[card]\nbarrier = "ag13"', "[card] barrier: hop core-to-shell: no center site is vacant"),
    ('[card]\nbarrier = { system = "ag13", vacancy = "center", hop = "2-3" }',
     "[card] barrier: hop 2-3: site 2 (surface) is occupied"),
    ('[card]\ndistance = "nosuch"', "[card] distance: unknown system 'nosuch'"),
])
def test_bad_card_tables_are_one_sentence_naming_the_file(tmp_path, card, message):
    from mdkit.training import TrainSpecError, load_train_spec

    path = tmp_path / "bad.toml"
    path.write_text(SPEC + card + "\n")
    with pytest.raises(TrainSpecError) as caught:
        load_train_spec(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text, text
    assert "\n" not in text


def test_a_bad_card_table_exits_2_before_any_work(tmp_path):
    (tmp_path / "bad.toml").write_text(SPEC + '[card]\nnve = { system = "ag13", seed = -1 }\n')
    result = subprocess.run([sys.executable, "-m", "mdkit", "train", "bad.toml"], cwd=tmp_path,
                            capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["mdkit train: error: bad.toml: [card] nve seed = -1 must be a whole "
                     "number >= 0."]
    assert not (tmp_path / "bad").exists()


def test_a_card_table_does_not_make_it_another_training(tmp_path):
    from mdkit.training import TrainFolder, load_train_spec

    path = tmp_path / "ag13.toml"
    path.write_text(SPEC)
    TrainFolder(load_train_spec(path)).open()
    path.write_text(SPEC + '[card]\ndistance = "ag13"\nnve = { system = "ag13", '
                           'vacancy = 3, duration_ps = 0.2 }\n')
    spec = load_train_spec(path)
    TrainFolder(spec).open()  # the same training: no refusal, nothing moved aside
    assert spec.card["distance"] == {**trust.CHECKS["distance"], "system": "ag13"}
    assert spec.card["nve"]["vacancy"] == 3 and spec.card["nve"]["duration_ps"] == 0.2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ag13", "ag13.toml"]


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_mdkit_train_writes_the_physics_checks_into_the_card_and_reuses_them(tmp_path):
    card = ('[card]\ndistance = "ag13"\n'
            'barrier = { system = "ag13", vacancy = "center" }\n'
            'nve = { system = "ag13", duration_ps = 0.2 }\n')
    (tmp_path / "ag13.toml").write_text(SPEC + card)

    def train():
        result = subprocess.run([sys.executable, "-m", "mdkit", "train", "ag13.toml"],
                                cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    first = train()
    folder = tmp_path / "ag13"
    written = json.loads((folder / "card.json").read_text())
    physics = written["physics"]
    assert list(physics) == ["distance", "barrier", "nve"]
    assert physics["nve"]["student"]["steps"] == 100
    for result in physics.values():
        assert isinstance(result["passes"], bool)
    distance = physics["distance"]
    assert distance["passes"] == (abs(distance["difference_A"]) <= 0.02)
    # the student was checked under a name made from its content
    (model,) = (folder / "checks").glob("student-*.model")
    assert model.read_bytes() == (folder / "student.model").read_bytes()
    assert "mdkit train: physics checks: 3/3 checks" in first.stderr
    lines = first.stdout.splitlines()
    start = lines.index("| student vs emt | |")
    assert lines[start - 1].startswith("mdkit train: ag13 (model ") and lines[start + 1] == \
        "|---|---|", first.stdout
    table = lines[start:]
    assert any(line.startswith("| centre-shell distance ag13") for line in table)

    from ase.db import connect

    rows = connect(folder / "checks" / "checks.db").count()
    second = train()
    assert connect(folder / "checks" / "checks.db").count() == rows  # nothing recomputed
    again = json.loads((folder / "card.json").read_text())["physics"]
    assert again["nve"]["student"]["from_database"] and again["nve"]["teacher"]["from_database"]
    assert again["barrier"]["student_eV"] == physics["barrier"]["student_eV"]
    checks = [line for line in table if "pass" in line or "FAIL" in line]
    assert len(checks) == 3
    assert [line for line in second.stdout.splitlines() if line in checks] == checks
