"""Gather and scatter along a dim: ``gather``, ``scatter``, ``scatter_add``,
``scatter_reduce``, and the slice-wise ``index_add`` / ``index_copy`` / ``index_fill``.

For a 3-D input and ``dim=1`` (other dims alike)::

    gather:   out[i][j][k] = input[i][index[i][j][k]][k]
    scatter:  out[i][index[i][j][k]][k] = src[i][j][k]      (out starts as a copy of input)

``index`` has the input's number of dims and may be smaller than it (and than ``src``)
in every dim; only the leading ``index.shape`` block of ``src`` is used. Index values
must lie in ``[0, size of dim)``: negative values are errors here, as in torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.errors import DimError, DTypeError, ShapeError
from tinygrad_opt.ops.common import dim_index, lift

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "gather",
    "index_add",
    "index_copy",
    "index_fill",
    "scatter",
    "scatter_add",
    "scatter_reduce",
]

_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _grid(index: np.ndarray, dim: int) -> tuple:
    """The index tuple that addresses ``x[..., index[p], ...]`` (``index`` along ``dim``,
    the position p itself along the other dims) for every position p of ``index``."""
    nd = index.ndim
    return tuple(
        index if d == dim else np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
        for d, n in enumerate(index.shape)
    )


def _block(shape: tuple[int, ...]) -> tuple:
    return tuple(slice(0, n) for n in shape)


def _add_into(shape: tuple, grid: tuple, g: np.ndarray) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``grid`` (repeats add up), via one
    ``np.bincount`` over the flat positions: one pass in C, summing in float64."""
    flat = np.ravel_multi_index(np.broadcast_arrays(*grid), shape) if grid else np.zeros(1, int)
    size = int(np.prod(shape))
    total = np.bincount(flat.reshape(-1), weights=g.reshape(-1).astype(np.float64), minlength=size)
    return total.astype(g.dtype, copy=False).reshape(shape)


class Gather(Function):
    """``out[p] = a[grid(p)]``; backward adds ``g`` back into zeros at the same places."""

    saves_inputs = False

    def forward(self, a, index, dim):
        self.shape, self.grid = a.shape, _grid(index, dim)
        return a[self.grid]

    def backward(self, g):
        return _add_into(self.shape, self.grid, g)

    def vjp(self, g):
        return GatherAdjoint.apply(g, shape=self.shape, **self.params)


class GatherAdjoint(Function):
    """The adjoint of :class:`Gather` (``scatter_add`` into zeros of ``shape``):
    ``out[grid(p)] += g[p]``. Its adjoint is ``Gather`` again, so each derivative order
    of a gather costs one numpy kernel."""

    saves_inputs = False

    def forward(self, g, shape, index, dim):
        self.grid = _grid(index, dim)
        return _add_into(shape, self.grid, g)

    def backward(self, g):
        return g[self.grid]

    def vjp(self, g):
        return Gather.apply(g, index=self.params["index"], dim=self.params["dim"])


def _zeros_at(g, index: np.ndarray, dim: int):
    """``g`` with the places ``grid(index)`` set to 0, differentiably (a scatter of zeros:
    linear in ``g``, and its own adjoint)."""
    zeros = constant(np.zeros(index.shape, dtype=g.dtype))
    return Scatter.apply(g, zeros, index=index, dim=dim)


def _to_src_shape(part, src_shape: tuple):
    """``part`` (the ``index``-shaped block of a src gradient) padded with zeros to
    ``src_shape``, differentiably."""
    if tuple(part.shape) == tuple(src_shape):
        return part
    from tinygrad_opt.ops.shape import Pad

    widths = tuple((0, n - k) for k, n in zip(part.shape, src_shape))
    return Pad.apply(part, pad_width=widths, value=np.zeros((), dtype=part.dtype))


def _mask(t, drop: np.ndarray, fill: float):
    """``t`` with the places where ``drop`` is True replaced by ``fill`` (``masked_fill``
    with a constant mask, as arithmetic so it stays differentiable in ``t``)."""
    if not drop.any():
        return t
    kept = t * constant((~drop).astype(t.dtype))
    return kept + constant(drop.astype(t.dtype) * fill) if fill else kept


