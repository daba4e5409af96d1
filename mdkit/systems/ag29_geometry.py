"""Three-dimensional model of the cluster ion [Ag29(BDT)12]3-.

BDT is 1,3-benzenedithiolate, C6H4S2(2-); the ion has 173 atoms,
C72H48Ag29S24, and point group T (chiral, no mirror or inversion).

The model follows the crystal structure of Ag29(BDT)12(TPP)4 without the
phosphines: a centred Ag13 icosahedron, four Ag3S6 crowns over the icosahedral
faces on one tetrahedron of three-fold axes, and four tetrahedral Ag over the
faces on the other.  With the icosahedron in T orientation (vertices the
cyclic permutations of (0, +-1, +-phi)) the crowns lie on (1, 1, 1),
(1, -1, -1), (-1, 1, -1), (-1, -1, 1) and the tetrahedral Ag on the
negatives of these.

Bond topology
-------------
Each crown is an Ag3S3 ring of three crown Ag and three "ring" S, each ring S
bridging two crown Ag, plus three "outer" S.  Every non-diagonal icosahedral
face has one edge under a crown and one edge under a tetrahedral Ag, sharing a
vertex; an outer S sits over each of these twelve faces and binds the crown Ag
over the crown edge, the tetrahedral Ag over the other edge's face and the
shell Ag at the shared vertex.  So every crown Ag binds three S, every
tetrahedral Ag three S, every shell Ag one S; the twelve outer S are mu3 and
the twelve ring S mu2.  Each BDT joins the ring S of one crown to an outer S
of the crown across a two-fold axis, so the twelve ligands form one general
orbit of T.

The ring S are deliberately *not* bonded to the shell Ag, although the
crystal analysis puts each over, and bonded to, an icosahedral vertex.  The
first model was relaxed with GFN-FF, which makes Ag-S about 0.15 A shorter
than the crystal; with the ring S tied to the shell, the contracting Ag3S3
rings pulled the icosahedron apart.  With the ring S free the icosahedron
stays intact and the ligands have room; the topology is kept for the
SevenNet-relaxed model, whose Ag-S bonds all stay within 2.35-2.80 A.

Relaxation engine
-----------------
The shipped model is relaxed with SevenNet-0 (``7net-0``, a universal
potential trained on PBE data), which reproduces the study's DFT core:
centre-shell 2.84 A, icosahedral-surface Ag-Ag within 2.85-3.15 A.  GFN-FF
compresses the core by 9 % (centre-shell 2.59 A, a bare Ag13 relaxes to
2.57 A); ``relax(atoms, calculator="gfnff")`` still gives that model.

Atom order
----------
0 centre Ag; 1-12 icosahedral Ag; 13-16 tetrahedral Ag; 17-28 crown Ag, three
per crown; 29-52 S, the ring S and outer S of ligand k at 29 + 2k and
30 + 2k; 53-124 C, six per ligand; 125-172 H, four per ligand.  Atom
``1 + k``, atom ``17 + k`` and ligand k are ``T_ROTATIONS[k]`` applied to atom
1, atom 17 and ligand 0; tetrahedral Ag ``13 + j`` is ``T_ROTATIONS[3 * j]``
applied to atom 13.

Run ``python -m mdkit.systems.ag29_geometry`` to rebuild the shipped file.
"""

from itertools import combinations
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from ase.optimize import FIRE

from mdkit.calculators import make_calculator
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

__all__ = [
    "DATA_FILE",
    "SITE_CLASSES",
    "T_ROTATIONS",
    "build_unrelaxed",
    "main",
    "relax",
]

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "ag29_bdt12.xyz"
"""Path of the shipped relaxed model (extended XYZ)."""

SITE_CLASSES = ("center",) + ("shell",) * 12 + ("tetrahedral",) * 4 + ("staple",) * 12
"""Class of each Ag atom 0-28 in the model's atom order.

The names are :data:`mdkit.sites.CLASS_ORDER`'s: "shell" for the icosahedral
Ag, "staple" for the crown Ag.
"""

