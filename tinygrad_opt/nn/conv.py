"""2-D convolution and pooling: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` and functional forms.

Layout is **NCHW** throughout, as in torch: inputs are (N, C, H, W) and a convolution
weight is (out_channels, in_channels, kh, kw), so torch weights can be copied as they
are (as for every layer of this package). ``kernel_size``,
``stride`` and ``padding`` are an int (same for both axes) or a pair (h, w). The output
size along each axis is ``(size + 2·padding - kernel) // stride + 1`` (torch's
``ceil_mode=False``).

Each op is one fused :class:`~tinygrad_opt.tensor.Function`, vectorised with numpy:

- **im2col.** ``sliding_window_view`` of the zero-padded input gives every kh×kw window
  without copying; subsampling it by the stride and reshaping it to a matrix ``cols`` of
  shape (C·kh·kw, N·Ho·Wo) makes the convolution a single matrix product
  ``W₂ @ cols`` with ``W₂ = weight.reshape(O, C·kh·kw)``.
- **Backward.** With ``G₂`` the output gradient as an (O, N·Ho·Wo) matrix:
  ``dW = G₂ colsᵀ``, ``db = Σ G₂`` over columns, and ``dcols = W₂ᵀ G₂``. **col2im** adds
  ``dcols`` back into the padded input, one strided slice per kernel offset (kh·kw
  vectorised adds; windows overlap, so a pixel collects from several offsets), and the
  padding is cropped off.
- **Pooling** works on kh·kw strided views of the padded input, one per kernel offset
  (offset (i, j) of every window at once): the max/sum over the window is kh·kw
  vectorised ``maximum``/``+`` calls, and backward adds into the same views. Max pooling
  routes each window's gradient to the position of its maximum; on ties that is the
  *first* maximum in row-major window order, the element torch picks. Padding for max
  pooling is -inf, for average pooling 0, and average pooling divides by kh·kw including
  padded positions (torch's default ``count_include_pad=True``). As in torch, pooling
  padding may be at most half the kernel, so no window lies entirely in the padding.

Not implemented: dilation, groups, padding modes other than zeros, ``ceil_mode``, and
unbatched (C, H, W) inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_opt.nn import init
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d", "avg_pool2d", "conv2d", "max_pool2d"]

IntPair = int | tuple[int, int]


# --------------------------------------------------------------------------- helpers
def _pair(value: Any, what: str, who: str, minimum: int) -> tuple[int, int]:
    """``value`` as an (h, w) pair of ints >= ``minimum``, or a clear error."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise TypeError(f"{who}: {what} must be an int or a pair of ints, got {value!r}")
    pair = (int(items[0]), int(items[1]))
    if min(pair) < minimum:
        raise ValueError(f"{who}: {what} must be >= {minimum}, got {value!r}")
    return pair


