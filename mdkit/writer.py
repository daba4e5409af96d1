"""The one way mdkit writes a file: whole or not at all, by MPI rank 0 only.

Every file mdkit writes goes through :func:`atomic_path` (or one of the
helpers built on it: :func:`write_text`, :func:`write_json`,
:func:`write_npz`, :func:`save_figure`):

* the content goes to a temporary name beside the target (same folder, so
  the rename is atomic; same suffix, so writers that choose the format by
  the suffix still work), which is renamed over the target on success and
  removed on any exception, kill signals that Python sees included;
* temporary names are recognisable (:func:`is_temporary`): ``.NAME.mdkit-tmp.SUFFIX``,
  so that the owner of a folder can clear those a ``kill -9`` left
  (:func:`clear_temporaries`);
* only MPI rank 0 (:data:`ase.parallel.world`) touches the disk: the other
  ranks are given a scratch path of their own, which is thrown away, so
  that code calling a collective writer (``ase.io.write``) on every rank
  still works.

An output named by the user (``-o``) is first claimed with :func:`claim`:
a file or folder of that name that mdkit did not write is refused with one
sentence, or with ``force`` moved aside under a time-stamped name (never
deleted).  mdkit recognises a single file it wrote by the mark it put in
the file itself (:data:`MARK`, in the format's own metadata: a PNG text
chunk, the PDF or SVG creator, a GIF comment, an MP4 comment; an owner may
add its own sign, as a page's generator tag or a structure's site labels),
so nothing is added beside the user's files; a folder by the marker file
its owner writes first in it (a run folder's ``.mdkit-run``, a barrier
folder's ``.mdkit-barrier``).
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import shutil
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np
from ase.parallel import broadcast, world

from mdkit.errors import MdkitError

#: Put in the metadata of every picture and movie mdkit writes; how it knows its own.
MARK = "written by mdkit"
#: Bytes searched for the mark at each end of a file (metadata sits near one end).
_MARK_WINDOW = 1 << 16
#: Tag of temporary names: ``.NAME.mdkit-tmp.SUFFIX`` (suffix kept for format detection).
TEMPORARY_TAG = ".mdkit-tmp"
#: errno values that say the disk refused the write (full, quota, size limit, read-only,
#: permission): the user can act on them, so they get a sentence, not a traceback.
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES,
                errno.EPERM}
_TEMPORARY = re.compile(r"^\..+\.mdkit-tmp(\.[^.]+)?$")


class OutputError(MdkitError):
    """An output that cannot be written where it was asked for."""


# -- temporary names ------------------------------------------------------------------------
def temporary_path(path) -> Path:
    """The temporary name of ``path``: ``.STEM.mdkit-tmp.SUFFIX`` in the same folder."""
    path = Path(path)
    return path.with_name(f".{path.stem}{TEMPORARY_TAG}{path.suffix}")


def is_temporary(path) -> bool:
    """Whether ``path`` is named as one of mdkit's temporary files."""
    return bool(_TEMPORARY.match(Path(path).name))


def clear_temporaries(folder) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (not recursive).

    Call it only on a folder whose owner holds it (a run folder under its
    lock, a barrier folder at the start of a study): a writer at work in the
    same folder would lose its temporary file.  Returns the removed paths.
    """
    folder = Path(folder)
    if world.rank != 0 or not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if is_temporary(path) and path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(path)
    return removed


# -- writing ----------------------------------------------------------------------------
@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path`` (whose folder must exist); rename it into
    place on success.

    On any exception the temporary file is removed and ``path`` keeps its
    previous content.  On MPI ranks other than 0 the yielded path is a
    scratch file in a private folder that is removed afterwards.  An
    ``OSError`` of the disk (full, read-only, over a file-size limit) becomes
    an :class:`OutputError` naming the file.
    """
    path = Path(path)
    if world.rank != 0:
        scratch = Path(tempfile.mkdtemp(prefix="mdkit-rank-"))
        try:
            yield scratch / path.name
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as err:
        try:
            tmp.unlink()
        except OSError:
            pass  # never made (or a read-only folder, where nothing was written either)
        if isinstance(err, OSError) and err.errno in _DISK_ERRORS:
            raise _disk_error(path, err) from None
        raise


def _disk_error(path: Path, err: OSError) -> OutputError:
    why = err.strerror or str(err)
    return OutputError(f"cannot write {path} ({why}); nothing of it was written and its "
                       "previous version, if any, is unchanged.")


