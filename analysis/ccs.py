"""Collision cross sections (CCS) of cluster ions: PA, EHSS and the trajectory method.

Three models of the ion-gas collision, orientation-averaged by Monte Carlo:

``"pa"``  Projection approximation (Mack, J. Am. Chem. Soc. 47, 2468 (1925);
    von Helden, Hsu, Gotts & Bowers, J. Phys. Chem. 97, 8182 (1993); MOBCAL's
    PA, Shvartsburg & Jarrold, Chem. Phys. Lett. 261, 86 (1996)): the area of
    the shadow that the atoms' hard spheres (collision radius = atom radius +
    gas radius) cast, averaged over orientations.
``"ehss"``  Exact hard-sphere scattering (Shvartsburg & Jarrold 1996): the gas
    is a point reflected specularly off the same spheres, as many times as it
    hits them; the momentum-transfer cross section is the orientation average
    of the integral of (1 - cos chi) over the impact plane.
``"tm"``  Trajectory method (Mesleh, Hunter, Shvartsburg, Schatz & Jarrold,
    J. Phys. Chem. 100, 16082 (1996); in N2: Kim et al., Anal. Chem. 80, 1928
    (2008) and Campuzano et al., Anal. Chem. 84, 1026 (2012); cf. IMoS,
    Larriba-Andaluz & Hogan, J. Chem. Phys. 141, 194107 (2014)).  Classical
    trajectories of the gas through a sum of Lennard-Jones 12-6 ion-atom/gas-site
    terms plus the ion-induced-dipole energy -(alpha/2)|E|^2 of the field E of
    the ion's partial charges at the gas (plus, for N2, the charges of its
    quadrupole on the two N sites and the centre).  The result is the collision
    integral

        Omega(1,1)(T) = 1/(2 (kT)^3) Int E^2 exp(-E/kT) Q(1)(E) dE,
        Q(1)(E) = < Int (1 - cos chi) dA >_orientations,

    which is pi r^2 for hard spheres of collision radius r.

Choices, and why
----------------
* Orientations are sampled by turning the gas velocity (uniform on the sphere)
  and placing the impact point uniformly on a disc perpendicular to it; for
  rotation-invariant averages this is the same as rotating the ion, and costs
  nothing.  N2 is rigid and does not rotate during a trajectory; its axis is
  drawn uniformly at random for each trajectory.  (MOBCAL-2012 instead
  Boltzmann-weights three fixed axes at every point, favouring the
  lower-energy one; IMoS, Larriba-Andaluz & Hogan 2014, lets N2 rotate.)
* The thermal average is sampled directly: each trajectory's relative energy
  is drawn from the Gamma(3, kT) density E^2 exp(-E/kT) / (2 (kT)^3), the exact
  weight of Omega(1,1), instead of MOBCAL's fixed 40-point velocity quadrature,
  so that the estimate has no quadrature error and every source of scatter
  (orientation, impact parameter, energy, N2 axis) is in the statistical error.
* Impact parameters: uniform in area up to b0(E) (the ion's Lennard-Jones
  envelope plus CORE_MARGIN_A, or sqrt(2) times the Langevin capture radius of
  the charge-induced-dipole attraction at low energy, whichever is larger),
  and, with probability TAIL_WEIGHT, beyond it with an area density falling as
  A^-2, each trajectory weighted by 1/density.  No impact parameter is cut
  off, so the estimate is unbiased whatever b0 is; b0 only sets how the
  samples are spread, and the margins keep strongly deflected trajectories
  out of the tail, where their large weights would make the error estimate
  itself unreliable.  (Sampling up to sqrt(2) rather than 2^(1/4) times the
  Langevin radius cut the variance of the batch means by 30-40 % for
  [Ag29(BDT)12]3- in N2.)  Trajectories whose impact parameter exceeds the
  start radius (where |U| < START_RATIO * E) are not integrated: their
  deflection is of the order of START_RATIO.
* Trajectories are integrated by the Dormand-Prince 5(4) embedded Runge-Kutta
  method with step-size control (tolerance TOLERANCE in position, Å, and in
  velocity relative to the initial speed), starting where the potential is
  below START_RATIO * E and ending when the gas moves away beyond its start
  distance.  The deflection that the potential beyond the start radius would
  add is of the order of START_RATIO (rad; up to 2-3x it for the r^-3 to r^-6
  tails), so 1 - cos chi is off by less than ~3e-4 per trajectory, before
  orientation averaging.  On [Ag29(BDT)12]3- in N2, the
  same 65536 samples with START_RATIO = 1e-4, TOLERANCE = 1e-4 and with
  1e-5, 3e-5 differ by +0.01 +- 0.06 % (paired; +0.07 +- 0.07 % with another seed), for
  13-15 % fewer steps.  The
  speed ratio |v_out|/|v_in| checks energy conservation: the 0.1-0.4 % of
  trajectories whose kinetic energy changes by more than DRIFT_LIMIT, and any
  that reach MAX_STEPS, are integrated again with a 100x tighter tolerance.
* Randomised quasi-Monte Carlo: each batch of 2^m samples is an independently
  scrambled Sobol' sequence (scipy.stats.qmc), seeded from (seed, batch index).
  Batch means are independent and unbiased, so the standard error of the mean
  over batches is an honest 1-sigma error, and the error of n batches falls as
  1/sqrt(n).  Within a batch the low-discrepancy points shrink the scatter: for
  PA and EHSS (4 dimensions) the error is 2-3x smaller than with plain random
  numbers; for TM (7 dimensions, discontinuous in most of them) only ~5-10 %.
* The compiled kernels (numba) run one trajectory per thread over all cores.
  The samples depend only on (seed, batch index), never on the number of
  threads, so results are identical for any ``n_workers``.

Units: Å, eV (meV for epsilon in the table), e, amu, K.  Parameters come from
``mdkit/data/ccs_parameters.toml`` (see its header for the sources and for the
UFF defaults used for elements without published values).
"""

