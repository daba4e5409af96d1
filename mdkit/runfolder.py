"""The one owner of a run folder's layout and life: :class:`RunFolder`.

Rules the code below keeps (and ``tests/test_faults.py`` checks):

* mdkit deletes only files it wrote and can name: segments of its own
  trajectory once the joined ``trajectory.nc`` has been verified, segments
  written after the last checkpoint (they are written again, bit for bit,
  on resume), and its own temporary files.  A folder is never removed.
* A folder mdkit did not make (no :data:`MARKER` and no ``meta.json``) is
  never written into unless it is empty; ``--force`` moves a run folder
  aside under a time-stamped name, it never deletes one.
* Every file is written under a temporary name and renamed into place, so
  a kill leaves either the previous version or the new one.
* A missing or damaged checkpoint, segment or trajectory never discards
  frames on disk: the folder is left as it is and the error says what is
  there and how to continue (``--force`` moves it aside).
* "Is this the same spec?" compares the resolved spec by content, never
  the path it was given by.

The thermo table (``thermo.csv``: its columns, appending, truncating and
reading) belongs here too, with the rest of the layout; files are written
through :mod:`mdkit.writer`.  Only MPI rank 0 touches the disk.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import resource
import shutil
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from ase.parallel import world

from mdkit import writer
from mdkit.errors import MdkitError
# the writer's functions are used here, and callers of the run folder reach them here too
from mdkit.writer import atomic_path, write_json, write_text  # noqa: F401

#: Written first into every folder mdkit creates; says the folder is mdkit's.
MARKER = ".mdkit-run"
SEGMENTS = "segments"
ANALYSIS = "analysis"
THERMO = "thermo.csv"
TRAJECTORY = "trajectory.nc"
TOPOLOGY = "topology.xyz"
SITES = "sites.json"
REPORT = "report.html"
SUMMARY = "summary.json"
SWEEP_INDEX = "sweep.json"
#: The check engine's verdict along the run (``check_with`` in the spec), one row per check.
TEACHER_CHECK = "teacher_check.csv"
#: Columns of thermo.csv, one row per frame.
THERMO_COLUMNS = ("frame", "step", "time_ps", "stage", "stage_name", "temperature_K",
                  "potential_eV", "kinetic_eV", "total_eV")
#: Files of the layout, named in error messages and in the README.
LAYOUT = ("spec.toml", "spec.json", "topology.xyz", "sites.json", "trajectory.nc",
          "thermo.csv", "checkpoint.npz", "meta.json")


#: Folders whose analysis/ this process has cleared of temporaries (once is enough).
_CLEARED: set = set()


class RunFolderError(MdkitError):
    """A run folder that is missing, incomplete, damaged or not mdkit's."""


class RunStateError(MdkitError):
    """A run folder that cannot be continued as asked."""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise RunFolderError(f"{path} cannot be read ({err}).") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} does not hold a JSON object.")
    return data


