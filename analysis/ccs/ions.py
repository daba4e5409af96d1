"""Ions from structure files, with their partial charges when the file has them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .parameters import CCSError


def read_ion(path, charge: int | None = None) -> tuple:
    """Read any structure for a CCS: no cluster sites needed.

    Parameters
    ----------
    path : str or Path
        Any format ``ase.io.read`` knows (XYZ, extended XYZ, PDB, CIF, ...);
        the first frame is used.  Per-atom charges (e) are taken from an
        extended-XYZ ``initial_charges`` or ``charges`` column.
    charge : int, optional
        Net charge (e); default the file's ``charge`` or the sum of its
        per-atom charges, else 0.

    Returns
    -------
    (ase.Atoms, charges or None)
        ``atoms.info["charge"]`` holds the net charge; charges is an (n,)
        array when the file gives per-atom charges.
    """
    from mdkit.systems.io import read_atoms

    path = Path(path)
    atoms = read_atoms(path)
    charges = None
    for key in ("initial_charges", "charges"):
        if key in atoms.arrays and np.any(atoms.arrays[key] != 0):
            charges = np.asarray(atoms.arrays[key], dtype=float)
            bad = np.flatnonzero(~np.isfinite(charges))
            if bad.size:
                raise CCSError(f"{path}: atom {bad[0]} ({atoms[bad[0]].symbol}) has charge "
                               f"{charges[bad[0]]} in the {key} column; per-atom charges must "
                               "be finite numbers in e.")
            break
    if charges is not None:
        net = float(charges.sum())
        if charge is not None and abs(net - charge) > 0.01:
            raise CCSError(f"{path}: its per-atom charges sum to {net:+.3f} e, not the "
                           f"charge {charge:+d} asked for; drop --charge or fix the file.")
        atoms.info["charge"] = round(net)
    else:
        atoms.info["charge"] = int(charge if charge is not None else atoms.info.get("charge", 0))
    atoms.pbc = False
    return atoms, charges
