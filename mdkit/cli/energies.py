from __future__ import annotations

from mdkit.cli.common import DB, ENGINE, OPTION, options
from mdkit.errors import MdkitError


def _species(items) -> list:
    """``["2:mo6cl13"]`` -> ``[(2.0, Atoms)]``."""
    from mdkit.systems import build

    side = []
    for item in items:
        coefficient, _, name = item.partition(":")
        try:
            side.append((float(coefficient), build(name)[0]))
        except ValueError:
            raise MdkitError(f"species {item!r} must be COEFFICIENT:SYSTEM_OR_FILE, "
                             "e.g. 2:mo6cl13.") from None
    return side


class CLICommand:
    """relaxed isomer, fragment-loss and reaction energies, dipoles (stored in an ASE database)

    Static energetics with any registered calculator.  isomers ag28
    (Iso1-4) | ag28hg (Hg sites) | FILES...; loss SYSTEM --fragment
    apical|Hg|...; reaction --reactant 2:mo6cl13 --product 1:mo6cl14
    --product 1:mo6cl12.xyz; dipole SYSTEM...  Results go into an ASE
    database (SQLite file or postgresql:// URL) and are reused when asked
    again.
    """

    parents = (ENGINE, OPTION, DB)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("task", choices=["isomers", "loss", "reaction", "dipole"])
        parser.add_argument("systems", nargs="*", metavar="SYSTEM",
                            help="system names or files")
        parser.add_argument("--fragment", help="for loss: site class, element or atom index")
        parser.add_argument("--reactant", action="append", metavar="C:SYSTEM")
        parser.add_argument("--product", action="append", metavar="C:SYSTEM")
        parser.add_argument("--origin", default="metal", choices=["metal", "com"],
                            help="dipole origin (default: centre of the metal atoms)")
        parser.add_argument("--fmax", type=float, default=0.05,
                            help="force criterion / eV/Å")
        parser.add_argument("--steps", type=int, default=500, help="optimiser step limit")

    @staticmethod
    def run(args):
        from ase.units import kJ, mol

        from mdkit import energetics
        from mdkit.systems import build, build_family

        engine = options(args.option)
        common = {"fmax": args.fmax, "steps": args.steps, "db": args.db}
        if args.task == "isomers":
            rows = energetics.isomer_energies(build_family(args.systems), args.calculator,
                                              engine, **common)
            print(energetics.isomer_table(rows))
        elif args.task == "loss":
            if len(args.systems) != 1 or not args.fragment:
                raise MdkitError("energies loss takes one SYSTEM and --fragment, e.g. "
                                 "mdkit energies loss mo6cl14 --fragment apical.")
            result = energetics.fragment_loss(build(args.systems[0]), args.fragment,
                                              args.calculator, engine, **common)
            print(f"{result['equation']}: {result['energy_eV']:.3f} eV ({args.calculator})")
        elif args.task == "reaction":
            result = energetics.reaction_energy(_species(args.reactant or []),
                                                _species(args.product or []),
                                                args.calculator, engine, **common)
            print(f"{result['equation']}: {result['energy_eV']:.3f} eV "
                  f"({result['energy_eV'] / (kJ / mol):.1f} kJ/mol, {args.calculator})")
        else:
            for label, atoms in build_family(args.systems).items():
                relaxed, _ = energetics.relax(atoms, args.calculator, engine, **common)
                dipole = energetics.dipole_moment(relaxed, origin=args.origin)
                print(f"{label}: dipole {dipole['magnitude_D']:.2f} D about the {args.origin} "
                      f"origin, from {dipole['source']} ({args.calculator}, relaxed to "
                      f"{args.fmax} eV/Å)")
        print(f"  stored in {args.db}")
