"""The thermostats a stage can use: one table, each entry owning its parameter and ASE class.

A run spec names a thermostat (``thermostat = "bussi"``) and, optionally,
its coupling parameter under the key the entry names (``taut_fs = 100``).
:mod:`mdkit.protocol` validates stages against this table;
:mod:`mdkit.md` makes the ASE dynamics from it.  What differs between
thermostats is a field of their entry, so adding one is one entry here.  ASE's dynamics modules are
imported only when a dynamics object is made, so validating a spec stays
instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Thermostat:
    """One thermostat.

    Attributes
    ----------
    key : str or None
        Spec key of the coupling parameter, its suffix naming the unit
        (``taut_fs``, ``friction_per_ps``); None for a thermostat without one.
    default : float or None
        Its default, in the key's unit.
    thermostatted : bool
        Whether the stage holds a target temperature.  A stage without one
        (NVE) takes no ``temperature_K``, starts a run from 0 K, and is
        checked for energy drift instead.
    rampable : bool
        Whether the target temperature may change during a stage.
    make : callable
        ``make(atoms, dt, temperature_K, coupling, rng)`` -> ASE dynamics;
        ``dt`` in ASE time units, ``coupling`` in the key's unit.
    state : callable, optional
        ``state(dyn) -> dict`` of the thermostat's own variables, kept in the
        checkpoint for an exact resume; ``restore(dyn, state)`` puts them back.
    """

    key: str | None
    default: float | None
    thermostatted: bool
    rampable: bool
    make: Callable
    state: Callable | None = None
    restore: Callable | None = None


def _fs():
    from ase import units

    return units.fs


def _langevin(atoms, dt, temperature_K, coupling, rng):
    from ase.md.langevin import Langevin

    # friction is given per ps; ASE wants inverse ASE time units
    return Langevin(atoms, dt, temperature_K=temperature_K, fixcm=False,
                    friction=coupling / (1000.0 * _fs()), rng=rng)


def _bussi(atoms, dt, temperature_K, coupling, rng):
    from ase.md.bussi import Bussi

    return Bussi(atoms, dt, temperature_K=temperature_K, taut=coupling * _fs(), rng=rng)


def _nose_hoover(atoms, dt, temperature_K, coupling, rng):
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    return NoseHooverChainNVT(atoms, dt, temperature_K=temperature_K, tdamp=coupling * _fs())


def _nhc_state(dyn) -> dict:
    # Nose-Hoover chains carry their own variables; ASE offers no accessor.
    return {"nhc_eta": dyn._thermostat._eta.copy(), "nhc_p_eta": dyn._thermostat._p_eta.copy()}


def _nhc_restore(dyn, state: dict) -> None:
    if "nhc_eta" in state:
        dyn._thermostat._eta = np.array(state["nhc_eta"])
        dyn._thermostat._p_eta = np.array(state["nhc_p_eta"])


def _berendsen(atoms, dt, temperature_K, coupling, rng):
    from ase.md.nvtberendsen import NVTBerendsen

    return NVTBerendsen(atoms, dt, temperature_K=temperature_K, fixcm=False,
                        taut=coupling * _fs())


def _verlet(atoms, dt, temperature_K, coupling, rng):
    from ase.md.verlet import VelocityVerlet

    return VelocityVerlet(atoms, dt)


THERMOSTATS: dict[str, Thermostat] = {
    "langevin": Thermostat("friction_per_ps", 10.0, True, True, _langevin),
    "bussi": Thermostat("taut_fs", 100.0, True, False, _bussi),
    "nose-hoover": Thermostat("tdamp_fs", 100.0, True, False, _nose_hoover,
                              _nhc_state, _nhc_restore),
    "berendsen": Thermostat("taut_fs", 100.0, True, True, _berendsen),
    "nve": Thermostat(None, None, False, False, _verlet),
}
