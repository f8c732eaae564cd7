"""Learning-rate schedules, following ``torch.optim.lr_scheduler`` (torch 2.13) step for step.

A scheduler wraps an :class:`~tinygrad_opt.optim.optimizer.Optimizer` and rewrites each
parameter group's ``"lr"`` (and, for :class:`OneCycleLR`, its ``"momentum"`` or
``betas[0]``) every time its :meth:`~LRScheduler.step` is called. Call it *after*
``optimizer.step()``, once per epoch or per batch as the schedule intends::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = with_warmup(opt, CosineAnnealingLR(opt, T_max=95), warmup_steps=5)
    for epoch in range(100):
        train_one_epoch(opt)          # calls opt.step() many times
        sched.step()

Notation in the formulas below: t = ``last_epoch`` (the number of ``step()`` calls so
far; construction is step 0), η₀ = the group's ``initial_lr`` (``base_lrs``), η_t the lr
after step t. Every group is scheduled independently from its own η₀, so two groups with
different lrs keep their ratio under the multiplicative schedules.

Like torch, most schedules are computed *recursively* from the group's current lr
(``StepLR`` multiplies the current lr by γ at a milestone rather than recomputing
η₀·γ^k). That is what lets several schedulers act on the same optimizer at once
(:class:`ChainedScheduler`). Doing the same arithmetic in the same order, the sequences
here equal torch's bit for bit; the closed forms quoted in the docstrings agree with
them only to rounding (for the cosine, ~1e-13 relative after a few periods). The
closed forms are used where torch uses them: when :class:`SequentialLR` hands over to
the next scheduler at a milestone.

Checkpoints: ``state_dict()`` holds everything but the optimizer; to resume, build the
optimizer and the scheduler as before, then ``optimizer.load_state_dict(...)`` and
``scheduler.load_state_dict(...)`` (in that order: constructing a scheduler writes the
groups' lrs), and the schedule continues exactly where it stopped.
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import Optimizer
from tinygrad_opt.tensor import Tensor

__all__ = [
    "ChainedScheduler",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "with_warmup",
]


# --------------------------------------------------------------------------- validation
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check_positive_int(name: str, value: Any) -> None:
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_nonnegative_int(name: str, value: Any) -> None:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _check_number(name: str, value: Any, low: float, high: float = math.inf, *, how: str) -> None:
    """``Invalid <name>: <value> (<how>)`` unless value is a finite number in [low, high]."""
    if not _is_real(value) or not low <= value <= high:
        raise ValueError(f"Invalid {name}: {value!r} ({how})")


def _check_positive(name: str, value: Any) -> None:
    if not _is_real(value) or not value > 0:
        raise ValueError(f"Invalid {name}: {value!r} (must be a number > 0)")


def _check_last_epoch(value: Any) -> None:
    if not _is_int(value) or value < -1:
        raise ValueError(f"last_epoch must be an integer >= -1, got {value!r}")


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """A value for each parameter group: a list/tuple of the right length, or one value."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have one value per parameter group: got {len(value)} values "
                f"for {n} groups"
            )
        return list(value)
    return [value] * n


