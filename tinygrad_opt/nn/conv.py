"""Convolutions: ``conv1d``, ``conv2d`` and the layers ``Conv1d``, ``Conv2d`` (torch's API).

Layout is torch's: inputs (N, C, L) / (N, C, H, W), or unbatched (C, L) / (C, H, W);
a weight is (out_channels, in_channels / groups, *kernel), so torch weights copy over
unchanged.

With kernel k, stride s, dilation d and padding p along an axis of length L the output
has ``⌊(L + 2p - d·(k-1) - 1) / s⌋ + 1`` positions, and

    out[n, o, y] = b[o] + Σ_{c in group(o)} Σ_i W[o, c, i] · xpad[n, c, s·y + d·i]

(likewise in 2-D with offsets (i, j)); ``group(o)`` is the block of C/groups input
channels that output channel o sees (groups split channels into independent blocks).
``padding`` is an int, a tuple per spatial dim, ``'valid'`` (none) or ``'same'`` (the
output has the input's size; total padding d·(k-1) per axis, the odd one on the
bottom/right as in torch; stride must be 1).

One fused :class:`Function` per call, for both dimensionalities (a 1-D input is a 2-D
one of height 1, see ``_spatial.py``):

- **Forward:** im2col of the padded input gives ``cols`` (C·K, N·Ho·Wo) with K the kernel
  area, and per group g ``out_g = W_g @ cols_g`` (one matrix product when groups=1, a
  batched one otherwise), plus the bias.
- **Backward:** with ``G`` the output gradient as (O, N·Ho·Wo): ``dW_g = G_g cols_gᵀ``,
  ``db = Σ G`` over columns, and ``dcols_g = W_gᵀ G_g`` folded back into the padded
  input by col2im (a loop over the kernel offsets only); the padding is cropped off.
- **Derivatives of every order** (``create_graph=True``): dx is a transposed convolution
  of g and dW a convolution-like product of x and g; both are written as the bilinear
  maps of ``_conv_adjoint.py``, whose own derivatives are again those maps.

The layers add ``padding_mode`` ('zeros', 'reflect', 'replicate', 'circular'): for the
last three the input is padded in that mode first (a differentiable op) and then
convolved without padding, as torch's layers do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn import _conv_adjoint as ca
from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.nn import init
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["Conv1d", "Conv2d", "conv1d", "conv2d"]

IntOrTuple = int | tuple[int, ...]
Padding = int | tuple[int, ...] | str


# --------------------------------------------------------------------------- the fused op
class _Conv(Function):
    """Grouped, dilated, strided convolution of 1-D or 2-D input; see the module docstring."""

    name = "conv"

    def forward(self, x, w, b=None, *, op, nsp, stride, pads, dilation, groups):
        self.name = op
        batched = x.ndim == nsp + 2
        x4, w4 = sp.lift(x, nsp, batched), sp.lift(w, nsp, True)
        n, c, h, wd = x4.shape
        o, cg, kh, kw = w4.shape
        (pt, pb), (pl, pr) = pads
        ho = sp.out_len(h, kh, stride[0], pt, pb, dilation[0])
        wo = sp.out_len(wd, kw, stride[1], pl, pr, dilation[1])
        cols = sp.im2col(sp.pad_constant(x4, pads, 0.0), (kh, kw), stride, dilation, (ho, wo))
        if groups == 1:
            out = w4.reshape(o, -1) @ cols  # (O, N·Ho·Wo)
        else:
            wg = w4.reshape(groups, o // groups, cg * kh * kw)
            out = np.matmul(wg, cols.reshape(groups, cg * kh * kw, -1)).reshape(o, -1)
        if b is not None:
            out += b[:, None]
        needs = self.needs_grad
        if len(needs) > 1 and needs[1]:  # dW needs the columns
            self.cols = cols
        if needs and needs[0]:  # dx needs the weight
            self.w4 = w4
        self.x_shape, self.w_shape, self.dtypes = x.shape, w.shape, (x.dtype, w.dtype)
        self.geom = (nsp, batched, stride, pads, dilation, groups, (n, c, h, wd), (ho, wo))
        out = np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))
        return sp.lower(out, nsp, batched)

    def backward(self, g):
        nsp, batched, stride, pads, dilation, groups, (n, c, h, wd), (ho, wo) = self.geom
        g4 = sp.lift(g, nsp, batched)
        o = g4.shape[1]
        g2 = g4.transpose(1, 0, 2, 3).reshape(o, n * ho * wo)  # G, (O, N·Ho·Wo)
        needs = self.needs_grad
        gx = gw = gb = None
        if needs[0]:
            _, cg, kh, kw = self.w4.shape
            if groups == 1:
                dcols = self.w4.reshape(o, -1).T @ g2
            else:
                wg = self.w4.reshape(groups, o // groups, cg * kh * kw)
                dcols = np.matmul(wg.transpose(0, 2, 1), g2.reshape(groups, o // groups, -1))
            (pt, pb), (pl, pr) = pads
            padded = (c, n, h + pt + pb, wd + pl + pr)
            dxp = sp.col2im(dcols.reshape(c, kh, kw, n, ho, wo), padded, stride, dilation)
            gx4 = sp.crop(dxp, pads, (h, wd)).transpose(1, 0, 2, 3)
            gx = sp.lower(gx4, nsp, batched).reshape(self.x_shape)
            gx = gx.astype(self.dtypes[0], copy=False)
        if len(needs) > 1 and needs[1]:
            if groups == 1:
                gw = g2 @ self.cols.T
            else:
                k = self.cols.shape[0] // groups
                cols = self.cols.reshape(groups, k, -1).transpose(0, 2, 1)
                gw = np.matmul(g2.reshape(groups, o // groups, -1), cols)
            gw = gw.reshape(self.w_shape).astype(self.dtypes[1], copy=False)
        if len(needs) > 2 and needs[2]:
            gb = g2.sum(axis=1)
        return gx, gw, gb

    def vjp(self, g):
        """dx = T(g, w) (a transposed convolution), dW = Wg(x, g), db = Σ g, each a
        differentiable node (``_conv_adjoint.py``)."""
        nsp, batched, stride, pads, dilation, groups, (n, c, h, wd), out_hw = self.geom
        x, w = self.parents[:2]
        g4, w4 = ca.as4d(g, nsp), ca.as4d(w, nsp)
        kernel = tuple(w4.shape[2:])
        geo = ca.ConvGeometry(stride, dilation, groups, pads, (h, wd), out_hw, kernel)
        needs = self.needs_grad
        gx = ca.conv_input_map(g4, w4, geo).reshape(x.shape) if needs[0] else None
        gw = ca.conv_weight_map(ca.as4d(x, nsp), g4, geo).reshape(w.shape) if needs[1] else None
        gb = g4.sum((0, 2, 3)) if len(needs) > 2 and needs[2] else None
        return gx, gw, gb


# --------------------------------------------------------------------------- argument checks
def _padding(
    who: str, padding: Padding, nsp: int, kernel: tuple[int, ...], stride, dilation
) -> tuple[sp.Pair, ...]:
    """(lo, hi) per spatial dim from an int, a tuple, 'valid' or 'same' (torch's rules)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nsp
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{who}: padding='same' is not supported for strided convolutions, "
                    f"got stride={stride}"
                )
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{who}: invalid padding string {padding!r}, expected 'valid' or 'same'")
    return tuple((p, p) for p in sp.ntuple(padding, nsp, "padding", who, 0))


