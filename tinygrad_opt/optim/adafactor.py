"""Adafactor: Adam-like steps with a factored (row x column) second moment (torch semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import decay_weights_, ema_
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("adafactor")
class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern 2018), as ``torch.optim.Adafactor`` (not the paper's).

    For a parameter of shape (..., n, m) the second moment is stored as a row factor R
    of shape (..., n, 1) and a column factor C of shape (..., 1, m), O(n + m) memory
    instead of O(n·m); vectors (and scalars) keep a full V. With t ← t + 1:

        β̂₂ₜ = 1 - t^τ                     (τ = beta2_decay; so 1 - β̂₂ₜ = t^τ, 1 at t = 1)
        ρₜ = min(η, 1/√t)
        αₜ = max(ε₂, RMS(θ)) · ρₜ          (RMS(x) = ‖x‖₂ / √numel; θ before the decay)
        θ ← θ - η·λ·θ                     (decoupled weight decay, as AdamW)
        R ← β̂₂ₜ·R + (1 - β̂₂ₜ)·mean(g⊙g, over the last axis)       (≥ 2-D)
        C ← β̂₂ₜ·C + (1 - β̂₂ₜ)·mean(g⊙g, over the second-to-last axis)
        V̂ ← R·C / max(mean(R), ε₁)                                  (outer product)
        V̂ ← β̂₂ₜ·V̂ + (1 - β̂₂ₜ)·g⊙g                                   (vectors)
        U ← g / √max(V̂, ε₁²)
        θ ← θ - αₜ · U / max(1, RMS(U)/d)

    Arguments: lr=η (1e-2), beta2_decay=τ (-0.8), eps=(ε₁, ε₂) ((None, 1e-3); ε₁=None
    means the machine epsilon of the parameter's dtype), d (1.0, the update-clipping
    threshold), weight_decay=λ (0), foreach (accepted for torch compatibility; ignored),
    maximize (False). There is no first moment (the paper's β₁ = 0 setting).

    How torch's Adafactor (and so this one) differs from the paper's Algorithms 4-6 and
    from Optax / T5 / Hugging Face implementations:

    * **lr caps the relative step**: the paper has no learning rate; its step size is
      ρₜ = min(10⁻², 1/√t) times max(ε₂, RMS(θ)). torch replaces the constant 10⁻² by lr,
      so lr=1e-2 reproduces the paper's schedule and a smaller lr scales the early steps
      down. There is no "relative_step=False" mode with an absolute lr (Hugging Face) and
      no warm-up-init variant.
    * **ε₁ placement**: the paper (and Optax/T5) add ε₁ = 1e-30 to g⊙g *before* the row
      and column averages. torch leaves R and C as exact averages of g⊙g and instead
      clamps the normaliser mean(R) below by ε₁ and V̂ below by ε₁² (so √V̂ ≥ ε₁), with
      ε₁ defaulting to the dtype's epsilon (2.2e-16 in float64), not 1e-30.
    * **means, not sums**: R and C hold row/column *means* of g⊙g; the paper writes
      sums. V̂ = R·C / mean(R) is the same estimate either way.
    * **weight decay**: the paper has none; torch applies decoupled decay θ ← θ(1 - ηλ)
      with the lr as coefficient (not αₜ).
    * **no momentum**: the paper's optional first moment (β₁ > 0; Optax's ``momentum``)
      is not offered. β̂₂ₜ = 1 - t^τ is the paper's schedule (τ = -0.8, Optax's
      ``decay_rate``).
    * **factoring rule**: every parameter with ≥ 2 dims is factored over its last two
      axes, however small; Optax factors only when both dims are ≥ 128
      (``min_dim_size_to_factor``) and picks the two largest axes.

    Differences from torch: ε₁=None resolves to each parameter's own dtype's epsilon
    (torch resolves it once, from the first parameter of the group: this matters only for
    groups mixing float32 and float64). With ε₁ = 0, where V̂ is 0 (a row or column whose
    gradients have all been 0, so g is 0 there too) the step is 0; torch computes 0/0 and
    writes NaN into the parameter. A parameter with no elements (size 0) is left alone
    (its step count still advances); torch raises ZeroDivisionError computing its RMS.
    """

    hyperparameters = dict(
        lr=1e-2,
        beta2_decay=-0.8,
        eps=(None, 1e-3),
        d=1.0,
        weight_decay=0.0,
        foreach=None,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate({k: v for k, v in hp.items() if k != "eps"})
        if "beta2_decay" in hp:
            tau = hp["beta2_decay"]
            if not _is_number(tau) or not tau <= 0.0:
                raise ValueError(f"Invalid beta2_decay value: {tau} (must be <= 0)")
        if "eps" in hp:
            try:
                eps1, eps2 = hp["eps"]
            except (TypeError, ValueError):
                raise ValueError(f"Invalid eps: {hp['eps']} (expected (eps1, eps2))") from None
            if eps1 is not None:
                check_nonnegative("epsilon1 value", eps1)
            check_nonnegative("epsilon2 value", eps2)
        if "d" in hp:
            d = hp["d"]
            if not _is_number(d) or not d >= 1.0:
                raise ValueError(f"Invalid clipping threshold d: {d} (must be >= 1)")

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        if p.ndim > 1:
            return {
                "step": 0,
                "row_var": np.zeros(p.shape[:-1] + (1,), dtype=p.dtype),
                "col_var": np.zeros(p.shape[:-2] + (1, p.shape[-1]), dtype=p.dtype),
            }
        return {"step": 0, "variance": np.zeros_like(p)}

    def state_shape_ok(self, name: str, shape: tuple[int, ...], param_shape: tuple) -> bool:
        if len(param_shape) > 1 and name == "row_var":
            return shape == param_shape[:-1] + (1,)
        if len(param_shape) > 1 and name == "col_var":
            return shape == param_shape[:-2] + (1, param_shape[-1])
        return shape == param_shape

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, tau, d = group["lr"], group["beta2_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype).eps)
        state["step"] += 1
        if p.size == 0:
            return  # nothing to update (torch divides by the size 0 and raises)
        t = float(state["step"])
        beta2 = 1.0 - t**tau  # β̂₂ₜ; the moving averages below weight g⊙g by t^τ
        rho = min(lr, 1.0 / math.sqrt(t))
        alpha = max(eps2, _rms(p)) * rho
        decay_weights_(p, lr, group["weight_decay"])
        if p.ndim > 1:
            row, col = state["row_var"], state["col_var"]
            ema_(row, _mean_square(g, axis=-1), beta2)
            ema_(col, _mean_square(g, axis=-2), beta2)
            v = np.matmul(row, col)  # (..., n, 1) @ (..., 1, m): the rank-1 estimate
            norm = np.maximum(row.mean(axis=-2, keepdims=True), eps1)
            np.divide(v, norm, out=v, where=norm != 0)  # norm = 0 (ε₁ = 0) only if R = 0
        else:
            ema_(state["variance"], g * g, beta2)
            v = state["variance"].copy()
        np.maximum(v, eps1 * eps1, out=v)
        np.sqrt(v, out=v)
        u = np.divide(g, v, out=v, where=v != 0)  # U = g / √V̂, over the scratch V̂ (0 stays 0)
        u *= alpha / max(1.0, _rms(u) / d)
        p -= u


def _rms(x: np.ndarray) -> float:
    """Root mean square ‖x‖₂ / √numel."""
    return math.sqrt(float(np.vdot(x, x))) / math.sqrt(x.size)


def _mean_square(g: np.ndarray, axis: int) -> np.ndarray:
    """mean(g⊙g) along ``axis``, keeping the axis, without materialising g⊙g."""
    sub = "...ij,...ij->...j" if axis == -2 else "...ij,...ij->...i"
    out = np.einsum(sub, g, g)
    out /= g.shape[axis]
    return np.expand_dims(out, axis)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
