"""Structure pictures read back pixel by pixel: the colour code where the atoms project,
the red circle exactly where a site is vacant, the migrating atom ringed.

The expected colours are the study's code written as hues (blue, pink, green,
purple, yellow), not the module's hex values; where each atom lands is
checked against this file's own orthographic projection.
"""

import colorsys

import numpy as np
import pytest
from ase.utils import rotate
from matplotlib.image import imread

from mdkit.analysis import draw
from mdkit.systems import build

SIZE = 260
#: Hue ranges (degrees) of the study's colour code.
HUES = {"blue": (200, 250), "pink": (300, 345), "green": (90, 150), "purple": (265, 300),
        "yellow": (40, 65)}
EXPECTED = {"center": "blue", "shell": "blue", "surface": "blue", "staple": "pink",
            "tetrahedral": "green"}
RENDERERS = ["povray", "matplotlib"]


@pytest.fixture(scope="module")
def ag12_frames(hollow_ag12_run, tmp_path_factory):
    return draw.RunFrames(hollow_ag12_run(tmp_path_factory.mktemp("ag12")))


def hue_name(rgb):
    h, s, v = colorsys.rgb_to_hsv(*rgb)
    if s < 0.25:
        return "grey"
    degrees = 360 * h
    return next((name for name, (lo, hi) in HUES.items() if lo <= degrees <= hi), "other")


def front_atoms(positions, radii_px, px, shown):
    """Atoms whose centre is covered by no atom nearer the viewer (this file's own depth
    order from the projection ``rotate(view)``)."""
    depth = positions @ rotate(draw.DEFAULT_VIEW)[:, 2]
    out = []
    for i in np.flatnonzero(shown):
        d = np.linalg.norm(px - px[i], axis=1)
        covered = shown & (depth > depth[i]) & (d < radii_px + 0.35 * radii_px[i])
        covered[i] = False
        if not covered.any():
            out.append(i)
    return out


def check_projection(picture, positions, shown):
    """The pixel of every atom is an orthographic projection along the view: an affine
    map (one scale, y flipped, an offset) of this file's own projection, within 0.5 px."""
    xy = positions @ rotate(draw.DEFAULT_VIEW)[:, :2]
    px = picture.atom_px[shown]
    design = np.column_stack([xy[shown, 0], np.ones(shown.sum())])
    (scale_x, _), *_ = np.linalg.lstsq(design, px[:, 0], rcond=None)
    design_y = np.column_stack([xy[shown, 1], np.ones(shown.sum())])
    (scale_y, _), *_ = np.linalg.lstsq(design_y, px[:, 1], rcond=None)
    assert scale_x > 0 and np.isclose(scale_y, -scale_x)
    fit_x = design @ np.linalg.lstsq(design, px[:, 0], rcond=None)[0]
    fit_y = design_y @ np.linalg.lstsq(design_y, px[:, 1], rcond=None)[0]
    assert np.abs(fit_x - px[:, 0]).max() < 0.5 and np.abs(fit_y - px[:, 1]).max() < 0.5


def colours_at_atoms(image, picture, atoms):
    """Median colour of a disc of 40 % of each atom's radius around its centre."""
    rows, cols = np.mgrid[:image.shape[0], :image.shape[1]]
    out = {}
    for i in atoms:
        x, y = picture.atom_px[i]
        disc = (cols - x) ** 2 + (rows - y) ** 2 <= (0.4 * picture.atom_radius_px[i]) ** 2
        out[i] = np.median(image[disc][:, :3], axis=0)
    return out


def check_colour_code(path, picture, symbols, classes, positions, vacant_px=()):
    image = imread(path)
    assert image.shape[:2] == (picture.size_px[1], picture.size_px[0])
    shown = np.isfinite(picture.atom_px[:, 0])
    assert shown.tolist() == [s != "H" for s in symbols]  # H hidden by default
    check_projection(picture, positions, shown)
    front = front_atoms(positions, picture.atom_radius_px, picture.atom_px, shown)
    # atoms under a vacancy circle are judged elsewhere
    ring = picture.atom_radius_px.max() * 1.4
    front = [i for i in front if all(np.linalg.norm(picture.atom_px[i] - v) > ring
                                     for v in vacant_px)]
    seen = {}
    for i, rgb in colours_at_atoms(image, picture, front).items():
        want = ("yellow" if symbols[i] == "S" else "grey" if symbols[i] == "C" else
                "purple" if symbols[i] == "Hg" else EXPECTED[classes[i]])
        seen.setdefault(want, []).append(hue_name(rgb) == want)
    for colour, hits in seen.items():
        assert np.mean(hits) >= 0.9, (colour, hits)
    return image, seen


