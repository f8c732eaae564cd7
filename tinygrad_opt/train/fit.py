"""A small training loop: ``fit`` runs epochs of the plain loop and returns a history.

The loop it runs is the one every example writes out by hand::

    for X, y in loader:
        loss = loss_fn(model(Tensor(X)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

plus a tqdm progress bar (loss and metric), evaluation after each epoch, an optional
scheduler step per epoch, optional checkpoints that resume bit-identically, and
callbacks (objects whose methods ``fit`` calls at fixed points of the loop; see
:func:`fit` for the contract).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor, no_grad
from tinygrad_opt.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the label (one logit: sign vs 0/1 label)."""
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        predicted = (logits.reshape(-1) > 0).astype(labels.dtype)
        return float((predicted == labels.reshape(-1)).mean())
    return float((logits.argmax(axis=-1) == labels).mean())


def evaluate(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    loss_fn: Callable[[Tensor, Any], Tensor],
    metric: Callable[[np.ndarray, np.ndarray], float] | None = accuracy,
    batch_size: int = 1024,
    optimizer: Any = None,
) -> dict[str, float]:
    """Mean loss (and metric) of ``model`` on (X, y), in eval mode and without a graph.

    ``optimizer``: for a method whose tensors hold a look-ahead point rather than θ (the
    textbook Nesterov forms, which have ``at_theta()``), the model is evaluated at θ; for
    one with ``train()``/``eval()`` modes (Schedule-Free methods: the tensors hold the
    gradient point y while training, the average x in eval mode), the model is evaluated
    in eval mode and the optimizer is put back in train mode afterwards if it was in it.
    """
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    outputs, total = [], 0.0
    with no_grad(), evaluation_point(optimizer):
        for start in range(0, len(X), batch_size):
            out = model(Tensor(X[start : start + batch_size]))
            total += loss_fn(out, y[start : start + batch_size]).item() * len(out.data)
            outputs.append(out.data)
    if was_training and hasattr(model, "train"):
        model.train()
    result = {"loss": total / len(X)}
    if metric is not None:
        result[metric.__name__] = metric(np.concatenate(outputs), y)
    return result


@contextlib.contextmanager
def evaluation_point(optimizer: Any) -> Iterator[None]:
    """While inside, the parameters hold the point to evaluate rather than the point the
    optimizer computes its gradients at (see :func:`evaluate`): ``optimizer.at_theta()``
    for the textbook Nesterov forms, ``optimizer.eval()`` (then ``train()`` again, if it
    was in train mode) for Schedule-Free methods; nothing for any other optimizer or for
    ``None``."""
    switch = _has_train_eval_modes(optimizer) and _optimizer_training(optimizer)
    if switch:
        optimizer.eval()
    at_theta = getattr(optimizer, "at_theta", None)
    try:
        with at_theta() if at_theta is not None else contextlib.nullcontext():
            yield
    finally:
        if switch:
            optimizer.train()


def _has_train_eval_modes(optimizer: Any) -> bool:
    """Whether ``optimizer`` has ``train()`` and ``eval()`` modes: a method whose tensors
    hold a different point while training than the one to evaluate (Schedule-Free
    methods, ours and the ``schedulefree`` package's). Duck-typed."""
    return callable(getattr(optimizer, "train", None)) and callable(
        getattr(optimizer, "eval", None)
    )


def _optimizer_training(optimizer: Any) -> bool:
    """Whether an optimizer with modes is in train mode: its ``training`` attribute, else
    the ``train_mode`` entry of its first parameter group (where ``schedulefree`` keeps
    it), else True."""
    training = getattr(optimizer, "training", None)
    if training is None:
        groups = getattr(optimizer, "param_groups", None) or [{}]
        training = groups[0].get("train_mode", True)
    return bool(training)


def _closure(model: Any, optimizer: Any, loss_fn: Callable, X: np.ndarray, y: Any):
    """Re-evaluate the loss on this batch: what closure-based optimizers (L-BFGS) call."""

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = loss_fn(model(Tensor(X)), y)
        loss.backward()
        return loss

    return closure


