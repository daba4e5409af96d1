"""Specialist potentials: teacher labels, a MACE student trained by mace-torch, its card.

``mdkit train SPEC`` turns one TOML file into one training folder beside it:

* **labels** (``labels/*.xyz``): each system of the spec is run by the
  *teacher* (any registry engine) with Langevin dynamics at each temperature
  and seed; every ``label_every_fs`` the configuration is written with the
  energy and forces the teacher has just computed for the MD step (no extra
  call), one extended-XYZ file per trajectory, appended frame by frame and
  flushed to disk, so a kill loses at most the frame in flight.  Rattled and
  slightly compressed/expanded copies of each system, and any structure files
  the spec lists (bands of ``mdkit barrier``), are labelled the same way;
* **split** (``split.json``, ``train.xyz``, ``valid.xyz``, ``test.xyz``): by
  trajectory, never by frame (neighbouring frames are correlated): the seeds
  named in ``[split]`` go to validation and test, test also gets the
  temperatures that only it sees;
* **student** (``student.model``): MACE trained with mace-torch's own
  ``mace_run_train`` (its checkpoints make training resumable), every
  ``[student]`` key passed to it under the same name;
* **card** (``card.json``): teacher, data, split, held-out errors per element,
  speed against the teacher, training time, versions, and the physics checks
  of an optional ``[card]`` table (:mod:`mdkit.trust`).

The training and validation labels come first and the student trains on them;
the test trajectories are labelled after, so a model exists as early as it can.

Energies are in eV, forces in eV/Å, times in the units their names carry.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

from mdkit.errors import ComputationFailed, MdkitError
from mdkit.writer import atomic_path, write_json, write_text

#: The keys the teacher's labels are stored under (and mace_run_train reads).
ENERGY_KEY, FORCES_KEY = "teacher_energy", "teacher_forces"
MARKER = ".mdkit-train"
SAMPLING_DEFAULTS = {"temperatures_K": [290.0], "test_temperatures_K": [], "seeds": [1, 2, 3],
                     "duration_ps": 0.5, "timestep_fs": 2.0, "label_every_fs": 20.0,
                     "friction_per_ps": 10.0, "hydrogen_mass_amu": None, "rattled": 0,
                     "rattle_angstrom": 0.05, "strain": 0.02, "structures": []}
SPLIT_DEFAULTS = {"validation_seeds": [2], "test_seeds": [3]}
#: The split's roles, in the order they are labelled.
ROLES = ("train", "valid", "test")
#: Test frames within this time of a trajectory's start (ps) stay out of the held-out errors.
HELD_OUT_AFTER_PS = 0.1
#: Where a training goes when only the [student] table changed (the labels stay).
EARLIER = "earlier-students"
#: What mdkit decides for mace_run_train itself (the folder's layout and the labels' keys).
STUDENT_RESERVED = ("name", "train_file", "valid_file", "test_file", "work_dir", "energy_key",
                    "forces_key", "restart_latest", "log_dir", "model_dir", "checkpoints_dir",
                    "results_dir")
STUDENT_DEFAULTS = {"model": "MACE", "hidden_irreps": "32x0e", "max_L": 2, "correlation": 2,
                    "num_interactions": 2, "r_max": 5.0, "max_num_epochs": 50, "batch_size": 4,
                    "valid_batch_size": 8, "lr": 0.01, "E0s": "average", "forces_weight": 100.0,
                    "energy_weight": 1.0, "default_dtype": "float64", "seed": 1,
                    "device": "auto"}


class TrainSpecError(MdkitError):
    """A training spec that cannot be honoured (names the file and the key)."""


class TrainingFailed(ComputationFailed):
    """The teacher or mace_run_train failed (exit status 1); the labels so far are kept."""


def _fail(path, where, message):
    raise TrainSpecError(f"{path}: {where} {message}")


@dataclass
class TrainSpec:
    """A validated training spec; times in the units their names carry."""

    path: Path
    folder: Path
    teacher: dict
    systems: list
    sampling: dict
    split: dict
    student: dict
    raw: dict = field(default_factory=dict)
    #: The [card] table's physics checks (:func:`mdkit.trust.card_settings`).
    card: dict = field(default_factory=dict)

    def trajectories(self) -> list[dict]:
        """Every teacher trajectory: system index, temperature (K), seed and its split."""
        out = []
        s, split = self.sampling, self.split
        for index, _ in enumerate(self.systems):
            for temperature in s["temperatures_K"] + s["test_temperatures_K"]:
                for seed in s["seeds"]:
                    role = ("test" if seed in split["test_seeds"]
                            or temperature in s["test_temperatures_K"] else
                            "valid" if seed in split["validation_seeds"] else "train")
                    if temperature in s["test_temperatures_K"] and seed not in split["test_seeds"]:
                        continue  # temperatures only the test sees, at the test seeds only
                    out.append({"system": index, "temperature_K": float(temperature),
                                "seed": int(seed), "role": role})
        return out


def _numbers(path, where, key, value, positive=True, integer=False):
    values = value if isinstance(value, list) else [value]
    for v in values:
        ok = (isinstance(v, int) if integer else isinstance(v, (int, float))) \
            and not isinstance(v, bool) and math.isfinite(v) and (v > 0 if positive else v >= 0)
        if not ok:
            kind = "whole numbers" if integer else "numbers"
            _fail(path, where, f"{key} = {value!r}: must be {'positive ' if positive else ''}"
                               f"{kind}.")


def load_train_spec(path) -> TrainSpec:
    """Read and check a training spec; errors name the file, the key and what is valid."""
    from mdkit.calculators import CALCULATORS
    from mdkit.protocol import SYSTEM_KEYS, anchored

    path = Path(path)
    if not path.is_file():
        raise TrainSpecError(f"{path}: no such training spec (a TOML file).")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise TrainSpecError(f"{path}: not valid TOML ({err}).") from None
    for key in data:
        if key not in ("teacher", "systems", "sampling", "split", "student", "output", "card"):
            _fail(path, "the file", f"has an unknown table [{key}]; valid: [teacher], "
                                    "[[systems]], [sampling], [split], [student], [output], "
                                    "[card].")
    teacher = data.get("teacher")
    if not isinstance(teacher, dict) or teacher.get("name") not in CALCULATORS:
        name = teacher.get("name") if isinstance(teacher, dict) else None
        _fail(path, "[teacher]", f"name {name!r} is not one of {', '.join(CALCULATORS)}.")
    teacher = anchored({"calculator": teacher}, path)["calculator"]

    systems = data.get("systems")
    if not isinstance(systems, list) or not systems:
        _fail(path, "[[systems]]", "is empty; list at least one system (build = \"ag29\", or "
                                   "file = \"my.xyz\").")
    resolved = []
    for number, system in enumerate(systems, 1):
        where = f"[[systems]] number {number}"
        unknown = set(system) - set(SYSTEM_KEYS)
        if unknown:
            _fail(path, where, f"has unknown keys {sorted(unknown)}; valid: "
                               f"{', '.join(SYSTEM_KEYS)}.")
        if ("build" in system) == ("file" in system):
            _fail(path, where, "needs exactly one of build (a system name) or file.")
        if "file" in system:
            structure = (path.parent / system["file"]).resolve()
            if not structure.is_file():
                _fail(path, where, f"file {system['file']!r} does not exist ({structure}).")
            system = {**system, "file": str(structure)}
        resolved.append(system)

    sampling = {**SAMPLING_DEFAULTS, **data.get("sampling", {})}
    for key in sampling:
        if key not in SAMPLING_DEFAULTS:
            _fail(path, "[sampling]", f"has no key {key!r}; valid: "
                                      f"{', '.join(SAMPLING_DEFAULTS)}.")
    for key in ("temperatures_K", "duration_ps", "timestep_fs", "label_every_fs",
                "friction_per_ps", "rattle_angstrom"):
        _numbers(path, "[sampling]", key, sampling[key])
    if sampling["test_temperatures_K"]:
        _numbers(path, "[sampling]", "test_temperatures_K", sampling["test_temperatures_K"])
    _numbers(path, "[sampling]", "seeds", sampling["seeds"], positive=False, integer=True)
    _numbers(path, "[sampling]", "rattled", sampling["rattled"], positive=False, integer=True)
    _numbers(path, "[sampling]", "strain", sampling["strain"], positive=False)
    if sampling["hydrogen_mass_amu"] is not None:
        _numbers(path, "[sampling]", "hydrogen_mass_amu", sampling["hydrogen_mass_amu"])
    every = sampling["label_every_fs"] / sampling["timestep_fs"]
    if abs(every - round(every)) > 1e-9:
        _fail(path, "[sampling]", f"label_every_fs ({sampling['label_every_fs']}) must be a "
                                  f"whole multiple of timestep_fs ({sampling['timestep_fs']}).")
    sampling["structures"] = [str((path.parent / f).resolve()) for f in sampling["structures"]]
    for name in sampling["structures"]:
        if not Path(name).is_file():
            _fail(path, "[sampling]", f"structures: {name} does not exist.")

    split = {**SPLIT_DEFAULTS, **data.get("split", {})}
    for key in split:
        if key not in SPLIT_DEFAULTS:
            _fail(path, "[split]", f"has no key {key!r}; valid: {', '.join(SPLIT_DEFAULTS)}.")
    seeds = set(sampling["seeds"])
    for key in SPLIT_DEFAULTS:
        if not set(split[key]) <= seeds:
            _fail(path, "[split]", f"{key} = {split[key]} names seeds not in [sampling] seeds "
                                   f"= {sampling['seeds']}.")
    train_seeds = seeds - set(split["validation_seeds"]) - set(split["test_seeds"])
    if not split["validation_seeds"] or not split["test_seeds"] or not train_seeds \
            or set(split["validation_seeds"]) & set(split["test_seeds"]):
        _fail(path, "[split]", f"needs at least three seeds split by trajectory, disjoint: "
                               f"training {sorted(train_seeds)}, validation_seeds "
                               f"{split['validation_seeds']}, test_seeds {split['test_seeds']}; "
                               "too few trajectories to split.")

    student = {**STUDENT_DEFAULTS, **data.get("student", {})}
    _check_student(path, student)
    output = data.get("output", {})
    folder = path.parent / output.get("folder", path.stem)
    card = _check_card(path, data.get("card"), resolved)
    return TrainSpec(path=path, folder=folder, teacher=teacher, systems=resolved,
                     sampling=sampling, split=split, student=student, raw=data, card=card)


def _check_card(path, table, systems) -> dict:
    """The [card] table's physics checks, on elements the student is trained on."""
    from mdkit.systems import build
    from mdkit.trust import CardSpecError, card_settings

    if table is None:
        return {}
    elements = {symbol for system in systems
                for symbol in build(system.get("file", system.get("build")), system.get("dope"),
                                    system.get("vacancy"))[0].get_chemical_symbols()}
    try:
        return card_settings(table, elements, path.parent)
    except CardSpecError as err:
        raise TrainSpecError(f"{path}: {err}") from None


