"""Indexing: ``x[index]`` and ``x[index] = v`` with torch's rules, and the index ops built
on them (``index_select``, ``masked_select``, ``take``, ``take_along_dim``, ``nonzero``,
``index_put``, ``one_hot``).

An index is a tuple of parts: ints, slices, ``None``, ``...``, and *advanced* parts:
integer tensors (or lists) and bool tensors (masks; a mask of k dims indexes k dims).
Results follow torch, which differs from numpy in one place: a plain int (or a 0-d
integer tensor) selects first, before the advanced parts are applied, so
``x[0, :, [1, 2]]`` of a (3, 4, 5) tensor is (4, 2) in torch (numpy says (2, 4)).
This module turns such an index into numpy ones; the Functions that apply them
(``GetItem``, its adjoint ``IndexAdd``, ``IndexPut``) are in ``index_functions.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import is_grad_enabled, tensor_type
from tinygrad_opt.dtypes import int64
from tinygrad_opt.errors import DimError, DTypeError, ShapeError
from tinygrad_opt.ops.common import dim_index, lift
from tinygrad_opt.ops.index_functions import GetItem, IndexAdd, IndexPut  # noqa: F401

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "argwhere",
    "getitem",
    "index_put",
    "index_select",
    "masked_scatter",
    "masked_select",
    "nonzero",
    "put",
    "take",
    "take_along_dim",
]


# --------------------------------------------------------------------------- index handling
_INDEX_DTYPE_ERROR = "tensors used as indices must be long, int, byte or bool tensors"


def _index_array(arr: np.ndarray, from_list: bool) -> Any:
    """An index array checked as torch does: bool (or byte) masks and integer arrays pass;
    a 0-d integer array counts as an int (torch's rule, unlike numpy's)."""
    kind = arr.dtype.kind
    if kind == "b":
        return arr
    if arr.dtype == np.uint8 and not from_list:
        return arr.astype(bool)  # torch: a byte tensor is a (deprecated) mask
    if kind not in "iu":
        if from_list and arr.size == 0:
            return arr.astype(np.intp)
        raise DimError(f"{_INDEX_DTYPE_ERROR}, got dtype {arr.dtype}")
    if arr.ndim == 0:
        return int(arr)
    return arr


def _index_part(part: Any) -> Any:
    T = tensor_type()
    if isinstance(part, T):
        return _index_array(part._data, False)
    if isinstance(part, np.ndarray):
        return _index_array(part, False)
    if isinstance(part, (list, tuple)):
        try:
            arr = np.asarray([p._data if isinstance(p, T) else p for p in part])
        except ValueError as e:
            raise DimError(f"cannot index with the ragged list {part!r}: {e}") from None
        return arr if arr.ndim == 0 and arr.dtype.kind == "b" else _index_array(arr, True)
    if isinstance(part, (bool, np.bool_)):
        return np.asarray(bool(part))  # True adds a dim of 1, False one of 0 (numpy too)
    if isinstance(part, (float, np.floating)):
        raise DimError(
            f"a float ({part!r}) cannot index a tensor: only integers, slices (`:`), "
            "ellipsis (`...`), None and long or byte Variables are valid indices"
        )
    if part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer)):
        return part
    raise TypeError(
        "only integers, slices (`:`), ellipsis (`...`), None and integer or bool tensors "
        f"are valid indices (got {type(part).__name__})"
    )


def _is_int(p: Any) -> bool:
    return isinstance(p, (int, np.integer)) and not isinstance(p, bool)


def _dims_used(p: Any) -> int:
    if p is None or p is Ellipsis:
        return 0
    return p.ndim if isinstance(p, np.ndarray) and p.dtype == np.bool_ else 1


def _sequence_as_tuple(index: Any) -> bool:
    """torch's (and old numpy's) rule: a list index holding a tensor, an array, a nested
    sequence, a slice, ``...`` or ``None`` means a tuple of indices (``x[[i, 1]]`` is
    ``x[i, 1]``, ``x[[[0]]]`` is ``x[[0]]``); a list of plain numbers is one index array."""
    if not isinstance(index, list) or not index or len(index) >= 32:
        return False
    T = tensor_type()
    return any(
        isinstance(p, (T, np.ndarray, list, tuple, slice)) or p is None or p is Ellipsis
        for p in index
    )


def normalize_index(index: Any, ndim: int | None = None) -> tuple[Any, Any]:
    """Tensors and lists inside ``index`` as numpy arrays, checked; returns one index, or
    two to apply one after the other when ints mix with advanced parts.

    torch applies a plain int first (it selects), numpy treats it as one more advanced
    index: ``x[0, :, [1, 2]]`` of a (3, 4, 5) tensor is (4, 2) in torch and (2, 4) in
    numpy. Applying the ints first, then the rest, gives torch's result. With ``ndim``
    (the indexed tensor's), ``...`` becomes explicit slices when advanced parts are
    present: an ``...`` that stands for no dims does not separate two advanced parts in
    torch, while numpy would move their dims to the front.
    """
    if _sequence_as_tuple(index):
        index = tuple(index)
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_index_part(p) for p in parts)
    has_adv = any(isinstance(p, np.ndarray) for p in parts)
    if has_adv and ndim is not None and any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        fill = max(ndim - sum(_dims_used(p) for p in parts), 0)
        parts = parts[:at] + (slice(None),) * fill + parts[at + 1 :]
        index = parts
    if not (has_adv and any(_is_int(p) for p in parts)):
        return (parts if isinstance(index, tuple) else parts[0]), None
    first, second = [], []
    for p in parts:
        if _is_int(p):
            first.append(p)
        elif p is None:
            first.append(None)
            second.append(slice(None))
        elif p is Ellipsis:
            first.append(Ellipsis)
            second.append(Ellipsis)
        else:  # a slice, or an advanced part, which covers p.ndim dims if a mask
            covered = p.ndim if isinstance(p, np.ndarray) and p.dtype == np.bool_ else 1
            first.extend([slice(None)] * covered)
            second.append(p)
    return tuple(first), tuple(second)


def getitem(input, index: Any):
    """``input[index]`` with torch's rules (bool masks, integer tensors, slices, None, ...)."""
    first, second = normalize_index(index, input.ndim)
    out = GetItem.apply(input, index=first)
    return out if second is None else GetItem.apply(out, index=second)


def index_put(input, index: Any, value: Any, accumulate: bool = False):
    """A copy of ``input`` with ``[index]`` set to ``value`` (``accumulate``: increased by
    it); this is the value of ``t[index] = v``. ``value`` broadcasts to the indexed shape
    and takes ``input``'s dtype."""
    first, second = normalize_index(index, input.ndim)
    if second is not None:  # x[0, idx] = v: write through the window x[0]
        inner = GetItem.apply(input, index=first)
        return index_put(input, first, index_put(inner, second, value, accumulate))
    v = lift(value, input)
    if v.dtype != input.dtype:
        v = v.to(input.dtype)
    if not (is_grad_enabled() and (input._rg or v._rg)):
        ctx = IndexPut()
        ctx.needs_grad = (False, False)
        try:
            out = ctx.forward(input._data, v._data, first, accumulate)
        except IndexError as e:
            raise DimError(ctx.describe_error((input, v), {"index": first}, e)) from None
        except ValueError as e:
            raise ShapeError(ctx.describe_error((input, v), {"index": first}, e)) from None
        return tensor_type()(out)
    return IndexPut.apply(input, v, index=first, accumulate=accumulate)


def _tensor_indices(indices: Any) -> tuple:
    """``index_put_``'s indices: a tuple of tensors (None = the whole dim), each an
    advanced index (a 0-d one too, as torch)."""
    T = tensor_type()
    out = []
    for t in indices:
        if t is None:
            out.append(slice(None))
            continue
        arr = t._data if isinstance(t, T) else np.asarray(t)
        if arr.dtype == np.uint8:
            arr = arr.astype(bool)
        if arr.dtype.kind not in "biu":
            raise DimError(f"{_INDEX_DTYPE_ERROR}, got dtype {arr.dtype}")
        out.append(arr)
    return tuple(out)


# --------------------------------------------------------------------------- index ops
def _index_vector(index: Any, op: str) -> np.ndarray:
    T = tensor_type()
    arr = index._data if isinstance(index, T) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{op}(): Expected dtype int32 or int64 for index, got {arr.dtype}")
    if arr.ndim > 1:
        raise DimError(f"{op}(): Index is supposed to be a vector, got shape {arr.shape}")
    return arr.reshape(-1)


def index_select(input, dim: int, index: Any):
    """The slices ``index[0], index[1], ...`` along ``dim`` (``index``: 1-D integers in
    ``[0, size)``; negative ones are errors, as torch)."""
    d = dim_index(dim, input.shape, "index_select")
    idx = _index_vector(index, "index_select")
    n = input.shape[d] if input.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise DimError(
            f"index_select: index out of range in self (index {bad} for dim {d} of size {n}, "
            f"shape {input.shape})"
        )
    if input.ndim == 0:  # torch: a 0-d result for a one-element index
        if idx.size > 1:
            raise ShapeError(
                f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)"
            )
        out = GetItem.apply(input.reshape(1), index=idx)
        return out.reshape(()) if idx.size == 1 else out
    return GetItem.apply(input, index=(slice(None),) * d + (idx,))


