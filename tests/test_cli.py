"""The command line as a user runs it: real subprocesses, real files."""

import shutil
import subprocess
import sys
from pathlib import Path

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
