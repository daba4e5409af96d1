"""How far a student potential can be trusted: physics checks against its teacher.

A distilled potential can match its teacher's forces on held-out frames and
still get the physics of a study wrong.  Each check here computes one
quantity with both engines under the same settings and says whether the
student is within a stated tolerance of the teacher:

* **isomers** (:func:`isomer_check`): the vacancy isomers of a builder
  (``BUILDERS[name].isomers``: Iso1-4 of ``ag28``) relaxed with each engine;
  the student must give the same energy order and every gap (energy above
  the lowest isomer) within :data:`ISOMER_TOLERANCE_EV` of the teacher's;
* **barrier** (:func:`barrier_check`): the climbing-image NEB barrier of a
  vacancy hop (``core-to-shell`` by default), within
  :data:`BARRIER_TOLERANCE_EV`;
* **distance** (:func:`distance_check`): the mean distance from the centre
  atom to its first shell after relaxation, within
  :data:`DISTANCE_TOLERANCE_A`;
* **nve** (:func:`nve_check`): energy drift and fluctuation of velocity
  Verlet from a thermalised start; the student's drift may be at most
  :data:`DRIFT_RATIO` times the teacher's, or below
  :data:`DRIFT_FLOOR_EV_PER_ATOM_PER_PS`.

An engine is a plain description, ``{"name": "mace", "model": "student.model"}``
or ``{"name": "sevennet", "model": "7net-0"}``: a registry name and its
options (:func:`mdkit.calculators.make_calculator`).  Relaxations, bands and
NVE runs go through the results database (:mod:`mdkit.database`), so asking
again, with the same engines and settings, computes nothing.

:func:`physics_checks` runs the checks a training spec's ``[card]`` table
names (:func:`card_settings` reads it); :func:`card_markdown` renders a
training card as a small markdown table.

Units: energies in eV, lengths in Å, drifts in eV per atom per ps,
fluctuations in meV per atom, times in the units their names carry.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from mdkit.errors import MdkitError

#: Largest difference (eV) between a student's and its teacher's isomer gap.
ISOMER_TOLERANCE_EV = 0.05
#: Largest difference (eV) between the two forward barriers.
BARRIER_TOLERANCE_EV = 0.03
#: Largest difference (Å) between the two mean centre-shell distances.
DISTANCE_TOLERANCE_A = 0.02
#: The student's |NVE drift| may be this many times the teacher's ...
DRIFT_RATIO = 2.0
#: ... or below this (eV per atom per ps: 0.1 meV/atom/ps), whatever the teacher's.
DRIFT_FLOOR_EV_PER_ATOM_PER_PS = 1e-4

#: Each check's keys in a spec's ``[card]`` table and their defaults; ``system`` has
#: none (``nve = "ag28"`` is short for ``nve = { system = "ag28" }``).
CHECKS = {
    "isomers": {"system": None, "fmax": 0.05, "steps": 500,
                "tolerance_eV": ISOMER_TOLERANCE_EV},
    # fmax as mdkit.barriers has it: a looser band can stop on a higher-order saddle
    "barrier": {"system": None, "vacancy": None, "hop": "core-to-shell", "fmax": 0.01,
                "n_images": 5, "steps": 1000, "tolerance_eV": BARRIER_TOLERANCE_EV},
    "distance": {"system": None, "vacancy": None, "fmax": 0.05, "steps": 500,
                 "tolerance_A": DISTANCE_TOLERANCE_A},
    "nve": {"system": None, "vacancy": None, "duration_ps": 0.5, "timestep_fs": 2.0,
            "temperature_K": 290.0, "seed": 1, "hydrogen_mass_amu": 4.0, "fmax": 0.05,
            "steps": 500, "drift_ratio": DRIFT_RATIO,
            "drift_floor_eV_per_atom_per_ps": DRIFT_FLOOR_EV_PER_ATOM_PER_PS},
}
#: Keys that are whole numbers (``seed`` may be 0); every other number is positive.
_WHOLE = ("steps", "n_images", "seed")


class CardSpecError(MdkitError):
    """A ``[card]`` table that names an unknown check, key or value."""


def _engine(engine: dict) -> tuple[str, dict]:
    """A description ``{"name": ..., **options}`` as (registry name, options)."""
    return engine["name"], {k: v for k, v in engine.items() if k != "name"}


def _compare(student: float, teacher: float, tolerance: float) -> tuple[float, bool]:
    difference = student - teacher
    return difference, bool(abs(difference) <= tolerance)


# ---------------------------------------------------------------- isomers
def isomer_structures(system: str) -> dict:
    """The start structures of a builder's isomers, ``{isomer name: ase.Atoms}``."""
    from mdkit.systems import BUILDERS, build

    isomers = BUILDERS[system].isomers if system in BUILDERS else None
    if not isomers:
        raise CardSpecError(f"system {system!r} has no isomers; builders with isomers: "
                            f"{', '.join(n for n, b in BUILDERS.items() if b.isomers)}.")
    return {name: build(system, vacancy=site)[0] for site, name in isomers.items()}


