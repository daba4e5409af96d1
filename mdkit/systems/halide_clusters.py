"""Octahedral molybdenum halide cluster anions [Mo6X8 X6]2-.

The starting geometry is ideal O_h with bond lengths from crystal structures
of the (Bu4N)2[Mo6X14] salts; it is a model to relax, not a relaxed model.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from mdkit.errors import StructureError
from mdkit.sites import sitemap_from_atoms

#: Mo-X bond lengths (Å): (inner mu3, apical).  Cl from docs/science.md
#: (2.47-2.48, 2.38-2.44); Br and I from the [Mo6Br14]2- and [Mo6I14]2- salts.
BONDS = {"Cl": (2.475, 2.41), "Br": (2.61, 2.58), "I": (2.78, 2.80)}
MO_MO = 2.61  # Å, 2.60-2.62 in [Mo6Cl14]2-


def _per_site(value, n: int, where: str) -> list[str]:
    symbols = [value] * n if isinstance(value, str) else list(value)
    if len(symbols) != n:
        raise StructureError(f"{where} halides: give one element or a list of {n}, "
                             f"not {len(symbols)}.")
    for s in symbols:
        if s not in BONDS:
            raise StructureError(f"{where} halide {s!r} is not supported; "
                                 f"choose one of {', '.join(BONDS)}.")
    return symbols


def mo6x14(inner="Cl", apical="Cl") -> tuple:
    """[Mo6X8(inner)X6(apical)]2- in ideal O_h geometry, centred at the origin.

    Parameters
    ----------
    inner : str or sequence of 8 str
        Face-capping (mu3) halides: one element for all, or one per site.
    apical : str or sequence of 6 str
        Terminal halides, one per Mo (+x, -x, +y, -y, +z, -z).

    Returns
    -------
    atoms : ase.Atoms
        6 Mo, then the 8 inner and 6 apical halides; ``info["charge"] = -2``.
    sites : SiteMap
        Classes ``core`` (Mo), ``inner`` and ``apical``.
    """
    inner = _per_site(inner, 8, "inner")
    apical = _per_site(apical, 6, "apical")
    r_mo = MO_MO / np.sqrt(2.0)
    axes = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
                    float)
    faces = np.array([[x, y, z] for x in (1, -1) for y in (1, -1) for z in (1, -1)],
                     float) / np.sqrt(3.0)
    # inner X on the face normal at distance d with |d u - r_mo e|=bond:
    # d^2 - 2 d r_mo/sqrt(3) + r_mo^2 - bond^2 = 0, outer root
    b = r_mo / np.sqrt(3.0)
    d_inner = [b + np.sqrt(b * b - r_mo ** 2 + BONDS[s][0] ** 2) for s in inner]
    d_apical = [r_mo + BONDS[s][1] for s in apical]
    positions = np.vstack([r_mo * axes,
                           faces * np.array(d_inner)[:, None],
                           axes * np.array(d_apical)[:, None]])
    atoms = Atoms(["Mo"] * 6 + inner + apical, positions=positions)
    atoms.info["charge"] = -2
    classes = ["core"] * 6 + ["inner"] * 8 + ["apical"] * 6
    return atoms, sitemap_from_atoms(atoms, classes)
