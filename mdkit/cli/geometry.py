from __future__ import annotations

from pathlib import Path


class CLICommand:
    """how big the ion is: bond lengths, rings, radii and Rg of a structure

    The size audit of mdkit.geometry for a structure file or a system name:
    bond-length statistics by element pair (metal atoms split by site class),
    S...S across each aromatic ring and the ring's tilt to the radial line
    from the metal centre, radii of each site class, of S and of the outer
    atoms from the metal centre, and the mass-weighted radius of gyration.
    """

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("targets", nargs="+", metavar="FILE|SYSTEM",
                            help="structure files (XYZ, extended XYZ, CIF, PDB) or system "
                                 "names (ag29, ag28hg, ...)")
        parser.add_argument("--charge", type=int,
                            help="net charge of a structure file, if the file does not say")

    @staticmethod
    def run(args):
        from mdkit.errors import SiteMapError
        from mdkit.geometry import format_audit, size_audit
        from mdkit.systems import build, read_structure
        from mdkit.systems.io import read_atoms

        for target in args.targets:
            if Path(target).is_file():
                try:
                    atoms, sites = read_structure(target, charge=args.charge)
                except SiteMapError:  # no metal cluster (a ligand alone): no site classes
                    atoms, sites = read_atoms(target), None
            else:
                atoms, sites = build(target)
            print(format_audit(size_audit(atoms, sites), f"{target}: {len(atoms)} atoms"))
            print()