def isomer_gaps(engine: dict, structures: dict, *, fmax: float = 0.05, steps: int = 500,
                db=None) -> dict:
    """Isomers relaxed with one engine (:func:`mdkit.energetics.isomer_energies`).

    Returns
    -------
    dict
        ``gaps_eV`` (isomer -> energy above the lowest, eV), ``order`` (the
        isomers from lowest to highest energy) and ``converged`` (every
        relaxation reached ``fmax``, eV/Å).
    """
    from mdkit.energetics import isomer_energies

    name, options = _engine(engine)
    rows = isomer_energies(structures, name, options, fmax, steps, db)
    return {"gaps_eV": {row["label"]: row["relative_eV"] for row in rows},
            "order": [row["label"] for row in sorted(rows, key=lambda r: r["energy_eV"])],
            "converged": all(row["converged"] for row in rows)}


def isomer_check(student: dict, teacher: dict, system: str | None = None, *,
                 structures: dict | None = None, fmax: float = 0.05, steps: int = 500,
                 tolerance_eV: float = ISOMER_TOLERANCE_EV, db=None) -> dict:
    """The student's isomer energy order and gaps against the teacher's.

    Parameters
    ----------
    student, teacher : dict
        Engine descriptions, ``{"name": ..., **options}``.
    system : str, optional
        A builder with isomers (``"ag28"``: Iso1-4).
    structures : dict, optional
        Or the isomers themselves, ``{label: ase.Atoms}`` (same composition
        and charge).
    fmax, steps
        Relaxation force criterion (eV/Å) and step limit.
    tolerance_eV : float
        Largest allowed |student gap - teacher gap|, eV.
    db : database, path or URL, optional
        Results database (relaxations are reused from it).

    Returns
    -------
    dict
        ``teacher_gaps_eV``, ``student_gaps_eV`` and ``difference_eV``
        (student - teacher, per isomer), ``largest_difference_eV``,
        ``teacher_order``, ``student_order``, ``same_order``,
        ``tolerance_eV``, ``converged``, ``rule`` and ``passes``.
    """
    if structures is None:
        structures = isomer_structures(system)
    found = {role: isomer_gaps(engine, structures, fmax=fmax, steps=steps, db=db)
             for role, engine in (("teacher", teacher), ("student", student))}
    gaps = {role: found[role]["gaps_eV"] for role in found}
    difference = {label: gaps["student"][label] - gaps["teacher"][label]
                  for label in gaps["teacher"]}
    largest = max(abs(d) for d in difference.values())
    same_order = found["student"]["order"] == found["teacher"]["order"]
    return {"system": system, "teacher_gaps_eV": gaps["teacher"],
            "student_gaps_eV": gaps["student"], "difference_eV": difference,
            "largest_difference_eV": largest, "teacher_order": found["teacher"]["order"],
            "student_order": found["student"]["order"], "same_order": same_order,
            "tolerance_eV": tolerance_eV,
            "converged": found["teacher"]["converged"] and found["student"]["converged"],
            "rule": f"same energy order, and every gap to the lowest isomer within "
                    f"{tolerance_eV:g} eV of the teacher's",
            "passes": bool(same_order and largest <= tolerance_eV
                           and found["teacher"]["converged"] and found["student"]["converged"])}


