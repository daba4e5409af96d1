"""Hop rates from barriers: harmonic transition-state theory and waiting times.

The rate of one hop over a barrier ``E_a`` at temperature ``T`` is
``k = nu * exp(-E_a / k_B T)``.  The prefactor ``nu`` is either a stated
attempt frequency or Vineyard's harmonic-TST prefactor (G. H. Vineyard,
J. Phys. Chem. Solids 3, 121 (1957))::

    nu = prod(nu_i at the minimum, 3N - 6 modes) / prod(nu_i at the saddle, 3N - 7 real modes)

from the vibrational frequencies of ASE's :class:`ase.vibrations.Vibrations`
(central differences: 6 force calls per free atom, so 6N for a free
cluster - the reason it is an option).  For a free cluster the three
translations and three rotations are projected out of the mass-weighted
Hessian before it is diagonalised; atoms held by ``FixAtoms`` (a slab's
bottom layers) are left out of the Hessian, so then every mode counts.

A state left through ``m`` equivalent hops (the multiplicity) and possibly
several distinct kinds of hop empties at the total rate
``K = sum(m_c * k_c)``: the first hop is exponentially distributed in time,
with survival ``exp(-K t)``, mean waiting time ``1 / K`` and median
``ln 2 / K``.

Units: frequencies in THz (1e12 / s), energies in eV, temperatures in K,
times in ps.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
from ase import units

from mdkit.errors import MdkitError

#: Modes below this |frequency| (THz) after projection count as zero modes, never
#: as imaginary: the finite-difference noise of the Hessian (0.03 THz = 1 cm^-1).
ZERO_MODE_THZ = 0.03
#: THz per ASE angular frequency sqrt(eV / Å² / amu), over 2 pi.
_THZ = units.fs * 1e3 / (2 * np.pi)


class RateError(MdkitError):
    """A rate that cannot be computed from what was given."""


def _rigid_body_modes(positions: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Orthonormal mass-weighted translations and rotations, shape (3N, k <= 6)."""
    sqrt_m = np.sqrt(masses)
    centre = (masses[:, None] * positions).sum(axis=0) / masses.sum()
    r = positions - centre
    vectors = []
    for axis in np.eye(3):
        vectors.append((sqrt_m[:, None] * axis[None, :]).ravel())
    for axis in np.eye(3):
        vectors.append((sqrt_m[:, None] * np.cross(axis, r)).ravel())
    basis, singular, _ = np.linalg.svd(np.array(vectors).T, full_matrices=False)
    return basis[:, singular > 1e-6 * singular.max()]


def frequencies(atoms, calculator: str, options: dict | None = None, *, charge: int = 0,
                folder=None, delta: float = 0.01) -> dict:
    """Harmonic frequencies of a structure from ASE's ``Vibrations``.

    Parameters
    ----------
    atoms : ase.Atoms
        A minimum or a saddle; constraints (``FixAtoms``) choose the atoms
        that vibrate.
    calculator, options : str, dict
        Registry engine and options.
    charge : int
        Net charge in e.
    folder : path, optional
        ASE's displacement cache (a restarted call reuses what is there);
        without one the cache lives in a private temporary folder, removed
        afterwards (never in the working directory).
    delta : float
        Displacement in Å.

    Returns
    -------
    dict
        ``real_THz`` (ascending), ``imaginary_THz`` (magnitudes of the
        imaginary modes, descending), ``n_zero_modes`` (projected out) and
        ``n_force_calls``.
    """
    from ase.constraints import FixAtoms

    from mdkit.calculators import make_calculator

    work = atoms.copy()
    work.calc = make_calculator(calculator, work.copy(), charge, **dict(options or {}))
    fixed = set()
    for constraint in work.constraints:
        if isinstance(constraint, FixAtoms):
            fixed.update(int(i) for i in constraint.index)
    indices = [i for i in range(len(work)) if i not in fixed]
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="mdkit-vib-") as scratch:
            data = _run_vibrations(work, indices, delta, Path(scratch) / "vib")
    else:
        data = _run_vibrations(work, indices, delta, Path(folder))
    hessian = data.get_hessian_2d()
    atom_masses = data.get_atoms().get_masses()[data.get_indices()]
    masses = np.repeat(atom_masses, 3)
    weighted = hessian / np.sqrt(np.outer(masses, masses))
    n_zero = 0
    if not fixed and not work.pbc.any():
        rigid = _rigid_body_modes(work.positions[indices], atom_masses)
        projector = np.eye(len(weighted)) - rigid @ rigid.T
        weighted = projector @ weighted @ projector
        n_zero = rigid.shape[1]
    eigenvalues = np.linalg.eigvalsh((weighted + weighted.T) / 2)
    order = np.argsort(np.abs(eigenvalues))
    kept = eigenvalues[order[n_zero:]]
    nu = np.sign(kept) * np.sqrt(np.abs(kept)) * _THZ
    return {"real_THz": np.sort(nu[nu > ZERO_MODE_THZ]),
            "imaginary_THz": np.sort(-nu[nu < -ZERO_MODE_THZ])[::-1],
            "n_zero_modes": n_zero + int(np.sum(np.abs(nu) <= ZERO_MODE_THZ)),
            "n_force_calls": 6 * len(indices)}


