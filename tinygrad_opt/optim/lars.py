"""LARS: layer-wise adaptive rate scaling for SGD with momentum (Optax semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import trust_ratio, velocity_, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, check_range, register


@register("lars")
class LARS(Optimizer):
    r"""LARS (You, Gitman & Ginsburg 2017), as Optax's ``lars``.

    "Large Batch Training of Convolutional Networks", arXiv:1708.03888.

    Per parameter tensor (a "layer"), with γ the global learning rate, η the trust
    coefficient, β the weight decay, μ the momentum, ε the trust-ratio eps:

        u ← g + β·θ
        λ ← η·‖θ‖ / (‖u‖ + ε)            (1 instead if ‖θ‖ = 0 or ‖u‖ = 0)
        v ← μ·v - γ·λ·u                  (the learning rate is inside the velocity)
        θ ← θ + v                        or, with ``nesterov``, θ ← θ - γ·λ·u + μ·v

    This is Optax's ``chain(add_decayed_weights(β), scale_by_trust_ratio(η, eps=ε),
    scale(-γ), trace(μ, nesterov))``. Two points to know:

    * The paper's Algorithm 1 takes λ = η·‖θ‖/(‖g‖ + β‖θ‖); Optax (and so this class)
      uses the norm of the decayed update, ‖g + β·θ‖, instead. They agree when β = 0.
    * The velocity holds *steps* (γ inside, as in the paper and Goodfellow et al.'s
      Alg. 8.2, see ``TextbookMomentum``), so a change of γ mid-run affects only new
      steps; torch's SGD momentum would rescale the whole buffer.

    Since λ ≈ η·‖θ‖/‖u‖, a step without momentum moves each layer by γ·η·‖θ‖: with the
    default η = 0.001, γ of order 1 is usual (the paper warms it up and decays it).

    Defaults: lr=γ (1.0), momentum=μ (0.9, in [0, 1)), weight_decay=β (0),
    trust_coefficient=η (0.001), eps=ε (0), nesterov (False), maximize (False).
    """

    hyperparameters = dict(
        lr=1.0,
        momentum=0.9,
        weight_decay=0.0,
        trust_coefficient=0.001,
        eps=0.0,
        nesterov=False,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp:
            check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)
        if "trust_coefficient" in hp:
            check_nonnegative("trust_coefficient value", hp["trust_coefficient"])

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"momentum_buffer": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        u = with_weight_decay(g, p, group["weight_decay"])
        ratio = trust_ratio(p, u, group["eps"], group["trust_coefficient"])
        step = velocity_(
            state["momentum_buffer"],
            -(group["lr"] * ratio) * u,
            group["momentum"],
            group["nesterov"],
        )
        p += step
