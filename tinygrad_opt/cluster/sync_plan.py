"""How one step's synchronisation is timed with buckets: DDP's per-tensor buckets,
Horovod's fusion cycles, and the reduce-scatter / all-gather split of ZeRO stages.

:func:`~tinygrad_opt.cluster.simulate.simulate` calls these; the formulas are in
:mod:`.buckets` (pipeline and cycles) and :mod:`.sharding` (stages).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.cluster.buckets import (
    assign_buckets,
    bucket_ready_times,
    fusion_schedule,
    gradient_ready_times,
)
from tinygrad_opt.cluster.collectives import communication_cost
from tinygrad_opt.cluster.sharding import sharded_phases
from tinygrad_opt.cluster.spec import ClusterSpec, SyncScheme, Workload
from tinygrad_opt.cluster.validation import SpecError

__all__ = ["bucket_sizes", "bucket_unit", "fusion_plan", "sync_split", "tensor_buckets"]


def sync_split(phases: Any, stage: int) -> tuple[float, float]:
    """(reduce-scatter part, all-gather part) of the synchronisation's phases with ZeRO
    ``stage``: the phases up to the first all-gather, and the rest (for a parameter
    server or a tree: everything, and 0)."""
    phases = sharded_phases(tuple(phases), stage)
    names = [n for n, _ in phases]
    cut = names.index("allgather") if "allgather" in names else len(names)
    return (
        float(sum(t for _, t in phases[:cut])),
        float(sum(t for _, t in phases[cut:])),
    )


def bucket_unit(rs: float, ag: float, stage: int) -> float:
    """Seconds of one overlapped bucket: its all-reduce (``rs + ag``) without ZeRO; the
    reduce-scatter alone with stages 1–2 (the parameters are all-gathered after the
    update); stage 3 also all-gathers the bucket's parameters for the backward pass."""
    return rs if stage in (1, 2) else rs + ag


def _ready_fractions(wl: Workload, k_acc: int) -> np.ndarray:
    """When each tensor's gradient is ready (model order), as a fraction of the step's
    compute ``k·C``: the forward pass and earlier micro-batches ``k·C − Σ b``, then the
    backward pass from the last tensor to the first."""
    bt = np.asarray(wl.tensor_backward_times, dtype=float)
    total = wl.compute_time * k_acc
    if bt.sum() > total * (1 + 1e-9):
        raise SpecError(
            "backward_times",
            f"[sum {bt.sum():.6g}s]",
            f"exceed the step's compute time {total:.6g}s",
        )
    return gradient_ready_times(bt, total - bt.sum()) / total


def tensor_buckets(
    c: ClusterSpec, wl: Workload, s: SyncScheme, applied: int, k_acc: int
) -> dict[str, Any]:
    """DDP buckets of the workload's tensors (:mod:`.buckets`): their gradient bytes,
    readiness as a fraction of the step's compute, seconds each, and the part exposed
    after the update (ZeRO's parameter all-gather)."""
    nbytes = [n * wl.bytes_per_param for n in wl.tensor_sizes]
    groups = assign_buckets(nbytes, s.bucket_bytes, s.first_bucket_bytes)
    ready = bucket_ready_times(groups, _ready_fractions(wl, k_acc))
    sizes = np.array([sum(nbytes[i] for i in g) for g in groups]) / s.compression
    stage = s.zero_stage
    cache: dict[float, tuple[float, float]] = {}
    units = np.empty(len(groups))
    for j, m in enumerate(sizes):
        if m not in cache:
            cache[m] = sync_split(communication_cost(c, s, m, applied).phases, 0)
        units[j] = bucket_unit(*cache[m], stage)
    after = 0.0
    if stage:  # the parameter all-gather after the update (stage 3: the forward's)
        full = communication_cost(c, s, wl.gradient_bytes / s.compression, applied)
        after = sync_split(full.phases, 0)[1]
    return {"bytes": sizes, "ready": ready, "units": units, "after": after}


def fusion_plan(
    c: ClusterSpec, wl: Workload, s: SyncScheme, applied: int, k_acc: int
) -> Callable[[float], list[tuple[float, float, float]]]:
    """Horovod's tensor fusion (:func:`~tinygrad_opt.cluster.buckets.fusion_schedule`) as
    a function of the step's compute ``T``: the fusion buffers' (start, end, bytes)."""
    if wl.tensor_sizes is None:
        raise SpecError(
            "fusion_bytes", s.fusion_bytes, "needs a workload with tensors (model or tensor_sizes)"
        )
    nbytes = np.array([n * wl.bytes_per_param for n in wl.tensor_sizes]) / s.compression
    order = np.arange(len(nbytes))[::-1]  # the backward pass: last tensor first
    frac = _ready_fractions(wl, k_acc)[order]
    sizes = nbytes[order]
    cache: dict[float, float] = {}

    def duration(m: float) -> float:
        if m not in cache:
            cache[m] = communication_cost(c, s, m, applied).time_s
        return cache[m]

    def schedule(t: float) -> list[tuple[float, float, float]]:
        return fusion_schedule(frac * t, sizes, s.fusion_bytes, s.cycle_time, duration)

    return schedule


def bucket_sizes(bucket_plan: Any, fusion: Any, sync: Any) -> list[float]:
    """Bytes of each bucket (DDP) or fusion buffer (Horovod, first sampled step)."""
    if bucket_plan is not None:
        return list(bucket_plan["bytes"])
    if fusion is not None:
        return [b for _, _, b in fusion(float(np.asarray(sync)[0]))]
    return []
