"""Lion: the sign of an interpolated momentum, found by program search (Optax semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import decay_weights_, ema_
from tinygrad_opt.optim.optimizer import Optimizer, register


@register("lion")
class Lion(Optimizer):
    r"""Lion (Chen et al. 2023), as Optax's ``lion``.

    "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023, Program 1.

    With β1, β2 the interpolation and decay rates, m the momentum, λ the decoupled weight
    decay:

        c ← β1·m + (1 - β1)·g
        θ ← θ - η·(sign(c) + λ·θ)
        m ← β2·m + (1 - β2)·g

    Every coordinate moves by exactly η (plus the decay; 0 where c = 0), so η should be
    3-10x smaller than AdamW's and λ correspondingly larger. One state array (m), half of
    Adam's. The decay is multiplied by η, as in the paper's Program 1, Optax and AdamW.
    Optax is ``chain(scale_by_lion(b1, b2), add_decayed_weights(λ), scale(-η))``; this
    is the same arithmetic.

    Defaults: lr=η (1e-4), betas=(β1, β2) (0.9, 0.99), weight_decay=λ (0; Optax's default
    is 1e-3, the paper's examples use 1.0 with small η), maximize (False).
    """

    hyperparameters = dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"exp_avg": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, (beta1, beta2) = group["lr"], group["betas"]
        m = state["exp_avg"]
        c = m.copy()
        ema_(c, g, beta1)
        decay_weights_(p, lr, group["weight_decay"])
        p -= lr * np.sign(c)
        ema_(m, g, beta2)
