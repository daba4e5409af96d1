"""Sweeps with torch engines: one thread per local worker, GPUs pinned per worker."""

import os

import pytest

from mdkit import ensemble, store
from mdkit.cli import main
from mdkit.ensemble import SweepError
from mdkit.gpus import PinGPUs


def test_local_gpu_groups():
    assert ensemble.local_gpu_groups(1, n_gpus=4) == ["0", "1", "2", "3"]
    assert ensemble.local_gpu_groups(2, n_gpus=5) == ["0,1", "2,3"]
    assert ensemble.local_gpu_groups(1, n_workers=2, n_gpus=4) == ["0", "1"]
    with pytest.raises(SweepError, match="has 0 that torch can see"):
        ensemble.local_gpu_groups(1)  # no GPU here or in CI
    with pytest.raises(SweepError, match="must be >= 0"):
        ensemble.local_gpu_groups(-1, n_gpus=2)


def test_each_local_worker_sees_its_own_gpu_group():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        client.register_plugin(PinGPUs(["0", "1"]), name="mdkit-pin-gpus")
        seen = client.run(lambda: os.environ["CUDA_VISIBLE_DEVICES"])
    assert sorted(seen.values()) == ["0", "1"]


@pytest.mark.parametrize("kind, directive", [("slurm", "#SBATCH --gres=gpu:2"),
                                             ("pbs", "ngpus=2")])
def test_batch_jobs_ask_for_gpus(kind, directive):
    cluster = ensemble.jobqueue_cluster(kind, cores=4, memory="16GiB", jobs=0,
                                        gpus_per_worker=2)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert directive in script
    # one single-threaded worker holds the job's GPUs; the job still reserves 4 cores
    assert "--nthreads 1" in script and "--nworkers" not in script
    assert ("--cpus-per-task=4" if kind == "slurm" else "ncpus=4") in script


SPEC = """
[system]
build = "ag28"
vacancy = "center"
[calculator]
name = "sevennet"
[md]
timestep_fs = 2.0
hydrogen_mass_amu = 4.0
stride_fs = 2.0
checkpoint_ps = 0.004
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = 0.004
"""


@pytest.mark.slow
def test_sevennet_sweep_of_iso1_over_seeds_on_the_local_cluster(tmp_path):
    spec = tmp_path / "iso1.toml"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--seeds", "1-2", "--workers", "2", "--no-analyze",
                 "--quiet"]) == 0
    members = sorted((tmp_path / "iso1_sweep" / "members").glob("*/meta.json"))
    assert len(members) == 2
    for meta_path in members:
        meta = store.read_json(meta_path)
        assert meta["status"] == "finished"
        # the worker had OMP_NUM_THREADS=1, and torch used exactly that
        assert meta["engine"]["threads"] == 1 and meta["engine"]["device"] == "cpu"
