"""End to end as a user runs it: mdkit run (analysed on finishing), snapshots, plots."""

import csv
import json

import numpy as np
import pytest

SPEC = """
[system]
build = "{build}"
vacancy = "center"
[calculator]
name = "{calculator}"
[md]
timestep_fs = {dt}
seed = 5
stride_fs = {stride}
checkpoint_ps = {half}
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = {half}
[[stages]]
name = "anneal"
thermostat = "langevin"
temperature_K = [290, 50]
duration_ps = {half}
"""


@pytest.mark.parametrize("build, calculator, dt, stride, half, n_metal", [
    ("ag55", "emt", 2.0, 10, 1.0, 54),
    pytest.param("ag28", "gfnff", 1.0, 10, 0.1, 28, marks=pytest.mark.slow),
])
def test_run_analyze_snapshots_plot(plot_image, colour_pixels, pdf_strokes, mdkit, tmp_path,
                                    build, calculator, dt, stride, half, n_metal):
    spec = tmp_path / f"{build}.toml"
    spec.write_text(SPEC.format(build=build, calculator=calculator, dt=dt, stride=stride,
                                half=half))
    result = mdkit("run", "--quiet", spec, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mdkit analyze: The vacancy" in result.stdout  # the report says what happened
    folder = tmp_path / build
    out = folder / "analysis"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["statement"].startswith("The vacancy")
    assert summary["start"] == "center"  # the run starts with the hollow centre
    n_frames = round(2 * half * 1000 / stride) + 1
    assert summary["n_frames"] == n_frames
    rows = list(csv.DictReader((out / "occupancy.csv").open()))
    assert len(rows) == n_frames
    occupancy = np.array([[int(v) for k, v in r.items() if k.startswith("site")] for r in rows])
    assert (occupancy.sum(axis=1) <= n_metal).all()  # atoms between sites count nowhere
    assert (occupancy >= 0).all() and occupancy[0].sum() == n_metal
    assert occupancy[0, 0] == 0  # the vacant centre
    events = list(csv.DictReader((out / "events.csv").open()))
    assert len(events) == len(summary["events"])
    rg = plot_image(out / "rg.png", panels=1)
    assert colour_pixels(rg, "C0").sum() > 500  # the Rg curve
    assert colour_pixels(rg, "0.92").sum() > 5000  # heat and anneal shaded
    # the occupancy map (left of its colour bar): one vacant site among the occupied, and
    # at the start it is the centre, the map's top row (classes from the inside out)
    occupancy_map = plot_image(out / "occupancy.png")
    occupancy_map = occupancy_map[:, : int(0.6 * occupancy_map.shape[1])]
    vacant = np.argwhere(colour_pixels(occupancy_map, "#d62728"))
    occupied = np.argwhere(colour_pixels(occupancy_map, "#f0f0f0", tolerance=0.02))
    assert 0 < len(vacant) < len(occupied) / 5
    start = vacant[:, 1].min()  # the map's first column, t = 0
    at_start = (start <= occupied[:, 1]) & (occupied[:, 1] < start + 3)
    assert vacant[vacant[:, 1] < start + 3, 0].max() < occupied[at_start, 0].min()
    for name, colour in (("rg.pdf", "C0"), ("thermo.pdf", "C3")):  # Rg; temperature
        assert pdf_strokes(out / name)(colour), name
    for name in ("rg.csv", "vacancy.csv"):
        assert len((out / name).read_text().splitlines()) == n_frames + 1, name

    snap = mdkit("snapshots", folder, "--every", f"{half}ps", "--extremes", "--stage-ends",
                 "--format", "xyz,imos", cwd=tmp_path)
    assert snap.returncode == 0, snap.stderr[-2000:]
    index = list(csv.DictReader((folder / "snapshots" / "index.csv").open()))
    assert any("end of stage 1" in r["reason"] for r in index)
    assert any("minimal Rg" in r["reason"] for r in index)
    assert (calculator == "gfnff") == (index[0]["charges"] == "calculator")

    plot = mdkit("plot", "rg", folder, folder, "-o", tmp_path / "both.png", cwd=tmp_path)
    assert plot.returncode == 0, plot.stderr[-2000:]
    both = plot_image(tmp_path / "both.png", panels=1)
    assert colour_pixels(both, "C0").sum() > 50 and colour_pixels(both, "C1").sum() > 500
