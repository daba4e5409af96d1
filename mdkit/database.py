"""The results database: relaxed structures, energies, CCS values and run summaries.

Results live in an **ASE database** (:func:`ase.db.connect`), so ``ase db
mdkit.db`` lists them and ``ase gui mdkit.db@kind=relaxed`` shows the
structures.  The default is an SQLite file ``mdkit.db`` in the current
directory; a ``postgresql://user@host:port/dbname`` URL (or
``postgresql://user@/dbname?host=/socket/dir&port=5432``) selects a
PostgreSQL server instead (ASE's backend comes from the ``ase-db-backends``
package, which brings ``psycopg2-binary``).

One row per computation.  The row's atoms are the *result* structure (the
relaxed geometry for ``kind=relaxed``), with ASE's own columns filled from a
single-point calculator: ``energy`` (eV), ``forces`` (eV/Å, so ``fmax`` shows
the force reached), ``charges`` (e) and ``dipole`` (e·Å, about the cell
origin) where the engine gave them; ``calculator`` is the mdkit calculator
name and ``calculator_parameters`` its options.

Searchable key-value pairs (all rows)
-------------------------------------
``kind``
    ``"relaxed"`` (a relaxation, or a single point when ``max_steps=0``),
    ``"ccs"`` (a collision cross section), ``"run"`` (an MD run summary) or
    ``"barrier"`` (a vacancy hop's minimum-energy path, :mod:`mdkit.barriers`:
    the row's atoms are the saddle image; ``hop``, ``barrier_forward_eV``,
    ``barrier_back_eV``, ``reaction_eV``, ``multiplicity``, ``converged``;
    every image's positions and energies in its data).
``hash``
    ``"sha256:..."`` of everything that determines the result (below); the
    lookup key.
``calc``, ``calc_version``
    Calculator (or CCS program) name and the version of the package behind it.
``ion_charge``
    Net charge of the ion in e.  (ASE's own ``charge`` column is the sum of
    per-atom initial charges and stays 0: select on ``ion_charge``.)
``opt_<option>``
    Each calculator option with a scalar value, e.g. ``opt_basis="dzp"``,
    ``opt_h=0.2``; options without a scalar value are JSON in ``calc_options``.
``name``, ``label``
    The system's readable name (``atoms.info["name"]``) and the caller's label
    (e.g. ``"Iso1"``); not part of the hash.
method parameters
    Whatever the caller passes to :func:`key_for` as ``**extra``; for
    ``relaxed``: ``optimizer``, ``fmax_target_eV_A``, ``max_steps``.
results
    Scalars the caller passes to :func:`store`; for ``relaxed``: ``n_steps``,
    ``converged``, ``fmax_eV_A``.  Suggested for ``ccs``: ``ccs_A2``, ``gas``,
    ``temperature_K``; for ``run``: ``run_folder``, ``status``, ``n_frames``,
    ``time_ps``.  Bulky things (per-step energies, the input structure,
    per-frame data) go in the row's ``data``.

The hash
--------
SHA-256 of canonical JSON holding: ``kind``; atomic numbers; positions
rounded to 1e-4 Å; the cell when periodic; initial magnetic moments when
set; the net charge; the calculator name, its *effective* options (the
registry's defaults, e.g. GPAW's LCAO/dzp/PBE/h=0.2 and vacuum, merged with
the given options, so ``{}`` and the spelled-out defaults are the same
computation; output and parallelisation options such as ``txt`` are left
out); the engine version (for GPAW also the gpaw-data version of the
setups and basis sets); and the method parameters (``extra``).  Anything that
changes the result therefore changes the hash; re-running an identical
computation finds its row and is not recomputed.  Labels and names are not
hashed.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import os
from pathlib import Path, PurePath

import numpy as np

from mdkit.errors import MdkitError

#: Default database file, in the current directory.
DEFAULT_DB = "mdkit.db"
#: Version of the key scheme: bump it when the hashed content changes meaning.
SCHEMA = 1
KINDS = ("relaxed", "ccs", "run", "barrier")
#: Positions are rounded to this many decimals (Å) before hashing.
POSITION_DECIMALS = 4

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")
#: Calculator options that change output or parallelisation, never the result:
#: left out of the hash (still stored).
NOT_HASHED = frozenset({"txt", "verbosity", "printlevel", "parallel", "communicator"})


class DatabaseError(MdkitError):
    """A results database that cannot be opened, or a malformed record."""


# ----------------------------------------------------------------- connecting
def connect(target=None):
    """Open the results database.

    Parameters
    ----------
    target : None, str, os.PathLike or ase.db.core.Database
        ``None``: ``mdkit.db`` in the current directory.  A path: an SQLite
        file (``.db``; ``.json`` gives ASE's JSON format).  A
        ``postgresql://`` URL: a PostgreSQL database (checked to answer now,
        not at the first query).  An open ASE database is returned as is.

    Returns
    -------
    ase.db.core.Database
    """
    import ase.db
    from ase.db.core import Database

    if isinstance(target, Database):
        return target
    if target is None:
        target = DEFAULT_DB
    if isinstance(target, PurePath):
        target = os.fspath(target)
    if not isinstance(target, str):
        raise DatabaseError(f"a results database is a file path or a postgresql:// URL, "
                            f"not {type(target).__name__}.")
    if target.startswith(_POSTGRES_PREFIXES):
        return _connect_postgres(target)
    suffix = Path(target).suffix
    if suffix not in (".db", ".json"):
        raise DatabaseError(f"results database {target!r} needs the extension .db (SQLite) "
                            f"or .json, or give a postgresql:// URL.")
    parent = Path(target).resolve().parent
    if not parent.is_dir():
        raise DatabaseError(f"cannot create results database {target!r}: folder {parent} "
                            f"does not exist.")
    return ase.db.connect(target)


def _connect_postgres(url: str):
    import ase.db

    try:
        import ase_db_backends.postgresql  # noqa: F401  (imports psycopg2)
    except ImportError as err:
        raise DatabaseError(f"a PostgreSQL results database needs the ase-db-backends and "
                            f"psycopg2-binary packages ({err}); install them with: "
                            f"pip install ase-db-backends psycopg2-binary.") from None
    db = ase.db.connect(url)
    try:
        db.count()  # connects and creates the tables on first use
    except Exception as err:  # psycopg2.OperationalError and friends
        message = " ".join(str(err).split())
        raise DatabaseError(f"cannot use the PostgreSQL results database {_safe_url(url)}: "
                            f"{message}.") from None
    return db


def _safe_url(url: str) -> str:
    """The URL without a password."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":")[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}"


