r"""Schedule-Free SGD and AdamW (Defazio et al. 2024): averaging instead of an lr schedule.

Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled", NeurIPS
2024, arXiv:2405.15682. Three sequences share one set of parameters:

* z — the base iterate, moved by plain (or Adam-normalised) gradient steps (state ``z``);
* x — a weighted average of the z's: the point to evaluate and to ship;
* y = (1 - β)·z + β·x — between the two; the gradient is taken here.

With β the interpolation constant (``momentum`` for SGD, ρ1 = ``betas[0]`` for AdamW),
η the learning rate, T_w = ``warmup_steps``, q = ``r`` (polynomial weighting), ω =
``weight_lr_power``, and W, η_max running scalars (``weight_sum``, ``lr_max``), step t
(t = 1, 2, …) is:

    η_t   ← η · min(1, t/T_w)                 (linear warmup; η when T_w = 0)
    η_max ← max(η_max, η_t)
    w_t   ← t^q · η_max^ω ;   W ← W + w_t ;   c ← w_t / W        (c = 0 if W = 0)
    g     ← ∇f(y)                             (the tensors hold y while training)
    z     ← z - η_t · u                       (u: g + λy for SGD, Adam's for AdamW)
    x     ← (1 - c)·x + c·z
    y     ← (1 - β)·z + β·x

x is never stored: the tensors hold y, updated as y ← (1 - c)·y + c·z + η_t·(β(1 - c) - 1)·u
before z moves (the same point, one array fewer). ``eval()`` puts x into the tensors,
x = y + (1 - 1/β)·(z - y); ``train()`` puts y back, y = x + (1 - β)·(z - x). A step in
eval mode raises. This is the arithmetic of the authors' ``schedulefree`` 1.4.1
(``SGDScheduleFree``, ``AdamWScheduleFree``): the warmup, the weights and the step
counter belong to the parameter *group* (``k``, ``weight_sum``, ``lr_max``,
``scheduled_lr`` and ``train_mode`` are entries of each group, saved in ``state_dict``
as the package does), so a parameter that first gets a gradient at step t starts with
z = y and the group's t.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from tinygrad_opt.optim.functional import (
    adam_direction,
    add_scaled_,
    ema_square_,
    lerp_,
    scratch,
    with_weight_decay,
)
from tinygrad_opt.optim.hyperparameters import check_number, is_number
from tinygrad_opt.optim.optimizer import Optimizer, register
from tinygrad_opt.tensor import no_grad

#: Scalars each parameter group keeps (names and fresh values as in ``schedulefree``).
GROUP_BOOKKEEPING: dict[str, Any] = dict(k=0, weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0)


class _ScheduleFree(Optimizer):
    """The machinery both methods share: group bookkeeping, train/eval, the step.

    Subclasses give :meth:`interpolation` (β of the group) and an elementwise ``update``
    that reads the step's η_t and c from :meth:`coefficients`.
    """

    elementwise = True

    #: The mode a new optimizer starts in. ``schedulefree`` starts in eval mode, so its
    #: first step raises until ``train()`` is called; before the first step both modes
    #: hold the same point (z = x = y), so ours starts in train mode and any plain loop
    #: (``memory.measure``, the playground, ``fit``) can step it. A subclass setting this
    #: to False gets the package's behaviour.
    initial_train_mode: ClassVar[bool] = True

    # ------------------------------------------------------------------ set-up
    def add_param_group(self, group: dict[str, Any]) -> None:
        """As :meth:`Optimizer.add_param_group`; the group also gets the bookkeeping
        scalars (fresh) and the optimizer's current mode."""
        mode = self.param_groups[0]["train_mode"] if self.param_groups else None
        super().add_param_group(group)
        added = self.param_groups[-1]
        added.update(GROUP_BOOKKEEPING)
        added["train_mode"] = self.initial_train_mode if mode is None else mode

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "warmup_steps" in hp:
            w = hp["warmup_steps"]
            if not (isinstance(w, int) and not isinstance(w, bool) and w >= 0):
                raise ValueError(f"Invalid warmup_steps value: {w} (an integer >= 0)")
        for name in ("r", "weight_lr_power"):
            if name in hp:
                check_number(name, hp[name])
                if not math.isfinite(hp[name]) or (name == "weight_lr_power" and hp[name] < 0):
                    raise ValueError(f"Invalid {name} value: {hp[name]}")
        # the bookkeeping, when a state_dict is loaded
        if "k" in hp and not (isinstance(hp["k"], int) and hp["k"] >= 0):
            raise ValueError(f"Invalid step count k: {hp['k']}")
        if "train_mode" in hp and not isinstance(hp["train_mode"], bool):
            raise ValueError(f"Invalid train_mode: {hp['train_mode']!r} (True or False)")
        for name in ("weight_sum", "lr_max", "scheduled_lr"):
            if name in hp and not (is_number(hp[name]) and math.isfinite(hp[name])):
                raise ValueError(f"Invalid {name}: {hp[name]!r}")

    def interpolation(self, group: dict[str, Any]) -> float:
        """β: y = (1 - β)·z + β·x."""
        raise NotImplementedError

    # ------------------------------------------------------------------ modes
    @property
    def training(self) -> bool:
        """True in train mode (the tensors hold y), False in eval mode (they hold x)."""
        return all(group["train_mode"] for group in self.param_groups)

    def _switch(self, to_train: bool) -> None:
        with no_grad():
            for group in self.param_groups:
                if group["train_mode"] == to_train:
                    continue
                beta = self.interpolation(group)
                weight = 1.0 - beta if to_train else 1.0 - 1.0 / beta
                for p in group["params"]:
                    state = self.state.get(p)
                    if state is not None and "z" in state:
                        lerp_(p.data, state["z"], weight)
                group["train_mode"] = to_train

    def eval(self) -> None:
        """Put x (the average: the point to evaluate, save or ship) into the tensors:
        x = y + (1 - 1/β)·(z - y). Nothing happens in eval mode already."""
        self._switch(False)

    def train(self) -> None:
        """Put y (where gradients are taken) back into the tensors: y = x + (1 - β)·(z - x).
        After ``eval()`` this restores y up to rounding (a few ulps)."""
        self._switch(True)

    # ------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One step (see the module docstring). Raises RuntimeError in eval mode, as
        ``schedulefree`` does (before calling the closure)."""
        if not self.training:
            raise RuntimeError(
                f"{type(self).__name__} was not in train mode when step() was called: call "
                "optimizer.train() before training steps and optimizer.eval() before "
                "evaluating or saving the model"
            )
        loss = closure() if closure is not None else None
        if self.ready_to_step():
            for group in self.param_groups:
                self._advance(group)
            self.apply_step()
        return loss

    @staticmethod
    def _advance(group: dict[str, Any]) -> None:
        """The group's scalars for the coming step: η_t, η_max, W and k ← k + 1."""
        k, warmup = group["k"], group["warmup_steps"]
        lr = group["lr"] * ((k + 1) / warmup if k < warmup else 1.0)
        group["scheduled_lr"] = lr
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        group["weight_sum"] = (
            group["weight_sum"] + (k + 1) ** group["r"] * lr_max ** group["weight_lr_power"]
        )
        group["k"] = k + 1

    @staticmethod
    def coefficients(group: dict[str, Any]) -> tuple[float, float]:
        """(η_t, c) of the step in progress (after :meth:`_advance`)."""
        weight = group["k"] ** group["r"] * group["lr_max"] ** group["weight_lr_power"]
        c = weight / group["weight_sum"] if group["weight_sum"] != 0 else 0.0
        return group["scheduled_lr"], c

    def _move(self, y: np.ndarray, z: np.ndarray, u: np.ndarray, group: dict, tmp) -> None:
        """y ← (1 - c)·y + c·z + η_t·(β(1 - c) - 1)·u ;  z ← z - η_t·u."""
        lr, c = self.coefficients(group)
        lerp_(y, z, c, tmp=tmp)
        add_scaled_(y, lr * (self.interpolation(group) * (1.0 - c) - 1.0), u, tmp)
        add_scaled_(z, -lr, u, tmp)


