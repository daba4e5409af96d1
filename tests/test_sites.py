"""SiteMap, geometric classification, bare and halide clusters, defects, file round trips."""

import numpy as np
import pytest

from mdkit.errors import SiteMapError, StructureError
from mdkit.sites import SiteMap, check_distances, classify_sites
from mdkit.systems import build, dope, icosahedron, mo6x14, read_structure, vacate, write_structure


def mackay_shell(k):
    """Atoms in the k-th shell of a Mackay icosahedron (10k^2 + 2)."""
    return 10 * k * k + 2


@pytest.mark.parametrize("n_atoms, shells", [(13, 1), (55, 2), (147, 3), (309, 4)])
def test_icosahedron_classes_follow_mackay_shells(n_atoms, shells):
    atoms, sites = icosahedron("Ag", n_atoms)
    assert len(atoms) == n_atoms == 1 + sum(mackay_shell(k) for k in range(1, shells + 1))
    counts = sites.class_counts()
    assert counts["center"] == 1
    assert counts["surface"] == mackay_shell(shells)
    assert counts.get("shell", 0) == n_atoms - 1 - mackay_shell(shells)
    # the centre is the atom at the centre of mass, the surface the outermost shell
    r = np.linalg.norm(atoms.positions - atoms.get_center_of_mass(), axis=1)
    assert r[sites.atoms[sites.select("center")]].max() < 1e-9
    assert r[sites.atoms[sites.select("surface")]].min() > r[sites.atoms[sites.classes != "surface"]].max() - 1.0


@pytest.mark.parametrize("n_atoms", [13, 55, 147])
def test_classification_recovers_bare_classes_after_shaking(shake, n_atoms, rng):
    atoms, sites = icosahedron("Au", n_atoms)
    found = classify_sites(shake(atoms, rng))
    assert list(found.atoms) == list(range(n_atoms))
    assert list(found.classes) == list(sites.classes)


@pytest.mark.parametrize("n_atoms", [13, 55])
def test_hollow_centre_is_found_as_vacant_site(shake, n_atoms, rng):
    atoms, sites = vacate(*icosahedron("Ag", n_atoms), "center")
    assert len(atoms) == n_atoms - 1 and sites.atoms[0] == -1
    moved = shake(atoms, rng, noise=0.05)
    found = classify_sites(moved)
    vacant = found.vacant
    assert len(vacant) == 1 and found.classes[vacant[0]] == "center"
    shell = found.atoms[found.classes == ("surface" if n_atoms == 13 else "shell")]
    centre = moved.positions[shell[:12]].mean(axis=0) if n_atoms == 13 else None
    if centre is not None:
        assert np.linalg.norm(found.positions[vacant[0]] - centre) < 0.1


def test_emt_elements_only():
    with pytest.raises(StructureError, match="EMT"):
        icosahedron("Fe", 13)
    with pytest.raises(StructureError, match="Mackay"):
        icosahedron("Ag", 20)


def test_mo6cl14_geometry_is_octahedral_with_published_distances():
    atoms, sites = mo6x14()
    assert atoms.get_chemical_formula() == "Cl14Mo6" and atoms.info["charge"] == -2
    d = atoms.get_all_distances()
    mo = sites.atoms[sites.select("core")]
    inner = sites.atoms[sites.select("inner")]
    apical = sites.atoms[sites.select("apical")]
    mo_mo = np.sort(d[np.ix_(mo, mo)][np.triu_indices(6, 1)])[:12]
    assert np.all((mo_mo > 2.595) & (mo_mo < 2.625))  # docs/science.md: 2.60-2.62
    mo_in = np.sort(d[np.ix_(inner, mo)], axis=1)[:, :3]
    assert np.all((mo_in > 2.465) & (mo_in < 2.485))  # 2.47-2.48, three Mo each
    mo_ap = d[np.ix_(apical, mo)].min(axis=1)
    assert np.all((mo_ap > 2.375) & (mo_ap < 2.445))  # 2.38-2.44
    # O_h: invariant under inversion and every permutation of the axes
    for op in (-np.eye(3), np.eye(3)[[1, 2, 0]], np.eye(3)[[1, 0, 2]]):
        moved = atoms.positions @ op.T
        match = np.linalg.norm(moved[:, None] - atoms.positions[None], axis=2).argmin(axis=1)
        assert sorted(match) == list(range(20))
        assert (atoms.numbers[match] == atoms.numbers).all()
        assert np.allclose(atoms.positions[match], moved, atol=1e-9)