def _run_vibrations(atoms, indices, delta: float, cache: Path):
    """ASE's finite-difference vibrations with their cache in ``cache``; the VibrationsData."""
    from ase.vibrations import Vibrations

    vib = Vibrations(atoms, indices=indices, delta=delta, nfree=2, name=str(cache))
    vib.run()
    return vib.get_vibrations()


def check_rate_options(temperatures_K, attempt_THz: float | None = None,
                       vibrations: bool = False) -> None:
    """Refuse rate settings that cannot give a rate, before any band is computed.

    Raises :class:`RateError` unless every temperature is finite and > 0, the
    attempt frequency (when given) is finite and > 0, and exactly one of
    ``attempt_THz`` and ``vibrations`` is asked for.
    """
    if attempt_THz is not None and vibrations:
        raise RateError("give an attempt frequency or vibrations for the rates, not both.")
    if attempt_THz is not None and not (math.isfinite(attempt_THz) and attempt_THz > 0):
        raise RateError(f"the attempt frequency must be a finite number of THz > 0, not "
                        f"{attempt_THz}.")
    for temperature in temperatures_K:
        if not (math.isfinite(temperature) and temperature > 0):
            raise RateError(f"a temperature for the rates must be a finite number of K > 0, "
                            f"not {temperature}.")


def htst_prefactor_THz(minimum: dict, saddle: dict) -> float:
    """Vineyard's prefactor (THz) from :func:`frequencies` at the minimum and the saddle.

    Raises :class:`RateError` unless the minimum has no imaginary mode and
    the saddle exactly one, and the real modes number one fewer at the
    saddle.
    """
    if len(minimum["imaginary_THz"]):
        raise RateError(f"the initial state has {len(minimum['imaginary_THz'])} imaginary "
                        f"mode(s) (largest {minimum['imaginary_THz'][0]:.2f} THz): it is not a "
                        "minimum, so harmonic TST does not apply; relax it tighter.")
    if len(saddle["imaginary_THz"]) != 1:
        raise RateError(f"the saddle has {len(saddle['imaginary_THz'])} imaginary modes, not "
                        "one: the band did not find a first-order saddle; converge it "
                        "tighter or give an attempt frequency.")
    if len(saddle["real_THz"]) != len(minimum["real_THz"]) - 1:
        raise RateError(f"{len(minimum['real_THz'])} real modes at the minimum but "
                        f"{len(saddle['real_THz'])} at the saddle; expected one fewer.")
    return float(np.exp(np.log(minimum["real_THz"]).sum() - np.log(saddle["real_THz"]).sum()))


def rate_per_ps(prefactor_THz: float, barrier_eV: float, temperature_K: float) -> float:
    """Arrhenius rate ``nu exp(-E_a / k_B T)`` of one hop, in 1/ps."""
    check_rate_options([temperature_K], prefactor_THz)
    return prefactor_THz * np.exp(-barrier_eV / (units.kB * temperature_K))


