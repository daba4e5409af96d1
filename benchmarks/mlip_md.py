"""Simulated ps per hour of MD with SevenNet-0 on [Ag28(BDT)12]2- Iso1.

Four measurements in this process, each on the same ion with the same
calculator settings and thread count (``OMP_NUM_THREADS``, default 2):

1. the bare engine call (energy and forces), the physical floor;
2. a bare ASE Langevin loop at 2 fs with 4-amu hydrogens (mdkit's
   ``hydrogen_mass_amu``);
3. ``mdkit run`` with the same step, masses and thermostat (frames every
   10 fs, thermo rows, checkpoints);
4. ``mdkit run`` at 1 fs with real masses: the run one would do without
   repartitioning;
5. the same 1 fs run with the engine as it was before its weights were
   frozen for inference (``python`` engine, :func:`tracked_sevennet`).

Printed: seconds per call, ps per hour of each, mdkit's overhead over the
bare loop (target <= 5 %) and the gain of 2 fs + repartitioning over the
1 fs runs, time step and per-call savings together (target >= 2x).  Both loops are timed from their first step with a fresh calculator
(model load excluded, first call included).  On a machine
with a GPU the same figures are printed for CUDA.

    python benchmarks/mlip_md.py [--steps 150]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.constraints import FixCom  # noqa: E402
from ase.md.langevin import Langevin  # noqa: E402
from ase.md.velocitydistribution import thermalize_momenta  # noqa: E402

from mdkit import store  # noqa: E402
from mdkit.calculators import make_calculator  # noqa: E402
from mdkit.masses import repartition_hydrogen_mass  # noqa: E402
from mdkit.md import run  # noqa: E402
from mdkit.protocol import load_spec  # noqa: E402
from mdkit.systems import build  # noqa: E402

SPEC = """
[system]
build = "ag28"
vacancy = "center"
[calculator]
{calculator}
device = "{device}"
[md]
timestep_fs = {dt}
seed = 7
stride_fs = 10
checkpoint_ps = {checkpoint}
{masses}
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = {ps}
"""


def _ion(device):
    atoms, sites = build("ag28", vacancy="center")
    atoms.calc = make_calculator("sevennet", atoms, sites.charge, device=device)
    return atoms


def bare_call(device, calls=5) -> float:
    """Median seconds per energy+forces call on slightly moved positions."""
    atoms = _ion(device)
    atoms.get_forces()  # the first call sets torch up
    times = []
    for i in range(calls):
        atoms.positions[0, 0] += 1e-3
        start = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bare_ase(steps, device, dt_fs=2.0) -> float:
    """Seconds per step of a bare ASE Langevin loop (2 fs, 4-amu H).

    Timed from the start of the loop with a fresh calculator, as mdkit's wall
    clock is, so both include the first call's set-up.
    """
    atoms = _ion(device)
    repartition_hydrogen_mass(atoms, 4.0)
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(7)
    thermalize_momenta(atoms, temperature_K=290, rng=rng)
    dyn = Langevin(atoms, dt_fs * units.fs, temperature_K=290, friction=0.01 / units.fs,
                   fixcm=False, rng=rng)
    start = time.perf_counter()
    dyn.run(steps)
    return (time.perf_counter() - start) / steps


def tracked_sevennet(device="auto"):
    """SevenNet-0 with autograd tracking its weights, as before mdkit froze them."""
    from sevenn.calculator import SevenNetCalculator

    from mdkit.calculators import torch_device

    return SevenNetCalculator(model="7net-0", device=torch_device(device))


def with_mdkit(steps, device, dt_fs, hydrogen_mass, tracked=False) -> float:
    """Seconds per step of ``mdkit run``, from its own wall clock (set-up excluded)."""
    calculator = ('name = "python"\nfactory = "mlip_md:tracked_sevennet"' if tracked
                  else 'name = "sevennet"')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        ps = steps * dt_fs / 1000
        path.write_text(SPEC.format(calculator=calculator, device=device, dt=dt_fs,
                                    ps=f"{ps:g}",
                                    checkpoint=f"{ps:g}",
                                    masses=f"hydrogen_mass_amu = {hydrogen_mass}"
                                    if hydrogen_mass else ""))
        folder = run(load_spec(path), progress=False)
        return store.read_json(folder / "meta.json")["wall_s"] / steps


def report(device, steps):
    call = bare_call(device)
    # a palindrome (A B C D D C B A): a steady drift of the machine's speed weighs
    # on every configuration alike; each figure is the mean of its two runs
    runs = {"bare": lambda: bare_ase(steps, device),
            "ours": lambda: with_mdkit(steps, device, 2.0, 4.0),
            "one_fs": lambda: with_mdkit(steps, device, 1.0, None),
            "before": lambda: with_mdkit(steps, device, 1.0, None, tracked=True)}
    times = {name: [] for name in runs}
    for name in [*runs, *reversed(runs)]:
        times[name].append(runs[name]())
    bare, ours, one_fs, before = (float(np.mean(times[name])) for name in runs)
    spread = max(abs(a - b) / (a + b) * 2 for a, b in times.values())
    ps_per_hour = lambda seconds, dt: 3600 / seconds * dt / 1000  # noqa: E731
    threads = os.environ["OMP_NUM_THREADS"]
    print(f"[{device}, {threads} threads, {steps} steps per run, each configuration run twice; "
          f"the two runs of one configuration differed by up to {100 * spread:.0f} %]")
    print(f"bare SevenNet-0 call (172 atoms)    : {call:7.3f} s")
    print(f"bare ASE Langevin, 2 fs, H 4 amu   : {bare:7.3f} s/step  "
          f"{ps_per_hour(bare, 2.0):6.2f} ps/h")
    print(f"mdkit run,         2 fs, H 4 amu   : {ours:7.3f} s/step  "
          f"{ps_per_hour(ours, 2.0):6.2f} ps/h")
    print(f"mdkit run,         1 fs, real H    : {one_fs:7.3f} s/step  "
          f"{ps_per_hour(one_fs, 1.0):6.2f} ps/h")
    print(f"  the same, weights tracked (before): {before:7.3f} s/step  "
          f"{ps_per_hour(before, 1.0):6.2f} ps/h")
    print(f"mdkit overhead over the bare loop  : {100 * (ours / bare - 1):+6.1f} %  (target <= 5 %)")
    print(f"gain over the 1 fs run as it was   : {2 * before / ours:6.2f} x  (target >= 2)")
    print(f"  of which the time step           : {2 * one_fs / ours:6.2f} x")
    print(f"12 ps protocol at 2 fs             : {6000 * ours / 3600:6.2f} h")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150,
                        help="MD steps per measured run (a multiple of 10)")
    steps = parser.parse_args().steps
    report("cpu", steps)
    import torch

    if torch.cuda.is_available():
        report("cuda", steps)
    else:
        print("no GPU here: the CUDA figures are printed where torch sees one")


if __name__ == "__main__":
    main()
