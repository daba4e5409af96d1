"""Simulated ps per hour of MD: the MACE student against its teacher SevenNet-0.

Same process, same ion ([Ag28(BDT)12]2- Iso1, 172 atoms), same protocol
(``mdkit run``: Langevin at 290 K, 2 fs with 4-amu hydrogens, frames every
10 fs), same thread count (``OMP_NUM_THREADS``, default 2).  Printed: ps per
hour of each and their ratio (goal >= 10x, aim 20x), and mdkit's overhead
over a bare ASE loop driving the student (goal <= 5 %).  Each configuration
runs twice in palindrome order (A B C C B A) so that a drift of the machine's
speed weighs on all alike.

``--model`` names the student (a MACE model file, run in float32).  Without
it a MACE of the architecture in ``runs/train_ag_family.toml`` is built with
random weights: its cost per call does not depend on the weights.

    python benchmarks/student_md.py [--model student.model] [--steps 200]
"""

import argparse
import os
import tempfile
import time
import tomllib
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

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
[system]
build = "ag28"
vacancy = "center"
[calculator]
{calculator}
[md]
timestep_fs = 2.0
hydrogen_mass_amu = 4.0
seed = 7
stride_fs = 10
checkpoint_ps = {ps}
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = {ps}
"""


def random_student(path: Path) -> Path:
    """A MACE of the training spec's architecture, random weights, saved whole."""
    import torch
    from e3nn import o3
    from mace import modules

    student = tomllib.loads((ROOT / "runs" / "train_ag_family.toml").read_text())["student"]
    torch.manual_seed(0)
    z = [1, 6, 16, 47, 80]
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    hidden = o3.Irreps(student["hidden_irreps"])
    model = modules.ScaleShiftMACE(
        r_max=student["r_max"], num_bessel=8, num_polynomial_cutoff=5,
        max_ell=student["max_L"], interaction_cls=block, interaction_cls_first=block,
        num_interactions=student["num_interactions"], num_elements=len(z),
        hidden_irreps=hidden, MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(z)), avg_num_neighbors=20.0, atomic_numbers=z,
        correlation=student["correlation"], gate=torch.nn.functional.silu,
        atomic_inter_scale=1.0, atomic_inter_shift=0.0).to(torch.float64)
    torch.save(model, path)
    return path


def with_mdkit(calculator: str, steps: int) -> float:
    """Seconds per step of ``mdkit run`` from its own wall clock (set-up excluded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        ps = f"{steps * 2.0 / 1000:g}"
        path.write_text(SPEC.format(calculator=calculator, ps=ps))
        folder = run(load_spec(path), progress=False)
        return store.read_json(folder / "meta.json")["wall_s"] / steps


def bare_ase(model: Path, steps: int) -> float:
    """Seconds per step of a bare ASE Langevin loop driving the student, timed as mdkit is."""
    atoms, sites = build("ag28", vacancy="center")
    atoms.calc = make_calculator("mace", atoms, sites.charge, model=str(model),
                                 default_dtype="float32")
    repartition_hydrogen_mass(atoms, 4.0)
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(7)
    thermalize_momenta(atoms, temperature_K=290, rng=rng)
    dyn = Langevin(atoms, 2.0 * units.fs, temperature_K=290, friction=0.01 / units.fs,
                   fixcm=False, rng=rng)
    start = time.perf_counter()
    dyn.run(steps)
    return (time.perf_counter() - start) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="the student (a MACE model file)")
    parser.add_argument("--steps", type=int, default=200,
                        help="student MD steps per measured run (a multiple of 5); the "
                             "teacher runs a tenth of them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or random_student(Path(tmp) / "random.model")
        student = f'name = "mace"\nmodel = "{model}"\ndefault_dtype = "float32"'
        teacher_steps = max(5, args.steps // 10 // 5 * 5)
        runs = {"student": lambda: with_mdkit(student, args.steps),
                "bare": lambda: bare_ase(model, args.steps),
                "teacher": lambda: with_mdkit('name = "sevennet"\nmodel = "7net-0"',
                                              teacher_steps)}
        times = {name: [] for name in runs}
        for name in [*runs, *reversed(runs)]:
            times[name].append(runs[name]())
    student_s, bare_s, teacher_s = (float(np.mean(times[name])) for name in runs)
    spread = max(abs(a - b) / (a + b) * 2 for a, b in times.values())
    per_hour = lambda seconds: 3600 / seconds * 2.0 / 1000  # noqa: E731
    print(f"[{os.environ['OMP_NUM_THREADS']} threads; student "
          f"{'random weights, ' if not args.model else ''}{model if args.model else ''} "
          f"{args.steps} steps, teacher {teacher_steps} steps per run; each run twice, the two "
          f"differed by up to {100 * spread:.0f} %]")
    print(f"SevenNet-0 (mdkit run)   : {teacher_s:7.3f} s/step  {per_hour(teacher_s):8.1f} ps/h")
    print(f"student (mdkit run)      : {student_s:7.3f} s/step  {per_hour(student_s):8.1f} ps/h")
    print(f"student (bare ASE loop)  : {bare_s:7.3f} s/step  {per_hour(bare_s):8.1f} ps/h")
    print(f"student / teacher        : {teacher_s / student_s:7.1f} x  (goal >= 10, aim 20)")
    print(f"mdkit overhead           : {100 * (student_s / bare_s - 1):+7.1f} %  (goal <= 5 %)")
    print(f"12 ps protocol, student  : {6000 * student_s / 60:7.1f} min")


if __name__ == "__main__":
    main()
