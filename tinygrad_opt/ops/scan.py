"""Scans (running reductions along one dim): ``cumsum``, ``cumprod``, ``cummax``/``cummin``
and ``logcumsumexp``. Each output element j reduces the input elements 0..j of its slice;
every op is one numpy accumulate along the dim (no loops over elements)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant
from tinygrad_opt.dtypes import to_dtype
from tinygrad_opt.ops.common import cast, dim_index, dim_keyword
from tinygrad_opt.ops.reduce import NoKernelError, Prod, _int64_unless
from tinygrad_opt.ops.select import ValuesIndices, take_along

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _reverse_cumsum(x: np.ndarray, dim: int) -> np.ndarray:
    """r_k = Σ_{j ≥ k} x_j along ``dim``."""
    return np.flip(np.cumsum(np.flip(x, dim), dim), dim)


class Scan(Function):
    """Base of the scans: 0-d inputs scan over their single element."""

    def describe_error(self, inputs, params, err):
        return f"{self.name}: cannot scan shape {inputs[0].shape} along dim {params['dim']}: {err}"


class CumSum(Scan):
    """y_j = Σ_{i ≤ j} a_i. Backward: ∂L/∂a_k = Σ_{j ≥ k} g_j, a reversed cumsum."""

    saves_inputs = False

    def forward(self, a, dim, keep_dtype=False):
        self.dim = dim
        dtype = _int64_unless(a, keep_dtype)
        if a.ndim == 0:
            return a.astype(dtype) if dtype else a.copy()
        return np.cumsum(a, axis=dim, dtype=dtype)

    def backward(self, g):
        return g.copy() if g.ndim == 0 else _reverse_cumsum(g, self.dim)

    def vjp(self, g):
        return g if g.ndim == 0 else ReverseCumSum.apply(g, dim=self.dim)


class ReverseCumSum(Scan):
    """r_k = Σ_{j ≥ k} x_j along ``dim``: the adjoint of :class:`CumSum`, whose backward
    is a cumsum (so cumsum's derivatives of every order are one numpy kernel each)."""

    saves_inputs = False

    def forward(self, x, dim):
        self.dim = dim
        return _reverse_cumsum(x, dim)

    def backward(self, g):
        return np.cumsum(g, axis=self.dim)

    def vjp(self, g):
        return CumSum.apply(g, dim=self.dim)


class CumProd(Scan):
    """y_j = Π_{i ≤ j} a_i. Backward: ∂L/∂a_k = Σ_{j ≥ k} g_j Π_{i ≤ j, i ≠ k} a_i, computed
    without dividing by zeros. With z the first zero of a slice:

    - k < z: Σ_{j ≥ k} g_j y_j / a_k (a_k ≠ 0; y_j = 0 from z on, so those terms vanish);
    - k = z: Σ_{j ≥ z} g_j y'_j with y' the cumprod of the slice with a_z set to 1;
    - k > z: 0 (every product still holds a_z = 0).

    This is the exact derivative with any number of zeros, as torch's."""

    def forward(self, a, dim, keep_dtype=False):
        self.a, self.dim = a, dim
        dtype = _int64_unless(a, keep_dtype)
        if a.ndim == 0:
            self.out = a.astype(dtype) if dtype else a.copy()
        else:
            self.out = np.cumprod(a, axis=dim, dtype=dtype)
        return self.out

    def backward(self, g):
        a, d, out = self.a, self.dim, self.out
        if a.ndim == 0 or a.shape[d] == 0:
            return g.copy()
        zero = a == 0
        pos = np.arange(a.shape[d]).reshape([-1 if i == d else 1 for i in range(a.ndim)])
        has = zero.any(axis=d, keepdims=True)
        first = np.where(has, np.argmax(zero, axis=d, keepdims=True), a.shape[d])
        with np.errstate(divide="ignore", invalid="ignore"):
            before = _reverse_cumsum(g * out, d) / np.where(pos < first, a, 1)
        at_zero = np.cumprod(np.where(pos == first, 1, a), axis=d)
        at_zero = _reverse_cumsum(g * at_zero, d)
        return np.where(pos < first, before, np.where(pos == first, at_zero, 0)).astype(
            g.dtype, copy=False
        )

    def vjp(self, g):
        # as torch: without zeros Σ_{j ≥ k} g_j y_j / a_k with y recomputed (differentiable);
        # with zeros the derivative of the composite (exact, n² memory per slice)
        a = self.parents[0]
        if a.ndim == 0 or a.shape[self.dim] <= 1:
            return g
        if not (self.a == 0).any():
            y = CumProd.apply(a, dim=self.dim)
            return ReverseCumSum.apply(g * y, dim=self.dim) / a
        return super().vjp(g)

    def composite(self, a, dim, keep_dtype=False):
        """y_j = Π_{i ≤ j} a_i as the row products of an n × n array per slice whose row j
        holds a_0 … a_j and then ones."""
        if a.ndim == 0:
            return a
        n = a.shape[dim]
        lower = np.tril(np.ones((n, n), dtype=a.dtype))
        rows = a.movedim(dim, -1).unsqueeze(-2) * constant(lower) + constant(1 - lower)
        return Prod.apply(rows, axis=-1, keepdims=False).movedim(-1, dim)


class LogCumSumExp(Scan):
    """y_j = log Σ_{i ≤ j} exp(a_i), by ``logaddexp.accumulate`` (stable). Backward:
    ∂L/∂a_k = Σ_{j ≥ k} g_j exp(a_k - y_j) (:func:`_weigh_later`, done in log space)."""

    def forward(self, a, dim):
        self.a, self.dim = a, dim
        self.out = a.copy() if a.ndim == 0 else np.logaddexp.accumulate(a, axis=dim)
        return self.out

    def backward(self, g):
        if self.a.ndim == 0:
            return g.copy()
        return _weigh_later(g, self.a, self.out, self.dim)

    def vjp(self, g):  # the same map as a Function of (g, a, y), y recomputed
        if g.ndim == 0:
            return g
        a = self.parents[0]
        return WeighLater.apply(g, a, LogCumSumExp.apply(a, dim=self.dim), dim=self.dim)


def _signed(fn: Callable[[np.ndarray], np.ndarray], w: np.ndarray) -> np.ndarray:
    """``fn(w⁺) - fn(w⁻)`` for an ``fn`` linear in ``w ≥ 0`` that works with ``log w``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return fn(np.maximum(w, 0)) - fn(np.maximum(-w, 0))


def _weigh_later(w: np.ndarray, a: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
    """r_k = Σ_{j ≥ k} w_j exp(a_k - y_j) along ``d``, in log space (y: logcumsumexp(a)):
    exp(a_k + log Σ_{j ≥ k} exp(log w_j - y_j)), the signs of w apart."""

    def part(w: np.ndarray) -> np.ndarray:
        acc = np.flip(np.logaddexp.accumulate(np.flip(np.log(w) - y, d), axis=d), d)
        return np.exp(a + acc)

    return _signed(part, w)


def _weigh_earlier(w: np.ndarray, a: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
    """f_j = Σ_{k ≤ j} w_k exp(a_k - y_j) along ``d``, in log space: the adjoint of
    :func:`_weigh_later` in w, exp(log Σ_{k ≤ j} exp(log w_k + a_k) - y_j)."""

    def part(w: np.ndarray) -> np.ndarray:
        return np.exp(np.logaddexp.accumulate(np.log(w) + a, axis=d) - y)

    return _signed(part, w)


class WeighLater(Scan):
    """r = R(w; a, y), r_k = Σ_{j ≥ k} w_j exp(a_k - y_j): logcumsumexp's backward as a
    Function of all three (y = logcumsumexp(a), given). With F its adjoint in w
    (:class:`WeighEarlier`), the vector-Jacobian product for h is F(h) for w (R is linear
    in w), h ⊙ R(w) for a (∂r_k/∂a_k = r_k) and -w ⊙ F(h) for y (∂r_k/∂y_j =
    -w_j exp(a_k - y_j)). The two maps differentiate into each other, so logcumsumexp has
    derivatives of every order, each a few O(n) scans."""

    fn = staticmethod(_weigh_later)
    adjoint: type[WeighLater]  # (set below)

    def forward(self, w, a, y, dim):
        self.w, self.a, self.y, self.dim = w, a, y, dim
        self.out = self.fn(w, a, y, dim)
        return self.out

    @staticmethod
    def partials(w: Any, h: Any, out: Any, adj: Any) -> tuple:
        """The products for (w, a, y) from the output ``out`` = R(w) and ``adj`` = F(h)
        (numpy arrays or Tensors alike)."""
        return adj, h * out, -w * adj

    def backward(self, h):
        adj = self.adjoint.fn(h, self.a, self.y, self.dim)
        return self.partials(self.w, h, self.out, adj)

    def vjp(self, h):
        w, a, y = self.parents
        adj = self.adjoint.apply(h, a, y, dim=self.dim)
        return self.partials(w, h, type(self).apply(w, a, y, dim=self.dim), adj)


class WeighEarlier(WeighLater):
    """f = F(w; a, y), f_j = Σ_{k ≤ j} w_k exp(a_k - y_j): the adjoint of
    :class:`WeighLater` in w. Its vector-Jacobian product for h: R(h) for w, w ⊙ R(h) for
    a (∂f_j/∂a_k = w_k exp(a_k - y_j)) and -h ⊙ F(w) for y (∂f_j/∂y_j = -f_j)."""

    fn = staticmethod(_weigh_earlier)

    @staticmethod
    def partials(w: Any, h: Any, out: Any, adj: Any) -> tuple:
        return adj, w * adj, -h * out


WeighLater.adjoint, WeighEarlier.adjoint = WeighEarlier, WeighLater


def _scan_dim(op: str, input: Tensor, dim: Any, axis: Any) -> int:
    d = dim_keyword(dim, axis)
    if d is None:
        raise TypeError(f"{op}() missing required argument 'dim'")
    return dim_index(d, input.shape, op)


def _running(fn: type[Scan], op: str, input: Tensor, dim: Any, dtype: Any, axis: Any) -> Tensor:
    """``cumsum`` / ``cumprod``: ``dtype`` casts the input first (else bool/integer → int64)."""
    d = _scan_dim(op, input, dim, axis)
    if dtype is not None:
        input = cast(input, to_dtype(dtype))
    return fn.apply(input, dim=d, keep_dtype=dtype is not None)


def cumsum(input: Tensor, dim: int | None = None, *, dtype: Any = None, axis: Any = None) -> Tensor:
    """The running sum along ``dim``; bool/integer inputs give int64 (unless ``dtype``,
    which casts the input first), as torch."""
    return _running(CumSum, "cumsum", input, dim, dtype, axis)


def cumprod(
    input: Tensor, dim: int | None = None, *, dtype: Any = None, axis: Any = None
) -> Tensor:
    """The running product along ``dim`` (bool/integer → int64); the gradient is exact with
    zeros in the input (see :class:`CumProd`)."""
    return _running(CumProd, "cumprod", input, dim, dtype, axis)


def _cum_extreme(input: Tensor, dim: Any, axis: Any, largest: bool) -> ValuesIndices:
    op = "cummax" if largest else "cummin"
    d = _scan_dim(op, input, dim, axis)
    a = input._data
    if a.ndim == 0:
        return take_along(input, np.zeros((), dtype=np.int64), 0)
    acc = (np.maximum if largest else np.minimum).accumulate(a, axis=d)  # NaN propagates
    # the index of the running extreme: the last i ≤ j where a_i reached it (ties take the
    # later index, a NaN the latest NaN, as torch)
    hit = a == acc
    if a.dtype.kind == "f":
        hit |= np.isnan(a)
    pos = np.arange(a.shape[d]).reshape([-1 if i == d else 1 for i in range(a.ndim)])
    idx = np.maximum.accumulate(np.where(hit, pos, 0), axis=d)
    return take_along(input, idx, d, unique=False)


def cummax(input: Tensor, dim: int | None = None, *, axis: Any = None) -> ValuesIndices:
    """``(values, indices)``: the running maximum along ``dim`` and where it was attained
    (the latest index among ties; NaN propagates). The gradient goes to those indices."""
    return _cum_extreme(input, dim, axis, True)


def cummin(input: Tensor, dim: int | None = None, *, axis: Any = None) -> ValuesIndices:
    """``(values, indices)``: the running minimum along ``dim``, as :func:`cummax`."""
    return _cum_extreme(input, dim, axis, False)


def logcumsumexp(input: Tensor, dim: int | None = None, *, axis: Any = None) -> Tensor:
    """log of the running sum of exp along ``dim``, computed stably; floating input only."""
    d = _scan_dim("logcumsumexp", input, dim, axis)
    if input._data.dtype.kind != "f":
        raise NoKernelError(f"logcumsumexp(): needs a floating point tensor, got {input.dtype}")
    return LogCumSumExp.apply(input, dim=d)


class ScanMethods:
    """Tensor methods for scans (``t.cumsum(1)`` is ``cumsum(t, 1)``)."""

    __slots__ = ()

    cumsum = cumsum
    cumprod = cumprod
    cummax = cummax
    cummin = cummin
    logcumsumexp = logcumsumexp