def _segment_frames(path: Path) -> tuple[int, np.ndarray]:
    """Frame count and times (ps) of a NetCDF file; RunFolderError if unreadable."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as data:
            times = np.asarray(data["time"][:], dtype=float)
            n = len(data.dimensions["frame"])
            data["coordinates"][n - 1] if n else None  # the last frame must be readable
    except (OSError, KeyError, IndexError, RuntimeError, ValueError) as err:
        raise RunFolderError(f"{path} is damaged ({err}).") from None
    if len(times) != n:
        raise RunFolderError(f"{path} is damaged: {n} frames but {len(times)} times.")
    return n, times


class RunFolder:
    """A run folder: where its files are, what state it is in, how it changes.

    Parameters
    ----------
    path : path
        The folder (it need not exist yet).
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name):
        return self.path / name

    # -- layout -------------------------------------------------------------------------
    @property
    def trajectory(self) -> Path:
        return self.path / TRAJECTORY

    @property
    def thermo(self) -> Path:
        return self.path / THERMO

    @property
    def topology(self) -> Path:
        return self.path / TOPOLOGY

    @property
    def sites_path(self) -> Path:
        return self.path / SITES

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoint.npz"

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    def segments(self) -> list[Path]:
        """The trajectory segments written so far, in frame order."""
        return sorted((self.path / SEGMENTS).glob("[0-9]*.nc"))

    @property
    def analysis(self) -> Path:
        """The folder of the analysis outputs."""
        return self.path / ANALYSIS

    def output(self, name: str) -> Path:
        """Where the named analysis output lives (``analysis/NAME``)."""
        return self.path / ANALYSIS / name

    @property
    def report(self) -> Path:
        """The run's HTML page."""
        return self.output(REPORT)

    @property
    def summary(self) -> Path:
        """The analysis summary (written by ``mdkit analyze``)."""
        return self.output(SUMMARY)

    @contextmanager
    def writing(self, name: str):
        """Yield a temporary path for output ``name``; it replaces the old one on success.

        The first write of a process into the folder's ``analysis/`` clears
        the temporary files a killed writer left there.
        """
        target = self.output(name)
        if world.rank == 0:
            writer.make_folder(target.parent)
            key = target.parent.resolve()
            if key not in _CLEARED:
                _CLEARED.add(key)
                writer.clear_temporaries(target.parent)
                _clear_legacy_temporaries(target.parent)
        with atomic_path(target) as tmp:
            yield tmp

    # -- the thermo table ---------------------------------------------------------------
    def append_thermo(self, rows: list[dict]) -> None:
        """Append rows (dicts with :data:`THERMO_COLUMNS`) to thermo.csv (rank 0 only).

        Appending, not rewriting, is what keeps a checkpoint cheap; a row cut
        short by a kill is dropped by :meth:`discard_after` on resume.
        """
        if world.rank != 0:
            return
        new = not self.thermo.exists()
        try:
            with self.thermo.open("a", newline="") as handle:
                table = csv.DictWriter(handle, THERMO_COLUMNS)
                if new:
                    table.writeheader()
                table.writerows(rows)
        except OSError as err:
            raise RunFolderError(f"cannot append to {self.thermo} ({err.strerror or err}); "
                                 "the frames up to the last checkpoint are kept, and `mdkit "
                                 "run` continues from there once the disk takes writes.") \
                from None

    def read_thermo(self) -> dict[str, np.ndarray]:
        """The thermo table as columns (numbers as arrays, ``stage_name`` as str array)."""
        path = self.thermo
        if not path.exists():
            raise RunFolderError(f"{self.path} has no {THERMO}: the run has not written a "
                                 "frame.")
        try:
            with path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            return {c: np.array([r[c] for r in rows], dtype=str if c == "stage_name" else
                                int if c in ("frame", "step", "stage") else float)
                    for c in THERMO_COLUMNS}
        except (OSError, KeyError, TypeError, ValueError, csv.Error) as err:
            raise RunFolderError(f"{path} is damaged ({type(err).__name__}: {err}); its "
                                 f"columns must be {', '.join(THERMO_COLUMNS)}.") from None

    # -- the teacher's check -------------------------------------------------------------
    def write_teacher_check(self, rows: list[dict]) -> None:
        """Write the check table whole (rank 0): the rows up to the current checkpoint."""
        if world.rank != 0 or not rows:
            return
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with atomic_path(self.path / TEACHER_CHECK) as tmp, tmp.open("w", newline="") as handle:
            table = csv.DictWriter(handle, columns)
            table.writeheader()
            table.writerows(rows)

    def read_teacher_check(self) -> list[dict] | None:
        """The check rows (numbers as float), or None for a run without a check."""
        path = self.path / TEACHER_CHECK
        if not path.exists():
            return None
        with path.open(newline="") as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def _truncate_thermo(self, n_rows: int) -> None:
        """Keep the first ``n_rows`` rows of thermo.csv (rewritten whole)."""
        if not self.thermo.exists():
            return
        with self.thermo.open(newline="") as handle:
            # rows are appended in frame order, so the committed ones come first; a row
            # cut short by a kill may still parse, so select by position, not content
            rows = list(csv.DictReader(handle))[:n_rows]
        if len(rows) < n_rows:
            raise RunStateError(self._cannot_continue(
                f"{THERMO} holds {len(rows)} of the {n_rows} rows the checkpoint counts"))
        with atomic_path(self.thermo) as tmp, tmp.open("w", newline="") as handle:
            table = csv.DictWriter(handle, THERMO_COLUMNS)
            table.writeheader()
            table.writerows(rows)

    # -- state --------------------------------------------------------------------------
    def is_mdkits(self) -> bool:
        """True when mdkit made this folder (its marker, or a meta.json mdkit wrote)."""
        if (self.path / MARKER).is_file():
            return True
        try:
            return "mdkit" in read_json(self.meta_path)
        except RunFolderError:
            return False

    @property
    def meta(self) -> dict | None:
        """meta.json, or None when it is missing or unreadable."""
        try:
            return read_json(self.meta_path)
        except RunFolderError:
            return None

    @property
    def status(self) -> str:
        """``finished``, ``failed``, ``running`` (started, resumable) or ``pending``."""
        meta = self.meta
        if meta is not None:
            return str(meta.get("status", "running"))
        return "running" if self.checkpoint_path.exists() else "pending"

    @property
    def finished(self) -> bool:
        return self.status == "finished" and self.trajectory.exists()

    def require_run(self) -> None:
        """Raise RunFolderError unless this is a run folder with frames to read."""
        if self.path.is_file():
            raise RunFolderError(f"{self.path} is a file, not a run folder; give the folder "
                                 "`mdkit run` created beside the spec.")
        if not self.path.is_dir():
            raise RunFolderError(f"run folder {self.path} does not exist.")
        if not self.topology.is_file():
            raise RunFolderError(f"{self.path} is not a run folder (no topology.xyz); "
                                 "give the folder `mdkit run` created beside the spec.")

    # -- life ---------------------------------------------------------------------------
    @contextmanager
    def lock(self, waiting_message: str = "mdkit run"):
        """Hold a lock beside the folder while this process works on it.

        A second process on the same folder waits; the operating system
        releases the lock when its holder dies, even by SIGKILL.  The lock
        file is opened for appending, so an existing file of that name is
        never truncated.  The holder removes it (still empty) when it made
        the file or its work went through, so a refused run leaves nothing
        behind and changes nothing that was there (a file a killed run left
        goes with the next run that works).
        """
        if world.rank != 0:
            yield
            return
        where = self.path.resolve()
        writer.make_folder(where.parent)
        lock_file = where.with_name(f".{where.name}.lock")
        waited = False
        while True:
            made = not lock_file.exists()
            try:
                handle = open(lock_file, "a")
            except OSError as err:
                raise RunFolderError(f"cannot lock {self.path}: {lock_file} cannot be made "
                                     f"({err.strerror or err}).") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waited:
                    print(f"{waiting_message}: {self.path} is in use by another process; "
                          "waiting for it", file=sys.stderr, flush=True)
                    waited = True
                fcntl.flock(handle, fcntl.LOCK_EX)
            # the previous holder may have removed the file while this process waited:
            # a lock on a removed file guards nothing, so lock the file of that name again
            try:
                same = os.stat(lock_file).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        worked = False
        try:
            yield
            worked = True
        finally:
            try:
                # empty: ours (mdkit never writes into it); a file with content is not
                if (made or worked) and os.fstat(handle.fileno()).st_size == 0:
                    lock_file.unlink()
            except OSError:
                pass  # a read-only parent keeps the empty file; the lock still works
            handle.close()

    def move_aside(self) -> Path:
        """Rename the folder to ``NAME.YYYYmmdd-HHMMSS`` (never deletes); returns the new path."""
        return writer.move_aside(self.path)

    def clear_temporaries(self) -> None:
        """Remove the temporary files a kill left in the folder (the lock must be held)."""
        for folder in (self.path, self.path / SEGMENTS, self.path / ANALYSIS):
            writer.clear_temporaries(folder)
            _clear_legacy_temporaries(folder)

    def require_writable(self) -> None:
        """Raise RunFolderError when the folder cannot be written (read-only, immutable)."""
        for folder in (self.path, self.path / SEGMENTS, self.path / ANALYSIS):
            if folder.is_dir() and not os.access(folder, os.W_OK):
                raise RunFolderError(f"{folder} is read-only, so the run cannot go on there; "
                                     "make it writable (chmod u+w, chattr -i) or run the spec "
                                     "with another [output] folder.")

    def prepare(self, spec, force: bool = False) -> tuple[str, dict | None, dict | None]:
        """Decide how a run of ``spec`` goes on in this folder, without touching a frame.

        Returns
        -------
        (action, meta, checkpoint)
            ``action`` is ``"fresh"`` (start at 0 ps), ``"resume"`` (from
            ``checkpoint``) or ``"finished"`` (nothing to do).

        Raises
        ------
        RunStateError
            The folder is not mdkit's, holds another spec, failed earlier, or
            holds frames it cannot continue exactly; the message says what is
            there and how to go on.
        RunFolderError
            The folder cannot be written (read-only).
        """
        action, meta, checkpoint = self._decide(spec, force)
        if action != "finished" and self.path.is_dir():
            self.require_writable()
            self.clear_temporaries()  # only once the run goes ahead: a refusal changes nothing
        return action, meta, checkpoint

    def _decide(self, spec, force: bool) -> tuple[str, dict | None, dict | None]:
        path = self.path
        if path.exists() and not path.is_dir():
            raise RunStateError(f"{path} is a file, not a run folder; name another folder "
                                "with [output] folder = \"...\" in the spec.")
        if not path.exists() or not any(path.iterdir()):
            return "fresh", None, None
        if not self.is_mdkits():
            raise RunStateError(
                f"{path} exists and was not made by mdkit run (it has no {MARKER} or "
                "meta.json); mdkit does not write into folders it did not make: move it "
                "away or name another folder with [output] folder = \"...\" in the spec.")
        if force:
            spec_file = Path(spec.path).resolve()
            if spec_file.is_relative_to(path.resolve()):
                raise RunStateError(f"{spec.path} lives inside its own run folder {path}, so "
                                    "--force cannot move the folder aside without taking the "
                                    "spec with it; copy the spec elsewhere, or give it "
                                    "another [output] folder, and run that.")
            kept = self.move_aside()
            print(f"mdkit run: kept the previous run as {kept}", file=sys.stderr)
            return "fresh", None, None
        meta = self.meta
        if meta is None and self.meta_path.exists():
            print(f"mdkit run: {self.meta_path} is damaged; it will be written again from "
                  "the checkpoint", file=sys.stderr)
        if meta is not None and meta.get("status") == "failed":
            raise RunStateError(f"the run in {path} failed earlier ({meta.get('reason')}); "
                                "change the spec and start again with --force (the old "
                                "folder is kept).")
        frames_on_disk = bool(self.segments()) or self.trajectory.exists()
        self._check_same_spec(spec, frames_on_disk)
        if meta is not None and meta.get("status") == "finished" and self.trajectory.exists():
            return "finished", meta, None
        checkpoint, problem = self._read_checkpoint()
        if checkpoint is None:
            committed = 0 if meta is None else int(meta.get("n_frames", 0))
            if frames_on_disk and (meta is None or committed > 0 or problem != "missing"):
                raise RunStateError(self._cannot_continue(f"its checkpoint.npz is {problem}"))
            # killed before its first checkpoint: what is there is started afresh in place
            return "fresh", None, None
        self._check_frames(int(checkpoint["n_frames"]))
        return "resume", meta, checkpoint

    def _check_same_spec(self, spec, frames_on_disk: bool) -> None:
        try:
            resolved = read_json(self.path / "spec.json")
        except RunFolderError as err:
            if frames_on_disk:
                raise RunStateError(f"{err} Without it mdkit cannot tell whether "
                                    f"{spec.path} is the spec this run was started with; "
                                    "--force moves the folder aside and starts afresh.") from None
            return
        if _comparable(resolved) != _comparable(json.loads(json.dumps(spec.to_dict()))):
            raise RunStateError(f"{spec.path} differs from the spec the run in {self.path} was "
                                "started with (its spec.json); resume it with that spec or "
                                "start afresh with --force (the old folder is kept).")

    def _read_checkpoint(self) -> tuple[dict | None, str]:
        if not self.checkpoint_path.exists():
            return None, "missing"
        try:
            return load_checkpoint(self.path), ""
        except RunFolderError as err:
            return None, f"damaged ({err})"

    def _cannot_continue(self, why: str) -> str:
        frames = sum(_count(p) for p in self.segments())
        joined = _count(self.trajectory) if self.trajectory.exists() else 0
        held = f"{max(frames, joined)} frames" if max(frames, joined) else "frames"
        return (f"{self.path} holds {held} on disk but {why}, so the run cannot continue "
                f"exactly; nothing was changed.  `mdkit analyze {self.path}` reads the frames "
                "that are there; `mdkit run --force` moves the folder aside and starts afresh.")

    def _check_frames(self, n_frames: int) -> None:
        """The frames the checkpoint counts must all be on disk, readable."""
        if self.trajectory.exists():
            try:
                n, _ = _segment_frames(self.trajectory)
            except RunFolderError:
                n = -1
            if n == n_frames:
                return
            if not self.segments():
                raise RunStateError(self._cannot_continue(
                    f"trajectory.nc is damaged or short (the checkpoint counts {n_frames} "
                    "frames)"))
        start = 0
        for part in self.segments():
            first = int(part.name.split(".")[0])
            if first >= n_frames:
                break
            try:
                n, _ = _segment_frames(part)
            except RunFolderError as err:
                raise RunStateError(self._cannot_continue(str(err)[:-1])) from None
            if first != start:
                raise RunStateError(self._cannot_continue(
                    f"the segment with frame {start} is missing"))
            start += n
        if start < n_frames:
            raise RunStateError(self._cannot_continue(
                f"its segments hold {start} of the {n_frames} frames the checkpoint counts"))

    def start(self, spec, atoms, sites, write_structure) -> None:
        """Make (or reuse, when killed before its first checkpoint) the folder for a fresh run.

        Writes the marker first, then spec.toml, sites.json, topology.xyz and
        spec.json; frames left from before the first checkpoint are dropped
        (they are written again identically).
        """
        if world.rank == 0:
            writer.make_folder(self.path)
            marker = self.path / MARKER
            if not marker.exists():
                # written in place, not through a temporary name: the marker's
                # existence is what counts, and a kill between a temporary file and
                # its rename would leave a folder that is neither empty nor marked
                marker.write_text(json.dumps({"made_by": "mdkit run", "created": now()}))
            write_text(self.path / "spec.toml", Path(spec.path).read_text())
            with atomic_path(self.sites_path) as tmp:
                sites.save(tmp)
            self.discard_after(0)
        world.barrier()
        # ase.io writes on rank 0 itself, but every rank must call it (it broadcasts)
        with atomic_path(self.topology) as tmp:
            write_structure(tmp, atoms, sites)
        world.barrier()
        write_json(self.path / "spec.json", spec.to_dict())

    def write_meta(self, meta: dict) -> None:
        write_json(self.meta_path, meta)

    def save_checkpoint(self, state: dict) -> None:
        """Write the checkpoint atomically; ``state`` values are arrays or JSON-able."""
        if world.rank != 0:
            return
        arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
        scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
        writer.write_npz(self.checkpoint_path, {"_json": np.array(json.dumps(scalars)),
                                                **arrays})

    def discard_after(self, n_frames: int) -> None:
        """Drop frames from ``n_frames`` on: written after the last checkpoint, they are
        written again on resume.  Only segments and thermo rows mdkit wrote are touched."""
        if world.rank != 0:
            return
        for path in (self.path / SEGMENTS).glob("*.nc"):
            stem = path.name.split(".")[0]
            if stem.isdigit() and int(stem) >= n_frames:
                path.unlink()
        self._truncate_thermo(n_frames)

    def join(self, n_frames: int, times_ps: np.ndarray) -> Path:
        """Join the segments into trajectory.nc, verify it, then remove the segments.

        ``n_frames`` and ``times_ps`` are the checkpoint's record; the joined
        file must hold exactly those frames at those times before any segment
        goes.  A trajectory.nc left by a kill after its rename is verified the
        same way and kept.
        """
        if world.rank != 0:
            return self.trajectory
        if not (self.trajectory.exists() and self._verified(self.trajectory, n_frames,
                                                             times_ps)):
            parts = [p for p in self.segments() if int(p.name.split(".")[0]) < n_frames]
            if not parts:
                raise RunFolderError(self._cannot_continue("it has no segments to join"))
            self._check_room(parts)
            with atomic_path(self.trajectory) as tmp:
                try:
                    _concatenate(parts, tmp)
                except (OSError, RuntimeError) as err:  # netCDF says a refused write so
                    raise RunFolderError(self._cannot_join(str(err))) from None
                if not self._verified(tmp, n_frames, times_ps):
                    raise RunFolderError(self._cannot_continue(
                        "its segments do not join into the frames the checkpoint counts"))
        for part in self.segments():
            part.unlink()
        segments = self.path / SEGMENTS
        if segments.is_dir() and not any(segments.iterdir()):
            segments.rmdir()
        return self.trajectory

    def _check_room(self, parts: list[Path]) -> None:
        """Refuse the join before it starts when the disk or the file-size limit cannot
        take the joined file: the netCDF library, cut off mid-write, can crash the
        process instead of raising."""
        needed = sum(p.stat().st_size for p in parts)
        limit, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if limit != resource.RLIM_INFINITY and needed > limit:
            raise RunFolderError(self._cannot_join(
                f"it needs about {needed} bytes but files are limited to {limit} bytes "
                "(ulimit -f)"))
        free = shutil.disk_usage(self.path).free
        if needed > free:
            raise RunFolderError(self._cannot_join(
                f"it needs about {needed} bytes and the disk has {free} free"))

    def _cannot_join(self, why: str) -> str:
        return (f"{self.path}: the segments cannot be joined into {TRAJECTORY} ({why}); every "
                f"frame is kept in {SEGMENTS}/, and `mdkit run` with the same spec joins them "
                "once the disk has room.")

    @staticmethod
    def _verified(path: Path, n_frames: int, times_ps) -> bool:
        try:
            n, times = _segment_frames(path)
        except RunFolderError:
            return False
        return n == n_frames and np.allclose(times, times_ps, rtol=1e-6, atol=1e-9)


