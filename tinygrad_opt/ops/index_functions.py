"""The Functions behind indexing: :class:`GetItem` (``a[index]``), its adjoint
:class:`IndexAdd` (``g`` added at ``index`` into zeros) and :class:`IndexPut`
(``out[index] = v`` / ``+= v``), with the numpy kernels they share.

``index`` here is already a numpy index (ints, slices, ``None``, ``...``, integer and
bool arrays) applied with numpy's rules; ``index.py`` turns torch's index forms into one.
GetItem and IndexAdd are each other's vector-Jacobian product, so every derivative order
of an indexing op costs one numpy kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant

__all__ = ["GetItem", "IndexAdd", "IndexPut", "scatter_add_axis"]


def _is_basic_index(index: Any) -> bool:
    """No integer arrays: each element is picked at most once (bool masks pick distinct ones)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(not isinstance(p, np.ndarray) or p.dtype == np.bool_ for p in parts)


def _torch_wording(err: Exception) -> str:
    return str(err).replace("for axis", "for dimension").replace("array", "tensor")


def _single_array_axis(index: Any, ndim: int) -> int | None:
    """The axis of the only part of ``index`` when it is one integer array among full
    slices (``x[:, idx]``: an embedding lookup, ``index_select``, a pad gather); else None."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) > ndim:
        return None
    axis = None
    for k, p in enumerate(parts):
        if isinstance(p, np.ndarray) and p.dtype.kind in "iu":
            if axis is not None:
                return None
            axis = k
        elif not (isinstance(p, slice) and p == slice(None)):
            return None
    return axis


def scatter_add_axis(shape: tuple, axis: int, idx: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Zeros of ``shape`` plus ``g`` added at ``idx`` along ``axis`` (the adjoint of
    ``x[(:,) * axis + (idx,)]``); repeats add up. Sorts the index and sums each run with
    ``np.add.reduceat``: much faster than ``np.add.at`` on large slabs."""
    n = shape[axis]
    flat = idx.reshape(-1) % max(n, 1)
    g = g.reshape(shape[:axis] + (flat.size,) + shape[axis + 1 :])
    out = np.zeros(shape, dtype=g.dtype)
    if flat.size:
        order = np.argsort(flat, kind="stable")
        ordered = flat[order]
        starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
        sums = np.add.reduceat(np.take(g, order, axis=axis), starts, axis=axis)
        out[(slice(None),) * axis + (ordered[starts],)] = sums
    return out


def _add_at(shape: tuple, index: Any, g: np.ndarray) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated picks add up): the adjoint
    of ``a[index]``. A plain write for a basic index, a sorted ``reduceat`` for one integer
    array among full slices, ``np.add.at`` otherwise."""
    if _is_basic_index(index):
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
        return out
    axis = _single_array_axis(index, len(shape))
    if axis is not None:
        parts = index if isinstance(index, tuple) else (index,)
        return scatter_add_axis(shape, axis, parts[axis], g)
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


class GetItem(Function):
    """``a[index]``; backward scatters ``g`` back to where each element came from, adding
    when an integer array picks one element several times (a sorted ``reduceat`` for one
    array among full slices, ``np.add.at`` otherwise)."""

    saves_inputs = False

    def forward(self, a, index):
        self.shape, self.index = a.shape, index
        out = a[index]
        return out if isinstance(out, np.ndarray) else np.asarray(out)  # 0-d, not a scalar

    def backward(self, g):
        return _add_at(self.shape, self.index, g)

    def vjp(self, g):
        return IndexAdd.apply(g, shape=self.shape, index=self.index)

    def describe_error(self, inputs, params, err):
        return (
            f"getitem: index {params['index']!r} does not fit shape {inputs[0].shape}: "
            f"{_torch_wording(err)}"
        )


class IndexAdd(Function):
    """The adjoint of :class:`GetItem`: zeros of ``shape`` with ``g`` added at ``index``
    (``out[index] += g``, once per pick). Its adjoint is ``GetItem`` again, so derivatives
    of every order of an indexing op cost one numpy kernel each."""

    saves_inputs = False

    def forward(self, g, shape, index):
        self.index = index
        return _add_at(shape, index, g)

    def backward(self, g):
        out = g[self.index]
        return out if isinstance(out, np.ndarray) else np.asarray(out)

    def vjp(self, g):
        return GetItem.apply(g, index=self.index)


class IndexPut(Function):
    """``out = a`` with ``out[index] = v`` (``accumulate``: ``out[index] += v``, adding
    once per repeat of an index): a copy, so the original stays intact.

    Backward: ``v`` gets ``g[index]`` (summed back over broadcasting by the engine);
    ``a`` gets ``g``, except at the overwritten positions (none when accumulating).
    """

    saves_inputs = False

    def forward(self, a, v, index, accumulate=False):
        self.index, self.accumulate = index, accumulate
        out = a.copy()
        if accumulate:
            np.add.at(out, index, np.broadcast_to(v, out[index].shape))
        else:
            out[index] = v
        return out

    def backward(self, g):
        ga = gv = None
        if self.needs_grad[0]:
            ga = g
            if not self.accumulate:
                ga = g.copy()
                ga[self.index] = 0
        if self.needs_grad[1]:
            gv = g[self.index]
        return ga, gv

    def vjp(self, g):
        # Linear in (a, v): a's part is g with the written places zeroed (itself an
        # index_put, of the constant 0), v's part is g picked at the index.
        ga = gv = None
        if self.needs_grad[0]:
            ga = g
            if not self.accumulate:
                zero = constant(np.zeros((), dtype=g.dtype))
                ga = IndexPut.apply(g, zero, index=self.index)
        if self.needs_grad[1]:
            gv = GetItem.apply(g, index=self.index)
        return ga, gv

    def describe_error(self, inputs, params, err):
        a, v = inputs
        return (
            f"index_put: cannot assign a value of shape {v.shape} to index "
            f"{params['index']!r} of shape {a.shape}: {_torch_wording(err)}"
        )
