"""Schedules in sequence or chained, and ``with_warmup``."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from tinygrad_opt.optim.lr_scheduler.base import (
    LRScheduler,
    _as_list,
    _check_last_epoch,
    _check_positive_int,
    _group_lrs,
    _is_int,
)
from tinygrad_opt.optim.lr_scheduler.plateau import ReduceLROnPlateau
from tinygrad_opt.optim.lr_scheduler.schedules import LinearLR
from tinygrad_opt.optim.optimizer import Optimizer


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
