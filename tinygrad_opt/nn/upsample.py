"""Resampling (torch's API): ``interpolate`` and the layer ``Upsample``.

Input (N, C, L) or (N, C, H, W). Every mode here is separable: along each spatial axis
an output position ``dst`` reads a few input positions ``idx_t[dst]`` with weights
``w_t[dst]``, so the op applies ``y = Σ_t w_t · x.take(idx_t, axis)`` axis by axis, and
backward adds ``w_t · g`` back to ``idx_t`` (the index arrays never decrease, so the
scatter is one ``np.add.reduceat`` per tap). The coordinates follow torch's kernels
exactly, with ``scale = in/out``, or ``1/scale_factor`` when ``scale_factor`` is given
and ``recompute_scale_factor`` is not true:

- ``nearest``: ``src = min(⌊dst·scale⌋, in-1)`` (torch's legacy, OpenCV-like rule);
  for 4-D input an axis whose size stays is copied and one whose size doubles reads
  ``dst // 2``, whatever the scale_factor (torch's 2-D kernel does this, its 1-D one
  does not). ``nearest-exact``: ``src = min(⌊(dst+0.5)·scale⌋, in-1)``. The product
  is rounded to float32 before the floor, as torch does, so an index can differ from
  the exact one by 1 (see :func:`_nearest`).
- ``linear`` (3-D) / ``bilinear`` (4-D): with ``align_corners=True`` the corner pixels'
  centres stay aligned, ``src = dst·(in-1)/(out-1)``; otherwise
  ``src = max((dst+0.5)·scale - 0.5, 0)``. Then ``i0 = ⌊src⌋``, ``i1 = min(i0+1, in-1)``,
  ``λ = src - i0``, ``y = (1-λ)·x[i0] + λ·x[i1]``; an axis whose size does not change
  is copied.
- ``bicubic`` (4-D): Keys' cubic convolution (A = -0.75) over ``i0-1 … i0+2``, indices
  clamped to the input, ``src`` not clamped at 0.
- ``area``: adaptive average pooling to the output size.

Every mode is linear in x, so the op's vjp is its adjoint map (the scatter above) as a
differentiable node, whose own vjp is the resampling again: derivatives of every order.

The output size is ``size``, or ``⌊in·scale_factor⌋``. Not supported: 5-D input
(trilinear), ``antialias=True``. One deliberate difference: for 3-D input in the
nearest modes torch's backward computes its indices by the 2-D rule while its forward
uses the 1-D one, so where they differ (a ``scale_factor`` whose output size is the
input's or twice it, e.g. 4 -> 4 with factor 1.2; or a float32 rounding, e.g. 6 -> 74)
torch's gradient is not that of its output; likewise ``bicubic`` when the output has
the input's size under a ``scale_factor`` other than 1 (torch's forward resamples,
its backward copies the gradient through). Ours is: the values match torch's, the
gradient is the adjoint of the forward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.nn._adjoint import adjoint
from tinygrad_opt.nn.adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["Upsample", "interpolate"]

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")
_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4}


# --------------------------------------------------------------------------- coordinates
def _nearest(n_in, n_out, scale, exact, nsp, dtype):
    """Source index per output position, torch's arithmetic to the rounding.

    The scale is in/out or 1/scale_factor (in float32 for 2-D, as torch's 2-D kernel;
    in the data's precision for 1-D); ``dst·scale`` (``(dst + 0.5)·scale`` for
    nearest-exact) is formed in the data's precision and rounded to float32 before
    the floor. torch's 2-D kernel also copies an axis whose size stays and halves the
    index of one whose size doubles, whatever the scale_factor; its 1-D one does not.
    """
    if nsp == 2 and not exact and n_out in (n_in, 2 * n_in):
        return [(np.arange(n_out) // (n_out // n_in), None)]
    kind = np.float32 if nsp == 2 else dtype
    ratio = kind(1.0 / scale) if scale else kind(n_in) / kind(n_out)
    dst = np.arange(n_out, dtype=dtype) + dtype(0.5 if exact else 0.0)
    src = np.floor((dst * dtype(ratio)).astype(np.float32)).astype(np.int64)
    return [(np.minimum(src, n_in - 1), None)]


def _source(n_in, n_out, scale, align_corners, cubic, dtype):
    """Real source coordinate of every output position (torch's area_pixel rule)."""
    dst = np.arange(n_out, dtype=dtype)
    if align_corners:
        ratio = dtype((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype(0)
        return ratio * dst
    ratio = dtype(1.0 / scale) if scale else dtype(n_in) / dtype(n_out)
    src = ratio * (dst + dtype(0.5)) - dtype(0.5)
    return src if cubic else np.maximum(src, dtype(0))


def _floor_index(src, n_in, dtype):
    """torch's guard: i0 = min(⌊src⌋ (in float32), in-1), λ = clamp(src - i0, 0, 1)."""
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return i0, lam


def _linear(n_in, n_out, scale, align_corners, dtype):
    if n_out == n_in:
        return [(np.arange(n_out), None)]
    i0, lam = _floor_index(_source(n_in, n_out, scale, align_corners, False, dtype), n_in, dtype)
    i1 = i0 + (i0 < n_in - 1)
    return [(i0, (1 - lam).astype(dtype)), (i1, lam)]


def _cubic(n_in, n_out, scale, align_corners, dtype):
    i0, t = _floor_index(_source(n_in, n_out, scale, align_corners, True, dtype), n_in, dtype)
    a = dtype(-0.75)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [(np.clip(i0 - 1 + k, 0, n_in - 1), w.astype(dtype)) for k, w in enumerate(weights)]


# --------------------------------------------------------------------------- the fused op
def _scatter_sorted(g: np.ndarray, idx: np.ndarray, axis: int, n_in: int) -> np.ndarray:
    """Adjoint of ``g.take(idx, axis)`` for non-decreasing ``idx``: sums runs of equal idx."""
    shape = list(g.shape)
    shape[axis] = n_in
    out = np.zeros(shape, dtype=g.dtype)
    if idx.size == 0:
        return out
    starts = np.flatnonzero(np.concatenate(([True], idx[1:] != idx[:-1])))
    sums = np.add.reduceat(g, starts, axis=axis)
    where: list[Any] = [slice(None)] * g.ndim
    where[axis] = idx[starts]
    out[tuple(where)] = sums
    return out


class _Resample(Function):
    """y = Σ_t w_t · x.take(idx_t, axis), one spatial axis after another."""

    name = "interpolate"

    def forward(self, x, *, op, taps):
        self.name, self.taps, self.sizes = op, taps, []
        first = x.ndim - len(taps)
        for k, axis_taps in enumerate(taps):
            axis = first + k
            self.sizes.append(x.shape[axis])
            x = self._apply(x, axis, axis_taps)
        return x

    @staticmethod
    def _bcast(w: np.ndarray, ndim: int, axis: int) -> np.ndarray:
        return w.reshape((-1,) + (1,) * (ndim - axis - 1))

    def _apply(self, x, axis, axis_taps):
        out = None
        for idx, w in axis_taps:
            y = np.take(x, idx, axis=axis)
            if w is not None:
                y *= self._bcast(w, x.ndim, axis)
            out = y if out is None else out + y
        return out

    def backward(self, g):
        first = g.ndim - len(self.taps)
        for k in range(len(self.taps) - 1, -1, -1):
            axis, n_in = first + k, self.sizes[k]
            total = None
            for idx, w in self.taps[k]:
                gw = g if w is None else g * self._bcast(w, g.ndim, axis)
                part = _scatter_sorted(gw, idx, axis, n_in)
                total = part if total is None else total + part
            g = total
        return g

    def vjp(self, g):  # linear: the adjoint map, whose own vjp is this op again
        return adjoint(self, g)


# --------------------------------------------------------------------------- interpolate
def _per_dim(who: str, value: Any, nsp: int, what: str, x: Tensor) -> tuple[Any, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) != nsp:
            raise ValueError(
                f"{who}: input and {what} must have the same number of spatial dimensions, "
                f"got input of shape {x.shape} and {what} {tuple(value)}"
            )
        return tuple(value)
    return (value,) * nsp


def interpolate(
    input: Tensor | np.ndarray,
    size: int | tuple[int, ...] | None = None,
    scale_factor: float | tuple[float, ...] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``.

    As ``torch.nn.functional.interpolate`` for the modes 'nearest', 'nearest-exact',
    'linear' (3-D), 'bilinear', 'bicubic' (4-D) and 'area' (see the module docstring
    for the coordinate rules). Exactly one of ``size`` / ``scale_factor`` is given;
    ``align_corners`` only for the interpolating modes (default False). Argument
    mistakes raise ``ValueError``; a mode that needs another input rank
    :class:`ShapeError`; ``antialias=True`` ``NotImplementedError``.
    """
    who = "interpolate"
    x = sp.as_tensor(input)
    if mode not in MODES:
        raise ValueError(f"{who}: mode must be one of {MODES}, got {mode!r}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(
                f"{who}: align_corners can only be set with the interpolating modes "
                f"(linear, bilinear, bicubic), got mode={mode!r}"
            )
    else:
        align_corners = bool(align_corners)
    if antialias:
        raise NotImplementedError(f"{who}: antialias=True is not implemented")
    if x.ndim not in (3, 4) or _NDIM.get(mode, x.ndim) != x.ndim:
        need = f"{_NDIM[mode]}-D" if mode in _NDIM else "3-D or 4-D"
        raise ShapeError(
            f"{who}: mode {mode!r} needs {need} input (N, C, ...), got shape {x.shape}"
        )
    nsp, n_in = x.ndim - 2, x.shape[2:]
    if (size is None) == (scale_factor is None):
        which = "only one of" if size is not None else "either"
        raise ValueError(f"{who}: {which} size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{who}: recompute_scale_factor is not meaningful with a size")
        out = _per_dim(who, size, nsp, "size", x)
        if not all(sp.is_int(v) for v in out):
            raise TypeError(f"{who}: size must be an int or a tuple of ints, got {size!r}")
        scales: tuple[float | None, ...] = (None,) * nsp
    else:
        factors = tuple(float(f) for f in _per_dim(who, scale_factor, nsp, "scale_factor", x))
        if min(factors) <= 0:
            raise ValueError(f"{who}: scale_factor must be positive, got {scale_factor!r}")
        out = tuple(math.floor(n * f) for n, f in zip(n_in, factors))
        recompute = bool(recompute_scale_factor) or mode == "area"
        scales = (None,) * nsp if recompute else factors
    out = tuple(int(v) for v in out)
    if min(out) < 1 or min(n_in) < 1:
        raise ShapeError(
            f"{who}: input and output sizes must be positive, got input of shape {x.shape} "
            f"and output size {out}"
        )
    if mode == "area":
        return (adaptive_avg_pool1d if nsp == 1 else adaptive_avg_pool2d)(x, out)
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    taps = []
    for a, b, s in zip(n_in, out, scales):
        if mode in ("nearest", "nearest-exact"):
            taps.append(_nearest(a, b, s, mode == "nearest-exact", nsp, dtype))
        elif mode == "bicubic":
            taps.append(_cubic(a, b, s, align_corners, dtype))
        else:
            taps.append(_linear(a, b, s, align_corners, dtype))
    return _Resample.apply(x, op=f"interpolate ({mode})", taps=tuple(taps))


class Upsample(Module):
    """``Upsample(size=None, scale_factor=None, mode='nearest', align_corners=None,
    recompute_scale_factor=None)``: ``interpolate`` with fixed arguments, as torch's.
    """

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            text = f"scale_factor={self.scale_factor!r}"
        else:
            text = f"size={self.size!r}"
        return text + f", mode={self.mode!r}"
