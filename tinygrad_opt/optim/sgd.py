"""Stochastic gradient descent, with heavy-ball or Nesterov momentum (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import add_scaled_, scratch, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_nonnegative, register


@register("sgd")
@register("momentum", momentum=0.9)
@register("nesterov", momentum=0.9, nesterov=True)
class SGD(Optimizer):
    r"""SGD with optional momentum, as in ``torch.optim.SGD``.

    With gradient g (plus λθ if ``weight_decay``), momentum μ, dampening τ:

        b ← g                          on the first step
        b ← μ·b + (1 - τ)·g            afterwards
        d ← g + μ·b  (nesterov)   or   d ← b
        θ ← θ - η·d

    Without momentum, θ ← θ - η·g. State: ``momentum_buffer`` b (allocated as zeros when
    the state is made, only if momentum ≠ 0) and ``step``, the number of momentum updates
    (the first one copies g into b). Note the velocity b holds *gradients*, not steps: the
    textbook form (Goodfellow et al. Alg. 8.2, v ← αv - εg; θ ← θ + v) keeps η inside
    the velocity; both give the same trajectory while η is constant (v = -η·b), and differ
    once η changes. See ``TextbookMomentum`` for that form.

    Defaults: lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False.
    Polyak 1964 (heavy ball); Sutskever et al. 2013 (Nesterov form used by torch).
    """

    elementwise = True  # see Optimizer: so it can be chunked, threaded, flat

    hyperparameters = dict(
        lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "dampening" in hp:
            check_nonnegative("dampening value", hp["dampening"])
        if hp.get("nesterov") and (hp.get("momentum", 0) <= 0 or hp.get("dampening", 0) != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return self.momentum_state(p) if group["momentum"] else {}

    @staticmethod
    def momentum_state(p: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "momentum_buffer": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
        work, tmp = scratch(p, 2)
        g = with_weight_decay(g, p, group["weight_decay"], out=work)  # g ← g + λθ
        if mu:
            if state.get("momentum_buffer") is None:  # momentum was 0 when the state was made
                state.update(self.momentum_state(p))
            b = state["momentum_buffer"]
            state["step"] += 1
            if state["step"] == 1:
                np.copyto(b, g)  # b ← g
            else:
                b *= mu  # b ← μ·b + (1 - τ)·g
                add_scaled_(b, 1.0 - tau, g, tmp)
            if group["nesterov"]:
                g = np.add(g, np.multiply(b, mu, out=tmp), out=work)  # d ← g + μ·b
            else:
                g = b  # d ← b
        add_scaled_(p, -lr, g, tmp)  # θ ← θ - η·d
