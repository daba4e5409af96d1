"""The one owner of a barrier folder's layout: :class:`BarrierFolder` and :class:`HopFolder`.

A barrier study (``mdkit barrier``) writes::

    OUT/.mdkit-barrier        says the folder is mdkit's (written first)
    OUT/rates.json            hops, multiplicities, barriers, prefactors, waiting times
    OUT/vib-initial/          ASE's vibration cache at the initial state (--vibrations)
    OUT/vib-saddle-HOP/       the same at each saddle
    OUT/HOP/.mdkit-barrier
    OUT/HOP/band.xyz          the band while it is optimised (the resume point) ...
    OUT/HOP/band.json         ... and what it belongs to (the computation's hash, steps)
    OUT/HOP/path.xyz          the converged band: extended XYZ with energies and site labels
    OUT/HOP/profile.png       energy along the path
    OUT/HOP/barrier.json      the barriers of the hop

Rules, as for a run folder: a folder that is not empty and has no marker is
the user's and is refused (``--force`` moves it aside, never deletes it);
every file is written whole through :mod:`mdkit.writer` (rank 0 only);
the only things ever removed are mdkit's own temporary files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mdkit import writer

#: Written first into every folder of a barrier study.
MARKER = ".mdkit-barrier"
RATES = "rates.json"


def _mark(folder: Path) -> None:
    writer.make_folder(folder)
    writer.clear_temporaries(folder)
    if not (folder / MARKER).exists():
        writer.write_text(folder / MARKER, "barrier folder written by mdkit\n")


class HopFolder:
    """The folder of one hop's band.

    Parameters
    ----------
    path : path
        The folder (it need not exist yet).
    """

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"HopFolder({str(self.path)!r})"

    band = property(lambda self: self.path / "band.xyz", doc="the band being optimised")
    band_state = property(lambda self: self.path / "band.json",
                          doc="hash and step count of the band being optimised")
    path_xyz = property(lambda self: self.path / "path.xyz", doc="the finished band")
    profile_stem = property(lambda self: self.path / "profile",
                            doc="the profile figure, without its suffix")
    barrier_json = property(lambda self: self.path / "barrier.json", doc="the hop's barriers")

    def claim(self, force: bool = False) -> "HopFolder":
        """Refuse a folder that is not mdkit's (``force`` moves it aside); then mark it."""
        writer.claim(self.path, force=force, marker=MARKER)
        _mark(self.path)
        return self

    def write_images(self, path: Path, images) -> Path:
        """Write ``images`` as extended XYZ whole or not at all (all ranks call it)."""
        import ase.io
        from ase.calculators.singlepoint import SinglePointCalculator

        plain = []
        for image in images:
            copy = image.copy()
            # builders' extras (ase.build's adsorbate_info dict) do not fit extended XYZ
            copy.info = {k: v for k, v in image.info.items()
                         if isinstance(v, (str, int, float, bool, np.integer, np.floating))}
            # asap3's EMT keeps no ``results``: only single-point energies travel
            if isinstance(image.calc, SinglePointCalculator):
                copy.calc = image.calc
            plain.append(copy)
        with writer.atomic_path(path) as tmp:
            ase.io.write(tmp, plain, format="extxyz")
        return path

    def write_band(self, images, key_hash: str, n_steps: int) -> None:
        """The resume point: the band and what computation it belongs to."""
        self.write_images(self.band, images)
        writer.write_json(self.band_state, {"hash": key_hash, "n_steps": int(n_steps)})

    def read_band_state(self) -> dict | None:
        """``band.json`` (hash, n_steps), or None when there is no band to resume."""
        if not self.band_state.exists():
            return None
        return json.loads(self.band_state.read_text())


class BarrierFolder:
    """The folder of a barrier study: one :class:`HopFolder` per hop, rates, vibrations."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"BarrierFolder({str(self.path)!r})"

    @property
    def rates(self) -> Path:
        return self.path / RATES

    def claim(self, force: bool = False) -> "BarrierFolder":
        """Refuse a folder that is not mdkit's (``force`` moves it aside); then mark it.

        Call it before any work, on every MPI rank.
        """
        writer.claim(self.path, force=force, marker=MARKER)
        _mark(self.path)
        return self

    def hop(self, name: str) -> HopFolder:
        return HopFolder(self.path / name)

    def vibrations(self, name: str) -> Path:
        """ASE's displacement cache for the structure called ``name`` (``initial``,
        ``saddle-HOP``)."""
        return self.path / f"vib-{name}"

    def write_rates(self, summary: dict) -> Path:
        return writer.write_json(self.rates, summary)


def rates_file(path) -> Path:
    """The ``rates.json`` a path names: the file itself or the barrier folder holding it."""
    path = Path(path)
    return BarrierFolder(path).rates if path.is_dir() else path