@register("schedulefree_sgd")
class ScheduleFreeSGD(_ScheduleFree):
    r"""Schedule-Free SGD (Defazio et al. 2024), as ``schedulefree.SGDScheduleFree`` 1.4.1.

    "The Road Less Scheduled", NeurIPS 2024, arXiv:2405.15682, the Schedule-Free SGD
    update. In the seed's notation (η lr, α = β the interpolation constant ``momentum``,
    λ weight decay, θ = y the tensors while training, z the base iterate, x the average):

        η_t ← η·min(1, t/T_w) ;  η_max ← max(η_max, η_t)
        c ← t^q·η_max^ω / Σ_{i≤t} i^q·η_max,i^ω          (q = ``r``, ω = ``weight_lr_power``)
        g ← ∇f(y) + λ·y                                     (coupled L2, evaluated at y)
        z ← z - η_t·g
        x ← (1 - c)·x + c·z
        y ← (1 - α)·z + α·x

    The tensors hold y in train mode and x after ``eval()`` (see the module docstring;
    call ``eval()`` before evaluating or saving, ``train()`` before stepping again; a
    step in eval mode raises). With q = 0, ω = 0 the average is uniform, c = 1/t (the
    paper's basic method); ω = 2 weights each z by the squared learning rate (the paper's
    warmup-aware weighting, with the largest η so far as the package does).

    Differences from the package: ``maximize`` (not in the package; the gradient is
    negated first, the decay still pulls toward 0); a new optimizer starts in train mode
    (the package starts in eval mode and needs ``train()`` first; see
    :attr:`initial_train_mode`); no ``foreach`` flag. Defaults as the package: lr=η
    (1.0), momentum=α (0.9, strictly between 0 and 1), weight_decay=λ (0), warmup_steps
    (0), r=q (0), weight_lr_power=ω (2), maximize (False). State: ``z`` (1× the
    parameters).
    """

    elementwise = True  # see Optimizer: chunked, threaded, flat
    hyperparameters = dict(
        lr=1.0,
        momentum=0.9,
        weight_decay=0.0,
        warmup_steps=0,
        r=0.0,
        weight_lr_power=2.0,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "momentum" in hp and not 0.0 < hp["momentum"] < 1.0:
            raise ValueError(
                f"Invalid momentum value: {hp['momentum']} (Schedule-Free needs 0 < momentum < 1)"
            )

    def interpolation(self, group: dict[str, Any]) -> float:
        return group["momentum"]

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"z": p.copy()}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        work, tmp = scratch(p, 2)
        g = with_weight_decay(g, p, group["weight_decay"], out=work)  # g ← g + λy
        self._move(p, state["z"], g, group, tmp)


