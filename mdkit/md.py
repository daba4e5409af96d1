"""Staged molecular dynamics with checkpoints and exact resume.

:func:`run` takes a validated :class:`~mdkit.protocol.RunSpec` and drives
ASE dynamics stage after stage.  Everything that is written attaches to the
dynamics as an observer (``dyn.attach``): the frame recorder every
``stride_fs``, the checkpoint every ``checkpoint_ps``, the temperature ramp
every step.  A resumed run restores positions, momenta, the random-number
generator and the thermostat's own variables, so it continues bit for bit
as if it had never stopped.

A run stops with :class:`MDBlowUp` when the potential energy or a position
stops being finite, when the temperature passes ``max_temperature_K``, or
when the total energy in a stage without a thermostat (NVE) drifts from
its value at the start of the stage by more than ``nve_drift_eV_per_atom``
per atom (default 0.05 eV/atom: a 1 fs velocity-Verlet run of a stable
cluster drifts by less than 1e-3 eV/atom over picoseconds, so this is a sign
of a too-long time step or a broken calculator, not of noise).  Frames up to the failure stay
readable.
"""

from __future__ import annotations

import math
import socket
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
from ase.parallel import world

from mdkit import store
from mdkit.calculators import engine_for, engine_info, engine_version, make_calculator
from mdkit.errors import ComputationFailed
from mdkit.masses import repartition_hydrogen_mass
from mdkit.progress import LogLines
from mdkit.protocol import RunSpec, Stage
from mdkit.runfolder import RunFolder, RunStateError  # noqa: F401 (raised by run)
from mdkit.systems import build, read_structure, write_structure
from mdkit.thermostats import THERMOSTATS


class MDBlowUp(ComputationFailed):
    """The dynamics left physical ground (NaN energy, runaway temperature or drift)."""


def make_dynamics(stage: Stage, atoms, timestep_fs: float, rng, temperature_K: float):
    """The ASE dynamics object for a stage, at ``temperature_K`` (see :mod:`mdkit.thermostats`)."""
    return THERMOSTATS[stage.thermostat].make(atoms, timestep_fs * units.fs, temperature_K,
                                              stage.coupling, rng)


def _thermostat_state(stage: Stage, dyn) -> dict:
    save = THERMOSTATS[stage.thermostat].state
    return save(dyn) if save else {}


def _restore_thermostat(stage: Stage, dyn, state: dict) -> None:
    restore = THERMOSTATS[stage.thermostat].restore
    if restore:
        restore(dyn, state)


def prepare_structure(spec: RunSpec) -> tuple:
    """The start structure and SiteMap the spec asks for."""
    system = spec.system
    atoms, sites = build(system.get("file", system.get("build")), system.get("dope"),
                         system.get("vacancy"))
    if "charge" in system:
        sites.charge = atoms.info["charge"] = int(system["charge"])
    return atoms, sites


class _Progress:
    """Progress on a terminal (rich); elsewhere a line per stage and :class:`LogLines`;
    nothing when silenced."""

    def __init__(self, spec: RunSpec, enabled: bool | None):
        self.spec = spec
        self.live = sys.stderr.isatty() if enabled is None else enabled
        self.live = self.live and world.rank == 0
        # stage lines for logs only when not silenced (enabled=False is silent)
        self.lines = enabled is None and not self.live and world.rank == 0
        self._log = LogLines("mdkit run", spec.total_steps * spec.timestep_fs / 1000, "ps") \
            if self.lines else None
        self._bar = None

    def __enter__(self):
        if self.live:
            from rich.console import Console
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[ps]}"), TextColumn("{task.fields[rate]}"),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[thermo]}"), transient=False,
                                 console=Console(stderr=True))
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.spec.total_steps, ps="", rate="",
                                            thermo="")
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def stage(self, stage: Stage, step: int) -> None:
        if self.lines:
            print(f"mdkit run: stage {stage.name} ({stage.thermostat}) from "
                  f"{step * self.spec.timestep_fs / 1000:.3f} ps", file=sys.stderr, flush=True)

    def update(self, step: int, row: dict, rate: float) -> None:
        if self._log is not None:
            self._log.update(row["time_ps"], f"T {row['temperature_K']:.0f} K, E "
                             f"{row['total_eV']:.3f} eV, stage {row['stage_name']}")
        if self._bar is None:
            return
        total_ps = self.spec.total_steps * self.spec.timestep_fs / 1000
        self._bar.update(self._task, completed=step, description=row["stage_name"],
                         ps=f"{row['time_ps']:.2f}/{total_ps:g} ps", rate=f"{rate:.0f} steps/s",
                         thermo=f"T {row['temperature_K']:.0f} K  E {row['total_eV']:.3f} eV")


