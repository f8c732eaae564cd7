"""Reductions over dims: sums, means, products, moments, logic.

Every reduction takes torch's ``dim`` (an int, a tuple/list of ints, or None = every
dim; an empty tuple/list also means every dim, as torch) and ``keepdim``; the older
``axis``/``keepdims`` spellings are accepted too. Result dtypes follow torch: sums and
products of bool/integer tensors are int64, ``any``/``all`` give bool, ``mean``/``var``
need a floating tensor. Norms are in :mod:`~tinygrad_opt.ops.norms`, max/min in
:mod:`~tinygrad_opt.ops.extrema`, logsumexp and the softmax family in
:mod:`~tinygrad_opt.ops.softmax` (still importable from here). :data:`ValuesIndices`
(defined in :mod:`~tinygrad_opt.ops.select`) is exported from here too.
"""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant
from tinygrad_opt.dtypes import to_dtype
from tinygrad_opt.errors import DTypeError
from tinygrad_opt.ops.common import cast, dim_keyword, keepdim_keyword
from tinygrad_opt.ops.select import ValuesIndices, take_along  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "sum",
    "mean",
    "prod",
    "nansum",
    "nanmean",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "any",
    "all",
    "count_nonzero",
    "ValuesIndices",
]

Dim = int | tuple[int, ...] | list[int] | None


class NoKernelError(DTypeError, NotImplementedError):
    """An op has no implementation for this dtype (``softmax`` of integers, ``median`` of
    bools …): torch raises ``NotImplementedError`` there, a ``RuntimeError``; this is both,
    and a :class:`~tinygrad_opt.errors.DTypeError`."""


# --------------------------------------------------------------------------- dims
def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None = every dim, an int or a sequence) as indices in ``range(ndim)``.

    An empty sequence reduces nothing (numpy's ``axis=()``; torch's ``dim=()`` means every
    dim and is turned into None by :func:`_axes`). A 0-d array accepts 0 and -1. Raises
    IndexError (out of range) or ValueError (a repeat), which ``Function.apply`` turns
    into a DimError / ShapeError naming the op and the shape."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = builtins.max(ndim, 1)
    out = []
    for ax in axes:
        if isinstance(ax, (bool, np.bool_)) or not isinstance(ax, (int, np.integer)):
            raise IndexError(f"dims must be ints, got {ax!r}")
        if not -n <= ax < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {ax})"
            )
        out.append(int(ax) % n)
    if len(set(out)) != len(out):
        raise ValueError(f"dim {axes} names a dimension more than once")
    return tuple(out) if ndim else ()


