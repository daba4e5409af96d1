"""Compiled CCS kernels (numba): hard-sphere rays and gas trajectories.

One trajectory (or ray) per thread over all cores.  The Lennard-Jones and
Coulomb pair term of a gas site is one inlined helper, :func:`_site_pair`,
shared by every gas model; the charge-induced-dipole field at the gas centre
is another, :func:`_field`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

#: Longest step (Å) inside the envelope of the ion's repulsive walls.
MAX_STEP_A = 1.0

#: Gas models of the trajectory kernel.
ATOM, DIATOMIC, INVERSE_POWER, DIATOMIC_THREE_AXES = 0, 1, 2, 3


@njit(parallel=True, cache=True, error_model="numpy")
def ehss_kernel(starts, directions, x, y, z, radius, max_bounces, hits, mt, bounces):
    """Specular multiple scattering of straight rays off a union of hard spheres.

    Parameters
    ----------
    starts, directions : (n, 3) arrays
        Ray origins (outside every sphere) and unit directions.
    x, y, z, radius : (n_atoms,) arrays
        Sphere centres and collision radii, Å.
    max_bounces : int
    hits, mt, bounces : (n,) output arrays
        1.0 if the ray touches any sphere (PA), 1 - cos(chi) (EHSS), reflections.
    """
    for k in prange(starts.shape[0]):
        px, py, pz = starts[k, 0], starts[k, 1], starts[k, 2]
        dx, dy, dz = directions[k, 0], directions[k, 1], directions[k, 2]
        last = -1
        n = 0
        while n < max_bounces:
            best = np.inf
            hit = -1
            for i in range(x.shape[0]):
                ox = x[i] - px
                oy = y[i] - py
                oz = z[i] - pz
                along = ox * dx + oy * dy + oz * dz
                miss2 = ox * ox + oy * oy + oz * oz - along * along
                # the ray starts on the union's surface, so a sphere behind it is never hit
                if i == last or along <= 0.0 or miss2 >= radius[i] * radius[i]:
                    continue
                t = along - math.sqrt(radius[i] * radius[i] - miss2)
                if t < best:
                    best = t
                    hit = i
            if hit < 0:
                break
            px += best * dx
            py += best * dy
            pz += best * dz
            nx = (px - x[hit]) / radius[hit]
            ny = (py - y[hit]) / radius[hit]
            nz = (pz - z[hit]) / radius[hit]
            dn = 2.0 * (dx * nx + dy * ny + dz * nz)
            dx -= dn * nx
            dy -= dn * ny
            dz -= dn * nz
            last = hit
            n += 1
        ex = dx - directions[k, 0]
        ey = dy - directions[k, 1]
        ez = dz - directions[k, 2]
        hits[k] = 1.0 if n > 0 else 0.0
        mt[k] = 0.5 * (ex * ex + ey * ey + ez * ez)  # 1 - cos(chi), exact for small chi
        bounces[k] = n



# Reassociation lets LLVM vectorise the atom sums; nnan/ninf stay off so that a
# stage landing deep inside a steep wall (inf force) is seen and rejected.
_FAST = {"fastmath": {"reassoc", "contract", "arcp", "nsz", "afn"}, "error_model": "numpy",
         "cache": True}


@njit(inline="always", **_FAST)
def _site_pair(dx, dy, dz, rep, att, qq):
    """One ion atom and one gas site d = site - atom apart: LJ 12-6 plus Coulomb qq / r.

    Returns the energy (eV) and f with force = f * d (eV/Å^2); an unused
    energy costs nothing once inlined.
    """
    ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
    ir6 = ir2 * ir2 * ir2
    coulomb = qq * math.sqrt(ir2)
    energy = (rep * ir6 - att) * ir6 + coulomb
    return energy, ((12.0 * rep * ir6 - 6.0 * att) * ir6 + coulomb) * ir2


@njit(inline="always", **_FAST)
def _field(dx, dy, dz, q):
    """Field q d / r^3 of one ion charge at the gas centre, its gradient terms and q / r^3.

    Returns (ex, ey, ez, gxx, gyy, gzz, gxy, gxz, gyz, q / r^3), G = dE/dp.
    """
    ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
    q3 = q * math.sqrt(ir2) * ir2
    q5 = 3.0 * q3 * ir2
    return (q3 * dx, q3 * dy, q3 * dz, q3 - q5 * dx * dx, q3 - q5 * dy * dy, q3 - q5 * dz * dz,
            -q5 * dx * dy, -q5 * dx * dz, -q5 * dy * dz, q3)


@njit(inline="always", **_FAST)
def _force_atom(px, py, pz, x, y, z, rep, att, q, pol):
    """Force on a one-centre gas at p: LJ 12-6 plus the induced dipole at p, eV/Å."""
    fx = fy = fz = 0.0
    ex = ey = ez = gxx = gyy = gzz = gxy = gxz = gyz = 0.0
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        _, f = _site_pair(dx, dy, dz, rep[i], att[i], 0.0)
        fx += f * dx
        fy += f * dy
        fz += f * dz
        e = _field(dx, dy, dz, q[i])
        ex += e[0]
        ey += e[1]
        ez += e[2]
        gxx += e[3]
        gyy += e[4]
        gzz += e[5]
        gxy += e[6]
        gxz += e[7]
        gyz += e[8]
    # F = pol G E for U = -(pol/2) |E|^2
    fx += pol * (gxx * ex + gxy * ey + gxz * ez)
    fy += pol * (gxy * ex + gyy * ey + gyz * ez)
    fz += pol * (gxz * ex + gyz * ey + gzz * ez)
    return fx, fy, fz


@njit(inline="always", **_FAST)
def _force_diatomic(px, py, pz, axes, x, y, z, rep, att, q, pol, qsite):
    """Force on a rigid two-centre gas (sites p +- h, h = axes[0], charges qsite, -2 qsite at p).

    LJ 12-6 on both sites, Coulomb on the three charges (``qsite`` is in
    e * COULOMB_EV_A) and the induced dipole at the centre p.
    """
    hx, hy, hz = axes[0, 0], axes[0, 1], axes[0, 2]
    fx = fy = fz = 0.0
    ex = ey = ez = gxx = gyy = gzz = gxy = gxz = gyz = 0.0
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        qq = qsite * q[i]
        _, f = _site_pair(dx + hx, dy + hy, dz + hz, rep[i], att[i], qq)
        fx += f * (dx + hx)
        fy += f * (dy + hy)
        fz += f * (dz + hz)
        _, f = _site_pair(dx - hx, dy - hy, dz - hz, rep[i], att[i], qq)
        fx += f * (dx - hx)
        fy += f * (dy - hy)
        fz += f * (dz - hz)
        e = _field(dx, dy, dz, q[i])
        f = -2.0 * qsite * e[9]
        fx += f * dx
        fy += f * dy
        fz += f * dz
        ex += e[0]
        ey += e[1]
        ez += e[2]
        gxx += e[3]
        gyy += e[4]
        gzz += e[5]
        gxy += e[6]
        gxz += e[7]
        gyz += e[8]
    fx += pol * (gxx * ex + gxy * ey + gxz * ez)
    fy += pol * (gxy * ex + gyy * ey + gyz * ez)
    fz += pol * (gxz * ex + gyz * ey + gzz * ez)
    return fx, fy, fz


@njit(inline="always", **_FAST)
def _force_three_axes(px, py, pz, axes, beta, x, y, z, rep, att, q, pol, qsite):
    """Force on a two-centre gas Boltzmann-averaged over three fixed axes (MOBCAL-2012).

    The gas is held along each row of ``axes`` (half bonds, Å) in turn; the
    three site energies U_j (LJ and Coulomb of the two N sites) weigh the
    three forces by w_j ~ exp(-beta U_j) (Campuzano et al., Anal. Chem. 84,
    1026 (2012), with beta = 1 / k(500 K)).  The centre's charge and induced
    dipole do not depend on the axis.  The force sum_j w_j F_j is the gradient
    of -ln(sum_j exp(-beta U_j)) / beta, so energy is conserved in that
    effective potential.
    """
    ux, uy, uz = axes[0, 0], axes[0, 1], axes[0, 2]
    vx, vy, vz = axes[1, 0], axes[1, 1], axes[1, 2]
    wx, wy, wz = axes[2, 0], axes[2, 1], axes[2, 2]
    u0 = u1 = u2 = 0.0
    f0x = f0y = f0z = f1x = f1y = f1z = f2x = f2y = f2z = 0.0
    fx = fy = fz = 0.0
    ex = ey = ez = gxx = gyy = gzz = gxy = gxz = gyz = 0.0
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        qq = qsite * q[i]
        ri, ai = rep[i], att[i]
        e, f = _site_pair(dx + ux, dy + uy, dz + uz, ri, ai, qq)
        u0 += e
        f0x += f * (dx + ux)
        f0y += f * (dy + uy)
        f0z += f * (dz + uz)
        e, f = _site_pair(dx - ux, dy - uy, dz - uz, ri, ai, qq)
        u0 += e
        f0x += f * (dx - ux)
        f0y += f * (dy - uy)
        f0z += f * (dz - uz)
        e, f = _site_pair(dx + vx, dy + vy, dz + vz, ri, ai, qq)
        u1 += e
        f1x += f * (dx + vx)
        f1y += f * (dy + vy)
        f1z += f * (dz + vz)
        e, f = _site_pair(dx - vx, dy - vy, dz - vz, ri, ai, qq)
        u1 += e
        f1x += f * (dx - vx)
        f1y += f * (dy - vy)
        f1z += f * (dz - vz)
        e, f = _site_pair(dx + wx, dy + wy, dz + wz, ri, ai, qq)
        u2 += e
        f2x += f * (dx + wx)
        f2y += f * (dy + wy)
        f2z += f * (dz + wz)
        e, f = _site_pair(dx - wx, dy - wy, dz - wz, ri, ai, qq)
        u2 += e
        f2x += f * (dx - wx)
        f2y += f * (dy - wy)
        f2z += f * (dz - wz)
        c = _field(dx, dy, dz, q[i])
        f = -2.0 * qsite * c[9]
        fx += f * dx
        fy += f * dy
        fz += f * dz
        ex += c[0]
        ey += c[1]
        ez += c[2]
        gxx += c[3]
        gyy += c[4]
        gzz += c[5]
        gxy += c[6]
        gxz += c[7]
        gyz += c[8]
    low = min(u0, min(u1, u2))
    w0 = math.exp(-beta * (u0 - low))
    w1 = math.exp(-beta * (u1 - low))
    w2 = math.exp(-beta * (u2 - low))
    norm = 1.0 / (w0 + w1 + w2)
    fx += (w0 * f0x + w1 * f1x + w2 * f2x) * norm
    fy += (w0 * f0y + w1 * f1y + w2 * f2y) * norm
    fz += (w0 * f0z + w1 * f1z + w2 * f2z) * norm
    fx += pol * (gxx * ex + gxy * ey + gxz * ez)
    fy += pol * (gxy * ex + gyy * ey + gyz * ez)
    fz += pol * (gxz * ex + gyz * ey + gzz * ez)
    return fx, fy, fz


@njit(inline="always", **_FAST)
def _force_inverse_power(px, py, pz, x, y, z, eps, sigma2, exponent):
    """Force of the purely repulsive U = sum eps_i (sigma_i / r)^exponent (hard-sphere limit)."""
    fx = fy = fz = 0.0
    half = 0.5 * exponent
    for i in range(x.shape[0]):
        dx = px - x[i]
        dy = py - y[i]
        dz = pz - z[i]
        ir2 = 1.0 / (dx * dx + dy * dy + dz * dz)
        f = exponent * eps[i] * math.pow(sigma2[i] * ir2, half) * ir2
        fx += f * dx
        fy += f * dy
        fz += f * dz
    return fx, fy, fz


@njit(**_FAST)
def _force(kind, px, py, pz, axes, beta, x, y, z, rep, att, q, pol, qsite, exponent):
    # one branch per call, outside the atom loops, which stay vectorised
    if kind == ATOM:
        return _force_atom(px, py, pz, x, y, z, rep, att, q, pol)
    if kind == DIATOMIC:
        return _force_diatomic(px, py, pz, axes, x, y, z, rep, att, q, pol, qsite)
    if kind == DIATOMIC_THREE_AXES:
        return _force_three_axes(px, py, pz, axes, beta, x, y, z, rep, att, q, pol, qsite)
    return _force_inverse_power(px, py, pz, x, y, z, rep, att, exponent)


@njit(**_FAST)
def _trajectory(kind, start, velocity, axes, beta, x, y, z, rep, att, q, pol, qsite, exponent,
                envelope, tol, max_steps):
    """Integrate one trajectory (unit reduced mass, energies in eV, lengths in Å).

    Dormand-Prince 5(4) with FSAL and step control; stops once the gas moves
    outwards beyond its start distance from the origin.  A step never carries
    the gas further than half its distance to the sphere of radius
    ``envelope`` (Å) that holds every repulsive wall, nor further than
    MAX_STEP_A inside it, so that no wall can be stepped over unseen.

    Returns
    -------
    (1 - cos chi, |v_out|/|v_in|, steps taken)
    """
    px, py, pz = start[0], start[1], start[2]
    vx, vy, vz = velocity[0], velocity[1], velocity[2]
    speed = math.sqrt(vx * vx + vy * vy + vz * vz)
    stop2 = px * px + py * py + pz * pz
    ax, ay, az = _force(kind, px, py, pz, axes, beta, x, y, z, rep, att, q, pol, qsite, exponent)
    dt = 0.02 * math.sqrt(stop2) / speed
    vtol2 = (tol * speed) ** 2
    steps = 0
    while steps < max_steps:
        # stages: k = velocities (dx/dt), a = forces (dv/dt)
        k1x, k1y, k1z = vx, vy, vz
        x2 = px + dt * 0.2 * k1x
        y2 = py + dt * 0.2 * k1y
        z2 = pz + dt * 0.2 * k1z
        k2x = vx + dt * 0.2 * ax
        k2y = vy + dt * 0.2 * ay
        k2z = vz + dt * 0.2 * az
        a2x, a2y, a2z = _force(kind, x2, y2, z2, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2 = 3.0 / 40.0, 9.0 / 40.0
        x3 = px + dt * (c1 * k1x + c2 * k2x)
        y3 = py + dt * (c1 * k1y + c2 * k2y)
        z3 = pz + dt * (c1 * k1z + c2 * k2z)
        k3x = vx + dt * (c1 * ax + c2 * a2x)
        k3y = vy + dt * (c1 * ay + c2 * a2y)
        k3z = vz + dt * (c1 * az + c2 * a2z)
        a3x, a3y, a3z = _force(kind, x3, y3, z3, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3 = 44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0
        x4 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x)
        y4 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y)
        z4 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z)
        k4x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x)
        k4y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y)
        k4z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z)
        a4x, a4y, a4z = _force(kind, x4, y4, z4, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3, c4 = 19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0
        x5 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x + c4 * k4x)
        y5 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y + c4 * k4y)
        z5 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z + c4 * k4z)
        k5x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x + c4 * a4x)
        k5y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y + c4 * a4y)
        k5z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z + c4 * a4z)
        a5x, a5y, a5z = _force(kind, x5, y5, z5, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c2, c3 = 9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0
        c4, c5 = 49.0 / 176.0, -5103.0 / 18656.0
        x6 = px + dt * (c1 * k1x + c2 * k2x + c3 * k3x + c4 * k4x + c5 * k5x)
        y6 = py + dt * (c1 * k1y + c2 * k2y + c3 * k3y + c4 * k4y + c5 * k5y)
        z6 = pz + dt * (c1 * k1z + c2 * k2z + c3 * k3z + c4 * k4z + c5 * k5z)
        k6x = vx + dt * (c1 * ax + c2 * a2x + c3 * a3x + c4 * a4x + c5 * a5x)
        k6y = vy + dt * (c1 * ay + c2 * a2y + c3 * a3y + c4 * a4y + c5 * a5y)
        k6z = vz + dt * (c1 * az + c2 * a2z + c3 * a3z + c4 * a4z + c5 * a5z)
        a6x, a6y, a6z = _force(kind, x6, y6, z6, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        c1, c3, c4 = 35.0 / 384.0, 500.0 / 1113.0, 125.0 / 192.0
        c5, c6 = -2187.0 / 6784.0, 11.0 / 84.0
        nx = px + dt * (c1 * k1x + c3 * k3x + c4 * k4x + c5 * k5x + c6 * k6x)
        ny = py + dt * (c1 * k1y + c3 * k3y + c4 * k4y + c5 * k5y + c6 * k6y)
        nz = pz + dt * (c1 * k1z + c3 * k3z + c4 * k4z + c5 * k5z + c6 * k6z)
        nvx = vx + dt * (c1 * ax + c3 * a3x + c4 * a4x + c5 * a5x + c6 * a6x)
        nvy = vy + dt * (c1 * ay + c3 * a3y + c4 * a4y + c5 * a5y + c6 * a6y)
        nvz = vz + dt * (c1 * az + c3 * a3z + c4 * a4z + c5 * a5z + c6 * a6z)
        a7x, a7y, a7z = _force(kind, nx, ny, nz, axes, beta, x, y, z, rep, att, q, pol, qsite,
                               exponent)
        # embedded 4th-order error estimate
        c1, c3, c4 = 71.0 / 57600.0, -71.0 / 16695.0, 71.0 / 1920.0
        c5, c6, c7 = -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0
        erx = dt * (c1 * k1x + c3 * k3x + c4 * k4x + c5 * k5x + c6 * k6x + c7 * nvx)
        ery = dt * (c1 * k1y + c3 * k3y + c4 * k4y + c5 * k5y + c6 * k6y + c7 * nvy)
        erz = dt * (c1 * k1z + c3 * k3z + c4 * k4z + c5 * k5z + c6 * k6z + c7 * nvz)
        evx = dt * (c1 * ax + c3 * a3x + c4 * a4x + c5 * a5x + c6 * a6x + c7 * a7x)
        evy = dt * (c1 * ay + c3 * a3y + c4 * a4y + c5 * a5y + c6 * a6y + c7 * a7y)
        evz = dt * (c1 * az + c3 * a3z + c4 * a4z + c5 * a5z + c6 * a6z + c7 * a7z)
        err = math.sqrt((erx * erx + ery * ery + erz * erz) / (tol * tol)
                        + (evx * evx + evy * evy + evz * evz) / vtol2)
        if err <= 1.0:
            px, py, pz = nx, ny, nz
            vx, vy, vz = nvx, nvy, nvz
            ax, ay, az = a7x, a7y, a7z
            steps += 1
            if px * vx + py * vy + pz * vz > 0.0 and px * px + py * py + pz * pz >= stop2:
                break
        # a stage deep inside a steep wall gives err = inf or nan: shrink hard
        dt *= 5.0 if err < 1e-12 else (max(0.2, min(5.0, 0.9 * err ** -0.2)) if err < 1e30
                                        else 0.2)
        reach = max(MAX_STEP_A, 0.5 * (math.sqrt(px * px + py * py + pz * pz) - envelope))
        dt = min(dt, reach / math.sqrt(vx * vx + vy * vy + vz * vz))
    out = math.sqrt(vx * vx + vy * vy + vz * vz)
    ux = vx / out - velocity[0] / speed
    uy = vy / out - velocity[1] / speed
    uz = vz / out - velocity[2] / speed
    return 0.5 * (ux * ux + uy * uy + uz * uz), out / speed, steps


@njit(parallel=True, **_FAST)
def tm_kernel(kind, starts, velocities, axes, beta, active, x, y, z, rep, att, q, pol, qsite,
              exponent, envelope, tol, max_steps, mt, ratio, steps):
    """Run the active trajectories of a batch in parallel; see :func:`_trajectory`."""
    for k in prange(starts.shape[0]):
        if active[k]:
            mt[k], ratio[k], steps[k] = _trajectory(
                kind, starts[k], velocities[k], axes[k], beta, x, y, z, rep, att, q, pol, qsite,
                exponent, envelope, tol, max_steps)

