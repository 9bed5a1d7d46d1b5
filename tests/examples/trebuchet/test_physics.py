"""Tests of the trebuchet physics (a PyTorch port of FluxML/Trebuchet.jl).

Two independent scalar references live in this file, both transcribed directly from Trebuchet.jl's Julia
source (``src/simulate.jl`` ``stage1!``/``stage2!``/``stage3!`` and the callbacks, ``src/utils.jl``,
``src/defs.jl``), not from the module under test:

* ``_julia_shoot``: Trebuchet.jl's own numerical scheme (OrdinaryDiffEq ``Euler()`` with ``dt = 1/60`` s,
  ``ContinuousCallback`` events located on the 3rd-order Hermite interpolant, the ground callback's
  finite-difference sling tension). It reproduces the numbers that the Carpentries "julia-novice" lesson
  prints from the registered Trebuchet.jl to ~1e-13 m, which validates the transcription (equations,
  constants, units, initial state, event conditions);
* ``_accurate_shoot``: the same equations integrated with fixed-step RK4 (1 ms arm phases, 10 ms flight) and
  exact event location; the ground truth for the module's accuracy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from swergio_nb.examples.trebuchet import physics
from swergio_nb.examples.trebuchet.physics import shoot, trajectory

# --------------------------------------------------------------------- Trebuchet.jl, transcribed (SI units)
FT, LB = 0.3048, 0.45359237
A_PIVOT, B_LONG, C_SHORT, D_WEIGHT, E_SLING, Z_PROJ = (x * FT for x in (5.0, 6.792, 1.75, 2.0, 6.833, 0.1245))
M_PROJ, M_ARM = 0.328 * LB, 10.65 * LB
I_W = LB * FT * FT  # Inertias.iw (1 lb ft^2)
I_A = M_ARM * (B_LONG + C_SHORT) ** 2 / 12  # Inertias.ia
IA3, IW3 = I_W, I_A  # stage1!/stage2!: ``IA3, IW3 = i.iw, i.ia``
GRAV, RHO, CD = 9.80665, 1.0, 1.0


def _stage1(u: np.ndarray, m_w: float) -> np.ndarray:
    """``stage1!`` as written in Trebuchet.jl."""
    aq, wq, sq, aw, ww, sw = u
    lal, las, lw, ls, m_p, m_a = B_LONG, C_SHORT, D_WEIGHT, E_SLING, M_PROJ, M_ARM
    lacg = (lal - las) / 2
    sin, cos = math.sin, math.cos
    m11 = (
        -m_p * lal**2 * (-1 + 2 * sin(aq) * cos(sq) / sin(aq + sq))
        + IA3
        + IW3
        + m_a * lacg**2
        + m_p * lal**2 * sin(aq) ** 2 / sin(aq + sq) ** 2
        + m_w * (las**2 + lw**2 + 2 * las * lw * cos(wq))
    )
    m12 = IW3 + lw * m_w * (lw + las * cos(wq))
    m22 = IW3 + m_w * lw**2
    q = (
        cos(aq + sq) * sw * (sw + 2 * aw) / sin(aq + sq)
        + (cos(aq + sq) / sin(aq + sq) + lal * cos(aq) / (ls * sin(aq + sq))) * aw**2
    )
    r1 = (
        GRAV * lacg * m_a * sin(aq)
        + lal * ls * m_p * (sin(sq) * (aw + sw) ** 2 + cos(sq) * q)
        + lal * m_p * sin(aq) * (lal * sin(sq) * aw**2 - ls * q) / sin(aq + sq)
        - GRAV * m_w * (las * sin(aq) + lw * sin(aq + wq))
        - las * lw * m_w * sin(wq) * (aw**2 - (aw + ww) ** 2)
    )
    r2 = -lw * m_w * (GRAV * sin(aq + wq) + las * sin(wq) * aw**2)
    d_aw = (r1 * m22 - r2 * m12) / (m11 * m22 - m12 * m12)
    d_ww = -(r1 * m12 - r2 * m11) / (m11 * m22 - m12 * m12)
    d_sw = (
        -cos(aq + sq) * sw * (sw + 2 * aw) / sin(aq + sq)
        - (cos(aq + sq) / sin(aq + sq) + lal * cos(aq) / (ls * sin(aq + sq))) * aw**2
        - (lal * sin(aq) + ls * sin(aq + sq)) * d_aw / (ls * sin(aq + sq))
    )
    return np.array([aw, ww, sw, d_aw, d_ww, d_sw])


def _stage2(u: np.ndarray, m_w: float) -> np.ndarray:
    """``stage2!`` as written in Trebuchet.jl."""
    aq, wq, sq, aw, ww, sw = u
    lal, las, lw, ls, m_p, m_a = B_LONG, C_SHORT, D_WEIGHT, E_SLING, M_PROJ, M_ARM
    lacg = (lal - las) / 2
    sin, cos = math.sin, math.cos
    m11 = IA3 + IW3 + m_a * lacg**2 + m_p * (lal**2 + ls**2 + 2 * lal * ls * cos(sq))
    m11 += m_w * (las**2 + lw**2 + 2 * las * lw * cos(wq))
    m12 = IW3 + lw * m_w * (lw + las * cos(wq))
    m13 = ls * m_p * (ls + lal * cos(sq))
    m22 = IW3 + m_w * lw**2
    m33 = m_p * ls**2
    r1 = (
        GRAV * lacg * m_a * sin(aq)
        + GRAV * m_p * (lal * sin(aq) + ls * sin(aq + sq))
        - GRAV * m_w * (las * sin(aq) + lw * sin(aq + wq))
        - lal * ls * m_p * sin(sq) * (aw**2 - (aw + sw) ** 2)
        - las * lw * m_w * sin(wq) * (aw**2 - (aw + ww) ** 2)
    )
    r2 = -lw * m_w * (GRAV * sin(aq + wq) + las * sin(wq) * aw**2)
    r3 = ls * m_p * (GRAV * sin(aq + sq) - lal * sin(sq) * aw**2)
    den = m13 * m22 * m13 - m33 * (m11 * m22 - m12 * m12)
    d_aw = -(r1 * m22 * m33 - r2 * m12 * m33 - r3 * m13 * m22) / den
    d_ww = (r1 * m12 * m33 - r2 * (m11 * m33 - m13 * m13) - r3 * m13 * m12) / den
    d_sw = (r1 * m22 * m13 - r2 * m12 * m13 - r3 * (m11 * m22 - m12 * m12)) / den
    return np.array([aw, ww, sw, d_aw, d_ww, d_sw])


def _stage3(u: np.ndarray, wind: float) -> np.ndarray:
    """``stage3!`` as written in Trebuchet.jl."""
    _, _, vx, vy = u
    k = RHO * CD * math.pi * Z_PROJ**2 / (2 * M_PROJ)
    speed = math.sqrt(vy**2 + (wind - vx) ** 2)
    return np.array([vx, vy, -k * (vx - wind) * speed, -GRAV - k * vy * speed])


def _sling_velocity(u: np.ndarray) -> tuple[float, float]:
    aq, _, sq, aw, _, sw = u
    return (
        -E_SLING * (sw + aw) * math.cos(sq + aq) - B_LONG * aw * math.cos(aq),
        -E_SLING * (sw + aw) * math.sin(sq + aq) - B_LONG * aw * math.sin(aq),
    )


def _sling_end(u: np.ndarray) -> tuple[float, float]:
    aq, _, sq = u[:3]
    return (
        B_LONG * math.cos(math.pi / 2 + aq) + E_SLING * math.cos(math.pi / 2 + aq + sq),
        B_LONG * math.sin(math.pi / 2 + aq) + E_SLING * math.sin(math.pi / 2 + aq + sq),
    )


def _initial_state() -> np.ndarray:
    theta = math.asin(A_PIVOT / B_LONG)
    return np.array([math.pi / 2 + theta, -(math.pi / 2 + theta), math.pi - theta, 0.0, 0.0, 0.0])


def _euler_stage(f, p, u0, condition, *, dt: float, tspan: float, interp_points: int = 10):
    """OrdinaryDiffEq ``Euler()`` + a terminating ``ContinuousCallback`` (LeftRootFind on the Hermite
    interpolant, ``interp_points`` sign checks). Returns the event state, or None and the state at ``tspan``."""
    u, t = u0, 0.0
    while True:
        h = min(dt, tspan - t)
        if h <= 1e-12:
            return None, u
        k0 = f(u, p)
        un = u + h * k0
        k1 = f(un, p)

        def interp(tau, u=u, un=un, k0=k0, k1=k1, h=h):
            th = tau / h
            return (1 - th) * u + th * un + th * (th - 1) * ((1 - 2 * th) * (un - u) + (th - 1) * h * k0 + th * h * k1)

        def zero(tau, u=u, h=h):
            return condition(u, u, 0.0) if tau == 0.0 else condition(interp(tau), u, tau)

        prev = np.sign(zero(0.0))
        bottom, top = 0.0, None
        if prev * np.sign(zero(h)) <= 0:
            top = h
        else:
            for i in range(1, interp_points):
                tau = h * i / (interp_points - 1)
                if prev * np.sign(zero(tau)) < 0:
                    top = tau
                    break
                bottom = tau
        if top is not None:
            lo, hi = bottom, top
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if mid in (lo, hi):
                    break
                lo, hi = (mid, hi) if np.sign(zero(mid)) == prev else (lo, mid)
            return interp(lo), None
        u, t = un, t + h


def _julia_shoot(wind: float, angle_rad: float, weight: float, dt: float = 1 / 60) -> float:
    """``Trebuchet.shoot((wind, angle, weight))[2]`` with Trebuchet.jl's own integrator (Euler, 60 Hz)."""
    m_w = weight * LB
    mg = M_PROJ * GRAV

    def ground(u, u_prev, tau):  # mg - Tn cos(theta), Tn from the finite-difference sling acceleration
        if tau == 0.0:
            return mg
        theta = u[0] + u[2] - math.pi
        acc = (_sling_velocity(u)[0] - _sling_velocity(u_prev)[0]) / tau
        return mg - (-acc * M_PROJ / math.sin(theta)) * math.cos(theta)

    r = math.asin(math.sin(angle_rad))

    def release(u, _u_prev, _tau):
        vx, vy = _sling_velocity(u)
        return math.sin(math.atan2(vy, vx) - r)

    u = _initial_state()
    for stage, cond in ((_stage1, ground), (_stage2, release)):
        while True:
            event, end = _euler_stage(stage, m_w, u, cond, dt=dt, tspan=1.0)
            if event is not None:
                u = event
                break
            u = end
    y = np.array([*_sling_end(u), *_sling_velocity(u)])
    while True:
        event, end = _euler_stage(_stage3, wind, y, lambda v, *_: v[1] + A_PIVOT, dt=dt, tspan=5.0)
        if event is not None:
            return float(event[0])
        y = end


