"""The ccs and energies commands as a user runs them."""

import csv

import ase.db
import numpy as np


def test_ccs_of_a_file_and_along_two_runs(mdkit, make_spec, tmp_path):
    build = mdkit("build", "ag13", "-o", "ag13.xyz", cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    one = mdkit("ccs", "ag13.xyz", "--method", "pa", "--gas", "He", cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-2000:]
    assert "CCS(pa, He, 298 K) =" in one.stdout and "Å²" in one.stdout

    for name, seed in (("a", 1), ("b", 2)):
        spec = make_spec(tmp_path, name=name, seed=seed, heat=0.1, hold=0.1, anneal=0.1,
                         checkpoint=0.1)
        ran = mdkit("run", "--quiet", "--no-analyze", spec, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-2000:]
    result = mdkit("ccs", "a", "b", "--every", "0.1ps", "--method", "ehss", "--gas", "He",
                   "--error", "0.02", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "4/4 snapshots" in result.stderr  # progress is shown
    rows = list(csv.DictReader((tmp_path / "a" / "analysis" / "ccs.csv").open()))
    assert np.allclose([float(r["time_ps"]) for r in rows], [0.0, 0.1, 0.2, 0.3])
    for row in rows:
        assert float(row["error_A2"]) < 0.02 * 1.05 * float(row["ccs_A2"])
    assert (tmp_path / "a" / "analysis" / "ccs.png").stat().st_size > 5000
    assert "vs first" in result.stdout and result.stdout.count("\n") >= 4  # comparison table


def test_energies_isomers_of_ag28_with_gfnff_are_stored(mdkit, tmp_path):
    result = mdkit("energies", "isomers", "ag28", "--db", "iso.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["Iso1", "Iso2", "Iso3", "Iso4"]
    relative = [float(line.split()[4]) for line in lines[1:5]]
    assert min(relative) == 0.0 and all(r >= 0 for r in relative)
    with ase.db.connect(tmp_path / "iso.db") as db:
        rows = list(db.select(kind="relaxed"))
    assert len(rows) == 4 and {r.natoms for r in rows} == {172}
    again = mdkit("energies", "isomers", "ag28", "--db", "iso.db", cwd=tmp_path)
    assert again.stdout.splitlines()[1:5] == lines[1:5]  # reused, not recomputed
