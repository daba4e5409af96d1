"""One registry: a calculator name and its options give a configured ASE calculator.

Adding an engine is one entry in :data:`CALCULATORS`: a factory taking the
structure (which it may place in a box, as GPAW needs) and the net charge
plus the user's options, the module that must be importable, and the
install hint shown when it is not.  Whatever else differs between engines
(the elements they know, a density-based dipole, defaults hidden from the
factory's signature, model files) is a field of the entry, never a test of
the engine's name elsewhere.

The machine-learned engines (``sevennet``, ``chgnet``, ``mace``) run on torch:
``device = "auto"`` (their default) takes CUDA when torch sees a GPU and the
CPU otherwise, with torch's threads set once from ``OMP_NUM_THREADS`` (so a
sweep worker given one thread uses one).  They are trained on neutral DFT
data and know nothing of the net charge: :func:`engine_info` says so
(``charge_aware = False``) for the run's ``meta.json``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mdkit.errors import MdkitError


class EngineError(MdkitError):
    """An unknown, missing or misconfigured engine (named apart from ASE's ``CalculatorError``)."""


@dataclass(frozen=True)
class Engine:
    """A registry entry: ``factory(atoms, charge, **options) -> Calculator``."""

    factory: Callable
    module: str
    distribution: str
    install: str
    #: "module:Class" whose constructor signature lists the valid options; None
    #: for engines that check their own keywords (GPAW).
    options_from: str | None = None
    #: GFN-FF fixes its bond topology at the first call: an exact resume must
    #: show it the structure the run started from before the current one.
    topology_from_first_call: bool = False
    #: Whether the engine's energies depend on the net charge.
    charge_aware: bool = True
    #: The engine runs on torch (takes ``device``; threads from OMP_NUM_THREADS).
    torch: bool = False
    #: The model used when the options name none (torch engines).
    default_model: str | None = None
    #: Models known by name rather than by file (checkpoints shipped with the engine).
    shipped_models: tuple[str, ...] = ()
    #: Options naming a file; a run spec's relative path is taken from the spec's
    #: folder, as its structure file is (names in ``shipped_models`` excepted).
    file_options: tuple[str, ...] = ()
    #: Defaults the factory passes to the engine without naming them in its
    #: signature (GPAW's), so that database keys see them.
    defaults: dict = field(default_factory=dict)
    #: ``normalise(options) -> options`` in the engine's own spelling (GPAW's
    #: ``mode = "lcao"`` is ``{"name": "lcao"}``); None: options as given.
    normalise: Callable | None = None
    #: The engine's dipole moment is that of its electron density (GPAW): asked
    #: for directly, not summed from partial charges.
    density_dipole: bool = False
    #: Distributions whose version names the engine, the first installed one
    #: winning (asap3's EMT before ASE's); empty: ``distribution``.
    versions_of: tuple[str, ...] = ()
    #: Data packages whose versions change results (GPAW's setups); part of
    #: :func:`engine_version`.
    data: tuple[str, ...] = ()
    #: Options a run records in ``meta.json`` besides name, version and model.
    recorded_options: tuple[str, ...] = ()
    #: Chemical symbols the engine has parameters for; None: any element.
    elements: tuple[str, ...] | None = None

    def check_options(self, name: str, options: dict) -> None:
        """Reject option names the engine does not know, listing those it does."""
        if self.options_from is None:
            return
        module, name_ = self.options_from.split(":")
        target = getattr(importlib.import_module(module), name_)
        signature = inspect.signature(target)
        # ASE calculators list their keywords in default_parameters, some (TBLite)
        # only there
        valid = list(dict.fromkeys(
            [p for p, v in signature.parameters.items()
             if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)]
            + list(getattr(target, "default_parameters", {}))))
        valid = [p for p in valid if p not in ("atoms", "charge")]
        for key in options:
            if key not in valid:
                raise EngineError(f"calculator {name!r} has no option {key!r}; valid "
                                  f"options: {', '.join(valid) or 'none'}.")

    def check_elements(self, name: str, atoms) -> None:
        """Reject a structure holding an element the engine has no parameters for."""
        if self.elements is None:
            return
        for index, symbol in enumerate(atoms.get_chemical_symbols()):
            if symbol not in self.elements:
                raise EngineError(f"calculator {name!r} knows only "
                                  f"{', '.join(self.elements)}; atom {index} is {symbol}.")

    def effective_options(self, options: dict) -> dict:
        """``options`` with every default the engine runs with filled in, in its spelling.

        The defaults of the factory's keywords and :attr:`defaults`; for
        hashing and display, not for passing to the engine.
        """
        parameters = inspect.signature(self.factory).parameters
        defaults = {name: p.default for name, p in parameters.items()
                    if name not in ("atoms", "charge") and p.default is not p.empty
                    and p.kind is not p.VAR_KEYWORD}
        merged = {**defaults, **self.defaults, **options}
        return self.normalise(merged) if self.normalise else merged


