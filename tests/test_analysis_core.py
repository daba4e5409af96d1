"""Core analyses: radius of gyration, site occupancy, vacancy events.

Checked against independent facts: MDAnalysis's own Rg and a NumPy one; the
start structure's SiteMap; synthetic trajectories where we put a known atom
into the empty centre at a known time under random rigid motion and noise;
and identical results from every way of running the analysis.
"""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.coordinates.TRJ import NCDFWriter
from scipy.spatial.transform import Rotation

from mdkit import store
from mdkit.analysis import (OccupancyDataError, RadiusOfGyration, SiteMatchError,
                            SiteOccupancy, find_events, summarize, vacancy_track)
from mdkit.errors import MdkitError
from mdkit.md import run
from mdkit.protocol import load_spec
from mdkit.systems import build

DT = 0.01  # ps between synthetic frames
SYSTEMS = ["ag55", "ag28"]


@pytest.fixture(scope="module")
def emt_run(make_spec, tmp_path_factory):
    """A real 0.6 ps EMT run of Ag54 (Ag55 with its centre vacant) from 290 K."""
    folder = tmp_path_factory.mktemp("emt")
    return run(load_spec(make_spec(folder, seed=5)), progress=False)


def write_universe(path, atoms, positions):
    """A Universe of ``atoms`` whose trajectory is ``positions`` (F, n, 3), written
    as AMBER NetCDF with MDAnalysis's NCDFWriter, one frame every DT ps."""
    writer_universe = mda.Universe.empty(len(atoms), trajectory=True)
    ts = writer_universe.trajectory.ts
    with NCDFWriter(str(path), len(atoms)) as writer:
        for i, x in enumerate(positions):
            ts.positions, ts.time, ts.frame = x, i * DT, i
            writer.write(writer_universe.atoms)
    universe = mda.Universe.empty(len(atoms))
    universe.add_TopologyAttr("elements", atoms.get_chemical_symbols())
    universe.add_TopologyAttr("masses", atoms.get_masses())
    universe.load_new(str(path), format="NCDF")
    return universe


def trajectory(atoms, rng, n_frames=150, noise=0.1, moves=()):
    """Start structure on every frame, ``moves`` applied, then Gaussian noise
    (``noise`` Å per coordinate) and a random rotation and translation per frame.

    ``moves``: (atom, destination in the start frame, first frame, end frame).
    """
    x = np.repeat(atoms.positions[None], n_frames, axis=0)
    for atom, destination, first, end in moves:
        x[first:end, atom] = destination
    x += rng.normal(scale=noise, size=x.shape)
    rotation = Rotation.random(n_frames, random_state=rng).as_matrix()
    return np.einsum("fij,fnj->fni", rotation, x) + rng.uniform(-20, 20, (n_frames, 1, 3))


def migration(name, rng, tmp_path, first=60, end=None, n_frames=150):
    """A synthetic run where the first shell atom drops into the vacant centre on
    frame ``first`` (and goes back on frame ``end``, if given)."""
    atoms, sites = build(name, vacancy="center")
    centre = int(sites.select("center")[0])
    shell = int(sites.select("shell")[0])
    mover = int(sites.atoms[shell])
    moves = [(mover, sites.positions[centre], first, end or n_frames)]
    universe = write_universe(tmp_path / f"{name}.nc", atoms,
                              trajectory(atoms, rng, n_frames, moves=moves))
    return universe, sites, mover, shell, centre


def occupancy_events(universe, sites, **kwargs):
    result = SiteOccupancy(universe, sites).run().results
    events = find_events(result.times, result.occupancy, result.assignment, result.atoms,
                         sites, **kwargs)
    return result, events


def test_rg_equals_mdanalysis_and_numpy_on_a_real_run(emt_run):
    universe = store.open_run(emt_run)
    ion = universe.atoms
    weighted = RadiusOfGyration(ion).run().results
    plain = RadiusOfGyration(ion, mass_weighted=False).run().results
    masses = ion.masses
    expected, expected_plain, times = [], [], []
    for ts in universe.trajectory:
        x = ion.positions.astype(float)
        centre = (masses[:, None] * x).sum(axis=0) / masses.sum()
        numpy_rg = np.sqrt((masses * ((x - centre) ** 2).sum(axis=1)).sum() / masses.sum())
        assert abs(numpy_rg - ion.radius_of_gyration()) < 1e-10
        expected.append(numpy_rg)
        expected_plain.append(np.sqrt(((x - x.mean(axis=0)) ** 2).sum(axis=1).mean()))
        times.append(ts.time)
    assert len(weighted.rg) == len(universe.trajectory) == 31
    assert np.abs(weighted.rg - expected).max() < 1e-10
    assert np.abs(plain.rg - expected_plain).max() < 1e-10
    assert np.array_equal(weighted.times, times)
    assert np.array_equal(weighted.frames, np.arange(31))


