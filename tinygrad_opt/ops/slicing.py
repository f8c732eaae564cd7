"""Cutting tensors into pieces: ``narrow``, ``select``, ``unbind``, ``split``,
``chunk``, ``tensor_split``. Each piece is a basic-index window of the input; its
gradient fills that window of zeros (the engine adds the pieces' gradients up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.errors import DimError, ShapeError
from tinygrad_opt.ops.common import dim_index

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "chunk",
    "dsplit",
    "hsplit",
    "narrow",
    "select",
    "split",
    "split_with_sizes",
    "tensor_split",
    "unbind",
    "vsplit",
]


class Slice(Function):
    """``a[index]`` for a basic index (ints, slices); the gradient fills that window."""

    saves_inputs = False

    def forward(self, a, index):
        self.shape, self.index = a.shape, index
        out = a[index]
        return out if isinstance(out, np.ndarray) else np.asarray(out)  # 0-d, not a scalar

    def backward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        out[self.index] = g
        return out

    def vjp(self, g):
        return Embed.apply(g, shape=self.shape, index=self.index)


class Embed(Function):
    """The adjoint of :class:`Slice`: zeros of ``shape`` with ``g`` written into the window
    ``index`` (``out[index] = g``). Its own adjoint is the slice ``g[index]``, so every
    derivative order of a slice costs one numpy kernel."""

    saves_inputs = False

    def forward(self, g, shape, index):
        self.index = index
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
        return out

    def backward(self, g):
        return np.asarray(g[self.index])

    def vjp(self, g):
        return Slice.apply(g, index=self.index)


def _window(input, d: int, start: int, stop: int):
    index = (slice(None),) * d + (slice(start, stop),)
    return Slice.apply(input, index=index)


def narrow(input, dim: int, start: Any, length: int):
    """Elements ``start`` .. ``start + length - 1`` along ``dim`` (``start`` may be negative)."""
    if input.ndim == 0:
        raise DimError("narrow() cannot be applied to a 0-dim tensor.")
    d = dim_index(dim, input.shape, "narrow")
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise DimError(
            f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    start = start + n if start < 0 else start
    if length < 0:
        raise ShapeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise ShapeError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
            f"of dim {d} of shape {input.shape}."
        )
    return _window(input, d, start, start + length)


def select(input, dim: int, index: Any):
    """The slice at ``index`` along ``dim``, without that dim (``x.select(0, i)`` is ``x[i]``)."""
    if input.ndim == 0:
        raise DimError("select() cannot be applied to a 0-dim tensor.")
    d = dim_index(dim, input.shape, "select")
    n, i = input.shape[d], int(index)
    if not -n <= i < n:
        raise DimError(
            f"select(): index {i} out of range for tensor of size {list(input.shape)} "
            f"at dimension {d}"
        )
    return Slice.apply(input, index=(slice(None),) * d + (i % n,))


def unbind(input, dim: int = 0):
    """All slices along ``dim``, as a tuple (the dim removed)."""
    d = dim_index(dim, input.shape, "unbind")
    if input.ndim == 0:
        raise DimError("unbind: Dimension specified as 0 but tensor has no dimensions")
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def split(input, split_size_or_sections: int | Sequence[int], dim: int = 0):
    """Cut along ``dim`` into pieces of ``split_size`` (the last may be smaller), or into
    pieces of the listed sizes (which must add up to the dim's size)."""
    if input.ndim == 0:
        raise ShapeError("split expects at least a 1-dimensional tensor")
    d = dim_index(dim, input.shape, "split")
    n = input.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)) or (
        hasattr(split_size_or_sections, "ndim") and split_size_or_sections.ndim == 0
    ):
        size = int(split_size_or_sections)
        if size < 0:
            raise ShapeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0 and n != 0:
            raise ShapeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        count = max(-(-n // size), 1) if size else 1
        sizes = [size] * (count - 1) + [n - size * (count - 1)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise ShapeError(
                f"split_with_sizes expects split_sizes have only non-negative entries, but "
                f"got split_sizes={sizes}"
            )
        if sum(sizes) != n:
            raise ShapeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                f"size at dimension {d}), but got split_sizes={sizes}"
            )
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    return tuple(_window(input, d, lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))


def chunk(input, chunks: int, dim: int = 0):
    """Cut into ``chunks`` pieces of ``ceil(size / chunks)`` (fewer pieces when that size
    already covers the dim; ``chunks`` empty pieces for an empty dim)."""
    if chunks <= 0:
        raise ShapeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.ndim == 0:
        raise ShapeError("chunk expects at least a 1-dimensional tensor")
    d = dim_index(dim, input.shape, "chunk")
    n = input.shape[d]
    size = -(-n // chunks)
    if n == 0:
        return split(input, [0] * chunks, d)
    return split(input, size, d)


def tensor_split(input, indices_or_sections: int | Sequence[int], dim: int = 0):
    """Cut into ``sections`` nearly equal pieces (the first ``n % sections`` one longer),
    or at the listed indices (as ``numpy.array_split``)."""
    if input.ndim == 0:
        raise ShapeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    d = dim_index(dim, input.shape, "tensor_split")
    n = input.shape[d]
    sec = indices_or_sections
    if isinstance(sec, (int, np.integer)):
        if sec <= 0:
            raise ShapeError(f"number of sections must be larger than 0, got {sec}")
        q, r = divmod(n, int(sec))
        sizes = [q + 1] * r + [q] * (int(sec) - r)
        edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    else:
        cuts = [min(max(int(i) + (n if i < 0 else 0), 0), n) for i in sec]
        edges = [0, *cuts, n]
    return tuple(_window(input, d, lo, max(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:]))


def split_with_sizes(input, split_sizes: Sequence[int], dim: int = 0):
    """``split`` with a list of sizes (which must add up to the dim's size)."""
    return split(input, [int(n) for n in split_sizes], dim)


def _directional(input, sections: Any, dim: int, op: str, min_nd: int):
    if input.ndim < min_nd:
        raise ShapeError(
            f"torch.{op} requires a tensor with at least {min_nd} dimension, but got a tensor "
            f"with {input.ndim} dimensions!"
        )
    if isinstance(sections, (int, np.integer)):
        n = input.shape[dim]
        if sections <= 0 or n % sections:
            raise ShapeError(
                f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                f"dimension {n} is not divisible by the split_size {sections}!"
            )
    return tensor_split(input, sections, dim)


def hsplit(input, sections: int | Sequence[int]):
    """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); an int must divide the size."""
    return _directional(input, sections, 1 if input.ndim >= 2 else 0, "hsplit", 1)


def vsplit(input, sections: int | Sequence[int]):
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims."""
    return _directional(input, sections, 0, "vsplit", 2)


def dsplit(input, sections: int | Sequence[int]):
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims."""
    return _directional(input, sections, 2, "dsplit", 3)
