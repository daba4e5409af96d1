"""What the CCS of [Ag29(BDT)12]3- depends on: one change at a time from a baseline.

Baseline: the shipped SevenNet-0 model (``build("ag29")``), trajectory method in
N2 (MOBCAL-2012 orientation model), 298 K, net charge -3 spread evenly, the
"mdkit" parameter set.  Every variant uses the same seed, so its Sobol' batches
are the baseline's: the relative change is paired (the ratio of batch means
over the variant's batches, with its delta-method error), far more precise than
either CCS alone.  Ensembles of MD snapshots are averaged as CCS over snapshots
(never the CCS of an average structure), each snapshot paired with the baseline.

Variants
    geometry       the GFN-FF model main shipped before (commit 8c687d2); 290 K
                   SevenNet-0 MD snapshots (runs/ag29_sevennet_290, if present)
    ligand shell   every S, C, H moved radially from the metal centroid by
                   +-0.1 Å (metal atoms fixed): % per 0.1 Å
    parameters     sigma (+5 %) and epsilon (+20 %) of Ag, S, C, H one at a time:
                   d ln CCS / d ln p; the named sets uff-x0.93 and uff-x1.20
    charges        GFN-FF charges of the SevenNet model; GPAW Hirshfeld charges
                   (benchmarks/results/ag29_hirshfeld_charges.xyz, if present); the
                   extremes: all the charge on the centre Ag, and none at all
    N2 model       random-axis instead of mobcal-2012

Writes ``benchmarks/results/ccs_sensitivity.csv`` and ``.md`` (whole or not at
all) and prints the table.  About 25 CCS of 16k trajectories: ~15 min on two
idle cores.

Run:  python3 benchmarks/ccs_sensitivity.py [--batches 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
from pathlib import Path

import numpy as np

from mdkit.analysis.ccs import BATCH_SIZE, ccs, load_parameters
from mdkit.analysis.ccs.parameters import element_parameters
from mdkit.analysis.ccs.systematic import paired_relative
from mdkit.geometry import metal_centroid
from mdkit.systems import build
from mdkit.writer import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GFNFF_COMMIT = "8c687d2"
MD_RUN = ROOT / "runs" / "ag29_sevennet_290"
HIRSHFELD = RESULTS / "ag29_hirshfeld_charges.xyz"
SIGMA_STEP, EPSILON_STEP = 0.05, 0.20  # relative parameter changes
SHELL_STEP_A = 0.1


def gfnff_model():
    """The GFN-FF-relaxed model main shipped before, read from git history."""
    import ase.io

    text = subprocess.run(["git", "-C", str(ROOT), "show",
                           f"{GFNFF_COMMIT}:mdkit/data/ag29_bdt12.xyz"],
                          capture_output=True, text=True, check=True).stdout
    atoms = ase.io.read(io.StringIO(text), format="extxyz")
    atoms.info = {"charge": -3, "source": f"GFN-FF model (git {GFNFF_COMMIT})"}
    return atoms


def shifted_shell(atoms, step_A):
    """Every non-metal atom moved radially from the metal centroid by ``step_A``."""
    out = atoms.copy()
    centre = metal_centroid(atoms)
    ligand = np.array([s in ("S", "C", "H") for s in atoms.get_chemical_symbols()])
    radial = out.positions[ligand] - centre
    out.positions[ligand] += step_A * radial / np.linalg.norm(radial, axis=1)[:, None]
    out.info["source"] = f"SevenNet model, ligand shell {step_A:+.2f} Å"
    return out


def scaled_parameter(element, key, factor):
    """A params dict changing one N2 Lennard-Jones parameter of one element."""
    base = element_parameters(load_parameters(), element, "N2")
    entry = {"epsilon_meV": base["epsilon_meV"], "sigma_A": base["sigma_A"],
             "source": f"{key} x {factor:g} for a sensitivity"}
    entry[key] *= factor
    return {"element": {element: {"N2": entry}}}


def gfnff_charges(atoms):
    from gfnff import GFNFF

    atoms = atoms.copy()
    atoms.calc = GFNFF(charge=-3)
    return atoms.get_charges()


def md_snapshots(every_ps=0.2, run=MD_RUN):
    """SevenNet-0 290 K snapshots of a run's sampling stage, or [] if the run is not there."""
    from mdkit import store
    from mdkit.systems import read_structure

    if not (run / "thermo.csv").is_file():
        return []
    thermo = store.read_thermo(run)
    universe = store.open_run(run)
    charge = read_structure(run / "topology.xyz")[1].charge
    times = np.asarray(thermo["time_ps"], float)
    sampling = np.flatnonzero(np.asarray(thermo["stage_name"]) == "sample")
    sampling = sampling[sampling < len(universe.trajectory)]
    if len(sampling) == 0:
        return []
    wanted = np.arange(times[sampling[0]], times[sampling[-1]] + 1e-9, every_ps)
    frames = sorted({int(sampling[np.argmin(abs(times[sampling] - t))]) for t in wanted})
    symbols = [str(e) for e in universe.atoms.elements]
    from ase import Atoms

    out = []
    for frame in frames:
        universe.trajectory[frame]
        atoms = Atoms(symbols, positions=universe.atoms.positions.astype(float))
        atoms.info = {"charge": charge, "source": f"{run.name} frame {frame} "
                                                  f"({times[frame]:.2f} ps)"}
        out.append(atoms)
    return out


