"""Progress in logs, and the start-up warnings filtered once."""

import warnings

import pytest

from mdkit.progress import ItemProgress, LogLines, quiet_startup_warnings


class Clock:
    """Wall-clock seconds that a test moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_line_at_each_5_percent_with_rate_and_time_left(capsys):
    clock = Clock()
    log = LogLines("mdkit run", 12.0, "ps", clock=clock)
    log.update(0.0)  # the start: no line
    for step in range(1, 121):  # 0.1 ps per 2 s: 180 ps/h
        clock.now = 2.0 * step
        log.update(0.1 * step, f"T {290 + step % 3} K")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 20  # 0.6, 1.2, ... 12 ps
    assert lines[4].startswith("mdkit run: 3/12 ps (25 %), 180 ps/h, 0:03:00 left, T ")
    assert lines[-1].startswith("mdkit run: 12/12 ps (100 %), 180 ps/h, T ")  # nothing left


def test_a_slow_run_still_says_something_every_minute(capsys):
    clock = Clock()
    log = LogLines("mdkit run", 12.0, "ps", clock=clock)
    log.update(3.0)  # a resumed run: its rate counts from here
    printed = []
    for step in range(1, 31):  # 0.01 ps per 10 s: far below 5 % a minute
        clock.now = 10.0 * step
        printed.append(log.update(3.0 + 0.01 * step))
    assert [i + 1 for i, p in enumerate(printed) if p] == [6, 12, 18, 24, 30]
    first = capsys.readouterr().err.splitlines()[0]
    # 0.06 ps in 60 s: 3.6 ps/h; 8.94 ps left at that rate: 2.4833 h
    assert first == "mdkit run: 3.06/12 ps (26 %), 3.6 ps/h, 2:29:00 left"


def test_items_in_logs_nothing_when_silenced_and_a_bar_on_request(capsys):
    with ItemProgress("mdkit ccs: run1", "snapshots", 2) as bar:  # stderr is captured: no tty
        bar.advance()
        bar.advance("last")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["mdkit ccs: run1: 1/2 snapshots",
                                                       "mdkit ccs: run1: 2/2 snapshots"]
    assert lines[1].endswith(", last")

    with ItemProgress("mdkit sweep", "runs", 3, enabled=False) as bar:
        for _ in range(3):
            bar.advance("seed-1 finished")
    assert capsys.readouterr().err == ""

    with ItemProgress("mdkit sweep", "runs", 3, enabled=True) as bar:
        for _ in range(3):
            bar.advance()
    shown = capsys.readouterr().err
    assert "sweep runs" in shown and "3/3" in shown and "1/3 runs" not in shown


def test_startup_warnings_are_filtered_and_real_ones_are_not():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_startup_warnings()
        warnings.warn("`torch.jit.script` is deprecated. Please switch to `torch.compile` or "
                      "`torch.export`.", FutureWarning)
        warnings.warn("`torch.jit.script` is deprecated.", UserWarning)  # another category
        warnings.warn("numpy.something is deprecated", FutureWarning)
    assert [str(w.message) for w in seen] == ["`torch.jit.script` is deprecated.",
                                              "numpy.something is deprecated"]


def test_sevenn_own_warning_is_the_one_filtered():
    util = pytest.importorskip("sevenn.util")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_startup_warnings()
        util.warn_no_tp_accelerator("SevenNetCalculator")
    assert seen == []
