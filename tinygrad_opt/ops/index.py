"""Indexing: basic (slices, ints, None, ...) and advanced (integer and boolean arrays)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, is_grad_enabled, tensor_type
from tinygrad_opt.errors import DimError

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "getitem",
    "index_put",
]


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None
        or p is Ellipsis
        or isinstance(p, (slice, int, np.integer))
        or (isinstance(p, np.ndarray) and p.dtype == np.bool_)
        for p in parts
    )


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, g):
        # Scatter g back to where it came from; integer-array indices may repeat an element,
        # so those go through np.add.at, which adds instead of overwriting.
        out = np.zeros(self.shape, dtype=g.dtype)
        if _is_basic_index(self.index):
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)
        return out

    def describe_error(self, inputs, params, err):
        return f"getitem: index {params['index']!r} does not fit shape {inputs[0].shape}: {err}"


class IndexPut(Function):
    """``out = a`` with ``out[index] = v``: a copy, so the original stays intact.

    Backward: the overwritten positions of ``a`` get no gradient; ``v`` gets
    ``g[index]`` (summed back over broadcasting by the engine).
    """

    def forward(self, a, v, index):
        self.index, self.v_shape = index, v.shape
        out = a.copy()
        out[index] = v
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_grad[0]:
            ga = g.copy()
            ga[self.index] = 0
        if self.needs_grad[1]:
            gv = g[self.index]
        return ga, gv

    def describe_error(self, inputs, params, err):
        a, v = inputs
        return (
            f"index_put: cannot assign a value of shape {v.shape} to index "
            f"{params['index']!r} of shape {a.shape}: {err}"
        )


# --------------------------------------------------------------------------- index handling
_INDEX_DTYPE_ERROR = "tensors used as indices must be long, int, byte or bool tensors"


def _index_part(part: Any) -> Any:
    T = tensor_type()
    if isinstance(part, T):
        part = part._data
    elif isinstance(part, (list, tuple)):
        part = np.asarray([p._data if isinstance(p, T) else p for p in part])
    if isinstance(part, np.ndarray):
        if part.dtype.kind == "b":
            return part
        if part.dtype.kind not in "iu":
            if part.size == 0:
                return part.astype(np.intp)
            raise DimError(f"{_INDEX_DTYPE_ERROR}, got dtype {part.dtype}")
        return part
    if isinstance(part, (float, np.floating)):
        raise DimError(f"a float ({part!r}) cannot index a tensor; {_INDEX_DTYPE_ERROR}")
    return part


def _is_advanced(part: Any) -> bool:
    return isinstance(part, np.ndarray)


def normalize_index(index: Any) -> tuple[Any, Any]:
    """Tensors and lists inside ``index`` as numpy arrays, checked; returns one index, or
    two to apply one after the other when integers mix with advanced indices.

    torch treats a plain integer as a basic index (it selects first), numpy as an
    advanced one: ``x[0, :, [1, 2]]`` of a (3, 4, 5) tensor is (4, 2) in torch and
    (2, 4) in numpy. Applying the integers first gives torch's shape.
    """
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_index_part(p) for p in parts)
    has_adv = any(_is_advanced(p) and p.ndim > 0 for p in parts)
    has_int = any(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in parts)
    if not (has_adv and has_int):
        return (parts if isinstance(index, tuple) else parts[0]), None
    first, second = [], []
    for p in parts:
        if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
            first.append(p)
        elif p is None:
            first.append(None)
            second.append(slice(None))
        elif p is Ellipsis:
            first.append(Ellipsis)
            second.append(Ellipsis)
        else:
            first.extend([slice(None)] * (p.ndim if _is_advanced(p) and p.dtype == bool else 1))
            second.append(p)
    return tuple(first), tuple(second)


def getitem(input, index: Any):
    """``input[index]`` with torch's rules (bool masks, integer tensors, slices, None, ...)."""
    first, second = normalize_index(index)
    out = GetItem.apply(input, index=first)
    return out if second is None else GetItem.apply(out, index=second)


def index_put(input, index: Any, value: Any):
    """A copy of ``input`` with ``[index]`` set to ``value`` (the value of ``t[index] = v``)."""
    from tinygrad_opt.ops.common import lift

    first, second = normalize_index(index)
    if second is not None:  # x[0, idx] = v: write through the view of x[0]
        inner = GetItem.apply(input, index=first)
        return index_put(input, first, index_put(inner, second, value))
    v = lift(value, input)
    if v.dtype != input.dtype:
        v = v.to(input.dtype)
    T = tensor_type()
    if not (is_grad_enabled() and (input._rg or v._rg)):
        out = input._data.copy()
        try:
            out[first] = v._data
        except IndexError as e:
            raise DimError(
                f"index_put: index {first!r} does not fit shape {input.shape}: {e}"
            ) from None
        except ValueError as e:
            from tinygrad_opt.errors import ShapeError

            raise ShapeError(
                f"index_put: cannot assign a value of shape {v.shape} to index {first!r} "
                f"of shape {input.shape}: {e}"
            ) from None
        return T(out)
    return IndexPut.apply(input, v, index=first)


class IndexMethods:
    """Tensor methods for indexing."""

    __slots__ = ()

    def index_put(self, indices: tuple, values: Any):
        """Out-of-place ``self[indices] = values``."""
        return index_put(self, tuple(indices), values)
