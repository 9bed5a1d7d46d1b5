"""Differentiable, batched trebuchet simulator: a PyTorch port of FluxML/Trebuchet.jl.

The model, its constants and its event logic are those of `FluxML/Trebuchet.jl
<https://github.com/FluxML/Trebuchet.jl>`_ (``src/simulate.jl`` for the equations of motion ``stage1!``,
``stage2!``, ``stage3!`` and the event conditions, ``src/utils.jl`` for ``shoot``, the default
``TrebuchetState`` and the unit conversions, ``src/defs.jl`` for the initial state and the inertias), whose
equations are those of Virtual Trebuchet (http://www.virtualtrebuchet.com/#documentation_EquationsOfMotion,
source: `peterolson/VirtualTrebuchet <https://github.com/peterolson/VirtualTrebuchet>`_ ``static/simulator.js``).

Geometry and phases
-------------------
Origin at the pivot, x forward (the direction of the throw), y up; the ground is at ``y = -PIVOT_HEIGHT``.
Generalised coordinates (radians, as in Trebuchet.jl): ``Aq`` arm angle, ``Wq`` angle between arm and
counterweight, ``Sq`` angle between arm and sling; ``Aw, Ww, Sw`` their rates. Start at rest with the long
arm's tip on the ground: ``Aq = pi/2 + asin(h/LAl)``, ``Wq = -Aq``, ``Sq = pi - asin(h/LAl)``.

1. **Ground** (``stage1!``): the counterweight falls, the arm turns and drags the projectile along the ground
   (frictionless, ``y = -h`` is a holonomic constraint). Ends at lift-off, when the normal force on the projectile
   reaches zero: ``N/mP = g + a_x * cos(Aq+Sq)/sin(Aq+Sq) = 0`` with ``a_x`` the projectile's horizontal
   acceleration. This is the instantaneous form of Trebuchet.jl's condition ``m g - T cos(theta)``,
   ``T = -m a_x / sin(theta)``, ``theta = Aq + Sq - pi`` (Trebuchet.jl takes ``a_x`` as a finite difference over
   the last integrator step) and Virtual Trebuchet's ``NormalForceOnProjectile``. A slack sling during this
   phase (``T < 0``: the counterweight is too light to turn the arm) ends the shot like Trebuchet.jl's
   "Weight is too light": see *Failed shots*.
2. **Hang** (``stage2!``): the projectile swings freely on the sling. Released at the first sign change of
   ``sin(phi - r)``, ``phi`` the direction of the projectile's velocity and ``r`` the release angle (Trebuchet.jl's
   ``ContinuousCallback``); here ``cos(r) v_y - sin(r) v_x`` (the same sign, ``|v|`` times it).
3. **Flight** (``stage3!``): point mass with quadratic drag relative to the air,
   ``dv/dt = -g e_y - rho Cd A / (2 mP) * (v - (w, 0)) * |v - (w, 0)|``, ``A = pi z^2``, until the projectile
   reaches the ground (``y + h = 0``). The distance is the impact ``x``, measured from the pivot like
   Trebuchet.jl's ``endDist`` (``t.sol.Projectile[end][1]``).

Inputs and units
----------------
* ``wind`` in m/s along +x: positive is a tailwind (it blows towards the target and lengthens the throw),
  negative a headwind (Trebuchet.jl's ``wind_speed``, ``Constants.w``).
* ``angle``: release angle in **degrees** above the horizontal, as the model-zoo / ODSC wrapper
  ``shoot(wind, angle, weight) = Trebuchet.shoot((wind, deg2rad(angle), weight))[2]`` takes it. Trebuchet.jl
  itself takes radians and folds them with ``asin(sin(r))`` into [-90, 90] deg; we do the same folding (as an
  exact triangle wave, so its gradient is +-1 and never NaN).
* ``weight``: the counterweight, as the **number passed to Trebuchet.jl's** ``shoot``. Trebuchet.jl's docstring
  says kg but ``TrebuchetState`` converts it with ``lb2kg``, i.e. it is in **pounds**: ``weight = 200`` is a
  90.7 kg counterweight. We keep that convention so that the published numbers (and the model-zoo's
  ``weight = out + 200``) mean the same thing here; multiply kilograms by ``1 / LB_TO_KG`` to pass them.

Constants (Trebuchet.jl defaults, Virtual Trebuchet's example machine; SI after Trebuchet.jl's ft/lb conversion)
---------------------------------------------------------------------------------------------------------------
================================  ==============================  ====================================
name                              value                           Trebuchet.jl
================================  ==============================  ====================================
``PIVOT_HEIGHT``                  5 ft = 1.524 m                  ``Lengths.a``
``LONG_ARM``                      6.792 ft = 2.0702016 m          ``Lengths.b`` (LAl)
``SHORT_ARM``                     1.75 ft = 0.5334 m              ``Lengths.c`` (LAs)
``WEIGHT_ARM``                    2 ft = 0.6096 m                 ``Lengths.d`` (LW, pivot of weight to CG)
``SLING_LENGTH``                  6.833 ft = 2.0826984 m          ``Lengths.e`` (LS)
``PROJECTILE_RADIUS``             0.1245 ft = 0.0379476 m         ``Lengths.z``
``PROJECTILE_MASS``               0.328 lb = 0.14877829736 kg     ``Masses.p``
``ARM_MASS``                      10.65 lb = 4.8307587405 kg      ``Masses.a``
``ARM_CG``                        (LAl - LAs)/2 = 0.7684008 m     ``LAcg``
``INERTIA_WEIGHT_FIELD``          1 lb ft^2 = 0.0421401 kg m^2    ``Inertias.iw``
``INERTIA_ARM_FIELD``             mA (LAl+LAs)^2/12 = 2.72887     ``Inertias.ia``
``GRAVITY``                       9.80665 m/s^2                   ``Constants.Grav``
``AIR_DENSITY``                   1.0 kg/m^3                      ``Constants.rho``
``DRAG_COEFFICIENT``              1.0                             ``Constants.Cd``
================================  ==============================  ====================================

Faithfulness note: Trebuchet.jl's equations read ``IA3, IW3 = i.iw, i.ia``, i.e. the arm is given the 1 lb ft^2
inertia of the weight and the counterweight the arm's 2.729 kg m^2 (Virtual Trebuchet has them the other way
round). We reproduce Trebuchet.jl as written, since every published number comes from it. Virtual Trebuchet
also uses g = 9.81, rho = 1.275 and a Reynolds-dependent Cd; Trebuchet.jl (and we) use 9.80665, 1 and 1.

Numerics
--------
The forward pass runs in float64 NumPy whatever the input dtype (the result is cast back), with classic
fixed-order RK4 and per-shot steps, all shots of a batch advancing in lock-step:

* arm phases: step ``h = H / sqrt(1 + (|omega|/OMEGA_REF)^2 + (|alpha|/ALPHA_REF)^2)`` from the state and its
  derivative at the start of each step (``omega`` the three angular rates, ``alpha`` the angular
  accelerations), ``H = GROUND_STEP_FACTOR * dt`` on the ground (smooth, slow motion) and ``H = dt`` in the hang
  phase, where it shrinks to ~dt/10 during the counterweight's violent swing past the vertical. The step is a
  smooth function of the state, so the result stays a smooth function of the inputs;
* flight: fixed step ``FLIGHT_STEP_FACTOR * dt``;
* events (lift-off, release, impact): detected by a sign change between two steps (lift-off and impact: the
  event function reaching <= 0), then located in the step by ``EVENT_ITERATIONS`` secant iterations on the
  partial step ``tau -> RK4(y_n, tau)``; the event state is that partial step. Event times and states are smooth
  functions of the inputs, so distances are not piecewise constant in the inputs.

Default ``dt = 0.02`` s (ground step 0.06 s, flight step 0.2 s; a batch of 100 takes ~5 ground, ~45 hang and
~32 flight steps). Over wind in [-15, 15] m/s, release angles in [5, 67] deg and weights in [50, 1000] lb, the
distance is within 0.008 m of a ``dt = 0.001`` s solution and moves by < 0.008 m against ``dt / 4`` (criterion:
< 0.05 m). Caveat, also true of Trebuchet.jl: with counterweights above ~250 lb the projectile's velocity
direction dips and rises by a few degrees during the counterweight's swing, so for release angles in that dip
(~72-83 deg) the release is the first of three crossings and the distance has a jump / infinite slope in the
angle; there errors reach metres (0.3 % of shots drawn like the model-zoo's: wind N(0, 5), angle U(5, 85),
weight U(100, 400) lb, move by > 0.05 m against ``dt / 4``).

Gradients: ``shoot`` is a custom :class:`torch.autograd.Function` whose forward pass also computes the exact
Jacobian of the computed distance w.r.t. (wind, release angle, weight) by the complex-step method (forward
sensitivities: the simulation runs on complex numbers with a 1e-30 imaginary perturbation per input direction;
the ground and hang phases depend on the weight only and run with that one direction, the release event and the
flight with all three) and whose backward pass is ``grad_output * J``. No autograd graph is built through the
~80 RK4 steps: measured on 2 CPU cores, forward + backward at B = 100 takes ~19 ms (float32 or float64; ~13 ms
forward only), while plain autograd through the ~50 arm-phase RK4 steps alone takes ~110 ms (torch per-op
overhead, ~60 ops per derivative evaluation). Checked with ``torch.autograd.gradcheck``.

Failed shots: a counterweight too light to swing the arm (sling slack on the ground, below ~15-18 lb), non-finite
inputs, or a shot that does not reach its next phase within ``MAX_ARM_STEPS`` / ``MAX_FLIGHT_STEPS``, returns
the projectile's starting x (``START_X`` = 0.68 m) with zero gradient, as Trebuchet.jl returns
``sling_end(t).x`` for ``weight <= 0``.

Differences from Trebuchet.jl's own numbers: Trebuchet.jl (current version) integrates with explicit Euler at a
fixed 1/60 s step (2019 versions: Tsit5, reltol 1e-3), so its distances carry that step's error, up to ~2.4 m
(4 %) on published examples; run with that scheme, the equations here reproduce its published outputs to
1e-13 m (see ``tests/examples/trebuchet/test_physics.py``), and refining its step converges to this module's
values. Its ForwardDiff gradient w.r.t. the weight misses the lift-off time's sensitivity (published -0.125 m/lb
at (5 m/s, 45 deg, 500 lb), where the derivative of its own distance is +0.059 and ours +0.023).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "shoot",
    "trajectory",
    "DEFAULT_DT",
    "FT_TO_M",
    "LB_TO_KG",
    "PIVOT_HEIGHT",
    "LONG_ARM",
    "SHORT_ARM",
    "WEIGHT_ARM",
    "SLING_LENGTH",
    "WEIGHT_RADIUS",
    "PROJECTILE_RADIUS",
    "PROJECTILE_MASS",
    "ARM_MASS",
    "ARM_CG",
    "INERTIA_WEIGHT_FIELD",
    "INERTIA_ARM_FIELD",
    "GRAVITY",
    "AIR_DENSITY",
    "DRAG_COEFFICIENT",
    "START_X",
]

# ----------------------------------------------------------------------------------------------- constants
FT_TO_M = 0.3048  #: Trebuchet.jl ``ft2m``
LB_TO_KG = 0.45359237  #: Trebuchet.jl ``lb2kg``

PIVOT_HEIGHT = 5.0 * FT_TO_M  #: ``a``, height of the pivot above the ground (m)
LONG_ARM = 6.792 * FT_TO_M  #: ``b`` / LAl, pivot to sling attachment (m)
SHORT_ARM = 1.75 * FT_TO_M  #: ``c`` / LAs, pivot to counterweight hinge (m)
WEIGHT_ARM = 2.0 * FT_TO_M  #: ``d`` / LW, counterweight hinge to its centre of mass (m)
SLING_LENGTH = 6.833 * FT_TO_M  #: ``e`` / LS (m)
WEIGHT_RADIUS = 2.727 * FT_TO_M  #: ``u``; only enters an inertia that Trebuchet.jl overwrites (unused)
PROJECTILE_RADIUS = 0.1245 * FT_TO_M  #: ``z`` (m)
PROJECTILE_MASS = 0.328 * LB_TO_KG  #: ``Masses.p`` (kg)
ARM_MASS = 10.65 * LB_TO_KG  #: ``Masses.a`` (kg)
ARM_CG = (LONG_ARM - SHORT_ARM) / 2  #: LAcg, pivot to the arm's centre of mass (m)
INERTIA_WEIGHT_FIELD = LB_TO_KG * FT_TO_M * FT_TO_M  #: ``Inertias.iw`` = 1 lb ft^2 (kg m^2); used as arm inertia
INERTIA_ARM_FIELD = ARM_MASS * (LONG_ARM + SHORT_ARM) ** 2 / 12  #: ``Inertias.ia`` (kg m^2); used for the weight
GRAVITY = 9.80665  #: m/s^2
AIR_DENSITY = 1.0  #: kg/m^3
DRAG_COEFFICIENT = 1.0

DEFAULT_DT = 0.02  #: base step of the hang phase (s)
GROUND_STEP_FACTOR = 3.0  #: base step of the ground phase = this * dt
FLIGHT_STEP_FACTOR = 10.0  #: flight step = this * dt
OMEGA_REF = 7.5  #: rad/s; the arm step shrinks as the angular rates grow past this
ALPHA_REF = 150.0  #: rad/s^2; ... and as the angular accelerations grow past this
EVENT_ITERATIONS = 3  #: secant iterations that locate an event inside its step
MAX_ARM_STEPS = 400  #: steps per arm phase at DEFAULT_DT (scaled by DEFAULT_DT / dt) before a shot fails
MAX_FLIGHT_STEPS = 300  #: flight steps (60 s) at DEFAULT_DT (scaled likewise) before a shot fails
COMPLEX_STEP = 1e-30  #: imaginary perturbation of the complex-step derivative

# Short names for the equations (Trebuchet.jl's)
_H = PIVOT_HEIGHT
_LAL = LONG_ARM
_LAS = SHORT_ARM
_LW = WEIGHT_ARM
_LS = SLING_LENGTH
_MP = PROJECTILE_MASS
_MA = ARM_MASS
_LACG = ARM_CG
_IA3 = INERTIA_WEIGHT_FIELD  # Trebuchet.jl: IA3, IW3 = i.iw, i.ia
_IW3 = INERTIA_ARM_FIELD
_G = GRAVITY
_K_DRAG = AIR_DENSITY * DRAG_COEFFICIENT * math.pi * PROJECTILE_RADIUS**2 / (2 * PROJECTILE_MASS)
_LR = _LAL / _LS
_THETA0 = math.asin(_H / _LAL)
_Y0 = (math.pi / 2 + _THETA0, -(math.pi / 2 + _THETA0), math.pi - _THETA0, 0.0, 0.0, 0.0)
START_X = -_LAL * math.cos(_THETA0) + _LS  #: projectile's x at rest (m), the result of a failed shot

# constant parts of the mass matrices
_K_GROUND = _IA3 + _IW3 + _MA * _LACG**2 + _MP * _LAL**2
_K_HANG = _IA3 + _IW3 + _MA * _LACG**2 + _MP * (_LAL**2 + _LS**2)
_MP_LAL2 = _MP * _LAL**2
_MP_LAL_LS = _MP * _LAL * _LS
_MP_LAL = _MP * _LAL
_M33 = _MP * _LS**2


# ------------------------------------------------------------------------------------------ NumPy engine
class _Weight:
    """Per-shot coefficients of the equations of motion that depend on the counterweight mass ``m`` (kg)."""

    __slots__ = ("cw2", "m22", "inv_m22", "m12b", "b", "gm_lw", "g_sa", "g_sa_h", "kg", "kh")

    def __init__(self, m: np.ndarray) -> None:
        self.cw2 = m * (2 * _LAS * _LW)  # M11 term in cos(Wq)
        self.m22 = _IW3 + m * _LW**2  # M22
        self.inv_m22 = 1.0 / self.m22
        self.m12b = m * (_LW * _LAS)  # M12 = M22 + m12b cos(Wq)
        self.b = self.m12b * self.inv_m22  # M12 / M22 = 1 + b cos(Wq)
        self.gm_lw = (_G * _LW) * m
        self.g_sa = _G * _LACG * _MA - (_G * _LAS) * m  # coefficient of sin(Aq) in r1, ground
        self.g_sa_h = self.g_sa + _G * _MP * _LAL  # ... and in the hang phase
        self.kg = _K_GROUND + m * (_LAS**2 + _LW**2)  # constant part of M11, ground
        self.kh = _K_HANG + m * (_LAS**2 + _LW**2)  # ... hang


_Aux = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _trig(y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sines and cosines of the arm phases' angles: sin/cos of Aq, Wq, Sq, then sin(Aq+Sq), cos(Aq+Sq), sin(Aq+Wq)."""
    s_a, s_w, s_s = np.sin(y[:3])
    c_a, c_w, c_s = np.cos(y[:3])
    return (
        s_a, s_w, s_s, c_a, c_w, c_s,
        s_a * c_s + c_a * s_s, c_a * c_s - s_a * s_s, s_a * c_w + c_a * s_w,
    )  # fmt: skip


