"""Lookahead: k fast steps of any base optimizer, then one step of the slow weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import ParamsLike, check_number, register
from tinygrad_opt.optim.wrapper import BaseLike, Wrapper, check_bool, check_int

PULLBACK = ("none", "reset", "pullback")


@register("lookahead")
class Lookahead(Wrapper):
    r"""Lookahead (Zhang et al. 2019), as Optax 0.2.8's ``lookahead`` and
    pytorch_optimizer 4.1.0's ``Lookahead``.

    "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019, Algorithm 1. The
    base optimizer A moves the fast weights θ; the slow weights φ (a copy of θ taken at
    the first step) follow every k steps (α the slow step size):

        θ ← A(θ, g)                                  (every step: the base's step)
        t ← t + 1
        if t = k:  t ← 0;  φ ← φ + α·(θ - φ);  θ ← φ   (for every parameter)

    Settings: k (5; Optax's ``sync_period``), alpha=α (0.5; Optax's ``slow_step_size``),
    reset_state (False; Optax's: re-initialize the base's state after each
    synchronization, as ``load_state_dict`` with an empty state), pullback_momentum
    (``"none"``; pytorch_optimizer's, for a base with a ``momentum_buffer`` (SGD with
    momentum): at each synchronization ``"reset"`` zeroes the buffer, ``"pullback"``
    interpolates it like the weights, b ← b + (1-α)·(b_slow - b), b_slow ← b, with
    b_slow starting at 0). Every other keyword goes to the base optimizer (default
    ``"sgd"``): ``Lookahead(params, base="adam", k=5, alpha=0.5, lr=1e-3)``.

    How the references differ (we follow Optax's arithmetic for the weights): Optax
    computes the new fast weights as θ + u - (1-α)·(θ + u - φ) rather than copying φ
    (equal up to rounding; it keeps slow and fast weights as a ``LookaheadParams`` pair,
    we keep φ as state); pytorch_optimizer writes θ ← lerp(θ, φ, 1-α), φ ← θ, counts the
    k steps per parameter group (one global counter here; they agree unless a group is
    added mid-run), takes φ when the wrapper is built (here at the first step, so weights
    loaded after building the optimizer are used), and has no ``reset_state``; Optax has
    no ``pullback_momentum``. A step the base skips (``skip_nonfinite``) is not counted.
    The slow weights are ``slow_weights()``; evaluate with them via
    :meth:`swap_slow_weights` (twice to swap back).

    State: φ (``slow_param``, one copy of the parameters; ``slow_momentum`` too with
    ``"pullback"``) plus the base's state and the counter t, all in ``state_dict``.
    """

    settings_defaults = dict(k=5, alpha=0.5, reset_state=False, pullback_momentum="none")

    def __init__(
        self,
        params: ParamsLike | None,
        base: BaseLike = "sgd",
        k: int = 5,
        alpha: float = 0.5,
        reset_state: bool = False,
        pullback_momentum: str = "none",
        **base_hyperparameters: Any,
    ) -> None:
        super().__init__(
            params,
            base,
            dict(k=k, alpha=alpha, reset_state=reset_state, pullback_momentum=pullback_momentum),
            base_hyperparameters,
        )
        self.steps_since_sync = 0

    def validate_settings(self, settings: dict[str, Any]) -> None:
        super().validate_settings(settings)
        check_int("Lookahead", "k", settings["k"], 1)
        check_number("alpha", settings["alpha"])
        if not 0.0 <= settings["alpha"] <= 1.0:
            raise ValueError(f"Invalid alpha value: {settings['alpha']} (expected 0 <= alpha <= 1)")
        check_bool("reset_state", settings["reset_state"])
        pullback = settings["pullback_momentum"]
        if pullback not in PULLBACK:
            raise ValueError(
                f"Invalid pullback_momentum value: {pullback!r} (expected one of {PULLBACK})"
            )
        if pullback != "none" and "momentum" not in self.base.defaults:
            raise ValueError(
                f"pullback_momentum={pullback!r} acts on a momentum buffer, which "
                f"{type(self.base).__name__} does not keep (use SGD with momentum)"
            )

    # ----------------------------------------------------------------- the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """One step of the base optimizer; every k-th also moves the slow weights and
        resets the fast ones to them. Returns the base's result (the closure's loss)."""
        for p in self._indexed_params():
            if p not in self.state:
                self.state[p] = self._init_slow(p.data)
        skipped = self.base.skipped_steps
        loss = self.base.step(closure)
        if self.base.skipped_steps != skipped:
            return loss
        self.steps_since_sync += 1
        if self.steps_since_sync >= self.settings["k"]:
            self.steps_since_sync = 0
            self.synchronize()
        return loss

    def _init_slow(self, p: np.ndarray) -> dict[str, Any]:
        state: dict[str, Any] = {"slow_param": p.copy()}
        if self.settings["pullback_momentum"] == "pullback":
            state["slow_momentum"] = np.zeros_like(p)
        return state

    def synchronize(self) -> None:
        """φ ← φ + α·(θ - φ), θ ← φ for every parameter (and the momentum rule)."""
        alpha = self.settings["alpha"]
        pullback = self.settings["pullback_momentum"]
        for p in self._indexed_params():
            state = self.state[p]
            slow = state["slow_param"]
            slow += alpha * (p.data - slow)
            np.copyto(p.data, slow)
            buffer = self.base.state.get(p, {}).get("momentum_buffer")
            if buffer is None or pullback == "none":
                continue
            if pullback == "reset":
                buffer.fill(0)
            else:
                slow_b = state.setdefault("slow_momentum", np.zeros_like(buffer))
                buffer += (1.0 - alpha) * (slow_b - buffer)
                np.copyto(slow_b, buffer)
        if self.settings["reset_state"]:
            groups, offset = [], 0
            for g in self.param_groups:
                n = len(g["params"])
                hp = {k: v for k, v in g.items() if k != "params"}
                groups.append({**hp, "params": list(range(offset, offset + n))})
                offset += n
            self.base.load_state_dict({"state": {}, "param_groups": groups})

    # ----------------------------------------------------------------- slow weights
    def slow_weights(self) -> list[np.ndarray]:
        """Copies of φ, one per parameter in ``state_dict`` order (θ for parameters not
        stepped yet): the weights Lookahead's paper evaluates."""
        return [
            self.state[p]["slow_param"].copy() if p in self.state else p.data.copy()
            for p in self._indexed_params()
        ]

    def swap_slow_weights(self) -> None:
        """Exchange θ and φ in place (evaluate with φ, then call again to go back)."""
        for p in self._indexed_params():
            if p in self.state:
                slow = self.state[p]["slow_param"]
                tmp = p.data.copy()
                np.copyto(p.data, slow)
                np.copyto(slow, tmp)

    # ----------------------------------------------------------------- state
    def wrapper_state(self) -> dict[str, Any]:
        return {"steps_since_sync": self.steps_since_sync}

    def load_wrapper_state(self, saved: dict[str, Any]) -> None:
        t = saved.get("steps_since_sync", 0)
        check_int("Lookahead", "steps_since_sync", t, 0)
        self.steps_since_sync = int(t)
