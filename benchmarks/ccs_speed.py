"""Speed of the trajectory-method CCS (mdkit.analysis.ccs) in N2.

(1) [Ag29(BDT)12]3- (173 atoms) in N2 at 298 K to a statistical error below
    0.3 %: prints the CCS, the error reached, the trajectories spent, the wall
    time (target: under 20 s on 2 cores) and the CPU time.  Uses
    ``build("ag29")`` when its data file is there, else a stand-in with the
    same formula, charge and size: an Ag13 icosahedron, 16 outer Ag and twelve
    1,3-benzenedithiolate rings (C6H4S2) radially around it, 11.5 Å in radius.
(2) Cost against size: time per 1000 trajectories for the bare icosahedra
    Ag13, Ag55, Ag147, Ag309 (neutral) and the ligated ion, with the log-log
    slope of CPU time against atom count (1 = linear).

Charges are the net charge spread evenly.  The CPU time (all threads) is
printed beside the wall time because a shared machine can stretch the wall
time; on an idle machine wall ~ CPU / cores.

    python benchmarks/ccs_speed.py [--target 0.003] [--workers N]
"""

import argparse
import time

import numba
import numpy as np
from ase import Atoms
from ase.cluster import Icosahedron
from scipy.spatial.transform import Rotation

from mdkit.analysis.ccs import ccs
from mdkit.systems import build


def fibonacci_directions(n: int) -> np.ndarray:
    """n roughly even unit vectors, shape (n, 3)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (1.0 + 5 ** 0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def ag29_standin() -> Atoms:
    """C72H48Ag29S24, charge -3: a geometric stand-in for [Ag29(BDT)12]3-."""
    core = Icosahedron("Ag", 2)
    core.positions -= core.positions[0]
    tetrahedral = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / 3 ** 0.5 * 4.8
    # the two rotations keep ligands, staple Ag and the core apart (closest contact 1.5 Å)
    ligands = fibonacci_directions(12) @ Rotation.random(random_state=13).as_matrix().T
    staples = fibonacci_directions(12) @ Rotation.random(random_state=1).as_matrix().T * 5.1
    symbols, positions = ["Ag"] * 29, [*core.positions, *tetrahedral, *staples]
    for u in ligands:
        t = np.cross(u, [0.3, 0.5, 0.8])
        t /= np.linalg.norm(t)
        for k in range(6):
            e = np.cos(np.radians(60 * k)) * u + np.sin(np.radians(60 * k)) * t
            sulfur = k in (2, 4)
            symbols += ["C", "S" if sulfur else "H"]
            positions += [9.0 * u + 1.39 * e, 9.0 * u + (1.39 + (1.77 if sulfur else 1.08)) * e]
    atoms = Atoms(symbols, positions=positions)
    atoms.info["charge"] = -3
    return atoms


def ligated_ion() -> tuple:
    try:
        atoms, _ = build("ag29")
        return atoms, "[Ag29(BDT)12]3- (mdkit data file)"
    except Exception as err:  # the data file is made elsewhere; time a stand-in meanwhile
        return ag29_standin(), f"stand-in C72H48Ag29S24 3- (build('ag29') failed: {err})"


def timed(atoms, **kwargs) -> tuple:
    wall, cpu = time.perf_counter(), time.process_time()
    result = ccs(atoms, method="tm", gas="N2", **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", type=float, default=0.003)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    workers = args.workers or numba.config.NUMBA_NUM_THREADS
    ion, label = ligated_ion()
    # compile (or load the cache) outside the timings
    ccs(ion[:3], method="tm", n_samples=16 * 512, n_workers=workers)

    print(f"(1) {label}, {len(ion)} atoms, TM in N2, 298 K, {workers} worker(s)")
    result, wall, cpu = timed(ion, target_error=args.target, n_workers=workers)
    print(f"    CCS = {result['ccs_A2']:.1f} +- {result['error_A2']:.2f} A^2 "
          f"({100 * result['relative_error']:.3f} %), {result['n_samples']} trajectories")
    print(f"    wall {wall:.1f} s (target < 20 s), CPU {cpu:.1f} s, "
          f"max energy drift {result['diagnostics']['max_energy_drift']:.1e}, "
          f"retried {result['diagnostics']['retried']}, lost {result['diagnostics']['lost']}")

    print("(2) time per 1000 trajectories against size (TM, N2, 8192 trajectories each)")
    sizes, costs = [], []
    for name in ("ag13", "ag55", "ag147", "ag309", "ligated"):
        atoms = ion if name == "ligated" else build(name)[0]
        result, wall, cpu = timed(atoms, n_samples=16 * 512, n_workers=workers)
        n = result["n_samples"]
        sizes.append(len(atoms))
        costs.append(1000 * cpu / n)
        print(f"    {name:8s} {len(atoms):4d} atoms: {1000 * wall / n:6.3f} s wall, "
              f"{1000 * cpu / n:6.3f} s CPU per 1000 trajectories, "
              f"{result['diagnostics']['steps'] / result['diagnostics']['trajectories']:.0f} "
              f"steps each, CCS {result['ccs_A2']:.0f} A^2")
    slope = np.polyfit(np.log(sizes[:4]), np.log(costs[:4]), 1)[0]
    print(f"    log-log slope of CPU time vs atoms, bare Ag13-Ag309: {slope:.2f} "
          f"({'no worse than linear' if slope <= 1.0 else 'WORSE than linear'})")


if __name__ == "__main__":
    main()
