"""Pieces shared by the workloads on in-memory arrays (logreg, mlp, cnn): an endless
shuffled minibatch stream and a trial built from a model, a loss and a validation split."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.data import DataLoader
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.train.fit import accuracy
from tinygrad_opt.workloads.base import Batch, Trial, Workload

__all__ = ["array_sampler", "array_trial"]


def array_sampler(
    X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Callable[[], Batch]:
    """Minibatches of (X, y) for ever: epochs of a fresh random order (``rng``), the last
    incomplete batch of each epoch dropped."""
    if batch_size > len(X):
        raise ValueError(f"batch_size {batch_size} exceeds the {len(X)} training examples")
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=True, drop_last=True, rng=rng)
    epoch = iter(loader)

    def sample() -> Batch:
        nonlocal epoch
        try:
            return next(epoch)
        except StopIteration:
            epoch = iter(loader)
            return next(epoch)

    return sample


def array_trial(
    workload: Workload,
    model: Any,
    loss: Callable[[Tensor, np.ndarray], Tensor],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    logits: Callable[[Tensor], Tensor] | None = None,
) -> Trial:
    """A :class:`Trial` for ``model`` on arrays: minibatches of ``train``, the workload's
    metric (mean ``loss`` or accuracy) on the whole ``val`` split in one pass.
    ``logits``: model output → class logits (default: the output itself)."""
    X_val, y_val = val

    def loss_fn(m: Any, X: np.ndarray, y: np.ndarray) -> Tensor:
        return loss(m(Tensor(X)), y)

    def evaluate(m: Any) -> float:
        out = m(Tensor(X_val))
        if workload.metric == "val_accuracy":
            return accuracy(out.data, y_val)
        return loss(out, y_val).item()

    def logits_fn(m: Any, X: np.ndarray) -> Tensor:
        out = m(Tensor(X))
        return out if logits is None else logits(out)

    sampler = array_sampler(*train, workload.batch_size, rng)
    return Trial(model, sampler, loss_fn, evaluate, logits_fn, workload.batch_size)