@dataclass
class History:
    """Per-epoch numbers from :func:`fit`: ``history.train_loss[k]`` after epoch k+1.

    ``records``: series written by callbacks, ``name → list of entries`` (numbers, or
    tuples such as ``(step, value)``); saved in checkpoints with the rest.
    """

    train_loss: list[float] = field(default_factory=list)
    train_metric: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    records: dict[str, list[Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: list(v) for k, v in vars(self).items() if k != "records"}
        out["records"] = {name: list(entries) for name, entries in self.records.items()}
        return out


def _notify(callbacks: Sequence[Any], hook: str, *args: Any) -> None:
    """Call ``hook(*args)`` on every callback that defines it, in order."""
    for cb in callbacks:
        method = getattr(cb, hook, None)
        if method is not None:
            method(*args)


def fit(
    model: Any,
    optimizer: Any,
    loader: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    epochs: int,
    *,
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
    metric: Callable[[np.ndarray, np.ndarray], float] | None = accuracy,
    scheduler: Any = None,
    checkpoint: str | Path | None = None,
    resume: bool | str = False,
    progress: bool = True,
    history: History | None = None,
    callbacks: Sequence[Any] = (),
) -> History:
    """Train for ``epochs`` epochs over ``loader`` (batches of numpy ``(X, y)``).

    After each epoch: evaluate on ``val_data`` if given, step the ``scheduler`` (a
    ``ReduceLROnPlateau`` gets the validation loss), and save ``checkpoint`` if given.
    With ``resume=True`` training continues from ``checkpoint``; the result is
    bit-identical to an uninterrupted run of the same epochs. A missing checkpoint is then
    a :class:`~tinygrad_opt.train.CheckpointError` naming the path (nothing is trained);
    ``resume="if_present"`` resumes when the file exists and starts afresh otherwise (a
    preemptible job that reruns one command).

    ``callbacks``: objects with any of these methods (a missing one is skipped), each
    called on every callback in order:

    - ``on_train_begin(model, history)``: once, after a resume has restored ``history``;
    - ``on_step_end(step, model, loss)``: after every optimizer step; ``step`` counts the
      steps since the start of training (1, 2, …, continuing across resumes) and ``loss``
      is the batch loss (a float);
    - ``on_epoch_end(epoch, model, history)``: after each epoch's evaluation and scheduler
      step (``epoch`` counts from 1), before its checkpoint is written, so whatever a
      callback stores in ``history.records`` is saved and restored on resume;
    - ``on_train_end(model, history)``: once, after the last epoch.

    A resumed run stays bit-identical only if the callbacks change neither the model's
    parameters nor any random state the run uses.

    An optimizer with ``train()``/``eval()`` modes (Schedule-Free methods) is put in
    train mode before the first step, evaluated in eval mode (see :func:`evaluate`), and
    left in eval mode at the end, so the returned model holds the point to use (the
    average x); checkpoints are written in train mode. ``on_step_end`` and
    ``on_epoch_end`` see the training point.
    """
    import time

    from tqdm.auto import tqdm

    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    history = history or History()
    callbacks = list(callbacks)
    start_epoch = step = 0
    if resume not in (False, True, "if_present"):
        raise ValueError(f"resume must be True, False or 'if_present', got {resume!r}")
    if resume and checkpoint is None:
        raise ValueError(f"resume={resume!r} needs checkpoint= (the file to resume from)")
    if resume is True and not Path(checkpoint).exists():
        raise CheckpointError(
            f"resume=True but checkpoint {checkpoint} does not exist "
            "(pass resume='if_present' to start afresh when it is missing)"
        )
    if resume and Path(checkpoint).exists():
        info = load_checkpoint(checkpoint, model, optimizer, scheduler, loader)
        start_epoch, step = info["epoch"], info["step"]
        if step == 0 and start_epoch > 0:  # a checkpoint written before steps were saved
            step = start_epoch * len(loader)
        history = History(**info["extra"].get("history", {})) if info["extra"] else history
    _notify(callbacks, "on_train_begin", model, history)
    if hasattr(model, "train"):
        model.train()
    modes = _has_train_eval_modes(optimizer)
    if modes:
        optimizer.train()
    bar = tqdm(total=(epochs - start_epoch) * len(loader), disable=not progress, leave=False)
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            total, count, outputs, labels = 0.0, 0, [], []
            for X, y in loader:
                out = model(Tensor(X))
                loss = loss_fn(out, y)
                optimizer.zero_grad()
                loss.backward()
                if getattr(optimizer, "needs_closure", False):  # e.g. L-BFGS
                    optimizer.step(_closure(model, optimizer, loss_fn, X, y))
                else:
                    optimizer.step()
                step += 1
                if callbacks:
                    _notify(callbacks, "on_step_end", step, model, loss.item())
                total += loss.item() * len(X)
                count += len(X)
                if metric is not None:
                    outputs.append(out.data)
                    labels.append(y)
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.4f}", refresh=False)
            history.train_loss.append(total / max(count, 1))
            if metric is not None and outputs:
                history.train_metric.append(metric(np.concatenate(outputs), np.concatenate(labels)))
            if val_data is not None:
                scores = evaluate(model, *val_data, loss_fn, metric, optimizer=optimizer)
                history.val_loss.append(scores["loss"])
                if metric is not None:
                    history.val_metric.append(scores[metric.__name__])
                bar.set_postfix(epoch=epoch + 1, val_loss=f"{scores['loss']:.4f}", refresh=False)
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            if scheduler is not None:
                if type(scheduler).__name__ == "ReduceLROnPlateau":
                    scheduler.step(history.val_loss[-1] if val_data else history.train_loss[-1])
                else:
                    scheduler.step()
            history.seconds.append(time.perf_counter() - t0)
            _notify(callbacks, "on_epoch_end", epoch + 1, model, history)
            if checkpoint is not None:
                save_checkpoint(
                    checkpoint,
                    model,
                    optimizer,
                    scheduler,
                    loader,
                    step=step,
                    epoch=epoch + 1,
                    extra={"history": history.to_dict()},
                )
    finally:
        bar.close()
    if modes:
        optimizer.eval()
    _notify(callbacks, "on_train_end", model, history)
    return history
