"""More synthetic datasets, generated on the spot: spirals, Gaussian blobs, linear regression.

Conventions (the same as :func:`~tinygrad_opt.data.make_moons`):

* ``rng`` is an int seed, a ``numpy.random.Generator`` (advanced in place, so successive
  calls with one Generator give different data) or None (fresh OS entropy);
  it goes through ``numpy.random.default_rng``.
* Everything is computed in float64 and ``X`` is returned as ``dtype``, float32 by default
  (the library's default tensor dtype). Class labels are int64.
* Nothing is downloaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.data._validate import RngLike, check_int, check_nonneg

__all__ = ["make_spirals", "make_blobs", "make_regression"]


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    rng: RngLike = None,
    *,
    shuffle: bool = True,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in 2-D, one per class (the CS231n "spiral" toy dataset).

    ``n_samples`` points are split as evenly as possible over ``n_classes`` arms (the first
    ``n_samples % n_classes`` arms get one extra). Arm ``k`` with ``m`` points has, for
    ``i = 0 .. m-1``::

        r_i = i / (m - 1)                               # radius, evenly spaced in [0, 1]
        t_i = 4 r_i + 2πk / K + noise · ε_i,  ε_i ~ N(0, 1)   # angle in radians
        x_i = (r_i sin t_i,  r_i cos t_i),    y_i = k

    so every arm sweeps 4 radians outwards from the origin and the K arms start 2π/K
    apart. The noise is on the *angle*, as in CS231n, so it grows with the radius
    (points near the centre barely move). CS231n's notes start arm k at 4k radians
    instead of 2πk/K; for K = 3 the picture is nearly the same, and evenly spaced
    starts keep any number of arms symmetric. Rows are shuffled unless ``shuffle=False``
    (then they are ordered by class and radius).

    Returns ``(X, y)``: ``X`` (n_samples, 2) of ``dtype``, ``y`` (n_samples,) int64 in
    ``[0, n_classes)``.
    """
    fn = "make_spirals"
    n = check_int(fn, "n_samples", n_samples, 1)
    k = check_int(fn, "n_classes", n_classes, 1)
    noise = check_nonneg(fn, "noise", noise)
    if n < k:
        raise ValueError(f"{fn}: n_samples ({n}) must be at least n_classes ({k})")
    gen = np.random.default_rng(rng)
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    # radius i/(m-1) within each arm, vectorised over arms: position in arm / (arm size - 1)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.arange(n) - starts
    r = pos / np.maximum(counts[y] - 1, 1)
    t = 4.0 * r + 2.0 * math.pi * y / k + noise * gen.standard_normal(n)
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    if shuffle:
        order = gen.permutation(n)
        X, y = X[order], y[order]
    return X.astype(dtype, copy=False), y


