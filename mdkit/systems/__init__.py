"""Structure builders: each returns ``(ase.Atoms, SiteMap)``.

:func:`build` knows the seed systems by the names the command line uses;
the builders themselves take the chemistry as arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Callable

import numpy as np

from mdkit.errors import StructureError

# Builders load on first use (PEP 562), so that validating a run spec, which
# only needs the names below, does not pay for SciPy and ase.io.
_LAZY = {"ag29_bdt12": "ag29", "icosahedron": "bare", "dope": "defects", "vacate": "defects",
         "read_structure": "io", "write_structure": "io", "mo6x14": "halide_clusters"}

__all__ = ["SYSTEMS", "BUILDERS", "AG28_ISOMERS", "FAMILIES", "build", "build_family", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f"mdkit.systems.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mdkit.systems' has no attribute {name!r}")

#: The four [Ag28(BDT)12]2- isomers of the Hg-loss study, by vacant site class.
AG28_ISOMERS = {"center": "Iso1", "shell": "Iso2", "tetrahedral": "Iso3", "staple": "Iso4"}


@dataclass(frozen=True)
class Builder:
    """A named system of the command line: what it is and how it is made.

    ``make(dope_spec, vacancy) -> (atoms, sites, dope_spec, vacancy)`` builds
    the system and returns the defects it did not make itself (a builder that
    defines a defect, such as the Hg-doped cluster's dopant, consumes it with
    its own default site); :func:`build` makes the rest.
    """

    description: str
    make: Callable
    #: Names of isomers by vacant site class (the Hg-loss study's Iso1-4).
    isomers: dict | None = None


def _ag29(dope_spec, vacancy):
    from mdkit.systems.ag29 import ag29_bdt12

    return (*ag29_bdt12(), dope_spec, vacancy)


def _ag28hg(dope_spec, vacancy):
    from mdkit.systems.ag29 import ag29_bdt12
    from mdkit.systems.defects import dope

    site, element = _parse_dope(dope_spec) if dope_spec else ("shell", "Hg")
    return (*dope(*ag29_bdt12(), site, element), None, vacancy)


def _ag28(dope_spec, vacancy):
    from mdkit.systems.ag29 import ag29_bdt12
    from mdkit.systems.defects import dope, vacate

    # made from Ag28Hg by loss of neutral Hg, so the charge stays 2-
    site = "center" if vacancy is None else vacancy
    return (*vacate(*dope(*ag29_bdt12(), site, "Hg"), site), dope_spec, None)


def _bare(metal: str, size: int):
    def make(dope_spec, vacancy):
        from mdkit.systems.bare import icosahedron

        return (*icosahedron(metal, size), dope_spec, vacancy)
    return make


def _mo6cl(apical_lacuna: bool):
    def make(dope_spec, vacancy):
        from mdkit.systems.defects import vacate
        from mdkit.systems.halide_clusters import mo6x14

        atoms, sites = mo6x14("Cl", "Cl")
        if apical_lacuna:
            site = "apical" if vacancy is None else vacancy
            return (*vacate(atoms, sites, site), dope_spec, None)
        return atoms, sites, dope_spec, vacancy
    return make


#: The named systems, one entry each: adding a system is one entry.
BUILDERS = {
    "ag29": Builder("[Ag29(BDT)12]3-, the model relaxed with SevenNet-0", _ag29),
    "ag28hg": Builder("[Ag28Hg(BDT)12]2- (dopant site: --dope CLASS:Hg, default shell)",
                      _ag28hg),
    "ag28": Builder("[Ag28(BDT)12]2- (vacancy: --vacancy CLASS, default center = Iso1)",
                    _ag28, isomers=AG28_ISOMERS),
    "ag13": Builder("Ag13 icosahedron", _bare("Ag", 13)),
    "ag55": Builder("Ag55 Mackay icosahedron", _bare("Ag", 55)),
    "ag147": Builder("Ag147 Mackay icosahedron", _bare("Ag", 147)),
    "mo6cl14": Builder("[Mo6Cl14]2-", _mo6cl(False)),
    "mo6cl13": Builder("[Mo6Cl13]- (apical lacuna)", _mo6cl(True)),
}

#: System names of the command line and what they are.
SYSTEMS = {name: builder.description for name, builder in BUILDERS.items()}

#: Isomer families by name: label -> the (name, dope_spec, vacancy) of :func:`build`.
FAMILIES = {
    "ag28": {iso: ("ag28", None, site) for site, iso in AG28_ISOMERS.items()},
    "ag28hg": {f"Hg@{site}": ("ag28hg", f"{site}:Hg", None) for site in AG28_ISOMERS},
}

_BARE = re.compile(r"^([a-z]{1,2})(\d+)$")


def _parse_dope(spec: str) -> tuple[str, str]:
    site, sep, element = spec.partition(":")
    if not sep or not site or not element:
        raise StructureError(f"--dope {spec!r} must be SITE:ELEMENT, e.g. shell:Hg or 0:Hg.")
    return site, element[:1].upper() + element[1:].lower()


def build(name: str, dope_spec: str | None = None, vacancy: str | None = None) -> tuple:
    """Build a named system, optionally doped and/or with a vacancy.

    Parameters
    ----------
    name : str
        One of :data:`SYSTEMS`, any EMT metal and Mackay size such as
        ``au55`` or ``cu309``, or a structure file (see
        :func:`~mdkit.systems.io.read_structure`).
    dope_spec : str, optional
        ``"CLASS:ELEMENT"`` or ``"INDEX:ELEMENT"`` (a site index).
    vacancy : str, optional
        A site class or site index to leave empty.

    Returns
    -------
    (ase.Atoms, SiteMap)
        ``atoms.info`` has ``charge`` and a readable ``name``.
    """
    from mdkit.systems.bare import EMT_METALS, MAGIC
    from mdkit.systems.defects import dope, vacate
    from mdkit.systems.io import read_structure

    key = name.lower()
    if Path(name).suffix or len(Path(name).parts) > 1:  # a path, not a system name
        atoms, sites = read_structure(name)
    elif key in BUILDERS:
        atoms, sites, dope_spec, vacancy = BUILDERS[key].make(dope_spec, vacancy)
    elif ((match := _BARE.match(key)) and match.group(1).capitalize() in EMT_METALS
          and int(match.group(2)) in MAGIC.values()):
        atoms, sites, dope_spec, vacancy = _bare(match.group(1).capitalize(),
                                                 int(match.group(2)))(dope_spec, vacancy)
    else:
        raise StructureError(f"unknown system {name!r}; choose one of {', '.join(SYSTEMS)}, "
                             f"or a bare icosahedron such as au55 ({'/'.join(EMT_METALS)} "
                             f"with {'/'.join(map(str, MAGIC.values()))} atoms).")
    if dope_spec:
        atoms, sites = dope(atoms, sites, *_parse_dope(dope_spec))
    if vacancy is not None:
        atoms, sites = vacate(atoms, sites, vacancy)
    atoms.info["name"] = _name(key, atoms, sites)
    return atoms, sites


def build_family(names) -> dict:
    """Build an isomer family by its name, or each of several systems.

    Parameters
    ----------
    names : sequence of str
        One name of :data:`FAMILIES` (``ag28``: Iso1-4, ``ag28hg``: the four
        Hg sites), or system names and structure files for :func:`build`.

    Returns
    -------
    dict
        ``{label: ase.Atoms}``: the family's labels, else each name (a file
        by its stem).
    """
    if len(names) == 1 and names[0].lower() in FAMILIES:
        return {label: build(*request)[0]
                for label, request in FAMILIES[names[0].lower()].items()}
    return {Path(n).stem if Path(n).suffix else n: build(n)[0] for n in names}


def _name(key, atoms, sites) -> str:
    """Formula with charge, then the vacant and doped sites."""
    from mdkit.species import ion_formula

    isomers = BUILDERS[key].isomers if key in BUILDERS else None
    notes = []
    for i in sites.vacant:
        cls = sites.classes[i]
        iso = f" = {isomers[cls]}" if isomers and cls in isomers else ""
        notes.append(f"vacancy at {cls} site {i}{iso}")
    for cls in sites.class_names:
        members = sites.select(cls)
        elements, counts = np.unique(sites.elements[members], return_counts=True)
        host = elements[np.argmax(counts)]
        notes += [f"{sites.elements[i]} at {cls} site {i}" for i in members
                  if sites.elements[i] != host and sites.atoms[i] >= 0]
    label = ion_formula(atoms.get_chemical_formula("metal"), sites.charge)
    return label + (" (" + "; ".join(notes) + ")" if notes else "")
