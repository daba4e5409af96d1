"""Vacancy hops: their end states, minimum-energy paths and barriers.

A **hop** moves the vacancy from site ``i`` to site ``j`` of a SiteMap: the
atom on site ``j`` moves into the vacant site ``i``.  Hops are named by site
indices (``"0-5"``: vacancy at site 0 -> vacancy at site 5) or by classes
(``"shell-to-shell"``, ``"tetrahedral-to-staple"``: from each vacant site of
the first class to the nearest occupied sites of the second);
``"core-to-shell"`` is the migration of the study: from the vacant ``center``
to the first shell of atoms around it, whatever that shell is called
(``shell`` in Ag54 and [Ag28(BDT)12]2-, ``surface`` in Ag12).

Hops related by the cluster's symmetry are one hop with a multiplicity.
Two hops ``(i, j)`` and ``(i, j')`` are taken as equivalent when every atom
can be matched, element to element, with an atom at the same distances from
both ends of the other hop (within :data:`EQUIVALENCE_TOLERANCE_A`): that is
what a symmetry operation of the structure taking one hop into the other
guarantees, without having to find the point group.

The path is ASE's nudged elastic band (:class:`ase.mep.NEB`) with a
climbing image and the improved tangent, started from an IDPP
interpolation and optimised with FIRE; the end states are relaxed with
:func:`mdkit.energetics.relax` (and come from the results database when it
has them).  Free clusters are aligned end to end and the band is kept free
of overall translation and rotation; periodic structures (surface slabs)
keep their frame and constraints.

Units: energies in eV, lengths in Å, forces in eV/Å.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator

from mdkit import database, writer
from mdkit.barrierfolder import HopFolder
from mdkit.errors import MdkitError, NotConverged
from mdkit.progress import LogLines
from mdkit.sites import SiteMap

#: Largest distance mismatch (Å) between two hops still called equivalent: well
#: above the numerical noise of a relaxation, well below a bond-length difference.
EQUIVALENCE_TOLERANCE_A = 0.1
#: Sites of the target class count as nearest when within this factor of the closest.
NEAREST_FACTOR = 1.25
#: The study's shortcut: the vacant centre filled from the shell of atoms around it.
CORE_TO_SHELL = "core-to-shell"
#: Random displacement (Å, standard deviation) of the moving atom in the interpolated
#: images, and its seed.
SHAKE_A = 0.05
SHAKE_SEED = 20261201
#: Optimiser steps between two writes of the band (resume points).
WRITE_EVERY = 5

_BY_INDEX = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
_BY_CLASS = re.compile(r"^\s*([A-Za-z]+)-to-([A-Za-z]+)\s*$")


class BarrierError(MdkitError):
    """A hop, end state or band setting that cannot be used."""


class BandConvergenceWarning(NotConverged):
    """A band stopped at its step limit above the force criterion."""


@dataclass(frozen=True)
class Hop:
    """The vacancy moves from site ``vacant_site`` to site ``moving_site``.

    ``equivalent`` lists the sites (``moving_site`` among them) whose atoms
    can make the same hop into ``vacant_site``; their number is the
    multiplicity.  ``distance_A`` is the length of the hop.
    """

    vacant_site: int
    moving_site: int
    equivalent: tuple
    distance_A: float
    classes: tuple

    @property
    def multiplicity(self) -> int:
        return len(self.equivalent)

    @property
    def name(self) -> str:
        return f"{self.vacant_site}-{self.moving_site}"

    def describe(self) -> str:
        return (f"vacancy {self.classes[0]} site {self.vacant_site} -> {self.classes[1]} "
                f"site {self.moving_site} ({self.distance_A:.2f} Å, x{self.multiplicity})")


# -------------------------------------------------------------------- hops
def _ends(atoms, sites: SiteMap, i: int, j: int):
    return sites.positions[i], atoms.positions[sites.atoms[j]]


def _fingerprint(atoms, sites, i, j) -> tuple[np.ndarray, np.ndarray]:
    """Element and distances to both ends of every atom but the moving one."""
    start, end = _ends(atoms, sites, i, j)
    keep = np.ones(len(atoms), bool)
    keep[sites.atoms[j]] = False
    positions = atoms.positions[keep]
    distances = np.column_stack([np.linalg.norm(positions - start, axis=1),
                                 np.linalg.norm(positions - end, axis=1)])
    return atoms.numbers[keep], distances


def equivalent(atoms, sites: SiteMap, hop_a: tuple, hop_b: tuple,
               tolerance: float = EQUIVALENCE_TOLERANCE_A) -> bool:
    """Whether hops ``(i, j)`` and ``(i', j')`` are related by the structure's symmetry."""
    from scipy.optimize import linear_sum_assignment

    if atoms[sites.atoms[hop_a[1]]].number != atoms[sites.atoms[hop_b[1]]].number:
        return False
    za, da = _fingerprint(atoms, sites, *hop_a)
    zb, db = _fingerprint(atoms, sites, *hop_b)
    if abs(np.linalg.norm(np.subtract(*_ends(atoms, sites, *hop_a)))
           - np.linalg.norm(np.subtract(*_ends(atoms, sites, *hop_b)))) > tolerance:
        return False
    cost = np.abs(da[:, None, :] - db[None, :, :]).max(axis=2)
    cost[za[:, None] != zb[None, :]] = 1e6
    rows, cols = linear_sum_assignment(cost)
    return bool(cost[rows, cols].max() <= tolerance)