def masked_select(input, mask: Any):
    """The elements where the bool ``mask`` is True, as a 1-D tensor (``input`` and
    ``mask`` broadcast together first)."""
    from tinygrad_opt.ops.shape import broadcast_shapes, expand

    T = tensor_type()
    m = mask._data if isinstance(mask, T) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}")
    shape = broadcast_shapes(input.shape, m.shape)
    x = expand(input, shape) if input.shape != shape else input
    return GetItem.apply(x, index=np.broadcast_to(m, shape))


def masked_scatter(input, mask: Any, source: Any):
    """``input`` (broadcast with the bool ``mask``) with the places where ``mask`` is True
    filled, in row-major order, by the first elements of ``source``. Gradients: ``input``
    where the mask is False; those first elements of ``source``."""
    from tinygrad_opt.ops.shape import broadcast_shapes, expand

    T = tensor_type()
    m = mask._data if isinstance(mask, T) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(
            f"masked_scatter_ only supports boolean masks, but got mask with dtype {m.dtype}"
        )  # noqa: E501
    if source.dtype != input.dtype:
        raise DTypeError(
            f"masked_scatter: expected self and source to have same dtypes but got "
            f"{input.dtype} and {source.dtype}"
        )
    shape = broadcast_shapes(input.shape, m.shape)
    m = np.broadcast_to(m, shape)
    count = int(m.sum())
    if source._data.size < count:
        raise ShapeError(
            f"masked_scatter: Number of elements of source < number of ones in mask "
            f"({source._data.size} < {count})"
        )
    x = expand(input, shape) if input.shape != shape else input
    values = GetItem.apply(source.reshape(-1), index=slice(0, count))
    return index_put(x, m, values)


