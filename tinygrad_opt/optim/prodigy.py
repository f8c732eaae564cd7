"""Prodigy: Adam with a D-Adaptation step size that grows faster (prodigyopt semantics)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.optim.dadaptation import ParameterFree, adam_bias_factor, adam_step_, l1
from tinygrad_opt.optim.functional import decay_add_
from tinygrad_opt.optim.hyperparameters import is_number
from tinygrad_opt.optim.optimizer import check_range, register


@register("prodigy")
class Prodigy(ParameterFree):
    r"""Prodigy (Mishchenko & Defazio 2024), as the authors' ``prodigyopt`` 1.1.2.

    "Prodigy: An Expeditiously Adaptive Parameter-Free Learner", ICML 2024,
    arXiv:2306.06101, the Adam version (§5, "Deriving Adam-Like Step Sizes"), in the
    package's form. Seed notation: η lr, ρ1/ρ2 decay rates, δ small constant, s/r the
    moment estimates, θ parameters, g gradient (with λθ added unless ``decouple``); θ0
    the start, a the weighted gradient sum (the package's state ``s``), N the numerator
    (``d_numerator``), β3 (default √ρ2), d_coef, γ ``growth_rate``. Sums Σ run over
    every ``slice_p``-th element of each parameter of every group with η > 0 (d0 is that
    group's):

        η̂ ← d·η·√(1 - ρ2ᵏ⁺¹)/(1 - ρ1ᵏ⁺¹)         (the factor only with use_bias_correction)
        N ← β3·N + Σ (d/d0)·η̂·⟨g, θ0 - θ⟩
        s ← ρ1·s + (1 - ρ1)·d·g                    (ρ1 = 0: no s)
        r ← ρ2·r + (1 - ρ2)·d²·g⊙g
        a ← β3·a + (d/d0)·η̂·g                      (safeguard_warmup: (d/d0)·d·g)
        d̂ ← d_coef · N / Σ‖a‖₁
        d ← max(d, d̂) if d = d0                    (the first growth is free)
        d_max ← max(d_max, d̂),   d ← min(d_max, γ·d)
        θ ← θ - η̂·λ·θ                             (decouple: AdamW's decay)
        θ ← θ - η̂ · s / (√r + d·δ)                 (ρ1 = 0: η̂·d·g instead of η̂·s)
        k ← k + 1

    The new d is used in δ's scale, the old one in η̂. With ``slice_p`` = p > 1 the
    statistics N and a use every p-th element of each (flattened) parameter only: a and
    θ0 are 1/p of the parameter's size (the package's memory saving, an approximation).
    A parameter that starts at exactly zero keeps θ0 as a single 0, as the package does.

    d (from d0 = 1e-6) and its companions ``d_max``, ``d_numerator``, ``d_denom`` (Σ‖a‖₁),
    ``d_hat`` and the step count k live in the groups: ``opt.param_groups[0]["d"]`` is
    the estimate. As the package: ρ, β3, d_coef, γ, ``decouple`` and
    ``use_bias_correction`` come from the first group, λ, δ, d0, ``safeguard_warmup`` and
    ``slice_p`` from each group ("d = d0" compares with the last group's d0); group
    learning rates must all be η or 0 (a group with η = 0 adds nothing to the sums and its
    s, r, a stay frozen, but it is still stepped with η̂: its frozen s, with ρ1 = 0 its
    g/(√r + dδ), and the decoupled decay); a step where Σ‖a‖₁ = 0 (all gradients zero)
    changes only s, r and a. The (d/d0) factor is the package's (it keeps the sums away
    from tiny numbers).

    Differences from the package: ``maximize`` (added; the package has none);
    ``fsdp_in_use`` accepted and ignored (no sharding here); we check β3 in [0, 1],
    d_coef > 0, slice_p an integer >= 1, growth_rate >= 1, and reject a group
    learning-rate mismatch before changing anything; the gradient arrays are never
    changed (the package adds λθ to ``p.grad`` in place). State: s, r (2 arrays), a and
    θ0 (1/slice_p each). Defaults: lr=η (1.0), betas=(ρ1, ρ2) (0.9, 0.999), beta3 (None =
    √ρ2), eps=δ (1e-8), weight_decay=λ (0), decouple (True), use_bias_correction (False),
    safeguard_warmup (False), d0 (1e-6), d_coef (1.0), growth_rate=γ (inf), fsdp_in_use
    (False), slice_p (1), maximize (False).
    """

    hyperparameters = dict(
        lr=1.0,
        betas=(0.9, 0.999),
        beta3=None,
        eps=1e-8,
        weight_decay=0.0,
        decouple=True,
        use_bias_correction=False,
        safeguard_warmup=False,
        d0=1e-6,
        d_coef=1.0,
        growth_rate=math.inf,
        fsdp_in_use=False,
        slice_p=1,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if hp.get("beta3") is not None:
            check_range("beta3 value", hp["beta3"], 0.0, 1.0)
        if "d_coef" in hp and not (is_number(hp["d_coef"]) and hp["d_coef"] > 0.0):
            raise ValueError(f"Invalid d_coef value: {hp['d_coef']}")
        if "slice_p" in hp:
            value = hp["slice_p"]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Invalid slice_p value: {value} (an integer >= 1)")

    def initial_estimate(self, group: dict[str, Any]) -> dict[str, Any]:
        d0 = self.defaults["d0"]
        return {"d": d0, "d_max": d0, "d_numerator": 0.0, "k": 0}

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        sliced = p.ravel()[:: group["slice_p"]]
        state: dict[str, Any] = {
            "step": 0,
            "s": np.zeros_like(sliced),
            "p0": sliced.copy() if p.any() else np.zeros((), p.dtype),
        }
        if self.param_groups[0]["betas"][0] > 0:
            state["exp_avg"] = np.zeros_like(p)
        state["exp_avg_sq"] = np.zeros_like(p)
        return state

    def state_shape_ok(self, name: str, shape: tuple[int, ...], param_shape: tuple) -> bool:
        if name in ("s", "p0") and len(shape) == 1:  # every slice_p-th element
            return shape[0] <= math.prod(param_shape)
        return super().state_shape_ok(name, shape, param_shape)

    def adapt(self, lr: float) -> None:
        first = self.param_groups[0]
        beta1, beta2 = first["betas"]
        beta3 = math.sqrt(beta2) if first["beta3"] is None else first["beta3"]
        d, d_max, decouple = first["d"], first["d_max"], first["decouple"]
        dlr = d * lr * adam_bias_factor(first)
        entries = self.entries(lambda group: 0.0 if decouple else group["weight_decay"])
        numerator = first["d_numerator"] * beta3
        delta = 0.0  # Σ (d/d0)·η̂·⟨g, θ0 - θ⟩
        a_l1 = 0.0  # Σ‖a‖₁
        for group, p, g, state in entries:
            if group["lr"] <= 0.0:
                continue
            step = group["slice_p"]
            ratio = d / group["d0"]
            g_sliced = g.ravel()[::step]
            moved = state["p0"] - p.data.ravel()[::step]
            delta += ratio * dlr * float(np.dot(g_sliced, moved))
            if beta1 > 0:
                decay_add_(state["exp_avg"], beta1, d * (1.0 - beta1), g)
            decay_add_(state["exp_avg_sq"], beta2, d * d * (1.0 - beta2), g, g)
            a = state["s"]
            decay_add_(a, beta3, ratio * (d if group["safeguard_warmup"] else dlr), g_sliced)
            a_l1 += l1(a)
        if a_l1 == 0.0:
            return
        numerator += delta
        d_hat = first["d_coef"] * numerator / a_l1
        if d == self.param_groups[-1]["d0"]:
            d = max(d, d_hat)
        d_max = max(d_max, d_hat)
        d = min(d_max, d * first["growth_rate"])
        self.publish(d_numerator=numerator, d_denom=a_l1, d=d, d_max=d_max, d_hat=d_hat)
        for group, p, g, state in entries:
            state["step"] += 1
            if beta1 > 0:
                direction, scale = state["exp_avg"], dlr
            else:
                direction, scale = g, dlr * d
            decay = group["weight_decay"] if decouple else 0.0
            adam_step_(p.data, direction, state["exp_avg_sq"], d * group["eps"], scale, decay, dlr)
        for group in self.param_groups:
            group["k"] += 1
