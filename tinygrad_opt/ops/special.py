"""The error functions ``erf``, ``erfc``, ``erfinv``: numpy kernels (numpy has no ufunc
for them) on float64 arrays, vectorised (no per-element Python), to about 1e-15, and the
differentiable ops built on them (``Tensor.erf`` …, re-exported by
:mod:`tinygrad_opt.ops.unary`); ``gelu`` uses :func:`erf_array` for the normal CDF.

The ops' derivatives are Tensor expressions (erf' = 2/√π·e^(−x²), erfinv' =
√π/2·e^(erfinv(x)²)), so they differentiate to any order without differentiating a kernel.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.ops.elementwise import _float_input, exp

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

__all__ = ["erf", "erf_array", "erfc", "erfc_array", "erfinv", "erfinv_array"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


def _erf_series(ax: np.ndarray) -> np.ndarray:
    """erf on |x| <= 2 by its Maclaurin series 2/√π Σ (−1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)).

    Beyond 2 the alternating terms grow to ~e^(x²) and cancellation costs digits. The sum
    stops once every term is below 1e-17 of the running total (about 40 terms at |x| = 2,
    15 at |x| = 0.5), updating in place."""
    x2 = ax * ax
    np.negative(x2, out=x2)
    term = ax.copy()
    total = ax.copy()
    step = np.empty_like(ax)
    for n in range(1, 60):
        np.multiply(term, x2, out=term)
        term *= 1.0 / n
        np.multiply(term, 1.0 / (2 * n + 1), out=step)
        total += step
        if n % 8 == 0 and not (np.abs(step) > 1e-17 * np.abs(total)).any():
            break
    total *= _TWO_OVER_SQRT_PI
    return total


def _erfc_tail(ax: np.ndarray) -> np.ndarray:
    """erfc on x >= 2 by the Laplace continued fraction (Abramowitz & Stegun 7.1.14)
    erfc x = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), evaluated bottom-up."""
    frac = ax.copy()
    for k in range(60, 0, -1):
        np.divide(k / 2.0, frac, out=frac)
        frac += ax
    return np.exp(-ax * ax) / (math.sqrt(math.pi) * frac)


def _split(ax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions where |x| <= 2 (series) and where it is larger (continued fraction):
    each formula runs only on its own elements."""
    near = ax <= 2.0
    return near, ~near


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function erf x = 2/√π ∫₀ˣ e^(−t²) dt, vectorised, float64, accurate to
    about 1e-15 (series for |x| <= 2, 1 − continued fraction beyond)."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    near, far = _split(ax)
    out = np.empty_like(ax)
    out[near] = _erf_series(ax[near])
    if far.any():
        out[far] = 1.0 - _erfc_tail(ax[far])
    out[np.isnan(x)] = np.nan
    return np.copysign(out, x)


def erfc_array(x: np.ndarray) -> np.ndarray:
    """The complementary error function 1 − erf x, vectorised, float64; computed
    directly for x > 2 (no cancellation), so it keeps its relative accuracy in the tail."""
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    near, far = _split(ax)
    out = np.empty_like(ax)
    out[near] = 1.0 - np.sign(x[near]) * _erf_series(ax[near])
    if far.any():
        tail = _erfc_tail(ax[far])
        out[far] = np.where(x[far] > 0, tail, 2.0 - tail)
    out[np.isnan(x)] = np.nan
    return out


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


# --------------------------------------------------------------------------- ops
class Erf(Function):
    def forward(self, a):
        self.a = a
        return erf_array(a).astype(a.dtype, copy=False)

    def backward(self, g):  # d erf a = 2/√π e^(−a²)
        return g * (_TWO_OVER_SQRT_PI * np.exp(-self.a * self.a))

    def vjp(self, g):
        a = self.parents[0]
        return g * (exp(-(a * a)) * _TWO_OVER_SQRT_PI)


class Erfc(Function):
    def forward(self, a):
        self.a = a
        return erfc_array(a).astype(a.dtype, copy=False)

    def backward(self, g):  # d erfc a = −2/√π e^(−a²)
        return g * (-_TWO_OVER_SQRT_PI * np.exp(-self.a * self.a))

    def vjp(self, g):
        a = self.parents[0]
        return g * (exp(-(a * a)) * -_TWO_OVER_SQRT_PI)


class Erfinv(Function):
    def forward(self, a):
        self.out = erfinv_array(a).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):  # d erfinv a = √π/2 · e^(erfinv(a)²)
        with np.errstate(over="ignore"):
            return g * (_SQRT_PI_OVER_2 * np.exp(self.out * self.out))

    def vjp(self, g):  # erfinv recomputed as a node, so that this differentiates again
        y = erfinv(self.parents[0])
        with np.errstate(over="ignore"):
            return g * (exp(y * y) * _SQRT_PI_OVER_2)


def erf(input: Tensor) -> Tensor:
    """The error function 2/√π ∫₀ˣ e^(−t²) dt."""
    return Erf.apply(_float_input(input))


def erfc(input: Tensor) -> Tensor:
    """1 − erf x, accurate in the tail."""
    return Erfc.apply(_float_input(input))


def erfinv(input: Tensor) -> Tensor:
    """The inverse of erf on [−1, 1] (±inf at ±1, nan outside)."""
    return Erfinv.apply(_float_input(input))
