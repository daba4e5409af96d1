"""Site occupancy: which reference site each cluster atom sits on, frame by frame.

For every frame, :class:`SiteOccupancy`

1. **removes overall translation and rotation** by least-squares (Kabsch)
   fits of the selected atoms onto the reference sites, in two rounds:

   a. every atom onto the site it held in the start structure
      (``SiteMap.atoms``); one migrated atom among dozens shifts this fit by
      far less than a site's cutoff, so the assignment under it is right;
   b. every atom that then sits alone on a site onto that site (an atom
      that moved, e.g. into the empty centre, now helps the fit at its new
      place; atoms crowding a site or between sites are left out).  With
      fewer than three such atoms the frame keeps fit (a).

   Each frame is fitted on its own from the start structure's labels;
   nothing carries over from the previous frame.  So a frame's result does
   not depend on where a block or a parallel worker's share of the
   trajectory begins, and serial and parallel runs agree bit for bit.  The
   price is that fit (a) needs most atoms (in practice more than about half)
   still on or near their starting sites, which holds for solid clusters over
   the runs of this study; for a cluster that melts and mixes, site
   occupancy means little anyway, and ``results.rmsd`` shows it.  Sites are
   fitted with equal weights: they are places, not masses.

2. **assigns each atom to its nearest site, if it is within that site's
   cutoff** (nearest-site assignment, not a one-to-one matching).  A
   one-to-one (Hungarian) assignment forces one atom onto every site but the
   vacant ones, so it can never show two atoms crowding one site, nor an
   atom in transit between sites; nearest-site assignment shows both:
   occupancy 2 is interstitial crowding, assignment -1 an atom on no site.

   The default cutoff of a site is **half the distance from that site to its
   nearest other site** (1.45 Å for Ag in Ag55, 1.2 Å for the apical Cl of
   [Mo6Cl13]-).  Spheres of these radii do not overlap, so "nearest site
   within the cutoff" is the same as "inside that site's sphere": each point
   of space belongs to at most one site, and an atom is unassigned only when
   it is more than halfway to the next site, far beyond thermal motion
   (about 0.1-0.2 Å rms at room temperature).  It also means that an atom
   within the cutoff of the site it was on before is on that site, so only
   the few atoms that are not need their distances to all sites.  A single
   ``cutoff`` (Å) for all sites can be given instead (larger cutoffs make
   spheres overlap; the nearest site then still wins).

The kernel works on blocks of frames (see
:class:`~mdkit.analysis.base.ChunkedAnalysis`).  Its rotations come from the
polar decomposition of the 3x3 covariance by Newton iteration, elementwise
over all frames of a block, with an SVD for the rare frame where that does
not apply.
"""

from __future__ import annotations

import numpy as np
from MDAnalysis.analysis.results import ResultsGroup
from scipy.spatial.distance import cdist

from mdkit.errors import SiteMapError
from mdkit.sites import SiteMap

