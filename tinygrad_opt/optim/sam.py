"""SAM: sharpness-aware minimization around any base optimizer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import ParamsLike, check_nonnegative, check_number, register
from tinygrad_opt.optim.wrapper import BaseLike, Wrapper, check_bool, check_int


@register("sam")
class SAM(Wrapper):
    r"""Sharpness-Aware Minimization (Foret et al. 2021), as Optax 0.2.8's ``contrib.sam``.

    "Sharpness-Aware Minimization for Efficiently Improving Generalization", ICLR 2021,
    Algorithm 1. SAM minimizes max_{‖ε‖≤ρ} L(θ + ε) by taking the base optimizer's step
    with the gradient at the (first-order) worst point of the ρ-ball around θ. One
    ``step(closure)`` (g the gradient over *all* parameters as one vector, ‖·‖ its global
    2-norm; θ₀ the current parameters):

        g ← ∇L(θ₀)                                 (closure() at θ₀; its loss is returned)
        repeat ascent_steps times:
            θ ← θ + ρ·g / (‖g‖ + eps)              (the ascent; ε̂(θ) of the paper)
            g ← ∇L(θ)                              (closure() at the perturbed point)
        θ ← θ₀;  base step with g                  (e.g. SGD: θ ← θ₀ - η·g)

    ``adaptive=True`` is ASAM (Kwon et al. 2021, "ASAM: Adaptive Sharpness-Aware
    Minimization for Scale-Invariant Learning of Deep Neural Networks", ICML 2021), with
    T = |θ₀| elementwise: θ ← θ + ρ·T²g / (‖T·g‖ + eps) (ρ is then typically ~10× larger).
    With ``maximize`` (a base hyperparameter) the adversary descends: g is negated.

    Settings: rho=ρ (0.05), adaptive (False), perturb_eps=eps (1e-12, as davda54/sam and
    pytorch_optimizer's ``perturb_eps``; Optax has none: 0 reproduces it, and a zero
    gradient then means no ascent instead of a NaN), ascent_steps (1). Every other
    keyword goes to the base optimizer (default ``"sgd"``):
    ``SAM(params, base="adam", rho=0.05, lr=1e-3)``.

    Against Optax: ``optax.contrib.sam(opt, adv_opt, sync_period)`` with its default
    adversarial optimizer ``chain(normalize(), sgd(rho))`` is this with
    ascent_steps = sync_period - 1 and perturb_eps = 0, in either ``opaque_mode``: the transparent
    mode spreads one of our steps over sync_period calls of ``update`` (one per gradient
    evaluation), the opaque mode does it in one call with a ``grad_fn``. Optax's
    ``reset_state`` is moot here (the normalized-SGD adversary keeps no state); another
    adversarial optimizer is not offered.

    Against the torch formulation (davda54/sam's ``SAM``, also pytorch_optimizer's): the
    same update and settings (rho, adaptive; per group there, global here), but their
    ``step(closure)`` expects the gradient at θ₀ to be computed *before* the call and
    evaluates the closure once; ours evaluates it ``ascent_steps + 1`` times (the first
    gives ∇L(θ₀)), so the loop is ``opt.step(closure)`` alone. Their manual two-pass
    loop is here too: :meth:`first_step` (perturb θ with the current gradients) and
    :meth:`second_step` (restore θ₀, base step). The norm is computed as ‖(‖g_p‖)_p‖
    there and √Σ g² here (equal up to rounding).

    State: θ₀ (``old_param``, one copy of the parameters; scratch, not in
    ``state_dict``) plus the base's state.
    """

    needs_closure = True  # type: ignore[assignment]  # step() calls the closure twice
    settings_defaults = dict(rho=0.05, adaptive=False, perturb_eps=1e-12, ascent_steps=1)
    scratch_keys = ("old_param",)

    def __init__(
        self,
        params: ParamsLike | None,
        base: BaseLike = "sgd",
        rho: float = 0.05,
        adaptive: bool = False,
        perturb_eps: float = 1e-12,
        ascent_steps: int = 1,
        **base_hyperparameters: Any,
    ) -> None:
        super().__init__(
            params,
            base,
            dict(rho=rho, adaptive=adaptive, perturb_eps=perturb_eps, ascent_steps=ascent_steps),
            base_hyperparameters,
        )

    def validate_settings(self, settings: dict[str, Any]) -> None:
        super().validate_settings(settings)
        if getattr(self.base, "needs_closure", False):
            raise ValueError(
                f"SAM cannot wrap {type(self.base).__name__}: its step needs a closure, and "
                "SAM's base step takes the gradient SAM computed"
            )
        for name in ("rho", "perturb_eps"):
            check_number(name, settings[name])
            check_nonnegative(f"{name} value", settings[name])
        check_bool("adaptive", settings["adaptive"])
        check_int("SAM", "ascent_steps", settings["ascent_steps"], 1)

    # ----------------------------------------------------------------- the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One SAM step; ``closure`` must zero the gradients, compute the loss, call
        ``backward`` and return the loss. Returns the loss at the unperturbed θ₀."""
        if closure is None:
            raise ValueError(
                "SAM.step needs a closure that re-evaluates the loss and its gradient "
                "(it is called at θ and at the perturbed θ + ε)"
            )
        loss = closure()
        self.first_step()
        for _ in range(self.settings["ascent_steps"] - 1):
            closure()
            self._ascend()
        closure()
        self.second_step()
        return loss

    def first_step(self, zero_grad: bool = False) -> None:
        """Save θ₀ and move to θ₀ + ε using the current gradients (the torch-style first
        pass; ``step(closure)`` calls it)."""
        self.check_gradient_shapes()
        for p in self._indexed_params():
            state = self.state.setdefault(p, {})
            old = state.get("old_param")
            if old is None or old.shape != p.shape or old.dtype != p.dtype:
                state["old_param"] = p.data.copy()
            else:
                np.copyto(old, p.data)
        self._ascend()
        if zero_grad:
            self.zero_grad()

    def second_step(self, zero_grad: bool = False) -> None:
        """Restore θ₀ and let the base optimizer step with the current gradients (those
        at the perturbed point)."""
        for p in self._indexed_params():
            old = self.state.get(p, {}).get("old_param")
            if old is not None:
                np.copyto(p.data, old)
        self.base.step()
        if zero_grad:
            self.zero_grad()

    def _ascend(self) -> None:
        """θ ← θ + ρ·d/(‖T·g‖ + eps), d = T²·g (T = |θ₀| if adaptive, else 1)."""
        self.check_gradient_shapes()
        rho, eps, adaptive = (self.settings[k] for k in ("rho", "perturb_eps", "adaptive"))
        directions = []
        total = 0.0
        for group in self.param_groups:
            sign = -1.0 if group.get("maximize", False) else 1.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad if sign > 0 else -p.grad
                if adaptive:
                    t = np.abs(self.state[p]["old_param"])
                    tg = t * g
                    total += float(np.vdot(tg, tg))
                    d = t * tg
                else:
                    total += float(np.vdot(g, g))
                    d = g
                directions.append((p, d))
        denominator = math.sqrt(total) + eps
        if denominator == 0.0:  # a zero gradient with eps = 0: no ascent (Optax: NaN)
            return
        for p, d in directions:
            p.data += rho * (d / denominator)
