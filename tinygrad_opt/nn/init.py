"""Seeded weight initialisers: each returns a fresh numpy array of the requested shape.

Every random initialiser takes ``rng``: an int seed, a ``numpy.random.Generator`` (which
is advanced, so consecutive calls give different arrays), or None for fresh OS entropy.
Samples are drawn in float64 and cast to ``dtype``, so a seed gives the same numbers
whatever the dtype.

Fans use torch's weight layout, (out_features, in_features) as ``nn.Linear`` stores it:
for a 2-D shape ``(a, b)``, fan_in = b and fan_out = a. See :func:`compute_fans`.

References: K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers", ICCV 2015
(Kaiming); X. Glorot, Y. Bengio, "Understanding the difficulty of training deep
feedforward neural networks", AISTATS 2010 (Xavier).

Example: ``layer.weight.data = init.kaiming_normal(layer.weight.shape, rng=0)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "calculate_gain",
    "compute_fans",
    "kaiming_normal",
    "kaiming_uniform",
    "normal",
    "ones",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

RngLike = np.random.Generator | int | None
Shape = int | Sequence[int]


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _gen(rng: RngLike) -> np.random.Generator:
    return np.random.default_rng(rng)  # returns a Generator unchanged


def compute_fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) for a weight of ``shape`` in torch's (out, in, ...) layout.

    - 1-D ``(n,)``: fan_in = fan_out = n.
    - 2-D ``(out, in)`` (``Linear``'s weight): fan_in = in, fan_out = out.
    - n-D: a convolution kernel in ``Conv2d``'s (and torch's) layout ``(out, in, *k)``;
      each output sees a receptive field of r = prod(k) positions, so
      fan_in = r·in and fan_out = r·out.
    """
    s = _shape(shape)
    if len(s) == 0:
        raise ValueError("compute_fans: a scalar has no fan-in or fan-out")
    if len(s) == 1:
        return s[0], s[0]
    if len(s) == 2:
        return s[1], s[0]
    r = math.prod(s[2:])
    return r * s[1], r * s[0]


def calculate_gain(nonlinearity: str = "linear", param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity``.

    linear / identity / sigmoid: 1;  tanh: 5/3;  relu: √2;
    leaky_relu with negative slope a (``param``, default 0.01): √(2 / (1 + a²)).
    """
    name = nonlinearity.lower()
    if name in ("linear", "identity", "sigmoid"):
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        a = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + a * a))
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r} "
        "(expected linear, identity, sigmoid, tanh, relu or leaky_relu)"
    )


def _fan(shape: Shape, mode: str) -> int:
    fan_in, fan_out = compute_fans(shape)
    if mode == "fan_in":
        return max(fan_in, 1)  # an empty weight: any finite scale will do
    if mode == "fan_out":
        return max(fan_out, 1)
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def zeros(shape: Shape, dtype: Any = np.float32) -> np.ndarray:
    """All zeros."""
    return np.zeros(_shape(shape), dtype=dtype)


def ones(shape: Shape, dtype: Any = np.float32) -> np.ndarray:
    """All ones."""
    return np.ones(_shape(shape), dtype=dtype)


def uniform(
    shape: Shape,
    low: float = 0.0,
    high: float = 1.0,
    rng: RngLike = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Independent samples from U(low, high)."""
    return _gen(rng).uniform(low, high, size=_shape(shape)).astype(dtype)


def normal(
    shape: Shape,
    mean: float = 0.0,
    std: float = 1.0,
    rng: RngLike = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Independent samples from N(mean, std²)."""
    return (mean + std * _gen(rng).standard_normal(_shape(shape))).astype(dtype)


def kaiming_uniform(
    shape: Shape,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "relu",
    rng: RngLike = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """He et al. 2015, uniform: U(-bound, bound) with bound = gain·√(3 / fan).

    ``fan`` is fan_in (default: preserves the forward variance) or fan_out (the backward
    one); gain = ``calculate_gain(nonlinearity, a)``, √2 for ReLU. The variance is
    bound²/3 = gain²/fan, the same as :func:`kaiming_normal`. With ``a=√5`` and
    ``nonlinearity="leaky_relu"`` the bound is 1/√fan_in: torch's default for Linear.
    """
    gain = calculate_gain(nonlinearity, a)
    bound = gain * math.sqrt(3.0 / _fan(shape, mode))
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def kaiming_normal(
    shape: Shape,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "relu",
    rng: RngLike = None,
    dtype: Any = np.float32,
) -> np.ndarray:
    """He et al. 2015, normal: N(0, std²) with std = gain / √fan (gain √2 for ReLU).

    ``fan`` is fan_in (default) or fan_out; gain = ``calculate_gain(nonlinearity, a)``.
    """
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(shape, mode))
    return normal(shape, 0.0, std, rng=rng, dtype=dtype)


def xavier_uniform(
    shape: Shape, gain: float = 1.0, rng: RngLike = None, dtype: Any = np.float32
) -> np.ndarray:
    """Glorot & Bengio 2010, uniform: U(-bound, bound), bound = gain·√(6 / (fan_in + fan_out)).

    The variance bound²/3 = gain²·2/(fan_in + fan_out) compromises between keeping the
    forward (fan_in) and the backward (fan_out) signal steady.
    """
    fan_in, fan_out = compute_fans(shape)
    bound = gain * math.sqrt(6.0 / max(fan_in + fan_out, 1))
    return uniform(shape, -bound, bound, rng=rng, dtype=dtype)


def xavier_normal(
    shape: Shape, gain: float = 1.0, rng: RngLike = None, dtype: Any = np.float32
) -> np.ndarray:
    """Glorot & Bengio 2010, normal: N(0, std²), std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = compute_fans(shape)
    std = gain * math.sqrt(2.0 / max(fan_in + fan_out, 1))
    return normal(shape, 0.0, std, rng=rng, dtype=dtype)
