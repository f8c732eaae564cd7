"""Ops that move, copy or join elements without changing their values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type
from tinygrad_opt.errors import DimError, ShapeError
from tinygrad_opt.ops.common import dim_index, dim_keyword, promote, shape_arg

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "reshape",
    "transpose",
    "swapaxes",
    "swapdims",
    "permute",
    "expand",
    "expand_as",
    "squeeze",
    "unsqueeze",
    "flatten",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "clone",
]


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):  # same numbers, old shape
        return g.reshape(self.shape)

    def describe_error(self, inputs, params, err):
        a = inputs[0]
        return f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {params['shape']}"


class Permute(Function):
    def forward(self, a, order):
        if sorted(o % max(a.ndim, 1) for o in order) != list(range(a.ndim)):
            raise ValueError("order must name every dim once")
        self.order = order
        return np.transpose(a, order)

    def backward(self, g):  # apply the inverse permutation
        return np.transpose(g, np.argsort([o % g.ndim for o in self.order]))

    def describe_error(self, inputs, params, err):
        return f"permute: order {params['order']} is not a permutation of the axes of shape {inputs[0].shape}"  # noqa: E501


class Expand(Function):
    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, g):  # the engine's unbroadcast sums the copies
        return g

    def describe_error(self, inputs, params, err):
        return f"expand: cannot expand shape {inputs[0].shape} to {params['shape']}"


class Cat(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):  # each input gets its own slab of g
        return tuple(np.split(g, self.splits, axis=self.axis))

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
    def forward(self, *arrays, axis):
        self.axis = axis
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g):  # input i gets slice i along the new axis
        return tuple(np.take(g, i, axis=self.axis) for i in range(g.shape[self.axis]))

    def describe_error(self, inputs, params, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        if len({t.shape for t in inputs}) == 1:
            axis, nd = params["axis"], inputs[0].ndim + 1
            return (
                f"stack: Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                f"but got {axis}) for {nd}-D results of input shapes {shapes}"
            )
        return f"stack: all shapes must be equal, got {shapes}"


class Pad(Function):
    def forward(self, a, pad_width, value):
        try:
            widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (a.ndim, 2))
        except ValueError:
            raise ValueError(
                f"need an int, one (before, after) pair, or {a.ndim} pairs (one per axis)"
            ) from None
        if (widths < 0).any():
            raise ValueError("pad widths must be non-negative")
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return np.pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):  # the padding is constant: only the original window gets gradient
        return g[self.slices]

    def describe_error(self, inputs, params, err):
        return f"pad: pad_width {params['pad_width']!r} does not fit shape {inputs[0].shape}: {err}"


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, g):  # identity
        return g


# --------------------------------------------------------------------------- functions
def reshape(input, *shape):
    """The same elements in a new shape; one entry may be -1 (inferred)."""
    return Reshape.apply(input, shape=shape_arg(shape))


def transpose(input, dim0: int = -2, dim1: int = -1):
    """Swap two dims (torch semantics). For a full reordering use ``permute``."""
    n = input.ndim
    order = list(range(n))
    d0 = dim_index(dim0, input.shape, "transpose")
    d1 = dim_index(dim1, input.shape, "transpose")
    if n:
        order[d0], order[d1] = order[d1], order[d0]
    return Permute.apply(input, order=tuple(order))


swapaxes = swapdims = transpose


def permute(input, *dims):
    """Reorder the dims: output dim i is input dim ``dims[i]``."""
    order = shape_arg(dims)
    if len(order) != input.ndim:
        raise ShapeError(
            f"permute: number of dims don't match: the input has {input.ndim} dims "
            f"(shape {input.shape}) but {len(order)} were given ({order})"
        )
    return Permute.apply(input, order=tuple(dim_index(d, input.shape, "permute") for d in order))


def expand(input, *shape):
    """Broadcast to ``shape`` without copying; -1 keeps a dimension as it is."""
    target = shape_arg(shape)
    lead = len(target) - input.ndim
    if lead < 0:
        raise ShapeError(
            f"expand: cannot expand shape {input.shape} to {target}: the number of sizes "
            f"given ({len(target)}) must be at least the number of dims ({input.ndim})"
        )
    full = tuple(
        input.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(target)
    )
    return Expand.apply(input, shape=full)


def expand_as(input, other):
    return expand(input, other.shape)


def expand_as_copy(src, like):
    """``src`` broadcast to ``like``'s shape and dtype, as a new array (for ``copy_``)."""
    out = Clone.apply(expand(src, like.shape))
    return out if out.dtype == like.dtype else out.to(like.dtype)


def squeeze(input, dim=None, *, axis=None):
    """Drop dims of size 1: all of them, or those named (a named dim whose size is not 1
    is left alone, as torch)."""
    d = dim_keyword(dim, axis)
    if d is None:
        shape = tuple(n for n in input.shape if n != 1)
    else:
        dims = (d,) if isinstance(d, (int, np.integer)) else tuple(d)
        drop = {dim_index(x, input.shape, "squeeze") for x in dims}
        shape = tuple(n for i, n in enumerate(input.shape) if not (i in drop and n == 1))
    return Reshape.apply(input, shape=shape)


def unsqueeze(input, dim: int):
    """Insert a dim of size 1 at position ``dim`` (of the result)."""
    d = dim_index(dim, input.ndim + 1, f"unsqueeze of shape {input.shape}")
    return Reshape.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge dims ``start_dim``..``end_dim`` into one."""
    if input.ndim == 0:
        return input.reshape(1)
    s = dim_index(start_dim, input.shape, "flatten")
    e = dim_index(end_dim, input.shape, "flatten")
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} cannot come after end_dim {end_dim}")
    merged = 1
    for n in input.shape[s : e + 1]:
        merged *= n
    return input.reshape(input.shape[:s] + (merged,) + input.shape[e + 1 :])


def numpy_pad(input, pad_width: Any, value: float = 0.0):
    """Constant padding; ``pad_width`` as in ``numpy.pad`` (int, pair, or pair per axis)."""
    return Pad.apply(input, pad_width=pad_width, value=value)


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


def clone(input):
    """A copy with its own memory that stays in the graph."""
    return Clone.apply(input)


class ShapeMethods:
    """Tensor methods for shape ops (``t.reshape(2, 3)`` is ``reshape(t, 2, 3)``)."""

    __slots__ = ()

    reshape = view = reshape
    transpose = swapaxes = swapdims = transpose
    permute = permute
    expand = expand
    expand_as = expand_as
    squeeze = squeeze
    unsqueeze = unsqueeze
    flatten = flatten
    pad = numpy_pad

    @property
    def T(self):
        """All dims reversed (the usual transpose for a matrix)."""
        return Permute.apply(self, order=tuple(range(self.ndim))[::-1])

    @property
    def mT(self):
        """The last two dims swapped (a batch of transposed matrices)."""
        return transpose(self, -2, -1)

    def t(self):
        """Transpose of a tensor of at most 2 dims."""
        if self.ndim > 2:
            raise DimError(f"t() expects a tensor with <= 2 dimensions, but got {self.ndim}-D")
        return transpose(self, 0, -1) if self.ndim == 2 else self

    def reshape_as(self, other):
        return reshape(self, other.shape)

    view_as = reshape_as


_ = tensor_type
