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

from tinygrad_opt.optim.lr_scheduler.base import LRScheduler
from tinygrad_opt.optim.lr_scheduler.combining import ChainedScheduler, SequentialLR, with_warmup
from tinygrad_opt.optim.lr_scheduler.one_cycle import OneCycleLR
from tinygrad_opt.optim.lr_scheduler.plateau import ReduceLROnPlateau
from tinygrad_opt.optim.lr_scheduler.schedules import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiStepLR,
    StepLR,
)

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
