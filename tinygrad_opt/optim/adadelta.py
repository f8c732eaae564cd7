"""Adadelta: step sizes from the ratio of two running RMS values (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import ema_square_, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register


@register("adadelta")
class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012, Algorithm 1), as ``torch.optim.Adadelta``.

    In the seed's notation (η learning rate, ρ decay rate, δ small constant, r the moving
    average of the squared gradient, a that of the squared update Δ), with g including
    λθ when ``weight_decay`` (coupled L2):

        r ← ρ·r + (1 - ρ)·g⊙g
        Δ ← √(a + δ) / √(r + δ) ⊙ g            (RMS[Δ]ₜ₋₁ / RMS[g]ₜ · g)
        a ← ρ·a + (1 - ρ)·Δ⊙Δ
        θ ← θ - η·Δ

    Here δ sits *inside* both square roots, as in the paper (RMS[y] = √(E[y²] + ε)).
    Where torch differs from the paper: the paper has no learning rate (η = 1, torch's
    default) and uses ρ = 0.95; torch's η scales the applied step only, while a still
    accumulates the unscaled Δ, and its default ρ is 0.9.

    Arguments: lr=η (1.0), rho=ρ (0.9), eps=δ (1e-6), weight_decay=λ (0), maximize (False).
    """

    hyperparameters = dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "rho" in hp:
            check_range("rho value", hp["rho"], 0.0, 1.0)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "square_avg": np.zeros_like(p), "acc_delta": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        rho, eps = group["rho"], group["eps"]
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        r, a = state["square_avg"], state["acc_delta"]
        ema_square_(r, g, rho)
        # np.add with out=: arrays even for a 0-d parameter (r + eps would be a scalar)
        std = np.add(r, eps, out=np.empty_like(r))
        np.sqrt(std, out=std)
        delta = np.add(a, eps, out=np.empty_like(a))
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        ema_square_(a, delta, rho)
        p -= group["lr"] * delta
