"""logsumexp and the softmax family (softmax, log_softmax): normalised exponentials.

All three shift by the maximum before exponentiating, so logits of any size give finite,
exact results: logsumexp(x) = m + log Σ exp(x - m) with m = max(x), softmax(x) =
exp(x - m) / Σ exp(x - m), log_softmax(x) = (x - m) - log Σ exp(x - m). ``logsumexp``
reduces over dims as the reductions of :mod:`~tinygrad_opt.ops.reduce` do; softmax and
log_softmax keep the shape and normalise along one dim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.dtypes import get_default_dtype
from tinygrad_opt.ops.common import cast, dim_index, dim_keyword, keepdim_keyword
from tinygrad_opt.ops.reduce import (
    Dim,
    NoKernelError,
    Reduction,
    _axes,
    _normalize_axes,
    _regrow,
    _regrow_tensor,
    _with_dtype,
)

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["logsumexp", "softmax", "log_softmax"]


class LogSumExp(Reduction):
    def forward(self, a, axis, keepdims):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        m = a.max(axis=self.axes, keepdims=True, initial=-np.inf)  # empty axes: -inf, as torch
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        with np.errstate(divide="ignore"):
            out = m + np.log(np.exp(a - m).sum(axis=self.axes, keepdims=True))
        self.out_kept = out
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):  # d/da_i log Σ eᵃ = softmax(a)_i
        g = _regrow(g, self.axes, self.keepdims, self.a.shape)
        with np.errstate(invalid="ignore"):
            return g * np.exp(self.a - self.out_kept)

    def vjp(self, g):  # g · exp(a - logsumexp(a)), the logsumexp recomputed (differentiable)
        a = self.parents[0]
        g = _regrow_tensor(g, self.axes, self.keepdims, self.a.shape)
        with np.errstate(invalid="ignore"):
            return g * (a - LogSumExp.apply(a, axis=self.axes, keepdims=True)).exp()


class Softmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        e = np.exp(a - a.max(axis=axis, keepdims=True, initial=-np.inf))  # initial: empty axis
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):  # s ⊙ (g - Σ g⊙s): the Jacobian diag(s) - s sᵀ applied to g
        s = self.out
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))

    def vjp(self, g):  # the same, s recomputed from the input (differentiable)
        s = Softmax.apply(self.parents[0], axis=self.axis)
        return s * (g - (g * s).sum(self.axis, keepdim=True))


class LogSoftmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: empty axis
        with np.errstate(divide="ignore"):  # an empty dim: log 0, nothing to subtract from
            self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):  # g - softmax ⊙ Σ g
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)

    def vjp(self, g):  # the same, softmax recomputed from the input (differentiable)
        return g - Softmax.apply(self.parents[0], axis=self.axis) * g.sum(self.axis, keepdim=True)


# --------------------------------------------------------------------------- functions
def logsumexp(
    input: Tensor,
    dim: Dim = -1,
    keepdim: bool = False,
    *,
    axis: Dim = -1,
    keepdims: bool | None = None,
) -> Tensor:
    """log Σ exp(x) over ``dim`` (an int or tuple; torch requires it, here it defaults to the
    last dim), computed as m + log Σ exp(x - m) with m = max(x): no overflow. Integer
    inputs give the default float dtype, as torch."""
    d = axis if dim == -1 else dim  # dim=None (or axis=None): every dim
    if input._data.dtype.kind != "f":
        input = cast(input, get_default_dtype())
    return LogSumExp.apply(input, axis=_axes(d, None), keepdims=keepdim_keyword(keepdim, keepdims))


def _softmax_input(input: Tensor, dtype: Any, op: str) -> Tensor:
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind != "f":
        raise NoKernelError(f"{op}(): needs a floating point tensor (or dtype=), got {input.dtype}")
    return input


def softmax(
    input: Tensor, dim: int | None = None, dtype: Any = None, *, axis: Any = None
) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (the last dim when None); ``dtype`` casts first."""
    input = _softmax_input(input, dtype, "softmax")
    d = dim_keyword(dim, axis, default=-1)
    return Softmax.apply(input, axis=dim_index(d, input.shape, "softmax"))


def log_softmax(
    input: Tensor, dim: int | None = None, dtype: Any = None, *, axis: Any = None
) -> Tensor:
    """x − logsumexp(x) along ``dim`` (the last dim when None); ``dtype`` casts first."""
    input = _softmax_input(input, dtype, "log_softmax")
    d = dim_keyword(dim, axis, default=-1)
    return LogSoftmax.apply(input, axis=dim_index(d, input.shape, "log_softmax"))


class SoftmaxMethods:
    """Tensor methods for the softmax family (``t.softmax(1)`` is ``softmax(t, 1)``)."""

    __slots__ = ()

    logsumexp = logsumexp
    softmax = softmax
    log_softmax = log_softmax
