"""Do a distilled student and its teacher give compatible first-event times?

The dynamics check of a specialist potential: the same protocol (a base run
spec, by default the main job ``runs/ag28_iso1_sevennet.toml``: Iso1 of
[Ag28(BDT)12]2-, Langevin at 290 K for 3.5 ps, 2 fs steps with 4-amu
hydrogens, a frame every 10 fs) run over seeds with the teacher (the base
spec unchanged) and with the student (the base spec with ``[calculator]
name = "mace", model = PATH``).  The event is the first confirmed
core-to-shell migration of mdkit's analysis (an atom fills the vacant centre
and stays there 0.5 ps); a run without one is right-censored at its end.

1. ``OUT/teacher.toml`` and ``OUT/student.toml`` (the base spec with its
   relative paths made absolute, and its student twin) are expanded into the
   sweeps ``OUT/teacher_sweep`` and ``OUT/student_sweep`` over their seeds
   (``mdkit sweep``'s expansion) and run on a local Dask cluster
   (``--workers``), each member analysed as it finishes.  Launched again,
   the sweeps continue: finished members are skipped, interrupted ones resume
   from their checkpoints.  An ``OUT`` made for another student or protocol
   is refused.
2. Each ensemble's first-event times are read with mdkit's sweep analysis
   (``mdkit.analysis.ensemble.member_table``) and compared
   (``compare_first_events``): Kaplan-Meier medians with 95 % intervals and
   the two-sided log-rank test.  The seeds of the two ensembles must differ
   (the test assumes independent runs; one seed gives both engines the same
   start velocities and noise).

Printed and written (whole or not at all) to ``--results``
(``benchmarks/results/student_dynamics.md``): engine, seeds, events/seeds,
each seed's first-event time or "> T (censored)", the Kaplan-Meier median
with its 95 % interval, the log-rank p-value and one sentence of verdict.
``--analyze-only`` reads existing sweep folders (``--teacher-sweep``,
``--student-sweep``, e.g. of ``mdkit sweep SPEC --seeds 1-4``) and runs
nothing.  Exit status 2 for bad input, 1 when a member failed (the table is
written from the others).

Usage::

    python benchmarks/student_dynamics.py --model student.model [--spec SPEC]
        [--student-seeds 11-18] [--teacher-seeds 1-4] [--workers N] [--out DIR]
        [--option KEY=VALUE ...] [--results FILE] [--analyze-only]

The teacher's 4 runs of the main job take about 4 x 25 min of 2 CPU cores;
``--workers 2`` runs two single-threaded members at a time.
"""

from __future__ import annotations

import argparse
import copy
import os
import shlex
import sys
import tomllib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import tomli_w  # noqa: E402

from mdkit import ensemble, writer  # noqa: E402
from mdkit.analysis.ensemble import POWER, compare_first_events, member_table  # noqa: E402
from mdkit.calculators import CALCULATORS  # noqa: E402
from mdkit.cli.common import engine_option, options  # noqa: E402
from mdkit.errors import EXIT_BAD_INPUT, EXIT_FAILED, MdkitError  # noqa: E402
from mdkit.protocol import anchored, load_spec  # noqa: E402
from mdkit.runfolder import RunFolder, SweepFolder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Marker of an OUT folder this script made.
MARKER = ".mdkit-student-dynamics"
ROLES = ("student", "teacher")


class ComparisonError(MdkitError):
    """A comparison that cannot be set up or read as asked."""


def ensemble_specs(base_spec, student_calculator: dict) -> dict[str, str]:
    """TOML texts of the teacher's spec (the base one) and the student's (its engine swapped).

    Relative file paths of the base spec become absolute (the copies live
    elsewhere); ``[output]`` is dropped (a sweep places its members).
    """
    base_spec = Path(base_spec)
    load_spec(base_spec)  # valid on its own, or its own sentence
    data = anchored(tomllib.loads(base_spec.read_text()), base_spec)
    data.pop("output", None)
    student = copy.deepcopy(data)
    student["calculator"] = dict(student_calculator)
    return {"teacher": tomli_w.dumps(data), "student": tomli_w.dumps(student)}