from __future__ import annotations

import math
import time
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange
from scipy.special import gammaincinv
from scipy.stats import qmc

from mdkit.errors import MdkitError

METHODS = ("pa", "ehss", "tm")

#: e^2 / (4 pi eps0) in eV Å.
COULOMB_EV_A = 14.399645
#: Boltzmann constant in eV/K.
KB_EV = 8.617333262e-5
#: meV per kcal/mol.
MEV_PER_KCAL = 43.364104
#: Loschmidt constant (m^-3, 273.15 K, 101.325 kPa), for the reduced mobility K0.
LOSCHMIDT = 2.686780111e25
AMU_KG = 1.66053906660e-27
E_CHARGE = 1.602176634e-19
KB_SI = 1.380649e-23

#: Samples per batch (powers of two, for balanced Sobol' sets).
BATCH_SIZE = {"pa": 4096, "ehss": 4096, "tm": 512}
#: Fewest batches behind any result, so that the error estimate itself is sound.
MIN_BATCHES = 16
#: Relative 1-sigma error aimed at when neither n_samples nor target_error is given.
DEFAULT_TARGET = {"pa": 0.001, "ehss": 0.001, "tm": 0.005}
#: Most samples spent on one target_error.
MAX_SAMPLES = 1 << 23
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
#: Dormand-Prince error tolerance (Å in position, relative in velocity).
TOLERANCE = 1e-4
#: Longest step (Å) inside the envelope of the ion's repulsive walls.
MAX_STEP_A = 1.0
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

PARAMETERS = files("mdkit") / "data" / "ccs_parameters.toml"

#: Gas potentials: Lennard-Jones 12-6 (+ charges), or a pure inverse power (hard-sphere limit).
POTENTIALS = ("lj", "inverse-power")


class CCSError(MdkitError):
    """A CCS request that cannot be honoured (unknown gas or method, missing parameters)."""


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------

def load_parameters(params=None) -> dict:
    """The parameter table, with a user's overrides merged in.

    Parameters
    ----------
    params : str, Path or dict, optional
        A TOML file (or an already parsed dict) with the layout of
        ``ccs_parameters.toml``; every key it defines replaces the shipped one.

    Returns
    -------
    dict
        ``{"allow_defaults": bool, "gas": {...}, "element": {...}}``.
    """
    with PARAMETERS.open("rb") as handle:
        table = tomllib.load(handle)
    if params is None:
        return table
    if isinstance(params, dict):
        user = params
    else:
        path = Path(params)
        if not path.is_file():
            raise CCSError(f"CCS parameter file {path} does not exist.")
        try:
            user = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise CCSError(f"CCS parameter file {path} is not valid TOML: {err}.") from None
    return _merge(table, user)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def element_parameters(table: dict, element: str, gas: str, method: str = "tm") -> dict:
    """The parameters one element uses with one gas, and where they come from.

    Parameters
    ----------
    table : dict
        From :func:`load_parameters`.
    element, gas : str
    method : str
        TM needs Lennard-Jones parameters, PA and EHSS a hard-sphere radius;
        only what the method needs must exist.

    Returns
    -------
    dict
        ``mass_amu``; for TM ``epsilon_meV``, ``sigma_A`` (per gas site) and
        ``source``; for PA/EHSS ``hs_radius_A`` (the atom's own radius) and
        ``hs_source``; ``default`` (True if any value is a UFF default).
    """
    entry = table.get("element", {}).get(element)
    if entry is None or "mass_amu" not in entry:
        raise CCSError(f"no CCS parameters for element {element}: add [element.{element}] "
                       f"with mass_amu and [element.{element}.{gas}] to a params file.")
    gas_entry = table["gas"][gas]
    allowed = table.get("allow_defaults", True)
    out = {"mass_amu": float(entry["mass_amu"]), "default": False}
    if method == "tm":
        out.update(_lj_parameters(entry, gas_entry, element, gas, allowed))
    elif "hs_radius_A" in entry:
        out.update(hs_radius_A=float(entry["hs_radius_A"]),
                   hs_source=entry.get("hs_source", "user parameters"))
    elif allowed and "uff_x_A" in entry:
        out.update(hs_radius_A=entry["uff_x_A"] / 2,
                   hs_source="default: UFF van der Waals radius x_i/2 (Rappe et al. 1992)",
                   default=True)
    else:
        raise CCSError(f"no hard-sphere radius for element {element} and UFF defaults are "
                       f"{'unavailable' if allowed else 'disabled'}: add hs_radius_A to "
                       f"[element.{element}] in a params file.")
    return out


def _lj_parameters(entry: dict, gas_entry: dict, element: str, gas: str, allowed: bool) -> dict:
    published = entry.get(gas)
    if published is not None:
        return {"epsilon_meV": float(published["epsilon_meV"]),
                "sigma_A": float(published["sigma_A"]),
                "source": published.get("source", "user parameters")}
    if allowed and "uff_x_A" in entry and "uff_D_kcal" in entry and "uff_x_A" in gas_entry:
        depth = math.sqrt(entry["uff_D_kcal"] * gas_entry["uff_D_kcal"]) * MEV_PER_KCAL
        return {"epsilon_meV": depth,
                "sigma_A": 2.0 ** (-1 / 6) * math.sqrt(entry["uff_x_A"] * gas_entry["uff_x_A"]),
                "source": f"default: UFF (Rappe et al., JACS 114, 10024 (1992)) x_i, D_i of "
                          f"{element} combined with UFF {gas} by geometric means (Campuzano "
                          f"2012 rule), no fitted factor",
                "default": True}
    raise CCSError(f"no {gas} Lennard-Jones parameters for element {element} and UFF defaults "
                   f"are {'unavailable' if allowed else 'disabled'}: add [element.{element}.{gas}] "
                   "with epsilon_meV and sigma_A to a params file.")