def _rk4(f, u, h, p):
    k1 = f(u, p)
    k2 = f(u + h / 2 * k1, p)
    k3 = f(u + h / 2 * k2, p)
    k4 = f(u + h * k3, p)
    return u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def _rk4_until(f, u, p, event, h: float) -> np.ndarray:
    """Fixed-step RK4 until ``event`` changes sign; the event is then bisected on partial RK4 steps."""
    g0 = event(u)
    while True:
        un = _rk4(f, u, h, p)
        g1 = event(un)
        if g0 * g1 <= 0:
            lo, hi = 0.0, h
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if event(_rk4(f, u, mid, p)) * g0 > 0 else (lo, mid)
            return _rk4(f, u, 0.5 * (lo + hi), p)
        u, g0 = un, g1


def _accurate_shoot(wind: float, angle_deg: float, weight: float, h: float = 1e-3) -> float:
    """The same ODEs with fixed-step RK4 and the instantaneous lift-off condition (normal force = 0)."""
    m_w = weight * LB

    def normal(u):
        d = _stage1(u, m_w)
        aq, _, sq, aw, _, sw = u
        a_x = (
            B_LONG * (math.sin(aq) * aw**2 - math.cos(aq) * d[3])
            + E_SLING * math.sin(aq + sq) * (aw + sw) ** 2
            - E_SLING * math.cos(aq + sq) * (d[3] + d[5])
        )
        return GRAV + a_x * math.cos(aq + sq) / math.sin(aq + sq)

    r = math.radians(angle_deg)

    def release(u):
        vx, vy = _sling_velocity(u)
        return math.cos(r) * vy - math.sin(r) * vx

    u = _rk4_until(_stage1, _initial_state(), m_w, normal, h)
    u = _rk4_until(_stage2, u, m_w, release, h)
    y = np.array([*_sling_end(u), *_sling_velocity(u)])
    return float(_rk4_until(_stage3, y, wind, lambda v: v[1] + A_PIVOT, 10 * h)[0])