def prepare(out, base_spec, student_calculator: dict, seeds: dict[str, list[int]],
            sweeps: dict[str, Path] | None = None) -> dict[str, Path]:
    """Claim ``out``, write both ensemble specs and expand their sweeps; returns the sweeps.

    Parameters
    ----------
    out : path
        The comparison's folder (marker :data:`MARKER`).
    base_spec : path
        The teacher's run spec.
    student_calculator : dict
        The student's ``[calculator]`` table.
    seeds : dict
        ``{"student": [...], "teacher": [...]}``, disjoint.
    sweeps : dict, optional
        Sweep folders by role (default ``out/ROLE_sweep``).
    """
    overlap = sorted(set(seeds["student"]) & set(seeds["teacher"]))
    if overlap:
        raise ComparisonError(f"seeds {', '.join(map(str, overlap))} are in both ensembles; "
                              "give the student and the teacher different seeds (the log-rank "
                              "test assumes independent runs, and one seed starts both engines "
                              "with the same velocities and noise).")
    for role in ROLES:
        if not seeds[role]:
            raise ComparisonError(f"no {role} seeds; give e.g. --{role}-seeds 1-4.")
    texts = ensemble_specs(base_spec, student_calculator)
    out = Path(out)
    if out.exists() and not (out.is_dir() and ((out / MARKER).is_file()
                                               or not any(out.iterdir()))):
        raise ComparisonError(f"{out} exists and is not a folder this script made (it has no "
                              f"{MARKER}); give another --out or move it away.")
    writer.claim(out, marker=MARKER)
    for role, text in texts.items():
        path = out / f"{role}.toml"
        if path.exists() and path.read_text() != text:
            raise ComparisonError(f"{path} was written for another {role} or protocol than "
                                  f"this one (base spec {base_spec}); its sweep belongs to "
                                  "it: give another --out or move it away.")
    writer.write_text(out / MARKER, "student_dynamics.py\n")
    folders = {}
    for role, text in texts.items():
        path = out / f"{role}.toml"
        if not path.exists():
            writer.write_text(path, text)
        folder = (sweeps or {}).get(role)
        folders[role] = ensemble.expand(path, {}, seeds[role], folder)
    return folders


def run_sweeps(folders: dict[str, Path], cluster: dict, progress=None) -> dict[str, str]:
    """Run (or continue) both sweeps on one Dask client, the student's first.

    When every student member fails (a model the engine cannot load, say)
    the teacher's runs are not started.  Returns ``{member: reason}`` of
    every failed member.
    """
    from mdkit.analysis.report import analyze_member

    client = ensemble.client_for(**cluster)
    try:
        print(f"student_dynamics: Dask scheduler {client.scheduler_info()['address']}, "
              f"dashboard {client.dashboard_link}", file=sys.stderr)
        failed = {}
        for role in ROLES:
            results = ensemble.run_sweep(folders[role], client, analyze=analyze_member,
                                         progress=progress)
            reasons, n_members = ensemble.failures(folders[role], results)
            failed.update({f"{role} {name}": reason for name, reason in reasons.items()})
            if role == "student" and len(reasons) == n_members:
                print("student_dynamics: every student run failed; the teacher's runs are "
                      "not started", file=sys.stderr)
                break
    finally:
        ensemble.shutdown(client)
    return failed


