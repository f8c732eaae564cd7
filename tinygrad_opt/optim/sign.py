"""SignSGD and Signum: steps of fixed size η per coordinate, in the direction of the sign of
the gradient (or of its moving average) (Optax semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import decay_weights_, ema_, scratch
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register


@register("signsgd")
class SignSGD(Optimizer):
    r"""signSGD (Bernstein et al. 2018), as Optax 0.2.8's ``sign_sgd``.

    "signSGD: Compressed Optimisation for Non-Convex Problems", ICML 2018,
    arXiv:1802.04434 (η the learning rate, λ an optional decoupled weight decay):

        θ ← θ - η·λ·θ                  (only if λ > 0)
        θ ← θ - η·sign(g)

    Every coordinate with a nonzero gradient moves by exactly η (sign(0) = 0). No state.
    Optax's ``sign_sgd`` is ``chain(scale_by_sign(), scale_by_learning_rate(η))`` and has
    no weight decay; with λ > 0 this is ``chain(scale_by_sign(), add_decayed_weights(λ),
    scale_by_learning_rate(η))``, the decay multiplied by η as in AdamW and Lion. The
    paper has no weight decay.

    Defaults: lr=η (1e-3; Optax has no default), weight_decay=λ (0), maximize (False).
    """

    hyperparameters = dict(lr=1e-3, weight_decay=0.0, maximize=False)
    elementwise = True

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr = group["lr"]
        (step,) = scratch(p)
        decay_weights_(p, lr, group["weight_decay"])
        np.sign(g, out=step)
        step *= lr
        p -= step


@register("signum")
class Signum(Optimizer):
    r"""Signum (Bernstein et al. 2018): signSGD with momentum, as Optax 0.2.8's ``signum``.

    "signSGD: Compressed Optimisation for Non-Convex Problems", ICML 2018,
    arXiv:1802.04434 (β the momentum, m the moving average of gradients, λ an optional
    decoupled weight decay):

        m ← β·m + (1 - β)·g
        θ ← θ - η·λ·θ                  (only if λ > 0)
        θ ← θ - η·sign(m)

    The average is not bias-corrected (its sign would not change). One state array (m).
    Optax's ``signum`` is ``chain(ema(β, debias=False), scale_by_sign(),
    scale_by_learning_rate(η))``; with λ > 0, ``add_decayed_weights(λ)`` comes before the
    learning rate (decay multiplied by η, as Lion). β = 0 is signSGD.

    Defaults: lr=η (1e-3; Optax has no default), momentum=β (0.9), weight_decay=λ (0),
    maximize (False).
    """

    hyperparameters = dict(lr=1e-3, momentum=0.9, weight_decay=0.0, maximize=False)
    elementwise = True

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp:
            check_range("momentum value", hp["momentum"], 0.0, 1.0, high_open=True)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"exp_avg": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, m = group["lr"], state["exp_avg"]
        (tmp,) = scratch(p)
        ema_(m, g, group["momentum"], tmp=tmp)
        decay_weights_(p, lr, group["weight_decay"])
        np.sign(m, out=tmp)
        tmp *= lr
        p -= tmp
