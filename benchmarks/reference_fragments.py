"""Is the SevenNet-0 vs GPAW-LCAO force gap SevenNet-0's error or the dzp basis's?

Issue 18, item 3.  Fragments small enough for a converged plane-wave
reference are cut from the shipped [Ag29(BDT)12]3- model
(``mdkit/data/ag29_bdt12.xyz``) with :class:`mdkit.validation.Cut`:

- ``bdt``: one 1,3-benzenedithiol, C6H4(SH)2, its S capped by H along the
  S-Ag bonds it had (14 atoms, neutral);
- ``ag2bdt``: the same BDT with the nearest Ag on each S, Ag-S-C6H4-S-Ag
  (two Ag(I) and a dithiolate: neutral, 16 atoms);
- ``ag3s3``: one Ag3S3 crown ring, Ag3(SH)3, its S capped by H along the
  S-C bonds (three Ag(I), three thiolates: neutral, 9 atoms).

Engines (all through :func:`mdkit.calculators.make_calculator`): SevenNet-0;
GPAW LCAO dzp (mdkit's defaults: PBE, h 0.2 Å; and on a 0.15 Å grid); GPAW
plane waves at several cutoffs, and at 400 eV in a larger box
(6 Å vacuum instead of 5).  Every GPAW run uses Fermi-Dirac 0.01 eV (the fragments
are closed-shell; this only steadies the SCF).

Tasks per fragment and engine: ``forces`` on the cut geometry; ``relax``
(BFGS to ``FMAX`` eV/Å, used for SevenNet-0); ``stiff`` and ``stiff1``, the
DFT bond lengths: Newton steps from SevenNet-0's minimum with its Hessian,
in the modes stiffer than 2 (or 1) eV/Å² only (:func:`_stiff_relax`; a full
DFT relaxation of the soft torsions would take hours here).  Each
calculation writes one JSON into ``benchmarks/results/reference_fragments/``
and is skipped when that file exists, so the script resumes; without
arguments it prints the tables from whatever is there.

Run: ``OMP_NUM_THREADS=1 python3 benchmarks/reference_fragments.py --run all``
(or name fragments/engines/tasks; ``--help``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import ase.io
import numpy as np

import mdkit
from mdkit.calculators import make_calculator
from mdkit.validation import Cut, force_statistics

MODEL = Path(mdkit.__file__).parent / "data" / "ag29_bdt12.xyz"
RESULTS = Path(__file__).parent / "results" / "reference_fragments"
FMAX = 0.02  # eV/Å: bond lengths to about 0.002 Å
MAX_STEPS = 60
SMEARING = {"name": "fermi-dirac", "width": 0.01}


#: SCF of the plane-wave runs: converged in the forces (eV/Å), which is what is
#: compared; GPAW's default eigenstate criterion (4e-8) would double the iterations
PW_CONVERGENCE = {"eigenstates": 1e-6, "forces": 0.002}


def _pw(ecut, vacuum=5.0):
    return ("gpaw", {"mode": {"name": "pw", "ecut": ecut}, "occupations": SMEARING,
                     "vacuum": vacuum, "convergence": PW_CONVERGENCE})


ENGINES = {
    "sevennet": ("sevennet", {}),
    "lcao": ("gpaw", {"occupations": SMEARING}),
    # the same basis on a finer grid: what of LCAO's error is the grid's, not the basis's
    "lcao_h0.15": ("gpaw", {"occupations": SMEARING, "h": 0.15}),
    "pw400": _pw(400), "pw500": _pw(500), "pw600": _pw(600), "pw700": _pw(700),
    "pw400_box6": _pw(400, vacuum=6.0),
}
#: the reference, the first of these done for a fragment: plane waves at the
#: highest cutoff (on BDT, 500 and 600 eV differ by 0.004 eV/Å MAE)
REFERENCES = ("pw600", "pw500")


# ---------------------------------------------------------------- fragments

def _neighbours(model, i, cutoff=2.56):
    """Indices of the atoms closer than ``cutoff`` Å to atom i."""
    d = np.linalg.norm(model.positions - model.positions[i], axis=1)
    return [int(j) for j in np.flatnonzero((d < cutoff) & (d > 0))]


def _ligand(model, s0):
    """Indices of the BDT holding S atom ``s0``: its C, H, S connected without Ag."""
    symbols = np.array(model.get_chemical_symbols())
    organic = symbols != "Ag"
    d = np.linalg.norm(model.positions[:, None] - model.positions[None], axis=2)
    bonded = (d < 1.9) & organic[:, None] & organic[None] & (d > 0)
    found, todo = {s0}, [s0]
    while todo:
        for j in np.flatnonzero(bonded[todo.pop()]):
            if int(j) not in found:
                found.add(int(j))
                todo.append(int(j))
    return sorted(found)


def fragments(model) -> dict[str, Cut]:
    """The three fragments of the module docstring, as cuts of the model."""
    symbols = np.array(model.get_chemical_symbols())
    radius = np.linalg.norm(model.positions - model.positions[0], axis=1)
    staple_ag = set(np.flatnonzero((symbols == "Ag") & (radius > 5.5)).tolist())
    s0 = next(int(i) for i in np.flatnonzero(symbols == "S")
              if staple_ag & set(_neighbours(model, i)))
    ligand = _ligand(model, s0)
    sulfurs = [i for i in ligand if symbols[i] == "S"]
    d = np.linalg.norm(model.positions[:, None] - model.positions[None], axis=2)
    nearest_ag = {s: int(min(np.flatnonzero(symbols == "Ag"), key=lambda a: d[s, a]))
                  for s in sulfurs}
    # the crown ring of s0: staple Ag and S joined by short (< 2.56 Å) bonds; the
    # longer ones (2.6 Å) lead from the ring to the other motifs
    ring, todo = {s0}, [s0]
    while todo:
        i = todo.pop()
        for j in _neighbours(model, i):
            if j not in ring and (j in staple_ag if symbols[i] == "S" else symbols[j] == "S"):
                ring.add(j)
                todo.append(j)
    ring_s = [i for i in sorted(ring) if symbols[i] == "S"]
    ring_c = {s: next(j for j in np.flatnonzero(symbols == "C") if d[s, j] < 1.9)
              for s in ring_s}
    return {"bdt": Cut(tuple(ligand), tuple((s, nearest_ag[s]) for s in sulfurs), 0),
            "ag2bdt": Cut(tuple(sorted(ligand + list(nearest_ag.values()))), (), 0),
            "ag3s3": Cut(tuple(sorted(ring)), tuple((s, int(ring_c[s])) for s in ring_s), 0)}


# ---------------------------------------------------------------- calculations

def _path(fragment, engine, task) -> Path:
    return RESULTS / f"{fragment}__{engine}__{task}.json"


def _write_whole(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def calculate(fragment: str, cut: Cut, model, engine: str, task: str) -> dict:
    """One calculation, read from its JSON when done before, else run and written."""
    path = _path(fragment, engine, task)
    if path.exists():
        return json.loads(path.read_text())
    name, options = ENGINES[engine]
    atoms = cut.apply(model.get_chemical_symbols(), model.positions)
    start_from = "cut"
    # DFT steps are the dear ones: start next to their minimum, the soft S-H
    # torsions already settled (LCAO from SevenNet-0's minimum, plane waves
    # from LCAO's)
    previous = "lcao" if engine.startswith("pw") else "sevennet" if engine == "lcao" else None
    if task == "relax" and previous and _path(fragment, previous, task).exists():
        atoms.positions = json.loads(_path(fragment, previous, task).read_text())["positions"]
        start_from = f"{previous} relaxed"
    if task in STIFF_EV_PER_A2:
        atoms.positions = _sevennet_minimum(fragment, cut, model).positions
        start_from = "sevennet relaxed"
    # the cluster's centre (model atom 0) in the fragment's frame: the outward
    # direction of each atom in the ion, for radial force components
    centre = model.positions[0].copy()
    options = {**options}
    if name == "gpaw":
        options["txt"] = str(path.with_suffix(".gpaw.txt"))
    before = atoms.positions.copy()
    atoms.calc = make_calculator(name, atoms, cut.charge, **options)
    shift = atoms.positions[0] - before[0]  # GPAW centres the fragment in its box
    started = time.perf_counter()
    steps, converged = 0, None
    if task == "relax":
        from ase.optimize import BFGS

        optimizer = BFGS(atoms, logfile=None)
        converged = optimizer.run(fmax=FMAX, steps=MAX_STEPS)
        steps = optimizer.nsteps
    elif task in STIFF_EV_PER_A2:
        steps, converged = _stiff_relax(atoms, _hessian_sevennet(fragment, cut, model),
                                        STIFF_EV_PER_A2[task])
    forces = atoms.get_forces()
    result = {"fragment": fragment, "engine": engine, "task": task, "calculator": name,
              "options": {k: v for k, v in options.items() if k != "txt"},
              "charge": cut.charge, "symbols": atoms.get_chemical_symbols(),
              "positions": atoms.positions.tolist(), "forces": forces.tolist(),
              "energy_eV": float(atoms.get_potential_energy()),
              "centre": (centre + shift).tolist(), "start_from": start_from,
              "steps": steps, "converged": converged, "seconds": time.perf_counter() - started,
              "fmax_eV_per_A": FMAX if task == "relax" else None}
    RESULTS.mkdir(parents=True, exist_ok=True)
    _write_whole(path, result)
    return result


# ------------------------------------------------- relaxing the stiff modes only

#: curvature (eV/Å²) above which a mode of SevenNet-0's Hessian counts as stiff,
#: by task: bond stretches and ring angles (C-H stretch about 30, S-H torsion
#: below 1); "stiff1" takes in the Ag-S stretches of Ag3(SH)3 (1.3-1.9 eV/Å²)
STIFF_EV_PER_A2 = {"stiff": 2.0, "stiff1": 1.0}
STIFF_STEPS = 8


def _sevennet_minimum(fragment, cut, model):
    done = calculate(fragment, cut, model, "sevennet", "relax")
    from ase import Atoms

    return Atoms(done["symbols"], positions=done["positions"])


def _hessian_sevennet(fragment, cut, model, delta=0.005):
    """SevenNet-0's Hessian (eV/Å², shape (3n, 3n)) at its own minimum, by central
    differences of its forces (``delta`` Å); kept in a JSON like the calculations."""
    path = _path(fragment, "sevennet", "hessian")
    if path.exists():
        return np.array(json.loads(path.read_text())["hessian_eV_per_A2"])
    atoms = _sevennet_minimum(fragment, cut, model)
    atoms.calc = make_calculator("sevennet", atoms, cut.charge)
    x0 = atoms.positions.copy()
    columns = []
    for k in range(x0.size):
        pair = []
        for sign in (1, -1):
            x = x0.copy().ravel()
            x[k] += sign * delta
            atoms.positions = x.reshape(-1, 3)
            pair.append(-atoms.get_forces().ravel())
        columns.append((pair[0] - pair[1]) / (2 * delta))
    hessian = np.array(columns)
    hessian = (hessian + hessian.T) / 2
    _write_whole(path, {"fragment": fragment, "delta_A": delta,
                        "hessian_eV_per_A2": hessian.tolist()})
    return hessian


def stiff_residual(hessian, forces, threshold) -> float:
    """Largest force on an atom (eV/Å) in the modes of ``hessian`` stiffer than
    ``threshold`` (eV/Å²)."""
    curvature, modes = np.linalg.eigh(hessian)
    stiff = modes[:, curvature > threshold]
    along = stiff @ (stiff.T @ np.asarray(forces).ravel())
    return float(np.linalg.norm(along.reshape(-1, 3), axis=1).max())


def _stiff_relax(atoms, hessian, threshold) -> tuple[int, bool]:
    """Newton steps with SevenNet-0's Hessian, in its stiff modes only.

    A DFT relaxation of the bond lengths at a few single points: SevenNet-0's
    curvatures stand in for the engine's (an error that shrinks with each
    step, as in any quasi-Newton method), and the soft torsions, which a few
    hundredths of an eV/Å of force error would swing far, stay where
    SevenNet-0 put them.  Returns (steps, converged): converged when every
    atom's stiff-mode force is below ``FMAX``.

    Checked on BDT with another model standing in for DFT (SevenNet 7net-l3i5,
    whose C-S is 0.010 Å shorter): 3 steps give its full BFGS minimum's mean
    C-S, C-C, C-H and S-H lengths to within 0.0004 Å.
    """
    curvature, modes = np.linalg.eigh(hessian)
    stiff = modes[:, curvature > threshold]
    inverse = stiff @ np.diag(1 / curvature[curvature > threshold]) @ stiff.T
    step = 0
    while True:
        forces = atoms.get_forces().ravel()
        largest = stiff_residual(hessian, forces, threshold)
        if largest < FMAX or step == STIFF_STEPS:
            return step, bool(largest < FMAX)
        atoms.positions = atoms.positions + (inverse @ forces).reshape(-1, 3)
        step += 1


# ---------------------------------------------------------------- tables

BOND_TYPES = ("Ag-S", "C-S", "C-C", "C-H", "H-S")


def bond_lengths(symbols, positions) -> dict[str, float]:
    """Mean length (Å) of each bond type of :data:`BOND_TYPES` present."""
    from ase.data import atomic_numbers, covalent_radii

    positions = np.asarray(positions)
    radii = covalent_radii[[atomic_numbers[s] for s in symbols]]
    d = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    found: dict[str, list] = {}
    for i, j in zip(*np.nonzero(np.triu(d < 1.2 * (radii[:, None] + radii[None]), 1))):
        found.setdefault("-".join(sorted((symbols[i], symbols[j]))), []).append(d[i, j])
    return {t: float(np.mean(found[t])) for t in BOND_TYPES if t in found}


def kinds(symbols, positions) -> list[str]:
    """Element symbols, hydrogens told apart by their partner: "H(C)" or "H(S)".

    H(C) are the ring's own hydrogens; H(S) are the caps put where Ag or C was.
    """
    positions = np.asarray(positions)
    heavy = [i for i, s in enumerate(symbols) if s != "H"]
    out = []
    for i, s in enumerate(symbols):
        if s == "H":
            partner = min(heavy, key=lambda j: np.linalg.norm(positions[j] - positions[i]))
            s = f"H({symbols[partner]})"
        out.append(s)
    return out


def radial_forces(result) -> dict[str, float]:
    """Mean outward force component per kind of atom (eV/Å), out from the ion's centre."""
    positions = np.asarray(result["positions"])
    outward = positions - np.asarray(result["centre"])
    outward /= np.linalg.norm(outward, axis=1)[:, None]
    radial = (np.asarray(result["forces"]) * outward).sum(axis=1)
    labels = np.array(kinds(result["symbols"], positions))
    return {k: float(radial[labels == k].mean()) for k in dict.fromkeys(labels)}