# -------------------------------------------------------------------------------------- published numbers
# carpentries-incubator/julia-novice, episodes/05_Write_functions.md: ``Trebuchets.shoot(5, 0.25pi, 500)``
JULIA_NOVICE_SHOT = ((5.0, 0.25 * math.pi, 500.0), 114.88494815382731)
# ... episodes/07_Loops.md, random search at wind 5 m/s: (weight, release angle in rad) => distance
JULIA_NOVICE_RANDOM = [
    ((81.26977945216629, 0.6816804086844548), 84.66243931633913),
    ((196.7052630549182, 1.2602529699995595), 54.66306818911467),
    ((56.203596663160106, 0.65479176622091), 71.14245152054725),
    ((216.7918677501826, 0.7070153772894656), 107.20236431291187),
    ((288.96372956373415, 0.4488442021532229), 109.18447405208049),
    ((26.287520457035196, 1.4832407619042867), 3.3064328724242706),
    ((85.55853861437923, 0.7906806776331159), 83.16344574677922),
    ((89.12084433044154, 1.026916553571188), 69.15818330481743),
    ((39.74763851951424, 0.8201283596792035), 51.81433615540801),
    ((124.52294349993458, 0.5785033076849977), 97.941342571322),
]


def _t(*values: float, dtype: torch.dtype = torch.float64, grad: bool = False) -> list[torch.Tensor]:
    return [torch.tensor(v, dtype=dtype, requires_grad=grad) for v in values]