def _flag_options() -> set[str]:
    """mace_run_train's switches that take no value (``--swa``, ``--ema``)."""
    import argparse

    from mace.tools import build_default_arg_parser

    return {action.dest for action in build_default_arg_parser()._actions
            if isinstance(action, argparse._StoreTrueAction)}


def _check_student(path, student: dict) -> None:
    """Every [student] key must be one of mace_run_train's own arguments."""
    from mace.tools import build_default_arg_parser

    known = {action.dest for action in build_default_arg_parser()._actions}
    flags = _flag_options()
    for key, value in student.items():
        if key in STUDENT_RESERVED:
            _fail(path, "[student]", f"{key} is set by mdkit (the training folder's layout).")
        if key not in known:
            _fail(path, "[student]", f"{key!r} is not a mace_run_train option (see "
                                     "`mace_run_train --help`).")
        if key in flags and not isinstance(value, bool):
            _fail(path, "[student]", f"{key} is a switch: true or false (got {value!r}).")


# -- the training folder ---------------------------------------------------------------


def _trajectory_name(spec: TrainSpec, trajectory: dict, atoms) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", atoms.info.get("name", f"system{trajectory['system']}"))
    return f"{base.strip('_')}-{trajectory['temperature_K']:g}K-seed{trajectory['seed']}"


