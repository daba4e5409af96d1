"""The public CCS calls: one structure, frames of a run, a whole run folder, comparisons."""

from __future__ import annotations

import math
import time

import numba
import numpy as np

from .estimator import DEFAULT_TARGET, estimate, reduced_mobility
from .parameters import KB_EV, CCSError, ion_model, parameter_sets
from .systematic import rescaled_band, systematic_band

METHODS = ("pa", "ehss", "tm")


def ccs(atoms, charges=None, method="tm", gas="N2", temperature_K=298.0, target_error=None,
        n_samples=None, seed=0, n_workers=None, params=None, orientation=None,
        param_set=None, systematic=True) -> dict:
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
    orientation : {"mobcal-2012", "random-axis"}, optional
        TM orientation model of a two-site gas (N2): three fixed axes
        Boltzmann-weighted at every point (MOBCAL-2012), or one random fixed
        axis per trajectory.  Default: the gas table's ``orientation_model``,
        the model its parameters were fitted in ("mobcal-2012" for N2).
    param_set : str, optional
        A named parameter set (``parameter_sets()``: "mdkit", the default,
        "mobcal-2012", "uff-x0.93", "uff-x1.20"); ``params`` overrides it.
    systematic : bool or dict
        True: compute the systematic band from the parameter sets (TM only;
        see :mod:`~mdkit.analysis.ccs.systematic`; costs 16 batches per set
        that changes this ion's parameters).  A result's ``systematic`` dict:
        reuse its relative band (another frame of the same ion).  False: none.

    Returns
    -------
    dict
        ``ccs_A2``, ``error_A2`` (1 sigma), ``relative_error``, ``method``,
        ``gas``, ``orientation_model`` (two-site gas in TM, else None),
        ``temperature_K``, ``n_samples``, ``seed``, ``n_workers``,
        ``parameters`` (per element: epsilon_meV, sigma_A, hs_radius_A,
        mass_amu, source, default), ``gas_parameters`` (the gas's table
        entry), ``defaults_used`` (elements on UFF defaults), ``charges``
        ("calculator" or "evenly spread net charge"), ``net_charge``,
        ``K0_cm2_Vs`` (Mason-Schamp reduced mobility, None for a neutral),
        ``converged`` (target reached), ``diagnostics`` and ``wall_s``;
        ``param_set`` and ``param_set_citation``, ``geometry`` (the
        structure's ``info["name"]`` and ``info["source"]``), ``systematic_A2``
        (the band in Å², None without one) and ``systematic`` (how it was
        made: per set, its relative change).
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
    if not (np.isfinite(temperature_K) and temperature_K > 0):
        raise CCSError(f"the gas temperature must be a positive number of kelvin, not "
                       f"{temperature_K}.")
    if target_error is not None and not target_error > 0:
        raise CCSError(f"target_error must be a positive fraction, e.g. 0.003, not {target_error}.")
    if n_samples is not None and int(n_samples) < 1:
        raise CCSError(f"n_samples must be a positive number, not {n_samples}.")
    model = ion_model(atoms.get_chemical_symbols(), atoms.positions, q, gas, method, params,
                      orientation, param_set)
    if n_samples is None and target_error is None:
        target_error = DEFAULT_TARGET[method]
    threads = numba.config.NUMBA_NUM_THREADS if n_workers is None else int(n_workers)
    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise CCSError(f"n_workers must be between 1 and {numba.config.NUMBA_NUM_THREADS}.")
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        mean, error, used, batch_means, diagnostics, reached = estimate(
            method, model, KB_EV * temperature_K, int(seed), n_samples, target_error)
        if isinstance(systematic, dict):
            band = rescaled_band(systematic, mean)
        elif systematic:
            band = systematic_band(atoms.get_chemical_symbols(), atoms.positions, q, method,
                                   KB_EV * temperature_K, int(seed), batch_means, model, gas,
                                   params, orientation)
        else:
            band = None
    finally:
        numba.set_num_threads(previous)
    ion_mass = sum(model.parameters[s]["mass_amu"] for s in atoms.get_chemical_symbols())
    return {
        "ccs_A2": mean, "error_A2": error, "relative_error": error / mean if mean else math.inf,
        "method": method, "gas": gas, "orientation_model": model.orientation,
        "temperature_K": float(temperature_K),
        "n_samples": used, "batches": len(batch_means),
        "batch_means_A2": batch_means.tolist(), "seed": int(seed), "n_workers": threads,
        "parameters": model.parameters, "gas_parameters": dict(model.gas),
        "defaults_used": sorted(el for el, p in model.parameters.items() if p["default"]),
        "charges": charge_label, "net_charge": net,
        "K0_cm2_Vs": reduced_mobility(mean, net, ion_mass, float(model.gas["mass_amu"]),
                                       temperature_K) if method == "tm" else None,
        "converged": reached if target_error is not None else None,
        "param_set": model.param_set, "param_set_citation": parameter_sets()[model.param_set],
        "geometry": "; ".join(str(atoms.info[k]) for k in ("name", "source")
                              if atoms.info.get(k)) or "not recorded",
        "systematic_A2": None if band is None else band["systematic_A2"],
        "systematic": band,
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
        equal frames of two runs share their random numbers.  The systematic
        band is computed on the first frame and its relative size reused for
        the others (the same ion and parameters).

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
    systematic = ccs_kwargs.pop("systematic", True)
    symbols = [str(e) for e in universe.atoms.elements]
    results = []
    for k, frame in enumerate(frames):
        ts = universe.trajectory[frame]
        atoms = Atoms(symbols, positions=universe.atoms.positions.astype(float))
        atoms.info["charge"] = charge
        atoms.info["source"] = f"frame {frame} ({float(ts.time):g} ps) of {universe.filename}"
        q = None if charges_per_frame is None else charges_per_frame[k]
        result = ccs(atoms, charges=q, seed=seed + frame, systematic=systematic, **ccs_kwargs)
        if systematic is True and result["systematic"] is not None:
            systematic = result["systematic"]
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
        first label and its 1-sigma ``difference_error_percent``.  Two single
        structures computed with the same seed and model share their random
        samples batch by batch; their difference error is then the paired one,
        from the spread of the batch-by-batch ratio over their common batches
        (``paired`` True), which cancels the scatter they have in common.
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
    first = list(tables.values())[0]
    for row, results in zip(rows, tables.values()):
        ratio = row["mean_A2"] / reference["mean_A2"]
        row["difference_percent"] = 100.0 * (ratio - 1.0)
        paired = _paired_error(results, first, row["mean_A2"], reference["mean_A2"])
        row["paired"] = paired is not None and row is not reference
        row["difference_error_percent"] = 0.0 if row is reference else 100.0 * (
            paired if paired is not None else ratio * math.hypot(
                row["sem_A2"] / row["mean_A2"], reference["sem_A2"] / reference["mean_A2"]))
    return rows


def _paired_error(results, reference, mean, reference_mean):
    """Standard error of mean / reference_mean from shared batches, or None if not paired."""
    if len(results) != 1 or len(reference) != 1:
        return None
    a, b = results[0], reference[0]
    same = all(a.get(k) == b.get(k) for k in ("seed", "method", "gas", "orientation_model",
                                                "temperature_K"))
    if not same or "batch_means_A2" not in a or "batch_means_A2" not in b:
        return None
    n = min(len(a["batch_means_A2"]), len(b["batch_means_A2"]))
    x = np.asarray(a["batch_means_A2"][:n])
    y = np.asarray(b["batch_means_A2"][:n])
    # delta method for the ratio of two means: z_k = x_k / Y - X y_k / Y^2
    z = x / reference_mean - mean * y / reference_mean ** 2
    return float(z.std(ddof=1) / math.sqrt(n))
