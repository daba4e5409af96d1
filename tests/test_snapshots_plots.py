"""Snapshot export and figures, read back from the files."""

import csv

import numpy as np
import pytest
from matplotlib.image import imread

from mdkit import store
from mdkit.analysis import plots
from mdkit.analysis.snapshots import choose_frames, write_snapshots
from mdkit.md import run
from mdkit.protocol import load_spec


@pytest.fixture(scope="module")
def emt_run(make_spec, tmp_path_factory):
    folder = tmp_path_factory.mktemp("snap")
    return run(load_spec(make_spec(folder, heat=0.2, hold=0.2, anneal=0.2)), progress=False)


def test_choose_frames_reasons():
    times = np.arange(0, 1.001, 0.02)  # 51 frames, 20 fs apart
    rg = np.sin(times * 7)
    stage = np.repeat([0, 1], [26, 25])
    frames = choose_frames(times, at_ps=[0.325], every_ps=0.5, events=[{"time_ps": 0.4}],
                           window_ps=0.1, rg=rg, extremes=True, stage=stage)
    assert frames[16] == ["at 0.325 ps"]  # the nearest frame is at 0.32 ps
    assert "every 0.5 ps" in frames[0] and "every 0.5 ps" in frames[25]
    assert frames[20] == ["event 1"] and frames[15] == ["event 1 - 0.1 ps"]
    assert frames[int(np.argmax(rg))][-1] == "maximal Rg"
    assert "end of stage 0" in frames[25] and "end of stage 1" in frames[50]
    assert list(frames) == sorted(frames)


def test_snapshots_are_centred_and_complete(emt_run, tmp_path):
    universe = store.open_run(emt_run)
    sites = store.read_sites(emt_run)
    frames = {0: ["first"], 10: ["tenth"]}
    index = write_snapshots(universe, frames, tmp_path, charge=-1, formats=("xyz", "imos", "mfj"))
    rows = list(csv.DictReader(index.open()))
    assert [int(r["frame"]) for r in rows] == [0, 10]
    assert rows[1]["reason"] == "tenth" and rows[0]["charges"].startswith("equal")
    from ase.io import read

    for row in rows:
        atoms = read(tmp_path / f"{row['file']}.xyz")
        assert len(atoms) == len(universe.atoms) == 54
        assert np.allclose(atoms.get_center_of_mass(), 0, atol=1e-6)
        ts = universe.trajectory[int(row["frame"])]
        # same shape as the frame: all pair distances equal
        assert np.allclose(atoms.get_all_distances(),
                           np.linalg.norm(ts.positions[:, None] - ts.positions[None], axis=2),
                           atol=1e-4)
        imos = np.loadtxt(tmp_path / f"{row['file']}.imos.xyz", skiprows=2, usecols=(1, 2, 3, 4))
        assert np.isclose(imos[:, 3].sum(), -1.0, atol=1e-5)  # the net charge, spread evenly
        mfj = (tmp_path / f"{row['file']}.mfj").read_text().splitlines()
        assert mfj[2] == "54" and mfj[3] == "ang" and mfj[4] == "calc"
        assert np.allclose(np.loadtxt(mfj[6:])[:, 3], 108)  # Ag mass number
    assert sites.charge == 0


def test_calculator_charges_reach_the_snapshots(tmp_path):
    """GFN-FF's EEQ charges are kept per frame and written to IMoS files."""
    spec = tmp_path / "mo.toml"
    spec.write_text("""
[system]
build = "mo6cl14"
[calculator]
name = "gfnff"
[md]
timestep_fs = 1.0
stride_fs = 2
checkpoint_ps = 0.004
[[stages]]
thermostat = "langevin"
temperature_K = 290
duration_ps = 0.004
""")
    folder = run(load_spec(spec), progress=False)
    charges = store.read_charges(folder, [0, 2])
    assert charges.shape == (2, 20)
    assert np.allclose(charges.sum(axis=1), -2.0, atol=1e-3)  # EEQ conserves the net charge
    apical = store.read_sites(folder).select("apical")
    assert (charges[:, apical] < 0).all()


def _check_image(path, min_pixels=300):
    image = imread(path)
    assert image.shape[0] > min_pixels and image.shape[1] > min_pixels
    assert image[..., :3].std() > 0.01  # not a blank canvas


def test_plots_write_png_and_pdf(pdf_strokes, emt_run, tmp_path):
    thermo = store.read_thermo(emt_run)
    sites = store.read_sites(emt_run)
    times = thermo["time_ps"]
    names = list(dict.fromkeys(thermo["stage_name"]))
    rg = 5 + 0.01 * np.sin(times)
    paths = plots.plot_rg([{"label": "a", "times": times, "rg": rg, "stage": thermo["stage"],
                            "stage_names": names, "events": [{"time_ps": 0.3, "kind": "core-to-shell"}]},
                           {"label": "b", "times": times, "rg": rg + 0.01}], tmp_path / "rg",
                          formats=("png", "pdf", "svg"))
    assert [p.suffix for p in paths] == [".png", ".pdf", ".svg"]
    _check_image(paths[0])
    drawn = pdf_strokes(paths[1])
    assert drawn("C0") and drawn("C1")  # the vector copy draws both runs' curves
    svg = paths[2].read_text()
    assert "time / ps" in svg and "radius of gyration / Å" in svg  # labelled with units
    occupancy = np.ones((len(times), len(sites)), dtype=int)
    occupancy[:, sites.vacant] = 0
    _check_image(plots.plot_occupancy(times, occupancy, sites, tmp_path / "occ")[0], 200)
    paths = plots.plot_thermo(thermo, tmp_path / "thermo", formats=("png", "svg"))
    _check_image(paths[0])
    svg = paths[1].read_text()
    assert "temperature / K" in svg and "energy / eV" in svg