def _system(spec: TrainSpec, index: int):
    from mdkit.systems import build

    system = spec.systems[index]
    atoms, sites = build(system.get("file", system.get("build")), system.get("dope"),
                         system.get("vacancy"))
    charge = int(system.get("charge", sites.charge))
    return atoms, charge


def _frame_text(atoms, energy: float, forces, info: dict) -> str:
    """One extended-XYZ frame with the teacher's labels under their own keys."""
    from ase import Atoms
    from ase.io import write

    frame = Atoms(atoms.numbers, atoms.positions, momenta=atoms.get_momenta(),
                  cell=atoms.cell, pbc=atoms.pbc)
    frame.info.update(info)
    frame.info[ENERGY_KEY] = float(energy)
    frame.arrays[FORCES_KEY] = np.asarray(forces, dtype=float)
    buffer = io.StringIO()
    write(buffer, frame, format="extxyz")
    return buffer.getvalue()


def read_frames(path: Path) -> list:
    """The complete frames of a label file; a torn last frame (a kill) is cut off."""
    from ase.io import read

    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")[:-1]  # the piece after the last newline is never whole
    line, good, count = 0, 0, 0
    while line < len(lines):
        try:
            natoms = int(lines[line])
        except ValueError:
            break
        if line + natoms + 2 > len(lines):
            break
        good += sum(len(text) + 1 for text in lines[line:line + natoms + 2])
        line, count = line + natoms + 2, count + 1
    if good < len(data):
        # our own file: drop the torn frame so the next append starts clean
        with path.open("r+b") as handle:
            handle.truncate(good)
    if not count:
        return []
    return read(io.StringIO(data[:good].decode()), index=":", format="extxyz")


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _label_trajectory(spec: TrainSpec, trajectory: dict, path: Path, say) -> int:
    """Run (or continue) one teacher trajectory, appending a labelled frame every stride."""
    from ase import units

    from mdkit.calculators import make_calculator
    from mdkit.masses import repartition_hydrogen_mass
    from mdkit.thermostats import THERMOSTATS

    s = spec.sampling
    every = round(s["label_every_fs"] / s["timestep_fs"])
    wanted = int(round(s["duration_ps"] * 1000 / s["label_every_fs"]))
    frames = read_frames(path)
    if len(frames) >= wanted:
        return len(frames)
    atoms, charge = _system(spec, trajectory["system"])
    options = {k: v for k, v in spec.teacher.items() if k != "name"}
    atoms.calc = make_calculator(spec.teacher["name"], atoms, charge, **options)
    if s["hydrogen_mass_amu"]:
        repartition_hydrogen_mass(atoms, s["hydrogen_mass_amu"])
    temperature = trajectory["temperature_K"]
    if frames:  # continue from the last frame written (positions and momenta)
        atoms.positions = frames[-1].positions
        atoms.set_momenta(frames[-1].get_momenta())
    else:
        from ase.md.velocitydistribution import Stationary, thermalize_momenta

        thermalize_momenta(atoms, temperature_K=temperature,
                           rng=np.random.default_rng(trajectory["seed"]))
        Stationary(atoms)
    # a resumed trajectory draws new noise, seeded by where it resumes
    rng = np.random.default_rng([trajectory["seed"], len(frames)])
    dyn = THERMOSTATS["langevin"].make(atoms, s["timestep_fs"] * units.fs, temperature,
                                       s["friction_per_ps"], rng)
    for done in range(len(frames), wanted):
        dyn.run(every)
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
            raise TrainingFailed(f"teacher {spec.teacher['name']} gave a non-finite energy or "
                                 f"force in {path.name} at frame {done + 1}.")
        info = {"trajectory": path.stem, "role": trajectory["role"],
                "temperature_K": temperature, "seed": trajectory["seed"],
                "time_ps": (done + 1) * s["label_every_fs"] / 1000, "charge": charge}
        _append(path, _frame_text(atoms, energy, forces, info))
        say(done + 1, wanted, atoms)
    return wanted


def _label_copies(spec: TrainSpec, index: int, path: Path) -> int:
    """Rattled and compressed/expanded copies of system ``index`` (training only)."""
    from mdkit.calculators import make_calculator

    s = spec.sampling
    frames = read_frames(path)
    if len(frames) >= s["rattled"]:
        return len(frames)
    atoms, charge = _system(spec, index)
    options = {k: v for k, v in spec.teacher.items() if k != "name"}
    atoms.calc = make_calculator(spec.teacher["name"], atoms, charge, **options)
    start = atoms.positions.copy()
    centre = start.mean(axis=0)
    for copy in range(len(frames), s["rattled"]):
        rng = np.random.default_rng([index, copy])
        scale = 1 + rng.uniform(-s["strain"], s["strain"])
        atoms.positions = centre + (start - centre) * scale + rng.normal(
            0, s["rattle_angstrom"], start.shape)
        atoms.set_momenta(np.zeros_like(start))
        info = {"trajectory": path.stem, "role": "train", "scale": scale, "charge": charge}
        _append(path, _frame_text(atoms, atoms.get_potential_energy(), atoms.get_forces(), info))
    return s["rattled"]


def _label_structures(spec: TrainSpec, file: str, path: Path) -> int:
    """Every frame of a structure file (a barrier band), labelled by the teacher."""
    from mdkit.calculators import make_calculator
    from mdkit.systems.io import read_atoms

    from ase.io import read

    images = read(file, index=":")
    frames = read_frames(path)
    charge = int(read_atoms(file).info.get("charge", 0))
    options = {k: v for k, v in spec.teacher.items() if k != "name"}
    for number in range(len(frames), len(images)):
        atoms = images[number]
        atoms.calc = make_calculator(spec.teacher["name"], atoms, charge, **options)
        atoms.set_momenta(np.zeros_like(atoms.positions))
        info = {"trajectory": path.stem, "role": "train", "source": Path(file).name,
                "charge": charge}
        _append(path, _frame_text(atoms, atoms.get_potential_energy(), atoms.get_forces(), info))
    return len(images)


