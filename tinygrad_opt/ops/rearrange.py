"""Ops that copy elements to new places: repeat/tile/repeat_interleave, flip/roll/rot90,
the triangles (tril/triu) and diagonals (diag, diagonal, diag_embed).

Each result is a new array (torch's ``diagonal`` is a view; here it is a copy). The
gradient of a copy-to-new-places op sends each output gradient back to the element it
came from, adding where one element was copied several times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type
from tinygrad_opt.dtypes import int64
from tinygrad_opt.errors import DimError, ShapeError
from tinygrad_opt.ops.common import dim_index, shape_arg

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "diag",
    "diag_embed",
    "diagonal",
    "flip",
    "fliplr",
    "flipud",
    "repeat_interleave",
    "roll",
    "rot90",
    "tile",
    "tril",
    "triu",
]


class Flip(Function):
    """Reverse the order along ``dims``; the gradient is flipped back."""

    saves_inputs = False

    def forward(self, a, dims):
        self.dims = dims
        return np.flip(a, dims).copy()

    def backward(self, g):
        return np.flip(g, self.dims)

    def vjp(self, g):  # flipping is its own adjoint
        return Flip.apply(g, dims=self.dims)


class Roll(Function):
    """Shift elements cyclically by ``shifts`` along ``dims`` (``dims=None``: the flattened
    tensor); the gradient is rolled back by ``-shifts``."""

    saves_inputs = False

    def forward(self, a, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return np.roll(a, shifts, dims)

    def backward(self, g):
        return np.roll(g, self._back(), self.dims)

    def vjp(self, g):  # the adjoint of a roll is the roll back
        return Roll.apply(g, shifts=self._back(), dims=self.dims)

    def _back(self) -> int | tuple[int, ...]:
        return -self.shifts if self.dims is None else tuple(-s for s in self.shifts)


class Triangle(Function):
    """Keep the lower (``upper=False``) or upper triangle of the last two dims, from the
    ``diagonal``-th diagonal on; the rest is 0. Linear and its own adjoint."""

    saves_inputs = False

    def forward(self, a, diagonal, upper):
        self.k, self.fn = diagonal, (np.triu if upper else np.tril)
        return self.fn(a, diagonal).astype(a.dtype, copy=False)

    def backward(self, g):
        return self.fn(g, self.k)

    def vjp(self, g):
        return Triangle.apply(g, **self.params)


def _diag_positions(offset: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the ``offset``-th diagonal (``length`` elements)."""
    i = np.arange(length)
    return i + max(-offset, 0), i + max(offset, 0)


def _diagonal_scatter(g: np.ndarray, shape: tuple, offset: int, dim1: int, dim2: int):
    """Zeros of ``shape`` with the last dim of ``g`` on the ``offset``-th diagonal of the
    (dim1, dim2) planes."""
    out = np.zeros(shape, dtype=g.dtype)
    planes = np.moveaxis(out, (dim1, dim2), (-2, -1))  # a view: writes land in out
    rows, cols = _diag_positions(offset, g.shape[-1])
    planes[..., rows, cols] = g
    return out


class Diagonal(Function):
    """The ``offset``-th diagonal of the (dim1, dim2) planes, as a new last dim.

    Backward: zeros with ``g`` written back onto that diagonal."""

    saves_inputs = False

    def forward(self, a, offset, dim1, dim2):
        self.shape, self.args = a.shape, (offset, dim1, dim2)
        return np.diagonal(a, offset, dim1, dim2).copy()

    def backward(self, g):
        return _diagonal_scatter(g, self.shape, *self.args)

    def vjp(self, g):
        return DiagonalScatter.apply(g, shape=self.shape, **self.params)


class DiagonalScatter(Function):
    """The adjoint of :class:`Diagonal`: zeros of ``shape`` with the last dim of ``g``
    written onto the ``offset``-th diagonal of the (dim1, dim2) planes. Its adjoint is
    :class:`Diagonal` again."""

    saves_inputs = False

    def forward(self, g, shape, offset, dim1, dim2):
        self.args = (offset, dim1, dim2)
        return _diagonal_scatter(g, shape, offset, dim1, dim2)

    def backward(self, g):
        return np.diagonal(g, *self.args)

    def vjp(self, g):
        offset, dim1, dim2 = self.args
        return Diagonal.apply(g, offset=offset, dim1=dim1, dim2=dim2)


