"""Pieces several update rules share, written once and composed (never copied).

Every function works in place on numpy arrays where its name ends in ``_`` and never
touches a parameter's ``.grad`` array (gradients may be shared with the caller).
"""

from __future__ import annotations

import math

import numpy as np


def with_weight_decay(g: np.ndarray, p: np.ndarray, weight_decay: float) -> np.ndarray:
    """Coupled L2 regularisation: g + λ·θ (a new array; ``g`` is left alone)."""
    return g + weight_decay * p if weight_decay else g


def decay_weights_(p: np.ndarray, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay (Loshchilov & Hutter 2019): θ ← θ - η·λ·θ."""
    if weight_decay:
        p *= 1.0 - lr * weight_decay


def ema_(average: np.ndarray, x: np.ndarray, beta: float) -> None:
    """Exponential moving average in place: a ← β·a + (1-β)·x, as a + (1-β)(x - a)."""
    average += (1.0 - beta) * (x - average)


def ema_square_(average: np.ndarray, g: np.ndarray, beta: float) -> None:
    """Moving average of squares in place: a ← β·a + (1-β)·g²."""
    average *= beta
    average += (1.0 - beta) * (g * g)


def bias_correction(beta: float, step: int) -> float:
    """1 - βᵗ: divides a zero-initialised moving average to make it unbiased (Adam, §3)."""
    return 1.0 - beta**step


def trust_ratio(
    p: np.ndarray, update: np.ndarray, eps: float = 0.0, trust_coefficient: float = 1.0
) -> float:
    """Layer-wise trust ratio c·‖θ‖ / (‖u‖ + eps) (LARS, LAMB); 1 when either norm is zero.

    As Optax's ``scale_by_trust_ratio``: the coefficient c (LARS's η, default 1) and
    ``eps`` apply only when both norms are nonzero; otherwise the ratio is exactly 1.
    """
    w_norm = math.sqrt(float(np.vdot(p, p)))
    u_norm = math.sqrt(float(np.vdot(update, update)))
    if w_norm == 0.0 or u_norm == 0.0:
        return 1.0
    return trust_coefficient * w_norm / (u_norm + eps)


def velocity_(v: np.ndarray, delta: np.ndarray, alpha: float, nesterov: bool = False) -> np.ndarray:
    """Momentum on *steps* (lr inside the velocity): v ← α·v + Δ; returns the displacement.

    This is Goodfellow et al.'s form (Alg. 8.2: v ← αv - εg, θ ← θ + v) and Optax's
    ``trace``: Δ is already a step (e.g. -ε·g), so a learning-rate change affects only
    new steps, not the stored velocity. The returned displacement is ``v`` itself (do not
    modify it), or Δ + α·v with ``nesterov`` — which is Alg. 8.3's update written for the
    look-ahead point θ̃ = θ + αv (θ̃ ← θ̃ + Δ + α·v_new).
    """
    v *= alpha
    v += delta
    return delta + alpha * v if nesterov else v


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, with 0 where den == 0 (a new array).

    For adaptive steps g / √r with no (or zero) δ: r is 0 only where every gradient so
    far was 0 (or squared to an underflow), so the step there is 0 rather than NaN.
    """
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.result_type(num, den))
    return np.divide(num, den, out=out, where=den != 0)
