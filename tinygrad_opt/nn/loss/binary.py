"""Binary losses: cross-entropy on probabilities and on logits, hinge, soft margin.

Each is one fused Function. ``target`` must have exactly the input's shape (torch
raises there too for the two cross-entropies); ``weight`` and ``pos_weight`` are
constants that broadcast to the input's shape and receive no gradient (torch refuses
them when they require one).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn.loss._common import (
    as_tensor,
    broadcast_to_input,
    check_reduction,
    check_weight_not_str,
    constant,
    fixed,
    reduce,
    reduction_grad,
    reduction_scale,
    target_array,
    target_tensor,
)
from tinygrad_opt.tensor import Function, Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "hinge_loss",
    "soft_margin_loss",
]


def _weights(fn: str, x: Tensor, weight: Any, pos_weight: Any = None):
    w = constant(fn, "weight", weight, x.dtype)
    pw = constant(fn, "pos_weight", pos_weight, x.dtype)
    if w is not None:
        broadcast_to_input(fn, "weight", w, x.shape)
    if pw is not None:
        broadcast_to_input(fn, "pos_weight", pw, x.shape)
    return w, pw


# --------------------------------------------------------------------------- BCE
_BCE_EPS = float(np.float32(1e-12))  # torch's floor on x (1 - x) in the gradient (a C float)


class _BCE(Function):
    """loss = -w [t max(log x, -100) + (1 - t) max(log(1 - x), -100)]  (torch's clamp).

    d/dx = w (x - t) / max(x (1 - x), 1e-12);  d/dt = w (log(1 - x) - log x), unclamped,
    as torch (±inf at x = 0 or 1).
    """

    name = "binary_cross_entropy"

    def forward(self, x, t, weight, reduction):
        with np.errstate(divide="ignore"):
            log_x, log_1mx = np.log(x), np.log1p(-x)
        losses = -(t * np.maximum(log_x, -100) + (1 - t) * np.maximum(log_1mx, -100))
        if weight is not None:
            losses = losses * weight
        self.x, self.t, self.w, self.reduction = x, t, weight, reduction
        self.logs = log_x, log_1mx
        return reduce(losses, reduction, x.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.x.size)
        if self.w is not None:
            coef = coef * self.w
        x, gx, gt = self.x, None, None
        if self.needs_grad[0]:
            gx = coef * (x - self.t) / np.maximum(x * (1 - x), _BCE_EPS)
            gx = np.broadcast_to(gx, x.shape).astype(x.dtype, copy=False)
        if self.needs_grad[1]:
            gt = np.broadcast_to(coef * (self.logs[1] - self.logs[0]), x.shape)
            gt = gt.astype(x.dtype, copy=False)
        return gx, gt

    def vjp(self, g):  # the backward formulas in Tensor ops (torch differentiates the same)
        x, t = self.parents
        coef = _coef(g, self.reduction, x, self.w)
        gx = gt = None
        if self.needs_grad[0]:
            gx = coef * (x - t) / (x * (1 - x)).clamp(min=_BCE_EPS)
        if self.needs_grad[1]:
            gt = coef * ((1 - x).log() - x.log())
        return gx, gt


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target``.

    loss = -w [t log x + (1 - t) log(1 - x)], each log clamped at -100 as torch does, so
    x = 0 or 1 gives a finite loss. ``target`` (soft targets allowed) must have the input's
    shape and may be a Tensor that gets a gradient; ``weight`` broadcasts to the input's
    shape. ``ValueError`` if some input lies outside [0, 1] (or is nan). Prefer
    :func:`binary_cross_entropy_with_logits` on logits: it is exact where σ saturates.
    A fused Function.
    """
    fn = "binary_cross_entropy"
    check_reduction(fn, reduction)
    check_weight_not_str(fn, weight)
    x = as_tensor(input)
    t = target_tensor(fn, target, x)
    w, _ = _weights(fn, x, weight)
    inside = (x.data >= 0) & (x.data <= 1)
    if not inside.all():
        bad = x.data[~inside].flat[0]
        raise ValueError(f"{fn}: every input must be a probability in [0, 1], found {bad}")
    return _BCE.apply(x, t, weight=w, reduction=reduction)


# --------------------------------------------------------------------------- BCE with logits
class _BCEWithLogits(Function):
    """loss = w [(1 - t) x + l · softplus(-x)],  l = 1 + (p - 1) t for pos_weight p.

    softplus(-x) = log(1 + e^(-|x|)) + max(-x, 0) never overflows. Without p this is
    max(x, 0) - x t + log(1 + e^(-|x|)).
    d/dx = w [(1 - t) - l σ(-x)]  (= w (σ(x) - t) without p);
    d/dt = w [(p - 1) softplus(-x) - x]  (= -w x without p).
    """

    name = "bce_with_logits"

    def forward(self, x, t, weight, pos_weight, reduction):
        tail = np.log1p(np.exp(-np.abs(x)))
        if pos_weight is None:
            losses = np.maximum(x, 0) - x * t + tail
            self.softplus = None
        else:
            self.softplus = tail + np.maximum(-x, 0)
            losses = (1 - t) * x + (1 + (pos_weight - 1) * t) * self.softplus
        if weight is not None:
            losses = losses * weight
        self.x, self.t, self.w, self.pw, self.reduction = x, t, weight, pos_weight, reduction
        return reduce(losses, reduction, x.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.x.size)
        if self.w is not None:
            coef = coef * self.w
        x, t, pw = self.x, self.t, self.pw
        gx = gt = None
        if self.needs_grad[0]:
            sig = 0.5 * (1 + np.tanh(0.5 * x))
            if pw is None:
                gx = coef * (sig - t)
            else:
                gx = coef * ((1 - t) - (1 + (pw - 1) * t) * (1 - sig))
            gx = np.broadcast_to(gx, x.shape).astype(x.dtype, copy=False)
        if self.needs_grad[1]:
            gt = -coef * x if pw is None else coef * ((pw - 1) * self.softplus - x)
            gt = np.broadcast_to(gt, x.shape).astype(x.dtype, copy=False)
        return gx, gt

    def vjp(self, g):  # the backward formulas in Tensor ops (torch differentiates the same)
        x, t = self.parents
        pw = None if self.pw is None else fixed(self.pw)
        coef = _coef(g, self.reduction, x, self.w)
        gx = gt = None
        if self.needs_grad[0]:
            sig = ((x * 0.5).tanh() + 1) * 0.5
            if pw is None:
                gx = coef * (sig - t)
            else:
                gx = coef * ((1 - t) - (1 + (pw - 1) * t) * (1 - sig))
        if self.needs_grad[1]:
            if pw is None:
                gt = -coef * x
            else:  # softplus(-x) = log(1 + e^(-|x|)) + max(-x, 0)
                softplus = ((-x.abs()).exp() + 1).log() + (-x).clamp(min=0)
                gt = coef * ((pw - 1) * softplus - x)
        return gx, gt


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of σ(``input``) against ``target`` in [0, 1], computed stably.

    loss = -w [p t log σ(x) + (1 - t) log(1 - σ(x))] = w [(1 - t) x + (1 + (p - 1) t)
    softplus(-x)], as ``torch.nn.functional.binary_cross_entropy_with_logits``; no exp
    overflows for any x. ``target`` (soft targets allowed) must have the input's shape
    and may be a Tensor that gets a gradient. ``weight`` broadcasts to the input's shape;
    ``pos_weight`` p (weight of the positive term) broadcasts too, so a (C,) vector acts
    per class along the last dimension. A fused Function.
    """
    fn = "binary_cross_entropy_with_logits"
    check_reduction(fn, reduction)
    check_weight_not_str(fn, weight)
    x = as_tensor(input)
    t = target_tensor(fn, target, x)
    w, pw = _weights(fn, x, weight, pos_weight)
    return _BCEWithLogits.apply(x, t, weight=w, pos_weight=pw, reduction=reduction)


# --------------------------------------------------------------------------- hinge
class _Hinge(Function):
    """loss = max(0, 1 - y s);  d/ds = -y where 1 - y s > 0, else 0."""

    name = "hinge_loss"

    def forward(self, s, y, reduction):
        margin = 1 - y * s
        self.active = margin > 0
        self.y, self.reduction = y, reduction
        return reduce(np.where(self.active, margin, 0).astype(s.dtype), reduction, s.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.y.size)
        return (-coef * self.y * self.active).astype(self.y.dtype, copy=False)

    def vjp(self, g):  # linear in g: the active margins' -y
        return reduction_scale(g, self.reduction, self.y.size) * fixed(-self.y * self.active)


def hinge_loss(scores: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """The SVM hinge loss max(0, 1 - y s) for targets y in {-1, +1} (not in torch).

    With ``"mean"`` this is mean(relu(1 - y * s)), i.e. in torch
    ``torch.relu(1 - y * s).mean()``. ``targets`` must have the shape of ``scores`` and
    contain only -1 and +1 (``ValueError`` otherwise; 0/1 labels are a common slip).
    A fused Function.
    """
    check_reduction("hinge_loss", reduction)
    scores = as_tensor(scores)
    y = target_array("hinge_loss", targets, scores)
    bad = (y != 1) & (y != -1)
    if bad.any():
        raise ValueError(
            f"hinge_loss: targets must be -1 or +1, found {y[bad].flat[0]:g} "
            f"(map 0/1 labels with 2 * y - 1)"
        )
    return _Hinge.apply(scores, reduction=reduction, y=y)


# --------------------------------------------------------------------------- soft margin
class _SoftMargin(Function):
    """loss = log(1 + e^(-y x)) = softplus(-y x);  d/dx = -y σ(-y x)."""

    name = "soft_margin_loss"

    def forward(self, x, y, reduction):
        z = -y * x
        self.x, self.y, self.z, self.reduction = x, y, z, reduction
        return reduce(np.logaddexp(0, z), reduction, x.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.x.size)
        sig = 0.5 * (1 + np.tanh(0.5 * self.z))
        return (-coef * self.y * sig).astype(self.x.dtype, copy=False)

    def vjp(self, g):
        (x,), y = self.parents, fixed(self.y)
        sig = ((-y * x * 0.5).tanh() + 1) * 0.5  # σ(z), z = -y x
        return -reduction_scale(g, self.reduction, self.y.size) * y * sig


def _coef(g: Tensor, reduction: str, x: Tensor, w: np.ndarray | None) -> Tensor:
    """d(reduced)/d(each loss) times g, times the constant weight w."""
    coef = reduction_scale(g, reduction, math.prod(x.shape))
    return coef if w is None else coef * fixed(w)


def soft_margin_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss log(1 + exp(-y x)) for targets y (usually ±1).

    As ``torch.nn.functional.soft_margin_loss``: targets are not checked, must have the
    input's shape, and receive no gradient. A fused Function.
    """
    fn = "soft_margin_loss"
    check_reduction(fn, reduction)
    x = as_tensor(input)
    return _SoftMargin.apply(x, y=target_array(fn, target, x), reduction=reduction)
