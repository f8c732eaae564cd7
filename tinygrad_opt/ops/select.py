"""Value-selecting reductions' common part: ops such as ``max(dim)``, ``sort``, ``topk``,
``median(dim)`` or ``cummax`` find indices (no gradient), and their values are the input
picked at those indices by :class:`TakeAlong`, so the gradient of each value goes back to
exactly the element it came from. :data:`ValuesIndices` is their ``(values, indices)``
result.

The gradient of :class:`TakeAlong` is :class:`PutAlong` (``g`` added into zeros at the
indices) and that of :class:`PutAlong` is :class:`TakeAlong`: the two linear maps are
each other's adjoint, so derivatives of every order are one numpy kernel each."""

from __future__ import annotations

import math
from collections import namedtuple
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = (
    "(values, indices), as torch's ``max(dim)``, ``sort``, ``topk``, ``median(dim)`` … return: "
    "unpack it or read ``.values`` / ``.indices``."
)


def scatter_add(
    shape: tuple[int, ...], dim: int, index: np.ndarray, g: np.ndarray, unique: bool
) -> np.ndarray:
    """An array of ``shape``, zero but for ``g`` added at ``index`` along ``dim`` (the
    inverse of ``take_along_axis``). With ``unique`` indices a plain put suffices; else
    repeats accumulate (one ``bincount`` over flat positions, summed in float64)."""
    if unique:
        out = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(out, index, g, dim)
        return out
    n = shape[dim]
    idx = np.moveaxis(index, dim, -1)
    lead = idx.shape[:-1]
    rows, m = math.prod(lead), idx.shape[-1]
    flat = (np.arange(rows, dtype=np.intp)[:, None] * n + idx.reshape(rows, m)).ravel()
    weights = np.moveaxis(g, dim, -1).reshape(-1).astype(np.float64)
    out = np.bincount(flat, weights=weights, minlength=rows * n).reshape(*lead, n)
    return np.moveaxis(out, -1, dim).astype(g.dtype, copy=False)


class TakeAlong(Function):
    """``out = a`` picked at ``index`` along ``dim`` (numpy's ``take_along_axis``; with
    ``squeeze`` the picked dim, of size 1, is dropped). Backward: each ``g`` goes back to
    the position it was picked from; ``unique=False`` lets repeated picks (cummax)
    accumulate."""

    saves_inputs = False

    def forward(self, a, index, dim, squeeze=False, unique=True):
        self.shape, self.index, self.dim = a.shape, index, dim
        self.squeeze, self.unique = squeeze, unique
        if a.ndim == 0:
            return a.copy()
        out = np.take_along_axis(a, index, dim)
        return np.squeeze(out, dim) if squeeze else out

    def backward(self, g):
        if not self.shape:
            return g.copy()
        if self.squeeze:
            g = np.expand_dims(g, self.dim)
        return scatter_add(self.shape, self.dim, self.index, g, self.unique)

    def vjp(self, g):  # the adjoint: put g back at the indices
        return PutAlong.apply(
            g,
            index=self.index,
            dim=self.dim,
            shape=self.shape,
            squeeze=self.squeeze,
            unique=self.unique,
        )


class PutAlong(Function):
    """The adjoint of :class:`TakeAlong`: an array of ``shape``, zero but for ``g`` added at
    ``index`` along ``dim`` (``squeeze``: ``g`` lacks that dim, of size 1; ``unique``:
    no index repeats, so a plain put). Backward: ``grad`` picked at ``index``, i.e.
    :class:`TakeAlong` again."""

    saves_inputs = False

    def forward(self, g, index, dim, shape, squeeze=False, unique=True):
        self.index, self.dim, self.squeeze, self.unique = index, dim, squeeze, unique
        if not shape:
            return g.copy()
        if squeeze:
            g = np.expand_dims(g, dim)
        return scatter_add(shape, dim, index, g, unique)

    def backward(self, grad):
        if grad.ndim == 0:
            return grad.copy()
        out = np.take_along_axis(grad, self.index, self.dim)
        return np.squeeze(out, self.dim) if self.squeeze else out

    def vjp(self, grad):
        return TakeAlong.apply(
            grad, index=self.index, dim=self.dim, squeeze=self.squeeze, unique=self.unique
        )


def take_along(
    input: Tensor, index: np.ndarray, dim: int, keepdim: bool = True, unique: bool = True
) -> ValuesIndices:
    """``(values, indices)``: ``input`` picked at ``index`` along ``dim``, the gradient going
    to the picked positions. ``keepdim=False`` drops ``dim`` (``index`` has size 1 there);
    ``unique=False`` when an index may repeat along ``dim`` (cummax)."""
    T = tensor_type()
    index = index.astype(np.int64, copy=False)
    values = TakeAlong.apply(input, index=index, dim=dim, squeeze=not keepdim, unique=unique)
    if not keepdim and index.ndim:
        index = np.squeeze(index, dim)
    return ValuesIndices(values, T(index))