# ---------------------------------------------------------------- barrier
def _band_folder(folder, name: str, options: dict, atoms, hop: str, settings: dict):
    """A band's resume folder, named by everything that makes the band (so a changed
    engine or setting gets a folder of its own instead of a refusal)."""
    from mdkit.calculators import engine_version
    from mdkit.database import structure_fingerprint

    text = json.dumps({"engine": name, "options": options, "version": engine_version(name),
                       "structure": structure_fingerprint(atoms), "hop": hop, **settings},
                      sort_keys=True, default=str)
    return Path(folder) / f"{name}-{hop}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def hop_barrier(engine: dict, atoms, sites, hop: str = "core-to-shell", *,
                fmax: float = 0.01, n_images: int = 5, steps: int = 1000, db=None,
                folder=None, progress: bool = False) -> dict:
    """Forward barrier of a vacancy hop with one engine (:func:`mdkit.barriers.barrier`).

    Every symmetry-distinct hop the name stands for is computed; the lowest
    forward barrier is the one that governs the migration.

    Parameters
    ----------
    engine : dict
        Engine description.
    atoms, sites : ase.Atoms, SiteMap
        The structure with its vacancy, as :func:`mdkit.systems.build` gives it.
    hop : str
        ``core-to-shell``, ``A-to-B`` or ``I-J`` (:func:`mdkit.barriers.find_hops`).
    fmax, n_images, steps
        Band settings: NEB force criterion (eV/Å, also that of the end-state
        relaxations), inner images, step limit.
    db : database, path or URL, optional
        Finished bands and relaxed ends are reused from it.
    folder : path, optional
        Where each band keeps its resume point while it is optimised (one
        subfolder per engine, hop and settings).
    progress : bool
        Lines on stderr while a band is optimised.

    Returns
    -------
    dict
        ``barrier_forward_eV`` (lowest over the hops, eV), ``hop`` (the hop
        it belongs to), ``hops`` (hop -> forward barrier, eV) and
        ``converged`` (every band reached ``fmax``).
    """
    from mdkit import barriers

    name, options = _engine(engine)
    found = {}
    for h in barriers.find_hops(atoms, sites, hop):
        band_folder = None if folder is None else _band_folder(
            folder, name, options, atoms, h.name,
            {"fmax": fmax, "n_images": n_images, "steps": steps})
        found[h.name] = barriers.barrier(atoms, sites, h, name, options, n_images=n_images,
                                         fmax=fmax, steps=steps, db=db, folder=band_folder,
                                         progress=progress)
    lowest = min(found, key=lambda k: found[k]["barrier_forward_eV"])
    return {"barrier_forward_eV": found[lowest]["barrier_forward_eV"], "hop": lowest,
            "hops": {k: r["barrier_forward_eV"] for k, r in found.items()},
            "converged": all(r["converged"] for r in found.values())}


def barrier_check(student: dict, teacher: dict, system: str | None = None, *,
                  vacancy=None, hop: str = "core-to-shell", structure: tuple | None = None,
                  fmax: float = 0.01, n_images: int = 5, steps: int = 1000,
                  tolerance_eV: float = BARRIER_TOLERANCE_EV, db=None, folder=None,
                  progress: bool = False) -> dict:
    """The student's forward barrier of a vacancy hop against the teacher's.

    Parameters
    ----------
    student, teacher : dict
        Engine descriptions.
    system, vacancy : str, optional
        What :func:`mdkit.systems.build` builds (``"ag28"``, ``"center"``) ...
    structure : (ase.Atoms, SiteMap), optional
        ... or the structure itself.
    hop, fmax, n_images, steps, db, folder, progress
        As for :func:`hop_barrier`, the same for both engines.
    tolerance_eV : float
        Largest allowed |student - teacher| forward barrier, eV.

    Returns
    -------
    dict
        ``teacher_eV``, ``student_eV``, ``difference_eV`` (student -
        teacher), ``tolerance_eV``, the hops each barrier belongs to
        (``teacher_hop``, ``student_hop``), ``converged``, ``rule`` and
        ``passes``.
    """
    from mdkit.systems import build

    atoms, sites = structure if structure is not None else build(system, vacancy=vacancy)
    found = {role: hop_barrier(engine, atoms, sites, hop, fmax=fmax, n_images=n_images,
                               steps=steps, db=db, folder=folder, progress=progress)
             for role, engine in (("teacher", teacher), ("student", student))}
    teacher_eV, student_eV = (found[r]["barrier_forward_eV"] for r in ("teacher", "student"))
    difference, passes = _compare(student_eV, teacher_eV, tolerance_eV)
    return {"system": system, "vacancy": vacancy, "hop": hop, "teacher_eV": teacher_eV,
            "student_eV": student_eV, "difference_eV": difference,
            "tolerance_eV": tolerance_eV, "teacher_hop": found["teacher"]["hop"],
            "student_hop": found["student"]["hop"],
            "converged": found["teacher"]["converged"] and found["student"]["converged"],
            "rule": f"forward {hop} barrier (climbing-image NEB) within {tolerance_eV:g} eV "
                    "of the teacher's, on the same hop, both bands converged",
            "passes": bool(passes and found["teacher"]["hop"] == found["student"]["hop"]
                           and found["teacher"]["converged"]
                           and found["student"]["converged"])}


