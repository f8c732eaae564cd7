"""Plumbing shared by the losses: reductions, argument checks, target conversion.

Every loss takes ``reduction``: ``"mean"`` (default), ``"sum"`` or ``"none"`` (the
per-element or per-sample losses), with ``torch.nn.functional``'s definitions; a few
losses add their own (``kl_div``'s ``"batchmean"``) or divide ``"mean"`` by a sum of
weights (``cross_entropy``, ``nll_loss``).

For derivatives of higher order (``create_graph=True``) every loss Function also has a
differentiable form: a ``composite`` (the loss in Tensor ops) or a ``vjp`` (its backward
formula in Tensor ops); :func:`reduce_tensor` and :func:`reduction_scale` are the
reductions' halves of those.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import constant as _constant
from tinygrad_opt.tensor import ShapeError, Tensor, is_grad_enabled

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(fn: str, reduction: Any, allowed: tuple[str, ...] = REDUCTIONS) -> None:
    """Raise ``ValueError`` naming ``fn`` unless ``reduction`` is one of ``allowed``."""
    if not isinstance(reduction, str) or reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed[:-1]) + f" or {allowed[-1]!r}"
        raise ValueError(f"{fn}: reduction must be {names}, got {reduction!r}")


def check_weight_not_str(fn: str, weight: Any) -> None:
    """torch's third positional argument is ``weight``; catch an old ``f(x, y, "sum")`` call."""
    if isinstance(weight, str):
        raise TypeError(
            f"{fn}: weight must be a Tensor or array, got the string {weight!r}; pass the "
            f"reduction by keyword (reduction={weight!r}), as in torch the third argument "
            f"is weight"
        )


def as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def numeric_array(fn: str, what: str, value: Any) -> np.ndarray:
    """``value`` (Tensor, array, list, number) as a numpy array of a numeric dtype."""
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: {what} must be numeric, got dtype {arr.dtype}")
    return arr


def same_shape(fn: str, shape: tuple[int, ...], other: tuple[int, ...], what: str) -> None:
    if other != shape:
        raise ShapeError(
            f"{fn}: input shape {shape} and {what} shape {other} differ "
            f"(no broadcasting here: it usually hides an (N, 1) vs (N,) mistake)"
        )


def target_array(fn: str, target: Any, like: Tensor, what: str = "target") -> np.ndarray:
    """A float target (Tensor, array, list) as an array with ``like``'s dtype and shape."""
    arr = numeric_array(fn, what + "s" if what == "target" else what, target)
    same_shape(fn, like.shape, arr.shape, what)
    return arr.astype(like.dtype, copy=False)


def target_tensor(fn: str, target: Any, like: Tensor, what: str = "target") -> Tensor:
    """Targets as a Tensor of ``like``'s shape; a float Tensor is kept (it may need a grad)."""
    if isinstance(target, Tensor) and target.dtype.kind == "f":
        same_shape(fn, like.shape, target.shape, what)
        return target
    return Tensor(target_array(fn, target, like, what))


def constant(fn: str, what: str, value: Any, dtype: np.dtype) -> np.ndarray | None:
    """A weight-like argument as a constant float array (``None`` stays ``None``).

    Like torch, these arguments receive no gradient, so a Tensor that requires one is
    refused (outside ``no_grad``) rather than silently left untrained.
    """
    if value is None:
        return None
    if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{fn}: {what} receives no gradient (as in torch), so it must not require one; "
            f"pass {what}.detach()"
        )
    return numeric_array(fn, what, value).astype(dtype, copy=False)


def broadcast_to_input(fn: str, what: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``arr`` broadcast to exactly ``shape`` (a ShapeError when it does not fit)."""
    try:
        fits = np.broadcast_shapes(arr.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(
            f"{fn}: {what} of shape {arr.shape} does not broadcast to input shape {shape}"
        )
    return arr


def class_weight(fn: str, weight: Any, c: int, dtype: np.dtype) -> np.ndarray | None:
    """A per-class weight: a constant array of shape (C,)."""
    w = constant(fn, "weight", weight, dtype)
    if w is not None and w.shape != (c,):
        raise ShapeError(
            f"{fn}: weight must have one entry per class, shape ({c},), got shape {w.shape}"
        )
    return w


def reduce(
    losses: np.ndarray, reduction: str, dtype: np.dtype, denom: float | None = None
) -> np.ndarray:
    """Apply ``reduction``; ``"mean"`` divides by ``denom`` (default: the number of losses)."""
    if reduction == "none":
        return losses.astype(dtype, copy=False)
    total = losses.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing to average: nan, as torch
            total = total / (losses.size if denom is None else denom)
    return np.asarray(total, dtype=dtype)


def reduction_grad(g: np.ndarray, reduction: str, denom: float) -> Any:
    """d(reduced)/d(each loss) times the incoming g: a scalar, or g itself for 'none'."""
    if reduction == "none":
        return g
    g = float(g)  # a Python float keeps the arrays' dtype and is cheaper than a 0-d array
    if reduction == "mean":
        denom = float(denom)
        if denom == 0:  # as a division by zero in torch: ±inf, or nan for g = 0
            return math.copysign(math.inf, g) if g else math.nan
        return g / denom
    return g


def reduce_tensor(losses: Tensor, reduction: str, denom: Any = None) -> Tensor:
    """:func:`reduce` in Tensor ops: ``"mean"`` divides the sum by ``denom`` (a number or
    a Tensor, default the number of losses)."""
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing to average: nan
            total = total / (math.prod(losses.shape) if denom is None else denom)
    return total


def reduction_scale(g: Tensor, reduction: str, denom: float) -> Tensor:
    """:func:`reduction_grad` in Tensor ops: d(reduced)/d(each loss) times ``g``."""
    if reduction != "mean":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):  # ±inf or nan, as a division by 0
        return g / float(denom)


def _shifted(x: Tensor, axis: int) -> Tensor:
    """x minus its (constant: softmax does not depend on it) maximum along ``axis``."""
    top = x.data.max(axis=axis, keepdims=True) if x.data.size else np.zeros(())
    return x - fixed(np.where(np.isfinite(top), top, 0).astype(x.dtype))


def log_softmax_tensor(x: Tensor, axis: int) -> Tensor:
    """log softmax along ``axis`` in Tensor ops (differentiable to any order)."""
    z = _shifted(x, axis)
    return z - z.exp().sum(axis, keepdim=True).log()


def softmax_tensor(x: Tensor, axis: int) -> Tensor:
    """softmax along ``axis`` in Tensor ops (differentiable to any order)."""
    e = _shifted(x, axis).exp()
    return e / e.sum(axis, keepdim=True)


def fixed(a: Any) -> Tensor:
    """A constant (no gradient) Tensor around the array ``a``."""
    return _constant(np.asarray(a))
