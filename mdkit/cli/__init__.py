"""The ``mdkit`` command line: a table of small command modules (see :mod:`mdkit.cli.main`)."""

from mdkit.cli.main import main

__all__ = ["main"]