def _ground_rhs(y: np.ndarray, p: _Weight) -> tuple[np.ndarray, _Aux]:
    """Trebuchet.jl ``stage1!`` (projectile on the ground): dy/dt and (sin Aq, cos Aq, sin(Aq+Sq), cos(Aq+Sq))."""
    s_a, s_w, s_s, c_a, c_w, c_s, s_as, c_as, s_aw = _trig(y)
    aw, ww, sw = y[3], y[4], y[5]
    inv = 1.0 / s_as
    u = s_a * inv
    aw2 = aw * aw
    q = (c_as * sw * (sw + 2.0 * aw) + (c_as + _LR * c_a) * aw2) * inv
    t2 = 1.0 + p.b * c_w
    m11 = p.kg + _MP_LAL2 * u * (u - 2.0 * c_s) + p.cw2 * c_w
    pw = p.gm_lw * s_aw
    qw = p.m12b * s_w
    a_s = aw + sw
    r1 = (
        p.g_sa * s_a
        + _MP_LAL_LS * (s_s * a_s * a_s + c_s * q)
        + _MP_LAL * u * (_LAL * s_s * aw2 - _LS * q)
        - pw
        + qw * ww * (2.0 * aw + ww)
    )
    r2 = -(pw + qw * aw2)
    out = np.empty_like(y)
    out[:3] = y[3:]
    d_aw = out[3] = (r1 - t2 * r2) / (m11 - t2 * t2 * p.m22)
    out[4] = r2 * p.inv_m22 - t2 * d_aw
    out[5] = -q - (_LR * u + 1.0) * d_aw
    return out, (s_a, c_a, s_as, c_as)


