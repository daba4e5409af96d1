"""Many runs of one spec on a Dask cluster: expand, run, resume.

A sweep expands a run spec over the product of varied keys and seeds into
member specs, each with its own run folder, inside ``<spec stem>_sweep/``::

    sweep.json            the spec, what is varied, the members
    members/NAME.toml     one spec per member
    members/NAME/         its run folder (as ``mdkit run`` writes it)

Members run as Dask tasks: on a ``LocalCluster`` of processes by default, on
an existing scheduler, or on SLURM/PBS through dask-jobqueue.  Each task runs
(or resumes) its member in the worker process and analyses it; GPAW members
with ``mpi_ranks > 1`` run under ``mpiexec`` from the worker.  Launching an
interrupted sweep again skips finished members and resumes half-finished
ones from their checkpoints, because that is what ``mdkit run`` does for
each member.

Varied keys: ``vacancy``, ``dope``, ``build``, ``temperature_K`` (every
thermostatted stage; a ramp keeps its end), ``calculator`` (the engine's
options from the base spec are kept only for the same engine), ``seed``, or
any dotted path into the spec (``md.timestep_fs``, ``stages.2.duration_ps``,
``calculator.method``).
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import tomli_w

from mdkit.errors import ComputationFailed, MdkitError
from mdkit.progress import ItemProgress, quiet_startup_warnings
from mdkit.protocol import anchored, load_spec, spec_from_dict, toml_value
from mdkit.runfolder import (RunFolder, RunFolderError, SweepFolder, member_status,
                             sweep_members)
from mdkit.thermostats import THERMOSTATS

SHORTHANDS = {"vacancy": "system.vacancy", "dope": "system.dope", "build": "system.build",
              "calculator": "calculator.name", "seed": "md.seed"}


class SweepError(MdkitError):
    """A sweep that cannot be expanded or run as asked."""


def parse_vary(items) -> dict[str, list]:
    """``["vacancy=center,staple", "temperature_K=250,290"]`` -> {key: [values]}.

    Values are read as TOML scalars (numbers stay numbers)."""
    vary = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values:
            raise SweepError(f"--vary {item!r} must be KEY=V1,V2,... (e.g. vacancy=center,shell).")
        if key in vary:
            raise SweepError(f"--vary names {key!r} twice; give all its values in one "
                             f"--vary {key}=V1,V2.")
        vary[key] = []
        for value in (_value(item, v) for v in values.split(",") if v.strip()):
            if value in vary[key]:  # 300 and 300.0 too: one run folder for both
                raise SweepError(f"--vary {item!r} names {value!r} twice; each value is one "
                                 "group of runs.")
            vary[key].append(value)
    return vary


def parse_seeds(text: str | None) -> list[int]:
    """``"1-20"``, ``"1,2,5"`` or ``"1-3,10"`` -> list of seeds."""
    if not text:
        return []
    seeds = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match:
            raise SweepError(f"--seeds {text!r} must look like 1-20 or 1,2,5.")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise SweepError(f"--seeds {text!r}: the range {part.strip()} runs backwards; "
                             f"write {last}-{first}.")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise SweepError(f"--seeds {text!r} names a seed twice; each seed is one run.")
    return seeds


def _value(item: str, text: str):
    try:
        return toml_value(text)
    except ValueError as err:
        raise SweepError(f"--vary {item!r}: {text.strip()!r} is not a value ({err}); write a "
                         "number, a word or a quoted string.") from None


def _apply(data: dict, key: str, value) -> None:
    if key == "temperature_K":
        for stage in data["stages"]:
            if not THERMOSTATS[stage["thermostat"]].thermostatted:  # holds no temperature
                continue
            current = stage.get("temperature_K")
            stage["temperature_K"] = [value, current[-1]] if isinstance(current, list) \
                and current[0] != current[-1] else value
        return
    if key == "calculator":
        data["calculator"] = ({**data["calculator"], "name": value}
                              if data["calculator"].get("name") == value else {"name": value})
        return
    path = SHORTHANDS.get(key, key).split(".")
    target = data
    for part in path[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if isinstance(target, list):
        target[int(path[-1])] = value
    else:
        target[path[-1]] = value


def _label(key: str, value) -> str:
    short = {"temperature_K": "T", "calculator": "calc"}.get(key, key.split(".")[-1])
    return re.sub(r"[^A-Za-z0-9.+-]", "", f"{short}-{value}".replace(":", "-"))


def expand(spec_path, vary: dict, seeds: list[int], folder=None) -> Path:
    """Write the member specs of a sweep; returns the sweep folder.

    Re-expanding into an existing sweep folder is allowed only with the same
    spec, keys, values and seeds (that is how an interrupted sweep resumes).
    """
    spec_path = Path(spec_path)
    load_spec(spec_path)  # the base spec must be valid on its own
    base = anchored(tomllib.loads(spec_path.read_text()), spec_path)
    base.pop("output", None)
    if seeds:
        vary = {**vary, "seed": seeds}
    if not vary:
        raise SweepError("nothing to vary: give --vary KEY=V1,V2 and/or --seeds.")
    folder = Path(folder) if folder else spec_path.with_name(f"{spec_path.stem}_sweep")
    members = []
    for values in itertools.product(*vary.values()):
        data = copy.deepcopy(base)
        for key, value in zip(vary, values):
            try:
                _apply(data, key, value)
            except (KeyError, IndexError, ValueError, TypeError):
                raise SweepError(f"--vary key {key!r} does not fit {spec_path}; use "
                                 f"{', '.join(SHORTHANDS)}, temperature_K or a dotted path "
                                 "such as md.timestep_fs.") from None
        name = "_".join(_label(k, v) for k, v in zip(vary, values))
        if any(m["name"] == name for m in members):
            raise SweepError(f"--vary values {', '.join(map(repr, values))} give member name "
                             f"{name!r} a second time, so two runs would share one folder; "
                             "make the values differ in letters or digits.")
        members.append({"name": name, "values": dict(zip(vary, values)), "data": data})
    record = {"spec": str(spec_path.resolve()), "vary": vary,
              "members": [{"name": m["name"], "values": m["values"]} for m in members]}
    for member in members:  # every member must be valid before anything is written
        spec_from_dict(member["data"], folder / "members" / f"{member['name']}.toml")
    try:
        SweepFolder(folder).write(record, {m["name"]: tomli_w.dumps(m["data"]) for m in members})
    except RunFolderError as err:
        raise SweepError(str(err)) from None
    return folder


def run_member(spec_path, analyze=None, mpi_ranks: int = 1) -> dict:
    """Run or resume one member, then analyse it; a Dask task (runs in a worker).

    ``analyze(folder)`` (e.g. :func:`mdkit.analysis.report.analyze_run`,
    passed in because simulation modules do not import the analysis) runs on
    a finished member that has no ``analysis/summary.json`` yet.

    Returns a dict with ``name``, ``status`` (``finished`` or ``failed``),
    ``reason`` and ``wall_s``.
    """
    from mdkit.md import run

    quiet_startup_warnings()  # a worker process does not inherit the command line's filter
    spec_path = Path(spec_path)
    started = time.perf_counter()
    result = {"name": spec_path.stem, "status": "finished", "reason": ""}
    try:
        spec = load_spec(spec_path)
        if mpi_ranks > 1:
            command = ["mpiexec", "-n", str(mpi_ranks), sys.executable, "-m", "mdkit", "run",
                       "--quiet", "--no-analyze", str(spec_path)]
            done = subprocess.run(command, capture_output=True, text=True, env=_launch_env())
            if done.returncode != 0:
                said = (done.stderr + done.stdout).strip().splitlines()
                raise SweepError(f"mpiexec exited with {done.returncode}"
                                 + (f": {said[-1]}" if said else ""))
        else:
            run(spec, progress=False)
        run_folder = RunFolder(spec.folder)
        if analyze is not None and run_folder.finished \
                and not run_folder.output("summary.json").exists():
            analyze(spec.folder)
    except (MdkitError, ComputationFailed) as err:
        result.update(status="failed", reason=str(err))
    result["wall_s"] = time.perf_counter() - started
    return result


def _launch_env() -> dict:
    """The environment for a nested ``mpiexec``.

    A worker forked from a process that initialised MPI (importing GPAW does)
    inherits that singleton's launch variables, and OpenMPI's mpiexec then
    exits at once without a word; the user's own settings (OMPI_ALLOW_*,
    other OMPI_MCA_*) are kept.
    """
    launch = ("PMIX_", "PMI_", "OMPI_APP_", "OMPI_COMM_WORLD", "OMPI_MCA_ess", "OMPI_MCA_orte_",
              "OMPI_MCA_pmix")
    return {k: v for k, v in os.environ.items() if not k.startswith(launch)}


#: Dask settings for clusters that run a few long tasks per worker.  Dask's defaults (a
#: profiler sampling every 10 ms, 20 ms event-loop ticks, 0.1-0.5 s monitors, work
#: stealing) kept an idle 2-worker local cluster at 18 % of a core, taken from the runs
#: on a 2-core machine; with these it is 2 %.  The dashboard keeps working, minus profiles.
SWEEP_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
}


#: The command each batch system's jobs are submitted with (dask-jobqueue calls it).
SUBMIT = {"slurm": "sbatch", "pbs": "qsub"}


def check_cluster(cluster) -> None:
    """Refuse a cluster kind this machine cannot use, before anything is written.

    Without its submit command on ``PATH`` dask-jobqueue would fail on every
    job it tries to start, again and again, instead of once.
    """
    if cluster not in (None, "local", *SUBMIT):
        raise SweepError(f"--cluster {cluster!r} is not one of local, {', '.join(SUBMIT)}.")
    if cluster in SUBMIT and shutil.which(SUBMIT[cluster]) is None:
        raise SweepError(f"--cluster {cluster} submits jobs with {SUBMIT[cluster]}, which is "
                         "not on this machine's PATH; launch the sweep where it is (the "
                         "cluster's login node) or use --cluster local.")


def client_for(scheduler=None, cluster=None, n_workers=None, cores=None, memory=None,
               walltime=None, jobs=None, gpus_per_worker: int = 0):
    """A Dask ``Client``: existing scheduler, SLURM/PBS via dask-jobqueue, or local.

    The local cluster has one single-threaded worker process per core, with
    ``OMP_NUM_THREADS=1`` so engines do not oversubscribe the cores.  Clusters
    made here run with :data:`SWEEP_DASK_CONFIG`; an existing scheduler keeps
    its own settings.

    With ``gpus_per_worker`` N > 0 every worker owns N GPUs: locally, one
    worker per N of the GPUs torch sees, each pinned to its own by
    ``CUDA_VISIBLE_DEVICES`` (:class:`PinGPUs`); on SLURM/PBS, one worker per
    batch job, which asks the batch system for N GPUs.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    os.environ["OMP_NUM_THREADS"] = "1"
    if scheduler:
        return Client(scheduler)
    check_cluster(cluster)
    # the scheduler and the nanny-started workers read these when they are made
    with dask.config.set(SWEEP_DASK_CONFIG):
        if cluster in ("slurm", "pbs"):
            return Client(jobqueue_cluster(cluster, cores=cores, memory=memory,
                                           walltime=walltime, jobs=jobs,
                                           gpus_per_worker=gpus_per_worker))
        if gpus_per_worker:
            gpus = local_gpu_groups(gpus_per_worker, n_workers)
            client = Client(LocalCluster(n_workers=len(gpus), threads_per_worker=1,
                                         processes=True, dashboard_address=":0"))
            from mdkit.gpus import PinGPUs  # imports distributed: only here

            client.register_plugin(PinGPUs(gpus), name="mdkit-pin-gpus")
            return client
        workers = n_workers or os.cpu_count() or 1
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0"))


