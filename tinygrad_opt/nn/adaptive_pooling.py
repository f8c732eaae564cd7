"""Adaptive pooling (torch's API): ``adaptive_avg_pool1d/2d``, ``adaptive_max_pool1d/2d``
and the layers ``AdaptiveAvgPool1d/2d``, ``AdaptiveMaxPool1d/2d``.

The output size is fixed and the windows adapt: along an axis of length L pooled to
``out`` positions, window i covers ``[⌊i·L/out⌋, ⌈(i+1)·L/out⌉)`` (torch's windows; they
overlap by one element when ``out`` does not divide L). ``output_size`` is an int or a
tuple whose ``None`` entries keep the input's size.

- **Average:** per axis the pooling is a linear map, an (out, L) matrix A with
  ``A[i, j] = 1 / len_i`` inside window i, so ``out = A_h · x · A_wᵀ`` (two matrix
  products over the spatial axes) and backward is ``A_hᵀ · g · A_w``.
- **Maximum:** the windows are padded to the longest one by repeating their last
  element (which cannot change the maximum, nor the first maximum), gathered one kernel
  offset at a time, and reduced like ``max_pool``: ties go to the first maximum, NaNs
  to the last NaN, and ``return_indices`` gives ``row·W + col`` in the input plane.
  Backward adds each window's gradient to its maximum (windows may overlap).

For derivatives of higher order the vjps are differentiable nodes: the average's
adjoint map, the maximum's scatter-add to the recorded maxima (see ``_adjoint.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.nn._adjoint import adjoint
from tinygrad_opt.nn.module import Module
from tinygrad_opt.nn.pooling import apply_with_indices, flat_index, route_to_max, scatter_flat
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
]

OutputSize = int | None | tuple[int | None, ...]


def _windows(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each of the ``out`` adaptive windows over ``size``."""
    i = np.arange(out)
    return (i * size) // out, ((i + 1) * size + out - 1) // out


def _mean_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """The (out, size) averaging matrix of the adaptive windows."""
    start, end = _windows(size, out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / np.maximum(end - start, 1)[:, None]).astype(dtype)


def _output_size(who: str, output_size: Any, x: Tensor, nsp: int) -> tuple[int, ...]:
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
    if len(items) == 1:
        items = items * nsp
    if len(items) != nsp or not all(v is None or sp.is_int(v) for v in items):
        raise ValueError(
            f"{who}: output_size must be an int or a tuple of {nsp} ints or None, "
            f"got {output_size!r}"
        )
    sizes = x.shape[-nsp:]
    out = tuple(n if v is None else int(v) for v, n in zip(items, sizes))
    if min(out) < 0:
        raise ValueError(f"{who}: output_size must be >= 0, got {output_size!r}")
    return out


def _check(who: str, x: Tensor, nsp: int) -> bool:
    batched = sp.check_input(who, x, nsp)
    if 0 in x.shape[-nsp:]:
        raise ShapeError(f"{who}: the spatial dims of the input must be non-empty, got {x.shape}")
    return batched


class _AdaptiveAvgPool(Function):
    """out = A_h · x · A_wᵀ over the spatial axes; backward A_hᵀ · g · A_w."""

    name = "adaptive_avg_pool"

    def forward(self, x, *, op, nsp, out_size):
        self.name = op
        batched = x.ndim == nsp + 2
        x4 = sp.lift(x, nsp, batched)
        (h, w), (ho, wo) = x4.shape[2:], sp.as2d(out_size, 1)
        self.a_h = _mean_matrix(h, ho, x.dtype) if nsp == 2 else None
        self.a_w = _mean_matrix(w, wo, x.dtype)
        out = x4 @ self.a_w.T
        if self.a_h is not None:
            out = np.matmul(self.a_h, out)
        self.geom = (nsp, batched, x.shape)
        return sp.lower(out, nsp, batched)

    def backward(self, g):
        nsp, batched, shape = self.geom
        g4 = sp.lift(g, nsp, batched)
        if self.a_h is not None:
            g4 = np.matmul(self.a_h.T, g4)
        return sp.lower(g4 @ self.a_w, nsp, batched).reshape(shape)

    def vjp(self, g):  # linear: the adjoint map, whose own vjp is this op again
        return adjoint(self, g)


