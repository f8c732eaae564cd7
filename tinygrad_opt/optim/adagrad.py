"""Adagrad: per-coordinate step sizes from the accumulated squared gradient (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("adagrad")
class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``.

    In the seed's notation (η learning rate, δ small constant, r the accumulated squared
    gradient), with g including λθ when ``weight_decay`` (coupled L2):

        t ← t + 1
        η̃ ← η / (1 + (t - 1)·κ)                  (κ = lr_decay)
        r ← r + g⊙g                               (r starts at r₀ = initial_accumulator_value)
        θ ← θ - η̃ · g / (√r + δ)

    This is Goodfellow et al. Alg. 8.4 (δ outside the square root, as there), plus torch's
    two extras: the 1/(1 + (t-1)κ) learning-rate decay and a nonzero starting value r₀
    for the accumulator. Duchi et al. write the same diagonal update as
    θ ← θ - η·(δI + diag(Gₜ)^½)⁻¹ g.

    Arguments: lr=η (1e-2), lr_decay=κ (0), weight_decay=λ (0),
    initial_accumulator_value=r₀ (0), eps=δ (1e-10), maximize (False).

    One difference from torch: torch fills every accumulator with the *constructor's*
    ``initial_accumulator_value`` and ignores a per-group value; here each parameter
    group's own value is used (they coincide unless a group overrides it).
    """

    hyperparameters = dict(
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "lr_decay" in hp:
            check_nonnegative("lr_decay value", hp["lr_decay"])
        if "initial_accumulator_value" in hp:
            check_nonnegative("initial_accumulator_value value", hp["initial_accumulator_value"])

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(p, group["initial_accumulator_value"])}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        lr_t = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        r = state["sum"]
        r += g * g
        denom = np.sqrt(r)
        denom += group["eps"]
        p -= lr_t * g / denom
