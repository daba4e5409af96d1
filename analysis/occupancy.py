"""Site occupancy: which reference site each cluster atom sits on, frame by frame.

For every frame, :class:`SiteOccupancy`

1. **removes overall translation and rotation** by a least-squares (Kabsch)
   fit of the selected atoms onto the reference sites, in three rounds:

   a. every atom to the site it held in the start structure (``SiteMap.atoms``);
   b. again, keeping only atoms still within their site's cutoff of that
      site (an atom that migrated no longer pulls on the fit);
   c. again, pairing each atom with its nearest site, keeping atoms that sit
      alone on a site (an atom that moved to a new site, e.g. into the empty
      centre, now helps the fit at its new place; atoms crowding a site or
      between sites are left out).

   A round that would keep fewer than three atoms keeps the previous
   round's pairs.  Each frame is fitted on its own, from the start
   structure's labels: nothing carries over from the previous frame, so a
   frame's result does not depend on where a block or a parallel worker's
   share of the trajectory begins, and serial and parallel runs agree bit
   for bit.  The price is that the first round needs a good share of atoms
   (in practice at least about half) still on their starting sites, which
   holds for solid clusters; for a cluster that melts and mixes, site
   occupancy has no meaning anyway, and ``results.rmsd`` shows it.
   Sites are fitted with equal weights (they are places, not masses).

2. **assigns each atom to its nearest site, if it is within that site's
   cutoff** (nearest-site assignment, not a one-to-one matching).  A
   one-to-one assignment (Hungarian) forces one atom onto every site but the
   vacant ones and so can never show two atoms crowding one site, nor an atom
   in transit between sites; nearest-site assignment shows both: occupancy 2
   is interstitial crowding, assignment -1 an atom on no site.

   The default cutoff of a site is **half the distance from that site to its
   nearest other site** (1.45 Å for Ag in Ag55, 1.2 Å for the apical Cl of
   [Mo6Cl13]-).  Spheres of these radii do not overlap, so "nearest site
   within the cutoff" is the same as "inside that site's sphere": every
   point of space belongs to at most one site, and an atom is only
   unassigned when it is more than halfway to the next site, far beyond
   thermal motion (about 0.1-0.2 Å rms at room temperature).  A single
   ``cutoff`` (Å) for all sites can be given instead.

The vectorised kernel works on blocks of frames (see
:class:`~mdkit.analysis.rg.ChunkedAnalysis`); it makes no BLAS calls, so
every frame's numbers are the same whichever block it is computed in.
"""

from __future__ import annotations

import numpy as np
from MDAnalysis.analysis.results import ResultsGroup
from scipy.spatial.distance import cdist

from mdkit.errors import SiteMapError
from mdkit.sites import SiteMap

from .rg import CHUNK_SIZE, ChunkedAnalysis, components

#: Fewest atom-site pairs that define a rotation.
MIN_FIT = 3


class SiteMatchError(SiteMapError):
    """A SiteMap that does not fit the atoms of the trajectory."""


def default_cutoffs(positions: np.ndarray) -> np.ndarray:
    """Half the distance from each site to its nearest other site, Å, shape (n_sites,)."""
    d = cdist(positions, positions)
    np.fill_diagonal(d, np.inf)
    return 0.5 * d.min(axis=1)