def _hang_rhs(y: np.ndarray, p: _Weight) -> tuple[np.ndarray, _Aux]:
    """Trebuchet.jl ``stage2!`` (projectile on the sling): dy/dt and (sin Aq, cos Aq, sin(Aq+Sq), cos(Aq+Sq))."""
    s_a, s_w, s_s, c_a, c_w, c_s, s_as, c_as, s_aw = _trig(y)
    aw, ww, sw = y[3], y[4], y[5]
    aw2 = aw * aw
    t2 = 1.0 + p.b * c_w  # M12 / M22
    t3 = 1.0 + _LR * c_s  # M13 / M33
    pw = p.gm_lw * s_aw
    qw = p.m12b * s_w
    r1 = (
        p.g_sa_h * s_a
        + (_G * _MP * _LS) * s_as
        - pw
        + _MP_LAL_LS * s_s * sw * (2.0 * aw + sw)
        + qw * ww * (2.0 * aw + ww)
    )
    r2 = -(pw + qw * aw2)
    rho3 = (_G / _LS) * s_as - _LR * s_s * aw2  # r3 / M33
    m11 = p.kh + (2.0 * _MP_LAL_LS) * c_s + p.cw2 * c_w
    out = np.empty_like(y)
    out[:3] = y[3:]
    d_aw = out[3] = (r1 - t2 * r2 - _M33 * t3 * rho3) / (m11 - t2 * t2 * p.m22 - _M33 * t3 * t3)
    out[4] = r2 * p.inv_m22 - t2 * d_aw
    out[5] = rho3 - t3 * d_aw
    return out, (s_a, c_a, s_as, c_as)


