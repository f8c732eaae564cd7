"""``logreg``: binary logistic regression on a generated, badly scaled data set (convex).

Data (fixed, drawn from ``data_seed`` whatever the trial seed): ``n_features`` Gaussian
features whose standard deviations are spread log-evenly over [1, ``feature_scale``]
(a convex problem with condition number ~``feature_scale``², where per-coordinate step
sizes help), a true weight vector w* ~ N(0, I) divided by those scales, and labels drawn
from the model itself, y ~ Bernoulli(σ(x·w* + 0.5)), so the classes overlap and the best
validation loss is well above 0. ``n_train`` rows to train on, ``n_val`` to validate.

Model: one ``nn.Linear(n_features, 1)`` (torch's default initialisation, from the trial
seed); loss: mean binary cross-entropy of σ(logit). Metric: validation loss.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt import nn
from tinygrad_opt.nn.loss.binary import binary_cross_entropy_with_logits
from tinygrad_opt.ops.creation import zeros_like
from tinygrad_opt.ops.join import cat
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.workloads.arrays import array_trial
from tinygrad_opt.workloads.base import Trial, Workload, register_workload, seeded_rngs

__all__ = ["LOGREG", "make_logreg_data"]


def make_logreg_data(
    n_samples: int, n_features: int, feature_scale: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(X float32 (n, d), y float32 (n,) in {0, 1}) as described in the module docstring."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(0.0, np.log10(feature_scale), n_features)
    X = rng.standard_normal((n_samples, n_features)) * scales
    w = rng.standard_normal(n_features) / scales
    p = 1.0 / (1.0 + np.exp(-(X @ w + 0.5)))
    y = (rng.random(n_samples) < p).astype(np.float32)
    return X.astype(np.float32), y


def _loss(logits: Tensor, y: np.ndarray) -> Tensor:
    return binary_cross_entropy_with_logits(logits.reshape(-1), y)


def _two_class_logits(logit: Tensor) -> Tensor:
    """(B, 1) logit z → (B, 2) logits [0, z]: softmax gives [1 - σ(z), σ(z)]."""
    return cat([zeros_like(logit), logit], dim=-1)


def _build(workload: Workload, seed: int) -> Trial:
    o = workload.options
    n_train, n_val = o["n_train"], o["n_val"]
    X, y = make_logreg_data(n_train + n_val, o["n_features"], o["feature_scale"], o["data_seed"])
    init_rng, batch_rng = seeded_rngs(seed, 2)
    model = nn.Linear(o["n_features"], 1, rng=init_rng)
    train, val = (X[:n_train], y[:n_train]), (X[n_train:], y[n_train:])
    return array_trial(workload, model, _loss, train, val, batch_rng, _two_class_logits)


LOGREG = register_workload(
    Workload(
        name="logreg",
        metric="val_loss",
        goal="min",
        target=0.355,
        max_steps=500,
        eval_every=10,
        batch_size=64,
        seed=0,
        description="binary logistic regression, 20 badly scaled Gaussian features (convex)",
        default_optimizer="adam",
        default_hyperparameters={"lr": 0.02},
        options={
            "n_features": 20,
            "feature_scale": 10.0,
            "n_train": 2000,
            "n_val": 1000,
            "data_seed": 1234,
        },
        builder=_build,
    )
)