class SiteOccupancy(ChunkedAnalysis):
    """Occupancy of the reference sites of a cluster on every frame.

    Parameters
    ----------
    universe_or_atomgroup : MDAnalysis.Universe or AtomGroup
        The trajectory (e.g. from :func:`mdkit.store.open_run`), or the atoms
        to consider.
    sites : mdkit.sites.SiteMap
        Reference sites, in the frame of the start structure, whose
        ``atoms`` index the atoms of the universe.
    select : str, optional
        MDAnalysis selection of the atoms to assign (within
        ``universe_or_atomgroup``).  Default: the atoms whose element is
        one of the sites' elements (all Ag and Hg of [Ag28Hg(BDT)12]2-, Mo and
        Cl of [Mo6Cl13]-, every atom of a bare cluster).
    cutoff : float, optional
        Distance (Å) within which an atom counts as on a site, for all
        sites.  Default: per site, half the distance to its nearest other
        site (see the module notes).
    chunk_size : int
        Frames per block, see :class:`~mdkit.analysis.rg.ChunkedAnalysis`.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    atomgroup : AtomGroup
        The selected atoms.
    cutoffs : (n_sites,) ndarray of float
        Cutoff of each site, Å.
    results.occupancy : (n_frames, n_sites) ndarray of small int
        Number of atoms on each site (0 vacant, 1 normal, 2+ crowded).
    results.assignment : (n_frames, n_selected) ndarray of small int
        Site of each selected atom, -1 for none within its cutoff.
    results.atoms : (n_selected,) ndarray of int
        Universe atom index of each column of ``assignment``.
    results.vacant : (n_frames, n_sites) ndarray of bool
        ``occupancy == 0``.
    results.rmsd : (n_frames,) ndarray of float
        Root-mean-square distance (Å) between the fitted atoms and their
        sites after the final fit.
    results.times : (n_frames,) ndarray of float
        Time of each frame, ps.
    results.frames : (n_frames,) ndarray of int
        Trajectory frame index of each frame.

    Raises
    ------
    SiteMatchError
        If no atom matches the sites' elements, or the SiteMap's atoms do
        not fit the universe (fewer than three of the selected atoms have a
        reference site, an index beyond the universe, or another element).
    """

    _aggregators = {"occupancy": ResultsGroup.ndarray_vstack,
                    "assignment": ResultsGroup.ndarray_vstack,
                    "rmsd": ResultsGroup.ndarray_hstack}

    def __init__(self, universe_or_atomgroup, sites: SiteMap, select: str | None = None,
                 cutoff: float | None = None, chunk_size: int = CHUNK_SIZE, **kwargs):
        group = universe_or_atomgroup.atoms
        atoms = _select(group, sites, select)
        super().__init__(atoms, chunk_size=chunk_size, **kwargs)
        self.atomgroup = atoms
        self.sites = sites
        if len(sites) < MIN_FIT:
            raise SiteMatchError(f"the SiteMap has {len(sites)} sites; fitting a frame onto "
                                 f"them needs at least {MIN_FIT}.")
        self._labels = _reference_labels(atoms, sites)
        if cutoff is None:
            self.cutoffs = default_cutoffs(sites.positions)
        elif cutoff > 0:
            self.cutoffs = np.full(len(sites), float(cutoff))
        else:
            raise ValueError(f"cutoff must be a positive distance in Å, not {cutoff}.")
        self._cut2 = self.cutoffs ** 2
        self._sites = components(sites.positions)  # (3, n_sites)
        self._site_type = np.min_scalar_type(-len(sites))
        self._count_type = np.min_scalar_type(-len(atoms))

    def _prepare(self):
        n = self.n_frames
        self.results.occupancy = np.zeros((n, len(self.sites)), self._count_type)
        self.results.assignment = np.zeros((n, len(self.atomgroup)), self._site_type)
        self.results.rmsd = np.zeros(n)

    def _block(self, index, positions):
        x = components(positions)
        labelled = np.broadcast_to(self._labels >= 0, x.shape[1:])
        target = np.broadcast_to(np.maximum(self._labels, 0), x.shape[1:])
        # (a) start-structure labels
        y = _fit(x, self._sites, target, labelled)
        # (b) only atoms still on their starting site
        near = _distance2(y, self._sites, target) <= self._cut2[target]
        keep = labelled & near
        keep = _fallback(keep, labelled)
        y = _fit(x, self._sites, target, keep)
        # (c) atoms alone on their nearest site
        site, count = _assign(y, self._sites, self._cut2)
        alone = (site >= 0) & (np.take_along_axis(count, np.maximum(site, 0), axis=1) == 1)
        enough = (alone.sum(axis=-1) >= MIN_FIT)[:, None]
        target = np.where(enough, np.maximum(site, 0), target)
        keep = np.where(enough, alone, keep)
        y = _fit(x, self._sites, target, keep)
        site, count = _assign(y, self._sites, self._cut2)
        residual = np.where(keep, _distance2(y, self._sites, target), 0.0)
        self.results.rmsd[index] = np.sqrt(residual.sum(axis=-1) / keep.sum(axis=-1))
        self.results.assignment[index] = site
        self.results.occupancy[index] = count

    def _conclude(self):
        self.results.vacant = self.results.occupancy == 0
        self.results.atoms = self.atomgroup.indices.copy()
        self.results.times = self.times
        self.results.frames = self.frames


def _select(group, sites: SiteMap, select: str | None):
    """The atoms to assign: ``select``, or those of the sites' elements."""
    if select is not None:
        atoms = group.select_atoms(select)
        if len(atoms) == 0:
            raise SiteMatchError(f"the selection {select!r} matches no atom.")
        return atoms
    if not hasattr(group, "elements"):
        raise SiteMatchError("the universe has no elements, so the atoms on the sites "
                             "cannot be chosen by element; give select=..., e.g. "
                             "select='name Ag'.")
    wanted = sorted(set(sites.elements.tolist()))
    atoms = group[np.isin(group.elements, wanted)]
    if len(atoms) == 0:
        present = ", ".join(sorted(set(group.elements.tolist())))
        raise SiteMatchError(f"the sites' elements ({', '.join(wanted)}) match no atom "
                             f"(the atoms are {present}); is this the SiteMap of this run?")
    return atoms


