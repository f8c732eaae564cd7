"""Losses and fused layer ops, each one :class:`~tinygrad_opt.tensor.Function`.

Fusing means the forward and the hand-derived backward of the whole expression live in a
single node: one numpy pass each way instead of a chain of small ops, and no
intermediate graph. The losses live in :mod:`tinygrad_opt.nn.loss` (torch's names,
signatures and ``reduction`` semantics) and are re-exported here.
"""

from __future__ import annotations

from typing import Any

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
    """y = x W + b with W of shape (in, out); x may have any leading dimensions.

    Backward: dx = g Wᵀ, dW = xᵀ g, db = Σ g over all leading dimensions.
    """

    name = "linear"

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        out = x @ w
        if b is not None:
            out += b
        return out

    def backward(self, g):
        gx = gw = gb = None
        if self.needs_grad[0]:
            gx = g @ self.w.T
        if len(self.needs_grad) > 1 and self.needs_grad[1]:
            x2 = self.x.reshape(-1, self.x.shape[-1])
            gw = (x2.T @ g.reshape(-1, g.shape[-1])).astype(self.w.dtype, copy=False)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = g.reshape(-1, g.shape[-1]).sum(axis=0)
        return gx, gw, gb

    def describe_error(self, inputs, params, err):
        x, w = inputs[0], inputs[1]
        if x.ndim == 0 or w.ndim != 2:
            return f"linear: input shape {x.shape} needs >= 1 dim and weight shape {w.shape} 2"
        if x.shape[-1] != w.shape[0]:
            return (
                f"linear: input shape {x.shape} does not fit weight shape {w.shape}: "
                f"{x.shape[-1]} input features != {w.shape[0]} weight rows (the weight has "
                f"the (in, out) layout)"
            )
        shapes = ", ".join(str(t.shape) for t in inputs)
        return f"linear: input, weight, bias shapes {shapes} do not fit: {err}"


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight + bias`` as one node; ``weight`` has the (in, out) layout."""
    x = _as_tensor(x)
    if bias is None:
        return _Linear.apply(x, weight)
    return _Linear.apply(x, weight, bias)


# --------------------------------------------------------------------------- layer ops
# Fused ops of the layers in conv.py, normalization.py, dropout.py and embedding.py are
# defined beside their layers and re-exported here (imported last: those modules must
# not import this one at load time).
from tinygrad_opt.nn.conv import avg_pool2d, conv2d, max_pool2d  # noqa: E402
from tinygrad_opt.nn.dropout import dropout  # noqa: E402
from tinygrad_opt.nn.embedding import embedding  # noqa: E402
from tinygrad_opt.nn.normalization import batch_norm  # noqa: E402
from tinygrad_opt.ops.index import one_hot  # noqa: E402
from tinygrad_opt.ops.pad import pad  # noqa: E402
from tinygrad_opt.ops.window import fold  # noqa: E402
from tinygrad_opt.ops.window import unfold2d as unfold  # noqa: E402

__all__ += ["avg_pool2d", "batch_norm", "conv2d", "dropout", "embedding", "max_pool2d"]
__all__ += ["fold", "one_hot", "pad", "unfold"]
