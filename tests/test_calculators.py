"""Every registered engine runs real MD; missing or misconfigured ones say what to do."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes

from mdkit import calculators, store
from mdkit.calculators import EngineError, Engine, make_calculator


def nve_spread_per_atom(thermo, n_atoms):
    nve = thermo["stage"] == 1
    return np.ptp(thermo["total_eV"][nve]) / n_atoms


def test_unknown_engine():
    with pytest.raises(EngineError, match="unknown calculator 'vasp'; choose one of gfnff"):
        make_calculator("vasp", None)


def test_missing_engine_names_the_package(monkeypatch):
    monkeypatch.setitem(calculators.CALCULATORS, "fancy",
                        Engine(lambda a, c: None, "no_such_module_xyz", "fancy-ff",
                               "pip install fancy-ff"))
    with pytest.raises(EngineError, match="needs the fancy-ff package.*pip install fancy-ff"):
        make_calculator("fancy", None)


def test_bad_option_names_the_section():
    from ase.cluster import Icosahedron

    with pytest.raises(EngineError, match="'gfnff' has no option 'colour'; valid options: "
                                              "solvent"):
        make_calculator("gfnff", Icosahedron("Ag", 2), 0, colour="blue")
    with pytest.raises(EngineError, match="'emt' has no option 'cutoff'; valid options: none"):
        make_calculator("emt", Icosahedron("Ag", 2), 0, cutoff=3)


def test_emt_short_md_conserves_energy(short_run, tmp_path):
    _, folder, thermo = short_run(tmp_path, "ag55", "emt", heat=0.02, nve=0.2)
    # velocity Verlet at 1 fs: the total energy wanders by far less than 1 meV/atom
    assert nve_spread_per_atom(thermo, 55) < 1e-4


def test_gfnff_short_md_on_ag28_conserves_energy(short_run, tmp_path):
    path = tmp_path / "iso1.xyz"
    from mdkit.systems import build, write_structure

    write_structure(path, *build("ag28", vacancy="center"))
    _, folder, thermo = short_run(tmp_path, path, "gfnff", dt=0.5, heat=0.01, nve=0.1)
    # 0.5 fs resolves the C-H stretch (period ~11 fs): Verlet keeps the total energy
    # within a small fraction of the kinetic-energy fluctuation
    nve = thermo["stage"] == 1
    assert np.ptp(thermo["total_eV"][nve]) < 0.05 * np.ptp(thermo["kinetic_eV"][nve])
    assert store.read_json(folder / "meta.json")["calculator_version"].startswith("gfnff ")


@pytest.mark.slow
def test_xtb_gfn1_short_md_on_ag13(short_run, tmp_path):
    _, _, thermo = short_run(tmp_path, "ag13", "xtb", 'method = "GFN1-xTB"')
    # SCF-converged tight binding: a few 1 fs steps conserve the energy to ~meV
    assert nve_spread_per_atom(thermo, 13) < 1e-3


GPAW_OPTIONS = 'basis = "sz(dzp)"\nh = 0.3\nvacuum = 3.0'


@pytest.mark.slow
def test_gpaw_lcao_short_md_on_ag2(short_run, tmp_path):
    path = tmp_path / "ag2.xyz"
    path.write_text("2\ncharge=0\nAg 0 0 0\nAg 2.6 0 0\n")
    _, folder, thermo = short_run(tmp_path, path, "gpaw", GPAW_OPTIONS, dt=2.0,
                                  heat=0.004, nve=0.008)
    assert nve_spread_per_atom(thermo, 2) < 2e-3
    meta = store.read_json(folder / "meta.json")
    assert meta["calculator_version"].startswith("gpaw ")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs an MPI (install.sh installs it)")
def test_gpaw_runs_under_mpi_with_one_writer(short_spec, tmp_path):
    structure = tmp_path / "ag2.xyz"
    structure.write_text("2\ncharge=0\nAg 0 0 0\nAg 2.6 0 0\n")
    spec = short_spec(tmp_path / "mpi.toml", structure, "gpaw", GPAW_OPTIONS, dt=2.0,
                      heat=0.004, nve=0.004)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1",
           "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"}
    result = subprocess.run(["mpiexec", "-n", "2", sys.executable, "-m", "mdkit", "run",
                             "--quiet", str(spec)], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = tmp_path / "mpi"
    meta = store.read_json(folder / "meta.json")
    assert meta["status"] == "finished" and meta["mpi_ranks"] == 2
    thermo = store.read_thermo(folder)
    assert thermo["frame"].tolist() == list(range(5))  # each frame written once
    assert len(store.open_run(folder).trajectory) == 5


# ------------------------------------------- what differs between engines is a field
class _FixedDipole(Calculator):
    """An ASE calculator with zero energy and charges and a fixed dipole (e·Å)."""

    implemented_properties = ("energy", "forces", "dipole", "charges")
    DIPOLE = np.array([0.3, -0.1, 0.2])

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {"energy": 0.0, "forces": np.zeros((n, 3)),
                        "dipole": self.DIPOLE.copy(), "charges": np.zeros(n)}


def _fixed_dipole(atoms, charge, width=1.0, **options):
    return _FixedDipole()


def _argon(n=3):
    from ase import Atoms

    atoms = Atoms(["Ar"] * (n - 1) + ["Kr"], positions=np.eye(3)[:n] * 3.5)
    atoms.info["charge"] = 0
    return atoms


def test_emt_knows_only_its_metals_and_names_the_first_other_atom():
    from ase.calculators.emt import parameters

    # ASE's EMT table without its H, C, N, O fitting exercise
    assert set(calculators.EMT_METALS) == set(parameters) - {"H", "C", "N", "O"}
    from mdkit.systems import build

    atoms, _ = build("mo6cl14")
    with pytest.raises(EngineError, match=r"calculator 'emt' knows only Al, Cu, Ag, Au, Ni, "
                                              r"Pd, Pt; atom 0 is Mo\."):
        make_calculator("emt", atoms, -2)


def test_a_new_entry_with_elements_needs_no_other_code(monkeypatch):
    monkeypatch.setitem(calculators.CALCULATORS, "toy",
                        Engine(_fixed_dipole, "ase", "ase", "pip install ase",
                               elements=("Ar", "Kr")))
    make_calculator("toy", _argon(), 0)
    monkeypatch.setitem(calculators.CALCULATORS, "toy",
                        Engine(_fixed_dipole, "ase", "ase", "pip install ase", elements=("Ar",)))
    with pytest.raises(EngineError, match=r"'toy' knows only Ar; atom 2 is Kr\."):
        make_calculator("toy", _argon(), 0)


@pytest.mark.parametrize("density", [True, False])
def test_a_new_entry_with_a_density_dipole_needs_no_other_code(monkeypatch, density):
    from mdkit.energetics import dipole_moment, relax

    monkeypatch.setitem(calculators.CALCULATORS, "toy",
                        Engine(_fixed_dipole, "ase", "ase", "pip install ase",
                               density_dipole=density))
    atoms = _argon()
    # the density's dipole when the entry says so, else the (zero) partial charges' sum
    expected = _FixedDipole.DIPOLE if density else np.zeros(3)
    direct = dipole_moment(atoms, calculator="toy", origin="com")
    assert direct["source"] == ("density" if density else "charges")
    np.testing.assert_allclose(direct["dipole_eA"], expected)
    single_point, _ = relax(atoms, "toy", steps=0)
    np.testing.assert_allclose(dipole_moment(single_point, origin="com")["dipole_eA"], expected)


def test_a_new_entry_with_defaults_versions_and_records_needs_no_other_code(monkeypatch):
    import ase

    from mdkit import database

    def spelling(options):
        return {**options, "width": float(options["width"])}

    monkeypatch.setitem(calculators.CALCULATORS, "toy", Engine(
        _fixed_dipole, "ase", "ase", "pip install ase", defaults={"depth": 2},
        normalise=spelling, versions_of=("no-such-distribution-xyz", "ase"),
        data=("numpy", "no-such-data-xyz"), recorded_options=("width",)))
    assert database.effective_options("toy", {"width": 3}) == {"width": 3.0, "depth": 2}
    atoms = _argon()
    spelled = database.key_for("relaxed", atoms, "toy", {"width": 1, "depth": 2})
    assert database.key_for("relaxed", atoms, "toy", {})["hash"] == spelled["hash"]
    assert database.key_for("relaxed", atoms, "toy", {"depth": 3})["hash"] != spelled["hash"]
    version = f"ase {ase.__version__}, numpy {np.__version__}"
    assert calculators.engine_version("toy") == version
    assert calculators.engine_info("toy", {"width": 4}) == {
        "name": "toy", "version": version, "charge_aware": True, "width": "4"}


def _strict_engine(sigma=3.4):
    """An engine that checks its own keywords by its signature."""
    from ase.calculators.lj import LennardJones

    return LennardJones(sigma=sigma)


def _buggy_engine():
    """An engine whose constructor has a bug that happens to be a TypeError."""
    return len(5)


def test_an_engine_bug_keeps_its_traceback_and_a_bad_option_is_one_sentence():
    atoms = _argon()
    with pytest.raises(TypeError, match="has no len"):
        make_calculator("python", atoms, factory="test_calculators:_buggy_engine")
    with pytest.raises(EngineError, match="'python' has no option 'colour'"):
        make_calculator("python", atoms, factory="test_calculators:_strict_engine", colour=2)
    assert make_calculator("python", atoms, factory="test_calculators:_strict_engine",
                           sigma=3.0).parameters.sigma == 3.0