# --------------------------------------------------------------- distance
def centre_and_shell(sites) -> tuple[int, np.ndarray]:
    """Atom indices of the centre and of its first shell, from a SiteMap.

    The first shell is every occupied site within
    :data:`mdkit.barriers.NEAREST_FACTOR` of the distance from the centre
    site to the nearest other site (the 12 icosahedral Ag of Ag29, the
    inner shell of Ag55), in the reference geometry.

    Raises
    ------
    CardSpecError
        The structure has no atom on a ``center`` site.
    """
    from mdkit.barriers import NEAREST_FACTOR

    centre = [int(i) for i in np.flatnonzero(sites.classes == "center") if sites.atoms[i] >= 0]
    if len(centre) != 1:
        raise CardSpecError("the centre-shell distance needs one atom on a center site; "
                            f"this structure has {len(centre)} (classes: "
                            f"{', '.join(sites.class_names)}).")
    others = np.flatnonzero(np.arange(len(sites)) != centre[0])
    distance = np.linalg.norm(sites.positions[others] - sites.positions[centre[0]], axis=1)
    near = others[distance <= NEAREST_FACTOR * distance.min()]
    shell = sites.atoms[near]
    return int(sites.atoms[centre[0]]), shell[shell >= 0]


def shell_distance(engine: dict, atoms, sites, *, fmax: float = 0.05, steps: int = 500,
                   db=None) -> dict:
    """Mean centre-to-first-shell distance after relaxing with one engine.

    Returns
    -------
    dict
        ``mean_A`` and ``std_A`` (over the shell atoms, Å), ``shell_atoms``
        (how many) and ``converged``.
    """
    from mdkit.energetics import relax

    centre, shell = centre_and_shell(sites)
    name, options = _engine(engine)
    relaxed, _ = relax(atoms, name, options, fmax, steps, db, charge=sites.charge)
    distance = np.linalg.norm(relaxed.positions[shell] - relaxed.positions[centre], axis=1)
    return {"mean_A": float(distance.mean()), "std_A": float(distance.std()),
            "shell_atoms": int(len(shell)), "converged": bool(relaxed.info["converged"])}


def distance_check(student: dict, teacher: dict, system: str | None = None, *,
                   vacancy=None, structure: tuple | None = None, fmax: float = 0.05,
                   steps: int = 500, tolerance_A: float = DISTANCE_TOLERANCE_A,
                   db=None) -> dict:
    """The student's mean centre-shell distance (relaxed) against the teacher's.

    Parameters
    ----------
    student, teacher : dict
        Engine descriptions.
    system, vacancy, structure
        As for :func:`barrier_check`; the structure needs an atom on its
        ``center`` site (``"ag29"``).
    fmax, steps
        Relaxation force criterion (eV/Å) and step limit.
    tolerance_A : float
        Largest allowed |student - teacher| mean distance, Å.

    Returns
    -------
    dict
        ``teacher_A``, ``student_A``, ``difference_A`` (student - teacher),
        ``tolerance_A``, ``shell_atoms``, ``converged``, ``rule``, ``passes``.
    """
    from mdkit.systems import build

    atoms, sites = structure if structure is not None else build(system, vacancy=vacancy)
    found = {role: shell_distance(engine, atoms, sites, fmax=fmax, steps=steps, db=db)
             for role, engine in (("teacher", teacher), ("student", student))}
    difference, passes = _compare(found["student"]["mean_A"], found["teacher"]["mean_A"],
                                  tolerance_A)
    return {"system": system, "vacancy": vacancy, "teacher_A": found["teacher"]["mean_A"],
            "student_A": found["student"]["mean_A"], "difference_A": difference,
            "tolerance_A": tolerance_A, "shell_atoms": found["teacher"]["shell_atoms"],
            "converged": found["teacher"]["converged"] and found["student"]["converged"],
            "rule": f"mean centre-shell distance after relaxation within {tolerance_A:g} Å "
                    "of the teacher's",
            "passes": bool(passes and found["teacher"]["converged"]
                           and found["student"]["converged"])}