#: Temporary names of mdkit before :mod:`mdkit.writer` (``.rg.tmp.pdf``,
#: ``000000010.nc.tmp``): a folder killed then may still hold them.
_LEGACY_TEMPORARY = re.compile(r"^(\..+\.tmp(\.[^.]+)?|\d+\.nc\.tmp)$")


def _clear_legacy_temporaries(folder: Path) -> None:
    if world.rank != 0 or not folder.is_dir():
        return
    for path in folder.iterdir():
        if _LEGACY_TEMPORARY.match(path.name) and path.is_file() and not path.is_symlink():
            path.unlink()


def _comparable(resolved: dict) -> dict:
    """The resolved spec without the paths it was given by, and without unset options
    (an option added to mdkit later, unset, must not block resuming an older run)."""
    return {k: v for k, v in resolved.items() if k not in ("path", "folder") and v is not None}


def _count(path: Path) -> int:
    try:
        return _segment_frames(path)[0]
    except RunFolderError:
        return 0


def _concatenate(parts: list[Path], out_path: Path) -> None:
    import netCDF4

    with netCDF4.Dataset(parts[0]) as first, \
            netCDF4.Dataset(out_path, "w", format=first.data_model) as out:
        out.setncatts({k: first.getncattr(k) for k in first.ncattrs()})
        for name, dim in first.dimensions.items():
            out.createDimension(name, None if dim.isunlimited() else len(dim))
        for name, var in first.variables.items():
            new = out.createVariable(name, var.dtype, var.dimensions)
            new.setncatts({k: var.getncattr(k) for k in var.ncattrs()})
            if "frame" not in var.dimensions:
                new[:] = var[:]
        start = 0
        for part in parts:
            with netCDF4.Dataset(part) as data:
                n = len(data.dimensions["frame"])
                for name, var in data.variables.items():
                    if "frame" in var.dimensions and name in out.variables:
                        out.variables[name][start:start + n] = var[:]
                start += n


