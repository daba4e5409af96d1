"""mdkit: molecular dynamics of vacancy migration in small cluster ions."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mdkit")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
