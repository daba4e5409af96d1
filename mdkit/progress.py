"""Progress of long work, and what else a user sees on stderr while it runs.

On a terminal a rich bar; in a log file or a batch job's output (stderr not
a terminal) :class:`LogLines`: a line at each further 5 % of the work, and
at least one a minute, with the amount done, its rate per hour, the time
left and what the caller adds (temperature, energy); nothing when silenced.
The MD runner, sweeps, CCS along runs, NEB bands and training report
through these, so every log speaks alike.

:func:`quiet_startup_warnings` is the one place where third-party start-up
warnings that tell a user nothing are filtered.
"""

from __future__ import annotations

import sys
import time
import warnings

#: Third-party warnings given at every start that a user can do nothing about:
#: (category, start of the message).  Matched exactly, so real warnings stay.
STARTUP_WARNINGS = (
    # torch >= 2.9 on every TorchScript model (SevenNet, e3nn)
    (FutureWarning, r"`torch\.jit\.script` is deprecated"),
    # sevenn without its optional CUDA kernels (cuEquivariance, FlashTP)
    (UserWarning, r"No tensor product accelerator is enabled"),
    # torch 2.4-2.5 when e3nn or a model loader reads its own shipped files
    (FutureWarning, r"You are using `torch\.load` with `weights_only=False`"),
)


def quiet_startup_warnings() -> None:
    """Filter :data:`STARTUP_WARNINGS`, and only those, for the rest of the process."""
    for category, message in STARTUP_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LogLines:
    """Progress lines for a log: one at each further ``fraction`` of the work, or after
    ``interval_s`` without one, whichever comes first, and one at the end.

    Parameters
    ----------
    prefix : str
        What the lines start with, e.g. ``"mdkit run"``.
    total : float
        The whole work, in ``unit``.
    unit : str
        What is counted: ``"ps"`` (simulated time), ``"runs"``, ``"steps"``.
    fraction : float, optional
        Share of the work between two lines (default 0.05).
    interval_s : float, optional
        Longest silence in wall-clock seconds (default 60).
    clock : callable, optional
        Wall-clock seconds (``time.monotonic``; a test passes its own).

    Notes
    -----
    The rate counts only the work done since the first :meth:`update`, so a
    resumed run's rate and time left are those of this process.
    """

    def __init__(self, prefix: str, total: float, unit: str, fraction: float = 0.05,
                 interval_s: float = 60.0, clock=time.monotonic):
        self.prefix, self.total, self.unit = prefix, total, unit
        self.fraction, self.interval_s, self.clock = fraction, interval_s, clock
        self._start = None  # (done, time) at the first update

    def update(self, done: float, note: str = "") -> bool:
        """Report that ``done`` (in ``unit``) of the work is done; returns whether a line
        was printed.  ``note`` ends the line (e.g. ``"T 291 K, E -12.3 eV"``)."""
        now = self.clock()
        if self._start is None:
            self._start = self._last = (done, now)
            self._mark = 0
            return False
        # marks count whole fractions from the start, so rounding in ``done`` cannot
        # make a line late and shift every later one
        mark = int((done - self._start[0]) / (self.fraction * self.total) + 1e-9) \
            if self.total else 0
        due = done >= self.total or mark > self._mark or now - self._last[1] >= self.interval_s
        if not due or done <= self._last[0]:
            return False
        self._last, self._mark = (done, now), mark
        print(self.line(done, now) + (f", {note}" if note else ""), file=sys.stderr,
              flush=True)
        return True

    def line(self, done: float, now: float) -> str:
        """``"mdkit run: 3/12 ps (25 %), 9.5 ps/h, 0:56:50 left"``."""
        percent = 100 * done / self.total if self.total else 100.0
        text = f"{self.prefix}: {done:.4g}/{self.total:.4g} {self.unit} ({percent:.0f} %)"
        elapsed = now - self._start[1]
        if done > self._start[0] and elapsed > 0:
            rate = (done - self._start[0]) / elapsed
            text += f", {3600 * rate:.3g} {self.unit}/h"
            if done < self.total:
                text += f", {_clock((self.total - done) / rate)} left"
        return text


class ItemProgress:
    """Context manager; call :meth:`advance` once per finished item.

    Parameters
    ----------
    prefix : str
        What the lines start with, e.g. ``"mdkit sweep"``.
    noun : str
        What is counted, e.g. ``"runs"``.
    total : int
    enabled : bool, optional
        None: a bar on a terminal, :class:`LogLines` elsewhere; True: a bar;
        False: silent.
    """

    def __init__(self, prefix: str, noun: str, total: int, enabled: bool | None = None):
        self.prefix, self.noun, self.total, self.done = prefix, noun, total, 0
        self.bar = sys.stderr.isatty() if enabled is None else enabled
        self.lines = LogLines(prefix, total, noun) if enabled is None and not self.bar \
            else None
        self._progress = None

    def __enter__(self):
        if self.lines is not None:
            self.lines.update(0)  # the clock of the rate starts now
        if self.bar and self.total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            label = f"{self.prefix.removeprefix('mdkit ')} {self.noun}"
            self._progress = Progress(label, BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), console=Console(stderr=True))
            self._progress.__enter__()
            self._task = self._progress.add_task("", total=self.total)
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, note: str = "") -> None:
        """Count one more finished item; ``note`` goes on its log line, if one is due."""
        self.done += 1
        if self._progress is not None:
            self._progress.advance(self._task)
        elif self.lines is not None:
            self.lines.update(self.done, note)