def _flight_rhs(y: np.ndarray, wind: np.ndarray) -> tuple[np.ndarray, None]:
    """Trebuchet.jl ``stage3!``: state (x, y, vx, vy), quadratic drag relative to the wind."""
    vx, vy = y[2], y[3]
    rel = vx - wind
    k_speed = _K_DRAG * np.sqrt(vy * vy + rel * rel)
    out = np.empty_like(y)
    out[:2] = y[2:]
    out[2] = -k_speed * rel
    out[3] = -_G - k_speed * vy
    return out, None


def _rk4(rhs, y: np.ndarray, h: np.ndarray, k1: np.ndarray, p) -> np.ndarray:
    """One classic RK4 step of per-shot size ``h`` from ``y``, given ``k1 = f(y)``."""
    half = 0.5 * h
    k2 = rhs(y + half * k1, p)[0]
    k3 = rhs(y + half * k2, p)[0]
    k4 = rhs(y + h * k3, p)[0]
    return y + (h * (1.0 / 6.0)) * (k1 + 2.0 * (k2 + k3) + k4)


def _lift_off(y: np.ndarray, k: np.ndarray, aux: _Aux, _p) -> tuple[np.ndarray, np.ndarray]:
    """Ground event: normal force / mP on the projectile, and whether the sling is slack (tension < 0)."""
    s_a, c_a, s_as, c_as = aux
    aw, sw, d_aw, d_sw = y[3], y[5], k[3], k[5]
    a_s = aw + sw
    a_x = _LAL * (s_a * aw * aw - c_a * d_aw) + _LS * (s_as * a_s * a_s - c_as * (d_aw + d_sw))
    return _G + a_x * c_as / s_as, (a_x * s_as).real < 0.0


