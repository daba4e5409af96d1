"""The machine-learned engines (SevenNet-0, CHGNet, MACE) and the python factory, for real.

Forces are checked against central finite differences of the engine's own
energy: an engine whose forces are not the gradient of its energy cannot
conserve energy in MD, whatever its accuracy.
"""

import os

import numpy as np
import pytest
from ase.cluster import Icosahedron

from mdkit import store
from mdkit.calculators import EngineError, engine_info, make_calculator
from mdkit.masses import MassError, repartition_hydrogen_mass


def _rattled_ag13(seed=5):
    atoms = Icosahedron("Ag", 2)
    atoms.rattle(0.05, seed=seed)
    return atoms


def _finite_difference_error(atoms, components, h=0.005):
    """Largest |F_analytic - F_numerical| over ``components`` (atom, axis), in eV/Å."""
    forces = atoms.get_forces()
    worst = 0.0
    for atom, axis in components:
        energies = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.calc = atoms.calc
            moved.positions[atom, axis] += sign * h
            energies.append(moved.get_potential_energy())
        numerical = -(energies[0] - energies[1]) / (2 * h)
        worst = max(worst, abs(numerical - forces[atom, axis]))
    return worst, np.abs(forces).max()


COMPONENTS = [(0, 0), (3, 1), (7, 2), (12, 0)]


@pytest.mark.parametrize("name", ["sevennet", "chgnet"])
def test_forces_are_the_gradient_of_the_energy(name):
    atoms = _rattled_ag13()
    atoms.calc = make_calculator(name, atoms, 0)
    error, largest = _finite_difference_error(atoms, COMPONENTS)
    # float32 models: energies of ~-30 eV carry ~1e-5 eV of rounding, which a
    # 0.01 Å difference turns into ~1e-3 eV/Å; the forces themselves are ~0.3 eV/Å
    assert largest > 0.05
    assert error < 0.01


