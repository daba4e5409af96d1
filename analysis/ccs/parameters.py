"""CCS parameters: the shipped table, a user's overrides (validated) and the ion model.

Units: Å, eV (meV for epsilon in the table), e, amu, K.  The table is
``mdkit/data/ccs_parameters.toml``; its header gives the sources and the UFF
defaults used for elements without published values.
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from ase import units

from mdkit.errors import MdkitError

#: e^2 / (4 pi eps0) in eV Å.
COULOMB_EV_A = units._e / (4.0 * math.pi * units._eps0) * 1e10
#: Boltzmann constant in eV/K.
KB_EV = units.kB
#: meV per kcal/mol.
MEV_PER_KCAL = 1e3 * units.kcal / units.mol

PARAMETERS = files("mdkit") / "data" / "ccs_parameters.toml"
#: Named parameter sets: overrides of the table in the layout of a params file,
#: plus a top-level ``citation``.  "mdkit" is the table as shipped.
PARAMETER_SETS = files("mdkit") / "data" / "ccs_parameter_sets"
#: The set every CCS uses unless told otherwise.
DEFAULT_SET = "mdkit"

#: Gas potentials: Lennard-Jones 12-6 (+ charges), or a pure inverse power (hard-sphere limit).
POTENTIALS = ("lj", "inverse-power")
#: How a rigid two-site gas is oriented: "mobcal-2012" Boltzmann-weights three fixed
#: perpendicular axes at every point of a trajectory (Campuzano et al. 2012);
#: "random-axis" keeps one uniformly random axis per trajectory.
ORIENTATION_MODELS = ("mobcal-2012", "random-axis")


class CCSError(MdkitError):
    """A CCS request that cannot be honoured (unknown gas or method, bad parameters)."""


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


def _any_number(v):
    return math.isfinite(v)


#: Keys of a [gas.NAME] table: (kind, check, what a valid value is).
GAS_KEYS = {
    "mass_amu": (float, _positive, "a mass in amu above 0"),
    "polarizability_A3": (float, _non_negative, "a polarisability volume in Å^3, 0 or more"),
    "hs_radius_A": (float, _non_negative, "a radius in Å, 0 or more"),
    "potential": (str, lambda v: v in POTENTIALS, f"one of {', '.join(POTENTIALS)}"),
    "sites": (int, lambda v: v in (1, 2), "1 or 2"),
    "bond_A": (float, _non_negative, "a bond length in Å, 0 or more"),
    "site_charge_e": (float, _any_number, "a charge in e"),
    "uff_x_A": (float, _positive, "a UFF distance in Å above 0"),
    "uff_D_kcal": (float, _non_negative, "a UFF well depth in kcal/mol, 0 or more"),
    "repulsion_exponent": (float, _positive, "an exponent above 0"),
    "orientation_model": (str, lambda v: v in ORIENTATION_MODELS,
                          f"one of {', '.join(ORIENTATION_MODELS)}"),
    "orientation_temperature_K": (float, _positive, "a temperature in K above 0"),
    "source": (str, None, "text"),
}
#: Keys of an [element.X] table; any other key must be a gas sub-table.
ELEMENT_KEYS = {
    "mass_amu": GAS_KEYS["mass_amu"],
    "hs_radius_A": GAS_KEYS["hs_radius_A"],
    "hs_source": (str, None, "text"),
    "uff_x_A": GAS_KEYS["uff_x_A"],
    "uff_D_kcal": GAS_KEYS["uff_D_kcal"],
}
#: Keys of an [element.X.GAS] table.
PAIR_KEYS = {
    "epsilon_meV": (float, _non_negative, "a well depth in meV, 0 or more"),
    "sigma_A": (float, _positive, "a length in Å above 0"),
    "source": (str, None, "text"),
}


def parameter_sets() -> dict:
    """The named parameter sets shipped with mdkit: name -> citation."""
    out = {}
    for entry in sorted(PARAMETER_SETS.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            with entry.open("rb") as handle:
                out[entry.name[:-5]] = tomllib.load(handle).get("citation", "")
    return out


def _parameter_set(name: str) -> tuple[dict, str]:
    """The overrides of one named set and its citation."""
    entry = PARAMETER_SETS / f"{name}.toml"
    if not entry.is_file():
        raise CCSError(f"unknown CCS parameter set {name!r}; choose one of "
                       f"{', '.join(parameter_sets())}.")
    with entry.open("rb") as handle:
        overrides = tomllib.load(handle)
    citation = overrides.pop("citation", "")
    _validate(overrides, f"CCS parameter set {name}")
    return overrides, citation


def load_parameters(params=None, param_set: str | None = None) -> dict:
    """The parameter table of a named set, with a user's overrides merged in.

    Parameters
    ----------
    params : str, Path or dict, optional
        A TOML file (or an already parsed dict) with the layout of
        ``ccs_parameters.toml``; every key it defines replaces the set's.
        Unknown keys and non-physical values are refused.
    param_set : str, optional
        A named set (see :func:`parameter_sets`), default :data:`DEFAULT_SET`.

    Returns
    -------
    dict
        ``{"allow_defaults": bool, "gas": {...}, "element": {...},
        "param_set": name, "param_set_citation": text}``.
    """
    name = DEFAULT_SET if param_set is None else str(param_set)
    overrides, citation = _parameter_set(name)
    with PARAMETERS.open("rb") as handle:
        table = _merge(tomllib.load(handle), overrides)
    table.update(param_set=name, param_set_citation=citation)
    if params is None:
        return table
    if isinstance(params, dict):
        user, source = params, "CCS parameters given"
    else:
        path = Path(params)
        source = f"CCS parameter file {path}"
        if not path.is_file():
            raise CCSError(f"{source} does not exist.")
        try:
            user = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise CCSError(f"{source} is not valid TOML: {err}.") from None
    _validate(user, source)
    merged = _merge(table, user)
    _validate_merged(merged, user, source)
    return merged


def _check(value, key: str, spec: tuple, source: str) -> None:
    kind, check, valid = spec
    if kind is str:
        ok = isinstance(value, str)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
            and math.isfinite(value)
    if not ok or (check is not None and not check(value)):
        raise CCSError(f"{source}: {key} = {value!r} is not valid; give {valid}.")


def _validate(user: dict, source: str) -> None:
    """Refuse unknown keys and non-physical values, naming the key."""
    for key, value in user.items():
        if key == "allow_defaults":
            if not isinstance(value, bool):
                raise CCSError(f"{source}: allow_defaults = {value!r} is not valid; give "
                               "true or false.")
        elif key == "uff_factor":
            _check(value, key, (float, _positive, "a factor above 0"), source)
        elif key in ("gas", "element") and isinstance(value, dict):
            for name, entry in value.items():
                if not isinstance(entry, dict):
                    raise CCSError(f"{source}: {key}.{name} must be a table, not {entry!r}.")
                for field, item in entry.items():
                    where = f"{key}.{name}.{field}"
                    if key == "gas":
                        if field not in GAS_KEYS:
                            raise CCSError(f"{source}: unknown key {where}; a gas takes "
                                           f"{', '.join(GAS_KEYS)}.")
                        _check(item, where, GAS_KEYS[field], source)
                    elif isinstance(item, dict):
                        for pair, number in item.items():
                            if pair not in PAIR_KEYS:
                                raise CCSError(f"{source}: unknown key {where}.{pair}; an "
                                               f"element-gas pair takes "
                                               f"{', '.join(PAIR_KEYS)}.")
                            _check(number, f"{where}.{pair}", PAIR_KEYS[pair], source)
                    elif field in ELEMENT_KEYS:
                        _check(item, where, ELEMENT_KEYS[field], source)
                    else:
                        raise CCSError(f"{source}: unknown key {where}; an element takes "
                                       f"{', '.join(ELEMENT_KEYS)} or a [{where}] gas "
                                       "table.")
        else:
            raise CCSError(f"{source}: unknown key {key}; the file takes allow_defaults, "
                           "uff_factor, [gas.NAME] and [element.X] tables.")


def _validate_merged(table: dict, user: dict, source: str) -> None:
    """A new gas must be complete, and element-gas pairs must name a defined gas."""
    for name in user.get("gas", {}):
        for field in ("mass_amu", "polarizability_A3", "hs_radius_A"):
            if field not in table["gas"][name]:
                raise CCSError(f"{source}: gas.{name} lacks {field}; a new gas needs "
                               "mass_amu, polarizability_A3 and hs_radius_A.")
    for element, entry in user.get("element", {}).items():
        for field, item in entry.items():
            if isinstance(item, dict) and field not in table["gas"]:
                raise CCSError(f"{source}: element.{element}.{field} names no defined gas; "
                               f"define [gas.{field}] or use one of {', '.join(table['gas'])}.")


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


def element_parameters(table: dict, element: str, gas: str, method: str = "tm") -> dict:
    """The parameters one element uses with one gas, and where they come from.

    Parameters
    ----------
    table : dict
        From :func:`load_parameters`.
    element, gas : str
    method : str
        TM needs Lennard-Jones parameters, PA and EHSS a hard-sphere radius;
        only what the method needs must exist.

    Returns
    -------
    dict
        ``mass_amu``; for TM ``epsilon_meV``, ``sigma_A`` (per gas site) and
        ``source``; for PA/EHSS ``hs_radius_A`` (the atom's own radius) and
        ``hs_source``; ``default`` (True if any value is a UFF default).
    """
    entry = table.get("element", {}).get(element)
    if entry is None or "mass_amu" not in entry:
        raise CCSError(f"no CCS parameters for element {element}: add [element.{element}] "
                       f"with mass_amu and [element.{element}.{gas}] to a params file.")
    gas_entry = table["gas"][gas]
    allowed = table.get("allow_defaults", True)
    out = {"mass_amu": float(entry["mass_amu"]), "default": False}
    if method == "tm":
        out.update(_lj_parameters(entry, gas_entry, element, gas, allowed,
                                  float(table.get("uff_factor", 1.0))))
    elif "hs_radius_A" in entry:
        out.update(hs_radius_A=float(entry["hs_radius_A"]),
                   hs_source=entry.get("hs_source", "user parameters"))
    elif allowed and "uff_x_A" in entry:
        out.update(hs_radius_A=entry["uff_x_A"] / 2,
                   hs_source="default: UFF van der Waals radius x_i/2 (Rappe et al. 1992)",
                   default=True)
    else:
        raise CCSError(f"no hard-sphere radius for element {element} and UFF defaults are "
                       f"{'unavailable' if allowed else 'disabled'}: add hs_radius_A to "
                       f"[element.{element}] in a params file.")
    return out


def _lj_parameters(entry: dict, gas_entry: dict, element: str, gas: str, allowed: bool,
                   factor: float = 1.0) -> dict:
    published = entry.get(gas)
    if published is not None:
        return {"epsilon_meV": float(published["epsilon_meV"]),
                "sigma_A": float(published["sigma_A"]),
                "source": published.get("source", "user parameters")}
    if allowed and "uff_x_A" in entry and "uff_D_kcal" in entry and "uff_x_A" in gas_entry:
        # Campuzano et al. scale both x_i and D_i of the ion atom by their factor f
        x, depth = factor * entry["uff_x_A"], factor * entry["uff_D_kcal"]
        scaled = "no fitted factor" if factor == 1.0 else f"x_i and D_i times {factor:g}"
        return {"epsilon_meV": math.sqrt(depth * gas_entry["uff_D_kcal"]) * MEV_PER_KCAL,
                "sigma_A": 2.0 ** (-1 / 6) * math.sqrt(x * gas_entry["uff_x_A"]),
                "source": f"default: UFF (Rappe et al., JACS 114, 10024 (1992)) x_i, D_i of "
                          f"{element} combined with UFF {gas} by geometric means (Campuzano "
                          f"2012 rule), {scaled}",
                "default": True}
    raise CCSError(f"no {gas} Lennard-Jones parameters for element {element} and UFF defaults "
                   f"are {'unavailable' if allowed else 'disabled'}: add [element.{element}.{gas}] "
                   "with epsilon_meV and sigma_A to a params file.")


@dataclass
class IonModel:
    """An ion in its own frame and everything the kernels need.

    Attributes
    ----------
    positions : (n, 3) array
        Å, centred on the centroid.
    charges : (n,) array
        Partial charges, e.
    hs_radius : (n,) array or None
        Hard-sphere collision distance atom-gas, Å (PA and EHSS only).
    rep, att : (n,) array or None
        Repulsion and attraction coefficients per gas site (TM only):
        4 eps sigma^12 and 4 eps sigma^6 (eV Å^12, eV Å^6) for "lj";
        eps (eV) and sigma^2 (Å^2) for "inverse-power".
    sigma : (n,) array or None
        Lennard-Jones sigma per atom, Å (TM only).
    gas : dict
        The gas's table entry.
    parameters : dict
        Element -> :func:`element_parameters` record, for the result.
    param_set : str
        The named parameter set the model was built from.
    orientation : str or None
        How a two-site gas is oriented (one of ORIENTATION_MODELS), None for
        a one-site gas.
    """

    positions: np.ndarray
    charges: np.ndarray
    hs_radius: np.ndarray | None
    rep: np.ndarray | None
    att: np.ndarray | None
    sigma: np.ndarray | None
    gas: dict
    parameters: dict
    orientation: str | None = None
    param_set: str = DEFAULT_SET


def ion_model(symbols, positions, charges, gas: str = "N2", method: str = "tm",
              params=None, orientation: str | None = None,
              param_set: str | None = None) -> IonModel:
    """Build the :class:`IonModel` of an ion in a gas for one method.

    Parameters
    ----------
    symbols : sequence of str
        Element symbols, length n.
    positions : (n, 3) array
        Å.
    charges : (n,) array
        Partial charges, e.
    gas : str
        A gas of the parameter table ("He", "N2", or one a params file adds).
    method : {"tm", "ehss", "pa"}
    params : str, Path or dict, optional
        Overrides, see :func:`load_parameters`.
    orientation : {"mobcal-2012", "random-axis"}, optional
        Orientation model of a two-site gas in the TM; default: the gas's
        ``orientation_model``, the model its parameters were fitted in.
    param_set : str, optional
        A named parameter set (:func:`parameter_sets`), default "mdkit".
    """
    table = load_parameters(params, param_set)
    if gas not in table["gas"]:
        raise CCSError(f"unknown gas {gas!r}; choose one of {', '.join(table['gas'])} "
                       "or define [gas.NAME] in a params file.")
    gas_entry = table["gas"][gas]
    if gas_entry.get("potential", "lj") not in POTENTIALS:
        raise CCSError(f"gas {gas} has potential {gas_entry['potential']!r}; choose one of "
                       f"{', '.join(POTENTIALS)}.")
    if orientation is not None and orientation not in ORIENTATION_MODELS:
        raise CCSError(f"unknown orientation model {orientation!r}; choose one of "
                       f"{', '.join(ORIENTATION_MODELS)}.")
    two_sites = int(gas_entry.get("sites", 1)) == 2
    orientation = (orientation or gas_entry.get("orientation_model", "random-axis")) \
        if two_sites and method == "tm" else None
    symbols = [str(s) for s in symbols]
    records = {el: element_parameters(table, el, gas, method) for el in dict.fromkeys(symbols)}
    positions = np.asarray(positions, dtype=float)
    model = IonModel(positions=positions - positions.mean(axis=0),
                     charges=np.asarray(charges, dtype=float), hs_radius=None, rep=None,
                     att=None, sigma=None, gas=gas_entry, parameters=records,
                     orientation=orientation, param_set=table["param_set"])
    if method != "tm":
        model.hs_radius = (np.array([records[s]["hs_radius_A"] for s in symbols])
                           + float(gas_entry["hs_radius_A"]))
        return model
    eps = np.array([records[s]["epsilon_meV"] for s in symbols]) * 1e-3
    model.sigma = np.array([records[s]["sigma_A"] for s in symbols])
    if gas_entry.get("potential", "lj") == "lj":
        model.rep, model.att = 4 * eps * model.sigma ** 12, 4 * eps * model.sigma ** 6
    else:
        # (sigma/r)^n overflows as sigma^n / r^n for steep walls; keep the pieces apart
        model.rep, model.att = eps, model.sigma ** 2
    return model

