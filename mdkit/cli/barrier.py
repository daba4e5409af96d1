from __future__ import annotations

import sys
from pathlib import Path

from mdkit.cli.common import DB, ENGINE, OPTION, QUIET, options, positive_float
from mdkit.errors import MdkitError


class CLICommand:
    """minimum-energy path, barriers and rates of a vacancy hop (stored in an ASE database)

    Climbing-image NEB (ASE) between the structure with the vacancy on one
    site and on another, with any registered calculator.  HOP: I-J (vacancy
    at site I -> site J, the atom of J moves into I), A-to-B (site classes,
    every symmetry-distinct hop to the nearest B sites) or core-to-shell.
    Writes OUT/HOP/path.xyz, profile.png, barrier.json (and OUT/rates.json
    with rates); an interrupted band resumes, a stored one is reused.
    """

    parents = (ENGINE, OPTION, DB, QUIET)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("system", metavar="SYSTEM|FILE",
                            help="system name or structure file")
        parser.add_argument("hop", metavar="HOP",
                            help="e.g. core-to-shell, shell-to-shell, 0-5")
        parser.add_argument("--vacancy", metavar="CLASS|INDEX",
                            help="leave a site empty when building (ag28: default center = "
                                 "Iso1)")
        parser.add_argument("--images", type=int, default=5,
                            help="inner NEB images (default 5)")
        parser.add_argument("--fmax", type=float, default=0.01,
                            help="NEB force criterion / eV/Å (default 0.01)")
        parser.add_argument("--steps", type=int, default=1000,
                            help="step limit (default 1000)")
        parser.add_argument("--vibrations", action="store_true",
                            help="harmonic-TST prefactors from vibrations at the initial "
                                 "state and each saddle (6 force calls per atom each)")
        parser.add_argument("--attempt-THz", type=positive_float,
                            help="or a stated attempt frequency / THz")
        parser.add_argument("--temperature", type=positive_float, action="append",
                            help="temperature / K for the rates (repeatable, default 290)")
        parser.add_argument("-o", "--out",
                            help="output folder (default barrier_SYSTEM_HOP_CALC)")

    @staticmethod
    def run(args):
        from mdkit import barriers, rates
        from mdkit.calculators import engine_for
        from mdkit.systems import build

        engine_for(args.calculator)  # an unknown or missing engine is said before any work
        engine = options(args.option)
        if args.attempt_THz is not None and args.vibrations:
            raise MdkitError("give --attempt-THz or --vibrations, not both.")
        atoms, sites = build(args.system, vacancy=args.vacancy)
        hops = barriers.find_hops(atoms, sites, args.hop)
        stem = Path(args.system).stem if Path(args.system).suffix else args.system
        out = Path(args.out or f"barrier_{stem}_{args.hop}_{args.calculator}")
        print(f"mdkit barrier: {atoms.info.get('name', stem)}, {args.hop}: {len(hops)} "
              f"distinct hop(s) with {args.calculator}", file=sys.stderr)
        results = []
        for hop in hops:
            result = barriers.barrier(atoms, sites, hop, args.calculator, engine,
                                      n_images=args.images, fmax=args.fmax, steps=args.steps,
                                      db=args.db, folder=out / hop.name,
                                      progress=not args.quiet)
            results.append(result)
            print(f"{hop.describe()}: barrier {result['barrier_forward_eV']:.3f} eV forward, "
                  f"{result['barrier_back_eV']:.3f} eV back, reaction "
                  f"{result['reaction_eV']:+.3f} eV"
                  + ("" if result["converged"] else f" (NOT converged: NEB fmax "
                                                    f"{result['fmax_eV_A']:.3f} eV/Å)")
                  + (" (from the database)" if result["from_database"] else ""))
            print(f"  path {out / hop.name / 'path.xyz'}, profile "
                  f"{out / hop.name / 'profile.png'}")
        if args.vibrations or args.attempt_THz is not None:
            summary = rates.hop_rates(results, args.temperature or [290.0],
                                      attempt_THz=args.attempt_THz,
                                      vibrations=args.vibrations, calculator=args.calculator,
                                      options=engine, folder=out)
            summary.update(system=atoms.info.get("name", stem), hop=args.hop,
                           calculator=args.calculator)
            for channel in summary["hops"]:
                print(f"  hop {channel['hop']}: x{channel['multiplicity']}, prefactor "
                      f"{channel['prefactor_THz']:.3g} THz ({channel['prefactor_from']})")
            for row in summary["waiting"]:
                print(f"  {row['temperature_K']:g} K: rate {row['rate_per_ps']:.3g} /ps, mean "
                      f"waiting time {row['mean_ps']:.3g} ps (median {row['median_ps']:.3g} "
                      "ps)")
            barriers._write_json(out / "rates.json", summary)
            print(f"  rates in {out / 'rates.json'} (mdkit analyze SWEEP --barrier {out})")
        print(f"  stored in {args.db}")
