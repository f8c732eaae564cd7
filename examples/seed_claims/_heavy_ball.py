"""Heavy-ball momentum on one eigendirection of a quadratic: roots, regimes, rates.

Polyak (1964); Goh (2017), "Why Momentum Really Works", Distill. Torch's heavy ball,
v ← μv + g, θ ← θ − ηv, along an eigendirection with Hessian eigenvalue λ moves the
coordinate x as x_{t+1} = (1 + μ − ηλ)·x_t − μ·x_{t−1}. With a = ηλ its characteristic
roots solve z² − (1 + μ − a)z + μ = 0, and the slowest mode shrinks by ρ = max |z| a step:

* 0 < a ≤ (1 − √μ)²: real roots in (0, 1), **monotone**; the slow root z ≈ 1 − a/(1 − μ)
  is gradient descent with the effective learning rate η/(1 − μ);
* (1 − √μ)² < a < (1 + √μ)²: complex roots, |z| = √μ, **ripples** of angular frequency ω,
  cos ω = (1 + μ − a)/(2√μ);
* (1 + √μ)² ≤ a < 2(1 + μ): real negative roots, **flips** sign every step;
* a ≥ 2(1 + μ): **diverges**.  μ = 0 is plain gradient descent, z = 1 − a.

Used by ``claim1_curvature.py``; not a public API.
"""

from __future__ import annotations

import numpy as np


def heavy_ball_roots(a: float, mu: float) -> np.ndarray:
    """The two roots z of z² − (1 + μ − a)z + μ = 0 (a = ηλ), complex in general."""
    return np.roots([1.0, -(1.0 + mu - a), mu]).astype(complex)


def regime(a: float, mu: float) -> str:
    """Goh's regions of the (ηλ, μ) plane: monotone, ripples, flips or diverges; "critical"
    on the two borders a = (1 ± √μ)² (μ > 0), where the roots coincide (to rounding)."""
    if a <= 0:
        return "not a minimum" if a < 0 else "flat"
    if a >= 2 * (1 + mu):
        return "diverges"
    if mu > 0 and min(abs(a - (1 - np.sqrt(mu)) ** 2), abs(a - (1 + np.sqrt(mu)) ** 2)) <= 1e-9:
        return "critical"
    if a <= (1 - np.sqrt(mu)) ** 2:
        return "monotone"
    if a < (1 + np.sqrt(mu)) ** 2:
        return "ripples"
    return "flips"


def contraction(a: float, mu: float) -> float:
    """ρ = max |z|: the factor by which the slowest mode shrinks each step."""
    return float(np.abs(heavy_ball_roots(a, mu)).max())


def half_period(a: float, mu: float) -> float | None:
    """Steps between sign changes: π/ω for ripples, 1 for flips, None when monotone or
    critical (a double root z: one sign change at most if z > 0, every step if z < 0)."""
    r = regime(a, mu)
    if r == "flips":
        return 1.0
    if r != "ripples":
        return None
    return float(np.pi / np.arccos((1 + mu - a) / (2 * np.sqrt(mu))))


def effective_lr(eta: float, lam: float, mu: float) -> float | None:
    """(1 − z)/λ for the dominant real root z: −Δθ/g of the surviving mode. ≈ η/(1 − μ)
    when ηλ ≪ (1 − √μ)²; None for ripples (the ratio rotates) and at a double root (the
    mode is (a + bt)·zᵗ, so the ratio drifts)."""
    a = eta * lam
    if regime(a, mu) in ("ripples", "critical", "diverges"):
        return None
    z = heavy_ball_roots(a, mu)
    zd = z.real[np.argmax(np.abs(z.real))]
    return float((1 - zd) / lam)


def optimal_heavy_ball(lam_min: float, lam_max: float) -> tuple[float, float]:
    """(η*, μ*) minimising max over [λmin, λmax] of ρ: both ends at |z| = √μ*."""
    sk = np.sqrt(lam_max / lam_min)
    mu = ((sk - 1) / (sk + 1)) ** 2
    eta = (2 / (np.sqrt(lam_max) + np.sqrt(lam_min))) ** 2
    return float(eta), float(mu)
