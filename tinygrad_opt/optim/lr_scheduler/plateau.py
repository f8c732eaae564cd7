"""ReduceLROnPlateau: cut the learning rate when a metric stops improving."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.optim.lr_scheduler.base import (
    LRScheduler,
    _check_nonnegative_int,
    _check_number,
    _group_lrs,
    _is_real,
    _per_group,
)
from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.tensor import Tensor


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply the lrs by ``factor`` when a metric stops improving: ``step(metric)``.

    A value a improves on the best so far, b, when

        mode="min", threshold_mode="rel":  a < b·(1 - threshold)
        mode="min", threshold_mode="abs":  a < b - threshold
        mode="max", threshold_mode="rel":  a > b·(1 + threshold)
        mode="max", threshold_mode="abs":  a > b + threshold

    Otherwise the step is "bad". After more than ``patience`` bad steps in a row, each
    group's lr becomes max(lr·factor, min_lr) (an update smaller than ``eps`` is
    skipped), and for the next ``cooldown`` steps bad steps are not counted. The first
    metric always improves on the initial best (±inf); NaN never improves. ``min_lr``
    is one floor for all groups or a list of one per group. Not chainable: it reads and
    writes the groups' lrs directly, and cannot go into SequentialLR/ChainedScheduler.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if not _is_real(factor) or not 0.0 <= factor < 1.0:
            raise ValueError(f"Invalid factor: {factor!r} (must be in [0, 1))")
        _check_nonnegative_int("patience", patience)
        _check_nonnegative_int("cooldown", cooldown)
        _check_number("threshold", threshold, 0.0, how="must be a number >= 0")
        _check_number("eps", eps, 0.0, how="must be a number >= 0")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        for m in self.min_lrs:
            _check_number("min_lr", m, 0.0, how="must be a number >= 0")
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = _group_lrs(optimizer)
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` counts as an improvement on ``best`` (see the class doc)."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record one value of the monitored metric (a number, 0-d array or Tensor)."""
        value = np.asarray(metrics.data if isinstance(metrics, Tensor) else metrics)
        if value.size != 1:
            raise ValueError(
                f"ReduceLROnPlateau.step needs one number, got an array of shape {value.shape}"
            )
        try:
            current = float(value.reshape(()))
        except (TypeError, ValueError) as e:
            raise type(e)(
                f"ReduceLROnPlateau.step needs the metric as a number, got {metrics!r}"
            ) from None
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _group_lrs(self.optimizer)

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"the optimizer has {len(groups)} parameter groups but min_lr gave "
                    f"{len(self.min_lrs)} values (a group was added after the scheduler was "
                    "built); set min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def get_lr(self) -> list[float]:
        raise TypeError("ReduceLROnPlateau has no schedule to compute; call step(metric)")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(
            mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode
        )
