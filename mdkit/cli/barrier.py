from __future__ import annotations

from mdkit.cli.common import DB, ENGINE, FORCE, OPTION, QUIET, options, positive_float


class CLICommand:
    """minimum-energy path, barriers and rates of a vacancy hop (stored in an ASE database)

    Climbing-image NEB (ASE) between the structure with the vacancy on one
    site and on another, with any registered calculator.  HOP: I-J (vacancy
    at site I -> site J, the atom of J moves into I), A-to-B (site classes,
    every symmetry-distinct hop to the nearest B sites) or core-to-shell.
    Writes OUT/HOP/path.xyz, profile.png, barrier.json (and OUT/rates.json
    with rates); an interrupted band resumes, a stored one is reused.
    """

    parents = (ENGINE, OPTION, DB, QUIET, FORCE)

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
        from mdkit.barrierstudy import barrier_study

        study = barrier_study(args.system, args.hop, args.calculator, options(args.option),
                              vacancy=args.vacancy, n_images=args.images, fmax=args.fmax,
                              steps=args.steps, vibrations=args.vibrations,
                              attempt_THz=args.attempt_THz, temperatures_K=args.temperature,
                              db=args.db, out=args.out, force=args.force,
                              progress=not args.quiet)
        folder = study["folder"]
        for hop, result in zip(study["hops"], study["results"]):
            print(f"{hop.describe()}: barrier {result['barrier_forward_eV']:.3f} eV forward, "
                  f"{result['barrier_back_eV']:.3f} eV back, reaction "
                  f"{result['reaction_eV']:+.3f} eV"
                  + ("" if result["converged"] else f" (NOT converged: NEB fmax "
                                                    f"{result['fmax_eV_A']:.3f} eV/Å)")
                  + (" (from the database)" if result["from_database"] else ""))
            print(f"  files {', '.join(str(p) for p in result['files'])}")
        summary = study["rates"]
        if summary is not None:
            for channel in summary["hops"]:
                print(f"  hop {channel['hop']}: x{channel['multiplicity']}, prefactor "
                      f"{channel['prefactor_THz']:.3g} THz ({channel['prefactor_from']})")
            for row in summary["waiting"]:
                print(f"  {row['temperature_K']:g} K: rate {row['rate_per_ps']:.3g} /ps, mean "
                      f"waiting time {row['mean_ps']:.3g} ps (median {row['median_ps']:.3g} "
                      "ps)")
            print(f"  rates in {folder.rates} (mdkit analyze SWEEP --barrier {folder.path})")
        print(f"  stored in {args.db}")