def test_mixed_halides_and_lacuna(shake, rng):
    atoms, sites = mo6x14(inner="Cl", apical=["Br", "Cl", "Cl", "Cl", "Cl", "I"])
    assert atoms.get_chemical_formula("hill") == "BrCl12IMo6"
    lacunary, lsites = vacate(*mo6x14(), "apical")
    assert lacunary.get_chemical_formula("hill") == "Cl13Mo6" and lsites.charge == -1
    assert lacunary.info["charge"] == -1
    found = classify_sites(shake(lacunary, rng, noise=0.05))
    assert found.class_counts() == {"core": 6, "inner": 8, "apical": 6}
    assert len(found.vacant) == 1 and found.classes[found.vacant[0]] == "apical"
    with pytest.raises(StructureError, match="Cl, Br, I"):
        mo6x14(apical="At")


def test_dope_and_vacate_bookkeeping():
    atoms, sites = mo6x14()
    doped, dsites = dope(atoms, sites, "apical", "Br")
    assert dsites.charge == -2 and doped.get_chemical_formula("hill") == "BrCl13Mo6"
    assert atoms.get_chemical_formula("hill") == "Cl14Mo6"  # input untouched
    empty, esites = vacate(atoms, sites, 14)
    assert esites.atoms[14] == -1 and len(empty) == 19
    # atom indices after the removed one shift down and still point at their sites
    held = esites.atoms >= 0
    assert np.allclose(empty.positions[esites.atoms[held]], esites.positions[held])
    with pytest.raises(SiteMapError, match="already vacant"):
        vacate(empty, esites, 14)
    with pytest.raises(SiteMapError, match="unknown site class 'centre'"):
        vacate(atoms, sites, "centre")
    with pytest.raises(SiteMapError, match="metals replace metals"):
        dope(atoms, sites, "core", "Cl")
    with pytest.raises(SiteMapError, match="out of range"):
        vacate(atoms, sites, 99)


def test_extxyz_round_trip_keeps_sites_and_vacancy(tmp_path):
    atoms, sites = build("ag55", vacancy="center")
    path = tmp_path / "ag54.xyz"
    write_structure(path, atoms, sites)
    back, bsites = read_structure(path)
    assert back.info["charge"] == 0 and len(back) == 54
    assert np.allclose(back.positions, atoms.positions)
    for name in ("classes", "elements", "atoms"):
        assert list(getattr(bsites, name)) == list(getattr(sites, name))
    assert np.allclose(bsites.positions, sites.positions)
    json_path = tmp_path / "sites.json"
    sites.save(json_path)
    again = SiteMap.load(json_path)
    assert np.allclose(again.positions, sites.positions) and list(again.atoms) == list(sites.atoms)


def test_bad_files(tmp_path):
    with pytest.raises(StructureError, match="does not exist"):
        read_structure(tmp_path / "missing.xyz")
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("this is not\na structure\n")
    with pytest.raises(StructureError, match="could not be read"):
        read_structure(garbage)
    atoms, _ = icosahedron("Ag", 13)
    atoms.positions[5] = atoms.positions[4] + 0.2
    with pytest.raises(SiteMapError, match="atoms 4 \\(Ag\\) and 5 \\(Ag\\) are 0.346 Å apart"):
        check_distances(atoms)


@pytest.mark.parametrize("damage, words", [
    ((', \\"position\\": [0.0, 0.0, 0.0]', ""), "record 0 has no position"),
    (("[0.0, 0.0, 0.0]", "[0.0, 0.0]"), "record 0 has position [0.0, 0.0], not three finite"),
    (("[0.0, 0.0, 0.0]", "[0.0, NaN, 0.0]"), "not three finite numbers"),
    (('\\"site\\": 0', '\\"site\\": -3'), "record 0 has site -3, not a site index"),
    (('\\"element\\": \\"Ag\\"', '\\"element\\": 7'), "record 0 has element 7, not a name"),
    (('vacant_sites="[{', 'vacant_sites="[{{'), "vacant_sites is not a JSON list of sites"),
])
def test_damaged_vacant_site_records_are_named(tmp_path, damage, words):
    atoms, sites = build("ag13", vacancy="center")
    path = tmp_path / "ag12.xyz"
    write_structure(path, atoms, sites)
    text = path.read_text()
    assert damage[0] in text, text.splitlines()[1]
    path.write_text(text.replace(damage[0], damage[1]))
    with pytest.raises(StructureError, match=f"{path}: .*" + words.replace("[", r"\[")
                       .replace("]", r"\]")):
        read_structure(path)


def test_a_new_builder_entry_needs_no_other_code(monkeypatch):
    from mdkit import systems
    from mdkit.systems.bare import icosahedron

    entry = systems.Builder("Cu13, for this test", lambda dope, vacancy:
                            (*icosahedron("Cu", 13), dope, vacancy), isomers={"center": "IsoX"})
    monkeypatch.setitem(systems.BUILDERS, "cutest", entry)
    atoms, sites = systems.build("cutest", vacancy="center")
    assert len(atoms) == 12 and atoms.info["name"].endswith("(vacancy at center site 0 = IsoX)")
