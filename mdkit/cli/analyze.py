from __future__ import annotations

from pathlib import Path

from mdkit.cli.common import FORMATS, duration_ps, figure_formats


def analyze_and_print(folder, residence_ps, formats, progress=None) -> None:
    """Analyse one run folder and print its statement, Rg and where the outputs are."""
    from mdkit.analysis.report import analyze_run

    from mdkit.runfolder import RunFolder

    summary = analyze_run(folder, residence_ps=residence_ps, formats=formats,
                          progress=progress)
    print(f"mdkit analyze: {summary['statement']}")
    rg = summary["rg_angstrom"].get("ion")
    if rg is not None:  # an ion of one atom has no Rg
        change = "" if rg["change_percent"] is None else \
            f"; {rg['change_percent']:+.2f} % from the first to the last tenth of the run"
        print(f"  Rg {rg['mean']:.3f} ± {rg['std']:.3f} Å (range {rg['min']:.3f}-"
              f"{rg['max']:.3f}{change})")
    run = RunFolder(folder)
    print(f"  tables, summary.json and figures in {run.output('')}")
    if run.report.exists():
        print(f"  report: {run.report}")


def _print_rates(groups) -> None:
    def ps(value):
        return "-" if value is None else f"{value:.3g}"

    print(f"{'group':<24} {'T / K':>6} {'events':>7} {'predicted mean':>15} "
          f"{'observed mean (95 %)':>24} {'predicted median':>17} {'KM median (95 %)':>22}")
    for g in groups:
        print(f"{g['group']:<24} {g['temperature_used_K']:>6.0f} "
              f"{g['n_events']:>3}/{g['n_runs']:<3} "
              f"{ps(g['predicted_mean_ps']):>12} ps "
              f"{ps(g['observed_mean_ps']):>7} ({ps(g['observed_mean_low_ps'])}-"
              f"{ps(g['observed_mean_high_ps'])}) ps {ps(g['predicted_median_ps']):>14} ps "
              f"{ps(g['median_first_event_ps']):>7} ({ps(g['median_low_ps'])}-"
              f"{ps(g['median_high_ps'])}) ps")


class CLICommand:
    """Rg, site occupancy, migration events and figures

    Analyse run folders into RUN/analysis/: rg.csv, occupancy.csv,
    vacancy.csv, events.csv, summary.json and the figures.  A sweep folder
    gets the group comparison (first-event survival, residence, Rg, CCS).
    """

    parents = (FORMATS,)

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("runs", nargs="+", metavar="RUN", help="run or sweep folder(s)")
        parser.add_argument("--residence-ps", type=duration_ps, default=0.5,
                            help="time the vacancy must stay in its new class to count as "
                                 "an event (default 0.5 ps)")
        parser.add_argument("--barrier", metavar="DIR|rates.json",
                            help="for a sweep: overlay the rate prediction of mdkit barrier "
                                 "(its output folder or rates.json) on the survival curves, "
                                 "and tabulate predicted vs observed first-event times "
                                 "(analysis/rates.csv)")

    @staticmethod
    def run(args):
        from mdkit.runfolder import SweepFolder

        for folder in map(Path, args.runs):
            sweep = SweepFolder(folder)
            if sweep.index.exists():
                from mdkit.analysis.ensemble import analyze_sweep

                predict = None
                if args.barrier:
                    from mdkit.rates import load_predictor

                    predict = load_predictor(args.barrier)
                groups = analyze_sweep(folder, figure_formats(args.formats), predict=predict)
                for group in groups:
                    print("mdkit analyze: " + ", ".join(
                        f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in group.items() if k != "survival"))
                if predict is not None:
                    _print_rates(groups)
                print(f"  tables and figures in {sweep.analysis}")
            else:
                analyze_and_print(folder, args.residence_ps, figure_formats(args.formats))
