"""The one writer: whole files or none, no temporary left, strict JSON, foreign targets refused."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from mdkit import writer


def test_exception_keeps_old_content_and_removes_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(ZeroDivisionError):
        with writer.atomic_path(target) as tmp:
            tmp.write_text("half")
            1 / 0
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_temporary_keeps_suffix_and_is_recognised(tmp_path):
    tmp = writer.temporary_path(tmp_path / "rg.pdf")
    assert tmp.suffix == ".pdf" and tmp.parent == tmp_path
    assert writer.is_temporary(tmp)
    assert not writer.is_temporary(tmp_path / "rg.pdf")
    assert not writer.is_temporary(tmp_path / ".rg.pdf")


def test_clear_temporaries_removes_only_temporaries(tmp_path):
    (tmp_path / "rg.pdf").write_text("figure")
    (tmp_path / ".hidden").write_text("user's")
    writer.temporary_path(tmp_path / "rg.pdf").write_text("half")
    removed = writer.clear_temporaries(tmp_path)
    assert [p.name for p in removed] == [writer.temporary_path(tmp_path / "rg.pdf").name]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "rg.pdf"]


def test_killed_writer_leaves_only_a_recognisable_temporary(tmp_path):
    """kill -9 mid-write: the target keeps its old content; what is left is a temporary."""
    target = tmp_path / "big.txt"
    target.write_text("old\n")
    script = (f"from mdkit import writer\nimport time\n"
              f"with writer.atomic_path({str(target)!r}) as tmp:\n"
              f"    tmp.write_text('new'); print('ready', flush=True); time.sleep(60)\n")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert target.read_text() == "old\n"
    left = [p for p in tmp_path.iterdir() if p != target]
    assert left and all(writer.is_temporary(p) for p in left)
    writer.clear_temporaries(tmp_path)
    assert list(tmp_path.iterdir()) == [target]


def test_json_is_strict(tmp_path):
    path = writer.write_json(tmp_path / "r.json", {"rate": float("inf"), "x": np.float64(1.5),
                                                   "nan": np.nan, "a": np.array([1, -np.inf]),
                                                   "n": np.int64(3)})
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    # a strict parser: Python's json refuses the constants on request
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert data == {"rate": None, "x": 1.5, "nan": None, "a": [1, None], "n": 3}


def test_npz_and_figure_round_trip(tmp_path):
    from matplotlib.figure import Figure

    path = writer.write_npz(tmp_path / "a.npz", {"x": np.arange(4.0)})
    with np.load(path) as data:
        np.testing.assert_array_equal(data["x"], np.arange(4.0))
    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    png = writer.save_figure(fig, tmp_path / "f.png", dpi=50)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = writer.save_figure(fig, tmp_path / "f.pdf", claim_target=True)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    svg = writer.save_figure(fig, tmp_path / "f.svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    # each carries the mark by which mdkit knows its own files; nothing else is left
    assert all(writer.marked(p) for p in (png, pdf, svg))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "f.pdf", "f.png", "f.svg"]


def test_claim_refuses_a_users_file_and_force_moves_it_aside(tmp_path):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's picture")
    with pytest.raises(writer.OutputError, match="mine.png"):
        writer.claim(mine)
    assert mine.read_bytes() == b"the user's picture"
    writer.claim(mine, force=True)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("mine.")]
    assert len(kept) == 1 and kept[0].suffix == ".png"
    assert kept[0].read_bytes() == b"the user's picture"
    assert not mine.exists()


def test_claim_accepts_what_mdkit_wrote_and_refuses_the_users_version(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    out = tmp_path / "out.png"
    writer.save_figure(fig, out, claim_target=True, dpi=20)
    writer.save_figure(fig, out, claim_target=True, dpi=30)  # mdkit's own: written again
    assert writer.marked(out)
    out.write_bytes(b"\x89PNG\r\n\x1a\n the user's own picture")
    with pytest.raises(writer.OutputError, match="not written by mdkit"):
        writer.save_figure(fig, out, claim_target=True)
    assert out.read_bytes().endswith(b"the user's own picture")


def test_claim_folder_needs_its_marker(tmp_path):
    folder = tmp_path / "mine_bar"
    folder.mkdir()
    writer.claim(folder, marker=".mdkit-x")  # empty: fine
    (folder / "rates.json").write_text("{}")
    with pytest.raises(writer.OutputError, match="mine_bar"):
        writer.claim(folder, marker=".mdkit-x")
    (folder / ".mdkit-x").write_text("")
    writer.claim(folder, marker=".mdkit-x")


def test_disk_limit_gives_a_sentence_and_no_file(tmp_path):
    """A file-size limit (stands in for a full disk): OutputError, old file kept, no temporary."""
    target = tmp_path / "big.txt"
    target.write_text("old\n")
    script = (f"import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
              f"from mdkit import writer\n"
              f"try:\n    writer.write_text({str(target)!r}, 'x' * 100000)\n"
              f"except writer.OutputError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cannot write" in done.stdout and "big.txt" in done.stdout
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.skipif(os.geteuid() != 0 or not __import__("shutil").which("chattr"),
                    reason="chattr +i needs root")
def test_read_only_folder_gives_a_sentence(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("this file system has no immutable flag")
    try:
        with pytest.raises(writer.OutputError, match="cannot write"):
            writer.write_text(folder / "a.txt", "x")
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert list(folder.iterdir()) == []
