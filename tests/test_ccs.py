"""Collision cross sections against analytic limits and a published value.

Every reference here is either exact (hard-sphere geometry) or published; no
number was taken from this code's own output.
"""

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from scipy.spatial.transform import Rotation
from scipy.special import gamma

from mdkit.analysis import ccs as C
from mdkit.analysis.ccs import estimator
from mdkit.errors import MdkitError
from mdkit.systems import build

KT_298 = C.KB_EV * 298.0


def within(a, b, sigmas=3.0, extra=0.0):
    """|a - b| within ``sigmas`` combined standard errors plus ``extra`` (relative)."""
    gap = abs(a["ccs_A2"] - b["ccs_A2"])
    return gap <= sigmas * math.hypot(a["error_A2"], b["error_A2"]) + extra * b["ccs_A2"]


def test_single_hard_sphere_is_pi_r_squared():
    """One atom: both hard-sphere models must give pi r^2, r = atom + gas radius.

    MOBCAL's He collision distance of carbon is 2.7 Å (1.40 Å atom + 1.30 Å He).
    """
    atom = Atoms("C", positions=[[1.0, -2.0, 0.5]])
    exact = math.pi * 2.7 ** 2
    pa = C.ccs(atom, method="pa", gas="He", n_samples=16 * 4096)
    ehss = C.ccs(atom, method="ehss", gas="He", n_samples=16 * 4096)
    assert pa["ccs_A2"] == pytest.approx(exact, rel=1e-3)
    assert ehss["ccs_A2"] == pytest.approx(exact, rel=1e-3)
    assert ehss["ccs_A2"] == pytest.approx(pa["ccs_A2"], rel=1e-3)


def test_convex_body_has_ehss_equal_to_pa():
    """For a convex body, orientation-averaged EHSS equals PA exactly.

    Why: a ray meeting a convex body is reflected once (it cannot hit the body
    again), so a surface element dS with normal n, hit from direction d with
    d.n < 0, scatters by 1 - cos chi = 2 (d.n)^2 and intercepts |d.n| dS of
    flux.  The momentum-transfer cross section is Int 2 |d.n|^3 dS over the lit
    side; averaging over isotropic d, <|d.n|^3 on one hemisphere> = 1/8, gives
    S/4, which is Cauchy's mean projected area of any convex body.

    A union of hard spheres is convex only if one sphere contains all the others
    (two spheres that overlap have a concave crease, and a "tight" cluster of
    atoms is rough), so the body is a large sphere with smaller atoms buried
    inside it off-centre.  Their centroid, where the sampling disc is centred,
    is then off the big sphere's centre, so PA and EHSS are genuinely sampled;
    both must give pi R^2.
    """
    inner = [[0.8, 0.2, -0.3], [-0.5, 0.9, 0.4], [0.1, -0.7, -0.6]]
    body = Atoms("AgCCH", positions=[[0.0, 0.0, 0.0], *inner])
    params = {"element": {"Ag": {"hs_radius_A": 4.0}}}  # R = 4.0 + 1.30 (He)
    exact = math.pi * 5.3 ** 2
    pa = C.ccs(body, method="pa", gas="He", params=params, target_error=5e-4)
    ehss = C.ccs(body, method="ehss", gas="He", params=params, target_error=5e-4)
    assert pa["ccs_A2"] == pytest.approx(exact, rel=2e-3)
    assert ehss["ccs_A2"] == pytest.approx(exact, rel=2e-3)
    assert within(ehss, pa)


def test_trajectory_method_with_steep_repulsion_reproduces_ehss():
    """TM with U = eps (sigma/r)^n, n = 1000, no attraction, equals EHSS of radius sigma.

    For a steep wall the turning radius at energy E is sigma (eps/E)^(1/n), so the
    Gamma(3, kT) thermal average of its square is sigma^2 (eps/kT)^(2/n)
    Gamma(3 - 2/n)/2; eps is chosen to make that factor 1.  The remaining
    softness correction is O(1/n) = 0.1 %, below the statistical error.  The
    body (four overlapping spheres bent out of plane) is concave, so rays
    scatter several times: EHSS differs from PA here.
    """
    n, sigma = 1000.0, 2.5
    eps_meV = 1e3 * KT_298 * (2.0 / gamma(3.0 - 2.0 / n)) ** (n / 2)
    params = {"gas": {"wall": {"mass_amu": 4.0, "polarizability_A3": 0.0, "hs_radius_A": 0.0,
                               "potential": "inverse-power", "repulsion_exponent": n}},
              "element": {"C": {"hs_radius_A": sigma,
                                "wall": {"epsilon_meV": eps_meV, "sigma_A": sigma}}}}
    body = Atoms("C4", positions=[[0, 0, 0], [3.0, 0, 0], [3.0, 3.0, 0], [3.0, 3.0, 3.0]])
    ehss = C.ccs(body, method="ehss", gas="wall", params=params, target_error=5e-4)
    pa = C.ccs(body, method="pa", gas="wall", params=params, target_error=5e-4)
    tm = C.ccs(body, method="tm", gas="wall", params=params, target_error=4e-3, seed=3)
    assert ehss["diagnostics"]["max_reflections"] > 1
    assert ehss["ccs_A2"] > 1.03 * pa["ccs_A2"]
    assert within(tm, ehss)


