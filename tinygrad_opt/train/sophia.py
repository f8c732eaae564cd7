"""What a training loop computes to feed Sophia its Hessian-diagonal estimate.

- :func:`gnb_gradients` (Sophia-G): the gradient ĝ of the mean cross-entropy of the
  logits against labels sampled from their own softmax; ``SophiaG.update_hessian(ĝ)``
  folds ĝ⊙ĝ into h (the Gauss-Newton-Bartlett estimate B·ĝ⊙ĝ, with B applied in the
  step as the ``bs`` hyperparameter);
- :func:`tinygrad_opt.curvature.hutchinson_products` (Sophia-H): u⊙(H·u) for given
  probes u, from a loss with its graph; ``SophiaH.update_hessian(estimates)`` folds them
  in (``SophiaH.step(closure)`` calls it itself).

Liu et al. 2024, "Sophia: A Scalable Stochastic Second-order Optimizer for Language
Model Pre-training", Algorithms 1 and 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.nn.loss.classification import cross_entropy
from tinygrad_opt.tensor import Tensor

__all__ = ["gnb_gradients", "sample_labels"]


def sample_labels(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class index per row of ``logits`` (N, C), drawn from softmax(row)."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    u = rng.random((z.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=-1), z.shape[-1] - 1)


def _arrays(grads: Sequence[Any], params: Sequence[Tensor]) -> list[np.ndarray]:
    return [
        np.zeros(p.shape, p.dtype) if g is None else np.array(g.data, dtype=p.dtype)
        for g, p in zip(grads, params)
    ]


def gnb_gradients(
    logits: Tensor,
    params: Sequence[Tensor],
    rng: np.random.Generator | int | None = None,
) -> list[np.ndarray]:
    """ĝ = ∇θ (1/B)·Σ_b CE(logits_b, ŷ_b) with ŷ_b ~ softmax(logits_b) (Algorithm 2).

    ``logits``: (B, C) or (..., C) (flattened to rows), computed from ``params`` with
    gradients enabled. Returns one array per parameter (zeros for one the logits do not
    depend on); nothing is written to ``.grad``. B·ĝ⊙ĝ is the estimate of the Hessian
    diagonal of the cross-entropy loss (for whatever labels the data has): pass ĝ to
    ``SophiaG.update_hessian`` and B as its ``bs``.
    """
    rng = np.random.default_rng(rng)
    rows = logits.reshape(-1, logits.shape[-1])
    labels = sample_labels(rows.data, rng)
    loss = cross_entropy(rows, labels)
    return _arrays(grad(loss, list(params), allow_unused=True), params)