@dataclass
class IonModel:
    """An ion in its own frame and everything the kernels need.

    Attributes
    ----------
    positions : (n, 3) array
        Å, centred on the centroid.
    charges : (n,) array
        Partial charges, e.
    hs_radius : (n,) array or None
        Hard-sphere collision distance atom-gas, Å (PA and EHSS only).
    rep, att : (n,) array or None
        Repulsion and attraction coefficients per gas site (TM only):
        4 eps sigma^12 and 4 eps sigma^6 (eV Å^12, eV Å^6) for "lj";
        eps (eV) and sigma^2 (Å^2) for "inverse-power".
    sigma : (n,) array or None
        Lennard-Jones sigma per atom, Å (TM only).
    gas : dict
        The gas's table entry.
    parameters : dict
        Element -> :func:`element_parameters` record, for the result.
    """

    positions: np.ndarray
    charges: np.ndarray
    hs_radius: np.ndarray | None
    rep: np.ndarray | None
    att: np.ndarray | None
    sigma: np.ndarray | None
    gas: dict
    parameters: dict


def ion_model(symbols, positions, charges, gas: str = "N2", method: str = "tm",
              params=None) -> IonModel:
    """Build the :class:`IonModel` of an ion in a gas for one method.

    Parameters
    ----------
    symbols : sequence of str
        Element symbols, length n.
    positions : (n, 3) array
        Å.
    charges : (n,) array
        Partial charges, e.
    gas : str
        A gas of the parameter table ("He", "N2", or one a params file adds).
    method : {"tm", "ehss", "pa"}
    params : str, Path or dict, optional
        Overrides, see :func:`load_parameters`.
    """
    table = load_parameters(params)
    if gas not in table["gas"]:
        raise CCSError(f"unknown gas {gas!r}; choose one of {', '.join(table['gas'])} "
                       "or define [gas.NAME] in a params file.")
    gas_entry = table["gas"][gas]
    if gas_entry.get("potential", "lj") not in POTENTIALS:
        raise CCSError(f"gas {gas} has potential {gas_entry['potential']!r}; choose one of "
                       f"{', '.join(POTENTIALS)}.")
    symbols = [str(s) for s in symbols]
    records = {el: element_parameters(table, el, gas, method) for el in dict.fromkeys(symbols)}
    positions = np.asarray(positions, dtype=float)
    model = IonModel(positions=positions - positions.mean(axis=0),
                     charges=np.asarray(charges, dtype=float), hs_radius=None, rep=None,
                     att=None, sigma=None, gas=gas_entry, parameters=records)
    if method != "tm":
        model.hs_radius = (np.array([records[s]["hs_radius_A"] for s in symbols])
                           + float(gas_entry["hs_radius_A"]))
        return model
    eps = np.array([records[s]["epsilon_meV"] for s in symbols]) * 1e-3
    model.sigma = np.array([records[s]["sigma_A"] for s in symbols])
    if gas_entry.get("potential", "lj") == "lj":
        model.rep, model.att = 4 * eps * model.sigma ** 12, 4 * eps * model.sigma ** 6
    else:
        # (sigma/r)^n overflows as sigma^n / r^n for steep walls; keep the pieces apart
        model.rep, model.att = eps, model.sigma ** 2
    return model


# --------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------

