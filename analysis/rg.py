"""Radius of gyration per frame, computed in blocks of frames (:mod:`mdkit.analysis.base`)."""

from __future__ import annotations

import numpy as np
from MDAnalysis.analysis.results import ResultsGroup

from .base import CHUNK_SIZE, ChunkedAnalysis, components, tree_sum


class RadiusOfGyration(ChunkedAnalysis):
    r"""Radius of gyration of an AtomGroup on every frame.

    .. math:: R_g = \sqrt{\sum_i w_i |\mathbf r_i - \mathbf r_c|^2 / \sum_i w_i},
              \quad \mathbf r_c = \sum_i w_i \mathbf r_i / \sum_i w_i

    with :math:`w_i` the atom masses (the same as
    :meth:`MDAnalysis.core.groups.AtomGroup.radius_of_gyration`) or 1.
    Coordinates are used as stored (clusters in vacuum: no periodic wrapping).

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
    mass_weighted : bool
        Weight atoms by mass (default) or count them equally.
    chunk_size : int
        Frames per block, see :class:`ChunkedAnalysis`.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    results.rg : (n_frames,) ndarray of float
        Radius of gyration in Å.
    results.times : (n_frames,) ndarray of float
        Time of each frame in ps.
    results.frames : (n_frames,) ndarray of int
        Trajectory frame index of each frame.
    """

    _aggregators = {"rg": ResultsGroup.ndarray_hstack}

    def __init__(self, atomgroup, mass_weighted: bool = True,
                 chunk_size: int = CHUNK_SIZE, **kwargs):
        if len(atomgroup) == 0:
            raise ValueError("RadiusOfGyration needs at least one atom; the AtomGroup is empty.")
        super().__init__(atomgroup, chunk_size=chunk_size, **kwargs)
        self.mass_weighted = bool(mass_weighted)
        weights = atomgroup.masses if mass_weighted else np.ones(len(atomgroup))
        self._weights = np.asarray(weights, dtype=np.float64)
        self._total = self._weights.sum()

    def _prepare(self):
        self.results.rg = np.zeros(self.n_frames)

    def _block(self, index, positions):
        xyz = components(positions)                        # (3, n, F)
        w = self._weights[:, None]
        centre = tree_sum(xyz * w, axis=1) / self._total   # (3, F)
        d = xyz - centre[:, None]
        spread = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) * w
        self.results.rg[index] = np.sqrt(tree_sum(spread, axis=0) / self._total)

    def _conclude(self):
        self.results.times = self.times
        self.results.frames = self.frames
