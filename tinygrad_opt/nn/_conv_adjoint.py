"""The three bilinear maps of a convolution, each differentiable to any order (private).

For a fixed geometry (stride, dilation, groups, padding, sizes) a convolution is a
bilinear map ``y = B(x, w)``, and everything its derivatives need is one trilinear form
``F(g, x, w) = ⟨g, B(x, w)⟩`` read three ways:

- ``B(x, w)``  the convolution itself: x (N, C, H, W), w (O, C/G, kh, kw) -> (N, O, Ho, Wo)
- ``T(g, w)``  its adjoint in x, ∂F/∂x, the transposed convolution     -> (N, C, H, W)
- ``Wg(x, g)`` its adjoint in w, ∂F/∂w, the weight gradient            -> (O, C/G, kh, kw)

Differentiating any of them again gives one of the same three (F is linear in each
argument), so three Functions close the chain under differentiation:

    vjp of B(x, w)  at h:   x̄ = T(h, w),   w̄ = Wg(x, h)
    vjp of T(g, w)  at h:   ḡ = B(h, w),   w̄ = Wg(h, g)
    vjp of Wg(x, g) at h:   x̄ = T(g, h),   ḡ = B(x, h)

A transposed convolution *is* ``T`` (with the convolution geometry read backwards), so
``conv_transpose`` gets its derivatives of every order from the same three.

Everything works on canonical 4-D arrays (a 1-D op is a 2-D one of height 1; see
``_spatial.py``). :class:`ConvGeometry` holds the convolution's side of the geometry:
the input x (H, W) is padded by ``pads`` ((top, bottom), (left, right)) and the output
has ``out_hw`` windows (the windows must fit in the padded input; windows the padded
input could still hold beyond ``out_hw`` are not taken, which is how a transposed
convolution's ``output_padding`` is read).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.tensor import Function, Tensor

__all__ = ["ConvGeometry", "conv_map", "conv_input_map", "conv_weight_map"]


class ConvGeometry(NamedTuple):
    """A convolution's geometry in the canonical 2-D form (all pairs are (h, w))."""

    stride: sp.Pair
    dilation: sp.Pair
    groups: int
    pads: sp.Pads
    in_hw: sp.Pair
    out_hw: sp.Pair
    kernel: sp.Pair

    @property
    def padded(self) -> sp.Pair:
        (pt, pb), (pl, pr) = self.pads
        return self.in_hw[0] + pt + pb, self.in_hw[1] + pl + pr


