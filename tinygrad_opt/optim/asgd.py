"""Averaged SGD: SGD with a decaying step, plus a running average of the iterates."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("asgd")
class ASGD(Optimizer):
    r"""Averaged stochastic gradient descent (Polyak & Juditsky 1992), as ``torch.optim.ASGD``.

    The parameters follow SGD with a decaying step ηₜ and a small multiplicative decay λ;
    the average θ̄ ("ax") of the iterates after step t₀ is the estimate the
    theory is about. With g including wd·θ when ``weight_decay`` (coupled L2), t ← t + 1:

        ηₜ = η / (1 + λ·η·(t - 1))^α,    μₜ = 1 / max(1, t - 1 - t₀)     (η₁ = η, μ₁ = 1)
        θ ← θ·(1 - λ·ηₜ) - ηₜ·g
        θ̄ ← θ̄ + μₜ·(θ - θ̄)               (a plain copy θ̄ ← θ while μₜ = 1, t ≤ t₀ + 2)

    so θ̄ is the running mean of the iterates from step t₀ + 2 on. The parameters keep
    the SGD iterate; read the average from ``optimizer.state[p]["ax"]`` (as in torch,
    nothing copies it into the model).

    Arguments: lr=η (1e-2), lambd=λ (1e-4), alpha=α (0.75), t0=t₀ (1e6),
    weight_decay=wd (0), maximize (False). The step-size schedule ηₜ ∝ t^(-α) with
    α ∈ (1/2, 1) is Polyak & Juditsky's condition for the average to be asymptotically
    optimal; the (1 + λ·η·t) form and the λθ decay follow Bottou's "SGD tricks" (2012).

    Differences from torch: ηₜ and μₜ are Python floats here; torch keeps them in 0-d
    tensors of its default dtype (float32 unless changed), so with float64 parameters our
    results match torch run under ``torch.set_default_dtype(torch.float64)`` to rounding,
    and differ by float32 rounding of ηₜ (relative ~1e-8) otherwise. We also require
    λ, α, t₀ ≥ 0 (torch checks only lr and weight_decay).
    """

    # in-place state arrays, elementwise arithmetic, scalar state from scalars only:
    # the base class may step this method in chunks, on threads, or over flat buffers
    elementwise = True

    hyperparameters = dict(
        lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0, maximize=False
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        for name in ("lambd", "alpha", "t0"):
            if name in hp:
                check_nonnegative(f"{name} value", hp[name])

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "eta": float(group["lr"]), "mu": 1.0, "ax": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, lambd = group["lr"], group["lambd"]
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        t, eta, mu, ax = state["step"], state["eta"], state["mu"], state["ax"]
        p *= 1.0 - lambd * eta
        p -= eta * g
        if mu != 1.0:
            ax += (p - ax) * mu
        else:
            np.copyto(ax, p)
        state["eta"] = lr / ((1.0 + lambd * lr * t) ** group["alpha"])
        state["mu"] = 1.0 / max(1.0, t - group["t0"])