def _group(atoms, sites, i, candidates, tolerance) -> list[Hop]:
    hops, left = [], sorted(int(j) for j in candidates)
    while left:
        first = left[0]
        same = [j for j in left if j == first or equivalent(atoms, sites, (i, first), (i, j),
                                                              tolerance)]
        left = [j for j in left if j not in same]
        start, end = _ends(atoms, sites, i, first)
        hops.append(Hop(i, first, tuple(same), float(np.linalg.norm(end - start)),
                        (str(sites.classes[i]), str(sites.classes[first]))))
    return hops


def find_hops(atoms, sites: SiteMap, hop: str,
              tolerance: float = EQUIVALENCE_TOLERANCE_A) -> list[Hop]:
    """The symmetry-distinct hops a name stands for.

    Parameters
    ----------
    atoms : ase.Atoms
    sites : SiteMap
    hop : str
        ``"I-J"`` (site indices: vacancy at ``I`` -> vacancy at ``J``),
        ``"A-to-B"`` (site classes: from every vacant ``A`` site to the
        nearest occupied ``B`` sites, those within :data:`NEAREST_FACTOR`
        of the closest) or ``"core-to-shell"`` (from the vacant ``center``
        to the nearest occupied sites of any class).
    tolerance : float
        Å, see :func:`equivalent`.

    Returns
    -------
    list of Hop
        One per symmetry-distinct hop, with its equivalent sites.
    """
    match = _BY_INDEX.match(hop)
    if match:
        i, j = (int(g) for g in match.groups())
        for index in (i, j):
            sites.select(index)  # range check with the SiteMap's message
        if sites.atoms[i] >= 0:
            raise BarrierError(f"hop {hop}: site {i} ({sites.classes[i]}) is occupied; the "
                               f"first index must be a vacant site: "
                               f"{', '.join(map(str, sites.vacant)) or 'none'}.")
        if sites.atoms[j] < 0:
            raise BarrierError(f"hop {hop}: site {j} is vacant, so no atom can move from it.")
        same_element = [k for k in np.flatnonzero(sites.atoms >= 0)
                        if atoms[sites.atoms[k]].number == atoms[sites.atoms[j]].number]
        found = [k for k in same_element if k == j or equivalent(atoms, sites, (i, j), (i, k),
                                                                    tolerance)]
        start, end = _ends(atoms, sites, i, j)
        return [Hop(i, j, tuple(int(k) for k in found), float(np.linalg.norm(end - start)),
                    (str(sites.classes[i]), str(sites.classes[j])))]
    match = _BY_CLASS.match(hop)
    if not match:
        raise BarrierError(f"hop {hop!r} must be I-J (site indices, e.g. 0-5), A-to-B (site "
                           f"classes, e.g. shell-to-shell) or {CORE_TO_SHELL}.")
    source, target = match.groups()
    if hop.strip() == CORE_TO_SHELL:
        source, target = "center", None
    for cls in (source, target):
        if cls is not None and cls not in sites.class_names:
            raise BarrierError(f"hop {hop}: this structure has no {cls!r} sites; its classes "
                               f"are {', '.join(sites.class_names)}.")
    vacant = sites.select(source, occupied=False)
    if not len(vacant):
        listing = ", ".join(f"{k} ({sites.classes[k]})" for k in sites.vacant) or "none"
        raise BarrierError(f"hop {hop}: no {source} site is vacant (vacant sites: {listing}).")
    hops = []
    for i in vacant:
        occupied = np.flatnonzero(sites.atoms >= 0)
        if target is not None:
            occupied = occupied[sites.classes[occupied] == target]
        if not len(occupied):
            raise BarrierError(f"hop {hop}: no {target} site holds an atom.")
        distance = np.linalg.norm(atoms.positions[sites.atoms[occupied]] - sites.positions[i],
                                  axis=1)
        nearest = occupied[distance <= NEAREST_FACTOR * distance.min()]
        hops += _group(atoms, sites, i, nearest, tolerance)
    return hops


