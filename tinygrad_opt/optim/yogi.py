"""Yogi: Adam whose second moment moves additively, by the sign of its error (Optax)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_denominator,
    add_scaled_,
    bias_correction,
    ema_,
    scratch,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("yogi")
class Yogi(Optimizer):
    r"""Yogi (Zaheer et al. 2018), as Optax 0.2.8's ``yogi``.

    "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018, Algorithm 2. In the seed's
    notation (η lr, ρ1/ρ2 decay rates, δ small constant, s/r the moment estimates, both
    starting at r0), with g including λθ when ``weight_decay`` (coupled L2):

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← r - (1 - ρ2)·sign(r - g⊙g)·g⊙g
        θ ← θ - η·(s/(1 - ρ1ᵗ)) / (√(r/(1 - ρ2ᵗ)) + δ)

    Adam's r ← r + (1 - ρ2)·(g⊙g - r) moves by the *size* of r's error; Yogi's by its
    sign only, so r grows fast when gradients grow but shrinks slowly. As Optax: both
    moments start at ``initial_accumulator_value`` and both are divided by Adam's bias
    corrections (the paper's Algorithm 2 is written without them). Weight decay, which
    Optax's ``yogi`` does not have, is coupled L2 (as ``chain(add_decayed_weights(λ),
    yogi(η))``).

    Defaults (the paper's): lr=η (1e-2), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-3),
    initial_accumulator_value=r0 (1e-6), weight_decay=λ (0), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-2,
        betas=(0.9, 0.999),
        eps=1e-3,
        initial_accumulator_value=1e-6,
        weight_decay=0.0,
        maximize=False,
    )
    elementwise = True

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        v = hp.get("initial_accumulator_value")
        if v is not None and not v >= 0.0:
            raise ValueError(f"Invalid initial_accumulator_value: {v}")

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        r0 = group["initial_accumulator_value"]
        return {"step": 0, "exp_avg": np.full_like(p, r0), "exp_avg_sq": np.full_like(p, r0)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        work, tmp, g2 = scratch(p, 3)
        g = with_weight_decay(g, p, group["weight_decay"], out=work)  # g ← g + λθ
        state["step"] += 1
        t = state["step"]
        s, r = state["exp_avg"], state["exp_avg_sq"]
        ema_(s, g, beta1, tmp=tmp)  # s ← ρ1·s + (1 - ρ1)·g
        np.multiply(g, g, out=g2)
        np.subtract(r, g2, out=tmp)
        np.sign(tmp, out=tmp)
        tmp *= g2
        tmp *= 1.0 - beta2
        r -= tmp  # r ← r - (1 - ρ2)·sign(r - g⊙g)·g⊙g
        den = adam_denominator(r, t, beta2, eps, out=g2)
        np.divide(s, bias_correction(beta1, t), out=tmp)
        tmp /= den
        add_scaled_(p, -lr, tmp, g2)