_CHARGE = -3
_PHI = (1.0 + np.sqrt(5.0)) / 2.0


def _t_rotations():
    # The C3 about (1, 1, 1) fixes crown 0; the three C2 about the axes carry
    # it to the other crowns, so T[3j + m] puts crown 0's atom m on crown j.
    c3 = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    c2 = [np.diag(d) for d in ((1.0, 1.0, 1.0), (1.0, -1.0, -1.0),
                               (-1.0, 1.0, -1.0), (-1.0, -1.0, 1.0))]
    return np.array([d @ np.linalg.matrix_power(c3, m) for d in c2 for m in range(3)])


T_ROTATIONS = _t_rotations()
"""The 12 proper rotations of point group T, shape (12, 3, 3).

The two-fold axes are x, y and z; ``T_ROTATIONS[0]`` is the identity.
"""
T_ROTATIONS.flags.writeable = False

# _PRODUCT[g, k] is the index of T_ROTATIONS[g] @ T_ROTATIONS[k].
_PRODUCT = np.array([
    [int(np.argmin(np.abs(T_ROTATIONS - a @ b).sum(axis=(1, 2)))) for b in T_ROTATIONS]
    for a in T_ROTATIONS
])

_N_ATOMS = 173
_SHELL, _TET, _CROWN, _S, _C, _H = 1, 13, 17, 29, 53, 125
_SYMBOLS = ["Ag"] * 29 + ["S"] * 24 + ["C"] * 72 + ["H"] * 48

# Targets of the start model, in A, from the crystal and DFT structures.
_R_CENTRE_SHELL = 2.84
_AG_S = {"shell": 2.52, "staple": 2.50, "tetrahedral": 2.60}
_C_C, _C_H, _C_S = 1.39, 1.08, 1.78

# Closest non-bonded approach allowed in the start model, in A.  Besides
# sterics these keep GFN-FF, which perceives bonds from the first geometry it
# sees, from inventing Ag-S, Ag-H or S-S bonds.
_MIN_CONTACT = {
    ("Ag", "Ag"): 3.0, ("Ag", "S"): 3.3, ("S", "S"): 3.5, ("Ag", "C"): 3.2,
    ("Ag", "H"): 3.0, ("C", "S"): 3.4, ("C", "C"): 3.4, ("C", "H"): 2.8,
    ("H", "H"): 2.3, ("H", "S"): 2.9,
}

# Ag-S bonds of ligand 0's two S, from which T generates all 60.  The ring S
# (29) bridges crown Ag 17 and 19 on (1, 1, 1).  The outer S (30), the image
# of a crown-0 outer S under the C2 about z, binds crown Ag 28 on (-1, -1, 1),
# tetrahedral Ag 15 on (1, -1, 1) and shell Ag 10 at (0, -1, phi).
_BASE_AG_S = ((29, 17), (29, 19), (30, 28), (30, 15), (30, 10))

# Start of the least-squares fit: positions of crown Ag 17, ring S 29 and
# outer S 30 (A), the tetrahedral Ag distance from the centre (A), and the
# rotation vector (rad) and centre (A) of benzene ring 0.
_GUESS = np.array([
    4.44, 1.55, 3.52,
    3.24, 2.12, 5.64,
    0.81, -2.69, 4.49,
    4.70,
    -1.015, -0.520, 1.356,
    2.72, -1.01, 6.62,
])


def _benzene():
    """Rigid BDT template in its own frame, ring centre at the origin.

    Returns
    -------
    s : ndarray, shape (2, 3)
        Ring S then outer S, on C1 and C3, in A.
    c : ndarray, shape (6, 3)
        C1..C6 in A.
    h : ndarray, shape (4, 3)
        H on C2, C4, C5, C6 in A.
    """
    angle = np.deg2rad(60.0 * np.arange(6))
    radial = np.column_stack([np.cos(angle), np.sin(angle), np.zeros(6)])
    return ((_C_C + _C_S) * radial[[0, 2]], _C_C * radial,
            (_C_C + _C_H) * radial[[1, 3, 4, 5]])


