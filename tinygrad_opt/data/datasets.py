"""Synthetic datasets and splitting, seeded with ``numpy.random.Generator``.

Each generator returns ``(X, y)``: ``X`` a float array of shape (n_samples, n_features)
(float32 unless ``dtype`` says otherwise), ``y`` an int64 array of class labels.
``rng`` is an int seed, a Generator (advanced in place) or None (fresh OS entropy).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.tensor import ShapeError

__all__ = ["make_moons", "train_test_split"]

RngLike = np.random.Generator | int | None


def make_moons(
    n_samples: int | tuple[int, int] = 100,
    noise: float | None = 0.1,
    rng: RngLike = None,
    shuffle: bool = True,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, the geometry of scikit-learn's ``make_moons``.

    With t evenly spaced in [0, π]: class 0 (outer moon) is (cos t, sin t); class 1 (inner
    moon) is (1 - cos t, 1 - sin t - 0.5). ``n_samples`` is the total (the outer moon gets
    ``n // 2``) or a pair (n_outer, n_inner). The points are shuffled (if ``shuffle``),
    then Gaussian noise with standard deviation ``noise`` is added to every coordinate.
    ``X`` is computed in float64 and returned as ``dtype``, float32 by default to match the
    library's default tensor dtype (scikit-learn returns float64).
    """
    if isinstance(n_samples, (tuple, list)):
        n_out, n_in = (int(n) for n in n_samples)
    else:
        n_out = int(n_samples) // 2
        n_in = int(n_samples) - n_out
    if n_out < 0 or n_in < 0:
        raise ValueError(f"make_moons: n_samples must be non-negative, got {n_samples}")
    if noise is not None and noise < 0:
        raise ValueError(f"make_moons: noise must be >= 0, got {noise}")
    gen = np.random.default_rng(rng)
    t_out = np.linspace(0.0, math.pi, n_out)
    t_in = np.linspace(0.0, math.pi, n_in)
    X = np.empty((n_out + n_in, 2))
    X[:n_out, 0], X[:n_out, 1] = np.cos(t_out), np.sin(t_out)
    X[n_out:, 0], X[n_out:, 1] = 1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    if shuffle:
        order = gen.permutation(len(y))
        X, y = X[order], y[order]
    if noise:
        X += gen.normal(0.0, noise, size=X.shape)
    return X.astype(dtype, copy=False), y


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float | int = 0.25,
    rng: RngLike = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into ``(X_train, X_test, y_train, y_test)``, in scikit-learn's order.

    ``test_size`` is a fraction in (0, 1) (the test set gets ceil(fraction·n) rows) or a
    row count. Rows are permuted with ``rng`` first unless ``shuffle=False``, in which case
    the last rows form the test set.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise ShapeError(
            f"train_test_split: X has {n} rows (shape {X.shape}) but y has {len(y)} "
            f"(shape {y.shape})"
        )
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"train_test_split: a fractional test_size must be in (0, 1), got {test_size}"
            )
        n_test = math.ceil(test_size * n)
    else:
        n_test = int(test_size)
    if not 0 <= n_test <= n:
        raise ValueError(f"train_test_split: test_size {test_size} does not fit {n} rows")
    order = np.random.default_rng(rng).permutation(n) if shuffle else np.arange(n)
    train, test = order[: n - n_test], order[n - n_test :]
    return X[train], X[test], y[train], y[test]