@pytest.mark.parametrize("renderer", RENDERERS)
def test_ag29_every_visible_class_in_its_colour_and_no_red(red_mask, renderer, tmp_path):
    atoms, sites = build("ag29")
    picture = draw.draw(draw.structure_scene(atoms, sites), tmp_path / "ag29.png",
                        size_px=SIZE, renderer=renderer)
    assert picture.renderer == renderer
    classes = sites.atom_classes(len(atoms))
    image, seen = check_colour_code(tmp_path / "ag29.png", picture, atoms.get_chemical_symbols(),
                                    classes, atoms.positions)
    # the surface of the model shows staples, tetrahedral sites, S and C
    assert {"pink", "green", "yellow", "grey"} <= set(seen)
    assert red_mask(image, structure_only=False).sum() == 0  # nothing vacant: no red at all


@pytest.mark.parametrize("renderer", RENDERERS)
def test_iso1_vacant_centre_is_circled_in_red(red_mask, renderer, tmp_path):
    atoms, sites = build("ag28", vacancy="center")
    assert sites.classes[sites.vacant].tolist() == ["center"]
    picture = draw.draw(draw.structure_scene(atoms, sites), tmp_path / "iso1.png",
                        size_px=SIZE, renderer=renderer)
    centre = sites.positions[sites.vacant[0]]
    # where the centre projects, by the affine map of the atoms' own projection
    xy = np.vstack([atoms.positions, centre]) @ rotate(draw.DEFAULT_VIEW)[:, :2]
    shown = np.isfinite(picture.atom_px[:, 0])
    fx = np.polyfit(xy[:-1][shown, 0], picture.atom_px[shown, 0], 1)
    fy = np.polyfit(xy[:-1][shown, 1], picture.atom_px[shown, 1], 1)
    expected = np.array([np.polyval(fx, xy[-1, 0]), np.polyval(fy, xy[-1, 1])])
    image, _ = check_colour_code(tmp_path / "iso1.png", picture, atoms.get_chemical_symbols(),
                                 sites.atom_classes(len(atoms)), atoms.positions, [expected])
    red = np.argwhere(red_mask(image))[:, ::-1]  # (column, row)
    assert len(red) > 50
    distance = np.linalg.norm(red - expected, axis=1)
    # a ring: every red pixel within a metal atom's radius (+ line) of the centre, none at it
    assert distance.max() < 1.5 * picture.atom_radius_px.max()
    assert distance.min() > 0.5 * picture.atom_radius_px.max()
    assert abs(red.mean(axis=0) - expected).max() < 2


def test_formats_and_bad_suffix(tmp_path):
    atoms, sites = build("ag28", vacancy="center")
    scene = draw.structure_scene(atoms, sites)
    pdf = draw.draw(scene, tmp_path / "iso1.pdf", size_px=120, renderer="matplotlib").paths[0]
    assert pdf.read_bytes().startswith(b"%PDF")
    svg = draw.draw(scene, tmp_path / "iso1.svg", size_px=120, renderer="matplotlib").paths[0]
    assert "vacant site" in svg.read_text()
    with pytest.raises(draw.DrawError, match=r"\.png, \.pdf or \.svg"):
        draw.draw(scene, tmp_path / "iso1.jpg", size_px=120)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iso1.pdf", "iso1.svg"]


def test_hollow_ag12_run_circle_follows_the_vacancy(red_mask, ag12_frames, tmp_path):
    frames = ag12_frames
    first = next(e for e in frames.events if e["kind"] == "core-to-shell")
    before, after = first["frame"] - 5, first["frame"]
    assert first["from_class"] == "surface" and first["to_class"] == "center"
    for frame, site in ((before, first["to_site"]), (after, first["from_site"])):
        scene = frames.scene(frame)
        vacant = np.flatnonzero(frames.occupancy.occupancy[frame] == 0)
        picture = draw.draw(scene, tmp_path / f"f{frame}.png", size_px=SIZE, renderer="povray")
        image = imread(tmp_path / f"f{frame}.png")
        assert site in vacant
        # the site's reference position, projected by the affine map of the atoms
        xy = np.vstack([scene.positions, frames.sites.positions[vacant]]) \
            @ rotate(draw.DEFAULT_VIEW)[:, :2]
        n = len(scene.positions)
        fx = np.polyfit(xy[:n, 0], picture.atom_px[:, 0], 1)
        fy = np.polyfit(xy[:n, 1], picture.atom_px[:, 1], 1)
        expected = np.column_stack([np.polyval(fx, xy[n:, 0]), np.polyval(fy, xy[n:, 1])])
        red = np.argwhere(red_mask(image))[:, ::-1]
        nearest = np.linalg.norm(red[:, None] - expected[None], axis=2).min(axis=1)
        assert len(red) > 30 and nearest.max() < 1.5 * picture.atom_radius_px.max()
        # one ring per vacant site: red around each of them
        for point in expected:
            assert (np.linalg.norm(red - point, axis=1) < 1.5 * picture.atom_radius_px.max()).sum() > 20
        # the migrating atom is ringed in black (dashed), centred on the atom
        mover = picture.atom_px[first["atom"]]
        dark = np.argwhere(imread(tmp_path / f"f{frame}.png")[..., :3].max(axis=2) < 0.1)[:, ::-1]
        ring = np.abs(np.linalg.norm(dark - mover, axis=1)
                      - 1.25 * picture.atom_radius_px[first["atom"]]) < 2
        assert ring.sum() > 15
    # the same view for every frame: the run's frame is fixed, so is the pixel scale
    assert scene.half_width == frames.scene(0).half_width


