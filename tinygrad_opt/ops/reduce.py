"""Reductions over axes, and the softmax family (normalisations along an axis)."""

from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type
from tinygrad_opt.errors import DTypeError
from tinygrad_opt.ops.common import dim_index, dim_keyword, keepdim_keyword

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "sum",
    "mean",
    "amax",
    "amin",
    "max",
    "min",
    "var",
    "std",
    "logsumexp",
    "softmax",
    "log_softmax",
    "ValuesIndices",
]


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    out = []
    for ax in axes:
        # a 0-d tensor accepts axis 0 and -1 (reducing nothing), as torch does
        n = builtins.max(ndim, 1)
        if not -n <= ax < n:
            lo, hi = -n, n - 1
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {ax})"
            )
        if ndim:
            out.append(ax % ndim)
    return tuple(out)


def _regrow(g: np.ndarray, axes: tuple[int, ...], keepdims: bool, shape: tuple) -> np.ndarray:
    """Put the reduced axes back into ``g`` (as size 1) so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        g = np.expand_dims(g, axes)
    return g


class Reduction(Function):
    def describe_error(self, inputs, params, err):
        return (
            f"{self.name}: cannot reduce shape {inputs[0].shape} over dim {params['axis']}: {err}"
        )


class Sum(Reduction):
    def forward(self, a, axis, keepdims, dtype=None):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        if dtype is None and a.dtype.kind in "biu":
            dtype = np.int64  # sums of bools and integers are int64, as torch
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims, dtype=dtype))

    def backward(self, g):  # every summed element gets g
        return np.broadcast_to(_regrow(g, self.axes, self.keepdims, self.shape), self.shape)


class Mean(Reduction):
    def forward(self, a, axis, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        return np.asarray(a.mean(axis=self.axes, keepdims=keepdims))

    def backward(self, g):  # every averaged element gets g / count
        g = _regrow(g, self.axes, self.keepdims, self.shape) / self.count
        return np.broadcast_to(g, self.shape)


class Max(Reduction):
    reducer = staticmethod(np.max)

    def forward(self, a, axis, keepdims):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        self.out = np.asarray(self.reducer(a, axis=self.axes, keepdims=keepdims))
        return self.out

    def backward(self, g):  # to the arg-extreme elements, split evenly between ties
        out = _regrow(self.out, self.axes, self.keepdims, self.a.shape)
        hits = self.a == out
        count = hits.sum(axis=self.axes, keepdims=True)
        return _regrow(g, self.axes, self.keepdims, self.a.shape) * hits / count


class Min(Max):
    reducer = staticmethod(np.min)


class Var(Reduction):
    def forward(self, a, axis, keepdims, correction):
        self.axes, self.keepdims, self.shape = _normalize_axes(axis, a.ndim), keepdims, a.shape
        n = math.prod(a.shape[i] for i in self.axes)
        self.denom = builtins.max(n - correction, 0)
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (self.centered**2).sum(axis=self.axes, keepdims=keepdims) / self.denom
        return np.asarray(out, dtype=a.dtype)

    def backward(self, g):  # d/da_i Σ(a - ā)²/(n - c) = 2(a_i - ā)/(n - c)
        g = _regrow(g, self.axes, self.keepdims, self.shape)
        # n <= c: the variance is nan (0/0), and so is its gradient (as torch)
        scale = 2.0 / self.denom if self.denom else math.nan
        return g * scale * self.centered


class Std(Var):
    """√var. Backward g·(a - ā)/((n - c)·std), taken as 0 where std = 0 (torch's choice:
    a constant slice has a zero gradient, not the nan of 1/(2√0) · 0)."""

    def forward(self, a, axis, keepdims, correction):
        self.out = np.sqrt(super().forward(a, axis, keepdims, correction))
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(self.out == 0, 0, g / (2 * self.out)).astype(self.out.dtype, copy=False)
        return super().backward(g)


class LogSumExp(Reduction):
    def forward(self, a, axis, keepdims):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        m = a.max(axis=self.axes, keepdims=True, initial=-np.inf)  # empty axes: -inf, as torch
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        out = m + np.log(np.exp(a - m).sum(axis=self.axes, keepdims=True))
        self.out_kept = out
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):  # d/da_i log Σ eᵃ = softmax(a)_i
        g = _regrow(g, self.axes, self.keepdims, self.a.shape)
        return g * np.exp(self.a - self.out_kept)


class Softmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        e = np.exp(a - a.max(axis=axis, keepdims=True, initial=-np.inf))  # initial: empty axis
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):  # s ⊙ (g - Σ g⊙s): the Jacobian diag(s) - s sᵀ applied to g
        s = self.out
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: empty axis
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):  # g - softmax ⊙ Σ g
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


class MaxDim(Function):
    """Max (or min) along one dim with the index it came from; the gradient goes to that
    index only (the first of tied extremes, as torch's ``max(dim)``)."""

    def forward(self, a, dim, keepdim, largest):
        self.shape, self.dim, self.keepdim = a.shape, dim, keepdim
        if a.ndim == 0:
            self.idx = np.zeros((), dtype=np.int64)
            return a.copy()
        if a.shape[dim] == 0:
            raise IndexError(f"cannot take the {'max' if largest else 'min'} of an empty dim {dim}")
        pick = np.argmax if largest else np.argmin
        idx = np.expand_dims(pick(a, axis=dim), dim)
        if a.dtype.kind == "f":  # NaN is the extreme, as torch
            nan = np.isnan(a)
            if nan.any():
                first_nan = np.expand_dims(np.argmax(nan, axis=dim), dim)
                has = np.take_along_axis(nan, first_nan, dim)
                idx = np.where(has, first_nan, idx)
        values = np.take_along_axis(a, idx, dim)
        self.idx = idx if keepdim else np.squeeze(idx, dim)
        return values if keepdim else np.squeeze(values, dim)

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        if not self.shape:
            return g.copy()
        idx = self.idx if self.keepdim else np.expand_dims(self.idx, self.dim)
        gg = g if self.keepdim else np.expand_dims(g, self.dim)
        np.put_along_axis(out, idx, gg, self.dim)
        return out


# --------------------------------------------------------------------------- functions
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "(values, indices), as torch's ``max(dim)``/``min(dim)`` return."


def _axes(dim, axis):
    d = dim_keyword(dim, axis)
    if d is None or isinstance(d, (int, np.integer)):
        return None if d is None else int(d)
    return tuple(int(a) for a in d)


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Σ over ``dim`` (all dims when None). Bool and integer sums are int64, as torch."""
    return Sum.apply(
        input, axis=_axes(dim, axis), keepdims=keepdim_keyword(keepdim, keepdims), dtype=dtype
    )


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """The average over ``dim``; needs a floating tensor (or ``dtype=``), as torch."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise DTypeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, "
            f"got {input.dtype}"
        )
    return Mean.apply(input, axis=_axes(dim, axis), keepdims=keepdim_keyword(keepdim, keepdims))


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (all dims when empty); tied maxima share the gradient evenly."""
    d = _axes(None if dim == () else dim, axis)
    return Max.apply(input, axis=d, keepdims=keepdim_keyword(keepdim, keepdims))


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (all dims when empty); tied minima share the gradient evenly."""
    d = _axes(None if dim == () else dim, axis)
    return Min.apply(input, axis=d, keepdims=keepdim_keyword(keepdim, keepdims))


