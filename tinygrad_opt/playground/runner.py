"""Run several optimizers from the same start on a 2-D function and record their paths."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.playground.functions import TestFunction, get_function
from tinygrad_opt.tensor import Tensor

#: Learning rates that show each method at its typical behaviour on each function.
#: (Chosen by hand for pictures, not tuned to make any method win. Prodigy and
#: D-Adaptation estimate their step; their lr is a multiplier of it, 1 by default, and
#: less where their estimate overshoots on these 2-D functions.)
SUGGESTED_LR: dict[str, dict[str, float]] = {
    "quadratic": {
        "sgd": 0.18,
        "sam": 0.18,  # SAM and Lookahead over their default base, SGD
        "lookahead": 0.18,
        "momentum": 0.02,
        "nesterov": 0.02,
        "adagrad": 1.0,
        "rmsprop": 0.05,
        "adam": 0.1,
        "prodigy": 1.0,  # parameter-free: lr scales the estimated step
        "dadapt_adam": 1.0,
        "dadapt_sgd": 0.5,
    },
    "rosenbrock": {
        "sgd": 1e-3,
        "sam": 1e-3,
        "lookahead": 1e-3,
        "momentum": 3e-4,
        "nesterov": 3e-4,
        "adagrad": 0.5,
        "rmsprop": 1e-2,
        "adam": 5e-2,
        "prodigy": 1.0,
        "dadapt_adam": 0.3,
        "dadapt_sgd": 0.5,
        "sophiah": 5e-2,
    },
    "beale": {
        "sgd": 1e-3,
        "sam": 1e-3,
        "lookahead": 1e-3,
        "momentum": 3e-4,
        "nesterov": 3e-4,
        "adagrad": 0.5,
        "rmsprop": 1e-2,
        "adam": 5e-2,
        "prodigy": 1.0,
        "dadapt_adam": 1.0,
        "dadapt_sgd": 0.5,
    },
    "himmelblau": {
        "sgd": 5e-3,
        "sam": 5e-3,
        "lookahead": 5e-3,
        "momentum": 1e-3,
        "nesterov": 1e-3,
        "adagrad": 1.0,
        "rmsprop": 5e-2,
        "adam": 0.1,
        "prodigy": 1.0,
        "dadapt_adam": 0.1,
        "dadapt_sgd": 0.1,
    },
    "saddle": {
        "sgd": 0.05,
        "sam": 0.05,
        "lookahead": 0.05,
        "momentum": 0.01,
        "nesterov": 0.01,
        "adagrad": 0.1,
        "rmsprop": 0.01,
        "adam": 0.02,
        "prodigy": 1.0,
        "dadapt_adam": 1.0,
        "dadapt_sgd": 0.5,
    },
    "local_minimum": {
        "sgd": 0.1,
        "sam": 0.1,
        "lookahead": 0.1,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "rmsprop": 0.05,
        "adam": 0.1,
        "prodigy": 1.0,
        "dadapt_adam": 0.3,
        "dadapt_sgd": 0.3,
    },
}
DEFAULT_LR = 1e-2


@dataclass
class Trajectory:
    """One optimizer's path: ``points[k]`` is θ after k steps (``points[0]`` the start)."""

    optimizer: str
    hyperparameters: dict[str, Any]
    points: np.ndarray  # (steps + 1, 2)
    losses: np.ndarray  # (steps + 1,)

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    def steps_to_reach(self, tolerance: float, min_value: float = 0.0) -> int | None:
        """First step k with f(θ_k) - f* <= tolerance, or None if never."""
        hit = np.flatnonzero(self.losses - min_value <= tolerance)
        return int(hit[0]) if hit.size else None


