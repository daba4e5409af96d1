"""Structure pictures in the study's colour code, with the vacant sites circled.

Metal atoms are coloured by the class of the site they are on (centre and
icosahedral shell blue, staple pink, tetrahedral green; Mo6 clusters: core,
inner and apical in their own colours), Hg purple whatever its site, S
yellow, C grey; H is hidden unless asked for.  Every vacant site is a red
circle at its reference position, and the atoms that migrate in the run's
events are ringed in black.

Frames of a run are first moved into the frame of the reference sites by
the fit the occupancy analysis makes (atoms alone on a site onto those
sites), so the same view direction serves every snapshot of a run and the
circles sit where the sites are.

The atoms are rendered by POV-Ray through ASE's writer (``ase.io`` format
``pov``) when the ``povray`` program is installed, else by ASE's matplotlib
renderer (:func:`ase.visualize.plot.plot_atoms`); circles, rings, legend and
caption are drawn over that image by matplotlib, which writes PNG, PDF or
SVG.  :class:`Picture` tells where each atom and site landed in the image,
in pixels.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, covalent_radii
from ase.data.colors import jmol_colors
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle

from mdkit import writer
from mdkit.errors import MdkitError
from mdkit.runfolder import is_own_output
from mdkit.sites import SiteMap, is_metal

#: Colour of each site class (the study's code for the Ag clusters; Mo6 classes apart).
CLASS_COLOURS = {"center": "#1f4fd8", "shell": "#1f4fd8", "surface": "#1f4fd8",
                 "staple": "#f06fc0", "tetrahedral": "#2ca02c",
                 "core": "#00897b", "inner": "#ff8c00", "apical": "#8d5a3c"}
#: Legend text of each class.
CLASS_LABELS = {"center": "centre", "shell": "icosahedral shell", "surface": "shell (surface)",
                "staple": "staple", "tetrahedral": "tetrahedral", "core": "Mo6 core",
                "inner": "inner", "apical": "apical"}
#: Colours by element, before the class colours (Hg) or for atoms on no site.
ELEMENT_COLOURS = {"Hg": "#8e44ad", "S": "#f2d21b", "C": "#7f7f7f", "H": "#ffffff"}
VACANCY_COLOUR = "#e00000"
MARK_COLOUR = "#000000"
#: Drawn radius as a fraction of ASE's covalent radius, so neighbours show a gap.
RADIUS_FRACTION = 0.8
#: View rotation (ASE Euler angles, degrees) used for every picture of a run.
DEFAULT_VIEW = "-20x,30y,0z"
MARGIN_ANGSTROM = 1.5
FORMATS = ("png", "pdf", "svg")


class DrawError(MdkitError):
    """A picture that cannot be made as asked."""


@dataclass
class Scene:
    """What to draw, in the frame of the reference sites (Å).

    Attributes
    ----------
    symbols : list of str
    positions : (n_atoms, 3) array, Å
    classes : (n_atoms,) array of str
        Site class of each atom ("-" for none).
    vacant : (n_vacant, 3) array, Å
        Reference positions of the vacant sites.
    marked : list of int
        Atoms to ring (the migrating atoms).
    centre : (3,) array, Å
        Point put at the middle of the picture.
    half_width : float, Å
        Half the width of the region shown.
    caption : str
    """

    symbols: list
    positions: np.ndarray
    classes: np.ndarray
    vacant: np.ndarray
    marked: list
    centre: np.ndarray
    half_width: float
    caption: str = ""


@dataclass
class Picture:
    """Where a rendered scene landed in the written image.

    Attributes
    ----------
    paths : list of Path
    size_px : (width, height) of the PNG, pixels
    atom_px : (n_atoms, 2) array, pixel (column, row) of each atom centre
        (NaN for hidden atoms)
    atom_radius_px : (n_atoms,) array
    depth : (n_atoms,) array, Å towards the viewer
    vacancy_px : (n_vacant, 2) array
    renderer : "povray" or "matplotlib"
    """

    paths: list
    size_px: tuple
    atom_px: np.ndarray
    atom_radius_px: np.ndarray
    depth: np.ndarray
    vacancy_px: np.ndarray
    renderer: str


def view_matrix(view: str = DEFAULT_VIEW) -> np.ndarray:
    """Rotation matrix of an ASE Euler-angle string: screen coordinates = positions @ R."""
    from ase.utils import rotate

    return rotate(view)


def atom_colours(symbols, classes) -> list[tuple]:
    """RGB of each atom: Hg, S, C, H by element, metals by site class, else ASE's Jmol colour."""
    out = []
    for symbol, cls in zip(symbols, classes):
        if symbol in ELEMENT_COLOURS:
            colour = ELEMENT_COLOURS[symbol]
        elif is_metal(symbol) and cls in CLASS_COLOURS or cls in ("inner", "apical"):
            colour = CLASS_COLOURS[cls]
        else:
            colour = tuple(jmol_colors[atomic_numbers[symbol]])
        out.append(to_rgb(colour))
    return out


