"""A tiny workload for the benchmark's tests: least squares on 3 weights, trained by the
real registry optimizers, with a fake clock (each method's step has a fixed cost) so that
seconds to target are reproducible and a resumed run can be compared byte for byte."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.tensor import Tensor


class TinyTrial:
    def __init__(self, seed: int, n_params: int = 3) -> None:
        rng = np.random.default_rng(seed)
        self.X = rng.normal(size=(16, n_params)).astype(np.float32)
        self.y = (self.X @ np.arange(1, n_params + 1, dtype=np.float32)).astype(np.float32)
        self.w = Tensor(np.zeros(n_params, np.float32), requires_grad=True)

    def parameters(self) -> list[Tensor]:
        return [self.w]

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        return [("w", self.w)]

    def loss(self) -> Tensor:
        r = Tensor(self.X) @ self.w - Tensor(self.y)
        return (r * r).mean()

    def evaluate(self) -> float:
        return float(self.loss().item())


@dataclass(frozen=True)
class TinyWorkload:
    name: str = "tiny"
    metric: str = "val_loss"
    goal: str = "min"
    target: float = 0.5
    max_steps: int = 60
    eval_every: int = 5
    batch_size: int = 16
    seed: int = 0
    options: dict = field(default_factory=dict, hash=False)

    def setup(self, seed: int) -> TinyTrial:
        return TinyTrial(seed)

    def reached(self, value: float) -> bool:
        return value <= self.target


def step_cost(method: str) -> float:
    """The fake clock: seconds per step of a method (deterministic, differs by method)."""
    return 0.001 * (1 + zlib.crc32(method.encode()) % 4)


class TinyRunner:
    """``tinygrad_opt.workloads.run``'s signature and result fields on the tiny workload;
    counts its calls and can raise KeyboardInterrupt at a given call (an interruption)."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls: list[tuple[str, str, dict, int]] = []
        self.interrupt_at = interrupt_at

    def __call__(self, workload: Any, method: str, hp: dict, *, seed: int, **kw: Any) -> Any:
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append((workload.name, method, dict(hp), seed))
        trial = workload.setup(seed)
        opt = optim.create(method, trial.parameters(), **hp)
        history, reached, final, diverged = [(0, 0.0, trial.evaluate())], None, math.nan, False
        cost = step_cost(method)
        for step in range(1, workload.max_steps + 1):
            opt.zero_grad()
            loss = trial.loss()
            loss.backward()
            opt.step()
            if step % workload.eval_every == 0:
                final = trial.evaluate()
                history.append((step, step * cost, final))
                if not math.isfinite(final):
                    diverged = True
                    break
                if workload.reached(final):
                    reached = step
                    break
        return SimpleNamespace(
            steps_to_target=reached,
            seconds_to_target=None if reached is None else reached * cost,
            history=history,
            final_metric=final,
            diverged=diverged,
        )
