"""Pieces several update rules share, written once and composed (never copied).

Every function works in place on numpy arrays where its name ends in ``_`` and never
touches a parameter's ``.grad`` array (gradients may be shared with the caller).

Speed without changing a single bit: the functions that need a temporary accept an
optional work array (``tmp=`` or ``out=``) of the result's shape and dtype; given one,
they compute exactly the same values (the same operations in the same order) with no
allocation. :func:`scratch` hands an ``update`` such work arrays, reused across calls.
"""

from __future__ import annotations

import math
import threading

import numpy as np


def with_weight_decay(
    g: np.ndarray, p: np.ndarray, weight_decay: float, *, out: np.ndarray | None = None
) -> np.ndarray:
    """Coupled L2 regularisation: g + λ·θ (a new array, or ``out``; ``g`` is left alone).

    Without weight decay ``g`` itself is returned.
    """
    if not weight_decay:
        return g
    if out is None:
        return g + weight_decay * p
    np.multiply(p, weight_decay, out=out)
    out += g  # λ·θ + g: the same number as g + λ·θ (addition commutes exactly)
    return out


def decay_weights_(p: np.ndarray, lr: float, weight_decay: float) -> None:
    """Decoupled weight decay (Loshchilov & Hutter 2019): θ ← θ - η·λ·θ."""
    if weight_decay:
        p *= 1.0 - lr * weight_decay


def ema_(average: np.ndarray, x: np.ndarray, beta: float, *, tmp: np.ndarray | None = None) -> None:
    """Exponential moving average in place: a ← β·a + (1-β)·x, as a + (1-β)(x - a)."""
    if tmp is None:
        average += (1.0 - beta) * (x - average)
        return
    np.subtract(x, average, out=tmp)
    tmp *= 1.0 - beta
    average += tmp


def ema_square_(
    average: np.ndarray, g: np.ndarray, beta: float, *, tmp: np.ndarray | None = None
) -> None:
    """Moving average of squares in place: a ← β·a + (1-β)·g²."""
    average *= beta
    if tmp is None:
        average += (1.0 - beta) * (g * g)
        return
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta
    average += tmp


def add_scaled_(y: np.ndarray, alpha: float, x: np.ndarray, tmp: np.ndarray | None = None) -> None:
    """y ← y + α·x in place (``tmp``: optional work array for α·x).

    With α = ±1 no multiplication happens (1·x is exactly x), so ``y -= x`` and
    ``add_scaled_(y, -1.0, x)`` give the same bits; so do ``y -= η·x`` and α = -η.
    """
    if alpha == 1.0:
        y += x
    elif alpha == -1.0:
        y -= x
    elif tmp is None:
        y += alpha * x
    else:
        np.multiply(x, alpha, out=tmp)
        y += tmp


def bias_correction(beta: float, step: int) -> float:
    """1 - βᵗ: divides a zero-initialised moving average to make it unbiased (Adam, §3)."""
    return 1.0 - beta**step


def adam_moments_(
    state: dict, g: np.ndarray, beta1: float, beta2: float, *, tmp: np.ndarray | None = None
) -> int:
    """Adam's moment estimates in place on ``state`` (keys ``step``, ``exp_avg``,
    ``exp_avg_sq``); returns the new step count t:

        t ← t + 1,   s ← ρ1·s + (1 - ρ1)·g,   r ← ρ2·r + (1 - ρ2)·g⊙g
    """
    state["step"] += 1
    ema_(state["exp_avg"], g, beta1, tmp=tmp)
    ema_square_(state["exp_avg_sq"], g, beta2, tmp=tmp)
    return state["step"]


