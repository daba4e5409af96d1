"""benchmarks/student_dynamics.py end to end on EMT: hollow Ag12, EMT against EMT.

Two sweeps of 2 seeds each (2 ps at 1000 K, where the hollow centre fills
within a picosecond or two) on a one-worker local Dask cluster, their table
read back against the members' own summaries and a log-rank test computed
here from them; a second launch runs nothing and writes the same table;
``--analyze-only`` reads the same; another student, shared seeds and a
sweep of another protocol are refused.
"""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import CensoredData, logrank

from mdkit import ensemble

ROOT = Path(__file__).resolve().parents[1]
SPEC = """
[system]
build = "ag13"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 1
stride_fs = 10
checkpoint_ps = 1.0
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 1000
duration_ps = 2.0
"""


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location(
        "student_dynamics", ROOT / "benchmarks" / "student_dynamics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_rows(text: str) -> dict:
    """``{ensemble: [cells]}`` of the markdown table."""
    rows = [line.strip("|").split(" | ") for line in text.splitlines()
            if line.startswith("| student") or line.startswith("| teacher")]
    return {cells[0].strip(): [c.strip() for c in cells] for cells in rows}


def body(text: str) -> str:
    """The table and verdict, without the command line that made them."""
    return text.split("\n`python ")[0]


def test_emt_against_emt_runs_resumes_and_reads_back(script, tmp_path, capsys):
    (tmp_path / "ag12.toml").write_text(SPEC)
    out, results = tmp_path / "cmp", tmp_path / "student_dynamics.md"
    argv = ["--spec", str(tmp_path / "ag12.toml"), "--student-engine", "emt",
            "--student-seeds", "3-4", "--teacher-seeds", "1-2", "--workers", "1",
            "--out", str(out), "--results", str(results), "--quiet"]
    assert script.main(argv) == 0
    text = results.read_text()
    assert capsys.readouterr().out.strip() == text.strip()
    rows = table_rows(text)
    times = {}
    for role, seeds in (("student", (3, 4)), ("teacher", (1, 2))):
        cells = rows[role]
        assert cells[1] == "emt" and cells[2] == ",".join(map(str, seeds))
        summaries = {seed: json.loads((out / f"{role}_sweep" / "members" / f"seed-{seed}" /
                                       "analysis" / "summary.json").read_text())
                     for seed in seeds}
        first = {seed: s["first_core_to_shell_ps"] for seed, s in summaries.items()}
        end = {seed: s["time_ps"][1] - s["time_ps"][0] for seed, s in summaries.items()}
        assert all(e == pytest.approx(2.0) for e in end.values())
        expected = ", ".join(f"{seed}: {first[seed]:.2f}" if first[seed] is not None
                             else f"{seed}: > {end[seed]:.2f} (censored)" for seed in seeds)
        assert cells[4] == expected
        n_events = sum(t is not None for t in first.values())
        assert cells[3] == f"{n_events}/2"
        times[role] = CensoredData(
            uncensored=[t for t in first.values() if t is not None],
            right=[end[s] for s, t in first.items() if t is None])
    # the same members' times through scipy's test directly
    if times["student"].num_censored() + times["teacher"].num_censored() < 4:
        p = logrank(times["student"], times["teacher"]).pvalue
        said = float(re.search(r"p = ([0-9.e+-]+):", text).group(1))
        assert said == pytest.approx(p, rel=2e-3)
        assert (f"p = {said:.3g}: compatible at the 5 % level" in text) == (p >= 0.05)
    else:
        assert "no event in either ensemble" in text

    # launched again: every member is skipped and the same table comes out
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("meta.json")}
    assert script.main(argv[:-1]) == 0
    said = capsys.readouterr()
    assert said.err.count("2 member(s) already finished or failed, skipped") == 2
    assert {p: p.stat().st_mtime_ns for p in out.rglob("meta.json")} == stamps
    assert body(results.read_text()) == body(text)
    # read only
    again = tmp_path / "again.md"
    assert script.main(["--analyze-only", "--out", str(out), "--results", str(again)]) == 0
    assert body(again.read_text()) == body(text)
    # one sweep given as both ensembles is not two independent ones
    same = ["--analyze-only", "--out", str(out), "--results", str(tmp_path / "same.md"),
            "--teacher-sweep", str(out / "student_sweep")]
    assert script.main(same) == 2 and "share seeds" in capsys.readouterr().err
    assert not (tmp_path / "same.md").exists()

    # another student in the same folder, shared seeds, a folder of the user's: refused
    # before anything is written
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    other = argv[:2] + ["--student-engine", "gfnff"] + argv[4:]
    assert script.main(other) == 2
    assert "was written for another student or protocol" in capsys.readouterr().err
    shared = [a if a != "3-4" else "2-3" for a in argv]
    assert script.main(shared) == 2
    assert "seeds 2 are in both ensembles" in capsys.readouterr().err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    assert script.main(argv[:-5] + ["--out", str(tmp_path / "mine")]) == 2
    assert "is not a folder this script made" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]

    # a teacher sweep of another protocol is not compared
    (tmp_path / "longer.toml").write_text(SPEC.replace("duration_ps = 2.0", "duration_ps = 3.0"))
    longer = ensemble.expand(tmp_path / "longer.toml", {}, [1])
    assert script.main(["--analyze-only", "--out", str(out), "--teacher-sweep", str(longer),
                        "--results", str(tmp_path / "x.md")]) == 2
    assert "differ in stages.0.duration_ps" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()


def test_the_student_is_a_model_file_the_engine_can_take(script, tmp_path):
    model = tmp_path / "student.model"
    model.write_bytes(b"")
    table = script.student_calculator("mace", model, {"default_dtype": "float32"})
    assert table == {"name": "mace", "default_dtype": "float32", "model": str(model.resolve())}
    # without a model, the engine's shipped specialist, by name
    assert script.student_calculator("mace", None, {}) == {"name": "mace",
                                                           "model": "ag-family"}
    with pytest.raises(script.ComparisonError, match="has no option 'dtype'"):
        script.student_calculator("mace", model, {"dtype": "float32"})
    with pytest.raises(script.ComparisonError, match="is not a file"):
        script.student_calculator("mace", tmp_path / "missing.model", {})
    # the student's spec is the teacher's with the engine swapped, paths made absolute
    texts = script.ensemble_specs(ROOT / "runs" / "ag28_iso1_sevennet.toml", table)
    import tomllib

    teacher, student = (tomllib.loads(texts[r]) for r in ("teacher", "student"))
    assert teacher["calculator"]["name"] == "sevennet" and student["calculator"] == table
    assert script.protocol_differences(teacher, student) == []
    assert np.isclose(student["stages"][0]["duration_ps"], 3.5)


def test_a_student_that_cannot_run_stops_before_the_teacher(script, tmp_path, capsys):
    (tmp_path / "ag12.toml").write_text(SPEC)
    argv = ["--spec", str(tmp_path / "ag12.toml"), "--student-engine", "python",
            "--option", "factory=nosuchmodule:make", "--student-seeds", "3",
            "--teacher-seeds", "1", "--workers", "1", "--out", str(tmp_path / "cmp"),
            "--results", str(tmp_path / "r.md"), "--quiet"]
    assert script.main(argv) == 1
    said = capsys.readouterr().err
    assert "every student run failed; the teacher's runs are not started" in said
    assert "student seed-3 failed: factory 'nosuchmodule:make': cannot import" in said
    assert not (tmp_path / "cmp" / "teacher_sweep" / "members" / "seed-1").exists()
    assert not (tmp_path / "r.md").exists()