def _gfnff(atoms, charge, **options):
    from gfnff import GFNFF

    return GFNFF(charge=charge, **options)


def _xtb(atoms, charge, method="GFN1-xTB", verbosity=0, **options):
    from tblite.ase import TBLite

    return TBLite(method=method, charge=charge, verbosity=verbosity, **options)


#: The metals EMT has parameters for, in ASE and in asap3 alike (ASE's H, C, N
#: and O parameters are a fitting exercise, not for use, its documentation says).
EMT_METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")


def _emt(atoms, charge):
    """asap3's EMT when installed (about 60x faster), else ASE's.

    EMT has no notion of charge; it is meant for bare metal clusters.
    """
    try:
        from asap3 import EMT
    except ImportError:
        from ase.calculators.emt import EMT
    else:
        if not atoms.cell.any():  # asap3 wants a cell even without periodicity
            atoms.center(vacuum=10.0)
    return EMT()


#: Defaults for GPAW: LCAO with the dzp basis, PBE, 0.2 Å grid spacing; no point-group
#: symmetry, since MD breaks it at the first step.
GPAW_DEFAULTS = {"mode": {"name": "lcao"}, "basis": "dzp", "xc": "PBE", "h": 0.2,
                 "symmetry": "off", "txt": None}


def _gpaw_spelling(options: dict) -> dict:
    """GPAW's options with ``mode`` as the dict GPAW stores (``"lcao"`` -> ``{"name": "lcao"}``)."""
    if isinstance(options.get("mode"), str):
        return {**options, "mode": {"name": options["mode"]}}
    return options


def _gpaw(atoms, charge, vacuum=5.0, **options):
    """GPAW with :data:`GPAW_DEFAULTS`; ``vacuum`` (Å) pads the box around the ion.

    In plane-wave mode (``mode = {name = "pw", ecut = 600}``) the box is made
    periodic, as plane waves are whatever ``pbc`` says, and the grid follows
    the cutoff unless ``h`` is given: the LCAO default of 0.2 Å is coarser
    than the density needs above about 500 eV.
    """
    from gpaw import GPAW

    atoms.center(vacuum=vacuum)
    parameters = _gpaw_spelling({**GPAW_DEFAULTS, **options, "charge": charge})
    if isinstance(parameters["mode"], dict) and parameters["mode"].get("name") == "pw":
        atoms.pbc = True
        if "h" not in options:
            del parameters["h"]
    return GPAW(**parameters)


#: SevenNet checkpoints inside the ``sevenn`` wheel (others would be downloaded
#: at run time, which needs a network; pass such a checkpoint as a file path).
SEVENNET_SHIPPED = ("7net-0", "7net-0_22May2024", "7net-l3i5", "7net-mf-0")


def torch_device(device: str = "auto") -> str:
    """The torch device for ``device``: "auto" is "cuda" when torch sees a GPU, else "cpu".

    Also sets torch's intra-op threads from ``OMP_NUM_THREADS`` (all cores
    when unset), once per process, so that a worker given one thread uses one.
    """
    import torch

    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind, _, index = str(device).partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()):
        raise EngineError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N.")
    if kind == "cuda" and not torch.cuda.is_available():
        raise EngineError(f"device {device!r} asked for, but torch sees no GPU here; "
                          "use device = \"auto\" or \"cpu\".")
    return str(device)


def _sevennet(atoms, charge, model="7net-0", modal=None, device="auto"):
    """SevenNet (``sevenn``): a shipped checkpoint by name, or a checkpoint file."""
    from sevenn.calculator import SevenNetCalculator

    if model not in SEVENNET_SHIPPED:
        if not Path(model).is_file():
            raise EngineError(f"sevennet model {model!r} is neither a checkpoint shipped "
                              f"with sevenn ({', '.join(SEVENNET_SHIPPED)}) nor a "
                              "checkpoint file.")
        _check_saved_by_torch(model, "SevenNet")
    try:
        calculator = SevenNetCalculator(model=model, modal=modal, device=torch_device(device))
    except ValueError as err:  # sevenn's word on a missing or unknown modal
        raise EngineError(f"sevennet model {model!r}: {err}.") from None
    _inference_only(calculator.model)
    return calculator


