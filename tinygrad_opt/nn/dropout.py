"""Inverted dropout: ``Dropout`` and :func:`dropout`.

In training, each element is kept with probability 1 - p and scaled by 1/(1 - p), or
zeroed: ``y = x · mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``. The scaling keeps the
expectation, E[y] = x, so at evaluation dropout is simply the identity (no rescaling of
the weights needed). The gradient is the same mask: dy/dx = mask / (1 - p).

Masks come from a ``numpy.random.Generator`` (``rng``: an int seed, a Generator, or None
for fresh entropy), so a seed makes a whole run reproducible. The masks will not match
torch's, whose random streams differ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import constant
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Function, Tensor

__all__ = ["Dropout", "dropout"]


class _Dropout(Function):
    """y = x · scale where scale = mask / (1 - p) is drawn by the caller; dy/dx = scale."""

    name = "dropout"

    def forward(self, x, *, scale):
        self.scale = scale
        return x * scale

    def backward(self, g):
        return g * self.scale

    def vjp(self, g):
        return g * constant(self.scale)


def _check_p(who: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{who}: p must be a number in [0, 1), got {p!r}")
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{who}: p (the drop probability) must be in [0, 1), got {p}")
    return float(p)


def keep_mask(gen: np.random.Generator, shape: tuple[int, ...], p: float) -> np.ndarray:
    """A bool array of ``shape``, each entry True (kept) with probability 1 - p.

    Each entry compares a uniform 32-bit integer u from ``gen``'s bit generator with
    t = round(p·2³²): kept iff u >= t, so P(keep) = 1 - t/2³², within 2⁻³³ of 1 - p.
    Raw 32-bit draws cost about a third of ``gen.random`` (float64) on large masks; they
    advance ``gen`` like any other draw.
    """
    n = math.prod(shape)
    raw = gen.bit_generator.random_raw((n + 1) // 2)  # uint64: two 32-bit draws each
    u = raw.view(np.uint32)[:n].reshape(shape)
    return u >= np.uint32(min(round(p * 2.0**32), 2**32 - 1))


def _dropout(x: Tensor, p: float, training: bool, gen: np.random.Generator) -> Tensor:
    if not training or p == 0.0:
        return x
    keep = keep_mask(gen, x.shape, p)
    scale = np.multiply(keep, x.dtype.type(1.0 / (1.0 - p)), dtype=x.dtype)
    return _Dropout.apply(x, scale=scale)


def dropout(
    x: Tensor | np.ndarray,
    p: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | int | None = None,
) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p).

    With ``training=False`` (or p = 0) ``x`` is returned unchanged. ``rng`` is an int seed,
    a ``numpy.random.Generator`` (advanced by the call) or None.
    """
    p = _check_p("dropout", p)
    x = x if isinstance(x, Tensor) else Tensor(x)
    return _dropout(x, p, training, np.random.default_rng(rng))


class Dropout(Module):
    """Inverted dropout layer: ``x · Bernoulli(1-p) / (1-p)`` in training, identity in eval.

    ``Dropout(p=0.5, rng=None)``: ``p`` in [0, 1) is the probability of zeroing an
    element. The layer owns one ``numpy.random.Generator`` made from ``rng``, so two
    layers built with the same seed produce the same sequence of masks; each call draws
    a fresh mask. No parameters.
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        self.p = _check_p("Dropout", p)
        self.rng = np.random.default_rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        return _dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"