def _done(fragment, engine, task):
    path = _path(fragment, engine, task)
    return json.loads(path.read_text()) if path.exists() else None


def force_table(fragment) -> list[str]:
    """Markdown rows: force MAE per kind of atom of each engine against the reference."""
    reference = next((r for r in REFERENCES if _done(fragment, r, "forces")), None)
    if reference is None:
        return []
    ref = _done(fragment, reference, "forces")
    labels = kinds(ref["symbols"], ref["positions"])
    elements = list(dict.fromkeys(labels))
    lines = [f"| {fragment} vs {reference}: engine | " + " | ".join(f"MAE {e}" for e in elements)
             + " | MAE all | " + " | ".join(f"F_out {e}" for e in elements) + " | time s |",
             "|---" * (2 * len(elements) + 3) + "|"]
    for engine in ENGINES:
        done = _done(fragment, engine, "forces")
        if done is None:
            continue
        rows = {r["element"]: r for r in force_statistics(
            labels, np.array([done["forces"]]), np.array([ref["forces"]]))}
        radial = radial_forces(done)
        lines.append(f"| {engine} | " + " | ".join(f"{rows[e]['mae_eV_per_A']:.3f}"
                                                  for e in elements)
                     + f" | {rows['all']['mae_eV_per_A']:.3f} | "
                     + " | ".join(f"{radial[e]:+.3f}" for e in elements)
                     + f" | {done['seconds']:.0f} |")
    return lines