class _AdaptiveMaxPool(Function):
    """Adaptive window maximum; see the module docstring."""

    name = "adaptive_max_pool"

    def forward(self, x, *, op, nsp, out_size, indices=None):
        self.name = op
        batched = x.ndim == nsp + 2
        x4 = sp.lift(x, nsp, batched)
        (h, w), (ho, wo) = x4.shape[2:], sp.as2d(out_size, 1)
        tables = []
        for size, out in ((h, ho), (w, wo)):
            start, end = _windows(size, out)
            k = int((end - start).max(initial=1))
            tables.append(np.minimum(start[None, :] + np.arange(k)[:, None], end[None, :] - 1))
        rows, cols = tables  # rows[i, y]: input row of offset i of output row y
        views = [
            x4[:, :, rows[i][:, None], cols[j][None, :]]
            for i in range(rows.shape[0])
            for j in range(cols.shape[0])
        ]
        out = sp.window_max(views)
        want_grad = bool(self.needs_grad) and self.needs_grad[0]
        if want_grad or indices is not None:
            flat = flat_index(sp.first_max(views, out), cols.shape[0], rows, cols, w)
            if indices is not None:
                indices.append(sp.lower(flat, nsp, batched))
            self.flat, self.geom = flat, (nsp, batched, x.shape, x4.shape)
        return sp.lower(out, nsp, batched)

    def backward(self, g):
        nsp, batched, shape, shape4 = self.geom
        gx = scatter_flat(self.flat, sp.lift(g, nsp, batched), shape4, unique=False)
        return sp.lower(gx, nsp, batched).reshape(shape)

    def vjp(self, g):
        nsp, batched, shape, shape4 = self.geom
        return route_to_max(g, self.flat, shape4, shape)


def _adaptive_avg(who: str, nsp: int, x: Any, output_size: OutputSize) -> Tensor:
    x = sp.as_tensor(x)
    _check(who, x, nsp)
    out = _output_size(who, output_size, x, nsp)
    return _AdaptiveAvgPool.apply(x, op=f"adaptive_avg_pool{nsp}d", nsp=nsp, out_size=out)


def _adaptive_max(who: str, nsp: int, x: Any, output_size: OutputSize, return_indices: bool):
    x = sp.as_tensor(x)
    _check(who, x, nsp)
    out = _output_size(who, output_size, x, nsp)
    op = f"adaptive_max_pool{nsp}d"
    return apply_with_indices(_AdaptiveMaxPool, x, return_indices, op=op, nsp=nsp, out_size=out)


def adaptive_avg_pool1d(input: Tensor | np.ndarray, output_size: OutputSize) -> Tensor:
    """Mean over ``output_size`` adaptive windows of (N, C, L) or (C, L) input.

    Window i covers [⌊i·L/out⌋, ⌈(i+1)·L/out⌉); as ``torch.nn.functional.adaptive_avg_pool1d``.
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor | np.ndarray, output_size: OutputSize) -> Tensor:
    """Mean over adaptive windows of (N, C, H, W) or (C, H, W) input to (Ho, Wo).

    ``output_size`` is an int or an (Ho, Wo) pair; ``None`` keeps that axis's size. As
    ``torch.nn.functional.adaptive_avg_pool2d``.
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_max_pool1d(
    input: Tensor | np.ndarray, output_size: OutputSize, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over adaptive windows of (N, C, L) or (C, L) input, as torch's.

    ``return_indices`` also gives the position of each window's first maximum in L.
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(
    input: Tensor | np.ndarray, output_size: OutputSize, return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over adaptive windows of (N, C, H, W) or (C, H, W) input, as torch's.

    ``return_indices`` also gives each window's first maximum as row·W + col.
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


class _AdaptiveNd(Module):
    _nsp = 2
    _max = False

    def __init__(self, output_size: OutputSize, return_indices: bool = False) -> None:
        self.output_size = output_size
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor):
        who = sp.layer_name(self)
        if self._max:
            return _adaptive_max(who, self._nsp, input, self.output_size, self.return_indices)
        return _adaptive_avg(who, self._nsp, input, self.output_size)

    def extra_repr(self) -> str:
        text = f"output_size={self.output_size!r}"
        return text + (", return_indices=True" if self.return_indices else "")


class AdaptiveAvgPool1d(_AdaptiveNd):
    """``AdaptiveAvgPool1d(output_size)``: see :func:`adaptive_avg_pool1d`."""

    _nsp = 1

    def __init__(self, output_size: OutputSize) -> None:
        super().__init__(output_size)


class AdaptiveAvgPool2d(_AdaptiveNd):
    """``AdaptiveAvgPool2d(output_size)``: see :func:`adaptive_avg_pool2d` (None keeps a size)."""

    _nsp = 2

    def __init__(self, output_size: OutputSize) -> None:
        super().__init__(output_size)


class AdaptiveMaxPool1d(_AdaptiveNd):
    """``AdaptiveMaxPool1d(output_size, return_indices=False)``: see :func:`adaptive_max_pool1d`."""

    _nsp, _max = 1, True


class AdaptiveMaxPool2d(_AdaptiveNd):
    """``AdaptiveMaxPool2d(output_size, return_indices=False)``: see :func:`adaptive_max_pool2d`."""

    _nsp, _max = 2, True