def _regrow(g: np.ndarray, axes: tuple[int, ...], keepdims: bool, shape: tuple) -> np.ndarray:
    """Put the reduced axes back into ``g`` (as size 1) so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        g = np.expand_dims(g, axes)
    return g


def _regrow_tensor(g: Tensor, axes: tuple[int, ...], keepdims: bool, shape: tuple) -> Tensor:
    """:func:`_regrow` for a Tensor ``g`` (a differentiable reshape)."""
    if not keepdims and axes and len(shape):
        return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return g


def _axes(dim: Any, axis: Any, empty_is_all: bool = True) -> Any:
    """The dim argument as None (every dim), an int or a tuple. torch's ``dim`` given as an
    empty tuple/list means every dim (unless ``empty_is_all`` is False: ``any``/``all``);
    the older numpy-style ``axis=()`` reduces nothing, as numpy."""
    d = dim_keyword(dim, axis)
    if d is None or isinstance(d, (int, np.integer)):
        return None if d is None else int(d)
    d = tuple(d)
    return None if not d and empty_is_all and axis is None else d


def _floating(input: Tensor, op: str, what: str = "") -> None:
    if input._data.dtype.kind != "f":
        raise DTypeError(
            f"{op}(): expected a floating point tensor{what}, got dtype {input.dtype} "
            f"(shape {input.shape})"
        )


class Reduction(Function):
    """Base of the reductions: names the op, shape and dims when the dims are bad."""

    def describe_error(self, inputs, params, err):
        return (
            f"{self.name}: cannot reduce shape {inputs[0].shape} over dim {params['axis']}: {err}"
        )


# --------------------------------------------------------------------------- sums and means
def _int64_unless(a: np.ndarray, keep_dtype: bool) -> Any:
    """The accumulator dtype of sums and products: int64 for bool/integer input, as
    torch, unless the caller asked for a ``dtype`` (then the input already has it)."""
    if keep_dtype:
        return a.dtype  # numpy would widen small integers on its own
    return np.int64 if a.dtype.kind in "biu" else None


class Sum(Reduction):
    saves_inputs = False

    def forward(self, a, axis, keepdims, keep_dtype=False):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        dtype = _int64_unless(a, keep_dtype)
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims, dtype=dtype))

    def backward(self, g):  # every summed element gets g
        return np.broadcast_to(_regrow(g, self.axes, self.keepdims, self.shape), self.shape)

    def vjp(self, g):
        return _regrow_tensor(g, self.axes, self.keepdims, self.shape).expand(self.shape)


class Mean(Reduction):
    saves_inputs = False

    def forward(self, a, axis, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        with np.errstate(invalid="ignore", divide="ignore"):  # empty: nan, as torch
            return np.asarray(a.sum(axis=self.axes, keepdims=keepdims) / self.count, a.dtype)

    def backward(self, g):  # every averaged element gets g / count
        with np.errstate(invalid="ignore", divide="ignore"):
            g = _regrow(g, self.axes, self.keepdims, self.shape) / self.count
        return np.broadcast_to(g, self.shape)

    def vjp(self, g):  # expanded first: an empty input's gradient has no 0/0 to send back
        g = _regrow_tensor(g, self.axes, self.keepdims, self.shape).expand(self.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / self.count


class Prod(Reduction):
    """Π over the dims. Backward: ∂Π/∂a_i = Π_{j≠i} a_j, taken as (product of the elements
    before i) × (product of those after i) along the flattened reduced dims, not Π/a_i:
    exact with zeros (one zero: only it gets a gradient, the product of the others; two
    or more: every gradient is 0), as torch."""

    def forward(self, a, axis, keepdims, keep_dtype=False):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        dtype = _int64_unless(a, keep_dtype)
        return np.asarray(np.prod(a, axis=self.axes, keepdims=keepdims, dtype=dtype))

    def backward(self, g):
        a, axes = self.a, self.axes
        kept = [i for i in range(a.ndim) if i not in axes]
        n = math.prod(a.shape[i] for i in axes)
        flat = np.transpose(a, kept + list(axes)).reshape([a.shape[i] for i in kept] + [n])
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)[..., :n]
        after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., :n][..., ::-1]
        others = (before * after).reshape([a.shape[i] for i in kept + list(axes)])
        others = np.transpose(others, np.argsort(kept + list(axes)))
        return _regrow(g, axes, self.keepdims, a.shape) * others

    def vjp(self, g):
        # as torch: without zeros Π_{j≠i} a_j = Π / a_i, Π recomputed (differentiable);
        # with zeros the exact products of the others (see _others_product)
        a = self.parents[0]
        g = _regrow_tensor(g, self.axes, self.keepdims, self.a.shape)
        if not self.axes:  # a product over no dims is the identity
            return g
        if not (self.a == 0).any():
            return g * (Prod.apply(a, axis=self.axes, keepdims=True) / a)
        return g * _others_product(a, self.axes)


def _others_product(a: Tensor, axes: tuple[int, ...]) -> Tensor:
    """For every element a_i, Π_{j≠i} a_j over the slice of the reduced ``axes`` holding it,
    in differentiable Tensor ops and exact with zeros: the reduced dims are flattened to
    one of size n and each slice becomes an n × n array whose row i is the slice with a_i
    replaced by 1, whose row products are the wanted ones (n² memory: used only with
    zeros, for derivatives)."""
    kept = [i for i in range(a.ndim) if i not in axes]
    order = kept + list(axes)
    n = math.prod(a.shape[i] for i in axes)
    flat = a.permute(*order).reshape(*[a.shape[i] for i in kept], 1, n)
    eye = np.eye(n, dtype=a.dtype)
    rows = flat * constant(1 - eye) + constant(eye)
    others = Prod.apply(rows, axis=-1, keepdims=False).reshape([a.shape[i] for i in order])
    return others.permute(*[int(i) for i in np.argsort(order)])


class NanSum(Reduction):
    """Σ of the non-NaN elements; the gradient is g where the input is not NaN, 0 at NaN."""

    def forward(self, a, axis, keepdims, keep_dtype=False):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        dtype = _int64_unless(a, keep_dtype)
        return np.asarray(np.nansum(a, axis=self.axes, keepdims=keepdims, dtype=dtype))

    def backward(self, g):
        return _regrow(g, self.axes, self.keepdims, self.a.shape) * ~np.isnan(self.a)

    def vjp(self, g):
        keep = constant((~np.isnan(self.a)).astype(g.dtype))
        return _regrow_tensor(g, self.axes, self.keepdims, self.a.shape) * keep


class NanMean(NanSum):
    """Σ non-NaN / (number of non-NaN); the gradient is g / count where not NaN (all-NaN
    slices: NaN value and NaN gradients, as torch)."""

    def forward(self, a, axis, keepdims):
        total = super().forward(a, axis, keepdims)
        self.count = (~np.isnan(a)).sum(axis=self.axes, keepdims=True)
        count = self.count if keepdims else np.squeeze(self.count, self.axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(total / count, dtype=a.dtype)

    def backward(self, g):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (_regrow(g, self.axes, self.keepdims, self.a.shape) / self.count) * ~np.isnan(
                self.a
            )

    def vjp(self, g):
        # expanded first: an empty input's gradient has no 0/0 to send back (as Mean)
        g = _regrow_tensor(g, self.axes, self.keepdims, self.a.shape).expand(self.a.shape)
        keep = constant((~np.isnan(self.a)).astype(g.dtype))
        count = constant(self.count.astype(g.dtype))
        with np.errstate(invalid="ignore", divide="ignore"):
            return (g / count) * keep


# --------------------------------------------------------------------------- moments
class Var(Reduction):
    def forward(self, a, axis, keepdims, correction):
        self.axes, self.keepdims, self.shape = _normalize_axes(axis, a.ndim), keepdims, a.shape
        n = math.prod(a.shape[i] for i in self.axes)
        self.denom, self.dof = builtins.max(n - correction, 0), n - correction
        self.full = axis is None or a.ndim == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.centered = a - a.sum(axis=self.axes, keepdims=True) / a.dtype.type(n)
            out = (self.centered**2).sum(axis=self.axes, keepdims=keepdims) / self.denom
        return np.asarray(out, dtype=a.dtype)

    def backward(self, g):  # d/da_i Σ(a - ā)²/(n - c) = 2(a_i - ā)/(n - c)
        g = _regrow(g, self.axes, self.keepdims, self.shape)
        # n <= c, as torch: the forward divides by max(n - c, 0) (so inf, or nan for 0/0);
        # the backward of a whole-tensor variance is nan where a_i = ā and inf elsewhere,
        # that of a variance over dims divides by n - c itself (n = c: 2/0 = inf, × 0 = nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.full and self.dof <= 0:
                return g * np.where(self.centered == 0, np.nan, np.inf).astype(g.dtype)
            scale = np.divide(2.0, self.dof, dtype=self.centered.dtype)
            return g * scale * self.centered

    def vjp(self, g):
        return self._var_vjp(g)

    def _var_vjp(self, g: Tensor) -> Tensor:
        """``backward`` in Tensor ops, the mean recomputed from the input (as torch's).
        ``g`` may already have the input's shape (from :meth:`Std.vjp`)."""
        a = self.parents[0]
        if g.shape != self.shape:
            g = _regrow_tensor(g, self.axes, self.keepdims, self.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.full and self.dof <= 0:
                nan_inf = np.where(self.centered == 0, np.nan, np.inf).astype(g.dtype)
                return g * constant(nan_inf)
            scale = float(np.divide(2.0, self.dof, dtype=self.centered.dtype))
            return g * scale * (a - Mean.apply(a, axis=self.axes, keepdims=True))


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

    def vjp(self, g):
        # g / (2 std), 0 where std = 0 (as torch, the std recomputed, differentiable): there
        # the divisor is made 1 and the quotient multiplied by 0, a mask with no gradient
        # (everything on the input's shape, so that an empty input's gradient has no 0/0
        # to send back)
        regrow = _regrow_tensor
        g = regrow(g, self.axes, self.keepdims, self.shape).expand(self.shape)
        out = regrow(Std.apply(*self.parents, **self.params), self.axes, self.keepdims, self.shape)
        zero = _regrow(self.out, self.axes, self.keepdims, self.shape) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            if zero.any():
                safe = out + constant(zero.astype(g.dtype))
                g = g / (2 * safe) * constant((~zero).astype(g.dtype))
            else:
                g = g / (2 * out)
        return self._var_vjp(g)


# --------------------------------------------------------------------------- logic
class Logical(Reduction):
    """``any`` / ``all`` (bool; uint8 for uint8 input, as torch) and ``count_nonzero``
    (int64) over the dims: no gradient."""

    def describe_error(self, inputs, params, err):
        name = {"count": "count_nonzero"}.get(params["how"], params["how"])
        return f"{name}: cannot reduce shape {inputs[0].shape} over dim {params['axis']}: {err}"

    def forward(self, a, axis, keepdims, how):
        axes = _normalize_axes(axis, a.ndim)
        if how == "count":
            return np.asarray(np.count_nonzero(a, axis=axes), dtype=np.int64)
        out = np.asarray((np.any if how == "any" else np.all)(a, axis=axes, keepdims=keepdims))
        return out.astype(np.uint8) if a.dtype == np.uint8 else out


# --------------------------------------------------------------------------- functions
def _with_dtype(input: Tensor, dtype: Any) -> Tensor:
    return input if dtype is None else cast(input, to_dtype(dtype))


def sum(
    input: Tensor,
    dim: Dim = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Σ over ``dim`` (every dim when None or empty). Bool and integer sums are int64, as
    torch; ``dtype`` casts the input first (the sum is then done in that dtype)."""
    keep = keepdim_keyword(keepdim, keepdims)
    x = _with_dtype(input, dtype)
    return Sum.apply(x, axis=_axes(dim, axis), keepdims=keep, keep_dtype=dtype is not None)


def mean(
    input: Tensor,
    dim: Dim = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Σ / count over ``dim``; needs a floating tensor or a floating ``dtype``, as torch."""
    if dtype is not None and to_dtype(dtype).kind != "f":
        raise DTypeError(
            f"mean(): could not infer output dtype. Optional dtype must be a floating point "
            f"dtype, got {to_dtype(dtype)}"
        )
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind != "f":
        raise DTypeError(
            f"mean(): could not infer output dtype. Input dtype must be floating point, "
            f"got {input.dtype}"
        )
    return Mean.apply(input, axis=_axes(dim, axis), keepdims=keepdim_keyword(keepdim, keepdims))


def prod(
    input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None
) -> Tensor:
    """Π over one ``dim`` (every element when None); bool/integer products are int64.
    The gradient is right with zeros in the input (see :class:`Prod`)."""
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): dim must be an int or None, got {dim!r}")
    return Prod.apply(
        _with_dtype(input, dtype), axis=dim, keepdims=bool(keepdim), keep_dtype=dtype is not None
    )


def nansum(input: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Σ over ``dim`` treating NaN as 0 (bool/integer sums are int64)."""
    return NanSum.apply(
        _with_dtype(input, dtype),
        axis=_axes(dim, None),
        keepdims=bool(keepdim),
        keep_dtype=dtype is not None,
    )


def nanmean(input: Tensor, dim: Dim = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The mean of the non-NaN elements over ``dim`` (NaN where all are NaN); floating only."""
    _floating(input, "nanmean")  # even with a dtype, as torch
    input = _with_dtype(input, dtype)
    return NanMean.apply(input, axis=_axes(dim, None), keepdims=bool(keepdim))


def _var_args(op: str, input: Tensor, dim: Any, unbiased: Any, correction: Any) -> tuple:
    """torch's spellings of var/std: ``var(dim, unbiased, keepdim)``, ``var(unbiased)``
    (a bool in dim's place) and ``var(dim, correction=c)``; returns (dim, correction)."""
    if isinstance(dim, (bool, np.bool_)):  # x.var(True): the unbiased flag, every dim
        if unbiased is not None:
            raise TypeError(f"{op}(): unbiased given twice")
        dim, unbiased = None, bool(dim)
    if unbiased is not None and not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"{op}(): unbiased must be a bool, got {unbiased!r}")
    if input._data.dtype.kind != "f":
        raise DTypeError(
            f"{op}(): std and var only support floating point dtypes, got {input.dtype}"
        )
    corr = correction if correction is not None else (0 if unbiased is False else 1)
    return dim, corr


def _moment(fn: type[Var], op, input, dim, unbiased, keepdim, correction, axis, keepdims) -> Tensor:
    """``var`` or ``std`` (``fn`` is :class:`Var` or :class:`Std`) from torch's arguments."""
    dim, corr = _var_args(op, input, dim, unbiased, correction)
    keep = keepdim_keyword(keepdim, keepdims)
    return fn.apply(input, axis=_axes(dim, axis), keepdims=keep, correction=corr)


def _with_mean(moment, op, input, dim, unbiased, keepdim, correction) -> tuple[Tensor, Tensor]:
    """``(moment, mean)`` over ``dim``: ``var_mean`` / ``std_mean``."""
    dim, corr = _var_args(op, input, dim, unbiased, correction)
    return moment(input, dim, keepdim=keepdim, correction=corr), mean(input, dim, keepdim)


def var(
    input: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Σ(x - x̄)² / (n - correction) over ``dim``; ``correction`` 1 (Bessel's, the default,
    ``unbiased=True``) or 0 (``unbiased=False``) or any number."""
    return _moment(Var, "var", input, dim, unbiased, keepdim, correction, axis, keepdims)


def std(
    input: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """√var (same arguments); where it is 0 the gradient is 0 (as torch), not nan."""
    return _moment(Std, "std", input, dim, unbiased, keepdim, correction, axis, keepdims)


def var_mean(
    input: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim`` (a plain tuple, as torch), arguments as :func:`var`."""
    return _with_mean(var, "var_mean", input, dim, unbiased, keepdim, correction)


def std_mean(
    input: Tensor,
    dim: Dim | bool = None,
    unbiased: bool | None = None,
    keepdim: bool = False,
    *,
    correction: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim`` (a plain tuple, as torch), arguments as :func:`std`."""
    return _with_mean(std, "std_mean", input, dim, unbiased, keepdim, correction)


def any(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """True where some element over ``dim`` is nonzero (bool; uint8 for uint8 input).
    ``dim=()`` reduces nothing, as torch."""
    d = _axes(dim, None, empty_is_all=False)
    return Logical.apply(input, axis=d, keepdims=bool(keepdim), how="any")


def all(input: Tensor, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """True where every element over ``dim`` is nonzero (bool; uint8 for uint8 input)."""
    d = _axes(dim, None, empty_is_all=False)
    return Logical.apply(input, axis=d, keepdims=bool(keepdim), how="all")


def count_nonzero(input: Tensor, dim: Dim = None) -> Tensor:
    """The number of nonzero elements over ``dim`` (int64)."""
    return Logical.apply(input, axis=_axes(dim, None), keepdims=False, how="count")


class ReduceMethods:
    """Tensor methods for reductions (``t.sum(1)`` is ``sum(t, 1)``)."""

    __slots__ = ()

    sum = sum
    mean = mean
    prod = prod
    nansum = nansum
    nanmean = nanmean
    var = var
    std = std
    any = any
    all = all
    count_nonzero = count_nonzero


#: names that moved to :mod:`~tinygrad_opt.ops.softmax`, still importable from here
_MOVED = ("LogSumExp", "Softmax", "LogSoftmax", "logsumexp", "softmax", "log_softmax")


def __getattr__(name: str) -> Any:
    """Lazy re-export of :data:`_MOVED` (softmax.py imports this module: no import cycle)."""
    if name in _MOVED:
        from tinygrad_opt.ops import softmax as _softmax

        return getattr(_softmax, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
