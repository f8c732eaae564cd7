"""Simulate synchronous data-parallel SGD on a cluster: step time, breakdown, time, cost.

One step of synchronous SGD (the seed article's scheme: every worker computes a gradient
on its own mini-batch, the gradients are combined, everyone continues from the same
parameters):

1. every worker ``w`` computes for ``c[s, w]`` seconds (:mod:`.compute`: deterministic,
   heterogeneous, lognormal, shifted-exponential or empirical);
2. the step's gradients are ready at ``T_ready`` = the ``N``-th smallest ``c[s, ·]``:
   the slowest worker, or with ``b`` backup workers the ``N = W − b``-th fastest
   (Chen et al. 2016: launch ``N + b``, apply the first ``N``, drop the rest);
3. synchronisation (:mod:`.communication`, alpha-beta model): all-reduce, or push to the
   parameter servers, their sum of the gradients (with ``reduce_bandwidth``), server
   update (``update_time × f_max``), pull; the hot shard, holding the share ``f_max`` of
   the tensors (``1/k`` for a bare parameter count; :mod:`.placement`), sets the pace
   of every parameter-server phase; it starts at
   ``T_ready`` (bulk-synchronous: nothing is sent before the barrier), or bucket by bucket
   during the backward pass with ``overlap=True`` (:mod:`.overlap`);
4. after an all-reduce every worker applies the update locally (``update_time``).

With tensors known (``Workload.tensor_sizes`` or a ``model``), ``overlap`` fills DDP's
buckets in reverse layer order and ``fusion_bytes`` runs Horovod's fusion cycles
(:mod:`.buckets`, timed in :mod:`.sync_plan`). ZeRO stages (``SyncScheme.zero_stage``,
:mod:`.sharding`) split the all-reduce into a reduce-scatter and a parameter all-gather
(stage 3: two), update ``1/N`` of the model per worker, and set the memory per GPU
checked against ``ClusterSpec.gpu_memory``. With ``grad_accumulation = k`` a step
computes ``k`` micro-batches (one compute draw times ``k``) and synchronises once.

Contention inside a node (``ClusterSpec.cores_per_node``, ``memory_streams_per_node``):
when a node's workers outnumber its cores, compute, updates and intra-node all-reduces
run ``d / cores`` times slower, and updates that run together and spill out of the cache
share the memory bandwidth (:meth:`ClusterSpec.update_slowdown`); an oversubscribed
node also adds ``turn_time`` of waiting to every step (:attr:`ClusterSpec.turn_wait`:
ranks taking turns on the cores around each synchronisation), counted in ``wait_s``.

Workers start each step together (a late backup worker abandons its gradient when the new
parameters arrive), so steps are i.i.d. and the Monte Carlo over ``steps_to_sample``
steps is vectorised over steps × workers. The run takes ``steps`` steps (given, or from
the large-batch model at the global batch ``N × per_worker_batch``); failures and
checkpoints (:mod:`.failures`) stretch the failure-free time; cost is the price per
node-hour × (worker nodes + dedicated PS machines) × hours.

Result fields and the 1-worker baseline are defined in :mod:`.result`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_opt.cluster.buckets import pipeline_end
from tinygrad_opt.cluster.communication import communication_cost
from tinygrad_opt.cluster.compute import sample_step_compute
from tinygrad_opt.cluster.failures import FailureSpec, failure_overhead
from tinygrad_opt.cluster.overlap import bucket_count, overlapped_sync_end
from tinygrad_opt.cluster.placement import cached_placement
from tinygrad_opt.cluster.result import SimulationResult
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.sharding import memory_fields, sharded_phases
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.sync_plan import (
    bucket_sizes,
    bucket_unit,
    fusion_plan,
    sync_split,
    tensor_buckets,
)
from tinygrad_opt.cluster.validation import (
    MAX_SAMPLED_WORKER_STEPS,
    MAX_STEPS_TO_SAMPLE,
    SpecError,
    check_keys,
    check_nonnegative_int,
    check_positive_int,
)
from tinygrad_opt.cluster.workload import Workload

__all__ = ["SCHEME_OPTIONS", "resolve_scheme", "simulate"]

SCHEME_OPTIONS: tuple[str, ...] = (
    "ps_shards", "ps_placement", "backup_workers", "overlap", "buckets", "bucket_bytes",
    "compression", "tensor_placement", "split_threshold", "zero_stage", "first_bucket_bytes",
    "fusion_bytes", "cycle_time",
)  # fmt: skip
"""Keyword options of :func:`simulate` that set :class:`SyncScheme` fields."""


def resolve_scheme(
    cluster: ClusterSpec, scheme: SyncScheme | str | Mapping[str, Any], **options: Any
) -> SyncScheme:
    """The scheme with ``options`` applied, checked against the cluster.

    Rules that need the cluster: ``0 <= backup_workers < workers`` (with ``b >= workers``
    there would be no gradient left to apply), colocated ``ps_shards <= workers``.
    """
    check_keys("simulate options", options, SCHEME_OPTIONS)
    s = SyncScheme.coerce(scheme, **options)
    w = cluster.workers
    if s.backup_workers >= w:
        raise SpecError(
            "backup_workers",
            s.backup_workers,
            f"must be < workers={w}: the server applies the first workers - backup_workers "
            f"gradients, which must be at least one",
        )
    if s.name == "ps" and s.ps_placement == "host" and cluster.nodes != 1:
        raise SpecError(
            "ps_placement",
            "host",
            f"(one machine's host memory) needs nodes=1, not {cluster.nodes}; across "
            "machines use 'colocated' or 'dedicated'",
        )
    if s.name == "ps" and s.ps_placement == "colocated" and s.ps_shards > w:
        raise SpecError(
            "ps_shards", s.ps_shards, f"colocated shards run on workers: need <= workers={w}"
        )
    if cluster.summation_service and s.name == "ps" and s.ps_placement != "dedicated":
        raise SpecError(
            "summation_service",
            True,
            f"needs ps_placement 'dedicated' (CPU-only summation machines), not {s.label!r}",
        )
    aggregated = cluster.local_aggregation and cluster.devices_per_node > 1 and s.name == "ps"
    if aggregated and s.backup_workers:
        raise SpecError(
            "backup_workers",
            s.backup_workers,
            "cannot be used with local_aggregation (the node sums all its gradients first)",
        )
    if aggregated and s.ps_placement == "colocated" and s.ps_shards > cluster.nodes:
        raise SpecError(
            "ps_shards",
            s.ps_shards,
            f"colocated shards with local_aggregation run on the node leaders: need <= "
            f"nodes={cluster.nodes}",
        )
    return s


def _update_times(
    c: ClusterSpec, wl: Workload, s: SyncScheme, hot: float = 1.0
) -> tuple[float, float]:
    """(server update of the hot PS shard, update after an all-reduce) in seconds, slowed
    down by the node's contention (:meth:`ClusterSpec.update_slowdown`). ``hot`` is the
    hot shard's share of the model (``1/k`` for an even split).

    After an all-reduce every worker of a node updates at once; a colocated shard
    updates while the node's other workers wait, alone unless several shards share the
    node; a dedicated server machine runs alone (no contention).
    """
    if s.name != "ps" or c.summation_service:  # summation servers only sum: workers update
        return 0.0, float(wl.update_time) * c.update_slowdown(wl.update_working_set)
    per_shard = float(wl.update_time) * hot
    if s.ps_placement in ("dedicated", "host"):  # the server's own CPU, not a worker's
        return per_shard, 0.0
    together = -(-s.ps_shards // int(c.nodes))  # shards on the busiest node
    slow = c.update_slowdown(wl.update_working_set * hot, concurrent=together)
    return per_shard * slow, 0.0


def _check_finite(
    c: ClusterSpec,
    wl: Workload,
    s: SyncScheme,
    compute: float,
    comm: float,
    step: float,
    solve: float,
    total: float,
    cost: float,
) -> None:
    """A :class:`SpecError` naming the input behind the first result that overflowed
    float64 (``inf`` or ``nan``): inputs each valid alone can multiply past 1.8e308."""
    per_step = wl.compute_time_per_step is not None
    compute_field = "compute_time_per_step" if per_step else "compute_time_per_example"
    wire = math.isfinite(wl.gradient_bytes / s.compression / c.bandwidth)
    checks = (
        (compute, compute_field, getattr(wl, compute_field), "the compute time per step"),
        (comm, "latency" if wire else "bandwidth", c.latency if wire else c.bandwidth,
         "the communication time per step"),
        (step, *_largest_term(compute, comm, wl, c, compute_field, wire), "the step time"),
        (solve, "steps" if wl.steps is not None else "large_batch",
         wl.steps if wl.steps is not None else wl.large_batch, "steps × step time"),
        (total, "failures", None, "the expected time with failures"),
        (cost, "price_per_node_hour", c.price_per_node_hour, "the cost"),
    )  # fmt: skip
    for value, field, given, what in checks:
        if not math.isfinite(value):
            raise SpecError(
                field, given, f"too extreme: {what} overflows to {value} (beyond 1.8e308)"
            )


def _compute_culprit(wl: Workload, c: ClusterSpec, compute_field: str) -> tuple[str, Any]:
    """Of the compute time, the cores' sharing and the slowest speed factor, the most
    extreme (furthest from 1 in orders of magnitude)."""
    speeds = c.compute.speed_factors
    slowest = 1.0 / min(speeds) if speeds else 1.0
    candidates = [
        (abs(math.log10(wl.compute_time)), compute_field, getattr(wl, compute_field)),
        (math.log10(c.oversubscription), "cores_per_node", c.cores_per_node),
        (math.log10(slowest), "compute.speed_factors", speeds),
    ]
    _, field, given = max(candidates, key=lambda p: p[0])
    return field, given


def _largest_term(
    compute: float, comm: float, wl: Workload, c: ClusterSpec, compute_field: str, wire: bool
) -> tuple[str, Any]:
    """The field behind the largest part of a step (compute, communication, update)."""
    parts = [
        (compute, *_compute_culprit(wl, c, compute_field)),
        (comm, "latency" if wire else "bandwidth", c.latency if wire else c.bandwidth),
        (float(wl.update_time), "update_time", wl.update_time),
    ]
    _, field, given = max(parts, key=lambda p: p[0])
    return field, given


@np.errstate(over="ignore", invalid="ignore")  # results are checked by _check_finite
def simulate(
    cluster: ClusterSpec | Mapping[str, Any],
    workload: Workload | Mapping[str, Any],
    scheme: SyncScheme | str | Mapping[str, Any] = "ring",
    *,
    steps_to_sample: int = 1000,
    seed: int | None = 0,
    failures: FailureSpec | Mapping[str, Any] | None = None,
    timeline_steps: int = 4,
    threads: int | None = None,
    **scheme_options: Any,
) -> SimulationResult:
    """Simulate ``steps_to_sample`` steps of ``workload`` on ``cluster`` with ``scheme``.

    Args:
        cluster: a :class:`ClusterSpec` (or its dict form).
        workload: a :class:`Workload` (or its dict form).
        scheme: a name from :data:`~tinygrad_opt.cluster.scheme.SCHEMES`, a dict or a
            :class:`SyncScheme`; ``scheme_options`` (``ps_shards``, ``ps_placement``,
            ``backup_workers``, ``overlap``, ``buckets``, ``bucket_bytes``,
            ``compression``, ``tensor_placement``, ``split_threshold``) override its
            fields.
        steps_to_sample: Monte Carlo steps (each samples every worker); the total time
            uses their mean step time times the run's ``steps``.
        seed: seed of the random streams; the same seed gives the same result.
        failures: node MTBF and checkpoint policy (:class:`FailureSpec`), optional.
        timeline_steps: how many first steps to keep in full for :meth:`timeline`.
        threads: threads for sampling (default: up to 2); does not change the result.

    Returns:
        A :class:`~tinygrad_opt.cluster.result.SimulationResult`.
    """
    c = cluster if isinstance(cluster, ClusterSpec) else ClusterSpec.from_dict(cluster)
    wl = workload if isinstance(workload, Workload) else Workload.from_dict(workload)
    s = resolve_scheme(c, scheme, **scheme_options)
    n_steps = check_positive_int("steps_to_sample", steps_to_sample, MAX_STEPS_TO_SAMPLE)
    if not c.compute.is_deterministic and n_steps * int(c.workers) > MAX_SAMPLED_WORKER_STEPS:
        raise SpecError(
            "steps_to_sample",
            steps_to_sample,
            f"workers × steps_to_sample = {int(c.workers):,} × {n_steps:,} random compute times "
            f"exceed the simulator limit of {MAX_SAMPLED_WORKER_STEPS:,}; sample fewer steps",
        )
    timeline_steps = check_nonnegative_int("timeline_steps", timeline_steps)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise SpecError("seed", seed, "must be a non-negative integer or None")
    if failures is not None and not isinstance(failures, FailureSpec):
        failures = FailureSpec.from_dict(failures)

    workers = int(c.workers)
    applied = workers - s.backup_workers
    is_ps = s.name == "ps"
    message = wl.gradient_bytes / s.compression
    placement = None
    if is_ps:
        placement = cached_placement(
            wl.tensor_sizes, s.ps_shards, s.tensor_placement, s.split_threshold, wl.parameters
        )
    fractions = None if placement is None else placement.fractions
    # one parameter-server message per tensor piece and phase (a bare count: one)
    n_msg = max(1, len(placement.pieces)) if placement is not None else 1
    comm_full = communication_cost(c, s, message, applied, fractions, n_msg)
    hot = 1.0 if placement is None else placement.hot_fraction
    server_update, post_update = _update_times(c, wl, s, hot)

    k_acc = int(wl.grad_accumulation)
    stage = s.zero_stage
    if stage:  # every rank updates its 1/N shard of the model
        post_update = (
            float(wl.update_time) / workers * c.update_slowdown(wl.update_working_set / workers)
        )
    after = 0.0  # exposed after the update: the all-gather of (updated) parameters
    bucket_plan = fusion = None
    if s.fusion_bytes is not None:
        fusion = fusion_plan(c, wl, s, applied, k_acc)
        buckets = 0  # set from the first step's schedule below
        unit = comm_total = 0.0
        upd_unit = 0.0
    elif s.overlap and not is_ps and s.buckets is None and wl.tensor_sizes is not None:
        bucket_plan = tensor_buckets(c, wl, s, applied, k_acc)
        buckets = len(bucket_plan["bytes"])
        units = bucket_plan["units"]
        unit = float(units.max())
        comm_total = float(units.sum())
        after = bucket_plan["after"]
        comm_total += after
    elif s.overlap:
        buckets = bucket_count(wl.gradient_bytes, s.bucket_bytes, s.buckets)
        per_bucket = max(1.0, n_msg / buckets)
        comm_bucket = communication_cost(c, s, message / buckets, applied, fractions, per_bucket)
        comm_unit = bucket_unit(*sync_split(comm_bucket.phases, 0), stage)
        if stage:
            after = sync_split(comm_full.phases, 0)[1]
        comm_total = buckets * comm_unit + after
    else:
        buckets = 1
        comm_unit = sum(sync_split(comm_full.phases, stage))
        comm_total = comm_unit
    if bucket_plan is None and fusion is None:
        upd_unit = server_update / buckets
        unit = comm_unit + upd_unit
    else:
        upd_unit = 0.0

    samples = sample_step_compute(
        c.compute,
        wl.compute_time * k_acc * c.oversubscription,
        workers,
        applied,
        n_steps,
        seed,
        nodes=c.nodes,
        head_steps=timeline_steps,
        threads=threads,
    )
    # An oversubscribed node's ranks take turns on the cores at every synchronisation:
    # each worker waits ``turn_time`` more before its gradient is ready to be combined.
    turn = c.turn_wait
    ready = np.asarray(samples.sync) + turn
    beta = wl.backward_fraction / k_acc  # only the last micro-batch's backward overlaps
    fusion_head: list[list[tuple[float, float, float]]] = []
    if fusion is not None:
        sync_end = fusion.end(np.asarray(samples.sync, dtype=float)) + turn
        fusion_head = [fusion(float(t)) for t in np.asarray(samples.sync)[:timeline_steps]]
        first = fusion(float(np.asarray(samples.sync)[0]))
        buckets = len(first)
        comm_total = float(sum(e - a for a, e, _ in first))
    elif bucket_plan is not None:
        sync_end = pipeline_end(np.multiply.outer(samples.sync, bucket_plan["ready"]), units)
        sync_end = np.asarray(sync_end) + turn
    elif s.overlap:  # the buckets wait for the turn too: the whole schedule shifts by it
        sync_end = overlapped_sync_end(samples.sync, beta, buckets, unit) + turn
    else:
        sync_end = ready + unit
    step = np.asarray(sync_end) + post_update + after
    tail = np.asarray(sync_end) - ready  # synchronisation exposed after T_ready
    upd_exposed = tail * (upd_unit / unit) if unit > 0 else np.zeros_like(tail)

    step_time = float(step.mean())
    compute_s = float(samples.useful.mean())
    # Waiting can only be >= 0; float32 samples and means can leave a -1e-17 residue.
    wait_s = max(float(ready.mean()) - compute_s, 0.0)
    update_s = float(upd_exposed.mean()) + post_update
    comm_s = float((tail - upd_exposed).mean()) + after

    batch = int(wl.per_worker_batch)
    global_batch = applied * batch * k_acc
    throughput = global_batch / step_time
    baseline_step = wl.compute_time + float(wl.update_time)
    baseline_tp = batch / baseline_step
    speedup = throughput / baseline_tp

    total_steps = wl.total_steps(global_batch)
    solve = total_steps * step_time
    machines = int(c.nodes) + comm_full.ps_machines
    failure_info = None
    total = solve
    if failures is not None:
        fo = failure_overhead(failures, solve, machines)
        total = fo.wall_time
        failure_info = fo.to_dict()
    time_speedup = None
    if wl.large_batch is not None:
        base_total = wl.total_steps(batch) * baseline_step
        if failures is not None:
            base_total = failure_overhead(failures, base_total, 1).wall_time
        time_speedup = base_total / total
    hours = total / 3600.0
    cost = hours * (int(c.nodes) * c.price_per_node_hour + comm_full.ps_machines * c.ps_price)
    step_std = float(step.std())  # its squares overflow before the mean does
    _check_finite(c, wl, s, wl.compute_time * c.oversubscription, comm_total,
                  step_time + step_std, solve, total, cost)  # fmt: skip

    phases = list(sharded_phases(comm_full.phases, stage))
    if is_ps:  # before the pull
        pull = [name for name, _ in phases].index("pull")
        phases.insert(pull, ("server update", server_update))
    timeline_data = {
        "head": samples.head,
        "sync": ready[:timeline_steps],
        "sync_end": np.asarray(sync_end)[:timeline_steps],
        "step": step[:timeline_steps],
        "phases": phases,
        "post_update": post_update,
        "overlap": s.overlap,
        "buckets": buckets,
        "unit": unit,
        "backward_fraction": beta,
        "bucket_ready": None if bucket_plan is None else bucket_plan["ready"],
        "bucket_units": None if bucket_plan is None else units,
        "after": after,
        "fusion": [[(a, e) for a, e, _ in sched] for sched in fusion_head],
        "ps_rows": s.ps_shards if is_ps else 0,
    }
    return SimulationResult(
        scheme=s.label,
        scheme_name=s.name,
        workers=workers,
        nodes=int(c.nodes),
        devices_per_node=c.devices_per_node,
        ps_machines=comm_full.ps_machines,
        backup_workers=s.backup_workers,
        applied_workers=applied,
        per_worker_batch=batch,
        global_batch=global_batch,
        bandwidth=float(c.bandwidth),
        latency=float(c.latency),
        message_bytes=message,
        overlap=s.overlap,
        buckets=buckets,
        compression=s.compression,
        step_time_s=step_time,
        step_time_std_s=step_std,
        step_time_p50_s=float(np.percentile(step, 50)),
        step_time_p99_s=float(np.percentile(step, 99)),
        compute_s=compute_s,
        wait_s=wait_s,
        comm_s=comm_s,
        update_s=update_s,
        comm_total_s=comm_total,
        phases=phases,
        throughput=throughput,
        baseline_step_time_s=baseline_step,
        baseline_throughput=baseline_tp,
        speedup=speedup,
        scaling_efficiency=speedup / workers,
        steps=total_steps,
        solve_time_s=solve,
        total_time_s=total,
        time_to_train_speedup=time_speedup,
        failure=failure_info,
        machines=machines,
        node_hours=hours * machines,
        cost=cost,
        bytes_sent_per_node=comm_full.bytes_sent_per_node,
        bytes_sent_per_node_max=comm_full.bytes_sent_per_node_max,
        busiest_link_bytes=comm_full.busiest_link_bytes,
        busiest_link=comm_full.busiest_link,
        steps_sampled=n_steps,
        seed=None if seed is None else int(seed),
        step_times=step,
        timeline_data=timeline_data,
        model=wl.model,
        zero_stage=stage,
        grad_accumulation=k_acc,
        bucket_sizes_bytes=bucket_sizes(bucket_plan, fusion, samples.sync),
        **memory_fields(c, wl, stage),
        transport=c.transport.name,
        intra_topology=c.intra_topology.name,
        local_aggregation=bool(c.local_aggregation and is_ps and c.devices_per_node > 1),
        summation_service=bool(c.summation_service and is_ps),
        **_placement_fields(placement, message),
    )


def _placement_fields(placement, message: float) -> dict[str, Any]:
    """The result's parameter-server placement fields (None / empty for an all-reduce)."""
    if placement is None:
        return {}
    shard_bytes = [message * f for f in placement.fractions]
    return {
        "tensor_placement": placement.method,
        "ps_shard_bytes": shard_bytes,
        "ps_hot_shard": placement.hot_shard,
        "ps_hot_shard_bytes": shard_bytes[placement.hot_shard],
        "ps_imbalance": placement.imbalance,
    }
