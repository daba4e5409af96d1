"""Speed of the trajectory-method CCS (mdkit.analysis.ccs) in N2.

(1) The ligated ions of ~173 atoms, [Ag29(BDT)12]3-, [Ag28Hg(BDT)12]2- and
    [Ag28(BDT)12]2- (Iso1), with GFN-FF partial charges, in N2 at 298 K to a
    statistical error below 0.3 %: prints the CCS, the error reached, the
    trajectories spent, the wall time (target: under 20 s on 2 cores) and the
    CPU time.
    Both N2 orientation models: "mobcal-2012" (three Boltzmann-weighted axes,
    the default for N2) and "random-axis".
(2) Against MassCCS on C60 in N2 (its documented run: 2.7 % in 86 s on 2
    threads): mdkit's wall time for its fewest batches, the relative error
    they reach, and the speed-up 86 s / wall (a lower bound at equal error,
    since mdkit's error is smaller).
(3) Cost against size: time per 1000 trajectories for the bare icosahedra
    Ag13, Ag55, Ag147, Ag309 (neutral, no charges) and [Ag29(BDT)12]3-, with
    the log-log slope of CPU time against atom count (1 = linear).

The CPU time (all threads) is printed beside the wall time because a shared
machine can stretch the wall time; on an idle machine wall ~ CPU / cores.

    python benchmarks/ccs_speed.py [--target 0.003] [--workers N]
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from ase.build import molecule  # noqa: E402

from mdkit.analysis.ccs import ccs  # noqa: E402
from mdkit.calculators import make_calculator  # noqa: E402
from mdkit.systems import build  # noqa: E402

LIGATED = {"ag29": {}, "ag28hg": {}, "ag28": {"vacancy": "center"}}


def with_charges(atoms):
    """GFN-FF partial charges (e) of the ion as built."""
    atoms.calc = make_calculator("gfnff", atoms, atoms.info["charge"])
    atoms.get_potential_energy()
    return atoms.calc.results["charges"]


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
    # compile (or load the cache) outside the timings
    ccs(build("ag13")[0], method="tm", n_samples=16 * 512, n_workers=workers)

    print(f"(1) TM in N2, 298 K, GFN-FF charges, {workers} worker(s), target "
          f"{100 * args.target:.2f} %")
    for name, options in LIGATED.items():
        ion = build(name, **options)[0]
        charges = with_charges(ion)
        for model in ("mobcal-2012", "random-axis"):
            result, wall, cpu = timed(ion, charges=charges, target_error=args.target,
                                      n_workers=workers, orientation=model)
            diagnostics = result["diagnostics"]
            print(f"    {ion.info['name']} ({len(ion)} atoms), {model}: CCS = "
                  f"{result['ccs_A2']:.1f} +- {result['error_A2']:.2f} A^2 "
                  f"({100 * result['relative_error']:.3f} %), {result['n_samples']} "
                  "trajectories")
            print(f"        wall {wall:.1f} s (target < 20 s), CPU {cpu:.1f} s (CPU / "
                  f"{workers} = {cpu / workers:.1f} s), max energy drift "
                  f"{diagnostics['max_energy_drift']:.1e}, retried {diagnostics['retried']} "
                  f"(still drifting {diagnostics['still_drifting']}), lost {diagnostics['lost']}")

    print(f"(2) C60 in N2, 298 K, {workers} worker(s), against MassCCS (2.7 % in 86 s, "
          "2 threads)")
    for model in ("mobcal-2012", "random-axis"):
        result, wall, cpu = timed(molecule("C60"), n_samples=1, n_workers=workers,
                                  orientation=model)
        smaller = 2.7 / (100 * result["relative_error"])
        print(f"    {model}: {result['ccs_A2']:.1f} +- {result['error_A2']:.1f} A^2 "
              f"({100 * result['relative_error']:.2f} %) in {wall:.1f} s wall, CPU {cpu:.1f} s: "
              f"{86.0 / wall:.0f}x faster than MassCCS with a {smaller:.1f}x smaller error "
              f"({86.0 / (cpu / workers):.0f}x by CPU / {workers})")

    print("(3) time per 1000 trajectories against size (TM, N2, 8192 trajectories each)")
    sizes, costs = [], []
    for name in ("ag13", "ag55", "ag147", "ag309", "ag29"):
        atoms = build(name)[0]
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
