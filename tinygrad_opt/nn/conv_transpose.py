"""Transposed convolutions: ``conv_transpose1d/2d`` and ``ConvTranspose1d/2d`` (torch's API).

A transposed convolution is the adjoint (the gradient with respect to the input) of
the convolution with the same weight, stride, padding and dilation: every input pixel
scatters ``x[n, c, l] · W[c, o, i]`` to output position ``s·l + d·i - p``. The weight
is laid out (in_channels, out_channels / groups, *kernel), as torch's. Per axis the
output has

    (L - 1)·s - 2p + d·(k - 1) + output_padding + 1

positions; ``output_padding`` (smaller than the stride or the dilation) lengthens the
output at the end, to pick one of the several input sizes a strided convolution maps
onto the same output size.

One fused :class:`Function` (a 1-D input is a 2-D one of height 1):

- **Forward:** per group, ``cols = W_gᵀ @ x_g`` with x as (C, N·H·W) gives, for every
  input pixel, its (O·K) contributions; col2im adds them into the full output (one
  strided add per kernel offset), which is cropped by the padding, plus the bias.
- **Backward:** the output gradient, placed back into the uncropped frame, is cut into
  windows by im2col (that is a convolution): ``dx_g = W_g @ cols_g``,
  ``dW_g = x_g cols_gᵀ``, ``db = Σ g``.
- **Derivatives of every order:** the op is the adjoint map T of a convolution, so its
  vjp is that convolution and its weight gradient (``_conv_adjoint.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.nn import _conv_adjoint as ca
from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.nn.conv import _ConvLayer
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "conv_transpose1d", "conv_transpose2d"]

IntOrTuple = int | tuple[int, ...]


class _ConvTranspose(Function):
    """The transposed convolution of 1-D or 2-D input; see the module docstring."""

    name = "conv_transpose"

    def forward(self, x, w, b=None, *, op, nsp, stride, padding, out_pad, dilation, groups):
        self.name = op
        batched = x.ndim == nsp + 2
        x4, w4 = sp.lift(x, nsp, batched), sp.lift(w, nsp, True)
        n, c, h, wd = x4.shape
        _, og, kh, kw = w4.shape
        o, cg, k = og * groups, c // groups, og * kh * kw
        (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
        ho = sp.transposed_len(h, kh, sh, ph, dh, out_pad[0])
        wo = sp.transposed_len(wd, kw, sw, pw, dw, out_pad[1])
        # the uncropped frame: every scattered window, and room for output_padding
        hb = max((h - 1) * sh + dh * (kh - 1) + 1, ph + ho)
        wb = max((wd - 1) * sw + dw * (kw - 1) + 1, pw + wo)
        x2 = x4.transpose(1, 0, 2, 3).reshape(groups, cg, n * h * wd)
        wg = w4.reshape(groups, cg, k)
        cols = np.matmul(wg.transpose(0, 2, 1), x2)  # (G, Og·K, N·H·W)
        full = sp.col2im(cols.reshape(o, kh, kw, n, h, wd), (o, n, hb, wb), stride, dilation)
        out = full[:, :, ph : ph + ho, pw : pw + wo].transpose(1, 0, 2, 3)
        if b is not None:
            out = out + b[:, None, None]
        needs = self.needs_grad
        if len(needs) > 1 and needs[1]:
            self.x2 = x2
        if needs and needs[0]:
            self.wg = wg
        self.x_shape, self.w_shape, self.dtypes = x.shape, w.shape, (x.dtype, w.dtype)
        self.geom = (nsp, batched, stride, dilation, groups, (kh, kw), (n, c, h, wd))
        self.frame = ((ph, hb - ph - ho), (pw, wb - pw - wo))
        return sp.lower(np.ascontiguousarray(out), nsp, batched)

    def backward(self, g):
        nsp, batched, stride, dilation, groups, kernel, (n, c, h, wd) = self.geom
        g4 = sp.lift(g, nsp, batched)
        frame = sp.pad_constant(g4, self.frame, 0.0)  # back into the uncropped frame
        cols = sp.im2col(frame, kernel, stride, dilation, (h, wd))  # (O·K, N·H·W)
        cols = cols.reshape(groups, cols.shape[0] // groups, -1)
        needs = self.needs_grad
        gx = gw = gb = None
        if needs[0]:
            gx2 = np.matmul(self.wg, cols).reshape(c, n, h, wd)
            gx = sp.lower(gx2.transpose(1, 0, 2, 3), nsp, batched).reshape(self.x_shape)
            gx = gx.astype(self.dtypes[0], copy=False)
        if len(needs) > 1 and needs[1]:
            gw = np.matmul(self.x2, cols.transpose(0, 2, 1))
            gw = gw.reshape(self.w_shape).astype(self.dtypes[1], copy=False)
        if len(needs) > 2 and needs[2]:
            gb = g4.sum(axis=(0, 2, 3))
        return gx, gw, gb

    def vjp(self, g):
        """As a transposed convolution is T(x, w) of the convolution that maps the output
        frame back onto x (padding = ``frame``, windows = x's size): dx = B(g, w), a
        convolution, dW = Wg(g, x), db = Σ g; differentiable nodes (``_conv_adjoint.py``)."""
        nsp, batched, stride, dilation, groups, kernel, (n, c, h, wd) = self.geom
        x, w = self.parents[:2]
        g4 = ca.as4d(g, nsp)
        geo = ca.ConvGeometry(stride, dilation, groups, self.frame, g4.shape[2:], (h, wd), kernel)
        needs = self.needs_grad
        gx = ca.conv_map(g4, ca.as4d(w, nsp), geo).reshape(x.shape) if needs[0] else None
        gw = ca.conv_weight_map(g4, ca.as4d(x, nsp), geo).reshape(w.shape) if needs[1] else None
        gb = g4.sum((0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, gw, gb


def _conv_transpose(
    who: str,
    nsp: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    out_pad: tuple[int, ...],
    dilation: tuple[int, ...],
    groups: int,
) -> Tensor:
    """Shape checks naming ``who``, then the fused op (arguments already validated)."""
    c, og = weight.shape[:2]
    if c % groups:
        raise ShapeError(
            f"{who}: groups={groups} must divide the number of input channels, got weight "
            f"of shape {weight.shape}"
        )
    sp.check_input(who, x, nsp, c, (weight.shape, groups))
    if bias is not None and bias.shape != (og * groups,):
        raise ShapeError(f"{who}: bias must have shape ({og * groups},), got {bias.shape}")
    if any(q >= max(s, d) for q, s, d in zip(out_pad, stride, dilation)):
        raise ValueError(
            f"{who}: output_padding must be smaller than either stride or dilation, got "
            f"output_padding={out_pad}, stride={stride}, dilation={dilation}"
        )
    size = x.shape[-nsp:]
    out = [
        sp.transposed_len(n, k, s, p, d, q)
        for n, s, p, d, k, q in zip(size, stride, padding, dilation, weight.shape[2:], out_pad)
    ]
    if min(out) < 0:
        raise ShapeError(
            f"{who}: padding {sp.fmt(padding)} is too large for input of shape {x.shape} and "
            f"kernel {sp.fmt(weight.shape[2:])}: the output size would be {sp.fmt(out)}"
        )
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return _ConvTranspose.apply(
        *inputs,
        op=f"conv_transpose{nsp}d",
        nsp=nsp,
        stride=sp.as2d(stride, 1),
        padding=sp.as2d(padding, 0),
        out_pad=sp.as2d(out_pad, 0),
        dilation=sp.as2d(dilation, 1),
        groups=groups,
    )


def _functional(who, nsp, x, weight, bias, stride, padding, output_padding, groups, dilation):
    x, weight, bias = sp.conv_operands(who, nsp, x, weight, bias, "C, O/groups")
    groups = sp.positive_int(groups, "groups", who)
    s = sp.ntuple(stride, nsp, "stride", who, 1)
    p = sp.ntuple(padding, nsp, "padding", who, 0)
    q = sp.ntuple(output_padding, nsp, "output_padding", who, 0)
    d = sp.ntuple(dilation, nsp, "dilation", who, 1)
    return _conv_transpose(who, nsp, x, weight, bias, s, p, q, d, groups)


def conv_transpose1d(
    input: Tensor | np.ndarray,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Transposed 1-D convolution of ``input`` (N, C, L) or (C, L) with ``weight`` (C, O/groups, k).

    out[n, o, s·l + d·i - p] += input[n, c, l] · weight[c, o, i] (c in o's group), plus
    bias; output length (L-1)·s - 2p + d·(k-1) + output_padding + 1. The adjoint of
    :func:`~tinygrad_opt.nn.conv.conv1d`; as ``torch.nn.functional.conv_transpose1d``.
    """
    args = (input, weight, bias, stride, padding, output_padding, groups, dilation)
    return _functional("conv_transpose1d", 1, *args)


def conv_transpose2d(
    input: Tensor | np.ndarray,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
) -> Tensor:
    """Transposed 2-D convolution of ``input`` (N, C, H, W) or (C, H, W) with ``weight``.

    With ``weight`` (C, O/groups, kh, kw):
    out[n, o, sh·y + dh·i - ph, sw·x + dw·j - pw] += input[n, c, y, x] · weight[c, o, i, j]
    (c in o's group), plus bias; Ho = (H-1)·sh - 2ph + dh·(kh-1) + output_padding + 1.
    The adjoint of :func:`~tinygrad_opt.nn.conv.conv2d`; as
    ``torch.nn.functional.conv_transpose2d``.
    """
    args = (input, weight, bias, stride, padding, output_padding, groups, dilation)
    return _functional("conv_transpose2d", 2, *args)


class _ConvTransposeNd(_ConvLayer):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: IntOrTuple = 0,
        output_padding: IntOrTuple = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: IntOrTuple = 1,
        padding_mode: str = "zeros",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        name, nsp = type(self).__name__, self._nsp
        self._check_channels(in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(
                f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}"
            )
        self.kernel_size = sp.ntuple(kernel_size, nsp, "kernel_size", name, 1)
        self.stride = sp.ntuple(stride, nsp, "stride", name, 1)
        self.padding = sp.ntuple(padding, nsp, "padding", name, 0)
        self.output_padding = sp.ntuple(output_padding, nsp, "output_padding", name, 0)
        self.dilation = sp.ntuple(dilation, nsp, "dilation", name, 1)
        self.padding_mode = padding_mode
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self._init_parameters(shape, bias, rng, dtype)  # torch's fan_in = weight.shape[1]·K

    def _output_padding(self, who: str, x: Tensor, output_size: Sequence[int]) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (torch's rule), or ValueError."""
        nsp = self._nsp
        size = tuple(int(v) for v in output_size)
        if len(size) in (nsp + 1, nsp + 2) and len(size) == x.ndim:
            size = size[-nsp:]
        if len(size) != nsp:
            raise ValueError(
                f"{who}: output_size must have {nsp} spatial entries, got {tuple(output_size)}"
            )
        lo = [
            sp.transposed_len(n, k, s, p, d)
            for n, s, p, d, k in zip(
                x.shape[-nsp:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        ]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= v <= b for v, a, b in zip(size, lo, hi)):
            raise ValueError(
                f"{who}: requested an output size of {size}, but valid sizes range from "
                f"{tuple(lo)} to {tuple(hi)} (for an input of {x.shape[-nsp:]})"
            )
        return tuple(v - a for v, a in zip(size, lo))

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        x = sp.as_tensor(input, self.weight)
        who = sp.layer_name(self)
        sp.check_input(who, x, self._nsp, self.in_channels)
        q = self.output_padding
        if output_size is not None:
            q = self._output_padding(who, x, output_size)
        args = (self.stride, self.padding, q, self.dilation, self.groups)
        return _conv_transpose(who, self._nsp, x, self.weight, self.bias, *args)

    def extra_repr(self) -> str:
        return self._describe(
            ("stride", self.stride, 1),
            ("padding", self.padding, 0),
            ("output_padding", self.output_padding, 0),
            ("dilation", self.dilation, 1),
        )


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution layer; see :func:`conv_transpose1d`.

    ``ConvTranspose1d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros', rng=None,
    dtype=float32)``, as torch's; ``weight`` is (in_channels, out_channels/groups, k).
    ``forward(input, output_size=None)``: a requested ``output_size`` picks the
    output_padding. Initialisation is torch's default, U(±1/√fan_in) with
    fan_in = out_channels/groups · k (torch computes it from the weight's second axis).
    """

    _nsp = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution layer; see :func:`conv_transpose2d`.

    ``ConvTranspose2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros', rng=None,
    dtype=float32)``, as torch's; ``weight`` is (in_channels, out_channels/groups, kh, kw).
    ``forward(input, output_size=None)``: a requested ``output_size`` picks the
    output_padding. Only ``padding_mode='zeros'`` exists (as in torch).
    """

    _nsp = 2
