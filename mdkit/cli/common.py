"""What several commands share: parent parsers for common options and argument types.

A command lists the parents it needs in ``CLICommand.parents``; an option
defined here is spelled, typed and explained the same way everywhere.
"""

from __future__ import annotations

import argparse

from mdkit.errors import MdkitError

def engine_option(text: str) -> tuple[str, object]:
    """``"occupations={name='fermi-dirac', width=0.1}"`` -> ``("occupations", {...})``.

    The value is read by :func:`mdkit.protocol.toml_value`: whole, as TOML, so
    inline tables and lists keep their commas; a bare word stays a string.
    """
    from mdkit.protocol import toml_value

    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"--option {text!r} must be KEY=VALUE, e.g. "
                                         "basis=dzp.")
    try:
        return key, toml_value(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"--option {text!r}: the value is not a TOML value ({err}); write a word "
            "(basis=dzp), a quoted string, a number, a list [..] or a table {..}.") from None


def options(pairs) -> dict:
    """The ``--option`` pairs of a command line as a dict; a key given twice is refused."""
    chosen = {}
    for key, value in pairs or []:
        if key in chosen:
            raise MdkitError(f"--option {key} is given twice ({chosen[key]!r} and {value!r}); "
                             "give it once.")
        chosen[key] = value
    return chosen


def duration_ps(text: str) -> float:
    """A duration such as '1ps', '500fs' or '0.5' (ps) -> ps."""
    value = text.strip().lower()
    try:
        if value.endswith("fs"):
            return float(value[:-2]) / 1000
        return float(value[:-2] if value.endswith("ps") else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write e.g. 1ps, "
                                         "500fs or 0.5 (ps).") from None


def names(text: str) -> tuple[str, ...]:
    """``"xyz, imos"`` -> ``("xyz", "imos")``."""
    return tuple(f.strip() for f in text.split(",") if f.strip())


def figure_formats(text: str) -> tuple[str, ...]:
    """Figure formats such as 'png,pdf', each one matplotlib writes."""
    from matplotlib.figure import Figure

    formats = names(text)
    known = Figure().canvas.get_supported_filetypes()
    for fmt in formats:
        if fmt not in known:
            raise MdkitError(f"figure format {fmt!r} is not one matplotlib writes; choose "
                             f"from {', '.join(sorted(known))}.")
    if not formats:
        raise MdkitError("no figure format given; write e.g. png,pdf.")
    return formats


def positive_int(text: str) -> int:
    """An integer >= 1 (a size, a count)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number.") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1.")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (a rate, a frequency)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number.") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number > 0.")
    return value


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


QUIET = _parent()
QUIET.add_argument("--quiet", action="store_true", help="no progress (bar or lines)")

OPTION = _parent()
OPTION.add_argument("--option", action="append", type=engine_option, metavar="KEY=VALUE",
                    help="an engine option, its value read as TOML, e.g. basis=dzp or "
                         "\"occupations={name='fermi-dirac', width=0.1}\" (repeatable)")

ENGINE = _parent()
ENGINE.add_argument("--calculator", default="gfnff", help="registry name (default gfnff)")

DB = _parent()
DB.add_argument("--db", default="mdkit.db", help="ASE database file or postgresql:// URL")

FORMATS = _parent()
FORMATS.add_argument("--formats", default="png,pdf", help="figure formats (default png,pdf)")

FORCE = _parent()
FORCE.add_argument("--force", action="store_true",
                   help="move an existing output that mdkit did not write aside first (it is "
                        "renamed with a time stamp, never deleted)")