@dataclass
class PlaygroundRun:
    function: TestFunction
    trajectories: dict[str, Trajectory] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (final point, loss, steps to reach 1e-3 of the minimum)."""
        return {
            "function": self.function.name,
            "start": list(self.function.start),
            "optimizers": {
                name: {
                    "hyperparameters": t.hyperparameters,
                    "final_point": [float(v) for v in t.points[-1]],
                    "final_loss": t.final_loss,
                    "steps_to_1e-3": t.steps_to_reach(1e-3, self.function.min_value),
                    "diverged": bool(not np.isfinite(t.losses).all()),
                }
                for name, t in self.trajectories.items()
            },
        }


OptimizerSpec = str | tuple[str, Mapping[str, Any]] | Callable[[list[Tensor]], Any]


def resolve_start(
    function: str | TestFunction, steps: int, start: Sequence[float] | None
) -> tuple[TestFunction, np.ndarray]:
    """The test function (by name or as given) and the float64 start point, after
    checking ``steps >= 0`` and that ``start`` (default: the function's) is two numbers."""
    fn = get_function(function) if isinstance(function, str) else function
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    start_point = np.array(fn.start if start is None else start, dtype=np.float64)
    if start_point.shape != (2,):
        raise ValueError(f"start must be two numbers, got {start!r}")
    return fn, start_point


def run(
    function: str | TestFunction,
    optimizers: Sequence[OptimizerSpec] | Mapping[str, OptimizerSpec],
    steps: int = 200,
    start: Sequence[float] | None = None,
    lr: float | None = None,
    progress: bool | None = False,
) -> PlaygroundRun:
    """Run every optimizer ``steps`` times from the same start; return their paths.

    An optimizer is a registered name (``"adam"``; its lr from ``lr`` or
    ``SUGGESTED_LR``), a ``(name, hyperparameters)`` pair, or a factory
    ``params -> Optimizer`` (pass a mapping to name factories). ``progress``: a tqdm bar
    over the optimizers (``None``: only on a terminal, for runs of 10,000 steps or more).
    """
    from tqdm.auto import tqdm

    fn, start_point = resolve_start(function, steps, start)
    items = list(
        optimizers.items()
        if isinstance(optimizers, Mapping)
        else ((_label(spec), spec) for spec in optimizers)
    )
    result = PlaygroundRun(fn)
    disable = (steps < 10_000 or None) if progress is None else not progress
    for label, spec in tqdm(items, desc="compare", unit="optimizer", leave=False, disable=disable):
        theta = Tensor(start_point.copy(), requires_grad=True)
        opt, hp = _build(spec, theta, fn.name, lr)
        points = np.empty((steps + 1, 2))
        losses = np.empty(steps + 1)
        for k in range(steps + 1):
            points[k] = theta.data
            theta.grad = None
            loss = fn(theta)
            losses[k] = loss.item()
            if k == steps or not np.isfinite(losses[k]):
                points[k + 1 :] = np.nan
                losses[k + 1 :] = np.nan
                break
            loss.backward()
            if getattr(opt, "needs_closure", False):  # SAM, L-BFGS: re-evaluate f and ∇f
                opt.step(_closure(fn, theta))
            else:
                opt.step()
        result.trajectories[label] = Trajectory(label, hp, points, losses)
    return result


def _closure(fn: TestFunction, theta: Tensor) -> Callable[[], Tensor]:
    """f(θ) with ∇f(θ) in ``theta.grad``: what closure-based optimizers call."""

    def closure() -> Tensor:
        theta.grad = None
        loss = fn(theta)
        loss.backward()
        return loss

    return closure


def _label(spec: OptimizerSpec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, tuple):
        return spec[0]
    return getattr(spec, "__name__", "custom")


def _build(spec: OptimizerSpec, theta: Tensor, fn_name: str, lr: float | None):
    if callable(spec) and not isinstance(spec, str):
        return spec([theta]), {}
    name, hp = (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))
    if "lr" not in hp:
        hp["lr"] = lr if lr is not None else suggested_lr(fn_name, name, hp)
    return optim.create(name, [theta], **hp), hp


def suggested_lr(
    function: str, optimizer: str, hyperparameters: Mapping[str, Any] | None = None
) -> float:
    """The learning rate :func:`run` gives ``optimizer`` on ``function`` when none is
    named: :data:`SUGGESTED_LR`, else :data:`DEFAULT_LR`. A wrapper (SAM, Lookahead) over
    a named ``base`` steps with that base's suggested lr."""
    suggested = SUGGESTED_LR.get(function, {})
    base = (hyperparameters or {}).get("base")
    key = base if isinstance(base, str) and base in suggested else optimizer
    return suggested.get(key, DEFAULT_LR)
