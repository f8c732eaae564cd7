"""Elementwise losses of an input and a same-shape target: MSE, L1, smooth L1, Huber, KL.

Each is a fused Function on the frame :class:`_Elementwise`: the subclass gives the
loss per element and its partial derivatives, the frame applies the optional
per-element ``weight`` (torch 2.13 has one for ``mse_loss``, ``l1_loss`` and
``huber_loss``) and the reduction; for higher derivatives it differentiates the loss
written in Tensor ops (``losses_tensor``). Unlike torch, which warns and broadcasts, a target
(or weight) of another shape raises :class:`ShapeError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.nn._adjoint import keep_where
from tinygrad_opt.nn.loss._common import (
    as_tensor,
    check_reduction,
    fixed,
    reduce,
    reduce_tensor,
    reduction_grad,
    reduction_scale,
    same_shape,
    target_tensor,
)
from tinygrad_opt.tensor import Function, Tensor

__all__ = ["huber_loss", "kl_div", "l1_loss", "mse_loss", "smooth_l1_loss"]


class _Elementwise(Function):
    """Frame: losses l(x, t), times w when given, then the reduction.

    ``"mean"`` divides by ``denom`` when given (kl_div's batchmean), else by Σ w when
    ``weight_sum_mean`` (mse, l1: torch's weighted mean), else by the number of elements
    (huber: torch takes the plain mean of w·l).
    Backward: ḡ_l = ḡ (/ divisor) · w; d/dw = ḡ l ('none', 'sum', or count mean), or
    ḡ (l - loss) / Σ w for the weighted mean.
    """

    weight_sum_mean = True

    def losses(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def partials(self, gl: Any) -> tuple[Any, Any]:  # pragma: no cover
        """(gl · dl/dx, gl · dl/dt) for the per-element gradient gl of the losses."""
        raise NotImplementedError

    def losses_tensor(self, x: Tensor, t: Tensor, hyper: dict) -> Tensor:  # pragma: no cover
        """:meth:`losses` in Tensor ops (for :meth:`composite`)."""
        raise NotImplementedError

    def composite(self, x, t, w=None, *, reduction, denom=None, **hyper):
        """The same loss in Tensor ops (its derivative is the vjp); the weighted mean's
        divisor Σ w is a Tensor too, so w gets the gradient of the quotient."""
        losses = self.losses_tensor(x, t, hyper)
        if w is not None:
            losses = losses * w
            if denom is None and self.weight_sum_mean:
                denom = w.sum()
        return reduce_tensor(losses, reduction, denom)

    def forward(self, x, t, w=None, *, reduction, denom=None, **hyper):
        self.hyper, self.reduction, self.shape, self.dtype = hyper, reduction, x.shape, x.dtype
        l = self.losses(x, t)
        self.l = None if w is None else l  # (only the weight's gradient needs the losses)
        self.w = w
        if denom is None:
            denom = float(w.sum()) if w is not None and self.weight_sum_mean else l.size
        self.denom = denom
        out = reduce(l if w is None else l * w, reduction, x.dtype, self.denom)
        self.out = out
        return out

    def backward(self, g):
        coef = reduction_grad(g, self.reduction, self.denom)
        gl = coef if self.w is None else coef * self.w
        gx, gt = self.partials(gl)
        grads = [
            None if gx is None or not self.needs_grad[0] else _full(gx, self.shape, self.dtype),
            None if gt is None or not self.needs_grad[1] else _full(gt, self.shape, self.dtype),
        ]
        if self.w is not None:
            gw = None
            if self.needs_grad[2]:
                if self.reduction == "mean" and self.weight_sum_mean:
                    gw = coef * (self.l - float(self.out))
                else:
                    gw = coef * self.l
                gw = _full(gw, self.shape, self.dtype)
            grads.append(gw)
        return tuple(grads)


def _full(a: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.broadcast_to(a, shape).astype(dtype, copy=False)


# --------------------------------------------------------------------------- the losses
class _MSE(_Elementwise):
    """l = (x - t)²;  dl/dx = 2 (x - t) = -dl/dt."""

    name = "mse_loss"

    def losses(self, x, t):
        self.d = d = x - t
        return d * d

    def partials(self, gl):
        gx = (2 * gl) * self.d
        return gx, -gx

    def losses_tensor(self, x, t, hyper):
        d = x - t
        return d * d

    def vjp(self, g):
        """The partials in Tensor ops, dx = 2 ḡ (x - t) = -dt (ḡ the reduction's scale
        times g); with a weight, the derivative of the composite."""
        if self.w is not None:
            return super().vjp(g)
        x, t = self.parents
        gx = (x - t) * (reduction_scale(g, self.reduction, self.denom) * 2.0)
        return (gx if self.needs_grad[0] else None), (-gx if self.needs_grad[1] else None)


class _L1(_Elementwise):
    """l = |x - t|;  dl/dx = sign(x - t) = -dl/dt (0 at x = t, as torch)."""

    name = "l1_loss"

    def losses(self, x, t):
        d = x - t
        self.sign = np.sign(d)
        return np.abs(d)

    def partials(self, gl):
        gx = gl * self.sign
        return gx, -gx

    def losses_tensor(self, x, t, hyper):
        return (x - t).abs()


class _SmoothL1(_Elementwise):
    """l = ½ d² / β where |d| < β, else |d| - ½β  (d = x - t, β > 0).

    dl/dx = d / β where |d| < β, else sign(d);  dl/dt = -dl/dx.
    """

    name = "smooth_l1_loss"

    def losses(self, x, t):
        beta = self.hyper["beta"]
        self.d = d = x - t
        self.inner = inner = np.abs(d) < beta
        return np.where(inner, 0.5 * d * d / beta, np.abs(d) - 0.5 * beta)

    def partials(self, gl):
        gx = gl * np.where(self.inner, self.d / self.hyper["beta"], np.sign(self.d))
        return gx, -gx

    def losses_tensor(self, x, t, hyper):
        beta, d = hyper["beta"], x - t
        inner = np.abs(d.data) < beta
        return keep_where(d * d * (0.5 / beta), inner) + keep_where(d.abs() - 0.5 * beta, ~inner)


class _Huber(_Elementwise):
    """l = ½ d² where |d| ≤ δ, else δ (|d| - ½δ);  dl/dx = clip(d, -δ, δ) = -dl/dt."""

    name = "huber_loss"
    weight_sum_mean = False

    def losses(self, x, t):
        delta = self.hyper["delta"]
        self.d = d = x - t
        return np.where(np.abs(d) <= delta, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))

    def partials(self, gl):
        delta = self.hyper["delta"]
        gx = gl * np.clip(self.d, -delta, delta)
        return gx, -gx

    def losses_tensor(self, x, t, hyper):
        delta, d = hyper["delta"], x - t
        inner = np.abs(d.data) <= delta
        quad, lin = d * d * 0.5, (d.abs() - 0.5 * delta) * delta
        return keep_where(quad, inner) + keep_where(lin, ~inner)


class _KLDiv(_Elementwise):
    """KL terms for log-probabilities x and target t (probabilities, or log ones).

    t as probabilities: l = t (log t - x), with 0 where t = 0 (torch's xlogy);
        dl/dx = -t, dl/dt = log t + 1 - x (nan at t = 0, exactly as torch's gradient).
    t as log-probabilities (``log_target``): l = eᵗ (t - x);
        dl/dx = -eᵗ, dl/dt = eᵗ (t - x + 1).
    """

    name = "kl_div"

    def losses(self, x, t):
        self.x, self.t = x, t
        if self.hyper["log_target"]:
            self.et = et = np.exp(t)
            return et * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.log_t = np.log(t)
            return np.where(t == 0, 0, t * self.log_t) - t * x

    def partials(self, gl):
        x, t = self.x, self.t
        if self.hyper["log_target"]:
            gx = -gl * self.et if self.needs_grad[0] else None
            gt = gl * self.et * (t - x + 1) if self.needs_grad[1] else None
            return gx, gt
        gx = -gl * t if self.needs_grad[0] else None
        gt = None
        if self.needs_grad[1]:
            gt = gl * (np.where(t == 0, np.nan, self.log_t + 1) - x)
        return gx, gt

    def vjp(self, g):  # the partials in Tensor ops (so that t = 0 keeps its nan, as torch)
        x, t = self.parents
        gl = reduction_scale(g, self.reduction, self.denom)
        needs = self.needs_grad
        if self.hyper["log_target"]:
            et = t.exp()
            return (-gl * et if needs[0] else None), (gl * et * (t - x + 1) if needs[1] else None)
        gt = None
        if needs[1]:
            with np.errstate(divide="ignore"):
                gt = gl * (t.log() + 1 - x)
            zero = self.t == 0
            if zero.any():
                gt = gt + fixed(np.where(zero, np.nan, 0).astype(self.dtype))
        return (-gl * t if needs[0] else None), gt


# --------------------------------------------------------------------------- public API
def _prepare(fn: str, input: Any, target: Any, weight: Any, reduction: str, allowed=None):
    if allowed is None:
        check_reduction(fn, reduction)
    else:
        check_reduction(fn, reduction, allowed)
    x = as_tensor(input)
    t = target_tensor(fn, target, x)
    if weight is None:
        return (x, t)
    w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=x.dtype))
    same_shape(fn, x.shape, w.shape, "weight")
    return (x, t, w)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean", weight: Any = None) -> Tensor:
    """Squared error (x - t)², averaged (``"mean"``), summed, or kept (``"none"``).

    As ``torch.nn.functional.mse_loss``. ``target`` must have exactly the input's shape
    (a :class:`ShapeError` otherwise; torch broadcasts with a warning). It may be a
    Tensor (then it also receives a gradient if it requires one), an array or a list.
    ``weight`` (the input's shape, torch 2.13) multiplies each term; the weighted
    ``"mean"`` is Σ w l / Σ w. A fused Function.
    """
    args = _prepare("mse_loss", input, target, weight, reduction)
    return _MSE.apply(*args, reduction=reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean", weight: Any = None) -> Tensor:
    """Absolute error |x - t|, as ``torch.nn.functional.l1_loss`` (gradient 0 at x = t).

    Target and ``weight`` rules as :func:`mse_loss` (weighted mean Σ w l / Σ w). A fused
    Function.
    """
    args = _prepare("l1_loss", input, target, weight, reduction)
    return _L1.apply(*args, reduction=reduction)


def smooth_l1_loss(
    input: Tensor, target: Any, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Smooth L1: ½ d²/β where |d| < β, else |d| - ½β, with d = x - t.

    As ``torch.nn.functional.smooth_l1_loss``; ``beta = 0`` is exactly :func:`l1_loss`;
    ``ValueError`` for a negative ``beta``. A fused Function.
    """
    fn = "smooth_l1_loss"
    beta = float(beta)
    if not beta >= 0:
        raise ValueError(f"{fn}: beta must be >= 0, got {beta}")
    args = _prepare(fn, input, target, None, reduction)
    if beta == 0:
        return _L1.apply(*args, reduction=reduction)
    return _SmoothL1.apply(*args, reduction=reduction, beta=beta)


def huber_loss(
    input: Tensor,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
) -> Tensor:
    """Huber loss: ½ d² where |d| ≤ δ, else δ(|d| - ½δ), with d = x - t.

    As ``torch.nn.functional.huber_loss`` (= δ · smooth_l1_loss with β = δ). ``weight``
    (the input's shape) multiplies each term and, as torch, the weighted ``"mean"`` is
    the plain mean of w·l. ``ValueError`` unless ``delta`` > 0. A fused Function.
    """
    fn = "huber_loss"
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"{fn}: delta must be > 0, got {delta}")
    args = _prepare(fn, input, target, weight, reduction)
    return _Huber.apply(*args, reduction=reduction, delta=delta)


def kl_div(input: Tensor, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence terms, ``input`` being log-probabilities log q.

    As ``torch.nn.functional.kl_div``: the pointwise term is t (log t - log q), 0 where
    t = 0, or eᵗ (t - log q) with ``log_target=True`` (t then log-probabilities).
    ``reduction``: ``"mean"`` (over all elements, not KL's definition), ``"batchmean"``
    (the sum over the first dimension's size: the true mean KL over a batch), ``"sum"``
    or ``"none"``. The target must have the input's shape; a target Tensor that requires
    grad gets a gradient (nan where t = 0 without ``log_target``, as torch). A fused
    Function.
    """
    fn = "kl_div"
    allowed = ("mean", "batchmean", "sum", "none")
    check_reduction(fn, reduction, allowed)
    x, t = _prepare(fn, input, target, None, "sum")
    denom = None
    if reduction == "batchmean":  # a mean with the batch size as divisor (1 for a 0-d input)
        reduction, denom = "mean", (x.shape[0] if x.ndim else 1)
    return _KLDiv.apply(x, t, reduction=reduction, denom=denom, log_target=bool(log_target))