def _reference_labels(atoms, sites: SiteMap) -> np.ndarray:
    """Site each selected atom held in the start structure, -1 for none."""
    n_universe = len(atoms.universe.atoms)
    on_site = sites.atoms >= 0
    if np.any(sites.atoms[on_site] >= n_universe):
        raise SiteMatchError(f"the SiteMap puts atom {sites.atoms.max()} on a site, but the "
                             f"universe has {n_universe} atoms; is this the SiteMap of this run?")
    labels = sites.atom_sites(n_universe)[atoms.indices]
    if hasattr(atoms, "elements"):
        held = labels >= 0
        wrong = np.flatnonzero(atoms.elements[held] != sites.elements[labels[held]])
        if len(wrong):
            k = np.flatnonzero(held)[wrong[0]]
            raise SiteMatchError(
                f"site {labels[k]} holds {sites.elements[labels[k]]} in the SiteMap, but its "
                f"atom {atoms.indices[k]} is {atoms.elements[k]}; is this the SiteMap of "
                "this run?")
    if np.sum(labels >= 0) < MIN_FIT:
        raise SiteMatchError(f"only {np.sum(labels >= 0)} of the {len(atoms)} selected atoms "
                             f"sit on a site of the SiteMap's start structure; the fit needs "
                             f"at least {MIN_FIT}.")
    return labels


def _fallback(keep: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """``keep``, or ``previous`` on frames where ``keep`` has too few atoms to fit."""
    return np.where((keep.sum(axis=-1) >= MIN_FIT)[:, None], keep, previous)


def _distance2(y: np.ndarray, sites: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared distance (F, N) of atoms ``y`` (3, F, N) to their ``target`` sites."""
    d = y - sites[:, target]
    return (d * d).sum(axis=0)


def _fit(x: np.ndarray, sites: np.ndarray, target: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Kabsch fit of atoms ``x`` (3, F, N) onto their ``target`` sites, per frame.

    Only pairs with ``keep`` (F, N) count.  Returns the atoms moved onto
    the sites, (3, F, N).
    """
    w = keep.astype(np.float64)
    total = w.sum(axis=-1)
    p = sites[:, target]                                  # (3, F, N)
    x_centre = (x * w).sum(axis=-1) / total               # (3, F)
    p_centre = (p * w).sum(axis=-1) / total
    dx = x - x_centre[..., None]
    dp = (p - p_centre[..., None]) * w
    # covariance H[f, i, j] = sum_n w x_i p_j, row by row so that no BLAS is involved
    h = np.stack([(dx[i] * dp).sum(axis=-1) for i in range(3)])  # (i, j, F)
    u, _, vt = np.linalg.svd(np.moveaxis(h, -1, 0))       # (F, 3, 3) each
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    vt[:, 2, :] *= d[:, None]                             # proper rotation, no reflection
    # R = V U^T; y_i = sum_j R_ij dx_j + p_centre_i
    rot = (vt[:, :, :, None] * u.transpose(0, 2, 1)[:, :, None, :]).sum(axis=1)  # (F, i, j)
    r = np.moveaxis(rot, 0, -1)[..., None]                # (i, j, F, 1)
    return (r[:, 0] * dx[0] + r[:, 1] * dx[1] + r[:, 2] * dx[2]) + p_centre[..., None]


def _assign(y: np.ndarray, sites: np.ndarray, cut2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest site within its cutoff of every atom, and atoms per site.

    Parameters
    ----------
    y : (3, F, N) ndarray
        Fitted atom positions, Å.
    sites : (3, M) ndarray
    cut2 : (M,) ndarray
        Squared cutoffs, Å².

    Returns
    -------
    site : (F, N) ndarray of int
        -1 where no site is within its cutoff.
    count : (F, M) ndarray of int
    """
    d = y[0][..., None] - sites[0]
    d2 = d * d
    for k in (1, 2):
        d = y[k][..., None] - sites[k]
        d2 += d * d
    site = d2.argmin(axis=-1)
    near = np.take_along_axis(d2, site[..., None], axis=-1)[..., 0] <= cut2[site]
    site = np.where(near, site, -1)
    n_frames, n_sites = site.shape[0], len(cut2)
    flat = (site + n_sites * np.arange(n_frames)[:, None])[near]
    count = np.bincount(flat, minlength=n_frames * n_sites).reshape(n_frames, n_sites)
    return site, count
