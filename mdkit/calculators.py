"""One registry: a calculator name and its options give a configured ASE calculator.

Adding an engine is one entry in :data:`CALCULATORS`: a factory taking the
structure (which it may place in a box, as GPAW needs) and the net charge
plus the user's options, the module that must be importable, and the
install hint shown when it is not.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Callable

from mdkit.errors import MdkitError


class CalculatorError(MdkitError):
    """An unknown, missing or misconfigured calculator."""


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
                raise CalculatorError(f"calculator {name!r} has no option {key!r}; valid "
                                      f"options: {', '.join(valid) or 'none'}.")


def _gfnff(atoms, charge, **options):
    from gfnff import GFNFF

    return GFNFF(charge=charge, **options)


def _xtb(atoms, charge, method="GFN1-xTB", verbosity=0, **options):
    from tblite.ase import TBLite

    return TBLite(method=method, charge=charge, verbosity=verbosity, **options)


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


def _gpaw(atoms, charge, vacuum=5.0, **options):
    """GPAW with :data:`GPAW_DEFAULTS`; ``vacuum`` (Å) pads the box around the ion."""
    from gpaw import GPAW

    atoms.center(vacuum=vacuum)
    parameters = {**GPAW_DEFAULTS, **options, "charge": charge}
    if isinstance(parameters["mode"], str):
        parameters["mode"] = {"name": parameters["mode"]}
    return GPAW(**parameters)


CALCULATORS: dict[str, Engine] = {
    "gfnff": Engine(_gfnff, "gfnff", "gfnff", "pip install gfnff",
                    options_from="gfnff:GFNFF", topology_from_first_call=True),
    "xtb": Engine(_xtb, "tblite.ase", "tblite", "pip install 'mdkit[xtb]' (tblite)",
                  options_from="tblite.ase:TBLite"),
    "emt": Engine(_emt, "ase.calculators.emt", "ase", "pip install ase",
                  options_from="mdkit.calculators:_emt"),
    "gpaw": Engine(_gpaw, "gpaw", "gpaw", "bash install.sh (GPAW with its setups, "
                                          "built against the system MPI)"),
}


def make_calculator(name: str, atoms, charge: int = 0, **options):
    """Configured ASE calculator ``name`` for ``atoms`` with net ``charge`` (e).

    ``atoms`` may be changed in place where the engine needs it (GPAW centres
    it in a box with vacuum).  Options go to the engine's constructor
    unchanged, so every keyword of the engine is available.
    """
    engine = engine_for(name)
    engine.check_options(name, options)
    try:
        return engine.factory(atoms, charge, **options)
    except TypeError as err:
        raise CalculatorError(f"calculator {name!r} does not accept these options "
                              f"({err}); check the [calculator] keys.") from None


def engine_for(name: str) -> Engine:
    """The registry entry for ``name``, checking that its package is installed."""
    if name not in CALCULATORS:
        raise CalculatorError(f"unknown calculator {name!r}; choose one of "
                              f"{', '.join(CALCULATORS)}.")
    engine = CALCULATORS[name]
    try:
        importlib.import_module(engine.module)
    except ImportError as err:
        raise CalculatorError(f"calculator {name!r} needs the {engine.distribution} "
                              f"package, which is not installed ({err}); install it with: "
                              f"{engine.install}.") from None
    return engine


def engine_version(name: str) -> str:
    """Version of the package behind calculator ``name``."""
    engine = CALCULATORS[name]
    if name == "emt":
        try:
            return f"asap3 {importlib.metadata.version('asap3')}"
        except importlib.metadata.PackageNotFoundError:
            return f"ase {importlib.metadata.version('ase')}"
    return f"{engine.distribution} {importlib.metadata.version(engine.distribution)}"