def _meta(spec, status, engine: dict, **extra) -> dict:
    return {"status": status, "mdkit": version("mdkit"), "ase": version("ase"),
            "calculator": spec.calculator["name"],
            "calculator_version": engine_version(spec.calculator["name"]),
            "engine": engine, "charge_aware": engine["charge_aware"],
            "python": sys.version.split()[0], "host": socket.gethostname(),
            "mpi_ranks": world.size, "command": " ".join(sys.argv), **extra}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run(spec: RunSpec, force: bool = False, progress: bool | None = None) -> Path:
    """Run (or resume) the spec; returns the run folder.

    Parameters
    ----------
    spec : RunSpec
    force : bool
        Start afresh even if the folder holds a run; the old folder is kept,
        renamed with a time stamp.
    progress : bool, optional
        Show a progress bar; default: only when stderr is a terminal.

    Raises
    ------
    RunStateError
        The folder cannot be continued as asked (see
        :meth:`mdkit.runfolder.RunFolder.prepare`); nothing in it was changed.
    """
    folder = RunFolder(spec.folder)
    with folder.lock():
        action, previous, checkpoint = folder.prepare(spec, force)
        if action == "finished":
            print(f"mdkit run: {folder.path} is already finished ({previous['n_frames']} "
                  "frames); nothing to do (--force starts a fresh run).", file=sys.stderr)
            return folder.path
        return _Runner(spec, folder, checkpoint, previous, progress).run()


