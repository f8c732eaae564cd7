"""The workload protocol: a :class:`Workload` (a named problem with a fixed target) builds
:class:`Trial` s (a fresh model and data stream for one seed) that a training loop drives.

::

    wl = get_workload("logreg")          # or get_workload("mlp", max_steps=500)
    trial = wl.setup(seed=0)
    opt = optim.create("adam", trial.parameters(), lr=0.05)
    for step in range(wl.max_steps):
        opt.zero_grad()
        trial.train_step()               # next minibatch: forward + backward
        opt.step()
        if (step + 1) % wl.eval_every == 0 and wl.reached(trial.evaluate()):
            break

:func:`tinygrad_opt.workloads.run` is that loop with timing, closures and divergence
handled. A workload is registered once by its module (:func:`register_workload`) and
fetched by name with :func:`get_workload`, which also applies overrides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import no_grad
from tinygrad_opt.tensor import Tensor

__all__ = [
    "Trial",
    "Workload",
    "available_workloads",
    "get_workload",
    "register_workload",
]

METRICS = ("val_loss", "val_accuracy")
GOALS = ("min", "max")
# the fields of Workload that get_workload accepts as overrides (the rest describe it)
FIELD_OVERRIDES = ("target", "max_steps", "eval_every", "batch_size", "seed")

Batch = tuple[Any, Any]


class Trial:
    """One training run's state: a model, its minibatch stream and its validation metric.

    Built by :meth:`Workload.setup`; everything it draws (initial weights, minibatch
    order) comes from the seed, so two trials of one seed give the same losses.

    - :meth:`train_step` draws the **next** minibatch, makes it the current one, runs the
      forward and backward passes and returns the loss. Gradients are *accumulated* into
      ``p.grad`` (as ``loss.backward()`` does): zero them before (``optimizer.zero_grad()``).
    - :meth:`closure` returns a function that re-evaluates the **current** minibatch (the
      one the last :meth:`train_step` or :meth:`next_batch` drew) at the current
      parameters: it sets every parameter's ``grad`` to None, runs forward and backward,
      and returns the loss as a Tensor carrying its graph (``float(loss)`` is the number;
      Sophia-H takes Hessian-vector products through the graph). Call it as often as the
      optimizer likes (L-BFGS's line search, SAM's two passes): it never advances the
      stream. For a closure optimizer draw the batch with :meth:`next_batch` and let
      ``optimizer.step(trial.closure())`` do the evaluating, so the batch is not computed
      twice.
    - :meth:`evaluate` is the workload's metric on the whole validation split (model in
      eval mode, no graph).
    - :meth:`class_logits` gives the current minibatch's logits over classes with their
      graph, for estimators that sample labels from the model (Sophia-G's
      Gauss-Newton-Bartlett estimate; :func:`run` feeds Sophia-G with it).
    """

    def __init__(
        self,
        model: Any,
        sampler: Callable[[], Batch],
        loss_fn: Callable[[Any, Any, Any], Tensor],
        evaluate_fn: Callable[[Any], float],
        logits_fn: Callable[[Any, Any], Tensor] | None = None,
        labels_per_batch: int | None = None,
    ) -> None:
        """``sampler()`` → the next (inputs, targets) minibatch; ``loss_fn(model, inputs,
        targets)`` → the mean loss Tensor; ``evaluate_fn(model)`` → the metric (called
        under ``no_grad`` with the model in eval mode); ``logits_fn(model, inputs)`` →
        logits (..., classes) whose softmax is the model's predicted distribution (None:
        :meth:`class_logits` is unavailable); ``labels_per_batch``: the rows of labels in
        a minibatch (examples, or windows × context for a language model)."""
        self.model = model
        self._sampler = sampler
        self._loss_fn = loss_fn
        self._evaluate_fn = evaluate_fn
        self._logits_fn = logits_fn
        self.labels_per_batch = labels_per_batch
        self._batch: Batch | None = None
        self.steps = 0  # minibatches drawn so far

    def parameters(self) -> list[Tensor]:
        """The tensors the optimizer updates, in a fixed order."""
        return list(self.model.parameters())

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """``(name, tensor)`` pairs (for :func:`~tinygrad_opt.optim.split_muon_params` and
        per-name parameter groups)."""
        return list(self.model.named_parameters())

    def next_batch(self) -> None:
        """Draw the next minibatch and make it the current one (no computation)."""
        self._batch = self._sampler()
        self.steps += 1

    def loss(self) -> Tensor:
        """The mean loss on the current minibatch, with its graph (no backward)."""
        if self._batch is None:
            raise RuntimeError("Trial: no minibatch yet; call train_step() or next_batch()")
        if hasattr(self.model, "train"):
            self.model.train()
        return self._loss_fn(self.model, *self._batch)

    def class_logits(self) -> Tensor:
        """Logits (..., classes) of the current minibatch, with their graph: softmax of
        a row is the model's distribution over that row's label."""
        if self._logits_fn is None:
            raise NotImplementedError("this trial has no class logits (no logits_fn given)")
        if self._batch is None:
            raise RuntimeError("Trial: no minibatch yet; call train_step() or next_batch()")
        if hasattr(self.model, "train"):
            self.model.train()
        return self._logits_fn(self.model, self._batch[0])

    def train_step(self) -> float:
        """Next minibatch: forward, backward (gradients added to ``p.grad``); the loss."""
        self.next_batch()
        loss = self.loss()
        loss.backward()
        return loss.item()

    def closure(self) -> Callable[[], Tensor]:
        """A function re-evaluating the current minibatch: grads set to None, forward,
        backward; returns the loss Tensor (see the class docstring)."""
        params = self.parameters()

        def closure() -> Tensor:
            for p in params:
                p.grad = None
            loss = self.loss()
            loss.backward()
            return loss

        return closure

    def evaluate(self) -> float:
        """The workload's metric on the validation split."""
        was_training = getattr(self.model, "training", True)
        if hasattr(self.model, "eval"):
            self.model.eval()
        try:
            with no_grad():
                return float(self._evaluate_fn(self.model))
        finally:
            if was_training and hasattr(self.model, "train"):
                self.model.train()