def _uniforms(seed: int, batch: int, n: int, dim: int) -> np.ndarray:
    """An independently scrambled Sobol' set of n = 2^m points in [0, 1)^dim.

    Depends only on (seed, batch), so any batch can be made anywhere.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(batch,)))
    return qmc.Sobol(dim, scramble=True, rng=rng).random_base2(int(math.log2(n)))


def _unit_vectors(u_cos, u_phi):
    """Uniform directions on the sphere from two uniforms, shape (n, 3)."""
    cos_t = 2.0 * u_cos - 1.0
    sin_t = np.sqrt(np.maximum(0.0, 1.0 - cos_t ** 2))
    phi = 2.0 * np.pi * u_phi
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def _impact_offsets(directions, b, u_psi):
    """Points at distance b from the origin in the planes normal to ``directions``, (n, 3)."""
    helper = np.where(np.abs(directions[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(directions, helper)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(directions, e1)
    psi = 2.0 * np.pi * u_psi
    return b[:, None] * (np.cos(psi)[:, None] * e1 + np.sin(psi)[:, None] * e2)


# --------------------------------------------------------------------------
# PA and EHSS
# --------------------------------------------------------------------------

@njit(parallel=True, cache=True, error_model="numpy")
def _ehss_kernel(starts, directions, x, y, z, radius, max_bounces, hits, mt, bounces):
    """Specular multiple scattering of straight rays off a union of hard spheres.

    Parameters
    ----------
    starts, directions : (n, 3) arrays
        Ray origins (outside every sphere) and unit directions.
    x, y, z, radius : (n_atoms,) arrays
        Sphere centres and collision radii, Å.
    max_bounces : int
    hits, mt, bounces : (n,) output arrays
        1.0 if the ray touches any sphere (PA), 1 - cos(chi) (EHSS), reflections.
    """
    for k in prange(starts.shape[0]):
        px, py, pz = starts[k, 0], starts[k, 1], starts[k, 2]
        dx, dy, dz = directions[k, 0], directions[k, 1], directions[k, 2]
        last = -1
        n = 0
        while n < max_bounces:
            best = np.inf
            hit = -1
            for i in range(x.shape[0]):
                ox = x[i] - px
                oy = y[i] - py
                oz = z[i] - pz
                along = ox * dx + oy * dy + oz * dz
                miss2 = ox * ox + oy * oy + oz * oz - along * along
                # the ray starts on the union's surface, so a sphere behind it is never hit
                if i == last or along <= 0.0 or miss2 >= radius[i] * radius[i]:
                    continue
                t = along - math.sqrt(radius[i] * radius[i] - miss2)
                if t < best:
                    best = t
                    hit = i
            if hit < 0:
                break
            px += best * dx
            py += best * dy
            pz += best * dz
            nx = (px - x[hit]) / radius[hit]
            ny = (py - y[hit]) / radius[hit]
            nz = (pz - z[hit]) / radius[hit]
            dn = 2.0 * (dx * nx + dy * ny + dz * nz)
            dx -= dn * nx
            dy -= dn * ny
            dz -= dn * nz
            last = hit
            n += 1
        ex = dx - directions[k, 0]
        ey = dy - directions[k, 1]
        ez = dz - directions[k, 2]
        hits[k] = 1.0 if n > 0 else 0.0
        mt[k] = 0.5 * (ex * ex + ey * ey + ez * ez)  # 1 - cos(chi), exact for small chi
        bounces[k] = n


def _hard_sphere_batch(model: IonModel, u: np.ndarray) -> dict:
    """PA and EHSS contributions (Å^2) of one batch of uniforms, shape (n, 4)."""
    x, y, z = (np.ascontiguousarray(model.positions[:, i]) for i in range(3))
    reach = float(np.max(np.linalg.norm(model.positions, axis=1) + model.hs_radius))
    directions = _unit_vectors(u[:, 0], u[:, 1])
    offsets = _impact_offsets(directions, reach * np.sqrt(u[:, 2]), u[:, 3])
    starts = offsets - (reach + 1.0) * directions
    n = len(u)
    hits, mt, bounces = np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    _ehss_kernel(starts, directions, x, y, z, model.hs_radius, MAX_BOUNCES, hits, mt, bounces)
    area = np.pi * reach ** 2
    return {"pa": hits * area, "ehss": mt * area,
            "diagnostics": {"max_reflections": int(bounces.max()),
                            "abandoned_rays": int(np.sum(bounces >= MAX_BOUNCES))}}


# --------------------------------------------------------------------------
# Trajectory method
# --------------------------------------------------------------------------

# Reassociation lets LLVM vectorise the atom sums; nnan/ninf stay off so that a
# stage landing deep inside a steep wall (inf force) is seen and rejected.
_FAST = {"fastmath": {"reassoc", "contract", "arcp", "nsz", "afn"}, "error_model": "numpy",
         "cache": True}


@njit(inline="always", **_FAST)
def _force_atom(px, py, pz, x, y, z, rep, att, q, pol):
    """Force on a one-centre gas at p: LJ 12-6 plus the induced dipole at p, eV/Å."""
    fx = 0.0
    fy = 0.0
    fz = 0.0
    ex = 0.0
    ey = 0.0
    ez = 0.0
    gxx = 0.0
    gyy = 0.0
    gzz = 0.0
    gxy = 0.0
    gxz = 0.0
    gyz = 0.0
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
        ir6 = ir2 * ir2 * ir2
        f = (12.0 * rep[i] * ir6 - 6.0 * att[i]) * ir6 * ir2
        fx += f * dx
        fy += f * dy
        fz += f * dz
        # field E = sum q d / r^3 and its gradient G = dE/dp, for F = pol G E
        q3 = q[i] * math.sqrt(ir2) * ir2
        q5 = 3.0 * q3 * ir2
        ex += q3 * dx
        ey += q3 * dy
        ez += q3 * dz
        gxx += q3 - q5 * dx * dx
        gyy += q3 - q5 * dy * dy
        gzz += q3 - q5 * dz * dz
        gxy -= q5 * dx * dy
        gxz -= q5 * dx * dz
        gyz -= q5 * dy * dz
    fx += pol * (gxx * ex + gxy * ey + gxz * ez)
    fy += pol * (gxy * ex + gyy * ey + gyz * ez)
    fz += pol * (gxz * ex + gyz * ey + gzz * ez)
    return fx, fy, fz


@njit(inline="always", **_FAST)
def _force_diatomic(px, py, pz, hx, hy, hz, x, y, z, rep, att, q, pol, qsite):
    """Force on a rigid two-centre gas (sites p +- h, charges qsite, -2 qsite at p).

    LJ 12-6 on both sites, Coulomb on the three charges (``qsite`` is in
    e * COULOMB_EV_A) and the induced dipole at the centre p.
    """
    fx = 0.0
    fy = 0.0
    fz = 0.0
    ex = 0.0
    ey = 0.0
    ez = 0.0
    gxx = 0.0
    gyy = 0.0
    gzz = 0.0
    gxy = 0.0
    gxz = 0.0
    gyz = 0.0
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        qq = qsite * q[i]
        ax = dx + hx
        ay = dy + hy
        az = dz + hz
        ir2 = 1.0 / (ax * ax + ay * ay + az * az)
        ir6 = ir2 * ir2 * ir2
        f = ((12.0 * rep[i] * ir6 - 6.0 * att[i]) * ir6 + qq * math.sqrt(ir2)) * ir2
        fx += f * ax
        fy += f * ay
        fz += f * az
        bx = dx - hx
        by = dy - hy
        bz = dz - hz
        ir2 = 1.0 / (bx * bx + by * by + bz * bz)
        ir6 = ir2 * ir2 * ir2
        f = ((12.0 * rep[i] * ir6 - 6.0 * att[i]) * ir6 + qq * math.sqrt(ir2)) * ir2
        fx += f * bx
        fy += f * by
        fz += f * bz
        ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
        q3 = q[i] * math.sqrt(ir2) * ir2
        q5 = 3.0 * q3 * ir2
        f = -2.0 * qsite * q3
        fx += f * dx
        fy += f * dy
        fz += f * dz
        ex += q3 * dx
        ey += q3 * dy
        ez += q3 * dz
        gxx += q3 - q5 * dx * dx
        gyy += q3 - q5 * dy * dy
        gzz += q3 - q5 * dz * dz
        gxy -= q5 * dx * dy
        gxz -= q5 * dx * dz
        gyz -= q5 * dy * dz
    fx += pol * (gxx * ex + gxy * ey + gxz * ez)
    fy += pol * (gxy * ex + gyy * ey + gyz * ez)
    fz += pol * (gxz * ex + gyz * ey + gzz * ez)
    return fx, fy, fz


@njit(inline="always", **_FAST)
def _force_inverse_power(px, py, pz, x, y, z, eps, sigma2, exponent):
    """Force of the purely repulsive U = sum eps_i (sigma_i / r)^exponent (hard-sphere limit)."""
    fx = 0.0
    fy = 0.0
    fz = 0.0
    half = 0.5 * exponent
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
        f = exponent * eps[i] * math.pow(sigma2[i] * ir2, half) * ir2
        fx += f * dx
        fy += f * dy
        fz += f * dz
    return fx, fy, fz


@njit(**_FAST)
def _force(kind, px, py, pz, hx, hy, hz, x, y, z, rep, att, q, pol, qsite, exponent):
    # one branch per call, outside the atom loops, which stay vectorised
    if kind == 0:
        return _force_atom(px, py, pz, x, y, z, rep, att, q, pol)
    if kind == 1:
        return _force_diatomic(px, py, pz, hx, hy, hz, x, y, z, rep, att, q, pol, qsite)
    return _force_inverse_power(px, py, pz, x, y, z, rep, att, exponent)


@njit(**_FAST)
def _trajectory(kind, start, velocity, half_bond, x, y, z, rep, att, q, pol, qsite, exponent,
                envelope, tol, max_steps):
    """Integrate one trajectory (unit reduced mass, energies in eV, lengths in Å).

    Dormand-Prince 5(4) with FSAL and step control; stops once the gas moves
    outwards beyond its start distance from the origin.  A step never carries
    the gas further than half its distance to the sphere of radius
    ``envelope`` (Å) that holds every repulsive wall, nor further than
    MAX_STEP_A inside it, so that no wall can be stepped over unseen.

    Returns
    -------
    (1 - cos chi, |v_out|/|v_in|, steps taken)
    """
    px, py, pz = start[0], start[1], start[2]
    vx, vy, vz = velocity[0], velocity[1], velocity[2]
    hx, hy, hz = half_bond[0], half_bond[1], half_bond[2]
    speed = math.sqrt(vx * vx + vy * vy + vz * vz)
    stop2 = px * px + py * py + pz * pz
    ax, ay, az = _force(kind, px, py, pz, hx, hy, hz, x, y, z, rep, att, q, pol, qsite, exponent)
    dt = 0.02 * math.sqrt(stop2) / speed
    vtol2 = (tol * speed) ** 2
    steps = 0
    while steps < max_steps:
        # stages: k = velocities (dx/dt), a = forces (dv/dt)
        k1x, k1y, k1z = vx, vy, vz
        x2 = px + dt * 0.2 * k1x
        y2 = py + dt * 0.2 * k1y
        z2 = pz + dt * 0.2 * k1z
        k2x = vx + dt * 0.2 * ax
        k2y = vy + dt * 0.2 * ay
        k2z = vz + dt * 0.2 * az
        a2x, a2y, a2z = _force(kind, x2, y2, z2, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2 = 3.0 / 40.0, 9.0 / 40.0
        x3 = px + dt * (c1 * k1x + c2 * k2x)
        y3 = py + dt * (c1 * k1y + c2 * k2y)
        z3 = pz + dt * (c1 * k1z + c2 * k2z)
        k3x = vx + dt * (c1 * ax + c2 * a2x)
        k3y = vy + dt * (c1 * ay + c2 * a2y)
        k3z = vz + dt * (c1 * az + c2 * a2z)
        a3x, a3y, a3z = _force(kind, x3, y3, z3, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
        x4 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x)
        y4 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y)
        z4 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z)
        k4x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x)
        k4y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y)
        k4z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z)
        a4x, a4y, a4z = _force(kind, x4, y4, z4, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3, c4 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
        x5 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x + c4 * k4x)
        y5 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y + c4 * k4y)
        z5 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z + c4 * k4z)
        k5x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x + c4 * a4x)
        k5y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y + c4 * a4y)
        k5z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z + c4 * a4z)
        a5x, a5y, a5z = _force(kind, x5, y5, z5, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0
        c4, c5 = 49.0 / 176.0, -5103.0 / 18656.0
        x6 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x + c4 * k4x + c5 * k5x)
        y6 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y + c4 * k4y + c5 * k5y)
        z6 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z + c4 * k4z + c5 * k5z)
        k6x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x + c4 * a4x + c5 * a5x)
        k6y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y + c4 * a4y + c5 * a5y)
        k6z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z + c4 * a4z + c5 * a5z)
        a6x, a6y, a6z = _force(kind, x6, y6, z6, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c3, c4 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0
        c5, c6 = -2187.0 / 6784.0, 11.0 / 84.0
        nx = px + dt * (c1 * k1x + c3 * k3x + c4 * k4x + c5 * k5x + c6 * k6x)
        ny = py + dt * (c1 * k1y + c3 * k3y + c4 * k4y + c5 * k5y + c6 * k6y)
        nz = pz + dt * (c1 * k1z + c3 * k3z + c4 * k4z + c5 * k5z + c6 * k6z)
        nvx = vx + dt * (c1 * ax + c3 * a3x + c4 * a4x + c5 * a5x + c6 * a6x)
        nvy = vy + dt * (c1 * ay + c3 * a3y + c4 * a4y + c5 * a5y + c6 * a6y)
        nvz = vz + dt * (c1 * az + c3 * a3z + c4 * a4z + c5 * a5z + c6 * a6z)
        a7x, a7y, a7z = _force(kind, nx, ny, nz, hx, hy, hz, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        # embedded 4th-order error estimate
        c1, c3, c4 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0
        c5, c6, c7 = -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
        erx = dt * (c1 * k1x + c3 * k3x + c4 * k4x + c5 * k5x + c6 * k6x + c7 * nvx)
        ery = dt * (c1 * k1y + c3 * k3y + c4 * k4y + c5 * k5y + c6 * k6y + c7 * nvy)
        erz = dt * (c1 * k1z + c3 * k3z + c4 * k4z + c5 * k5z + c6 * k6z + c7 * nvz)
        evx = dt * (c1 * ax + c3 * a3x + c4 * a4x + c5 * a5x + c6 * a6x + c7 * a7x)
        evy = dt * (c1 * ay + c3 * a3y + c4 * a4y + c5 * a5y + c6 * a6y + c7 * a7y)
        evz = dt * (c1 * az + c3 * a3z + c4 * a4z + c5 * a5z + c6 * a6z + c7 * a7z)
        err = math.sqrt((erx * erx + ery * ery + erz * erz) / (tol * tol)
                        + (evx * evx + evy * evy + evz * evz) / vtol2)
        if err <= 1.0:
            px, py, pz = nx, ny, nz
            vx, vy, vz = nvx, nvy, nvz
            ax, ay, az = a7x, a7y, a7z
            steps += 1
            if px * vx + py * vy + pz * vz > 0.0 and px * px + py * py + pz * pz >= stop2:
                break
        # a stage deep inside a steep wall gives err = inf or nan: shrink hard
        dt *= 5.0 if err < 1e-12 else (max(0.2, min(5.0, 0.9 * err ** -0.2)) if err < 1e30
                                        else 0.2)
        reach = max(MAX_STEP_A, 0.5 * (math.sqrt(px * px + py * py + pz * pz) - envelope))
        dt = min(dt, reach / math.sqrt(vx * vx + vy * vy + vz * vz))
    out = math.sqrt(vx * vx + vy * vy + vz * vz)
    ux = vx / out - velocity[0] / speed
    uy = vy / out - velocity[1] / speed
    uz = vz / out - velocity[2] / speed
    return 0.5 * (ux * ux + uy * uy + uz * uz), out / speed, steps


@njit(parallel=True, **_FAST)
def _tm_kernel(kind, starts, velocities, half_bonds, active, x, y, z, rep, att, q, pol, qsite,
               exponent, envelope, tol, max_steps, mt, ratio, steps):
    """Run the active trajectories of a batch in parallel; see :func:`_trajectory`."""
    for k in prange(starts.shape[0]):
        if active[k]:
            mt[k], ratio[k], steps[k] = _trajectory(
                kind, starts[k], velocities[k], half_bonds[k], x, y, z, rep, att, q, pol, qsite,
                exponent, envelope, tol, max_steps)


@dataclass
class _TMGeometry:
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


def _tm_geometry(model: IonModel) -> _TMGeometry:
    gas = model.gas
    half = 0.5 * float(gas.get("bond_A", 0.0)) if int(gas.get("sites", 1)) == 2 else 0.0
    net = abs(float(model.charges.sum()))
    pol = float(gas["polarizability_A3"]) * COULOMB_EV_A
    return _TMGeometry(
        reach=float(np.max(np.linalg.norm(model.positions, axis=1) + model.sigma)) + half,
        c3=COULOMB_EV_A * net * abs(float(gas.get("site_charge_e", 0.0))) * 2 * half ** 2,
        c4=0.5 * pol * net ** 2,
        c6=float(np.sum(model.att)) * int(gas.get("sites", 1)) if gas.get(
            "potential", "lj") == "lj" else 0.0)


def _impact_areas(u, area0):
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


def _tm_batch(model: IonModel, u: np.ndarray, kT: float) -> dict:
    """TM contributions (Å^2) of samples from uniforms of shape (n, 7)."""
    gas = model.gas
    geometry = _tm_geometry(model)
    n = len(u)
    energy = kT * np.maximum(gammaincinv(3.0, u[:, 4]), MIN_ENERGY_KT)
    directions = _unit_vectors(u[:, 0], u[:, 1])
    area, weight = _impact_areas(u[:, 2], np.pi * geometry.core_radius(energy) ** 2)
    b = np.sqrt(area / np.pi)
    r_start = geometry.start_radius(energy)
    active = b < r_start
    offsets = _impact_offsets(directions, b, u[:, 3])
    starts = offsets - np.sqrt(np.maximum(r_start ** 2 - b ** 2, 0.0))[:, None] * directions
    velocities = np.sqrt(2.0 * energy)[:, None] * directions
    two = int(gas.get("sites", 1)) == 2
    half_bonds = (0.5 * float(gas.get("bond_A", 0.0)) * _unit_vectors(u[:, 5], u[:, 6])
                  if two else np.zeros((n, 3)))
    kind = 2 if gas.get("potential", "lj") == "inverse-power" else int(two)
    x, y, z = (np.ascontiguousarray(model.positions[:, i]) for i in range(3))
    mt, ratio, steps = np.zeros(n), np.ones(n), np.zeros(n, dtype=np.int64)
    ion = (x, y, z, model.rep, model.att, model.charges,
           float(gas["polarizability_A3"]) * COULOMB_EV_A,
           float(gas.get("site_charge_e", 0.0)) * COULOMB_EV_A,
           float(gas.get("repulsion_exponent", 12.0)), geometry.reach)
    _tm_kernel(kind, starts, velocities, half_bonds, active, *ion, TOLERANCE, MAX_STEPS,
               mt, ratio, steps)
    # the few trajectories that did not conserve energy, or seem caught in an orbit (which a
    # loss of energy can fake), are integrated again, more tightly
    again = active & ((np.abs(ratio ** 2 - 1.0) > DRIFT_LIMIT) | (steps >= MAX_STEPS))
    first_steps = steps.copy()
    _tm_kernel(kind, starts, velocities, half_bonds, again, *ion, TOLERANCE * RETRY_TOLERANCE,
               MAX_STEPS, mt, ratio, steps)
    drift = np.abs(ratio ** 2 - 1.0)
    return {"tm": mt * weight,
            "diagnostics": {"trajectories": int(active.sum()),
                            "steps": int(first_steps.sum() + steps[again].sum()),
                            "retried": int(again.sum()),
                            "still_drifting": int(np.sum(drift > DRIFT_LIMIT)),
                            "lost": int(np.sum(steps >= MAX_STEPS)),
                            "max_energy_drift": float(np.max(drift))}}


# --------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------

def _combine(diagnostics: list[dict]) -> dict:
    out = {}
    for d in diagnostics:
        for key, value in d.items():
            out[key] = max(out.get(key, value), value) if key.startswith("max") else \
                out.get(key, 0) + value
    return out


def _evaluate(method: str, model: IonModel, kT: float, seed: int, batches: range) -> tuple:
    """Means of the given batches (Å^2), from one parallel kernel call; and its diagnostics."""
    size = BATCH_SIZE[method]
    dim = 7 if method == "tm" else 4
    u = np.concatenate([_uniforms(seed, batch, size, dim) for batch in batches])
    result = _tm_batch(model, u, kT) if method == "tm" else _hard_sphere_batch(model, u)
    return result[method].reshape(len(batches), size).mean(axis=1), result["diagnostics"]


def _estimate(method: str, model: IonModel, kT: float, seed: int, n_samples, target) -> tuple:
    """Batch means until ``n_samples`` are spent or ``target`` (relative) is reached.

    Returns
    -------
    (mean, standard error, samples used, batches, diagnostics, reached)
    """
    size = BATCH_SIZE[method]
    limit = max(MIN_BATCHES, -(-(n_samples or MAX_SAMPLES) // size))
    means, diagnostics = np.zeros(0), []
    wanted = MIN_BATCHES if target is not None else limit
    while True:
        # rounds of at most 64 batches keep the uniforms' memory small
        for first in range(len(means), min(wanted, limit), 64):
            new, diag = _evaluate(method, model, kT, seed,
                                  range(first, min(first + 64, wanted, limit)))
            means = np.concatenate([means, new])
            diagnostics.append(diag)
        mean = float(means.mean())
        error = float(means.std(ddof=1) / math.sqrt(len(means)))
        relative = error / mean if mean > 0 else math.inf
        reached = target is not None and relative <= target
        if target is None or reached or len(means) >= limit:
            return mean, error, len(means) * size, len(means), _combine(diagnostics), reached
        # the error falls as 1/sqrt(batches); aim 10 % past the target, grow at most 4x a round
        growth = 1.1 * (relative / target) ** 2 if math.isfinite(relative) else 4.0
        wanted = min(limit, 4 * len(means), max(len(means) + 1, math.ceil(growth * len(means))))


def _reduced_mobility(ccs_A2: float, charge: float, ion_mass: float, gas_mass: float,
                      temperature_K: float):
    """Mason-Schamp reduced mobility K0 (cm^2 V^-1 s^-1) at N0 = Loschmidt, or None if neutral."""
    if charge == 0 or ccs_A2 <= 0:
        return None
    mu = ion_mass * gas_mass / (ion_mass + gas_mass) * AMU_KG
    k = (3.0 * abs(charge) * E_CHARGE / (16.0 * LOSCHMIDT)
         * math.sqrt(2.0 * math.pi / (mu * KB_SI * temperature_K)) / (ccs_A2 * 1e-20))
    return k * 1e4


def ccs(atoms, charges=None, method="tm", gas="N2", temperature_K=298.0, target_error=None,
        n_samples=None, seed=0, n_workers=None, params=None) -> dict:
    """Orientation-averaged collision cross section of one ion structure.

    Parameters
    ----------
    atoms : ase.Atoms
        The ion; positions in Å.  ``atoms.info["charge"]`` is its net charge (e)
        when ``charges`` is not given.
    charges : (n_atoms,) array, optional
        Partial charges (e), e.g. from the MD calculator.  Without them the net
        charge is spread evenly over the atoms (only TM uses charges).
    method : {"tm", "ehss", "pa"}
    gas : str
        "N2", "He", or a gas a params file defines.
    temperature_K : float
        Gas temperature for the TM thermal average (PA and EHSS ignore it).
    target_error : float, optional
        Relative 1-sigma error to reach; sampling continues in batches until it
        is reached (at most ``n_samples`` samples, if given).
    n_samples : int, optional
        Number of samples (trajectories or rays), rounded up to whole batches
        of ``BATCH_SIZE[method]`` and to at least ``MIN_BATCHES`` batches.
        Without either, ``DEFAULT_TARGET[method]`` is the target.
    seed : int
        Seed of the scrambled Sobol' batches.
    n_workers : int, optional
        Threads for the compiled kernels (default: all cores).  Results do not
        depend on it.
    params : str, Path or dict, optional
        Parameter overrides, see :func:`load_parameters`.

    Returns
    -------
    dict
        ``ccs_A2``, ``error_A2`` (1 sigma), ``relative_error``, ``method``,
        ``gas``, ``temperature_K``, ``n_samples``, ``seed``, ``n_workers``,
        ``parameters`` (per element: epsilon_meV, sigma_A, hs_radius_A,
        mass_amu, source, default), ``gas_parameters`` (the gas's table
        entry), ``defaults_used`` (elements on UFF defaults), ``charges``
        ("calculator" or "evenly spread net charge"), ``net_charge``,
        ``K0_cm2_Vs`` (Mason-Schamp reduced mobility, None for a neutral),
        ``converged`` (target reached), ``diagnostics`` and ``wall_s``.
        TM diagnostics: ``trajectories`` integrated, ``steps``, ``retried``
        (integrated again for drifting energy or orbiting), ``still_drifting``
        (over DRIFT_LIMIT after the retry), ``lost`` (still orbiting after
        MAX_STEPS) and ``max_energy_drift`` (largest |v_out^2/v_in^2 - 1|);
        PA/EHSS: ``max_reflections`` and ``abandoned_rays``.
    """
    start = time.perf_counter()
    method = str(method).lower()
    if method not in METHODS:
        raise CCSError(f"unknown CCS method {method!r}; choose one of {', '.join(METHODS)}.")
    n_atoms = len(atoms)
    if charges is None:
        net = float(atoms.info.get("charge", 0))
        q = np.full(n_atoms, net / n_atoms)
        charge_label = "evenly spread net charge"
    else:
        q = np.asarray(charges, dtype=float).reshape(-1)
        if q.shape != (n_atoms,):
            raise CCSError(f"{len(q)} partial charges given for {n_atoms} atoms.")
        net = float(q.sum())
        charge_label = "calculator"
    if target_error is not None and not target_error > 0:
        raise CCSError(f"target_error must be a positive fraction, e.g. 0.003, not {target_error}.")
    if n_samples is not None and int(n_samples) < 1:
        raise CCSError(f"n_samples must be a positive number, not {n_samples}.")
    model = ion_model(atoms.get_chemical_symbols(), atoms.positions, q, gas, method, params)
    if n_samples is None and target_error is None:
        target_error = DEFAULT_TARGET[method]
    threads = numba.config.NUMBA_NUM_THREADS if n_workers is None else int(n_workers)
    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise CCSError(f"n_workers must be between 1 and {numba.config.NUMBA_NUM_THREADS}.")
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        mean, error, used, batches, diagnostics, reached = _estimate(
            method, model, KB_EV * temperature_K, int(seed), n_samples, target_error)
    finally:
        numba.set_num_threads(previous)
    ion_mass = sum(model.parameters[s]["mass_amu"] for s in atoms.get_chemical_symbols())
    return {
        "ccs_A2": mean, "error_A2": error, "relative_error": error / mean if mean else math.inf,
        "method": method, "gas": gas, "temperature_K": float(temperature_K),
        "n_samples": used, "batches": batches, "seed": int(seed), "n_workers": threads,
        "parameters": model.parameters, "gas_parameters": dict(model.gas),
        "defaults_used": sorted(el for el, p in model.parameters.items() if p["default"]),
        "charges": charge_label, "net_charge": net,
        "K0_cm2_Vs": _reduced_mobility(mean, net, ion_mass, float(model.gas["mass_amu"]),
                                       temperature_K) if method == "tm" else None,
        "converged": reached if target_error is not None else None,
        "diagnostics": diagnostics, "wall_s": time.perf_counter() - start,
    }


def ccs_of_frames(universe, frames, charges_per_frame=None, charge=0, progress=None,
                  **ccs_kwargs) -> list[dict]:
    """CCS of chosen frames of a run (an MDAnalysis Universe from ``mdkit.store.open_run``).

    Parameters
    ----------
    universe : MDAnalysis.Universe
        Atoms must carry ``elements``; positions in Å.
    frames : sequence of int
        Frame indices.
    charges_per_frame : (len(frames), n_atoms) array, optional
        Partial charges of those frames (e.g. ``mdkit.store.read_charges``);
        without them ``charge`` is spread evenly.
    charge : int
        Net charge of the ion (e).
    progress : callable, optional
        Called as ``progress(done, total)`` after each frame.
    **ccs_kwargs
        Passed to :func:`ccs`.  The seed of frame f is ``seed + f``, so that
        equal frames of two runs share their random numbers.

    Returns
    -------
    list of dict
        :func:`ccs` results with ``frame`` and ``time_ps`` added.
    """
    from ase import Atoms

    frames = [int(f) for f in frames]
    if charges_per_frame is not None and len(charges_per_frame) != len(frames):
        raise CCSError(f"{len(charges_per_frame)} charge sets given for {len(frames)} frames.")
    seed = int(ccs_kwargs.pop("seed", 0))
    symbols = [str(e) for e in universe.atoms.elements]
    results = []
    for k, frame in enumerate(frames):
        ts = universe.trajectory[frame]
        atoms = Atoms(symbols, positions=universe.atoms.positions.astype(float))
        atoms.info["charge"] = charge
        q = None if charges_per_frame is None else charges_per_frame[k]
        result = ccs(atoms, charges=q, seed=seed + frame, **ccs_kwargs)
        result.update(frame=frame, time_ps=float(ts.time))
        results.append(result)
        if progress is not None:
            progress(k + 1, len(frames))
    return results


def compare(tables: dict) -> list[dict]:
    """Compare CCS over trajectories, e.g. isomers or runs.

    Parameters
    ----------
    tables : dict
        label -> list of :func:`ccs` results (one per frame).

    Returns
    -------
    list of dict
        Per label, in the order given: ``label``, ``n_frames``, ``mean_A2``,
        ``std_A2`` (spread over the frames), ``sem_A2`` (standard error of the
        mean, from that spread), ``mean_statistical_error_A2`` (Monte Carlo
        error of one frame, averaged), ``difference_percent`` relative to the
        first label and its 1-sigma ``difference_error_percent``.
    """
    rows = []
    for label, results in tables.items():
        values = np.array([r["ccs_A2"] for r in results], dtype=float)
        if not len(values):
            raise CCSError(f"no CCS results for {label!r}.")
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        stat = float(np.mean([r["error_A2"] for r in results]))
        # with one frame the only uncertainty of the mean is the Monte Carlo error
        sem = std / math.sqrt(len(values)) if len(values) > 1 else stat
        rows.append({"label": label, "n_frames": len(values), "mean_A2": float(values.mean()),
                     "std_A2": std, "sem_A2": sem, "mean_statistical_error_A2": stat})
    reference = rows[0]
    for row in rows:
        ratio = row["mean_A2"] / reference["mean_A2"]
        row["difference_percent"] = 100.0 * (ratio - 1.0)
        row["difference_error_percent"] = (0.0 if row is reference else 100.0 * ratio * math.hypot(
            row["sem_A2"] / row["mean_A2"], reference["sem_A2"] / reference["mean_A2"]))
    return rows
