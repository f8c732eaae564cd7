"""``run``: train one trial of a workload with one optimizer until its target (or budget).

The one training loop the benchmark and the notebooks use::

    from tinygrad_opt.workloads import get_workload, run
    result = run(get_workload("logreg"), "adam", {"lr": 0.02}, seed=0)
    result.steps_to_target, result.seconds_to_target, result.final_metric
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.train.fit import _has_train_eval_modes, evaluation_point
from tinygrad_opt.train.sophia import gnb_gradients
from tinygrad_opt.workloads.base import Trial, Workload

__all__ = ["RunResult", "run"]

OptimizerLike = str | Callable[[Trial], Any]


@dataclass
class RunResult:
    """What :func:`run` measured.

    - ``steps_to_target`` / ``seconds_to_target``: the first evaluation whose metric met
      the target (None if none did); seconds are training time only (see :func:`run`).
    - ``history``: ``(step, seconds, metric)`` per evaluation, starting with step 0
      (the initial model, 0 s).
    - ``losses``: the minibatch loss of every step taken.
    - ``final_metric``: the last evaluation's metric (NaN if it was not finite).
    - ``diverged``: a minibatch loss or the metric became non-finite (the run stopped).
    - ``steps`` / ``seconds``: steps taken and their training time.
    """

    workload: str
    optimizer: str
    hyperparameters: dict[str, Any]
    seed: int
    target: float
    steps_to_target: int | None = None
    seconds_to_target: float | None = None
    history: list[tuple[int, float, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    final_metric: float = math.nan
    diverged: bool = False
    steps: int = 0
    seconds: float = 0.0

    @property
    def reached(self) -> bool:
        """Whether the target was met."""
        return self.steps_to_target is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (history entries as lists)."""
        out = asdict(self)
        out["history"] = [list(h) for h in self.history]
        return out


def run(
    workload: Workload,
    optimizer: OptimizerLike,
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    max_steps: int | None = None,
    stop_at_target: bool = True,
    progress: bool = False,
    hessian_interval: int = 10,
) -> RunResult:
    """Train ``workload.setup(seed)`` with an optimizer; measure steps and time to target.

    ``optimizer``: a registered name (``optim.create(name, trial.parameters(),
    **hyperparameters)``) or a factory ``trial -> optimizer`` (any object with
    ``zero_grad()`` and ``step()``, e.g. one stepping Muon on the matrices and AdamW on
    the rest, from ``trial.named_parameters()``; ``hyperparameters`` are then only
    recorded). ``seed``: default ``workload.seed``;
    ``max_steps``: default ``workload.max_steps``.

    Each step: ``zero_grad``, :meth:`Trial.train_step`, ``step()``; an optimizer with
    ``needs_closure`` (L-BFGS, SAM, Sophia-H; the flag ``fit`` and the playground check)
    instead gets ``step(trial.closure())`` after :meth:`Trial.next_batch`, so it
    evaluates the minibatch itself. An optimizer fed a Hessian-diagonal estimate by the
    loop (one with ``update_hessian`` and no closure: Sophia-G) gets, after every
    ``hessian_interval``-th step, the Gauss-Newton-Bartlett estimate on that step's
    minibatch (:func:`tinygrad_opt.train.gnb_gradients` of :meth:`Trial.class_logits`,
    labels drawn from a generator seeded by ``seed``), the paper's k = 10 by default.
    Built by name, its ``bs`` hyperparameter B (unless given) is the number of labels
    sampled per estimate, :attr:`Trial.labels_per_batch` (the batch size, times the
    context for the language models), not the package's 5120; it is recorded in the
    result's ``hyperparameters``.

    Every ``workload.eval_every`` steps, and after the last step, the metric is measured
    on the validation split at the point to evaluate
    (:func:`tinygrad_opt.train.evaluation_point`: Schedule-Free's average, the textbook
    Nesterov's θ). The run stops at the first evaluation that meets the target (unless
    ``stop_at_target=False``), or when a loss or the metric is not finite (``diverged``).

    **Time counts training only**: the seconds are the sum of the steps' wall-clock
    times (minibatch, forward, backward, optimizer step, Sophia-G's estimate); building
    the trial and every evaluation are excluded, so evaluating more often does not change
    them.
    """
    seed = workload.seed if seed is None else seed
    steps = workload.max_steps if max_steps is None else max_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"max_steps must be an integer >= 0, got {max_steps!r}")
    hp = dict(hyperparameters or {})
    trial = workload.setup(seed)
    if isinstance(optimizer, str):
        cls, preset = optim.lookup(optimizer)
        if "bs" in getattr(cls, "hyperparameters", {}) and "bs" not in {**preset, **hp}:
            hp["bs"] = trial.labels_per_batch  # Sophia-G's B: the labels it samples per step
        opt = optim.create(optimizer, trial.parameters(), **hp)
        label = optimizer
    elif callable(optimizer):
        opt = optimizer(trial)
        label = getattr(optimizer, "__name__", type(opt).__name__)
    else:
        raise TypeError(f"optimizer must be a name or a factory, got {optimizer!r}")
    result = RunResult(workload.name, label, hp, int(seed), workload.target)
    if _has_train_eval_modes(opt):
        opt.train()
    needs_closure = getattr(opt, "needs_closure", False)
    feeds_hessian = not needs_closure and callable(getattr(opt, "update_hessian", None))
    if isinstance(hessian_interval, bool) or not isinstance(hessian_interval, int):
        raise ValueError(f"hessian_interval must be an integer >= 1, got {hessian_interval!r}")
    if hessian_interval < 1:
        raise ValueError(f"hessian_interval must be an integer >= 1, got {hessian_interval!r}")
    if feeds_hessian:
        label_rng = np.random.default_rng((int(seed), 0x50F1A))  # Sophia-G's sampled labels
        opt_params = [p for group in opt.param_groups for p in group["params"]]

    def evaluate(step: int) -> bool:
        """Record the metric; True when the run should stop."""
        with evaluation_point(opt):
            value = trial.evaluate()
        result.history.append((step, result.seconds, value))
        result.final_metric = value if math.isfinite(value) else math.nan
        if not math.isfinite(value):
            result.diverged = True
            return True
        if result.steps_to_target is None and workload.reached(value):
            result.steps_to_target, result.seconds_to_target = step, result.seconds
            return stop_at_target
        return False

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"{workload.name}/{label}", leave=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence: data
        try:
            if evaluate(0):
                return result
            for step in range(1, steps + 1):
                t0 = time.perf_counter()
                if needs_closure:
                    trial.next_batch()
                    loss = opt.step(trial.closure())
                    loss = float(loss) if loss is not None else math.nan
                else:
                    opt.zero_grad()
                    loss = trial.train_step()
                    opt.step()
                    if feeds_hessian and step % hessian_interval == 0:
                        logits = trial.class_logits()
                        opt.update_hessian(gnb_gradients(logits, opt_params, label_rng))
                result.seconds += time.perf_counter() - t0
                result.steps = step
                result.losses.append(loss)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if not math.isfinite(loss):
                    result.diverged, result.final_metric = True, math.nan
                    break
                if (step % workload.eval_every == 0 or step == steps) and evaluate(step):
                    break
        finally:
            if bar is not None:
                bar.close()
    return result