def _release_condition(y: np.ndarray, _k, aux: _Aux, cs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, None]:
    """Hang event: ``|v| sin(phi - r) = cos(r) v_y - sin(r) v_x`` for the projectile velocity ``v``."""
    s_a, c_a, s_as, c_as = aux
    aw = y[3]
    w_s = aw + y[5]
    vx = -_LAL * c_a * aw - _LS * c_as * w_s
    vy = -_LAL * s_a * aw - _LS * s_as * w_s
    return cs[0] * vy - cs[1] * vx, None


def _impact(y: np.ndarray, _k, _aux, _p) -> tuple[np.ndarray, None]:
    """Flight event: height above the ground."""
    return y[1] + _H, None


def _arm_step(y: np.ndarray, k: np.ndarray, dt: float) -> np.ndarray:
    """Per-shot step of the arm phases, a smooth function of the angular rates and accelerations."""
    w2 = y[3] * y[3] + y[4] * y[4] + y[5] * y[5]
    a2 = k[3] * k[3] + k[4] * k[4] + k[5] * k[5]
    return dt / np.sqrt(1.0 + w2 * (1.0 / OMEGA_REF**2) + a2 * (1.0 / ALPHA_REF**2))


def _max_steps(at_default: int, dt: float) -> int:
    """Step cap of a phase for step ``dt`` (the caps are stated for ``DEFAULT_DT``)."""
    return int(math.ceil(at_default * max(1.0, DEFAULT_DT / dt)))