@register("schedulefree_adamw")
class ScheduleFreeAdamW(_ScheduleFree):
    r"""Schedule-Free AdamW (Defazio et al. 2024), as ``schedulefree.AdamWScheduleFree`` 1.4.1.

    "The Road Less Scheduled", NeurIPS 2024, arXiv:2405.15682, Algorithm 1. In the seed's
    notation (η lr, ρ1 the interpolation constant, ρ2 the decay rate of r, δ small
    constant, λ weight decay, r the second moment, y the tensors while training, z the
    base iterate, x the average):

        η_t ← η·min(1, t/T_w) ;  η_max ← max(η_max, η_t)
        c ← t^q·η_max^ω / Σ_{i≤t} i^q·η_max,i^ω          (q = ``r``, ω = ``weight_lr_power``)
        g ← ∇f(y)
        r ← ρ2·r + (1 - ρ2)·g⊙g
        u ← g / (√(r/(1 - ρ2ᵗ)) + δ) + λ·y                 (decay at y, after normalising)
        z ← z - η_t·u
        x ← (1 - c)·x + c·z
        y ← (1 - ρ1)·z + ρ1·x

    There is no first moment: ρ1's momentum is the interpolation y between z and the
    average x. The tensors hold y in train mode and x after ``eval()`` (see the module
    docstring). t is the *group's* step count (``k``), as in the package, also in the
    bias correction of a parameter that joined late.

    Differences from the paper's Algorithm 1: the package (and this class) bias-corrects r
    (δ added after) where the paper scales the step, γ_t = η_t·√(1 - ρ2ᵗ), and weights
    the average by t^q·η_max^ω (the largest η_t so far) where the paper uses γ_t².
    ``schedulefree.AdamWScheduleFreePaper`` takes the paper's step (and weights by it, as
    η_max^ω). Differences from the package: ``maximize`` (not in the package; the
    gradient is negated first); ρ1 = 0 is rejected (``eval()`` divides by ρ1); a new
    optimizer starts in train mode (see :attr:`initial_train_mode`); no ``foreach``.
    Defaults as the package: lr=η (0.0025), betas=(ρ1, ρ2) (0.9, 0.999), eps=δ (1e-8),
    weight_decay=λ (0), warmup_steps (0), r=q (0), weight_lr_power=ω (2), maximize
    (False). State: ``z`` and ``exp_avg_sq`` (2× the parameters, as Adam).
    """

    elementwise = True  # see Optimizer: chunked, threaded, flat
    hyperparameters = dict(
        lr=0.0025,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        warmup_steps=0,
        r=0.0,
        weight_lr_power=2.0,
        maximize=False,
    )

    def validate(self, hp: dict[str, Any]) -> None:
        super().validate(hp)
        if "betas" in hp and not hp["betas"][0] > 0.0:
            raise ValueError(
                f"Invalid beta parameter at index 0: {hp['betas'][0]} (Schedule-Free needs "
                "0 < betas[0] < 1: eval() divides by it)"
            )

    def interpolation(self, group: dict[str, Any]) -> float:
        return group["betas"][0]

    def init_state(self, p: np.ndarray, group: dict) -> dict[str, Any]:
        return {"z": p.copy(), "exp_avg_sq": np.zeros_like(p)}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        beta2 = group["betas"][1]
        work, tmp = scratch(p, 2)
        r = state["exp_avg_sq"]
        ema_square_(r, g, beta2, tmp=tmp)  # r ← ρ2·r + (1 - ρ2)·g⊙g
        # u ← g / (√(r/(1 - ρ2ᵗ)) + δ): Adam's direction with no first moment (ρ1 = 0
        # there makes its 1 - ρ1ᵗ exactly 1)
        u = adam_direction(g, r, group["k"], 0.0, beta2, group["eps"], out=work)
        if group["weight_decay"]:
            add_scaled_(u, group["weight_decay"], p, tmp)  # u ← u + λy
        self._move(p, state["z"], u, group, tmp)