def _check_fits(who: str, x: Tensor, nsp: int, kernel, pads, dilation) -> None:
    """ShapeError when the (dilated) kernel is larger than the padded input."""
    size = x.shape[-nsp:]
    for n, k, (lo, hi), d in zip(size, kernel, pads, dilation):
        if n + lo + hi < d * (k - 1) + 1:
            break
    else:
        return
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(size, pads))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    dil = "" if span == tuple(kernel) else f" (dilated to {sp.fmt(span)})"
    raise ShapeError(
        f"{who}: input of spatial size {sp.fmt(size)} (padded {sp.fmt(padded)}) is smaller "
        f"than the kernel {sp.fmt(kernel)}{dil}; got input shape {x.shape}"
    )


def _conv(
    who: str,
    nsp: int,
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...],
    pads: tuple[sp.Pair, ...],
    dilation: tuple[int, ...],
    groups: int,
    note: bool = True,
) -> Tensor:
    """Shape checks naming ``who``, then the fused op (arguments already validated)."""
    o, cg = weight.shape[:2]
    kernel = weight.shape[2:]
    sp.check_input(who, x, nsp, cg * groups, (weight.shape, groups) if note else None)
    if o % groups:
        raise ShapeError(
            f"{who}: groups={groups} must divide the number of output channels, got weight "
            f"of shape {weight.shape}"
        )
    if bias is not None and bias.shape != (o,):
        raise ShapeError(f"{who}: bias must have shape ({o},), got {bias.shape}")
    _check_fits(who, x, nsp, kernel, pads, dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    pads2 = pads if nsp == 2 else ((0, 0), pads[0])
    return _Conv.apply(
        *inputs,
        op=f"conv{nsp}d",
        nsp=nsp,
        stride=sp.as2d(stride, 1),
        pads=pads2,
        dilation=sp.as2d(dilation, 1),
        groups=groups,
    )


def _conv_functional(who, nsp, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    x, weight, bias = sp.conv_operands(who, nsp, x, weight, bias, "O, C/groups")
    groups = sp.positive_int(groups, "groups", who)
    s = sp.ntuple(stride, nsp, "stride", who, 1)
    d = sp.ntuple(dilation, nsp, "dilation", who, 1)
    pads = _padding(who, padding, nsp, weight.shape[2:], s, d)
    return _conv(who, nsp, x, weight, bias, s, pads, d, groups)


def conv1d(
    input: Tensor | np.ndarray,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation of ``input`` (N, C, L) or (C, L) with ``weight`` (O, C/groups, k).

    out[n, o, y] = bias[o] + Σ_{c in group(o)} Σ_i weight[o, c, i] · xpad[n, c, s·y + d·i];
    output (N, O, Lo) with Lo = ⌊(L + 2p - d·(k-1) - 1) / s⌋ + 1. As
    ``torch.nn.functional.conv1d``: ``padding`` is an int, a 1-tuple, 'valid' or 'same'.
    Raises :class:`ShapeError` for mismatched shapes (channels, groups, bias, an input
    smaller than the kernel) and ``ValueError`` for bad argument values.
    """
    return _conv_functional("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor | np.ndarray,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation of ``input`` (N, C, H, W) or (C, H, W) with ``weight``.

    With ``weight`` (O, C/groups, kh, kw):
    out[n, o, y, x] = bias[o] + Σ_{c in group(o)} Σ_ij weight[o, c, i, j] ·
    xpad[n, c, sh·y + dh·i, sw·x + dw·j]; output (N, O, Ho, Wo) with
    Ho = ⌊(H + 2ph - dh·(kh-1) - 1) / sh⌋ + 1 (likewise Wo). As
    ``torch.nn.functional.conv2d``: ``stride``, ``padding``, ``dilation`` are an int or a
    pair, ``padding`` may also be 'valid' or 'same'. Raises :class:`ShapeError` for
    mismatched shapes and ``ValueError`` for bad argument values.
    """
    return _conv_functional("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


# --------------------------------------------------------------------------- layers
class _ConvLayer(Module):
    """What the convolution and transposed-convolution layers share: channel and group
    checks, torch's default initialisation and the head and tail of ``extra_repr``."""

    _nsp = 2

    def _check_channels(self, in_channels: Any, out_channels: Any, groups: Any) -> None:
        """Set ``in_channels``, ``out_channels``, ``groups`` (ValueError naming the layer:
        positive counts, both divisible by ``groups``)."""
        name = type(self).__name__
        if (
            not (sp.is_int(in_channels) and sp.is_int(out_channels))
            or min(in_channels, out_channels) < 1
        ):
            raise ValueError(
                f"{name}: channel counts must be positive, got {in_channels} -> {out_channels}"
            )
        self.groups = sp.positive_int(groups, "groups", name)
        for what, count in (("in_channels", in_channels), ("out_channels", out_channels)):
            if count % self.groups:
                raise ValueError(
                    f"{name}: {what} must be divisible by groups, got {what}={count}, "
                    f"groups={self.groups}"
                )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)

    def _init_parameters(
        self, shape: tuple[int, ...], bias: bool, rng: np.random.Generator | int | None, dtype: Any
    ) -> None:
        """``weight`` of ``shape`` and ``bias`` (out_channels,), torch's default: Kaiming
        uniform with a = √5, i.e. U(±1/√fan_in) with fan_in = shape[1]·K, for both."""
        gen = np.random.default_rng(rng)
        self.weight = Parameter(
            init.kaiming_uniform(shape, math.sqrt(5), "fan_in", "leaky_relu", gen, dtype)
        )
        self.bias: Tensor | None = None
        if bias:
            bound = 1.0 / math.sqrt(init.compute_fans(shape)[0])
            self.bias = Parameter(init.uniform(self.out_channels, -bound, bound, gen, dtype))

    def _describe(self, *options: tuple[str, Any, int]) -> str:
        """``extra_repr``: channels and kernel, then each (name, value, default) option
        that is not its default (a string value always shows), groups, padding_mode, bias."""
        text = f"{self.in_channels} -> {self.out_channels}, kernel {sp.fmt(self.kernel_size)}"
        for what, value, default in options:
            if isinstance(value, str):
                text += f", {what} {value!r}"
            elif any(v != default for v in value):
                text += f", {what} {sp.fmt(value)}"
        if self.groups != 1:
            text += f", groups {self.groups}"
        if self.padding_mode != "zeros":
            text += f", padding_mode {self.padding_mode!r}"
        return text if self.bias is not None else text + ", bias=False"


class _ConvNd(_ConvLayer):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: Padding = 0,
        dilation: IntOrTuple = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        name, nsp = type(self).__name__, self._nsp
        self._check_channels(in_channels, out_channels, groups)
        if padding_mode not in sp.PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {sp.PADDING_MODES}, got {padding_mode!r}"
            )
        self.kernel_size = sp.ntuple(kernel_size, nsp, "kernel_size", name, 1)
        self.stride = sp.ntuple(stride, nsp, "stride", name, 1)
        self.dilation = sp.ntuple(dilation, nsp, "dilation", name, 1)
        self._pads = _padding(name, padding, nsp, self.kernel_size, self.stride, self.dilation)
        self.padding = padding if isinstance(padding, str) else tuple(lo for lo, _ in self._pads)
        self.padding_mode = padding_mode
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self._init_parameters(shape, bias, rng, dtype)  # fan_in = C/groups·K

    def forward(self, input: Tensor) -> Tensor:
        x = sp.as_tensor(input, self.weight)
        who = sp.layer_name(self)
        nsp, pads = self._nsp, self._pads
        if self.padding_mode != "zeros":
            sp.check_input(who, x, nsp, self.in_channels)
            x = sp.pad_mode(who, x, pads, self.padding_mode)
            pads = ((0, 0),) * nsp
        w, b = self.weight, self.bias
        return _conv(who, nsp, x, w, b, self.stride, pads, self.dilation, self.groups, False)

    def extra_repr(self) -> str:
        return self._describe(
            ("stride", self.stride, 1), ("padding", self.padding, 0), ("dilation", self.dilation, 1)
        )


class Conv1d(_ConvNd):
    """1-D convolution layer: ``y = conv1d(x, weight, bias, stride, padding, dilation, groups)``.

    ``Conv1d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode='zeros', rng=None, dtype=float32)``, as torch's.
    ``weight`` is (out_channels, in_channels/groups, k), ``bias`` (out_channels,). Input
    (N, in_channels, L) or (in_channels, L). Initialisation is torch's default: weight
    and bias from U(-1/√fan_in, 1/√fan_in), fan_in = in_channels/groups · k (Kaiming
    uniform with a = √5). ``rng`` is an int seed or a ``numpy.random.Generator``.
    """

    _nsp = 1


class Conv2d(_ConvNd):
    """2-D convolution layer: ``y = conv2d(x, weight, bias, stride, padding, dilation, groups)``.

    ``Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode='zeros', rng=None, dtype=float32)``, as torch's.
    ``weight`` is (out_channels, in_channels/groups, kh, kw), ``bias`` (out_channels,),
    so torch's state_dict loads unchanged. Input (N, in_channels, H, W) or unbatched.
    ``padding`` is an int, a pair, 'valid' or 'same'; ``padding_mode`` one of 'zeros',
    'reflect', 'replicate', 'circular'. Initialisation is torch's default: U(±1/√fan_in)
    with fan_in = in_channels/groups · kh · kw. A wrong input raises :class:`ShapeError`
    naming the layer, e.g. ``Conv2d(3 -> 8, kernel 3x3): expected input of shape
    (3, H, W) or (N, 3, H, W), got (2, 4, 8, 8)``.
    """

    _nsp = 2