class Scatter(Function):
    """``out = a`` with ``out[grid] = src`` (the ``index``-shaped block of ``src``).

    Backward: ``a`` gets ``g`` except at the written places; ``src`` gets ``g[grid]``
    (every src element, even one a later duplicate overwrote, as torch)."""

    saves_inputs = False

    def forward(self, a, src, index, dim):
        self.grid, self.src_shape, self.block = _grid(index, dim), src.shape, _block(index.shape)
        out = a.copy()
        out[self.grid] = src[_block(index.shape)]
        return out

    def backward(self, g):
        ga = gs = None
        if self.needs_grad[0]:
            ga = g.copy()
            ga[self.grid] = 0
        if self.needs_grad[1]:
            gs = np.zeros(self.src_shape, dtype=g.dtype)
            gs[self.block] = g[self.grid]
        return ga, gs

    def vjp(self, g):
        index, dim = self.params["index"], self.params["dim"]
        ga = _zeros_at(g, index, dim) if self.needs_grad[0] else None
        gs = None
        if self.needs_grad[1]:
            gs = _to_src_shape(Gather.apply(g, index=index, dim=dim), self.src_shape)
        return ga, gs


def _reduce_into(a, s, grid, reduce, include_self):
    """``a`` with the ``s`` values reduced into the places ``grid``; also the counts (mean)."""
    out = a.copy()
    if not include_self:  # start each written place from the reduction's identity
        if reduce in ("sum", "mean"):
            out[grid] = 0
        elif reduce == "prod":
            out[grid] = 1
        elif a.dtype.kind == "f":
            out[grid] = -np.inf if reduce == "amax" else np.inf
        elif a.dtype.kind == "b":
            out[grid] = reduce == "amin"
        else:
            info = np.iinfo(a.dtype)
            out[grid] = info.min if reduce == "amax" else info.max
    ufunc = {"sum": np.add, "mean": np.add, "prod": np.multiply}.get(reduce)
    ufunc = ufunc or (np.maximum if reduce == "amax" else np.minimum)
    ufunc.at(out, grid, s)
    count = None
    if reduce == "mean":
        count = np.full(a.shape, 1 if include_self else 0, dtype=np.int64)
        np.add.at(count, grid, 1)
        count = np.maximum(count, 1)
        out = out / count if a.dtype.kind == "f" else out // count
        out = out.astype(a.dtype, copy=False)
    return out, count


