"""Speed and memory of the core analyses (Rg + site occupancy) against a plain loop.

Writes an [Ag28(BDT)12]2--sized trajectory (172 atoms, 28 Ag on 29 sites) as
AMBER NetCDF with MDAnalysis's NCDFWriter into a temporary folder: the start
structure, a random rotation and translation and 0.1 Å of noise on every
frame, and halfway through a shell Ag dropping into the empty centre.  Uses
Iso1 of [Ag28(BDT)12]2- when ``mdkit/data/ag29_bdt12.xyz`` is there, else a
stand-in of the same size (the centre, 12 shell and 16 outer sites of an
Ag55 icosahedron, centre vacant, and 144 ligand atoms around it).

Then measures, each in a fresh process so that its peak memory is its own:

(a) the baseline: a per-frame MDAnalysis loop doing the same work -
    ``AtomGroup.radius_of_gyration()``, the same two Kabsch fits (NumPy SVD
    per frame; to the start-structure sites, then to the sites atoms sit on
    alone) and nearest-site assignment with a SciPy ``cKDTree`` of the sites
    (built once);
(b) ``RadiusOfGyration`` + ``SiteOccupancy`` with ``chunk_size=1``: our
    kernel inside MDAnalysis's own per-frame loop;
(c) the same in blocks of frames (the default), serial;
(d) (c) with ``backend="multiprocessing", n_workers=2``;
(e) (c) with ``backend="dask", n_workers=2`` (skip with ``--no-dask``).

(c)-(e) run on two trajectory lengths, to show that memory stays flat.
(a) and (b) run on the first ``--baseline-frames`` frames (their rates do
not depend on the length), and their site assignments and Rg are compared
with (c) on the same frames.  Peak RSS is the process's own; for (d) and
(e) the largest worker's is shown in brackets.  Each process runs with
OMP_NUM_THREADS=1, so 2 workers use 2 cores.

    python benchmarks/analysis_speed.py [--frames 20000 100000] [--baseline-frames 4000]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

N_LIGAND = 144


def make_system():
    """(ase.Atoms, SiteMap, label) of the Ag28(BDT)12-sized test system."""
    from ase import Atoms

    from mdkit.sites import sitemap_from_atoms
    from mdkit.systems import build
    from mdkit.systems.ag29 import DATA

    if DATA.is_file():
        atoms, sites = build("ag28", vacancy="center")
        return atoms, sites, "[Ag28(BDT)12]2- Iso1"
    ag55, _ = build("ag55")
    metal = ag55[:29]  # centre, 12 shell, 16 surface atoms, in shell order
    rng = np.random.default_rng(5)
    direction = rng.normal(size=(N_LIGAND, 3))
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    ligands = Atoms(["S"] * 24 + ["C"] * 72 + ["H"] * 48,
                    positions=direction * rng.uniform(7.0, 11.0, (N_LIGAND, 1)))
    full = metal + ligands
    sites = sitemap_from_atoms(full, ["center"] + ["shell"] * 12 + ["surface"] * 16,
                               indices=np.arange(29))
    atoms = full[1:]  # the centre Ag leaves
    sites.atoms = np.where(sites.atoms > 0, sites.atoms - 1, -1)
    return atoms, sites, "Ag28-sized stand-in (Ag55 sites, 144 ligand atoms)"


def write_trajectory(path: Path, n_frames: int, seed: int = 1) -> None:
    import MDAnalysis as mda
    from MDAnalysis.coordinates.TRJ import NCDFWriter
    from scipy.spatial.transform import Rotation

    atoms, sites, _ = make_system()
    rng = np.random.default_rng(seed)
    mover = sites.atoms[sites.select("shell")[0]]
    centre = sites.positions[sites.vacant[0]]
    universe = mda.Universe.empty(len(atoms), trajectory=True)
    ts = universe.trajectory.ts
    block = 1000
    with NCDFWriter(str(path), len(atoms)) as writer:
        for lo in range(0, n_frames, block):
            n = min(block, n_frames - lo)
            x = np.repeat(atoms.positions[None], n, axis=0)
            moved = np.arange(lo, lo + n) >= n_frames // 2
            x[moved, mover] = centre
            x += rng.normal(scale=0.1, size=x.shape)
            rotation = Rotation.random(n, random_state=rng).as_matrix()
            x = np.einsum("fij,fnj->fni", rotation, x) + rng.uniform(-20, 20, (n, 1, 3))
            for i in range(n):
                ts.positions = x[i]
                ts.time = (lo + i) * 0.01
                ts.frame = lo + i
                writer.write(universe.atoms)


def open_universe(path: Path):
    import MDAnalysis as mda

    atoms, sites, _ = make_system()
    universe = mda.Universe.empty(len(atoms), trajectory=False)
    universe.add_TopologyAttr("elements", atoms.get_chemical_symbols())
    universe.add_TopologyAttr("masses", atoms.get_masses())
    universe.load_new(str(path), format="NCDF")
    return universe, sites


def _apply_fit(x, fit_x, fit_p):
    """``x`` moved by the Kabsch fit of ``fit_x`` onto ``fit_p``."""
    xc, pc = fit_x.mean(axis=0), fit_p.mean(axis=0)
    u, _, vt = np.linalg.svd((fit_x - xc).T @ (fit_p - pc))
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return (x - xc) @ rotation.T + pc


def baseline(universe, sites, n_frames):
    """The plain per-frame loop: Rg, the two Kabsch fits, cKDTree assignment."""
    from scipy.spatial import cKDTree

    from mdkit.analysis.occupancy import default_cutoffs

    metal = universe.select_atoms("element Ag Hg")
    labels = sites.atom_sites(len(universe.atoms))[metal.indices]
    on = labels >= 0
    cut = default_cutoffs(sites.positions)
    tree = cKDTree(sites.positions)
    rg = np.empty(n_frames)
    assignment = np.empty((n_frames, len(metal)), int)

    def assign(y):
        distance, site = tree.query(y)
        site[distance > cut[site]] = -1
        return site, np.bincount(site[site >= 0], minlength=len(sites))

    for i, ts in enumerate(universe.trajectory[:n_frames]):
        rg[i] = universe.atoms.radius_of_gyration()
        x = metal.positions.astype(float)
        y = _apply_fit(x, x[on], sites.positions[labels[on]])
        site, count = assign(y)
        alone = (site >= 0) & (count[np.maximum(site, 0)] == 1)
        if alone.sum() >= 3:
            y = _apply_fit(x, x[alone], sites.positions[site[alone]])
        assignment[i], _ = assign(y)
    return rg, assignment


#: How each mode runs RadiusOfGyration and SiteOccupancy (besides the baseline).
MODES = {"per-frame": ({"chunk_size": 1}, {}),  # MDAnalysis's own frame loop, our kernel
         "serial": ({}, {}),
         "2 workers": ({}, {"backend": "multiprocessing", "n_workers": 2}),
         "dask 2": ({}, {"backend": "dask", "n_workers": 2})}


def ours(universe, sites, mode, n_frames):
    from mdkit.analysis import RadiusOfGyration, SiteOccupancy

    options, run_options = MODES[mode]
    rg = RadiusOfGyration(universe.atoms, **options).run(stop=n_frames, **run_options)
    occupancy = SiteOccupancy(universe, sites, **options).run(stop=n_frames, **run_options)
    return rg.results.rg, occupancy.results.assignment


def measure(mode: str, path: Path, n_frames: int) -> dict:
    """Run one measurement in this process; frames/s and peak memory (MB)."""
    universe, sites = open_universe(path)
    n_frames = min(n_frames, len(universe.trajectory))
    start = time.perf_counter()
    if mode == "baseline":
        rg, assignment = baseline(universe, sites, n_frames)
    else:
        rg, assignment = ours(universe, sites, mode, n_frames)
    seconds = time.perf_counter() - start
    out = {"mode": mode, "frames": n_frames, "seconds": seconds, "fps": n_frames / seconds,
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}
    np.savez(_saved(path, mode, n_frames), rg=rg, assignment=assignment)
    return out


def _saved(path: Path, mode: str, n_frames: int) -> Path:
    return path.with_name(f"{path.stem}.{mode.replace(' ', '_')}.{n_frames}.npz")


def in_subprocess(mode: str, path: Path, n_frames: int) -> dict:
    done = subprocess.run([sys.executable, __file__, "--measure", mode, str(path),
                           str(n_frames)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--baseline-frames", type=int, default=4000)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask backend")
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        mode, path, n = args.measure
        print(json.dumps(measure(mode, Path(path), int(n))))
        return

    label = make_system()[2]
    modes = ["serial", "2 workers"] + ([] if args.no_dask else ["dask 2"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n_frames in args.frames:
            path = Path(tmp) / f"traj{n_frames}.nc"
            start = time.perf_counter()
            write_trajectory(path, n_frames)
            print(f"wrote {n_frames} frames of {label} "
                  f"({path.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
            if n_frames == args.frames[0]:
                base = in_subprocess("baseline", path, args.baseline_frames)
                rows.append(base)
                print(_row(base, base["fps"]), flush=True)
                for mode in ("serial", "per-frame"):
                    check = in_subprocess(mode, path, base["frames"])
                    a = np.load(_saved(path, "baseline", base["frames"]))
                    b = np.load(_saved(path, mode, check["frames"]))
                    print(f"   {mode} on the same {base['frames']} frames: site assignments "
                          f"{np.mean(a['assignment'] == b['assignment']):.6f} equal to the "
                          f"baseline's, max |Rg difference| "
                          f"{np.abs(a['rg'] - b['rg']).max():.1e} Å", flush=True)
                rows.append(check)  # the per-frame path's speed does not depend on length
                print(_row(check, base["fps"]), flush=True)
            for mode in modes:
                rows.append(in_subprocess(mode, path, n_frames))
                print(_row(rows[-1], base["fps"]), flush=True)
            path.unlink()
    print("\nmode         frames   frames/s   x baseline   peak RSS MB (largest worker)")
    for row in rows:
        print(_row(row, base["fps"]))


def _row(row: dict, base_fps: float) -> str:
    workers = f" ({row['worker_peak_mb']:.0f})" if "2" in row["mode"] else ""
    return (f"{row['mode']:<11} {row['frames']:>7} {row['fps']:>10.0f} "
            f"{row['fps'] / base_fps:>11.1f}   {row['peak_mb']:>6.0f}{workers}")


if __name__ == "__main__":
    main()