def local_gpu_groups(gpus_per_worker: int, n_workers=None, n_gpus=None) -> list[str]:
    """``CUDA_VISIBLE_DEVICES`` of each local worker: disjoint groups of ``gpus_per_worker``.

    ``n_gpus`` defaults to the GPUs torch sees.
    """
    if gpus_per_worker < 0:
        raise SweepError(f"--gpus-per-worker must be >= 0, got {gpus_per_worker}.")
    if n_gpus is None:
        import torch

        n_gpus = torch.cuda.device_count()
    groups = n_gpus // gpus_per_worker
    if groups == 0:
        raise SweepError(f"--gpus-per-worker {gpus_per_worker} asks for GPUs, but this machine "
                         f"has {n_gpus} that torch can see.")
    groups = min(groups, n_workers or groups)
    return [",".join(str(g * gpus_per_worker + k) for k in range(gpus_per_worker))
            for g in range(groups)]


def _dask_env(config: dict) -> list[str]:
    """Shell lines that give a batch job's Dask worker these settings (DASK_* variables)."""
    return [f"export DASK_{key.upper().replace('.', '__').replace('-', '_')}={value}"
            for key, value in config.items()]


def shutdown(client) -> None:
    """Close ``client`` and the cluster it was made with (a scheduler given by address stays)."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def jobqueue_cluster(kind: str, cores=None, memory=None, walltime=None, jobs=None,
                     gpus_per_worker: int = 0):
    """A dask-jobqueue SLURM or PBS cluster, scaled to ``jobs`` batch jobs.

    With ``gpus_per_worker`` N > 0 each job is one worker asking for N GPUs
    (SLURM ``--gres=gpu:N``, PBS ``ngpus=N``); otherwise one worker per core.
    """
    try:
        import dask_jobqueue
    except ImportError:
        raise SweepError("--cluster slurm/pbs needs dask-jobqueue: pip install dask-jobqueue."
                         ) from None
    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    cores = cores or 1
    memory = memory or f"{4 * cores}GiB"
    extra = {}
    if gpus_per_worker < 0:
        raise SweepError(f"--gpus-per-worker must be >= 0, got {gpus_per_worker}.")
    if gpus_per_worker and kind == "slurm":
        extra.update(job_extra_directives=[f"--gres=gpu:{gpus_per_worker}"], job_cpu=cores)
    elif gpus_per_worker:
        extra["resource_spec"] = f"select=1:ncpus={cores}:ngpus={gpus_per_worker}:mem={memory}"
    # a GPU job is one single-threaded worker (one run at a time on its GPUs); the
    # batch system still reserves the cores asked for
    workers = 1 if gpus_per_worker else cores
    cluster = cls(cores=workers, processes=workers, memory=memory,
                  walltime=walltime or "01:00:00",
                  job_script_prologue=["export OMP_NUM_THREADS=1",
                                       *_dask_env(SWEEP_DASK_CONFIG)], **extra)
    cluster.scale(jobs=1 if jobs is None else jobs)
    return cluster


def run_sweep(folder, client, analyze=None, mpi_ranks: int = 1,
              progress: bool | None = None) -> list[dict]:
    """Run every member that is not finished on ``client``; returns their results.

    Finished members are skipped before anything is scheduled; failed ones
    are reported, not retried (their folder says why).  ``analyze`` is as
    for :func:`run_member`; ``progress`` as for :class:`~mdkit.progress.ItemProgress`
    (None: a bar on a terminal, a line per run elsewhere; False: silent).
    """
    from dask.distributed import as_completed

    todo = [m for m in sweep_members(folder) if member_status(m) not in ("finished", "failed")]
    skipped = len(sweep_members(folder)) - len(todo)
    if skipped:
        print(f"mdkit sweep: {skipped} member(s) already finished or failed, skipped",
              file=sys.stderr)
    futures = [client.submit(run_member, str(m["spec"]), analyze, mpi_ranks, pure=False,
                             key=f"mdkit-{m['name']}") for m in todo]
    results = []
    with ItemProgress("mdkit sweep", "runs", len(futures), progress) as bar:
        for future in as_completed(futures):
            results.append(future.result())
            bar.advance(f"{results[-1]['name']} {results[-1]['status']} "
                        f"({results[-1]['wall_s']:.1f} s)")
    return results


def failures(folder, results: list[dict]) -> tuple[dict[str, str], int]:
    """Every failed member of a sweep, failed in this launch or an earlier one.

    Parameters
    ----------
    folder : path
        The sweep folder.
    results : list of dict
        What :func:`run_sweep` returned for this launch.

    Returns
    -------
    (dict, int)
        ``{member name: reason}`` and the number of members of the sweep.
    """
    reasons = {r["name"]: r["reason"] for r in results if r["status"] == "failed"}
    members = sweep_members(folder)
    for member in members:  # a member skipped now because it failed before is still failed
        run = RunFolder(member["folder"])
        if member["name"] not in reasons and run.status == "failed":
            reasons[member["name"]] = (run.meta or {}).get("reason", "see its meta.json")
    return reasons, len(members)


def sweep(spec_path, vary: dict, seeds: list[int], folder=None, *, cluster: dict | None = None,
          analyze=None, mpi_ranks: int = 1, progress: bool | None = None) -> dict:
    """Expand a sweep and run every unfinished member on a Dask cluster.

    Parameters
    ----------
    spec_path, vary, seeds, folder
        As for :func:`expand`.
    cluster : dict, optional
        Keywords of :func:`client_for` (``scheduler``, ``cluster``,
        ``n_workers``, ``cores``, ``memory``, ``walltime``, ``jobs``,
        ``gpus_per_worker``); checked before anything is written.
    analyze, mpi_ranks, progress
        As for :func:`run_sweep`.

    Returns
    -------
    dict
        ``folder`` (the sweep folder), ``results`` (of this launch, as
        :func:`run_sweep`), ``failed`` (``{member: reason}``, this launch or
        an earlier one) and ``n_members``.
    """
    cluster = cluster or {}
    if not cluster.get("scheduler"):
        check_cluster(cluster.get("cluster"))
    folder = expand(spec_path, vary, seeds, folder)
    client = client_for(**cluster)
    try:
        print(f"mdkit sweep: {folder} on {client.scheduler_info()['address']}; dashboard: "
              f"{client.dashboard_link}", file=sys.stderr)
        results = run_sweep(folder, client, analyze=analyze, mpi_ranks=mpi_ranks,
                            progress=progress)
    finally:
        shutdown(client)
    failed, n_members = failures(folder, results)
    return {"folder": folder, "results": results, "failed": failed, "n_members": n_members}