# --------------------------------------------------------------------------- numpy kernels
def _cols(x4: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The (C·kh·kw, N·Ho·Wo) window matrix of x (see :func:`_spatial.im2col`)."""
    xp = sp.pad_constant(x4, geo.pads, 0.0)
    return sp.im2col(xp, geo.kernel, geo.stride, geo.dilation, geo.out_hw)


def _rows(g4: np.ndarray) -> np.ndarray:
    """An (N, O, Ho, Wo) array as the (O, N·Ho·Wo) matrix G."""
    return g4.transpose(1, 0, 2, 3).reshape(g4.shape[1], -1)


def conv_apply(x4: np.ndarray, w4: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """B(x, w): per group, ``W_g @ cols_g``, as (N, O, Ho, Wo)."""
    n, o, gr = x4.shape[0], w4.shape[0], geo.groups
    cols = _cols(x4, geo)
    out = np.matmul(w4.reshape(gr, o // gr, -1), cols.reshape(gr, cols.shape[0] // gr, -1))
    ho, wo = geo.out_hw
    return np.ascontiguousarray(out.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))


def conv_input_apply(g4: np.ndarray, w4: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """T(g, w): per group ``W_gᵀ @ G_g`` folded back into the padded input by col2im,
    then cropped, as (N, C, H, W)."""
    n, o, gr = g4.shape[0], w4.shape[0], geo.groups
    _, cg, kh, kw = w4.shape
    wg = w4.reshape(gr, o // gr, cg * kh * kw)
    dcols = np.matmul(wg.transpose(0, 2, 1), _rows(g4).reshape(gr, o // gr, -1))
    ho, wo = geo.out_hw
    frame = (cg * gr, n, *geo.padded)
    dxp = sp.col2im(dcols.reshape(cg * gr, kh, kw, n, ho, wo), frame, geo.stride, geo.dilation)
    return np.ascontiguousarray(sp.crop(dxp, geo.pads, geo.in_hw).transpose(1, 0, 2, 3))


def conv_weight_apply(x4: np.ndarray, g4: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """Wg(x, g): per group ``G_g cols_gᵀ``, as (O, C/G, kh, kw)."""
    o, c, gr = g4.shape[1], x4.shape[1], geo.groups
    cols = _cols(x4, geo)
    cols = cols.reshape(gr, cols.shape[0] // gr, -1).transpose(0, 2, 1)
    gw = np.matmul(_rows(g4).reshape(gr, o // gr, -1), cols)
    return gw.reshape(o, c // gr, *geo.kernel)


# --------------------------------------------------------------------------- Functions
class _ConvMap(Function):
    """y = B(x, w) (no bias); see the module docstring for its derivatives."""

    name = "conv"

    def forward(self, x4, w4, *, geo):
        return conv_apply(x4, w4, geo)

    def backward(self, h):
        (x4, w4), geo, need = (p._data for p in self.parents), self.params["geo"], self.needs_grad
        return (
            conv_input_apply(h, w4, geo) if need[0] else None,
            conv_weight_apply(x4, h, geo).astype(w4.dtype, copy=False) if need[1] else None,
        )

    def vjp(self, h):
        (x, w), geo, need = self.parents, self.params["geo"], self.needs_grad
        return (
            conv_input_map(h, w, geo) if need[0] else None,
            conv_weight_map(x, h, geo) if need[1] else None,
        )


class _ConvInputMap(Function):
    """y = T(g, w), the transposed convolution (x's shape)."""

    name = "conv_input_grad"

    def forward(self, g4, w4, *, geo):
        return conv_input_apply(g4, w4, geo)

    def backward(self, h):
        (g4, w4), geo, need = (p._data for p in self.parents), self.params["geo"], self.needs_grad
        return (
            conv_apply(h, w4, geo) if need[0] else None,
            conv_weight_apply(h, g4, geo).astype(w4.dtype, copy=False) if need[1] else None,
        )

    def vjp(self, h):
        (g, w), geo, need = self.parents, self.params["geo"], self.needs_grad
        return (
            conv_map(h, w, geo) if need[0] else None,
            conv_weight_map(h, g, geo) if need[1] else None,
        )


class _ConvWeightMap(Function):
    """y = Wg(x, g), the weight gradient (w's shape)."""

    name = "conv_weight_grad"

    def forward(self, x4, g4, *, geo):
        return conv_weight_apply(x4, g4, geo)

    def backward(self, h):
        (x4, g4), geo, need = (p._data for p in self.parents), self.params["geo"], self.needs_grad
        return (
            conv_input_apply(g4, h, geo).astype(x4.dtype, copy=False) if need[0] else None,
            conv_apply(x4, h, geo) if need[1] else None,
        )

    def vjp(self, h):
        (x, g), geo, need = self.parents, self.params["geo"], self.needs_grad
        return (
            conv_input_map(g, h, geo) if need[0] else None,
            conv_map(x, h, geo) if need[1] else None,
        )


def conv_map(x4: Tensor, w4: Tensor, geo: ConvGeometry) -> Tensor:
    """B(x, w) on 4-D Tensors, differentiable to any order."""
    return _ConvMap.apply(x4, w4, geo=geo)


def conv_input_map(g4: Tensor, w4: Tensor, geo: ConvGeometry) -> Tensor:
    """T(g, w) = ∂⟨g, B(x, w)⟩/∂x on 4-D Tensors, differentiable to any order."""
    return _ConvInputMap.apply(g4, w4, geo=geo)


def conv_weight_map(x4: Tensor, g4: Tensor, geo: ConvGeometry) -> Tensor:
    """Wg(x, g) = ∂⟨g, B(x, w)⟩/∂w on 4-D Tensors, differentiable to any order."""
    return _ConvWeightMap.apply(x4, g4, geo=geo)


def as4d(t: Tensor, nsp: int) -> Tensor:
    """A (N, C, *sp) or (C, *sp) Tensor with 1 or 2 spatial dims as (N, C, H, W) (a reshape)."""
    shape = tuple(t.shape)
    if len(shape) == nsp + 1:
        shape = (1, *shape)
    if nsp == 1:
        shape = (shape[0], shape[1], 1, shape[2])
    return t.reshape(shape)