def _permutation(g):
    """Atom permutation of rotation ``T_ROTATIONS[g]``.

    Returns
    -------
    ndarray of int, shape (173,)
        ``perm`` with ``T_ROTATIONS[g] @ x[i] == x[perm[i]]`` for the model.
    """
    images = _PRODUCT[g]
    perm = np.zeros(_N_ATOMS, dtype=int)
    for base in (_SHELL, _CROWN):
        perm[base:base + 12] = base + images
    perm[_TET:_TET + 4] = _TET + images[::3] // 3
    for base, per_ligand in ((_S, 2), (_C, 6), (_H, 4)):
        block = np.arange(12 * per_ligand).reshape(12, per_ligand)
        perm[base + block] = base + block[images]
    return perm


def _ag_s_bonds():
    """The 60 intended Ag-S bonds as sorted (Ag, S) index pairs."""
    return sorted({(int(p[a]), int(p[s])) for p in map(_permutation, range(12))
                   for s, a in _BASE_AG_S})


def _shell():
    """Icosahedral Ag 1-12 in A, vertex k the image of (0, 1, phi) under T[k]."""
    vertex = _R_CENTRE_SHELL * np.array([0.0, 1.0, _PHI]) / np.hypot(1.0, _PHI)
    return T_ROTATIONS @ vertex


def _positions(params):
    """Cartesian positions of the whole ion from the asymmetric unit.

    Parameters
    ----------
    params : ndarray, shape (16,)
        As in ``_GUESS``.

    Returns
    -------
    ndarray, shape (173, 3)
        Positions in A, centre Ag at the origin.
    """
    crown, ring_s, outer_s = params[0:3], params[3:6], params[6:9]
    to_ligand = Rotation.from_rotvec(params[10:13]).as_matrix()
    _, c, h = _benzene()
    tet = params[9] * -np.ones(3) / np.sqrt(3.0)
    pos = np.zeros((_N_ATOMS, 3))
    pos[_SHELL:_TET] = _shell()
    for k, rot in enumerate(T_ROTATIONS):
        pos[_CROWN + k] = rot @ crown
        pos[_S + 2 * k] = rot @ ring_s
        pos[_S + 2 * k + 1] = rot @ outer_s
        pos[_C + 6 * k:_C + 6 * k + 6] = (c @ to_ligand.T + params[13:16]) @ rot.T
        pos[_H + 4 * k:_H + 4 * k + 4] = (h @ to_ligand.T + params[13:16]) @ rot.T
    for j in range(4):
        pos[_TET + j] = T_ROTATIONS[3 * j] @ tet
    return pos


def _fit_problem():
    """Bond targets and contact floors of the start-model fit.

    Returns
    -------
    bonds : ndarray of int, shape (60, 2)
    lengths : ndarray, shape (60,)
        Target Ag-S lengths in A.
    contacts : ndarray of int, shape (n, 2)
        Non-bonded pairs.
    floors : ndarray, shape (n,)
        Their smallest allowed distances in A.
    """
    bonds = np.array(_ag_s_bonds())
    lengths = np.array([_AG_S[SITE_CLASSES[a]] for a, _ in bonds])
    shell = _shell()
    edge = np.linalg.norm(shell[0] - shell[1:], axis=1).min()
    skip = {tuple(b) for b in bonds}
    skip |= {(0, _SHELL + k) for k in range(12)}
    skip |= {(_SHELL + a, _SHELL + b) for a, b in combinations(range(12), 2)
             if np.linalg.norm(shell[a] - shell[b]) < 1.1 * edge}
    ligand = np.full(_N_ATOMS, -1)
    for base, per_ligand in ((_S, 2), (_C, 6), (_H, 4)):
        ligand[base:base + 12 * per_ligand] = np.repeat(np.arange(12), per_ligand)
    contacts = [(a, b) for a, b in combinations(range(_N_ATOMS), 2)
                if (a, b) not in skip and (ligand[a] < 0 or ligand[a] != ligand[b])]
    floors = [_MIN_CONTACT[tuple(sorted((_SYMBOLS[a], _SYMBOLS[b])))] for a, b in contacts]
    return bonds, lengths, np.array(contacts), np.array(floors)