def _fmt(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


def _as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(x, dtype=None if like is None else like.dtype)


def _out_size(
    who: str,
    shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> tuple[int, int]:
    """(Ho, Wo) for an (N, C, H, W) input, or a ShapeError if the kernel does not fit."""
    h, w = shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]
    if h < kernel[0] or w < kernel[1]:
        raise ShapeError(
            f"{who}: input of spatial size {shape[2]}x{shape[3]} (padded {h}x{w}) is smaller "
            f"than the kernel {_fmt(kernel)}; got input shape {shape}"
        )
    return (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1


def _check_nchw(who: str, x: Tensor, channels: int | None = None) -> None:
    c = "C" if channels is None else str(channels)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        raise ShapeError(f"{who}: expected input of shape (N, {c}, H, W), got {x.shape}")


def _padded(x: np.ndarray, padding: tuple[int, int], value: float) -> np.ndarray:
    """``x`` (N, C, H, W) with ``padding`` rows/columns of ``value`` on each side."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    out = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _windows(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """A (N, C, Ho, Wo, kh, kw) view of every window of ``xp`` (no copy)."""
    win = sliding_window_view(xp, kernel, axis=(2, 3))
    return win[:, :, :: stride[0], :: stride[1]][:, :, : out_hw[0], : out_hw[1]]


def _offset_slices(
    i: int, j: int, stride: tuple[int, int], out_hw: tuple[int, int]
) -> tuple[slice, slice, slice, slice]:
    """Where kernel offset (i, j) of every window lands in the padded input."""
    (sh, sw), (ho, wo) = stride, out_hw
    return (
        slice(None),
        slice(None),
        slice(i, i + (ho - 1) * sh + 1, sh),
        slice(j, j + (wo - 1) * sw + 1, sw),
    )


def _crop(a: np.ndarray, padding: tuple[int, int], hw: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return a[..., ph : ph + hw[0], pw : pw + hw[1]]


# --------------------------------------------------------------------------- conv2d
class _Conv2d(Function):
    """out[n, o, y, x] = Σ_c Σ_ij W[o, c, i, j] · xpad[n, c, sh·y + i, sw·x + j] + b[o].

    Forward: im2col + one matmul. Backward: dW = G₂ colsᵀ, db = Σ G₂, and dx by col2im of
    dcols = W₂ᵀ G₂ (a loop over the kh·kw kernel offsets only). See the module docstring.
    """

    name = "conv2d"

    def forward(self, x, w, b=None, *, stride, padding):
        n, c = x.shape[:2]
        o, _, kh, kw = w.shape
        self.stride, self.padding, self.in_shape = stride, padding, x.shape
        self.kernel, self.dtypes = (kh, kw), (x.dtype, w.dtype)
        self.out_hw = ho, wo = _out_size("conv2d", x.shape, (kh, kw), stride, padding)
        win = _windows(_padded(x, padding, 0.0), (kh, kw), stride, (ho, wo))
        # im2col, ordered (C, kh, kw | N, Ho, Wo): the copy's inner runs are image rows,
        # which numpy copies faster than the (N·Ho·Wo, C·kh·kw) order.
        cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)
        out = w.reshape(o, -1) @ cols  # (O, N·Ho·Wo)
        if b is not None:
            out += b[:, None]
        needs = self.needs_grad
        if len(needs) > 1 and needs[1]:  # dW needs the columns
            self.cols = cols
        if needs and needs[0]:  # dx needs the weight
            self.w = w
        return np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))

    def backward(self, g):
        n, c, h, wd = self.in_shape
        (ho, wo), (kh, kw), o = self.out_hw, self.kernel, g.shape[1]
        g2 = g.transpose(1, 0, 2, 3).reshape(o, n * ho * wo)  # G₂, (O, N·Ho·Wo)
        gx = gw = gb = None
        if self.needs_grad[0]:
            dcols = (self.w.reshape(o, -1).T @ g2).reshape(c, kh, kw, n, ho, wo)
            ph, pw = self.padding
            dxp = np.zeros((c, n, h + 2 * ph, wd + 2 * pw), dtype=self.dtypes[0])
            for i in range(kh):  # col2im: one vectorised add per kernel offset
                for j in range(kw):
                    dxp[_offset_slices(i, j, self.stride, (ho, wo))] += dcols[:, i, j]
            gx = _crop(dxp, self.padding, (h, wd)).transpose(1, 0, 2, 3)
        if len(self.needs_grad) > 1 and self.needs_grad[1]:
            gw = (g2 @ self.cols.T).reshape(o, c, kh, kw).astype(self.dtypes[1], copy=False)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = g2.sum(axis=1)
        return gx, gw, gb


def _conv2d(
    who: str,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> Tensor:
    """Shape checks naming ``who``, then the fused op."""
    if weight.ndim != 4:
        raise ShapeError(f"{who}: weight must have shape (O, C, kh, kw), got {weight.shape}")
    o, c, kh, kw = weight.shape
    _check_nchw(who, x, c)
    if bias is not None and bias.shape != (o,):
        raise ShapeError(f"{who}: bias must have shape ({o},), got {bias.shape}")
    _out_size(who, x.shape, (kh, kw), stride, padding)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return _Conv2d.apply(*inputs, stride=stride, padding=padding)


def conv2d(
    x: Tensor | np.ndarray,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
) -> Tensor:
    """2-D cross-correlation of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw), plus bias.

    out[n, o, y, x] = Σ_c Σ_ij weight[o, c, i, j] · xpad[n, c, sh·y + i, sw·x + j] + bias[o]
    where ``xpad`` is ``x`` with ``padding`` zeros on each side; the output is
    (N, O, Ho, Wo) with Ho = (H + 2ph - kh) // sh + 1 (likewise Wo). Same as
    ``torch.nn.functional.conv2d`` (no dilation or groups). Raises :class:`ShapeError`
    for mismatched shapes or an input smaller than the kernel.
    """
    x = _as_tensor(x, weight)
    s = _pair(stride, "stride", "conv2d", 1)
    p = _pair(padding, "padding", "conv2d", 0)
    return _conv2d("conv2d", x, weight, bias, s, p)


class Conv2d(Module):
    """2-D convolution layer on NCHW input: ``y = conv2d(x, weight, bias, stride, padding)``.

    Layout (as torch's ``nn.Conv2d``, so weights copy over unchanged): ``weight`` has shape
    **(out_channels, in_channels, kh, kw)**, ``bias`` (out_channels,). Input (N, C, H, W)
    with C = in_channels; output (N, out_channels, Ho, Wo), Ho = (H + 2ph - kh) // sh + 1.
    ``kernel_size``, ``stride``, ``padding`` are an int or an (h, w) pair.

    Initialisation (torch's default): weight and bias from U(-1/√fan_in, 1/√fan_in) with
    fan_in = in_channels·kh·kw. ``rng`` is an int seed or a ``numpy.random.Generator``.

    A wrong input shape raises :class:`ShapeError` naming the layer, e.g.
    ``Conv2d(3 -> 8, kernel 3x3): expected input of shape (N, 3, H, W), got (2, 4, 8, 8)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntPair,
        stride: IntPair = 1,
        padding: IntPair = 0,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        if int(in_channels) < 1 or int(out_channels) < 1:
            raise ValueError(
                f"Conv2d: channel counts must be positive, got {in_channels} -> {out_channels}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.padding = _pair(padding, "padding", "Conv2d", 0)
        gen = np.random.default_rng(rng)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Parameter(init.uniform(shape, -bound, bound, rng=gen, dtype=dtype))
        self.bias: Tensor | None = None
        if bias:
            self.bias = Parameter(init.uniform(self.out_channels, -bound, bound, gen, dtype))

    def forward(self, x: Tensor) -> Tensor:
        x = _as_tensor(x, self.weight)
        who = f"{type(self).__name__}({self.extra_repr()})"
        return _conv2d(who, x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"{self.in_channels} -> {self.out_channels}, kernel {_fmt(self.kernel_size)}"
        if self.stride != (1, 1):
            text += f", stride {_fmt(self.stride)}"
        if self.padding != (0, 0):
            text += f", padding {_fmt(self.padding)}"
        return text if self.bias is not None else text + ", bias=False"


# --------------------------------------------------------------------------- pooling
class _MaxPool2d(Function):
    """out[n, c, y, x] = max over the window at (sh·y, sw·x) of the (-inf)-padded input.

    Backward: each window's gradient goes to its argmax, the first maximum in row-major
    window order on ties (torch's choice); overlapping windows add up. One vectorised
    add per kernel offset.
    """

    name = "max_pool2d"

    def forward(self, x, *, kernel, stride, padding):
        self.kernel, self.stride, self.padding, self.in_shape = kernel, stride, padding, x.shape
        self.out_hw = out_hw = _out_size("max_pool2d", x.shape, kernel, stride, padding)
        xp = _padded(x, padding, -np.inf)
        # offset t = i·kw + j of every window at once: a strided view of the padded input
        at = [
            xp[_offset_slices(i, j, stride, out_hw)]
            for i in range(kernel[0])
            for j in range(kernel[1])
        ]
        out = at[0].copy()
        for v in at[1:]:
            np.maximum(out, v, out=out)
        if self.needs_grad and self.needs_grad[0]:
            # argmax = the first offset holding the maximum: write offsets in descending
            # order so that the smallest matching one is written last
            self.arg = arg = np.zeros(out.shape, dtype=np.int32)
            for t in range(len(at) - 1, -1, -1):
                arg[at[t] == out] = t
            nan = np.isnan(out)
            if nan.any():  # a NaN is the maximum; torch routes to the last NaN of a window
                for t in range(len(at)):
                    arg[nan & np.isnan(at[t])] = t
        return out

    def backward(self, g):
        n, c, h, w = self.in_shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        gxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        zero = np.zeros((), dtype=g.dtype)
        for i in range(kh):  # route g to the argmax: one masked add per kernel offset
            for j in range(kw):
                sl = _offset_slices(i, j, self.stride, self.out_hw)
                gxp[sl] += np.where(self.arg == i * kw + j, g, zero)
        return _crop(gxp, self.padding, (h, w))


class _AvgPool2d(Function):
    """out[n, c, y, x] = Σ over the window of the zero-padded input / (kh·kw).

    Padded zeros count in the divisor (``count_include_pad=True``). Backward: every
    window position gets g / (kh·kw); one vectorised add per kernel offset.
    """

    name = "avg_pool2d"

    def forward(self, x, *, kernel, stride, padding):
        self.kernel, self.stride, self.padding, self.in_shape = kernel, stride, padding, x.shape
        self.out_hw = out_hw = _out_size("avg_pool2d", x.shape, kernel, stride, padding)
        xp = _padded(x, padding, 0.0)
        out = np.zeros((*x.shape[:2], *out_hw), dtype=x.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                out += xp[_offset_slices(i, j, stride, out_hw)]
        out *= np.asarray(1.0 / (kernel[0] * kernel[1]), dtype=x.dtype)
        return out

    def backward(self, g):
        n, c, h, w = self.in_shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        share = g * np.asarray(1.0 / (kh * kw), dtype=g.dtype)
        gxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
        for i in range(kh):
            for j in range(kw):
                gxp[_offset_slices(i, j, self.stride, self.out_hw)] += share
        return _crop(gxp, self.padding, (h, w))


def _pool_args(
    who: str, kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    k = _pair(kernel_size, "kernel_size", who, 1)
    s = k if stride is None else _pair(stride, "stride", who, 1)
    p = _pair(padding, "padding", who, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{who}: padding {_fmt(p)} must be at most half the kernel {_fmt(k)} "
            f"(as in torch), else a window could lie entirely in the padding"
        )
    return k, s, p


def _pool(fn: type[Function], who: str, x: Tensor, k, s, p) -> Tensor:
    _check_nchw(who, x)
    _out_size(who, x.shape, k, s, p)
    return fn.apply(x, kernel=k, stride=s, padding=p)


def max_pool2d(
    x: Tensor | np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> Tensor:
    """Max over kh×kw windows of ``x`` (N, C, H, W), as ``torch.nn.functional.max_pool2d``.

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) pads
    with -inf. The gradient of each window goes to its first maximum (torch's choice).
    """
    k, s, p = _pool_args("max_pool2d", kernel_size, stride, padding)
    return _pool(_MaxPool2d, "max_pool2d", _as_tensor(x), k, s, p)


def avg_pool2d(
    x: Tensor | np.ndarray,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> Tensor:
    """Mean over kh×kw windows of ``x`` (N, C, H, W), as ``torch.nn.functional.avg_pool2d``.

    ``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) pads with
    zeros that count in the divisor kh·kw (``count_include_pad=True``).
    """
    k, s, p = _pool_args("avg_pool2d", kernel_size, stride, padding)
    return _pool(_AvgPool2d, "avg_pool2d", _as_tensor(x), k, s, p)


class _Pool2d(Module):
    _fn: type[Function]

    def __init__(
        self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
    ) -> None:
        name = type(self).__name__
        self.kernel_size, self.stride, self.padding = _pool_args(name, kernel_size, stride, padding)

    def forward(self, x: Tensor) -> Tensor:
        who = f"{type(self).__name__}({self.extra_repr()})"
        return _pool(self._fn, who, _as_tensor(x), self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"kernel {_fmt(self.kernel_size)}, stride {_fmt(self.stride)}"
        return text if self.padding == (0, 0) else text + f", padding {_fmt(self.padding)}"


class MaxPool2d(_Pool2d):
    """Max pooling over kh×kw windows of NCHW input; see :func:`max_pool2d`.

    ``MaxPool2d(kernel_size, stride=None, padding=0)``: ``stride`` defaults to
    ``kernel_size``. Output (N, C, Ho, Wo), Ho = (H + 2ph - kh) // sh + 1. Ties route the
    gradient to the first maximum of the window, as torch.
    """

    _fn = _MaxPool2d


class AvgPool2d(_Pool2d):
    """Average pooling over kh×kw windows of NCHW input; see :func:`avg_pool2d`.

    ``AvgPool2d(kernel_size, stride=None, padding=0)``; zero padding counts in the divisor
    (``count_include_pad=True``, torch's default).
    """

    _fn = _AvgPool2d