def _group_lrs(optimizer: Optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


def _as_list(owner: str, name: str, value: Any) -> list[Any]:
    """``list(value)``, with an error naming the argument if it is not iterable."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{owner}: {name} must be a list, got {type(value).__name__} {value!r}")
    return list(value)


# --------------------------------------------------------------------------- base class
class LRScheduler:
    """Base class: holds the optimizer, ``base_lrs`` and the step counter ``last_epoch``.

    On construction with ``last_epoch=-1`` it records each group's current lr as
    ``group["initial_lr"]`` (unless already there: a second scheduler on the same
    optimizer shares it), copies those into ``base_lrs``, and takes step 0, which sets
    the lrs the schedule prescribes before any training (e.g. ``LinearLR`` multiplies
    by its start factor). With ``last_epoch >= 0`` (resuming), the groups must already
    hold ``initial_lr``.

    Subclasses implement :meth:`get_lr` (the lrs for step ``last_epoch``, usually from the
    groups' current lrs) and, where one exists, ``_get_closed_form_lr`` (the same from
    ``base_lrs`` alone).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        _check_last_epoch(last_epoch)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param_groups[{i}] has no 'initial_lr', which resuming a schedule "
                        f"(last_epoch={last_epoch}) needs: load the optimizer's state_dict "
                        "saved with the schedule first, or start with last_epoch=-1"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step counter and take step 0 (in 'initial' mode, as torch does)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The lr of every group for step ``last_epoch`` (called by :meth:`step`).

        To read the current lrs, use :meth:`get_last_lr`.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr()")

    def get_last_lr(self) -> list[float]:
        """The lrs the last :meth:`step` set, one per parameter group (a new list)."""
        return list(self._last_lr)

    def _check_group_count(self) -> None:
        """Fail clearly when a group was added after construction (torch: a bare zip or
        KeyError). Schedules that only rescale the current lrs (StepLR, ...) do not call
        this: like torch's, they go on scheduling the new group too."""
        n, m = len(self.base_lrs), len(self.optimizer.param_groups)
        if n != m:
            raise ValueError(
                f"{type(self).__name__} was built for {n} parameter group(s), but the "
                f"optimizer now has {m} (a group added with add_param_group after the "
                "scheduler was built has no schedule); build the scheduler again"
            )

    def step(self) -> None:
        """Advance the schedule by one step and write the new lrs into the optimizer."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Set the lrs of step ``last_epoch + 1``, or of step ``epoch`` by the closed form.

        The ``epoch`` form is torch's (deprecated for users) ``step(epoch)``, which
        :class:`SequentialLR` uses to restart a scheduler at 0 at its milestone.
        """
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            if closed_form is not None:
                self._check_group_count()
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = _group_lrs(self.optimizer)

    # ----------------------------------------------------------------- checkpoints
    _exclude_from_state: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: every attribute except the optimizer (copied)."""
        return {
            key: copy.deepcopy(value)
            for key, value in self.__dict__.items()
            if key not in self._exclude_from_state
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (from a scheduler of the same class)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = sorted(
            k
            for k in self.__dict__
            if k not in self._exclude_from_state and k not in state_dict and not k.startswith("_")
        )
        if missing:
            raise ValueError(
                f"state_dict is missing {missing}; was it saved from a {type(self).__name__}?"
            )
        unexpected = sorted(
            k
            for k in state_dict
            if k not in self.__dict__
            and k not in self._exclude_from_state
            and not k.startswith("_")
        )
        if unexpected:
            raise ValueError(
                f"state_dict has entries a {type(self).__name__} does not: {unexpected}; was "
                "it saved from a different scheduler (or one built with other options)?"
            )
        for key in ("base_lrs", "min_lrs"):
            if key in state_dict and len(state_dict[key]) != len(self.optimizer.param_groups):
                raise ValueError(
                    f"state_dict has {len(state_dict[key])} {key}, the optimizer has "
                    f"{len(self.optimizer.param_groups)} parameter groups"
                )
        self.__dict__.update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        step = getattr(self, "last_epoch", None)
        return f"{type(self).__name__}(last_epoch={step}, lr={self.get_last_lr()})"


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


# --------------------------------------------------------------------------- combining
def _check_schedulers(owner: str, schedulers: Sequence[Any], optimizer: Optimizer) -> None:
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{owner}: the scheduler at index {i} is a {type(s).__name__}")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{owner} does not support ReduceLROnPlateau (index {i}): its step() needs a metric"
            )
        if s.optimizer is not optimizer:
            raise ValueError(
                f"{owner} expects all schedulers to belong to the same optimizer, but the "
                f"{type(s).__name__} at index {i} has a different one"
            )


class _Composite(LRScheduler):
    """State handling shared by SequentialLR and ChainedScheduler (nested state dicts)."""

    _exclude_from_state = ("optimizer", "_schedulers")
    _schedulers: list[LRScheduler]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        inner = state.pop("_schedulers", None)
        if inner is None or len(inner) != len(self._schedulers):
            raise ValueError(
                f"state_dict holds {'no' if inner is None else len(inner)} scheduler states, "
                f"this {type(self).__name__} has {len(self._schedulers)} schedulers"
            )
        super().load_state_dict(state)
        for s, s_state in zip(self._schedulers, inner):
            s.load_state_dict(s_state)


class SequentialLR(_Composite):
    r"""Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``, and so on.

    At milestone m_k, scheduler k+1 restarts from its step 0 (by its closed form where it
    has one) and then steps on by itself; before that, only the active scheduler steps.
    Construction resets every group's lr to ``initial_lr`` and takes step 0 of the first
    scheduler (undoing the step 0 the others took when they were built). ``milestones``
    must be positive and strictly increasing, one fewer than the schedulers. Only the
    first scheduler may be a SequentialLR or ChainedScheduler: one that takes over at a
    milestone must restart from step 0, which these cannot (torch accepts them and
    fails at the milestone with NotImplementedError; here construction raises).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        schedulers = _as_list("SequentialLR", "schedulers", schedulers)
        milestones = _as_list("SequentialLR", "milestones", milestones)
        if not schedulers:
            raise ValueError("SequentialLR expects at least one scheduler, got none")
        _check_schedulers("SequentialLR", schedulers, optimizer)
        for i, s in enumerate(schedulers[1:], start=1):
            if isinstance(s, _Composite):
                raise ValueError(
                    f"SequentialLR cannot hand over to the {type(s).__name__} at index {i}: "
                    "at its milestone it restarts that scheduler from step 0, which a "
                    f"{type(s).__name__} cannot do (torch fails there with "
                    "NotImplementedError); put it first, or list its schedulers instead"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR expects one milestone fewer than schedulers, got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        for i, m in enumerate(milestones):
            if not _is_int(m) or m <= 0 or (i and m <= milestones[i - 1]):
                raise ValueError(
                    f"milestones must be positive, strictly increasing integers, got {milestones}"
                )
        _check_last_epoch(last_epoch)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._recursive_undo()
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _recursive_undo(self, sched: Any = None) -> None:
        """Take back the step 0 each scheduler (and nested ones) took when built."""
        sched = self if sched is None else sched
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self._recursive_undo(s)
        elif hasattr(sched, "last_epoch"):
            sched.last_epoch -= 1

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    r"""Step several schedulers together: each ``step()`` steps every one, in order.

    Their effects compose because the schedules are recursive: e.g. ExponentialLR(γ)
    chained with a StepLR(γ') gives η_t = η₀·γᵗ·γ'^⌊t/s⌋.
    """

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        if isinstance(schedulers, LRScheduler):
            raise TypeError(
                f"ChainedScheduler expects a list of schedulers, got a single "
                f"{type(schedulers).__name__}"
            )
        schedulers = _as_list("ChainedScheduler", "schedulers", schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_lrs(optimizer)

    def step(self) -> None:
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_lrs(self.optimizer)


def with_warmup(
    optimizer: Optimizer,
    scheduler: LRScheduler | None = None,
    warmup_steps: int = 5,
    start_factor: float = 0.1,
) -> LRScheduler:
    r"""Linear warm-up for ``warmup_steps`` steps, then ``scheduler`` (or a constant lr).

    The lr rises linearly from η₀·``start_factor`` at step 0 to η₀ at step
    ``warmup_steps``, where ``scheduler`` starts from its own step 0. It is
    ``SequentialLR(optimizer, [LinearLR(optimizer, start_factor, 1.0, warmup_steps),
    scheduler], milestones=[warmup_steps])``; without a scheduler, just the LinearLR.
    Build ``scheduler`` on the same optimizer first, e.g.
    ``with_warmup(opt, CosineAnnealingLR(opt, T_max=95), warmup_steps=5)``.
    """
    _check_positive_int("warmup_steps", warmup_steps)
    if scheduler is not None:
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"scheduler must be an LRScheduler, got {type(scheduler).__name__}")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError("with_warmup cannot chain into ReduceLROnPlateau (it needs a metric)")
        if scheduler.optimizer is not optimizer:
            raise ValueError("with_warmup: the scheduler belongs to a different optimizer")
    warm = LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps)
    if scheduler is None:
        return warm
    return SequentialLR(optimizer, [warm, scheduler], milestones=[warmup_steps])