def extent(sites: SiteMap, positions) -> tuple[np.ndarray, float]:
    """Centre (the sites' centroid) and half width (Å) that hold every atom and site."""
    centre = sites.positions.mean(axis=0)
    reach = max(np.linalg.norm(np.asarray(positions) - centre, axis=1).max(),
                np.linalg.norm(sites.positions - centre, axis=1).max())
    return centre, float(reach + MARGIN_ANGSTROM)


def structure_scene(atoms, sites: SiteMap, caption: str = "") -> Scene:
    """Scene of a structure and its SiteMap (e.g. from :func:`mdkit.systems.build`)."""
    centre, half = extent(sites, atoms.positions)
    return Scene(list(atoms.get_chemical_symbols()), atoms.positions.copy(),
                 sites.atom_classes(len(atoms)), sites.positions[sites.vacant],
                 [], centre, half, caption)


def aligned_positions(positions, sites: SiteMap, atoms, assignment, occupancy) -> np.ndarray:
    """All atoms of a frame moved into the sites' frame by the occupancy analysis's fit.

    The atoms alone on a site are fitted onto those sites (equal weights,
    :func:`MDAnalysis.analysis.align.rotation_matrix`); with fewer than three,
    every atom onto the site it held in the start structure.

    Parameters
    ----------
    positions : (n_atoms, 3) array, Å
    sites : SiteMap
    atoms : (n_selected,) int array
        ``SiteOccupancy.results.atoms``.
    assignment, occupancy : the frame's rows of ``SiteOccupancy.results``.
    """
    from MDAnalysis.analysis.align import rotation_matrix

    positions = np.asarray(positions, dtype=float)
    assignment = np.asarray(assignment)
    held = assignment >= 0
    alone = held & (np.asarray(occupancy)[np.maximum(assignment, 0)] == 1)
    if alone.sum() >= 3:
        mobile, target = positions[atoms[alone]], sites.positions[assignment[alone]]
    else:
        on = sites.atoms >= 0
        mobile, target = positions[sites.atoms[on]], sites.positions[on]
    mobile_centre, target_centre = mobile.mean(axis=0), target.mean(axis=0)
    rotation, _ = rotation_matrix(mobile - mobile_centre, target - target_centre)
    return (positions - mobile_centre) @ np.asarray(rotation).T + target_centre


def povray_available() -> bool:
    return shutil.which("povray") is not None


def render(scene: Scene, size_px: int = 600, view: str = DEFAULT_VIEW, show_h: bool = False,
           renderer: str = "auto") -> tuple[np.ndarray, dict]:
    """Render the atoms of ``scene`` alone as an RGB image, ``size_px`` square.

    Returns the image (float, 0-1) and the projection: ``atom_px`` (pixel
    column and row of each atom, NaN where hidden), ``radius_px``, ``depth``
    (Å towards the viewer), ``vacancy_px`` and ``renderer``.
    """
    rotation = view_matrix(view)
    screen = (scene.positions - scene.centre) @ rotation
    vacancy = (np.asarray(scene.vacant).reshape(-1, 3) - scene.centre) @ rotation
    shown = np.array([show_h or s != "H" for s in scene.symbols])
    numbers = [atomic_numbers[s] for s in scene.symbols]
    radii = RADIUS_FRACTION * covalent_radii[numbers]
    half = scene.half_width
    per_angstrom = size_px / (2 * half)

    def to_px(xy):
        return np.column_stack([(xy[:, 0] + half) * per_angstrom - 0.5,
                                (half - xy[:, 1]) * per_angstrom - 0.5])

    colours = atom_colours(scene.symbols, scene.classes)
    atoms = Atoms([s for s, k in zip(scene.symbols, shown) if k], positions=screen[shown])
    kept_colours = [c for c, k in zip(colours, shown) if k]
    if renderer == "auto":
        renderer = "povray" if povray_available() else "matplotlib"
    if renderer == "povray":
        image = _povray(atoms, radii[shown], kept_colours, half, size_px)
    elif renderer == "matplotlib":
        image = _matplotlib(atoms, radii[shown], kept_colours, half, size_px)
    else:
        raise DrawError(f"unknown renderer {renderer!r}; choose auto, povray or matplotlib.")
    atom_px = to_px(screen[:, :2])
    atom_px[~shown] = np.nan
    return image, {"atom_px": atom_px, "radius_px": radii * per_angstrom,
                   "depth": screen[:, 2], "vacancy_px": to_px(vacancy[:, :2]),
                   "renderer": renderer, "metal_radius_px": float(np.max(
                       [r for r, s in zip(radii, scene.symbols) if is_metal(s)] or [1.2])
                       * per_angstrom)}


