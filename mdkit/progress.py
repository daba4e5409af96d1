"""Progress over a known number of items (runs of a sweep, snapshots of a run).

A rich bar when stderr is a terminal, one line per item in logs and pipes,
nothing when silenced: the same rule as the MD runner's progress.
"""

from __future__ import annotations

import sys


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
        None: a bar on a terminal, lines elsewhere; True: a bar; False: silent.
    """

    def __init__(self, prefix: str, noun: str, total: int, enabled: bool | None = None):
        self.prefix, self.noun, self.total, self.done = prefix, noun, total, 0
        self.bar = sys.stderr.isatty() if enabled is None else enabled
        self.lines = enabled is None and not self.bar
        self._progress = None

    def __enter__(self):
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
        """Count one more finished item; ``note`` goes on its log line."""
        self.done += 1
        if self._progress is not None:
            self._progress.advance(self._task)
        elif self.lines:
            print(f"{self.prefix}: {self.done}/{self.total} {self.noun}" + (f" {note}" if note
                                                                            else ""),
                  file=sys.stderr, flush=True)
