"""A whole barrier study: the hops a name stands for, their bands, their rates, one folder.

This is what ``mdkit barrier`` runs; the command line only parses and
prints.  Everything that can be refused (engine, rate settings, hop name,
output folder) is refused before the first force call.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mdkit import barriers, rates
from mdkit.barrierfolder import BarrierFolder

#: Temperature (K) of the rates when none is given: the study's MD temperature.
DEFAULT_TEMPERATURE_K = 290.0


def _stem(system: str) -> str:
    """A system's name: the name itself, or a structure file's stem."""
    return Path(system).stem if Path(system).suffix else system


def default_folder(system: str, hop: str, calculator: str) -> Path:
    """``barrier_SYSTEM_HOP_CALCULATOR``."""
    return Path(f"barrier_{_stem(system)}_{hop}_{calculator}")


def barrier_study(system: str, hop: str, calculator: str, options: dict | None = None, *,
                  vacancy: str | None = None, n_images: int = 5, fmax: float = 0.01,
                  steps: int = 1000, vibrations: bool = False,
                  attempt_THz: float | None = None, temperatures_K=None, db="mdkit.db",
                  out=None, force: bool = False, progress: bool = True) -> dict:
    """Barriers of every symmetry-distinct hop, and their rates when asked for.

    Parameters
    ----------
    system : str
        A system name or a structure file (:func:`mdkit.systems.build`).
    hop : str
        ``I-J``, ``A-to-B`` or ``core-to-shell`` (:func:`mdkit.barriers.find_hops`).
    calculator, options : str, dict
        Registry engine and its options.
    vacancy : str, optional
        Site class or index left empty when building.
    n_images, fmax, steps
        Band settings (:func:`mdkit.barriers.barrier`); ``fmax`` in eV/Å.
    vibrations : bool
        Harmonic-TST prefactors (:func:`mdkit.rates.hop_rates`).
    attempt_THz : float, optional
        Or a stated attempt frequency, THz (finite, > 0).
    temperatures_K : sequence of float, optional
        Temperatures of the rates, K (default :data:`DEFAULT_TEMPERATURE_K`).
    db : path or URL
        Results database (bands and end states are reused from it).
    out : path, optional
        The barrier folder (default :func:`default_folder`); a folder mdkit
        did not write is refused, or with ``force`` moved aside.
    progress : bool
        Lines on stderr while bands are optimised.

    Returns
    -------
    dict
        ``name`` (of the structure), ``hops`` (:class:`~mdkit.barriers.Hop`),
        ``results`` (one :func:`~mdkit.barriers.barrier` result per hop),
        ``rates`` (the ``rates.json`` content, or None without rates) and
        ``folder`` (a :class:`~mdkit.barrierfolder.BarrierFolder`).
    """
    from mdkit.calculators import engine_for
    from mdkit.systems import build

    engine_for(calculator)  # an unknown or missing engine is said before any work
    with_rates = vibrations or attempt_THz is not None
    temperatures = list(temperatures_K or [DEFAULT_TEMPERATURE_K])
    rates.check_rate_options(temperatures, attempt_THz, vibrations)
    atoms, sites = build(system, vacancy=vacancy)
    hops = barriers.find_hops(atoms, sites, hop)
    folder = BarrierFolder(out or default_folder(system, hop, calculator)).claim(force)
    name = atoms.info.get("name", _stem(system))
    if progress:
        print(f"mdkit barrier: {name}, {hop}: {len(hops)} distinct hop(s) with {calculator}",
              file=sys.stderr)
    results = [barriers.barrier(atoms, sites, h, calculator, options, n_images=n_images,
                                fmax=fmax, steps=steps, db=db, folder=folder.hop(h.name).path,
                                progress=progress)
               for h in hops]
    summary = None
    if with_rates:
        summary = rates.hop_rates(results, temperatures, attempt_THz=attempt_THz,
                                  vibrations=vibrations, calculator=calculator,
                                  options=options, folder=folder.path)
        summary.update(system=name, hop=hop, calculator=calculator)
        folder.write_rates(summary)
    return {"name": name, "hops": hops, "results": results, "rates": summary,
            "folder": folder}
