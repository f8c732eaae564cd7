"""OneCycleLR: the 1cycle policy (Smith & Topin 2019), learning rate and momentum."""

from __future__ import annotations

import math
from collections.abc import Sequence

from tinygrad_opt.optim.lr_scheduler.base import (
    LRScheduler,
    _check_number,
    _check_positive,
    _check_positive_int,
    _per_group,
)
from tinygrad_opt.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin 2017, fastai's two-phase default).

    Per group, with η_max = ``max_lr``, the schedule starts at η_start = η_max /
    ``div_factor``, ends at η_end = η_start / ``final_div_factor`` and, for
    ``total_steps`` = N (or ``epochs * steps_per_epoch``) and p = ``pct_start``:

    * two phases (default): anneal η_start → η_max over steps 0 … pN-1, then
      η_max → η_end over steps pN-1 … N-1;
    * ``three_phase=True``: η_start → η_max (0 … pN-1), η_max → η_start
      (pN-1 … 2pN-2), η_start → η_end (2pN-2 … N-1).

    Within a phase from step a to b, with x = (t - a)/(b - a) ∈ [0, 1], annealing from
    u to v is ``v + (u - v)(1 + cos(πx))/2`` ("cos") or ``u + (v - u)x`` ("linear").
    With ``cycle_momentum`` the group's ``momentum`` (or ``betas[0]`` for Adam-like
    methods) follows the mirror image between ``max_momentum`` (at η_start) and
    ``base_momentum`` (at η_max). ``last_epoch`` counts batches; stepping past
    ``total_steps`` raises ValueError.

    The groups gain ``initial_lr``, ``max_lr``, ``min_lr`` (and ``max_momentum``,
    ``base_momentum``) entries, as in torch. One deviation: where a phase has zero
    length (e.g. ``pct_start * total_steps == 1``), torch raises ZeroDivisionError;
    here that phase counts as finished (x = 1), the limit of the formula.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            _check_positive_int("total_steps", total_steps)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("epochs", epochs)
            _check_positive_int("steps_per_epoch", steps_per_epoch)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        _check_number("pct_start", pct_start, 0.0, 1.0, how="must be in [0, 1]")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}"
            )
        _check_positive("div_factor", div_factor)
        _check_positive("final_div_factor", final_div_factor)
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        for lr in max_lrs:
            _check_number("max_lr", lr, 0.0, how="must be a number >= 0")

        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * n) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum",
                     end_momentum="max_momentum"),
                dict(end_step=n - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]  # fmt: skip
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * n) - 1, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=n - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]  # fmt: skip
        self._anneal_func_type = anneal_strategy
        self.optimizer = optimizer
        if last_epoch == -1:
            for lr, group in zip(max_lrs, optimizer.param_groups, strict=True):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"cycle_momentum=True needs an optimizer with 'momentum' or 'betas'; "
                    f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            high = 1.0 if self.use_beta1 else math.inf
            what = "must be in [0, 1)" if self.use_beta1 else "must be a number >= 0"
            max_ms = _per_group("max_momentum", optimizer, max_momentum)
            base_ms = _per_group("base_momentum", optimizer, base_momentum)
            for name, values in (("max_momentum", max_ms), ("base_momentum", base_ms)):
                for m in values:
                    _check_number(name, m, 0.0, high, how=what)
                    if self.use_beta1 and m == 1.0:
                        raise ValueError(f"Invalid {name}: {m!r} ({what})")
            if last_epoch == -1:
                for m_max, m_base, group in zip(
                    max_ms, base_ms, optimizer.param_groups, strict=True
                ):
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        return self._annealing_linear(start, end, pct)

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        self._check_group_count()
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == last:
                    span = end_step - start_step
                    pct = (step - start_step) / span if span != 0 else 1.0
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                        )
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs
