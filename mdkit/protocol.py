"""The run spec: one TOML file naming the system, the calculator and the stages.

Example::

    [system]
    build = "ag28"              # or: file = "my_cluster.xyz" (relative to this file)
    vacancy = "center"

    [calculator]
    name = "gfnff"              # every other key goes to the calculator as is

    [md]
    timestep_fs = 1.0
    seed = 7
    stride_fs = 10              # one trajectory frame every 10 fs
    checkpoint_ps = 0.5
    hydrogen_mass_amu = 4.0     # optional: heavier H (mass taken from its C) for 2 fs steps

    [[stages]]
    name = "thermalize"
    thermostat = "langevin"
    temperature_K = 290
    duration_ps = 3

    [[stages]]
    name = "anneal"
    thermostat = "langevin"
    temperature_K = [290, 50]   # a linear ramp
    duration_ps = 2

Everything is checked on load; an error names the file, the key and what
would be valid.  Times are given in fs and ps as the key names say and kept
in those units here; the runner converts to ASE units.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mdkit.errors import MdkitError
from mdkit.thermostats import THERMOSTATS


class RunSpecError(MdkitError):
    """A run spec that cannot be run as written."""


SYSTEM_KEYS = ("build", "file", "dope", "vacancy", "charge")
MD_KEYS = ("timestep_fs", "seed", "stride_fs", "checkpoint_ps", "max_temperature_K",
           "nve_drift_eV_per_atom", "hydrogen_mass_amu")
STAGE_KEYS = ("name", "thermostat", "temperature_K", "duration_ps")
TOP_KEYS = ("system", "calculator", "md", "stages", "output")


@dataclass
class Stage:
    """One stage of the protocol.

    ``temperature_K`` is ``(start, end)``, equal for a constant temperature,
    ``None`` for a thermostat that holds none (NVE).
    ``coupling`` is the thermostat's parameter in the unit its key names
    (``friction_per_ps``, ``taut_fs`` or ``tdamp_fs``); ``None`` for a
    thermostat without one.
    """

    name: str
    thermostat: str
    temperature_K: tuple[float, float] | None
    duration_ps: float
    coupling: float | None = None


@dataclass
class RunSpec:
    """A validated run spec.  ``path`` is the TOML file, ``folder`` the run folder."""

    path: Path
    folder: Path
    system: dict
    calculator: dict
    timestep_fs: float = 1.0
    seed: int = 0
    stride_fs: float = 10.0
    checkpoint_ps: float = 0.5
    max_temperature_K: float = 3000.0
    nve_drift_eV_per_atom: float = 0.05
    #: Mass given to every H (amu), taken from its bonded atom; None keeps the real masses.
    hydrogen_mass_amu: float | None = None
    stages: list[Stage] = field(default_factory=list)
    #: The teacher's check along the run (``with``, ``every_ps``, ``force_mae_eV_per_A``).
    check: dict | None = None

    def steps(self, duration_ps: float) -> int:
        """Number of MD steps in ``duration_ps``."""
        return round(duration_ps * 1000.0 / self.timestep_fs)

    @property
    def stride(self) -> int:
        """MD steps between trajectory frames."""
        return round(self.stride_fs / self.timestep_fs)

    @property
    def checkpoint_interval(self) -> int:
        """MD steps between checkpoints."""
        return self.steps(self.checkpoint_ps)

    @property
    def total_steps(self) -> int:
        return sum(self.steps(s.duration_ps) for s in self.stages)

    def to_dict(self) -> dict:
        """The resolved spec (defaults filled in), JSON-ready."""
        data = asdict(self)
        data["path"], data["folder"] = str(self.path), str(self.folder)
        return data


# A bare (unquoted) value that is not TOML is taken as a string only when it is one
# word of a name or path; anything else was meant as TOML.
_WORD = re.compile(r"[\w.+\-:/@~]+")


def toml_value(text: str):
    """A value given on the command line, read as the same value in a spec would be.

    The text is read whole as a TOML value (numbers, booleans, quoted strings,
    lists and inline tables keep their commas); a single bare word that is not
    TOML (``dzp``, ``gfnff``, ``path/to/file.xyz``) stays a string.

    Raises
    ------
    ValueError
        Neither a TOML value nor a bare word; the message gives TOML's reason.
    """
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError as err:
        if _WORD.fullmatch(text):
            return text
        raise ValueError(str(err).split(" (at ")[0].lower()) from None


def _fail(path, where, message):
    raise RunSpecError(f"{path}: {where} {message}")


def _check_keys(path, where, table, allowed):
    if not isinstance(table, dict):
        _fail(path, where, f"must be a table, not {type(table).__name__}.")
    for key in table:
        if key not in allowed:
            _fail(path, where, f"has unknown key {key!r}; valid keys: {', '.join(allowed)}.")


def _number(path, where, key, value, minimum=None, positive=False, integer=False):
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        _fail(path, where, f"{key} must be {'an integer' if integer else 'a number'}, "
                           f"got {value!r}.")
    if positive and value <= 0:
        _fail(path, where, f"{key} must be > 0, got {value}.")
    if minimum is not None and value < minimum:
        _fail(path, where, f"{key} must be >= {minimum}, got {value}.")
    return value


def _multiple(a: float, b: float) -> bool:
    ratio = a / b
    return abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1


def load_spec(path) -> RunSpec:
    """Read and validate a run spec.

    Raises
    ------
    RunSpecError
        Naming the file, the key and the valid choices.
    """
    path = Path(path)
    if path.is_dir():
        raise RunSpecError(f"{path} is a folder; give a run spec in it (a .toml file).")
    if not path.is_file():
        raise RunSpecError(f"run spec {path} does not exist.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise RunSpecError(f"{path} is not valid TOML: {err}.") from None
    return spec_from_dict(data, path)


def anchored(data: dict, path) -> dict:
    """A parsed spec with its relative file paths taken from the folder of spec ``path``.

    The structure file (``[system] file``) and the calculator's file options
    (its registry entry's ``file_options``, such as a model file) become
    absolute paths, so the spec means the same wherever it is run from or
    copied to (a sweep's member specs live in another folder).  Values of the
    wrong type are left for validation to name.
    """
    from mdkit.calculators import CALCULATORS

    folder = Path(path).parent
    data = dict(data)
    system, calculator = data.get("system"), data.get("calculator")
    if isinstance(system, dict) and isinstance(system.get("file"), str):
        data["system"] = {**system, "file": str((folder / system["file"]).resolve())}
    if isinstance(calculator, dict) and calculator.get("name") in CALCULATORS:
        engine = CALCULATORS[calculator["name"]]
        data["calculator"] = {**calculator, **{
            key: str((folder / value).resolve()) for key, value in calculator.items()
            if key in engine.file_options and isinstance(value, str)
            and value not in engine.shipped_models}}
    return data


def spec_from_dict(data: dict, path) -> RunSpec:
    """Validate a run spec already parsed from TOML, as if it were the file ``path``.

    ``path`` names the spec in error messages, anchors a relative structure
    file and places the run folder (beside it).

    Raises
    ------
    RunSpecError
        Naming the file, the key and the valid choices.
    """
    from mdkit.calculators import CALCULATORS
    from mdkit.systems import SYSTEMS

    path = Path(path)
    _check_keys(path, "the file", data, TOP_KEYS)
    for key in ("system", "calculator", "stages"):
        if key not in data:
            _fail(path, "the file", f"has no [{key}]{' list' if key == 'stages' else ''}; "
                                    "it needs [system], [calculator] and [[stages]].")

    system = data["system"]
    _check_keys(path, "[system]", system, SYSTEM_KEYS)
    if ("build" in system) == ("file" in system):
        _fail(path, "[system]", "needs exactly one of build (a system name) or file "
                                "(a structure file).")
    if "build" in system and not isinstance(system["build"], str):
        _fail(path, "[system]", f"build must be a system name such as {', '.join(SYSTEMS)}.")
    if "file" in system:
        structure = (path.parent / system["file"]).resolve()
        if not structure.is_file():
            _fail(path, "[system]", f"file {system['file']!r} does not exist "
                                    f"(looked for {structure}).")
        system = {**system, "file": str(structure)}
    if "charge" in system:
        _number(path, "[system]", "charge", system["charge"], integer=True)

    calculator = anchored(data, path)["calculator"]
    if not isinstance(calculator, dict):
        _fail(path, "[calculator]", "must be a table with a name.")
    calculator, check = _teacher_check(path, calculator)
    name = calculator.get("name")
    if name not in CALCULATORS:
        _fail(path, "[calculator]", f"name {name!r} is not one of {', '.join(CALCULATORS)}.")

    md = data.get("md", {})
    _check_keys(path, "[md]", md, MD_KEYS)
    for key in ("timestep_fs", "stride_fs", "checkpoint_ps", "max_temperature_K",
                "nve_drift_eV_per_atom", "hydrogen_mass_amu"):
        if key in md:
            _number(path, "[md]", key, md[key], positive=True)
    if "seed" in md:
        _number(path, "[md]", "seed", md["seed"], minimum=0, integer=True)

    output = data.get("output", {})
    _check_keys(path, "[output]", output, ("folder",))
    folder = path.parent / output.get("folder", path.stem)

    if check and not _multiple(check["every_ps"] * 1000.0, md.get("stride_fs", 10.0)):
        _fail(path, "[calculator]", f"check_every_ps ({check['every_ps']}) must be a whole "
                                    f"multiple of stride_fs ({md.get('stride_fs', 10.0)} fs).")
    spec = RunSpec(path=path, folder=folder, system=system, calculator=calculator, check=check,
                   **{k: v for k, v in md.items()})
    if not _multiple(spec.stride_fs, spec.timestep_fs):
        _fail(path, "[md]", f"stride_fs ({spec.stride_fs}) must be a whole multiple of "
                            f"timestep_fs ({spec.timestep_fs}).")
    if not _multiple(spec.checkpoint_ps * 1000.0, spec.stride_fs):
        _fail(path, "[md]", f"checkpoint_ps ({spec.checkpoint_ps}) must be a whole multiple "
                            f"of stride_fs ({spec.stride_fs} fs).")

    stages = data["stages"]
    if not isinstance(stages, list) or not stages:
        _fail(path, "[[stages]]", "must list at least one stage.")
    for number, stage in enumerate(stages, 1):
        spec.stages.append(_stage(path, number, stage, spec))
    return spec


#: [calculator] keys that configure the teacher's check rather than the engine.
CHECK_KEYS = ("check_with", "check_every_ps", "check_force_mae_eV_per_A")


def _teacher_check(path, calculator: dict) -> tuple[dict, dict | None]:
    """Split the teacher-check keys off the engine's options.

    ``check_with`` names a registry engine (or is a table with ``name`` and
    that engine's options) that recomputes one frame every ``check_every_ps``
    (default 0.5); a force MAE above ``check_force_mae_eV_per_A`` (default
    0.15) warns once.
    """
    from mdkit.calculators import CALCULATORS

    engine = {k: v for k, v in calculator.items() if k not in CHECK_KEYS}
    if not any(k in calculator for k in CHECK_KEYS):
        return engine, None
    if "check_with" not in calculator:
        _fail(path, "[calculator]", "check_every_ps and check_force_mae_eV_per_A need "
                                    "check_with, the engine that checks (e.g. \"sevennet\").")
    teacher = calculator["check_with"]
    teacher = dict(teacher) if isinstance(teacher, dict) else {"name": teacher}
    if teacher.get("name") not in CALCULATORS:
        _fail(path, "[calculator]", f"check_with {teacher.get('name')!r} is not one of "
                                    f"{', '.join(CALCULATORS)}.")
    teacher = anchored({"calculator": teacher}, path)["calculator"]
    check = {"with": teacher, "every_ps": calculator.get("check_every_ps", 0.5),
             "force_mae_eV_per_A": calculator.get("check_force_mae_eV_per_A", 0.15)}
    _number(path, "[calculator]", "check_every_ps", check["every_ps"], positive=True)
    _number(path, "[calculator]", "check_force_mae_eV_per_A", check["force_mae_eV_per_A"],
            positive=True)
    return engine, check


def _stage(path, number, stage, spec) -> Stage:
    where = f"stage {number}" + (f" ({stage['name']})" if isinstance(stage, dict)
                                 and "name" in stage else "")
    # the coupling keys and what each thermostat takes come from its entry in
    # mdkit.thermostats, read here so that a new entry needs no change below
    couplings = sorted({t.key for t in THERMOSTATS.values() if t.key})
    _check_keys(path, where, stage, STAGE_KEYS + tuple(couplings))
    for key in ("thermostat", "duration_ps"):
        if key not in stage:
            _fail(path, where, f"has no {key}.")
    thermostat = stage["thermostat"]
    if thermostat not in THERMOSTATS:
        _fail(path, where, f"thermostat {thermostat!r} is not one of {', '.join(THERMOSTATS)}.")
    entry = THERMOSTATS[thermostat]
    duration = _number(path, where, "duration_ps", stage["duration_ps"], positive=True)
    if not _multiple(duration * 1000.0, spec.stride_fs):
        _fail(path, where, f"duration_ps ({duration}) must be a whole multiple of stride_fs "
                           f"({spec.stride_fs} fs).")
    if not entry.thermostatted:
        if "temperature_K" in stage:
            _fail(path, where, f"uses {thermostat}, which holds no temperature, and takes no "
                               "temperature_K (the temperature follows from the previous "
                               "stage).")
        temperature = None
    else:
        if "temperature_K" not in stage:
            _fail(path, where, "has no temperature_K (a number, or [start, end] for a ramp).")
        value = stage["temperature_K"]
        values = value if isinstance(value, list) else [value]
        if len(values) not in (1, 2):
            _fail(path, where, f"temperature_K must be a number or [start, end], got {value!r}.")
        for v in values:
            _number(path, where, "temperature_K", v, minimum=0)
        temperature = (float(values[0]), float(values[-1]))
        if temperature[0] != temperature[1] and not entry.rampable:
            rampable = [name for name, t in THERMOSTATS.items() if t.rampable]
            _fail(path, where, f"ramps temperature_K but thermostat {thermostat!r} cannot "
                               f"ramp; use one of {', '.join(rampable)}.")
    own = entry.key
    for key in set(couplings) - {own}:
        if key in stage:
            _fail(path, where, f"{key} does not apply to thermostat {thermostat}"
                               + (f"; it takes {own}." if own else "."))
    coupling = None
    if own:
        coupling = float(_number(path, where, own, stage.get(own, entry.default),
                                 positive=True))
    return Stage(name=str(stage.get("name", f"stage{number}")), thermostat=thermostat,
                 temperature_K=temperature, duration_ps=float(duration), coupling=coupling)
