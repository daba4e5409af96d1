"""The size audit against molecules of known geometry, built here with ASE and numpy."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from numpy.testing import assert_allclose

from mdkit import geometry
from mdkit.errors import SiteMapError

C_S = 1.77  # Å, textbook aryl C-S
S_H = 1.34  # Å, textbook thiol S-H


def benzenedithiol():
    """1,3-benzenedithiol from ASE's benzene: H on two meta carbons replaced by S-H.

    Returns the molecule and the indices of the ring carbons and of the two S.
    """
    benzene = molecule("C6H6")  # planar, in the xy plane
    carbons = [i for i, s in enumerate(benzene.symbols) if s == "C"]
    hydrogens = [i for i, s in enumerate(benzene.symbols) if s == "H"]
    # the H bonded to each carbon: its nearest H
    partner = {c: min(hydrogens, key=lambda h: benzene.get_distance(c, h)) for c in carbons}
    # two carbons meta to each other: 2.4 Å apart (ortho 1.4, para 2.8)
    first = carbons[0]
    meta = next(c for c in carbons if 2.2 < benzene.get_distance(first, c) < 2.6)
    positions, symbols = [], []
    for i, atom in enumerate(benzene):
        if i in (partner[first], partner[meta]):
            continue
        positions.append(atom.position)
        symbols.append(atom.symbol)
    sulfurs = []
    for c in (first, meta):
        out = benzene.positions[partner[c]] - benzene.positions[c]
        out /= np.linalg.norm(out)
        s = benzene.positions[c] + C_S * out
        sulfurs.append(len(symbols))
        symbols.append("S")
        positions.append(s)
        # S-H tilted out of the ring plane, away from the ring
        symbols.append("H")
        positions.append(s + S_H * (0.6 * out + 0.8 * np.array([0.0, 0.0, 1.0])))
    atoms = Atoms(symbols, positions=positions)
    ring = [i for i, s in enumerate(atoms.symbols) if s == "C"]
    return atoms, ring, sulfurs


def _distances(atoms, pairs):
    return np.array([np.linalg.norm(atoms.positions[i] - atoms.positions[j]) for i, j in pairs])


def test_benzenedithiol_bonds_and_s_s(shake, rng):
    atoms, ring, (s1, s2) = benzenedithiol()
    atoms = shake(atoms, rng, noise=0.0)
    audit = geometry.size_audit(atoms)
    # ring C-C from numpy: each carbon to its two nearest carbons
    pos = atoms.positions[ring]
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    cc = np.sort(d, axis=1)[:, :2].ravel()
    assert audit["bonds_A"]["C-C"]["n"] == 6
    assert_allclose(audit["bonds_A"]["C-C"]["mean"], cc.mean(), atol=1e-9)
    assert_allclose(audit["bonds_A"]["C-S"]["mean"], C_S, atol=1e-9)
    assert audit["bonds_A"]["C-S"]["n"] == 2
    assert_allclose(audit["bonds_A"]["H-S"]["mean"], S_H, atol=1e-9)
    # four ring H remain
    assert audit["bonds_A"]["C-H"]["n"] == 4
    assert "C-C" in audit["bonds_A"] and "H-H" not in audit["bonds_A"]
    assert len(audit["rings"]) == 1
    assert sorted(audit["rings"][0]["carbons"]) == ring
    assert audit["rings"][0]["sulfurs"] == [s1, s2]
    assert_allclose(audit["s_s_A"]["mean"], np.linalg.norm(atoms.positions[s1]
                                                             - atoms.positions[s2]), atol=1e-9)
    # meta S...S: C...C(meta) is sqrt(3) times C-C; with radial C-S, S sits at C-C + C-S
    # from the ring centre, 120 degrees apart
    assert_allclose(audit["s_s_A"]["mean"], np.sqrt(3) * (cc.mean() + C_S), atol=0.02)


@pytest.mark.parametrize("where, tilt", [((0.0, 0.0, 3.5), 0.0), ((0.0, 0.0, -4.0), 0.0),
                                          ((9.0, 0.0, 0.0), 90.0), ((6.0, 0.0, 6.0), 45.0)])
def test_ring_tilt_to_a_metal_atom(shake, rng, where, tilt):
    """Ring normal along z (benzene in the xy plane, centred at the origin)."""
    atoms, ring, _ = benzenedithiol()
    atoms.positions -= atoms.positions[ring].mean(axis=0)
    atoms += Atoms("Ag", positions=[where])
    atoms = shake(atoms, rng, noise=0.0)
    audit = geometry.size_audit(atoms)
    assert_allclose(audit["rings"][0]["tilt_deg"], tilt, atol=1e-6)
    assert_allclose(audit["rings"][0]["radius_A"], np.linalg.norm(where), atol=1e-9)
    assert_allclose(audit["centre_A"], atoms.positions[-1], atol=1e-12)


def test_methanethiol_from_g2(shake, rng):
    atoms = shake(molecule("CH3SH"), rng, noise=0.0)
    audit = geometry.size_audit(atoms)
    c, s = atoms.symbols.search("C")[0], atoms.symbols.search("S")[0]
    assert_allclose(audit["bonds_A"]["C-S"]["mean"], atoms.get_distance(c, s), atol=1e-9)
    hc = [(c, h) for h in atoms.symbols.search("H") if atoms.get_distance(c, h) < 1.3]
    assert len(hc) == 3
    assert_allclose(audit["bonds_A"]["C-H"]["mean"], _distances(atoms, hc).mean(), atol=1e-9)
    assert audit["rings"] == [] and audit["s_s_A"] is None and audit["tilt_deg"] is None
    # no metal: radii from the centroid of all atoms
    centred = atoms.positions - atoms.positions.mean(axis=0)
    assert_allclose(audit["radii_A"]["S"]["mean"], np.linalg.norm(centred[s]), atol=1e-9)
    masses = atoms.get_masses()
    com = atoms.get_center_of_mass()
    rg = np.sqrt(np.sum(masses * np.sum((atoms.positions - com) ** 2, axis=1)) / masses.sum())
    assert_allclose(audit["rg_A"], rg, atol=1e-9)


def test_ag29_model_counts_follow_its_chemistry():
    """Counts the structure's chemistry fixes: every shell Ag carries one S, 12 BDT."""
    from mdkit.systems.ag29 import ag29_bdt12

    atoms, sites = ag29_bdt12()
    audit = geometry.size_audit(atoms, sites)
    bonds = audit["bonds_A"]
    assert bonds["Ag(shell)-S"]["n"] == 12
    assert bonds["Ag(center)-Ag(shell)"]["n"] == 12
    assert bonds["C-S"]["n"] == 24 and bonds["C-H"]["n"] == 48 and bonds["C-C"]["n"] == 72
    assert len(audit["rings"]) == 12 and audit["s_s_A"]["n"] == 12
    centre = atoms.positions[:29].mean(axis=0)
    shell = atoms.positions[sites.atoms[sites.select("shell")]]
    assert_allclose(audit["radii_A"]["Ag(shell)"]["mean"],
                    np.linalg.norm(shell - centre, axis=1).mean(), atol=1e-9)
    h = atoms.positions[atoms.symbols.search("H")]
    assert_allclose(audit["radii_A"]["H"]["max"], np.linalg.norm(h - centre, axis=1).max(),
                    atol=1e-9)
    text = geometry.format_audit(audit, "Ag29")
    assert "Ag(shell)-S" in text and "S...S across a ring" in text


def test_sitemap_of_another_structure_is_refused():
    from mdkit.systems.ag29 import ag29_bdt12

    _, sites = ag29_bdt12()
    with pytest.raises(SiteMapError, match="names atom"):
        geometry.size_audit(molecule("CH3SH"), sites)


def test_geometry_command_prints_the_audit_of_a_file(capsys, tmp_path):
    from mdkit.cli import main

    atoms, _, _ = benzenedithiol()
    path = tmp_path / "bdt.xyz"
    atoms.write(path)
    assert main(["geometry", str(path)]) == 0
    out = capsys.readouterr().out
    audit = geometry.size_audit(atoms)
    assert f"Rg (mass-weighted) {audit['rg_A']:.3f} Å" in out
    row = next(line for line in out.splitlines() if line.startswith("S...S across a ring"))
    assert float(row.split()[5]) == pytest.approx(audit["s_s_A"]["mean"], abs=1e-3)
    assert main(["geometry", str(tmp_path / "missing.xyz")]) == 2
    assert "missing" in capsys.readouterr().err
