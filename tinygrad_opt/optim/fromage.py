"""Fromage: per-layer steps of relative size η, then a shrink that keeps norms from growing
(Optax semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import add_scaled_
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("fromage")
class Fromage(Optimizer):
    r"""Fromage (Bernstein et al. 2020), as Optax 0.2.8's ``fromage``.

    "On the distance between two neural networks and the stability of learning",
    NeurIPS 2020, arXiv:2002.03432, Algorithm 1 ("Frobenius matched gradient descent").
    Per parameter tensor (a "layer"), with η the learning rate and ε the minimum norm:

        ρ ← max(‖θ‖, ε) / max(‖g‖, ε)          (1 if either is 0: only when ε = 0)
        θ ← (θ - η·ρ·g) / √(1 + η²)

    Before the shrink every layer moves by exactly η·‖θ‖ (when both norms exceed ε):
    a relative step η, as LAMB's trust ratio gives; the division by √(1 + η²) undoes
    the growth of ‖θ‖ that a step orthogonal to θ would cause (then ‖θ‖ is unchanged).
    No state.

    The paper divides by the plain norms; the clipping at ε is Optax's. Optax writes the
    shrink as weight decay: ``chain(scale_by_trust_ratio(ε), scale_by_learning_rate(η·c),
    add_decayed_weights(c - 1))`` with c = 1/√(1 + η²), the same update.

    Defaults: lr=η (1e-2, the paper's recommendation; Optax has no default), min_norm=ε
    (1e-6), maximize (False). No weight decay (the shrink plays its part).
    """

    hyperparameters = dict(lr=1e-2, min_norm=1e-6, maximize=False)

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "min_norm" in hp:
            check_nonnegative("min_norm value", hp["min_norm"])

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, min_norm = group["lr"], group["min_norm"]
        p_norm = max(_norm(p), min_norm)
        g_norm = max(_norm(g), min_norm)
        ratio = p_norm / g_norm if p_norm and g_norm else 1.0
        add_scaled_(p, -lr * ratio, g)
        p /= math.sqrt(1.0 + lr * lr)


def _norm(x: np.ndarray) -> float:
    """Frobenius norm ‖x‖ of a tensor of any rank."""
    return math.sqrt(float(np.vdot(x, x)))