def test_occupancy_of_a_real_run_accounts_for_every_atom(emt_run):
    universe = store.open_run(emt_run)
    sites = store.read_sites(emt_run)
    result = SiteOccupancy(universe, sites).run().results
    assert result.atoms.tolist() == list(range(54))  # all Ag, no vacancy-site atom
    # at 290 K for 0.6 ps every atom stays within half a bond of some site
    assert np.all(result.assignment >= 0)
    assert np.all(result.occupancy.sum(axis=1) == 54)
    # the start frame is the SiteMap: the centre vacant, every atom on its own site
    assert result.occupancy[0].tolist() == (sites.atoms >= 0).astype(int).tolist()
    assert result.assignment[0].tolist() == sites.atom_sites(54).tolist()
    assert result.vacant[0].tolist() == (sites.atoms < 0).tolist()
    assert result.rmsd[0] < 1e-4  # only float32 storage separates it from the sites
    assert np.all(result.rmsd < 0.5)


@pytest.mark.parametrize("name", SYSTEMS)
def test_shell_atom_dropping_into_the_centre_is_one_event(name, rng, tmp_path):
    universe, sites, mover, shell, centre = migration(name, rng, tmp_path, first=60)
    result, events = occupancy_events(universe, sites)
    n_metal = int((sites.atoms >= 0).sum())
    assert len(result.atoms) == n_metal  # ligand S, C, H are not assigned
    assert np.all(result.occupancy.sum(axis=1) == n_metal)
    assert result.assignment[0].tolist() == sites.atom_sites(len(universe.atoms))[
        result.atoms].tolist()
    assert len(events) == 1
    event = events[0]
    assert abs(event["time_ps"] - 60 * DT) <= DT + 1e-6
    assert event["atom"] == mover
    assert (event["from_site"], event["from_class"]) == (shell, "shell")
    assert (event["to_site"], event["to_class"]) == (centre, "center")
    assert (event["vacancy_before"], event["vacancy_after"]) == ("center", "shell")
    assert event["kind"] == "core-to-shell"

    track = vacancy_track(result.occupancy, sites)
    assert set(track["label"][:59]) == {"center"} and set(track["label"][61:]) == {"shell"}
    assert track["site"][0] == centre and track["site"][-1] == shell
    summary = summarize(result.times, events, track, sites)
    assert abs(summary["first_core_to_shell_ps"] - 60 * DT) <= DT + 1e-6
    assert summary["counts"] == {"core-to-shell": 1, "shell-to-core": 0, "hop": 0}
    assert summary["n_hops"] == 0
    residence = summary["vacancy_residence_ps"]
    assert abs(residence["center"] - 60 * DT) <= DT + 1e-6
    assert abs(residence["center"] + residence["shell"] - 149 * DT) < 1e-4
    assert "left the center for a shell site" in summary["statement"]
    assert f"atom {mover} moved shell\u2192center" in summary["statement"]


def test_noise_alone_gives_no_event(rng, tmp_path):
    atoms, sites = build("ag55", vacancy="center")
    universe = write_universe(tmp_path / "noise.nc", atoms, trajectory(atoms, rng))
    result, events = occupancy_events(universe, sites)
    assert events == []
    assert np.all(result.vacant == (sites.atoms < 0))
    summary = summarize(result.times, events, vacancy_track(result.occupancy, sites), sites)
    assert summary["first_core_to_shell_ps"] is None
    assert summary["statement"].startswith("The vacancy stayed at a center site")


def test_a_one_frame_flicker_into_the_centre_is_no_event(rng, tmp_path):
    universe, sites, mover, shell, centre = migration("ag55", rng, tmp_path, first=60, end=61)
    result, events = occupancy_events(universe, sites)
    column = result.atoms.tolist().index(mover)
    assert result.assignment[60, column] == centre  # the flicker is seen ...
    assert events == []                              # ... and is not an event