class DiagEmbed(Function):
    """Place the last dim of ``a`` on the ``offset``-th diagonal of new (dim1, dim2) planes
    of size n + |offset|, zeros elsewhere. Backward: that diagonal of ``g``."""

    saves_inputs = False

    def forward(self, a, offset, dim1, dim2):
        self.args = (offset, dim1, dim2)
        n = a.shape[-1] if a.ndim else 1
        m = n + abs(offset)
        base = np.zeros(a.shape[:-1] + (m, m), dtype=a.dtype)
        rows, cols = _diag_positions(offset, n)
        base[..., rows, cols] = a
        return np.moveaxis(base, (-2, -1), (dim1, dim2))

    def backward(self, g):
        offset, dim1, dim2 = self.args
        return np.diagonal(g, offset, dim1, dim2)

    def vjp(self, g):  # the adjoint of embedding a diagonal is reading it
        return Diagonal.apply(g, **self.params)


# --------------------------------------------------------------------------- repeating
def repeat(input, *sizes):
    """Tile the tensor ``sizes[i]`` times along dim i; extra leading sizes add new dims.

    Written as reshape → expand → reshape: (s0, s1) becomes (1, s0, 1, s1), is expanded
    to (r0, s0, r1, s1) and merged to (r0·s0, r1·s1); the gradient sums the copies."""
    reps = shape_arg(sizes)
    if len(reps) < input.ndim:
        raise ShapeError(
            "repeat: Number of dimensions of repeat dims can not be smaller than number of "
            f"dimensions of tensor (repeats {reps} for shape {input.shape})"
        )
    shape = (1,) * (len(reps) - input.ndim) + input.shape
    out_shape = tuple(r * s for r, s in zip(reps, shape))
    if any(r < 0 for r in reps):
        shown = "[" + ", ".join(map(str, out_shape)) + "]"
        bad = next(s for s in out_shape if s < 0)
        raise ShapeError(f"repeat: Trying to create tensor with negative dimension {bad}: {shown}")
    inter = tuple(x for s in shape for x in (1, s))
    wide = tuple(x for r, s in zip(reps, shape) for x in (r, s))
    return input.reshape(inter).expand(wide).reshape(out_shape)


def tile(input, dims: Sequence[int] | int, *more: int):
    """``repeat`` with ``dims`` padded by leading 1s when it is shorter than the shape."""
    reps = shape_arg((dims, *more))
    reps = (1,) * (input.ndim - len(reps)) + reps
    return repeat(input, reps)


