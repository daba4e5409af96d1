"""Static energetics: relaxations, isomer and reaction energies, fragment loss, dipoles.

Every engine comes from the calculator registry
(:func:`mdkit.calculators.make_calculator`); every relaxation can go through
the results database (:mod:`mdkit.database`), in which case repeating it
returns the stored result without calling the engine.

Units: energies in eV, lengths in Å, forces in eV/Å, charges in e, dipole
moments in e·Å and Debye (1 D = 0.2081943 e·Å).

Relaxations use ASE's **LBFGS** by default.  A quasi-Newton method builds
up curvature and needs several times fewer force calls than FIRE to reach
fmax = 0.05 eV/Å on these ions (12 vs 40 on [Mo6Cl14]2-, 19 vs 49 on
[Mo6Cl13]- with GFN-FF), which is what counts with GPAW; unlike ASE's BFGS it
keeps no dense 3N x 3N Hessian to diagonalise each step (516 x 516 for the
172-atom Ag28 clusters).  ``optimizer="FIRE"`` is the robust choice for a
far-from-equilibrium start, ``"BFGS"`` for small molecules.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import PropertyNotImplementedError, all_properties
from ase.calculators.singlepoint import SinglePointCalculator

from mdkit import database
from mdkit.errors import MdkitError, NotConverged
from mdkit.sites import HALOGENS, NON_METALS

#: e·Å per Debye.
DEBYE_EA = units.Debye
#: Most fresh-calculator restarts of a relaxation with a topology-fixing engine.
MAX_TOPOLOGY_ROUNDS = 5


class EnergeticsError(MdkitError):
    """A structure, reaction or option the energetics cannot work with."""


class ConvergenceWarning(NotConverged):
    """A relaxation stopped at its step limit above the force criterion."""


def _optimizers():
    from ase.optimize import BFGS, FIRE, LBFGS

    return {"LBFGS": LBFGS, "BFGS": BFGS, "FIRE": FIRE}


def _label(atoms) -> str:
    from mdkit.species import ion_formula

    return atoms.info.get("label") or atoms.info.get("name") or ion_formula(
        atoms.get_chemical_formula("metal"), int(atoms.info.get("charge", 0)))


def _net_charge(atoms, charge=None) -> int:
    if charge is None:
        if "charge" not in atoms.info:
            raise EnergeticsError(f"structure {atoms.get_chemical_formula('metal')} has no net "
                                  f"charge: set atoms.info['charge'] (in e, 0 if neutral).")
        charge = atoms.info["charge"]
    if int(charge) != charge:
        raise EnergeticsError(f"net charge {charge} of {atoms.get_chemical_formula('metal')} "
                              f"is not a whole number of e.")
    return int(charge)


def _open(db):
    return None if db is None else database.connect(db)


# ------------------------------------------------------------------ relax
def relax(atoms, calculator: str, options: dict | None = None, fmax: float = 0.05,
          steps: int = 500, db=None, *, optimizer: str = "LBFGS", charge: int | None = None,
          label: str | None = None):
    """Relax a structure with a registry calculator and return it with its energy.

    Parameters
    ----------
    atoms : ase.Atoms
        Start structure (not changed); net charge in ``atoms.info["charge"]``
        (e) unless ``charge`` is given.
    calculator : str
        Calculator registry name (``gfnff``, ``xtb``, ``emt``, ``gpaw``).
    options : dict, optional
        Calculator options (see :func:`mdkit.calculators.make_calculator`).
    fmax : float
        Force criterion in eV/Å: the largest force on any atom.
    steps : int
        Step limit.  ``steps=0`` is a single point on the given geometry.
    db : database, path or URL, optional
        Results database (:func:`mdkit.database.connect`).  A relaxation
        already stored with the same structure, charge, calculator, options,
        engine version, optimiser, fmax and steps is returned from it without
        calling the engine; a new one is stored (``kind="relaxed"``).
    optimizer : str
        ``"LBFGS"`` (default, see the module notes), ``"BFGS"`` or ``"FIRE"``.
    charge : int, optional
        Net charge in e, overriding ``atoms.info["charge"]``.
    label : str, optional
        Stored with the record and put in ``info["label"]``.

    Returns
    -------
    (ase.Atoms, float)
        The relaxed structure and its potential energy in eV.  The structure
        carries its results on a single-point calculator (energy, forces,
        charges and, for an engine with a density dipole such as GPAW, the
        dipole) and in ``info``: ``charge``,
        ``energy_eV``, ``fmax_eV_A`` (largest force reached), ``n_steps``,
        ``converged`` and ``from_database``.  With GPAW it is in the box GPAW
        computed it in.  A relaxation that hits ``steps`` before ``fmax``
        warns with :class:`ConvergenceWarning` and is returned (and stored)
        as it is.

    Notes
    -----
    GFN-FF sets up its bond topology at its first call and keeps it, so a
    plain relaxation ends with the topology of the start structure.  Here a
    relaxation with such an engine is restarted from its end point with a
    fresh calculator until a restart takes no step (at most
    :data:`MAX_TOPOLOGY_ROUNDS` rounds; ``n_steps`` counts all of them): the
    energy returned is then what a new calculation on the relaxed structure
    gives (about 1 meV different from a plain run for [Mo6Cl14]2-).
    """
    from mdkit.calculators import engine_for, make_calculator

    optimizers = _optimizers()
    if optimizer not in optimizers:
        raise EnergeticsError(f"unknown optimizer {optimizer!r}; choose one of "
                              f"{', '.join(optimizers)}.")
    if not fmax > 0:
        raise EnergeticsError(f"fmax must be a positive force in eV/Å, not {fmax}.")
    if int(steps) != steps or steps < 0:
        raise EnergeticsError(f"steps must be a whole number >= 0, not {steps}.")
    options = dict(options or {})
    charge = _net_charge(atoms, charge)
    label = label or atoms.info.get("label")
    db = _open(db)
    key = database.key_for("relaxed", atoms, calculator, options, charge=charge,
                           optimizer=optimizer, fmax_target_eV_A=float(fmax),
                           max_steps=int(steps))
    if db is not None:
        row = database.lookup(db, key)
        if row is not None:
            relaxed = database.row_to_atoms(row)
            relaxed.info.update(charge=charge, energy_eV=float(row.energy),
                                fmax_eV_A=float(row.get("fmax_eV_A")),
                                n_steps=int(row.get("n_steps")),
                                converged=bool(row.get("converged")), from_database=True)
            if label:
                relaxed.info["label"] = label
            return relaxed, float(row.energy)

    work = atoms.copy()
    work.info["charge"] = charge
    work.calc = make_calculator(calculator, work, charge, **options)
    history = {"energies_eV": [], "fmax_eV_A": []}

    def observe():
        history["energies_eV"].append(float(work.get_potential_energy()))
        history["fmax_eV_A"].append(float(_largest_force(work.get_forces())))

    # GFN-FF fixes its bond topology at the first call: restart from the end point
    # with a fresh calculator until a restart takes no step, so that energy and
    # forces belong to the relaxed structure's own topology (what any later
    # calculation on it gives), not to that of the start structure.
    restart = engine_for(calculator).topology_from_first_call and steps > 0
    n_steps = 0
    for round_ in range(MAX_TOPOLOGY_ROUNDS if restart else 1):
        if round_:
            work.calc = make_calculator(calculator, work, charge, **options)
        opt = optimizers[optimizer](work, logfile=None)
        opt.attach(observe, interval=1)
        opt.run(fmax=fmax, steps=int(steps) - n_steps)
        n_steps += opt.nsteps
        if (round_ and opt.nsteps == 0) or n_steps >= steps:
            break
    energy = float(work.get_potential_energy())
    forces = work.get_forces()
    # asap3's EMT is not an ASE Calculator: no .results, no implemented_properties
    results = {p: v for p, v in getattr(work.calc, "results", {}).items()
               if p in all_properties}
    results.update(energy=energy, forces=forces)
    implemented = getattr(work.calc, "implemented_properties", ())
    # a dipole is kept only where it is the density's (:func:`dipole_moment` sums
    # partial charges for the others)
    wanted = {"charges": True, "dipole": _density_dipole(calculator)}
    for prop, getter in (("charges", work.get_charges),
                         ("dipole", work.get_dipole_moment)):
        if prop in implemented and prop not in results and wanted[prop]:
            try:
                results[prop] = getter()
            except (PropertyNotImplementedError, NotImplementedError):
                pass
    reached = _largest_force(forces)
    converged = bool(reached <= fmax)
    if steps > 0 and not converged:
        warnings.warn(f"relaxation of {_label(work)} with {calculator} stopped after "
                      f"{n_steps} steps at fmax {reached:.3g} eV/Å, above the "
                      f"{fmax} eV/Å asked for.", ConvergenceWarning, stacklevel=2)
    relaxed = work.copy()
    relaxed.calc = SinglePointCalculator(relaxed, **results)
    relaxed.calc.name = calculator
    relaxed.info.update(charge=charge, energy_eV=energy, fmax_eV_A=float(reached),
                        n_steps=n_steps, converged=converged, from_database=False)
    if label:
        relaxed.info["label"] = label
    if db is not None:
        database.store(db, relaxed, key,
                       data={**history, "initial_positions": atoms.positions.copy()},
                       n_steps=n_steps, converged=converged,
                       fmax_eV_A=float(reached), label=label)
    return relaxed, energy


def _largest_force(forces) -> float:
    forces = np.asarray(forces)
    return float(np.sqrt((forces ** 2).sum(axis=1)).max()) if len(forces) else 0.0


# ---------------------------------------------------------------- isomers
def isomer_energies(structures: dict, calculator: str, options: dict | None = None,
                    fmax: float = 0.05, steps: int = 500, db=None, *,
                    optimizer: str = "LBFGS") -> list[dict]:
    """Relax isomers and give their energies relative to the lowest.

    Parameters
    ----------
    structures : dict[str, ase.Atoms]
        Label -> start structure; all must have the same composition and net
        charge (``info["charge"]``).
    calculator, options, fmax, steps, db, optimizer
        As for :func:`relax`.

    Returns
    -------
    list of dict
        One per isomer, in the order given: ``label``, ``formula``,
        ``charge`` (e), ``energy_eV``, ``relative_eV`` (to the lowest, which
        has exactly 0), ``fmax_eV_A`` (largest force reached), ``n_steps``,
        ``converged``, ``from_database`` and the relaxed ``atoms``.
    """
    if not structures:
        raise EnergeticsError("isomer_energies needs at least one structure.")
    composition = {}
    for label, atoms in structures.items():
        composition[label] = (atoms.get_chemical_formula("metal"), _net_charge(atoms))
    if len(set(composition.values())) > 1:
        listing = ", ".join(f"{label}: {formula} charge {q}"
                            for label, (formula, q) in composition.items())
        raise EnergeticsError(f"isomers must share composition and charge, but these "
                              f"differ ({listing}).")
    rows = []
    for label, atoms in structures.items():
        relaxed, energy = relax(atoms, calculator, options, fmax, steps, db,
                                optimizer=optimizer, label=str(label))
        rows.append({"label": str(label), "formula": composition[label][0],
                     "charge": composition[label][1], "energy_eV": energy,
                     "fmax_eV_A": relaxed.info["fmax_eV_A"], "n_steps": relaxed.info["n_steps"],
                     "converged": relaxed.info["converged"],
                     "from_database": relaxed.info["from_database"], "atoms": relaxed})
    lowest = min(row["energy_eV"] for row in rows)
    for row in rows:
        row["relative_eV"] = row["energy_eV"] - lowest
    return rows


def isomer_table(rows: list[dict]) -> str:
    """Plain-text table of :func:`isomer_energies` rows."""
    lines = [f"{'isomer':<10} {'formula':<18} {'q':>3} {'E (eV)':>14} {'dE (eV)':>9} "
             f"{'fmax (eV/Å)':>12} {'steps':>6}"]
    for r in rows:
        lines.append(f"{r['label']:<10} {r['formula']:<18} {r['charge']:>3d} "
                     f"{r['energy_eV']:>14.4f} {r['relative_eV']:>9.4f} "
                     f"{r['fmax_eV_A']:>12.4f} {r['n_steps']:>6d}")
    return "\n".join(lines)


# --------------------------------------------------------------- reactions
def _side(side, name: str) -> list[tuple[float, Atoms]]:
    entries = []
    try:
        for coefficient, atoms in side:
            if not isinstance(atoms, Atoms):
                raise TypeError
            entries.append((coefficient, atoms))
    except (TypeError, ValueError):
        raise EnergeticsError(f"the {name} must be a list of (coefficient, ase.Atoms) "
                              f"pairs.") from None
    if not entries:
        raise EnergeticsError(f"the {name} list is empty.")
    for coefficient, atoms in entries:
        if not (isinstance(coefficient, (int, float, np.integer, np.floating))
                and coefficient > 0):
            raise EnergeticsError(f"stoichiometric coefficient {coefficient!r} of "
                                  f"{_label(atoms)} must be a positive number.")
    return entries


def check_balance(reactants, products) -> None:
    """Raise :class:`EnergeticsError` unless elements and net charge balance."""
    reactants, products = _side(reactants, "reactants"), _side(products, "products")
    totals = []
    for side in (reactants, products):
        atoms_count, charge = Counter(), 0.0
        for coefficient, atoms in side:
            for symbol, n in Counter(atoms.get_chemical_symbols()).items():
                atoms_count[symbol] += coefficient * n
            charge += coefficient * _net_charge(atoms)
        totals.append((atoms_count, charge))
    (left, q_left), (right, q_right) = totals
    problems = [f"{el} {_num(left[el])} on the left but {_num(right[el])} on the right"
                for el in sorted(set(left) | set(right)) if abs(left[el] - right[el]) > 1e-9]
    if abs(q_left - q_right) > 1e-9:
        problems.append(f"net charge {_num(q_left)} e on the left but {_num(q_right)} e "
                        f"on the right")
    if problems:
        raise EnergeticsError("the reaction does not balance: " + "; ".join(problems) + ".")


def _num(x) -> str:
    return str(int(round(x))) if abs(x - round(x)) < 1e-9 else f"{x:g}"


def _equation(reactants, products) -> str:
    def side(entries):
        return " + ".join((f"{_num(c)} " if c != 1 else "") + _label(a) for c, a in entries)

    return f"{side(reactants)} -> {side(products)}"


def _evaluate(atoms, calculator, options, relax_it, fmax, steps, db, optimizer, memo):
    """Relaxed (or single-point) structure and energy, once per distinct species."""
    key = database.key_for("relaxed", atoms, calculator, options,
                           charge=_net_charge(atoms), optimizer=optimizer,
                           fmax_target_eV_A=float(fmax),
                           max_steps=int(steps) if relax_it else 0)["hash"]
    if key not in memo:
        memo[key] = relax(atoms, calculator, options, fmax, steps if relax_it else 0, db,
                          optimizer=optimizer)
    return memo[key]


def _assemble(reactants, products, results, calculator, relax_it) -> dict:
    species, total = [], 0.0
    for side, entries, sign in (("reactant", reactants, -1), ("product", products, 1)):
        for (coefficient, atoms), (relaxed, energy) in zip(entries, results[side]):
            total += sign * coefficient * energy
            species.append({"side": side, "coefficient": coefficient, "label": _label(atoms),
                            "formula": atoms.get_chemical_formula("metal"),
                            "charge": _net_charge(atoms), "energy_eV": energy,
                            "fmax_eV_A": relaxed.info["fmax_eV_A"],
                            "n_steps": relaxed.info["n_steps"],
                            "converged": relaxed.info["converged"], "atoms": relaxed})
    return {"equation": _equation(reactants, products), "energy_eV": total,
            "calculator": calculator, "relaxed": relax_it, "species": species}


def reaction_energy(reactants, products, calculator: str, options: dict | None = None, *,
                    relax: bool = True, fmax: float = 0.05, steps: int = 500, db=None,
                    optimizer: str = "LBFGS") -> dict:
    """Energy of a reaction, products minus reactants, with one calculator.

    Parameters
    ----------
    reactants, products : list of (coefficient, ase.Atoms)
        Each structure with its net charge in ``info["charge"]`` (e).
        Elements and net charge must balance.
    calculator, options : str, dict
        As for :func:`relax`; every species is computed with the same ones.
    relax : bool
        Relax every species (True) or take single points on the geometries
        given (False).
    fmax, steps, db, optimizer
        As for :func:`relax`.  Identical species are computed once.

    Returns
    -------
    dict
        ``equation``, ``energy_eV`` (sum over products minus sum over
        reactants of coefficient x energy; positive = endothermic),
        ``calculator``, ``relaxed`` and ``species``: one dict per entry with
        ``side``, ``coefficient``, ``label``, ``formula``, ``charge``,
        ``energy_eV``, ``fmax_eV_A``, ``n_steps``, ``converged``, ``atoms``.
    """
    reactants, products = _side(reactants, "reactants"), _side(products, "products")
    check_balance(reactants, products)
    memo: dict = {}
    results = {side: [_evaluate(atoms, calculator, options, relax, fmax, steps, db,
                                optimizer, memo) for _, atoms in entries]
               for side, entries in (("reactant", reactants), ("product", products))}
    return _assemble(reactants, products, results, calculator, relax)


# ----------------------------------------------------------- fragment loss
def _fragment_atoms(parent, sites, fragment) -> list[int]:
    """Atom indices of the leaving fragment."""
    symbols = parent.get_chemical_symbols()
    if sites is not None and (isinstance(fragment, (int, np.integer))
                              or (isinstance(fragment, str) and
                                  (fragment.isdigit() or fragment in sites.class_names))):
        occupied = sites.select(fragment, occupied=True)
        if len(occupied) == 0:
            what = (f"site {fragment} is" if str(fragment).isdigit()
                    else f"every {fragment} site is")
            raise EnergeticsError(f"{what} already vacant: there is no atom to lose.")
        return [int(sites.atoms[occupied[0]])]
    if isinstance(fragment, str) and not fragment.isdigit():
        matches = [i for i, s in enumerate(symbols) if s == fragment]
        if len(matches) != 1:
            hint = (" pass the SiteMap (sites=...) and a site class, or an atom index"
                    if sites is None else
                    f" or give a site class ({', '.join(sites.class_names)}), a site index "
                    f"or an atom index")
            raise EnergeticsError(f"fragment {fragment!r} must be an element present exactly "
                                  f"once, but {parent.get_chemical_formula('metal')} has "
                                  f"{len(matches)};{hint}.")
        return matches
    indices = [int(fragment)] if isinstance(fragment, (int, np.integer, str)) else [
        int(i) for i in fragment]
    for i in indices:
        if not 0 <= i < len(parent):
            raise EnergeticsError(f"atom index {i} is out of range for "
                                  f"{parent.get_chemical_formula('metal')} "
                                  f"({len(parent)} atoms).")
    if len(set(indices)) != len(indices) or len(indices) == len(parent):
        raise EnergeticsError("the fragment must be distinct atoms and leave at least one "
                              "atom behind.")
    return indices


def fragment_loss(parent, fragment, calculator: str, options: dict | None = None, *,
                  sites=None, fragment_charge: int | None = None, relax: bool = True,
                  fmax: float = 0.05, steps: int = 500, db=None,
                  optimizer: str = "LBFGS") -> dict:
    """Energy for an ion to lose an atom (or group): parent -> remainder + fragment.

    The two study cases::

        fragment_loss(build("ag28hg"), "Hg", "gfnff")
            # [Ag28Hg(BDT)12]2- -> [Ag28(BDT)12]2- + Hg
        fragment_loss(build("mo6cl14"), "apical", "gpaw")
            # [Mo6Cl14]2- -> [Mo6Cl13]- + Cl-   (and build("mo6cl13") -> Mo6Cl12 + Cl-)

    The parent is relaxed first; the remainder starts from the relaxed
    parent less the fragment and is relaxed in turn (adiabatic loss energy);
    the fragment is computed isolated with the same calculator and options
    (GPAW puts it in its own box with the same ``vacuum``).  With
    ``relax=False`` all three are single points on the given geometry.

    Spin: every species is computed spin-paired, as the engines do by
    default.  That is right for the study cases: an isolated Hg atom
    (5d10 6s2), Cl- (3p6), [Mo6Cl14]2-, [Mo6Cl13]- and Mo6Cl12 (24 Mo-Mo
    bonding electrons) are closed shells, and [Ag28Hg(BDT)12]2- and
    [Ag28(BDT)12]2- have even electron counts (8 and 6 superatom electrons),
    taken as singlets.  For an open-shell fragment pass GPAW options such as
    ``spinpol=True`` (they then apply to every species).

    Parameters
    ----------
    parent : ase.Atoms or (ase.Atoms, SiteMap)
        The ion, with ``info["charge"]`` (e); a ``(atoms, sites)`` pair as
        :func:`mdkit.systems.build` returns also sets ``sites``.
    fragment : str, int or sequence of int
        With a SiteMap: a site class (its first occupied site, as
        :func:`mdkit.systems.vacate` picks) or a site index.  Otherwise an
        element present once in the parent (``"Hg"``), an atom index, or a
        list of atom indices.
    fragment_charge : int, optional
        Charge of the fragment in e.  Default for a single atom: -1 for a
        halogen (it leaves as the halide), 0 for a metal (it leaves as a
        neutral atom), the bookkeeping of :mod:`mdkit.systems.defects`;
        required for a fragment of several atoms.
    calculator, options, relax, fmax, steps, db, optimizer
        As for :func:`reaction_energy`.

    Returns
    -------
    dict
        :func:`reaction_energy`'s dict (``energy_eV`` is the loss energy in
        eV, positive when the fragment is bound), plus ``parent``,
        ``remainder`` and ``fragment`` (the computed ``ase.Atoms``).
    """
    if isinstance(parent, tuple):
        parent, sites = parent
    if not isinstance(parent, Atoms):
        raise EnergeticsError("the parent must be an ase.Atoms or an (ase.Atoms, SiteMap) "
                              "pair.")
    parent_charge = _net_charge(parent)
    indices = _fragment_atoms(parent, sites, fragment)
    symbols = [parent[i].symbol for i in indices]
    if fragment_charge is None:
        if len(indices) > 1:
            raise EnergeticsError(f"give fragment_charge for the {len(indices)}-atom "
                                  f"fragment {''.join(symbols)}.")
        fragment_charge = -1 if symbols[0] in HALOGENS else 0
    fragment_charge = int(fragment_charge)

    memo: dict = {}
    parent_result = _evaluate(parent, calculator, options, relax, fmax, steps, db,
                              optimizer, memo)
    start = parent_result[0]
    remainder = start.copy()
    remainder.calc = None
    del remainder[indices]
    remainder.info = {"charge": parent_charge - fragment_charge}
    lost = Atoms(symbols, positions=start.positions[indices]
                 - start.positions[indices].mean(axis=0))
    lost.info = {"charge": fragment_charge}
    reactants = [(1, parent)]
    products = [(1, remainder), (1, lost)]
    check_balance(reactants, products)
    results = {"reactant": [parent_result],
               "product": [_evaluate(a, calculator, options, relax, fmax, steps, db,
                                     optimizer, memo) for a in (remainder, lost)]}
    out = _assemble(reactants, products, results, calculator, relax)
    out.update(parent=parent_result[0], remainder=results["product"][0][0],
               fragment=results["product"][1][0])
    return out


# ------------------------------------------------------------------ dipole
def _density_dipole(name) -> bool:
    """Whether registry engine ``name`` reports the dipole of its electron density."""
    from mdkit.calculators import CALCULATORS

    engine = CALCULATORS.get(name)
    return engine is not None and engine.density_dipole


def _origin(origin, atoms) -> np.ndarray:
    if isinstance(origin, str):
        if origin == "metal":
            metal = [i for i, s in enumerate(atoms.get_chemical_symbols())
                     if s not in NON_METALS]
            if not metal:
                raise EnergeticsError(f"{atoms.get_chemical_formula('metal')} has no metal "
                                      f"atoms to centre the dipole on; use origin='com' or "
                                      f"an xyz point.")
            return atoms.positions[metal].mean(axis=0)
        if origin == "com":
            return atoms.get_center_of_mass()
        raise EnergeticsError(f"dipole origin {origin!r} must be 'metal', 'com' or an "
                              f"(x, y, z) point in Å.")
    point = np.asarray(origin, dtype=float)
    if point.shape != (3,):
        raise EnergeticsError(f"dipole origin {origin!r} must be 'metal', 'com' or an "
                              f"(x, y, z) point in Å.")
    return point


def dipole_moment(atoms, charges=None, origin="metal", calculator: str | None = None,
                  options: dict | None = None) -> dict:
    """Dipole moment of an ion about a chosen origin, in e·Å and Debye.

    For a charged body the dipole depends on the origin o:
    p(o) = ∫ρ(r)(r - o) d³r = p(0) - Q o, with Q = ∫ρ d³r the net charge.
    With point charges p(0) = Σ q_i r_i; GPAW reports the dipole of the
    total (electron + nuclear) density about the origin of its cell, so the
    same rule moves it to ``origin``.

    Parameters
    ----------
    atoms : ase.Atoms
        The ion; ``info["charge"]`` is its net charge in e (else the sum of
        the partial charges).
    charges : array of float, optional
        Partial charges in e, one per atom (must sum to the net charge).
    origin : "metal", "com" or (x, y, z)
        ``"metal"`` (default): the mean position of the metal atoms (the
        centre of the metal core); ``"com"``: the centre of mass; or a point
        in Å in the frame of ``atoms``.
    calculator : str, optional
        Compute the charges (GFN-FF EEQ, xTB Mulliken) or, for an engine
        whose entry has ``density_dipole`` (GPAW), the density dipole, with
        this registry calculator and ``options``.  Without ``charges`` or
        ``calculator``, the results already on ``atoms.calc`` are used (e.g.
        the structure :func:`relax` returns): its dipole when it came from
        such an engine, else its charges.

    Returns
    -------
    dict
        ``dipole_eA`` and ``dipole_D`` (vectors), ``magnitude_eA``,
        ``magnitude_D``, ``origin_A`` (the origin in the frame of ``atoms``),
        ``charge_e`` (net charge), ``source`` (``"charges"`` or
        ``"density"``) and ``charges_e`` (None for a density dipole).
    """
    from mdkit.calculators import make_calculator

    frame = atoms
    p0 = None
    q = None
    if charges is not None:
        q = np.asarray(charges, dtype=float)
        if q.shape != (len(atoms),):
            raise EnergeticsError(f"give one partial charge per atom: {len(atoms)} atoms but "
                                  f"{q.size} charges.")
    elif calculator is not None:
        frame = atoms.copy()  # GPAW moves it into its box: a pure translation
        frame.calc = make_calculator(calculator, frame, _net_charge(atoms), **(options or {}))
        if _density_dipole(calculator):
            p0 = np.asarray(frame.get_dipole_moment(), float)
        else:
            q = _charges_from(frame, calculator)
    elif atoms.calc is not None:
        results = getattr(atoms.calc, "results", {})
        if _density_dipole(getattr(atoms.calc, "name", "")) and "dipole" in results:
            p0 = np.asarray(results["dipole"], float)
        else:
            q = _charges_from(atoms, getattr(atoms.calc, "name", "the attached calculator"))
    else:
        raise EnergeticsError("dipole_moment needs partial charges, a calculator name, or a "
                              "structure with a calculator's results attached.")

    if q is not None:
        total = float(q.sum())
        net = float(atoms.info.get("charge", round(total)))
        if abs(total - net) > 1e-3:
            raise EnergeticsError(f"the partial charges sum to {total:.4f} e but the ion's net "
                                  f"charge is {net:g} e.")
        p0 = (q[:, None] * frame.positions).sum(axis=0)
    else:
        net = float(_net_charge(atoms))
    o = _origin(origin, atoms)
    shift = frame.positions.mean(axis=0) - atoms.positions.mean(axis=0)
    p = p0 - net * (o + shift)
    return {"dipole_eA": p, "dipole_D": p / DEBYE_EA,
            "magnitude_eA": float(np.linalg.norm(p)),
            "magnitude_D": float(np.linalg.norm(p) / DEBYE_EA), "origin_A": o,
            "charge_e": net, "source": "charges" if q is not None else "density",
            "charges_e": q}


def _charges_from(atoms, name) -> np.ndarray:
    try:
        return np.asarray(atoms.get_charges(), dtype=float)
    except (PropertyNotImplementedError, NotImplementedError, AttributeError):
        raise EnergeticsError(f"calculator {name!r} gives no partial charges; pass charges= "
                              f"or use gfnff, xtb or gpaw.") from None
