"""AdEMAMix: Adam with a second, much slower momentum mixed into the numerator (Optax)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_denominator,
    adam_moments_,
    bias_correction,
    decoupled_step_,
    ema_,
    scratch,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


def ademamix_schedules(t: int, alpha: float, beta1: float, beta3: float, period: float | None):
    """The paper's warm-ups of α and β3 at step t (1-based), over ``period`` steps T:

        α_t  = min(t·α / T, α)
        β3_t = min(exp(ln β1 · ln β3 / ((1 - t/T)·ln β3 + (t/T)·ln β1)), β3)

    (β3_t goes from β1 to β3 so that the slow EMA's half-life grows linearly.) Without a
    period, (α, β3) themselves.
    """
    if period is None:
        return alpha, beta3
    frac = t / period
    alpha_t = min(t * alpha / period, alpha)
    log1, log3 = math.log(beta1), math.log(beta3)
    beta3_t = min(math.exp(log1 * log3 / ((1.0 - frac) * log3 + frac * log1)), beta3)
    return alpha_t, beta3_t


@register("ademamix")
class AdEMAMix(Optimizer):
    r"""AdEMAMix (Pagliardini et al. 2024), as Optax 0.2.8's ``contrib.ademamix``.

    "The AdEMAMix Optimizer: Better, Faster, Older", arXiv:2409.03137 (ICLR 2025),
    Algorithm 1. With β1, β2, β3 the decay rates of the fast EMA m1, the second moment ν
    and the slow EMA m2, α the mixing weight, ε/ε_root the constants outside/inside the
    root, λ the decoupled weight decay:

        t ← t + 1
        α_t, β3_t ← schedules(t)                 (α, β3 when t_alpha_beta3 is None)
        m1 ← β1·m1 + (1 - β1)·g
        ν  ← β2·ν  + (1 - β2)·g⊙g
        m2 ← β3_t·m2 + (1 - β3_t)·g
        θ ← θ - η·((m1/(1 - β1ᵗ) + α_t·m2) / (√(ν/(1 - β2ᵗ) + ε_root) + ε) + λ·θ)

    m2 is not bias-corrected (it is meant to fill slowly). The schedules are the paper's
    linear warm-up of α and its β3 warm-up from β1 (:func:`ademamix_schedules`), over
    ``t_alpha_beta3`` steps, evaluated at the 1-based step t as the paper's and the
    official code. Optax takes α and β3 as arbitrary schedules and calls them with the
    number of steps taken *before* this one, so Optax's ``alpha=lambda n: f(n + 1)``
    is ours. Decoupled weight decay multiplied by η, as Optax's ``add_decayed_weights``
    before the learning rate (written here as θ ← θ - η·λθ first; the same up to rounding).

    Defaults: lr=η (1e-3), betas=(β1, β2, β3) (0.9, 0.999, 0.9999), alpha (5.0, Optax's
    ``ademamix``; its ``scale_by_ademamix`` says 6.0, the paper uses 5 to 8), eps=ε (1e-8),
    eps_root=ε_root (0), weight_decay=λ (0), t_alpha_beta3=T (None), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.9, 0.999, 0.9999),
        alpha=5.0,
        eps=1e-8,
        eps_root=0.0,
        weight_decay=0.0,
        t_alpha_beta3=None,
        maximize=False,
    )
    elementwise = True

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "alpha" in hp and not hp["alpha"] >= 0.0:
            raise ValueError(f"Invalid alpha value: {hp['alpha']}")
        period = hp.get("t_alpha_beta3")
        if period is not None:
            if isinstance(period, bool) or not isinstance(period, (int, float)) or not period > 0:
                raise ValueError(f"Invalid t_alpha_beta3 value: {period} (steps > 0, or None)")
            betas = hp.get("betas", self.hyperparameters["betas"])
            if not (betas[0] > 0.0 and betas[2] > 0.0):
                raise ValueError(
                    f"Invalid betas: {tuple(betas)} (the beta3 schedule needs beta1 and beta3 > 0)"
                )

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {
            "step": 0,
            "exp_avg": np.zeros_like(p),
            "exp_avg_sq": np.zeros_like(p),
            "exp_avg_slow": np.zeros_like(p),
        }

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2, beta3), eps = group["lr"], group["betas"], group["eps"]
        tmp, num, den = scratch(p, 3)
        t = adam_moments_(state, g, beta1, beta2, tmp=tmp)  # t, m1, ν
        alpha_t, beta3_t = ademamix_schedules(
            t, group["alpha"], beta1, beta3, group["t_alpha_beta3"]
        )
        m2 = state["exp_avg_slow"]
        ema_(m2, g, beta3_t, tmp=tmp)  # m2 ← β3_t·m2 + (1 - β3_t)·g
        np.divide(state["exp_avg"], bias_correction(beta1, t), out=num)
        np.multiply(m2, alpha_t, out=tmp)
        num += tmp  # m1/(1 - β1ᵗ) + α_t·m2
        adam_denominator(state["exp_avg_sq"], t, beta2, eps, eps_root=group["eps_root"], out=den)
        num /= den
        decoupled_step_(p, lr, group["weight_decay"], num, tmp)
