"""Bare icosahedral metal clusters (Mackay icosahedra) for EMT test systems."""

from __future__ import annotations

import numpy as np
from ase.cluster import Icosahedron

from mdkit.calculators import CALCULATORS
from mdkit.errors import StructureError
from mdkit.sites import SiteMap, sitemap_from_atoms

#: The metals the EMT engine knows (its registry entry's elements).
EMT_METALS = CALCULATORS["emt"].elements

#: Atom counts of the closed-shell Mackay icosahedra, by number of shells.
MAGIC = {2: 13, 3: 55, 4: 147, 5: 309, 6: 561}


def icosahedron(element: str = "Ag", n_atoms: int = 55) -> tuple:
    """A centred Mackay icosahedron with classes ``center``, ``shell``, ``surface``.

    ``surface`` is the outermost shell, ``shell`` every shell between it and
    the central atom (none for 13 atoms).  Nearest-neighbour distances come
    from the element's fcc lattice constant (ASE's reference state).

    Parameters
    ----------
    element : str
        A metal covered by ASE's EMT (Al, Cu, Ag, Au, Ni, Pd, Pt).
    n_atoms : int
        13, 55, 147, 309 or 561.

    Returns
    -------
    atoms : ase.Atoms
        Centred at the origin, ``info["charge"] = 0``.
    sites : SiteMap
    """
    if element not in EMT_METALS:
        raise StructureError(f"element {element!r} is not covered by EMT; "
                             f"choose one of {', '.join(EMT_METALS)}.")
    shells = {n: k for k, n in MAGIC.items()}.get(n_atoms)
    if shells is None:
        raise StructureError(f"{n_atoms} atoms is not a closed Mackay icosahedron; "
                             f"choose one of {', '.join(map(str, MAGIC.values()))}.")
    atoms = Icosahedron(element, shells)
    atoms.positions -= atoms.positions[0]  # the central atom at the origin
    atoms.info["charge"] = 0
    atoms.info["name"] = f"{element}{n_atoms} icosahedron"
    # ase.cluster.Icosahedron lists atoms shell by shell, centre first
    inner = MAGIC.get(shells - 1, 1)
    classes = np.array(["center"] + ["shell"] * (inner - 1) + ["surface"] * (n_atoms - inner))
    sites: SiteMap = sitemap_from_atoms(atoms, classes)
    return atoms, sites