def build_unrelaxed():
    """Build the T-symmetric start model.

    The asymmetric unit (one crown Ag, one ring S, one outer S, the
    tetrahedral Ag distance and one rigid BDT) is fitted by least squares to
    the Ag-S target lengths, the floors on non-bonded distances, and the
    benzene's S positions; T generates the rest.  The icosahedron is regular
    with a centre-shell distance of 2.84 A.

    Returns
    -------
    ase.Atoms
        173 atoms in the documented order, positions in A, centre Ag at the
        origin, ``info["charge"] = -3``.
    """
    bonds, lengths, contacts, floors = _fit_problem()
    s_local, *_ = _benzene()

    def residuals(params):
        pos = _positions(params)
        to_ligand = Rotation.from_rotvec(params[10:13]).as_matrix()
        template_s = s_local @ to_ligand.T + params[13:16]
        stretch = np.linalg.norm(pos[bonds[:, 0]] - pos[bonds[:, 1]], axis=1) - lengths
        gap = np.linalg.norm(pos[contacts[:, 0]] - pos[contacts[:, 1]], axis=1)
        # Weights: bonds and the benzene's S matter more than a slightly
        # close non-bonded pair.
        return np.concatenate([
            3.0 * stretch,
            0.5 * np.maximum(0.0, floors - gap),
            3.0 * (template_s - pos[_S:_S + 2]).ravel(),
        ])

    fit = least_squares(residuals, _GUESS)
    atoms = Atoms(_SYMBOLS, positions=_positions(fit.x))
    atoms.info["charge"] = _CHARGE
    return atoms


def relax(atoms, calculator="sevennet", fmax=0.01, steps=3000):
    """Relax a structure with a registry engine (FIRE).

    Engines that fix their topology at the first call (GFN-FF) are given a
    fresh calculator after each round until one built on the result finds it
    converged, as anyone loading the result will; for the others the second
    round is one call.

    Parameters
    ----------
    atoms : ase.Atoms
        Start structure; ``info["charge"]`` (default -3) sets the charge.
        Not modified.
    calculator : str
        Registry name (:data:`mdkit.calculators.CALCULATORS`).
    fmax : float
        Convergence threshold on the largest atomic force, in eV/A.
    steps : int
        Most FIRE steps in total over all rounds.

    Returns
    -------
    ase.Atoms
        Relaxed copy, translated so that atom 0 is at the origin, with no
        calculator attached and ``info["charge"]`` kept.

    Raises
    ------
    RuntimeError
        If the engine yields non-finite forces, as GFN-FF does once a
        cluster has been torn apart.
    """
    work = atoms.copy()
    charge = int(work.info.get("charge", _CHARGE))
    taken = 0
    while True:
        work.calc = make_calculator(calculator, work, charge)
        forces = work.get_forces()
        if not np.isfinite(forces).all():
            raise RuntimeError(f"{calculator} returned non-finite forces; the structure fell "
                               "apart")
        if np.linalg.norm(forces, axis=1).max() < fmax or taken >= steps:
            break
        optimizer = FIRE(work, logfile=None)
        optimizer.run(fmax=fmax, steps=steps - taken)
        taken += max(optimizer.nsteps, 1)
    relaxed = Atoms(work.get_chemical_symbols(), positions=work.positions - work.positions[0])
    relaxed.info.update(atoms.info)
    relaxed.info["charge"] = charge
    return relaxed