def _grad(wind: float, angle: float, weight: float) -> tuple[float, list[float]]:
    x = _t(wind, angle, weight, grad=True)
    d = shoot(*x)
    return d.item(), [g.item() for g in torch.autograd.grad(d, x)]


# ------------------------------------------------------------------------------------------------- tests
def test_transcribed_trebuchet_jl_reproduces_its_published_distances():
    """Our reading of Trebuchet.jl (equations, constants, lb/ft units, events), run with its Euler scheme."""
    (wind, angle, weight), expected = JULIA_NOVICE_SHOT
    assert _julia_shoot(wind, angle, weight) == pytest.approx(expected, abs=1e-9)
    for (weight, angle), expected in JULIA_NOVICE_RANDOM[:5]:
        assert _julia_shoot(5.0, angle, weight) == pytest.approx(expected, abs=1e-9)


def test_published_distances_are_matched_up_to_trebuchet_jl_s_euler_error():
    """Trebuchet.jl's 60 Hz Euler steps put its distances up to 2.4 m (4.4 %) off; we integrate the same ODEs
    accurately. Tolerance: 5 % (or 0.3 m for the 3.3 m shot). The gaps are Trebuchet.jl's step error: the same
    scheme at 1/600 s lands 5-60x closer to our distances (first-order convergence)."""
    cases = [JULIA_NOVICE_SHOT[0]] + [(5.0, a, w) for (w, a), _ in JULIA_NOVICE_RANDOM]
    expected = np.array([JULIA_NOVICE_SHOT[1]] + [d for _, d in JULIA_NOVICE_RANDOM])
    wind, angle, weight = (torch.tensor(c, dtype=torch.float64) for c in zip(*cases, strict=True))
    ours = shoot(wind, torch.rad2deg(angle), weight).numpy()
    gap = np.abs(ours - expected)
    assert np.all(gap <= np.maximum(0.05 * expected, 0.3)), gap
    fine = np.array([_julia_shoot(*c, dt=1 / 600) for c in cases])
    assert np.all(np.abs(ours - fine) <= 0.2 * gap + 0.05), (ours - fine, gap)


