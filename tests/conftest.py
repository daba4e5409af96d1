"""Helpers shared by several test modules, offered as fixtures.

Each helper fixture returns a plain function, so a test calls it as before
(``make_spec(tmp_path, heat=0.1)``). They are session-scoped because they hold no
state; that lets module-scoped fixtures use them too.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

#: A three-stage EMT run of Ag55 with its centre vacant (heat, hold, anneal).
STAGED_SPEC = """
[system]
build = "ag55"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = {dt}
seed = {seed}
stride_fs = {stride}
checkpoint_ps = {checkpoint}
{extra}
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 290
duration_ps = {heat}
[[stages]]
name = "hold"
thermostat = "{second}"
{second_T}
duration_ps = {hold}
[[stages]]
name = "anneal"
thermostat = "langevin"
temperature_K = [290, 50]
duration_ps = {anneal}
"""

#: A two-stage run of any engine: a short Langevin start, then NVE.
SHORT_SPEC = """
[system]
build = "{system}"
[calculator]
name = "{name}"
{options}
[md]
timestep_fs = {dt}
seed = 2
stride_fs = {dt}
checkpoint_ps = {checkpoint}
{md_extra}
[[stages]]
name = "start"
thermostat = "langevin"
temperature_K = 290
duration_ps = {heat}
[[stages]]
name = "nve"
thermostat = "nve"
duration_ps = {nve}
"""


@pytest.fixture
def rng():
    return np.random.default_rng(20261123)


def _shake(atoms, rng, noise=0.1):
    out = atoms.copy()
    rotation = Rotation.random(random_state=rng).as_matrix()
    step = rng.normal(size=(len(out), 3))
    step *= noise / np.linalg.norm(step, axis=1)[:, None]
    out.positions = out.positions @ rotation.T + rng.uniform(-20, 20, 3) + step
    return out


@pytest.fixture(scope="session")
def shake():
    """``shake(atoms, rng, noise=0.1)``: a copy of ``atoms`` randomly rotated and
    translated, every atom displaced by ``noise`` Å in a random direction."""
    return _shake


def _make_spec(folder, name="run", dt=2.0, seed=3, stride=20, checkpoint=0.2, heat=0.2,
               hold=0.2, anneal=0.2, second="bussi", extra=""):
    folder.mkdir(parents=True, exist_ok=True)
    second_T = "" if second == "nve" else "temperature_K = 290"
    path = folder / f"{name}.toml"
    path.write_text(STAGED_SPEC.format(dt=dt, seed=seed, stride=stride, checkpoint=checkpoint,
                                       heat=heat, hold=hold, anneal=anneal, second=second,
                                       second_T=second_T, extra=extra))
    return path


@pytest.fixture(scope="session")
def make_spec():
    """``make_spec(folder, name="run", dt=2.0, ...)``: write ``folder/name.toml``, the
    staged EMT run of Ag55 with a vacant centre (durations in ps, ``dt`` and
    ``stride`` in fs, ``second`` the hold stage's thermostat), and return its path."""
    return _make_spec


def _hollow_ag12_run(folder: Path):
    from mdkit.md import run
    from mdkit.protocol import load_spec

    spec = _make_spec(folder, seed=1, stride=10, heat=0.6, hold=0.6, anneal=0.4)
    spec.write_text(spec.read_text().replace('build = "ag55"', 'build = "ag13"')
                    .replace("temperature_K = 290", "temperature_K = 1000")
                    .replace("[290, 50]", "[1000, 50]"))
    return run(load_spec(spec), progress=False)


@pytest.fixture(scope="session")
def hollow_ag12_run():
    """``hollow_ag12_run(folder)``: a real EMT run of Ag13 with its centre vacant,
    heated to 1000 K, where a surface atom falls into the hollow centre (a
    core-to-shell event) within 1.6 ps; returns the run folder."""
    return _hollow_ag12_run


def _short_spec(path: Path, system, name, options="", dt=1.0, heat=0.002, nve=0.004,
                md_extra=""):
    path.write_text(SHORT_SPEC.format(system=system, name=name, options=options, dt=dt,
                                      heat=heat, nve=nve, checkpoint=heat, md_extra=md_extra))
    return path


@pytest.fixture(scope="session")
def short_spec():
    """``short_spec(path, system, name, options="", dt=1.0, heat=0.002, nve=0.004)``:
    write a Langevin-then-NVE spec of engine ``name`` (``options`` are TOML lines of
    its section; durations in ps, ``dt`` in fs) to ``path`` and return it."""
    return _short_spec


def _short_run(tmp_path, system, name, options="", dt=1.0, heat=0.002, nve=0.004, md_extra=""):
    from mdkit import store
    from mdkit.md import run
    from mdkit.protocol import load_spec

    spec = load_spec(_short_spec(tmp_path / f"{name}.toml", system, name, options, dt, heat,
                                 nve, md_extra))
    folder = run(spec, progress=False)
    thermo = store.read_thermo(folder)
    assert len(thermo["frame"]) == spec.total_steps + 1
    assert np.isfinite(thermo["total_eV"]).all()
    return spec, folder, thermo


@pytest.fixture(scope="session")
def short_run():
    """``short_run(tmp_path, system, name, ...)``: run the ``short_spec`` of engine
    ``name`` in ``tmp_path``, check every step left a finite thermo row, and return
    (spec, run folder, thermo table)."""
    return _short_run


def _red_mask(image, structure_only=True):
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    red = (r > 0.75) & (g < 0.25) & (b < 0.25)
    if structure_only:
        red[image.shape[1]:] = False
    return red


@pytest.fixture(scope="session")
def red_mask():
    """``red_mask(image, structure_only=True)``: the pure red pixels of an RGB(A) image
    read with matplotlib; by default in the structure square only (the legend below
    it shows a red circle too when a site is vacant)."""
    return _red_mask


def _mdkit(*args, cwd=None, timeout=900):
    # one thread per subprocess: the test machine's cores are shared
    return subprocess.run([sys.executable, "-m", "mdkit", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.fixture(scope="session")
def mdkit():
    """``mdkit(*args, cwd=None, timeout=900)``: run ``python -m mdkit ARGS`` as a user
    does and return the finished ``subprocess.CompletedProcess`` (text output)."""
    return _mdkit


def _files(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def files():
    """``files(root)``: every file under ``root`` as {relative path: bytes}, to prove a
    command changed nothing it should not have."""
    return _files


def _axis_rows(image):
    # black axis spines: rows of dark pixels across more than half the figure, the top and
    # bottom edge of each panel (legends are frameless; curves and bands are coloured)
    dark = (image[..., :3] < 0.2).all(axis=-1)
    rows = np.flatnonzero(dark.mean(axis=1) > 0.5)
    if not len(rows):
        return []
    return [int(r) for r in rows[np.r_[True, np.diff(rows) > 1]]]


@pytest.fixture(scope="session")
def axis_rows():
    """``axis_rows(image)``: the first pixel row of each horizontal black line spanning
    more than half the figure: the top and bottom edges of its axes, from the top."""
    return _axis_rows


def _plot_image(path, panels=None):
    from matplotlib.image import imread

    image = imread(path)[..., :3]
    assert min(image.shape[:2]) > 200, image.shape
    assert image.std() > 0.05, "a blank canvas"
    edges = len(_axis_rows(image))
    assert edges >= 2, "no axes drawn"
    if panels is not None:
        assert edges == 2 * panels, f"{edges} horizontal axis edges, not {2 * panels}"
    return image


@pytest.fixture(scope="session")
def plot_image():
    """``plot_image(path, panels=None)``: the RGB pixels (floats 0-1, rows from the top)
    of a PNG figure read back with matplotlib, after checking it is a drawn plot: not
    blank, with black axes (``panels`` of them, if given, stacked vertically)."""
    return _plot_image


def _colour_pixels(image, colour, tolerance=0.06):
    from matplotlib.colors import to_rgb

    return (np.abs(image[..., :3] - np.array(to_rgb(colour))) < tolerance).all(axis=-1)


@pytest.fixture(scope="session")
def colour_pixels():
    """``colour_pixels(image, colour, tolerance=0.06)``: mask of the pixels of a
    matplotlib colour ("C0", "#d62728", "0.92"), within ``tolerance`` per channel."""
    return _colour_pixels


def _pdf_strokes(path):
    import re
    import zlib

    from matplotlib.colors import to_rgb

    data = Path(path).read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF"), "not a whole PDF"
    content = b""
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            content += zlib.decompress(stream)
        except zlib.error:  # fonts and images that are not deflated content
            continue
    found = re.findall(rb"(\d*\.?\d+)\s+(\d*\.?\d+)\s+(\d*\.?\d+)\s+RG", content)
    colours = np.array([[float(v) for v in rgb] for rgb in found]).reshape(-1, 3)

    def strokes(colour):
        return bool(len(colours)) and bool(
            (np.abs(colours - np.array(to_rgb(colour))) < 1e-3).all(axis=1).any())
    return strokes


@pytest.fixture(scope="session")
def pdf_strokes():
    """``pdf_strokes(path)``: check ``path`` is a whole PDF and return a function telling
    whether its drawing (deflated content streams) strokes lines in a matplotlib colour."""
    return _pdf_strokes


def _counted(method, name, calls):
    def counted(*args, **kwargs):
        calls.append(name)
        return method(*args, **kwargs)
    return counted


@pytest.fixture
def engine_calls(monkeypatch):
    """Count what is asked of the engines made through the calculator registry: a list
    that gets the engine's name at every energy, force or property request and every
    ``calculate`` call (engines differ in which of these they route through)."""
    from mdkit import calculators

    calls = []
    real = calculators.make_calculator

    def counting(name, atoms, charge=0, **options):
        calc = real(name, atoms, charge, **options)
        for method in ("calculate", "get_property", "get_potential_energy", "get_forces"):
            if hasattr(calc, method):
                setattr(calc, method, _counted(getattr(calc, method), name, calls))
        return calc

    # modules that imported the function by name hold their own reference to it
    for module in [m for name, m in sys.modules.items() if name.split(".")[0] == "mdkit"]:
        if getattr(module, "make_calculator", None) is real:
            monkeypatch.setattr(module, "make_calculator", counting)
    return calls
