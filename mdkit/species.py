"""Composition, charge, masses, m/z and isotope patterns of cluster ions.

Masses and isotope patterns come from :mod:`molmass` (IUPAC atomic weights
and isotope abundances); the isotope pattern is aggregated by mass number,
as a spectrometer of ordinary resolution shows it.  Electron masses are
included: an anion of charge z weighs |z| electrons more than its atoms.
"""

from __future__ import annotations

import re

import molmass

from mdkit.errors import SpeciesError

#: Ligand shorthands accepted in formulas.
ABBREVIATIONS = {"BDT": "C6H4S2"}

_CHARGED = re.compile(r"^\[(.+)\](\d*)([+-])$")


#: Isotope-pattern work grows with the atom count; the largest ions mdkit models (a few
#: hundred atoms) take milliseconds, Ag99999999 would never finish.
MAX_SPECTRUM_ATOMS = 10_000


def ion_formula(formula: str, charge: int) -> str:
    """Bracket notation of an ion, e.g. ``ion_formula("Mo6Cl14", -2) == "[Mo6Cl14]2-"``."""
    if charge == 0:
        return formula
    magnitude = "" if abs(charge) == 1 else str(abs(charge))
    return f"[{formula}]{magnitude}{'-' if charge < 0 else '+'}"


def parse(formula: str, charge: int | None = None) -> molmass.Formula:
    """A molmass Formula for ``formula`` with the given net charge.

    Parameters
    ----------
    formula : str
        Plain (``Ag29(C6H4S2)12``, ``Ag29(BDT)12``) or bracketed with its
        charge (``[Mo6Cl14]2-``).
    charge : int, optional
        Net charge in e; required for a plain formula unless it is neutral,
        and must agree with a bracketed one.
    """
    text = formula.replace(" ", "")
    if not text:
        raise SpeciesError("the formula is empty; write it like Mo6Cl14, Ag29(C6H4S2)12 or "
                           "[Mo6Cl13]-.")
    for short, full in ABBREVIATIONS.items():
        text = text.replace(short, f"({full})")
    match = _CHARGED.match(text)
    if match:
        body, magnitude, sign = match.groups()
        written = int(magnitude or 1) * (-1 if sign == "-" else 1)
        if charge is not None and charge != written:
            raise SpeciesError(f"formula {formula!r} carries charge {written} but charge "
                               f"{charge} was given; give one or make them agree.")
        charge = written
    else:
        body = text
    charge = charge or 0
    try:
        parsed = molmass.Formula(ion_formula(body, charge) if charge else body)
        parsed.mass  # molmass parses lazily; fail here, not in the caller
        return parsed
    except Exception as err:  # molmass raises FormulaError and ValueError
        said = " ".join(str(err).split())  # molmass points at the character on a 2nd line
        raise SpeciesError(f"cannot read formula {formula!r} ({said}); write it like "
                           "Mo6Cl14, Ag29(C6H4S2)12 or [Mo6Cl13]-.") from None


def mass_spectrum(formula: str, charge: int | None = None, top: int = 5) -> dict:
    """Masses, m/z and the isotope pattern of an ion.

    Parameters
    ----------
    formula : str
        See :func:`parse`.
    charge : int, optional
        Net charge (non-zero).
    top : int
        Number of most abundant peaks to list.

    Returns
    -------
    dict
        ``formula`` (Hill order with charge), ``charge``,
        ``monoisotopic_mass`` and ``average_mass`` (Da), ``monoisotopic_mz``,
        ``centroid_mz`` (intensity-weighted mean of the isotope pattern;
        it differs from ``average_mass / |z|`` by the rounding of the standard
        atomic weights, a few hundredths of a Da),
        ``most_abundant_mz``, and ``peaks``: the ``top`` most abundant peaks
        as (m/z, intensity relative to the largest) in order of m/z.
    """
    f = parse(formula, charge)
    if f.atoms > MAX_SPECTRUM_ATOMS:
        raise SpeciesError(f"{formula!r} has {f.atoms} atoms; isotope patterns are computed "
                           f"for up to {MAX_SPECTRUM_ATOMS} atoms.")
    if top < 1:
        raise SpeciesError(f"--top must be at least 1 peak, not {top}.")
    z = abs(f.charge)
    if z == 0:
        raise SpeciesError(f"{formula!r} is neutral; give --charge (e.g. -2) to get m/z.")
    spectrum = list(f.spectrum().values())
    total = sum(e.fraction for e in spectrum)
    centroid = sum(e.fraction * e.mass for e in spectrum) / total
    peaks = sorted(spectrum, key=lambda e: e.fraction, reverse=True)
    largest = peaks[0].fraction
    shown = sorted(peaks[:top], key=lambda e: e.mass)
    return {
        "formula": f.formula,
        "charge": f.charge,
        "monoisotopic_mass": f.monoisotopic_mass,
        "average_mass": f.mass,
        "monoisotopic_mz": f.monoisotopic_mass / z,
        "centroid_mz": centroid / z,
        "most_abundant_mz": peaks[0].mass / z,
        "peaks": [(e.mass / z, e.fraction / largest) for e in shown],
    }


def composition(atoms) -> str:
    """Hill formula of an ``ase.Atoms`` (C first, then H, then alphabetical)."""
    return atoms.get_chemical_formula("hill")
