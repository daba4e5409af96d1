"""Barrier-based waiting time beside the MD ensemble: hollow Ag12 and Ag54 with EMT.

For each hollow icosahedron (the centre vacant) this

1. finds the core-to-shell hop (twelve equivalent shell atoms), its CI-NEB
   barrier and harmonic-TST prefactor (``mdkit barrier ... --vibrations``),
   and the predicted mean and median waiting time at 290 K; the band is
   computed at two force criteria and their spread is printed as the
   numerical uncertainty of the prediction (the harmonic approximation's
   own error is not in it);
2. runs a sweep of seeds (``mdkit sweep``'s expansion, members run one after
   the other in this process: 3 ps Langevin at 290 K, then Bussi at 290 K)
   and its analysis with the prediction overlaid (``mdkit analyze SWEEP
   --barrier``): observed mean first-event time (constant-rate estimate
   with its exact 95 % interval) and Kaplan-Meier median (with the interval
   where its 95 % band crosses 1/2).

Usage: ``python benchmarks/barrier_vs_md.py [--seeds 20] [--production-ps 12]
[--systems ag13,ag55] [--out DIR]``.  About 10 minutes on one core with
the defaults.  Figures: ``DIR/<system>_sweep/analysis/survival.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

SPEC = """[system]
build = "{system}"
vacancy = "center"
[calculator]
name = "emt"
[md]
timestep_fs = 2.0
seed = 1
stride_fs = 20
checkpoint_ps = 5.0
[[stages]]
name = "thermalize"
thermostat = "langevin"
temperature_K = 290
duration_ps = 3
[[stages]]
name = "production"
thermostat = "bussi"
temperature_K = 290
duration_ps = {production}
"""


def predict(system: str, out: Path) -> tuple:
    from mdkit import barriers, rates
    from mdkit.systems import build

    atoms, sites = build(system, vacancy="center")
    (hop,) = barriers.find_hops(atoms, sites, "core-to-shell")
    summaries = {}
    for fmax in (0.01, 0.005):
        result = barriers.barrier(atoms, sites, hop, "emt", fmax=fmax, steps=3000,
                                  db=out / "results.db", folder=out / f"{system}_fmax{fmax}",
                                  progress=False)
        try:
            summary = rates.hop_rates([result], [290.0], vibrations=True, calculator="emt",
                                      folder=out / f"{system}_fmax{fmax}")
        except rates.RateError as err:
            print(f"{system}: fmax {fmax}: no harmonic-TST rate: {err}")
            continue
        summaries[fmax] = (result, summary)
        wait = summary["waiting"][0]
        print(f"{system}: {hop.describe()}, band to {fmax} eV/Å: barrier "
              f"{result['barrier_forward_eV']:.4f} eV (back {result['barrier_back_eV']:.4f}, "
              f"reaction {result['reaction_eV']:+.4f}), prefactor "
              f"{summary['hops'][0]['prefactor_THz']:.3g} THz, saddle imaginary "
              f"{summary['hops'][0]['saddle_imaginary_THz']} THz -> mean "
              f"{wait['mean_ps']:.3g} ps, median {wait['median_ps']:.3g} ps at 290 K")
        barriers._write_json(out / f"{system}_fmax{fmax}" / "rates.json", summary)
    return summaries


def sweep(system: str, out: Path, seeds: int, production_ps: float, rates_folder):
    from mdkit import ensemble
    from mdkit.analysis.ensemble import analyze_sweep
    from mdkit.analysis.report import analyze_member
    from mdkit.rates import load_predictor
    from mdkit.store import sweep_members

    spec = out / f"{system}.toml"
    spec.write_text(SPEC.format(system=system, production=production_ps))
    folder = ensemble.expand(spec, {}, list(range(1, seeds + 1)))
    started = time.perf_counter()
    for member in sweep_members(folder):
        result = ensemble.run_member(member["spec"], analyze=analyze_member)
        if result["status"] != "finished":
            print(f"  {result['name']}: {result['status']} {result['reason']}")
    wall = time.perf_counter() - started
    predictor = load_predictor(rates_folder) if rates_folder else None
    (group,) = analyze_sweep(folder, formats=("png",), predict=predictor)
    return group, wall


def fmt(value):
    return "-" if value is None else f"{value:.3g}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--production-ps", type=float, default=12.0)
    parser.add_argument("--systems", default="ag13,ag55")
    parser.add_argument("--out", default="barrier_vs_md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    warnings.simplefilter("ignore", UserWarning)
    rows = []
    for system in args.systems.split(","):
        summaries = predict(system, out)
        rates_folder = out / f"{system}_fmax0.01" if 0.01 in summaries else None
        group, wall = sweep(system, out, args.seeds, args.production_ps, rates_folder)
        means = [s["waiting"][0]["mean_ps"] for _, s in summaries.values()]
        rows.append((system, summaries, means, group, wall))
    print()
    print(f"{'system':<8} {'barrier / eV':>13} {'predicted mean / ps':>22} "
          f"{'observed mean / ps (95 %)':>27} {'KM median / ps (95 %)':>24} {'events':>7} "
          f"{'pred/obs':>9}")
    for system, summaries, means, group, wall in rows:
        barrier = summaries[0.01][0]["barrier_forward_eV"] if 0.01 in summaries else None
        spread = (f"{min(means):.3g}-{max(means):.3g}" if means else "no rate")
        observed = group.get("observed_mean_ps")
        ratio = (means[0] / observed) if means and observed else None
        print(f"{system:<8} {fmt(barrier):>13} {spread:>22} "
              f"{fmt(observed):>8} ({fmt(group.get('observed_mean_low_ps'))}-"
              f"{fmt(group.get('observed_mean_high_ps'))}) "
              f"{fmt(group.get('median_first_event_ps')):>10} ({fmt(group.get('median_low_ps'))}-"
              f"{fmt(group.get('median_high_ps'))}) "
              f"{group['n_events']:>3}/{group['n_runs']:<3} {fmt(ratio):>9}")
        median = summaries[0.01][1]["waiting"][0]["median_ps"] if 0.01 in summaries else None
        print(f"         ({group['n_runs']} runs of {3 + args.production_ps:g} ps in "
              f"{wall:.0f} s; predicted median {fmt(median)} ps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
