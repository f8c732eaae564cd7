"""How one step's synchronisation is timed with buckets: DDP's per-tensor buckets,
Horovod's fusion cycles, and the reduce-scatter / all-gather split of ZeRO stages.

:func:`~tinygrad_opt.cluster.simulate.simulate` calls these; the formulas are in
:mod:`.buckets` (pipeline and cycles) and :mod:`.sharding` (stages).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.cluster.buckets import (
    assign_buckets,
    bucket_ready_times,
    fusion_end,
    fusion_schedule,
    gradient_ready_times,
)
from tinygrad_opt.cluster.communication import communication_cost
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.sharding import sharded_phases
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.validation import SpecError
from tinygrad_opt.cluster.workload import Workload

__all__ = [
    "FusionPlan",
    "bucket_sizes",
    "bucket_unit",
    "fusion_plan",
    "sync_split",
    "tensor_buckets",
]


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


class FusionPlan:
    """Horovod's tensor fusion for one configuration as a function of the step's compute
    ``T`` (:func:`~tinygrad_opt.cluster.buckets.fusion_schedule`): ``plan(T)`` gives the
    fusion buffers' ``(start, end, bytes)``, ``plan.end(Ts)`` the ends of many steps at
    once (:func:`~tinygrad_opt.cluster.buckets.fusion_end`)."""

    def __init__(
        self, c: ClusterSpec, wl: Workload, s: SyncScheme, applied: int, k_acc: int
    ) -> None:
        if wl.tensor_sizes is None:
            raise SpecError(
                "fusion_bytes",
                s.fusion_bytes,
                "needs a workload with tensors (model or tensor_sizes)",
            )
        nbytes = np.array([n * wl.bytes_per_param for n in wl.tensor_sizes]) / s.compression
        order = np.arange(len(nbytes))[::-1]  # the backward pass: last tensor first
        self.frac = _ready_fractions(wl, k_acc)[order]
        self.sizes = nbytes[order]
        self.threshold = float(s.fusion_bytes)
        self.cycle = float(s.cycle_time)
        self._cache: dict[float, float] = {}
        self._c, self._s, self._applied = c, s, applied
        # An all-reduce's time is a sum of maxima of affine functions of the bytes: convex
        # and piecewise linear. If it meets its chord over [0, all bytes] at the midpoint
        # it is that line on the whole interval, and the buffers are timed by it.
        total = float(self.sizes.sum())
        t0, t1, mid = (self._exact(m) for m in (0.0, total, total / 2))
        line = t0 + (t1 - t0) / 2
        self._affine = (t0, (t1 - t0) / total) if abs(mid - line) <= 1e-12 * t1 else None

    def _exact(self, m: float) -> float:
        return communication_cost(self._c, self._s, m, self._applied).time_s

    def duration(self, m: float) -> float:
        """Seconds of one all-reduce of ``m`` bytes."""
        if self._affine is not None:
            return self._affine[0] + self._affine[1] * m
        if m not in self._cache:
            self._cache[m] = self._exact(m)
        return self._cache[m]

    def __call__(self, t: float) -> list[tuple[float, float, float]]:
        return fusion_schedule(self.frac * t, self.sizes, self.threshold, self.cycle, self.duration)

    def end(self, times: np.ndarray | Sequence[float]) -> np.ndarray:
        """When synchronisation ends, for each step's compute in ``times``."""
        return fusion_end(self.frac, times, self.sizes, self.threshold, self.cycle, self.duration)


def fusion_plan(
    c: ClusterSpec, wl: Workload, s: SyncScheme, applied: int, k_acc: int
) -> FusionPlan:
    """:class:`FusionPlan` of the configuration."""
    return FusionPlan(c, wl, s, applied, k_acc)


def bucket_sizes(bucket_plan: Any, fusion: Any, sync: Any) -> list[float]:
    """Bytes of each bucket (DDP) or fusion buffer (Horovod, first sampled step)."""
    if bucket_plan is not None:
        return list(bucket_plan["bytes"])
    if fusion is not None:
        return [b for _, _, b in fusion(float(np.asarray(sync)[0]))]
    return []