@dataclass(frozen=True)
class Workload:
    """A named training problem with a fixed target.

    ``metric`` is ``"val_loss"`` or ``"val_accuracy"`` (measured by
    :meth:`Trial.evaluate`); ``goal`` says which way is better (``"min"``: the target is
    reached when the metric is <= ``target``; ``"max"``: >=). ``max_steps`` is the step
    budget, ``eval_every`` the steps between evaluations, ``batch_size`` the minibatch
    size and ``seed`` the default seed of :meth:`setup`. ``default_optimizer`` and
    ``default_hyperparameters`` reach the target within ``max_steps`` (docs/workloads.md
    has the measurements). ``options`` are the workload's own knobs (model sizes, data
    sizes), overridable by name through :func:`get_workload`.
    """

    name: str
    metric: str
    goal: str
    target: float
    max_steps: int
    eval_every: int
    batch_size: int
    seed: int
    description: str = ""
    default_optimizer: str = "adam"
    default_hyperparameters: dict[str, Any] = field(default_factory=dict, hash=False)
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    builder: Callable[[Workload, int], Trial] | None = field(
        default=None, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"Workload {self.name!r}: metric must be one of {METRICS}, "
                             f"got {self.metric!r}")  # fmt: skip
        if self.goal not in GOALS:
            raise ValueError(f"Workload {self.name!r}: goal must be 'min' or 'max', got "
                             f"{self.goal!r}")  # fmt: skip
        t = self.target
        if (
            isinstance(t, bool)
            or not isinstance(t, (int, float, np.number))
            or t != t
            or abs(t) == float("inf")
        ):
            raise ValueError(f"Workload {self.name!r}: target must be a finite number, got {t!r}")
        for key in ("max_steps", "eval_every", "batch_size"):
            _check_int(self.name, key, getattr(self, key), 1)
        _check_int(self.name, "seed", self.seed, 0)

    def setup(self, seed: int | None = None) -> Trial:
        """A fresh model and data stream; the same ``seed`` (default ``self.seed``) gives
        the same initial weights and minibatch order."""
        seed = self.seed if seed is None else seed
        _check_int(self.name, "seed", seed, 0)
        if self.builder is None:
            raise RuntimeError(f"Workload {self.name!r} has no builder")
        return self.builder(self, int(seed))

    def reached(self, value: float) -> bool:
        """Whether ``value`` of the metric meets the target (False for NaN)."""
        value = float(value)
        return value <= self.target if self.goal == "min" else value >= self.target

    def to_dict(self) -> dict[str, Any]:
        """Every field but the builder, JSON-ready (what a results file records)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del out["builder"]
        out["default_hyperparameters"] = dict(self.default_hyperparameters)
        out["options"] = dict(self.options)
        return out

    def better(self, a: float, b: float) -> bool:
        """Whether metric value ``a`` is strictly better than ``b`` (NaN never is)."""
        return a < b if self.goal == "min" else a > b


def _check_int(name: str, key: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Workload {name!r}: {key} must be an integer >= {low}, got {value!r}")


_REGISTRY: dict[str, Workload] = {}


def register_workload(workload: Workload) -> Workload:
    """Make ``workload`` available to :func:`get_workload` under its name."""
    _REGISTRY[workload.name] = workload
    return workload


BUILTIN_ORDER = ("logreg", "mlp", "cnn", "transformer", "lstm")  # smallest first


def available_workloads() -> list[str]:
    """Names accepted by :func:`get_workload`: the built-in ones smallest first, then
    any registered later."""
    _load_builtin()
    builtin = [n for n in BUILTIN_ORDER if n in _REGISTRY]
    return builtin + [n for n in _REGISTRY if n not in BUILTIN_ORDER]


def get_workload(name: str, **overrides: Any) -> Workload:
    """The workload called ``name``, with ``overrides`` applied.

    An override is one of ``target``, ``max_steps``, ``eval_every``, ``batch_size``,
    ``seed``, or one of the workload's ``options`` (e.g. ``d_model`` for the
    transformer): ``get_workload("transformer", max_steps=100, d_model=32)``. An unknown
    name or override is a ValueError naming it and listing the accepted ones.
    """
    _load_builtin()
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown workload {name!r}; available: {', '.join(available_workloads())}"
        )
    base = _REGISTRY[name]
    fields: dict[str, Any] = {}
    options = dict(base.options)
    for key, value in overrides.items():
        if key in FIELD_OVERRIDES:
            fields[key] = value
        elif key in options:
            expected = type(base.options[key])
            if expected is float and isinstance(value, (int, np.integer)):
                value = float(value)
            if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
                raise ValueError(
                    f"workload {name!r}: option {key} must be {expected.__name__}, got {value!r}"
                )
            options[key] = value
        else:
            accepted = ", ".join((*FIELD_OVERRIDES, *options))
            raise ValueError(f"workload {name!r} has no setting {key!r}; accepted: {accepted}")
    target = fields.get("target")
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        fields["target"] = float(target)
    hp = dict(base.default_hyperparameters)  # copies: the registered workload stays as is
    return dataclasses.replace(base, options=options, default_hyperparameters=hp, **fields)


def _load_builtin() -> None:
    """Import the built-in workloads' modules (each registers itself on import)."""
    import tinygrad_opt.workloads  # noqa: F401


def seeded_rngs(seed: int, n: int) -> Iterator[np.random.Generator]:
    """``n`` independent generators for one trial seed (weights, minibatches, ...)."""
    for child in np.random.SeedSequence(seed).spawn(n):
        yield np.random.default_rng(child)
