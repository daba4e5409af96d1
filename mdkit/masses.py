"""Hydrogen mass repartitioning: heavier hydrogens for a longer MD time step.

The fastest motions of a ligated cluster are the C-H stretches (period about
11 fs), which limit velocity Verlet to about 1 fs.  Moving mass from each
carbon to its hydrogens slows them (at 4 amu the C-H stretch period roughly
doubles) while the total mass, the centre of mass and the heavy-atom
framework's dynamics barely change, so a 2 fs step conserves energy as 1 fs
did (Hopkins et al., J. Chem. Theory Comput. 11, 1864 (2015)).  Equilibrium
properties do not depend on the masses at all; only the hydrogens' own
time scales are changed.
"""

from __future__ import annotations

import numpy as np
from ase.data import covalent_radii

from mdkit.errors import MdkitError


class MassError(MdkitError):
    """A mass repartitioning that cannot be done as asked."""


def repartition_hydrogen_mass(atoms, hydrogen_mass_amu: float) -> np.ndarray:
    """Set every H to ``hydrogen_mass_amu``, taking the added mass from its bonded atom.

    Parameters
    ----------
    atoms : ase.Atoms
        Changed in place (its masses); positions are untouched.
    hydrogen_mass_amu : float
        The new hydrogen mass in amu (ASE mass units).

    Returns
    -------
    ndarray, shape (n_atoms,)
        The new masses in amu; their sum equals the old total.

    Raises
    ------
    MassError
        If a hydrogen has no bonded heavier atom (within 1.25 x the sum of
        covalent radii), or a partner would be left lighter than the new
        hydrogen mass.
    """
    masses = atoms.get_masses().copy()
    numbers = atoms.numbers
    hydrogens = np.flatnonzero(numbers == 1)
    heavy = np.flatnonzero(numbers != 1)
    if not len(hydrogens):
        return masses
    if not len(heavy):
        raise MassError("hydrogen_mass_amu needs heavier atoms to take mass from; this "
                        "structure has only hydrogen.")
    d = np.linalg.norm(atoms.positions[hydrogens, None] - atoms.positions[None, heavy], axis=2)
    partner = heavy[np.argmin(d, axis=1)]
    reach = 1.25 * (covalent_radii[1] + covalent_radii[numbers[partner]])
    lonely = hydrogens[d.min(axis=1) > reach]
    if len(lonely):
        raise MassError(f"hydrogen atom {lonely[0]} has no bonded heavier atom to take mass "
                        "from; hydrogen_mass_amu needs every H bonded.")
    added = hydrogen_mass_amu - masses[hydrogens]
    masses[hydrogens] = hydrogen_mass_amu
    np.subtract.at(masses, partner, added)
    light = partner[masses[partner] < hydrogen_mass_amu]
    if len(light):
        raise MassError(f"atom {light[0]} ({atoms[light[0]].symbol}) would weigh "
                        f"{masses[light[0]]:.2f} amu after giving mass to its hydrogens, "
                        f"less than they would; choose a smaller hydrogen_mass_amu.")
    atoms.set_masses(masses)
    return masses