def test_device_auto_is_the_cpu_here_with_the_threads_asked_for(monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    atoms = _rattled_ag13()
    calc = make_calculator("sevennet", atoms, 0)
    assert not torch.cuda.is_available()  # no GPU on this machine or CI
    assert {p.device.type for p in calc.model.parameters()} == {"cpu"}
    info = engine_info("sevennet", {})
    assert info["device"] == "cpu" and info["threads"] == 1 and info["model"] == "7net-0"
    assert info["charge_aware"] is False
    with pytest.raises(EngineError, match="torch sees no GPU"):
        make_calculator("sevennet", atoms, 0, device="cuda")
    with pytest.raises(EngineError, match="device 'tpu' is not one of auto, cpu"):
        make_calculator("sevennet", atoms, 0, device="tpu")


def test_sevennet_models_shipped_or_files():
    atoms = _rattled_ag13()
    with pytest.raises(EngineError, match="neither a checkpoint shipped with sevenn"):
        make_calculator("sevennet", atoms, 0, model="7net-omat")
    # the multi-fidelity model needs its modal, and says which exist
    with pytest.raises(EngineError, match="modal"):
        make_calculator("sevennet", atoms, 0, model="7net-mf-0")
    calc = make_calculator("sevennet", atoms, 0, model="7net-mf-0", modal="PBE")
    atoms.calc = calc
    assert np.isfinite(atoms.get_potential_energy())


def test_sevennet_run_records_engine_and_charge(short_run, tmp_path, capfd):
    spec, folder, thermo = short_run(tmp_path, "ag13", "sevennet", heat=0.002, nve=0.004)
    meta = store.read_json(folder / "meta.json")
    assert meta["charge_aware"] is False
    assert meta["engine"]["model"] == "7net-0" and meta["engine"]["device"] == "cpu"
    assert meta["calculator_version"].startswith("sevenn ")
    assert len(store.open_run(folder).trajectory) == spec.total_steps + 1


def _tiny_mace_model(path):
    """A real MACE network (one interaction, 8 channels) with random weights, saved whole."""
    import torch
    from e3nn import o3
    from mace import modules

    torch.manual_seed(0)
    z = [1, 6, 16, 47]
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.MACE(
        r_max=4.5, num_bessel=4, num_polynomial_cutoff=5, max_ell=1,
        interaction_cls=block, interaction_cls_first=block, num_interactions=1,
        num_elements=len(z), hidden_irreps=o3.Irreps("8x0e"), MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.zeros(len(z)), avg_num_neighbors=8.0, atomic_numbers=z,
        correlation=2, gate=torch.nn.functional.silu).to(torch.float64)
    torch.save(model, path)
    return path


def test_mace_from_a_model_file(short_run, tmp_path):
    model = _tiny_mace_model(tmp_path / "tiny.model")
    atoms = _rattled_ag13()
    atoms.calc = make_calculator("mace", atoms, 0, model=str(model))
    error, largest = _finite_difference_error(atoms, COMPONENTS, h=1e-4)
    assert largest > 1e-4
    assert error < 1e-5 * max(1.0, largest)  # float64 throughout
    _, folder, thermo = short_run(tmp_path, "ag13", "mace", f'model = "{model}"',
                                  heat=0.002, nve=0.004)
    assert store.read_json(folder / "meta.json")["engine"]["model"] == str(model)
    with pytest.raises(EngineError, match="needs model = "):
        make_calculator("mace", atoms, 0, model=str(tmp_path / "missing.model"))
    # no model named: the shipped specialist, which knows no atom outside its family
    with pytest.raises(EngineError, match="trained on Ag, C, H, Hg, S only"):
        make_calculator("mace", _with_gold(atoms), 0)


def _with_gold(atoms):
    gold = atoms.copy()
    gold[0].symbol = "Au"
    return gold


def test_python_factory_engine(short_run, tmp_path):
    from ase import Atoms

    # a Lennard-Jones dimer at 2^(1/6) sigma sits at its minimum, -epsilon (ASE shifts
    # the energy to zero at rc, negligible at 1000 A)
    sigma, epsilon = 2.5, 0.3
    dimer = Atoms("Ar2", positions=[[0, 0, 0], [2 ** (1 / 6) * sigma, 0, 0]])
    dimer.calc = make_calculator("python", dimer, 0, factory="ase.calculators.lj:LennardJones",
                                 sigma=sigma, epsilon=epsilon, rc=1000.0)
    assert dimer.get_potential_energy() == pytest.approx(-epsilon, abs=1e-12)
    assert np.abs(dimer.get_forces()).max() < 1e-10
    _, folder, _ = short_run(tmp_path, "ag13", "python",
                             'factory = "ase.calculators.emt:EMT"')
    assert store.read_json(folder / "meta.json")["engine"]["factory"] == \
        "ase.calculators.emt:EMT"
    for factory, said in (("ase.calculators.emt", "needs factory"),
                          ("no_such_pkg.mod:f", "cannot import no_such_pkg.mod"),
                          ("ase.calculators.emt:Nope", "has no 'Nope'"),
                          ("numpy:zeros", "not an ASE calculator")):
        with pytest.raises(EngineError, match=said):
            make_calculator("python", dimer, 0, factory=factory,
                            **({"shape": 3} if factory == "numpy:zeros" else {}))


def test_hydrogen_mass_repartitioning_keeps_the_total():
    from mdkit.systems import build

    atoms, _ = build("ag28", vacancy="center")
    before = atoms.get_masses().copy()
    after = repartition_hydrogen_mass(atoms, 4.0)
    assert after.sum() == pytest.approx(before.sum(), rel=1e-12)
    symbols = np.array(atoms.get_chemical_symbols())
    assert np.allclose(after[symbols == "H"], 4.0)
    # each BDT ring has four C-H: those C lose what their H gained, nothing else changes
    lost = before - after
    assert np.allclose(lost[symbols == "C"].sum(), (4.0 - before[symbols == "H"]).sum())
    assert np.count_nonzero(np.abs(lost[symbols == "C"]) > 1e-9) == 48
    assert np.allclose(lost[(symbols != "C") & (symbols != "H")], 0)
    from ase import Atoms

    lone = Atoms("CH4H", positions=[[0, 0, 0], [1.09, 0, 0], [-1.09, 0, 0], [0, 1.09, 0],
                                    [0, -1.09, 0], [5, 5, 5]])
    with pytest.raises(MassError, match="hydrogen atom 5 has no bonded heavier atom"):
        repartition_hydrogen_mass(lone, 4.0)
    methane = Atoms("CH4", positions=[[0, 0, 0], [1.09, 0, 0], [-1.09, 0, 0], [0, 1.09, 0],
                                      [0, -1.09, 0]])
    with pytest.raises(MassError, match="atom 0 \\(C\\) would weigh"):
        repartition_hydrogen_mass(methane, 4.0)


@pytest.mark.slow
def test_nve_at_the_chosen_step_conserves_energy_on_ag28(short_run, tmp_path):
    """2 fs with 4-amu hydrogens (the study specs' settings) on the real Iso1 ion."""
    from mdkit.systems import build, write_structure

    path = tmp_path / "iso1.xyz"
    write_structure(path, *build("ag28", vacancy="center"))
    _, folder, thermo = short_run(tmp_path, path, "sevennet",
                                  "", dt=2.0, heat=0.02, nve=0.1, md_extra=
                                  "hydrogen_mass_amu = 4.0")
    nve = thermo["stage"] == 1
    # Velocity Verlet conserves a shadow energy: at a stable step the total energy
    # fluctuates by a small fraction of the kinetic energy's own fluctuation.
    # Measured on this ion (SevenNet-0, 80 NVE steps from a 580 K start), that
    # fraction is 0.03 at 1 fs with real masses, 0.05 at 2 fs with 4-amu H, and
    # 1.3 at 2 fs with real masses (the C-H stretches blow up, T 290 -> 500 K):
    # 0.1 stands an order of magnitude from both sides.
    assert np.ptp(thermo["total_eV"][nve]) < 0.1 * np.ptp(thermo["kinetic_eV"][nve])
    assert np.ptp(thermo["kinetic_eV"][nve]) > 0.2  # the ion is really moving
    masses = store.read_json(folder / "spec.json")["hydrogen_mass_amu"]
    assert masses == 4.0
    assert os.path.exists(folder / "trajectory.nc")
