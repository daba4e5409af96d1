"""Collision cross sections (CCS) of cluster ions: PA, EHSS and the trajectory method.

Three models of the ion-gas collision, orientation-averaged by Monte Carlo:

``"pa"``  Projection approximation (Mack, J. Am. Chem. Soc. 47, 2468 (1925);
    von Helden, Hsu, Gotts & Bowers, J. Phys. Chem. 97, 8182 (1993); MOBCAL's
    PA, Shvartsburg & Jarrold, Chem. Phys. Lett. 261, 86 (1996)): the area of
    the shadow that the atoms' hard spheres (collision radius = atom radius +
    gas radius) cast, averaged over orientations.
``"ehss"``  Exact hard-sphere scattering (Shvartsburg & Jarrold 1996): the gas
    is a point reflected specularly off the same spheres, as many times as it
    hits them; the momentum-transfer cross section is the orientation average
    of the integral of (1 - cos chi) over the impact plane.
``"tm"``  Trajectory method (Mesleh, Hunter, Shvartsburg, Schatz & Jarrold,
    J. Phys. Chem. 100, 16082 (1996); in N2: Kim et al., Anal. Chem. 80, 1928
    (2008) and Campuzano et al., Anal. Chem. 84, 1026 (2012); cf. IMoS,
    Larriba-Andaluz & Hogan, J. Chem. Phys. 141, 194107 (2014)).  Classical
    trajectories of the gas through a sum of Lennard-Jones 12-6 ion-atom/gas-site
    terms plus the ion-induced-dipole energy -(alpha/2)|E|^2 of the field E of
    the ion's partial charges at the gas (plus, for N2, the charges of its
    quadrupole on the two N sites and the centre).  The result is the collision
    integral

        Omega(1,1)(T) = 1/(2 (kT)^3) Int E^2 exp(-E/kT) Q(1)(E) dE,
        Q(1)(E) = < Int (1 - cos chi) dA >_orientations,

    which is pi r^2 for hard spheres of collision radius r.

Choices, and why
----------------
* Orientations are sampled by turning the gas velocity (uniform on the sphere)
  and placing the impact point uniformly on a disc perpendicular to it; for
  rotation-invariant averages this is the same as rotating the ion, and costs
  nothing.  N2 is rigid and does not rotate during a trajectory, in one of two
  models (``orientation``): "mobcal-2012" (Campuzano et al. 2012, MOBCAL-2012's
  mobcal_N2.f) holds it along three fixed perpendicular axes -- the velocity,
  the impact-parameter direction and their normal -- and at every point of
  the trajectory weights the three forces by Boltzmann factors of the three
  site energies at 500 K; "random-axis" draws one axis uniformly at random for
  each trajectory.  The Campuzano N2 parameters were fitted in the first,
  which is therefore the N2 table's default; every result records the model.
  (IMoS, Larriba-Andaluz & Hogan 2014, lets N2 rotate.)
* The thermal average is sampled directly: each trajectory's relative energy
  is drawn from the Gamma(3, kT) density E^2 exp(-E/kT) / (2 (kT)^3), the exact
  weight of Omega(1,1), instead of MOBCAL's fixed 40-point velocity quadrature,
  so that the estimate has no quadrature error and every source of scatter
  (orientation, impact parameter, energy, N2 axis) is in the statistical error.
* Impact parameters: uniform in area up to b0(E) (the ion's Lennard-Jones
  envelope plus CORE_MARGIN_A, or sqrt(2) times the Langevin capture radius of
  the charge-induced-dipole attraction at low energy, whichever is larger),
  and, with probability TAIL_WEIGHT, beyond it with an area density falling as
  A^-2, each trajectory weighted by 1/density.  No impact parameter is cut
  off, so the estimate is unbiased whatever b0 is; b0 only sets how the
  samples are spread, and the margins keep strongly deflected trajectories
  out of the tail, where their large weights would make the error estimate
  itself unreliable.  (Sampling up to sqrt(2) rather than 2^(1/4) times the
  Langevin radius cut the variance of the batch means by 30-40 % for
  [Ag29(BDT)12]3- in N2.)  Trajectories whose impact parameter exceeds the
  start radius (where |U| < START_RATIO * E) are not integrated: their
  deflection is of the order of START_RATIO.
* Trajectories are integrated by the Dormand-Prince 5(4) embedded Runge-Kutta
  method with step-size control (tolerance TOLERANCE in position, Å, and in
  velocity relative to the initial speed), starting where the potential is
  below START_RATIO * E and ending when the gas moves away beyond its start
  distance.  The deflection that the potential beyond the start radius would
  add is of the order of START_RATIO (rad; up to 2-3x it for the r^-3 to r^-6
  tails), so 1 - cos chi is off by less than ~3e-4 per trajectory, before
  orientation averaging.  On [Ag29(BDT)12]3- in N2, the
  same 65536 samples with START_RATIO = 1e-4, TOLERANCE = 1e-4 and with
  1e-5, 3e-5 differ by +0.01 +- 0.06 % (paired; +0.07 +- 0.07 % with another seed), for
  13-15 % fewer steps.  The
  speed ratio |v_out|/|v_in| checks energy conservation: the 0.1-0.4 % of
  trajectories whose kinetic energy changes by more than DRIFT_LIMIT, and any
  that reach MAX_STEPS, are integrated again with a 100x tighter tolerance.
* Randomised quasi-Monte Carlo: each batch of 2^m samples is an independently
  scrambled Sobol' sequence (scipy.stats.qmc), seeded from (seed, batch index).
  Batch means are independent and unbiased, so the standard error of the mean
  over batches is an honest 1-sigma error, and the error of n batches falls as
  1/sqrt(n).  Within a batch the low-discrepancy points shrink the scatter: for
  PA and EHSS (4 dimensions) the error is 2-3x smaller than with plain random
  numbers; for TM (7 dimensions, discontinuous in most of them) only ~5-10 %.
* The compiled kernels (numba) run one trajectory per thread over all cores.
  The samples depend only on (seed, batch index), never on the number of
  threads, so results are identical for any ``n_workers``.

Units: Å, eV (meV for epsilon in the table), e, amu, K.  Parameters come from
``mdkit/data/ccs_parameters.toml`` (see its header for the sources and for the
UFF defaults used for elements without published values).

Package layout: ``parameters`` (table, validation, ion model), ``sampling``
(random numbers, impact geometry), ``kernels`` (compiled rays and
trajectories), ``estimator`` (batches, means, errors), ``api`` (the calls
below), ``runs`` (CCS along a run folder), ``ions`` (structure files with
charges), ``systematic`` (the band from the named parameter sets).

Every TM result carries, besides its statistical error, a systematic band:
the largest relative change of the CCS across the named parameter sets of
:data:`SYSTEMATIC_SETS` (same random samples), so that an element with no
published N2 parameters (Ag, Hg) shows how much its guessed parameters may
move the result.
"""

from .api import METHODS, ccs, ccs_of_frames, compare
from .estimator import (BATCH_SIZE, DEFAULT_TARGET, DRIFT_LIMIT, MAX_SAMPLES, MAX_STEPS,
                        MIN_BATCHES, TOLERANCE)
from .ions import read_ion
from .parameters import (COULOMB_EV_A, DEFAULT_SET, KB_EV, ORIENTATION_MODELS, CCSError,
                         IonModel, element_parameters, ion_model, load_parameters,
                         parameter_sets)
from .runs import ccs_of_run
from .systematic import SYSTEMATIC_SETS, systematic_band

__all__ = ["BATCH_SIZE", "COULOMB_EV_A", "DEFAULT_SET", "DEFAULT_TARGET", "DRIFT_LIMIT",
           "KB_EV", "MAX_SAMPLES", "MAX_STEPS", "METHODS", "MIN_BATCHES", "ORIENTATION_MODELS",
           "SYSTEMATIC_SETS", "TOLERANCE", "CCSError", "IonModel", "ccs", "ccs_of_frames",
           "ccs_of_run", "compare", "element_parameters", "ion_model", "load_parameters",
           "parameter_sets", "read_ion", "systematic_band"]
