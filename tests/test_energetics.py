"""Static energetics: relaxation, isomers, reaction and fragment-loss energies, dipoles."""

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
from ase import Atoms
from ase.optimize import LBFGS

from mdkit import calculators, database
from mdkit.energetics import (ConvergenceWarning, EnergeticsError, check_balance,
                              dipole_moment, fragment_loss, isomer_energies, isomer_table,
                              reaction_energy, relax)
from mdkit.systems import AG28_ISOMERS, build

#: 1 e·Å in Debye: 1.602176634e-29 C m / 3.33564095e-30 C m (CODATA 2018, 1 D = 1e-21/c C m).
EA_IN_DEBYE = 4.803204


def ion(symbols, positions, charge):
    atoms = Atoms(symbols, positions=positions)
    atoms.info["charge"] = charge
    return atoms


def direct_energy(atoms, name="emt", **options):
    """Energy from the registry calculator on a copy, without mdkit.energetics."""
    work = atoms.copy()
    work.calc = calculators.make_calculator(name, work, atoms.info.get("charge", 0), **options)
    return work.get_potential_energy()


# ------------------------------------------------------------------ relax
def test_relax_matches_a_plain_ase_relaxation_and_reports_convergence():
    atoms = build("mo6cl14")[0]
    relaxed, energy = relax(atoms, "gfnff", fmax=0.01)
    reference = atoms.copy()
    reference.calc = calculators.make_calculator("gfnff", reference, -2)
    LBFGS(reference, logfile=None).run(fmax=0.01)
    # GFN-FF keeps the topology of its first call: a plain run keeps the start's,
    # relax() ends on the relaxed structure's own (about 1 meV apart here)
    assert energy == pytest.approx(reference.get_potential_energy(), abs=5e-3)
    fresh = relaxed.copy()
    fresh.calc = calculators.make_calculator("gfnff", fresh, -2)
    assert energy == pytest.approx(fresh.get_potential_energy(), abs=1e-9)
    assert np.linalg.norm(fresh.get_forces(), axis=1).max() <= 0.01
    assert relaxed.info["converged"] and relaxed.info["fmax_eV_A"] <= 0.01
    assert relaxed.info["charge"] == -2 and len(relaxed) == 20
    assert relaxed.get_charges().sum() == pytest.approx(-2, abs=1e-6)
    assert atoms.calc is None  # the input is not touched


def test_relax_warns_when_the_step_limit_stops_it():
    atoms = build("mo6cl13")[0]
    with pytest.warns(ConvergenceWarning, match="stopped after 2 steps"):
        relaxed, _ = relax(atoms, "gfnff", fmax=1e-4, steps=2)
    assert not relaxed.info["converged"] and relaxed.info["n_steps"] == 2


def test_relax_needs_a_charge_and_valid_settings():
    bare = Atoms("Ag2", positions=[[0, 0, 0], [2.6, 0, 0]])
    with pytest.raises(EnergeticsError, match=r"no net charge: set atoms.info\['charge'\]"):
        relax(bare, "emt")
    bare.info["charge"] = 0
    with pytest.raises(EnergeticsError, match="unknown optimizer 'CG'"):
        relax(bare, "emt", optimizer="CG")
    with pytest.raises(EnergeticsError, match="fmax must be a positive force"):
        relax(bare, "emt", fmax=0)


def test_single_point_is_steps_zero():
    atoms = build("ag13")[0]
    atoms.info["charge"] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        same, energy = relax(atoms, "emt", steps=0)
    assert same.info["n_steps"] == 0
    assert energy == pytest.approx(direct_energy(atoms), abs=1e-9)


# ----------------------------------------------------------------- isomers
def test_isomer_energies_on_bare_silver_vacancies():
    structures = {}
    for site in ("center", "surface"):
        atoms = build("ag13", vacancy=site)[0]
        atoms.info["charge"] = 0
        structures[site] = atoms
    rows = isomer_energies(structures, "emt", fmax=0.01)
    print("\n" + isomer_table(rows))
    assert [r["label"] for r in rows] == ["center", "surface"]
    assert all(r["converged"] for r in rows)
    assert all(r["formula"] == "Ag12" and r["charge"] == 0 for r in rows)
    # the energies are the relaxed structures', recomputed independently, and each
    # relative energy is its difference to the lowest of them
    energies = [direct_energy(r["atoms"]) for r in rows]
    for r, energy in zip(rows, energies):
        assert r["energy_eV"] == pytest.approx(energy, abs=1e-6)
        assert r["relative_eV"] == pytest.approx(energy - min(energies), abs=1e-6)
    # a hollow icosahedron lies above the centred one with a surface vacancy: the
    # study's Iso1 fills its empty centre from the shell at once
    assert rows[0]["relative_eV"] > 0.1 and rows[1]["relative_eV"] == 0.0


