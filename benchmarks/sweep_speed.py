"""A sweep of short GFN-FF runs on the local Dask cluster against the same runs in series.

Prints the wall-time ratio parallel/serial (target <= 0.6 on 2 cores) and the
scheduling overhead per run: the wall time the cluster spends beyond the
runs' own time, per run (target <= 1 % of a 1-minute run, 0.6 s).

The serial baseline is run in two halves, one before and one after the Dask
sweep, so that a machine slowing down or speeding up during the benchmark
(these are shared machines) weighs on both sides of the ratio alike.

    python benchmarks/sweep_speed.py [--runs 40] [--ps 0.5]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from mdkit import ensemble  # noqa: E402

SPEC = """
[system]
build = "ag28"
vacancy = "center"
[calculator]
name = "gfnff"
[md]
timestep_fs = 1.0
stride_fs = 10
checkpoint_ps = {ps}
[[stages]]
thermostat = "langevin"
temperature_K = 290
duration_ps = {ps}
"""


def run_serially(members) -> float:
    """Wall time (s) of running the members one after the other in this process."""
    started = time.perf_counter()
    for member in members:
        ensemble.run_member(member["spec"])
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--ps", type=float, default=0.5, help="length of each run (ps)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "bench.toml"
        spec.write_text(SPEC.format(ps=args.ps))
        serial_folder = ensemble.expand(spec, {}, list(range(1, args.runs + 1)),
                                        Path(tmp) / "serial")
        members = ensemble.sweep_members(serial_folder)
        serial = run_serially(members[: len(members) // 2])

        parallel_folder = ensemble.expand(spec, {}, list(range(1, args.runs + 1)),
                                          Path(tmp) / "parallel")
        client = ensemble.client_for(n_workers=2)
        client.submit(sum, [1]).result()  # workers up before the clock starts
        started = time.perf_counter()
        results = ensemble.run_sweep(parallel_folder, client, progress=False)
        parallel = time.perf_counter() - started
        ensemble.shutdown(client)
        serial += run_serially(members[len(members) // 2:])
    in_tasks = sum(r["wall_s"] for r in results)
    overhead = (2 * parallel - in_tasks) / len(results)
    print(f"{args.runs} runs of {args.ps} ps GFN-FF on [Ag28(BDT)12]2-")
    print(f"serial wall time      : {serial:8.1f} s")
    print(f"Dask 2 workers        : {parallel:8.1f} s")
    print(f"ratio parallel/serial : {parallel / serial:8.3f}  (target <= 0.60)")
    print(f"overhead per run      : {overhead:8.3f} s = {100 * overhead / 60:.2f} % of a "
          "1-minute run  (target <= 1 %)")


if __name__ == "__main__":
    main()
