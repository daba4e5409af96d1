"""The block-reading machinery the core analyses share (radius of gyration, site occupancy).

:class:`ChunkedAnalysis` is an MDAnalysis :class:`~MDAnalysis.analysis.base.AnalysisBase`
that reads and computes blocks of frames at once instead of one
:class:`~MDAnalysis.coordinates.timestep.Timestep` at a time.  It keeps the
AnalysisBase contract (``_prepare``, ``_single_frame``, ``_conclude``,
``results``, ``run(start, stop, step, frames, backend=..., n_workers=...)``):
it only replaces the frame loop inside ``_compute``, which every backend
(serial, multiprocessing, dask) calls on its share of the frames.

Blocks of an AMBER NetCDF trajectory (a run folder's ``trajectory.nc``, or
its segments while a run is going) are read straight from the file with
netCDF4, a few hundred frames per call (0.5-1 million frames/s for 172
atoms; ``Reader.timeseries`` gains nothing for NetCDF, as it steps through
the frames one by one).  netCDF4 reads through ordinary file I/O, so memory
holds one block, whatever the length of the trajectory; MDAnalysis's own
NetCDF reader memory-maps the file, and every page it touches stays in the
resident set.  Other formats, and trajectories with
on-the-fly transformations, are read frame by frame through the Reader and
still computed in blocks.

Subclasses compute a block with :meth:`ChunkedAnalysis._block`; results of a
frame must not depend on which block the frame falls in, so that serial,
parallel and ``chunk_size=1`` runs agree exactly.  That rules out BLAS calls
and NumPy's own floating-point sums in ``_block`` (both choose their order of
additions by array shape and memory alignment, so one frame alone and the
same frame in a block can differ in the last bit).  The kernels use
elementwise arithmetic, which IEEE 754 rounds the same way on any layout,
sums in a fixed order (:func:`tree_sum`) and LAPACK on single 3x3 matrices.
"""

from __future__ import annotations

import netCDF4
import numpy as np
from MDAnalysis.analysis.base import AnalysisBase
from MDAnalysis.analysis.results import ResultsGroup
from MDAnalysis.coordinates.chain import ChainReader
from MDAnalysis.coordinates.TRJ import NCDFReader
from MDAnalysis.lib.log import ProgressBar

#: Frames per block: big enough that NumPy's per-call overhead vanishes,
#: small enough that a block's working arrays stay in the CPU cache.
CHUNK_SIZE = 512


