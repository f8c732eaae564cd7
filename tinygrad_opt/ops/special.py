"""Numpy kernels for the error functions, which numpy has no ufunc for: ``erf``, ``erfc``
and ``erfinv`` on float64 arrays, vectorised (no per-element Python), to about 1e-15.

The ops built on them (``Tensor.erf`` …) are in :mod:`tinygrad_opt.ops.unary`; ``gelu``
uses :func:`erf_array` for the normal CDF.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf_array", "erfc_array", "erfinv_array"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erf_series(ax: np.ndarray) -> np.ndarray:
    """erf on |x| <= 2 by its Maclaurin series 2/√π Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)).

    Beyond 2 the alternating terms grow to ~e^(x²) and cancellation costs digits."""
    x2 = ax * ax
    term = ax.copy()
    total = ax.copy()
    for n in range(1, 60):
        term = term * (-x2) / n
        total += term / (2 * n + 1)
    return total * _TWO_OVER_SQRT_PI


def _erfc_tail(ax: np.ndarray) -> np.ndarray:
    """erfc on x >= 2 by the Laplace continued fraction (Abramowitz & Stegun 7.1.14)
    erfc x = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up."""
    frac = ax.copy()
    for k in range(60, 0, -1):
        frac = ax + (k / 2.0) / frac
    return np.exp(-ax * ax) / (math.sqrt(math.pi) * frac)


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt, vectorised, float64, accurate to
    about 1e-15 (series for |x| <= 2, 1 − continued fraction beyond)."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = _erf_series(np.minimum(ax, 2.0))
    tail = 1.0 - _erfc_tail(np.maximum(ax, 2.0))
    return np.sign(x) * np.where(ax <= 2.0, small, tail)


def erfc_array(x: np.ndarray) -> np.ndarray:
    """The complementary error function 1 − erf x, vectorised, float64; computed
    directly for x > 2 (no cancellation), so it keeps its relative accuracy in the tail."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = 1.0 - np.sign(x) * _erf_series(np.minimum(ax, 2.0))
    tail = _erfc_tail(np.maximum(ax, 2.0))
    big = np.where(x > 0, tail, 2.0 - tail)
    return np.where(ax <= 2.0, small, big)


def erfinv_array(y: np.ndarray) -> np.ndarray:
    """The inverse error function on [−1, 1] (±inf at ±1, nan outside), float64.

    Winitzki's closed-form guess (relative error ~2e-3) refined by three Halley steps
    on f(x) = erf(x) − y, or, for |y| > ½, on erfc(x) − (1 − |y|), whose right side is
    exact in floating point. With u = f/f′ and f″ = −2x f′ the step is x ← x − u/(1 + xu).
    """
    y = np.asarray(y, dtype=np.float64)
    ay = np.abs(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.log1p(-ay * ay)  # ln(1 − y²)
        a = 0.147
        b = 2.0 / (math.pi * a) + 0.5 * ln
        x = np.sqrt(np.sqrt(b * b - ln / a) - b)  # the guess, for |y|
        inside = ay < 1.0
        x = np.where(inside, x, 0.0)
        upper = ay > 0.5
        c = 1.0 - ay
        for _ in range(3):
            slope = _TWO_OVER_SQRT_PI * np.exp(-x * x)
            f = np.where(upper, c - erfc_array(x), erf_array(x) - ay)
            u = f / slope
            x = x - u / (1.0 + x * u)
    x = np.where(inside, x, np.where(ay == 1.0, np.inf, np.nan))
    return np.copysign(x, y)