def test_residence_time_decides_whether_a_short_stay_counts(rng, tmp_path):
    # 0.3 ps in the centre, then back: shorter than the default 0.5 ps
    universe, sites, mover, shell, centre = migration("ag55", rng, tmp_path, first=60, end=90)
    result, events = occupancy_events(universe, sites)
    assert events == []
    events = find_events(result.times, result.occupancy, result.assignment, result.atoms,
                         sites, residence_ps=0.2)
    assert [(e["kind"], e["from_site"], e["to_site"]) for e in events] == \
        [("core-to-shell", shell, centre), ("shell-to-core", centre, shell)]
    assert [round(e["time_ps"] / DT) for e in events] == [60, 90]
    summary = summarize(result.times, events, vacancy_track(result.occupancy, sites), sites)
    assert "returned to the center at 0.90 ps" in summary["statement"]


def test_two_atoms_on_one_site_show_as_crowding(rng, tmp_path):
    atoms, sites = build("ag55", vacancy="center")
    a, b = sites.select("surface")[:2]
    # atom of site a sits 0.3 Å from site b, next to b's own atom
    destination = sites.positions[b] + 0.3 * (sites.positions[a] - sites.positions[b]) \
        / np.linalg.norm(sites.positions[a] - sites.positions[b])
    x = trajectory(atoms, rng, n_frames=20, noise=0.02,
                   moves=[(sites.atoms[a], destination, 0, 20)])
    result = SiteOccupancy(write_universe(tmp_path / "crowd.nc", atoms, x), sites).run().results
    assert np.all(result.occupancy[:, b] == 2)
    assert np.all(result.occupancy[:, a] == 0)
    track = vacancy_track(result.occupancy, sites)
    assert set(track["label"]) == {"center+surface"} and np.all(track["count"] == 2)


def test_vacant_apical_site_of_mo6cl13_stays_vacant(rng, tmp_path):
    atoms, sites = build("mo6cl13")
    lacuna = sites.vacant
    assert sites.classes[lacuna].tolist() == ["apical"]
    universe = write_universe(tmp_path / "mo6cl13.nc", atoms, trajectory(atoms, rng, 60))
    result, events = occupancy_events(universe, sites)
    assert len(result.atoms) == 19  # 6 Mo and 13 Cl
    assert np.all(result.vacant[:, lacuna])
    assert np.all(result.occupancy[:, sites.atoms >= 0] == 1)
    assert set(vacancy_track(result.occupancy, sites)["label"]) == {"apical"}
    assert events == []


KEYS = ("occupancy", "assignment", "rmsd", "vacant", "atoms", "times", "frames")


def assert_identical(reference, others, keys):
    for other in others:
        for key in keys:
            assert np.array_equal(reference[key], other.results[key]), key
            assert reference[key].dtype == other.results[key].dtype, key


def test_every_way_of_running_gives_identical_results(rng, tmp_path):
    universe, sites, *_ = migration("ag55", rng, tmp_path, first=70, n_frames=200)
    serial = SiteOccupancy(universe, sites).run().results
    assert_identical(serial, [
        SiteOccupancy(universe, sites, chunk_size=1).run(),  # MDAnalysis's own frame loop
        SiteOccupancy(universe, sites, chunk_size=7).run(),
        SiteOccupancy(universe, sites).run(backend="multiprocessing", n_workers=2),
        SiteOccupancy(universe, sites).run(backend="multiprocessing", n_workers=2, n_parts=3),
    ], KEYS)
    assert_identical(RadiusOfGyration(universe.atoms).run().results, [
        RadiusOfGyration(universe.atoms, chunk_size=1).run(),
        RadiusOfGyration(universe.atoms).run(backend="multiprocessing", n_workers=2),
    ], ("rg", "times", "frames"))
    # start/stop/step pick the same frames and give them the same numbers
    part = SiteOccupancy(universe, sites).run(start=5, stop=150, step=3).results
    rows = np.arange(5, 150, 3)
    assert np.array_equal(part.frames, rows)
    for key in ("occupancy", "assignment", "rmsd", "times"):
        assert np.array_equal(part[key], serial[key][rows]), key
    picked = SiteOccupancy(universe, sites).run(frames=[120, 3, 3, 71]).results
    assert np.array_equal(picked.assignment, serial.assignment[[120, 3, 3, 71]])


def test_dask_gives_identical_results(rng, tmp_path):
    pytest.importorskip("dask")
    universe, sites, *_ = migration("ag55", rng, tmp_path, first=70, n_frames=200)
    # (RadiusOfGyration runs on the same ChunkedAnalysis machinery; one Dask
    # process pool per test keeps it short)
    assert_identical(SiteOccupancy(universe, sites).run().results,
                     [SiteOccupancy(universe, sites).run(backend="dask", n_workers=2)], KEYS)