def end_states(atoms, sites: SiteMap, hop: Hop) -> tuple:
    """Initial and final structures of a hop, unrelaxed.

    Returns
    -------
    (ase.Atoms, ase.Atoms, SiteMap)
        The initial structure (a copy), the final one (the atom of site
        ``j`` placed on site ``i``) and the final SiteMap (site ``i``
        occupied, site ``j`` vacant).
    """
    atom = int(sites.atoms[hop.moving_site])
    initial = atoms.copy()
    final = atoms.copy()
    final.positions[atom] = sites.positions[hop.vacant_site]
    final_sites = sites.copy()
    final_sites.atoms[hop.vacant_site] = atom
    final_sites.atoms[hop.moving_site] = -1
    for state in (initial, final):
        state.info["charge"] = sites.charge
    return initial, final, final_sites


# --------------------------------------------------------------- the band
def _align(final, initial, moving: int) -> None:
    """Rotate and translate ``final`` onto ``initial`` (all atoms but the moving one)."""
    from scipy.spatial.transform import Rotation

    keep = np.ones(len(final), bool)
    keep[moving] = False
    a = initial.positions[keep] - initial.positions[keep].mean(axis=0)
    b = final.positions[keep] - final.positions[keep].mean(axis=0)
    rotation, _ = Rotation.align_vectors(a, b)
    results = dict(final.calc.results) if final.calc is not None else {}
    final.positions = rotation.apply(final.positions - final.positions[keep].mean(axis=0)) \
        + initial.positions[keep].mean(axis=0)
    if "forces" in results:
        results["forces"] = rotation.apply(results["forces"])
    final.cell = initial.cell
    final.calc = SinglePointCalculator(final, **{k: v for k, v in results.items()
                                                 if k in ("energy", "forces")})


def _band_energies(images) -> np.ndarray:
    return np.array([image.get_potential_energy() for image in images])


