"""``mlp`` and ``cnn``: classifiers of the 8×8 handwritten digits (10 classes).

Data: :func:`tinygrad_opt.data.load_digits` (1,797 images, pixels scaled to [0, 1];
needs scikit-learn, the ``digits`` extra), split once by ``data_seed`` (whatever the
trial seed) into ``n_val`` validation images and the rest (1,437 by default) to train on.
Loss: mean cross-entropy. Metric: validation accuracy.

- ``mlp``: ``nn.MLP([64, hidden, hidden, 10])`` with ReLU (``hidden`` 64 by default).
- ``cnn``: ``Conv2d(1, c, 3, padding=1)`` → ReLU → ``MaxPool2d(2)`` →
  ``Conv2d(c, 2c, 3, padding=1)`` → ReLU → ``MaxPool2d(2)`` → ``Flatten`` →
  ``Linear(2c·2·2, 10)`` (``channels`` c = 8 by default), on (N, 1, 8, 8) images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt import nn
from tinygrad_opt.data import load_digits, train_test_split
from tinygrad_opt.workloads.arrays import array_trial
from tinygrad_opt.workloads.base import Trial, Workload, register_workload, seeded_rngs

__all__ = ["CNN", "MLP", "digits_split"]


def digits_split(
    n_val: int, data_seed: int, flatten: bool
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``((X_train, y_train), (X_val, y_val))``: the digits, ``n_val`` held out at
    random (``data_seed``); X flat (N, 64) or images (N, 1, 8, 8)."""
    X, y = load_digits(flatten=flatten)
    if not 0 < n_val < len(X):
        raise ValueError(f"n_val must be between 1 and {len(X) - 1}, got {n_val}")
    X_tr, X_val, y_tr, y_val = train_test_split(X, y, test_size=n_val, rng=data_seed)
    return (X_tr, y_tr), (X_val, y_val)


def _build_mlp(workload: Workload, seed: int) -> Trial:
    o = workload.options
    train, val = digits_split(o["n_val"], o["data_seed"], flatten=True)
    init_rng, batch_rng = seeded_rngs(seed, 2)
    h = o["hidden"]
    model = nn.MLP([64, h, h, 10], activation="relu", rng=init_rng)
    return array_trial(workload, model, nn.cross_entropy, train, val, batch_rng)


def small_cnn(channels: int, rng: Any) -> nn.Module:
    """The ``cnn`` workload's network for 8×8 single-channel images (module docstring)."""
    c = channels
    return nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c, 2 * c, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * c * 2 * 2, 10, rng=rng),
    )


def _build_cnn(workload: Workload, seed: int) -> Trial:
    o = workload.options
    train, val = digits_split(o["n_val"], o["data_seed"], flatten=False)
    init_rng, batch_rng = seeded_rngs(seed, 2)
    model = small_cnn(o["channels"], init_rng)
    return array_trial(workload, model, nn.cross_entropy, train, val, batch_rng)


MLP = register_workload(
    Workload(
        name="mlp",
        metric="val_accuracy",
        goal="max",
        target=0.975,
        max_steps=1000,
        eval_every=25,
        batch_size=64,
        seed=0,
        description="digits (8x8), MLP 64-64-64-10 with ReLU",
        default_optimizer="adam",
        default_hyperparameters={"lr": 0.01},
        options={"hidden": 64, "n_val": 360, "data_seed": 0},
        builder=_build_mlp,
    )
)

CNN = register_workload(
    Workload(
        name="cnn",
        metric="val_accuracy",
        goal="max",
        target=0.98,
        max_steps=1000,
        eval_every=25,
        batch_size=64,
        seed=0,
        description="digits (1x8x8), two 3x3 conv + max-pool blocks (8, 16 channels), linear",
        default_optimizer="adam",
        default_hyperparameters={"lr": 0.01},
        options={"channels": 8, "n_val": 360, "data_seed": 0},
        builder=_build_cnn,
    )
)
