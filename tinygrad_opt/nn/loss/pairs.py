"""Losses on pairs of inputs with a ±1 target: margin ranking and cosine embedding.

Each is one fused Function. Where torch broadcasts the three arguments, we ask for the
shapes it documents (equal shapes for ranking; (N, D), (N, D), (N,) or (D,), (D,), ()
for the cosine loss) and raise :class:`ShapeError` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.nn._adjoint import keep_where
from tinygrad_opt.nn.loss._common import (
    as_tensor,
    check_reduction,
    fixed,
    numeric_array,
    reduce,
    reduce_tensor,
    reduction_grad,
    reduction_scale,
    target_tensor,
)
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["cosine_embedding_loss", "margin_ranking_loss"]


# --------------------------------------------------------------------------- ranking
class _MarginRanking(Function):
    """loss = max(0, m - y (a - b)).

    Where m - y (a - b) ≥ 0 (torch lets the gradient through at 0, as clamp_min does):
    d/da = -y, d/db = y, d/dy = -(a - b); elsewhere 0.
    """

    name = "margin_ranking_loss"

    def forward(self, a, b, y, margin, reduction):
        self.d = a - b
        z = margin - y * self.d
        self.active = z >= 0
        self.y, self.reduction = y, reduction
        return reduce(np.where(self.active, z, 0).astype(a.dtype), reduction, a.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.d.size) * self.active
        dtype = self.d.dtype
        ga = (-coef * self.y).astype(dtype, copy=False)
        gy = (-coef * self.d).astype(dtype, copy=False) if self.needs_grad[2] else None
        return ga, -ga, gy

    def vjp(self, g):
        a, b, y = self.parents
        coef = reduction_scale(g, self.reduction, self.d.size) * fixed(self.active.astype(g.dtype))
        needs = self.needs_grad
        ga = -coef * y if needs[0] or needs[1] else None
        return (
            ga if needs[0] else None,
            -ga if needs[1] else None,
            -coef * (a - b) if needs[2] else None,
        )


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Ranking hinge max(0, margin - y (x1 - x2)): y = 1 wants x1 ranked above x2, y = -1 below.

    As ``torch.nn.functional.margin_ranking_loss``; the three arguments must have one
    shape, the target may be a Tensor that gets a gradient. A fused Function.
    """
    fn = "margin_ranking_loss"
    check_reduction(fn, reduction)
    a = as_tensor(input1)
    b = target_tensor(fn, input2, a, "input2")
    y = target_tensor(fn, target, a)
    return _MarginRanking.apply(a, b, y, margin=float(margin), reduction=reduction)


# --------------------------------------------------------------------------- cosine
_COS_EPS = float(np.float32(1e-12))  # added to both squared norms, as torch (a C float)


class _CosineEmbedding(Function):
    """cos = s / √(A B), s = a·b, A = |a|² + ε, B = |b|² + ε (ε = float32 1e-12), per row;
    loss = 1 - cos where y = 1, max(0, cos - m) where y = -1, 0 for other y.

    d cos / d a = b / √(AB) - cos · a / A;  d cos / d b = a / √(AB) - cos · b / B.
    The loss passes -d cos (y = 1) or d cos (y = -1, cos ≥ m) on.
    """

    name = "cosine_embedding_loss"

    def forward(self, a, b, y, margin, reduction):
        s = (a * b).sum(axis=-1)
        sq_a = (a * a).sum(axis=-1) + _COS_EPS
        sq_b = (b * b).sum(axis=-1) + _COS_EPS
        root = np.sqrt(sq_a * sq_b)
        cos = s / root
        pos, neg = y == 1, (y == -1) & (cos - margin >= 0)
        losses = np.where(pos, 1 - cos, 0) + np.where(neg, cos - margin, 0)
        self.a, self.b, self.cos, self.root, self.sq = a, b, cos, root, (sq_a, sq_b)
        self.sign = neg.astype(a.dtype) - pos  # d loss / d cos
        self.reduction = reduction
        return reduce(losses.astype(a.dtype, copy=False), reduction, a.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.cos.size) * self.sign
        coef = np.asarray(coef)[..., None]
        a, b, cos, root = self.a, self.b, self.cos[..., None], self.root[..., None]
        ga = gb = None
        if self.needs_grad[0]:
            ga = (coef * (b / root - cos * a / self.sq[0][..., None])).astype(a.dtype, copy=False)
        if self.needs_grad[1]:
            gb = (coef * (a / root - cos * b / self.sq[1][..., None])).astype(a.dtype, copy=False)
        return ga, gb

    def composite(self, a, b, y, margin, reduction):
        """The same loss in Tensor ops (its derivative is the vjp); which samples count
        (y = 1, or y = -1 with cos ≥ margin) is read from the forward's values."""
        s = (a * b).sum(-1)
        root = (((a * a).sum(-1) + _COS_EPS) * ((b * b).sum(-1) + _COS_EPS)).sqrt()
        cos = s / root
        neg = (y == -1) & (cos.data - margin >= 0)
        losses = keep_where(1 - cos, y == 1) + keep_where(cos - margin, neg)
        return reduce_tensor(losses, reduction)


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Cosine embedding loss: 1 - cos(x1, x2) for y = 1, max(0, cos(x1, x2) - margin) for y = -1.

    As ``torch.nn.functional.cosine_embedding_loss``: inputs (N, D) with target (N,), or
    (D,) with a 0-d target; cos = x1·x2 / √((|x1|² + 1e-12)(|x2|² + 1e-12)); targets other
    than ±1 give 0; the target gets no gradient. A fused Function.
    """
    fn = "cosine_embedding_loss"
    check_reduction(fn, reduction)
    a = as_tensor(input1)
    b = target_tensor(fn, input2, a, "input2")
    y = numeric_array(fn, "target", target.data if isinstance(target, Tensor) else target)
    if a.ndim not in (1, 2) or y.shape != a.shape[:-1]:
        raise ShapeError(
            f"{fn}: inputs of shape {a.shape} and target of shape {y.shape} do not fit: use "
            f"(N, D) inputs with an (N,) target, or (D,) inputs with a 0-d target"
        )
    return _CosineEmbedding.apply(
        a, b, y=y.astype(a.dtype, copy=False), margin=float(margin), reduction=reduction
    )