def put(input, index: Any, source: Any, accumulate: bool = False):
    """A copy of ``input`` with the elements of the flattened tensor at ``index`` set to
    (``accumulate``: increased by) the elements of ``source``, taken in order."""
    T = tensor_type()
    idx = index._data if isinstance(index, T) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"put_(): Expected a long tensor for index, got {idx.dtype}")
    if idx.size != source._data.size:  # torch raises an IndexError here
        raise DimError(
            f"put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source._data.size}, index.numel() = {idx.size}"
        )
    n = input._data.size
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise DimError(
            f"put: out of range: tried to access index {bad.flat[0]} on a tensor of {n} elements."
        )
    flat = index_put(input.reshape(-1), (idx.reshape(-1),), source.reshape(-1), accumulate)
    return flat.reshape(input.shape)


def nonzero(input, *, as_tuple: bool = False):
    """Indices of the nonzero elements: an int64 (count, ndim) tensor, one row per element
    in row-major order; ``as_tuple=True``: one 1-D tensor per dim (a 0-d input counts as 1-D)."""
    T = tensor_type()
    arr = input._data
    if as_tuple:
        return tuple(T(i.astype(int64)) for i in np.nonzero(np.atleast_1d(arr)))
    return T(np.argwhere(arr).astype(int64))


def argwhere(input):
    """``nonzero(input)``: the (count, ndim) int64 indices of the nonzero elements."""
    return nonzero(input)


def take(input, index: Any):
    """Elements of the flattened ``input`` at ``index`` (any shape; negatives count from
    the end); the result has ``index``'s shape."""
    T = tensor_type()
    idx = index._data if isinstance(index, T) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"take(): Expected a long tensor for index, got {idx.dtype}")
    n = input._data.size
    bad = idx[(idx < -n) | (idx >= n)]
    if bad.size:
        raise DimError(
            f"take: out of range: tried to access index {bad.flat[0]} on a tensor of {n} elements."
        )
    return GetItem.apply(input.reshape(-1), index=idx)


