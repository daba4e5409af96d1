"""Named CCS parameter sets and the systematic band computed from them."""

import math
import re

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import molecule

from mdkit.analysis import ccs as C
from mdkit.analysis.ccs.parameters import element_parameters, load_parameters, parameter_sets
from mdkit.analysis.ccs.systematic import SYSTEMATIC_SETS

# UFF nonbond parameters as Rappe et al. (J. Am. Chem. Soc. 114, 10024 (1992)) tabulate them
UFF_AG = (3.148, 0.036)  # x_i / Å, D_i / kcal mol^-1
UFF_N = (3.660, 0.069)
BAND_SAMPLES = 16 * 512  # the band's batches: MIN_BATCHES of 512 trajectories


def ag_s_anion():
    ion = Atoms("AgS", positions=[[0.0, 0.0, 0.0], [2.4, 0.0, 0.0]])
    ion.info["charge"] = -1
    return ion


def test_every_set_loads_and_is_cited():
    sets = parameter_sets()
    assert {"mdkit", "mobcal-2012", "uff-x0.93", "uff-x1.20"} <= set(sets)
    for name, citation in sets.items():
        table = load_parameters(param_set=name)
        assert table["param_set"] == name
        # a citation names at least one paper: authors and its year
        assert re.search(r"et al\..*\b(19|20)\d\d\b", citation), name
        for element, entry in table["element"].items():
            if "N2" in entry:
                assert entry["N2"].get("source"), f"{name}: {element} N2 has no source"


def test_mdkit_set_is_the_shipped_table():
    default = load_parameters()
    assert default["param_set"] == "mdkit"
    assert default["element"] == load_parameters(param_set="mdkit")["element"]


def test_mobcal_2012_set_has_no_silver_and_says_so():
    table = load_parameters(param_set="mobcal-2012")
    assert element_parameters(table, "C", "N2") == element_parameters(load_parameters(), "C",
                                                                      "N2")
    with pytest.raises(C.CCSError, match="element Ag"):
        element_parameters(table, "Ag", "N2")


@pytest.mark.parametrize("name, factor", [("mdkit", 1.0), ("uff-x0.93", 0.93),
                                          ("uff-x1.20", 1.20)])
def test_uff_factor_sets_scale_silver_as_campuzano_scales_uff(name, factor):
    """Campuzano's rule: x_i and D_i times f, geometric means with UFF N."""
    ag = element_parameters(load_parameters(param_set=name), "Ag", "N2")
    sigma = 2 ** (-1 / 6) * math.sqrt(factor * UFF_AG[0] * UFF_N[0])
    depth_meV = math.sqrt(factor * UFF_AG[1] * UFF_N[1]) * units.kcal / units.mol * 1e3
    assert ag["sigma_A"] == pytest.approx(sigma, rel=1e-12)
    assert ag["epsilon_meV"] == pytest.approx(depth_meV, rel=1e-12)
    # elements with published values are untouched by the factor
    c = element_parameters(load_parameters(param_set=name), "C", "N2")
    assert c["sigma_A"] == 3.2255


def test_band_is_the_largest_change_across_the_sets():
    """The band of a tiny ion from independent CCS calls with each set, same samples."""
    ion = ag_s_anion()
    kw = {"method": "tm", "n_samples": BAND_SAMPLES, "seed": 3}
    result = C.ccs(ion, **kw)
    base = C.ccs(ion, systematic=False, **kw)["ccs_A2"]
    assert result["ccs_A2"] == base
    changes = {}
    for name in SYSTEMATIC_SETS:
        try:
            changes[name] = C.ccs(ion, param_set=name, systematic=False, **kw)["ccs_A2"] / base - 1
        except C.CCSError:
            continue
    assert set(changes) == {"uff-x0.93", "uff-x1.20"}  # MOBCAL-2012 has no Ag
    assert "Ag" in result["systematic"]["sets"]["mobcal-2012"]["skipped"]
    expected = max(abs(c) for c in changes.values()) * base
    assert result["systematic_A2"] == pytest.approx(expected, rel=1e-9)
    assert result["systematic_A2"] > 0
    for name, change in changes.items():
        assert result["systematic"]["sets"][name]["relative"] == pytest.approx(change, rel=1e-9)
    assert result["param_set"] == "mdkit" and "Campuzano" in result["param_set_citation"]


def test_no_band_where_every_element_has_published_values():
    ion = molecule("CH4")
    ion.info["charge"] = 1
    result = C.ccs(ion, method="tm", n_samples=BAND_SAMPLES)
    assert result["systematic_A2"] == 0.0
    assert all(s.get("relative") == 0.0 for s in result["systematic"]["sets"].values())


def test_hard_sphere_methods_have_no_band():
    result = C.ccs(ag_s_anion(), method="pa", gas="He", n_samples=16 * 4096)
    assert result["systematic_A2"] is None and result["systematic"]["relative"] is None


def test_bad_set_and_factor_are_refused():
    with pytest.raises(C.CCSError, match="unknown CCS parameter set 'imos'.*mobcal-2012"):
        C.ccs(ag_s_anion(), param_set="imos")
    with pytest.raises(C.CCSError, match="uff_factor"):
        load_parameters({"uff_factor": -1.0})


def test_frames_share_the_relative_band_of_the_first():
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    ion = ag_s_anion()
    coords = np.array([ion.positions, ion.positions * 1.05], dtype=np.float32)
    universe = mda.Universe.empty(len(ion), trajectory=True)
    universe.add_TopologyAttr("elements", ion.get_chemical_symbols())
    universe.load_new(coords, format=MemoryReader)
    rows = C.ccs_of_frames(universe, [0, 1], charge=-1, method="tm", n_samples=BAND_SAMPLES)
    first, second = rows[0]["systematic"], rows[1]["systematic"]
    assert second["relative"] == first["relative"] > 0
    assert rows[1]["systematic_A2"] == pytest.approx(first["relative"] * rows[1]["ccs_A2"])
    assert "frame 1" in rows[1]["geometry"]
