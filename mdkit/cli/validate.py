from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import OPTION, QUIET, options


class CLICommand:
    """a run's engine against a reference engine on its frames

    Recompute energies and forces of frames spread over a run with the run's
    engine and a reference (GPAW LCAO by default): force MAE/RMSE per
    element, largest force error, energy error per atom; a table and a
    parity plot in RUN/analysis/.  Interrupted, it continues.
    """

    parents = (OPTION, QUIET)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("run", metavar="RUN", help="run folder")
        parser.add_argument("--against", default="gpaw",
                            help="reference engine (registry name)")
        parser.add_argument("--frames", type=int, default=5,
                            help="frames, spread evenly (default 5)")
        parser.add_argument("--cut", metavar="ATOM:RADIUS[:CHARGE]",
                            help="compare on the fragment within RADIUS Å of atom ATOM "
                                 "(cut bonds of C, S, ... capped with H), of net CHARGE "
                                 "(default 0), instead of the whole ion")

    @staticmethod
    def run(args):
        from mdkit.validation import validate_run

        result = validate_run(args.run, args.against, args.frames, options(args.option),
                              progress=False if args.quiet else None, cut=_cut(args.cut))
        run = result["run_engine"]["name"]
        where = f", fragment {result['cut']['formula']}" if "cut" in result else ""
        print(f"{run} against {args.against}{where} on {len(result['frames'])} frames "
              f"({result['times_ps'][0]:.2f}-{result['times_ps'][-1]:.2f} ps)")
        print(f"  {'element':<8} {'n':>6} {'MAE':>8} {'RMSE':>8} {'max':>8} {'|F| ref':>8}  "
              "(eV/Å)")
        for row in result["forces"]:
            print(f"  {row['element']:<8} {row['n_atoms']:>6} {row['mae_eV_per_A']:8.4f} "
                  f"{row['rmse_eV_per_A']:8.4f} {row['max_eV_per_A']:8.4f} "
                  f"{row['reference_rms_eV_per_A']:8.4f}")
        energy = result["energy"]
        if energy["rmse_eV_per_atom"] is None:
            print("  energy: one frame gives no energy difference to compare (use --frames "
                  ">= 2)")
        else:
            print(f"  energy error {1000 * energy['rmse_eV_per_atom']:.2f} meV/atom RMS, "
                  f"{1000 * energy['max_eV_per_atom']:.2f} meV/atom largest, after removing "
                  f"the engines' offset of {energy['offset_eV_per_atom']:.3f} eV/atom")
        print(f"  table, summary and parity plot: {Path(args.run) / 'analysis'}/validation_"
              f"{result['label']}.csv|json|png")


def _cut(text):
    """``"12:4.5:-1"`` -> {"centre": 12, "radius_A": 4.5, "charge": -1}; None -> None."""
    if text is None:
        return None
    from mdkit.errors import MdkitError

    parts = text.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        return {"centre": int(parts[0]), "radius_A": float(parts[1]),
                "charge": int(parts[2]) if len(parts) == 3 else 0}
    except ValueError:
        raise MdkitError(f"--cut {text!r} must be ATOM:RADIUS or ATOM:RADIUS:CHARGE with an "
                         "integer atom index, a radius in Å and an integer charge, e.g. "
                         "0:3.0 or 17:4.5:-1.") from None
