"""Hirshfeld charges of the shipped [Ag29(BDT)12]3- model, GPAW LCAO (dzp, PBE).

Settings: mdkit's GPAW defaults (LCAO, dzp, PBE, h 0.2 Å, no symmetry; the
legacy GPAW calculator, which Hirshfeld partitioning needs),
charge -3, 5 Å vacuum, Fermi-Dirac smearing 0.05 eV.  The charges land in
``benchmarks/results/ag29_hirshfeld_charges.xyz`` as an extended-XYZ
``initial_charges`` column (what ``mdkit ccs`` reads), the run's facts (sum of
the charges, energy, time) in ``ag29_hirshfeld_charges.json`` beside it.
One process: about 20 min and 7.4 GB.

Run: ``OMP_NUM_THREADS=1 python3 benchmarks/ag29_hirshfeld.py``
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import ase.io
import numpy as np

import mdkit
from mdkit.calculators import make_calculator

MODEL = Path(mdkit.__file__).parent / "data" / "ag29_bdt12.xyz"
OUT = Path(__file__).parent / "results" / "ag29_hirshfeld_charges.xyz"
CHARGE = -3


def _write_whole(path: Path, write) -> None:
    """``write(tmp)`` to a temporary name beside ``path``, then rename: whole or nothing."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def main() -> None:
    from gpaw.analyse.hirshfeld import HirshfeldPartitioning

    if OUT.exists():
        raise SystemExit(f"{OUT} exists; move it away to compute the charges again.")
    atoms = ase.io.read(MODEL)
    # gpaw.analyse.hirshfeld works on the legacy calculator only (GPAW 26 refuses
    # the new one), hence legacy_gpaw=True; same LCAO physics
    atoms.calc = make_calculator("gpaw", atoms, CHARGE, vacuum=5.0, legacy_gpaw=True,
                                 occupations={"name": "fermi-dirac", "width": 0.05},
                                 txt=str(OUT.with_suffix(".gpaw.txt")))
    start = time.perf_counter()
    energy = atoms.get_potential_energy()
    # Hirshfeld populations from the all-electron density; GPAW returns each
    # atom's charge (nuclear minus electronic), so they sum to the net charge
    charges = np.asarray(HirshfeldPartitioning(atoms.calc).get_charges())
    seconds = time.perf_counter() - start
    out = atoms.copy()
    out.calc = None
    out.set_initial_charges(charges)
    out.info = {"charge": CHARGE,
                "source": "GPAW LCAO dzp PBE h=0.2 vacuum=5 fermi-dirac 0.05 eV; Hirshfeld"}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    _write_whole(OUT, lambda tmp: ase.io.write(tmp, out, format="extxyz"))
    by_element = {e: float(charges[np.array(out.get_chemical_symbols()) == e].mean())
                  for e in dict.fromkeys(out.get_chemical_symbols())}
    facts = {"sum_e": float(charges.sum()), "net_charge_e": CHARGE,
             "mean_charge_by_element_e": by_element, "energy_eV": float(energy),
             "seconds": seconds, "model": str(MODEL.name)}
    _write_whole(OUT.with_suffix(".json"),
                 lambda tmp: tmp.write_text(json.dumps(facts, indent=1)))
    print(json.dumps(facts, indent=1))


if __name__ == "__main__":
    main()
