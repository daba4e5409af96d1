"""One GPU group per Dask worker: the plugin that pins each local worker to its own."""

from __future__ import annotations

import os

from distributed.diagnostics.plugin import WorkerPlugin


class PinGPUs(WorkerPlugin):
    """Worker number i sees only GPU group i (``CUDA_VISIBLE_DEVICES``).

    LocalCluster names its workers 0, 1, ...; the plugin runs in each worker
    process when it is registered, before any task imports torch and starts
    CUDA, so the engines' ``device = "auto"`` finds exactly its own GPUs.

    Parameters
    ----------
    groups : list of str
        ``CUDA_VISIBLE_DEVICES`` value of each worker, e.g. ``["0", "1"]``
        (:func:`mdkit.ensemble.local_gpu_groups`).
    """

    def __init__(self, groups: list[str]):
        self.groups = list(groups)

    def setup(self, worker):
        os.environ["CUDA_VISIBLE_DEVICES"] = self.groups[int(worker.name) % len(self.groups)]
