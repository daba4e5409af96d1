"""CCS of the three study ions with statistical and systematic errors, against TIMS.

Structures: the shipped SevenNet-0 model of [Ag29(BDT)12]3-, Hg on an
icosahedral-shell site of it ([Ag28Hg(BDT)12]2-, the lowest of the four
isomers by DFT) and its centre vacancy (Iso1 of [Ag28(BDT)12]2-), all
unrelaxed after the substitution (``mdkit.systems.build``).  Trajectory method
in N2 at 298 K, charges spread evenly, the "mdkit" parameter set; the band is
the spread across the named sets (``mdkit.analysis.ccs.systematic``).

Then the protocol mdkit uses for ligated clusters: the CCS averaged over
snapshots (every 0.1 ps) of the sampling stage of each ion's 290 K SevenNet-0
run (``runs/*_sevennet_290.toml``), when the run is there; its error is the
spread of the snapshots over the square root of their number (thermal and
statistical scatter together), its band the mean of the snapshots' bands.

Measured (the study's TIMS in N2): [Ag28Hg(BDT)12]2- 446.4 Å², [Ag28(BDT)12]2-
441.0 Å²; none given here for [Ag29(BDT)12]3-.

Writes ``benchmarks/results/ccs_study_ions.md`` (whole or not at all).

Run:  python3 benchmarks/ccs_study_ions.py [--error 0.004] [--workers 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from mdkit.analysis.ccs import ccs
from mdkit.systems import build
from mdkit.writer import write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ccs_sensitivity import md_snapshots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
IONS = {"[Ag29(BDT)12]3-": (("ag29",), None, "ag29"),
        "[Ag28Hg(BDT)12]2- (Hg@shell)": (("ag28hg", "shell:Hg"), 446.4, "ag28hg"),
        "[Ag28(BDT)12]2- Iso1": (("ag28", None, "center"), 441.0, "ag28_iso1")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--error", type=float, default=0.004)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    lines = ["CCS (TM, N2, 298 K, even charges, mdkit parameters) of the SevenNet-0 models "
             "against the study's TIMS values", "",
             "| ion | CCS / Å² | stat / Å² | sys / Å² | measured / Å² | model / measured - 1 |",
             "|---|---|---|---|---|---|"]
    ensembles = []
    for label, (request, measured, run) in IONS.items():
        atoms, _ = build(*request)
        r = ccs(atoms, target_error=args.error, n_workers=args.workers, seed=0)
        gap = f"{100 * (r['ccs_A2'] / measured - 1):+.1f} %" if measured else ""
        lines.append(f"| {label}, relaxed model | {r['ccs_A2']:.1f} | {r['error_A2']:.1f} | "
                     f"{r['systematic_A2']:.1f} | {measured or 'not given'} | {gap} |")
        print(lines[-1], flush=True)
        snapshots = md_snapshots(0.1, ROOT / "runs" / f"{run}_sevennet_290")
        if snapshots:
            each = [ccs(a, target_error=args.error, n_workers=args.workers, seed=0)
                    for a in snapshots]
            values = np.array([e["ccs_A2"] for e in each])
            mean, error = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
            band = float(np.mean([e["systematic_A2"] for e in each]))
            gap = f"{100 * (mean / measured - 1):+.1f} %" if measured else ""
            ensembles.append(
                f"| {label}, 290 K MD ({len(values)} snapshots) | {mean:.1f} | {error:.1f} | "
                f"{band:.1f} | {measured or 'not given'} | {gap} |")
            print(ensembles[-1], flush=True)
    lines += ensembles
    text = "\n".join(lines) + "\n"
    write_text(RESULTS / "ccs_study_ions.md", text)
    print(text)


if __name__ == "__main__":
    main()
