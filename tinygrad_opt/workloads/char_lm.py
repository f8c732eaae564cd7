"""``transformer`` and ``lstm``: character-level language models of a shipped text.

Data: ``tinygrad_opt.data.load_text(text)`` (default ``"fables"``: 38.6 kB of original
public-domain fables shipped in the package, 71 distinct characters), encoded with a
:class:`~tinygrad_opt.data.CharVocab` of the whole text and split contiguously, the
first 90% to train on and the last 10% to validate (``val_fraction``). A minibatch is
``batch_size`` random windows of ``context`` characters (a
:class:`~tinygrad_opt.data.WindowSampler` seeded by the trial seed); the target of every
position is the next character. Loss: mean next-character cross-entropy
(:func:`~tinygrad_opt.models.lm_loss`, nats per character). Metric: the same loss over
the whole validation text in non-overlapping windows
(:func:`~tinygrad_opt.data.sequential_windows`). No dropout, so a seed fixes the run.

- ``transformer``: :class:`~tinygrad_opt.models.CharTransformerLM` (GPT-style, pre-norm,
  causal; ``d_model`` 64, ``nhead`` 4, ``num_layers`` 2, feed-forward 4·d_model,
  ``context`` 64, tanh-GELU).
- ``lstm``: :class:`~tinygrad_opt.models.CharLSTMLM` (``embedding_dim`` 32,
  ``hidden_size`` 128, ``num_layers`` 2, ``context`` 64).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.data import (
    CharVocab,
    WindowSampler,
    load_text,
    sequential_windows,
    train_val_split,
)
from tinygrad_opt.models import CharLSTMLM, CharTransformerLM, lm_loss
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.workloads.base import Trial, Workload, register_workload, seeded_rngs

__all__ = ["LSTM", "TRANSFORMER", "text_split"]

EVAL_BATCH = 64  # validation windows per forward pass


@functools.lru_cache(maxsize=4)
def text_split(text: str, val_fraction: float) -> tuple[int, np.ndarray, np.ndarray]:
    """``(vocab_size, train_ids, val_ids)`` of a shipped text (read once, cached)."""
    chars = load_text(text)
    vocab = CharVocab(chars)
    train, val = train_val_split(vocab.encode(chars), val_fraction)
    train.setflags(write=False)
    val.setflags(write=False)
    return len(vocab), train, val


def _lm_trial(
    workload: Workload, seed: int, make_model: Callable[[int, np.random.Generator], Any]
) -> Trial:
    o = workload.options
    vocab_size, train_ids, val_ids = text_split(o["text"], o["val_fraction"])
    context = o["context"]
    if len(val_ids) < context + 1:
        raise ValueError(
            f"workload {workload.name!r}: the validation text ({len(val_ids)} characters) "
            f"is shorter than one window of context {context}; raise val_fraction"
        )
    init_rng, batch_rng = seeded_rngs(seed, 2)
    model = make_model(vocab_size, init_rng)
    sampler = WindowSampler(train_ids, context, workload.batch_size, rng=batch_rng)

    def logits(m: Any, x: Tensor) -> Tensor:
        out = m(x)
        return out[0] if isinstance(out, tuple) else out  # the LSTM also returns its state

    def loss_fn(m: Any, x: Tensor, y: Tensor) -> Tensor:
        return lm_loss(logits(m, x), y)

    def evaluate(m: Any) -> float:
        total, count = 0.0, 0
        for x, y in sequential_windows(val_ids, context, EVAL_BATCH):
            total += lm_loss(logits(m, x), y).item() * y.data.size
            count += y.data.size
        return total / count

    rows = workload.batch_size * context
    return Trial(model, sampler.sample, loss_fn, evaluate, logits, rows)


def _build_transformer(workload: Workload, seed: int) -> Trial:
    o = workload.options

    def make(vocab_size: int, rng: np.random.Generator) -> CharTransformerLM:
        return CharTransformerLM(
            vocab_size, o["d_model"], o["nhead"], o["num_layers"], o["context"], rng=rng
        )

    return _lm_trial(workload, seed, make)


def _build_lstm(workload: Workload, seed: int) -> Trial:
    o = workload.options

    def make(vocab_size: int, rng: np.random.Generator) -> CharLSTMLM:
        return CharLSTMLM(
            vocab_size, o["embedding_dim"], o["hidden_size"], o["num_layers"], rng=rng
        )

    return _lm_trial(workload, seed, make)


_TEXT = {"text": "fables", "val_fraction": 0.1}

TRANSFORMER = register_workload(
    Workload(
        name="transformer",
        metric="val_loss",
        goal="min",
        target=1.95,
        max_steps=800,
        eval_every=25,
        batch_size=32,
        seed=0,
        description="character transformer LM (d_model 64, 4 heads, 2 layers, context 64) "
        "on the fables",
        default_optimizer="adam",
        default_hyperparameters={"lr": 0.01},
        options={"d_model": 64, "nhead": 4, "num_layers": 2, "context": 64, **_TEXT},
        builder=_build_transformer,
    )
)

LSTM = register_workload(
    Workload(
        name="lstm",
        metric="val_loss",
        goal="min",
        target=1.90,
        max_steps=800,
        eval_every=25,
        batch_size=32,
        seed=0,
        description="2-layer character LSTM LM (embedding 32, hidden 128, context 64) "
        "on the fables",
        default_optimizer="adam",
        default_hyperparameters={"lr": 0.01},
        options={
            "embedding_dim": 32,
            "hidden_size": 128,
            "num_layers": 2,
            "context": 64,
            **_TEXT,
        },
        builder=_build_lstm,
    )
)