def run_band(initial, final, calculator: str, options: dict | None = None, *, charge: int,
             moving: int, n_images: int = 5, fmax: float = 0.01, steps: int = 1000,
             folder=None, key_hash: str = "", progress: bool = True) -> dict:
    """Climbing-image NEB between two relaxed states; resumable through ``folder``.

    Parameters
    ----------
    initial, final : ase.Atoms
        Relaxed end states with their energies (eV) on a calculator; same
        atoms in the same order.
    calculator, options : str, dict
        Registry engine and its options; each inner image gets its own.
    charge : int
        Net charge in e.
    moving : int
        Index of the atom that hops (left out when aligning the ends).
    n_images : int
        Inner images (the ends are not counted).
    fmax : float
        eV/Å, the NEB force criterion (perpendicular force, and the full
        force on the climbing image).
    steps : int
        FIRE step limit (over all restarts).
    folder : path, optional
        The hop's folder (:class:`mdkit.barrierfolder.HopFolder`), where the
        band is written every :data:`WRITE_EVERY` steps; a later call with
        the same ``key_hash`` continues from it.  A folder mdkit did not
        write is refused.
    progress : bool
        A line on stderr every :data:`WRITE_EVERY` steps.

    Returns
    -------
    dict
        ``images`` (the ends and the inner images, each with its energy on
        a single-point calculator), ``energies_eV``, ``n_steps``,
        ``converged``, ``fmax_eV_A`` (the NEB force reached), ``resumed``.
    """
    import ase.io
    from ase.mep import NEB
    from ase.optimize import FIRE

    from mdkit.calculators import make_calculator

    if int(n_images) != n_images or n_images < 1:
        raise BarrierError(f"n_images must be a whole number >= 1, not {n_images}.")
    periodic = bool(initial.pbc.any())
    ends = []
    for state in (initial, final):
        copy = state.copy()
        copy.calc = SinglePointCalculator(copy, energy=state.get_potential_energy(),
                                          forces=state.get_forces())
        ends.append(copy)
    initial, final = ends
    if not periodic:
        _align(final, initial, moving)
    images = [initial] + [initial.copy() for _ in range(int(n_images))] + [final]
    # ends too: ASE's NEB moves the final image when it removes rotation and translation.
    # The factory may box or move the structure it is given (GPAW): it gets a copy, so
    # that every image keeps the frame of the band.
    for image in images:
        image.calc = make_calculator(calculator, image.copy(), charge, **dict(options or {}))
    neb = NEB(images, climb=True, method="improvedtangent",
              remove_rotation_and_translation=not periodic)
    hop_folder = HopFolder(folder).claim() if folder is not None else None
    state = hop_folder.read_band_state() if hop_folder is not None else None
    done, resumed = 0, False
    if state is not None:
        if state.get("hash") != key_hash:
            raise BarrierError(f"{folder} holds the band of a different computation; give "
                               "another output folder.")
        stored = ase.io.read(hop_folder.band, index=":")
        if len(stored) != len(images) or len(stored[0]) != len(initial):
            raise BarrierError(f"{hop_folder.band} does not fit this band ({len(stored)} "
                               "images); it was not written for it.")
        for image, saved in zip(images[1:-1], stored[1:-1]):
            image.positions = saved.positions
        done, resumed = int(state["n_steps"]), True
    else:
        neb.interpolate(method="idpp", apply_constraint=True)
        # a symmetric start stays on its symmetry's subspace, where the highest point
        # can be a higher-order saddle (hollow Ag12: five imaginary modes); a small
        # displacement of the moving atom lets the band fall to the first-order one
        # (displacing every atom would strain the ligands' stiff bonds: about 20 eV
        # for [Ag28(BDT)12]2- at 0.05 Å)
        rng = np.random.default_rng(SHAKE_SEED)
        for image in images[1:-1]:
            positions = image.positions.copy()
            positions[moving] += rng.normal(scale=SHAKE_A, size=3)
            image.set_positions(positions, apply_constraint=True)
    optimizer = FIRE(neb, logfile=None)
    # lines as every long computation gives them (the step limit is the whole work)
    log = LogLines("mdkit barrier", int(steps), "steps") if progress else None
    if log is not None:
        log.update(done)

    def write():
        nonlocal done
        done_now = done + optimizer.nsteps
        if hop_folder is not None:
            hop_folder.write_band(images, key_hash, done_now)
        if log is not None:
            energies = _band_energies(images)
            log.update(done_now, f"NEB fmax {_neb_fmax(neb):.3f} eV/Å (target {fmax}), "
                                 f"barrier now {energies.max() - energies[0]:.3f} eV")

    optimizer.attach(write, interval=WRITE_EVERY)
    converged = bool(optimizer.run(fmax=fmax, steps=max(int(steps) - done, 0)))
    done += optimizer.nsteps
    reached = _neb_fmax(neb)
    converged = converged or reached <= fmax
    if hop_folder is not None:
        hop_folder.write_band(images, key_hash, done)
    energies = _band_energies(images)
    finished = []
    for image, energy in zip(images, energies):
        copy = image.copy()
        copy.calc = SinglePointCalculator(copy, energy=float(energy),
                                          forces=image.get_forces())
        finished.append(copy)
    if not converged:
        warnings.warn(f"the band stopped after {done} steps at NEB fmax {reached:.3g} eV/Å, "
                      f"above the {fmax} eV/Å asked for.", BandConvergenceWarning,
                      stacklevel=2)
    return {"images": finished, "energies_eV": energies, "n_steps": done,
            "converged": converged, "fmax_eV_A": reached, "resumed": resumed}


def _neb_fmax(neb) -> float:
    forces = neb.get_forces().reshape(-1, 3)
    return float(np.sqrt((forces ** 2).sum(axis=1)).max())


