"""Vacancy tracks, confirmed site changes and a plain-English summary.

Functions here take the plain arrays of
:class:`~mdkit.analysis.occupancy.SiteOccupancy` results (and the SiteMap)
and return plain dicts and arrays, so they also work on saved results.

An atom **changes site** when it arrives on a site other than the one it
held and then stays on that site, frame after frame, for at least
``residence_ps`` (default 0.5 ps).  Until then nothing has happened: a
one-frame excursion into the empty centre and back is a flicker, and frames
an atom spends between sites (assignment -1, e.g. in transit) neither start
nor confirm a stay.  An atom's first state is the site it is on in the first
frame where it is on any.  The event is dated at the arrival (the first
frame on the new site), so it is found to within one frame of when the atom
got there.  A stay is measured from arrival to the last frame on the site;
times are compared with a tolerance of :data:`TOLERANCE_PS` because
trajectory times are stored in single precision.

Kinds of change:

* ``"core-to-shell"``: an atom moves from any other site into a vacant
  core site (a class in the SiteMap's ``core_classes``: ``center``, or the
  ``core`` octahedron of a halide cluster), so the vacancy moves from the core to the atom's old
  site (a shell, surface, ... site) - the core-to-shell migration;
* ``"shell-to-core"``: an atom leaves a core site for another site;
* ``"hop"``: any other confirmed change of site.
"""

from __future__ import annotations

import numpy as np

from mdkit.errors import MdkitError
from mdkit.sites import CLASS_ORDER, SiteMap

#: Slack (ps) when comparing a stay with the residence time.
TOLERANCE_PS = 1e-4
#: Vacancy label of a frame on which every site is occupied.
NO_VACANCY = "none"


class OccupancyDataError(MdkitError):
    """Occupancy arrays that do not fit each other or the SiteMap."""


def vacancy_track(occupancy, sites: SiteMap) -> dict:
    """Where the vacancy is on every frame.

    Parameters
    ----------
    occupancy : (n_frames, n_sites) array of int
        Atoms on each site (``SiteOccupancy.results.occupancy``).
    sites : SiteMap

    Returns
    -------
    dict
        ``count`` : (n_frames,) int array, number of vacant sites;
        ``site`` : (n_frames,) int array, the vacant site when exactly one
        site is vacant, else -1;
        ``label`` : (n_frames,) str array, the class of the vacant site,
        ``"none"`` when none is vacant, or the classes of all vacant sites
        joined by ``+`` inner to outer (e.g. ``"center+shell"`` while an atom
        is between sites);
        ``by_class`` : dict of class -> (n_frames,) int array, vacant sites
        of that class.
    """
    occupancy = np.asarray(occupancy)
    if occupancy.ndim != 2 or occupancy.shape[1] != len(sites):
        raise OccupancyDataError(f"occupancy has shape {occupancy.shape}; it must be "
                                 f"(n_frames, {len(sites)}), one column per site.")
    vacant = occupancy == 0
    count = vacant.sum(axis=1)
    site = np.where(count == 1, vacant.argmax(axis=1), -1)
    # few distinct vacancy patterns occur, so label each pattern once
    patterns, which = np.unique(vacant, axis=0, return_inverse=True)
    names = np.array([_label(sites.classes[p]) for p in patterns] or [NO_VACANCY])
    by_class = {c: vacant[:, sites.classes == c].sum(axis=1) for c in sites.class_names}
    return {"count": count, "site": site, "label": names[which.reshape(-1)],
            "by_class": by_class}


def _label(classes) -> str:
    if len(classes) == 0:
        return NO_VACANCY
    rank = {c: i for i, c in enumerate(CLASS_ORDER)}
    return "+".join(sorted(classes.tolist(), key=lambda c: (rank.get(c, len(rank)), c)))