def _check_saved_by_torch(path, kind: str) -> None:
    """Refuse a model file torch did not write, before the engine unpickles it.

    ``torch.save`` writes a zip archive holding ``<name>/data.pkl``; anything
    else (text, an empty or cut-short file) would reach the user as an
    unpickling error from deep inside the engine.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            saved = any(n.endswith("/data.pkl") for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        saved = False
    if not saved:
        raise EngineError(f"{path} is not a {kind} model: torch did not write it (a "
                          "saved model is a zip archive holding data.pkl).")


def _inference_only(model) -> None:
    """Stop autograd from tracking the weights: forces need only d(energy)/d(positions).

    Same forces to the last bit, 8-10 % less time per call (SevenNet-0, 172 atoms).
    """
    model.requires_grad_(False)


def _chgnet(atoms, charge, model=None, device="auto", vacuum=10.0):
    """CHGNet with its shipped model (0.3.0), or a model file.

    CHGNet sees every structure as a crystal; a cluster without a cell is
    centred in a box with ``vacuum`` Å on each side, so its periodic images
    (20 Å apart) are far outside the 6 Å graph cutoff.
    """
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    if not atoms.cell.any():
        atoms.center(vacuum=vacuum)
    if model is not None and not Path(model).is_file():
        raise EngineError(f"chgnet model file {model!r} does not exist; leave model out "
                          "for CHGNet's shipped model.")
    if model is not None:
        _check_saved_by_torch(model, "CHGNet")
    loaded = CHGNet.from_file(model) if model else CHGNet.load(verbose=False)
    _inference_only(loaded)
    return CHGNetCalculator(model=loaded, use_device=torch_device(device))


#: Specialists trained with ``mdkit train`` and shipped in mdkit/data/models (their cards
#: beside them): name -> file.
MACE_SHIPPED = {"ag-family": "ag_family.model"}


def shipped_model_path(name: str) -> Path:
    """The file of a MACE specialist shipped with mdkit (:data:`MACE_SHIPPED`)."""
    from importlib.resources import files

    return Path(str(files("mdkit.data") / "models" / MACE_SHIPPED[name]))


def _mace(atoms, charge, model="ag-family", device="auto", default_dtype="float64"):
    """MACE from a shipped specialist's name or a model file (no weights are downloaded)."""
    from ase.data import chemical_symbols

    if model in MACE_SHIPPED:
        if not shipped_model_path(model).is_file():
            raise EngineError(f"the shipped specialist {model!r} is not installed (no "
                              f"{shipped_model_path(model)}); reinstall mdkit.")
        model = shipped_model_path(model)
    if model is None or not Path(model).is_file():
        raise EngineError(f"calculator 'mace' needs model = \"path/to/file.model\" naming "
                          f"an existing MACE model file, or a shipped specialist "
                          f"({', '.join(MACE_SHIPPED)}) (got {str(model)!r}).")
    _check_saved_by_torch(model, "MACE")
    from mace.calculators import MACECalculator

    calculator = MACECalculator(model_paths=str(model), device=torch_device(device),
                                default_dtype=default_dtype)
    # a specialist knows only the elements it was trained on; elsewhere it answers nonsense
    known = {chemical_symbols[int(z)] for z in calculator.models[0].atomic_numbers}
    for index, symbol in enumerate(atoms.get_chemical_symbols()):
        if symbol not in known:
            raise EngineError(f"MACE model {model} was trained on {', '.join(sorted(known))}"
                              f" only; atom {index} is {symbol}.")
    return calculator


def _python(atoms, charge, factory=None, **options):
    """Any ASE calculator: ``factory = "package.module:callable"`` called with the options.

    The callable also receives ``atoms`` and ``charge`` when its signature
    names them.
    """
    from ase.calculators.calculator import BaseCalculator

    module, _, attribute = str(factory).partition(":")
    if factory is None or not module or not attribute:
        raise EngineError(f"calculator 'python' needs factory = \"package.module:callable\""
                          f" (got {factory!r}).")
    try:
        target = getattr(importlib.import_module(module), attribute)
    except ImportError as err:
        raise EngineError(f"factory {factory!r}: cannot import {module} ({err}).") from None
    except AttributeError:
        raise EngineError(f"factory {factory!r}: {module} has no {attribute!r}.") from None
    accepted = inspect.signature(target).parameters
    extra = {k: v for k, v in (("atoms", atoms), ("charge", charge)) if k in accepted}
    calculator = target(**options, **extra)
    if not isinstance(calculator, BaseCalculator):
        raise EngineError(f"factory {factory!r} returned a {type(calculator).__name__}, "
                          "not an ASE calculator.")
    return calculator