def test_segments_and_other_readers_read_like_the_joined_file(rng, tmp_path):
    from MDAnalysis.coordinates.memory import MemoryReader

    atoms, sites = build("ag55", vacancy="center")
    x = trajectory(atoms, rng, n_frames=90)
    joined = write_universe(tmp_path / "joined.nc", atoms, x)
    for name, part in (("a.nc", x[:40]), ("b.nc", x[40:])):
        write_universe(tmp_path / name, atoms, part)
    chained = mda.Universe.empty(len(atoms))  # a running run: one file per segment
    chained.add_TopologyAttr("elements", atoms.get_chemical_symbols())
    chained.load_new([str(tmp_path / "a.nc"), str(tmp_path / "b.nc")], format="NCDF")
    in_memory = mda.Universe.empty(len(atoms))  # read frame by frame, computed in blocks
    in_memory.add_TopologyAttr("elements", atoms.get_chemical_symbols())
    in_memory.load_new(joined.trajectory.timeseries(order="fac"), format=MemoryReader)
    reference = SiteOccupancy(joined, sites).run().results
    for universe, chunk_size in ((chained, 1), (chained, 32), (in_memory, 32)):
        result = SiteOccupancy(universe, sites, chunk_size=chunk_size).run(step=2).results
        assert np.array_equal(result.assignment, reference.assignment[::2])
        assert np.array_equal(result.rmsd, reference.rmsd[::2])


def test_a_sitemap_that_does_not_fit_the_atoms_is_refused(tmp_path, rng):
    atoms, sites = build("ag55", vacancy="center")
    universe = write_universe(tmp_path / "ag.nc", atoms, trajectory(atoms, rng, 3))
    _, halide_sites = build("mo6cl13")
    with pytest.raises(SiteMatchError, match=r"elements \(Cl, Mo\) match no atom"):
        SiteOccupancy(universe, halide_sites)
    wrong = sites.copy()
    wrong.elements[:] = "Au"
    with pytest.raises(MdkitError, match="match no atom"):
        SiteOccupancy(universe, wrong)
    with pytest.raises(SiteMatchError, match="matches no atom"):
        SiteOccupancy(universe, sites, select="element Xx")


def test_event_inputs_must_fit_together():
    _, sites = build("ag13", vacancy="center")
    occupancy = np.ones((5, len(sites)), int)
    with pytest.raises(OccupancyDataError, match="one column per site"):
        vacancy_track(occupancy[:, :4], sites)
    with pytest.raises(OccupancyDataError, match="times must increase"):
        find_events([0, 1, 1, 2, 3], occupancy, np.zeros((5, 12), int), np.arange(12), sites)
    track = vacancy_track(occupancy, sites)
    assert set(track["label"]) == {"none"} and np.all(track["site"] == -1)


def test_a_vacancy_in_the_mo6_core_is_followed_like_the_silver_centre():
    """Which classes are the core comes from the SiteMap: an apical atom filling a vacant
    site of the Mo6 octahedron (class ``core``) is a core-to-shell migration, as an Ag
    atom filling the vacant ``center`` is, and the summary names the core."""
    from mdkit.analysis import find_events, summarize, vacancy_track
    from mdkit.sites import SiteMap

    for core, outer in (("core", "apical"), ("center", "shell")):
        classes = [core] * 6 + [outer] * 6
        sites = SiteMap(np.arange(36.0).reshape(12, 3), classes, ["Mo"] * 12,
                        [-1] + list(range(1, 12)), charge=-1)
        times = np.arange(10) * 0.1
        occupancy = np.ones((10, 12), int)
        occupancy[:5, 0] = 0      # the core site is vacant ...
        occupancy[5:, 6] = 0      # ... until the atom on site 6 moves in
        assignment = np.where(np.arange(10) < 5, 6, 0)[:, None]
        events = find_events(times, occupancy, assignment, [7], sites, residence_ps=0.2)
        assert [(e["kind"], e["from_class"], e["to_class"]) for e in events] == \
            [("core-to-shell", outer, core)]
        summary = summarize(times, events, vacancy_track(occupancy, sites), sites)
        assert summary["first_core_to_shell_ps"] == pytest.approx(0.5)
        assert summary["statement"].startswith(f"The vacancy left the {core} for")