# -------------------------------------------------------------------- nve
def drift(time_ps, energy_eV_per_atom) -> tuple[float, float]:
    """Drift (slope of a straight-line fit, eV/atom/ps) and fluctuation (standard
    deviation about that line, meV/atom) of a total-energy series."""
    time_ps = np.asarray(time_ps, float)
    energy = np.asarray(energy_eV_per_atom, float)
    if not np.all(np.isfinite(energy)):
        return math.nan, math.nan
    slope, intercept = np.polyfit(time_ps, energy, 1)
    residual = energy - (slope * time_ps + intercept)
    return float(slope), float(1000 * residual.std())


def nve_drift(engine: dict, atoms, *, charge: int | None = None, timestep_fs: float = 2.0,
              duration_ps: float = 0.5, temperature_K: float = 290.0, seed: int = 1,
              hydrogen_mass_amu: float | None = 4.0, fmax: float = 0.05, steps: int = 500,
              db=None, progress: bool = False, label: str | None = None) -> dict:
    """Energy conservation of velocity Verlet with one engine.

    The structure is relaxed with the engine (:func:`mdkit.energetics.relax`),
    hydrogens get ``hydrogen_mass_amu`` (:func:`mdkit.masses.repartition_hydrogen_mass`;
    nothing changes without H), momenta are drawn from Maxwell-Boltzmann at
    ``temperature_K`` with ``seed`` (no net momentum or rotation), and the
    total energy is recorded at every step.  Started at a minimum, the
    kinetic energy soon shares itself with the potential energy: the run
    averages about half of ``temperature_K``.

    Parameters
    ----------
    engine : dict
        Engine description.
    atoms : ase.Atoms
        Start structure, net charge in ``info["charge"]`` unless ``charge`` (e).
    timestep_fs, duration_ps, temperature_K, seed, hydrogen_mass_amu
        The run.
    fmax, steps
        The start structure's relaxation (eV/Å, step limit).
    db : database, path or URL, optional
        The relaxation and the run (a ``kind="run"`` row with the energies
        in its data) are reused from it.
    progress : bool
        Lines on stderr while the run goes, naming the engine by ``label``
        (default its registry name).

    Returns
    -------
    dict
        ``drift_eV_per_atom_per_ps`` (slope of total energy per atom against
        time), ``fluctuation_meV_per_atom`` (standard deviation about that
        line), ``temperature_K_mean``, ``steps`` and ``from_database``.  Both
        are NaN when the run gave a non-finite energy.
    """
    from ase import units
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    from mdkit import database
    from mdkit.calculators import make_calculator
    from mdkit.energetics import relax
    from mdkit.masses import repartition_hydrogen_mass
    from mdkit.progress import LogLines

    name, options = _engine(engine)
    charge = int(atoms.info.get("charge", 0) if charge is None else charge)
    start, _ = relax(atoms, name, options, fmax, steps, db, charge=charge)
    n_steps = int(round(duration_ps * 1000 / timestep_fs))
    store = None if db is None else database.connect(db)
    key = database.key_for("run", start, name, options, charge=charge, check="nve",
                           timestep_fs=float(timestep_fs), duration_ps=float(duration_ps),
                           temperature_K=float(temperature_K), seed=int(seed),
                           hydrogen_mass_amu=hydrogen_mass_amu, n_steps=n_steps)
    row = database.lookup(store, key) if store is not None else None
    if row is not None:
        series, from_database = row.data, True
    else:
        work = start.copy()
        work.calc = make_calculator(name, work, charge, **options)
        if hydrogen_mass_amu:
            repartition_hydrogen_mass(work, hydrogen_mass_amu)
        thermalize_momenta(work, temperature_K=temperature_K, rng=np.random.default_rng(seed))
        Stationary(work)
        if np.all(work.get_moments_of_inertia() > 1e-6):
            ZeroRotation(work)
        dyn = VelocityVerlet(work, timestep=timestep_fs * units.fs, logfile=None)
        series = {"time_ps": [], "total_eV_per_atom": [], "temperature_K": []}
        lines = LogLines(f"mdkit train: nve, {label or name}", n_steps, "steps") \
            if progress else None

        def record():
            series["time_ps"].append(dyn.nsteps * timestep_fs / 1000)
            series["total_eV_per_atom"].append(work.get_total_energy() / len(work))
            series["temperature_K"].append(work.get_temperature())
            if lines is not None:
                lines.update(dyn.nsteps, f"T {series['temperature_K'][-1]:.0f} K")

        dyn.attach(record, interval=1)
        dyn.run(n_steps)
        series = {k: np.asarray(v, float) for k, v in series.items()}
        if store is not None:
            database.store(store, work, key, data=series, label=atoms.info.get("name"))
        from_database = False
    slope, fluctuation = drift(series["time_ps"], series["total_eV_per_atom"])
    return {"drift_eV_per_atom_per_ps": slope, "fluctuation_meV_per_atom": fluctuation,
            "temperature_K_mean": float(np.mean(series["temperature_K"])),
            "steps": n_steps, "from_database": from_database}