# ------------------------------------------------------------- the barrier
def _labels(images, sites: SiteMap, final_sites: SiteMap, hop: Hop) -> list:
    """Images with site labels: the moving atom on whichever end site it is nearer."""
    atom = int(sites.atoms[hop.moving_site])
    # the relaxations may have moved the cluster in its box: labels in the band's frame
    occupied = np.flatnonzero(sites.atoms >= 0)
    shift = (images[0].positions[sites.atoms[occupied]] - sites.positions[occupied]).mean(axis=0)
    labelled = []
    for image in images:
        start = np.linalg.norm(image.positions[atom] - images[0].positions[atom])
        end = np.linalg.norm(image.positions[atom] - images[-1].positions[atom])
        current = sites if start <= end else final_sites
        out = image.copy()
        out.calc = SinglePointCalculator(out, energy=image.get_potential_energy())
        out.arrays["site"] = current.atom_sites(len(out))
        out.arrays["site_class"] = current.atom_classes(len(out))
        vacant = [{"site": int(i), "class": str(current.classes[i]),
                   "element": str(current.elements[i]),
                   "position": [round(float(x), 6) for x in current.positions[i] + shift]}
                  for i in current.vacant]
        out.info = {"charge": sites.charge, "vacant_sites": json.dumps(vacant),
                    "image": len(labelled), "energy_eV": float(image.get_potential_energy())}
        labelled.append(out)
    return labelled


