"""How big is the [Ag29(BDT)12]3- model?  The size audit of both relaxed models against facts.

Columns: the GFN-FF-relaxed model main shipped before (git 8c687d2), today's
SevenNet-0 model (mdkit/data/ag29_bdt12.xyz), the 290 K SevenNet-0 MD
ensemble if ``runs/ag29_sevennet_290`` exists (means over sampling-stage
snapshots), and the facts with where each comes from.  Writes
``benchmarks/results/size_audit.md`` (whole or not at all) and prints it.

Run:  python3 benchmarks/size_audit.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from ase.build import molecule

from mdkit.geometry import size_audit
from mdkit.sites import sitemap_from_atoms
from mdkit.systems import build
from mdkit.systems.ag29_geometry import SITE_CLASSES
from mdkit.writer import write_text

sys.path.insert(0, str(Path(__file__).parent))
from ccs_sensitivity import RESULTS, gfnff_model, md_snapshots  # noqa: E402

G2 = size_audit(molecule("C6H6"))["bonds_A"]
STUDY = "the study's DFT structure (docs/science.md)"
#: row label -> (audit key path, statistic shown, fact, its source)
ROWS = [
    ("Ag(center)-Ag(shell)", ("bonds_A", "Ag(center)-Ag(shell)"), "2.84", STUDY),
    ("Ag(shell)-Ag(shell)", ("bonds_A", "Ag(shell)-Ag(shell)"), "2.85-3.15", STUDY),
    ("Ag(shell)-S", ("bonds_A", "Ag(shell)-S"), "2.52-2.53", STUDY),
    ("Ag(tetrahedral)-S", ("bonds_A", "Ag(tetrahedral)-S"), "about 2.69", STUDY
     + ", Ag-S between the tetrahedral and crown motifs"),
    ("Ag(staple)-S", ("bonds_A", "Ag(staple)-S"), "not found", ""),
    ("C-S", ("bonds_A", "C-S"), "1.77-1.78", "typical aryl C-S; docs/science.md: about 1.78"),
    ("C-C", ("bonds_A", "C-C"), f"1.39-1.40 ({G2['C-C']['mean']:.3f})",
     "typical benzene (ASE's g2 benzene in brackets)"),
    ("C-H", ("bonds_A", "C-H"), f"1.08 ({G2['C-H']['mean']:.3f})",
     "typical aryl C-H (ASE's g2 benzene in brackets)"),
    ("S...S across a BDT", ("s_s_A",), "about 5; 5.49 for an ideal ring",
     "docs/science.md; sqrt(3) (C-C + C-S) with 1.395 and 1.775"),
    ("ring tilt / deg", ("tilt_deg",), "not found", ""),
    ("r Ag(shell)", ("radii_A", "Ag(shell)"), "2.84", "= centre-shell distance"),
    ("r Ag(tetrahedral)", ("radii_A", "Ag(tetrahedral)"), "not found", ""),
    ("r Ag(staple)", ("radii_A", "Ag(staple)"), "not found", ""),
    ("r S (mean)", ("radii_A", "S"), "not found", ""),
    ("r S (max)", ("radii_A", "S", "max"), "not found", ""),
    ("r H (mean)", ("radii_A", "H"), "not found", ""),
    ("r H (max, outermost)", ("radii_A", "H", "max"), "not found", ""),
    ("Rg (mass-weighted)", ("rg_A",), "not found", ""),
]


def value(audit, path):
    """The statistic a row shows: mean (with min-max for bonds), or max."""
    item = audit
    for key in path[:2] if path[-1] == "max" and len(path) == 3 else path:
        item = item[key]
    if isinstance(item, float):
        return item, None
    if path[-1] == "max" and len(path) == 3:
        return item["max"], None
    return item["mean"], (item["min"], item["max"])


def cell(audit, path, spread=True):
    mean, span = value(audit, path)
    if span is None or not spread or span[1] - span[0] < 0.005:
        return f"{mean:.2f}"
    return f"{mean:.2f} ({span[0]:.2f}-{span[1]:.2f})"


def main():
    gfnff = gfnff_model()
    gfn_sites = sitemap_from_atoms(gfnff, list(SITE_CLASSES))
    columns = {"GFN-FF model": size_audit(gfnff, gfn_sites)}
    seven, sites = build("ag29")
    columns["SevenNet-0 model"] = size_audit(seven, sites)
    snapshots = md_snapshots()
    md = [size_audit(a, sites) for a in snapshots]
    names = list(columns) + ([f"SevenNet-0 290 K MD ({len(md)} frames)"] if md else [])
    lines = ["Size audit of [Ag29(BDT)12]3- (Å unless stated; bonds: mean (min-max))", "",
             "| quantity | " + " | ".join(names) + " | fact | source of the fact |",
             "|---" * (len(names) + 3) + "|"]
    for label, path, fact, source in ROWS:
        cells = [cell(a, path) for a in columns.values()]
        if md:
            cells.append(f"{np.mean([value(a, path)[0] for a in md]):.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {fact} | {source} |")
    text = "\n".join(lines) + "\n"
    write_text(RESULTS / "size_audit.md", text)
    print(text)


if __name__ == "__main__":
    main()