def test_isomers_must_share_composition_and_charge():
    a = build("mo6cl14")[0]
    b = build("mo6cl13")[0]
    with pytest.raises(EnergeticsError, match="isomers must share composition and charge"):
        isomer_energies({"a": a, "b": b}, "gfnff")


def test_ag28_isomers_with_gfnff():
    structures = {iso: build("ag28", vacancy=site)[0] for site, iso in AG28_ISOMERS.items()}
    rows = isomer_energies(structures, "gfnff", fmax=0.05, steps=2000)
    print("\n[Ag28(BDT)12]2- vacancy isomers, GFN-FF, fmax 0.05 eV/Å\n" + isomer_table(rows))
    assert len(rows) == 4 and [r["label"] for r in rows] == ["Iso1", "Iso2", "Iso3", "Iso4"]
    assert all(r["converged"] and r["fmax_eV_A"] <= 0.05 for r in rows)
    # each relative energy is the difference of its relaxed structure's GFN-FF energy,
    # recomputed here, to the lowest; GFN-FF's order is not the study's (README), so the
    # order itself is not asserted
    energies = [direct_energy(r["atoms"], "gfnff") for r in rows]
    for r, energy in zip(rows, energies):
        assert r["relative_eV"] == pytest.approx(energy - min(energies), abs=1e-5)
    assert all(r["charge"] == -2 and len(r["atoms"]) == 172 for r in rows)


# --------------------------------------------------------------- reactions
def test_reaction_energy_is_products_minus_reactants():
    ag2 = ion("Ag2", [[0, 0, 0], [2.6, 0, 0]], 0)
    ag = ion("Ag", [[0, 0, 0]], 0)
    result = reaction_energy([(2, ag)], [(1, ag2)], "emt", relax=False)
    expected = direct_energy(ag2) - 2 * direct_energy(ag)
    assert result["energy_eV"] == pytest.approx(expected, abs=1e-9)
    assert result["equation"] == "2 Ag -> Ag2"
    assert [s["side"] for s in result["species"]] == ["reactant", "product"]


def test_unbalanced_reactions_name_what_does_not_balance():
    mo14, mo13 = build("mo6cl14")[0], build("mo6cl13")[0]
    cl = ion("Cl", [[0, 0, 0]], -1)
    check_balance([(1, mo14)], [(1, mo13), (1, cl)])  # balanced: no error
    with pytest.raises(EnergeticsError, match="Cl 14 on the left but 13 on the right"):
        reaction_energy([(1, mo14)], [(1, mo13)], "gfnff")
    neutral_cl = ion("Cl", [[0, 0, 0]], 0)
    with pytest.raises(EnergeticsError, match="net charge -2 e on the left but -1 e on the "
                                              "right"):
        reaction_energy([(1, mo14)], [(1, mo13), (1, neutral_cl)], "gfnff")
    with pytest.raises(EnergeticsError, match="must be a positive number"):
        reaction_energy([(-1, mo14)], [(1, mo13), (1, cl)], "gfnff")
    with pytest.raises(EnergeticsError, match=r"list of \(coefficient, ase.Atoms\) pairs"):
        reaction_energy([mo14], [(1, mo13), (1, cl)], "gfnff")


def test_chloride_loss_with_gfnff():
    mo14 = build("mo6cl14")
    result = fragment_loss(mo14, "apical", "gfnff")
    parent, remainder, fragment = result["parent"], result["remainder"], result["fragment"]
    assert (remainder.get_chemical_formula(), remainder.info["charge"]) == ("Cl13Mo6", -1)
    assert (fragment.get_chemical_formula(), fragment.info["charge"]) == ("Cl", -1)
    total = sum((1 if s["side"] == "product" else -1) * s["energy_eV"]
                for s in result["species"])
    assert result["energy_eV"] == pytest.approx(total, abs=1e-12)
    assert result["energy_eV"] == pytest.approx(
        direct_energy(remainder, "gfnff") + direct_energy(fragment, "gfnff")
        - direct_energy(parent, "gfnff"), abs=1e-6)
    assert all(s["converged"] for s in result["species"])
    # the apical Cl- is bound (published heterolytic Mo-Cl(apical) energy: 3.71 eV)
    assert result["energy_eV"] > 0.5
    second = fragment_loss(build("mo6cl13"), "apical", "gfnff")
    assert second["remainder"].get_chemical_formula() == "Cl12Mo6"
    assert second["remainder"].info["charge"] == 0
    print(f"\nGFN-FF Cl- loss: [Mo6Cl14]2- {result['energy_eV']:.3f} eV, "
          f"[Mo6Cl13]- {second['energy_eV']:.3f} eV")


