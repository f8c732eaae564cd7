"""What :func:`~tinygrad_opt.cluster.simulate.simulate` returns.

Every per-step figure is a mean over the sampled steps, in seconds, and the breakdown adds
up: ``step_time_s = compute_s + wait_s + comm_s + update_s``.

- ``compute_s``: compute a worker does that is used (mean over all workers of
  ``min(c_w, T_ready)``, where ``T_ready`` is when the step's gradients are ready — when
  the ``N``-th fastest worker finishes);
- ``wait_s``: ``T_ready − compute_s``: time spent idle waiting for stragglers (for a
  dropped backup worker: the time it was cut off early, counted as neither);
- ``comm_s``: communication on the critical path after ``T_ready`` (all of it without
  overlap; only the exposed part with bucketed overlap — ``comm_total_s`` is the whole);
- ``update_s``: the optimiser update on the critical path (the hot server shard's share
  ``f_max`` of ``update_time``, ``1/k`` when even, for a parameter server; the full local
  update after an all-reduce).

``model`` is the workload's built-in profile (None for a bare count or tensor list).
Parameter-server placement (:mod:`.placement`): ``tensor_placement`` (the method used;
``"even"`` for a bare parameter count), ``ps_shard_bytes`` (gradient bytes each shard
receives from one worker per push, on the wire), ``ps_hot_shard`` (the most loaded
shard's index), ``ps_hot_shard_bytes`` (its bytes) and ``ps_imbalance`` (max / mean
load, 1 when even); None (``[]``) for an all-reduce.

Sharding and memory (:mod:`.sharding`): ``zero_stage`` (0–3), ``grad_accumulation``
(micro-batches per step; ``global_batch`` counts them all), ``bucket_sizes_bytes`` (the
per-tensor DDP buckets' bytes in launch order, or Horovod's fusion buffers in the first
sampled step, :mod:`.buckets`; empty otherwise; ``buckets`` counts them),
``memory_params_bytes`` / ``memory_grads_bytes`` / ``memory_optimizer_bytes`` and their
sum ``memory_per_gpu_bytes`` (model states on one GPU), ``gpu_memory`` (the capacity
given, or None), ``feasible`` (the states fit) and ``infeasible_reason``.

Baseline for speed-up: **one worker** at nominal speed (speed factor 1, same compute
distribution, so mean step ``t̄``), with the same per-worker batch, no communication, and
its own optimiser update: ``baseline_step_time_s = t̄ + update_time``.
``speedup = throughput / baseline_throughput`` (examples per second; only the ``N``
applied gradients count), ``scaling_efficiency = speedup / workers`` (all launched
workers, backups included; dedicated PS machines are not workers).
``time_to_train_speedup`` (only with a large-batch model) compares times to reach the
target, where one worker also needs ``S(per_worker_batch)`` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["RESULT_KEYS", "SimulationResult"]


@dataclass
class SimulationResult:
    """Outcome of one simulated configuration (see the module docstring for definitions)."""

    # configuration
    scheme: str
    scheme_name: str
    workers: int
    nodes: int
    devices_per_node: int
    ps_machines: int
    backup_workers: int
    applied_workers: int
    per_worker_batch: int
    global_batch: int
    bandwidth: float
    latency: float
    message_bytes: float
    overlap: bool
    buckets: int
    compression: float
    # per step (seconds)
    step_time_s: float
    step_time_std_s: float
    step_time_p50_s: float
    step_time_p99_s: float
    compute_s: float
    wait_s: float
    comm_s: float
    update_s: float
    comm_total_s: float
    phases: list[tuple[str, float]]
    # speed
    throughput: float
    baseline_step_time_s: float
    baseline_throughput: float
    speedup: float
    scaling_efficiency: float
    # whole run
    steps: int
    solve_time_s: float
    total_time_s: float
    time_to_train_speedup: float | None
    failure: dict[str, float] | None
    machines: int
    node_hours: float
    cost: float
    # traffic per step
    bytes_sent_per_node: float
    bytes_sent_per_node_max: float
    busiest_link_bytes: float
    busiest_link: str
    # sampling
    steps_sampled: int
    seed: int | None
    step_times: np.ndarray = field(repr=False)
    timeline_data: dict[str, Any] = field(repr=False, default_factory=dict)
    model: str | None = None
    # parameter-server placement (None / empty for an all-reduce)
    tensor_placement: str | None = None
    ps_shard_bytes: list[float] = field(default_factory=list)
    ps_hot_shard: int | None = None
    ps_hot_shard_bytes: float | None = None
    ps_imbalance: float | None = None
    # sharded data parallel, accumulation, buckets, memory (:mod:`.sharding`)
    zero_stage: int = 0
    grad_accumulation: int = 1
    bucket_sizes_bytes: list[float] = field(default_factory=list)
    memory_params_bytes: float = 0.0
    memory_grads_bytes: float = 0.0
    memory_optimizer_bytes: float = 0.0
    memory_per_gpu_bytes: float = 0.0
    gpu_memory: float | None = None
    feasible: bool = True
    infeasible_reason: str | None = None
    # communication software and node-level aggregation (:mod:`.transport`)
    transport: str = "ideal"
    intra_topology: str = "link"
    local_aggregation: bool = False
    summation_service: bool = False

    # ------------------------------------------------------------------ export
    def to_dict(self, include_samples: bool = False) -> dict[str, Any]:
        """JSON-serialisable dict of every field (``step_times`` only if asked)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("step_times", "timeline_data"):
                continue
            out[f.name] = _plain(getattr(self, f.name))
        if include_samples:
            out["step_times"] = [float(x) for x in self.step_times]
        return out

    # ------------------------------------------------------------------ timeline
    def timeline(self, max_workers: int = 12) -> list[dict[str, Any]]:
        """Events of the first simulated steps for a Gantt chart.

        Each event: ``{"row", "step", "kind", "start", "end", "label"}`` with ``kind`` in
        ``compute``, ``wait``, ``dropped`` (a backup worker's cut-off compute), ``send``,
        ``recv``, ``comm`` (collective phases, or overlapped buckets), ``update``. Rows are
        ``"worker i"`` — at most ``max_workers``: the first ones plus the slowest — and
        ``"ps j"`` for parameter-server shards. With ``overlap`` the ``comm`` events run
        concurrently with compute.
        """
        d = self.timeline_data
        if not d:
            return []
        head: np.ndarray = d["head"]
        n_steps, w = head.shape
        rows = _pick_workers(head, max_workers)
        events: list[dict[str, Any]] = []
        t0 = 0.0

        def add(row: str, s: int, kind: str, a: float, b: float, label: str = "") -> None:
            if b > a + 1e-15:
                events.append(
                    {
                        "row": row,
                        "step": s,
                        "kind": kind,
                        "start": a,
                        "end": b,
                        "label": label or kind,
                    }
                )

        for s in range(n_steps):
            ready = float(d["sync"][s])
            step = float(d["step"][s])
            sync_segments = _sync_segments(d, ready, t0, s)
            sync_end = t0 + float(d["sync_end"][s])
            for wi in rows:
                row = f"worker {wi}"
                c = float(head[s, wi])
                add(row, s, "compute", t0, t0 + min(c, ready))
                if c > ready:
                    # a late backup worker: its gradient is dropped, it sends nothing and
                    # keeps computing in vain until the new parameters arrive
                    pull = next((a for k, a, _, _ in sync_segments if k == "recv"), sync_end)
                    add(row, s, "dropped", t0 + ready, min(t0 + c, pull), "dropped (late)")
                    add(row, s, "wait", min(t0 + c, pull), pull)
                else:
                    wait_until = float(d["sync_end"][s]) if d["overlap"] else ready
                    add(row, s, "wait", t0 + c, t0 + wait_until)
                for kind, a, b, label in sync_segments:
                    if c > ready and kind in ("send", "update_srv"):
                        continue
                    add(row, s, kind if kind != "update_srv" else "wait", a, b, label)
                if d["post_update"] > 0:
                    add(row, s, "update", sync_end, sync_end + d["post_update"], "update")
                if d.get("after", 0) > 0:
                    a = sync_end + d["post_update"]
                    add(row, s, "comm", a, a + d["after"], "parameter allgather")
            for j in range(d["ps_rows"]):
                row = f"ps {j}"
                add(row, s, "wait", t0, t0 + ready, "wait for gradients")
                for kind, a, b, label in sync_segments:
                    kind = {"send": "recv", "recv": "send", "update_srv": "update"}.get(kind, kind)
                    add(row, s, kind, a, b, label)
            t0 += step
        return events


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    return value