class TrainFolder:
    """A training folder's layout and life: labels, split, student, card.

    Nothing in it is deleted; a file it did not write is never overwritten.
    Running it again continues where it stopped.
    """

    def __init__(self, spec: TrainSpec):
        self.spec = spec
        self.path = Path(spec.folder)
        self.labels = self.path / "labels"
        self.mace = self.path / "mace"

    def open(self, force: bool = False) -> None:
        """Create the folder, or reopen it when it holds this spec's training.

        A folder mdkit did not make, or one holding another spec's training,
        is refused, or with ``force`` moved aside (never deleted).
        """
        from mdkit.writer import claim, move_aside

        resolved = json.dumps(_comparable(self.spec), sort_keys=True)
        claim(self.path, force=force, marker=MARKER)
        old = self.path / "spec.json"
        changed = old.exists() and old.read_text() != resolved
        if changed and self._labels_fit(old):
            # only the student changed: the labels stay, an earlier training is kept aside
            if (self.path / EARLIER / ".incoming").exists() or any(self.mace.glob("*")) \
                    or self.model.exists():
                kept = self._keep_earlier_student(old)
                print(f"mdkit train: the [student] table changed; labels kept, the earlier "
                      f"training moved to {kept}", file=sys.stderr)
        elif changed:
            if not force:
                raise TrainSpecError(f"{self.path} holds a training of a different spec; "
                                     "restore the old spec, choose another [output] folder, or"
                                     " add --force to have mdkit move the old one aside.")
            print(f"mdkit train: moved {self.path} aside to {move_aside(self.path)}",
                  file=sys.stderr)
        (self.path / MARKER).touch()  # first, so the folder is known as mdkit's
        self.labels.mkdir(exist_ok=True)
        self.mace.mkdir(exist_ok=True)
        write_text(self.path / "spec.json", resolved)

    def _keep_earlier_student(self, old: Path) -> Path:
        """Move the training (not the labels) to earlier-students/student-N.

        Staged in ``.incoming`` and renamed once, so a kill in between leaves
        nothing half-moved that a rerun would not finish.
        """
        staged = self.path / EARLIER / ".incoming"
        staged.mkdir(parents=True, exist_ok=True)
        for name in ("mace", "student.model", "training.json", "card.json", "train.log"):
            if (self.path / name).exists():
                (self.path / name).rename(staged / name)
        write_text(staged / "spec.json", old.read_text())
        kept = self.path / EARLIER / f"student-{len(list(staged.parent.glob('student-*'))) + 1}"
        staged.rename(kept)
        return kept

    def _labels_fit(self, old: Path) -> bool:
        """Whether the folder's labels were made by this spec's teacher, systems and sampling."""
        try:
            before = json.loads(old.read_text())
        except ValueError:
            return False
        now = _comparable(self.spec)
        return all(before.get(key) == json.loads(json.dumps(now[key]))
                   for key in ("teacher", "systems", "sampling", "split"))

    def label(self, progress=None, roles=ROLES) -> dict:
        """Teacher labels for the trajectories (and, with "train", the copies and structure
        files) of ``roles``; returns frames per label file."""
        from mdkit.progress import LogLines

        spec = self.spec
        per_trajectory = int(round(spec.sampling["duration_ps"] * 1000
                                   / spec.sampling["label_every_fs"]))
        # training trajectories first: an interrupted labelling has the most useful part
        trajectories = sorted((t for t in spec.trajectories() if t["role"] in roles),
                              key=lambda t: ROLES.index(t["role"]))
        lines = LogLines(f"mdkit train: {'/'.join(roles)} labels",
                         len(trajectories) * per_trajectory, "frames") \
            if progress is not False else None
        counts, before = {}, 0
        for trajectory in trajectories:
            atoms, _ = _system(spec, trajectory["system"])
            name = _trajectory_name(spec, trajectory, atoms)
            path = self.labels / f"{trajectory['role']}-{name}.xyz"

            def report(done, total, atoms, name=name, before=before):
                if lines is not None:
                    lines.update(before + done, f"{name} T {atoms.get_temperature():.0f} K")

            counts[path.name] = _label_trajectory(spec, trajectory, path, report)
            before += per_trajectory
        if "train" not in roles:
            return counts
        for index in range(len(spec.systems) if spec.sampling["rattled"] else 0):
            atoms, _ = _system(spec, index)
            name = re.sub(r"[^A-Za-z0-9]+", "_", atoms.info.get("name", str(index)))
            path = self.labels / f"train-{name.strip('_')}-rattled.xyz"
            counts[path.name] = _label_copies(spec, index, path)
        for file in spec.sampling["structures"]:
            path = self.labels / f"train-file-{Path(file).stem}.xyz"
            counts[path.name] = _label_structures(spec, file, path)
        return counts

    def split(self, roles=ROLES) -> dict:
        """Gather the label files of ``roles`` into train/valid/test.xyz by their
        trajectory's role; split.json tells every role written so far."""
        files = {role: [] for role in roles}
        for path in sorted(self.labels.glob("*.xyz")):
            if path.name.split("-", 1)[0] in files:
                files[path.name.split("-", 1)[0]].append(path)
        record = self.path / "split.json"
        summary = json.loads(record.read_text()) if record.exists() else {}
        for role, paths in files.items():
            text = "".join(p.read_text() for p in paths)
            write_text(self.path / f"{role}.xyz", text)
            summary[role] = {"trajectories": [p.stem.split("-", 1)[1] for p in paths],
                             "frames": sum(len(read_frames(p)) for p in paths)}
            if not summary[role]["frames"]:
                raise TrainSpecError(f"{self.spec.path}: the {role} set is empty; too few "
                                     "trajectories to split.")
        write_json(self.path / "split.json", summary)
        return summary

    @property
    def model(self) -> Path:
        return self.path / "student.model"

    def train(self, progress=None) -> float:
        """Train (or continue training) the student with mace_run_train; seconds spent."""
        student = dict(self.spec.student)
        device = student.pop("device")
        if device == "auto":
            from mdkit.calculators import torch_device

            device = torch_device("auto")
        args = [sys.executable, "-m", "mace.cli.run_train", "--name", "student",
                "--train_file", "../train.xyz", "--valid_file", "../valid.xyz",
                "--energy_key", ENERGY_KEY,
                "--forces_key", FORCES_KEY, "--work_dir", ".", "--restart_latest",
                "--device", device]
        flags = _flag_options()
        for key, value in student.items():
            if key in flags:  # mace's store_true switches (swa, ema) take no value
                args += [f"--{key}"] if value else []
            elif isinstance(value, bool):
                args += [f"--{key}", str(value)]
            elif isinstance(value, (list, dict)):
                args += [f"--{key}", json.dumps(value)]
            else:
                args += [f"--{key}", str(value)]
        from mdkit.progress import LogLines

        epochs = int(student["max_num_epochs"])
        lines = LogLines("mdkit train: student", epochs, "epochs", interval_s=300) \
            if progress is not False else None
        started = time.monotonic()
        spent_before = self.training_s()
        with (self.path / "train.log").open("a") as log:
            process = subprocess.Popen(args, cwd=self.mace, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            for line in process.stdout:
                log.write(line)
                log.flush()
                match = re.search(r"Epoch (\d+):.*?loss=\s*([0-9.eE+-]+).*?_F=\s*([0-9.]+)", line)
                if match:
                    epoch = int(match.group(1)) + 1
                    spent = time.monotonic() - started
                    # wall time summed over interrupted calls, kept as it grows
                    write_text(self.path / "training.json",
                                json.dumps({"training_s": spent_before + spent}))
                    if lines is not None:
                        lines.update(epoch, f"loss {float(match.group(2)):.4g}, validation "
                                            f"force error {match.group(3)} meV/A")
            process.wait()
        # the time after the last epoch line (stage-two evaluation, saving) counts too
        write_text(self.path / "training.json",
                   json.dumps({"training_s": spent_before + time.monotonic() - started}))
        produced = self.mace / "student.model"
        if process.returncode or not produced.exists():
            tail = (self.path / "train.log").read_text().splitlines()[-3:]
            raise TrainingFailed(f"mace_run_train stopped (exit {process.returncode}) without "
                                 f"a model; see {self.path / 'train.log'}: {' | '.join(tail)}")
        with atomic_path(self.model) as tmp:
            tmp.write_bytes(produced.read_bytes())
        return self.training_s()

    def training_s(self) -> float:
        """Wall seconds spent in mace_run_train so far, over every call."""
        record = self.path / "training.json"
        return json.loads(record.read_text())["training_s"] if record.exists() else 0.0

    @property
    def checks(self) -> Path:
        """The [card] physics checks' folder: ``checks.db`` (relaxations, bands, NVE runs,
        reused on a rerun), ``bands/`` (resume points) and the students they checked."""
        return self.path / "checks"

    def checked_student(self) -> dict:
        """The student as the checks' engine, by a copy named after its content: the
        database knows a model by its path, and a student retrained in place must not be
        given the results of the one before."""
        import hashlib

        data = self.model.read_bytes()
        named = self.checks / f"student-{hashlib.sha256(data).hexdigest()[:12]}.model"
        if not named.exists():
            self.checks.mkdir(exist_ok=True)
            with atomic_path(named) as tmp:
                tmp.write_bytes(data)
        return {"name": "mace", "model": str(named.resolve())}

    def card(self, progress=None) -> dict:
        """Held-out errors and speed of the student against the teacher, and the [card]
        physics checks (:func:`mdkit.trust.physics_checks`); written as card.json."""
        from ase.io import read

        from mdkit.calculators import engine_version

        # every trajectory starts from the same built structure: the test frames of its
        # first 0.1 ps still sit near training frames and would flatter the student
        after = HELD_OUT_AFTER_PS if self.spec.sampling["duration_ps"] > HELD_OUT_AFTER_PS \
            else 0.0
        test = [frame for frame in read(self.path / "test.xyz", index=":")
                if frame.info.get("time_ps", after + 1) > after + 1e-9]
        card = {
            "mdkit": version("mdkit"), "mace_torch": version("mace-torch"),
            "teacher": {**self.spec.teacher,
                        "version": engine_version(self.spec.teacher["name"])},
            "student": self.spec.student, "model": self.model.name,
            "elements": sorted({s for a in test for s in a.get_chemical_symbols()}),
            "systems": self.spec.systems, "sampling": self.spec.sampling,
            "split": json.loads((self.path / "split.json").read_text()),
            "held_out_after_ps": after,
            "held_out": {dtype: held_out_errors(self.model, test, dtype)
                         for dtype in ("float64", "float32")},
            "speed": speed(self.spec, self.model),
        }
        card["training_s"] = self.training_s()
        if self.spec.card:
            from mdkit.trust import physics_checks

            card["physics"] = physics_checks(self.spec.card, self.checked_student(),
                                             self.spec.teacher, self.checks / "checks.db",
                                             progress, folder=self.checks / "bands")
        write_json(self.path / "card.json", card)
        return card


def held_out_errors(model: Path, frames, dtype: str = "float64") -> dict:
    """The student's errors against the teacher's labels on ``frames``.

    Returns force MAE and RMSE (eV/Å) overall and per element, the largest
    force-component error, and the energy MAE per atom (meV/atom).
    """
    from mace.calculators import MACECalculator

    from mdkit.calculators import torch_device

    calculator = MACECalculator(model_paths=str(model), device=torch_device("auto"),
                                default_dtype=dtype)
    errors, symbols, energy = [], [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calculator
        errors.append(atoms.get_forces() - frame.arrays[FORCES_KEY])
        symbols += atoms.get_chemical_symbols()
        energy.append((atoms.get_potential_energy() - frame.info[ENERGY_KEY]) / len(atoms))
    errors, symbols = np.concatenate(errors), np.array(symbols)
    out = {"frames": len(frames), "force_mae_eV_per_A": float(np.abs(errors).mean()),
           "force_rmse_eV_per_A": float(np.sqrt((errors ** 2).mean())),
           "force_max_eV_per_A": float(np.abs(errors).max()),
           "energy_mae_meV_per_atom": float(1000 * np.abs(energy).mean()),
           "per_element": {}}
    for element in sorted(set(symbols)):
        e = errors[symbols == element]
        out["per_element"][element] = {"force_mae_eV_per_A": float(np.abs(e).mean()),
                                       "force_rmse_eV_per_A": float(np.sqrt((e ** 2).mean()))}
    return out


def speed(spec: TrainSpec, model: Path, calls: int = 5) -> dict:
    """Milliseconds per energy+forces call of student (float32) and teacher, first system."""
    from mace.calculators import MACECalculator

    from mdkit.calculators import make_calculator, torch_device

    atoms, charge = _system(spec, 0)
    out = {"atoms": len(atoms), "system": atoms.info.get("name")}
    options = {k: v for k, v in spec.teacher.items() if k != "name"}
    for who in ("student_ms", "teacher_ms"):
        trial = atoms.copy()
        # the teacher may box the structure it is given (asap3, GPAW), so it gets this copy
        trial.calc = (MACECalculator(model_paths=str(model), device=torch_device("auto"),
                                     default_dtype="float32") if who == "student_ms" else
                      make_calculator(spec.teacher["name"], trial, charge, **options))
        trial.get_forces()  # warm-up (graphs, caches)
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        for _ in range(calls):
            trial.positions += rng.normal(0, 0.001, trial.positions.shape)
            trial.get_forces()
        out[who] = 1000 * (time.perf_counter() - started) / calls
    out["speedup"] = out["teacher_ms"] / out["student_ms"]
    return out


def train(spec: TrainSpec, progress=None, force: bool = False) -> Path:
    """Label, split, train and card, continuing whatever an earlier call left; the folder.

    ``force`` moves aside a folder that holds another spec's training (or is
    not mdkit's) and starts afresh.
    """
    folder = TrainFolder(spec)
    folder.open(force)
    # the student trains as soon as its own labels exist; the test set is labelled after
    folder.label(progress, ("train", "valid"))
    folder.split(("train", "valid"))
    if not folder.model.exists():
        folder.train(progress)
    folder.label(progress, ("test",))
    folder.split(("test",))
    folder.card(progress)
    return folder.path


def _comparable(spec: TrainSpec) -> dict:
    return {"teacher": spec.teacher, "systems": spec.systems, "sampling": spec.sampling,
            "split": spec.split, "student": spec.student}