def variants(baseline):
    """(group, label, atoms list, ccs keyword arguments, unit of the sensitivity, step)."""
    out = [("geometry", "GFN-FF model (8c687d2)", [gfnff_model()], {}, None, None)]
    snapshots = md_snapshots()
    if snapshots:
        out.append(("geometry", f"SevenNet-0 290 K MD, {len(snapshots)} snapshots",
                    snapshots, {}, None, None))
    for step in (+SHELL_STEP_A, -SHELL_STEP_A):
        out.append(("ligand shell", f"S, C, H moved {step:+.1f} Å radially",
                    [shifted_shell(baseline, step)], {}, "% per 0.1 Å", step / 0.1))
    for element in ("Ag", "S", "C", "H"):
        out.append(("parameters", f"{element} sigma x {1 + SIGMA_STEP:g}", [baseline],
                    {"params": scaled_parameter(element, "sigma_A", 1 + SIGMA_STEP)},
                    "% per % of sigma", 100 * SIGMA_STEP))
        out.append(("parameters", f"{element} epsilon x {1 + EPSILON_STEP:g}", [baseline],
                    {"params": scaled_parameter(element, "epsilon_meV", 1 + EPSILON_STEP)},
                    "% per % of epsilon", 100 * EPSILON_STEP))
    for name in ("uff-x0.93", "uff-x1.20"):
        out.append(("parameters", f"parameter set {name}", [baseline], {"param_set": name},
                    None, None))
    out.append(("charges", "GFN-FF charges", [baseline],
                {"charges": gfnff_charges(baseline)}, None, None))
    centred = np.zeros(len(baseline))
    centred[0] = -3.0  # atom 0 is the centre Ag: the whole charge deep inside the core
    out.append(("charges", "all -3 e on the centre Ag", [baseline], {"charges": centred},
                None, None))
    out.append(("charges", "no charge (Lennard-Jones only)", [baseline],
                {"charges": np.zeros(len(baseline))}, None, None))
    if HIRSHFELD.is_file():
        import ase.io

        hirsh = ase.io.read(HIRSHFELD)
        q = next(hirsh.arrays[k] for k in ("initial_charges", "charges") if k in hirsh.arrays)
        out.append(("charges", "GPAW Hirshfeld charges", [hirsh], {"charges": q}, None, None))
    out.append(("N2 model", "random-axis", [baseline], {"orientation": "random-axis"},
                None, None))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=32, help="batches per variant")
    parser.add_argument("--baseline-batches", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", default=str(RESULTS / "ccs_sensitivity"))
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="only the variants whose label contains one of these; their "
                             "rows replace or join those of an existing OUT.csv, whose "
                             "baseline CCS is kept (the same seed gives the same batches)")
    args = parser.parse_args(argv)
    common = {"method": "tm", "gas": "N2", "seed": args.seed, "n_workers": args.workers,
              "systematic": False}
    baseline, _ = build("ag29")
    baseline.info["source"] = "SevenNet-0 model (mdkit/data/ag29_bdt12.xyz)"
    stem = Path(args.out)
    earlier = list(csv.DictReader(stem.with_suffix(".csv").open())) if args.only else []
    batches = args.batches if earlier else args.baseline_batches
    base = ccs(baseline, n_samples=batches * BATCH_SIZE["tm"], **common)
    reference = np.asarray(base["batch_means_A2"])
    rows = [{"group": "baseline", "variant": "SevenNet-0 model, even charges, mdkit set",
             "n_structures": 1, "ccs_A2": base["ccs_A2"], "own_ccs_A2": base["ccs_A2"],
             "stat_error_A2": base["error_A2"],
             "change_percent": 0.0, "change_error_percent": 0.0, "sensitivity": "",
             "unit": ""}]
    if earlier:
        rows = [{k: _number(v) for k, v in row.items()} for row in earlier]
        base["ccs_A2"] = rows[0]["ccs_A2"]
    print(f"baseline {base['ccs_A2']:.1f} +- {base['error_A2']:.1f} A^2 "
          f"({base['wall_s']:.0f} s)", flush=True)
    chosen = [v for v in variants(baseline)
              if not args.only or any(text in v[1] for text in args.only)]
    for group, label, structures, extra, unit, step in chosen:
        kw = dict(common, **{k: v for k, v in extra.items() if k != "charges"})
        results = [ccs(atoms, charges=extra.get("charges"),
                       n_samples=args.batches * BATCH_SIZE["tm"], **kw) for atoms in structures]
        pairs = [paired_relative(r["batch_means_A2"], reference) for r in results]
        change = np.mean([p["relative"] for p in pairs])
        if len(pairs) > 1:  # an ensemble: the spread over snapshots is the error of its mean
            error = np.std([p["relative"] for p in pairs], ddof=1) / np.sqrt(len(pairs))
        else:
            error = pairs[0]["relative_error"]
        values = [r["ccs_A2"] for r in results]
        rows = [row for row in rows if (row["group"], row["variant"]) != (group, label)]
        rows.append({"group": group, "variant": label, "n_structures": len(results),
                     "ccs_A2": base["ccs_A2"] * (1 + change),
                     "own_ccs_A2": float(np.mean(values)),
                     "stat_error_A2": float(np.mean([r["error_A2"] for r in results])
                                            / np.sqrt(len(results))),
                     "change_percent": 100 * change, "change_error_percent": 100 * error,
                     "sensitivity": "" if unit is None else 100 * change / step,
                     "unit": unit or ""})
        print(f"{group:<13} {label:<42} {rows[-1]['ccs_A2']:7.1f}  "
              f"{100 * change:+6.2f} +- {100 * error:.2f} %", flush=True)
    write(rows, stem, base)


