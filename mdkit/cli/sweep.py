from __future__ import annotations

import sys

from mdkit.cli.common import QUIET
from mdkit.errors import EXIT_FAILED


class CLICommand:
    """many runs of a spec on a Dask cluster

    Expand a run spec over varied keys and seeds into <spec>_sweep/members/
    and run them on Dask (a local cluster by default).  Launch it again to
    continue an interrupted sweep.
    """

    parents = (QUIET,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("spec", help="base run spec (TOML)")
        parser.add_argument("--vary", action="append", metavar="KEY=V1,V2",
                            help="vary a key (vacancy, dope, build, temperature_K, "
                                 "calculator, or a dotted path like md.timestep_fs); "
                                 "repeatable")
        parser.add_argument("--seeds", help="seeds, e.g. 1-20 or 1,2,5")
        parser.add_argument("--out",
                            help="sweep folder (default <spec stem>_sweep beside the spec)")
        parser.add_argument("--scheduler", metavar="ADDRESS",
                            help="use a running Dask scheduler, e.g. tcp://host:8786")
        parser.add_argument("--cluster", choices=["local", "slurm", "pbs"], default="local",
                            help="where to run (slurm/pbs through dask-jobqueue)")
        parser.add_argument("--workers", type=int,
                            help="local worker processes (default: all cores)")
        parser.add_argument("--cores", type=int, help="cores per batch job (slurm/pbs)")
        parser.add_argument("--memory", help="memory per batch job, e.g. 16GiB (slurm/pbs)")
        parser.add_argument("--walltime",
                            help="walltime per batch job, e.g. 02:00:00 (slurm/pbs)")
        parser.add_argument("--jobs", type=int, help="number of batch jobs (slurm/pbs)")
        parser.add_argument("--gpus-per-worker", type=int, default=0, metavar="N",
                            help="GPUs per worker for torch engines (sevennet, chgnet, mace): "
                                 "locally one worker per N GPUs, each pinned to its own; on "
                                 "slurm/pbs each job is one worker asking for N GPUs")
        parser.add_argument("--mpi-ranks", type=int, default=1,
                            help="MPI ranks per run (GPAW); runs under mpiexec when > 1")
        parser.add_argument("--no-analyze", action="store_true",
                            help="do not analyse the runs")

    @staticmethod
    def run(args):
        from mdkit import ensemble
        from mdkit.analysis.report import analyze_member

        cluster = {"scheduler": args.scheduler, "cluster": args.cluster,
                   "n_workers": args.workers, "cores": args.cores, "memory": args.memory,
                   "walltime": args.walltime, "jobs": args.jobs,
                   "gpus_per_worker": args.gpus_per_worker}
        done = ensemble.sweep(args.spec, ensemble.parse_vary(args.vary or []),
                              ensemble.parse_seeds(args.seeds), args.out, cluster=cluster,
                              analyze=None if args.no_analyze else analyze_member,
                              mpi_ranks=args.mpi_ranks, progress=False if args.quiet else None)
        folder, failed = done["folder"], done["failed"]
        for name, reason in failed.items():
            print(f"mdkit sweep: {name} failed: {reason}", file=sys.stderr)
        finished = sum(r["status"] == "finished" for r in done["results"])
        print(f"mdkit sweep: {finished} run(s) done now, {len(failed)} of {done['n_members']} "
              f"member(s) failed -> {folder}", file=sys.stderr if failed else sys.stdout)
        if not args.no_analyze and len(failed) < done["n_members"]:
            from mdkit.analysis.ensemble import analyze_sweep

            analyze_sweep(folder)
            print(f"  group tables and figures in {folder / 'analysis'}")
        return EXIT_FAILED if failed else 0