def find_events(times, occupancy, assignment, atoms, sites: SiteMap,
                residence_ps: float = 0.5) -> list[dict]:
    """Confirmed changes of site, in order of time.

    Parameters
    ----------
    times : (n_frames,) array of float
        Frame times, ps, increasing.
    occupancy : (n_frames, n_sites) array of int
    assignment : (n_frames, n_atoms) array of int
        Site of each atom on each frame, -1 for none.
    atoms : (n_atoms,) array of int
        Universe index of each column of ``assignment``.
    sites : SiteMap
    residence_ps : float
        How long (ps) an atom must stay on its new site for the change to
        count.

    Returns
    -------
    list of dict
        One per change, with ``time_ps`` (arrival on the new site), ``frame``
        (row of the arrays), ``atom`` (universe index), ``from_site``,
        ``from_class``, ``to_site``, ``to_class``, ``vacancy_before`` (the
        vacancy label, see :func:`vacancy_track`, on the last frame the atom
        was on its old site), ``vacancy_after`` (the label on arrival) and
        ``kind`` (``"core-to-shell"``, ``"shell-to-core"`` or ``"hop"``).
    """
    times, occupancy, assignment, atoms = _check(times, occupancy, assignment, atoms, sites)
    if residence_ps < 0:
        raise OccupancyDataError(f"residence_ps must be zero or positive, not {residence_ps}.")
    labels = vacancy_track(occupancy, sites)["label"]
    events = []
    for column, atom in enumerate(atoms):
        for before, arrival, old, new in _changes(times, assignment[:, column], residence_ps):
            events.append({
                "time_ps": float(times[arrival]), "frame": int(arrival), "atom": int(atom),
                "from_site": int(old), "from_class": str(sites.classes[old]),
                "to_site": int(new), "to_class": str(sites.classes[new]),
                "vacancy_before": str(labels[before]), "vacancy_after": str(labels[arrival]),
                "kind": _kind(sites.core_classes, sites.classes[old], sites.classes[new],
                              occupancy[before, new] == 0)})
    return sorted(events, key=lambda e: (e["time_ps"], e["atom"]))


def _check(times, occupancy, assignment, atoms, sites):
    times = np.asarray(times, dtype=float)
    occupancy, assignment = np.asarray(occupancy), np.asarray(assignment)
    atoms = np.asarray(atoms)
    n = len(times)
    if occupancy.shape != (n, len(sites)):
        raise OccupancyDataError(f"occupancy has shape {occupancy.shape}, not ({n}, "
                                 f"{len(sites)}) for {n} times and {len(sites)} sites.")
    if assignment.ndim != 2 or assignment.shape != (n, len(atoms)):
        raise OccupancyDataError(f"assignment has shape {assignment.shape}, not ({n}, "
                                 f"{len(atoms)}) for {n} times and {len(atoms)} atoms.")
    if assignment.size and (assignment.max() >= len(sites) or assignment.min() < -1):
        raise OccupancyDataError(f"assignment holds sites outside -1..{len(sites) - 1}; "
                                 "is it from this SiteMap?")
    if np.any(np.diff(times) <= 0):
        raise OccupancyDataError("times must increase from frame to frame.")
    return times, occupancy, assignment, atoms


def _changes(times, site, residence_ps):
    """(frame before leaving, arrival frame, old site, new site) of one atom's changes."""
    start = np.flatnonzero(np.r_[True, site[1:] != site[:-1]])
    end = np.r_[start[1:], len(site)] - 1
    value = site[start]
    stays = (value >= 0) & (times[end] - times[start] >= residence_ps - TOLERANCE_PS)
    on_site = np.flatnonzero(value >= 0)
    if len(on_site) == 0:
        return
    state, last_on = value[on_site[0]], end[on_site[0]]
    for run in on_site[1:]:
        if value[run] == state:
            last_on = end[run]
        elif stays[run]:
            yield last_on, start[run], state, value[run]
            state, last_on = value[run], end[run]