def _number(text):
    """A CSV cell back as a float where it is one."""
    try:
        return float(text)
    except ValueError:
        return text


GROUPS = ("baseline", "geometry", "ligand shell", "parameters", "charges", "N2 model")


def write(rows, stem: Path, base):
    rows = sorted(rows, key=lambda row: GROUPS.index(row["group"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(stem.with_suffix(".csv"), buffer.getvalue())
    lines = [f"CCS sensitivity of [Ag29(BDT)12]3- (TM, N2, {base['temperature_K']:g} K, seed "
             f"{base['seed']}).  Change: paired with the baseline's batches (1 sigma); "
             "CCS: baseline x (1 + change); own CCS: the variant's own estimate "
             "(fewer batches) with its statistical error.", "",
             "| group | variant | CCS / Å² | change / % | sensitivity | own CCS / Å² |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        sens = f"{row['sensitivity']:+.2f} {row['unit']}" if row["unit"] else ""
        lines.append(f"| {row['group']} | {row['variant']} | {row['ccs_A2']:.1f} | "
                     f"{row['change_percent']:+.2f} ± {row['change_error_percent']:.2f} | "
                     f"{sens} | {row['own_ccs_A2']:.1f} ± {row['stat_error_A2']:.1f} |")
    text = "\n".join(lines) + "\n"
    write_text(stem.with_suffix(".md"), text)
    print(text)


if __name__ == "__main__":
    main()