def _povray(atoms, radii, colours, half, size_px) -> np.ndarray:
    from ase.io import write
    from matplotlib.image import imread

    with tempfile.TemporaryDirectory(prefix="mdkit-pov-") as tmp:
        path = Path(tmp) / "scene.pov"
        inputs = write(path, atoms, format="pov", rotation="", radii=radii, colors=colours,
                       show_unit_cell=0, bbox=(-half, -half, half, half),
                       povray_settings={"canvas_width": size_px, "transparent": False,
                                        "background": "White", "celllinewidth": 0,
                                        "textures": ["ase3"] * len(atoms)})
        # the .ini names the scene relative to its folder, so POV-Ray runs there
        done = subprocess.run(["povray", inputs.path.name], cwd=tmp, capture_output=True,
                              text=True)
        png = path.with_suffix(".png")
        if done.returncode or not png.exists():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise DrawError(f"POV-Ray failed ({last}); install the Debian packages povray "
                            "and povray-includes, or use the matplotlib renderer.")
        image = imread(png)[..., :3]
    return image.astype(float)


def _matplotlib(atoms, radii, colours, half, size_px) -> np.ndarray:
    from ase.visualize.plot import plot_atoms

    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    if len(atoms):
        plot_atoms(atoms, ax, rotation="", radii=radii, colors=colours, show_unit_cell=0,
                   bbox=(-half, -half, half, half), scale=1)
    ax.set_xlim(0, 2 * half)
    ax.set_ylim(0, 2 * half)
    ax.set_axis_off()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0


def legend_entries(scene: Scene, show_h: bool = False) -> list[tuple[str, tuple]]:
    """(label, colour) of the classes and elements present, then the vacancy."""
    entries, seen = [], set()
    for symbol, cls in zip(scene.symbols, scene.classes):
        if symbol == "H" and not show_h:
            continue
        if symbol in ELEMENT_COLOURS:
            key, label = symbol, symbol
        elif cls in CLASS_COLOURS and (is_metal(symbol) or cls in ("inner", "apical")):
            key, label = CLASS_COLOURS[cls] + cls, CLASS_LABELS[cls]
            if CLASS_COLOURS[cls] == CLASS_COLOURS["center"]:
                key, label = "icosahedron", "centre + icosahedral shell"
        else:
            key, label = symbol, symbol
        if key not in seen:
            seen.add(key)
            entries.append((label, atom_colours([symbol], [cls])[0]))
    return entries


def compose(ax, image, projection, scene: Scene, show_h: bool = False, legend: bool = True):
    """Draw the rendered ``image`` on ``ax`` with the vacancy circles, marks and legend."""
    size = image.shape[0]
    ax.imshow(image, extent=(-0.5, size - 0.5, size - 0.5, -0.5), interpolation="none")
    ring = projection["metal_radius_px"]
    width = max(1.5, size / 200)
    for x, y in projection["vacancy_px"]:
        ax.add_patch(Circle((x, y), ring, fill=False, ec=VACANCY_COLOUR, lw=width * 72 / 100,
                            zorder=5))
    for atom in scene.marked:
        x, y = projection["atom_px"][atom]
        if np.isfinite(x):
            ax.add_patch(Circle((x, y), 1.25 * projection["radius_px"][atom], fill=False,
                                ec=MARK_COLOUR, lw=width * 72 / 100, ls=(0, (2, 1)), zorder=6))
    ax.set_xlim(-0.5, size - 0.5)
    ax.set_ylim(size - 0.5, -0.5)
    ax.set_axis_off()
    if scene.caption:
        ax.text(0.02, 0.98, scene.caption, transform=ax.transAxes, va="top", ha="left",
                fontsize=7)
    if legend:
        handles = [Line2D([], [], ls="", marker="o", ms=6, mfc=c, mec="0.3", label=label)
                   for label, c in legend_entries(scene, show_h)]
        if len(projection["vacancy_px"]):
            handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="none",
                                  mec=VACANCY_COLOUR, mew=1.5, label="vacant site"))
        if scene.marked:
            handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec=MARK_COLOUR,
                                  mew=1.2, label="migrating atom"))
        return handles
    return []


