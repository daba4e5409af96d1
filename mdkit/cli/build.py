from __future__ import annotations

import argparse
from pathlib import Path

from mdkit.cli.common import FORCE
from mdkit.errors import MdkitError


def describe(atoms, sites) -> str:
    """Name, formula, charge, atom count and site classes, as build and sites print them."""
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


def _format_check(path: Path) -> None:
    """Refuse an output whose format ASE cannot write, before anything is built."""
    from ase.io.formats import filetype, ioformats

    try:
        writable = ioformats[filetype(str(path), read=False)].can_write
    except (KeyError, ValueError):
        writable = False
    if not writable:
        raise MdkitError(f"cannot write {path}: ASE writes no format for {path.suffix!r}; "
                         "use .xyz (extended XYZ), .cif or .pdb.")


def _structure_mdkit_wrote(path: Path) -> bool:
    """A structure mdkit wrote carries its site labels in the extended-XYZ header."""
    try:
        with path.open(errors="replace") as handle:
            return "site_class" in handle.readline() + handle.readline()
    except OSError:
        return False


class CLICommand:
    """build a seed system and describe or write it

    Build a system, print formula, charge, atom count and site classes, and
    optionally write it.
    """

    parents = (FORCE,)

    @staticmethod
    def add_arguments(parser):
        from mdkit.systems import SYSTEMS

        systems = "\n".join(f"  {k:<8} {v}" for k, v in SYSTEMS.items())
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = (f"systems:\n{systems}\n  (and any EMT metal icosahedron: au55, "
                         "cu147...)")
        parser.add_argument("system", help="system name (see below) or a structure file")
        parser.add_argument("--dope", metavar="CLASS:ELEMENT",
                            help="replace the atom on a site, e.g. shell:Hg or 5:Hg (site "
                                 "index)")
        parser.add_argument("--vacancy", metavar="CLASS|INDEX",
                            help="leave a site empty: a site class (e.g. center) or a site "
                                 "index")
        parser.add_argument("-o", "--output", metavar="FILE",
                            help="write the structure; format by extension (.xyz = extended "
                                 "XYZ with charge and site labels, .cif, .pdb, ...)")

    @staticmethod
    def run(args):
        from mdkit.systems import build, write_structure
        from mdkit.systems.io import EXTXYZ

        from mdkit.writer import claim, output_path

        if args.output:
            if not Path(args.output).parent.is_dir():
                raise MdkitError(f"cannot write {args.output}: folder "
                                 f"{Path(args.output).parent} does not exist.")
            _format_check(Path(args.output))
            claim(Path(args.output), force=args.force, mine=_structure_mdkit_wrote)  # first
        atoms, sites = build(args.system, args.dope, args.vacancy)
        print(describe(atoms, sites))
        if args.output:
            with output_path(Path(args.output), mine=_structure_mdkit_wrote) as tmp:
                write_structure(tmp, atoms, sites)
            print(f"  written  {args.output}")
            if len(sites.vacant) and not args.output.lower().endswith(EXTXYZ):
                print(f"  note     {args.output} keeps no site labels, so the vacant site is "
                      "lost; write .xyz to keep it.")
