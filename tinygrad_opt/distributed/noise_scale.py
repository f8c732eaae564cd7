"""The gradient noise scale measured for free during data-parallel training.

McCandlish et al. (2018, "An empirical model of large-batch training", Appendix A):
for a gradient estimated from a batch of ``B`` examples, ``E|G_B|² = |G|² + tr(Σ)/B``.
Data-parallel training sees two batch sizes every step at no extra cost: each rank's
own gradient (``B_small = b``) and the all-reduced mean (``B_big = N·b``). From the mean
of the ranks' squared norms and the squared norm of the mean,

    |G|²  ≈ (B_big |G_big|² - B_small |G_small|²) / (B_big - B_small)
    tr(Σ) ≈ (|G_small|² - |G_big|²) / (1/B_small - 1/B_big)
    B_simple = tr(Σ) / |G|²

Both are unbiased but noisy step by step: average each over many steps before the ratio
(the paper uses moving averages). ``B_simple`` estimates the critical batch size; the
simulator's time-to-accuracy mode takes it as ``b_noise``
(:class:`tinygrad_opt.cluster.LargeBatchModel`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinygrad_opt.cluster.large_batch import estimate_noise_scale

__all__ = ["noise_scale_from_log"]


def noise_scale_from_log(
    log: Sequence[tuple[float, float]], local_batch: int, ranks: int, skip: int = 0
) -> float:
    """``B_simple`` from ``[(mean over ranks of |g_rank|², |g_mean|²), ...]`` per step."""
    if ranks < 2:
        raise ValueError("the noise scale needs at least 2 ranks (two batch sizes)")
    rows = np.asarray(log[skip:], dtype=float)
    if rows.ndim != 2 or len(rows) == 0:
        raise ValueError("no gradient norms recorded (DistributedOptimizer(noise_scale=True))")
    small, big = rows.mean(axis=0)
    return estimate_noise_scale(small, local_batch, big, local_batch * ranks)
