"""m/z bookkeeping against the published values and an independent isotope code."""

import IsoSpecPy
import numpy as np
import pytest
from ase.units import _me, _amu

from mdkit.errors import SpeciesError
from mdkit.species import ion_formula, mass_spectrum, parse

# docs/science.md: m/z read off the spectra (centres of isotope patterns)
REPORTED = [
    ("[Mo6Cl14]2-", 535.5),
    ("[Mo6Cl13]-", 1036.0),
    ("[Mo6Cl13Br]2-", 558.5),
    ("[Cs3Br4]-", 718.4),
    ("[Cs4Br5]-", 930.2),
    ("[Ag29(BDT)12]3-", 1603),
    ("[Ag28Hg(BDT)12]2-", 2452),
    ("[Ag27Hg2(BDT)12]-", 4996),
]
ELECTRON_DA = _me / _amu


@pytest.mark.parametrize("formula, reported", REPORTED)
def test_reported_mz_within_one(formula, reported):
    spec = mass_spectrum(formula)
    assert abs(spec["centroid_mz"] - reported) < 1.0
    assert abs(spec["most_abundant_mz"] - reported) < 1.0


def _isospec_pattern(formula):
    """Aggregated (by rounded mass offset) pattern from IsoSpecPy, an independent code."""
    dist = IsoSpecPy.IsoTotalProb(formula=formula, prob_to_cover=0.99999)
    masses, probs = np.array(list(dist.masses)), np.array(list(dist.probs))
    offset = np.round(masses - masses.min()).astype(int)
    weight = np.bincount(offset, probs)
    centre = np.bincount(offset, probs * masses) / np.where(weight > 0, weight, 1)
    return (probs * masses).sum() / probs.sum(), centre[np.argmax(weight)]


@pytest.mark.parametrize("formula, plain, charge", [
    ("[Ag29(BDT)12]3-", "C72H48Ag29S24", -3),
    ("[Mo6Cl14]2-", "Mo6Cl14", -2),
    ("[Mo6Cl13]-", "Mo6Cl13", -1),
])
def test_agrees_with_isospecpy(formula, plain, charge):
    spec = mass_spectrum(formula)
    average, top = _isospec_pattern(plain)
    z = abs(charge)
    electrons = z * ELECTRON_DA
    assert spec["centroid_mz"] == pytest.approx((average + electrons) / z, abs=0.01)
    assert spec["most_abundant_mz"] == pytest.approx((top + electrons) / z, abs=0.01)


def test_charge_handling():
    assert ion_formula("Mo6Cl13", -1) == "[Mo6Cl13]-"
    assert ion_formula("Ag29", 3) == "[Ag29]3+"
    plain = mass_spectrum("Mo6Cl14", -2)
    bracketed = mass_spectrum("[Mo6Cl14]2-")
    assert plain["centroid_mz"] == bracketed["centroid_mz"]
    # the anion carries two electrons more than the neutral atoms
    neutral = parse("Mo6Cl14")
    assert plain["average_mass"] - neutral.mass == pytest.approx(2 * ELECTRON_DA, rel=1e-6)
    with pytest.raises(SpeciesError, match="carries charge -2 but charge -1"):
        mass_spectrum("[Mo6Cl14]2-", -1)
    with pytest.raises(SpeciesError, match="neutral"):
        mass_spectrum("Mo6Cl14")
    with pytest.raises(SpeciesError, match="cannot read formula 'Xq3'"):
        mass_spectrum("Xq3", -1)
