from __future__ import annotations


class CLICommand:
    """m/z and isotope pattern of an ion

    Masses, m/z and the top isotope peaks of an ion.
    """

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("formula", help="e.g. Mo6Cl14, Ag29(BDT)12 or [Mo6Cl13]-")
        parser.add_argument("--charge", type=int,
                            help="net charge, e.g. -2 (not needed for a bracketed formula "
                                 "like [Mo6Cl14]2-)")
        parser.add_argument("--top", type=int, default=5,
                            help="number of peaks to list (default 5)")

    @staticmethod
    def run(args):
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