def repeat_interleave(input, repeats: Any = None, dim: int | None = None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times in place:
    [a, b] → [a, a, b, b]. ``repeats`` is an int or an integer tensor with one count per
    slice (or one count for all). ``dim=None`` works on the flattened tensor.

    With only an integer tensor ``r`` (``repeat_interleave(r)``): index i repeated r[i]
    times, int64. Composed from ``index_select``; the gradient sums each element's copies."""
    from tinygrad_opt.ops.index import index_select

    T = tensor_type()
    if repeats is None:
        counts = _counts(input, None)
        return T(np.repeat(np.arange(counts.size, dtype=int64), counts))
    if dim is None:
        input = input.reshape(-1)
        dim = 0
    elif input.ndim == 0:
        raise DimError(f"repeat_interleave: dim {dim} given for a 0-d tensor (use dim=None)")
    d = dim_index(dim, input.shape, "repeat_interleave")
    n = input.shape[d] if input.ndim else 1
    counts = _counts(repeats, n)
    index = np.repeat(np.arange(n, dtype=int64), counts)
    if output_size is not None and output_size != index.size:
        raise ShapeError(
            f"repeat_interleave: output_size {output_size} does not match the repeated "
            f"size {index.size}"
        )
    return index_select(input, d, T(index))


def _counts(repeats: Any, n: int | None) -> np.ndarray:
    """Repeat counts as an int array of length ``n`` (``None``: any length)."""
    T = tensor_type()
    if isinstance(repeats, (int, np.integer)):
        if repeats < 0:
            raise ShapeError(f"repeat_interleave: Repeats must be non-negative, got {repeats}")
        return np.full(n, int(repeats), dtype=int64)
    arr = repeats._data if isinstance(repeats, T) else np.asarray(repeats)
    if arr.dtype.kind not in "iu":
        from tinygrad_opt.ops.reduce import NoKernelError

        raise NoKernelError(
            f"repeat_interleave: repeats must be an integer tensor, got {arr.dtype}"
        )
    if arr.ndim > 1:
        raise ShapeError(
            f"repeat_interleave: repeats must be 0-dim or 1-dim tensor, got shape {arr.shape}"
        )
    if (arr < 0).any():
        raise ShapeError("repeat_interleave: repeats can not be negative")
    if n is None:
        return arr.reshape(-1).astype(int64)
    if arr.size == 1:
        return np.full(n, int(arr.reshape(())), dtype=int64)
    if arr.size != n:
        raise ShapeError(
            "repeat_interleave: repeats must have the same size as input along dim, but got "
            f"repeats.size(0) = {arr.size} and input.size(0) = {n}"
        )
    return arr.astype(int64)


# --------------------------------------------------------------------------- reordering
def _dims(dims: tuple, shape: tuple, op: str) -> tuple[int, ...]:
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    out = tuple(dim_index(d, shape, op) for d in dims)
    for d in out:
        if out.count(d) > 1:
            raise ShapeError(f"{op}: dim {d} appears multiple times in the list of dims")
    return out


def flip(input, *dims):
    """Reverse the order of elements along each of ``dims``."""
    axes = _dims(dims, input.shape, "flip")
    return Flip.apply(input, dims=axes if input.ndim else ())


def fliplr(input):
    """Flip dim 1 (left/right); needs at least 2 dims."""
    if input.ndim < 2:
        raise ShapeError(f"fliplr: Input must be >= 2-d, got shape {input.shape}.")
    return flip(input, 1)


def flipud(input):
    """Flip dim 0 (up/down); needs at least 1 dim."""
    if input.ndim < 1:
        raise ShapeError("flipud: Input must be >= 1-d.")
    return flip(input, 0)


def roll(input, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None):
    """Shift elements cyclically: ``out[(i + s) % n] = in[i]`` along each dim, or over the
    flattened tensor when ``dims`` is None (then the shape is kept)."""
    sh = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(sh) != 1:
            raise ShapeError(f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims:0")
        return Roll.apply(input, shifts=int(sh[0]), dims=None)
    ds = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(sh) != len(ds):
        raise ShapeError(
            f"roll: shifts and dimensions must align. shifts: {len(sh)}, dims:{len(ds)}"
        )
    if input.ndim == 0:
        raise DimError(f"roll: Dimension specified as {ds[0]} but tensor has no dimensions")
    axes = tuple(dim_index(d, input.shape, "roll") for d in ds)
    return Roll.apply(input, shifts=tuple(int(s) for s in sh), dims=axes)


def rot90(input, k: int = 1, dims: Sequence[int] = (0, 1)):
    """Rotate by 90° ``k`` times in the plane of ``dims``, from the first towards the second."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise ShapeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise ShapeError(f"rot90: expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (dim_index(d, input.shape, "rot90") for d in dims)
    if d0 == d1:
        raise ShapeError(
            f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return flip(input, d1).transpose(d0, d1)
    if k == 2:
        return flip(input, d0, d1)
    if k == 3:
        return flip(input, d0).transpose(d0, d1)
    return input.clone()


# --------------------------------------------------------------------------- triangles, diagonals
def _tri(input, diagonal: int, upper: bool):
    op = "triu" if upper else "tril"
    if input.ndim < 2:
        raise ShapeError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {input.shape}"
        )
    return Triangle.apply(input, diagonal=int(diagonal), upper=upper)


def tril(input, diagonal: int = 0):
    """Zero the elements above the ``diagonal``-th diagonal of the last two dims
    (``out[..., i, j] = x[..., i, j]`` if ``j - i <= diagonal`` else 0)."""
    return _tri(input, diagonal, False)


def triu(input, diagonal: int = 0):
    """Zero the elements below the ``diagonal``-th diagonal (kept: ``j - i >= diagonal``)."""
    return _tri(input, diagonal, True)


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """Elements ``x[..., i, i + offset]`` of the (dim1, dim2) planes, as a new last dim
    (``offset`` > 0: above the main diagonal)."""
    d1 = dim_index(dim1, input.shape, "diagonal")
    d2 = dim_index(dim2, input.shape, "diagonal")
    if d1 == d2:
        raise ShapeError(f"diagonal: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """The last dim of ``input`` on the ``offset``-th diagonal of new (dim1, dim2) planes
    (dims of the result, which has one dim more); zeros elsewhere."""
    nd = input.ndim + 1
    d1 = dim_index(dim1, nd, "diag_embed")
    d2 = dim_index(dim2, nd, "diag_embed")
    if d1 == d2:
        raise ShapeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbed.apply(input, offset=int(offset), dim1=d1, dim2=d2)


def diag(input, diagonal: int = 0):
    """1-D → the square matrix with ``input`` on its ``diagonal``-th diagonal;
    2-D → that diagonal, as 1-D."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=int(diagonal), dim1=0, dim2=1)
    raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D (shape {input.shape})")


class RearrangeMethods:
    """Tensor methods for the ops that copy elements to new places."""

    __slots__ = ()

    repeat = repeat
    tile = tile
    repeat_interleave = repeat_interleave
    flip = flip
    fliplr = fliplr
    flipud = flipud
    roll = roll
    rot90 = rot90
    tril = tril
    triu = triu
    diag = diag
    diagonal = diagonal
    diag_embed = diag_embed

    def tril_(self, diagonal: int = 0):
        return self._inplace(lambda old: tril(old, diagonal))

    def triu_(self, diagonal: int = 0):
        return self._inplace(lambda old: triu(old, diagonal))
