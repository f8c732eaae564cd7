"""Argument handling shared by every op: numbers to tensors, dtype promotion, dims.

- :func:`lift` turns a number or array into a constant tensor (numbers take the dtype
  torch would give them next to ``like``).
- :func:`promote` casts operands to their common dtype (:func:`~tinygrad_opt.dtypes.result_type`).
- :func:`dim_index` / :func:`dim_tuple` check dims the way torch does, raising
  :class:`~tinygrad_opt.errors.DimError` (an ``IndexError``) with torch's wording.
- :func:`dim_keyword` / :func:`keepdim_keyword` accept torch's ``dim``/``keepdim`` and the
  older ``axis``/``keepdims`` spellings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import tensor_type
from tinygrad_opt.dtypes import result_type
from tinygrad_opt.errors import DimError
from tinygrad_opt.ops.cast import Cast

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

__all__ = [
    "cast",
    "dim_index",
    "dim_keyword",
    "dim_tuple",
    "keepdim_keyword",
    "lift",
    "promote",
]


def lift(x: Any, like: Any = None, dtype: Any = None) -> Tensor:
    """``x`` as a Tensor: Tensors pass through; a number gets ``dtype`` if given, else the
    dtype torch gives it beside ``like`` (``result_type(like, x)``); arrays keep theirs."""
    T = tensor_type()
    if isinstance(x, T):
        return x
    if dtype is None and like is not None and not isinstance(x, np.ndarray):
        dtype = result_type(like, x)
    return T(x, dtype=dtype)


def cast(t: Tensor, dtype: np.dtype) -> Tensor:
    """``t`` converted to ``dtype`` (itself when it already has it)."""
    return t if t._data.dtype == dtype else Cast.apply(t, dtype=dtype)


def promote(*operands: Any) -> list[Tensor]:
    """Tensors of one common dtype, by torch's promotion rules."""
    dt = result_type(*operands)
    T = tensor_type()
    out = []
    for x in operands:
        if isinstance(x, T):
            out.append(x if x._data.dtype == dt else Cast.apply(x, dtype=dt))
        else:
            arr = np.asarray(x)
            out.append(T(arr if arr.dtype == dt else arr.astype(dt)))
    return out


def _range_message(d: Any, ndim: int) -> str:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    return f"Dimension out of range (expected to be in range of [{lo}, {hi}], but got {d})"


def dim_index(dim: Any, ndim: int | tuple[int, ...], op: str = "") -> int:
    """``dim`` as an index in ``range(ndim)``; a 0-d tensor accepts 0 and -1, as torch.

    ``ndim`` may be the tensor's shape, which the error message then names."""
    shape = ndim if isinstance(ndim, tuple) else None
    ndim = len(ndim) if isinstance(ndim, tuple) else ndim
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__} {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        msg = _range_message(dim, ndim)
        if shape is not None:
            msg += f" for a tensor of shape {shape}"
        raise DimError(f"{op}: {msg}" if op else msg)
    return int(dim) % n if ndim else 0


def dim_tuple(dim: Any, ndim: int | tuple[int, ...], op: str = "") -> tuple[int, ...]:
    """Every dim of ``dim`` (None = all, an int or a sequence) normalised, without repeats."""
    n = len(ndim) if isinstance(ndim, tuple) else ndim
    if dim is None:
        return tuple(range(n))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = tuple(dim_index(d, ndim, op) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {dims} names a dimension more than once")
    return out if n else ()


def dim_keyword(dim: Any, axis: Any, default: Any = None) -> Any:
    """Accept ``dim=`` (torch) or ``axis=`` (numpy, older code); not both. ``default``
    stands in when neither is given."""
    if axis is not None:
        if dim is not None:
            raise TypeError("give dim or axis, not both")
        return axis
    return default if dim is None else dim


def keepdim_keyword(keepdim: bool, keepdims: bool | None) -> bool:
    """Accept ``keepdim=`` (torch) or ``keepdims=`` (numpy, older code)."""
    return bool(keepdims) if keepdims is not None else bool(keepdim)


def shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    """``f(2, 3)`` or ``f((2, 3))`` or ``f([2, 3])`` → ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)
