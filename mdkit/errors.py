"""Exception types for user-facing errors.

Every error a user can cause (bad input file, unknown system, invalid site or
run-spec key) derives from :class:`MdkitError`.  The command line prints its
message as one sentence and exits with status 2; anything else is a bug and
keeps its traceback.
"""


class MdkitError(Exception):
    """Base class of errors caused by user input."""


class StructureError(MdkitError):
    """A structure file or builder request that cannot be honoured."""


class SiteMapError(MdkitError):
    """A site, site class or site map that does not fit the structure."""


class SpeciesError(MdkitError):
    """A chemical formula or charge that cannot be interpreted."""