def compare_drift(student_run: dict, teacher_run: dict, *, drift_ratio: float = DRIFT_RATIO,
                  drift_floor_eV_per_atom_per_ps: float = DRIFT_FLOOR_EV_PER_ATOM_PER_PS
                  ) -> dict:
    """Whether a student's NVE drift is acceptable beside its teacher's.

    Passes when the student's |drift| is at most ``drift_ratio`` times the
    teacher's, or below ``drift_floor_eV_per_atom_per_ps`` whatever the
    teacher's; never when the student's run gave a non-finite energy.

    Returns
    -------
    dict
        ``teacher`` and ``student`` (the :func:`nve_drift` results),
        ``drift_ratio`` (|student| / |teacher|), ``drift_ratio_limit``,
        ``drift_floor_eV_per_atom_per_ps``, ``rule`` and ``passes``.
    """
    student = abs(student_run["drift_eV_per_atom_per_ps"])
    teacher = abs(teacher_run["drift_eV_per_atom_per_ps"])
    ratio = student / teacher if teacher > 0 else (math.inf if student > 0 else 1.0)
    passes = bool(student <= drift_ratio * teacher or student < drift_floor_eV_per_atom_per_ps)
    return {"teacher": teacher_run, "student": student_run, "drift_ratio": ratio,
            "drift_ratio_limit": drift_ratio,
            "drift_floor_eV_per_atom_per_ps": drift_floor_eV_per_atom_per_ps,
            "rule": f"the student's |NVE drift| at most {drift_ratio:g}x the teacher's, or "
                    f"below {1000 * drift_floor_eV_per_atom_per_ps:g} meV/atom/ps",
            "passes": passes}


def nve_check(student: dict, teacher: dict, system: str | None = None, *, vacancy=None,
              structure: tuple | None = None, duration_ps: float = 0.5,
              timestep_fs: float = 2.0, temperature_K: float = 290.0, seed: int = 1,
              hydrogen_mass_amu: float | None = 4.0, fmax: float = 0.05, steps: int = 500,
              drift_ratio: float = DRIFT_RATIO,
              drift_floor_eV_per_atom_per_ps: float = DRIFT_FLOOR_EV_PER_ATOM_PER_PS,
              db=None, progress: bool = False) -> dict:
    """The student's NVE energy drift against the teacher's, same run settings.

    Parameters are those of :func:`nve_drift` (the same for both engines)
    and :func:`compare_drift`; ``system``, ``vacancy`` and ``structure`` as
    for :func:`barrier_check`.

    Returns
    -------
    dict
        :func:`compare_drift`'s dict, with the run settings.
    """
    from mdkit.systems import build

    atoms, sites = structure if structure is not None else build(system, vacancy=vacancy)
    run = dict(charge=sites.charge, timestep_fs=timestep_fs, duration_ps=duration_ps,
               temperature_K=temperature_K, seed=seed, hydrogen_mass_amu=hydrogen_mass_amu,
               fmax=fmax, steps=steps, db=db, progress=progress)
    found = {role: nve_drift(engine, atoms, label=f"{role} ({engine['name']})", **run)
             for role, engine in (("teacher", teacher), ("student", student))}
    result = compare_drift(found["student"], found["teacher"], drift_ratio=drift_ratio,
                           drift_floor_eV_per_atom_per_ps=drift_floor_eV_per_atom_per_ps)
    has_h = bool((atoms.numbers == 1).any())
    return {"system": system, "vacancy": vacancy, "timestep_fs": timestep_fs,
            "duration_ps": duration_ps, "temperature_K": temperature_K, "seed": seed,
            "hydrogen_mass_amu": hydrogen_mass_amu if has_h else None, **result}


# --------------------------------------------------------- the spec's [card]
def _positive(check: str, key: str, value, whole: bool) -> None:
    ok = (isinstance(value, int) if whole else isinstance(value, (int, float))) \
        and not isinstance(value, bool) and math.isfinite(value) \
        and (value >= 0 if key == "seed" else value > 0)
    if not ok:
        kind = "a whole number" if whole else "a number"
        raise CardSpecError(f"[card] {check} {key} = {value!r} must be "
                            f"{kind} {'>= 0' if key == 'seed' else '> 0'}.")