CALCULATORS: dict[str, Engine] = {
    "gfnff": Engine(_gfnff, "gfnff", "gfnff", "pip install gfnff",
                    options_from="gfnff:GFNFF", topology_from_first_call=True),
    "xtb": Engine(_xtb, "tblite.ase", "tblite", "pip install 'mdkit[xtb]' (tblite)",
                  options_from="tblite.ase:TBLite"),
    "emt": Engine(_emt, "ase.calculators.emt", "ase", "pip install ase",
                  options_from="mdkit.calculators:_emt", versions_of=("asap3", "ase"),
                  elements=EMT_METALS),
    "gpaw": Engine(_gpaw, "gpaw", "gpaw", "bash install.sh (GPAW with its setups, "
                                          "built against the system MPI)",
                   defaults=GPAW_DEFAULTS, normalise=_gpaw_spelling, density_dipole=True,
                   data=("gpaw-data",)),
    "sevennet": Engine(_sevennet, "sevenn.calculator", "sevenn", "pip install 'mdkit[ml]'",
                       options_from="mdkit.calculators:_sevennet", charge_aware=False,
                       torch=True, default_model="7net-0", shipped_models=SEVENNET_SHIPPED,
                       file_options=("model",)),
    "chgnet": Engine(_chgnet, "chgnet.model", "chgnet", "pip install 'mdkit[ml]'",
                     options_from="mdkit.calculators:_chgnet", charge_aware=False, torch=True,
                     default_model="CHGNet 0.3.0 (shipped)", file_options=("model",)),
    "mace": Engine(_mace, "mace.calculators", "mace-torch", "bash install.sh (MACE beside "
                                                            "SevenNet)",
                   options_from="mdkit.calculators:_mace", charge_aware=False, torch=True,
                   default_model="ag-family", shipped_models=tuple(MACE_SHIPPED),
                   file_options=("model",)),
    # the factory's own keywords are the options; it checks them itself
    "python": Engine(_python, "ase", "ase", "pip install ase", charge_aware=False,
                     recorded_options=("factory",)),
}


def make_calculator(name: str, atoms, charge: int = 0, **options):
    """Configured ASE calculator ``name`` for ``atoms`` with net ``charge`` (e).

    ``atoms`` may be changed in place where the engine needs it (GPAW centres
    it in a box with vacuum).  Options go to the engine's constructor
    unchanged, so every keyword of the engine is available.
    """
    engine = engine_for(name)
    engine.check_options(name, options)
    engine.check_elements(name, atoms)
    try:
        return engine.factory(atoms, charge, **options)
    except TypeError as err:
        # an engine that checks its own keywords (GPAW) refuses one of the user's
        # options; any other TypeError is a bug and keeps its traceback
        refused = re.search(r"unexpected keyword argument '(\w+)'", str(err))
        if refused is None or refused.group(1) not in options:
            raise
        raise EngineError(f"calculator {name!r} has no option {refused.group(1)!r}; "
                          "check the [calculator] keys.") from None


def engine_for(name: str) -> Engine:
    """The registry entry for ``name``, checking that its package is installed."""
    if name not in CALCULATORS:
        raise EngineError(f"unknown calculator {name!r}; choose one of "
                          f"{', '.join(CALCULATORS)}.")
    engine = CALCULATORS[name]
    try:
        importlib.import_module(engine.module)
    except ImportError as err:
        raise EngineError(f"calculator {name!r} needs the {engine.distribution} "
                          f"package, which is not installed ({err}); install it with: "
                          f"{engine.install}.") from None
    return engine


def engine_version(name: str) -> str:
    """Version of the package behind calculator ``name``, and of its data packages.

    Raises
    ------
    importlib.metadata.PackageNotFoundError
        None of the engine's distributions is installed.
    """
    engine = CALCULATORS[name]
    *preferred, last = engine.versions_of or (engine.distribution,)
    for distribution in preferred:
        try:
            version = f"{distribution} {importlib.metadata.version(distribution)}"
            break
        except importlib.metadata.PackageNotFoundError:
            continue
    else:
        version = f"{last} {importlib.metadata.version(last)}"
    for distribution in engine.data:
        try:
            version += f", {distribution} {importlib.metadata.version(distribution)}"
        except importlib.metadata.PackageNotFoundError:  # data from elsewhere (a path)
            pass
    return version


def engine_info(name: str, options: dict) -> dict:
    """What a run records of its engine: name, version, model, device, charge awareness.

    ``options`` are the ``[calculator]`` keys other than the name.  For torch
    engines the device is resolved as :func:`torch_device` does.
    """
    engine = engine_for(name)
    info = {"name": name, "version": engine_version(name), "charge_aware": engine.charge_aware}
    if engine.torch:
        import torch

        info.update(model=str(options.get("model", engine.default_model)),
                    device=torch_device(options.get("device", "auto")),
                    threads=torch.get_num_threads())
    info.update({key: str(options.get(key)) for key in engine.recorded_options})
    return info