class _NCDFBlocks:
    """Reads blocks of frames of one AMBER NetCDF file with netCDF4.

    Gives the same numbers as :class:`MDAnalysis.coordinates.TRJ.NCDFReader`
    (float32 coordinates, scale factors applied the same way, time plus
    the Reader's ``time_offset``).
    """

    def __init__(self, reader: NCDFReader, indices: np.ndarray):
        self._data = netCDF4.Dataset(reader.filename)
        self._data.set_auto_maskandscale(False)
        # one contiguous hyperslab of atoms is far faster than a fancy index
        self._first = int(indices.min())
        self._last = int(indices.max()) + 1
        take = indices - self._first
        contiguous = np.array_equal(take, np.arange(len(take)))
        self._take = slice(None) if contiguous else take
        self._scale = {name: reader.scale_factors[name] for name in ("coordinates", "time")}
        self._offset = reader.ts.data.get("time_offset", 0)

    def read(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        where, order = _as_index(frames)
        raw = self._data.variables["coordinates"][where, self._first:self._last]
        positions = _scaled(raw, self._scale["coordinates"])[order][:, self._take]
        times = _scaled(self._data.variables["time"][where], self._scale["time"])[order]
        return positions.astype(np.float32, copy=False), times + self._offset

    def close(self) -> None:
        self._data.close()


class _ChainBlocks:
    """Blocks of a ChainReader of NetCDF files (a run folder's segments)."""

    def __init__(self, parts: list, n_frames: list[int]):
        self._parts = parts
        self._starts = np.cumsum([0] + n_frames[:-1])

    def read(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        part = np.searchsorted(self._starts, frames, side="right") - 1
        positions, times = None, np.empty(len(frames))
        for p in np.unique(part):
            mine = part == p
            x, t = self._parts[p].read(frames[mine] - self._starts[p])
            if positions is None:
                positions = np.empty((len(frames),) + x.shape[1:], np.float32)
            positions[mine], times[mine] = x, t
        return positions, times

    def close(self) -> None:
        for part in self._parts:
            part.close()


class _ReaderBlocks:
    """Blocks gathered frame by frame through an MDAnalysis Reader (any format)."""

    def __init__(self, trajectory, indices: np.ndarray):
        self._trajectory = trajectory
        self._indices = indices

    def read(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        positions = np.empty((len(frames), len(self._indices), 3), np.float32)
        times = np.empty(len(frames))
        for i, ts in enumerate(self._trajectory[frames]):
            positions[i] = ts.positions[self._indices]
            times[i] = ts.time
        return positions, times

    def close(self) -> None:
        pass


def _as_index(frames: np.ndarray):
    """netCDF4 index of ``frames`` and the order to put the rows read back in.

    Evenly increasing frames become a slice (the fastest read); anything else
    an increasing list of distinct frames, which netCDF4 also accepts.
    """
    steps = np.diff(frames)
    if len(frames) == 1 or (steps[0] > 0 and np.all(steps == steps[0])):
        step = int(steps[0]) if len(frames) > 1 else 1
        return slice(int(frames[0]), int(frames[-1]) + 1, step), slice(None)
    unique, order = np.unique(frames, return_inverse=True)
    return unique, order


def _scaled(raw: np.ndarray, scale) -> np.ndarray:
    # the same test and arithmetic as NCDFReader._get_var_and_scale
    if scale is None or np.isclose(scale, 1):
        return raw
    return raw * scale


def _is_plain_ncdf(reader) -> bool:
    # AMBER NetCDF is in Å and ps, so MDAnalysis converts no units
    return type(reader) is NCDFReader and reader.has_time and not reader.transformations


def block_reader(trajectory, indices: np.ndarray):
    """The fastest exact block reader for ``trajectory`` and atoms ``indices``."""
    if _is_plain_ncdf(trajectory):
        return _NCDFBlocks(trajectory, indices)
    if (isinstance(trajectory, ChainReader) and not trajectory.transformations
            and all(_is_plain_ncdf(r) for r in trajectory.readers)):
        return _ChainBlocks([_NCDFBlocks(r, indices) for r in trajectory.readers],
                            [r.n_frames for r in trajectory.readers])
    return _ReaderBlocks(trajectory, indices)


class ChunkedAnalysis(AnalysisBase):
    """An AnalysisBase that reads and computes blocks of frames.

    Parameters
    ----------
    atomgroup : MDAnalysis.core.groups.AtomGroup
        The atoms whose coordinates each block holds.
    chunk_size : int
        Frames per block (default :data:`CHUNK_SIZE`).  ``1`` runs
        MDAnalysis's own per-frame loop, which calls :meth:`_single_frame`;
        results are the same, only slower.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`
        (``verbose``).

    Notes
    -----
    Subclasses allocate per-frame result arrays in ``_prepare`` (for
    ``self.n_frames`` frames), fill rows ``index`` of them in
    ``_block(index, positions)``, and list how to join the workers' rows in
    ``_aggregators``.
    """

    _analysis_algorithm_is_parallelizable = True
    #: results key -> ResultsGroup aggregator, for the parallel backends
    _aggregators: dict = {}

    @classmethod
    def get_supported_backends(cls):
        return ("serial", "multiprocessing", "dask")

    def __init__(self, atomgroup, chunk_size: int = CHUNK_SIZE, **kwargs):
        super().__init__(atomgroup.universe.trajectory, **kwargs)
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be a positive number of frames, "
                             f"not {chunk_size}.")
        self._atomgroup = atomgroup
        self.chunk_size = int(chunk_size)

    def _get_aggregator(self) -> ResultsGroup:
        return ResultsGroup(lookup=self._aggregators)

    def _block(self, index: slice, positions: np.ndarray) -> None:
        """Compute frames ``index`` of this run from ``positions`` (F, n_atoms, 3) in Å."""
        raise NotImplementedError("ChunkedAnalysis subclasses implement _block")

    def _single_frame(self):
        i = self._frame_index
        self._block(slice(i, i + 1), self._atomgroup.positions[None])

    def _compute(self, indexed_frames, verbose=None, *, progressbar_kwargs=None):
        if self.chunk_size == 1:
            return super()._compute(indexed_frames, verbose,
                                    progressbar_kwargs=progressbar_kwargs)
        verbose = getattr(self, "_verbose", False) if verbose is None else verbose
        frames = indexed_frames[:, 1]
        self._prepare_sliced_trajectory(slicer=frames)
        self._prepare()
        reader = block_reader(self._trajectory, self._atomgroup.indices)
        try:
            with ProgressBar(total=len(frames), verbose=verbose,
                             **(progressbar_kwargs or {})) as bar:
                for lo in range(0, len(frames), self.chunk_size):
                    rows = slice(lo, min(lo + self.chunk_size, len(frames)))
                    positions, times = reader.read(frames[rows])
                    self.frames[rows] = frames[rows]
                    self.times[rows] = times
                    self._block(rows, positions)
                    bar.update(rows.stop - rows.start)
        finally:
            reader.close()
        return self


def components(positions: np.ndarray) -> np.ndarray:
    """(F, n, 3) coordinates as a C-contiguous float64 (3, n, F) array.

    Frames run along the last axis, so each step of a kernel is one
    elementwise operation over all frames of a block.
    """
    return np.ascontiguousarray(positions.transpose(2, 1, 0), dtype=np.float64)


def tree_sum(a: np.ndarray, axis: int) -> np.ndarray:
    """Sum over ``axis``, adding halves pairwise in an order fixed by its length.

    NumPy's own ``sum`` picks its order of additions by memory alignment and
    layout, so the same numbers can round differently in a block of one
    frame and a block of many.  Elementwise additions are exact to the last
    bit whatever the layout; this makes about 2 log2(n) of them.
    """
    a = np.moveaxis(a, axis, 0)
    while len(a) > 1:
        half = len(a) // 2
        total = a[:half] + a[half:2 * half]
        if len(a) % 2:
            total[-1] += a[-1]
        a = total
    return a[0]