def waiting_time(channels, temperature_K: float) -> dict:
    """Waiting time for the first hop out of a state.

    Parameters
    ----------
    channels : list of dict
        One per distinct hop: ``multiplicity``, ``prefactor_THz``,
        ``barrier_eV``.
    temperature_K : float

    Returns
    -------
    dict
        ``rate_per_ps`` (total, K), ``mean_ps`` (1/K), ``median_ps``
        (ln 2 / K), ``temperature_K``.
    """
    channels = list(channels)
    if not channels:
        raise RateError("no hops to compute a rate from.")
    total = sum(c["multiplicity"] * rate_per_ps(c["prefactor_THz"], c["barrier_eV"],
                                                temperature_K) for c in channels)
    return {"temperature_K": float(temperature_K), "rate_per_ps": float(total),
            "mean_ps": float(1 / total), "median_ps": float(np.log(2) / total)}


def survival(time_ps, rate_per_ps_: float) -> np.ndarray:
    """Probability that no hop has happened by ``time_ps``: ``exp(-K t)``."""
    return np.exp(-rate_per_ps_ * np.asarray(time_ps, float))


def hop_rates(results: list[dict], temperatures_K, *, attempt_THz: float | None = None,
              vibrations: bool = False, calculator: str = "", options: dict | None = None,
              folder=None) -> dict:
    """Rates and waiting times for the hops out of one state.

    Parameters
    ----------
    results : list of dict
        :func:`mdkit.barriers.barrier` results for the distinct hops out of
        the same initial state.
    temperatures_K : sequence of float
    attempt_THz : float, optional
        A stated attempt frequency for every hop.
    vibrations : bool
        Harmonic TST instead: :func:`frequencies` at the initial state (once)
        and at each saddle (6 force calls per free atom each); caches in
        the barrier folder ``folder`` (:meth:`BarrierFolder.vibrations`).
    calculator, options
        The engine of the barriers.

    Returns
    -------
    dict
        ``hops``: per hop ``hop``, ``multiplicity``, ``barrier_eV``,
        ``prefactor_THz``, ``prefactor_from`` (``"attempt frequency"`` or
        ``"harmonic TST"``) and, with vibrations, ``saddle_imaginary_THz``;
        ``waiting``: :func:`waiting_time` per temperature.
    """
    from mdkit.barrierfolder import BarrierFolder

    if (attempt_THz is None) == (not vibrations):
        raise RateError("give either an attempt frequency or vibrations=True for the rates.")
    check_rate_options(temperatures_K, attempt_THz, vibrations)
    study = BarrierFolder(folder) if folder is not None else None
    channels = []
    minimum = None
    for result in results:
        channel = {"hop": result["hop"], "multiplicity": int(result["multiplicity"]),
                   "barrier_eV": float(result["barrier_forward_eV"])}
        if vibrations:
            images = result["images"]
            charge = int(result.get("charge", 0))
            if minimum is None:
                minimum = frequencies(images[0], calculator, options, charge=charge,
                                      folder=study and study.vibrations("initial"))
            saddle = frequencies(images[result["saddle_image"]], calculator, options,
                                 charge=charge,
                                 folder=study and study.vibrations(f"saddle-{result['hop']}"))
            channel.update(prefactor_THz=htst_prefactor_THz(minimum, saddle),
                           prefactor_from="harmonic TST",
                           saddle_imaginary_THz=[float(x) for x in saddle["imaginary_THz"]])
        else:
            channel.update(prefactor_THz=float(attempt_THz), prefactor_from="attempt frequency")
        channels.append(channel)
    return {"hops": channels,
            "waiting": [waiting_time(channels, float(t)) for t in temperatures_K]}


def load_predictor(path):
    """``predict(temperature_K)`` from a ``rates.json`` (or the folder holding it).

    The hops, multiplicities, barriers and prefactors of ``mdkit barrier``
    give the waiting time (:func:`waiting_time`) at any temperature.
    """
    import json

    from mdkit.barrierfolder import rates_file

    path = rates_file(path)
    try:
        summary = json.loads(path.read_text())
        channels = [{k: c[k] for k in ("multiplicity", "prefactor_THz", "barrier_eV")}
                    for c in summary["hops"]]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RateError(f"{path} is not a rates.json of mdkit barrier ({err}); run mdkit "
                        "barrier with --vibrations or --attempt-THz first.") from None

    def predict(temperature_K):
        return waiting_time(channels, temperature_K)

    predict.source = summary
    return predict