def first_events(folder) -> dict:
    """One sweep's engine, per-seed first-event times and the failed or unfinished seeds.

    Finished members that were never analysed are analysed first (mdkit's
    own ``analyze_member``); the times are ``member_table``'s.

    Returns
    -------
    dict
        ``calculator`` (the members' ``[calculator]`` table), ``spec`` (one
        member's spec, parsed), ``runs`` (per finished seed: ``seed``,
        ``time_ps``, ``observed``, ``duration_ps``) and ``other`` (per
        unfinished seed: its status).
    """
    from mdkit.analysis.report import analyze_member

    folder = Path(folder)
    sweep = SweepFolder(folder)
    try:
        record, members = sweep.record(), sweep.members()
    except MdkitError as err:
        raise ComparisonError(str(err)) from None
    if list(record["vary"]) != ["seed"]:
        raise ComparisonError(f"{folder} varies {', '.join(record['vary'])}; an ensemble for "
                              "this comparison varies the seed only.")
    for member in members:
        run = RunFolder(member["folder"])
        if run.finished and not run.summary.exists():
            analyze_member(member["folder"])
    spec = tomllib.loads(members[0]["spec"].read_text())
    runs, other = [], {}
    for row in member_table(folder):
        if "duration_ps" in row:
            runs.append({"seed": row["seed"], "observed": row["migrated"],
                         "time_ps": row["first_core_to_shell_ps"] if row["migrated"]
                         else row["duration_ps"], "duration_ps": row["duration_ps"]})
        else:
            other[row["seed"]] = row["status"]
    return {"folder": folder, "calculator": spec["calculator"], "spec": spec,
            "runs": sorted(runs, key=lambda r: r["seed"]), "other": other}