class _Phase:
    """Result of integrating one phase: where each shot's event step starts, and which shots failed."""

    def __init__(self, y: np.ndarray, failed: np.ndarray) -> None:
        n = y.shape[1]
        self.failed = failed.copy()
        self.done = failed.copy()
        self.y = y.copy()  # state at the start of the step in which the event happens
        self.h = np.zeros(n, dtype=y.dtype)  # that step's size
        self.steps = np.zeros(n, dtype=np.int64)  # steps taken before it

    def expand(self) -> _Phase:
        """Three copies (wind, angle, weight directions); only the last keeps the weight's imaginary part."""
        out = _Phase.__new__(_Phase)
        real = self.y.real
        out.y = np.concatenate((real, real, self.y), axis=1)
        out.h = np.concatenate((self.h.real, self.h.real, self.h))
        out.failed = np.tile(self.failed, 3)
        out.done = np.tile(self.done, 3)
        out.steps = np.tile(self.steps, 3)
        return out


def _integrate(
    rhs, event, y0: np.ndarray, p, q, step_size, max_steps: int, failed: np.ndarray, record, *, downward: bool
) -> _Phase:
    """RK4 from ``y0`` until each shot's ``event`` changes sign (``downward``: becomes <= 0) or the shot fails.

    ``rhs(y, p) -> (dy/dt, aux)``, ``event(y, dy/dt, aux, q) -> (value, failure mask or None)``,
    ``step_size(y, dy/dt) -> h``. Shots whose event happened are frozen (step 0) until the whole batch is done.
    """
    y = y0
    k, aux = rhs(y, p)
    g0, _ = event(y, k, aux, q)
    ph = _Phase(y, failed)
    for step in range(max_steps):
        h = np.where(ph.done, 0.0, step_size(y, k))
        y1 = _rk4(rhs, y, h, k, p)
        k1, aux1 = rhs(y1, p)
        g1, bad = event(y1, k1, aux1, q)
        if record is not None:
            record.append(y1.real)
        live = ~ph.done
        hit = live & ((g1.real <= 0.0) if downward else (g0.real * g1.real <= 0.0))
        if hit.any():
            ph.y[:, hit] = y[:, hit]
            ph.h[hit] = h[hit]
            ph.steps[hit] = step
            ph.done |= hit
        if bad is not None:
            bad &= live & ~hit
            ph.failed |= bad
            ph.done |= bad
        if ph.done.all():
            break
        y, k, g0 = y1, k1, g1
    else:
        ph.failed |= ~ph.done
    return ph


