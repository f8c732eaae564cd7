"""Gradient buckets filled tensor by tensor in reverse layer order (PyTorch DDP).

PyTorch DDP (Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data
Parallel Training", PVLDB 13(12) §3.2.3 and ``torch.nn.parallel.DistributedDataParallel``)
assigns the parameters to buckets in the *reverse* order of ``model.parameters()`` — the
order in which the backward pass produces their gradients — adding tensors to the open
bucket until its gradient bytes reach the cap; the first bucket's cap is 1 MiB
(``dist._DEFAULT_FIRST_BUCKET_BYTES``), the others ``bucket_cap_mb`` = 25 MiB. A tensor
larger than the cap gets a bucket of its own (a bucket is closed only after a tensor
takes it to or past its cap). A bucket's all-reduce starts when the last of its
gradients is ready; buckets are reduced one after another, in order, on one
communication stream.

Timing (tensors ``i = 1..n`` in model order, backward time ``b_i`` each, the forward pass
and everything before the last backward taking ``F`` seconds): tensor ``i``'s gradient is
ready at ``F + Σ_{l≥i} b_l`` (the backward pass runs from the last tensor to the first).
Bucket ``j`` (in launch order) is ready at ``r_j`` = the ready time of its first tensor
in model order, takes ``u_j`` seconds (the collective on its bytes, with its latency
term), and starts at ``max(r_j, e_{j−1})``; so

    e_j = max(r_j, e_{j−1}) + u_j,    e_K = max_i ( r_i + Σ_{l≥i} u_l ),

the step's synchronisation ends at ``e_K`` (the first form is a loop, the second a closed
form; :func:`pipeline_schedule` evaluates it without a loop as
``e_j = U_j + max_{i≤j}(r_i − U_{i−1})`` with ``U_j = u_1 + … + u_j``).

Compared with :mod:`.overlap` (equal buckets, gradients at a constant rate), this model
follows the workload's tensors: a model whose last layers are large and cheap (VGG-16's
fully connected layers, 90 % of its parameters, come last in model order so first in the
backward pass) starts communicating early; a model whose large tensor comes first (an
embedding) exposes it at the end. With gradient accumulation over ``k`` micro-batches
only the last micro-batch's backward pass overlaps: ``F = k·C − Σ b_l``.

Horovod's tensor fusion (Sergeev & Del Balso 2018; ``docs/tensor-fusion.rst`` and
``horovod/common/operations.cc``: ``HOROVOD_FUSION_THRESHOLD`` 64 MiB,
``HOROVOD_CYCLE_TIME`` 5 ms) works by cycles instead of fixed buckets: a background
thread wakes up at cycle start ``c_m``, takes every gradient ready by then and not yet
sent, packs them in ready order into fusion buffers of at most the threshold (a tensor
larger than the threshold alone), all-reduces the buffers one after another, and starts
the next cycle at ``c_{m+1} = max(c_m + T, end of its all-reduces)`` (it sleeps until
``T`` after the previous start). :func:`fusion_schedule` plays this out (with ``c_1 = 0``
at the step's start; idle cycles are skipped arithmetically, ``T`` apart); a gradient
waits up to ``T`` for the next cycle, so shorter cycles start sooner but fuse less.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from tinygrad_opt.cluster.validation import SpecError

__all__ = [
    "assign_buckets",
    "bucket_ready_times",
    "fusion_end",
    "fusion_schedule",
    "gradient_ready_times",
    "pipeline_end",
    "pipeline_schedule",
]


def assign_buckets(
    tensor_bytes: Sequence[float], cap: float, first_cap: float | None = None
) -> list[list[int]]:
    """Bucket contents (tensor indices, model order) in launch order (DDP's rule).

    Tensors are taken in reverse model order; each is added to the open bucket, which is
    closed once its bytes reach its cap (``first_cap`` for the first, ``cap`` after).
    """
    if cap <= 0:
        raise SpecError("bucket_bytes", cap, "must be > 0")
    limit = cap if first_cap is None else first_cap
    buckets: list[list[int]] = []
    current: list[int] = []
    size = 0.0
    for i in range(len(tensor_bytes) - 1, -1, -1):
        current.append(i)
        size += float(tensor_bytes[i])
        if size >= limit:
            buckets.append(current)
            current, size, limit = [], 0.0, cap
    if current:
        buckets.append(current)
    return buckets


def gradient_ready_times(backward_times: Sequence[float], forward_time: float) -> np.ndarray:
    """When each tensor's gradient is ready (model order): ``F + Σ_{l≥i} b_l``."""
    b = np.asarray(backward_times, dtype=float)
    return forward_time + np.cumsum(b[::-1])[::-1]


def bucket_ready_times(buckets: Sequence[Sequence[int]], ready: np.ndarray) -> np.ndarray:
    """A bucket is ready when the last of its gradients is: the max over its tensors."""
    return np.array([float(np.max(ready[list(b)])) for b in buckets])


def pipeline_schedule(
    ready: np.ndarray | Sequence[float], durations: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each bucket: ``e_j = max(r_j, e_{j−1}) + u_j``, without a loop.

    ``ready`` may have a leading axis of steps (``(steps, K)``); ``durations`` is ``(K,)``.
    """
    r = np.asarray(ready, dtype=float)
    u = np.asarray(durations, dtype=float)
    cum = np.cumsum(u)
    before = cum - u  # U_{j-1}
    end = cum + np.maximum.accumulate(r - before, axis=-1)
    return end - u, end


def pipeline_end(
    ready: np.ndarray | Sequence[float], durations: np.ndarray | Sequence[float]
) -> np.ndarray | float:
    """``e_K = max_i (r_i + Σ_{l≥i} u_l)``: when the last bucket is done (per step)."""
    r = np.asarray(ready, dtype=float)
    u = np.asarray(durations, dtype=float)
    tail = np.cumsum(u[::-1])[::-1]
    out = np.max(r + tail, axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def fusion_schedule(
    ready: Sequence[float],
    tensor_bytes: Sequence[float],
    threshold: float,
    cycle: float,
    duration: Callable[[float], float],
) -> list[tuple[float, float, float]]:
    """Horovod's cycles: ``[(start, end, bytes)]`` of every fusion buffer's all-reduce.

    ``ready`` and ``tensor_bytes`` are per tensor in the order the gradients become ready
    (non-decreasing ``ready``); ``duration(bytes)`` is one all-reduce's seconds. The last
    ``end`` is when synchronisation finishes.
    """
    if threshold <= 0:
        raise SpecError("fusion_bytes", threshold, "must be > 0")
    if cycle <= 0:
        raise SpecError("cycle_time", cycle, "must be > 0")
    n = len(ready)
    out: list[tuple[float, float, float]] = []
    start = 0.0  # the current cycle's start
    i = 0
    eps = 1e-12
    while i < n:
        if ready[i] > start + eps:  # idle cycles, T apart, until the gradient is ready
            start += cycle * max(1, math.ceil((ready[i] - start) / cycle - 1e-9))
            continue
        t = start
        j = i
        while j < n and ready[j] <= start + eps:
            j += 1
        buf = 0.0
        for k in range(i, j):  # pack in ready order, at most ``threshold`` per buffer
            b = float(tensor_bytes[k])
            if buf > 0 and buf + b > threshold:
                end = t + duration(buf)
                out.append((t, end, buf))
                t, buf = end, 0.0
            buf += b
        end = t + duration(buf)
        out.append((t, end, buf))
        i = j
        start = max(start + cycle, end)
    return out


def fusion_end(
    ready_fractions: Sequence[float],
    compute: np.ndarray | Sequence[float],
    tensor_bytes: Sequence[float],
    threshold: float,
    cycle: float,
    duration: Callable[[float], float],
) -> np.ndarray:
    """:func:`fusion_schedule`'s end for many steps at once: tensor ``i`` (ready order)
    ready at ``ready_fractions[i] × compute[s]``; the steps' cycles run in lockstep.

    Equal to ``fusion_schedule(ready_fractions * compute[s], ...)[-1][1]`` for every
    ``s`` (a buffer's bytes are taken as differences of the cumulative sizes).
    """
    if threshold <= 0:
        raise SpecError("fusion_bytes", threshold, "must be > 0")
    if cycle <= 0:
        raise SpecError("cycle_time", cycle, "must be > 0")
    ready = np.multiply.outer(np.asarray(compute, dtype=float), np.asarray(ready_fractions))
    steps, n = ready.shape
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(tensor_bytes, dtype=float))])
    start = np.zeros(steps)
    end = np.zeros(steps)
    nxt = np.zeros(steps, dtype=np.int64)  # the next tensor to send
    eps = 1e-12
    cache: dict[float, float] = {}

    def durations(m: np.ndarray) -> np.ndarray:
        values, inverse = np.unique(m, return_inverse=True)
        for v in values:
            if v not in cache:
                cache[v] = duration(float(v))
        return np.array([cache[v] for v in values])[inverse.reshape(-1)]

    active = np.nonzero(nxt < n)[0]
    while active.size:
        r = ready[active, nxt[active]]
        idle = r > start[active] + eps
        if idle.any():  # idle cycles, T apart, until the next gradient is ready
            a = active[idle]
            start[a] += cycle * np.maximum(1, np.ceil((r[idle] - start[a]) / cycle - 1e-9))
            active = active[~idle]
            if not active.size:
                active = np.nonzero(nxt < n)[0]
                continue
        a = active
        upto = (ready[a] <= (start[a] + eps)[:, None]).sum(axis=1)  # ready by the cycle
        t = start[a].copy()
        k = nxt[a].copy()
        pending = np.nonzero(k < upto)[0]
        while pending.size:  # one fusion buffer per pending step
            kp = k[pending]
            fits = np.searchsorted(cum, cum[kp] + threshold, side="right") - 1
            m = np.minimum(np.maximum(fits, kp + 1), upto[pending])
            t[pending] += durations(cum[m] - cum[kp])
            k[pending] = m
            pending = pending[m < upto[pending]]
        nxt[a] = upto
        end[a] = t
        start[a] = np.maximum(start[a] + cycle, t)
        active = np.nonzero(nxt < n)[0]
    return end
