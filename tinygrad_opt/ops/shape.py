"""Ops that change the shape or the order of dims without changing any value:
reshape/view, permute/movedim, expand/broadcast, squeeze/unsqueeze/flatten. Joining
(cat, stack …) lives in ``join.py``, cutting (split, chunk, narrow …) in ``slicing.py``;
their Tensor methods are listed here.

Differences from torch: results never share memory with their input (``view`` and
``narrow`` give copies), so a view never needs to be contiguous and writing into a
result does not change the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type
from tinygrad_opt.errors import DimError, ShapeError
from tinygrad_opt.ops.common import dim_index, dim_keyword, shape_arg
from tinygrad_opt.ops.join import (  # noqa: F401  (older imports find these here)
    Cat,
    Stack,
    cat,
    concat,
    concatenate,
    stack,
)
from tinygrad_opt.ops.slicing import (
    chunk,
    dsplit,
    hsplit,
    narrow,
    select,
    split,
    split_with_sizes,
    tensor_split,
    unbind,
    vsplit,
)

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "clone",
    "expand",
    "expand_as",
    "flatten",
    "movedim",
    "moveaxis",
    "permute",
    "ravel",
    "reshape",
    "squeeze",
    "swapaxes",
    "swapdims",
    "transpose",
    "unflatten",
    "unsqueeze",
]


class Reshape(Function):
    saves_inputs = False

    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):  # same numbers, old shape
        return g.reshape(self.shape)

    def vjp(self, g):
        return g.reshape(self.shape)

    def describe_error(self, inputs, params, err):
        a = inputs[0]
        return f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {params['shape']}"


class Permute(Function):
    saves_inputs = False

    def forward(self, a, order):
        if sorted(o % max(a.ndim, 1) for o in order) != list(range(a.ndim)):
            raise ValueError("order must name every dim once")
        self.order = order
        return np.transpose(a, order)

    def backward(self, g):  # apply the inverse permutation
        return np.transpose(g, np.argsort([o % g.ndim for o in self.order]))

    def vjp(self, g):
        return g.permute(*[int(i) for i in np.argsort([o % g.ndim for o in self.order])])

    def describe_error(self, inputs, params, err):
        return f"permute: order {params['order']} is not a permutation of the axes of shape {inputs[0].shape}"  # noqa: E501


class Expand(Function):
    saves_inputs = False

    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, g):  # the engine's unbroadcast sums the copies
        return g

    def vjp(self, g):
        return g

    def describe_error(self, inputs, params, err):
        return f"expand: cannot expand shape {inputs[0].shape} to {params['shape']}"


class Pad(Function):
    """numpy-style constant padding (``Tensor.pad``); torch's ``F.pad`` is in ``ops/pad.py``."""

    saves_inputs = False

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

    def vjp(self, g):
        return g[self.slices]

    def describe_error(self, inputs, params, err):
        return f"pad: pad_width {params['pad_width']!r} does not fit shape {inputs[0].shape}: {err}"


class Clone(Function):
    saves_inputs = False

    def forward(self, a):
        return a.copy()

    def backward(self, g):  # identity
        return g

    def vjp(self, g):
        return g


