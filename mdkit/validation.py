"""Trust, measured: a run's engine against a reference engine on the run's own frames.

:func:`validate_run` takes N frames spread evenly over a finished (or
running) run, recomputes energy and forces with the run's engine and with a
reference engine (GPAW LCAO by default; any registry name), and reports what
a referee asks before believing an MLIP trajectory:

- force errors per element and overall: MAE and RMSE of the Cartesian
  components (eV/Å) and the largest error of a force vector;
- the energy error per atom after removing the mean offset between the two
  engines (their zeros of energy differ: an MLIP's energy is a sum of fitted
  atomic energies, a DFT code's is relative to its own references), so only
  energy *differences* between frames are compared; the offset itself is
  reported too.

Results land in the run's ``analysis/``: ``validation_REF.csv`` (the table),
``validation_REF.json`` (everything, with the settings), ``validation_REF.png``
(parity plots).  Each frame's energies and forces are kept in
``validation_REF_frames.npz`` as they are computed, so an interrupted
validation continues where it stopped.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import numpy as np

from mdkit import store, writer
from mdkit.calculators import engine_info, make_calculator
from mdkit.errors import MdkitError
from mdkit.progress import ItemProgress
from mdkit.runfolder import RunFolder
from mdkit.systems import read_structure


class ValidationError(MdkitError):
    """A validation that cannot be done as asked."""


#: X-H bond lengths (Å) of the hydrogen put on a cut bond of element X: C-H of an
#: arene, S-H of a thiol, N-H, O-H and P-H of the small molecules (standard
#: gas-phase values, e.g. CRC Handbook, "Bond lengths in organic compounds").
CAP_BOND_A = {"C": 1.09, "S": 1.34, "N": 1.01, "O": 0.96, "P": 1.42}


@dataclass(frozen=True)
class Cut:
    """A fragment of a structure: the atoms kept, and the cut bonds capped with H.

    Made by :func:`plan_cut` on one frame and applied unchanged to every
    frame (:meth:`apply`), so all frames give the same fragment, its caps
    following the atoms they replace.
    """

    #: indices of the kept atoms in the whole structure, ascending
    kept: tuple
    #: (kept atom, removed atom) of each capped bond; the H sits on the bond
    caps: tuple
    #: net charge of the fragment (e), as the caller counted it
    charge: int = 0

    def apply(self, symbols, positions):
        """The fragment of one frame as ``ase.Atoms`` (kept atoms first, caps after).

        Parameters
        ----------
        symbols : sequence of str, length n_atoms of the whole structure
        positions : ndarray, shape (n_atoms, 3), Å
        """
        from ase import Atoms

        positions = np.asarray(positions, float)
        caps = []
        for i, j in self.caps:
            bond = positions[j] - positions[i]
            caps.append(positions[i] + CAP_BOND_A[symbols[i]] * bond / np.linalg.norm(bond))
        kept = list(self.kept)
        return Atoms([symbols[i] for i in kept] + ["H"] * len(caps),
                     positions=np.vstack([positions[kept], *caps]) if caps
                     else positions[kept])


def plan_cut(atoms, centre: int, radius_A: float, charge: int = 0,
             bond_scale: float = 1.2) -> Cut:
    """The atoms within ``radius_A`` of atom ``centre``, with cut bonds capped by H.

    Hydrogens bonded to a kept atom are kept too (no H is capped by H).  A
    bond from a kept atom of :data:`CAP_BOND_A` (C, S, ...) to a removed atom
    is replaced by an X-H bond along it; a bond from a kept metal atom is
    simply dropped (a hydride cap would change the metal's oxidation state).

    Parameters
    ----------
    atoms : ase.Atoms
        The whole structure.
    centre : int
        Index of the atom at the centre of the sphere.
    radius_A : float
        Radius of the sphere (Å), measured between nuclei.
    charge : int
        The fragment's net charge (e), recorded in the :class:`Cut`; counting
        it is chemistry the caller must do (e.g. Ag(I) +1, thiolate -1).
    bond_scale : float
        Two atoms are bonded when closer than this times the sum of their
        covalent radii (``ase.data.covalent_radii``).

    Raises
    ------
    ValidationError
        When ``centre`` is not an atom or ``radius_A`` is not positive.
    """
    from ase.data import covalent_radii

    n = len(atoms)
    if not 0 <= centre < n:
        raise ValidationError(f"cut-out centre {centre} is not an atom index (0-{n - 1}).")
    if not radius_A > 0:
        raise ValidationError(f"cut-out radius {radius_A} Å must be positive.")
    positions = atoms.get_positions()
    symbols = atoms.get_chemical_symbols()
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    radii = covalent_radii[atoms.numbers]
    bonded = (distances < bond_scale * (radii[:, None] + radii[None])) & ~np.eye(n, dtype=bool)
    kept = distances[centre] <= radius_A
    hydrogens = np.array(symbols) == "H"
    kept |= hydrogens & bonded[:, kept].any(axis=1)
    caps = tuple((int(i), int(j)) for i, j in zip(*np.nonzero(bonded & kept[:, None]
                                                                 & ~kept[None]))
                 if symbols[i] in CAP_BOND_A)
    return Cut(tuple(int(i) for i in np.flatnonzero(kept)), caps, int(charge))


def frame_indices(n_frames: int, n: int) -> np.ndarray:
    """``n`` frame indices spread evenly from the first to the last frame."""
    if n < 1:
        raise ValidationError(f"--frames must be at least 1, got {n}.")
    if n > n_frames:
        raise ValidationError(f"--frames {n} asks for more frames than the run has "
                              f"({n_frames}).")
    return np.unique(np.linspace(0, n_frames - 1, n).round().astype(int))


def _energy_forces(name, options, symbols, positions, charge):
    from ase import Atoms

    atoms = Atoms(symbols, positions=positions)
    atoms.calc = make_calculator(name, atoms, charge, **options)
    return atoms.get_potential_energy(), atoms.get_forces()


def force_statistics(symbols, run_forces, reference_forces) -> list[dict]:
    """Force errors per element and for all atoms.

    Parameters
    ----------
    symbols : sequence of str, length n_atoms
    run_forces, reference_forces : ndarray, shape (n_frames, n_atoms, 3), eV/Å

    Returns
    -------
    list of dict
        One row per element (and ``all``): ``element``, ``n_atoms`` (atoms x
        frames), ``mae_eV_per_A`` and ``rmse_eV_per_A`` over components,
        ``max_eV_per_A`` (largest |ΔF| of one atom), ``reference_rms_eV_per_A``.
    """
    symbols = np.asarray(symbols)
    delta = np.asarray(run_forces) - np.asarray(reference_forces)
    rows = []
    for element in [*dict.fromkeys(symbols), "all"]:
        mine = np.ones(len(symbols), bool) if element == "all" else symbols == element
        d = delta[:, mine]
        rows.append({"element": element, "n_atoms": int(d.shape[0] * d.shape[1]),
                     "mae_eV_per_A": float(np.abs(d).mean()),
                     "rmse_eV_per_A": float(np.sqrt((d ** 2).mean())),
                     "max_eV_per_A": float(np.linalg.norm(d, axis=2).max()),
                     "reference_rms_eV_per_A":
                         float(np.sqrt((np.asarray(reference_forces)[:, mine] ** 2).mean()))})
    return rows


def energy_statistics(run_energies, reference_energies, n_atoms: int) -> dict:
    """Energy error per atom after removing the mean offset between the engines (eV/atom)."""
    delta = np.asarray(run_energies) - np.asarray(reference_energies)
    offset = float(delta.mean())
    spread = np.asarray(reference_energies) - np.mean(reference_energies)
    return {"offset_eV_per_atom": offset / n_atoms,
            "rmse_eV_per_atom": float(np.sqrt(((delta - offset) ** 2).mean())) / n_atoms
            if len(delta) > 1 else None,
            "max_eV_per_atom": float(np.abs(delta - offset).max()) / n_atoms
            if len(delta) > 1 else None,
            "reference_spread_eV_per_atom": float(np.ptp(spread)) / n_atoms}


def validate_run(folder, against: str = "gpaw", frames: int = 5, options: dict | None = None,
                 progress: bool | None = None, cut: dict | None = None) -> dict:
    """Compare the run's engine with ``against`` on ``frames`` frames of the run.

    Parameters
    ----------
    folder : path
        A run folder.
    against : str
        Registry name of the reference engine.
    frames : int
        How many frames, spread evenly from the first to the last.
    options : dict, optional
        Options of the reference engine (as its ``[calculator]`` keys).
    progress : bool, optional
        As for :class:`mdkit.progress.ItemProgress`.
    cut : dict, optional
        Compare on a fragment of each frame instead of the whole ion, so that
        a dear reference (plane waves) stays affordable: ``centre`` (atom
        index), ``radius_A`` and the fragment's ``charge`` (e), as for
        :func:`plan_cut`, which selects the atoms once on the run's starting
        structure.  Outputs are then named ``validation_REF_cutCENTRErRADIUS``.

    Returns
    -------
    dict
        ``forces`` (rows of :func:`force_statistics`), ``energy``
        (:func:`energy_statistics`), ``frames``, ``times_ps`` and the settings.
    """
    run = RunFolder(folder)
    run.require_run()
    options = dict(options or {})
    spec = store.read_json(run / "spec.json")
    run_name = spec["calculator"]["name"]
    run_options = {k: v for k, v in spec["calculator"].items() if k != "name"}
    if against == run_name and options == run_options:
        raise ValidationError(f"--against {against} is the run's own engine with the same "
                              "options; name another engine.")
    engine_info(against, options)  # an unknown or missing engine fails before any work
    atoms, sites = read_structure(run / "topology.xyz")
    universe = store.open_run(run.path)
    chosen = frame_indices(len(universe.trajectory), frames)
    symbols, charge, label = atoms.get_chemical_symbols(), sites.charge, against
    fragment = None
    if cut is not None:
        fragment = plan_cut(atoms, int(cut["centre"]), float(cut["radius_A"]),
                            int(cut.get("charge", 0)))
        label = f"{against}_cut{int(cut['centre'])}r{float(cut['radius_A']):g}"
        charge = fragment.charge

    def frame(i):
        positions = universe.trajectory[int(i)].positions.astype(float)
        if fragment is None:
            return symbols, positions
        piece = fragment.apply(symbols, positions)
        return piece.get_chemical_symbols(), piece.positions

    cache_name = f"validation_{label}_frames.npz"
    cache = _read_cache(run.output(cache_name), chosen, label, options)
    with ItemProgress("mdkit validate", "frames", len(chosen), progress) as bar:
        for i in chosen:
            if int(i) in cache:
                bar.advance(f"frame {i} (kept)")
                continue
            these, positions = frame(i)
            cache[int(i)] = (*_energy_forces(run_name, run_options, these, positions, charge),
                             *_energy_forces(against, options, these, positions, charge),
                             universe.trajectory.time)  # ps
            _write_cache(run, cache_name, cache, label, options)
            bar.advance(f"frame {i}")

    e_run = np.array([cache[int(i)][0] for i in chosen])
    f_run = np.array([cache[int(i)][1] for i in chosen])
    e_ref = np.array([cache[int(i)][2] for i in chosen])
    f_ref = np.array([cache[int(i)][3] for i in chosen])
    times = [float(cache[int(i)][4]) for i in chosen]
    symbols = frame(chosen[0])[0]
    result = {"run_engine": engine_info(run_name, run_options),
              "reference": {"name": against, "options": options},
              "label": label, "frames": [int(i) for i in chosen], "times_ps": times,
              "forces": force_statistics(symbols, f_run, f_ref),
              "energy": energy_statistics(e_run, e_ref, len(symbols))}
    if fragment is not None:
        result["cut"] = {**cut, "kept": list(fragment.kept), "caps": list(fragment.caps),
                         "formula": "".join(f"{e}{symbols.count(e)}"
                                            for e in dict.fromkeys(symbols))}
    _write_outputs(run, label, result, symbols, e_run, e_ref, f_run, f_ref)
    return result


def _read_cache(path, chosen, against, options) -> dict:
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            if json.loads(str(data["settings"])) != {"against": against, "options": options}:
                return {}  # another reference: computed afresh, replaced when written
            return {int(i): (float(e), f, float(er), fr, float(t))
                    for i, e, f, er, fr, t in zip(data["frames"], data["e_run"], data["f_run"],
                                                  data["e_ref"], data["f_ref"], data["time"])}
    except (OSError, ValueError, KeyError) as err:
        raise ValidationError(f"{path} is damaged ({err}); move it away to compute the "
                              "validation afresh.") from None


def _write_cache(run, name, cache, against, options) -> None:
    keys = sorted(cache)
    with run.writing(name) as tmp:
        np.savez(tmp, frames=np.array(keys),
                 e_run=np.array([cache[k][0] for k in keys]),
                 f_run=np.array([cache[k][1] for k in keys]),
                 e_ref=np.array([cache[k][2] for k in keys]),
                 f_ref=np.array([cache[k][3] for k in keys]),
                 time=np.array([cache[k][4] for k in keys]),
                 settings=json.dumps({"against": against, "options": options}))


def _write_outputs(run, against, result, symbols, e_run, e_ref, f_run, f_ref) -> None:
    text = io.StringIO()
    table = csv.DictWriter(text, fieldnames=list(result["forces"][0]))
    table.writeheader()
    table.writerows(result["forces"])
    with run.writing(f"validation_{against}.csv") as tmp:
        tmp.write_text(text.getvalue())
    with run.writing(f"validation_{against}.json") as tmp:
        tmp.write_text(json.dumps(writer.finite_json(result), indent=1, allow_nan=False))
    parity_plot(run.output(f"validation_{against}.png"), symbols, e_run, e_ref, f_run, f_ref,
                result["run_engine"]["name"], against)


def parity_plot(path, symbols, e_run, e_ref, f_run, f_ref, run_name, reference_name) -> None:
    """Force-component parity by element, and relative energies per atom, written whole
    to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase.data import atomic_numbers
    from ase.data.colors import jmol_colors

    symbols = np.asarray(symbols)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.2), constrained_layout=True)
    for element in dict.fromkeys(symbols):
        mine = symbols == element
        colour = jmol_colors[atomic_numbers[element]]
        left.scatter(f_ref[:, mine].ravel(), f_run[:, mine].ravel(), s=4, alpha=0.6,
                     color=colour, edgecolors="0.3", linewidths=0.2, label=element)
    lim = np.abs(np.concatenate([f_ref.ravel(), f_run.ravel()])).max() * 1.05
    left.plot([-lim, lim], [-lim, lim], "k-", lw=0.6)
    left.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal",
             xlabel=f"force component, {reference_name} (eV/Å)",
             ylabel=f"force component, {run_name} (eV/Å)")
    left.legend(markerscale=3, fontsize=8)
    n = len(symbols)
    rel_ref = (np.asarray(e_ref) - np.mean(e_ref)) / n * 1000
    rel_run = (np.asarray(e_run) - np.mean(e_run)) / n * 1000
    right.scatter(rel_ref, rel_run, color="C0")
    span = np.abs(np.concatenate([rel_ref, rel_run])).max() * 1.1 or 1.0
    right.plot([-span, span], [-span, span], "k-", lw=0.6)
    right.set(xlim=(-span, span), ylim=(-span, span), aspect="equal",
              xlabel=f"energy - mean, {reference_name} (meV/atom)",
              ylabel=f"energy - mean, {run_name} (meV/atom)")
    try:
        writer.save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
