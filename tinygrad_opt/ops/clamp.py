"""Clamping: ``clamp``/``clip`` (number or tensor bounds), ``clamp_min``, ``clamp_max``.

clamp(x, lo, hi) = min(max(x, lo), hi) elementwise; the gradient passes to ``x`` where
lo <= x <= hi (edges included), and tensor bounds get it where they are the result
(see :class:`ClampTensor`), as torch.clamp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import result_type
from tinygrad_opt.ops.common import cast, lift
from tinygrad_opt.ops.elementwise import inplace_method

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["clamp", "clip", "clamp_min", "clamp_max"]


class ClampArgumentError(ValueError, RuntimeError):
    """``clamp`` without bounds: a RuntimeError as torch's, and a ValueError as before."""


class Clip(Function):
    """clamp(a, lo, hi) with number bounds (either may be None): the gradient passes where
    lo <= a <= hi, edges included, as torch.clamp."""

    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        out = a if lo is None else np.maximum(a, lo)
        return out if hi is None else np.minimum(out, hi)

    def backward(self, g):
        inside = True
        if self.lo is not None:
            inside = self.a >= self.lo
        if self.hi is not None:
            inside = inside & (self.a <= self.hi)
        return g * inside

    def vjp(self, g):
        return g * constant(np.asarray(self._inside()))

    def _inside(self):
        inside = True
        if self.lo is not None:
            inside = self.a >= self.lo
        if self.hi is not None:
            inside = inside & (self.a <= self.hi)
        return inside


class ClampTensor(Function):
    """clamp(a, lo, hi) = min(max(a, lo), hi) with tensor bounds (broadcast).

    ``forward(a, *bounds, has_min, has_max)``: ``bounds`` holds lo and/or hi as flagged.
    Gradients, as torch: a gets g where lo <= a <= hi (edges included); lo gets g where
    a < lo, but only if lo < hi (when the bounds cross, the result is hi and hi gets it);
    hi gets g where a > hi or lo > hi. nan anywhere: the result is nan, no gradient.
    """

    name = "clamp"

    def forward(self, a, *bounds, has_min, has_max):
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        self.a, self.lo, self.hi = a, lo, hi
        out = a if lo is None else np.maximum(a, lo)
        return out if hi is None else np.minimum(out, hi)

    def backward(self, g):
        a, lo, hi = self.a, self.lo, self.hi
        inside = True
        if lo is not None:
            inside = a >= lo
        if hi is not None:
            inside = inside & (a <= hi)
        grads = [g * inside if self.needs_grad[0] else None]
        if lo is not None:
            below = a < lo if hi is None else (a < lo) & (lo < hi)
            grads.append(g * below if self.needs_grad[1] else None)
        if hi is not None:
            above = a > hi if lo is None else (a > hi) | (lo > hi)
            grads.append(g * above if self.needs_grad[-1] else None)
        return tuple(grads)

    def vjp(self, g):  # the same masks, as constants
        masks = self._masks()
        return tuple(g * constant(m) if need else None for m, need in zip(masks, self.needs_grad))

    def _masks(self):
        a, lo, hi = self.a, self.lo, self.hi
        inside = np.ones(a.shape, bool)
        if lo is not None:
            inside = inside & (a >= lo)
        if hi is not None:
            inside = inside & (a <= hi)
        masks = [inside]
        if lo is not None:
            masks.append(a < lo if hi is None else (a < lo) & (lo < hi))
        if hi is not None:
            masks.append(a > hi if lo is None else (a > hi) | (lo > hi))
        return masks

    def describe_error(self, inputs, params, err):
        shapes = " and ".join(str(t.shape) for t in inputs)
        return f"clamp: shapes {shapes} cannot be broadcast together"


# --------------------------------------------------------------------------- functions
def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """min(max(x, min), max), elementwise; ``min``/``max`` are numbers or tensors that
    broadcast with ``x`` (tensor bounds get gradients, see :class:`Clip`). If min > max
    the result is max. The dtype is the promotion of x and the bounds (an int tensor
    clamped to 0.5 is float)."""
    if min is None and max is None:
        raise ClampArgumentError("clamp: at least one of 'min' or 'max' must not be None")
    T = tensor_type()
    if not isinstance(input, T):
        input = T(input)
    numbers = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in (min, max)
                  if b is not None)  # fmt: skip
    if numbers and input._data.dtype.kind == "f":  # the common case: no promotion, one node
        return Clip.apply(input, lo=min, hi=max)
    bounds = [b for b in (min, max) if b is not None]
    dt = result_type(input, *bounds)
    ts = [cast(lift(b, dtype=dt), dt) for b in bounds]
    x = cast(input, dt)
    return ClampTensor.apply(x, *ts, has_min=min is not None, has_max=max is not None)


clip = clamp


def clamp_min(input: Tensor, min: Any) -> Tensor:
    """max(x, min): :func:`clamp` with a lower bound only."""
    return clamp(input, min, None)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    """min(x, max): :func:`clamp` with an upper bound only."""
    return clamp(input, None, max)


class ClampMethods:
    """Tensor methods for clamping (``t.clamp(0, 1)`` is ``clamp(t, 0, 1)``)."""

    __slots__ = ()

    clamp = clip = clamp
    clamp_min = clamp_min
    clamp_max = clamp_max

    clamp_min_ = inplace_method(clamp_min)
    clamp_max_ = inplace_method(clamp_max)
