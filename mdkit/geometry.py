"""How big is the ion: bond lengths, ring orientations, radii and Rg of one structure.

A size audit compares a model with structural facts (a crystal structure,
textbook bond lengths) before its CCS is trusted.  Everything is computed
from the positions alone; a :class:`~mdkit.sites.SiteMap`, when given, splits
the metal atoms by site class.

Units: Å and degrees; masses from ASE (amu).
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_masses, covalent_radii
from scipy.spatial.distance import cdist

from mdkit.errors import SiteMapError
from mdkit.sites import is_metal

#: Two atoms are bonded when closer than this factor times the sum of their covalent
#: radii (ASE's, Cordero et al. 2008): 1.2 keeps C...C across a ring (2.4 Å, cut at
#: 1.82 Å) out and takes Ag-S up to 3.0 Å (the longest in the DFT structure is 2.69 Å).
BOND_FACTOR = 1.2
#: Ring size of an aromatic ring (benzene).
RING_SIZE = 6


def bonded_pairs(atoms, factor: float = BOND_FACTOR) -> np.ndarray:
    """Index pairs (i < j) of bonded atoms, shape (n_pairs, 2).

    Parameters
    ----------
    atoms : ase.Atoms
    factor : float
        Bonded if the distance is below ``factor`` times the sum of the
        covalent radii (:data:`BOND_FACTOR`).
    """
    radii = covalent_radii[atoms.numbers]
    d = cdist(atoms.positions, atoms.positions)
    i, j = np.nonzero(np.triu(d < factor * (radii[:, None] + radii[None, :]), k=1))
    return np.column_stack([i, j])


def atom_labels(atoms, sites=None) -> list[str]:
    """Per-atom label: the element, with its site class for atoms on a site, e.g. ``Ag(shell)``."""
    symbols = atoms.get_chemical_symbols()
    if sites is None:
        return list(symbols)
    if len(sites.atoms) and sites.atoms.max() >= len(atoms):
        raise SiteMapError(f"the SiteMap names atom {sites.atoms.max()} but the structure has "
                           f"{len(atoms)} atoms; give the SiteMap of this structure.")
    classes = sites.atom_classes(len(atoms))
    return [s if c == "-" else f"{s}({c})" for s, c in zip(symbols, classes)]


def bond_statistics(atoms, sites=None, pairs=None) -> dict:
    """Bond-length statistics by pair of atom labels (element, site class for site atoms).

    Parameters
    ----------
    atoms : ase.Atoms
    sites : SiteMap, optional
        Splits metal atoms by site class: ``Ag(shell)-S``, ``Ag(staple)-S``, ...
    pairs : (n, 2) int array, optional
        Bonded pairs; default :func:`bonded_pairs`.

    Returns
    -------
    dict
        ``"A-B"`` (labels in alphabetical order) -> ``{"n", "mean", "std",
        "min", "max"}`` in Å.
    """
    pairs = bonded_pairs(atoms) if pairs is None else pairs
    labels = atom_labels(atoms, sites)
    lengths = np.linalg.norm(atoms.positions[pairs[:, 0]] - atoms.positions[pairs[:, 1]], axis=1)
    keys = ["-".join(sorted((labels[i], labels[j]))) for i, j in pairs]
    out = {}
    for key in sorted(set(keys)):
        values = lengths[[k == key for k in keys]]
        out[key] = _stats(values)
    return out


def aromatic_rings(atoms, pairs=None) -> list[np.ndarray]:
    """The six-membered carbon rings, each as its 6 atom indices in ring order."""
    pairs = bonded_pairs(atoms) if pairs is None else pairs
    symbols = np.array(atoms.get_chemical_symbols())
    neighbours = {}
    for i, j in pairs:
        if symbols[i] == "C" and symbols[j] == "C":
            neighbours.setdefault(i, set()).add(j)
            neighbours.setdefault(j, set()).add(i)
    rings, seen = [], set()
    for start in sorted(neighbours):
        for path in _cycles_from(start, neighbours):
            key = frozenset(path)
            if key not in seen:
                seen.add(key)
                rings.append(np.array(path))
    return rings


def _cycles_from(start, neighbours):
    """Simple cycles of RING_SIZE atoms through ``start`` (depth-first, tiny graphs)."""
    stack = [[start]]
    while stack:
        path = stack.pop()
        for nxt in neighbours[path[-1]]:
            if len(path) == RING_SIZE and nxt == start:
                yield path
            elif len(path) < RING_SIZE and nxt not in path and nxt > start:
                stack.append(path + [nxt])


def ring_normal(positions) -> np.ndarray:
    """Unit normal of the best plane through ``positions`` (n, 3): least-squares, by SVD."""
    centred = np.asarray(positions, float) - np.mean(positions, axis=0)
    return np.linalg.svd(centred)[2][-1]


def metal_centroid(atoms) -> np.ndarray | None:
    """Mean position of the metal atoms (Å), None if there are none."""
    metal = [is_metal(s) for s in atoms.get_chemical_symbols()]
    return atoms.positions[metal].mean(axis=0) if any(metal) else None


def ring_geometry(atoms, centre, pairs=None) -> list[dict]:
    """Each aromatic ring: its atoms, tilt to the radial direction and S...S across it.

    Parameters
    ----------
    atoms : ase.Atoms
    centre : (3,) array
        The metal centre (Å) the radial direction starts from.

    Returns
    -------
    list of dict
        ``carbons`` (indices), ``sulfurs`` (indices of S bonded to the ring),
        ``tilt_deg`` (angle between the ring normal and the line from
        ``centre`` to the ring centroid, 0-90: 0 = ring face-on to the metal,
        90 = ring edge-on, its plane holding the radial line), ``radius_A``
        (ring centroid from ``centre``) and ``s_s_A`` (distance between the
        ring's two S, None unless exactly two).
    """
    pairs = bonded_pairs(atoms) if pairs is None else pairs
    symbols = np.array(atoms.get_chemical_symbols())
    out = []
    for ring in aromatic_rings(atoms, pairs):
        in_ring = np.isin(pairs, ring)
        touching = pairs[in_ring.any(axis=1) & ~in_ring.all(axis=1)].ravel()
        sulfurs = sorted({int(k) for k in touching if symbols[k] == "S"})
        middle = atoms.positions[ring].mean(axis=0)
        radial = middle - np.asarray(centre, float)
        radius = float(np.linalg.norm(radial))
        normal = ring_normal(atoms.positions[ring])
        # arctan2 of sine and cosine stays exact near 0 and 90 degrees, where arccos does not
        tilt = np.arctan2(np.linalg.norm(np.cross(normal, radial)), abs(normal @ radial))
        s_s = (float(np.linalg.norm(atoms.positions[sulfurs[0]] - atoms.positions[sulfurs[1]]))
               if len(sulfurs) == 2 else None)
        out.append({"carbons": ring.tolist(), "sulfurs": sulfurs,
                    "tilt_deg": float(np.degrees(tilt)),
                    "radius_A": radius, "s_s_A": s_s})
    return out


def radii(atoms, centre, sites=None) -> dict:
    """Distances from ``centre`` (Å) by atom label (element, or element(site class)).

    Returns
    -------
    dict
        label -> ``{"n", "mean", "std", "min", "max"}`` in Å.
    """
    labels = np.array(atom_labels(atoms, sites))
    r = np.linalg.norm(atoms.positions - np.asarray(centre, float), axis=1)
    return {label: _stats(r[labels == label]) for label in dict.fromkeys(labels)}


def radius_of_gyration(atoms) -> float:
    """Mass-weighted radius of gyration about the centre of mass (Å), ASE's masses."""
    masses = atomic_masses[atoms.numbers]
    centred = atoms.positions - masses @ atoms.positions / masses.sum()
    return float(np.sqrt(masses @ (centred ** 2).sum(axis=1) / masses.sum()))


def size_audit(atoms, sites=None, centre=None) -> dict:
    """Everything that sets how big a ligated cluster ion is.

    Parameters
    ----------
    atoms : ase.Atoms
    sites : SiteMap, optional
        Splits metal atoms by site class in bonds and radii.
    centre : (3,) array, optional
        Origin of radii and ring tilts (Å); default the centroid of the metal
        atoms, or of all atoms if there is no metal.

    Returns
    -------
    dict
        ``bonds_A`` (:func:`bond_statistics`), ``rings`` (:func:`ring_geometry`),
        ``s_s_A`` and ``tilt_deg`` (statistics over the rings, None without
        rings), ``radii_A`` (:func:`radii`), ``rg_A`` (mass-weighted),
        ``centre_A`` (the origin used) and ``n_atoms``.  Statistics are
        ``{"n", "mean", "std", "min", "max"}`` in the unit of their key.
    """
    if centre is None:
        centre = metal_centroid(atoms)
        if centre is None:
            centre = atoms.positions.mean(axis=0)
    centre = np.asarray(centre, float)
    pairs = bonded_pairs(atoms)
    rings = ring_geometry(atoms, centre, pairs)
    s_s = [r["s_s_A"] for r in rings if r["s_s_A"] is not None]
    return {"n_atoms": len(atoms), "centre_A": centre.tolist(),
            "bonds_A": bond_statistics(atoms, sites, pairs), "rings": rings,
            "s_s_A": _stats(np.array(s_s)) if s_s else None,
            "tilt_deg": _stats(np.array([r["tilt_deg"] for r in rings])) if rings else None,
            "radii_A": radii(atoms, centre, sites), "rg_A": radius_of_gyration(atoms)}


def format_audit(audit: dict, title: str = "") -> str:
    """The audit as a plain-text table (Å, degrees)."""
    head = f"{'':<26} {'n':>4} {'mean':>7} {'std':>6} {'min':>7} {'max':>7}"
    lines = [title] if title else []

    def block(name, table):
        lines.extend(["", f"{name}", head])
        for key, s in table.items():
            lines.append(f"{key:<26} {s['n']:>4d} {s['mean']:7.3f} {s['std']:6.3f} "
                         f"{s['min']:7.3f} {s['max']:7.3f}")

    block("bonds / Å", audit["bonds_A"])
    rings = {k: audit[k] for k in ("s_s_A", "tilt_deg") if audit[k] is not None}
    if rings:
        block("rings (S...S / Å; tilt of ring normal to radial line / deg)",
              {{"s_s_A": "S...S across a ring", "tilt_deg": "ring tilt (deg)"}[k]: v
               for k, v in rings.items()})
    block("radii from the metal centre / Å", _outer_first(audit["radii_A"]))
    lines.extend(["", f"Rg (mass-weighted) {audit['rg_A']:.3f} Å"])
    return "\n".join(lines)


def _outer_first(table: dict) -> dict:
    """Metal labels first (as given), then the other labels by mean radius."""
    metal = [k for k in table if is_metal(k.split("(")[0])]
    other = sorted((k for k in table if k not in metal), key=lambda k: table[k]["mean"])
    return {k: table[k] for k in metal + other}


def _stats(values) -> dict:
    values = np.asarray(values, float)
    return {"n": int(len(values)), "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()), "max": float(values.max())}