def draw(scene: Scene, output, size_px: int = 600, view: str = DEFAULT_VIEW,
         show_h: bool = False, renderer: str = "auto", force: bool = False) -> Picture:
    """Write a picture of ``scene`` to ``output`` (.png, .pdf or .svg, by its suffix).

    The image is ``size_px`` wide; the structure fills its top ``size_px``
    square and the legend sits below it.  Written under a temporary name and
    renamed, so a file is whole or absent.  A file of that name that mdkit
    did not write is refused before anything is drawn, or with ``force``
    moved aside (never deleted).
    """
    output = Path(output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise DrawError(f"{output}: a picture is written as .png, .pdf or .svg, not "
                        f"{output.suffix or 'a file without suffix'}.")
    if not is_own_output(output):
        writer.claim(output, force=force)
    image, projection = render(scene, size_px, view, show_h, renderer)
    dpi = 100
    legend_px = max(60, size_px // 6)
    fig = Figure(figsize=(size_px / dpi, (size_px + legend_px) / dpi), dpi=dpi)
    height = size_px + legend_px
    ax = fig.add_axes((0, legend_px / height, 1, size_px / height))
    handles = compose(ax, image, projection, scene, show_h)
    fig.legend(handles=handles, loc="lower center", ncol=3 if size_px >= 450 else 2,
               fontsize=max(5.0, min(8.0, size_px / 60)), frameon=False,
               bbox_to_anchor=(0.5, 0.0), handletextpad=0.3, columnspacing=1.0)
    writer.save_figure(fig, output, claim_target=True, mine=is_own_output, dpi=dpi,
                       format=fmt)
    return Picture([output], (size_px, height), projection["atom_px"],
                   projection["radius_px"], projection["depth"], projection["vacancy_px"],
                   projection["renderer"])


class RunFrames:
    """Frames of a run folder as scenes: aligned onto the sites, vacancies from occupancy.

    Parameters
    ----------
    folder : path
        A run folder.
    residence_ps : float
        For the events whose atoms are marked (see :func:`~mdkit.analysis.find_events`).

    Attributes
    ----------
    times : (n_frames,) array, ps
    stage_names : (n_frames,) array of str
    events : list of dict
    sites : SiteMap
    """

    def __init__(self, folder, residence_ps: float = 0.5):
        from mdkit import store
        from mdkit.analysis import SiteOccupancy, find_events

        self.folder = Path(folder)
        self.universe = store.open_run(self.folder)
        self.sites = store.read_sites(self.folder)
        thermo = store.read_thermo(self.folder)
        result = SiteOccupancy(self.universe, self.sites).run().results
        self.occupancy = result
        self.times = np.asarray(result.times, dtype=float)
        self.stage_names = thermo["stage_name"][:len(self.times)]
        self.events = find_events(result.times, result.occupancy, result.assignment,
                                  result.atoms, self.sites, residence_ps=residence_ps)
        self.symbols = [str(e) for e in self.universe.atoms.elements]
        start = self.universe.trajectory[0].positions.astype(float)
        self.centre, self.half_width = extent(self.sites, start)
        self._start_classes = self.sites.atom_classes(len(self.symbols))

    def __len__(self):
        return len(self.times)

    def frame_at(self, time_ps: float) -> int:
        """The frame nearest ``time_ps``; raises if the time is outside the run."""
        if not self.times[0] - 1e-6 <= time_ps <= self.times[-1] + 1e-6:
            raise DrawError(f"{self.folder}: --at {time_ps:g} ps is outside the run "
                            f"({self.times[0]:g} to {self.times[-1]:g} ps).")
        return int(np.argmin(np.abs(self.times - time_ps)))

    def positions(self, frame: int) -> np.ndarray:
        """All atoms of ``frame`` in the sites' frame, Å."""
        result = self.occupancy
        x = self.universe.trajectory[frame].positions.astype(float)
        return aligned_positions(x, self.sites, result.atoms, result.assignment[frame],
                                 result.occupancy[frame])

    def classes(self, frame: int) -> np.ndarray:
        """Site class of each atom: of the site it is on, else of its start site."""
        classes = self._start_classes.copy()
        assignment = self.occupancy.assignment[frame]
        held = assignment >= 0
        classes[self.occupancy.atoms[held]] = self.sites.classes[assignment[held]]
        return classes

    def vacant_sites(self, frame: int) -> np.ndarray:
        return np.flatnonzero(self.occupancy.occupancy[frame] == 0)

    def scene(self, frame: int) -> Scene:
        caption = f"{self.times[frame]:.2f} ps, {self.stage_names[frame]}"
        return Scene(self.symbols, self.positions(frame), self.classes(frame),
                     self.sites.positions[self.vacant_sites(frame)],
                     sorted({e["atom"] for e in self.events}), self.centre, self.half_width,
                     caption)