def test_rotation_and_translation_do_not_change_the_result():
    """Translation changes nothing (same seed); a rotation only the random draw."""
    ion, _ = build("mo6cl13")
    moved = ion.copy()
    moved.positions = ion.positions @ Rotation.random(random_state=7).as_matrix().T + [5, -3, 9]
    shifted = ion.copy()
    shifted.positions += [12.0, -4.0, 7.5]
    for method, target in (("ehss", 1e-3), ("tm", 1e-2)):
        first = C.ccs(ion, method=method, target_error=target)
        assert C.ccs(shifted, method=method, target_error=target)["ccs_A2"] == pytest.approx(
            first["ccs_A2"], rel=1e-9)
        assert within(C.ccs(moved, method=method, target_error=target), first)


def test_error_falls_as_one_over_sqrt_samples():
    """Twice the samples (twice the independent batches) -> error x 1/sqrt(2)."""
    cluster, _ = build("ag13")
    ratios = []
    for seed in range(3):
        small = C.ccs(cluster, method="pa", gas="He", n_samples=64 * 4096, seed=seed)
        large = C.ccs(cluster, method="pa", gas="He", n_samples=128 * 4096, seed=seed)
        assert large["n_samples"] == 2 * small["n_samples"]
        ratios.append(large["error_A2"] / small["error_A2"])
    # the error estimate of k batches scatters by ~1/sqrt(2k) = 9 %, averaged over 3 seeds
    assert np.mean(ratios) == pytest.approx(1 / math.sqrt(2), abs=0.12)


def choline() -> Atoms:
    """Choline, (CH3)3N+CH2CH2OH, from trimethylamine with standard bond lengths.

    N-C 1.51, C-C 1.52, C-O 1.41, O-H 0.97, C-H 1.09 Å; N-C-C-O gauche (60 deg),
    as in the optimised structures of Kim et al. (2008).
    """
    def place(a, b, c, bond, angle, dihedral):
        """Atom d with |cd| = bond, angle bcd and dihedral abcd in degrees."""
        bc = (c - b) / np.linalg.norm(c - b)
        normal = np.cross(b - a, bc)
        normal /= np.linalg.norm(normal)
        th, ph = np.radians(angle), np.radians(dihedral)
        return c + bond * (-np.cos(th) * bc + np.sin(th) * np.cos(ph) * np.cross(normal, bc)
                           + np.sin(th) * np.sin(ph) * normal)

    amine = molecule("C3H9N")
    symbols = np.array(amine.get_chemical_symbols())
    n = amine.positions[symbols == "N"][0]
    carbons = amine.positions[symbols == "C"]
    out = -sum((c - n) / np.linalg.norm(c - n) for c in carbons)
    ca = n + 1.51 * out / np.linalg.norm(out)
    cb = place(carbons[0], n, ca, 1.52, 115.0, 180.0)
    o = place(n, ca, cb, 1.41, 109.5, 60.0)
    hydrogens = [place(ca, cb, o, 0.97, 108.0, -60.0)]
    hydrogens += [place(cb, n, ca, 1.09, 109.5, d) for d in (120.0, -120.0)]
    hydrogens += [place(o, ca, cb, 1.09, 109.5, d) for d in (120.0, -120.0)]
    ion = amine + Atoms("CCO" + "H" * 5, positions=[ca, cb, o, *hydrogens])
    ion.info["charge"] = 1
    return ion


def test_choline_in_nitrogen_matches_the_published_trajectory_method_value():
    """Choline+ in N2 at 301 K: 115.9 Å^2 by MOBCAL-2012's TM (Campuzano et al.,
    Anal. Chem. 84, 1026 (2012); the output distributed with that code, made with
    the same Lennard-Jones parameters and two-centre N2 as here).

    Tolerance 4 %: the geometry here is built from standard bond lengths and
    the partial charges come from GFN-FF (theirs: the structure and
    6-31G++(d,p) charges of their Choline.mfj, used as such in
    test_ccs_cli.py); each of these moves the result by about 1 %.
    """
    from mdkit.calculators import make_calculator

    ion = choline()
    ion.calc = make_calculator("gfnff", ion, 1)
    ion.get_potential_energy()
    charges = ion.calc.results["charges"]
    result = C.ccs(ion, charges=charges, method="tm", gas="N2", temperature_K=301.0,
                   target_error=0.005)
    assert result["charges"] == "calculator"
    assert result["ccs_A2"] == pytest.approx(115.9, rel=0.04)
    assert result["diagnostics"]["lost"] == 0
    # trajectories over DRIFT_LIMIT are integrated again; the retries must conserve energy
    assert result["diagnostics"]["still_drifting"] == 0


