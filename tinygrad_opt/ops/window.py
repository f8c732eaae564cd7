"""Sliding windows: ``Tensor.unfold(dimension, size, step)`` and torch's ``F.unfold``
(im2col) with its adjoint ``F.fold`` (col2im).

``x.unfold(d, size, step)`` replaces dim ``d`` (length n) by the ``(n - size) // step + 1``
window starts and appends a last dim of length ``size``:
``out[..., i, ..., k] = x[..., i·step + k, ...]``.

``F.unfold(x, kernel_size, dilation, padding, stride)`` on (N, C, H, W) gives
(N, C·kh·kw, L): column ``l`` (block at output position (p, q), ``l = p·ow + q``) holds
``x_padded[n, c, p·sh + i·dh, q·sw + j·dw]`` at row ``(c·kh + i)·kw + j``. ``F.fold`` adds
such columns back into an image (overlaps add up), so ``fold`` is the adjoint of
``unfold`` and each one's backward is the other. Loops run over the kh·kw kernel offsets
only, each moving a whole strided slab.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.errors import DimError, ShapeError
from tinygrad_opt.ops.common import dim_index

__all__: list[str] = []  # F.unfold / F.fold live in nn.functional; Tensor.unfold is a method


class Unfold(Function):
    """Windows of ``size`` every ``step`` along ``dim``, as a new last dim."""

    saves_inputs = False

    def forward(self, a, dim, size, step):
        self.shape, self.dim, self.size, self.step = a.shape, dim, size, step
        return _windows(a, dim, size, step)

    def backward(self, g):
        return _fold_windows(g, self.shape, self.dim, self.size, self.step)

    def vjp(self, g):
        return FoldWindows.apply(g, shape=self.shape, dim=self.dim, size=self.size, step=self.step)


def _windows(a: np.ndarray, dim: int, size: int, step: int) -> np.ndarray:
    win = np.lib.stride_tricks.sliding_window_view(a, size, axis=dim)
    return np.ascontiguousarray(win[(slice(None),) * dim + (slice(None, None, step),)])


def _fold_windows(g: np.ndarray, shape: tuple, dim: int, size: int, step: int) -> np.ndarray:
    """The adjoint of :func:`_windows`: zeros of ``shape`` with every window of ``g`` added
    back where it was read (overlaps add up)."""
    out = np.zeros(shape, dtype=g.dtype)
    count = g.shape[dim]
    lead = (slice(None),) * dim
    if size <= count:  # one slab per offset within the window
        for k in range(size):
            out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
    else:  # one slab per window
        for i in range(count):
            piece = np.moveaxis(g[lead + (i,)], -1, dim)
            out[lead + (slice(i * step, i * step + size),)] += piece
    return out


class FoldWindows(Function):
    """The adjoint of :class:`Unfold`: windows (a last dim of ``size``, one every ``step``
    along ``dim``) added back into zeros of ``shape``. Its adjoint is ``Unfold`` again."""

    saves_inputs = False

    def forward(self, g, shape, dim, size, step):
        self.dim, self.size, self.step = dim, size, step
        return _fold_windows(g, shape, dim, size, step)

    def backward(self, g):
        return _windows(g, self.dim, self.size, self.step)

    def vjp(self, g):
        return Unfold.apply(g, dim=self.dim, size=self.size, step=self.step)


def unfold(input, dimension: int, size: int, step: int):
    """Sliding windows of ``size`` elements every ``step`` along ``dimension``, as a new
    last dim (``Tensor.unfold``); overlapping windows add their gradients."""
    d = dim_index(dimension, input.shape, "unfold")
    n = input.shape[d] if input.ndim else 1
    if size < 0:
        raise ShapeError(f"unfold: size is {size} but must be >= 0")
    if size > n:
        raise ShapeError(
            f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size} "
            f"(shape {input.shape})"
        )
    if step <= 0:
        raise ShapeError(f"unfold: step is {step} but must be > 0")
    if input.ndim == 0:
        return input.reshape(1) if size == 1 else input.reshape(1)[:0]
    return Unfold.apply(input, dim=d, size=int(size), step=int(step))


# --------------------------------------------------------------------------- im2col / col2im
def _pair(v: Any, name: str) -> tuple[int, int]:
    out = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(out) != 2:
        raise ShapeError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(out[0]), int(out[1])


def _geometry(hw, kernel, dilation, padding, stride, who: str) -> tuple[int, int]:
    """Checked (oh, ow): the number of block positions along each spatial dim."""
    checks = (("kernel size", kernel, 0), ("dilation", dilation, 0), ("stride", stride, 0))
    for name, (a, b), low in checks:
        if a <= low or b <= low:
            raise ShapeError(
                f"{who}: {name} should be greater than zero, but got {name}_height: {a} "
                f"{name}_width: {b}"
            )
    if padding[0] < 0 or padding[1] < 0:
        raise ShapeError(
            f"{who}: padding should be non-negative, but got pad_height: {padding[0]} "
            f"pad_width: {padding[1]}"
        )
    oh, ow = (
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, k, d, p, s in zip(hw, kernel, dilation, padding, stride)
    )
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{who}: Given input with spatial size {tuple(hw)}, kernel_size={kernel}, "
            f"dilation={dilation}, padding={padding}, calculated shape of the array of "
            f"sliding blocks as ({oh}, {ow}), but its components must be at least one."
        )
    return oh, ow


def _offsets(kernel, dilation, stride, out_hw):
    """For each kernel offset (i, j): its index and the strided slab of the padded image."""
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, out_hw
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i, j, rows, cols


def _im2col(x, kernel, dilation, padding, stride, out_hw):
    n, c = x.shape[:2]
    (ph, pw), (oh, ow) = padding, out_hw
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    cols = np.empty((n, c, kernel[0], kernel[1], oh, ow), dtype=x.dtype)
    for i, j, rows, cs in _offsets(kernel, dilation, stride, out_hw):
        cols[:, :, i, j] = xp[:, :, rows, cs]
    return cols.reshape(n, c * kernel[0] * kernel[1], oh * ow)


def _col2im(cols, hw, kernel, dilation, padding, stride, out_hw):
    n = cols.shape[0]
    kh, kw = kernel
    c = cols.shape[1] // (kh * kw)
    (ph, pw), (h, w) = padding, hw
    blocks = cols.reshape(n, c, kh, kw, out_hw[0], out_hw[1])
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, cs in _offsets(kernel, dilation, stride, out_hw):
        out[:, :, rows, cs] += blocks[:, :, i, j]
    return out[:, :, ph : ph + h, pw : pw + w]


class Im2Col(Function):
    """(N, C, H, W) → (N, C·kh·kw, L) blocks; backward is :func:`_col2im` (overlaps add)."""

    saves_inputs = False

    def forward(self, x, geom):
        self.hw, self.geom = x.shape[2:], geom
        return _im2col(x, *geom)

    def backward(self, g):
        return _col2im(g, self.hw, *self.geom)

    def vjp(self, g):  # col2im is the adjoint of im2col, and the other way round
        return Col2Im.apply(g, hw=self.hw, geom=self.geom)


class Col2Im(Function):
    """(N, C·kh·kw, L) blocks → (N, C, H, W), overlaps added; backward is :func:`_im2col`."""

    saves_inputs = False

    def forward(self, cols, hw, geom):
        self.geom = geom
        return _col2im(cols, hw, *geom)

    def backward(self, g):
        return _im2col(g, *self.geom)

    def vjp(self, g):
        return Im2Col.apply(g, geom=self.geom)


def unfold2d(
    input, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
):  # F.unfold
    """torch's ``F.unfold`` (im2col): (N, C, H, W) → (N, C·kh·kw, L), L = oh·ow block
    positions; a 3-D (C, H, W) input gives (C·kh·kw, L)."""
    if input.ndim not in (3, 4):  # torch raises an IndexError here
        raise DimError(
            f"unfold: Expected 3D or 4D (batch mode) tensor for input, got shape {input.shape}"
        )
    x = input if input.ndim == 4 else input.reshape((1,) + input.shape)
    k, d = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    p, s = _pair(padding, "padding"), _pair(stride, "stride")
    out_hw = _geometry(x.shape[2:], k, d, p, s, "unfold")
    out = Im2Col.apply(x, geom=(k, d, p, s, out_hw))
    return out if input.ndim == 4 else out.reshape(out.shape[1:])


def fold(
    input, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
):
    """torch's ``F.fold`` (col2im): (N, C·kh·kw, L) blocks summed into (N, C, H, W) with
    (H, W) = ``output_size``; a 2-D input gives (C, H, W). The adjoint of ``unfold``."""
    if input.ndim not in (2, 3):
        raise ShapeError(
            f"fold: Expected 2D or 3D (batch mode) tensor for input, got shape {input.shape}"
        )
    x = input if input.ndim == 3 else input.reshape((1,) + input.shape)
    hw, k = _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size")
    d, p, s = _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride")
    out_hw = _geometry(hw, k, d, p, s, "fold")
    if x.shape[1] % (k[0] * k[1]):
        raise ShapeError(
            f"fold: Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={x.shape[1]} and kernel_size={k}."
        )
    if x.shape[2] != out_hw[0] * out_hw[1]:
        raise ShapeError(
            f"fold: Given output_size={hw}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension 2 to match the calculated number "
            f"of sliding blocks {out_hw[0]} * {out_hw[1]} = {out_hw[0] * out_hw[1]}, but got "
            f"input.size(2)={x.shape[2]}."
        )
    out = Col2Im.apply(x, hw=hw, geom=(k, d, p, s, out_hw))
    return out if input.ndim == 3 else out.reshape(out.shape[1:])


class WindowMethods:
    """``Tensor.unfold``."""

    __slots__ = ()

    unfold = unfold
