"""Item progress: a line per item in logs, nothing when silenced, a bar when asked."""

from mdkit.progress import ItemProgress


def test_lines_in_logs_nothing_when_silenced_and_a_bar_on_request(capsys):
    with ItemProgress("mdkit ccs: run1", "snapshots", 2) as bar:  # stderr is captured: no tty
        bar.advance()
        bar.advance("last")
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["mdkit ccs: run1: 1/2 snapshots", "mdkit ccs: run1: 2/2 snapshots last"]

    with ItemProgress("mdkit sweep", "runs", 3, enabled=False) as bar:
        for _ in range(3):
            bar.advance("seed-1 finished")
    assert capsys.readouterr().err == ""

    with ItemProgress("mdkit sweep", "runs", 3, enabled=True) as bar:
        for _ in range(3):
            bar.advance()
    shown = capsys.readouterr().err
    assert "sweep runs" in shown and "3/3" in shown and "1/3 runs" not in shown