# --------------------------------------------------------------------------- reshaping
def _infer_shape(shape: tuple[int, ...], numel: int, op: str, in_shape: tuple) -> tuple:
    """``shape`` with its -1 (if any) filled in, checked against ``numel`` as torch does."""
    shown = "[" + ", ".join(str(s) for s in shape) + "]"
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise ShapeError(f"{op}: only one dimension can be inferred (shape {shape})")
    for i, s in enumerate(shape):
        if s < -1:
            raise ShapeError(f"{op}: invalid shape dimension {s} at index {i} of shape {shown}")
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0:
            raise ShapeError(
                f"{op}: cannot reshape tensor of 0 elements into shape {shown} because the "
                "unspecified dimension size -1 can be any value and is ambiguous"
            )
        if numel % known == 0:
            return tuple(numel // known if s == -1 else s for s in shape)
    elif known == numel:
        return shape
    raise ShapeError(
        f"{op}: shape '{shown}' is invalid for input of size {numel} "
        f"(cannot reshape shape {in_shape} into {shape})"
    )


def reshape(input, *shape):
    """The same elements, in row-major order, in a new shape; one entry may be -1 (inferred
    from the others)."""
    target = _infer_shape(shape_arg(shape), input._data.size, "reshape", input.shape)
    return Reshape.apply(input, shape=target)


def ravel(input):
    """The elements as a 1-D tensor, in row-major order."""
    return Reshape.apply(input, shape=(input._data.size,))


def view(input, *shape):
    """``reshape`` (a copy here, never an alias); ``view(dtype)`` reinterprets the bytes as
    another dtype of the same item size or one that divides the last dim (no gradient)."""
    if len(shape) == 1 and not isinstance(shape[0], (tuple, list, int, np.integer)):
        from tinygrad_opt.dtypes import to_dtype

        arr = input._data
        dt = to_dtype(shape[0])
        if dt.itemsize != arr.dtype.itemsize and (
            arr.ndim == 0 or (arr.shape[-1] * arr.dtype.itemsize) % dt.itemsize
        ):
            raise ShapeError(
                f"view: cannot view a tensor of shape {input.shape} and dtype {arr.dtype} "
                f"as {dt}: the last dim's bytes must divide into {dt.itemsize}-byte items"
            )
        return tensor_type()(np.ascontiguousarray(arr).view(dt))
    target = _infer_shape(shape_arg(shape), input._data.size, "view", input.shape)
    return Reshape.apply(input, shape=target)


def unflatten(input, dim: int, sizes: Sequence[int]):
    """Split dim ``dim`` into several of sizes ``sizes`` (one may be -1)."""
    if input.ndim == 0:
        raise DimError("unflatten: Dimension specified as 0 but tensor has no dimensions")
    d = dim_index(dim, input.shape, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise ShapeError("unflatten: sizes must be non-empty")
    n = input.shape[d] if input.ndim else 1
    if sizes.count(-1) > 1:
        raise ShapeError(f"unflatten: only one dimension can be inferred (sizes {sizes})")
    known = math.prod(s for s in sizes if s != -1)
    if (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        shown = "[" + ", ".join(str(s) for s in sizes) + "]"
        raise ShapeError(
            f"unflatten: Provided sizes {shown} don't multiply up to the size of dim {dim} "
            f"({n}) in the input tensor of shape {input.shape}"
        )
    sizes = tuple(n // known if s == -1 else s for s in sizes)
    return Reshape.apply(input, shape=input.shape[:d] + sizes + input.shape[d + 1 :])


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


def movedim(input, source: int | Sequence[int], destination: int | Sequence[int]):
    """Move dims ``source`` to positions ``destination``; the other dims keep their order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ShapeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    s = [dim_index(d, input.shape, "movedim") for d in src]
    t = [dim_index(d, input.shape, "movedim") for d in dst]
    for name, ds, given in (("source", s, src), ("destination", t, dst)):
        if len(set(ds)) != len(ds):
            raise ShapeError(f"movedim: repeated dim in `{name}` ({list(given)})")
    rest = iter(d for d in range(input.ndim) if d not in s)
    placed = dict(zip(t, s))
    order = tuple(placed[i] if i in placed else next(rest) for i in range(input.ndim))
    return Permute.apply(input, order=order)


moveaxis = movedim


def broadcast_shapes(*shapes: Any) -> tuple[int, ...]:
    """The shape that tensors of ``shapes`` broadcast to (torch's error when they cannot)."""
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, n in enumerate(s, start=nd - len(s)):
            if n == out[i] or n == 1:
                continue
            if out[i] != 1:
                raise ShapeError(
                    f"The size of tensor a ({out[i]}) must match the size of tensor b ({n}) at "
                    f"non-singleton dimension {i} (shapes {', '.join(map(str, shapes))})"
                )
            out[i] = n
    return tuple(out)


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
    for i, n in enumerate(full):
        if n < 0:
            raise ShapeError(
                f"expand: cannot expand shape {input.shape} to {target}: the expanded size "
                f"of a new leading dim cannot be {n}"
            )
        if i >= lead and input.shape[i - lead] not in (1, n):
            raise ShapeError(
                f"expand: cannot expand shape {input.shape} to {target}: the expanded size "
                f"({n}) must match the existing size ({input.shape[i - lead]}) at "
                f"non-singleton dimension {i}"
            )
    return Expand.apply(input, shape=full)


def expand_as(input, other):
    return expand(input, other.shape)


broadcast_to = expand


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape, as a tuple."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


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


def clone(input):
    """A copy with its own memory that stays in the graph."""
    return Clone.apply(input)


class ShapeMethods:
    """Tensor methods for shape ops (``t.reshape(2, 3)`` is ``reshape(t, 2, 3)``)."""

    __slots__ = ()

    reshape = reshape
    ravel = ravel
    view = view
    unflatten = unflatten
    transpose = swapaxes = swapdims = transpose
    permute = permute
    movedim = moveaxis = movedim
    expand = expand
    expand_as = expand_as
    broadcast_to = broadcast_to
    squeeze = squeeze
    unsqueeze = unsqueeze
    flatten = flatten
    narrow = narrow
    select = select
    unbind = unbind
    split = split
    chunk = chunk
    tensor_split = tensor_split
    split_with_sizes = split_with_sizes
    hsplit = hsplit
    vsplit = vsplit
    dsplit = dsplit
    pad = numpy_pad

    @property
    def T(self):
        """All dims reversed (the usual transpose for a matrix)."""
        return Permute.apply(self, order=tuple(range(self.ndim))[::-1])

    @property
    def mT(self):
        """The last two dims swapped (a batch of transposed matrices)."""
        if self.ndim < 2:
            raise ShapeError(
                "tensor.mT is only supported on matrices or batches of matrices. "
                f"Got {self.ndim}-D tensor."
            )
        return transpose(self, -2, -1)

    H = T  # real tensors: the conjugate transpose is the transpose
    mH = mT

    def t(self):
        """Transpose of a tensor of at most 2 dims."""
        if self.ndim > 2:
            raise DimError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return transpose(self, 0, -1) if self.ndim == 2 else self

    def adjoint(self):
        """The last two dims swapped (real tensors: no conjugation)."""
        return self.mT

    def reshape_as(self, other):
        return reshape(self, other.shape)

    view_as = reshape_as
