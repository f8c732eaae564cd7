"""Losses and fused layer ops, each one :class:`~tinygrad_opt.tensor.Function`.

Fusing means the forward and the hand-derived backward of the whole expression live in a
single node: one numpy pass each way instead of a chain of small ops, and no
intermediate graph. The losses live in :mod:`tinygrad_opt.nn.loss` (torch's names,
signatures and ``reduction`` semantics) and are re-exported here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    hinge_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
)
from tinygrad_opt.tensor import Function, Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "hinge_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "linear",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]


# --------------------------------------------------------------------------- helpers
def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# --------------------------------------------------------------------------- linear
class _Linear(Function):
    """y = x Wᵀ + b with W of shape (out, in) (torch's layout); x is (*, in) or (in,).

    The leading dimensions of x are flattened into one, so every product is a single
    matrix multiplication: with X of shape (M, in) and G = dL/dy of shape (M, out),

        dX = G W,    dW = Gᵀ X,    db = Σ_rows G.

    A 1-D weight w of shape (in,) (torch allows it) gives y = x·w of shape (*) and
    dx = g w, dw = Σ g x. A bias of more dimensions than (out,) broadcasts against y and
    gets g itself, which the engine sums back to the bias's shape.
    """

    name = "linear"

    def forward(self, x, w, b=None):
        if x.ndim == 0 or w.ndim not in (1, 2) or x.shape[-1] != w.shape[-1]:
            raise ValueError("shapes do not fit")  # describe_error writes the message
        self.x, self.w = x, w
        self.b_ndim = None if b is None else b.ndim
        lead = x.shape[:-1]
        self.m = m = math.prod(lead)  # rows once the leading dimensions are flattened
        x2 = x.reshape(m, x.shape[-1])  # a view when x is contiguous
        if w.ndim == 1:
            out = (x2 @ w).reshape(lead)
        else:
            out = (x2 @ w.T).reshape((*lead, w.shape[0]))
        if b is not None:
            out = np.add(out, b, out=out) if b.ndim <= out.ndim else out + b
        return out

    def backward(self, g):
        x, w = self.x, self.w
        needs = self.needs_grad
        g2 = g.reshape(self.m, w.shape[0] if w.ndim == 2 else 1)
        gx = gw = gb = None
        if needs[0]:
            gx = (g2 @ w if w.ndim == 2 else g2 * w).reshape(x.shape)
        if len(needs) > 1 and needs[1]:
            x2 = x.reshape(self.m, x.shape[-1])
            if w.ndim == 2 and not w.flags.c_contiguous and w.T.flags.c_contiguous:
                gw = (x2.T @ g2).T  # laid out as the (transposed) weight
            else:
                gw = g2.T @ x2
            gw = (gw if w.ndim == 2 else gw.reshape(-1)).astype(w.dtype, copy=False)
        if len(needs) > 2 and needs[2]:
            if self.b_ndim > w.ndim - 1:  # a broadcast bias, e.g. (T, out)
                gb = g
            else:  # (out,), (1,) or () for a 2-D weight; () for a 1-D one
                gb = g2.sum(axis=0) if w.ndim == 2 else np.asarray(g2.sum())
        return gx, gw, gb

    def vjp(self, g):  # the same products as fused nodes: dX = linear(G, Wᵀ), dW = Gᵀ X
        x, w = self.parents[:2]
        needs = self.needs_grad
        gx = gw = gb = None
        if w.ndim == 2:
            if needs[0]:
                gx = _Linear.apply(g, w.transpose(0, 1))
            if needs[1]:
                gw = _WeightGrad.apply(g, x)
        else:  # y = x·w: the output lost the last axis
            g1 = g.reshape((*g.shape, 1))
            gx = g1 * w if needs[0] else None
            if needs[1]:
                gw = (g1 * x).reshape(self.m, w.shape[0]).sum(0)
        if len(needs) > 2 and needs[2]:
            gb = g  # the engine sums it back to the bias's shape
        return gx, gw, gb

    def describe_error(self, inputs, params, err):
        x, w = inputs[0], inputs[1]
        if x.ndim == 0 or w.ndim not in (1, 2):
            return (
                f"linear: input shape {x.shape} needs at least 1 dimension and weight shape "
                f"{w.shape} 1 or 2 (torch's (out_features, in_features) layout)"
            )
        if x.shape[-1] != w.shape[-1]:
            return (
                f"linear: input shape {x.shape} does not fit weight shape {w.shape}: "
                f"{x.shape[-1]} input features != {w.shape[-1]} weight columns (the weight "
                f"has torch's (out_features, in_features) layout)"
            )
        shapes = ", ".join(str(t.shape) for t in inputs)
        return f"linear: input, weight, bias shapes {shapes} do not fit: {err}"


class _WeightGrad(Function):
    """dW = Gᵀ X for G (*, out) and X (*, in), the leading dimensions flattened: the
    weight gradient of :class:`_Linear` as one node of its vjp graph. Backward, with U
    the gradient of dW (out, in): dG = X Uᵀ, dX = G U (again linear maps, so the vjp is
    :class:`_Linear` nodes)."""

    name = "linear_weight_grad"

    def forward(self, g, x):
        self.g_shape, self.x_shape = g.shape, x.shape
        self.g2 = g.reshape(-1, g.shape[-1])
        self.x2 = x.reshape(-1, x.shape[-1])
        return self.g2.T @ self.x2

    def backward(self, u):
        dg = dx = None
        if self.needs_grad[0]:
            dg = (self.x2 @ u.T).reshape(self.g_shape)
        if self.needs_grad[1]:
            dx = (self.g2 @ u).reshape(self.x_shape)
        return dg, dx

    def vjp(self, u):
        g, x = self.parents
        dg = _Linear.apply(x, u) if self.needs_grad[0] else None
        dx = _Linear.apply(g, u.transpose(0, 1)) if self.needs_grad[1] else None
        return dg, dx


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one node, as ``torch.nn.functional.linear``.

    ``weight`` has torch's layout (out_features, in_features) (or (in_features,), giving
    an output without the last axis); ``x`` is (*, in_features), any leading dimensions,
    or 1-D; ``bias`` is (out_features,) or a scalar. Mismatched shapes raise
    :class:`ShapeError` naming linear and the input and weight shapes.
    """
    x = _as_tensor(x)
    if bias is None:
        return _Linear.apply(x, weight)
    return _Linear.apply(x, weight, bias)


# --------------------------------------------------------------------------- layer ops
# Fused ops of the layers in conv.py, conv_transpose.py, pooling.py, adaptive_pooling.py,
# upsample.py, normalization.py, dropout.py, embedding.py and attention.py are defined
# beside their layers and re-exported here (imported last: those modules must not import
# this one at load time).
from tinygrad_opt.nn.adaptive_pooling import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
)
from tinygrad_opt.nn.attention import scaled_dot_product_attention  # noqa: E402
from tinygrad_opt.nn.conv import conv1d, conv2d  # noqa: E402
from tinygrad_opt.nn.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
from tinygrad_opt.nn.dropout import dropout  # noqa: E402
from tinygrad_opt.nn.embedding import embedding  # noqa: E402
from tinygrad_opt.nn.group_norm import group_norm  # noqa: E402
from tinygrad_opt.nn.layer_norm import layer_norm, rms_norm  # noqa: E402
from tinygrad_opt.nn.normalization import batch_norm  # noqa: E402
from tinygrad_opt.nn.pooling import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d  # noqa: E402
from tinygrad_opt.nn.upsample import interpolate  # noqa: E402
from tinygrad_opt.ops.activation import (  # noqa: E402
    celu,
    elu,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    normalize,
    prelu,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from tinygrad_opt.ops.elementwise import tanh  # noqa: E402
from tinygrad_opt.ops.index import one_hot  # noqa: E402
from tinygrad_opt.ops.pad import pad  # noqa: E402
from tinygrad_opt.ops.window import fold  # noqa: E402
from tinygrad_opt.ops.window import unfold2d as unfold  # noqa: E402

__all__ += [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "dropout",
    "embedding",
    "fold",
    "group_norm",
    "interpolate",
    "layer_norm",
    "max_pool1d",
    "max_pool2d",
    "one_hot",
    "pad",
    "rms_norm",
    "scaled_dot_product_attention",
    "unfold",
]
__all__ += [  # the activations of ops/activation.py
    "celu",
    "elu",
    "gelu",
    "glu",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "normalize",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "tanh",
    "tanhshrink",
    "threshold",
]
