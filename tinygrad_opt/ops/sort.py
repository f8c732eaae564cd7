"""Ordering along a dim: ``sort``, ``argsort``, ``msort``, ``topk``, ``kthvalue``, ``median``,
``nanmedian``, ``mode`` and ``unique``.

Orders are numpy's stable ``argsort``/``argpartition``; NaN sorts above every number, as
torch. ``sort`` is always stable (``stable=True`` or not): equal elements keep their
order, ascending or descending, which is what torch's CPU sort gives. Which of several
tied elements ``topk``, ``kthvalue`` or ``median(dim)`` report is not specified by torch
(and differs from ours); the values always agree.

The ops that return ``(values, indices)`` pick the values with
:func:`~tinygrad_opt.ops.select.take_along`, so the gradient of each value goes to the
element it was picked from; the whole-tensor ``median()``/``nanmedian()`` share it between
the elements equal to the median, as torch.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import tensor_type
from tinygrad_opt.errors import DimError, DTypeError
from tinygrad_opt.ops.common import dim_index
from tinygrad_opt.ops.extrema import Max
from tinygrad_opt.ops.reduce import NoKernelError
from tinygrad_opt.ops.select import ValuesIndices, take_along

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "sort",
    "argsort",
    "msort",
    "topk",
    "kthvalue",
    "median",
    "nanmedian",
    "mode",
    "unique",
]


def _order(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """The stable sorting permutation of ``a`` along ``dim`` (int64). Descending order
    sorts the reversed slice ascending and reverses the result, so that equal elements
    still keep their original order (and NaNs, largest, come first)."""
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    if not descending:
        return np.argsort(a, axis=dim, kind="stable").astype(np.int64, copy=False)
    n = a.shape[dim]
    back = np.argsort(np.flip(a, dim), axis=dim, kind="stable")
    return ((n - 1) - np.flip(back, dim)).astype(np.int64, copy=False)


def _nonempty(input: Tensor, d: int, op: str) -> None:
    if input.ndim and input.shape[d] == 0:
        raise DimError(
            f"{op}(): Expected reduction dim {d} to have non-zero size (input of shape "
            f"{input.shape})"
        )


def _no_bool(input: Tensor, op: str, error: type = DTypeError) -> None:
    if input._data.dtype == np.bool_:
        raise error(f"{op}(): does not support bool input")


def sort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> ValuesIndices:
    """``(values, indices)``: ``input`` sorted along ``dim`` and where each value came from.
    Always stable (``stable`` is accepted for torch's signature); NaN is the largest."""
    d = dim_index(dim, input.shape, "sort")
    return take_along(input, _order(input._data, d, descending), d)


def argsort(
    input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False
) -> Tensor:
    """The indices (int64) that sort ``input`` along ``dim`` (stable; see :func:`sort`)."""
    d = dim_index(dim, input.shape, "argsort")
    return tensor_type()(_order(input._data, d, descending))


def msort(input: Tensor) -> Tensor:
    """``input`` sorted along dim 0 (the values of ``sort(input, 0)``)."""
    return sort(input, 0).values


def topk(
    input: Tensor, k: int, dim: int | None = None, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements
    along ``dim`` (the last when None), in order, largest first (smallest first). Found
    with ``argpartition`` (O(n)) and then sorted; ``sorted=False`` returns them sorted too
    (torch leaves that order unspecified). NaN counts as the largest."""
    _no_bool(input, "topk")
    d = dim_index(-1 if dim is None else dim, input.shape, "topk")
    a = input._data
    n = a.shape[d] if a.ndim else 1
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError(
            f"topk(): selected index k out of range: k={k} for dim {d} of size {n} (input of "
            f"shape {input.shape})"
        )
    if a.ndim == 0:  # torch returns the element itself, for k = 0 as for k = 1
        return take_along(input, np.zeros((), dtype=np.int64), 0)
    if k == 0:
        idx = np.zeros(a.shape[:d] + (0,) + a.shape[d + 1 :], dtype=np.int64)
    elif 4 * k >= n:  # a good part of the slice: sort it all
        idx = np.take(_order(a, d, largest), np.arange(k), axis=d)
    else:
        kth = n - k if largest else k - 1
        part = np.argpartition(a, kth, axis=d)
        chosen = np.take(part, np.arange(n - k, n) if largest else np.arange(k), axis=d)
        chosen = np.sort(chosen, axis=d)  # back to input order, so ties stay stable
        idx = np.take_along_axis(chosen, _order(np.take_along_axis(a, chosen, d), d, largest), d)
    return take_along(input, idx, d)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)`` of the ``k``-th smallest element (k from 1) along ``dim``."""
    _no_bool(input, "kthvalue", NoKernelError)
    d = dim_index(dim, input.shape, "kthvalue")
    _nonempty(input, d, "kthvalue")
    a = input._data
    n = a.shape[d] if a.ndim else 1
    if not 1 <= int(k) <= n:
        raise RuntimeError(
            f"kthvalue(): selected number k={k} out of range for dim {d} of size {n} (input "
            f"of shape {input.shape})"
        )
    if a.ndim == 0:
        return take_along(input, np.zeros((), dtype=np.int64), 0)
    idx = np.take(np.argpartition(a, int(k) - 1, axis=d), [int(k) - 1], axis=d)
    return take_along(input, idx, d, keepdim=keepdim)


class Median(Max):
    """The lower median of every element (the ⌊(n-1)/2⌋-th smallest; NaN if any element
    is NaN, or with ``skip_nan`` the median of the others; NaN when there is none).
    Backward, as torch's: ``g`` shared evenly between the elements equal to the result
    (between the NaNs when it is NaN)."""

    def forward(self, a, skip_nan):
        self.a, self.axes, self.keepdims, self.nan_split = a, tuple(range(a.ndim)), False, True
        flat = a.reshape(-1)
        nan = np.isnan(flat) if a.dtype.kind == "f" else np.zeros(flat.shape, bool)
        if skip_nan:
            flat = flat[~nan]
        if flat.size == 0 or (not skip_nan and nan.any()):
            value = math.nan
        else:
            k = (flat.size - 1) // 2
            value = np.partition(flat, k)[k]
        self.out = np.asarray(value, dtype=a.dtype)
        return self.out


def _median_dim(input: Tensor, dim: int, keepdim: bool, skip_nan: bool) -> ValuesIndices:
    op = "nanmedian" if skip_nan else "median"
    d = dim_index(dim, input.shape, op)
    _nonempty(input, d, op)
    a = input._data
    if a.ndim == 0:
        return take_along(input, np.zeros((), dtype=np.int64), 0)
    n = a.shape[d]
    floating = a.dtype.kind == "f"
    if skip_nan and floating:  # the median of each slice's non-NaN elements
        count = (~np.isnan(a)).sum(axis=d, keepdims=True)
        pos = np.where(count > 0, (count - 1) // 2, (n - 1) // 2)
        idx = np.take_along_axis(_order(a, d, False), pos, d)
    else:
        k = (n - 1) // 2
        idx = np.take(np.argpartition(a, k, axis=d), [k], axis=d)
        if floating:  # a slice with a NaN has the median NaN, at its first NaN
            nan = np.isnan(a)
            idx = np.where(nan.any(axis=d, keepdims=True), np.argmax(nan, d, keepdims=True), idx)
    return take_along(input, idx, d, keepdim=keepdim)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``median()``: the lower median of all elements (NaN if any is NaN or there are none);
    ``median(dim, keepdim)``: ``(values, indices)`` of each slice's lower median (for an
    even count the smaller of the two middle elements, as torch)."""
    _no_bool(input, "median", NoKernelError)
    if dim is None:
        return Median.apply(input, skip_nan=False)
    return _median_dim(input, dim, keepdim, skip_nan=False)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """:func:`median` ignoring NaNs (NaN only where a slice is all NaN)."""
    _no_bool(input, "nanmedian", NoKernelError)
    if dim is None:
        return Median.apply(input, skip_nan=True)
    return _median_dim(input, dim, keepdim, skip_nan=True)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> ValuesIndices:
    """``(values, indices)``: the most frequent value of each slice along ``dim`` (the
    smallest of equally frequent ones; NaNs never equal each other) and the last index
    where it occurs, as torch."""
    d = dim_index(dim, input.shape, "mode")
    _nonempty(input, d, "mode")
    a = input._data
    if a.ndim == 0:
        return take_along(input, np.zeros((), dtype=np.int64), 0)
    order = np.moveaxis(_order(a, d, False), d, -1)
    s = np.take_along_axis(np.moveaxis(a, d, -1), order, -1)
    n = s.shape[-1]
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    pos = np.arange(n)
    run_len = pos - np.maximum.accumulate(np.where(starts, pos, 0), axis=-1) + 1
    # the first position reaching the longest run ends the smallest most-frequent value;
    # the stable order puts that value's last index there
    end = np.argmax(run_len, axis=-1)[..., None]
    idx = np.moveaxis(np.take_along_axis(order, end, -1), -1, d)
    return take_along(input, idx, d, keepdim=keepdim)


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The distinct elements in ascending order (with ``dim``: the distinct slices along
    ``dim``); optionally the inverse (for each element, or slice, the index of its value
    in the result; int64) and the counts (int64). NaNs are all distinct, as torch. Not
    differentiable: the result has no gradient."""
    T = tensor_type()
    a = input._data
    if dim is None:
        values, inverse, counts = np.unique(
            a.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False
        )
        inverse = inverse.reshape(a.shape)
    else:
        if a.ndim == 0:
            raise DimError(f"unique(): dim {dim} given but the tensor has no dimensions")
        d = dim_index(dim, input.shape, "unique")
        values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=d)
        inverse = inverse.reshape(-1)
    out = [T(values)]
    if return_inverse:
        out.append(T(inverse.astype(np.int64)))
    if return_counts:
        out.append(T(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


class SortMethods:
    """Tensor methods for ordering (``t.sort(1)`` is ``sort(t, 1)``)."""

    __slots__ = ()

    sort = sort
    argsort = argsort
    msort = msort
    topk = topk
    kthvalue = kthvalue
    median = median
    nanmedian = nanmedian
    mode = mode
    unique = unique
