"""Adam and its decoupled-weight-decay variant AdamW (torch semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_moments_,
    bias_correction,
    decay_weights_,
    scratch,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("adam")
@register("amsgrad", amsgrad=True)
class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015), optionally AMSGrad (Reddi et al. 2018), as ``torch.optim.Adam``.

    In the seed's notation (ρ1, ρ2 decay rates, δ small constant, s and r the first and
    second moment estimates), with g including λθ when ``weight_decay`` (coupled L2):

        t ← t + 1
        s ← ρ1·s + (1 - ρ1)·g
        r ← ρ2·r + (1 - ρ2)·g⊙g
        r̂max ← max(r̂max, r)                     (AMSGrad: the max of the *uncorrected* r)
        θ ← θ - η/(1 - ρ1ᵗ) · s / (√r / √(1 - ρ2ᵗ) + δ)

    δ is added *outside* the square root, after bias-correcting r (torch's order).
    With ``decoupled_weight_decay=True`` the decay is AdamW's instead, θ ← θ - η·λ·θ
    before the step, and g is left alone (as torch 2.13's ``Adam(...,
    decoupled_weight_decay=True)``, which is ``AdamW``).
    Arguments: lr=η (1e-3), betas=(ρ1, ρ2)=(0.9, 0.999), eps=δ (1e-8), weight_decay=λ (0),
    amsgrad (False), maximize (False), decoupled_weight_decay (False).
    """

    #: Used by groups without a ``decoupled_weight_decay`` entry (AdamW's groups).
    decoupled_weight_decay = False
    elementwise = True  # see Optimizer: so it can be chunked, threaded, flat

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        maximize=False,
        decoupled_weight_decay=False,
    )

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        return state

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        work, tmp, denom = scratch(p, 3)
        if group.get("decoupled_weight_decay", self.decoupled_weight_decay):
            decay_weights_(p, lr, group["weight_decay"])  # θ ← θ - η·λ·θ
        else:
            g = with_weight_decay(g, p, group["weight_decay"], out=work)  # g ← g + λθ
        t = adam_moments_(state, g, beta1, beta2, tmp=tmp)  # t, s and r
        s, r = state["exp_avg"], state["exp_avg_sq"]
        if group["amsgrad"]:
            r = np.maximum(state["max_exp_avg_sq"], r, out=state["max_exp_avg_sq"])
        # θ ← θ - η/(1 - ρ1ᵗ) · s / (√r / c + δ) with c = √(1 - ρ2ᵗ), computed as
        # θ ← θ - (η·c/(1 - ρ1ᵗ)) · s / (√r + δ·c): the same number up to rounding, and
        # one pass over memory fewer (no division of √r by c).
        c = math.sqrt(bias_correction(beta2, t))
        np.sqrt(r, out=denom)
        denom += eps * c
        np.divide(s, denom, out=tmp)
        tmp *= -lr * c / bias_correction(beta1, t)
        p += tmp


@register("adamw")
class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    Before the Adam step, θ ← θ - η·λ·θ (the decay is multiplied by the learning rate, as
    torch does; the paper's schedule multiplier is the lr schedule). The gradient itself
    is not changed. Defaults as Adam but weight_decay=1e-2. The same as
    ``Adam(..., decoupled_weight_decay=True)``. Unlike torch's, our AdamW groups hold no
    ``decoupled_weight_decay`` entry (like torch's constructor, ours takes no such
    argument); a group given one, e.g. by ``load_state_dict``, follows it.
    """

    decoupled_weight_decay = True
    hyperparameters = {
        **{k: v for k, v in Adam.hyperparameters.items() if k != "decoupled_weight_decay"},
        "weight_decay": 1e-2,
    }
