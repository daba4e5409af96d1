"""Dopant and vacancy operations on a structure with a SiteMap.

Charge bookkeeping follows the superatom picture of docs/science.md:

* **dope** keeps the number of free (valence s) electrons of the metal core,
  so swapping Ag (1 electron) for Hg (2) raises the charge by one:
  [Ag29(BDT)12]3- + Hg -> [Ag28Hg(BDT)12]2-.  Swapping one halide for
  another keeps the charge.
* **vacate** removes the atom as the species that leaves in the experiment:
  a metal as a neutral atom (Hg loss keeps [Ag28(BDT)12]2- at 2-), a halide as
  an anion ([Mo6Cl14]2- - Cl- -> [Mo6Cl13]-).
"""

from __future__ import annotations

import numpy as np

from mdkit.errors import SiteMapError
from mdkit.sites import HALOGENS, SiteMap

#: Electrons an atom gives to the cluster's free-electron count (group 10: 0,
#: coinage metals: 1, group 12: 2, ...); halides are anionic ligands.
VALENCE = {"Ni": 0, "Pd": 0, "Pt": 0, "Cu": 1, "Ag": 1, "Au": 1, "Zn": 2, "Cd": 2,
           "Hg": 2, "Al": 3, "Mo": 6, "W": 6, "F": -1, "Cl": -1, "Br": -1, "I": -1}


def _occupied_site(sites: SiteMap, site) -> int:
    chosen = sites.select(site)
    occupied = chosen[sites.atoms[chosen] >= 0]
    if len(occupied) == 0:
        what = (f"site {int(chosen[0])} ({sites.classes[chosen[0]]}) is" if len(chosen) == 1
                else f"every {site} site is")
        raise SiteMapError(f"{what} already vacant; occupied sites: "
                           f"{_describe(sites, sites.atoms >= 0)}.")
    return int(occupied[0])


def _describe(sites: SiteMap, mask) -> str:
    counts = {c: int(np.sum((sites.classes == c) & mask)) for c in sites.class_names}
    return ", ".join(f"{n} {c}" for c, n in counts.items() if n) or "none"


def dope(atoms, sites: SiteMap, site, element: str) -> tuple:
    """Replace the atom on a site by ``element``.

    Parameters
    ----------
    atoms : ase.Atoms
    sites : SiteMap
    site : str or int
        A site class (the first occupied site of that class is used; in the
        symmetric seed systems all sites of a class are equivalent) or a
        site index.
    element : str
        The dopant.

    Returns
    -------
    (ase.Atoms, SiteMap)
        New objects; the inputs are not changed.  ``info["charge"]`` and the
        SiteMap's charge follow the module's bookkeeping.
    """
    index = _occupied_site(sites, site)
    atom = int(sites.atoms[index])
    old = atoms[atom].symbol
    for symbol in (old, element):
        if symbol not in VALENCE:
            raise SiteMapError(f"no charge bookkeeping for element {symbol!r}; "
                               f"known elements: {', '.join(VALENCE)}.")
    if (old in HALOGENS) != (element in HALOGENS):
        raise SiteMapError(f"cannot put {element} on site {index}, which holds {old}: "
                           "metals replace metals and halides replace halides.")
    new_atoms, new_sites = atoms.copy(), sites.copy()
    new_atoms.symbols[atom] = element
    new_sites.elements[index] = element
    new_sites.charge = sites.charge + VALENCE[element] - VALENCE[old]
    new_atoms.info["charge"] = new_sites.charge
    return new_atoms, new_sites


def vacate(atoms, sites: SiteMap, site) -> tuple:
    """Remove the atom on a site, leaving the site vacant in the SiteMap.

    Parameters
    ----------
    atoms : ase.Atoms
    sites : SiteMap
    site : str or int
        A site class (its first occupied site) or a site index.

    Returns
    -------
    (ase.Atoms, SiteMap)
        New objects; the vacant site keeps its position, class and the
        element that left it.
    """
    index = _occupied_site(sites, site)
    atom = int(sites.atoms[index])
    leaving = atoms[atom].symbol
    new_atoms = atoms.copy()
    del new_atoms[atom]
    new_sites = sites.copy()
    new_sites.atoms[index] = -1
    new_sites.atoms[new_sites.atoms > atom] -= 1
    new_sites.charge = sites.charge + (1 if leaving in HALOGENS else 0)
    new_atoms.info["charge"] = new_sites.charge
    return new_atoms, new_sites
