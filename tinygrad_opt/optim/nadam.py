"""NAdam: Adam with Nesterov momentum and a momentum warm-up schedule (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_moments_,
    bias_correction,
    decay_weights_,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("nadam")
@register("nadamw", decoupled_weight_decay=True)
class NAdam(Optimizer):
    r"""NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), as ``torch.optim.NAdam``.

    In the seed's notation (η learning rate, ρ1 and ρ2 decay rates, δ small constant, s and
    r the first and second moments), ψ = momentum_decay and Π the running product of the
    momentum schedule (Π₀ = 1):

        t ← t + 1
        μₜ ← ρ1·(1 - ½·0.96^(t·ψ));   μₜ₊₁ ← ρ1·(1 - ½·0.96^((t+1)·ψ))
        Π ← Π·μₜ
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·g⊙g
        d ← √(r / (1 - ρ2ᵗ)) + δ
        θ ← θ - η·(1 - μₜ)/(1 - Π) · g/d - η·μₜ₊₁/(1 - Π·μₜ₊₁) · s/d

    The last line is Nesterov's look-ahead: the current gradient, bias-corrected with the
    product of the schedule up to t, plus the momentum bias-corrected up to t + 1. With
    ψ = 0.004 the schedule is Dozat's μₜ = ρ1(1 - ½·0.96^(t/250)). Weight decay: g gets
    λθ (coupled L2) by default; with ``decoupled_weight_decay=True`` (registered as
    ``"nadamw"``) θ ← θ - η·λ·θ first instead, as in AdamW.

    Arguments: lr=η (2e-3), betas=(ρ1, ρ2)=(0.9, 0.999), eps=δ (1e-8), weight_decay=λ (0),
    momentum_decay=ψ (4e-3), decoupled_weight_decay (False), maximize (False).

    Torch keeps Π in a 0-d tensor of torch's default dtype (float32 unless
    ``torch.set_default_dtype(torch.float64)``); here it is a Python float (float64). The
    two agree to ~1e-7 relative in float32 runs and exactly in float64 ones.
    """

    hyperparameters = dict(
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum_decay" in hp:
            check_nonnegative("momentum_decay value", hp["momentum_decay"])

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {
            "step": 0,
            "mu_product": 1.0,
            "exp_avg": np.zeros_like(p),
            "exp_avg_sq": np.zeros_like(p),
        }

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), psi = group["lr"], group["betas"], group["momentum_decay"]
        if group["decoupled_weight_decay"]:
            decay_weights_(p, lr, group["weight_decay"])
        else:
            g = with_weight_decay(g, p, group["weight_decay"])
        t = adam_moments_(state, g, beta1, beta2)  # t, s and r
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        s, r = state["exp_avg"], state["exp_avg_sq"]
        # np.divide with out=: an array even for a 0-d parameter (r / c would be a scalar)
        denom = np.divide(r, bias_correction(beta2, t), out=np.empty_like(r))
        np.sqrt(denom, out=denom)
        denom += group["eps"]
        p -= (lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
        p -= (lr * mu_next / (1.0 - mu_product * mu_next)) * s / denom