def card_settings(table, elements=None, folder=None) -> dict:
    """Read and check a spec's ``[card]`` table: ``{check: settings}``.

    Parameters
    ----------
    table : dict or None
        The table as TOML gives it: each key one of :data:`CHECKS`, its value
        a system name or a table of that check's keys.
    elements : set of str, optional
        The elements the student is trained on; a check on a system with
        others is refused.
    folder : path, optional
        Relative structure files are taken from here (the spec's folder).

    Returns
    -------
    dict
        Each named check with every key filled in (:data:`CHECKS` defaults);
        empty for no table.

    Raises
    ------
    CardSpecError
        One sentence naming the check and key and what would be valid.  Every
        system is built, so an unknown system, vacancy or hop, a system
        without isomers or without a centre atom is refused here, before any
        work.
    """
    from mdkit.barriers import find_hops
    from mdkit.systems import build

    if table is not None and not isinstance(table, dict):
        raise CardSpecError(f"card = {table!r} must be a table, [card], naming checks: "
                            f"{', '.join(CHECKS)}.")
    settings = {}
    for check, value in (table or {}).items():
        if check not in CHECKS:
            raise CardSpecError(f"[card] has no check {check!r}; valid: "
                                f"{', '.join(CHECKS)}.")
        if isinstance(value, str):
            value = {"system": value}
        if not isinstance(value, dict):
            raise CardSpecError(f"[card] {check} = {value!r} must be a system name ({check} = "
                                f"\"ag28\") or a table ({check} = {{ system = \"ag28\" }}).")
        unknown = sorted(set(value) - set(CHECKS[check]))
        if unknown:
            raise CardSpecError(f"[card] {check} has no key {unknown[0]!r}; valid: "
                                f"{', '.join(CHECKS[check])}.")
        chosen = {**CHECKS[check], **value}
        system = chosen["system"]
        if not isinstance(system, str) or not system:
            raise CardSpecError(f"[card] {check} needs system = \"NAME\" (a system name such "
                                f"as ag28, or a structure file).")
        if Path(system).suffix and folder is not None:
            chosen["system"] = system = str((Path(folder) / system).resolve())
        for key, default in CHECKS[check].items():
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                _positive(check, key, chosen[key], key in _WHOLE)
        if "vacancy" in chosen and not isinstance(chosen["vacancy"], (str, int, type(None))):
            raise CardSpecError(f"[card] {check} vacancy = {chosen['vacancy']!r} must be a "
                                "site class (\"center\") or a site index.")
        if "hop" in chosen and not isinstance(chosen["hop"], str):
            raise CardSpecError(f"[card] {check} hop = {chosen['hop']!r} must be core-to-shell,"
                                " A-to-B (site classes) or I-J (site indices).")
        try:
            if check == "isomers":
                structures = list(isomer_structures(system).values())
            else:
                atoms, sites = build(system, vacancy=chosen["vacancy"])
                structures = [atoms]
                if check == "barrier":
                    find_hops(atoms, sites, chosen["hop"])
                if check == "distance":
                    centre_and_shell(sites)
        except MdkitError as err:
            raise CardSpecError(f"[card] {check}: {err}") from None
        missing = sorted({s for a in structures for s in a.get_chemical_symbols()}
                         - set(elements)) if elements is not None else []
        if missing:
            raise CardSpecError(f"[card] {check} system {system!r} has {', '.join(missing)}, "
                                f"which the student is not trained on (it knows "
                                f"{', '.join(sorted(elements))}).")
        settings[check] = chosen
    return settings


