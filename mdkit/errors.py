"""Exception types by kind, and the exit status of each kind.

Two causes, two exits, as ASE separates ``InputError`` from
``CalculationFailed``:

* :class:`MdkitError`: the user asked for something impossible (a bad input
  file, an unknown system, an invalid site, option or run-spec key).  Nothing
  was computed; the command line prints the message as one sentence and
  exits with status 2 (:data:`EXIT_BAD_INPUT`).
* :class:`ComputationFailed`: the input was fine but the computation did
  not work (the dynamics blew up, an SCF, relaxation or NEB band did not
  converge).  What was written so far stays; the command line prints the
  message as one sentence and exits with status 1 (:data:`EXIT_FAILED`).
  A relaxation or band that stops at its step limit warns with
  :class:`NotConverged` and keeps its result; the command line exits with
  status 1 after it too.

Anything else is a bug and keeps its traceback.
"""

#: Exit status of a computation that ran and failed.
EXIT_FAILED = 1
#: Exit status of bad input.
EXIT_BAD_INPUT = 2


class MdkitError(Exception):
    """Base class of errors caused by user input (exit status 2)."""


class ComputationFailed(Exception):
    """Base class of computations that ran and failed (exit status 1)."""


class NotConverged(UserWarning):
    """A computation stopped at its step limit before converging (a relaxation, a band).

    A warning, not an exception: the result is kept (and stored) as far as it
    got, and the command line exits with status 1 after saying so.
    """


class StructureError(MdkitError):
    """A structure file or builder request that cannot be honoured."""


class SiteMapError(MdkitError):
    """A site, site class or site map that does not fit the structure."""


class SpeciesError(MdkitError):
    """A chemical formula or charge that cannot be interpreted."""
