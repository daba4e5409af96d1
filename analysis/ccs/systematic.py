"""The systematic band of a CCS: how far the published parameter sets move it.

The statistical error says how well the Monte Carlo average is known; it says
nothing about whether the collision parameters are right.  For an element the
published N2 sets do not cover (Ag, Hg), mdkit's default is a UFF guess, and
the band below is the spread that guess carries: the same ion, the same
random samples (paired), with each set of :data:`SYSTEMATIC_SETS` that can
treat it.

Why these sets: the factors MOBCAL-2012 fitted for every element but H lie
between 0.93 and 1.20 (see the sets' citations), so "uff-x0.93" and
"uff-x1.20" bound what a fit for an unfitted element could give; for ions
whose elements all have published values they equal the default and add
nothing.  "mobcal-2012" differs from the default only by refusing elements it
does not publish.  The N2 orientation model is not in the band: the
parameters were fitted in the "mobcal-2012" model, so the other model is a
different model, not a spread of this one (``benchmarks/ccs_sensitivity.py``
reports its effect).
"""

from __future__ import annotations

import math

import numpy as np

from .estimator import MIN_BATCHES, BATCH_SIZE, estimate
from .parameters import CCSError, ion_model

#: Named sets whose spread makes the band (see the module docstring).
SYSTEMATIC_SETS = ("mobcal-2012", "uff-x0.93", "uff-x1.20")
#: Batches spent on each other set: the fewest behind any result; the paired
#: ratio to the same batches of the main result is far more precise than either.
BAND_BATCHES = MIN_BATCHES


def systematic_band(symbols, positions, charges, method: str, kT: float, seed: int,
                    batch_means, model, gas: str, params=None, orientation=None) -> dict:
    """The band of one result: the largest relative change across the sets, in Å².

    Parameters
    ----------
    symbols, positions, charges
        The ion, as given to :func:`mdkit.analysis.ccs.ccs` (Å, e).
    method : str
        Only "tm" has a band: the sets differ in Lennard-Jones parameters only.
    kT : float
        eV.
    seed : int
        The result's seed; the sets reuse its random samples.
    batch_means : array
        The result's batch means (Å²).
    model : IonModel
        The result's model (its parameters and set).
    gas, params, orientation
        As given to ``ccs``.

    Returns
    -------
    dict
        ``systematic_A2`` (the result's CCS times the largest |relative
        change|; None for PA/EHSS), ``relative`` (that fraction) and ``sets``
        (per set: ``relative`` and its paired 1-sigma ``relative_error``, or
        ``skipped`` with the reason).
    """
    if method != "tm":
        return {"systematic_A2": None, "relative": None, "sets": {},
                "rule": "no band for PA/EHSS: the parameter sets differ in Lennard-Jones "
                        "parameters only"}
    batch_means = np.asarray(batch_means, float)
    reference = batch_means[:BAND_BATCHES]
    sets = {}
    for name in SYSTEMATIC_SETS:
        if name == model.param_set:
            continue
        try:
            other = ion_model(symbols, positions, charges, gas, method, params, orientation,
                              name)
        except CCSError as err:
            sets[name] = {"skipped": str(err)}
            continue
        if _same_parameters(other, model):
            sets[name] = {"relative": 0.0, "relative_error": 0.0,
                          "note": "same parameters as the result for this ion's elements"}
            continue
        _, _, _, means, _, _ = estimate(method, other, kT, seed,
                                         BAND_BATCHES * BATCH_SIZE[method], None)
        sets[name] = paired_relative(means, reference)
    changes = [abs(s["relative"]) for s in sets.values() if "relative" in s]
    relative = max(changes, default=0.0)
    return {"systematic_A2": relative * float(batch_means.mean()), "relative": relative,
            "sets": sets,
            "rule": "largest |CCS(set) / CCS - 1| over the sets " + ", ".join(SYSTEMATIC_SETS)
                    + " on the same random samples, times the CCS"}


def rescaled_band(band: dict, ccs_A2: float) -> dict:
    """Another structure of the same ion (e.g. the next frame): the same relative band."""
    out = dict(band)
    if band["relative"] is not None:
        out["systematic_A2"] = band["relative"] * ccs_A2
    return out


def _same_parameters(a, b) -> bool:
    keys = ("epsilon_meV", "sigma_A")
    return all(a.parameters[el][k] == b.parameters[el][k] for el in a.parameters for k in keys)


def paired_relative(means, reference) -> dict:
    """Ratio of two estimates on shared batches, minus 1, and its delta-method error."""
    n = min(len(means), len(reference))
    x, y = np.asarray(means[:n]), np.asarray(reference[:n])
    ratio = x.mean() / y.mean()
    z = x / y.mean() - x.mean() * y / y.mean() ** 2
    return {"relative": float(ratio - 1.0), "relative_error": float(z.std(ddof=1) / math.sqrt(n))}
