"""mdkit's own cost per MD step against a bare ASE Langevin loop.

Both run [Ag28(BDT)12]2- Iso1 with GFN-FF for the same number of 1 fs steps in
this process; mdkit adds frame writing every 10 fs, thermo rows, checkpoints
every 0.5 ps and its progress bookkeeping.  Prints the ratio (target: mdkit
overhead <= 10 %) and the projected time of the 12 ps study protocol.

    python benchmarks/md_overhead.py [--steps 2000]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from ase import units  # noqa: E402
from ase.constraints import FixCom  # noqa: E402
from ase.md.langevin import Langevin  # noqa: E402
from ase.md.velocitydistribution import thermalize_momenta  # noqa: E402

from mdkit.calculators import make_calculator  # noqa: E402
from mdkit.md import run  # noqa: E402
from mdkit.protocol import load_spec  # noqa: E402
from mdkit.systems import build  # noqa: E402

SPEC = """
[system]
build = "ag28"
vacancy = "center"
[calculator]
name = "gfnff"
[md]
timestep_fs = 1.0
seed = 7
stride_fs = 10
checkpoint_ps = 0.5
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = {ps}
"""


def bare_ase(steps: int) -> float:
    atoms, sites = build("ag28", vacancy="center")
    atoms.calc = make_calculator("gfnff", atoms, sites.charge)
    atoms.set_constraint(FixCom())
    rng = np.random.default_rng(7)
    thermalize_momenta(atoms, temperature_K=290, rng=rng)
    dyn = Langevin(atoms, units.fs, temperature_K=290, friction=0.01 / units.fs, fixcm=False,
                   rng=rng)
    start = time.perf_counter()
    dyn.run(steps)
    return time.perf_counter() - start


def with_mdkit(steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(SPEC.format(ps=steps / 1000))
        spec = load_spec(path)
        start = time.perf_counter()
        run(spec, progress=False)
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="MD steps per run (1 fs each)")
    steps = parser.parse_args().steps
    bare_ase(50)  # warm up GFN-FF and imports
    bare = min(bare_ase(steps) for _ in range(2))
    ours = min(with_mdkit(steps) for _ in range(2))
    print(f"bare ASE Langevin + GFN-FF : {steps / bare:8.1f} steps/s")
    print(f"mdkit run (writer, checkpoints): {steps / ours:8.1f} steps/s")
    print(f"overhead ratio mdkit/bare  : {ours / bare:8.3f}  (target <= 1.10)")
    print(f"12 ps at 1 fs with mdkit    : {12000 * ours / steps / 60:8.2f} min  (target < 5)")


if __name__ == "__main__":
    main()