class _Runner:
    def __init__(self, spec: RunSpec, folder: RunFolder, checkpoint, previous, progress):
        self.spec, self.run_folder, self.folder = spec, folder, folder.path
        self.progress_enabled = progress
        if checkpoint is None:
            atoms, sites = prepare_structure(spec)
        else:
            atoms, sites = read_structure(self.folder / "topology.xyz")
        self.sites = sites
        name, options = spec.calculator["name"], {k: v for k, v in spec.calculator.items()
                                                  if k != "name"}
        engine = engine_for(name)
        before = atoms.positions[0].copy()
        atoms.calc = make_calculator(name, atoms, sites.charge, **options)
        sites.positions += atoms.positions[0] - before  # engines that box the ion move it
        atoms.set_constraint(FixCom())
        self.atoms = atoms
        self.engine = engine_info(name, options)
        self._announce(sites.charge)
        self.rng = np.random.default_rng(spec.seed)
        self.meta = previous or {}
        if checkpoint is None:
            self._start_fresh(atoms, sites)
            self.step, n_frames = 0, 0
        else:
            if engine.topology_from_first_call:
                atoms.get_potential_energy()  # fixes the topology of the start structure
            self._repartition_masses()
            atoms.positions = checkpoint["positions"]
            atoms.set_momenta(checkpoint["momenta"], apply_constraint=False)
            self.rng.bit_generator.state = checkpoint["rng"]
            self.step, n_frames = int(checkpoint["step"]), int(checkpoint["n_frames"])
            self.thermostat_state = checkpoint
            folder.discard_after(n_frames)
            if not self.meta:  # meta.json was lost: written again, saying so
                self.meta = {**_meta(spec, "running", self.engine), "meta_rebuilt": _now()}
            self.meta.setdefault("resumed_at_ps", []).append(
                self.step * spec.timestep_fs / 1000)
        self.teacher = None  # made at the first check
        self.checks = list(checkpoint.get("teacher_check", [])) if checkpoint is not None else []
        self.writer = store.TrajectoryWriter(self.folder, len(atoms),
                                             [s.name for s in spec.stages], n_frames)
        self.wall_before = float(self.meta.get("wall_s", 0.0))

    def _start_fresh(self, atoms, sites):
        spec = self.spec
        self.run_folder.start(spec, atoms, sites, write_structure)
        self._repartition_masses()  # after topology.xyz, which keeps the real masses
        first = spec.stages[0]
        # a run that starts without a thermostat starts at rest
        temperature = first.temperature_K[0] if THERMOSTATS[first.thermostat].thermostatted \
            else 0.0
        thermalize_momenta(atoms, temperature_K=temperature, rng=self.rng)
        Stationary(atoms)
        if np.all(atoms.get_moments_of_inertia() > 1e-6):  # undefined for a linear molecule
            ZeroRotation(atoms)
        self.thermostat_state = {}
        self.meta = {**_meta(spec, "running", self.engine), "started": _now(), "n_frames": 0}
        self.run_folder.write_meta(self.meta)

    def _repartition_masses(self) -> None:
        if self.spec.hydrogen_mass_amu is not None:
            repartition_hydrogen_mass(self.atoms, self.spec.hydrogen_mass_amu)

    def _announce(self, charge: int) -> None:
        """Say once which engine runs where, and whether it sees the net charge."""
        if self.progress_enabled is False or world.rank != 0:
            return
        e = self.engine
        where = f" (model {e['model']}, {e['device']}, {e['threads']} threads)" \
            if "device" in e else ""
        print(f"mdkit run: engine {e['name']} {e['version']}{where}", file=sys.stderr)
        if not e["charge_aware"]:
            print(f"mdkit run: {e['name']} ignores the net charge ({charge:+d}): its energies "
                  "are those of the structure as if neutral; use gfnff, xtb or gpaw for "
                  "charge-aware work.", file=sys.stderr, flush=True)

    def run(self) -> Path:
        spec = self.spec
        self.clock = time.perf_counter()
        self.clock_step = self.step
        bounds = np.cumsum([0] + [spec.steps(s.duration_ps) for s in spec.stages])
        try:
            with _Progress(spec, self.progress_enabled) as self.progress:
                for index, stage in enumerate(spec.stages):
                    if self.step >= bounds[index + 1]:
                        continue
                    self._run_stage(index, stage, int(bounds[index]), int(bounds[index + 1]))
        except MDBlowUp as err:
            self.writer.flush()
            self._write_meta("failed", reason=str(err))
            raise
        self._checkpoint(None)
        n_frames = self.writer.n_frames
        self.run_folder.join(n_frames, np.arange(n_frames) * spec.stride_fs / 1000)
        self._write_meta("finished", ended=_now())
        return self.folder

    def _run_stage(self, index: int, stage: Stage, first: int, last: int) -> None:
        spec, atoms = self.spec, self.atoms
        t0, t1 = stage.temperature_K or (None, None)
        ramp = lambda step: t0 + (t1 - t0) * (step - first) / (last - first)  # noqa: E731
        self.stage = stage  # for the checkpoints of this stage
        dyn = make_dynamics(stage, atoms, spec.timestep_fs, self.rng,
                            None if t0 is None else ramp(self.step))
        dyn.nsteps = self.step  # observer intervals count global steps
        if self.step > first:
            _restore_thermostat(stage, dyn, self.thermostat_state)
        self.progress.stage(stage, self.step)
        reference = {"total": None}
        if t0 != t1:  # a ramp: the target for step n -> n+1 is that of step n+1
            def set_temperature():
                dyn.set_temperature(temperature_K=ramp(min(dyn.nsteps + 1, last)))
            set_temperature()
            dyn.attach(set_temperature, interval=1)

        def record():
            self.step = dyn.nsteps
            energy = atoms.get_potential_energy()
            row = self.writer.add(atoms, self.step, self.step * spec.timestep_fs / 1000,
                                  index, energy)
            self._check(stage, row, reference)
            if spec.check and self.step % spec.steps(spec.check["every_ps"]) == 0:
                self._teacher_check(row)
            rate = (self.step - self.clock_step) / max(time.perf_counter() - self.clock, 1e-9)
            self.progress.update(self.step, row, rate)

        dyn.attach(record, interval=spec.stride)
        dyn.attach(lambda: self._checkpoint(dyn), interval=spec.checkpoint_interval)
        dyn.run(last - self.step)
        self.step = last
        self.thermostat_state = _thermostat_state(stage, dyn)

    def _check(self, stage: Stage, row: dict, reference: dict) -> None:
        where = f"at {row['time_ps']:.3f} ps (step {row['step']}, stage {stage.name})"
        if not (math.isfinite(row["potential_eV"]) and np.isfinite(self.atoms.positions).all()):
            raise MDBlowUp(f"the potential energy or positions stopped being finite {where}: "
                           "the calculator failed or atoms collided.")
        if row["temperature_K"] > self.spec.max_temperature_K:
            raise MDBlowUp(f"the temperature reached {row['temperature_K']:.0f} K {where}, "
                           f"above max_temperature_K = {self.spec.max_temperature_K:g}: the "
                           "cluster is heating up or coming apart.")
        if not THERMOSTATS[stage.thermostat].thermostatted:  # energy must be conserved
            if reference["total"] is None:
                reference["total"] = row["total_eV"]
            drift = abs(row["total_eV"] - reference["total"]) / len(self.atoms)
            if drift > self.spec.nve_drift_eV_per_atom:
                raise MDBlowUp(f"the total energy drifted by {drift:.3g} eV/atom in NVE {where}, "
                               f"more than nve_drift_eV_per_atom = "
                               f"{self.spec.nve_drift_eV_per_atom:g}: shorten timestep_fs.")

    def _teacher_check(self, row: dict) -> None:
        """Recompute this frame with the check's engine; warn once past the threshold.

        The engine's forces at these positions are already known (the MD step
        computed them), so one call of the checking engine is the whole cost.
        """
        if any(done["step"] == row["step"] for done in self.checks):
            return  # a resumed run passes the frame of its checkpoint again
        check, atoms = self.spec.check, self.atoms
        if self.teacher is None:
            options = {k: v for k, v in check["with"].items() if k != "name"}
            self.teacher = atoms.copy()
            self.teacher.set_constraint()
            before = self.teacher.positions[0].copy()
            self.teacher.calc = make_calculator(check["with"]["name"], self.teacher,
                                                self.sites.charge, **options)
            self.teacher_shift = self.teacher.positions[0] - before  # engines that box it
        self.teacher.positions = atoms.positions + self.teacher_shift
        error = atoms.get_forces(apply_constraint=False) - self.teacher.get_forces()
        symbols = np.array(atoms.get_chemical_symbols())
        result = {"step": row["step"], "time_ps": row["time_ps"],
                  "force_mae_eV_per_A": float(np.abs(error).mean()),
                  "force_max_eV_per_A": float(np.abs(error).max()),
                  **{f"force_mae_{e}_eV_per_A": float(np.abs(error[symbols == e]).mean())
                     for e in sorted(set(symbols))}}
        self.checks.append(result)
        limit = self.spec.check["force_mae_eV_per_A"]
        if result["force_mae_eV_per_A"] > limit and "check_warning" not in self.meta:
            self.meta["check_warning"] = warning = (
                f"at {row['time_ps']:.2f} ps the forces differ from "
                f"{check['with']['name']}'s by {result['force_mae_eV_per_A']:.3f} eV/A on "
                f"average, more than check_force_mae_eV_per_A = {limit:g}: the run has left "
                "the region its engine was trained on.")
            if world.rank == 0:
                print(f"mdkit run: warning: {warning}", file=sys.stderr, flush=True)

    def _checkpoint(self, dyn) -> None:
        if dyn is not None and dyn.nsteps == 0:
            # ASE calls the observers at step 0 again when a run restarts there,
            # so a checkpoint at step 0 would record frame 0 twice on resume
            return
        if dyn is not None:
            self.step = dyn.nsteps
            self.thermostat_state = _thermostat_state(self.stage, dyn)
        self.writer.flush()
        self.run_folder.save_checkpoint({
            "step": self.step, "n_frames": self.writer.n_frames,
            "rng": self.rng.bit_generator.state,
            "positions": self.atoms.get_positions(), "momenta": self.atoms.get_momenta(),
            "teacher_check": self.checks, **self.thermostat_state})
        if self.spec.check:
            self.run_folder.write_teacher_check(self.checks)
        self._write_meta("running")

    def _write_meta(self, status: str, **extra) -> None:
        wall = self.wall_before + time.perf_counter() - self.clock
        self.meta.update(status=status, n_frames=self.writer.n_frames, steps_done=self.step,
                         wall_s=round(wall, 3), **extra)
        self.run_folder.write_meta(self.meta)