def _locate(rhs, event, ph: _Phase, p, q) -> np.ndarray:
    """State at each shot's event: root of ``tau -> event(RK4(y_n, tau))`` in the event step, by secant steps."""
    ys, h, ok = ph.y, ph.h, ~ph.failed
    k0, _ = rhs(ys, p)

    def at(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        yt = _rk4(rhs, ys, tau, k0, p)
        kt, auxt = rhs(yt, p)
        return event(yt, kt, auxt, q)[0], yt

    g0 = event(ys, k0, rhs(ys, p)[1], q)[0]
    g1, _ = at(h)
    tau = np.where(ok, h * g0 / np.where(ok, g0 - g1, 1.0), 0.0)
    t_prev, g_prev = h, g1
    for _ in range(EVENT_ITERATIONS):
        g, _ = at(tau)
        dg = g - g_prev
        safe = ok & (dg.real != 0.0)
        t_prev, g_prev, tau = tau, g, tau - np.where(safe, g * (tau - t_prev) / np.where(safe, dg, 1.0), 0.0)
    return _rk4(rhs, ys, tau, k0, p)


def _sling_end(y: np.ndarray) -> np.ndarray:
    """Projectile position and velocity (Trebuchet.jl ``sling_end``, ``sling_velocity``) for arm states (6, N)."""
    aq, sq, aw, sw = y[0], y[2], y[3], y[5]
    a_s = aq + sq
    w_s = aw + sw
    s_a, c_a, s_as, c_as = np.sin(aq), np.cos(aq), np.sin(a_s), np.cos(a_s)
    return np.stack(
        (
            -_LAL * s_a - _LS * s_as,
            _LAL * c_a + _LS * c_as,
            -_LAL * c_a * aw - _LS * c_as * w_s,
            -_LAL * s_a * aw - _LS * s_as * w_s,
        )
    )


def _run(
    wind: np.ndarray, r: np.ndarray, weight: np.ndarray, dt: float, *, jacobian: bool, record: bool = False
) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray] | None]:
    """Simulate B shots from float64 arrays: wind (m/s), folded release angle r (rad), weight (lb).

    Returns the distances (B,), with ``jacobian`` their derivatives w.r.t. (wind, r, weight) as (3, B) (complex
    step), and with ``record`` the projectile paths.
    """
    b = wind.shape[0]
    rec: tuple[list, list, list] | None = ([], [], []) if record else None
    arm_steps = _max_steps(MAX_ARM_STEPS, dt)
    with np.errstate(all="ignore"):
        failed = ~(np.isfinite(wind) & np.isfinite(r) & np.isfinite(weight))
        m_kg = np.where(failed, 100.0, weight) * LB_TO_KG
        if jacobian:
            m_kg = m_kg + 1j * (COMPLEX_STEP * LB_TO_KG)  # the weight direction; the arm ignores wind and angle
        p = _Weight(m_kg)
        y0 = np.empty((6, b), dtype=m_kg.dtype)
        y0[:] = np.asarray(_Y0)[:, None]

        def arm_step(y: np.ndarray, k: np.ndarray) -> np.ndarray:
            return _arm_step(y, k, dt)

        def ground_step(y: np.ndarray, k: np.ndarray) -> np.ndarray:
            return _arm_step(y, k, GROUND_STEP_FACTOR * dt)

        ground = _integrate(
            _ground_rhs, _lift_off, y0, p, None, ground_step, arm_steps, failed, rec and rec[0], downward=True
        )
        y_lift = np.where(ground.failed, y0, _locate(_ground_rhs, _lift_off, ground, p, None))
        cs = (np.cos(r), np.sin(r))
        hang = _integrate(
            _hang_rhs,
            _release_condition,
            y_lift,
            p,
            cs,
            arm_step,
            arm_steps,
            ground.failed,
            rec and rec[1],
            downward=False,
        )
        if jacobian:
            hang_x = hang.expand()
            m3 = m_kg.real
            p3 = _Weight(np.concatenate((m3, m3, m_kg)))
            r3 = np.concatenate((r, r + 1j * COMPLEX_STEP, r))
            wind3 = np.concatenate((wind + 1j * COMPLEX_STEP, wind, wind))
            y_rel = _sling_end(_locate(_hang_rhs, _release_condition, hang_x, p3, (np.cos(r3), np.sin(r3))))
            failed_rel = hang_x.failed
        else:
            y_rel = _sling_end(_locate(_hang_rhs, _release_condition, hang, p, cs))
            failed_rel, wind3 = hang.failed, wind
        y_rel = np.where(failed_rel, 0.0, y_rel)
        hf = np.full(y_rel.shape[1], FLIGHT_STEP_FACTOR * dt)

        def flight_step(y: np.ndarray, k: np.ndarray) -> np.ndarray:
            return hf

        flight = _integrate(
            _flight_rhs,
            _impact,
            y_rel,
            wind3,
            None,
            flight_step,
            _max_steps(MAX_FLIGHT_STEPS, dt),
            failed_rel,
            rec and rec[2],
            downward=True,
        )
        y_end = _locate(_flight_rhs, _impact, flight, wind3, None)
        x = np.where(flight.failed, START_X, y_end[0])
    jac = x.imag.reshape(3, b) / COMPLEX_STEP if jacobian else None
    paths = None
    if rec is not None:
        paths = _paths(y0, y_lift, y_rel, y_end, (ground, hang, flight), rec)
    return np.ascontiguousarray(x.real[:b], dtype=np.float64), jac, paths


def _paths(y0, y_lift, y_rel, y_end, phases: tuple[_Phase, _Phase, _Phase], rec) -> list[np.ndarray]:
    """Per-shot (x, height above ground) arrays from the recorded steps of a real-valued run."""
    ground, hang, flight = phases
    arm_g = [_sling_end(y)[:2] for y in rec[0]]
    arm_h = [_sling_end(y)[:2] for y in rec[1]]
    start, lift = _sling_end(y0.real)[:2], _sling_end(y_lift.real)[:2]
    paths = []
    for i in range(y0.shape[1]):
        if flight.failed[i]:
            paths.append(np.array([[START_X, 0.0]]))
            continue
        pts = [start[:, i]]
        pts += [a[:, i] for a in arm_g[: ground.steps[i]]]
        pts.append(lift[:, i])
        pts += [a[:, i] for a in arm_h[: hang.steps[i]]]
        pts.append(y_rel[:2, i].real)
        pts += [y[:2, i] for y in rec[2][: flight.steps[i]]]
        pts.append(y_end[:2, i].real)
        xy = np.array(pts, dtype=np.float64)
        xy[:, 1] += _H
        paths.append(xy)
    return paths


# ------------------------------------------------------------------------------------------- PyTorch API
def _fold_degrees(angle_deg: torch.Tensor) -> torch.Tensor:
    """Release angle in degrees -> radians folded into [-pi/2, pi/2] like Trebuchet.jl's ``asin(sin(r))``."""
    r = torch.deg2rad(angle_deg)
    r = r - (2 * math.pi) * torch.round(r / (2 * math.pi))  # (-pi, pi]
    r = torch.where(r > math.pi / 2, math.pi - r, r)
    return torch.where(r < -math.pi / 2, -math.pi - r, r)


