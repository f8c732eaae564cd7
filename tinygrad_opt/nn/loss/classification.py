"""Multi-class losses: ``cross_entropy`` and ``nll_loss``, each a fused Function.

Shapes follow torch: the input is (C,), (N, C) or (N, C, d1, d2, ...) with the classes
on axis 1 (axis 0 for a 1-D input); class-index targets are (), (N,) or (N, d1, ...).
Internally every input is viewed as (N, C, D) with D = d1·d2·..., so one code path serves
all ranks; ``reduction="none"`` returns the target's shape.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_opt.nn._adjoint import take_flat
from tinygrad_opt.nn.loss._common import (
    as_tensor,
    check_reduction,
    check_weight_not_str,
    class_weight,
    fixed,
    log_softmax_tensor,
    reduce,
    reduce_tensor,
    reduction_grad,
    reduction_scale,
    softmax_tensor,
)
from tinygrad_opt.nn.loss._labels import (
    check_index_shape,
    class_indices,
    index_target_shape,
    num_classes,
    to_ncd,
    valid_mask,
)
from tinygrad_opt.tensor import Function, Tensor

__all__ = ["cross_entropy", "nll_loss"]


# --------------------------------------------------------------------------- fast path
class _CrossEntropy(Function):
    """loss_i = logsumexp(x_i) - x_i[y_i] for logits x of shape (N, C): the plain case.

    Forward is the stable log-softmax: with m_i = max_j x_ij, logsumexp = m_i + log Σ_j
    exp(x_ij - m_i); only the picked entry of the log-softmax is formed.
    Backward: d loss_i / d x_ij = softmax(x_i)_j - [j = y_i], times g_i (g/N for "mean").

    Speed notes (this is a benchmark's hot path): entries are addressed by flat index
    i·C + j, which beats 2-D fancy indexing; the row max is read at ``argmax`` (numpy
    vectorises argmax along a row, not max); row sums are a matrix-vector product (BLAS).
    """

    name = "cross_entropy"

    def forward(self, x, labels, reduction):
        n, c = x.shape
        row_start = np.arange(0, n * c, c)
        flat_x = x.reshape(-1)  # a view unless x is non-contiguous
        m = flat_x.take(row_start + x.argmax(axis=1))
        shifted = np.subtract(x, m[:, None], order="C")  # C order: flat indices hold
        self.flat = flat = row_start + labels  # flat index of x_i[y_i]
        picked = shifted.reshape(-1).take(flat)
        e = np.exp(shifted, out=shifted)  # reuse the buffer: shifted is not needed again
        s = _row_sums(e)
        self.e, self.s, self.reduction = e, s, reduction
        return reduce(np.log(s) - picked, reduction, x.dtype)

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.e.shape[0])
        grad = np.multiply(self.e, (coef / self.s)[:, None], order="C")  # softmax · g_i
        grad.reshape(-1)[self.flat] -= coef  # each row once: no np.add.at needed
        return grad

    def vjp(self, g):  # g_i (softmax(x_i) - onehot(y_i)) in Tensor ops
        (x,) = self.parents
        n, c = x.shape
        coef = reduction_scale(g, self.reduction, n)
        if self.reduction == "none":
            coef = coef.reshape(n, 1)
        onehot = np.zeros(n * c, dtype=x.dtype)
        onehot[self.flat] = 1
        return coef * (softmax_tensor(x, 1) - fixed(onehot.reshape(n, c)))


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Σ_j a_ij; a BLAS matrix-vector product when a is float32/float64 (much faster)."""
    if a.dtype in _BLAS_DTYPES:
        return a @ _ones(a.shape[1], a.dtype)
    return a.sum(axis=1)


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=32)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False  # shared between calls
    return ones


# --------------------------------------------------------------------------- shared pieces
def _log_softmax(x3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log p, p) along axis 1 of an (N, C, D) array, shifted by the max: no overflow."""
    z = x3 - x3.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    logp = z - np.log(s)
    e /= s
    return logp, e


def _class_targets(x, labels, valid) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(x as (N, C, D), the labels as (N, D) with ignored ones set to class 0, the
    validity mask as (N, D) or None)."""
    x3 = to_ncd(x)
    n, _, d = x3.shape
    y0 = labels.reshape(n, d)
    if valid is not None:
        valid = valid.reshape(n, d)
        y0 = np.where(valid, y0, 0)
    return x3, y0, valid


