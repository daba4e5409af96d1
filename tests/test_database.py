"""The results database: keys, SQLite and PostgreSQL round trips, reuse without recomputation."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from mdkit import calculators, database
from mdkit.database import DatabaseError
from mdkit.energetics import relax
from mdkit.systems import build


def mo6cl14():
    return build("mo6cl14")[0]


# ---------------------------------------------------------------- keys
def test_key_is_stable_and_changes_with_what_changes_the_result():
    atoms = mo6cl14()
    key = database.key_for("relaxed", atoms, "gfnff", {}, fmax_target_eV_A=0.05)
    same = atoms.copy()
    same.positions += 1e-9  # floating-point noise, far below the 1e-4 Å rounding
    same.info = {"charge": -2, "name": "something else", "label": "not hashed"}
    assert database.key_for("relaxed", same, "gfnff", {}, fmax_target_eV_A=0.05) == key
    moved = atoms.copy()
    moved.positions[3, 0] += 1e-3
    variants = [
        database.key_for("relaxed", moved, "gfnff", {}, fmax_target_eV_A=0.05),
        database.key_for("relaxed", atoms, "gfnff", {}, charge=-1, fmax_target_eV_A=0.05),
        database.key_for("relaxed", atoms, "gfnff", {}, fmax_target_eV_A=0.01),
        database.key_for("relaxed", atoms, "xtb", {}, fmax_target_eV_A=0.05),
        database.key_for("relaxed", atoms, "xtb", {"method": "GFN2-xTB"},
                         fmax_target_eV_A=0.05),
        database.key_for("ccs", atoms, "gfnff", {}, fmax_target_eV_A=0.05),
    ]
    hashes = {key["hash"]} | {v["hash"] for v in variants}
    assert len(hashes) == len(variants) + 1
    assert key["hash"].startswith("sha256:") and key["ion_charge"] == -2
    assert key["calc_version"].startswith("gfnff ")


def test_key_uses_effective_options_and_the_engine_version(monkeypatch):
    atoms = mo6cl14()
    plain = database.key_for("relaxed", atoms, "gpaw", {})
    spelled = database.key_for("relaxed", atoms, "gpaw",
                               {"mode": "lcao", "basis": "dzp", "xc": "PBE", "h": 0.2,
                                "vacuum": 5.0, "txt": "gpaw.txt"})
    assert plain["hash"] == spelled["hash"]
    assert plain["opt_basis"] == "dzp" and plain["opt_h"] == 0.2
    assert database.key_for("relaxed", atoms, "gpaw", {"h": 0.25})["hash"] != plain["hash"]
    # default xtb method spelled out = omitted
    assert (database.key_for("relaxed", atoms, "xtb", {})["hash"]
            == database.key_for("relaxed", atoms, "xtb", {"method": "GFN1-xTB"})["hash"])
    monkeypatch.setattr(calculators, "engine_version", lambda name: f"{name} 999")
    assert database.key_for("relaxed", atoms, "gfnff", {})["hash"] != database.key_for(
        "relaxed", atoms, "gfnff", {}, version="pinned")["hash"]
    bumped = database.key_for("relaxed", atoms, "gpaw", {})
    assert bumped["hash"] != plain["hash"] and bumped["calc_version"].startswith("gpaw 999")


def test_key_rejects_unknown_kind_and_reserved_names():
    atoms = mo6cl14()
    with pytest.raises(DatabaseError, match="unknown record kind 'relax'"):
        database.key_for("relax", atoms, "gfnff")
    with pytest.raises(DatabaseError, match="'energy' cannot be a database key"):
        database.key_for("relaxed", atoms, "gfnff", energy=1.0)


# --------------------------------------------------------- SQLite round trip
def round_trip(target, tmp_path=None):
    """Store a computed structure with results under a key, read it back, compare."""
    atoms = mo6cl14()
    computed = atoms.copy()
    computed.calc = calculators.make_calculator("gfnff", computed, -2)
    energy = computed.get_potential_energy()
    forces = computed.get_forces()
    charges = computed.get_charges()
    key = database.key_for("relaxed", atoms, "gfnff", {}, optimizer="LBFGS",
                           fmax_target_eV_A=0.05, max_steps=0)
    db = database.connect(target)
    assert database.lookup(db, key) is None
    row_id = database.store(db, computed, key, data={"energies_eV": np.array([energy])},
                            n_steps=0, converged=False, label="built")
    again = database.connect(target)  # a fresh connection sees it
    row = database.lookup(again, key)
    assert row is not None and row.id == row_id
    assert database.lookup(again, key["hash"]).id == row_id
    assert row.kind == "relaxed" and row.calc == "gfnff" and row.ion_charge == -2
    assert row.label == "built" and row.name == "[Mo6Cl14]2-" and row.converged is False
    assert row.calculator == "gfnff"
    assert row.energy == pytest.approx(energy, abs=1e-9)
    assert np.allclose(row.positions, atoms.positions, atol=1e-12)
    assert np.allclose(row.forces, forces, atol=1e-9)
    assert np.allclose(row.charges, charges, atol=1e-9)
    assert row.fmax == pytest.approx(np.linalg.norm(forces, axis=1).max(), abs=1e-9)
    assert np.allclose(row.data["energies_eV"], [energy])
    back = database.row_to_atoms(row)
    assert back.info["charge"] == -2 and back.info["label"] == "built"
    assert back.get_potential_energy() == pytest.approx(energy, abs=1e-9)
    # selectable by the searchable keys, as `ase db` does
    assert again.count(kind="relaxed", ion_charge=-2, calc="gfnff") == 1
    assert again.count(kind="relaxed", ion_charge=-1) == 0
    return again


def test_sqlite_round_trip_and_ase_db_lists_it(tmp_path):
    path = tmp_path / "results.db"
    round_trip(path)
    listing = subprocess.run([sys.executable, "-m", "ase", "db", str(path), "kind=relaxed",
                              "-c", "formula,ion_charge,calc,label"],
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "Mo6Cl14" in listing.stdout and "built" in listing.stdout
    assert "Rows: 1" in listing.stdout


def test_connect_defaults_to_mdkit_db_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = database.connect()
    db.write(mo6cl14(), kind="relaxed")
    assert (tmp_path / "mdkit.db").is_file()


def test_connect_errors_are_one_sentence(tmp_path):
    with pytest.raises(DatabaseError, match="needs the extension .db"):
        database.connect(tmp_path / "results.sqlite")
    with pytest.raises(DatabaseError, match="does not exist"):
        database.connect(tmp_path / "missing" / "results.db")
    with pytest.raises(DatabaseError, match="cannot use the PostgreSQL results database"):
        database.connect(f"postgresql://nobody:secret@/nodb?host={tmp_path}&port=1")
    try:
        database.connect(f"postgresql://nobody:secret@/nodb?host={tmp_path}&port=1")
    except DatabaseError as err:
        assert "secret" not in str(err)


def test_ccs_and_run_records_are_searchable(tmp_path):
    db = database.connect(tmp_path / "results.db")
    atoms = build("mo6cl13")[0]
    ccs = database.key_for("ccs", atoms, "imos", {"gas": "He", "method": "trajectory"},
                           version="IMoS 1.13", temperature_K=298.15)
    assert ccs["opt_gas"] == "He" and ccs["calc_version"] == "IMoS 1.13"
    database.store(db, atoms, ccs, data={"ccs_per_orientation_A2": np.full(10, 250.0)},
                   ccs_A2=251.3)
    run = database.key_for("run", atoms, "gfnff", {}, spec_sha256="ab" * 8)
    database.store(db, atoms, run, data={"stages": ["heat", "hold"]}, run_folder="runs/x",
                   status="finished", n_frames=500, time_ps=50.0)
    (row,) = db.select("kind=ccs,opt_gas=He,temperature_K>290,ccs_A2>250")
    assert row.ccs_A2 == 251.3 and row.data["ccs_per_orientation_A2"].shape == (10,)
    (row,) = db.select(kind="run", status="finished")
    assert row.n_frames == 500 and row.run_folder == "runs/x" and row.ion_charge == -1
    assert database.lookup(db, run).id == row.id
    assert database.lookup(db, ccs).kind == "ccs"


# ------------------------------------------------------------------- reuse
def test_relax_reuses_the_database_without_calling_the_engine(tmp_path, engine_calls):
    path = tmp_path / "results.db"
    first, e_first = relax(mo6cl14(), "gfnff", fmax=0.05, db=path)
    n_first = len(engine_calls)
    assert n_first > 2 and first.info["from_database"] is False
    assert first.info["n_steps"] > 0 and first.info["converged"]

    second, e_second = relax(mo6cl14(), "gfnff", fmax=0.05, db=database.connect(path))
    assert len(engine_calls) == n_first  # no engine call at all
    assert second.info["from_database"] is True
    assert e_second == e_first
    assert np.array_equal(second.positions, first.positions)
    assert second.info["n_steps"] == first.info["n_steps"]
    assert np.allclose(second.get_charges(), first.get_charges())

    relax(mo6cl14(), "gfnff", fmax=0.02, db=path)  # a different request is computed
    assert len(engine_calls) > n_first
    assert database.connect(path).count(kind="relaxed") == 2


def test_reuse_with_a_real_engine_is_fast(tmp_path):
    """Timing with GFN-FF on [Mo6Cl13]-: the stored result comes back far faster."""
    atoms = build("mo6cl13")[0]
    path = tmp_path / "results.db"
    start = time.perf_counter()
    _, e1 = relax(atoms, "gfnff", fmax=0.005, steps=2000, db=path)
    computed = time.perf_counter() - start
    start = time.perf_counter()
    _, e2 = relax(atoms, "gfnff", fmax=0.005, steps=2000, db=path)
    reused = time.perf_counter() - start
    print(f"\nGFN-FF relaxation of [Mo6Cl13]-: {computed:.3f} s computed, {reused:.3f} s "
          f"from the database")
    assert e1 == e2
    assert reused < computed


# -------------------------------------------------------------- PostgreSQL
def postgres_bin() -> Path | None:
    """Folder with initdb and pg_ctl: the newest Debian /usr/lib/postgresql/<ver>/bin, else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit()
                        else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found and (Path(found).parent / "pg_ctl").exists():
        return Path(found).parent
    return None


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on a unix socket in a temporary folder.

    initdb and pg_ctl refuse to run as root, so as root they run as the
    ``postgres`` user (runuser).  Skipped only when not root and no server
    binaries exist (a developer machine without PostgreSQL); as root (CI,
    where install.sh installs the Debian package ``postgresql``) a missing
    or failing server fails the test.
    """
    bin_dir = postgres_bin()
    is_root = os.geteuid() == 0
    if bin_dir is None:
        if not is_root:
            pytest.skip("no PostgreSQL server binaries (initdb) and not root to install them")
        pytest.fail("PostgreSQL server binaries not found (no initdb on PATH or in "
                    "/usr/lib/postgresql/*/bin): apt-get install -y postgresql")
    prefix = []
    folder = Path(tempfile.mkdtemp(prefix="mdkit-pg-"))
    if is_root:
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("running as root but runuser is missing: cannot start PostgreSQL "
                        "as an unprivileged user")
        try:
            shutil.chown(folder, user="postgres")
        except (LookupError, PermissionError) as err:
            pytest.fail(f"cannot hand {folder} to the 'postgres' user ({err}); the Debian "
                        f"package postgresql creates that user")
        prefix = [runuser, "-u", "postgres", "--"]
    data, log, port = folder / "data", folder / "server.log", 5432

    def run(*command, check=True):
        result = subprocess.run([*prefix, *map(str, command)], capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode != 0:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"PostgreSQL command {command[0]} failed ({result.returncode}):\n"
                        f"{result.stdout}\n{result.stderr}\n{server_log}")
        return result

    try:
        run(bin_dir / "initdb", "-D", data, "-U", "mdkit", "--auth=trust", "--no-locale",
            "-E", "UTF8", "--no-sync")
        run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
            f"-p {port} -k {folder} -c listen_addresses='' -c fsync=off", "start")
        yield f"postgresql://mdkit@/postgres?host={folder}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(folder, ignore_errors=True)


def test_postgresql_round_trip(postgres_url):
    db = round_trip(postgres_url)
    assert db.type == "postgresql"


def test_postgresql_reuse_without_calling_the_engine(postgres_url, engine_calls):
    atoms = build("mo6cl13")[0]
    first, e1 = relax(atoms, "gfnff", fmax=0.05, db=postgres_url)
    n_first = len(engine_calls)
    assert n_first > 0
    second, e2 = relax(atoms, "gfnff", fmax=0.05, db=postgres_url)
    assert len(engine_calls) == n_first and second.info["from_database"]
    assert e2 == pytest.approx(e1, abs=1e-9)
    assert np.allclose(second.positions, first.positions, atol=1e-12)
    rows = list(database.connect(postgres_url).select(kind="relaxed", formula="Mo6Cl13"))
    assert len(rows) == 1 and rows[0].ion_charge == -1