def test_accuracy_against_an_independent_fine_rk4():
    """< 0.02 m from fixed-step RK4 at 1 ms on the transcribed equations (default dt = 0.02 s)."""
    cases = [(-2.0, 45.0, 200.0), (5.0, 45.0, 500.0), (-8.0, 15.0, 120.0), (10.0, 60.0, 300.0)]
    wind, angle, weight = (torch.tensor(c, dtype=torch.float64) for c in zip(*cases, strict=True))
    ours = shoot(wind, angle, weight).numpy()
    ref = np.array([_accurate_shoot(*c) for c in cases])
    np.testing.assert_allclose(ours, ref, atol=0.02, rtol=0)


def test_step_convergence():
    """Distances move by < 0.05 m when the step is divided by 4 (over the training range)."""
    gen = torch.Generator().manual_seed(0)
    n = 64
    wind = torch.randn(n, generator=gen, dtype=torch.float64) * 5
    angle = 5 + 65 * torch.rand(n, generator=gen, dtype=torch.float64)
    weight = 50 + 550 * torch.rand(n, generator=gen, dtype=torch.float64)
    coarse = shoot(wind, angle, weight)
    fine = shoot(wind, angle, weight, dt=physics.DEFAULT_DT / 4)
    assert (coarse - fine).abs().max().item() < 0.05


def test_published_gradients():
    """fluxml.ai 2019-03-05 "Differentiable Control Problems": gradient at (-2 m/s, 45 deg, 200) is
    (4.02, -0.99, 0.051). Wind and angle agree to 1 % / 3 %; the weight entry does not (0.067 here): the
    2019 Trebuchet.jl took the lift-off from a finite-difference tension on Tsit5 steps and differentiated it
    with ForwardDiff, which is not reproducible; see docs/trebuchet_physics.md."""
    d, (g_wind, g_angle, g_weight) = _grad(-2.0, 45.0, 200.0)
    assert g_wind == pytest.approx(4.02, rel=0.01)
    assert g_angle == pytest.approx(-0.99, rel=0.03)
    assert 0.0 < g_weight < 0.1
    # julia-novice 07_Loops.md: d distance / d angle = -49.443 per radian at (5, pi/4, 500) with Euler 60 Hz
    _, (_, g_angle, _) = _grad(5.0, 45.0, 500.0)
    assert math.degrees(g_angle) == pytest.approx(-49.443442438172205, rel=0.06)


def test_odsc_notebook_statements():
    """The ODSC 2019 notebook "How To Aim Your Flagon": +1 m/s wind ~ +4 m; 10 deg throws shorter than
    45 deg; the best angle at no wind with 200 is about 30 deg and hits about 90 m; against a 10 m/s wind
    about 19 deg; aiming at 35 m in a -20 m/s wind gives about 21.8 deg."""
    (d0, d1, d10) = shoot(*_t([0.0, 1.0, 0.0], [45.0, 45.0, 10.0], [200.0, 200.0, 200.0])).tolist()
    assert d1 - d0 == pytest.approx(4.0, abs=0.2)
    assert d10 < d0
    angles = torch.arange(5.0, 60.0, 0.25, dtype=torch.float64)
    for wind, best, far in ((0.0, 30.0, 90.0), (-10.0, 19.0, None)):
        d = shoot(torch.full_like(angles, wind), angles, torch.full_like(angles, 200.0))
        assert angles[d.argmax()].item() == pytest.approx(best, abs=1.0)
        if far is not None:
            assert d.max().item() == pytest.approx(far, abs=1.0)
    assert shoot(*_t(-20.0, 21.8, 200.0)).item() == pytest.approx(35.0, abs=0.5)


