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


def trust_ratio(p: np.ndarray, update: np.ndarray, eps: float = 0.0) -> float:
    """Layer-wise trust ratio ‖θ‖ / ‖u‖ (LARS, LAMB); 1 when either norm is zero."""
    w_norm = math.sqrt(float(np.vdot(p, p)))
    u_norm = math.sqrt(float(np.vdot(update, update)))
    if w_norm == 0.0 or u_norm == 0.0:
        return 1.0
    return w_norm / (u_norm + eps)