def test_results_say_which_parameters_were_used():
    cluster, _ = build("ag13")
    cluster.info["charge"] = 1
    result = C.ccs(cluster + Atoms("C", positions=[[0, 0, 6.0]]), method="tm", gas="N2",
                   n_samples=16 * 512)
    assert result["defaults_used"] == ["Ag"]
    assert result["parameters"]["Ag"]["source"].startswith("default: UFF")
    assert "Campuzano" in result["parameters"]["C"]["source"]
    assert result["charges"] == "evenly spread net charge"
    assert result["net_charge"] == 1
    assert result["n_samples"] == 16 * 512 and result["K0_cm2_Vs"] > 0


def test_user_parameter_file_overrides_the_table(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[element.Ag]\nhs_radius_A = 1.5\nhs_source = "my radius"\n')
    cluster, _ = build("ag13")
    result = C.ccs(cluster, method="pa", gas="He", params=path, n_samples=16 * 4096)
    assert result["parameters"]["Ag"]["hs_source"] == "my radius"
    assert result["defaults_used"] == []


def test_user_errors_are_mdkit_errors():
    cluster, _ = build("ag13")
    with pytest.raises(MdkitError, match="unknown gas"):
        C.ccs(cluster, gas="Ar")
    with pytest.raises(MdkitError, match="unknown CCS method"):
        C.ccs(cluster, method="psa")
    with pytest.raises(C.CCSError, match="defaults are disabled"):
        C.ccs(cluster, method="tm", params={"allow_defaults": False})
    with pytest.raises(C.CCSError, match="partial charges"):
        C.ccs(cluster, charges=[0.0, 1.0])


def test_results_do_not_depend_on_the_number_of_threads():
    import numba

    ion, _ = build("mo6cl13")
    one = C.ccs(ion, method="tm", n_samples=16 * 512, n_workers=1)
    two = C.ccs(ion, method="tm", n_samples=16 * 512, n_workers=numba.config.NUMBA_NUM_THREADS)
    assert one["ccs_A2"] == two["ccs_A2"] and one["error_A2"] == two["error_A2"]


def test_frames_of_a_universe_and_their_comparison():
    import MDAnalysis as mda
    from MDAnalysis.coordinates.memory import MemoryReader

    cluster, _ = build("ag13")
    rng = np.random.default_rng(1)
    coords = np.array([cluster.positions * s + rng.normal(0, 0.05, cluster.positions.shape)
                       for s in (1.0, 1.0, 1.1)], dtype=np.float32)
    universe = mda.Universe.empty(len(cluster), trajectory=True)
    universe.add_TopologyAttr("elements", cluster.get_chemical_symbols())
    universe.load_new(coords, format=MemoryReader)
    calls = []
    rows = C.ccs_of_frames(universe, [0, 2], charge=0, method="pa", gas="He",
                           progress=lambda done, total: calls.append((done, total)),
                           n_samples=16 * 4096)
    assert calls == [(1, 2), (2, 2)]
    assert [r["frame"] for r in rows] == [0, 2] and rows[0]["seed"] == 0 and rows[1]["seed"] == 2
    table = C.compare({"compact": rows[:1], "swollen": rows[1:]})
    assert table[0]["difference_percent"] == 0.0
    # a 10 % larger cluster: the area grows by ~ (1.1)^2 minus the fixed collision radius
    assert 8.0 < table[1]["difference_percent"] < 21.0
    assert table[1]["difference_error_percent"] > 0


def test_trajectories_that_lose_energy_are_integrated_again(monkeypatch):
    """With a 100x looser integrator many trajectories drift (some into false orbits, which
    biases the CCS by several sigma); re-integrating every one whose energy drifts by more
    than DRIFT_LIMIT, on the same samples, must land on the default result."""
    ion, _ = build("mo6cl13")
    reference = C.ccs(ion, method="tm", n_samples=32 * 512, seed=4)
    monkeypatch.setattr(estimator, "TOLERANCE", 100 * estimator.TOLERANCE)
    loose = C.ccs(ion, method="tm", n_samples=32 * 512, seed=4)
    assert loose["diagnostics"]["retried"] > 0.1 * loose["diagnostics"]["trajectories"]
    assert abs(loose["ccs_A2"] - reference["ccs_A2"]) < 0.25 * reference["error_A2"]


def test_comparison_of_structures_sharing_their_samples_is_paired():
    """Two single structures with the same seed share their Sobol' batches, so the error of
    their relative difference is the paired one: much smaller than with independent seeds,
    and both differences must agree within their errors."""
    small, _ = build("ag13")
    large = small.copy()
    large.positions *= 1.01
    kw = {"method": "pa", "gas": "He", "n_samples": 32 * 4096}
    a, b, c = C.ccs(small, **kw), C.ccs(large, **kw), C.ccs(large, seed=5, **kw)
    paired = C.compare({"a": [a], "b": [b]})[1]
    independent = C.compare({"a": [a], "c": [c]})[1]
    assert paired["paired"] and not independent["paired"]
    assert paired["difference_error_percent"] < 0.5 * independent["difference_error_percent"]
    gap = abs(paired["difference_percent"] - independent["difference_percent"])
    assert gap < 3 * math.hypot(paired["difference_error_percent"],
                                independent["difference_error_percent"])
    assert paired["difference_percent"] > 0