def take_along_dim(input, indices: Any, dim: int | None = None):
    """``gather`` along ``dim`` after broadcasting ``input`` and ``indices`` over the other
    dims; ``dim=None``: ``take`` on the flattened tensors."""
    from tinygrad_opt.ops.scatter import gather
    from tinygrad_opt.ops.shape import broadcast_shapes, expand

    T = tensor_type()
    idx = indices if isinstance(indices, T) else T(np.asarray(indices))
    if dim is None:
        return gather(input.reshape(-1), 0, idx.reshape(-1))
    if input.ndim == 0:
        raise DimError("take_along_dim: Dimension specified as 0 but tensor has no dimensions")
    d = dim_index(dim, input.shape, "take_along_dim")
    if idx.ndim != input.ndim:
        raise ShapeError(
            f"torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {input.ndim} dimensions for input, and {idx.ndim} "
            f"dimensions for indices"
        )
    rest_in = input.shape[:d] + (1,) + input.shape[d + 1 :]
    rest_ix = idx.shape[:d] + (1,) + idx.shape[d + 1 :]
    common = list(broadcast_shapes(rest_in, rest_ix))
    shape_in = tuple(common[:d]) + (input.shape[d],) + tuple(common[d + 1 :])
    shape_ix = tuple(common[:d]) + (idx.shape[d],) + tuple(common[d + 1 :])
    x = expand(input, shape_in) if shape_in != input.shape else input
    i = T(np.broadcast_to(idx._data, shape_ix))
    return gather(x, d, i)


def one_hot(tensor: Any, num_classes: int = -1):
    """int64 one-hot rows: ``out[..., c] = 1`` where ``tensor[...] == c``; ``num_classes``
    -1 means ``max + 1``. (``torch.nn.functional.one_hot``.)"""
    T = tensor_type()
    arr = tensor._data if isinstance(tensor, T) else np.asarray(tensor)
    if arr.dtype != np.int64:
        raise DTypeError(
            f"one_hot is only applicable to index tensor of type LongTensor, got {arr.dtype}."
        )
    if num_classes == -1:
        if arr.size == 0:
            raise ShapeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(arr.max()) + 1
    if arr.size and arr.min() < 0:
        raise ShapeError("one_hot: Class values must be non-negative.")
    if arr.size and arr.max() >= num_classes:
        raise ShapeError(
            f"one_hot: Class values must be smaller than num_classes ({num_classes}), "
            f"got {int(arr.max())}."
        )
    return T((arr[..., None] == np.arange(num_classes)).astype(int64))


class IndexMethods:
    """Tensor methods for indexing."""

    __slots__ = ()

    index_select = index_select
    masked_select = masked_select
    masked_scatter = masked_scatter
    put = put
    nonzero = nonzero
    argwhere = argwhere
    take = take
    take_along_dim = take_along_dim

    def index_put(self, indices: tuple, values: Any, accumulate: bool = False):
        """Out-of-place ``self[indices] = values`` (``accumulate``: ``+=``, repeats adding up);
        ``indices`` is a tuple of integer or bool tensors, one per leading dim."""
        return index_put(self, _tensor_indices(indices), values, accumulate)

    def masked_scatter_(self, mask: Any, source: Any):
        """In-place :func:`masked_scatter` (the mask must broadcast to this tensor's shape)."""
        from tinygrad_opt.ops.shape import broadcast_shapes

        if broadcast_shapes(self.shape, np.shape(mask)) != self.shape:
            raise ShapeError(
                f"masked_scatter_: the mask of shape {np.shape(mask)} does not broadcast to "
                f"the tensor's shape {self.shape}"
            )
        return self._inplace(lambda old: masked_scatter(old, mask, source))

    def put_(self, index: Any, source: Any, accumulate: bool = False):
        """In-place :func:`put`."""
        return self._inplace(lambda old: put(old, index, source, accumulate))

    def index_put_(self, indices: tuple, values: Any, accumulate: bool = False):
        """In-place :meth:`index_put`."""
        where = _tensor_indices(indices)
        return self._inplace(lambda old: index_put(old, where, values, accumulate))