def _extreme(input, dim, keepdim, largest, axis, keepdims):
    T = tensor_type()
    if isinstance(dim, T) or (dim is not None and not isinstance(dim, (int, np.integer))):
        if isinstance(dim, (tuple, list)):
            raise TypeError("max/min(dim) takes one int dim; use amax/amin for several dims")
        from tinygrad_opt.ops.elementwise import maximum, minimum

        return (maximum if largest else minimum)(input, dim)
    if axis is not None:  # the older numpy-style spelling: the values only
        reducer = Max if largest else Min
        return reducer.apply(input, axis=_axes(None, axis), keepdims=bool(keepdims))
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError(
                f"{'max' if largest else 'min'}(): expected a non-empty tensor (shape "
                f"{input.shape}); give a dim"
            )
        # torch's full max()/min() shares the gradient evenly between tied extremes
        return (Max if largest else Min).apply(input, axis=None, keepdims=False)
    d = dim_index(dim, input.shape, "max" if largest else "min")
    values = MaxDim.apply(input, dim=d, keepdim=keepdim_keyword(keepdim, keepdims), largest=largest)
    indices = T(
        values._ctx.idx if values._ctx is not None else _argextreme(input, d, keepdim, largest)
    )
    return ValuesIndices(values, indices)


def _argextreme(input, d, keepdim, largest):
    ctx = MaxDim()
    ctx.forward(input._data, d, keepdim, largest)
    return ctx.idx


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``max()``: the largest element; ``max(dim)``: (values, indices) along ``dim``;
    ``max(other)``: the elementwise maximum. (``axis=`` gives amax, the older spelling.)"""
    return _extreme(input, dim, keepdim, True, axis, keepdims)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``min()``, ``min(dim)`` → (values, indices), ``min(other)``: as :func:`max`."""
    return _extreme(input, dim, keepdim, False, axis, keepdims)


def var(
    input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None
):
    """Variance with Bessel's ``correction`` (1 = unbiased, torch's default; 0 = population)."""
    if unbiased is not None and not isinstance(unbiased, bool):  # var(x, dim, keepdim) misuse
        raise TypeError(f"var: unbiased must be a bool, got {unbiased!r}")
    corr = correction if correction is not None else (0 if unbiased is False else 1)
    return Var.apply(
        input, axis=_axes(dim, axis), keepdims=keepdim_keyword(keepdim, keepdims), correction=corr
    )


def std(
    input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None
):
    """√var; where it is 0 the gradient is 0 (as torch), not nan."""
    if unbiased is not None and not isinstance(unbiased, bool):
        raise TypeError(f"std: unbiased must be a bool, got {unbiased!r}")
    corr = correction if correction is not None else (0 if unbiased is False else 1)
    return Std.apply(
        input, axis=_axes(dim, axis), keepdims=keepdim_keyword(keepdim, keepdims), correction=corr
    )


def logsumexp(input, dim=-1, keepdim=False, *, axis=-1, keepdims=None):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m = max(x): no overflow."""
    d = axis if dim == -1 else dim  # dim=None (or axis=None): every dim
    return LogSumExp.apply(input, axis=_axes(d, None), keepdims=keepdim_keyword(keepdim, keepdims))


def softmax(input, dim=None, *, dtype=None, axis=None):
    """exp(x) / Σ exp(x) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    d = dim_keyword(dim, axis, default=-1)
    return Softmax.apply(input, axis=dim_index(d, input.shape, "softmax"))


def log_softmax(input, dim=None, *, dtype=None, axis=None):
    """x − logsumexp(x) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    d = dim_keyword(dim, axis, default=-1)
    return LogSoftmax.apply(input, axis=dim_index(d, input.shape, "log_softmax"))


class ReduceMethods:
    """Tensor methods for reductions (``t.sum(1)`` is ``sum(t, 1)``)."""

    __slots__ = ()

    sum = sum
    mean = mean
    amax = amax
    amin = amin
    max = max
    min = min
    var = var
    std = std
    logsumexp = logsumexp
    softmax = softmax
    log_softmax = log_softmax
