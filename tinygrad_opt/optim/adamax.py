"""Adamax: Adam with the infinity norm in place of the second moment (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import bias_correction, ema_, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("adamax")
class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba 2015, §7.1), as ``torch.optim.Adamax``.

    In the seed's notation (η learning rate, ρ1 and ρ2 decay rates, δ small constant,
    s the first moment, u the exponentially weighted infinity norm), with g including
    λθ when ``weight_decay`` (coupled L2):

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        u ← max(ρ2·u, |g| + δ)
        θ ← θ - η/(1 - ρ1ᵗ) · s / u

    u needs no bias correction (§7.1). Where torch differs from the paper: δ is added to
    |g| *inside* the max (the paper has u ← max(ρ2·u, |g|) and no δ at all), which keeps
    u > 0 when gradients are exactly zero.

    Arguments: lr=η (2e-3), betas=(ρ1, ρ2)=(0.9, 0.999), eps=δ (1e-8), weight_decay=λ (0),
    maximize (False).
    """

    hyperparameters = dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_inf": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        (beta1, beta2), eps = group["betas"], group["eps"]
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        s, u = state["exp_avg"], state["exp_inf"]
        ema_(s, g, beta1)
        u *= beta2
        abs_g = np.abs(g)
        abs_g += eps
        np.maximum(u, abs_g, out=u)
        p -= (group["lr"] / bias_correction(beta1, state["step"])) * s / u
