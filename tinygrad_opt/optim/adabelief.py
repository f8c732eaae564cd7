"""AdaBelief: Adam whose second moment tracks the gradient's deviation from its EMA (Optax)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_denominator,
    bias_correction,
    decoupled_step_,
    ema_,
    ema_square_,
    scratch,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("adabelief")
class AdaBelief(Optimizer):
    r"""AdaBelief (Zhuang et al. 2020), as Optax 0.2.8's ``adabelief``.

    "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients",
    NeurIPS 2020, arXiv:2010.07468, Algorithm 2. In the seed's notation (η lr, ρ1/ρ2 decay
    rates, δ/δ_root small constants, s/r the moment estimates, λ the decoupled weight
    decay):

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·(g - s)⊙(g - s) + δ_root       (δ_root is kept in r)
        ŝ ← s/(1 - ρ1ᵗ)       (nesterov: ρ1·s/(1 - ρ1ᵗ⁺¹) + (1 - ρ1)·g/(1 - ρ1ᵗ))
        θ ← θ - η·(ŝ / (√(r/(1 - ρ2ᵗ)) + δ) + λθ)

    r is the EMA of the squared *deviation* of g from its prediction s (the "belief"),
    not of g²: steps are large where gradients agree with their average, small where
    they do not. δ_root (Optax's ``eps_root``) is the paper's ε inside r; the paper uses
    one ε in both places. The nesterov form is Optax's. Weight decay, which Optax's
    ``adabelief`` does not have, is decoupled as in the authors' code's default
    (``weight_decouple=True``) and AdamW: θ ← θ - η·λθ, as Optax's
    ``chain(scale_by_belief(...), add_decayed_weights(λ), scale_by_learning_rate(η))``.

    Defaults: lr=η (1e-3), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-16), eps_root=δ_root
    (1e-16), weight_decay=λ (0), nesterov (False), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-16,
        eps_root=1e-16,
        weight_decay=0.0,
        nesterov=False,
        maximize=False,
    )
    elementwise = True

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_var": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        tmp, dev, num = scratch(p, 3)
        state["step"] += 1
        t = state["step"]
        s, r = state["exp_avg"], state["exp_avg_var"]
        ema_(s, g, beta1, tmp=tmp)  # s ← ρ1·s + (1 - ρ1)·g
        np.subtract(g, s, out=dev)
        ema_square_(r, dev, beta2, tmp=tmp)  # r ← ρ2·r + (1 - ρ2)·(g - s)²
        if group["eps_root"]:
            r += group["eps_root"]
        if group["nesterov"]:
            np.divide(s, bias_correction(beta1, t + 1), out=num)
            num *= beta1
            np.divide(g, bias_correction(beta1, t), out=tmp)
            tmp *= 1.0 - beta1
            num += tmp
        else:
            np.divide(s, bias_correction(beta1, t), out=num)
        num /= adam_denominator(r, t, beta2, eps, out=dev)
        decoupled_step_(p, lr, group["weight_decay"], num, tmp)