class ScatterReduce(Function):
    """``out = a`` with each ``src`` element reduced (sum, prod, mean, amax, amin) into
    its place; ``include_self=False`` leaves the old value out of the written places.

    Backward, per reduction (``N``: elements reduced into a place):

    - sum: ``g`` to ``a`` and ``g[grid]`` to src;  mean: the same divided by ``N``.
    - amax/amin: ``g`` shared evenly among the elements equal to the result.
    - prod: the product of the *other* elements, computed without dividing by a zero
      (a zero's gradient is the product of the rest; with two zeros it is 0).

    With ``include_self=False`` the written places of ``a`` get no gradient."""

    def forward(self, a, src, index, dim, reduce, include_self):
        self.grid, self.src_shape, self.block = _grid(index, dim), src.shape, _block(index.shape)
        self.reduce, self.include_self = reduce, include_self
        s = src[_block(index.shape)]
        out, self.count = _reduce_into(a, s, self.grid, reduce, include_self)
        self.a, self.s, self.out = a, s, out
        return out

    def backward(self, g):
        grid, reduce, a, s, out = self.grid, self.reduce, self.a, self.s, self.out
        if reduce == "sum":
            ga, gsb = g, g[grid]
        elif reduce == "mean":
            ga = g / self.count
            gsb = ga[grid]
        elif reduce in ("amax", "amin"):
            self_is = a == out
            src_is = s == out[grid]
            n = self_is.astype(g.dtype)
            np.add.at(n, grid, src_is)
            share = g / n
            ga, gsb = self_is * share, src_is * share[grid]
        else:  # prod
            include = self.include_self
            ones_a = np.where(a == 0, 1, a)
            ga = g * _reduce_into(ones_a, s, grid, "prod", include)[0] / ones_a
            src_zero = s == 0
            zeros_per_place = np.zeros(a.shape, dtype=np.int64)
            np.add.at(zeros_per_place, grid, src_zero)
            single = src_zero & (zeros_per_place[grid] == 1)
            rest = _reduce_into(a, np.where(single, 1, s), grid, "prod", include)[0]
            gsb = np.where(single, (g * rest)[grid], (g * out)[grid] / np.where(src_zero, 1, s))
        if not self.include_self:
            ga = np.array(ga, copy=True)
            ga[grid] = 0
        gs = np.zeros(self.src_shape, dtype=g.dtype)
        gs[self.block] = gsb
        return ga, gs

    def vjp(self, g):
        """``backward`` in Tensor ops. sum/mean/amax/amin: linear in ``g`` with constant
        weights (counts, tie masks). prod: the same zero-safe formulas as ``backward``,
        with the partial products recomputed by ``scatter_reduce`` of the inputs, so they
        are differentiable again."""
        index, dim, reduce = self.params["index"], self.params["dim"], self.reduce
        gather = Gather.apply
        if reduce == "sum":
            ga, gsb = g, gather(g, index=index, dim=dim)
        elif reduce == "mean":
            ga = g / constant(self.count.astype(g.dtype))
            gsb = gather(ga, index=index, dim=dim)
        elif reduce in ("amax", "amin"):
            a, s, out = self.a, self.s, self.out
            self_is, src_is = a == out, s == out[self.grid]
            n = self_is.astype(g.dtype)
            np.add.at(n, self.grid, src_is)
            share = g / constant(n)
            ga = share * constant(self_is.astype(g.dtype))
            gsb = gather(share, index=index, dim=dim) * constant(src_is.astype(g.dtype))
        else:
            ga, gsb = self._prod_vjp(g)
        if not self.include_self:
            ga = _zeros_at(ga, index, dim)
        gs = _to_src_shape(gsb, self.src_shape) if self.needs_grad[1] else None
        return (ga if self.needs_grad[0] else None), gs

    def _prod_vjp(self, g):
        a_t, src_t = self.parents
        index, dim, include = self.params["index"], self.params["dim"], self.include_self
        s_t = src_t
        if tuple(src_t.shape) != index.shape:
            from tinygrad_opt.ops.slicing import Slice

            s_t = Slice.apply(src_t, index=self.block)
        a, s = self.a, self.s

        def prod_into(x, y):
            return ScatterReduce.apply(
                x, y, index=index, dim=dim, reduce="prod", include_self=include
            )

        # a's gradient: g times the product of everything else reduced into its place;
        # dividing by a is safe once a's zeros are replaced by 1
        ones_a = _mask(a_t, a == 0, 1.0)
        ga = g * prod_into(ones_a, s_t) / ones_a
        # src's gradient: (g · out)[grid] / s, except for the only zero of its place,
        # whose gradient is g times the product of the others (the zero replaced by 1)
        src_zero = s == 0
        zeros_per_place = np.zeros(a.shape, dtype=np.int64)
        np.add.at(zeros_per_place, self.grid, src_zero)
        single = src_zero & (zeros_per_place[self.grid] == 1)
        gather = Gather.apply
        plain = gather(g * prod_into(a_t, s_t), index=index, dim=dim) / _mask(s_t, src_zero, 1.0)
        if single.any():
            rest = gather(g * prod_into(a_t, _mask(s_t, single, 1.0)), index=index, dim=dim)
            plain = _mask(rest, ~single, 0.0) + _mask(plain, single, 0.0)
        if (zeros_per_place > 1).any():
            # right values, but their derivative would miss the terms between the zeros
            plain = NoDoubleBackward.apply(plain, message=_TWO_ZEROS)
        return ga, plain


_TWO_ZEROS = (
    "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
    "scattered to the same position in self"
)