def test_command_line_draw_and_movie(mdkit, red_mask, ag12_frames, tmp_path):
    from PIL import Image

    folder = ag12_frames.folder
    built = mdkit("build", "ag28", "--vacancy", "center", "-o", "iso1.xyz", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    done = mdkit("draw", "iso1.xyz", "-o", "iso1.png", "--size", "200", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 vacant site(s) circled" in done.stdout
    assert red_mask(imread(tmp_path / "iso1.png")).sum() > 30
    done = mdkit("draw", folder, "--at", "0.2ps", "-o", "t.png", "--size", "200", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    bad = mdkit("draw", folder, "--at", "50ps", "-o", "late.png", cwd=tmp_path)
    assert bad.returncode == 2 and "outside the run" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "late.png").exists()

    movie = mdkit("movie", folder, "-o", "m.gif", "--frames", "6", "--size", "160", cwd=tmp_path)
    assert movie.returncode == 0, movie.stderr
    assert "6/6 frames drawn" in movie.stderr  # progress on stderr
    gif = Image.open(tmp_path / "m.gif")
    assert gif.n_frames == 6 and gif.size[0] == 160
    captions = []
    for k in (0, 5):
        gif.seek(k)
        captions.append(np.asarray(gif.convert("L"))[:14, :100])
    assert (captions[0] != captions[1]).any()  # the time written on each frame differs
    mp4 = mdkit("movie", folder, "-o", "m.mp4", "--frames", "4", "--size", "160", "--quiet",
                cwd=tmp_path)
    assert mp4.returncode == 0, mp4.stderr
    assert (tmp_path / "m.mp4").read_bytes()[4:8] == b"ftyp"  # an MP4 container
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_mo6_classes_have_their_own_colours_and_legend(red_mask, tmp_path):
    atoms, sites = build("mo6cl13")
    assert sites.classes[sites.vacant].tolist() == ["apical"]  # the lacuna
    scene = draw.structure_scene(atoms, sites)
    picture = draw.draw(scene, tmp_path / "mo6.png", size_px=SIZE, renderer="matplotlib")
    image = imread(tmp_path / "mo6.png")
    classes = sites.atom_classes(len(atoms))
    shown = np.isfinite(picture.atom_px[:, 0])
    front = front_atoms(atoms.positions, picture.atom_radius_px, picture.atom_px, shown)
    hues = {}
    for i, rgb in colours_at_atoms(image, picture, front).items():
        h, s, v = colorsys.rgb_to_hsv(*rgb)
        hues.setdefault(classes[i], []).append((360 * h, v))
    assert {"inner", "apical"} <= set(hues)
    # their own code: core teal, inner orange (bright), apical brown (dark orange)
    want = {"core": lambda h, v: 160 <= h <= 190, "inner": lambda h, v: 25 <= h <= 40 and v > 0.8,
            "apical": lambda h, v: 10 <= h <= 35 and v < 0.7}
    for cls, values in hues.items():
        assert np.mean([want[cls](h, v) for h, v in values]) >= 0.9, (cls, values)
    labels = [label for label, _ in draw.legend_entries(scene)]
    assert {"Mo6 core", "inner", "apical"} <= set(labels)
    red = np.argwhere(red_mask(image))[:, ::-1]
    assert np.linalg.norm(red.mean(axis=0) - picture.vacancy_px[0]) < 3


def test_automatic_snapshots_start_events_end():
    from mdkit.analysis.figure import MAX_AUTO_SNAPSHOTS, snapshot_frames

    times = np.arange(0, 10.001, 0.01)
    assert snapshot_frames(times, [{"time_ps": 2.004}, {"time_ps": 7.5}]) == [0, 200, 750, 1000]
    assert snapshot_frames(times, [], at_ps=[1, 1.001, 3]) == [100, 300]
    many = snapshot_frames(times, [{"time_ps": t} for t in np.arange(0.5, 9.6, 0.5)])
    assert len(many) == MAX_AUTO_SNAPSHOTS and many[0] == 0 and many[-1] == 1000
