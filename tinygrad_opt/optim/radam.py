"""RAdam: Adam with the variance of the adaptive step rectified in early steps (torch semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_moments_,
    bias_correction,
    decay_weights_,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("radam")
@register("radamw", decoupled_weight_decay=True)
class RAdam(Optimizer):
    r"""RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond").

    As ``torch.optim.RAdam``. In the seed's notation (η learning rate, ρ1 and ρ2 decay
    rates, δ small constant, s and r the first and second moments):

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·g⊙g
        ŝ ← s / (1 - ρ1ᵗ)
        p∞ ← 2/(1 - ρ2) - 1;   pₜ ← p∞ - 2t·ρ2ᵗ/(1 - ρ2ᵗ)     (length of the approximated SMA)
        if pₜ > 5:
            ϱ ← √( (pₜ - 4)(pₜ - 2)·p∞ / ((p∞ - 4)(p∞ - 2)·pₜ) )   (variance rectification)
            θ ← θ - η·ϱ · ŝ · √(1 - ρ2ᵗ) / (√r + δ)
        else:
            θ ← θ - η·ŝ                                          (SGD with momentum)

    (p stands for the paper's ρ, which here already names the decay rates.) Weight decay:
    g gets λθ (coupled L2) by default; with ``decoupled_weight_decay=True`` (registered as
    ``"radamw"``) θ ← θ - η·λ·θ first instead, as in AdamW.

    Where torch differs from the paper: the paper's Algorithm 2 rectifies when pₜ > 4
    and has no δ; torch uses pₜ > 5 (the authors' code: pₜ ≥ 5), and adds δ to √r
    *before* the bias correction √(1 - ρ2ᵗ), i.e. the adaptive term is
    1/(√r̂ + δ/√(1 - ρ2ᵗ)), not Adam's 1/(√r̂ + δ). With ρ2 = 0.999 the first 5 steps
    are plain momentum steps.

    Arguments: lr=η (1e-3), betas=(ρ1, ρ2)=(0.9, 0.999), eps=δ (1e-8), weight_decay=λ (0),
    decoupled_weight_decay (False), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        decoupled_weight_decay=False,
        maximize=False,
    )

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        if group["decoupled_weight_decay"]:
            decay_weights_(p, lr, group["weight_decay"])
        else:
            g = with_weight_decay(g, p, group["weight_decay"])
        t = adam_moments_(state, g, beta1, beta2)
        s, r = state["exp_avg"], state["exp_avg_sq"]
        s_hat = s / bias_correction(beta1, t)
        bc2 = bias_correction(beta2, t)
        p_inf = 2.0 / (1.0 - beta2) - 1.0
        p_t = p_inf - 2.0 * t * beta2**t / bc2
        if p_t > 5.0:
            rect = math.sqrt(
                (p_t - 4.0) * (p_t - 2.0) * p_inf / ((p_inf - 4.0) * (p_inf - 2.0) * p_t)
            )
            denom = np.sqrt(r)
            denom += group["eps"]
            s_hat *= lr * math.sqrt(bc2) * rect
            s_hat /= denom
            p -= s_hat
        else:
            p -= lr * s_hat