class NoDoubleBackward(Function):
    """The identity, whose derivative raises ``RuntimeError(message)``: marks a recorded
    first derivative that is right but whose own derivative is not (torch's
    ``DelayedError``), so differentiating it fails instead of answering wrongly."""

    def forward(self, a, message):
        self.message = message
        return a

    def backward(self, g):
        raise RuntimeError(self.message)

    def vjp(self, g):
        raise RuntimeError(self.message)


# --------------------------------------------------------------------------- checks
def _index_of(input, dim: int, index: Any, op: str, src_shape: tuple | None = None):
    """``(dim, index array)`` checked as torch checks gather/scatter arguments."""
    T = tensor_type()
    idx = index._data if isinstance(index, T) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}(): Expected dtype int64 for index, got {idx.dtype}")
    d = dim_index(dim, input.shape, op)
    if input.ndim == 0:
        if idx.ndim > 1:
            raise ShapeError(
                f"{op}: Index tensor must have the same number of dimensions as input tensor "
                f"(index shape {idx.shape}, input shape ())"
            )
        idx = idx.reshape(-1)
    elif idx.ndim != input.ndim:
        raise ShapeError(
            f"{op}: Index tensor must have the same number of dimensions as input tensor "
            f"(index shape {idx.shape}, input shape {input.shape})"
        )
    shape = input.shape or (1,)
    too_big = any(k != d and i > n for k, (i, n) in enumerate(zip(idx.shape, shape)))
    if src_shape is not None:
        src = src_shape or (1,)
        if too_big or any(i > n for i, n in zip(idx.shape, src)):
            raise ShapeError(
                f"{op}(): Expected index {list(idx.shape)} to be no larger than self "
                f"{list(input.shape)} apart from dimension {d} and to be no larger size than "
                f"src {list(src_shape)}"
            )
    elif too_big:
        k = next(k for k, (i, n) in enumerate(zip(idx.shape, shape)) if k != d and i > n)
        raise ShapeError(
            f"{op}: Size does not match at dimension {k} expected index {list(idx.shape)} to "
            f"be no larger than self {list(input.shape)} apart from dimension {d}"
        )
    n = shape[d]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise DimError(f"{op}(): index {bad} is out of bounds for dimension {d} with size {n}")
    return d, idx


def _flat(input):
    return input.reshape(1) if input.ndim == 0 else input


def _back(out, input):
    return out.reshape(()) if input.ndim == 0 else out


# --------------------------------------------------------------------------- functions
def gather(input, dim: int, index: Any, *, sparse_grad: bool = False):
    """Values of ``input`` along ``dim`` at ``index`` (same number of dims as ``input``):
    ``out[i][j] = input[index[i][j]][j]`` for ``dim=0``. The result has ``index``'s shape."""
    d, idx = _index_of(input, dim, index, "gather")
    out = Gather.apply(_flat(input), index=idx, dim=d)
    return out.reshape(np.shape(index)) if input.ndim == 0 else out


def _src_tensor(input, src: Any, value: Any, idx: np.ndarray, op: str):
    T = tensor_type()
    if src is not None and not isinstance(src, T):
        src, value = None, src
    if src is None:
        if value is None:
            raise TypeError(f"{op}(): expected a src tensor or a value")
        return T(np.full(idx.shape, value).astype(input.dtype))
    if src.dtype != input.dtype:
        raise DTypeError(
            f"{op}(): Expected self.dtype to be equal to src.dtype "
            f"(self {input.dtype}, src {src.dtype})"
        )
    return _flat(src)


def scatter(input, dim: int, index: Any, src: Any = None, *, value: Any = None, reduce=None):
    """A copy of ``input`` with ``src`` (a tensor, or a number ``value``) written at
    ``index`` along ``dim``: ``out[index[i][j]][j] = src[i][j]`` for ``dim=0``.

    ``reduce='add'|'multiply'`` combines instead of overwriting (as ``scatter_reduce``
    with 'sum'/'prod'; here it has gradients, torch has none). With repeated indices and
    no reduce, the last write wins."""
    T = tensor_type()
    src_shape = src.shape if isinstance(src, T) else None
    d, idx = _index_of(input, dim, index, "scatter", src_shape)
    s = _src_tensor(input, src, value, idx, "scatter")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise ShapeError(
                f"scatter(): reduce argument must be either add or multiply, got {reduce!r}."
            )  # noqa: E501
        out = ScatterReduce.apply(
            _flat(input),
            s,
            index=idx,
            dim=d,
            reduce="sum" if reduce == "add" else "prod",
            include_self=True,
        )
    else:
        out = Scatter.apply(_flat(input), s, index=idx, dim=d)
    return _back(out, input)


