"""[Ag29(BDT)12]3-: the shipped model (relaxed with SevenNet-0) and its SiteMap.

The model is built T-symmetric and relaxed by
:mod:`mdkit.systems.ag29_geometry` (run it as a module to rebuild the data
file); loading the shipped file costs milliseconds.
"""

from __future__ import annotations

from importlib.resources import files

from mdkit.sites import sitemap_from_atoms

DATA = files("mdkit") / "data" / "ag29_bdt12.xyz"


def ag29_bdt12() -> tuple:
    """The relaxed [Ag29(BDT)12]3- model (173 atoms, C72H48Ag29S24).

    Returns
    -------
    atoms : ase.Atoms
        Centre Ag at the origin, Å; atoms 0-28 are Ag in the order of
        ``SITE_CLASSES`` (1 center, 12 shell, 4 tetrahedral, 12 staple),
        then S, C, H.  ``info["charge"] = -3``.
    sites : SiteMap
        The 29 Ag sites.
    """
    import ase.io

    from mdkit.systems.ag29_geometry import SITE_CLASSES

    with DATA.open() as handle:
        atoms = ase.io.read(handle, format="extxyz")
    # keep the file's record of how the model was relaxed: CCS results cite their geometry
    atoms.info = {"charge": -3, "name": "[Ag29(BDT)12]3-",
                  "source": f"mdkit/data/ag29_bdt12.xyz: {atoms.info.get('source', '')}"}
    return atoms, sitemap_from_atoms(atoms, list(SITE_CLASSES))
