"""Largest and smallest elements: ``amax``/``amin``, ``max``/``min`` (whole tensor, along a
dim with indices, or elementwise against another tensor) and ``argmax``/``argmin``.

NaN counts as the extreme, as in torch: a slice holding a NaN has the max (and min) NaN,
at the index of its first NaN. Ties pick the first index. Gradients follow torch:
``max(dim)`` sends ``g`` to the picked index only; ``amax``/``amin`` and the whole-tensor
``max()``/``min()`` share it evenly between tied extremes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import constant, tensor_type
from tinygrad_opt.errors import DimError, DTypeError
from tinygrad_opt.ops.common import dim_index, keepdim_keyword
from tinygrad_opt.ops.reduce import Reduction, _axes, _normalize_axes, _regrow, _regrow_tensor
from tinygrad_opt.ops.select import ValuesIndices, take_along

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["amax", "amin", "max", "min", "argmax", "argmin"]

Dim = int | tuple[int, ...] | list[int] | None


class Max(Reduction):
    """The largest element over the dims. Backward: ``g`` split evenly between the
    elements equal to the result. With ``nan_split`` (the whole-tensor ``max()``, as
    torch) a NaN result shares ``g`` between the NaNs; otherwise (``amax``) a NaN result
    gets a NaN gradient, as torch's ``amax``."""

    reducer = staticmethod(np.max)
    word = "max"

    def forward(self, a, axis, keepdims, nan_split=False):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        self.nan_split = nan_split
        for i in self.axes:
            if a.shape[i] == 0:
                raise IndexError(f"Expected reduction dim {i} to have non-zero size")
        self.out = np.asarray(self.reducer(a, axis=self.axes, keepdims=keepdims))
        return self.out

    def _hits(self) -> tuple[np.ndarray, np.ndarray]:
        """(where the input equals the result, how many do per slice)."""
        out = _regrow(self.out, self.axes, self.keepdims, self.a.shape)
        hits = self.a == out
        if self.nan_split:
            hits |= np.isnan(self.a) & np.isnan(out)
        return hits, hits.sum(axis=self.axes, keepdims=True)

    def backward(self, g):
        hits, count = self._hits()
        with np.errstate(invalid="ignore", divide="ignore"):
            return _regrow(g, self.axes, self.keepdims, self.a.shape) * hits / count

    def vjp(self, g):  # linear in g: the same shares, as constants (as torch's)
        hits, count = self._hits()
        g = _regrow_tensor(g, self.axes, self.keepdims, self.a.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            return g * constant(hits.astype(g.dtype)) / constant(count.astype(g.dtype))


class Min(Max):
    reducer = staticmethod(np.min)
    word = "min"


def _empty_check(input: Tensor, op: str) -> None:
    if input._data.size == 0:
        raise DimError(
            f"{op}(): Expected reduction dim to be specified for input.numel() == 0 (input of "
            f"shape {input.shape}): give a dim"
        )


def _reduce_extreme(fn: type[Max], op: str, input, dim, keepdim, axis, keepdims) -> Tensor:
    """``amax`` / ``amin`` (``fn`` is :class:`Max` or :class:`Min`) from torch's arguments."""
    d = _axes(None if axis is not None and dim == () else dim, axis)
    if d is None:
        _empty_check(input, op)
    return fn.apply(input, axis=d, keepdims=keepdim_keyword(keepdim, keepdims))


def amax(
    input: Tensor,
    dim: Dim = (),
    keepdim: bool = False,
    *,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Maximum over ``dim`` (every dim when empty or None); tied maxima share the gradient
    evenly; a NaN maximum has a NaN gradient, as torch."""
    return _reduce_extreme(Max, "amax", input, dim, keepdim, axis, keepdims)


def amin(
    input: Tensor,
    dim: Dim = (),
    keepdim: bool = False,
    *,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor:
    """Minimum over ``dim`` (every dim when empty or None), as :func:`amax`."""
    return _reduce_extreme(Min, "amin", input, dim, keepdim, axis, keepdims)


def _arg_index(a: np.ndarray, dim: int, largest: bool) -> np.ndarray:
    """The index of the extreme along ``dim``, kept as a size-1 dim: the first of ties, the
    first NaN if any (numpy's argmax/argmin already treat NaN so)."""
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    pick = np.argmax if largest else np.argmin
    return pick(a, axis=dim, keepdims=True).astype(np.int64, copy=False)


def _check_dim_nonempty(input: Tensor, d: int, op: str) -> None:
    if input.ndim and input.shape[d] == 0:
        raise DimError(
            f"{op}(): Expected reduction dim {d} to have non-zero size (input of shape "
            f"{input.shape})"
        )


def _extreme(input, dim, keepdim, largest, axis, keepdims):
    T = tensor_type()
    op = "max" if largest else "min"
    if isinstance(dim, T) or (dim is not None and not isinstance(dim, (int, np.integer))):
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"{op}(dim) takes one int dim; use a{op} for several dims")
        from tinygrad_opt.ops.elementwise import maximum, minimum

        return (maximum if largest else minimum)(input, dim)
    if axis is not None:  # torch takes axis= as another name for dim
        if dim is not None:
            raise TypeError(f"{op}(): give dim or axis, not both")
        if isinstance(axis, (tuple, list)):
            raise TypeError(f"{op}(axis) takes one int; use a{op} for several dims")
        dim = axis
    if dim is None:
        if input._data.size == 0:
            raise RuntimeError(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0 "
                f"(input of shape {input.shape}); give a dim"
            )
        # torch's whole-tensor max()/min() shares the gradient evenly between tied extremes
        return (Max if largest else Min).apply(input, axis=None, keepdims=False, nan_split=True)
    d = dim_index(dim, input.shape, op)
    _check_dim_nonempty(input, d, op)
    keep = keepdim_keyword(keepdim, keepdims)
    return take_along(input, _arg_index(input._data, d, largest), d, keepdim=keep)


def max(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor | ValuesIndices:
    """``max()``: the largest element; ``max(dim, keepdim)``: ``(values, indices)`` along
    ``dim`` (first index of ties; NaN wins); ``max(other)``: the elementwise maximum.
    ``axis=`` is another name for ``dim``, as in torch (``amax`` reduces several dims)."""
    return _extreme(input, dim, keepdim, True, axis, keepdims)


def min(
    input: Tensor,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Dim = None,
    keepdims: bool | None = None,
) -> Tensor | ValuesIndices:
    """``min()``, ``min(dim, keepdim)`` → ``(values, indices)``, ``min(other)``: as :func:`max`."""
    return _extreme(input, dim, keepdim, False, axis, keepdims)


def _argextreme(input: Tensor, dim: int | None, keepdim: bool, largest: bool) -> Tensor:
    op = "argmax" if largest else "argmin"
    T = tensor_type()
    if input._data.dtype == np.bool_:
        raise DTypeError(f"{op}(): does not support bool input")
    a = input._data
    if dim is None:  # over the flattened tensor; keepdim gives every dim size 1
        _empty_check(input, op)
        idx = (np.argmax if largest else np.argmin)(a.reshape(-1))
        return T(np.full((1,) * a.ndim if keepdim else (), idx, dtype=np.int64))
    d = dim_index(dim, input.shape, op)
    _check_dim_nonempty(input, d, op)
    idx = _arg_index(a, d, largest)
    return T(idx if keepdim or a.ndim == 0 else np.squeeze(idx, d))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the largest element along ``dim`` (of the flattened tensor
    when None): the first of ties, the first NaN if any, as torch. No bool input."""
    return _argextreme(input, dim, keepdim, True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The index (int64) of the smallest element along ``dim``, as :func:`argmax`."""
    return _argextreme(input, dim, keepdim, False)


class ExtremaMethods:
    """Tensor methods for max/min and their indices."""

    __slots__ = ()

    amax = amax
    amin = amin
    max = max
    min = min
    argmax = argmax
    argmin = argmin