def test_gradcheck_float64():
    wind, angle, weight = _t([-3.0, 0.5, 6.0], [25.0, 40.0, 55.0], [150.0, 260.0, 420.0], grad=True)
    assert torch.autograd.gradcheck(shoot, (wind, angle, weight), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_gradient_of_a_broadcast_scalar():
    wind = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    angle, weight = _t([30.0, 45.0], [200.0, 300.0], grad=True)
    assert torch.autograd.gradcheck(shoot, (wind, angle, weight), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_distance_is_smooth_not_piecewise_constant():
    angle = 40.0 + torch.linspace(0, 1e-3, 5, dtype=torch.float64)
    d = shoot(torch.zeros(5, dtype=torch.float64), angle, torch.full((5,), 200.0, dtype=torch.float64))
    steps = torch.diff(d)
    assert torch.all(steps < 0) and torch.allclose(steps, steps[0].expand(4), rtol=1e-3)


def test_wind_direction():
    d = shoot(*_t([-5.0, 0.0, 5.0], [45.0] * 3, [200.0] * 3))
    assert d[0] < d[1] < d[2]


def test_heavier_counterweight_throws_farther():
    weights = torch.tensor([50.0, 100.0, 150.0, 200.0, 300.0, 400.0, 600.0, 1000.0], dtype=torch.float64)
    for angle in (20.0, 45.0):
        d = shoot(torch.zeros_like(weights), torch.full_like(weights, angle), weights)
        assert torch.all(torch.diff(d) > 0), d


def test_batched_equals_per_sample():
    wind, angle, weight = _t([-4.0, 0.0, 7.0, 2.0], [20.0, 35.0, 50.0, 65.0], [90.0, 200.0, 330.0, 800.0])
    batched = shoot(wind, angle, weight)
    single = torch.stack([shoot(w, a, m) for w, a, m in zip(wind, angle, weight, strict=True)])
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-9)


def test_float32_matches_float64_and_keeps_dtype():
    values = ([-4.0, 0.0, 7.5], [20.0, 35.0, 50.0], [90.0, 200.0, 330.0])
    d64 = shoot(*_t(*values))
    x32 = _t(*values, dtype=torch.float32, grad=True)
    d32 = shoot(*x32)
    assert d32.dtype == torch.float32 and d64.dtype == torch.float64
    torch.testing.assert_close(d32.double(), d64, rtol=1e-6, atol=1e-4)
    d32.sum().backward()
    assert all(x.grad is not None and x.grad.dtype == torch.float32 for x in x32)


def test_shapes_and_python_scalars():
    d = shoot(0.0, 45.0, 200.0)
    assert d.shape == () and d.dtype == torch.get_default_dtype()
    grid = shoot(torch.zeros(2, 1), torch.tensor([[30.0, 45.0, 60.0]]), 200.0)
    assert grid.shape == (2, 3)


def test_trajectory():
    d, paths = shoot(*_t([0.0, -5.0], [45.0, 30.0], [200.0, 150.0]), return_trajectory=True)
    assert len(paths) == 2
    for a, b in zip(paths, trajectory(*_t([0.0, -5.0], [45.0, 30.0], [200.0, 150.0])), strict=True):
        np.testing.assert_array_equal(a, b)
    for xy, dist in zip(paths, d.tolist(), strict=True):
        assert xy.ndim == 2 and xy.shape[1] == 2 and xy.shape[0] > 20
        assert xy[0, 1] == pytest.approx(0.0, abs=1e-9)  # starts on the ground
        assert xy[-1, 0] == pytest.approx(dist) and xy[-1, 1] == pytest.approx(0.0, abs=1e-6)
        assert xy[:, 1].min() > -1e-3 and xy[:, 1].max() > 5  # the ground constraint drifts by ~1e-5 m


def test_failed_shots_are_finite_with_zero_gradient():
    wind, angle, weight = _t([0.0, 0.0, 0.0], [45.0, 45.0, 45.0], [-5.0, 5.0, 200.0], grad=True)
    d = shoot(wind, angle, weight)
    assert d[:2].tolist() == pytest.approx([physics.START_X] * 2) and d[2] > 50
    d.sum().backward()
    assert weight.grad[:2].tolist() == [0.0, 0.0] and weight.grad[2] > 0
