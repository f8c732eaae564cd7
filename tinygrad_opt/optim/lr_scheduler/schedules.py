"""The closed-form schedules: LambdaLR, StepLR, MultiStepLR, ExponentialLR,
CosineAnnealingLR, LinearLR."""

from __future__ import annotations

import copy
import math
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tinygrad_opt.optim.lr_scheduler.base import (
    LRScheduler,
    _as_list,
    _check_number,
    _check_positive,
    _check_positive_int,
    _group_lrs,
    _is_int,
    _is_real,
)
from tinygrad_opt.optim.optimizer import Optimizer


# --------------------------------------------------------------------------- schedules
class LambdaLR(LRScheduler):
    r"""η_t = η₀ · λ(t), with one function λ for all groups or a list of one per group.

    ``state_dict`` keeps the functions' ``__dict__`` only when they are callable objects
    (plain functions and lambdas are not saved: pass them again when rebuilding).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(
                    f"Expected {len(optimizer.param_groups)} lr_lambdas (one per parameter "
                    f"group), but got {len(lr_lambda)}"
                )
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * len(optimizer.param_groups)
        for i, fn in enumerate(lambdas):
            if not callable(fn):
                raise TypeError(f"lr_lambda {i} is not callable: {fn!r}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._check_group_count()
        return [
            base * fn(self.last_epoch)
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]

    _exclude_from_state = ("optimizer", "lr_lambdas")

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["lr_lambdas"] = [_saved_function_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        if len(saved) != len(self.lr_lambdas):
            raise ValueError(
                f"state_dict has {len(saved)} lr_lambdas, this scheduler has {len(self.lr_lambdas)}"
            )
        super().load_state_dict(state)
        for fn, fn_state in zip(self.lr_lambdas, saved):
            if fn_state is not None:
                fn.__dict__.update(copy.deepcopy(fn_state))


def _saved_function_state(fn: Any) -> dict[str, Any] | None:
    """A callable object's ``__dict__`` (copied); None for functions, lambdas and methods."""
    if isinstance(fn, (types.FunctionType, types.MethodType)) or not hasattr(fn, "__dict__"):
        return None
    return copy.deepcopy(fn.__dict__)


class StepLR(LRScheduler):
    r"""Decay by γ every ``step_size`` steps: η_t = η₀ · γ^⌊t / step_size⌋.

    Computed recursively (η_t = γ·η_{t-1} when t is a positive multiple of
    ``step_size``, else η_{t-1}), so it composes with other schedulers.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_positive_int("step_size", step_size)
        _check_positive("gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Decay by γ at each milestone: η_t = η₀ · γ^(number of milestones ≤ t).

    A milestone listed n times decays by γⁿ there (torch keeps them in a ``Counter``).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = _as_list("MultiStepLR", "milestones", milestones)
        for m in milestones:
            if not _is_int(m) or m < 0:
                raise ValueError(f"milestones must be non-negative integers, got {m!r}")
        _check_positive("gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return _group_lrs(self.optimizer)
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Decay by γ every step: η_t = η₀ · γᵗ (computed as η_t = γ·η_{t-1})."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_positive("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return _group_lrs(self.optimizer)
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from η₀ down to η_min over ``T_max`` steps (SGDR without restarts).

    The schedule is

        η_t = η_min + (η₀ - η_min) · (1 + cos(π t / T_max)) / 2

    and, past ``T_max``, it rises back along the same cosine (period 2·T_max). As in
    torch it is computed recursively, which keeps it chainable:

        η_t = η_min + (η_{t-1} - η_min) · (1 + cos(π t / T_max)) / (1 + cos(π (t-1) / T_max))

    except one step after each minimum (t - 1 - T_max a multiple of 2·T_max, where that
    denominator is 0), where η_t = η_{t-1} + (η₀ - η_min)(1 - cos(π / T_max)) / 2. The
    recursion drifts from the closed form by rounding (about 1e-16 relative per step),
    so the recursion, not the closed form, is what reproduces torch's numbers.
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        _check_positive_int("T_max", T_max)
        _check_number("eta_min", eta_min, 0.0, how="must be a number >= 0")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        self._check_group_count()
        if self._is_initial:
            return _group_lrs(self.optimizer)
        if self._step_count == 1 and t > 0:  # unreachable in torch 2.13 too; kept for parity
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:
            return [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * t / T))
            / (1 + math.cos(math.pi * (t - 1) / T))
            * (group["lr"] - eta_min)
            + eta_min
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    r"""Scale η₀ by a factor moving linearly from ``start_factor`` to ``end_factor``.

        η_t = η₀ · (s + (e - s) · min(t, T) / T)     s = start_factor, e = end_factor,
                                                      T = total_iters

    so η₀·s at step 0, η₀·e from step T on. Computed recursively as torch does:
    η_t = η_{t-1} · (1 + (e - s) / (T·s + (t - 1)(e - s))) for 1 ≤ t ≤ T. With
    ``start_factor < end_factor`` this is linear warm-up (see :func:`with_warmup`).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not _is_real(start_factor) or not 0.0 < start_factor <= 1.0:
            raise ValueError(f"Invalid start_factor: {start_factor!r} (must be in (0, 1])")
        _check_number("end_factor", end_factor, 0.0, 1.0, how="must be in [0, 1]")
        _check_positive_int("total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, T, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if t == 0:
            return [group["lr"] * s for group in self.optimizer.param_groups]
        if self._is_initial or t > T:
            return _group_lrs(self.optimizer)
        factor = 1.0 + (e - s) / (T * s + (t - 1) * (e - s))
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e, T = self.start_factor, self.end_factor, self.total_iters
        return [base * (s + (e - s) * min(T, self.last_epoch) / T) for base in self.base_lrs]
