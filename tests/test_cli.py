"""The command line as a user runs it: real subprocesses, real files, honest exits."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ase.db
import numpy as np
import pytest

from mdkit.systems import read_structure, write_structure


def mdkit(*args, cwd=None):
    script = Path(sys.executable).parent / "mdkit"
    command = [str(script)] if script.exists() else [shutil.which("mdkit") or "mdkit"]
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_lists_commands():
    result = mdkit("--help")
    assert result.returncode == 0
    for command in ("build", "sites", "mz"):
        assert command in result.stdout
    for command in ("build", "sites", "mz"):
        sub = mdkit(command, "--help")
        assert sub.returncode == 0 and "usage: mdkit " + command in sub.stdout


def _field(stdout, key):
    return next(line.split(None, 1)[1] for line in stdout.splitlines()
                if line.strip().startswith(key + " "))


def test_build_ag29_writes_labelled_structure(tmp_path):
    out = tmp_path / "ag29.xyz"
    result = mdkit("build", "ag29", "-o", out)
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "formula") == "C72H48Ag29S24"
    assert _field(result.stdout, "charge") == "-3"
    assert _field(result.stdout, "atoms") == "173"
    assert "center 1, shell 12, tetrahedral 4, staple 12" in result.stdout
    atoms, sites = read_structure(out)
    assert len(atoms) == 173 and atoms.info["charge"] == -3
    assert sites.class_counts() == {"center": 1, "shell": 12, "tetrahedral": 4, "staple": 12}


@pytest.mark.parametrize("vacancy, iso", [("center", "Iso1"), ("shell", "Iso2"),
                                          ("tetrahedral", "Iso3"), ("staple", "Iso4")])
def test_build_ag28_isomers(tmp_path, vacancy, iso):
    out = tmp_path / f"{iso}.xyz"
    result = mdkit("build", "ag28", "--vacancy", vacancy, "-o", out)
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "formula") == "C72H48Ag28S24"
    assert _field(result.stdout, "charge") == "-2"
    assert f"vacancy at {vacancy} site" in result.stdout and iso in result.stdout
    atoms, sites = read_structure(out)
    assert len(sites.vacant) == 1 and sites.classes[sites.vacant[0]] == vacancy
    assert sites.charge == -2


@pytest.mark.parametrize("site", ["center", "shell", "tetrahedral", "staple"])
def test_build_ag28hg_dopant_sites(tmp_path, site):
    out = tmp_path / "ag28hg.xyz"
    result = mdkit("build", "ag28hg", "--dope", f"{site}:Hg", "-o", out)
    assert result.returncode == 0, result.stderr
    assert _field(result.stdout, "formula") == "C72H48Ag28HgS24"
    assert _field(result.stdout, "charge") == "-2"
    atoms, sites = read_structure(out)
    hg = [i for i, a in enumerate(atoms) if a.symbol == "Hg"]
    assert len(hg) == 1
    assert sites.classes[sites.atom_sites(len(atoms))[hg[0]]] == site


def test_sites_on_shaken_ag29_recovers_classes(shake, tmp_path, rng):
    built = tmp_path / "ag29.xyz"
    assert mdkit("build", "ag29", "-o", built).returncode == 0
    atoms, sites = read_structure(built)
    moved = shake(atoms, rng, noise=0.1)
    plain = tmp_path / "moved.xyz"
    moved.write(plain, format="xyz")  # plain XYZ: no site labels, no charge
    result = mdkit("sites", plain, "--charge", "-3")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:30]]
    got = {int(r[1]): r[3] for r in rows}
    assert got == {int(a): c for a, c in zip(sites.atoms, sites.classes)}


def test_mz_reproduces_science_table():
    result = mdkit("mz", "Mo6Cl13", "--charge", "-1")
    assert result.returncode == 0, result.stderr
    top = next(float(line.split()[-1]) for line in result.stdout.splitlines()
               if "m/z most abundant" in line)
    assert abs(top - 1036.0) < 1.0


@pytest.mark.parametrize("args, words", [
    (("build", "ag30"), "unknown system 'ag30'; choose one of ag29"),
    (("build", "fe13"), "unknown system 'fe13'"),
    (("build", "ag28", "--vacancy", "corner"), "unknown site class 'corner'"),
    (("build", "ag29", "--dope", "shell:Qq"), "no charge bookkeeping for element 'Qq'"),
    (("build", "ag13", "--dope", "shell"), "must be SITE:ELEMENT"),
    (("sites", "nowhere.xyz"), "structure file nowhere.xyz does not exist"),
    (("mz", "Mo6Cl14"), "neutral"),
])
def test_user_errors_are_one_sentence_exit_2(args, words, tmp_path):
    result = mdkit(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_build_from_file_and_vacancy_twice(tmp_path):
    first = tmp_path / "ag54.xyz"
    assert mdkit("build", "ag55", "--vacancy", "center", "-o", first).returncode == 0
    again = mdkit("build", first, "--vacancy", "0")
    assert again.returncode == 2
    assert "site 0 (center) is already vacant; occupied sites: 12 shell, 42 surface" in again.stderr
    shell = mdkit("build", first, "--vacancy", "shell", "-o", tmp_path / "ag53.xyz")
    assert shell.returncode == 0, shell.stderr
    atoms, sites = read_structure(tmp_path / "ag53.xyz")
    assert len(atoms) == 53 and sites.class_counts(occupied_only=True)["shell"] == 11


def test_too_close_atoms_rejected(tmp_path):
    from mdkit.systems import icosahedron

    atoms, sites = icosahedron("Ag", 13)
    atoms.positions[3] = atoms.positions[2] + [0.1, 0.1, 0.1]
    bad = tmp_path / "bad.xyz"
    write_structure(bad, atoms, sites)
    result = mdkit("sites", bad)
    assert result.returncode == 2
    assert "atoms 2 (Ag) and 3 (Ag) are 0.173 Å apart" in result.stderr


def test_help_documents_the_exit_statuses():
    result = mdkit("--help")
    said = result.stdout.split("exit status:")[1]
    assert "1  a computation failed" in said and "2  bad input" in said


SPEC = """
[system]
build = "ag13"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 4
stride_fs = 10
checkpoint_ps = 0.02
max_temperature_K = {max_T}
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 300
duration_ps = 0.1
"""


def test_a_blown_up_run_exits_1_in_one_sentence_and_keeps_its_folder(tmp_path):
    # a Langevin start at 300 K passes 50 K at once: the blow-up check, not a typo
    (tmp_path / "hot.toml").write_text(SPEC.format(max_T=50))
    result = mdkit("run", "--quiet", "--no-analyze", "hot.toml", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("mdkit run: failed: the temperature reached ")
    meta = json.loads((tmp_path / "hot" / "meta.json").read_text())
    assert meta["status"] == "failed" and "above max_temperature_K = 50" in meta["reason"]
    assert (tmp_path / "hot" / "thermo.csv").read_text().count("\n") >= 2  # header + a frame


def test_a_relaxation_stopped_at_its_step_limit_exits_1_with_its_result_kept(tmp_path):
    assert mdkit("build", "ag13", "-o", tmp_path / "a.xyz").returncode == 0
    shutil.copy(tmp_path / "a.xyz", tmp_path / "b.xyz")
    result = mdkit("energies", "isomers", "a.xyz", "b.xyz", "--calculator", "emt", "--steps",
                   "1", "--fmax", "1e-6", "--db", "x.db", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "stopped after 1 steps" in result.stderr  # the library's warning, then ours
    assert result.stderr.strip().splitlines()[-1].startswith(
        "mdkit energies: failed: a relaxation or band stopped at its step limit")
    assert [line.split()[0] for line in result.stdout.splitlines()[1:3]] == ["a", "b"]
    with ase.db.connect(tmp_path / "x.db") as db:
        assert [row.converged for row in db.select(kind="relaxed")] == [False]


@pytest.mark.parametrize("text, value", [
    ("basis=dzp", "dzp"),
    ("h=0.18", 0.18),
    ("maxiter = 300", 300),
    ("occupations={name='fermi-dirac', width=0.1}", {"name": "fermi-dirac", "width": 0.1}),
    ("kpts=[1, 1, 1]", [1, 1, 1]),
    ("model=models/ag.model", "models/ag.model"),
    ("xc='PBE0, HSE'", "PBE0, HSE"),
])
def test_option_values_are_read_whole_as_toml(text, value):
    from mdkit.cli.common import engine_option

    assert engine_option(text) == (text.split("=")[0].strip(), value)


@pytest.mark.parametrize("text, words", [
    ("occupations={name='fermi-dirac', width=0.1", "not a TOML value"),
    ("basis=dzp,szp", "not a TOML value"),
    ("basis", "must be KEY=VALUE"),
    ("=dzp", "must be KEY=VALUE"),
])
def test_malformed_options_are_refused_naming_the_option(text, words):
    import argparse

    from mdkit.cli.common import engine_option

    with pytest.raises(argparse.ArgumentTypeError, match="--option") as refused:
        engine_option(text)
    assert words in str(refused.value)


def test_a_run_in_a_log_says_how_far_it_got(tmp_path):
    (tmp_path / "log.toml").write_text(SPEC.format(max_T=2000))
    result = mdkit("run", "--no-analyze", "log.toml", cwd=tmp_path)  # stderr is a pipe
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " ps (" in line]
    # a frame every 0.01 ps of a 0.1 ps run: a line each (10 %); the one at 0 starts the clock
    assert [line.split(" (")[0] for line in lines] == [
        f"mdkit run: {t:.4g}/0.1 ps" for t in np.arange(0.01, 0.101, 0.01)]
    assert "ps/h" in lines[0] and " left, T " in lines[0] and " eV, stage heat" in lines[0]
    assert " left" not in lines[-1]


def test_an_option_given_twice_is_refused():
    from mdkit.cli.common import engine_option, options
    from mdkit.errors import MdkitError

    pairs = [engine_option("basis=dzp"), engine_option("h=0.2")]
    assert options(pairs) == {"basis": "dzp", "h": 0.2}
    with pytest.raises(MdkitError, match="--option basis is given twice"):
        options(pairs + [engine_option("basis=szp")])


def test_an_scf_that_does_not_converge_exits_1_in_one_sentence(tmp_path):
    pytest.importorskip("gpaw")
    # two SCF iterations cannot converge Ag13; a coarse grid keeps the attempt short
    result = mdkit("energies", "dipole", "ag13", "--calculator", "gpaw", "--option", "h=0.3",
                   "--option", "maxiter=2", "--steps", "0", "--db", "g.db", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "mdkit energies: failed: the engine's computation did not converge "
        "(KohnShamConvergenceError)")
    assert "Traceback" not in result.stderr
