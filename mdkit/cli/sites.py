from __future__ import annotations

from mdkit.cli.build import describe


class CLICommand:
    """print the site table of a structure file

    Print index, element, class and distance from the centre of every site.
    Files written by mdkit keep their sites; others are classified from
    geometry.
    """

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("file", help="structure file (XYZ, extended XYZ, CIF, PDB)")
        parser.add_argument("--charge", type=int, help="net charge, if the file does not say")

    @staticmethod
    def run(args):
        import numpy as np

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
        print(describe(atoms, sites))