def _symmetry_deviation(atoms):
    """Distances between each atom and its image under every T rotation.

    Returns
    -------
    ndarray, shape (12, 173)
        ``|T[g] @ x[i] - x[perm_g[i]]|`` in A.
    """
    pos = atoms.positions
    return np.array([np.linalg.norm(pos @ rot.T - pos[_permutation(g)], axis=1)
                     for g, rot in enumerate(T_ROTATIONS)])


def _span(values):
    return f"{np.min(values):.3f}-{np.max(values):.3f} A"


def _report(atoms, calculator):
    """Print force, symmetry and bond statistics; fail on a broken structure."""
    probe = atoms.copy()
    probe.calc = make_calculator(calculator, probe, int(atoms.info["charge"]))
    force = np.linalg.norm(probe.get_forces(), axis=1).max()
    deviation = _symmetry_deviation(atoms)
    dist = atoms.get_all_distances()
    print(f"{calculator} energy {probe.get_potential_energy():.4f} eV, "
          f"largest force {force:.4f} eV/A")
    print(f"T symmetry: RMS deviation {np.sqrt(np.mean(deviation ** 2)):.2e} A, "
          f"largest {deviation.max():.2e} A")

    bonds = np.array(_ag_s_bonds())
    length = dist[bonds[:, 0], bonds[:, 1]]
    s_kind = np.where((bonds[:, 1] - _S) % 2 == 0, "ring", "outer")
    for site in ("shell", "staple", "tetrahedral"):
        for kind in ("ring", "outer"):
            mine = length[(np.array(SITE_CLASSES)[bonds[:, 0]] == site) & (s_kind == kind)]
            if mine.size:
                print(f"Ag({site})-S({kind}) x{mine.size}: {_span(mine)}")

    def shortest(block, n):
        return _span(np.sort(block, axis=None)[:n])

    shell = dist[_SHELL:_TET, _SHELL:_TET][np.triu_indices(12, 1)]
    print(f"centre-shell: {_span(dist[0, _SHELL:_TET])}; icosahedron edges: {shortest(shell, 30)}")
    crown = dist[_CROWN:_S, _CROWN:_S][np.triu_indices(12, 1)]
    print(f"crown-crown: {shortest(crown, 12)}; crown-shell: "
          f"{shortest(dist[_CROWN:_S, _SHELL:_TET], 12)}; tetrahedral-shell: "
          f"{shortest(dist[_TET:_CROWN, _SHELL:_TET], 12)}")
    symbols = np.array(_SYMBOLS)
    c_c = dist[np.ix_(symbols == "C", symbols == "C")][np.triu_indices(72, 1)]
    print(f"C-S: {shortest(dist[np.ix_(symbols == 'C', symbols == 'S')], 24)}; "
          f"C-C: {shortest(c_c, 72)}; "
          f"C-H: {shortest(dist[np.ix_(symbols == 'C', symbols == 'H')], 48)}")
    others = np.ones((29, 24), dtype=bool)
    others[bonds[:, 0], bonds[:, 1] - _S] = False
    stray = dist[:29, _S:_C][others].min()
    print(f"shortest non-bonded Ag-S {stray:.3f} A, Ag-H {dist[:29, _H:].min():.3f} A, "
          f"Ag-C {dist[:29, _C:_H].min():.3f} A")
    if length.max() > 2.8 or stray < 3.0:
        raise RuntimeError("the relaxed Ag-S bonding differs from the intended topology")


def main(calculator="sevennet"):
    """Build, relax and write the shipped model; print its statistics."""
    from mdkit.calculators import engine_info

    relaxed = relax(build_unrelaxed(), calculator)
    info = engine_info(calculator, {})
    relaxed.info["source"] = (
        f"mdkit.systems.ag29_geometry; {calculator} ({info['version']}"
        + (f", model {info['model']}" if "model" in info else "")
        + "), FIRE, fmax=0.01 eV/A")
    _report(relaxed, calculator)
    write(DATA_FILE, relaxed, format="extxyz")
    print(f"wrote {DATA_FILE}")


if __name__ == "__main__":
    main()