def _picked(a3: np.ndarray, y0: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    """-w_y · a[n, y, d] per target: the (N, D) losses of the target classes."""
    losses = -np.take_along_axis(a3, y0[:, None, :], axis=1)[:, 0, :]
    if weight is not None:
        losses *= weight[y0]
    return losses


def _target_weights(y0, valid, weight, dtype) -> tuple[Any, float]:
    """Per-target factor w[y] (0 where ignored) and its sum, the weighted mean's divisor."""
    if weight is None:
        if valid is None:
            return 1.0, float(y0.size)
        return valid.astype(dtype), float(np.count_nonzero(valid))
    wy = weight[y0]
    if valid is not None:
        wy = np.where(valid, wy, 0)
    return wy, float(wy.sum())


# --------------------------------------------------------------------------- general path
class _ClassCrossEntropy(Function):
    """Cross-entropy against class indices, with class weights, ignore_index, smoothing.

    With log p = log_softmax(x) over the classes, w_y the weight of the target class
    (0 for an ignored target), ε the smoothing and W = Σ_c w_c (C without weights):

        loss = (1 - ε) · (-w_y log p_y) + (ε / C) · (-Σ_c w_c log p_c)   (0 if ignored)

    ``"mean"`` divides the sum by Σ w_y over the targets (the count of non-ignored
    targets without weights), so an all-ignored batch gives nan, as torch.
    Backward, per target with coefficient a = ḡ(1 - ε) w_y and b = ḡ ε / C:
        d loss / d x_j = a (p_j - [j = y]) + b (W p_j - w_j).
    """

    name = "cross_entropy"

    def forward(self, x, labels, valid, weight, eps, reduction):
        x3, y0, valid = _class_targets(x, labels, valid)
        c = x3.shape[1]
        logp, p = _log_softmax(x3)
        denom = _target_weights(y0, valid, weight, x.dtype)[1]
        losses = _picked(logp, y0, weight)
        if eps:
            smooth = -(logp.sum(axis=1) if weight is None else np.einsum("ncd,c->nd", logp, weight))
            losses = (1 - eps) * losses + (eps / c) * smooth
        if valid is not None:
            losses = np.where(valid, losses, 0)  # where, not *: an ignored -inf must not give nan
        self.p, self.y0, self.valid, self.weight = p, y0, valid, weight
        self.eps, self.reduction, self.denom, self.shape = eps, reduction, denom, x.shape
        return reduce(losses.reshape(labels.shape), reduction, x.dtype, denom)

    def backward(self, g):
        p, y0, valid, weight, eps = self.p, self.y0, self.valid, self.weight, self.eps
        n, c, d = p.shape
        coef = reduction_grad(g, self.reduction, self.denom)
        if self.reduction == "none":
            coef = np.reshape(coef, (n, d))
        a = coef * (1 - eps) * (1.0 if weight is None else weight[y0])
        b = coef * (eps / c)
        if valid is not None:
            a, b = np.where(valid, a, 0), np.where(valid, b, 0)
        a = np.broadcast_to(a, (n, d))
        total = a if not eps else a + b * (c if weight is None else weight.sum())
        grad = p * total[:, None, :]
        idx = y0[:, None, :]
        np.put_along_axis(grad, idx, np.take_along_axis(grad, idx, axis=1) - a[:, None, :], 1)
        if eps:
            b = np.broadcast_to(b, (n, d))[:, None, :]
            grad -= b if weight is None else b * weight[None, :, None]
        return grad.reshape(self.shape).astype(p.dtype, copy=False)

    def vjp(self, g):  # backward's formula in Tensor ops: ḡ (p K₁ - K₂), K constants
        (x,) = self.parents
        y0, valid, weight, eps, dtype = self.y0, self.valid, self.weight, self.eps, x.dtype
        n, c, d = self.p.shape
        coef = reduction_scale(g, self.reduction, self.denom)
        if self.reduction == "none":
            coef = coef.reshape(n, 1, d)
        a = (1 - eps) * (np.ones((n, d)) if weight is None else weight[y0])
        b = np.full((n, d), eps / c)
        if valid is not None:
            a, b = np.where(valid, a, 0), np.where(valid, b, 0)
        a, b = a[:, None, :], b[:, None, :]
        k1 = a + b * (c if weight is None else weight.sum())
        k2 = a * (np.arange(c)[None, :, None] == y0[:, None, :])
        k2 = k2 + (b if weight is None else b * weight[None, :, None])
        p = softmax_tensor(x.reshape(n, c, d), 1)
        grad = coef * (p * fixed(k1.astype(dtype)) - fixed(k2.astype(dtype)))
        return grad.reshape(x.shape)


class _ProbCrossEntropy(Function):
    """Cross-entropy against class probabilities t of the input's shape.

    With smoothing ε the targets become t' = (1 - ε) t + ε / C; with weights, q = w t':
        loss = -Σ_c q_c log p_c,   "mean" divides by the number of samples N·D.
    Backward: d/dx_j = ḡ (p_j Σ_c q_c - q_j);  d/dt_j = -ḡ (1 - ε) w_j log p_j.
    """

    name = "cross_entropy"

    def forward(self, x, t, weight, eps, reduction):
        x3, t3 = to_ncd(x), to_ncd(t)
        n, c, d = x3.shape
        logp, p = _log_softmax(x3)
        q = t3 if not eps else (1 - eps) * t3 + eps / c
        if weight is not None:
            q = q * weight[None, :, None]
        losses = -(q * logp).sum(axis=1)
        self.logp, self.p, self.q, self.weight = logp, p, q, weight
        self.eps, self.reduction, self.shape = eps, reduction, x.shape
        return reduce(losses.reshape(index_target_shape(x.shape)), reduction, x.dtype)

    def backward(self, g):
        n, c, d = self.p.shape
        coef = reduction_grad(g, self.reduction, n * d)
        if self.reduction == "none":
            coef = np.reshape(coef, (n, 1, d))
        gx = gt = None
        if self.needs_grad[0]:
            gx = coef * (self.p * self.q.sum(axis=1, keepdims=True) - self.q)
            gx = gx.reshape(self.shape).astype(self.p.dtype, copy=False)
        if self.needs_grad[1]:
            gt = -coef * (1 - self.eps) * self.logp
            if self.weight is not None:
                gt = gt * self.weight[None, :, None]
            gt = gt.reshape(self.shape).astype(self.p.dtype, copy=False)
        return gx, gt

    def composite(self, x, t, weight, eps, reduction):
        """The same loss in Tensor ops (its derivative is the vjp)."""
        n, c, d = to_ncd(x.data).shape
        logp = log_softmax_tensor(x.reshape(n, c, d), 1)
        q = t.reshape(n, c, d)
        if eps:
            q = q * (1 - eps) + eps / c
        if weight is not None:
            q = q * fixed(weight[None, :, None])
        losses = -(q * logp).sum(1)
        return reduce_tensor(losses.reshape(index_target_shape(x.shape)), reduction)


class _NLLLoss(Function):
    """loss = -w_y x_y for log-probabilities x (0 for an ignored target).

    ``"mean"`` divides by Σ w_y over non-ignored targets. Backward: -ḡ w_y at x_y, 0 elsewhere.
    """

    name = "nll_loss"

    def forward(self, x, labels, valid, weight, reduction):
        x3, y0, valid = _class_targets(x, labels, valid)
        wy, denom = _target_weights(y0, valid, weight, x.dtype)
        losses = _picked(x3, y0, weight)
        if valid is not None:
            losses = np.where(valid, losses, 0)
        self.y0, self.wy, self.valid = y0, wy, valid
        self.reduction, self.denom, self.shape, self.dtype = reduction, denom, x.shape, x.dtype
        return reduce(losses.reshape(labels.shape), reduction, x.dtype, denom)

    def backward(self, g):
        n, d = self.y0.shape
        coef = reduction_grad(g, self.reduction, self.denom)
        if self.reduction == "none":
            coef = np.reshape(coef, (n, d))
        a = coef * self.wy
        if self.valid is not None:
            a = np.where(self.valid, a, 0)
        grad = np.zeros((n, self.shape[1] if len(self.shape) > 1 else self.shape[0], d), self.dtype)
        np.put_along_axis(grad, self.y0[:, None, :], -np.broadcast_to(a, (n, d))[:, None, :], 1)
        return grad.reshape(self.shape)

    def composite(self, x, labels, valid, weight, reduction):
        """The same loss in Tensor ops (linear in x: a gather at the targets)."""
        x3 = x.reshape(to_ncd(x.data).shape)
        _, y0, valid3 = _class_targets(x.data, labels, valid)
        losses = -take_flat(x3, _target_index(x3.shape, y0), valid3)
        if weight is not None:
            losses = losses * fixed(weight[y0])
        denom = _target_weights(y0, valid3, weight, x.dtype)[1]
        return reduce_tensor(losses.reshape(labels.shape), reduction, denom)


def _target_index(shape: tuple[int, ...], y0: np.ndarray) -> np.ndarray:
    """Flat index of x[n, y0[n, d], d] in an (N, C, D) array, shape (N, D)."""
    n, c, d = shape
    return (np.arange(n)[:, None] * c + y0) * d + np.arange(d)


# --------------------------------------------------------------------------- public API
def _check_smoothing(label_smoothing: float) -> float:
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}"
        )
    return eps


