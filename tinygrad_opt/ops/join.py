"""Joining tensors: ``cat``/``concat``/``concatenate``, ``stack``, ``hstack``,
``vstack``/``row_stack``, ``dstack``, ``column_stack`` and ``atleast_1d/2d/3d``.

Operands of different dtypes are promoted first (torch's rules); each input's gradient
is its own slab of the output gradient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.ops.common import dim_keyword, promote
from tinygrad_opt.ops.slicing import Slice

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "cat",
    "column_stack",
    "concat",
    "concatenate",
    "dstack",
    "hstack",
    "row_stack",
    "stack",
    "vstack",
]


class Cat(Function):
    saves_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):  # each input gets its own slab of g
        return tuple(np.split(g, self.splits, axis=self.axis))

    def vjp(self, g):  # the same slabs, cut by Slice (whose adjoint embeds them back)
        axis = self.axis % g.ndim
        edges = [0, *(int(e) for e in self.splits), g.shape[axis]]
        lead = (slice(None),) * axis
        return tuple(
            Slice.apply(g, index=lead + (slice(lo, hi),)) if need else None
            for lo, hi, need in zip(edges[:-1], edges[1:], self.needs_grad)
        )

    def describe_error(self, inputs, params, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        axis, nd = params["axis"], inputs[0].ndim
        if not -nd <= axis < nd:
            return (
                f"cat: Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                f"but got {axis}) for input shapes {shapes}"
            )
        return f"cat: shapes {shapes} do not match outside axis {axis}"


class Stack(Function):
    saves_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g):  # input i gets slice i along the new axis
        return tuple(np.take(g, i, axis=self.axis) for i in range(g.shape[self.axis]))

    def vjp(self, g):
        lead = (slice(None),) * self.axis
        return tuple(
            Slice.apply(g, index=lead + (i,)) if need else None
            for i, need in enumerate(self.needs_grad)
        )

    def describe_error(self, inputs, params, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        if len({t.shape for t in inputs}) == 1:
            axis, nd = params["axis"], inputs[0].ndim + 1
            return (
                f"stack: Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                f"but got {axis}) for {nd}-D results of input shapes {shapes}"
            )
        return f"stack: all shapes must be equal, got {shapes}"


def _joinable(tensors: Sequence[Any], op: str) -> list:
    ts = list(tensors)
    if not ts:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    return promote(*ts)


def cat(tensors: Sequence[Any], dim: int | None = None, *, axis: int | None = None):
    """Join tensors along an existing dim (torch.cat)."""
    ts = _joinable(tensors, "cat")
    d = dim_keyword(dim, axis, default=0)
    # torch skips 1-D empty tensors (legacy behaviour) when joining others
    keep = [t for t in ts if not (t.ndim == 1 and t.shape[0] == 0)] or ts[:1]
    return Cat.apply(*keep, axis=d)


concat = concatenate = cat


def stack(tensors: Sequence[Any], dim: int | None = None, *, axis: int | None = None):
    """Join tensors along a new dim (torch.stack)."""
    ts = _joinable(tensors, "stack")
    return Stack.apply(*ts, axis=dim_keyword(dim, axis, default=0))


def _atleast(tensors: tuple, nd: int) -> Any:
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    ts = tuple(tensors[0]) if len(tensors) == 1 and not single else tensors
    out = []
    for t in ts:
        if t.ndim >= nd:
            out.append(t)
        elif nd == 3 and t.ndim == 2:
            out.append(t.reshape(t.shape + (1,)))
        elif nd == 3 and t.ndim == 1:
            out.append(t.reshape((1,) + t.shape + (1,)))
        else:
            out.append(t.reshape((1,) * (nd - t.ndim) + t.shape))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """0-d tensors as 1-D (shape (1,)); one tensor in, one out; several (or a list) give a
    tuple."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Tensors of fewer than 2 dims get leading dims of size 1: (n,) → (1, n)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Tensors of fewer than 3 dims as 3-D: (n,) → (1, n, 1), (m, n) → (m, n, 1)."""
    return _atleast(tensors, 3)


def hstack(tensors: Sequence[Any]):
    """Join column-wise: along dim 1, or dim 0 for 1-D tensors (0-d ones count as 1-D)."""
    ts = atleast_1d(list(tensors))
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Any]):
    """Join row-wise: ``cat`` along dim 0 after making every tensor at least 2-D."""
    return cat(atleast_2d(list(tensors)), 0)


row_stack = vstack


def dstack(tensors: Sequence[Any]):
    """Join depth-wise: ``cat`` along dim 2 after making every tensor at least 3-D."""
    return cat(atleast_3d(list(tensors)), 2)


def column_stack(tensors: Sequence[Any]):
    """0-d and 1-D tensors become columns (n, 1); then ``hstack``."""
    ts = [t.reshape(t._data.size, 1) if t.ndim <= 1 else t for t in tensors]
    return hstack(ts)