def load_checkpoint(folder) -> dict | None:
    """The last checkpoint, or None if the run never reached one.

    Raises
    ------
    RunFolderError
        The file is there but truncated or not a checkpoint.
    """
    path = RunFolder(folder).checkpoint_path
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            state = json.loads(str(data["_json"]))
            state.update({k: data[k] for k in data.files if k != "_json"})
    except Exception as err:  # numpy and zipfile raise many types for a damaged file
        raise RunFolderError(f"{path} cannot be read ({type(err).__name__}: {err}).") from None
    for key in ("step", "n_frames", "rng", "positions", "momenta"):
        if key not in state:
            raise RunFolderError(f"{path} is not an mdkit checkpoint (no {key!r}).")
    return state


def is_own_output(path) -> bool:
    """Whether ``path`` is an analysis output of a run or sweep folder mdkit made
    (``FOLDER/analysis/NAME``): those are mdkit's to write again."""
    path = Path(path)
    if path.parent.name != ANALYSIS:
        return False
    folder = path.parent.parent
    return RunFolder(folder).is_mdkits() or SweepFolder(folder).index.is_file()


# -- sweeps -------------------------------------------------------------------------------
class SweepFolder:
    """A sweep folder: ``sweep.json`` (the index), ``members/NAME.toml`` and ``members/NAME/``."""

    def __init__(self, path):
        self.path = Path(path)
        self.index = self.path / SWEEP_INDEX

    @property
    def analysis(self) -> Path:
        """The folder of the sweep's own analysis outputs."""
        return self.path / ANALYSIS

    @property
    def report(self) -> Path:
        """The sweep's HTML page."""
        return self.analysis / REPORT

    def record(self) -> dict:
        if not self.index.exists():
            raise RunFolderError(f"{self.path} is not a sweep folder (no {SWEEP_INDEX}).")
        record = read_json(self.index)
        if not isinstance(record.get("members"), list) or "vary" not in record:
            raise RunFolderError(f"{self.index} is not an mdkit sweep index (no members).")
        return record

    def members(self) -> list[dict]:
        """The members: name, varied values, spec path and run folder."""
        return [{**m, "spec": self.path / "members" / f"{m['name']}.toml",
                 "folder": self.path / "members" / m["name"]} for m in self.record()["members"]]

    def write(self, record: dict, member_texts: dict[str, str]) -> None:
        """Write the member specs and the index, each whole; refuse to overwrite another sweep
        or to write into a folder that is not a sweep folder."""
        if self.index.exists():
            if read_json(self.index) != json.loads(json.dumps(record)):
                raise RunFolderError(f"{self.path} holds a different sweep; give another "
                                     "--out or move it away.")
        elif self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise RunFolderError(f"{self.path} exists and is not a sweep folder (no "
                                 f"{SWEEP_INDEX}); mdkit does not write into it: give another "
                                 "--out or move it away.")
        (self.path / "members").mkdir(parents=True, exist_ok=True)
        for name, text in member_texts.items():
            path = self.path / "members" / f"{name}.toml"
            if not path.exists() or path.read_text() != text:
                write_text(path, text)
        write_json(self.index, record)


def sweep_members(folder) -> list[dict]:
    """The members of a sweep: name, varied values, spec path and run folder."""
    return SweepFolder(folder).members()


def member_status(member: dict) -> str:
    """``finished``, ``failed``, ``running`` (started, resumable) or ``pending``."""
    return RunFolder(member["folder"]).status