def bond_table(fragments_=("bdt", "ag2bdt", "ag3s3")) -> list[str]:
    """Markdown rows: mean bond lengths after relaxation, each fragment and engine."""
    lines = ["| fragment | engine | relaxed | " + " | ".join(BOND_TYPES) + " | steps |",
             "|---" * (len(BOND_TYPES) + 4) + "|"]
    for fragment in fragments_:
        for engine in ENGINES:
            for task, how in (("relax", "all atoms"), ("stiff", "modes > 2 eV/Å²"),
                              ("stiff1", "modes > 1 eV/Å²")):
                done = _done(fragment, engine, task)
                if done is None:
                    continue
                bonds = bond_lengths(done["symbols"], done["positions"])
                mark = "" if done["converged"] else " (not converged)"
                if task in STIFF_EV_PER_A2 and not done["converged"]:
                    hessian = np.array(json.loads(_path(fragment, "sevennet", "hessian")
                                                  .read_text())["hessian_eV_per_A2"])
                    mark = (f" (stiff-mode force still "
                            f"{stiff_residual(hessian, done['forces'], STIFF_EV_PER_A2[task]):.3f}"
                            " eV/Å)")
                lines.append(f"| {fragment} | {engine} | {how} | "
                             + " | ".join(f"{bonds[t]:.3f}" if t in bonds else ""
                                          for t in BOND_TYPES) + f" | {done['steps']}{mark} |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs="*", default=[], metavar="FRAGMENT",
                        help="fragments to calculate ('all' for every one); none: tables only")
    parser.add_argument("--engines", nargs="*", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--tasks", nargs="*", default=["forces", "relax"],
                        choices=["forces", "relax", *STIFF_EV_PER_A2])
    args = parser.parse_args(argv)
    model = ase.io.read(MODEL)
    cuts = fragments(model)
    chosen = list(cuts) if "all" in args.run else args.run
    for fragment in chosen:
        for task in args.tasks:
            for engine in args.engines:
                result = calculate(fragment, cuts[fragment], model, engine, task)
                print(f"{fragment} {engine} {task}: E {result['energy_eV']:.4f} eV, "
                      f"{result['steps']} steps, {result['seconds']:.0f} s", flush=True)
    print("Forces on the cut geometries: MAE against the plane-wave reference (eV/Å); "
          "F_out: mean outward component (eV/Å), out from the ion's centre\n")
    for fragment in cuts:
        print("\n".join(force_table(fragment)), end="\n\n")
    print("Mean bond lengths after relaxation (Å)\n")
    print("\n".join(bond_table()))


if __name__ == "__main__":
    main()