def scatter_add(input, dim: int, index: Any, src: Any):
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    return scatter_reduce(input, dim, index, src, "sum")


def scatter_reduce(input, dim: int, index: Any, src: Any, reduce: str, *, include_self=True):
    """Reduce ``src`` into a copy of ``input`` at ``index`` along ``dim`` with ``reduce``
    ('sum', 'prod', 'mean', 'amax', 'amin'); ``include_self=False`` leaves the old
    values out of the places written to. Integer 'mean' rounds down, as torch."""
    if reduce not in _REDUCES:
        raise ShapeError(
            f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, "
            f"got {reduce}"
        )
    d, idx = _index_of(input, dim, index, "scatter_reduce", src.shape)
    s = _src_tensor(input, src, None, idx, "scatter_reduce")
    out = ScatterReduce.apply(
        _flat(input), s, index=idx, dim=d, reduce=reduce, include_self=bool(include_self)
    )
    return _back(out, input)


def _slice_index(input, dim: int, index: Any, op: str, source_shape: tuple | None):
    """``(slice(None),) * dim + (index,)``, checked as torch checks ``index_add`` and kin."""
    from tinygrad_opt.ops.index import _index_vector

    d = dim_index(dim, input.shape, op)
    idx = _index_vector(index, op)
    n = input.shape[d] if input.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise DimError(f"{op}: index out of range in self (index {bad}, size {n} of dim {d})")
    if source_shape is not None:
        src_n = source_shape[d] if len(source_shape) > d else 1
        if idx.size != src_n:
            raise ShapeError(
                f"{op}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                f"({src_n}), for dim: {d}"
            )
    return (slice(None),) * d + (tensor_type()(idx),)


def index_add(input, dim: int, index: Any, source: Any, *, alpha: Any = 1):
    """A copy of ``input`` with ``alpha * source[i]`` added to slice ``index[i]`` along
    ``dim`` (repeated indices add up)."""
    from tinygrad_opt.ops.index import index_put

    where = _slice_index(input, dim, index, "index_add", source.shape)
    return index_put(input, where, source * alpha if alpha != 1 else source, accumulate=True)


def index_copy(input, dim: int, index: Any, source: Any):
    """A copy of ``input`` with slice ``index[i]`` along ``dim`` replaced by ``source[i]``."""
    from tinygrad_opt.ops.index import index_put

    return index_put(input, _slice_index(input, dim, index, "index_copy", source.shape), source)


def index_fill(input, dim: int, index: Any, value: Any):
    """A copy of ``input`` with the slices ``index`` along ``dim`` set to ``value``."""
    from tinygrad_opt.ops.index import index_put

    return index_put(input, _slice_index(input, dim, index, "index_fill", None), lift(value, input))


class ScatterMethods:
    """Tensor methods for gather/scatter, out-of-place and in place (``*_``)."""

    __slots__ = ()

    gather = gather
    scatter = scatter
    scatter_add = scatter_add
    scatter_reduce = scatter_reduce
    index_add = index_add
    index_copy = index_copy
    index_fill = index_fill

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return self._inplace(lambda old: scatter(old, dim, index, src, value=value, reduce=reduce))

    def scatter_add_(self, dim, index, src):
        return self._inplace(lambda old: scatter_add(old, dim, index, src))

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return self._inplace(
            lambda old: scatter_reduce(old, dim, index, src, reduce, include_self=include_self)
        )

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(lambda old: index_add(old, dim, index, source, alpha=alpha))

    def index_copy_(self, dim, index, source):
        return self._inplace(lambda old: index_copy(old, dim, index, source))

    def index_fill_(self, dim, index, value):
        return self._inplace(lambda old: index_fill(old, dim, index, value))
