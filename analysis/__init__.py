"""mdkit.analysis: MDAnalysis analyses of mdkit run folders.

Core analyses (blocks of frames at a time, parallel with MDAnalysis's
``backend="multiprocessing"`` or ``"dask"``):

* :class:`RadiusOfGyration` - radius of gyration per frame;
* :class:`SiteOccupancy` - which reference site each cluster atom is on per
  frame, after removing translation and rotation;
* :func:`vacancy_track`, :func:`find_events`, :func:`summarize` - where the
  vacancy is, the confirmed site changes (core-to-shell migration, hops) and
  a plain-English account of them.
"""

from .events import OccupancyDataError, find_events, summarize, vacancy_track
from .occupancy import SiteMatchError, SiteOccupancy
from .rg import RadiusOfGyration

__all__ = ["RadiusOfGyration", "SiteOccupancy", "SiteMatchError", "OccupancyDataError",
           "find_events", "summarize", "vacancy_track"]
