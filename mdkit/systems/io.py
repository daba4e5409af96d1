"""Reading and writing structures with their sites.

Extended XYZ (``.xyz``, ``.extxyz``) written here carries everything: the net
charge, each atom's site index and class, and the vacant sites (position,
class, element that left) as JSON in the comment line.  Other formats ASE
writes (CIF, PDB, ...) carry the geometry only; reading them classifies the
sites from geometry again.
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from mdkit.errors import StructureError
from mdkit.sites import SiteMap, check_distances, classify_sites

EXTXYZ = (".xyz", ".extxyz")


def read_atoms(path):
    """The first frame of a structure file, checked: it exists, parses, holds atoms.

    Coordinates must be finite and form one cluster
    (:func:`mdkit.sites.check_distances`).  Raises :class:`StructureError`.
    """
    import ase.io  # ~0.7 s: imported where needed, so spec errors stay instant

    path = Path(path)
    if not path.is_file():
        raise StructureError(f"structure file {path} does not exist.")
    try:
        atoms = ase.io.read(path, index=0)
    except Exception as err:  # ase raises many types for unparsable files
        raise StructureError(f"{path} could not be read as a structure "
                             f"({type(err).__name__}: {err}); give an XYZ, extended XYZ, "
                             "CIF or PDB file.") from None
    if len(atoms) == 0:
        raise StructureError(f"{path} holds no atoms.")
    check_distances(atoms, source=str(path))
    return atoms


def read_structure(path, charge: int | None = None) -> tuple:
    """Read a cluster structure and its sites.

    Parameters
    ----------
    path : str or Path
        Any format ``ase.io.read`` knows by extension (XYZ, extended XYZ,
        CIF, PDB, ...), holding one cluster (the first frame is used).
    charge : int, optional
        Net charge; default the file's ``charge`` (extended XYZ) or 0.

    Returns
    -------
    (ase.Atoms, SiteMap)
        Sites come from the file when mdkit wrote it, otherwise from
        :func:`mdkit.sites.classify_sites`.
    """
    atoms = read_atoms(path)
    if charge is not None:
        atoms.info["charge"] = int(charge)
    atoms.info["charge"] = int(atoms.info.get("charge", 0))
    atoms.pbc = False
    if "site" in atoms.arrays and "site_class" in atoms.arrays:
        sites = _sites_from_arrays(atoms, path)
    else:
        sites = classify_sites(atoms)
    for key in ("site", "site_class"):
        atoms.arrays.pop(key, None)
    atoms.info.pop("vacant_sites", None)
    return atoms, sites


def _vacant_sites(atoms, path) -> list[dict]:
    """The vacant-site records of an mdkit extended XYZ, each checked whole.

    A record is ``{"site": index, "class": str, "element": str, "position":
    [x, y, z]}`` (Å), as :func:`write_structure` writes it.
    """
    try:
        records = json.loads(atoms.info.get("vacant_sites", "[]"))
    except (TypeError, ValueError):  # not a string, or not JSON
        records = None
    if not isinstance(records, list):
        raise StructureError(f"{path}: vacant_sites is not a JSON list of sites; the file is "
                             "damaged.")
    for number, record in enumerate(records):
        problem = _record_problem(record)
        if problem:
            raise StructureError(f"{path}: vacant_sites record {number} {problem}; each record "
                                 "needs site (an index), class, element and position "
                                 "([x, y, z] in Å).")
    return records


def _record_problem(record) -> str | None:
    if not isinstance(record, dict):
        return "is not a table"
    for key in ("site", "class", "element", "position"):
        if key not in record:
            return f"has no {key}"
    site, position = record["site"], record["position"]
    if isinstance(site, bool) or not isinstance(site, Integral) or site < 0:
        return f"has site {site!r}, not a site index"
    for key in ("class", "element"):
        if not isinstance(record[key], str) or not record[key]:
            return f"has {key} {record[key]!r}, not a name"
    if not (isinstance(position, list) and len(position) == 3 and all(
            isinstance(x, Real) and not isinstance(x, bool) and math.isfinite(x)
            for x in position)):
        return f"has position {position!r}, not three finite numbers"
    return None


def _sites_from_arrays(atoms, path) -> SiteMap:
    site = atoms.arrays["site"].astype(int)
    classes = atoms.arrays["site_class"]
    vacant = _vacant_sites(atoms, path)
    n = max([int(site.max()) + 1] + [v["site"] + 1 for v in vacant])
    positions = np.zeros((n, 3))
    cls = np.full(n, "", dtype=object)
    el = np.full(n, "", dtype=object)
    at = np.full(n, -1)
    on_site = np.flatnonzero(site >= 0)
    positions[site[on_site]] = atoms.positions[on_site]
    cls[site[on_site]] = classes[on_site]
    el[site[on_site]] = np.array(atoms.get_chemical_symbols())[on_site]
    at[site[on_site]] = on_site
    for v in vacant:
        positions[v["site"]], cls[v["site"]], el[v["site"]] = v["position"], v["class"], v["element"]
    if (cls == "").any():
        raise StructureError(f"{path}: site {int(np.flatnonzero(cls == '')[0])} is neither "
                             "held by an atom nor listed in vacant_sites; the file is damaged.")
    return SiteMap(positions, cls.astype(str), el.astype(str), at, atoms.info["charge"])


def write_structure(path, atoms, sites: SiteMap | None = None) -> None:
    """Write a structure; extended XYZ also keeps charge and sites.

    The format follows the extension (``.xyz`` is written as extended XYZ).
    """
    import ase.io

    path = Path(path)
    out = atoms.copy()
    out.calc = None
    if path.suffix.lower() in EXTXYZ and sites is not None:
        out.arrays["site"] = sites.atom_sites(len(out))
        out.arrays["site_class"] = sites.atom_classes(len(out))
        vacant = [{"site": int(i), "class": str(sites.classes[i]),
                   "element": str(sites.elements[i]),
                   "position": [round(float(x), 6) for x in sites.positions[i]]}
                  for i in sites.vacant]
        if vacant:
            out.info["vacant_sites"] = json.dumps(vacant)
        out.info["charge"] = sites.charge
        ase.io.write(path, out, format="extxyz")
        return
    try:
        ase.io.write(path, out)
    except Exception as err:
        raise StructureError(f"cannot write {path} ({type(err).__name__}: {err}); "
                             "use .xyz (extended XYZ), .cif or .pdb.") from None