def _kind(core, old_class: str, new_class: str, new_was_vacant: bool) -> str:
    if new_class in core and old_class not in core and new_was_vacant:
        return "core-to-shell"
    if old_class in core and new_class not in core:
        return "shell-to-core"
    return "hop"


def summarize(times, events: list[dict], track: dict, sites: SiteMap) -> dict:
    """What the vacancy did, in numbers and one sentence.

    Parameters
    ----------
    times : (n_frames,) array of float
        Frame times, ps.
    events : list of dict
        From :func:`find_events`.
    track : dict
        From :func:`vacancy_track`.
    sites : SiteMap

    Returns
    -------
    dict
        ``first_core_to_shell_ps`` (float or None), ``vacancy_residence_ps``
        (dict: vacancy label -> ps spent there, each frame counting until
        the next one; classes inner to outer, then mixed labels and
        ``"none"``),
        ``n_events`` (confirmed changes of site), ``n_hops`` (of kind
        ``"hop"``, not involving the core), ``counts`` (events per kind),
        ``duration_ps``, ``start`` and ``end`` (vacancy labels of the first
        and last frame), and ``statement``, one plain-English sentence.
    """
    times = np.asarray(times, dtype=float)
    labels = np.asarray(track["label"])
    if len(labels) != len(times) or len(times) == 0:
        raise OccupancyDataError(f"the track has {len(labels)} frames and times has "
                                 f"{len(times)}; they must be the same, and not zero.")
    spans = np.diff(times)
    residence = {}
    for name in _ordered(set(labels.tolist()), sites):
        residence[name] = float(spans[labels[:-1] == name].sum())
    kinds = ("core-to-shell", "shell-to-core", "hop")
    counts = {k: sum(e["kind"] == k for e in events) for k in kinds}
    first = next((e for e in events if e["kind"] == "core-to-shell"), None)
    summary = {"first_core_to_shell_ps": None if first is None else first["time_ps"],
               "vacancy_residence_ps": residence, "n_events": len(events),
               "n_hops": counts["hop"], "counts": counts,
               "duration_ps": float(times[-1] - times[0]),
               "start": str(labels[0]), "end": str(labels[-1])}
    summary["statement"] = _statement(summary, events, first, times,
                                      (sites.core_classes or ("core",))[0])
    return summary


def _ordered(names: set, sites: SiteMap) -> list[str]:
    single = [c for c in sites.class_names if c in names]
    rest = sorted(names - set(single) - {NO_VACANCY})
    return single + rest + ([NO_VACANCY] if NO_VACANCY in names else [])


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _statement(summary, events, first, times, core: str) -> str:
    duration, start, end = summary["duration_ps"], summary["start"], summary["end"]
    if first is not None:
        later = [e for e in events if e["time_ps"] > first["time_ps"]]
        back = next((e for e in later if e["kind"] == "shell-to-core"), None)
        source = first["from_class"]
        text = (f"The vacancy left the {core} for {_a(source)} site at {first['time_ps']:.2f} ps "
                f"(atom {first['atom']} moved {source}\u2192{first['to_class']}) and ")
        if back is None:
            text += (f"stayed out of the {core} for the remaining "
                     f"{times[-1] - first['time_ps']:.2f} ps")
        else:
            text += f"returned to the {core} at {back['time_ps']:.2f} ps"
        others = len(later) - (back is not None)
        if others:
            text += f"; {others} other confirmed site change{'s' if others > 1 else ''} followed"
        return text + "."
    moves = len(events)
    moved = (f"{moves} confirmed site change{'s' if moves > 1 else ''}" if moves
             else "no atom changing site")
    if start == NO_VACANCY and end == NO_VACANCY:
        return (f"No site was vacant at the start or the end of the {duration:.2f} ps run, "
                f"with {moved}.")
    if start == end and not moves:
        return f"The vacancy stayed at {_a(start)} site for all {duration:.2f} ps, with {moved}."
    return (f"The vacancy started at {_a(start)} site and ended at {_a(end)} site "
            f"after {duration:.2f} ps, with {moved}.")