class _Shoot(torch.autograd.Function):
    """distance(wind, r, weight); backward is ``grad_output * J`` with the complex-step Jacobian J."""

    @staticmethod
    def forward(ctx, wind: torch.Tensor, r: torch.Tensor, weight: torch.Tensor, dt: float) -> torch.Tensor:  # type: ignore[override]
        dist, jac, _ = _run(*_to_numpy(wind, r, weight), dt, jacobian=True)
        ctx.save_for_backward(torch.from_numpy(jac).to(device=wind.device, dtype=wind.dtype))
        return torch.from_numpy(dist).to(device=wind.device, dtype=wind.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (jac,) = ctx.saved_tensors
        grads = [grad_out * jac[i] if ctx.needs_input_grad[i] else None for i in range(3)]
        return grads[0], grads[1], grads[2], None


def _to_numpy(*tensors: torch.Tensor) -> list[np.ndarray]:
    """Flat float64 NumPy copies (no grad) of tensors."""
    return [t.detach().reshape(-1).to(device="cpu", dtype=torch.float64).numpy() for t in tensors]


def _prepare(
    wind: torch.Tensor | float, angle: torch.Tensor | float, weight: torch.Tensor | float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Size]:
    """The inputs as tensors of one floating dtype (promoted; default dtype if none is floating), broadcast."""
    tensors = [torch.as_tensor(v) for v in (wind, angle, weight)]
    dtype = torch.get_default_dtype()
    floats = [t.dtype for t in tensors if t.is_floating_point()]
    if floats:
        dtype = floats[0]
        for d in floats[1:]:
            dtype = torch.promote_types(dtype, d)
    tensors = [t if t.dtype == dtype else t.to(dtype) for t in tensors]
    w, a, m = torch.broadcast_tensors(*tensors)
    return w, a, m, w.shape


def shoot(
    wind: torch.Tensor | float,
    angle: torch.Tensor | float,
    weight: torch.Tensor | float,
    *,
    dt: float = DEFAULT_DT,
    return_trajectory: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[np.ndarray]]:
    """Horizontal distance (m) thrown by the Trebuchet.jl trebuchet, batched and differentiable.

    Args:
        wind: wind speed in m/s along the throw (positive: tailwind), shape (B,) or broadcastable.
        angle: release angle in degrees above the horizontal (model-zoo convention; folded into [-90, 90]
            like Trebuchet.jl's ``asin(sin(r))``).
        weight: counterweight as passed to ``Trebuchet.shoot``, i.e. in pounds (``weight * LB_TO_KG`` kg).
        dt: base RK4 step of the arm phases in seconds (the flight uses ``FLIGHT_STEP_FACTOR * dt``).
        return_trajectory: also return :func:`trajectory` of the shots.

    Returns:
        Distances from the pivot to the impact point in metres, shape of the broadcast inputs, dtype of the
        (promoted floating) inputs, differentiable w.r.t. all three inputs. With ``return_trajectory``, the
        tuple ``(distances, paths)``.
    """
    w, a, m, shape = _prepare(wind, angle, weight)
    r = _fold_degrees(a)
    if torch.is_grad_enabled() and (w.requires_grad or r.requires_grad or m.requires_grad):
        dist = _Shoot.apply(w.reshape(-1), r.reshape(-1), m.reshape(-1), float(dt)).reshape(shape)
    else:
        values, _, _ = _run(*_to_numpy(w, r, m), float(dt), jacobian=False)
        dist = torch.from_numpy(values).to(device=w.device, dtype=w.dtype).reshape(shape)
    if return_trajectory:
        return dist, trajectory(wind, angle, weight, dt=dt)
    return dist


def trajectory(
    wind: torch.Tensor | float,
    angle: torch.Tensor | float,
    weight: torch.Tensor | float,
    *,
    dt: float = DEFAULT_DT,
) -> list[np.ndarray]:
    """Projectile paths for plotting (no gradient).

    Args:
        wind: wind speed in m/s (positive: tailwind).
        angle: release angle in degrees.
        weight: counterweight in pounds (Trebuchet.jl's ``weight``).
        dt: base step, as in :func:`shoot`.

    Returns:
        One float64 array (T_i, 2) per shot (inputs flattened in C order): x in metres from the pivot and
        height in metres above the ground, from the projectile at rest through the ground, hang and flight
        phases (every RK4 step plus the lift-off, release and impact points). The last row is
        ``(distance, 0)``. A failed shot (see the module docstring) is the single point ``(START_X, 0)``.
    """
    with torch.no_grad():
        w, a, m, _ = _prepare(wind, angle, weight)
        arrays = _to_numpy(w, _fold_degrees(a), m)
    _, _, paths = _run(*arrays, float(dt), jacobian=False, record=True)
    assert paths is not None
    return paths