def plot_profile(result: dict, stem, formats=("png",)) -> list[Path]:
    """Energy along the path (relative to the initial state) as a figure."""
    from matplotlib.figure import Figure

    energies = np.asarray(result["energies_eV"]) - result["energies_eV"][0]
    distance = np.asarray(result["path_A"])
    fig = Figure(figsize=(3.4, 2.4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(distance, energies, "o-", ms=4)
    top = int(np.argmax(energies))
    ax.annotate(f"{result['barrier_forward_eV']:.3f} eV", (distance[top], energies[top]),
                textcoords="offset points", xytext=(6, -10), fontsize=7)  # clear of the title
    ax.set_xlabel("path length / Å", fontsize=8)
    ax.set_ylabel("energy − initial / eV", fontsize=8)
    ax.set_title(result["hop_text"], fontsize=7)
    return [writer.save_figure(fig, Path(f"{stem}.{fmt}"), dpi=200) for fmt in formats]


def _path_lengths(images) -> np.ndarray:
    steps = [np.linalg.norm(b.positions - a.positions) for a, b in zip(images, images[1:])]
    return np.concatenate([[0.0], np.cumsum(steps)])


def barrier(atoms, sites: SiteMap, hop: Hop, calculator: str, options: dict | None = None,
            *, n_images: int = 5, fmax: float = 0.01, relax_fmax: float | None = None,
            steps: int = 1000, db=None, folder=None, progress: bool = True) -> dict:
    """Minimum-energy path and barriers of one hop.

    Parameters
    ----------
    atoms : ase.Atoms
        The structure with the vacancy at ``hop.vacant_site``; net charge
        from the SiteMap.  Constraints (e.g. ``FixAtoms`` on a slab) are kept.
    sites : SiteMap
    hop : Hop
        From :func:`find_hops`.
    calculator, options : str, dict
        Registry engine (:func:`mdkit.calculators.make_calculator`).
    n_images : int
        Inner images of the band.
    fmax : float
        eV/Å, NEB force criterion.  The default is tight because a looser band
        can stop on a higher-order saddle of a symmetric path (hollow Ag12
        with EMT: five imaginary modes at 0.02 eV/Å, one at 0.01 eV/Å), and
        rates need the first-order one.
    relax_fmax : float, optional
        eV/Å, force criterion of the two end-state relaxations; default
        ``fmax``, so that the ends are as converged as the band.
    steps : int
        Step limit of each relaxation and of the band.
    db : database, path or URL, optional
        Results database.  The end states are stored as ``kind="relaxed"``
        rows, the band as one ``kind="barrier"`` row (the saddle image, with
        every image in its data); asking again returns it without
        computing.
    folder : path, optional
        The hop's output folder (:class:`mdkit.barrierfolder.HopFolder`):
        the band with energies and site labels, its profile figure and
        barriers, and while the band is optimised its resume point.  A
        folder mdkit did not write is refused before any work.
    progress : bool
        Lines on stderr while the band is optimised.

    Returns
    -------
    dict
        ``hop`` (``"I-J"``), ``hop_text``, ``multiplicity``,
        ``equivalent_sites``, ``barrier_forward_eV``, ``barrier_back_eV``,
        ``reaction_eV`` (final minus initial), ``energies_eV`` (per image),
        ``path_A`` (cumulative path length), ``saddle_image``,
        ``converged``, ``fmax_eV_A``, ``n_steps``, ``from_database``,
        ``calculator``, ``images`` (the labelled band) and ``files``.
    """
    from mdkit.energetics import relax

    options = dict(options or {})
    relax_fmax = fmax if relax_fmax is None else relax_fmax
    charge = int(sites.charge)
    atoms = atoms.copy()
    atoms.info["charge"] = charge
    key = database.key_for(
        "barrier", atoms, calculator, options, charge=charge, hop=hop.name,
        vacant_site_position=np.round(sites.positions[hop.vacant_site], 4),
        n_images=int(n_images), fmax_target_eV_A=float(fmax),
        relax_fmax_eV_A=float(relax_fmax), max_steps=int(steps),
        method="CI-NEB improvedtangent, IDPP, FIRE")
    hop_folder = HopFolder(folder).claim() if folder is not None else None
    initial, final, final_sites = end_states(atoms, sites, hop)
    db_ = None if db is None else database.connect(db)
    row = database.lookup(db_, key) if db_ is not None else None
    if row is not None:
        images = _images_from_row(row, atoms)
        result = dict(json.loads(row.data["result"]), from_database=True)
    else:
        ends = []
        for state, label in ((initial, "initial"), (final, "final")):
            relaxed, _ = relax(state, calculator, options, relax_fmax, steps, db_,
                               optimizer="LBFGS", label=f"{hop.name} {label}")
            relaxed.set_constraint(state.constraints)
            ends.append(relaxed)
        band = run_band(*ends, calculator, options, charge=charge,
                        moving=int(sites.atoms[hop.moving_site]), n_images=n_images,
                        fmax=fmax, steps=steps, folder=folder, key_hash=key["hash"],
                        progress=progress)
        images = band["images"]
        energies = band["energies_eV"]
        top = int(np.argmax(energies))
        result = {"hop": hop.name, "hop_text": hop.describe(),
                  "multiplicity": hop.multiplicity,
                  "equivalent_sites": list(hop.equivalent), "distance_A": hop.distance_A,
                  "barrier_forward_eV": float(energies[top] - energies[0]),
                  "barrier_back_eV": float(energies[top] - energies[-1]),
                  "reaction_eV": float(energies[-1] - energies[0]),
                  "energies_eV": energies.tolist(), "path_A": _path_lengths(images).tolist(),
                  "saddle_image": top, "converged": band["converged"],
                  "fmax_eV_A": band["fmax_eV_A"], "n_steps": band["n_steps"],
                  "calculator": calculator, "options": options, "charge": charge,
                  "from_database": False}
        if db_ is not None:
            data = {"result": json.dumps({k: v for k, v in result.items()
                                          if k != "from_database"}),
                    "positions": np.array([image.positions for image in images]),
                    "cell": np.asarray(images[0].cell.array)}
            database.store(db_, images[top], key, data=data, hop=hop.name,
                           barrier_forward_eV=result["barrier_forward_eV"],
                           barrier_back_eV=result["barrier_back_eV"],
                           reaction_eV=result["reaction_eV"],
                           multiplicity=hop.multiplicity, converged=result["converged"],
                           n_steps=result["n_steps"], label=atoms.info.get("name"))
    result["images"] = _labels(images, sites, final_sites, hop)
    result["files"] = []
    if hop_folder is not None:
        result["files"] = [hop_folder.write_images(hop_folder.path_xyz, result["images"]),
                           *plot_profile(result, hop_folder.profile_stem, ("png",)),
                           writer.write_json(hop_folder.barrier_json,
                                             {k: v for k, v in result.items()
                                              if k not in ("images", "files")})]
    return result


def _images_from_row(row, atoms) -> list:
    from ase import Atoms

    result = json.loads(row.data["result"])
    images = []
    for positions, energy in zip(row.data["positions"], result["energies_eV"]):
        image = Atoms(atoms.numbers, positions=positions, cell=row.data["cell"],
                      pbc=atoms.pbc)
        image.calc = SinglePointCalculator(image, energy=float(energy))
        images.append(image)
    return images
