"""Activation functions that are primitives (fast or stable only as one node)."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.ops.elementwise import erf

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "sigmoid",
    "relu",
    "leaky_relu",
    "gelu",
]


class Sigmoid(Function):
    def forward(self, a):
        # σ(a) = 1/(1+e⁻ᵃ) = (1 + tanh(a/2))/2, which never overflows
        self.out = 0.5 * (1 + np.tanh(0.5 * a))
        return self.out

    def backward(self, g):  # dσ/da = σ(1-σ)
        return g * self.out * (1 - self.out)


class ReLU(Function):
    def forward(self, a):
        self.out = np.maximum(a, 0)
        return self.out

    def backward(self, g):  # d max(a,0)/da = 1 if a > 0 else 0
        return g * (self.out > 0)


class LeakyReLU(Function):
    def forward(self, a, slope):
        self.mask, self.slope = a > 0, slope
        return np.where(self.mask, a, a * slope).astype(a.dtype, copy=False)

    def backward(self, g):  # 1 if a > 0 else slope
        return np.where(self.mask, g, g * self.slope).astype(g.dtype, copy=False)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Function):
    """GELU(a) = a·Φ(a); with ``approximate='tanh'`` Φ(a) ≈ ½(1 + tanh(√(2/π)(a + 0.044715a³)))."""

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a**3))
            return (0.5 * a * (1 + self.t)).astype(a.dtype, copy=False)
        self.cdf = (0.5 * (1 + erf(a * _INV_SQRT_2))).astype(a.dtype, copy=False)
        return a * self.cdf

    def backward(self, g):
        a = self.a
        if self.approximate == "tanh":
            # d/da ½a(1+t) = ½(1+t) + ½a(1-t²)·√(2/π)(1 + 3·0.044715a²)
            dt = (1 - self.t**2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + self.t) + 0.5 * a * dt)
        # d/da aΦ(a) = Φ(a) + a·φ(a),  φ(a) = e^(-a²/2)/√(2π)
        return g * (self.cdf + a * _INV_SQRT_2PI * np.exp(-0.5 * a * a))


# --------------------------------------------------------------------------- functions
def _float_input(x):
    from tinygrad_opt.dtypes import get_default_dtype

    return x if x._data.dtype.kind == "f" else x.to(get_default_dtype())


def sigmoid(input):
    """σ(x) = 1/(1 + e⁻ˣ)."""
    return Sigmoid.apply(_float_input(input))


def relu(input):
    """max(x, 0)."""
    return ReLU.apply(input)


def leaky_relu(input, negative_slope: float = 0.01):
    """x if x > 0 else negative_slope·x."""
    return LeakyReLU.apply(input, slope=float(negative_slope))


def gelu(input, approximate: str = "none"):
    """GELU x·Φ(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


class ActivationMethods:
    """Tensor methods for the activations (``t.relu()`` is ``relu(t)``)."""

    __slots__ = ()

    sigmoid = sigmoid
    relu = relu
    leaky_relu = leaky_relu
    gelu = gelu
