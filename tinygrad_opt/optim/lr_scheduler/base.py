"""The scheduler base class :class:`LRScheduler` and the argument checks every schedule
shares (see the package docstring for the conventions)."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Iterable
from typing import Any

from tinygrad_opt.optim.optimizer import Optimizer


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
