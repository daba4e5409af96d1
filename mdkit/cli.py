"""The ``mdkit`` command line: thin wrappers over the modules."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mdkit.errors import MdkitError


def _describe(atoms, sites) -> str:
    from mdkit.species import composition

    counts = sites.class_counts()
    occupied = sites.class_counts(occupied_only=True)
    classes = ", ".join(f"{c} {occupied[c]}" + (f" (+{counts[c] - occupied[c]} vacant)"
                                               if counts[c] > occupied[c] else "")
                        for c in counts)
    lines = [f"{atoms.info.get('name', composition(atoms))}",
             f"  formula  {composition(atoms)}",
             f"  charge   {sites.charge:+d}",
             f"  atoms    {len(atoms)}",
             f"  sites    {len(sites)}: {classes}"]
    return "\n".join(lines)


def _check_output_file(path: Path) -> None:
    """Refuse an output file in a missing folder, or over a file mdkit cannot tell it wrote
    (a structure it wrote carries its site labels)."""
    from ase.io.formats import filetype, ioformats

    if not path.parent.is_dir():
        raise MdkitError(f"cannot write {path}: folder {path.parent} does not exist.")
    try:
        writable = ioformats[filetype(str(path), read=False)].can_write
    except (KeyError, ValueError):
        writable = False
    if not writable:
        raise MdkitError(f"cannot write {path}: ASE writes no format for {path.suffix!r}; "
                         "use .xyz (extended XYZ), .cif or .pdb.")
    if path.exists():
        try:
            with path.open(errors="replace") as handle:
                head = handle.readline() + handle.readline()
        except OSError as err:
            raise MdkitError(f"cannot write {path} ({err}).") from None
        if "site_class" not in head:
            raise MdkitError(f"{path} exists and is not a structure mdkit wrote; mdkit does "
                             "not overwrite it: give another -o or move it away.")


def cmd_build(args) -> None:
    from mdkit.systems import build, write_structure
    from mdkit.systems.io import EXTXYZ

    if args.output:
        _check_output_file(Path(args.output))
    atoms, sites = build(args.system, args.dope, args.vacancy)
    print(_describe(atoms, sites))
    if args.output:
        from mdkit.runfolder import atomic_path

        with atomic_path(Path(args.output)) as tmp:
            write_structure(tmp, atoms, sites)
        print(f"  written  {args.output}")
        if len(sites.vacant) and not args.output.lower().endswith(EXTXYZ):
            print(f"  note     {args.output} keeps no site labels, so the vacant site is "
                  "lost; write .xyz to keep it.")


def cmd_sites(args) -> None:
    from mdkit.systems import read_structure

    atoms, sites = read_structure(args.file, charge=args.charge)
    centre = sites.positions[sites.select("center")[0]] if "center" in sites.class_names \
        else sites.positions.mean(axis=0)
    r = np.linalg.norm(sites.positions - centre, axis=1)
    print(f"{'site':>4}  {'atom':>4}  {'element':<7}  {'class':<12}  {'r / Å':>7}")
    for i in range(len(sites)):
        atom = str(sites.atoms[i]) if sites.atoms[i] >= 0 else "-"
        element = sites.elements[i] if sites.atoms[i] >= 0 else f"({sites.elements[i]})"
        print(f"{i:>4}  {atom:>4}  {element:<7}  {sites.classes[i]:<12}  {r[i]:7.3f}")
    print(_describe(atoms, sites))


def cmd_mz(args) -> None:
    from mdkit.species import mass_spectrum

    spec = mass_spectrum(args.formula, args.charge, top=args.top)
    print(f"{spec['formula']}  (charge {spec['charge']:+d})")
    print(f"  monoisotopic mass  {spec['monoisotopic_mass']:12.4f} Da")
    print(f"  average mass       {spec['average_mass']:12.4f} Da")
    print(f"  m/z monoisotopic   {spec['monoisotopic_mz']:12.4f}")
    print(f"  m/z most abundant  {spec['most_abundant_mz']:12.4f}")
    print(f"  m/z centroid       {spec['centroid_mz']:12.4f}")
    print("  isotope pattern (top peaks, aggregated by mass number):")
    for mz, intensity in spec["peaks"]:
        print(f"    {mz:12.4f}  {100 * intensity:6.1f} %")


def cmd_run(args) -> None:
    from mdkit.protocol import load_spec

    spec = load_spec(args.spec)  # validate before the heavy imports
    from mdkit.md import run

    from mdkit.runfolder import RunFolder

    folder = run(spec, force=args.force, progress=False if args.quiet else None)
    print(f"mdkit run: {folder}")
    done = RunFolder(folder)
    if not args.no_analyze and done.finished and not done.output("summary.json").exists():
        try:
            _report(folder, residence_ps=0.5, formats=("png", "pdf"),
                    progress=False if args.quiet else None)
        except MdkitError as err:  # the run itself is fine; say why it was not analysed
            print(f"mdkit run: not analysed: {err}", file=sys.stderr)


def _report(folder, residence_ps, formats, progress=None) -> None:
    from mdkit.analysis.report import analyze_run

    summary = analyze_run(folder, residence_ps=residence_ps, formats=formats,
                          progress=progress)
    rg = summary["rg_angstrom"]["ion"]
    print(f"mdkit analyze: {summary['statement']}")
    print(f"  Rg {rg['mean']:.3f} ± {rg['std']:.3f} Å (range {rg['min']:.3f}-{rg['max']:.3f}; "
          f"{rg['change_percent']:+.2f} % from the first to the last tenth of the run)")
    print(f"  tables, summary.json and figures in {folder / 'analysis'}")
    if (folder / "analysis" / "report.html").exists():
        print(f"  report: {folder / 'analysis' / 'report.html'}")


def _ps(text: str) -> float:
    """A duration such as '1ps', '500fs' or '0.5' (ps) -> ps."""
    value = text.strip().lower()
    try:
        if value.endswith("fs"):
            return float(value[:-2]) / 1000
        return float(value[:-2] if value.endswith("ps") else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; write e.g. 1ps, "
                                         "500fs or 0.5 (ps).") from None


def _list(text: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(",") if f.strip())


def _formats(text: str) -> tuple[str, ...]:
    """Figure formats such as 'png,pdf', each one matplotlib writes."""
    from matplotlib.figure import Figure

    formats = _list(text)
    known = Figure().canvas.get_supported_filetypes()
    for fmt in formats:
        if fmt not in known:
            raise MdkitError(f"figure format {fmt!r} is not one matplotlib writes; choose "
                             f"from {', '.join(sorted(known))}.")
    if not formats:
        raise MdkitError("no figure format given; write e.g. png,pdf.")
    return formats


def cmd_analyze(args) -> None:
    for folder in map(Path, args.runs):
        if (folder / "sweep.json").exists():
            from mdkit.analysis.ensemble import analyze_sweep

            predict = None
            if args.barrier:
                from mdkit.rates import load_predictor

                predict = load_predictor(args.barrier)
            groups = analyze_sweep(folder, _formats(args.formats), predict=predict)
            for group in groups:
                print("mdkit analyze: " + ", ".join(
                    f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in group.items() if k != "survival"))
            if predict is not None:
                _print_rates(groups)
            print(f"  tables and figures in {folder / 'analysis'}")
        else:
            _report(folder, args.residence_ps, _formats(args.formats))


def _print_rates(groups) -> None:
    def ps(value):
        return "-" if value is None else f"{value:.3g}"

    print(f"{'group':<24} {'T / K':>6} {'events':>7} {'predicted mean':>15} "
          f"{'observed mean (95 %)':>24} {'predicted median':>17} {'KM median (95 %)':>22}")
    for g in groups:
        print(f"{g['group']:<24} {g['temperature_used_K']:>6.0f} {g['n_events']:>3}/{g['n_runs']:<3} "
              f"{ps(g['predicted_mean_ps']):>12} ps "
              f"{ps(g['observed_mean_ps']):>7} ({ps(g['observed_mean_low_ps'])}-"
              f"{ps(g['observed_mean_high_ps'])}) ps {ps(g['predicted_median_ps']):>14} ps "
              f"{ps(g['median_first_event_ps']):>7} ({ps(g['median_low_ps'])}-"
              f"{ps(g['median_high_ps'])}) ps")


def cmd_sweep(args) -> int:
    from mdkit import ensemble

    folder = ensemble.expand(args.spec, ensemble.parse_vary(args.vary or []),
                             ensemble.parse_seeds(args.seeds), args.out)
    client = ensemble.client_for(args.scheduler, args.cluster, args.workers, args.cores,
                                 args.memory, args.walltime, args.jobs, args.gpus_per_worker)
    try:
        print(f"mdkit sweep: {folder} on {client.scheduler_info()['address']}; dashboard: "
              f"{client.dashboard_link}", file=sys.stderr)
        from mdkit.analysis.report import analyze_member

        results = ensemble.run_sweep(folder, client,
                                     analyze=None if args.no_analyze else analyze_member,
                                     mpi_ranks=args.mpi_ranks,
                                     progress=False if args.quiet else None)
    finally:
        ensemble.shutdown(client)
    from mdkit.runfolder import RunFolder, sweep_members

    reasons = {r["name"]: r["reason"] for r in results if r["status"] == "failed"}
    members = sweep_members(folder)
    for member in members:  # failed now or in an earlier launch: all are listed
        run = RunFolder(member["folder"])
        if member["name"] not in reasons and run.status == "failed":
            reasons[member["name"]] = (run.meta or {}).get("reason", "see its meta.json")
    for name, reason in reasons.items():
        print(f"mdkit sweep: {name} failed: {reason}", file=sys.stderr)
    done = sum(r["status"] == "finished" for r in results)
    print(f"mdkit sweep: {done} run(s) done now, {len(reasons)} of {len(members)} member(s) failed -> {folder}",
          file=sys.stderr if reasons else sys.stdout)
    if not args.no_analyze and len(reasons) < len(members):
        from mdkit.analysis.ensemble import analyze_sweep

        analyze_sweep(folder)
        print(f"  group tables and figures in {folder / 'analysis'}")
    return 1 if reasons else 0


def cmd_plot(args) -> None:
    from mdkit import store
    from mdkit.analysis import RadiusOfGyration, plots
    from mdkit.analysis.report import rg_selections

    series = []
    for folder in map(Path, args.runs):
        universe = store.open_run(folder)
        groups = rg_selections(universe, store.read_sites(folder))
        if args.selection not in groups:
            raise MdkitError(f"{folder} has no {args.selection!r} atoms; choose one of "
                             f"{', '.join(groups)}.")
        result = RadiusOfGyration(groups[args.selection]).run().results
        thermo = store.read_thermo(folder)
        series.append({"label": folder.name, "times": result.times, "rg": result.rg,
                       "stage": thermo["stage"][:len(result.rg)],
                       "stage_names": list(dict.fromkeys(thermo["stage_name"]))})
    for path in plots.plot_rg(series, Path(args.output).with_suffix(""),
                              _formats(args.formats)):
        print(f"mdkit plot: {path}")


def cmd_snapshots(args) -> None:
    from mdkit.analysis.snapshots import snapshots_of_run
    from mdkit.runfolder import RunFolder

    done = snapshots_of_run(RunFolder(args.run), at_ps=args.at or (), every_ps=args.every,
                            events=args.events, window_ps=args.window, extremes=args.extremes,
                            stage_ends=args.stage_ends, output=args.output,
                            formats=_list(args.format))
    charges = "calculator" if done["calculator_charges"] else "evenly spread"
    print(f"mdkit snapshots: {len(done['frames'])} frames ({charges} charges) -> "
          f"{done['index']}")


def cmd_ccs(args) -> None:
    from mdkit.analysis import ccs as ccsmod

    options = {"method": args.method, "gas": args.gas, "temperature_K": args.temperature,
               "target_error": args.error, "seed": args.seed, "n_workers": args.workers,
               "params": args.params, "orientation": args.n2_model}
    tables = {}
    for target in args.targets:
        path = Path(target)
        if path.is_dir():
            run = ccsmod.ccs_of_run(path, args.every, False if args.quiet else None, **options)
            values = np.array([r["ccs_A2"] for r in run["results"]])
            first = run["results"][0]
            print(f"mdkit ccs: {path.name}: {len(values)} snapshots, CCS({_ccs_label(first)}) "
                  f"{values.mean():.2f} ± {values.std():.2f} Å² over the run -> {run['table']}")
            tables[path.name] = run["results"]
            continue
        if path.is_file():
            atoms, charges = ccsmod.read_ion(path, args.charge)
            ions = {path.stem: (atoms, charges)}
        else:  # a system name (or the isomer families ag28, ag28hg) to build
            ions = {label: (atoms, None) for label, atoms in _structures([target]).items()}
        for label, (atoms, charges) in ions.items():
            result = ccsmod.ccs(atoms, charges=charges, **options)
            print(f"{target if len(ions) == 1 else label}: CCS({_ccs_label(result)}) = "
                  f"{result['ccs_A2']:.2f} ± {result['error_A2']:.2f} Å² (net charge "
                  f"{result['net_charge']:+.2f} e, "
                  f"{'per-atom charges of the file' if charges is not None else 'spread evenly'})")
            tables[label] = [result]
    if len(tables) > 1:
        rows = ccsmod.compare(tables)
        print(f"{'ion or run':<28} {'CCS / Å²':>9} {'± error':>8} {'vs first / %':>17}")
        for row in rows:
            print(f"{row['label']:<28} {row['mean_A2']:9.2f} {row['sem_A2']:8.2f} "
                  f"{row['difference_percent']:+8.2f} ± {row['difference_error_percent']:.2f}")


def _ccs_label(result: dict) -> str:
    model = f", {result['orientation_model']}" if result["orientation_model"] else ""
    return f"{result['method']}, {result['gas']}{model}, {result['temperature_K']:g} K"


def _structures(names) -> dict:
    """Isomer family by system name (ag28: Iso1-4, ag28hg: the four Hg sites) or files."""
    from mdkit.systems import AG28_ISOMERS, build

    if len(names) == 1 and names[0] == "ag28":
        return {iso: build("ag28", vacancy=site)[0] for site, iso in AG28_ISOMERS.items()}
    if len(names) == 1 and names[0] == "ag28hg":
        return {f"Hg@{site}": build("ag28hg", f"{site}:Hg")[0] for site in AG28_ISOMERS}
    return {Path(n).stem if Path(n).suffix else n: build(n)[0] for n in names}


def _species(items) -> list:
    from mdkit.systems import build

    side = []
    for item in items:
        coefficient, sep, name = item.partition(":")
        try:
            side.append((float(coefficient), build(name)[0]))
        except ValueError:
            raise MdkitError(f"species {item!r} must be COEFFICIENT:SYSTEM_OR_FILE, "
                             "e.g. 2:mo6cl13.") from None
    return side


def cmd_energies(args) -> None:
    from mdkit import energetics
    from mdkit.ensemble import parse_vary

    options = {k: v[0] for k, v in parse_vary(args.option or []).items()}
    common = {"fmax": args.fmax, "steps": args.steps, "db": args.db}
    if args.task == "isomers":
        rows = energetics.isomer_energies(_structures(args.systems), args.calculator, options,
                                          **common)
        print(energetics.isomer_table(rows))
    elif args.task == "loss":
        if len(args.systems) != 1 or not args.fragment:
            raise MdkitError("energies loss takes one SYSTEM and --fragment, e.g. "
                             "mdkit energies loss mo6cl14 --fragment apical.")
        from mdkit.systems import build

        result = energetics.fragment_loss(build(args.systems[0]), args.fragment,
                                          args.calculator, options, **common)
        print(f"{result['equation']}: {result['energy_eV']:.3f} eV ({args.calculator})")
    elif args.task == "reaction":
        result = energetics.reaction_energy(_species(args.reactant or []),
                                            _species(args.product or []), args.calculator,
                                            options, **common)
        print(f"{result['equation']}: {result['energy_eV']:.3f} eV "
              f"({result['energy_eV'] * 96.485:.1f} kJ/mol, {args.calculator})")
    else:
        for label, atoms in _structures(args.systems).items():
            relaxed, _ = energetics.relax(atoms, args.calculator, options, **common)
            dipole = energetics.dipole_moment(relaxed, origin=args.origin)
            print(f"{label}: dipole {dipole['magnitude_D']:.2f} D about the {args.origin} "
                  f"origin, from {dipole['source']} ({args.calculator}, relaxed to "
                  f"{args.fmax} eV/Å)")
    print(f"  stored in {args.db}")


def _engine_options(items) -> dict:
    """``["basis=dzp", "occupations={name='fermi-dirac', width=0.1}"]`` -> options.

    Each value is read whole as a TOML value (so inline tables and lists keep
    their commas); a value that is not TOML stays a string.
    """
    import tomllib

    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise MdkitError(f"--option {item!r} must be KEY=VALUE, e.g. basis=dzp.")
        try:
            options[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[key.strip()] = value.strip()
    return options


def cmd_validate(args) -> None:
    from mdkit.validation import validate_run

    options = _engine_options(args.option)
    result = validate_run(args.run, args.against, args.frames, options,
                          progress=False if args.quiet else None)
    run = result["run_engine"]["name"]
    print(f"{run} against {args.against} on {len(result['frames'])} frames "
          f"({result['times_ps'][0]:.2f}-{result['times_ps'][-1]:.2f} ps)")
    print(f"  {'element':<8} {'n':>6} {'MAE':>8} {'RMSE':>8} {'max':>8} {'|F| ref':>8}  (eV/Å)")
    for row in result["forces"]:
        print(f"  {row['element']:<8} {row['n_atoms']:>6} {row['mae_eV_per_A']:8.4f} "
              f"{row['rmse_eV_per_A']:8.4f} {row['max_eV_per_A']:8.4f} "
              f"{row['reference_rms_eV_per_A']:8.4f}")
    energy = result["energy"]
    if energy["rmse_eV_per_atom"] is None:
        print("  energy: one frame gives no energy difference to compare (use --frames >= 2)")
    else:
        print(f"  energy error {1000 * energy['rmse_eV_per_atom']:.2f} meV/atom RMS, "
              f"{1000 * energy['max_eV_per_atom']:.2f} meV/atom largest, after removing the "
              f"engines' offset of {energy['offset_eV_per_atom']:.3f} eV/atom")
    print(f"  table, summary and parity plot: {Path(args.run) / 'analysis'}/validation_"
          f"{args.against}.csv|json|png")


def cmd_barrier(args) -> None:
    from mdkit import barriers, rates
    from mdkit.calculators import engine_for
    from mdkit.ensemble import parse_vary
    from mdkit.systems import build

    engine_for(args.calculator)  # an unknown or missing engine is said before any work
    options = {k: v[0] for k, v in parse_vary(args.option or []).items()}
    if args.attempt_THz is not None and args.vibrations:
        raise MdkitError("give --attempt-THz or --vibrations, not both.")
    atoms, sites = build(args.system, vacancy=args.vacancy)
    hops = barriers.find_hops(atoms, sites, args.hop)
    stem = Path(args.system).stem if Path(args.system).suffix else args.system
    out = Path(args.out or f"barrier_{stem}_{args.hop}_{args.calculator}")
    print(f"mdkit barrier: {atoms.info.get('name', stem)}, {args.hop}: {len(hops)} distinct "
          f"hop(s) with {args.calculator}", file=sys.stderr)
    results = []
    for hop in hops:
        result = barriers.barrier(atoms, sites, hop, args.calculator, options,
                                  n_images=args.images, fmax=args.fmax, steps=args.steps,
                                  db=args.db, folder=out / hop.name, progress=not args.quiet)
        results.append(result)
        print(f"{hop.describe()}: barrier {result['barrier_forward_eV']:.3f} eV forward, "
              f"{result['barrier_back_eV']:.3f} eV back, reaction {result['reaction_eV']:+.3f} eV"
              + ("" if result["converged"] else f" (NOT converged: NEB fmax "
                                                f"{result['fmax_eV_A']:.3f} eV/Å)")
              + (" (from the database)" if result["from_database"] else ""))
        print(f"  path {out / hop.name / 'path.xyz'}, profile {out / hop.name / 'profile.png'}")
    if args.vibrations or args.attempt_THz is not None:
        summary = rates.hop_rates(results, args.temperature or [290.0],
                                  attempt_THz=args.attempt_THz, vibrations=args.vibrations,
                                  calculator=args.calculator, options=options, folder=out)
        summary.update(system=atoms.info.get("name", stem), hop=args.hop,
                       calculator=args.calculator)
        for channel in summary["hops"]:
            print(f"  hop {channel['hop']}: x{channel['multiplicity']}, prefactor "
                  f"{channel['prefactor_THz']:.3g} THz ({channel['prefactor_from']})")
        for row in summary["waiting"]:
            print(f"  {row['temperature_K']:g} K: rate {row['rate_per_ps']:.3g} /ps, mean "
                  f"waiting time {row['mean_ps']:.3g} ps (median {row['median_ps']:.3g} ps)")
        barriers._write_json(out / "rates.json", summary)
        print(f"  rates in {out / 'rates.json'} (mdkit analyze SWEEP --barrier {out})")
    print(f"  stored in {args.db}")


def cmd_draw(args) -> None:
    from mdkit.analysis import draw

    target = Path(args.target)
    if target.is_dir():
        frames = draw.RunFrames(target)
        frame = len(frames) - 1 if args.at is None else frames.frame_at(args.at)
        scene = frames.scene(frame)
    else:
        if args.at is not None:
            raise MdkitError(f"--at picks a time in a run folder; {target} is a structure file.")
        from mdkit.systems import read_structure

        atoms, sites = read_structure(target)
        scene = draw.structure_scene(atoms, sites)
    picture = draw.draw(scene, args.output, size_px=args.size, show_h=args.hydrogen)
    print(f"mdkit draw: {args.output} ({picture.renderer}, {len(scene.vacant)} vacant "
          f"site(s) circled)")


def cmd_figure(args) -> None:
    from mdkit.analysis import RadiusOfGyration, draw
    from mdkit.analysis.figure import figure4

    folder = Path(args.run)
    frames = draw.RunFrames(folder)
    rg = RadiusOfGyration(frames.universe.atoms).run().results.rg
    stem = Path(args.output).with_suffix("") if args.output else folder / "analysis" / "figure4"
    for path in figure4(frames, rg, stem, at_ps=args.at, formats=_formats(args.formats),
                        dpi=args.dpi):
        print(f"mdkit figure: {path}")


def cmd_report(args) -> None:
    from mdkit.analysis import html_report
    from mdkit.analysis.report import analyze_run

    folders = [Path(f) for f in args.runs]
    runs = [f for f in folders if not (f / "sweep.json").exists()]
    for folder in folders:
        if (folder / "sweep.json").exists():
            print(f"mdkit report: {html_report.sweep_report(folder)}")
        elif not (folder / "analysis" / "summary.json").exists():
            analyze_run(folder)
        elif len(runs) == 1:
            html_report.run_report(folder)
    if len(runs) == 1 and args.output is None:
        print(f"mdkit report: {runs[0] / 'analysis' / 'report.html'}")
    elif runs:
        print(f"mdkit report: {html_report.report(runs, args.output)}")


def cmd_movie(args) -> None:
    from mdkit.analysis import draw
    from mdkit.analysis.movie import write_movie

    frames = draw.RunFrames(args.run)
    path = write_movie(frames, args.output, max_frames=args.frames, fps=args.fps,
                       size_px=args.size, progress=False if args.quiet else None)
    print(f"mdkit movie: {path}")


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in mdkit's form: one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    from mdkit import __version__
    from mdkit.systems import SYSTEMS

    top = _Parser(
        prog="mdkit", description="Molecular dynamics of vacancy migration in cluster ions.")
    top.add_argument("--version", action="version", version=f"mdkit {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    systems = "\n".join(f"  {k:<8} {v}" for k, v in SYSTEMS.items())
    p = sub.add_parser("build", help="build a seed system and describe or write it",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Build a system, print formula, charge, atom count and "
                                   f"site classes, and optionally write it.\n\nSystems:\n"
                                   f"{systems}\n  (and any EMT metal icosahedron: au55, cu147...)")
    p.add_argument("system", help="system name (see above) or a structure file")
    p.add_argument("--dope", metavar="CLASS:ELEMENT",
                   help="replace the atom on a site, e.g. shell:Hg or 5:Hg (site index)")
    p.add_argument("--vacancy", metavar="CLASS|INDEX",
                   help="leave a site empty: a site class (e.g. center) or a site index")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write the structure; format by extension (.xyz = extended XYZ "
                        "with charge and site labels, .cif, .pdb, ...)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("sites", help="print the site table of a structure file",
                       description="Print index, element, class and distance from the "
                                   "centre of every site.  Files written by mdkit keep "
                                   "their sites; others are classified from geometry.")
    p.add_argument("file", help="structure file (XYZ, extended XYZ, CIF, PDB)")
    p.add_argument("--charge", type=int, help="net charge, if the file does not say")
    p.set_defaults(func=cmd_sites)

    p = sub.add_parser("mz", help="m/z and isotope pattern of an ion",
                       description="Masses, m/z and the top isotope peaks of an ion.")
    p.add_argument("formula", help="e.g. Mo6Cl14, Ag29(BDT)12 or [Mo6Cl13]-")
    p.add_argument("--charge", type=int, help="net charge, e.g. -2 (not needed for "
                                              "a bracketed formula like [Mo6Cl14]2-)")
    p.add_argument("--top", type=int, default=5, help="number of peaks to list (default 5)")
    p.set_defaults(func=cmd_mz)

    p = sub.add_parser("run", help="run (or resume) the MD protocol of a run spec",
                       description="Run the stages of a TOML run spec into a run folder "
                                   "beside it.  An interrupted run resumes from its last "
                                   "checkpoint; a finished one is left alone.")
    p.add_argument("spec", help="run spec (TOML), e.g. runs/ag28_iso1_gfnff.toml")
    p.add_argument("--force", action="store_true",
                   help="start afresh; the old run folder is kept under a time-stamped name")
    p.add_argument("--quiet", action="store_true", help="no progress bar or stage lines")
    p.add_argument("--no-analyze", action="store_true",
                   help="do not analyse the finished run (see mdkit analyze)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("analyze", help="Rg, site occupancy, migration events and figures",
                       description="Analyse run folders into RUN/analysis/: rg.csv, "
                                   "occupancy.csv, vacancy.csv, events.csv, summary.json "
                                   "and the figures.  A sweep folder gets the group "
                                   "comparison (first-event survival, residence, Rg, CCS).")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run or sweep folder(s)")
    p.add_argument("--residence-ps", type=_ps, default=0.5,
                   help="time the vacancy must stay in its new class to count as an event "
                        "(default 0.5 ps)")
    p.add_argument("--formats", default="png,pdf", help="figure formats (default png,pdf)")
    p.add_argument("--barrier", metavar="DIR|rates.json",
                   help="for a sweep: overlay the rate prediction of mdkit barrier (its output "
                        "folder or rates.json) on the survival curves, and tabulate predicted "
                        "vs observed first-event times (analysis/rates.csv)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("sweep", help="many runs of a spec on a Dask cluster",
                       description="Expand a run spec over varied keys and seeds into "
                                   "<spec>_sweep/members/ and run them on Dask (a local "
                                   "cluster by default).  Launch it again to continue an "
                                   "interrupted sweep.")
    p.add_argument("spec", help="base run spec (TOML)")
    p.add_argument("--vary", action="append", metavar="KEY=V1,V2",
                   help="vary a key (vacancy, dope, build, temperature_K, calculator, or a "
                        "dotted path like md.timestep_fs); repeatable")
    p.add_argument("--seeds", help="seeds, e.g. 1-20 or 1,2,5")
    p.add_argument("--out", help="sweep folder (default <spec stem>_sweep beside the spec)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="use a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--cluster", choices=["local", "slurm", "pbs"], default="local",
                   help="where to run (slurm/pbs through dask-jobqueue)")
    p.add_argument("--workers", type=int, help="local worker processes (default: all cores)")
    p.add_argument("--cores", type=int, help="cores per batch job (slurm/pbs)")
    p.add_argument("--memory", help="memory per batch job, e.g. 16GiB (slurm/pbs)")
    p.add_argument("--walltime", help="walltime per batch job, e.g. 02:00:00 (slurm/pbs)")
    p.add_argument("--jobs", type=int, help="number of batch jobs (slurm/pbs)")
    p.add_argument("--gpus-per-worker", type=int, default=0, metavar="N",
                   help="GPUs per worker for torch engines (sevennet, chgnet, mace): locally "
                        "one worker per N GPUs, each pinned to its own; on slurm/pbs each job "
                        "is one worker asking for N GPUs")
    p.add_argument("--mpi-ranks", type=int, default=1,
                   help="MPI ranks per run (GPAW); runs under mpiexec when > 1")
    p.add_argument("--no-analyze", action="store_true", help="do not analyse the runs")
    p.add_argument("--quiet", action="store_true", help="no progress (bar or lines)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("ccs", help="collision cross sections of a structure or along runs",
                       description="CCS by the projection approximation (pa), exact hard-"
                                   "sphere scattering (ehss) or the trajectory method (tm) "
                                   "of any structure file (extended-XYZ per-atom charges are "
                                   "used), a system name, or snapshots along run folders "
                                   "(table and figure into RUN/analysis/).  Several targets "
                                   "are compared: relative difference to the first, with "
                                   "its error.")
    p.add_argument("targets", nargs="+", metavar="RUN|FILE|SYSTEM",
                   help="run folders, structure files or system names (ag28, ag28hg: "
                        "the isomer families)")
    p.add_argument("--every", type=_ps, default=0.5, help="snapshot spacing (default 0.5ps)")
    p.add_argument("--method", default="tm", choices=["pa", "ehss", "tm"])
    p.add_argument("--gas", default="N2",
                   help="N2, He, or a gas defined in the --params file (default N2)")
    p.add_argument("--n2-model", choices=["mobcal-2012", "random-axis"],
                   help="TM orientation model of a two-site gas: three Boltzmann-weighted "
                        "fixed axes (MOBCAL-2012) or one random axis per trajectory "
                        "(default: the model the gas's parameters were fitted in)")
    p.add_argument("--charge", type=int,
                   help="net charge of a structure file, if the file does not say")
    p.add_argument("--temperature", type=float, default=298.0, help="gas temperature / K")
    p.add_argument("--error", type=float, default=0.01,
                   help="target relative statistical error (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="threads (default: all cores)")
    p.add_argument("--params", help="TOML file overriding element or gas parameters "
                                    "(layout of mdkit/data/ccs_parameters.toml)")
    p.add_argument("--quiet", action="store_true", help="no progress (bar or lines)")
    p.set_defaults(func=cmd_ccs)

    p = sub.add_parser("energies", help="relaxed isomer, fragment-loss and reaction energies, "
                                         "dipoles (stored in an ASE database)",
                       description="Static energetics with any registered calculator.  "
                                   "isomers ag28 (Iso1-4) | ag28hg (Hg sites) | FILES...; "
                                   "loss SYSTEM --fragment apical|Hg|...; reaction "
                                   "--reactant 2:mo6cl13 --product 1:mo6cl14 --product "
                                   "1:mo6cl12.xyz; dipole SYSTEM...  Results go into an ASE "
                                   "database (SQLite file or postgresql:// URL) and are "
                                   "reused when asked again.")
    p.add_argument("task", choices=["isomers", "loss", "reaction", "dipole"])
    p.add_argument("systems", nargs="*", metavar="SYSTEM", help="system names or files")
    p.add_argument("--calculator", default="gfnff", help="registry name (default gfnff)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="calculator option, e.g. basis=dzp (repeatable)")
    p.add_argument("--fragment", help="for loss: site class, element or atom index")
    p.add_argument("--reactant", action="append", metavar="C:SYSTEM")
    p.add_argument("--product", action="append", metavar="C:SYSTEM")
    p.add_argument("--origin", default="metal", choices=["metal", "com"],
                   help="dipole origin (default: centre of the metal atoms)")
    p.add_argument("--fmax", type=float, default=0.05, help="force criterion / eV/Å")
    p.add_argument("--steps", type=int, default=500, help="optimiser step limit")
    p.add_argument("--db", default="mdkit.db", help="ASE database file or postgresql:// URL")
    p.set_defaults(func=cmd_energies)

    p = sub.add_parser("barrier", help="minimum-energy path, barriers and rates of a "
                                        "vacancy hop (stored in an ASE database)",
                       description="Climbing-image NEB (ASE) between the structure with the "
                                   "vacancy on one site and on another, with any registered "
                                   "calculator.  HOP: I-J (vacancy at site I -> site J, the "
                                   "atom of J moves into I), A-to-B (site classes, every "
                                   "symmetry-distinct hop to the nearest B sites) or "
                                   "core-to-shell.  Writes OUT/HOP/path.xyz, profile.png, "
                                   "barrier.json (and OUT/rates.json with rates); an "
                                   "interrupted band resumes, a stored one is reused.")
    p.add_argument("system", metavar="SYSTEM|FILE", help="system name or structure file")
    p.add_argument("hop", metavar="HOP", help="e.g. core-to-shell, shell-to-shell, 0-5")
    p.add_argument("--vacancy", metavar="CLASS|INDEX",
                   help="leave a site empty when building (ag28: default center = Iso1)")
    p.add_argument("--calculator", default="gfnff", help="registry name (default gfnff)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="calculator option (repeatable)")
    p.add_argument("--images", type=int, default=5, help="inner NEB images (default 5)")
    p.add_argument("--fmax", type=float, default=0.01,
                   help="NEB force criterion / eV/Å (default 0.01)")
    p.add_argument("--steps", type=int, default=1000, help="step limit (default 1000)")
    p.add_argument("--vibrations", action="store_true",
                   help="harmonic-TST prefactors from vibrations at the initial state and "
                        "each saddle (6 force calls per atom each)")
    p.add_argument("--attempt-THz", type=float, help="or a stated attempt frequency / THz")
    p.add_argument("--temperature", type=float, action="append",
                   help="temperature / K for the rates (repeatable, default 290)")
    p.add_argument("-o", "--out", help="output folder (default barrier_SYSTEM_HOP_CALC)")
    p.add_argument("--db", default="mdkit.db", help="ASE database file or postgresql:// URL")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_barrier)

    p = sub.add_parser("plot", help="compare runs in one figure",
                       description="Plot a quantity of several runs on one figure.")
    p.add_argument("quantity", choices=["rg"], help="what to plot")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders")
    p.add_argument("--selection", default="ion", choices=["ion", "metal", "core"],
                   help="atoms for Rg (default ion)")
    p.add_argument("-o", "--output", default="rg.png", help="output file (default rg.png)")
    p.add_argument("--formats", default="png,pdf", help="figure formats (default png,pdf)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("validate", help="a run's engine against a reference engine on its frames",
                       description="Recompute energies and forces of frames spread over a "
                                   "run with the run's engine and a reference (GPAW LCAO by "
                                   "default): force MAE/RMSE per element, largest force "
                                   "error, energy error per atom; a table and a parity plot "
                                   "in RUN/analysis/.  Interrupted, it continues.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--against", default="gpaw", help="reference engine (registry name)")
    p.add_argument("--frames", type=int, default=5, help="frames, spread evenly (default 5)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="an option of the reference engine, e.g. basis=dzp; repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("snapshots", help="export frames for collision-cross-section programs",
                       description="Write chosen frames, centred, as XYZ (and IMoS / MOBCAL "
                                   "inputs) with an index.csv.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--every", type=_ps, help="one frame every DURATION (e.g. 1ps)")
    p.add_argument("--at", type=_ps, action="append", help="a frame at this time (repeatable)")
    p.add_argument("--events", action="store_true", help="the frame of each migration event")
    p.add_argument("--window", type=_ps, default=0.0,
                   help="with --events, also the frames this long before and after")
    p.add_argument("--extremes", action="store_true", help="the frames of minimal and maximal Rg")
    p.add_argument("--stage-ends", action="store_true", help="the last frame of each stage")
    p.add_argument("--format", default="xyz", help="xyz, imos, mfj; comma-separated")
    p.add_argument("-o", "--output", help="output folder (default RUN/snapshots)")
    p.set_defaults(func=cmd_snapshots)

    p = sub.add_parser("draw", help="picture of a structure or a run frame in the site colours",
                       description="Draw metal atoms by site class (centre and shell blue, "
                                   "staple pink, tetrahedral green, Hg purple), S yellow, C "
                                   "grey, each vacant site as a red circle and the migrating "
                                   "atoms ringed; POV-Ray when installed, else matplotlib.")
    p.add_argument("target", metavar="FILE|RUN", help="structure file or run folder")
    p.add_argument("--at", type=_ps, help="time in the run (default: its last frame)")
    p.add_argument("-o", "--output", required=True, help="picture: .png, .pdf or .svg")
    p.add_argument("--size", type=int, default=600, help="width in pixels (default 600)")
    p.add_argument("--hydrogen", action="store_true", help="show H atoms")
    p.set_defaults(func=cmd_draw)

    p = sub.add_parser("figure", help="snapshots above the Rg curve (the Figure-4 panel)",
                       description="Rg vs time with the stages shaded, and snapshots (start, "
                                   "each event, end, or --at times) joined to their times.")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("--at", type=_ps, action="append", help="a snapshot time (repeatable)")
    p.add_argument("-o", "--output", help="file stem (default RUN/analysis/figure4)")
    p.add_argument("--formats", default="png,pdf", help="figure formats (default png,pdf)")
    p.add_argument("--dpi", type=int, default=300,
                   help="PNG resolution (default 300; 110 for a small web picture)")
    p.set_defaults(func=cmd_figure)

    p = sub.add_parser("report", help="self-contained HTML report of runs or a sweep",
                       description="Write RUN/analysis/report.html (analysing the run first "
                                   "if needed): summary, Rg and CCS, occupancy, events, the "
                                   "Figure-4 panel and a 3-D trajectory viewer.  Several runs "
                                   "go side by side on one page (-o); a sweep folder gets the "
                                   "ensemble page with links to its members' reports.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run or sweep folder(s)")
    p.add_argument("-o", "--output", help="page for several runs, e.g. compare.html")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("movie", help="movie of a run in the site colours",
                       description="Frames drawn as by mdkit draw, the time and stage on each, "
                                   "encoded by ffmpeg (MP4 or GIF).")
    p.add_argument("run", metavar="RUN", help="run folder")
    p.add_argument("-o", "--output", required=True, help="movie: .mp4 or .gif")
    p.add_argument("--frames", type=int, default=100, help="frames, evenly spaced (default 100)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second (default 10)")
    p.add_argument("--size", type=int, default=480, help="width in pixels (default 480)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.set_defaults(func=cmd_movie)
    return top


def _mpi_environment() -> None:
    """Let GPAW use its compiled MPI when started as ``mpiexec -n N mdkit ...``."""
    import os

    launched = any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"))
    if launched:
        os.environ.setdefault("GPAW_MPI_BACKEND", "cgpaw")
        try:  # before anything asks ase.parallel.world, so that ASE uses GPAW's MPI
            import gpaw.mpi  # noqa: F401
        except ImportError:
            pass


def main(argv=None) -> int:
    _mpi_environment()
    args = parser().parse_args(argv)
    try:
        code = args.func(args)  # a command may report partial failure (a sweep) as 1
    except MdkitError as err:
        print(f"mdkit {args.command}: error: {err}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
