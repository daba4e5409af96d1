"""Monte Carlo estimation of the CCS: batches of samples, their means and errors.

Batch means are independent and unbiased, so the standard error of the mean
over batches is an honest 1-sigma error, falling as 1/sqrt(batches).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import constants
from scipy.special import gammaincinv

from .kernels import (ATOM, DIATOMIC, DIATOMIC_THREE_AXES, INVERSE_POWER, ehss_kernel,
                      tm_kernel)
from .parameters import COULOMB_EV_A, KB_EV, IonModel
from .sampling import (impact_areas, impact_offsets, tm_geometry, uniforms, unit_vectors)

#: Samples per batch (powers of two, for balanced Sobol' sets).
BATCH_SIZE = {"pa": 4096, "ehss": 4096, "tm": 512}
#: Fewest batches behind any result, so that the error estimate itself is sound.
MIN_BATCHES = 16
#: Relative 1-sigma error aimed at when neither n_samples nor target_error is given.
DEFAULT_TARGET = {"pa": 0.001, "ehss": 0.001, "tm": 0.005}
#: Most samples spent on one target_error.
MAX_SAMPLES = 1 << 23
#: Dormand-Prince error tolerance (Å in position, relative in velocity).
TOLERANCE = 1e-4
#: |v_out^2 / v_in^2 - 1| above which a trajectory is integrated again (10x the
#: START_RATIO floor of an exact integration).
DRIFT_LIMIT = 1e-3
#: The retry's tolerance, as a fraction of TOLERANCE.
RETRY_TOLERANCE = 0.01
#: Integration steps after which a trajectory counts as lost (orbiting).
MAX_STEPS = 200_000
#: Reflections after which an EHSS ray is abandoned.
MAX_BOUNCES = 100
#: Lowest relative energy sampled, in kT (the Gamma(3) weight below it is 2e-10).
MIN_ENERGY_KT = 1e-3
#: Temperature (K) of the Boltzmann weights of the three N2 axes when a gas table gives
#: none: MOBCAL-2012 (mobcal_N2.f, subroutine dljpot, xkT = 500 k).
ORIENTATION_TEMPERATURE_K = 500.0


def hard_sphere_batch(model: IonModel, u: np.ndarray) -> dict:
    """PA and EHSS contributions (Å^2) of one batch of uniforms, shape (n, 4)."""
    x, y, z = (np.ascontiguousarray(model.positions[:, i]) for i in range(3))
    reach = float(np.max(np.linalg.norm(model.positions, axis=1) + model.hs_radius))
    directions = unit_vectors(u[:, 0], u[:, 1])
    offsets, _ = impact_offsets(directions, reach * np.sqrt(u[:, 2]), u[:, 3])
    starts = offsets - (reach + 1.0) * directions
    n = len(u)
    hits, mt, bounces = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    ehss_kernel(starts, directions, x, y, z, model.hs_radius, MAX_BOUNCES, hits, mt, bounces)
    area = np.pi * reach ** 2
    return {"pa": hits * area, "ehss": mt * area,
            "diagnostics": {"max_reflections": int(bounces.max()),
                            "abandoned_rays": int(np.sum(bounces >= MAX_BOUNCES))}}



def tm_batch(model: IonModel, u: np.ndarray, kT: float) -> dict:
    """TM contributions (Å^2) of samples from uniforms of shape (n, 7)."""
    gas = model.gas
    geometry = tm_geometry(model)
    n = len(u)
    energy = kT * np.maximum(gammaincinv(3.0, u[:, 4]), MIN_ENERGY_KT)
    directions = unit_vectors(u[:, 0], u[:, 1])
    area, weight = impact_areas(u[:, 2], np.pi * geometry.core_radius(energy) ** 2)
    b = np.sqrt(area / np.pi)
    r_start = geometry.start_radius(energy)
    active = b < r_start
    offsets, outward = impact_offsets(directions, b, u[:, 3])
    starts = offsets - np.sqrt(np.maximum(r_start ** 2 - b ** 2, 0.0))[:, None] * directions
    velocities = np.sqrt(2.0 * energy)[:, None] * directions
    half = 0.5 * float(gas.get("bond_A", 0.0))
    axes = np.zeros((n, 3, 3))
    beta = 0.0
    if gas.get("potential", "lj") == "inverse-power":
        kind = INVERSE_POWER
    elif model.orientation == "random-axis":
        kind = DIATOMIC
        axes[:, 0] = half * unit_vectors(u[:, 5], u[:, 6])
    elif model.orientation == "mobcal-2012":
        # MOBCAL's three lab axes: the impact-parameter direction, the velocity and their
        # normal, while the ion turns at random (here: the velocity and impact point do)
        kind = DIATOMIC_THREE_AXES
        axes[:, 0] = half * outward
        axes[:, 1] = half * directions
        axes[:, 2] = half * np.cross(directions, outward)
        beta = 1.0 / (KB_EV * float(gas.get("orientation_temperature_K",
                                            ORIENTATION_TEMPERATURE_K)))
    else:
        kind = ATOM
    x, y, z = (np.ascontiguousarray(model.positions[:, i]) for i in range(3))
    mt, ratio, steps = np.zeros(n), np.ones(n), np.zeros(n, dtype=np.int64)
    ion = (x, y, z, model.rep, model.att, model.charges,
           float(gas["polarizability_A3"]) * COULOMB_EV_A,
           float(gas.get("site_charge_e", 0.0)) * COULOMB_EV_A,
           float(gas.get("repulsion_exponent", 12.0)), geometry.reach)
    tm_kernel(kind, starts, velocities, axes, beta, active, *ion, TOLERANCE, MAX_STEPS,
              mt, ratio, steps)
    # the few trajectories that did not conserve energy, or seem caught in an orbit (which a
    # loss of energy can fake), are integrated again, more tightly
    again = active & ((np.abs(ratio ** 2 - 1.0) > DRIFT_LIMIT) | (steps >= MAX_STEPS))
    first_steps = steps.copy()
    tm_kernel(kind, starts, velocities, axes, beta, again, *ion, TOLERANCE * RETRY_TOLERANCE,
              MAX_STEPS, mt, ratio, steps)
    drift = np.abs(ratio ** 2 - 1.0)
    return {"tm": mt * weight,
            "diagnostics": {"trajectories": int(active.sum()),
                            "steps": int(first_steps.sum() + steps[again].sum()),
                            "retried": int(again.sum()),
                            "still_drifting": int(np.sum(drift > DRIFT_LIMIT)),
                            "lost": int(np.sum(steps >= MAX_STEPS)),
                            "max_energy_drift": float(np.max(drift))}}

def combine(diagnostics: list[dict]) -> dict:
    out = {}
    for d in diagnostics:
        for key, value in d.items():
            out[key] = max(out.get(key, value), value) if key.startswith("max") else \
                out.get(key, 0) + value
    return out


def evaluate(method: str, model: IonModel, kT: float, seed: int, batches: range) -> tuple:
    """Means of the given batches (Å^2), from one parallel kernel call; and its diagnostics."""
    size = BATCH_SIZE[method]
    dim = 7 if method == "tm" else 4
    u = np.concatenate([uniforms(seed, batch, size, dim) for batch in batches])
    result = tm_batch(model, u, kT) if method == "tm" else hard_sphere_batch(model, u)
    return result[method].reshape(len(batches), size).mean(axis=1), result["diagnostics"]


def estimate(method: str, model: IonModel, kT: float, seed: int, n_samples, target) -> tuple:
    """Batch means until ``n_samples`` are spent or ``target`` (relative) is reached.

    Returns
    -------
    (mean, standard error, samples used, batch means, diagnostics, reached)
    """
    size = BATCH_SIZE[method]
    limit = max(MIN_BATCHES, -(-(n_samples or MAX_SAMPLES) // size))
    means, diagnostics = np.zeros(0), []
    wanted = MIN_BATCHES if target is not None else limit
    while True:
        # rounds of at most 64 batches keep the uniforms' memory small
        for first in range(len(means), min(wanted, limit), 64):
            new, diag = evaluate(method, model, kT, seed,
                                  range(first, min(first + 64, wanted, limit)))
            means = np.concatenate([means, new])
            diagnostics.append(diag)
        mean = float(means.mean())
        error = float(means.std(ddof=1) / math.sqrt(len(means)))
        relative = error / mean if mean > 0 else math.inf
        reached = target is not None and relative <= target
        if target is None or reached or len(means) >= limit:
            return mean, error, len(means) * size, means, combine(diagnostics), reached
        # the error falls as 1/sqrt(batches); aim 10 % past the target, grow at most 4x a round
        growth = 1.1 * (relative / target) ** 2 if math.isfinite(relative) else 4.0
        wanted = min(limit, 4 * len(means), max(len(means) + 1, math.ceil(growth * len(means))))


def reduced_mobility(ccs_A2: float, charge: float, ion_mass: float, gas_mass: float,
                      temperature_K: float):
    """Mason-Schamp reduced mobility K0 (cm^2 V^-1 s^-1) at N0 = Loschmidt, or None if neutral."""
    if charge == 0 or ccs_A2 <= 0:
        return None
    mu = ion_mass * gas_mass / (ion_mass + gas_mass) * constants.atomic_mass
    loschmidt = constants.physical_constants["Loschmidt constant (273.15 K, 101.325 kPa)"][0]
    k = (3.0 * abs(charge) * constants.e / (16.0 * loschmidt)
         * math.sqrt(2.0 * math.pi / (mu * constants.k * temperature_K)) / (ccs_A2 * 1e-20))
    return k * 1e4


