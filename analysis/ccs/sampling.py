"""Random numbers and geometry of the CCS samples: directions, impact points, b0(E).

Each batch of 2^m samples is an independently scrambled Sobol' sequence
(scipy.stats.qmc) seeded from (seed, batch index), so any batch can be made
anywhere and results do not depend on the number of threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from .parameters import COULOMB_EV_A, IonModel

#: Fraction of TM impact points drawn beyond b0(E).
TAIL_WEIGHT = 0.1
#: Beyond b0 the sampled area density falls as A^-TAIL_POWER.
TAIL_POWER = 2.0
#: Margin (Å) of b0 beyond the ion's Lennard-Jones envelope.
CORE_MARGIN_A = 2.5
#: b0 >= (CAPTURE C4 / E)^(1/4): sqrt(2) times the Langevin capture radius (4 C4 / E)^(1/4).
CAPTURE = 16.0
#: |U| / E where a trajectory starts and ends.
START_RATIO = 1e-4


def uniforms(seed: int, batch: int, n: int, dim: int) -> np.ndarray:
    """An independently scrambled Sobol' set of n = 2^m points in [0, 1)^dim.

    Depends only on (seed, batch), so any batch can be made anywhere.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(batch,)))
    return qmc.Sobol(dim, scramble=True, rng=rng).random_base2(int(math.log2(n)))


def unit_vectors(u_cos, u_phi):
    """Uniform directions on the sphere from two uniforms, shape (n, 3)."""
    cos_t = 2.0 * u_cos - 1.0
    sin_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t ** 2))
    phi = 2.0 * np.pi * u_phi
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def impact_frames(directions):
    """Two unit vectors spanning the planes normal to ``directions``, each (n, 3)."""
    helper = np.where(np.abs(directions[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(directions, helper)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    return e1, np.cross(directions, e1)


def impact_offsets(directions, b, u_psi):
    """Points at distance b from the origin in the planes normal to ``directions``, (n, 3),
    and their unit vectors."""
    e1, e2 = impact_frames(directions)
    psi = 2.0 * np.pi * u_psi
    unit = np.cos(psi)[:, None] * e1 + np.sin(psi)[:, None] * e2
    return b[:, None] * unit, unit


@dataclass
class TMGeometry:
    """Energy-dependent radii of the trajectory sampling, Å.

    reach: the ion's Lennard-Jones envelope (Å); c3, c4, c6: bounds of the
    charge-quadrupole, charge-induced-dipole and dispersion tails (eV Å^3,
    eV Å^4, eV Å^6) that set b0 and where trajectories start.
    """

    reach: float
    c3: float
    c4: float
    c6: float

    def core_radius(self, energy):
        """b0(E): LJ envelope or Langevin radius, whichever is larger."""
        return np.maximum(self.reach + CORE_MARGIN_A, (CAPTURE * self.c4 / energy) ** 0.25)

    def start_radius(self, energy):
        """Distance from the centre where every tail is below START_RATIO * E."""
        tail = START_RATIO * energy
        return np.maximum.reduce([
            self.reach + np.maximum(10.0, (self.c6 / tail) ** (1 / 6)),
            (self.c4 / tail) ** 0.25, (self.c3 / tail) ** (1 / 3)])


def tm_geometry(model: IonModel) -> TMGeometry:
    gas = model.gas
    half = 0.5 * float(gas.get("bond_A", 0.0)) if int(gas.get("sites", 1)) == 2 else 0.0
    net = abs(float(model.charges.sum()))
    pol = float(gas["polarizability_A3"]) * COULOMB_EV_A
    return TMGeometry(
        reach=float(np.max(np.linalg.norm(model.positions, axis=1) + model.sigma)) + half,
        c3=COULOMB_EV_A * net * abs(float(gas.get("site_charge_e", 0.0))) * 2 * half ** 2,
        c4=0.5 * pol * net ** 2,
        c6=float(np.sum(model.att)) * int(gas.get("sites", 1)) if gas.get(
            "potential", "lj") == "lj" else 0.0)


def impact_areas(u, area0):
    """Impact areas pi b^2 (Å^2) and their weights 1 / density, from uniforms u.

    Uniform inside ``area0`` with probability 1 - TAIL_WEIGHT; beyond it, with
    probability TAIL_WEIGHT, a density falling as A^-TAIL_POWER.
    """
    inner = u < 1.0 - TAIL_WEIGHT
    s = np.where(inner, u / (1.0 - TAIL_WEIGHT), (u - 1.0 + TAIL_WEIGHT) / TAIL_WEIGHT)
    k = TAIL_POWER
    area = np.where(inner, area0 * s, area0 * np.maximum(1.0 - s, 1e-300) ** (-1.0 / (k - 1.0)))
    weight = np.where(inner, area0 / (1.0 - TAIL_WEIGHT),
                      area0 / ((k - 1.0) * TAIL_WEIGHT) * (area / area0) ** k)
    return area, weight


