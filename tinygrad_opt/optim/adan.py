"""Adan: adaptive Nesterov momentum from gradient differences (Optax semantics)."""

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


@register("adan")
class Adan(Optimizer):
    r"""Adan (Xie et al. 2022), as Optax 0.2.8's ``adan``.

    "Adan: Adaptive Nesterov Momentum Algorithm for Faster Optimizing Deep Models", IEEE
    TPAMI 2024, arXiv:2208.06677, Algorithm 1. With β1, β2, β3 the decay rates of the
    gradient EMA m, the gradient-difference EMA v and the second moment n, Δ = g - g_prev
    (0 at the first step), ε/ε_root outside/inside the root, λ the decoupled weight decay:

        t ← t + 1
        m ← β1·m + (1 - β1)·g
        v ← β2·v + (1 - β2)·Δ
        n ← β3·n + (1 - β3)·(g + (1 - β2)·Δ)²
        θ ← θ - η·((m/(1 - β1ᵗ) + (1 - β2)·v/(1 - β2ᵗ)) / (√(n/(1 - β3ᵗ) + ε_root) + ε) + λθ)

    The betas are decay rates (the official code's and Optax's convention; the paper's
    β's are 1 minus these). Differences from the paper and the official code, all Optax's:
    the gradient difference is weighted by 1 - β2 (0.08 by default) in n and in the
    step, where the paper's Algorithm 1 and the official code weight it by β2 (0.92);
    the moments are bias-corrected (as the official code, not the paper); the weight decay
    is plain decoupled θ ← θ - η·λθ (multiplied by η, written here before the step; the
    same up to rounding) instead of the paper's proximal θ ← θ/(1 + η·λ); ε_root
    (default 1e-8) is added inside the root besides ε outside it. No restart condition.

    Defaults: lr=η (1e-3; Optax has none), betas=(β1, β2, β3) (0.98, 0.92, 0.99),
    eps=ε (1e-8), eps_root=ε_root (1e-8), weight_decay=λ (0), maximize (False). State:
    m, v, n and the previous gradient (four arrays per parameter).
    """

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.98, 0.92, 0.99),
        eps=1e-8,
        eps_root=1e-8,
        weight_decay=0.0,
        maximize=False,
    )
    elementwise = True

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {
            "step": 0,
            "exp_avg": np.zeros_like(p),
            "exp_avg_diff": np.zeros_like(p),
            "exp_avg_sq": np.zeros_like(p),
            "prev_grad": np.zeros_like(p),
        }

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2, beta3), eps = group["lr"], group["betas"], group["eps"]
        tmp, diff, num = scratch(p, 3)
        state["step"] += 1
        t = state["step"]
        m, v, n, prev = (
            state["exp_avg"],
            state["exp_avg_diff"],
            state["exp_avg_sq"],
            state["prev_grad"],
        )
        if t == 1:
            diff.fill(0.0)
        else:
            np.subtract(g, prev, out=diff)  # Δ ← g - g_prev
        ema_(m, g, beta1, tmp=tmp)  # m ← β1·m + (1 - β1)·g
        ema_(v, diff, beta2, tmp=tmp)  # v ← β2·v + (1 - β2)·Δ
        np.multiply(diff, 1.0 - beta2, out=num)
        num += g  # g + (1 - β2)·Δ
        ema_square_(n, num, beta3, tmp=tmp)  # n ← β3·n + (1 - β3)·(g + (1 - β2)·Δ)²
        np.copyto(prev, g)
        np.divide(m, bias_correction(beta1, t), out=num)
        np.divide(v, bias_correction(beta2, t), out=tmp)
        tmp *= 1.0 - beta2
        num += tmp  # m̂ + (1 - β2)·v̂
        num /= adam_denominator(n, t, beta3, eps, eps_root=group["eps_root"], out=diff)
        decoupled_step_(p, lr, group["weight_decay"], num, tmp)
