"""Overlapping gradient communication with the backward pass (gradient buckets).

PyTorch DDP (Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data
Parallel Training", VLDB 13(12)) groups gradients into buckets and launches a bucket's
all-reduce as soon as every gradient in it has been computed, so communication runs while
the rest of the backward pass is still going; buckets are reduced one after another, in
order, on one communication stream.

Model used here (exact for the stated assumptions):

- the synchronising worker (the slowest one applied, see ``compute.py``) spends ``C``
  seconds on the step, the first ``(1 − β)·C`` in the forward pass, the last ``β·C`` in
  the backward pass (``β`` = ``Workload.backward_fraction``);
- the gradients form ``K`` equal buckets, bucket ``j = 1..K`` ready at
  ``r_j = C·(1 − β + β·j/K)`` (backward produces gradients at a constant rate);
- every bucket takes ``u`` seconds to synchronise (the collective on ``M/K`` bytes, with
  its full latency term, plus for a parameter server ``1/K`` of the server update);
  bucket ``j`` starts at ``max(r_j, end_{j−1})``.

Then ``end_j = max_{i≤j} (r_i + (j − i + 1)·u)`` and, ``r_j`` being linear in ``j``, the
step's synchronisation finishes at

    T_sync = max( C·(1 − β + β/K) + K·u ,  C + u ).

Limits. **No overlap** (``overlap=False``, or ``K = 1``): ``T_sync = C + U`` with ``U`` the
time for the whole gradient — the plain sum. **Full overlap** (communication fits inside
the backward pass, ``K·u <= β·C·(1 − 1/K) + u``): ``T_sync = C + u``, only the last bucket
is exposed, which tends to ``C`` as ``K`` grows (if latency stays small). When
communication dominates, ``T_sync → (1 − β)·C + K·u``: only the forward pass is hidden.
More buckets hide more but pay ``K`` latency terms instead of one.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_opt.cluster.validation import check_fraction, check_positive_int

__all__ = ["bucket_count", "bucket_schedule", "overlapped_sync_end"]


def bucket_count(gradient_bytes: float, bucket_bytes: float, buckets: int | None = None) -> int:
    """``buckets`` if given, else ``ceil(gradient_bytes / bucket_bytes)`` (at least 1)."""
    if buckets is not None:
        return check_positive_int("buckets", buckets)
    return max(1, math.ceil(gradient_bytes / bucket_bytes - 1e-9))


def overlapped_sync_end(
    compute_time: float | np.ndarray,
    backward_fraction: float,
    buckets: int,
    bucket_time: float,
) -> float | np.ndarray:
    """``max(C(1 − β + β/K) + K·u, C + u)``: when the last bucket is synchronised.

    ``compute_time`` (``C``) may be an array (one value per step); measured from the
    step's start.
    """
    beta = check_fraction("backward_fraction", backward_fraction)
    k = check_positive_int("buckets", buckets)
    c = np.asarray(compute_time, dtype=float)
    first_ready = c * (1.0 - beta + beta / k)
    out = np.maximum(first_ready + k * bucket_time, c + bucket_time)
    return float(out) if out.ndim == 0 else out


def bucket_schedule(
    compute_time: float, backward_fraction: float, buckets: int, bucket_time: float
) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of every bucket's synchronisation for one step (for timelines).

    ``start_j = max(r_j, end_{j−1})``, ``end_j = start_j + u``, computed without a loop as
    ``end_j = j·u + max_{i≤j}(r_i − (i − 1)·u)``.
    """
    k = check_positive_int("buckets", buckets)
    j = np.arange(1, k + 1)
    ready = compute_time * (1.0 - backward_fraction + backward_fraction * j / k)
    end = j * bucket_time + np.maximum.accumulate(ready - (j - 1) * bucket_time)
    return end - bucket_time, end
