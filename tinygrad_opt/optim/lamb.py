"""LAMB: Adam's direction, rescaled per layer by a trust ratio (Optax semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_moments_,
    bias_correction,
    safe_divide,
    trust_ratio,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("lamb")
class LAMB(Optimizer):
    r"""LAMB (You et al. 2020), as Optax's ``lamb``.

    "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020.

    Per parameter tensor (a "layer"), in the seed's notation (ρ1, ρ2 decay rates, δ small
    constant, s and r the moment estimates) with λ the weight decay:

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·g⊙g
        u ← (s / (1 - ρ1ᵗ)) / (√(r / (1 - ρ2ᵗ)) + δ)      (Adam's direction)
        u ← u + λ·θ                                        (decoupled weight decay)
        θ ← θ - η · ‖θ‖/‖u‖ · u                            (1 instead of the ratio if
                                                             either norm is 0)

    so every layer moves by exactly η·‖θ‖ (relative step η). This is Algorithm 2 of the
    paper with φ(z) = z, and Optax's ``chain(scale_by_adam(b1, b2, eps, eps_root=0),
    add_decayed_weights(λ), scale_by_trust_ratio(), scale(-η))``: δ is added outside the
    root, after bias correction. Where r = 0 and δ = 0 the Adam direction is taken as 0
    (Optax would give NaN).

    Defaults: lr=η (1e-3), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-6), weight_decay=λ (0),
    maximize (False).
    """

    hyperparameters = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        beta1, beta2 = group["betas"]
        t = adam_moments_(state, g, beta1, beta2)
        s, r = state["exp_avg"], state["exp_avg_sq"]
        denom = np.sqrt(r / bias_correction(beta2, t))
        denom += group["eps"]
        u = safe_divide(s / bias_correction(beta1, t), denom)
        u = with_weight_decay(u, p, group["weight_decay"])
        scale = group["lr"] * trust_ratio(p, u)
        if scale:  # 0 for lr = 0, or an overflowed direction (ratio ‖θ‖/∞): no 0·∞ = NaN
            p -= scale * u
