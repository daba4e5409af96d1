"""Reference sites of a cluster: the SiteMap, and classifying sites from geometry.

A :class:`SiteMap` lists the sites of a reference structure (positions in Å
in the cluster frame), the class of each site (``center``, ``shell``,
``tetrahedral``, ``staple``, ``surface``, ``core``, ``inner``, ``apical``),
the element the reference put there, which atom of the structure sits on it
(``-1`` for a vacant site) and the net charge of the ion.  Builders return
one beside their ``ase.Atoms``; :func:`classify_sites` derives one from the
geometry alone, for structures a user brings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import cdist

from mdkit.errors import SiteMapError

#: Site classes in the order tables and plots list them, inner to outer.
CLASS_ORDER = ("center", "shell", "tetrahedral", "staple", "surface",
               "core", "inner", "apical")

#: Classes that are the core of their cluster, whose vacancy the migration study follows:
#: the centre of a centred cluster, the M6 octahedron of a halide cluster.
CORE_CLASSES = ("center", "core")

NON_METALS = frozenset("H He B C N O F Ne Si P S Cl Ar As Se Br Kr Te I Xe At Rn".split())
HALOGENS = frozenset("F Cl Br I".split())


@dataclass(eq=False)
class SiteMap:
    """Sites of a reference cluster structure.

    Parameters
    ----------
    positions : (n_sites, 3) array of float
        Site positions in Å, in the frame of the reference structure.
    classes : (n_sites,) array of str
        Site class of each site.
    elements : (n_sites,) array of str
        Element the reference structure holds on each site (for a vacant
        site: the element that was removed from it).
    atoms : (n_sites,) array of int
        Index of the atom of the structure sitting on each site, ``-1`` where
        the site is vacant.
    charge : int
        Net charge of the ion, in units of e.
    """

    positions: np.ndarray
    classes: np.ndarray
    elements: np.ndarray
    atoms: np.ndarray
    charge: int = 0

    def __post_init__(self):
        self.positions = np.asarray(self.positions, dtype=float).reshape(-1, 3)
        self.classes = np.asarray(self.classes, dtype=str)
        self.elements = np.asarray(self.elements, dtype=str)
        self.atoms = np.asarray(self.atoms, dtype=int)
        self.charge = int(self.charge)
        n = len(self.positions)
        for name in ("classes", "elements", "atoms"):
            if len(getattr(self, name)) != n:
                raise SiteMapError(f"SiteMap has {n} site positions but "
                                   f"{len(getattr(self, name))} {name}; they must match.")

    def __len__(self):
        return len(self.positions)

    @property
    def vacant(self) -> np.ndarray:
        """Indices of the vacant sites."""
        return np.flatnonzero(self.atoms < 0)

    @property
    def class_names(self) -> list[str]:
        """The classes present, inner to outer."""
        present = set(self.classes.tolist())
        known = [c for c in CLASS_ORDER if c in present]
        return known + sorted(present - set(known))

    @property
    def core_classes(self) -> tuple[str, ...]:
        """The classes of this map that form the core (see :data:`CORE_CLASSES`)."""
        return tuple(c for c in self.class_names if c in CORE_CLASSES)

    def class_counts(self, occupied_only: bool = False) -> dict[str, int]:
        """Number of sites of each class (only occupied ones if asked)."""
        keep = self.atoms >= 0 if occupied_only else np.ones(len(self), bool)
        return {c: int(np.sum((self.classes == c) & keep)) for c in self.class_names}

    def select(self, site: str | int, occupied: bool | None = None) -> np.ndarray:
        """Site indices for a class name or a single site index.

        Parameters
        ----------
        site : str or int
            A site class (e.g. ``"shell"``) or a site index.
        occupied : bool, optional
            Keep only occupied (True) or only vacant (False) sites.
        """
        if isinstance(site, (int, np.integer)) or (isinstance(site, str) and site.isdigit()):
            index = int(site)
            if not 0 <= index < len(self):
                raise SiteMapError(f"site index {index} is out of range: this structure "
                                   f"has sites 0 to {len(self) - 1}.")
            chosen = np.array([index])
        else:
            if site not in self.class_names:
                raise SiteMapError(f"unknown site class {site!r}: this structure has "
                                   f"{', '.join(self.class_names)}.")
            chosen = np.flatnonzero(self.classes == site)
        if occupied is True:
            chosen = chosen[self.atoms[chosen] >= 0]
        elif occupied is False:
            chosen = chosen[self.atoms[chosen] < 0]
        return chosen

    def atom_classes(self, n_atoms: int, missing: str = "-") -> np.ndarray:
        """Per-atom site class, ``missing`` for atoms on no site (ligand atoms)."""
        labels = np.full(n_atoms, missing, dtype=object)
        occupied = self.atoms >= 0
        labels[self.atoms[occupied]] = self.classes[occupied]
        return labels.astype(str)

    def atom_sites(self, n_atoms: int) -> np.ndarray:
        """Per-atom site index, ``-1`` for atoms on no site."""
        sites = np.full(n_atoms, -1, dtype=int)
        occupied = self.atoms >= 0
        sites[self.atoms[occupied]] = np.flatnonzero(occupied)
        return sites

    def copy(self) -> "SiteMap":
        return SiteMap(self.positions.copy(), self.classes.copy(), self.elements.copy(),
                       self.atoms.copy(), self.charge)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (positions in Å)."""
        return {"charge": self.charge,
                "sites": [{"class": c, "element": e, "atom": int(a),
                           "position": [round(float(x), 8) for x in p]}
                          for p, c, e, a in zip(self.positions, self.classes,
                                                self.elements, self.atoms)]}

    @classmethod
    def from_dict(cls, data: dict) -> "SiteMap":
        sites = data["sites"]
        return cls([s["position"] for s in sites], [s["class"] for s in sites],
                   [s["element"] for s in sites], [s["atom"] for s in sites],
                   data.get("charge", 0))

    def save(self, path: str | Path) -> None:
        """Write the SiteMap as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "SiteMap":
        """Read a SiteMap written by :meth:`save`."""
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError) as err:
            raise SiteMapError(f"{path} is not a readable SiteMap file ({err}).") from None


def sitemap_from_atoms(atoms, classes, indices=None, charge=None) -> SiteMap:
    """A SiteMap whose sites are atoms of ``atoms`` at their current positions.

    Parameters
    ----------
    atoms : ase.Atoms
    classes : sequence of str
        Class of each site.
    indices : sequence of int, optional
        The atom on each site; default the first ``len(classes)`` atoms.
    charge : int, optional
        Net charge; default ``atoms.info["charge"]`` (0 if absent).
    """
    indices = np.arange(len(classes)) if indices is None else np.asarray(indices, int)
    if charge is None:
        charge = int(atoms.info.get("charge", 0))
    symbols = np.array(atoms.get_chemical_symbols())
    return SiteMap(atoms.positions[indices], classes, symbols[indices], indices, charge)


def is_metal(symbol: str) -> bool:
    return symbol not in NON_METALS


#: Atoms closer than this many times the sum of their covalent radii count as bonded
#: when a structure is checked for being one cluster (generous: a stretched bond stays one).
BONDED_FACTOR = 1.5


def check_distances(atoms, minimum: float = 0.5, source: str = "structure") -> None:
    """Raise if a coordinate is not finite, two atoms are closer than ``minimum`` Å (a
    broken or duplicated file), or the atoms form more than one cluster (a file of two
    ions, or an atom far from the rest, would give silently wrong sites and Rg)."""
    finite = np.isfinite(atoms.positions).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise SiteMapError(f"{source}: atom {bad} ({atoms[bad].symbol}) has a coordinate that "
                           f"is not finite ({atoms.positions[bad].tolist()}); every coordinate "
                           "must be a number in Å.")
    if len(atoms) < 2:
        return
    d = cdist(atoms.positions, atoms.positions)
    np.fill_diagonal(d, np.inf)
    i, j = np.unravel_index(np.argmin(d), d.shape)
    if d[i, j] < minimum:
        symbols = atoms.get_chemical_symbols()
        raise SiteMapError(
            f"{source}: atoms {min(i, j)} ({symbols[min(i, j)]}) and {max(i, j)} "
            f"({symbols[max(i, j)]}) are {d[i, j]:.3f} Å apart; atoms must be at least "
            f"{minimum} Å apart.")
    from ase.data import covalent_radii
    from scipy.sparse.csgraph import connected_components

    radii = covalent_radii[atoms.numbers]
    n, label = connected_components(d < BONDED_FACTOR * (radii[:, None] + radii[None, :]),
                                    directed=False)
    if n > 1:
        sizes = np.bincount(label)
        raise SiteMapError(f"{source} holds {n} separate clusters (of {', '.join(map(str, sizes))}"
                           " atoms); give one cluster per file.")


def classify_sites(atoms, charge: int | None = None) -> SiteMap:
    """Classify the sites of a cluster from its geometry alone.

    Three families are recognised from the composition:

    * **halide clusters** (an M6 octahedron with halides, e.g. [Mo6Cl14]2-):
      metal sites ``core``; halide sites ``inner`` (bridging three or more
      metals) or ``apical`` (bound to one); a metal with no apical halide gets
      a vacant ``apical`` site on its outward axis (a lacuna);
    * **ligand-protected clusters** (metals with S or other non-metals):
      ``center`` and its icosahedral ``shell``; of the remaining metals,
      those in M3S3 rings (triangles of metals that pairwise share an S) are
      ``staple``, those sharing S with two or more such rings ``tetrahedral``,
      any other ``staple`` (e.g. Au2(SR)3 staples);
    * **bare metal clusters**: ``center``, ``surface`` (within 1 Å of the
      convex hull) and ``shell`` (everything else inside).

    Only metal sites are listed for the first two families' metals and the
    halides; ligand atoms (S, C, H) get no site.  An empty icosahedral centre
    (no metal within 0.5 nearest-neighbour distances of the centre of the
    core, the core shell intact around it) is added as a vacant ``center``
    site.  Other vacancies cannot be seen without a reference; a SiteMap
    written by mdkit keeps them.

    Parameters
    ----------
    atoms : ase.Atoms
    charge : int, optional
        Net charge; default ``atoms.info["charge"]`` or 0.
    """
    if charge is None:
        charge = int(atoms.info.get("charge", 0))
    symbols = np.array(atoms.get_chemical_symbols())
    metal = np.array([is_metal(s) for s in symbols])
    if not metal.any():
        raise SiteMapError("the structure has no metal atoms, so it has no cluster sites "
                           "to classify.")
    halide = np.isin(symbols, list(HALOGENS))
    ligand = ~metal & ~halide
    if halide.any() and not ligand.any():
        return _classify_halide_cluster(atoms, symbols, metal, halide, charge)
    return _classify_metal_cluster(atoms, symbols, metal, ligand.any(), charge)


def _nn_distance(positions: np.ndarray) -> float:
    """Median nearest-neighbour distance among ``positions`` (Å)."""
    d = cdist(positions, positions)
    np.fill_diagonal(d, np.inf)
    return float(np.median(d.min(axis=1)))


def _classify_metal_cluster(atoms, symbols, metal, ligated, charge) -> SiteMap:
    pos = atoms.positions
    m_idx = np.flatnonzero(metal)
    m_pos = pos[m_idx]
    if len(m_idx) < 4:
        return SiteMap(m_pos, ["surface"] * len(m_idx), symbols[m_idx], m_idx, charge)
    nn = _nn_distance(m_pos)
    centroid = m_pos.mean(axis=0)
    r = np.linalg.norm(m_pos - centroid, axis=1)
    inner = int(np.argmin(r))
    # A hole at the centre: no atom near it, but a full first shell around it.
    hollow = r[inner] > 0.5 * nn and np.sum(r < 1.25 * nn) >= 10
    if hollow:
        center_pos = m_pos[r < 1.25 * nn].mean(axis=0)
    else:
        center_pos = m_pos[inner]
    if ligated:
        classes = _classify_ligated(pos, symbols, m_idx, center_pos, nn, hollow, inner)
    else:
        classes = _classify_bare(m_pos, center_pos, hollow, inner)
    site_pos, site_cls = m_pos, classes
    site_el, site_atoms = symbols[m_idx], m_idx
    if hollow:
        # the vacant centre takes the element of its shell neighbours
        shell_el = symbols[m_idx][np.argmin(r)]
        site_pos = np.vstack([center_pos, m_pos])
        site_cls = np.concatenate([["center"], classes])
        site_el = np.concatenate([[shell_el], site_el])
        site_atoms = np.concatenate([[-1], m_idx])
    return SiteMap(site_pos, site_cls, site_el, site_atoms, charge)


def _classify_bare(m_pos, center_pos, hollow, inner) -> np.ndarray:
    classes = np.full(len(m_pos), "shell", dtype=object)
    try:
        hull = ConvexHull(m_pos)
        # facet equations are n.x + b <= 0 inside; depth = distance to nearest facet
        depth = -(m_pos @ hull.equations[:, :3].T + hull.equations[:, 3]).max(axis=1)
        classes[depth < 1.0] = "surface"
    except QhullError:  # flat or linear cluster: every atom is on the surface
        classes[:] = "surface"
    if not hollow and classes[inner] != "surface":
        classes[inner] = "center"
    return classes.astype(str)


def _classify_ligated(pos, symbols, m_idx, center_pos, nn, hollow, inner) -> np.ndarray:
    m_pos = pos[m_idx]
    classes = np.full(len(m_idx), "", dtype=object)
    from_center = np.linalg.norm(m_pos - center_pos, axis=1)
    core = from_center < 1.25 * nn
    if not hollow:
        classes[inner] = "center"
        core[inner] = False
    classes[core] = "shell"
    outer = np.flatnonzero(classes == "")
    if len(outer) == 0:
        return classes.astype(str)
    # metals "share" a ligand atom when both are bonded to it
    lig_idx = np.flatnonzero([not is_metal(s) for s in symbols])
    bonded = cdist(pos[m_idx[outer]], pos[lig_idx]) < _bond_cutoff(symbols[m_idx[outer]],
                                                                   symbols[lig_idx])
    shares = (bonded.astype(int) @ bonded.T.astype(int)) > 0
    np.fill_diagonal(shares, False)
    motif = np.full(len(outer), -1)
    n_motifs = 0
    for a in range(len(outer)):
        for b in np.flatnonzero(shares[a]):
            for c in np.flatnonzero(shares[a] & shares[b]):
                if motif[[a, b, c]].max() < 0:
                    motif[[a, b, c]] = n_motifs
                    n_motifs += 1
    for a in range(len(outer)):
        if motif[a] >= 0:
            classes[outer[a]] = "staple"
            continue
        touched = {motif[b] for b in np.flatnonzero(shares[a]) if motif[b] >= 0}
        classes[outer[a]] = "tetrahedral" if len(touched) >= 2 else "staple"
    return classes.astype(str)


def _bond_cutoff(symbols_a, symbols_b) -> np.ndarray:
    """Bond cutoffs (Å) between two sets of atoms: 1.24 x the sum of covalent radii."""
    from ase.data import atomic_numbers, covalent_radii

    ra = covalent_radii[[atomic_numbers[s] for s in symbols_a]]
    rb = covalent_radii[[atomic_numbers[s] for s in symbols_b]]
    return 1.24 * (ra[:, None] + rb[None, :])


def _classify_halide_cluster(atoms, symbols, metal, halide, charge) -> SiteMap:
    pos = atoms.positions
    m_idx, x_idx = np.flatnonzero(metal), np.flatnonzero(halide)
    bonded = cdist(pos[x_idx], pos[m_idx]) < _bond_cutoff(symbols[x_idx], symbols[m_idx])
    n_metal = bonded.sum(axis=1)
    loose = np.flatnonzero(n_metal == 0)
    if len(loose):
        i = x_idx[loose[0]]
        raise SiteMapError(f"atom {i} ({symbols[i]}) is bound to no metal atom, so it is on "
                           "no site of the cluster; remove it or check the geometry.")
    x_cls = np.where(n_metal >= 2, "inner", "apical")
    sites_pos = [pos[m_idx], pos[x_idx]]
    sites_cls = [["core"] * len(m_idx), x_cls]
    sites_el = [symbols[m_idx], symbols[x_idx]]
    sites_at = [m_idx, x_idx]
    apical = n_metal == 1
    has_apical = bonded[apical].any(axis=0)
    if apical.any() and not has_apical.all():
        # a lacuna: put the vacant site where the missing apical halide would sit
        centre = pos[m_idx].mean(axis=0)
        bond = np.mean([np.linalg.norm(pos[x_idx[k]] - pos[m_idx[np.argmax(bonded[k])]])
                        for k in np.flatnonzero(apical)])
        element = symbols[x_idx[apical]][0]
        for j in np.flatnonzero(~has_apical):
            axis = pos[m_idx[j]] - centre
            sites_pos.append([pos[m_idx[j]] + bond * axis / np.linalg.norm(axis)])
            sites_cls.append(["apical"])
            sites_el.append([element])
            sites_at.append([-1])
    return SiteMap(np.vstack(sites_pos), np.concatenate(sites_cls),
                   np.concatenate(sites_el), np.concatenate(sites_at), charge)