# --------------------------------------------------------------------- keys
def effective_options(calculator: str, options: dict | None) -> dict:
    """The options calculator ``calculator`` actually runs with.

    The defaults the registry entry runs with merged with ``options`` (see
    :meth:`mdkit.calculators.Engine.effective_options`); the output is for
    hashing and display, not for passing to the engine.
    """
    from mdkit import calculators

    options = dict(options or {})
    engine = calculators.CALCULATORS.get(calculator)
    if engine is None:  # a CCS program or other non-registry method
        return options
    return engine.effective_options(options)


def _version(calculator: str) -> str | None:
    from mdkit import calculators

    if calculator not in calculators.CALCULATORS:
        return None
    return calculators.engine_version(calculator)


def _plain(value):
    """JSON-ready, deterministic form of an option or parameter value."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "todict"):
        return _plain(value.todict())
    return repr(value)


def _kvp_value(value):
    """A value ASE accepts as a key-value pair, or None to leave it out."""
    value = _plain(value)
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        for kind in (int, float):  # ASE refuses strings that read as numbers
            try:
                kind(value)
            except ValueError:
                continue
            return json.dumps(value)
        return value
    return json.dumps(value, sort_keys=True)


def structure_fingerprint(atoms) -> dict:
    """The hashed description of a structure (positions rounded to 1e-4 Å)."""
    scale = 10.0 ** POSITION_DECIMALS
    fingerprint = {"numbers": atoms.numbers.tolist(),
                   "positions": np.rint(atoms.positions * scale).astype(np.int64).tolist()}
    if atoms.pbc.any():
        fingerprint["cell"] = np.rint(atoms.cell.array * scale).astype(np.int64).tolist()
        fingerprint["pbc"] = atoms.pbc.tolist()
    magmoms = atoms.get_initial_magnetic_moments()
    if magmoms.any():
        fingerprint["magmoms"] = np.round(magmoms, 6).tolist()
    return fingerprint


def key_for(kind: str, atoms, calculator: str, options: dict | None = None, *,
            charge: int | None = None, version: str | None = None, **extra) -> dict:
    """The lookup key of a computation: searchable key-value pairs with its hash.

    Parameters
    ----------
    kind : str
        ``"relaxed"``, ``"ccs"``, ``"run"`` or ``"barrier"``.
    atoms : ase.Atoms
        The *input* structure.
    calculator : str
        A name of the calculator registry (or of a CCS program).
    options : dict, optional
        The calculator's options as given to
        :func:`~mdkit.calculators.make_calculator`.
    charge : int, optional
        Net charge in e; default ``atoms.info["charge"]``, else 0.
    version : str, optional
        Version of a method outside the calculator registry; registry engines
        report their own.
    **extra
        Method parameters that change the result (e.g.
        ``fmax_target_eV_A=0.05``); scalars become searchable keys.

    Returns
    -------
    dict
        Key-value pairs for :func:`lookup` and :func:`store`, ``"hash"``
        among them.
    """
    if kind not in KINDS:
        raise DatabaseError(f"unknown record kind {kind!r}; choose one of {', '.join(KINDS)}.")
    if charge is None:
        charge = atoms.info.get("charge", 0)
    if int(charge) != charge:
        raise DatabaseError(f"net charge {charge} is not a whole number of e.")
    charge = int(charge)
    effective = effective_options(calculator, options)
    version = version or _version(calculator)
    content = {"schema": SCHEMA, "kind": kind, "structure": structure_fingerprint(atoms),
               "charge": charge, "calc": calculator, "calc_version": version,
               "options": _plain({k: v for k, v in effective.items() if k not in NOT_HASHED}),
               "extra": _plain(extra)}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    key = {"kind": kind, "hash": "sha256:" + hashlib.sha256(text.encode()).hexdigest(),
           "calc": calculator, "ion_charge": charge}
    if version:
        key["calc_version"] = version
    nonscalar = {}
    for name, value in effective.items():
        stored = _kvp_value(value)
        if stored is None:
            continue
        if isinstance(_plain(value), (dict, list)):
            nonscalar[name] = _plain(value)
        else:
            key[f"opt_{name}"] = stored
    if nonscalar:
        key["calc_options"] = json.dumps(nonscalar, sort_keys=True)
    for name, value in extra.items():
        stored = _kvp_value(value)
        if stored is not None:
            key[name] = stored
    _check_keys(key)
    return key


def _check_keys(pairs: dict) -> None:
    from ase.db.core import reserved_keys, word

    for name in pairs:
        if not word.match(name) or name in reserved_keys:
            raise DatabaseError(f"{name!r} cannot be a database key (ASE reserves it or it "
                                f"is not a plain identifier); rename it.")


def _hash_of(key) -> str:
    if isinstance(key, str):
        return key
    try:
        return key["hash"]
    except (KeyError, TypeError):
        raise DatabaseError("a lookup key is the dict from key_for() or its 'hash' "
                            "string.") from None


# --------------------------------------------------------------- read, write
def lookup(db, key):
    """The newest row stored under ``key`` (a :func:`key_for` dict or hash), or None.

    Returns
    -------
    ase.db.row.AtomsRow or None
        ``row.toatoms()`` gives the stored structure with its results
        (energy in eV, forces in eV/Å, charges in e) on a single-point
        calculator.
    """
    db = connect(db)
    rows = list(db.select(hash=_hash_of(key), sort="-id", limit=1))
    return rows[0] if rows else None


def store(db, atoms, key: dict, data: dict | None = None, **results) -> int:
    """Write a computation's result structure under ``key``; return the row id.

    Parameters
    ----------
    db : database or target for :func:`connect`
    atoms : ase.Atoms
        The result structure.  If it has a calculator with results (energy,
        forces, charges, dipole, ...), they are stored in ASE's columns.
    key : dict
        From :func:`key_for`.
    data : dict, optional
        Bulky, non-searchable things (arrays, lists, nested dicts).
    **results
        Searchable scalar results, e.g. ``n_steps=42``, ``converged=True``,
        ``label="Iso1"``.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    db = connect(db)
    if "hash" not in key or "kind" not in key:
        raise DatabaseError("store() needs the key dict from key_for().")
    pairs = dict(key)
    if atoms.info.get("name") and "name" not in results:
        pairs["name"] = _kvp_value(str(atoms.info["name"]))
    for name, value in results.items():
        stored = _kvp_value(value)
        if stored is not None:
            pairs[name] = stored
    _check_keys(pairs)
    row_atoms = atoms.copy()
    row_atoms.info = {}
    if atoms.calc is not None and getattr(atoms.calc, "results", None):
        from ase.calculators.calculator import all_properties

        computed = {p: v for p, v in atoms.calc.results.items()
                    if p in all_properties and v is not None}
        single = SinglePointCalculator(row_atoms, **computed)
        single.name = key["calc"]
        single.parameters = _plain(json.loads(key.get("calc_options", "{}")))
        single.parameters.update({name[4:]: value for name, value in key.items()
                                  if name.startswith("opt_")})
        row_atoms.calc = single
    return db.write(row_atoms, key_value_pairs=pairs, data=dict(data or {}))


def row_to_atoms(row):
    """A row's structure with its stored results and ``info`` (charge, name, label)."""
    atoms = row.toatoms()
    atoms.info["charge"] = int(row.get("ion_charge", 0))
    for name in ("name", "label"):
        if row.get(name) is not None:
            atoms.info[name] = row.get(name)
    return atoms