def make_folder(path) -> Path:
    """``mkdir -p`` on rank 0, a refusing disk said in one sentence; returns ``path``."""
    path = Path(path)
    if world.rank == 0:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            if err.errno not in _DISK_ERRORS and not isinstance(err, FileExistsError):
                raise
            raise OutputError(f"cannot make folder {path} ({err.strerror or err}).") from None
    return path


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` whole or not at all; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def finite_json(data):
    """``data`` as plain JSON values: NaN and infinities become ``None`` (JSON null).

    Strict JSON has no NaN or Infinity, and strict readers (JavaScript,
    ``jq``) refuse a file holding them; null says "no finite value".  NumPy
    scalars and arrays become numbers and lists, paths strings.
    """
    if isinstance(data, dict):
        return {str(k): finite_json(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_json(v) for v in data]
    if isinstance(data, np.ndarray):
        return finite_json(data.tolist())
    if isinstance(data, (bool, np.bool_)):
        return bool(data)
    if isinstance(data, (int, np.integer)):
        return int(data)
    if isinstance(data, (float, np.floating)):
        return float(data) if math.isfinite(data) else None
    if data is None or isinstance(data, str):
        return data
    return str(data)


def write_json(path, data) -> Path:
    """Write ``data`` as strict JSON (see :func:`finite_json`) whole or not at all."""
    text = json.dumps(finite_json(data), indent=1, allow_nan=False)
    return write_text(path, text + "\n")


def write_npz(path, arrays: dict) -> Path:
    """Write NumPy arrays as ``.npz`` whole or not at all (``path`` should end in .npz)."""
    with atomic_path(path) as tmp:
        # np.savez appends .npz to a name without it; the temporary keeps the suffix
        np.savez(tmp, **arrays)
    return Path(path)


def save_figure(fig, path, *, claim_target: bool = False, force: bool = False, mine=None,
                **savefig) -> Path:
    """``fig.savefig`` into ``path`` whole or not at all; the format is ``path``'s suffix.

    With ``claim_target`` the path is an output outside a folder its owner
    holds, claimed as in :func:`output_path` (``force``, ``mine``).
    ``savefig`` keywords (``dpi``, ``bbox_inches``) go to matplotlib; the
    figure carries :data:`MARK` in its metadata (PNG, PDF, SVG).
    """
    path = Path(path)
    savefig.setdefault("format", path.suffix.lstrip(".").lower() or None)
    key = {"png": "Software", "pdf": "Creator", "svg": "Creator"}.get(savefig["format"])
    if key is not None:
        savefig.setdefault("metadata", {key: MARK})
    target = output_path(path, force=force, mine=mine) if claim_target else atomic_path(path)
    with target as tmp:
        fig.savefig(tmp, **savefig)
    return path


@contextmanager
def output_path(path, *, force: bool = False, mine=None):
    """:func:`claim` an output file, then yield a temporary path for it.

    ``mine(path) -> bool`` says a target is an owner's own (an analysis
    output of a run folder, a page with mdkit's generator tag): written
    again without a claim.  Any other target is claimed (a user's file
    refused, or with ``force`` moved aside).  The writer of the content
    puts :data:`MARK` in it.  Call it on every MPI rank.
    """
    path = Path(path)
    if mine is not None and mine(path):
        make_folder(path.parent)
    else:
        claim(path, force=force)
    with atomic_path(path) as tmp:
        yield tmp


# -- what mdkit wrote ------------------------------------------------------------------
def marked(path) -> bool:
    """Whether the file ``path`` carries :data:`MARK` near its start or its end."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_MARK_WINDOW)
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - _MARK_WINDOW))
            tail = handle.read()
    except OSError:
        return False
    mark = MARK.encode()
    return mark in head or mark in tail


def move_aside(path) -> Path:
    """Rename ``path`` to ``STEM.YYYYmmdd-HHMMSS[-N]SUFFIX`` beside it; never deletes.

    A folder keeps its whole name before the stamp.  Returns the new path
    (the same on every MPI rank; only rank 0 renames).
    """
    path = Path(path)
    stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
    stem, suffix = (path.name, "") if path.is_dir() else (path.stem, path.suffix)
    kept, number = path.with_name(f"{stem}.{stamp}{suffix}"), 1
    while kept.exists():
        number += 1
        kept = path.with_name(f"{stem}.{stamp}-{number}{suffix}")
    kept = broadcast(kept if world.rank == 0 else None)
    if world.rank == 0:
        try:
            path.rename(kept)
        except OSError as err:
            raise OutputError(f"cannot move {path} aside to {kept.name} "
                              f"({err.strerror or err}).") from None
    world.barrier()
    return kept


def claim(path, *, force: bool = False, mine=None, marker: str | None = None) -> Path:
    """Make sure mdkit may write the output ``path`` (a file, or a folder with ``marker``).

    Call it on every MPI rank (rank 0 decides).  A missing target is fine,
    as is one mdkit wrote: a file carrying :data:`MARK`, a file for which
    ``mine(path)`` is true (an owner's own sign, e.g. an HTML page's
    generator tag), a folder holding ``marker``, or an empty folder.
    Anything else is the user's: refused, or with ``force`` moved aside
    (:func:`move_aside`, said on stderr).

    Parameters
    ----------
    path : path
    force : bool
    mine : callable, optional
        ``mine(path) -> bool``: the owner's own sign that mdkit wrote the file.
    marker : str, optional
        The target is a folder; the name of its owner's marker file.

    Returns
    -------
    Path
        ``path``, its folder created when missing (for a file: its parent).

    Raises
    ------
    OutputError
        The target is the user's and ``force`` is false, or its folder
        cannot be made.
    """
    path = Path(path)
    problem = broadcast(_problem(path, mine, marker) if world.rank == 0 else None)
    if problem is not None:
        if not force:
            raise OutputError(f"{problem}; mdkit does not overwrite it: give another -o, move "
                              "it away, or add --force to have mdkit move it aside.")
        kept = move_aside(path)
        if world.rank == 0:
            print(f"mdkit: moved the existing {path} aside to {kept}", file=sys.stderr)
    folder = path if marker is not None else path.parent
    failed = None
    try:
        make_folder(folder)
    except OutputError as err:
        failed = str(err)
    failed = broadcast(failed)
    if failed:
        raise OutputError(failed)
    return path


def _problem(path: Path, mine, marker: str | None) -> str | None:
    """Why ``path`` is not mdkit's to overwrite, or None when it is (or is absent)."""
    if not path.exists() and not path.is_symlink():
        return None
    if marker is not None:
        if not path.is_dir():
            return f"{path} exists and is not a folder"
        if (path / marker).is_file() or not any(path.iterdir()):
            return None
        return f"{path} exists and is not a folder mdkit wrote (it has no {marker})"
    if path.is_dir():
        return f"{path} is a folder, not a file"
    if path.is_symlink():
        return f"{path} is a symbolic link"
    if marked(path) or (mine is not None and mine(path)):
        return None
    return f"{path} exists and was not written by mdkit"