def _pick_workers(head: np.ndarray, max_workers: int) -> list[int]:
    """The first workers plus the slowest ones (by their worst step), at most ``max_workers``."""
    w = head.shape[1]
    if w <= max_workers:
        return list(range(w))
    n_slow = max(1, max_workers // 4)
    slowest = set(np.argsort(-head.max(axis=0), kind="stable")[:n_slow].tolist())
    first = [i for i in range(max_workers) if i not in slowest][: max_workers - n_slow]
    return sorted(first + sorted(slowest))


def _sync_segments(
    d: dict[str, Any], ready: float, t0: float, step: int = 0
) -> list[tuple[str, float, float, str]]:
    """(kind, start, end, label) of the synchronisation after ``ready`` (absolute times)."""
    if d.get("fusion"):
        return [
            ("comm", t0 + a, t0 + e, f"fusion buffer {j + 1}")
            for j, (a, e) in enumerate(d["fusion"][step])
        ]
    if d["overlap"]:
        from tinygrad_opt.cluster.overlap import bucket_schedule

        if d.get("bucket_ready") is not None:
            from tinygrad_opt.cluster.buckets import pipeline_schedule

            start, end = pipeline_schedule(ready * d["bucket_ready"], d["bucket_units"])
        else:
            start, end = bucket_schedule(ready, d["backward_fraction"], d["buckets"], d["unit"])
        # merge back-to-back buckets into one bar
        breaks = np.nonzero(start[1:] > end[:-1] + 1e-12)[0]
        firsts = np.concatenate([[0], breaks + 1])
        lasts = np.concatenate([breaks, [len(start) - 1]])
        return [
            ("comm", t0 + start[a], t0 + end[b], f"buckets {a + 1}-{b + 1}")
            for a, b in zip(firsts, lasts)
        ]
    out = []
    t = t0 + ready
    for name, dur in d["phases"]:
        out.append((_PHASE_KINDS.get(name, "comm"), t, t + dur, name))
        t += dur
    return out


# timeline kind of each named synchronisation phase (the rest are collective "comm")
_PHASE_KINDS = {"push": "send", "pull": "recv", "server update": "update_srv", "sum": "update_srv"}


RESULT_KEYS: tuple[str, ...] = tuple(
    f.name for f in fields(SimulationResult) if f.name not in ("step_times", "timeline_data")
)
"""Keys of :meth:`SimulationResult.to_dict` (without ``step_times``)."""
