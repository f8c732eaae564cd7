"""Helpers shared by the convolution, pooling and resampling ops (private).

Canonical layout. Every fused op works on 4-D arrays (N, C, H, W): a 1-D op's input
(N, C, L) is viewed as (N, C, 1, L) with a kernel of height 1, and an unbatched input
(C, ...) as a batch of one (:func:`lift` / :func:`lower`, views only, no copies). Kernel,
stride, dilation and padding arrive here as (h, w) pairs; padding as ((top, bottom),
(left, right)) so that 'same' padding with an even kernel can put its extra row/column
on the bottom/right, as torch does.

Window arithmetic. With kernel k, stride s, dilation d and padding (lo, hi) along an
axis of length L, the windows start at ``o·s - lo`` (o = 0, 1, ...) and cover
``d·(k-1) + 1`` positions; there are ``⌊(L + lo + hi - d·(k-1) - 1) / s⌋ + 1`` of them
(:func:`out_len`; with ``ceil_mode`` the division rounds up, but the last window must
start inside the input or its left padding, torch's rule).

- **im2col** (:func:`im2col`): ``sliding_window_view`` of the padded input, subsampled
  by stride and dilation, is every window without copying; one reshape copies it into
  a (C·kh·kw, N·Ho·Wo) matrix so a convolution is a matrix product.
- **col2im** (:func:`col2im`): its adjoint adds such a matrix back into an image, one
  vectorised strided add per kernel offset (windows overlap, so a pixel collects from
  several offsets).
- :func:`offset_view`: offset (i, j) of every window at once, a strided view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_opt.nn._adjoint import adjoint
from tinygrad_opt.tensor import Function, ShapeError, Tensor

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


# --------------------------------------------------------------------------- arguments
def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def ntuple(value: Any, n: int, what: str, who: str, minimum: int) -> tuple[int, ...]:
    """``value`` (an int, or a sequence of ``n`` or 1 ints) as an n-tuple >= ``minimum``.

    A wrong type raises ``TypeError``, a value below ``minimum`` ``ValueError``; both name
    ``who`` and the argument.
    """
    if type(value) is int and value >= minimum:  # the common cases, without the checks below
        return (value,) * n
    if type(value) is tuple and len(value) == n:
        if all(type(v) is int and v >= minimum for v in value):
            return value
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) == 1:
        items = items * n
    if len(items) != n or not all(is_int(v) for v in items):
        kind = "a pair of ints" if n == 2 else f"a tuple of {n} ints"
        raise TypeError(f"{who}: {what} must be an int or {kind}, got {value!r}")
    out = tuple(int(v) for v in items)
    if min(out) < minimum:
        raise ValueError(f"{who}: {what} must be >= {minimum}, got {value!r}")
    return out


def positive_int(value: Any, what: str, who: str) -> int:
    if not is_int(value) or int(value) < 1:
        raise ValueError(f"{who}: {what} must be a positive integer, got {value!r}")
    return int(value)


def fmt(t: Sequence[Any]) -> str:
    """(3, 2) -> '3x2'; (3,) -> '3'."""
    return "x".join(str(v) for v in t)


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(x, dtype=None if like is None else like.dtype)


def as2d(t: Sequence[int], fill: int) -> Pair:
    """A 1- or 2-tuple as an (h, w) pair; a 1-D op gets ``fill`` along h."""
    return (fill, t[0]) if len(t) == 1 else (t[0], t[1])


def layer_name(module: Any) -> str:
    """A layer as its error messages name it: ``Conv2d(3 -> 8, kernel 3x3)``."""
    return f"{type(module).__name__}({module.extra_repr()})"


def conv_operands(
    who: str, nsp: int, x: Any, weight: Any, bias: Any, layout: str
) -> tuple[Tensor, Tensor, Tensor | None]:
    """A (transposed) convolution's operands as Tensors of the weight's dtype.

    ``weight`` must have ``nsp`` kernel dims after the two channel dims named by
    ``layout`` (e.g. ``"O, C/groups"``), else :class:`ShapeError`.
    """
    weight = as_tensor(weight)
    x = as_tensor(x, weight)
    bias = None if bias is None else as_tensor(bias, weight)
    if weight.ndim != nsp + 2:
        dims = "kh, kw" if nsp == 2 else "k"
        raise ShapeError(f"{who}: weight must have shape ({layout}, {dims}), got {weight.shape}")
    return x, weight, bias


def transposed_len(size: int, k: int, s: int, p: int, d: int, out_pad: int = 0) -> int:
    """Output length of a transposed convolution: (L-1)·s - 2p + d·(k-1) + out_pad + 1."""
    return (size - 1) * s - 2 * p + d * (k - 1) + out_pad + 1


def dims_text(nsp: int) -> str:
    return "H, W" if nsp == 2 else "L"


def check_input(
    who: str, x: Tensor, nsp: int, channels: int | None = None, weight: Any = None
) -> bool:
    """Check ``x`` is (C, *spatial) or (N, C, *spatial); True when batched.

    A mismatch raises :class:`ShapeError` naming ``who``, the expected and the actual
    shape (and ``weight``'s shape and groups, given as a (shape, groups) pair).
    """
    ndim = x.ndim
    if (ndim == nsp + 1 or ndim == nsp + 2) and (channels is None or x.shape[-nsp - 1] == channels):
        return ndim == nsp + 2
    c = "C" if channels is None else str(channels)
    dims = dims_text(nsp)
    note = "" if weight is None else f" (weight of shape {weight[0]}, groups={weight[1]})"
    raise ShapeError(
        f"{who}: expected input of shape ({c}, {dims}) or (N, {c}, {dims}), got {x.shape}{note}"
    )


# --------------------------------------------------------------------------- layout
def lift(a: np.ndarray, nsp: int, batched: bool) -> np.ndarray:
    """View (N, C, *sp) or (C, *sp), with 1 or 2 spatial dims, as (N, C, H, W)."""
    if not batched:
        a = a[None]
    return a[:, :, None, :] if nsp == 1 else a


def lower(a: np.ndarray, nsp: int, batched: bool) -> np.ndarray:
    """The inverse of :func:`lift`."""
    if nsp == 1:
        a = a[:, :, 0]
    return a if batched else a[0]


def spatial(hw: Pair, nsp: int) -> tuple[int, ...]:
    return hw if nsp == 2 else (hw[1],)


# --------------------------------------------------------------------------- windows
def out_len(size: int, k: int, s: int, lo: int, hi: int, d: int = 1, ceil: bool = False) -> int:
    """Number of windows along one axis (see the module docstring)."""
    span = size + lo + hi - d * (k - 1) - 1
    n = (span + (s - 1 if ceil else 0)) // s + 1
    if ceil and (n - 1) * s >= size + lo:
        n -= 1
    return n


def pad_constant(x: np.ndarray, pads: Pads, value: float) -> np.ndarray:
    """``x`` (N, C, H, W) with ``pads`` rows/columns of ``value`` around it."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out


def crop(a: np.ndarray, pads: Pads, hw: Pair) -> np.ndarray:
    (pt, _), (pl, _) = pads
    return a[..., pt : pt + hw[0], pl : pl + hw[1]]


def offset_view(a: np.ndarray, i: int, j: int, stride: Pair, dilation: Pair, out_hw: Pair):
    """Kernel offset (i, j) of every window of ``a`` (.., Hp, Wp): a (.., Ho, Wo) view."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    r, c = i * dh, j * dw
    return a[..., r : r + (ho - 1) * sh + 1 : sh, c : c + (wo - 1) * sw + 1 : sw]


def im2col(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair):
    """The (C·kh·kw, N·Ho·Wo) window matrix of the padded ``xp`` (N, C, Hp, Wp).

    Rows are ordered (c, i, j), columns (n, y, x): the copy's inner runs are image rows,
    which numpy copies faster than the transposed order.
    """
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    n, c = xp.shape[:2]
    win = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :ho, :wo]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)


def col2im(cols: np.ndarray, shape: tuple[int, ...], stride: Pair, dilation: Pair):
    """Adjoint of :func:`im2col`: ``cols`` (C, kh, kw, N, Ho, Wo) summed into ``shape``.

    Returns an array of ``shape`` = (C, N, Hp, Wp) (channel first, as ``cols``).
    """
    _, kh, kw, _, ho, wo = cols.shape
    out = np.zeros(shape, dtype=cols.dtype)
    for i in range(kh):  # one vectorised add per kernel offset
        for j in range(kw):
            offset_view(out, i, j, stride, dilation, (ho, wo))[...] += cols[:, i, j]
    return out


def window_max(views: list[np.ndarray]) -> np.ndarray:
    """The elementwise maximum of the window views (one per kernel offset), a new array."""
    out = views[0].copy()
    for v in views[1:]:
        np.maximum(out, v, out=out)
    return out


def first_max(views: list[np.ndarray], out: np.ndarray) -> np.ndarray:
    """Per window, the offset t of its maximum ``out``: the first one on ties.

    A NaN is the maximum of its window; the last NaN's offset is returned, as torch's
    kernels do (they keep a value when ``v > best or isnan(v)``).
    """
    arg = np.zeros(out.shape, dtype=np.int8 if len(views) < 128 else np.int32)
    for t in range(len(views) - 1, -1, -1):  # descending: the smallest match is written last
        np.copyto(arg, t, where=views[t] == out)
    nan = np.isnan(out)
    if nan.any():
        for t, v in enumerate(views):
            np.copyto(arg, t, where=nan & np.isnan(v))
    return arg


# --------------------------------------------------------------------------- padding modes
def _mode_index(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source position of every position of an axis padded by (lo, hi) in ``mode``."""
    j = np.arange(-lo, size + hi)
    if mode == "replicate":
        return np.clip(j, 0, size - 1)
    if mode == "circular":
        return np.mod(j, size)
    j = np.abs(j)  # reflect about the first and last element (not repeating them)
    return np.where(j >= size, 2 * (size - 1) - j, j)


class _ModePad(Function):
    """y = x taken at the mode's source positions, one axis at a time; backward adds back.

    The gradient of each source element is the sum over the padded positions that copy
    it (``np.add.at``: the reflect and circular maps are not monotone).
    """

    saves_inputs = False

    name = "pad"

    def forward(self, x, *, maps):
        self.maps, self.sizes = maps, []
        for axis, idx in maps:
            self.sizes.append(x.shape[axis])
            x = np.take(x, idx, axis=axis)
        return x

    def backward(self, g):
        for (axis, idx), size in zip(reversed(self.maps), reversed(self.sizes)):
            moved = np.moveaxis(g, axis, 0)
            acc = np.zeros((size, *moved.shape[1:]), dtype=g.dtype)
            np.add.at(acc, idx, moved)
            g = np.moveaxis(acc, 0, axis)
        return g

    def vjp(self, g):  # linear: the adjoint map, whose own vjp is this op again
        return adjoint(self, g)


def pad_mode(who: str, x: Tensor, pads: tuple[Pair, ...], mode: str) -> Tensor:
    """Pad the trailing ``len(pads)`` axes of ``x`` in ``mode`` (reflect, replicate, circular).

    Limits as torch's ``F.pad``: reflect needs each pad < the axis length, circular at
    most the axis length, replicate a non-empty axis (else :class:`ShapeError`).
    """
    maps = []
    for k, (lo, hi) in enumerate(pads):
        axis = x.ndim - len(pads) + k
        size = x.shape[axis]
        if not (lo or hi):
            continue
        limit = {"reflect": size - 1, "circular": size, "replicate": math.inf}[mode]
        if size == 0 or max(lo, hi) > limit:
            raise ShapeError(
                f"{who}: padding ({lo}, {hi}) in mode '{mode}' does not fit dimension {axis} "
                f"of size {size} of input {x.shape} (reflect needs padding < size, "
                f"circular padding <= size)"
            )
        maps.append((axis, _mode_index(size, lo, hi, mode)))
    return _ModePad.apply(x, maps=tuple(maps)) if maps else x