from .base import CHUNK_SIZE, ChunkedAnalysis, components, tree_sum

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
        Frames per block, see :class:`~mdkit.analysis.base.ChunkedAnalysis`.
    **kwargs
        Passed to :class:`~MDAnalysis.analysis.base.AnalysisBase`.

    Attributes
    ----------
    atomgroup : AtomGroup
        The selected atoms.
    cutoffs : (n_sites,) ndarray of float
        Cutoff of each site, Å.
    results.occupancy : (n_frames, n_sites) ndarray of int
        Number of atoms on each site (0 vacant, 1 normal, 2+ crowded), in
        the smallest signed integer type that holds every count (int8 up
        to 127 selected atoms).
    results.assignment : (n_frames, n_selected) ndarray of int
        Site of each selected atom, -1 for none within its cutoff (int8 up
        to 128 sites).
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
        self._exclusive = bool(np.all(self.cutoffs <= default_cutoffs(sites.positions)))
        self._sites = np.ascontiguousarray(sites.positions.T, dtype=np.float64)  # (3, M)
        self._site_type = np.min_scalar_type(-len(sites))
        self._count_type = np.min_scalar_type(-len(atoms) - 1)  # holds 0..len(atoms)

    def _prepare(self):
        n = self.n_frames
        self.results.occupancy = np.zeros((n, len(self.sites)), self._count_type)
        self.results.assignment = np.zeros((n, len(self.atomgroup)), self._site_type)
        self.results.rmsd = np.zeros(n)

    def _block(self, index, positions):
        x = components(positions)                               # (3, N, F)
        # (a) every atom to its site in the start structure
        labelled = (self._labels >= 0)[:, None]
        home = np.maximum(self._labels, 0)[:, None]
        y = _fit(x, self._sites[:, home], labelled)
        # (b) atoms alone on their nearest site
        site, count = self._assign(y, np.where(labelled, home, -1))
        alone = (site >= 0) & (count[np.maximum(site, 0), np.arange(x.shape[2])] == 1)
        enough = alone.sum(axis=0) >= MIN_FIT
        target = np.where(enough, np.maximum(site, 0), home)
        keep = np.where(enough, alone, labelled)
        y = _fit(x, _gather(self._sites, target), keep)
        site, count = self._assign(y, site)
        residual = np.where(keep, _distance2(y, self._sites, target), 0.0)
        self.results.rmsd[index] = np.sqrt(tree_sum(residual, axis=0) / keep.sum(axis=0))
        self.results.assignment[index] = site.T
        self.results.occupancy[index] = count.T

    def _assign(self, y: np.ndarray, guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest site within its cutoff of every atom, and atoms per site.

        Parameters
        ----------
        y : (3, N, F) ndarray
            Fitted atom positions, Å.
        guess : (N, F) ndarray of int
            A likely site of each atom (-1: no idea).

        Returns
        -------
        site : (N, F) ndarray of int
            -1 where no site is within its cutoff.
        count : (n_sites, F) ndarray of int
        """
        if self._exclusive:
            # Inside a site's sphere an atom is nearest to that site (module
            # notes), so only atoms off their guessed site need all distances.
            on = (guess >= 0) & (_distance2(y, self._sites, np.maximum(guess, 0))
                                 <= self._cut2[guess])
            site = np.where(on, guess, -1)
            site[~on] = _nearest(y[:, ~on], self._sites, self._cut2)
        else:
            site = _nearest(y, self._sites, self._cut2)
        n_sites, n_frames = len(self._cut2), site.shape[1]
        held = site >= 0
        flat = (site * n_frames + np.arange(n_frames))[held]
        count = np.bincount(flat, minlength=n_sites * n_frames).reshape(n_sites, n_frames)
        return site, count

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


def _fit(x: np.ndarray, p: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Kabsch fit of atoms ``x`` (3, N, F) onto positions ``p``, frame by frame.

    ``p`` (3, N, F) is where each atom should go, ``keep`` (N, F) which
    pairs count; both may be (…, 1), the same for every frame.  Returns the
    atoms moved onto the sites, (3, N, F).
    """
    w = keep.astype(np.float64)
    total = keep.sum(axis=0)
    x_centre = tree_sum(x * w, axis=1) / total               # (3, F)
    p_centre = tree_sum(p * w, axis=1) / total
    dx = x - x_centre[:, None]
    dpw = (p - p_centre[:, None]) * w
    h = tree_sum(dx[:, None] * dpw[None], axis=2).reshape(9, -1)  # H_ij at row 3i+j
    r = _rotation(h).reshape(3, 3, 1, -1)                    # r[i, j] = R_ij
    return r[:, 0] * dx[0] + r[:, 1] * dx[1] + r[:, 2] * dx[2] + p_centre[:, None]


# H flattened row by row: cofactor k of a 3x3 matrix is a[I1]a[I2] - a[I3]a[I4]
_I1 = np.array([4, 5, 3, 2, 0, 1, 1, 2, 0])
_I2 = np.array([8, 6, 7, 7, 8, 6, 5, 3, 4])
_I3 = np.array([5, 3, 4, 1, 2, 0, 2, 0, 1])
_I4 = np.array([7, 8, 6, 8, 6, 7, 4, 5, 3])
_TRANSPOSE = np.array([0, 3, 6, 1, 4, 7, 2, 5, 8])
#: Most Newton steps for the polar factor; scaled Newton converges
#: quadratically, in 4-6 steps for the well-conditioned H of a 3-D fit.
NEWTON_STEPS = 12
#: Newton has converged after a step smaller than this (largest element
#: change): the error then squares at each step, so it is at rounding level.
NEWTON_TOLERANCE = 1e-9


def _rotation(h: np.ndarray) -> np.ndarray:
    """Kabsch rotations from covariances ``h`` (9, F); returns R (9, F), row by row.

    The rotation taking x onto p is the transpose of the orthogonal polar
    factor of H = sum x p^T, found by scaled Newton iteration
    X <- (g X + X^-T / g) / 2, each frame stopping on its own once it has
    converged.  That is several times faster than a stack of 3x3 SVDs and
    needs only elementwise arithmetic and fixed-order sums, so a frame gets
    the same bits in any block.  Frames where H is (nearly) singular or a
    reflection, or Newton has not converged, take the SVD route with the
    reflection removed.
    """
    def cofactors(a):
        return a[_I1] * a[_I2] - a[_I3] * a[_I4]          # X^-T = cofactors / det(X)

    def det(a, cof):
        return a[0] * cof[0] + a[1] * cof[1] + a[2] * cof[2]

    scale = tree_sum(h * h, axis=0)
    good = det(h, cofactors(h)) > 1e-9 * scale * np.sqrt(scale)
    x = h.copy()
    active = np.flatnonzero(good)
    for _ in range(NEWTON_STEPS):
        if len(active) == 0:
            break
        a = x if len(active) == x.shape[1] else x[:, active]
        cof = cofactors(a)
        d = det(a, cof)
        g = np.sqrt(np.sqrt(tree_sum(cof * cof, axis=0) / (d * d) / tree_sum(a * a, axis=0)))
        new = 0.5 * (g * a + cof / (g * d))
        moved = np.abs(new - a).max(axis=0)
        x[:, active] = new
        active = active[moved >= NEWTON_TOLERANCE]
    bad = ~good
    bad[active] = True
    if bad.any():
        u, _, vt = np.linalg.svd(h[:, bad].T.reshape(-1, 3, 3))
        vt[:, 2] *= np.sign(np.linalg.det(u) * np.linalg.det(vt))[:, None]
        polar = u[:, :, 0, None] * vt[:, None, 0] + u[:, :, 1, None] * vt[:, None, 1] \
            + u[:, :, 2, None] * vt[:, None, 2]             # U V^T
        x[:, bad] = polar.reshape(-1, 9).T
    return x[_TRANSPOSE]


def _gather(sites: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Positions (3, N, F) of sites ``target`` (N, F), C-contiguous.

    (``sites[:, target]`` is laid out frame-major, which makes every later
    operation on it strided and several times slower.)
    """
    return np.stack([row.take(target) for row in sites])


def _distance2(y: np.ndarray, sites: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared distance (N, F) of atoms ``y`` (3, N, F) to their ``target`` sites."""
    d = y - _gather(sites, target)
    return d[0] * d[0] + d[1] * d[1] + d[2] * d[2]


def _nearest(y: np.ndarray, sites: np.ndarray, cut2: np.ndarray) -> np.ndarray:
    """Nearest site of points ``y`` (3, ...) if within its cutoff, else -1."""
    d = y[0][..., None] - sites[0]
    d2 = d * d
    for k in (1, 2):
        d = y[k][..., None] - sites[k]
        d2 += d * d
    site = d2.argmin(axis=-1)
    near = np.take_along_axis(d2, site[..., None], axis=-1)[..., 0] <= cut2[site]
    return np.where(near, site, -1)
