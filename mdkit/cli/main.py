"""The ``mdkit`` command: a table of ``(name, module)`` pairs, as ASE's ``ase/cli``.

Each module holds a ``CLICommand`` class whose docstring is the help (first
line short, the rest the description), whose ``parents`` are shared parent
parsers of :mod:`mdkit.cli.common`, and whose static ``add_arguments(parser)``
and ``run(args)`` define and carry out the command.  Adding a command is one
module and one row of :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import warnings
from importlib import import_module

from mdkit.errors import (EXIT_BAD_INPUT, EXIT_FAILED, ComputationFailed, MdkitError,
                          NotConverged)
from mdkit.progress import quiet_startup_warnings

COMMANDS = [
    ("build", "mdkit.cli.build"),
    ("sites", "mdkit.cli.sites"),
    ("geometry", "mdkit.cli.geometry"),
    ("mz", "mdkit.cli.mz"),
    ("run", "mdkit.cli.run"),
    ("analyze", "mdkit.cli.analyze"),
    ("sweep", "mdkit.cli.sweep"),
    ("ccs", "mdkit.cli.ccs"),
    ("energies", "mdkit.cli.energies"),
    ("barrier", "mdkit.cli.barrier"),
    ("plot", "mdkit.cli.plot"),
    ("validate", "mdkit.cli.validate"),
    ("train", "mdkit.cli.train"),
    ("snapshots", "mdkit.cli.snapshots"),
    ("draw", "mdkit.cli.draw"),
    ("figure", "mdkit.cli.figure"),
    ("report", "mdkit.cli.report"),
    ("movie", "mdkit.cli.movie"),
]

EXIT_CODES = """exit status:
  0  done
  1  a computation failed: the dynamics blew up, an SCF, relaxation or NEB band
     did not converge, or a sweep member failed; one sentence says which, and
     what was written so far is kept
  2  bad input: one sentence names the file, key, option or atom and what is
     valid; nothing was computed or changed"""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in mdkit's form: one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    """The whole command line, built from :data:`COMMANDS`."""
    from mdkit import __version__

    top = _Parser(prog="mdkit", epilog=EXIT_CODES,
                  formatter_class=argparse.RawDescriptionHelpFormatter,
                  description="Molecular dynamics of vacancy migration in cluster ions.")
    top.add_argument("--version", action="version", version=f"mdkit {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS:
        command = import_module(module).CLICommand
        short, _, body = command.__doc__.partition("\n")
        p = sub.add_parser(name, help=short.strip(),
                           description=textwrap.fill(" ".join(body.split()) or short, 79),
                           parents=list(getattr(command, "parents", ())))
        command.add_arguments(p)
        p.set_defaults(func=command.run)
    return top


def _mpi_environment() -> None:
    """Let GPAW use its compiled MPI when started as ``mpiexec -n N mdkit ...``."""
    launched = any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"))
    if launched:
        os.environ.setdefault("GPAW_MPI_BACKEND", "cgpaw")
        try:  # before anything asks ase.parallel.world, so that ASE uses GPAW's MPI
            import gpaw.mpi  # noqa: F401
        except ImportError:
            pass


def _computation_failures() -> tuple:
    """Exception types of a computation that ran and failed: ours, ASE's and GPAW's
    (GPAW's only when it is loaded, so that asking does not import it)."""
    from ase.calculators.calculator import CalculationFailed

    gpaw = sys.modules.get("gpaw")
    return (ComputationFailed, CalculationFailed,
            *((gpaw.ConvergenceError,) if hasattr(gpaw, "ConvergenceError") else ()))


def main(argv=None) -> int:
    _mpi_environment()
    quiet_startup_warnings()
    args = parser().parse_args(argv)
    # warnings are held back until the command ends: refused input then gets its one
    # sentence alone, not after a library's remarks on the same input
    with warnings.catch_warnings(record=True) as held:
        try:
            code = args.func(args)  # a command may report partial failure (a sweep) as 1
        except MdkitError as err:
            print(f"mdkit {args.command}: error: {err}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except Exception as err:
            if not isinstance(err, _computation_failures()):
                raise
            _show(held)
            detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            said = str(err) if isinstance(err, ComputationFailed) \
                else f"the engine's computation did not converge ({detail})"
            print(f"mdkit {args.command}: failed: {said}", file=sys.stderr)
            return EXIT_FAILED
    _show(held)
    stopped = [w for w in held if issubclass(w.category, NotConverged)]
    if stopped:
        print(f"mdkit {args.command}: failed: a relaxation or band stopped at its step limit "
              "before converging (said above); its result is kept.", file=sys.stderr)
        return EXIT_FAILED
    return code or 0


def _show(held) -> None:
    for message in held:
        warnings.showwarning(message.message, message.category, message.filename,
                             message.lineno)


if __name__ == "__main__":
    sys.exit(main())
