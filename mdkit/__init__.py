"""mdkit: molecular dynamics of vacancy migration in small cluster ions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mdkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def open_run(folder):
    """An MDAnalysis Universe of a run folder; see :func:`mdkit.store.open_run`."""
    from mdkit.store import open_run as _open_run

    return _open_run(folder)
