"""A catalogue of bad and hostile input, across every command, as a new user would try it.

Every case must end with exit status 2, exactly one line on stderr, no
traceback, and every file that was there before byte-identical after.
Cases run in-process through :func:`mdkit.cli.main` (fast); a few run as
real subprocesses.
"""

import os
import shutil

import numpy as np
import pytest

from mdkit.cli import main

SPEC = """
[system]
build = "ag13"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 4
stride_fs = 10
checkpoint_ps = 0.02
[[stages]]
name = "heat"
thermostat = "langevin"
temperature_K = 300
duration_ps = 0.1
"""


def spec_with(old: str, new: str) -> str:
    assert old in SPEC, old
    return SPEC.replace(old, new)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A workspace: good.toml, its finished run good/, and ag13.xyz."""
    root = tmp_path_factory.mktemp("base")
    (root / "good.toml").write_text(SPEC)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["run", "--quiet", "--no-analyze", "good.toml"]) == 0
        assert main(["build", "ag13", "-o", "ag13.xyz"]) == 0
    finally:
        os.chdir(cwd)
    return root


# --- workspace changes, each made before the command runs ---------------------------------
def write(name, text):
    def change(ws):
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    return change


def write_bytes(name, data):
    def change(ws):
        (ws / name).write_bytes(data)
    return change


def truncate(name, keep):
    def change(ws):
        path = ws / name
        path.write_bytes(path.read_bytes()[:keep])
    return change


def xyz(name, symbols, positions):
    lines = [str(len(symbols)), "test"]
    lines += [f"{s} {float(x)!r} {float(y)!r} {float(z)!r}"
              for s, (x, y, z) in zip(symbols, positions)]
    return write(name, "\n".join(lines) + "\n")


def interrupted(ws):
    """good/ as a run that stopped after its first checkpoint (status running)."""
    import json
    meta = json.loads((ws / "good" / "meta.json").read_text())
    (ws / "good" / "meta.json").write_text(json.dumps({**meta, "status": "running"}))


def both(*changes):
    def change(ws):
        for c in changes:
            c(ws)
    return change


ICO = np.array([[0, 0, 0], [2.9, 0, 0], [0, 2.9, 0], [0, 0, 2.9], [-2.9, 0, 0], [0, -2.9, 0]])
TWO = np.vstack([ICO, ICO + [30.0, 0, 0]])
NAN = ICO.copy()
NAN[2, 1] = float("nan")

CASES = {
    # run specs
    "run: no such spec": (None, ["run", "missing.toml"], "does not exist"),
    "run: not TOML": (write("s.toml", "[system\nbuild="), ["run", "s.toml"], "not valid TOML"),
    "run: binary spec": (write_bytes("s.toml", b"\xff\xfe\x00\x01"), ["run", "s.toml"],
                         "not valid TOML"),
    "run: unknown top key": (write("s.toml", SPEC + "\n[extra]\na = 1\n"), ["run", "s.toml"],
                             "unknown key 'extra'"),
    "run: no [system]": (write("s.toml", spec_with('[system]\nbuild = "ag13"\nvacancy = '
                                                   '"center"\n', "")),
                         ["run", "s.toml"], "has no [system]"),
    "run: build and file": (write("s.toml", spec_with('build = "ag13"', 'build = "ag13"\n'
                                                      'file = "ag13.xyz"')),
                            ["run", "s.toml"], "exactly one of build"),
    "run: unknown system": (write("s.toml", spec_with('"ag13"', '"ag30"')), ["run", "s.toml"],
                            "ag30"),
    "run: missing structure file": (write("s.toml", spec_with('build = "ag13"\nvacancy = '
                                                              '"center"', 'file = "no.xyz"')),
                                    ["run", "s.toml"], "does not exist"),
    "run: unknown calculator": (write("s.toml", spec_with('name = "emt"', 'name = "vasp"')),
                                ["run", "s.toml"], "'vasp' is not one of"),
    "run: timestep a string": (write("s.toml", spec_with("timestep_fs = 2.0",
                                                         'timestep_fs = "2"')),
                               ["run", "s.toml"], "timestep_fs must be a number"),
    "run: negative timestep": (write("s.toml", spec_with("timestep_fs = 2.0",
                                                         "timestep_fs = -2.0")),
                               ["run", "s.toml"], "timestep_fs must be > 0"),
    "run: negative seed": (write("s.toml", spec_with("seed = 4", "seed = -1")),
                           ["run", "s.toml"], "seed must be >= 0"),
    "run: stride not a multiple": (write("s.toml", spec_with("stride_fs = 10", "stride_fs = 3")),
                                   ["run", "s.toml"], "whole multiple"),
    "run: checkpoint not a multiple": (write("s.toml", spec_with("checkpoint_ps = 0.02",
                                                                 "checkpoint_ps = 0.015")),
                                       ["run", "s.toml"], "whole multiple"),
    "run: no stages": (write("s.toml", "stages = []\n" + SPEC.split("[[stages]]")[0]),
                       ["run", "s.toml"], "at least one stage"),
    "run: unknown thermostat": (write("s.toml", spec_with('"langevin"', '"andersen"')),
                                ["run", "s.toml"], "'andersen' is not one of"),
    "run: negative temperature": (write("s.toml", spec_with("temperature_K = 300",
                                                            "temperature_K = -5")),
                                  ["run", "s.toml"], "temperature_K must be >= 0"),
    "run: ramp with bussi": (write("s.toml", spec_with('"langevin"\ntemperature_K = 300',
                                                       '"bussi"\ntemperature_K = [300, 50]')),
                             ["run", "s.toml"], "cannot ramp"),
    "run: zero duration": (write("s.toml", spec_with("duration_ps = 0.1", "duration_ps = 0")),
                           ["run", "s.toml"], "duration_ps must be > 0"),
    "run: NVE with a temperature": (write("s.toml", spec_with('"langevin"', '"nve"')),
                                    ["run", "s.toml"], "takes no temperature_K"),
    "run: coupling of another thermostat": (
        write("s.toml", spec_with("duration_ps = 0.1", "duration_ps = 0.1\ntaut_fs = 50")),
        ["run", "s.toml"], "taut_fs does not apply"),
    "run: three temperatures": (write("s.toml", spec_with("temperature_K = 300",
                                                          "temperature_K = [1, 2, 3]")),
                                ["run", "s.toml"], "[start, end]"),
    "run: unknown vacancy class": (write("s.toml", spec_with('"center"', '"corner"')),
                                   ["run", "s.toml"], "unknown site class 'corner'"),
    "run: charge a string": (write("s.toml", spec_with('vacancy = "center"',
                                                       'vacancy = "center"\ncharge = "x"')),
                             ["run", "s.toml"], "charge must be an integer"),
    "run: output folder is the spec's own folder": (
        write("d/s.toml", SPEC + '\n[output]\nfolder = "."\n'), ["run", "d/s.toml"],
        "was not made by mdkit"),
    "run: output folder holds someone's data": (
        both(write("d/data.toml", SPEC), write("d/data/notes.txt", "mine")),
        ["run", "d/data.toml"], "was not made by mdkit"),
    "run: output folder is a file": (both(write("d/x.toml", SPEC), write("d/x", "a file")),
                                     ["run", "d/x.toml"], "is a file"),
    "run: --force on a folder mdkit did not make": (
        both(write("d/data.toml", SPEC), write("d/data/notes.txt", "mine")),
        ["run", "--force", "d/data.toml"], "was not made by mdkit"),
    "run: spec changed under an interrupted run": (
        both(interrupted, write("good.toml", spec_with("seed = 4", "seed = 5"))),
        ["run", "good.toml"], "differs from the spec"),
    "run: damaged checkpoint": (both(interrupted, truncate("good/checkpoint.npz", 50)),
                                ["run", "good.toml"], "frames on disk"),
    "run: spec.json lost under an interrupted run": (
        both(interrupted, lambda ws: (ws / "good" / "spec.json").unlink()),
        ["run", "good.toml"], "spec.json cannot be read"),
    # structures
    "sites: two clusters in one file": (xyz("two.xyz", ["Ag"] * 12, TWO), ["sites", "two.xyz"],
                                        "clusters"),
    "sites: NaN coordinate": (xyz("nan.xyz", ["Ag"] * 6, NAN), ["sites", "nan.xyz"],
                              "not finite"),
    "sites: empty file": (write("empty.xyz", ""), ["sites", "empty.xyz"], "empty.xyz"),
    "sites: garbage file": (write("junk.xyz", "hello\nworld\n"), ["sites", "junk.xyz"],
                            "could not be read"),
    "sites: no such file": (None, ["sites", "nowhere.xyz"], "does not exist"),
    "sites: atoms on top of each other": (xyz("close.xyz", ["Ag"] * 2, [[0, 0, 0], [0.1, 0, 0]]),
                                          ["sites", "close.xyz"], "apart"),
    "build: two clusters in one file": (xyz("two.xyz", ["Ag"] * 12, TWO), ["build", "two.xyz"],
                                        "clusters"),
    "build: -o into a missing folder": (None, ["build", "ag13", "-o", "no/such/ag13.xyz"],
                                        "no/such"),
    "build: -o unknown format": (None, ["build", "ag13", "-o", "ag13.foo"], "ag13.foo"),
    "build: -o over a file mdkit did not write": (write("mine.xyz", "my notes\n"),
                                                  ["build", "ag13", "-o", "mine.xyz"],
                                                  "mine.xyz"),
    "build: unknown vacancy class": (None, ["build", "ag28", "--vacancy", "corner"],
                                     "unknown site class 'corner'"),
    "build: dopant without charge rule": (None, ["build", "ag29", "--dope", "shell:Qq"], "Qq"),
    "build: dopant without site": (None, ["build", "ag13", "--dope", "shell"], "SITE:ELEMENT"),
    "build: vacancy index out of range": (None, ["build", "ag13", "--vacancy", "99"],
                                          "out of range"),
    # formulas
    "mz: empty formula": (None, ["mz", ""], "formula"),
    "mz: huge formula": (None, ["mz", "Ag99999999", "--charge", "1"], "atoms"),
    "mz: neutral": (None, ["mz", "Mo6Cl14"], "neutral"),
    "mz: unknown element": (None, ["mz", "Xx2", "--charge", "1"], "Xx2"),
    "mz: unbalanced bracket": (None, ["mz", "[Mo6Cl14"], "Mo6Cl14"),
    "mz: --top 0": (None, ["mz", "Ag13", "--charge", "1", "--top", "0"], "--top"),
    # run folders
    "analyze: no such folder": (None, ["analyze", "nowhere"], "does not exist"),
    "analyze: not a run folder": (write("plain/x.txt", "x"), ["analyze", "plain"],
                                  "not a run folder"),
    "analyze: truncated trajectory": (truncate("good/trajectory.nc", 300), ["analyze", "good"],
                                      "good"),
    "analyze: truncated thermo": (truncate("good/thermo.csv", 150), ["analyze", "good"],
                                  "thermo.csv"),
    "analyze: damaged sites.json": (write("good/sites.json", "{"), ["analyze", "good"],
                                    "sites.json"),
    "analyze: unknown figure format": (None, ["analyze", "good", "--formats", "foo"], "foo"),
    "analyze: negative residence": (None, ["analyze", "good", "--residence-ps", "-1"],
                                    "residence"),
    "analyze: damaged sweep index": (write("sw/sweep.json", "{"), ["analyze", "sw"],
                                     "sweep.json"),
    "snapshots: time beyond the run": (None, ["snapshots", "good", "--at", "99ps"], "99"),
    "snapshots: negative time": (None, ["snapshots", "good", "--at=-1ps"], "-1"),
    "snapshots: nothing chosen": (None, ["snapshots", "good"], "no frames chosen"),
    "snapshots: unknown format": (None, ["snapshots", "good", "--every", "0.05ps", "--format",
                                         "pdb"], "pdb"),
    "snapshots: zero spacing": (None, ["snapshots", "good", "--every", "0"], "--every"),
    "snapshots: not a duration": (None, ["snapshots", "good", "--every", "abc"],
                                  "not a duration"),
    "snapshots: no such folder": (None, ["snapshots", "nowhere", "--every", "1ps"],
                                  "does not exist"),
    "plot: no such folder": (None, ["plot", "rg", "nowhere"], "does not exist"),
    "plot: unknown format": (None, ["plot", "rg", "good", "--formats", "foo"], "foo"),
    # sweeps
    "sweep: reversed seed range": (None, ["sweep", "good.toml", "--seeds", "5-1"], "5-1"),
    "sweep: seeds not numbers": (None, ["sweep", "good.toml", "--seeds", "a-b"], "a-b"),
    "sweep: --vary without values": (None, ["sweep", "good.toml", "--vary", "vacancy"],
                                     "KEY=V1,V2"),
    "sweep: --vary a key the spec lacks": (None, ["sweep", "good.toml", "--vary",
                                                  "stages.7.duration_ps=1"], "does not fit"),
    "sweep: nothing to vary": (None, ["sweep", "good.toml"], "nothing to vary"),
    "sweep: invalid member": (None, ["sweep", "good.toml", "--vary", "md.timestep_fs=-1"],
                              "timestep_fs must be > 0"),
    "sweep: --out into someone's folder": (write("mine/notes.txt", "mine"),
                                           ["sweep", "good.toml", "--seeds", "1-2", "--out",
                                            "mine"], "not a sweep folder"),
    "sweep: no such spec": (None, ["sweep", "missing.toml", "--seeds", "1"], "does not exist"),
    # collision cross sections (the run's existing table must survive a bad option)
    "ccs: unknown gas": (write("good/analysis/ccs.csv", "frame,ccs_A2\n0,100\n"),
                         ["ccs", "good", "--method", "pa", "--gas", "Xe"], "unknown gas 'Xe'"),
    "ccs: no such params file": (write("good/analysis/ccs.csv", "frame,ccs_A2\n0,100\n"),
                                 ["ccs", "good", "--method", "pa", "--params", "no.toml"],
                                 "no.toml does not exist"),
    "ccs: not a duration": (None, ["ccs", "good", "--every", "soon"], "not a duration"),
    "ccs: unknown method": (None, ["ccs", "ag13.xyz", "--method", "xx"], "invalid choice"),
    "ccs: negative temperature": (None, ["ccs", "ag13.xyz", "--method", "pa", "--temperature",
                                         "-5"], "positive number of kelvin"),
    "ccs: negative mass in params": (
        write("neg.toml", "[element.Ag]\nmass_amu = -3.0\n"),
        ["ccs", "ag13.xyz", "--method", "pa", "--params", "neg.toml"], "mass_amu"),
    "ccs: string for a number in params": (
        write("str.toml", "[element.Ag]\nhs_radius_A = \"big\"\n"),
        ["ccs", "ag13.xyz", "--method", "pa", "--params", "str.toml"], "hs_radius_A"),
    # energies
    "energies: loss without --fragment": (None, ["energies", "loss", "mo6cl14"], "--fragment"),
    "energies: reaction species without coefficient": (
        None, ["energies", "reaction", "--reactant", "mo6cl14"], "COEFFICIENT:SYSTEM"),
    "energies: unknown system": (None, ["energies", "dipole", "ag30"], "ag30"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_sentence_exit_2_and_changes_nothing(files, name, base, tmp_path,
                                                             monkeypatch, capsys):
    change, argv, words = CASES[name]
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    if change is not None:
        change(ws)
    monkeypatch.chdir(ws)
    before = files(ws)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert words in err, err
    after = files(ws)
    assert {k: v for k, v in after.items() if k in before} == before
    assert not [k for k in after if k not in before and "good" in k.parts[:1]
                and k.name.endswith((".nc", ".csv", ".json"))], "wrote into a run folder"


@pytest.mark.parametrize("argv, words", [
    (["run", "d/data.toml"], "was not made by mdkit"),
    (["mz", "Ag99999999", "--charge", "1"], "atoms"),
    (["snapshots", "good", "--every", "abc"], "not a duration"),
])
def test_as_a_subprocess(mdkit, files, argv, words, base, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    write("d/data.toml", SPEC)(ws)
    write("d/data/notes.txt", "mine")(ws)
    before = files(ws)
    result = mdkit(*argv, cwd=ws)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr
    after = files(ws)
    assert {k: v for k, v in after.items() if k in before} == before


def test_sweep_whose_members_all_failed_exits_non_zero_with_the_list(mdkit, tmp_path):
    # every member heats past a 1 K limit: a run failure, reported per member
    (tmp_path / "hot.toml").write_text(spec_with("checkpoint_ps = 0.02",
                                                 "checkpoint_ps = 0.02\nmax_temperature_K = 1"))
    result = mdkit("sweep", "hot.toml", "--seeds", "1-2", "--workers", "1", "--quiet",
                   "--no-analyze", cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for seed in (1, 2):
        assert f"seed-{seed} failed" in result.stderr
    assert "2 of 2 member(s) failed" in result.stderr


# --- library-level cases of issue 20's catalogue ------------------------------------------
def keep_lines(name, n):
    def change(ws):
        path = ws / name
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:n]))
    return change


def _extxyz(name, columns, rows, info):
    """An extended XYZ with per-atom ``columns`` (ASE property spec) and comment ``info``."""
    lines = [str(len(rows)), f"Properties=species:S:1:pos:R:3:{columns} {info} pbc=\"F F F\""]
    lines += [" ".join(map(str, row)) for row in rows]
    return write(name, "\n".join(lines) + "\n")


# the centre of ICO vacant, its record missing the position mdkit writes
NO_POSITION = _extxyz("v.xyz", "site:I:1:site_class:S:1",
                      [("Ag", *p, i + 1, "surface") for i, p in enumerate(ICO[1:])],
                      'charge=0 vacant_sites="[{\\"site\\": 0, \\"class\\": \\"center\\", '
                      '\\"element\\": \\"Ag\\"}]"')
NAN_CHARGE = _extxyz("q.xyz", "initial_charges:R:1",
                     [("Ag", *p, q) for p, q in zip(ICO, [0.1, 0.1, "nan", -0.1, -0.1, 0.0])],
                     "charge=0")
LIGATED = spec_with('build = "ag13"\nvacancy = "center"', 'build = "mo6cl14"')

LIBRARY_CASES = {
    "sites: vacant-site record without a position": (NO_POSITION, ["sites", "v.xyz"],
                                                      "vacant_sites record 0 has no position"),
    "ccs: NaN in the charge column": (NAN_CHARGE, ["ccs", "q.xyz", "--method", "pa"],
                                      "atom 2 (Ag) has charge nan in the initial_charges"),
    "run: emt on a ligated cluster": (write("s.toml", LIGATED), ["run", "s.toml"],
                                      "'emt' knows only Al, Cu, Ag, Au, Ni, Pd, Pt; atom 0 is Mo"),
    # the model is beside the spec, not in the working directory
    "run: mace model that is not a model": (
        both(write("sub/s.toml", spec_with('name = "emt"', 'name = "mace"\nmodel = "m.txt"')),
             write("sub/m.txt", "notes")), ["run", "sub/s.toml"],
        "sub/m.txt is not a MACE model"),
    "run: sevennet model that is not a model": (
        both(write("sub/s.toml", spec_with('name = "emt"', 'name = "sevennet"\nmodel = "m.pth"')),
             write("sub/m.pth", "")), ["run", "sub/s.toml"], "sub/m.pth is not a SevenNet model"),
    "snapshots: stage ends of a thermo.csv cut short": (
        keep_lines("good/thermo.csv", 4), ["snapshots", "good", "--stage-ends"],
        "thermo.csv holds 3 rows for the 11 frames"),
}


@pytest.mark.parametrize("name", list(LIBRARY_CASES))
def test_library_level_cases(files, name, base, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(CASES, name, LIBRARY_CASES[name])
    test_bad_input_is_one_sentence_exit_2_and_changes_nothing(files, name, base, tmp_path,
                                                              monkeypatch, capsys)


@pytest.mark.parametrize("argv", [["analyze", "good"], ["snapshots", "good", "--every", "0.02"],
                                  ["ccs", "good", "--method", "pa"], ["plot", "rg", "good"],
                                  ["validate", "good", "--against", "gfnff"],
                                  ["report", "good"]])
def test_a_truncated_trajectory_is_one_sentence_without_a_traceback(mdkit, files, argv, base,
                                                                    tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    truncate("good/trajectory.nc", (ws / "good/trajectory.nc").stat().st_size // 2)(ws)
    before = files(ws)
    result = mdkit(*argv, cwd=ws)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # MDAnalysis's reader printed no traceback
    assert lines[0].startswith(f"mdkit {argv[0]}: error: good cannot be read")
    assert lines[0].endswith("is trajectory.nc or topology.xyz damaged?")
    assert files(ws) == before


def test_analysis_of_an_occupied_centre_writes_strict_json_without_warnings(base, tmp_path,
                                                                           monkeypatch):
    import json
    import warnings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "full.toml").write_text(spec_with('vacancy = "center"\n', ""))
    assert main(["run", "--quiet", "--no-analyze", "full.toml"]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert main(["analyze", "full"]) == 0

    def refuse(constant):
        raise AssertionError(f"{constant} in a JSON output")

    for path in (tmp_path / "full").rglob("*.json"):
        json.loads(path.read_text(), parse_constant=refuse)
    summary = json.loads((tmp_path / "full/analysis/summary.json").read_text())
    # one atom (the occupied centre) has no radius of gyration
    assert set(summary["rg_angstrom"]) == {"ion", "metal"}


# --- outputs mdkit did not write: every -o target is the user's until mdkit wrote it ------
FOREIGN_OUTPUTS = {
    "draw: -o over a user's picture": (write_bytes("mine.png", b"my picture"),
                                       ["draw", "ag13.xyz", "-o", "mine.png"], "mine.png"),
    "movie: -o over a user's GIF": (write_bytes("mine.gif", b"GIF89a my movie"),
                                    ["movie", "good", "-o", "mine.gif", "--quiet"], "mine.gif"),
    "movie: -o over a user's MP4": (write_bytes("mine.mp4", b"my film"),
                                    ["movie", "good", "-o", "mine.mp4", "--quiet"], "mine.mp4"),
    "barrier: -o over a folder holding the user's rates.json": (
        write("mine_bar/rates.json", '{"mine": true}\n'),
        ["barrier", "ag13", "core-to-shell", "--vacancy", "center", "--calculator", "emt",
         "-o", "mine_bar"], "mine_bar"),
    "figure: -o over a user's picture": (write_bytes("mine.png", b"my picture"),
                                         ["figure", "good", "-o", "mine", "--formats", "png"],
                                         "mine.png"),
    "report: -o over a user's page": (write("mine.html", "<p>my page</p>\n"),
                                      ["report", "good", "-o", "mine.html"], "mine.html"),
    "plot: -o over a user's PDF (no PNG made either)": (
        write_bytes("mine.pdf", b"%PDF-1.4 my paper"),
        ["plot", "rg", "good", "-o", "mine", "--formats", "png,pdf"], "mine.pdf"),
    "barrier: infinite attempt frequency": (None, ["barrier", "ag13", "core-to-shell",
                                                   "--vacancy", "center", "--calculator", "emt",
                                                   "--attempt-THz", "inf"], "finite"),
    "barrier: zero temperature": (None, ["barrier", "ag13", "core-to-shell", "--vacancy",
                                         "center", "--calculator", "emt", "--attempt-THz", "2",
                                         "--temperature", "0"], "finite"),
    "snapshots: -o into a folder of the user's": (
        write("mine_snaps/notes.txt", "mine\n"),
        ["snapshots", "good", "--every", "0.05ps", "-o", "mine_snaps"], "mine_snaps"),
    "run: --force on a spec inside its own run folder": (
        write("good/again.toml", SPEC + '[output]\nfolder = "."\n'),
        ["run", "--force", "--quiet", "--no-analyze", "good/again.toml"],
        "inside its own run folder"),
}


@pytest.mark.parametrize("name", list(FOREIGN_OUTPUTS))
def test_foreign_outputs_are_refused_before_any_work(files, name, base, tmp_path, monkeypatch,
                                                     capsys):
    """Exit 2 in one sentence; nothing new anywhere (no database, no analysis, no lock)."""
    change, argv, words = FOREIGN_OUTPUTS[name]
    if "mine.mp4" in argv and shutil.which("ffmpeg") is None:
        pytest.skip("MP4 needs ffmpeg")
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    if change is not None:
        change(ws)
    monkeypatch.chdir(ws)
    before = files(ws)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert words in err, err
    assert files(ws) == before


def test_force_moves_the_users_file_aside_and_writes(base, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    (ws / "mine.png").write_bytes(b"my picture")
    monkeypatch.chdir(ws)
    assert main(["draw", "ag13.xyz", "-o", "mine.png", "--force"]) == 0
    kept = list(ws.glob("mine.*.png"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"my picture"
    assert (ws / "mine.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # mdkit's own picture is written again without --force
    assert main(["draw", "ag13.xyz", "-o", "mine.png", "--size", "300"]) == 0
    assert len(list(ws.glob("mine.*.png"))) == 1


def test_a_refused_run_leaves_no_lock_file(base, tmp_path, monkeypatch, capsys):
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    (ws / "other.toml").write_text(SPEC.replace("seed = 4", "seed = 5") +
                                   '[output]\nfolder = "good"\n')
    monkeypatch.chdir(ws)
    assert main(["run", "--quiet", "--no-analyze", "other.toml"]) == 2
    assert "differs from the spec" in capsys.readouterr().err
    assert not list(ws.glob(".*.lock"))


# --- the command line's own options, each refused by name before any work ---------------
UNCLOSED = "occupations={name='fermi-dirac', width=0.1"
COMMAND_LINE_CASES = {
    "energies: unclosed --option table": (
        None, ["energies", "dipole", "ag13", "--calculator", "emt", "--option", UNCLOSED],
        "argument --option: --option \"occupations="),
    "barrier: unclosed --option table": (
        None, ["barrier", "ag13", "core-to-shell", "--vacancy", "center", "--calculator",
               "emt", "--option", UNCLOSED], "not a TOML value"),
    "validate: --option without a value": (None, ["validate", "good", "--against", "emt",
                                                  "--option", "basis="], "KEY=VALUE"),
    "energies: --option values split by commas": (
        None, ["energies", "dipole", "ag13", "--option", "basis=dzp,szp"], "not a TOML value"),
    "figure: --dpi 0": (None, ["figure", "good", "--dpi", "0"], "argument --dpi"),
    "draw: --size 0": (None, ["draw", "ag13.xyz", "-o", "p.png", "--size", "0"],
                       "argument --size"),
    "movie: --size 0": (None, ["movie", "good", "-o", "m.gif", "--size", "0"],
                        "argument --size"),
    "movie: --frames 0": (None, ["movie", "good", "-o", "m.gif", "--frames", "0"],
                          "argument --frames"),
    "movie: --fps -2": (None, ["movie", "good", "-o", "m.gif", "--fps", "-2"],
                        "argument --fps"),
    "barrier: --attempt-THz nan": (None, ["barrier", "ag13", "core-to-shell", "--calculator",
                                          "emt", "--attempt-THz", "nan"], "finite number"),
    "ccs: a path that does not exist": (None, ["ccs", "rf/doesnotexist", "--method", "pa"],
                                        "rf/doesnotexist does not exist"),
    "run: a folder for a spec": (write("specs/notes.txt", "mine"), ["run", "specs"],
                                 "specs is a folder"),
    "sweep: a folder for a spec": (write("specs/notes.txt", "mine"),
                                   ["sweep", "specs", "--seeds", "1-2"], "specs is a folder"),
    "validate: a structure file for a run": (None, ["validate", "ag13.xyz", "--against", "emt"],
                                             "ag13.xyz is a file, not a run folder"),
    "analyze: a structure file for a run": (None, ["analyze", "ag13.xyz"],
                                            "ag13.xyz is a file, not a run folder"),
    "sweep: a value twice": (None, ["sweep", "good.toml", "--vary", "temperature_K=300,300"],
                             "names 300 twice"),
    "sweep: the same number twice in two spellings": (
        None, ["sweep", "good.toml", "--vary", "temperature_K=300,300.0"], "twice"),
    "sweep: a key twice": (None, ["sweep", "good.toml", "--vary", "temperature_K=250",
                                  "--vary", "temperature_K=300"], "names 'temperature_K' twice"),
    "sweep: two values, one member folder": (
        None, ["sweep", "good.toml", "--vary", "system.dope=shell:Hg,shell-Hg"],
        "two runs would share one folder"),
    "sweep: unknown cluster kind": (None, ["sweep", "good.toml", "--seeds", "1",
                                           "--cluster", "lsf"], "invalid choice"),
    **({"sweep: slurm without sbatch": (None, ["sweep", "good.toml", "--seeds", "1-2",
                                               "--cluster", "slurm"],
                                        "sbatch, which is not on this machine's PATH"),
        "sweep: pbs without qsub": (None, ["sweep", "good.toml", "--seeds", "1-2", "--cluster",
                                           "pbs"], "qsub, which is not on this machine's PATH")}
       if shutil.which("sbatch") is None and shutil.which("qsub") is None else {}),
}


@pytest.mark.parametrize("name", list(COMMAND_LINE_CASES))
def test_command_line_cases(files, name, base, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(CASES, name, COMMAND_LINE_CASES[name])
    test_bad_input_is_one_sentence_exit_2_and_changes_nothing(files, name, base, tmp_path,
                                                              monkeypatch, capsys)


def test_a_library_warning_before_a_refusal_is_not_printed(mdkit, files, base, tmp_path):
    """The relaxation warns that it stopped at its step limit, then the dipole is refused:
    the sentence comes alone (a subprocess, since pytest itself captures warnings)."""
    ws = tmp_path / "ws"
    shutil.copytree(base, ws)
    before = files(ws)
    result = mdkit("energies", "dipole", "ag13.xyz", "--calculator", "emt", "--steps", "1",
                   "--fmax", "1e-6", "--db", "w.db", cwd=ws)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "mdkit energies: error: calculator 'emt' gives no partial charges; pass charges= or "
        "use gfnff, xtb or gpaw."]
    after = files(ws)
    assert {k: v for k, v in after.items() if k in before} == before

