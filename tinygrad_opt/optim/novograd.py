"""NovoGrad: momentum on gradients normalised per layer by a scalar second moment (Optax
semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import add_scaled_, velocity_, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("novograd")
class NovoGrad(Optimizer):
    r"""NovoGrad (Ginsburg et al. 2019), as Optax 0.2.8's ``novograd``.

    "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of Deep
    Networks", arXiv:1905.11286, Algorithm 1. Per parameter tensor (a "layer"), with
    β1, β2 the decay rates, v a *scalar* second moment, m the first moment, d the weight
    decay, δ and δ_root small constants outside and inside the root:

        t ← t + 1
        v ← ‖g‖²                              (t = 1)
        v ← β2·v + (1 - β2)·‖g‖²               (t > 1)
        u ← g / (√(v + δ_root) + δ) + d·θ
        m ← β1·m + u                          (m = u at t = 1; no (1 - β1) factor)
        θ ← θ - η·m

    The second moment is one number per tensor, so the state is one array (m) plus a
    scalar: half of Adam's. The weight decay is added to the normalised gradient, inside
    the momentum (neither AdamW's decoupled decay nor L2 on g). There is no bias
    correction: v starts at ‖g₁‖² instead. This is the paper's algorithm and Optax's
    ``chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
    scale_by_learning_rate(η))``, the same operations. Where the denominator is 0
    (v = 0 and δ = δ_root = 0, so g = 0) u is taken as d·θ; Optax would give NaN. v is
    kept as a Python float (Optax: in the parameter's dtype).

    Defaults: lr=η (1e-3; Optax has no default), betas=(β1, β2) ((0.9, 0.25), Optax's;
    the paper's experiments use (0.95, 0.98)), eps=δ (1e-6), eps_root=δ_root (0),
    weight_decay=d (0), maximize (False).
    """

    hyperparameters = dict(
        lr=1e-3, betas=(0.9, 0.25), eps=1e-6, eps_root=0.0, weight_decay=0.0, maximize=False
    )

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": 0.0}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        beta1, beta2 = group["betas"]
        state["step"] += 1
        square_norm = float(np.vdot(g, g))  # ‖g‖², the layer's one second-moment sample
        if state["step"] == 1:
            v = square_norm
        else:  # the scalar form of ema_square_
            v = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * square_norm
        state["exp_avg_sq"] = v
        denom = math.sqrt(v + group["eps_root"]) + group["eps"]
        u = g / denom if denom else np.zeros_like(g)
        u = with_weight_decay(u, p, group["weight_decay"])
        m = velocity_(state["exp_avg"], u, beta1)  # m ← β1·m + u
        add_scaled_(p, -group["lr"], m)