def make_blobs(
    n_samples: int = 100,
    centers: int | np.ndarray | Sequence[Sequence[float]] = 3,
    cluster_std: float | Sequence[float] | np.ndarray = 1.0,
    n_features: int | None = None,
    rng: RngLike = None,
    *,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    return_centers: bool = False,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, ...]:
    """Isotropic Gaussian clusters, as scikit-learn's ``make_blobs``.

    ``centers`` is either a count K, in which case the K centres are drawn uniformly from
    the box ``center_box`` in ``n_features`` dimensions (2 if None), or a (K, d) array of
    centres (then ``n_features`` must be None or d). ``n_samples`` points are split as
    evenly as possible over the clusters (the first ``n_samples % K`` get one extra), and
    a point of cluster k is::

        x = c_k + σ_k ε,   ε ~ N(0, I_d),   y = k

    with ``σ_k = cluster_std`` (a scalar, or one value per cluster). Rows are shuffled
    unless ``shuffle=False`` (then ordered by cluster).

    Returns ``(X, y)``, or ``(X, y, centers)`` with ``return_centers=True`` (centres as a
    float64 (K, d) array): ``X`` (n_samples, d) of ``dtype``, ``y`` (n_samples,) int64.
    """
    fn = "make_blobs"
    n = check_int(fn, "n_samples", n_samples, 1)
    if n_features is not None:
        n_features = check_int(fn, "n_features", n_features, 1)
    gen = np.random.default_rng(rng)

    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = check_int(fn, "centers", centers, 1)
        d = 2 if n_features is None else n_features
        lo, hi = (float(b) for b in center_box)
        if not lo <= hi:
            raise ValueError(
                f"{fn}: center_box must be (low, high) with low <= high, got {center_box}"
            )
        C = gen.uniform(lo, hi, size=(k, d))
    else:
        C = np.array(centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] == 0:
            raise ValueError(
                f"{fn}: centers must be a count or a non-empty (n_centers, n_features) array, "
                f"got shape {C.shape}"
            )
        k, d = C.shape
        if n_features is not None and n_features != d:
            raise ValueError(
                f"{fn}: n_features={n_features} but the centers array has {d} columns "
                f"(shape {C.shape}); leave n_features as None"
            )

    std = np.asarray(cluster_std, dtype=np.float64)
    if std.ndim == 0:
        std = np.full(k, float(std))
    elif std.shape != (k,):
        raise ValueError(
            f"{fn}: cluster_std must be a scalar or have one value per center ({k}), "
            f"got shape {std.shape}"
        )
    if not np.all(np.isfinite(std)) or np.any(std < 0):
        raise ValueError(f"{fn}: cluster_std must be finite and >= 0, got {cluster_std!r}")
    if n < k:
        raise ValueError(f"{fn}: n_samples ({n}) must be at least the number of centers ({k})")

    counts = np.full(k, n // k)
    counts[: n % k] += 1
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    X = C[y] + std[y, None] * gen.standard_normal((n, d))
    if shuffle:
        order = gen.permutation(n)
        X, y = X[order], y[order]
    X = X.astype(dtype, copy=False)
    return (X, y, C) if return_centers else (X, y)


def make_regression(
    n_samples: int = 100,
    n_features: int = 10,
    n_informative: int = 10,
    noise: float = 0.0,
    bias: float = 0.0,
    rng: RngLike = None,
    return_coef: bool = False,
    *,
    shuffle: bool = True,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, ...]:
    """A random linear regression problem, with scikit-learn's ``make_regression`` model.

    ::

        X ~ N(0, 1)  elementwise, shape (n_samples, n_features)
        w_j ~ 100 · U[0, 1)  for the n_informative informative features,  w_j = 0 otherwise
        y = X w + bias + noise · ε,   ε ~ N(0, 1)

    ``n_informative`` larger than ``n_features`` is clipped to ``n_features`` (as in
    scikit-learn). With ``shuffle=True`` the columns are permuted (``w`` with them), so the
    informative features are not simply the first ones; rows are i.i.d. already.

    Returns ``(X, y)`` or, with ``return_coef=True``, ``(X, y, w)``: ``X`` (n_samples,
    n_features) and ``y`` (n_samples,) of ``dtype``, ``w`` (n_features,) float64. ``y`` is
    computed in float64 from the float64 ``X`` before both are cast.
    """
    fn = "make_regression"
    n = check_int(fn, "n_samples", n_samples, 1)
    d = check_int(fn, "n_features", n_features, 1)
    n_inf = min(check_int(fn, "n_informative", n_informative, 0), d)
    noise = check_nonneg(fn, "noise", noise)
    try:
        bias = float(bias)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: bias must be a number, got {bias!r}") from None
    gen = np.random.default_rng(rng)

    X = gen.standard_normal((n, d))
    w = np.zeros(d)
    w[:n_inf] = 100.0 * gen.uniform(size=n_inf)
    y = X @ w + bias
    if noise > 0:
        y += noise * gen.standard_normal(n)
    if shuffle:
        cols = gen.permutation(d)
        X, w = X[:, cols], w[cols]
    X, y = X.astype(dtype, copy=False), y.astype(dtype, copy=False)
    return (X, y, w) if return_coef else (X, y)