def test_fragment_by_element_index_and_errors():
    atoms, sites = build("ag13", dope_spec="surface:Pd")
    atoms.info["charge"] = 0
    by_element = fragment_loss(atoms, "Pd", "emt", relax=False)
    index = atoms.get_chemical_symbols().index("Pd")
    by_index = fragment_loss(atoms, index, "emt", relax=False)
    assert by_element["energy_eV"] == pytest.approx(by_index["energy_eV"], abs=1e-12)
    assert by_element["fragment"].get_chemical_formula() == "Pd"
    assert by_element["fragment"].info["charge"] == 0  # a metal leaves as a neutral atom
    with pytest.raises(EnergeticsError, match="present exactly once.*has 12"):
        fragment_loss(atoms, "Ag", "emt")
    with pytest.raises(EnergeticsError, match="give fragment_charge"):
        fragment_loss(atoms, [0, 1], "emt")
    with pytest.raises(EnergeticsError, match="out of range"):
        fragment_loss(atoms, 13, "emt")
    mo13 = build("mo6cl13")
    vacant = int(mo13[1].vacant[0])
    with pytest.raises(EnergeticsError, match=f"site {vacant} is already vacant"):
        fragment_loss(mo13, vacant, "gfnff")


def test_mercury_loss_bookkeeping_with_gfnff():
    result = fragment_loss(build("ag28hg"), "Hg", "gfnff", steps=2000)
    assert result["remainder"].info["charge"] == -2 and len(result["remainder"]) == 172
    assert result["fragment"].get_chemical_formula() == "Hg"
    assert result["fragment"].info["charge"] == 0
    assert all(s["converged"] for s in result["species"])
    print(f"\nGFN-FF Hg loss from [Ag28Hg(BDT)12]2-: {result['energy_eV']:.3f} eV")


# ------------------------------------------------------------------ dipole
def test_point_charge_dipoles_and_the_origin_rule(rng):
    pair = ion("HeNe", [[1, 0, 0], [-1, 0, 0]], 0)
    d = dipole_moment(pair, charges=[1, -1], origin=[5, -3, 2])
    assert np.allclose(d["dipole_eA"], [2, 0, 0])  # neutral: any origin
    assert d["magnitude_D"] == pytest.approx(2 * EA_IN_DEBYE, rel=1e-5)

    single = ion("Cl", [[1, 2, 3]], -1)
    assert np.allclose(dipole_moment(single, charges=[-1], origin=[1, 2, 3])["dipole_eA"], 0)
    assert np.allclose(dipole_moment(single, charges=[-1], origin=[0, 0, 0])["dipole_eA"],
                       [-1, -2, -3])

    positions = rng.uniform(-3, 3, (7, 3))
    q = rng.normal(size=7)
    q += (-2 - q.sum()) / 7  # net charge -2
    atoms = ion("Ag3S4", positions, -2)
    p0 = dipole_moment(atoms, charges=q, origin=[0, 0, 0])["dipole_eA"]
    for origin in (rng.uniform(-5, 5, 3), [0.5, 0, 0]):
        brute = (q[:, None] * (positions - origin)).sum(axis=0)
        d = dipole_moment(atoms, charges=q, origin=origin)["dipole_eA"]
        assert np.allclose(d, brute) and np.allclose(d, p0 - (-2) * np.asarray(origin))
    metal = dipole_moment(atoms, charges=q)  # default origin: the mean of the 3 Ag
    assert np.allclose(metal["origin_A"], positions[:3].mean(axis=0))
    with pytest.raises(EnergeticsError, match="partial charges sum to"):
        dipole_moment(atoms, charges=q + 0.1)
    with pytest.raises(EnergeticsError, match="one partial charge per atom"):
        dipole_moment(atoms, charges=q[:3])


def test_mo6cl14_has_no_dipole_and_mo6cl13_points_along_its_lacuna():
    mo14, _ = relax(build("mo6cl14")[0], "gfnff", fmax=0.01)
    d14 = dipole_moment(mo14)  # GFN-FF EEQ charges from the relaxation
    assert d14["magnitude_D"] < 1e-6  # O_h
    assert d14["charge_e"] == -2
    shifted = dipole_moment(mo14, origin=d14["origin_A"] + [1.0, 0, 0])
    assert np.allclose(shifted["dipole_eA"], [2.0, 0, 0])  # -Q o for o = (1, 0, 0) Å

    atoms, sites = build("mo6cl13")
    mo13, _ = relax(atoms, "gfnff", fmax=0.01)
    d13 = dipole_moment(mo13)
    lacuna = sites.positions[sites.vacant[0]] - mo13.positions[:6].mean(axis=0)
    cosine = d13["dipole_eA"] @ lacuna / (d13["magnitude_eA"] * np.linalg.norm(lacuna))
    print(f"\n[Mo6Cl13]- GFN-FF dipole about the Mo6 centre: {d13['magnitude_D']:.2f} D "
          f"(published DFT: 6.52 D)")
    assert cosine > 0.9999  # along the lacuna axis, pointing to the lacuna
    assert d13["magnitude_D"] > 3.0
    recomputed = dipole_moment(mo13, calculator="gfnff")
    assert recomputed["magnitude_D"] == pytest.approx(d13["magnitude_D"], rel=1e-6)