def adam_direction(
    s: np.ndarray,
    r: np.ndarray,
    t: int,
    beta1: float,
    beta2: float,
    eps: float,
    *,
    eps_root: float = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Adam's bias-corrected direction ŝ / (√(r̂ + δ_root) + δ), with ŝ = s / (1 - ρ1ᵗ) and
    r̂ = r / (1 - ρ2ᵗ) (Kingma & Ba 2015, Alg. 1; ``eps_root`` is Optax's δ inside the
    root). A new array, or ``out`` (which may be ``r`` only if ``r`` is a work copy)."""
    out = np.divide(r, bias_correction(beta2, t), out=out)
    if eps_root:
        out += eps_root
    np.sqrt(out, out=out)
    out += eps
    np.divide(s, out, out=out)
    out /= bias_correction(beta1, t)
    return out


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


def lerp_(a: np.ndarray, b: np.ndarray, weight: float, *, tmp: np.ndarray | None = None) -> None:
    """Linear interpolation in place: a ← a + w·(b - a) = (1 - w)·a + w·b.

    Rounded as torch's ``lerp``: for |w| ≥ 0.5 it is computed as b - (b - a)·(1 - w), so
    w = 1 gives exactly b. Any real w works (w < 0 extrapolates away from b; Schedule-Free's
    ``eval()`` uses w = 1 - 1/β). ``tmp``: optional work array for b - a.
    """
    d = np.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        d *= weight
        a += d
    else:
        d *= 1.0 - weight
        np.subtract(b, d, out=a)


def adam_denominator(
    r: np.ndarray,
    t: int,
    beta2: float,
    eps: float,
    *,
    eps_root: float = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The adaptive denominator √(r / (1 - ρ2ᵗ) + δ_root) + δ (a new array, or ``out``).

    The denominator of :func:`adam_direction`, for methods whose numerator is not Adam's
    ŝ (AdEMAMix, Adan, Yogi, AdaBelief). ``eps_root`` is Optax's δ inside the root.
    """
    out = np.divide(r, bias_correction(beta2, t), out=out)
    if eps_root:
        out += eps_root
    np.sqrt(out, out=out)
    out += eps
    return out


def decay_add_(a: np.ndarray, beta: float, alpha: float, x: np.ndarray, y=None) -> None:
    """a ← β·a + α·x (or + α·x⊙y) in place, rounded as torch's ``a.mul_(β).add_(x, alpha=α)``
    (``addcmul_(x, y, value=α)``: (α·x)·y).

    The moving sums of D-Adaptation and Prodigy, whose weights are not (β, 1 - β): their
    moments average d-scaled gradients, and Prodigy's gradient sum has no (1 - β3). Written
    in the packages' order so early steps round alike: Prodigy's ⟨g, θ0 - θ⟩ cancels about
    |log10 d0| digits while d is near d0, so one ulp of θ would cost ~1e-10 in d.
    """
    a *= beta
    term = alpha * x
    if y is not None:
        term *= y
    a += term


def decoupled_step_(
    p: np.ndarray,
    lr: float,
    weight_decay: float,
    direction: np.ndarray,
    tmp: np.ndarray | None = None,
) -> None:
    """θ ← θ - η·λ·θ, then θ ← θ - η·d: the step of a direction d with decoupled weight
    decay (:func:`decay_weights_`, then :func:`add_scaled_` with ``tmp``), as AdEMAMix,
    Adan and AdaBelief end. ``direction`` is read after the decay (it must not be ``p``)."""
    decay_weights_(p, lr, weight_decay)
    add_scaled_(p, -lr, direction, tmp)


# --------------------------------------------------------------------------- work arrays
#: Requests larger than this many elements get fresh arrays instead of kept ones, so a
#: single huge parameter stepped in one piece does not pin its size in memory forever.
SCRATCH_LIMIT = 1 << 20

_local = threading.local()


def scratch(like: np.ndarray, count: int = 1) -> tuple[np.ndarray, ...]:
    """``count`` distinct uninitialised work arrays with ``like``'s shape and dtype.

    They are kept per thread and reused, so an ``update`` running on cache-sized chunks
    allocates nothing. Their contents are garbage and are overwritten by the next call on
    the same thread: call it once at the top of ``update`` and never hand the arrays out
    (do not store them in the state, do not call ``scratch`` again while using them).
    """
    n = like.size
    if n > SCRATCH_LIMIT:
        return tuple(np.empty(like.shape, like.dtype) for _ in range(count))
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    buffers = pool.get(like.dtype)
    if buffers is None or len(buffers) < count or buffers[0].size < n:
        size = max(n, buffers[0].size if buffers else 0)
        buffers = pool[like.dtype] = [
            np.empty(size, like.dtype) for _ in range(max(count, len(buffers or ())))
        ]
    return tuple(b[:n].reshape(like.shape) for b in buffers[:count])