def protocol_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys in which two run specs differ, their engines and seeds left out."""
    if not prefix:
        a, b = copy.deepcopy(a), copy.deepcopy(b)
        for spec in (a, b):
            spec.pop("calculator", None)
            spec.get("md", {}).pop("seed", None)
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b))
                for d in protocol_differences(a.get(key), b.get(key), f"{prefix}{key}.")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for k, (x, y) in enumerate(zip(a, b))
                for d in protocol_differences(x, y, f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".")]


def compare(folders: dict[str, Path]) -> dict:
    """Both ensembles read (:func:`first_events`) and compared (student as ``a``)."""
    data = {role: first_events(folders[role]) for role in ROLES}
    differ = protocol_differences(data["student"]["spec"], data["teacher"]["spec"])
    if differ:
        raise ComparisonError(f"{folders['student']} and {folders['teacher']} differ in "
                              f"{', '.join(differ)} as well as the engine; compare ensembles "
                              "of one protocol.")
    for role in ROLES:
        if not data[role]["runs"]:
            statuses = list(data[role]["other"].values())
            counted = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
            raise ComparisonError(f"{folders[role]} has no finished run to compare ({counted}); "
                                  "run its members (this script without --analyze-only), or "
                                  "see in their meta.json why they failed.")
    student, teacher = (data[role]["runs"] for role in ROLES)
    shared = sorted({r["seed"] for r in student} & {r["seed"] for r in teacher})
    if Path(folders["student"]).resolve() == Path(folders["teacher"]).resolve() or shared:
        raise ComparisonError(f"{folders['student']} and {folders['teacher']} share seeds "
                              f"({', '.join(map(str, shared)) or 'the same sweep'}); the log-rank"
                              " test needs independent runs: compare sweeps of different seeds.")
    result = compare_first_events([r["time_ps"] for r in student],
                                  [r["observed"] for r in student],
                                  [r["time_ps"] for r in teacher],
                                  [r["observed"] for r in teacher])
    return {**data, "test": result}


def _engine(calculator: dict) -> str:
    extra = [f"{k}={v}" for k, v in calculator.items() if k not in ("name", "model", "device")]
    model = calculator.get("model")
    shown = [Path(model).name if model and os.sep in str(model) else model, *extra]
    shown = [s for s in shown if s]
    return calculator.get("name", "?") + (f" ({', '.join(shown)})" if shown else "")


def _ps(value) -> str:
    return f"{value:.2f}"


def _seeds(values) -> str:
    values = sorted(values)
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values))


def _protocol(spec: dict) -> str:
    system = spec["system"]
    what = system.get("build") or Path(system.get("file", "?")).name
    if system.get("vacancy"):
        what += f", vacancy {system['vacancy']}"
    if system.get("dope"):
        what += f", dope {system['dope']}"
    stages = "; ".join(
        f"{s['name']}: {s['thermostat']}"
        + (f" {s['temperature_K']} K" if "temperature_K" in s else "")
        + f" {s['duration_ps']} ps" for s in spec["stages"])
    md = spec["md"]
    hydrogen = (f", H {md['hydrogen_mass_amu']} amu" if "hydrogen_mass_amu" in md else "")
    return (f"{what}; {stages}; {md['timestep_fs']} fs steps{hydrogen}, a frame every "
            f"{md.get('stride_fs', md['timestep_fs'])} fs")


def markdown(compared: dict, command: str) -> str:
    """The comparison as a markdown table and its verdict."""
    test = compared["test"]
    protocol = _protocol(compared["teacher"]["spec"])
    lines = [f"# Student against teacher: first-event times ({protocol})", "",
             "Event: the first confirmed core-to-shell migration of `mdkit analyze` (an atom "
             "fills the vacant centre and stays 0.5 ps); a run without one is censored at its "
             "end (an arrival in its last 0.5 ps could not have been confirmed).  Times in ps.",
             "",
             "| ensemble | engine | seeds | events/seeds | first event per seed | "
             "KM median (95 % CI) |",
             "|---|---|---|---|---|---|"]
    for role, key in (("student", "a"), ("teacher", "b")):
        data, km = compared[role], test[key]
        end = max(r["duration_ps"] for r in data["runs"])
        per_seed = [f"{r['seed']}: " + (_ps(r["time_ps"]) if r["observed"]
                                        else f"> {_ps(r['time_ps'])} (censored)")
                    for r in data["runs"]]
        per_seed += [f"{seed}: {status}" for seed, status in sorted(data["other"].items())]
        if km["median_first_event_ps"] is None:
            median = f"> {_ps(end)} (not reached)"
        else:
            low = "-" if km["median_low_ps"] is None else _ps(km["median_low_ps"])
            high = f"> {_ps(end)}" if km["median_high_ps"] is None else _ps(km["median_high_ps"])
            median = f"{_ps(km['median_first_event_ps'])} ({low} to {high})"
        seeds = [r["seed"] for r in data["runs"]] + list(data["other"])
        lines.append(f"| {role} | {_engine(data['calculator'])} | {_seeds(seeds)} | "
                     f"{km['n_events']}/{km['n_runs']} | {', '.join(per_seed)} | {median} |")
    lines += ["", verdict(test)]
    unfinished = sum(len(compared[role]["other"]) for role in ROLES)
    if unfinished:
        lines += ["", f"{unfinished} run(s) not finished (listed by their status) are left "
                      "out of the medians and the test."]
    return "\n".join([*lines, "", f"`{command}`", ""])


def verdict(test: dict) -> str:
    """One sentence: the log-rank test's p-value and whether the ensembles are compatible."""
    if test["pvalue"] is None:
        return ("Log-rank test: no event in either ensemble, so there is nothing to compare; "
                "both kept the centre vacant to the end of every run.")
    z = test["logrank_z"]
    text = (f"Log-rank test, student against teacher: z = {z:+.2f} (chi-squared "
            f"{z * z:.2f}, 1 dof), p = {test['pvalue']:.3g}: ")
    if test["compatible"]:
        text += "compatible at the 5 % level"
    else:
        text += (f"not compatible at the 5 % level (the student's vacancy leaves the centre "
                 f"{'sooner' if z > 0 else 'later'} than the teacher's)")
    return (text + f".  With these {test['a']['n_events'] + test['b']['n_events']} events "
            f"the test detects a rate ratio of about {test['detectable_rate_ratio']:.1f} or "
            f"more with {100 * POWER:.0f} % power; smaller differences would likely pass as "
            "compatible.")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "runs" / "ag28_iso1_sevennet.toml",
                        help="the teacher's run spec, the protocol of both ensembles "
                             "(default runs/ag28_iso1_sevennet.toml)")
    parser.add_argument("--model", type=Path, help="the student, a MACE model file")
    parser.add_argument("--student-engine", default="mace",
                        help="registry engine of the student (default mace)")
    parser.add_argument("--option", action="append", type=engine_option, metavar="KEY=VALUE",
                        help="a student engine option, e.g. default_dtype=float32 or "
                             "device=cuda; repeatable")
    parser.add_argument("--student-seeds", default="11-18",
                        help="seeds of the student's runs (default 11-18)")
    parser.add_argument("--teacher-seeds", default="1-4",
                        help="seeds of the teacher's runs (default 1-4)")
    parser.add_argument("--out", type=Path, default=Path("student_dynamics"),
                        help="folder of the two specs and sweeps (default ./student_dynamics)")
    parser.add_argument("--teacher-sweep", type=Path,
                        help="the teacher's sweep folder (default OUT/teacher_sweep)")
    parser.add_argument("--student-sweep", type=Path,
                        help="the student's sweep folder (default OUT/student_sweep)")
    parser.add_argument("--workers", type=int,
                        help="local Dask worker processes (default: all cores)")
    parser.add_argument("--results", type=Path,
                        default=ROOT / "benchmarks" / "results" / "student_dynamics.md",
                        help="the markdown table (default benchmarks/results/"
                             "student_dynamics.md)")
    parser.add_argument("--analyze-only", action="store_true",
                        help="read the existing sweep folders; run nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    command = "python benchmarks/student_dynamics.py " + shlex.join(argv)
    folders = {"teacher": args.teacher_sweep or args.out / "teacher_sweep",
               "student": args.student_sweep or args.out / "student_sweep"}
    failed = {}

    def say_failures():
        for name, reason in failed.items():
            print(f"student_dynamics: {name} failed: {reason}", file=sys.stderr)

    try:
        if not args.analyze_only:
            calculator = student_calculator(args.student_engine, args.model,
                                            options(args.option))
            seeds = {"student": ensemble.parse_seeds(args.student_seeds),
                     "teacher": ensemble.parse_seeds(args.teacher_seeds)}
            folders = prepare(args.out, args.spec, calculator, seeds,
                              {r: f for r, f in (("teacher", args.teacher_sweep),
                                                 ("student", args.student_sweep)) if f})
            failed = run_sweeps(folders, {"n_workers": args.workers},
                                progress=False if args.quiet else None)
        compared = compare(folders)
        text = markdown(compared, command)
        writer.make_folder(args.results.parent)
        writer.write_text(args.results, text)
    except MdkitError as err:
        say_failures()
        print(f"student_dynamics: error: {err}", file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_BAD_INPUT
    print(text)
    print(f"student_dynamics: -> {args.results}", file=sys.stderr)
    say_failures()
    return EXIT_FAILED if failed else 0


def student_calculator(engine: str, model: Path | None, extra: dict) -> dict:
    """The student's ``[calculator]`` table: ``engine``, its model file (absolute), options.

    Refused before anything is written: an engine mdkit does not know, an
    option it does not take, a model file that is not there (or missing
    where the engine needs one).
    """
    if engine not in CALCULATORS:
        raise ComparisonError(f"--student-engine {engine!r} is not one of "
                              f"{', '.join(CALCULATORS)}.")
    table = {"name": engine, **extra}
    if model is not None and "model" in extra:
        raise ComparisonError("give the student's model once, by --model or by --option "
                              "model=..., not both.")
    model = model if model is not None else table.pop("model", None)
    engine_entry = CALCULATORS[engine]
    if model is None:
        model = engine_entry.default_model  # a shipped specialist, or the engine's own
    if model is not None and str(model) in engine_entry.shipped_models:
        table["model"] = str(model)
    elif model is not None:
        model = Path(model)
        if not model.is_file():
            raise ComparisonError(f"the student's model {model} is not a file; give its model "
                                  "file (e.g. a training folder's student.model) or a shipped "
                                  f"name ({', '.join(engine_entry.shipped_models) or 'none'}).")
        table["model"] = str(model.resolve())
    options_only = {k: v for k, v in table.items() if k != "name"}
    try:
        CALCULATORS[engine].check_options(engine, options_only)
    except MdkitError as err:
        raise ComparisonError(str(err)) from None
    return table


if __name__ == "__main__":
    sys.exit(main())
