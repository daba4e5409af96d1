"""The ccs and energies commands as a user runs them."""

import csv

import ase.db
import numpy as np
import pytest


def test_ccs_of_a_file_and_along_two_runs(plot_image, colour_pixels, mdkit, make_spec, tmp_path):
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
    # CCS with its error bars (C0) in the upper panel, Rg (C1) in the lower one
    figure = plot_image(tmp_path / "a" / "analysis" / "ccs.png", panels=2)
    ccs_rows = np.argwhere(colour_pixels(figure, "C0"))[:, 0]
    rg_rows = np.argwhere(colour_pixels(figure, "C1"))[:, 0]
    assert len(ccs_rows) > 100 and len(rg_rows) > 100
    assert ccs_rows.max() < rg_rows.min()
    assert "vs first" in result.stdout and result.stdout.count("\n") >= 4  # comparison table


def test_energies_isomers_of_ag28_with_gfnff_are_stored(mdkit, tmp_path):
    result = mdkit("energies", "isomers", "ag28", "--db", "iso.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["Iso1", "Iso2", "Iso3", "Iso4"]
    with ase.db.connect(tmp_path / "iso.db") as db:
        rows = list(db.select(kind="relaxed"))
    assert len(rows) == 4 and {r.natoms for r in rows} == {172}
    # each printed dE is the stored total of its isomer minus the lowest stored total
    stored = np.array([r.energy for r in rows])
    for line in lines[1:5]:
        energy, relative = float(line.split()[3]), float(line.split()[4])
        assert np.abs(stored - energy).min() < 1e-4, line  # printed to 4 decimals
        assert relative == pytest.approx(energy - stored.min(), abs=2e-4), line
    written = {(r.id, r.ctime, r.mtime) for r in db.select()}
    again = mdkit("energies", "isomers", "ag28", "--db", "iso.db", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.splitlines()[1:5] == lines[1:5]
    # reused, not recomputed: no row written or touched by the second command
    assert {(r.id, r.ctime, r.mtime) for r in ase.db.connect(tmp_path / "iso.db").select()} \
        == written
