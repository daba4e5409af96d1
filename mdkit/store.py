"""The run folder: its layout, the trajectory and thermo writers, checkpoints, reading back.

A run folder holds everything needed to reopen a run::

    spec.toml          the run spec as given
    spec.json          the spec as resolved (defaults filled in)
    topology.xyz       the start structure: extended XYZ with charge and site labels
    sites.json         the SiteMap (reference sites, classes, the vacant site)
    trajectory.nc      AMBER NetCDF: coordinates (Å), velocities (Å/ps), time (ps),
                       and per frame: stage, temperature (K), potential and total
                       energy (eV), partial charges (e) when the engine gives them;
                       written when the run finishes
    segments/          the same, one file per checkpoint interval, while running
    thermo.csv         one row per frame: step, time, stage, T, energies
    checkpoint.npz     positions, momenta, random-number and thermostat state
    meta.json          versions, host, start and end times, command, status

Frames reach disk at checkpoints, in this order: the segment (written under
a temporary name, then renamed), the thermo rows, the checkpoint (renamed
into place).  A run killed at any moment therefore has a checkpoint that
matches whole segments; anything written after it is dropped on resume.
The folder's life (creation, lock, checkpoints, the verified join, what may
be deleted) belongs to :class:`mdkit.runfolder.RunFolder`; this module
writes frames and reads them back.  Only MPI rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path

import MDAnalysis as mda
import numpy as np
from ase.parallel import world
from ase.units import fs
from MDAnalysis.core.topologyattrs import AtomAttr, AtomStringAttr

# the run folder's names are reached through this module too (store is the older door)
from mdkit.runfolder import (THERMO_COLUMNS, RunFolder, RunFolderError,  # noqa: F401
                             load_checkpoint, SEGMENTS, member_status, read_json,
                             sweep_members, write_json)
from mdkit.sites import SiteMap
from mdkit.writer import atomic_path
#: Per-frame NetCDF variables beside AMBER's own: name -> (unit, thermo column).
FRAME_DATA = {"stage": ("index into spec.json stages", "stage"),
              "temperature": ("kelvin", "temperature_K"),
              "potential_energy": ("eV", "potential_eV"),
              "total_energy": ("eV", "total_eV")}
#: ASE velocity (Å per ASE time unit) to Å/ps.
VELOCITY_TO_A_PER_PS = 1000.0 * fs


# MDAnalysis registers TopologyAttr subclasses by attrname when they are defined,
# so `universe.add_TopologyAttr("site_classes", ...)` works from here on.
class SiteClasses(AtomStringAttr):
    """Site class of each atom ("-" for atoms on no site)."""

    attrname, singular = "site_classes", "site_class"


class Sites(AtomAttr):
    """Site index of each atom (-1 for atoms on no site)."""

    attrname, singular, dtype = "sites", "site", int


class TrajectoryWriter:
    """Buffers frames and writes them as one NetCDF segment per :meth:`flush`.

    Parameters
    ----------
    folder : Path
        The run folder.
    n_atoms : int
    stage_names : list of str
        Names of the stages, for the thermo table.
    n_frames : int
        Frames already on disk (when resuming).
    """

    def __init__(self, folder: Path, n_atoms: int, stage_names, n_frames: int = 0):
        self.folder = Path(folder)
        self.run_folder = RunFolder(folder)
        self.n_atoms = n_atoms
        self.stage_names = list(stage_names)
        self.n_frames = n_frames
        self._rows: list[dict] = []
        self._positions: list[np.ndarray] = []
        self._velocities: list[np.ndarray] = []
        self._charges: list[np.ndarray | None] = []
        self._universe = mda.Universe.empty(n_atoms, trajectory=True, velocities=True)
        (self.folder / SEGMENTS).mkdir(exist_ok=True)

    def add(self, atoms, step: int, time_ps: float, stage: int, potential_eV: float) -> dict:
        """Buffer the current frame of ``atoms``; returns its thermo row."""
        kinetic = atoms.get_kinetic_energy()
        row = {"frame": self.n_frames + len(self._rows), "step": step, "time_ps": time_ps,
               "stage": stage, "stage_name": self.stage_names[stage],
               "temperature_K": atoms.get_temperature(), "potential_eV": potential_eV,
               "kinetic_eV": kinetic, "total_eV": potential_eV + kinetic}
        self._rows.append(row)
        self._positions.append(atoms.get_positions())
        self._velocities.append(atoms.get_velocities() * VELOCITY_TO_A_PER_PS)
        # partial charges come free with some engines (GFN-FF, xTB); never ask for them
        self._charges.append(getattr(atoms.calc, "results", {}).get("charges"))
        return row

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> None:
        """Write the buffered frames as a segment and append their thermo rows."""
        if not self._rows:
            return
        if world.rank == 0:
            first = self._rows[0]["frame"]
            with atomic_path(self.folder / SEGMENTS / f"{first:09d}.nc") as tmp:
                self._write_segment(tmp)
            self.run_folder.append_thermo(self._rows)
        self.n_frames += len(self._rows)
        self._rows, self._positions, self._velocities, self._charges = [], [], [], []

    def _write_segment(self, path: Path) -> None:
        import netCDF4
        from MDAnalysis.coordinates.TRJ import NCDFWriter

        ts = self._universe.trajectory.ts
        with NCDFWriter(str(path), self.n_atoms, velocities=True) as writer:
            for row, x, v in zip(self._rows, self._positions, self._velocities):
                ts.positions, ts.velocities = x, v
                ts.time = row["time_ps"]
                ts.frame = row["frame"]
                writer.write(self._universe.atoms)
        with netCDF4.Dataset(path, "a") as data:
            for name, (unit, column) in FRAME_DATA.items():
                var = data.createVariable(name, "i4" if name == "stage" else "f8", ("frame",))
                var.units = unit
                var[:] = [row[column] for row in self._rows]
            if all(q is not None for q in self._charges):
                var = data.createVariable("charges", "f4", ("frame", "atom"))
                var.units = "e (partial charges from the calculator)"
                var[:] = np.array(self._charges)


def read_charges(folder: Path, frames) -> np.ndarray | None:
    """Partial charges (e) of the given frames, shape (len(frames), n_atoms), or None
    when the engine gave none."""
    import netCDF4

    folder = Path(folder)
    final = RunFolder(folder).trajectory
    parts = [final] if final.exists() else segments(folder)
    frames = np.asarray(frames, dtype=int)
    out, start = {}, 0
    for part in parts:
        with netCDF4.Dataset(part) as data:
            n = len(data.dimensions["frame"])
            if "charges" not in data.variables:
                return None
            wanted = frames[(frames >= start) & (frames < start + n)]
            for frame in wanted:
                out[int(frame)] = np.asarray(data["charges"][frame - start], dtype=float)
            start += n
    missing = [int(f) for f in frames if int(f) not in out]
    if missing:
        raise RunFolderError(f"{folder} has no frame {missing[0]} (it has {start} frames).")
    return np.array([out[int(f)] for f in frames])


def segments(folder: Path) -> list[Path]:
    return RunFolder(folder).segments()


def read_thermo(folder: Path) -> dict[str, np.ndarray]:
    """The thermo table as columns (see :meth:`RunFolder.read_thermo`)."""
    return RunFolder(folder).read_thermo()


def read_sites(folder: Path) -> SiteMap:
    run = RunFolder(folder)
    run.require_run()
    return SiteMap.load(run.sites_path)


def open_run(folder) -> mda.Universe:
    """An MDAnalysis Universe of a run folder (finished, running or crashed).

    Atoms carry ``elements``, ``masses`` (ASE's), ``charges`` (0 unless known),
    and the site attributes ``site_classes`` (``"-"`` for atoms on no site)
    and ``sites`` (site index, -1 for none).  Time is in ps.
    """
    from ase.data import atomic_masses, atomic_numbers
    from scipy.io import netcdf_file

    folder = Path(folder)
    run = RunFolder(folder)
    run.require_run()
    topology, trajectory = run.topology, run.trajectory
    parts = [trajectory] if trajectory.exists() else segments(folder)
    if not parts:
        raise RunFolderError(f"{folder} has no trajectory yet: the run has not reached "
                             "its first checkpoint.")
    try:
        for part in parts:
            # opened first as MDAnalysis's NCDFReader opens it: a file that fails
            # there leaves a half-made reader whose __del__ prints a traceback
            netcdf_file(str(part), mmap=True).close()
        universe = mda.Universe(str(topology), [str(p) for p in parts] if len(parts) > 1
                                else str(parts[0]), topology_format="XYZ", format="NCDF")
    except (OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError) as err:
        raise RunFolderError(f"{folder} cannot be read ({type(err).__name__}: {err}); is "
                             f"{trajectory.name} or {topology.name} damaged?") from None
    symbols = [str(n) for n in universe.atoms.names]
    universe.add_TopologyAttr("elements", symbols)
    universe.add_TopologyAttr("types", symbols)
    universe.atoms.masses = atomic_masses[[atomic_numbers[s] for s in symbols]]
    sites = read_sites(folder)
    universe.add_TopologyAttr("site_classes", sites.atom_classes(len(symbols)))
    universe.add_TopologyAttr("sites", sites.atom_sites(len(symbols)))
    return universe
