"""Many runs of the playground at once: one batched gradient per step for all settings.

``run_settings(function, [(name, hyperparameters), ...], steps)`` gives, for each setting,
the :class:`~tinygrad_opt.playground.runner.Trajectory` that
``run(function, {label: (name, hyperparameters)}, steps)`` gives — the same optimizer
objects from the registry, stepped the same way — but evaluates f and ∇f for every
unfinished setting in one call on a (2, n) Tensor (the test functions are elementwise in
their columns), so a grid of hundreds of hyperparameter settings costs one graph per step
instead of hundreds. Optimizers that re-evaluate f themselves (``needs_closure``: SAM,
L-BFGS, Sophia-H) are run one by one with :func:`~tinygrad_opt.playground.runner.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.playground.functions import TestFunction
from tinygrad_opt.playground.runner import Trajectory, resolve_start, run, suggested_lr
from tinygrad_opt.tensor import Tensor

__all__ = ["run_settings"]

Setting = tuple[str, Mapping[str, Any]]


def run_settings(
    function: str | TestFunction,
    settings: Sequence[Setting],
    steps: int = 200,
    start: Sequence[float] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Trajectory]:
    """One trajectory per ``(optimizer name, hyperparameters)`` setting, as :func:`run`.

    ``hyperparameters`` should name ``lr`` (else :func:`run`'s suggested one is used).
    ``progress(n)``, if given, is called with the number of optimizer steps just taken.
    """
    fn, start_point = resolve_start(function, steps, start)
    out: list[Trajectory | None] = [None] * len(settings)
    batched: list[int] = []
    for i, (name, hp) in enumerate(settings):
        probe = optim.create(
            name, [Tensor(start_point.copy(), requires_grad=True)], **_with_lr(fn, name, hp)
        )  # checks the hyperparameters now; says if it needs a closure
        if getattr(probe, "needs_closure", False):
            out[i] = run(fn, {name: (name, dict(hp))}, steps, start=start_point).trajectories[name]
            if progress is not None:
                progress(steps)
        else:
            batched.append(i)
    if batched:
        chunk = [settings[i] for i in batched]
        for i, t in zip(batched, _run_batched(fn, chunk, steps, start_point, progress)):
            out[i] = t
    return out  # type: ignore[return-value]


def _with_lr(fn: TestFunction, name: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """``hp`` with the lr :func:`run` would choose when it names none."""
    hp = dict(hp)
    if "lr" not in hp:
        hp["lr"] = suggested_lr(fn.name, name, hp)
    return hp


def _run_batched(
    fn: TestFunction,
    settings: Sequence[Setting],
    steps: int,
    start: np.ndarray,
    progress: Callable[[int], None] | None,
) -> list[Trajectory]:
    n = len(settings)
    thetas = [Tensor(start.copy(), requires_grad=True) for _ in range(n)]
    hps = []
    opts = []
    for theta, (name, hp) in zip(thetas, settings):
        hp = _with_lr(fn, name, hp)
        hps.append(hp)
        opts.append(optim.create(name, [theta], **hp))
    points = np.full((n, steps + 1, 2), np.nan)
    losses = np.full((n, steps + 1), np.nan)
    active = np.arange(n)
    for k in range(steps + 1):
        xy = np.stack([thetas[i].data for i in active], axis=1)  # (2, m)
        batch = Tensor(xy, requires_grad=True)
        loss = fn(batch)  # (m,): column j is f(θ of setting active[j])
        values = loss.data
        points[active, k] = xy.T
        losses[active, k] = values
        finite = np.isfinite(values)
        if k == steps or not finite.any():
            break
        loss.sum().backward()  # column j's gradient is ∇f at its own θ (no mixing)
        grad = batch.grad
        for j in np.flatnonzero(finite):
            i = active[j]
            thetas[i].grad = grad[:, j].copy()
            opts[i].step()
        active = active[finite]
        if progress is not None:
            progress(len(active))
    return [
        Trajectory(name, hp, points[i], losses[i])
        for i, ((name, _), hp) in enumerate(zip(settings, hps))
    ]