def test_gpaw_density_dipole_is_moved_to_the_origin():
    """Cl- is spherical: about its nucleus the dipole vanishes, about any o it is -Q o."""
    cl = ion("Cl", [[0.3, -0.2, 0.1]], -1)
    options = {"basis": "sz(dzp)", "h": 0.25, "vacuum": 3.5}
    about_nucleus = dipole_moment(cl, calculator="gpaw", options=options,
                                  origin=[0.3, -0.2, 0.1])
    assert about_nucleus["source"] == "density"
    assert about_nucleus["magnitude_eA"] < 1e-3
    about_zero = dipole_moment(cl, calculator="gpaw", options=options, origin=[0, 0, 0])
    # p(0) = p(r) + Q r = Q r, with Q = -1: GPAW's cell-origin value, moved to the ion's frame
    assert np.allclose(about_zero["dipole_eA"], [-0.3, 0.2, -0.1], atol=1e-3)


GPAW_LOSS = """
import json, sys
import gpaw.mpi  # before ASE looks for an MPI world: ASE then uses GPAW's
from ase.parallel import world
from mdkit.energetics import dipole_moment, fragment_loss
from mdkit.systems import build
result = fragment_loss(build("mo6cl14"), "apical", "gpaw", json.loads(sys.argv[2]),
                       relax=False, db=sys.argv[1])
out = {"energy_eV": result["energy_eV"], "ranks": world.size,
       "species": {s["label"]: s["energy_eV"] for s in result["species"]},
       "dipole13_D": dipole_moment(result["remainder"])["magnitude_D"],
       "dipole14_D": dipole_moment(result["parent"])["magnitude_D"]}
if world.rank == 0:
    print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_chloride_loss_of_mo6cl14_with_gpaw(engine_calls, tmp_path):
    """[Mo6Cl14]2- -> [Mo6Cl13]- + Cl-: GPAW LCAO dzp single points on the built geometry.

    Runs on 2 MPI ranks when mpiexec is there (about 1.5 min; serial about
    3 min), storing into SQLite; a serial rerun then takes everything from the
    database.  Comparison with the published heterolytic Mo-Cl(apical) energy
    (3.71 eV) is loose on purpose: unrelaxed crystal geometry, a 4 Å vacuum,
    h = 0.25 Å and the LCAO basis all move it by tenths of an eV (with the
    minimal sz(dzp) basis the free Cl- is poorly described and the loss energy
    comes out 1.5 eV higher).
    """
    options = {"basis": "dzp", "h": 0.25, "vacuum": 4.0}
    path = tmp_path / "results.db"
    script = tmp_path / "gpaw_loss.py"
    script.write_text(GPAW_LOSS)
    command = [sys.executable, str(script), str(path), json.dumps(options)]
    if shutil.which("mpiexec"):
        command = ["mpiexec", "-n", "2", *command]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GPAW_MPI_BACKEND": "cgpaw",
           "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1  # printed by rank 0 only
    result = json.loads(lines[0][len("RESULT "):])
    print(f"\nGPAW LCAO dzp (h 0.25 Å, vacuum 4 Å, {result['ranks']} ranks), built geometry: "
          f"Cl- loss from [Mo6Cl14]2- {result['energy_eV']:.3f} eV (published 3.71 eV); "
          f"[Mo6Cl13]- dipole {result['dipole13_D']:.2f} D about Mo6 (published 6.52 D)")
    assert database.connect(path).count(kind="relaxed") == 3  # one writer, three species
    assert result["dipole14_D"] < 0.01  # O_h
    assert 5.0 < result["dipole13_D"] < 8.0
    assert 1.5 < result["energy_eV"] < 4.5  # bound, within ~2 eV of the published value

    again = fragment_loss(build("mo6cl14"), "apical", "gpaw", options, relax=False, db=path)
    assert engine_calls == []  # every species from the database: GPAW not asked once
    assert all(s["atoms"].info["from_database"] for s in again["species"])
    assert again["energy_eV"] == pytest.approx(result["energy_eV"], abs=1e-9)
