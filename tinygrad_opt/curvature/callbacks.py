"""``SharpnessCallback``: record the top Hessian eigenvalue during :func:`~tinygrad_opt.train.fit`.

Every ``every`` optimizer steps the callback builds the Hessian of ``loss_fn`` on a fixed
batch at the current parameters and runs Lanczos (seeded, so the numbers are
reproducible) for its ``k`` largest eigenvalues. Entries ``(step, λ₁, …, λ_k)`` go to
``callback.values``, which is ``history.records[name]`` of the run: saved with every
checkpoint and restored on resume, so a resumed run ends with the same series as an
uninterrupted one. The measurement works on private copies of the parameters and draws
no random numbers from the run's generators: training is unchanged by it.

With gradient descent at step size η, watch λ₁ against 2/η (the edge of stability,
Cohen et al. 2021).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.curvature.eigen import hessian_eigenvalues
from tinygrad_opt.tensor import Tensor

__all__ = ["SharpnessCallback"]


class SharpnessCallback:
    """Records ``(step, λ₁, …, λ_k)`` of the Hessian of ``loss_fn(model(inputs),
    targets)`` on ``batch = (inputs, targets)`` every ``every`` steps.

    ``which``, ``method``, ``dtype``, ``eval_mode`` and further keywords (``tol``,
    ``max_iter``, ``seed``) go to
    :func:`~tinygrad_opt.curvature.eigen.hessian_eigenvalues`. ``name``: the key in
    ``history.records``. Use it as ``fit(..., callbacks=[cb])``, or call
    :meth:`measure` directly.
    """

    def __init__(
        self,
        loss_fn: Callable[[Tensor, Any], Tensor],
        batch: tuple[Any, Any],
        every: int = 1,
        k: int = 1,
        *,
        which: str = "LA",
        method: str = "lanczos",
        name: str = "sharpness",
        dtype: Any = np.float64,
        eval_mode: bool = True,
        **options: Any,
    ) -> None:
        if not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.loss_fn = loss_fn
        self.batch = batch
        self.every = int(every)
        self.k = int(k)
        self.name = name
        self.options = {
            "which": which,
            "method": method,
            "dtype": dtype,
            "eval_mode": eval_mode,
            **options,
        }
        #: the recorded entries (the run's ``history.records[name]`` once fit has begun)
        self.values: list[tuple] = []

    def measure(self, model: Any) -> np.ndarray:
        """The ``k`` eigenvalues now (no recording)."""
        result = hessian_eigenvalues(model, self.loss_fn, self.batch, self.k, **self.options)
        return result.eigenvalues

    def on_train_begin(self, model: Any, history: Any) -> None:
        self.values = history.records.setdefault(self.name, [])

    def on_step_end(self, step: int, model: Any, loss: float) -> None:
        if step % self.every == 0:
            self.values.append((int(step), *(float(v) for v in self.measure(model))))

    @property
    def steps(self) -> np.ndarray:
        """The steps recorded so far."""
        return np.array([entry[0] for entry in self.values], dtype=np.int64)

    @property
    def eigenvalues(self) -> np.ndarray:
        """Shape (records, k): the eigenvalues recorded so far."""
        return np.array([entry[1:] for entry in self.values], dtype=np.float64).reshape(
            len(self.values), self.k
        )