def physics_checks(card_spec: dict, student: dict, teacher: dict, db=None, progress=None,
                   folder=None) -> dict:
    """Run the checks ``card_spec`` names (:func:`card_settings`), student against teacher.

    Parameters
    ----------
    card_spec : dict
        ``{check: settings}`` from :func:`card_settings`.
    student, teacher : dict
        Engine descriptions, ``{"name": ..., **options}``.
    db : database, path or URL, optional
        Relaxations, bands and NVE runs are stored in and reused from it, so a
        second call (or one after a kill) computes only what is missing.
    progress : bool or None
        False: silent; otherwise a line per finished check (and the bands'
        and runs' own lines) on stderr.
    folder : path, optional
        Resume points of the NEB bands.

    Returns
    -------
    dict
        ``{check: result}``, each the dict of :func:`isomer_check`,
        :func:`barrier_check`, :func:`distance_check` or :func:`nve_check`.
    """
    from mdkit.progress import LogLines

    say = progress is not False
    lines = LogLines("mdkit train: physics checks", len(card_spec), "checks") if say else None
    if lines is not None:
        lines.update(0)
    out = {}
    for number, (check, chosen) in enumerate(card_spec.items(), 1):
        settings = dict(chosen)
        system = settings.pop("system")
        if check == "isomers":
            out[check] = isomer_check(student, teacher, system, db=db, **settings)
        elif check == "barrier":
            out[check] = barrier_check(student, teacher, system, db=db, folder=folder,
                                       progress=say, **settings)
        elif check == "distance":
            out[check] = distance_check(student, teacher, system, db=db, **settings)
        else:
            out[check] = nve_check(student, teacher, system, db=db, progress=say, **settings)
        if lines is not None:
            lines.update(number, f"{check} on {system}: "
                                 f"{'pass' if out[check]['passes'] else 'FAIL'}")
    return out


# ------------------------------------------------------------ the card, shown
def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _physics_row(check: str, result: dict) -> tuple[str, str]:
    verdict = "pass" if result["passes"] else "FAIL"
    if not result.get("converged", True):
        verdict += " (not converged)"
    if check == "barrier" and result["teacher_hop"] != result["student_hop"]:
        verdict += " (different hops)"
    if check == "isomers":
        order = " < ".join(result["teacher_order"])
        same = "same order" if result["same_order"] else \
            f"order {' < '.join(result['student_order'])}"
        return (f"isomers {result['system']} (gaps within {result['tolerance_eV']:g} eV)",
                f"{verdict}: {same} ({order}), largest gap difference "
                f"{result['largest_difference_eV']:.3f} eV")
    if check == "barrier":
        return (f"barrier {result['system']} {result['hop']} (within "
                f"{result['tolerance_eV']:g} eV)",
                f"{verdict}: {result['student_eV']:.3f} vs {result['teacher_eV']:.3f} eV")
    if check == "distance":
        return (f"centre-shell distance {result['system']} (within "
                f"{result['tolerance_A']:g} Å)",
                f"{verdict}: {result['student_A']:.3f} vs {result['teacher_A']:.3f} Å")
    student = result["student"]["drift_eV_per_atom_per_ps"]
    teacher = result["teacher"]["drift_eV_per_atom_per_ps"]
    # no "|x|" in a cell: a pipe would end it
    return (f"NVE drift {result['system']}, {result['timestep_fs']:g} fs (student at most "
            f"{result['drift_ratio_limit']:g}x teacher, or below "
            f"{1000 * result['drift_floor_eV_per_atom_per_ps']:g} meV/atom/ps)",
            f"{verdict}: {_number(student, 1000)} vs {_number(teacher, 1000)} meV/atom/ps, "
            f"fluctuation {_number(result['student']['fluctuation_meV_per_atom'])} vs "
            f"{_number(result['teacher']['fluctuation_meV_per_atom'])} meV/atom")


def _number(value, scale=1.0) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{scale * value:.3g}"


def card_markdown(card: dict) -> str:
    """A training card (``card.json``) as a small markdown table, student against teacher.

    Rows: held-out force MAE and RMSE (eV/Å, float64) overall and the MAE
    per element, energy MAE (meV/atom), speed against the teacher, training
    time, and each physics check with its tolerance and pass or FAIL.
    """
    held = card["held_out"]["float64"]
    speed = card["speed"]
    teacher = card["teacher"]["name"]
    rows = [("held-out frames", str(held["frames"])),
            ("force MAE / RMSE (eV/Å)",
             f"{held['force_mae_eV_per_A']:.3f} / {held['force_rmse_eV_per_A']:.3f}"),
            ("force MAE per element (eV/Å)",
             ", ".join(f"{el} {v['force_mae_eV_per_A']:.3f}"
                       for el, v in held["per_element"].items())),
            ("energy MAE (meV/atom)", f"{held['energy_mae_meV_per_atom']:.3g}"),
            (f"speed against {teacher}",
             f"{speed['speedup']:.3g}x ({speed['student_ms']:.3g} vs {speed['teacher_ms']:.3g}"
             f" ms per call, {speed['atoms']} atoms)"),
            ("training time", _clock(card["training_s"]))]
    rows += [_physics_row(check, result) for check, result in card.get("physics", {}).items()]
    lines = [f"| student vs {teacher} | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