def _index_targets(fn: str, x: Tensor, target: Any, c: int, ignore_index: int):
    """(class indices, mask of the non-ignored ones or None), checked against ``x``."""
    y = class_indices(fn, target)
    check_index_shape(fn, x.shape, y.shape)
    return y, valid_mask(fn, y, c, ignore_index)


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits ``input`` against class indices or probabilities.

    As ``torch.nn.functional.cross_entropy``: ``input`` is (C,), (N, C) or
    (N, C, d1, ...), classes on axis 1. ``target`` is either

    - class indices of shape (), (N,) or (N, d1, ...): loss = -w_y log softmax(x)_y, mixed
      with the uniform target by ``label_smoothing`` ε as (1 - ε)·that + (ε/C)·(-Σ_c w_c
      log softmax(x)_c); targets equal to ``ignore_index`` contribute 0 and do not count;
      ``"mean"`` divides by Σ w_y over the non-ignored targets (nan when all are ignored);
    - class probabilities of the input's shape (float): loss = -Σ_c w_c t'_c log
      softmax(x)_c with t' = (1 - ε) t + ε/C; ``"mean"`` divides by the number of
      samples; a probability Tensor that requires grad gets a gradient.

    ``weight`` (C,) rescales classes and receives no gradient. Targets are integer
    arrays, lists, or Tensors holding whole numbers. Errors: ``TypeError`` for float or
    bool class indices, :class:`ShapeError` for shapes that do not fit, ``IndexError``
    (:class:`TargetIndexError`) for an index outside [0, C), ``ValueError`` for a bad
    ``reduction`` or ``label_smoothing`` outside [0, 1].

    Implementation: fused Functions. The plain case, 2-D logits with class indices, no
    weight, no smoothing, no ignored target, takes a fast path (flat indices, BLAS row
    sums); the rest one general (N, C, D) path each for indices and probabilities.
    """
    fn = "cross_entropy"
    check_reduction(fn, reduction)
    check_weight_not_str(fn, weight)
    eps = _check_smoothing(label_smoothing)
    x = as_tensor(input)
    c = num_classes(fn, x.shape)
    tshape = target.shape if isinstance(target, Tensor) else np.shape(target)
    w = class_weight(fn, weight, c, x.dtype)
    if tshape == x.shape:
        return _prob_cross_entropy(x, target, w, ignore_index, eps, reduction)
    y, valid = _index_targets(fn, x, target, c, ignore_index)
    if x.ndim == 2 and w is None and not eps and valid is None:
        return _CrossEntropy.apply(x, labels=y, reduction=reduction)
    return _ClassCrossEntropy.apply(
        x, labels=y, valid=valid, weight=w, eps=eps, reduction=reduction
    )


def _prob_cross_entropy(x, target, w, ignore_index, eps, reduction) -> Tensor:
    kind = target.dtype.kind if isinstance(target, Tensor) else np.asarray(target).dtype.kind
    if kind != "f":
        raise TypeError(
            f"cross_entropy: a target of the input's shape {x.shape} holds class "
            f"probabilities and must be floating point; class indices have shape "
            f"{index_target_shape(x.shape)}"
        )
    if ignore_index >= 0:
        raise ValueError(
            f"cross_entropy: ignore_index = {ignore_index} does not apply to class-probability "
            f"targets (as torch)"
        )
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target, dtype=x.dtype))
    return _ProbCrossEntropy.apply(x, t, weight=w, eps=eps, reduction=reduction)


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``.

    As ``torch.nn.functional.nll_loss``: loss = -w_y x_y with the shapes of
    :func:`cross_entropy`'s class-index case (``input`` (C,), (N, C) or (N, C, d1, ...),
    ``target`` (), (N,) or (N, d1, ...)); targets equal to ``ignore_index`` give 0 and do
    not count; ``"mean"`` divides by Σ w_y over the others (nan if there are none).
    ``cross_entropy(x, y) == nll_loss(log_softmax(x, 1), y)``. A fused Function.
    """
    fn = "nll_loss"
    check_reduction(fn, reduction)
    check_weight_not_str(fn, weight)
    x = as_tensor(input)
    c = num_classes(fn, x.shape)
    w = class_weight(fn, weight, c, x.dtype)
    y, valid = _index_targets(fn, x, target, c, ignore_index)
    return _NLLLoss.apply(x, labels=y, valid=valid, weight=w, reduction=reduction)
