"""RMSprop, plain or centered, with optional heavy-ball momentum (torch semantics)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.optim.functional import ema_, ema_square_, with_weight_decay
from tinygrad_opt.optim.optimizer import Optimizer, check_range, register


@register("rmsprop")
@register("rmsprop_centered", centered=True)
class RMSprop(Optimizer):
    r"""RMSprop (Tieleman & Hinton 2012, lecture 6.5), as ``torch.optim.RMSprop``.

    In the seed's notation (η learning rate, ρ decay rate, δ small constant, r the moving
    average of the squared gradient), with g including λθ when ``weight_decay``:

        r ← ρ·r + (1 - ρ)·g⊙g
        v ← r                                   (plain)
        ḡ ← ρ·ḡ + (1 - ρ)·g;   v ← r - ḡ⊙ḡ      (centered: Graves 2013, eqs. 38-41)
        b ← μ·b + g / (√v + δ);   θ ← θ - η·b   (momentum μ > 0; b starts at 0)
        θ ← θ - η · g / (√v + δ)                (no momentum)

    Arguments: lr=η (1e-2), alpha=ρ (0.99), eps=δ (1e-8), weight_decay=λ (0),
    momentum=μ (0), centered (False), maximize (False).

    Where torch differs from the textbook and the papers:

    * δ is added *outside* the square root, √v + δ. Goodfellow et al. Alg. 8.5 and
      Graves 2013 put it inside, √(δ + v) (TensorFlow does too), with δ=1e-6 / 1e-4.
    * The momentum buffer b accumulates normalised *gradients* and η multiplies it at the
      end (heavy ball, as torch's SGD); Graves keeps η inside the buffer. The two agree
      while η is constant. Goodfellow Alg. 8.6 uses Nesterov momentum instead.
    * Graves uses ρ=0.95, momentum 0.9; torch's defaults are ρ=0.99, no momentum.

    Our differences from torch: α must lie in [0, 1] (torch accepts any α ≥ 0, but α > 1
    makes r negative), and in the centered form v is clamped at 0, so a variance that
    rounds to a tiny negative number gives √v = 0 rather than NaN.
    """

    hyperparameters = dict(
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0.0,
        momentum=0.0,
        centered=False,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "alpha" in hp:
            check_range("alpha value", hp["alpha"], 0.0, 1.0)

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        state: dict[str, Any] = {"step": 0, "square_avg": np.zeros_like(p)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p)
        return state

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        rho, mu = group["alpha"], group["momentum"]
        g = with_weight_decay(g, p, group["weight_decay"])
        state["step"] += 1
        r = state["square_avg"]
        ema_square_(r, g, rho)
        if group["centered"]:
            g_avg = state.setdefault("grad_avg", np.zeros_like(p))
            ema_(g_avg, g, rho)
            v = np.subtract(r, g_avg * g_avg, out=np.empty_like(r))  # an array even if 0-d
            np.maximum(v, 0.0, out=v)
            denom = np.sqrt(v, out=v)
        else:
            denom = np.sqrt(r)
        denom += group["eps"]
        if mu > 0:
            b = state.setdefault("momentum_buffer", np.zeros_like(p))
            b *= mu
            b += g / denom
            p -= group["lr"] * b
        else:
            p -= group["lr"] * g / denom
