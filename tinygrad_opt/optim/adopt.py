"""ADOPT: Adam with the current gradient left out of its own normalisation (Optax semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import (
    add_scaled_,
    decay_weights_,
    ema_,
    ema_square_,
    scratch,
    with_weight_decay,
)
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("adopt")
class ADOPT(Optimizer):
    r"""ADOPT (Taniguchi et al. 2024), as Optax 0.2.8's ``contrib.adopt``.

    "ADOPT: Modified Adam Can Converge with Any β2 with the Optimal Rate", NeurIPS 2024,
    arXiv:2411.02853, Algorithm 1, with the clipped normalised gradient the paper proposes
    for stability. With ρ1, ρ2 the decay rates, δ the floor of the denominator, s/r the
    moment estimates, c the clipping exponent:

        t ← t + 1
        if t = 1:  r ← g⊙g                        (the first gradient only initialises r)
        else:
            u ← clip(g / max(√r, δ), -(t-1)^c, (t-1)^c)   (r from *before* this step)
            r ← ρ2·r + (1 - ρ2)·g⊙g
            s ← ρ1·s + (1 - ρ1)·u
            θ ← θ - η·s                   (nesterov: θ ← θ - η·(ρ1·s + (1 - ρ1)·u))

    Unlike Adam, g is normalised by the second moment of *earlier* gradients, which makes
    the update unbiased for any ρ2, and the momentum is taken after normalising. No bias
    correction. ``clip_exponent=None`` turns the clipping off (Optax's
    ``use_clipping=False``); Optax's ``clip_value_fn`` is fixed to x ↦ x^c here. The first
    step leaves θ alone (but for a decoupled weight decay).

    Weight decay, which Optax's ``adopt`` does not have, is the official implementation's:
    coupled L2 (g ← g + λθ before everything, so r is initialised from it too) by default,
    or decoupled θ ← θ - η·λθ (every step, the first included) with
    ``decoupled_weight_decay=True``.

    Defaults: lr=η (1e-3), betas=(ρ1, ρ2) (0.9, 0.9999), eps=δ (1e-6), weight_decay=λ (0),
    decoupled_weight_decay (False), clip_exponent=c (0.25), nesterov (False), maximize.
    """

    hyperparameters = dict(
        lr=1e-3,
        betas=(0.9, 0.9999),
        eps=1e-6,
        weight_decay=0.0,
        decoupled_weight_decay=False,
        clip_exponent=0.25,
        nesterov=False,
        maximize=False,
    )
    elementwise = True

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        c = hp.get("clip_exponent")
        if c is not None and not c >= 0.0:
            raise ValueError(f"Invalid clip_exponent value: {c} (expected >= 0, or None)")

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"step": 0, "exp_avg": np.zeros_like(p), "exp_avg_sq": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        work, tmp, u, nest = scratch(p, 4)
        if group["decoupled_weight_decay"]:
            decay_weights_(p, lr, group["weight_decay"])  # θ ← θ - η·λ·θ
        else:
            g = with_weight_decay(g, p, group["weight_decay"], out=work)  # g ← g + λθ
        state["step"] += 1
        t = state["step"]
        s, r = state["exp_avg"], state["exp_avg_sq"]
        if t == 1:
            np.multiply(g, g, out=r)  # r ← g⊙g
            return
        np.sqrt(r, out=u)
        np.maximum(u, eps, out=u)
        np.divide(g, u, out=u)  # u ← g / max(√r, δ), with the r of the previous step
        c = group["clip_exponent"]
        if c is not None:
            bound = float(t - 1) ** c
            np.clip(u, -bound, bound, out=u)
        ema_square_(r, g, beta2, tmp=tmp)  # r ← ρ2·r + (1 - ρ2)·g⊙g
        ema_(s, u, beta1, tmp=tmp)  # s ← ρ1·s + (1 - ρ1)·u
        direction = s
        if group["nesterov"]:
            np.copyto(nest, s)
            ema_(nest, u, beta1, tmp=tmp)  # ρ1·s + (1 - ρ1)·u, with the new s
            direction = nest
        add_scaled_(p, -lr, direction, tmp)
