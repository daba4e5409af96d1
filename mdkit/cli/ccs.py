from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import QUIET, duration_ps


def _label(result: dict) -> str:
    model = f", {result['orientation_model']}" if result["orientation_model"] else ""
    return f"{result['method']}, {result['gas']}{model}, {result['temperature_K']:g} K"


def _systematic(result: dict, ccs_A2: float | None = None) -> str:
    """``± X (sys)``: the parameter-set band, scaled to ``ccs_A2`` if given."""
    band = result["systematic"]
    if band is None or band["relative"] is None:
        return "± n/a (sys)"
    value = band["relative"] * ccs_A2 if ccs_A2 is not None else result["systematic_A2"]
    return f"± {value:.2f} (sys)"


class CLICommand:
    """collision cross sections of a structure or along runs

    CCS by the projection approximation (pa), exact hard-sphere scattering
    (ehss) or the trajectory method (tm) of any structure file (extended-XYZ
    per-atom charges are used), a system name, or snapshots along run
    folders (table and figure into RUN/analysis/).  Several targets are
    compared: relative difference to the first, with its error.
    """

    parents = (QUIET,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("targets", nargs="+", metavar="RUN|FILE|SYSTEM",
                            help="run folders, structure files or system names (ag28, "
                                 "ag28hg: the isomer families)")
        parser.add_argument("--every", type=duration_ps, default=0.5,
                            help="snapshot spacing (default 0.5ps)")
        parser.add_argument("--method", default="tm", choices=["pa", "ehss", "tm"])
        parser.add_argument("--gas", default="N2",
                            help="N2, He, or a gas defined in the --params file (default N2)")
        parser.add_argument("--n2-model", choices=["mobcal-2012", "random-axis"],
                            help="TM orientation model of a two-site gas: three Boltzmann-"
                                 "weighted fixed axes (MOBCAL-2012) or one random axis per "
                                 "trajectory (default: the model the gas's parameters were "
                                 "fitted in)")
        parser.add_argument("--charge", type=int,
                            help="net charge of a structure file, if the file does not say")
        parser.add_argument("--temperature", type=float, default=298.0,
                            help="gas temperature / K")
        parser.add_argument("--error", type=float, default=0.01,
                            help="target relative statistical error (default 0.01)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--workers", type=int, help="threads (default: all cores)")
        parser.add_argument("--params", help="TOML file overriding element or gas parameters "
                                             "(layout of mdkit/data/ccs_parameters.toml)")
        parser.add_argument("--param-set", default="mdkit",
                            help="named parameter set: mdkit (default), mobcal-2012, "
                                 "uff-x0.93, uff-x1.20 (mdkit/data/ccs_parameter_sets/)")

    @staticmethod
    def run(args):
        import numpy as np

        from mdkit.analysis import ccs as ccsmod
        from mdkit.systems import build_family

        options = {"method": args.method, "gas": args.gas, "temperature_K": args.temperature,
                   "target_error": args.error, "seed": args.seed, "n_workers": args.workers,
                   "params": args.params, "orientation": args.n2_model,
                   "param_set": args.param_set}
        tables, defaults = {}, set()
        for target in args.targets:
            path = Path(target)
            if path.is_dir():
                run = ccsmod.ccs_of_run(path, args.every, False if args.quiet else None,
                                        **options)
                values = np.array([r["ccs_A2"] for r in run["results"]])
                first = run["results"][0]
                print(f"mdkit ccs: {path.name}: {len(values)} snapshots, CCS({_label(first)}) "
                      f"{values.mean():.2f} ± {values.std():.2f} (spread) "
                      f"{_systematic(first, values.mean())} Å² over the run "
                      f"({first['param_set']} parameters) -> {run['table']}")
                tables[path.name] = run["results"]
                defaults.update(first.get("defaults_used") or ())
                continue
            if path.is_file():
                atoms, charges = ccsmod.read_ion(path, args.charge)
                ions = {path.stem: (atoms, charges)}
            else:  # a system name (or the isomer families ag28, ag28hg) to build
                ions = {label: (atoms, None) for label, atoms in build_family([target]).items()}
            for label, (atoms, charges) in ions.items():
                result = ccsmod.ccs(atoms, charges=charges, **options)
                source = "per-atom charges of the file" if charges is not None \
                    else "spread evenly"
                print(f"{target if len(ions) == 1 else label}: CCS({_label(result)}) = "
                      f"{result['ccs_A2']:.2f} ± {result['error_A2']:.2f} (stat) "
                      f"{_systematic(result)} Å² ({result['param_set']} parameters, net "
                      f"charge {result['net_charge']:+.2f} e, {source})")
                tables[label] = [result]
                defaults.update(result.get("defaults_used") or ())
        if len(tables) > 1:
            rows = ccsmod.compare(tables)
            print(f"{'ion or run':<28} {'CCS / Å²':>9} {'± error':>8} {'vs first / %':>17}")
            for row in rows:
                print(f"{row['label']:<28} {row['mean_A2']:9.2f} {row['sem_A2']:8.2f} "
                      f"{row['difference_percent']:+8.2f} ± "
                      f"{row['difference_error_percent']:.2f}")
        _caution(defaults)


def _caution(defaults) -> None:
    """An absolute CCS resting on unpublished parameters is less certain than its band,
    which spans the published sets only: say so once."""
    if defaults:
        print(f"  note: {', '.join(sorted(defaults))} take UFF-based defaults (no published "
              "value for this gas); the (sys) band spans the published parameter sets only, "
              "and an absolute CCS of such an ion can be off by much more (the ligated Ag "
              "clusters lie 8-16 % above their measured CCS: README, \"How big is the "
              "ion?\"). Differences between related ions are the reliable numbers.")
