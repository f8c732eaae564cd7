"""Plan distributed synchronous SGD: how long, how fast, how expensive, and why.

A cluster (:class:`ClusterSpec`), a workload (:class:`Workload`) and a synchronisation
scheme (:class:`SyncScheme`: parameter server, ring / tree / halving-doubling /
hierarchical all-reduce) go into :func:`simulate`, which returns a
:class:`SimulationResult` with per-step samples, the step-time breakdown (compute, wait
for stragglers, communication, update), throughput, speed-up and scaling efficiency
against one worker, traffic per node and on the busiest link, total time (with failures
and checkpoints) and cost. :func:`sweep` runs a grid of what-ifs into a table;
:mod:`tinygrad_opt.cluster.plots` draws scaling curves, cost/time Pareto fronts and Gantt
timelines.

Modules (one concept each): ``units`` (parsing "25Gbit/s", "5us"), ``validation``
(``SpecError``), ``compute`` (compute-time models, straggler sampling), ``large_batch``
(McCandlish et al. 2018), ``spec`` (the cluster), ``workload`` (the model and its compute
time), ``scheme`` (the synchronisation scheme), ``models`` (built-in per-tensor model
profiles), ``placement`` (parameter-server tensors to shards), ``transport``
(communication software: per-message overhead, achieved bandwidth, host staging),
``collectives`` (alpha-beta communication formulas, Thakur et al. 2005), ``communication``
(one synchronisation on a given cluster, step by step: time by phase, bytes per link),
``overlap`` (DDP gradient buckets, equal), ``buckets`` (DDP buckets in reverse layer
order, Horovod fusion cycles), ``sharding`` (ZeRO stages: memory per GPU,
reduce-scatter/all-gather), ``sync_plan`` (timing a step's buckets), ``failures`` (Young
1974 / Daly 2006), ``result``, ``simulate``, ``sweep``, ``plan_eval`` (a grid's rows at
once, vectorised), ``planner`` (choosing the configuration: :func:`plan`), ``plots``,
``config`` (reading TOML cluster files and flags), ``toml_io`` (writing them),
``calibration_fits`` (fitting the simulator to measurements) and ``calibration`` (the
fitted result, its settings and predictions; the MPI measuring is in
:mod:`tinygrad_opt.distributed`).

Example::

    from tinygrad_opt.cluster import ClusterSpec, Workload, simulate
    cluster = ClusterSpec(workers=16, bandwidth="25Gbps", latency="5us",
                          compute={"kind": "lognormal", "sigma": 0.1},
                          price_per_node_hour=3.0)
    work = Workload(parameters=25_000_000, per_worker_batch=64,
                    compute_time_per_step="120ms", steps=50_000)
    for scheme in ("ps", "ring"):
        r = simulate(cluster, work, scheme)
        print(scheme, r.step_time_s, r.speedup, r.cost)
"""

from __future__ import annotations

from typing import Any

from tinygrad_opt.cluster.buckets import (
    assign_buckets,
    fusion_schedule,
    pipeline_end,
    pipeline_schedule,
)
from tinygrad_opt.cluster.collectives import (
    binomial_tree_allreduce_time,
    binomial_tree_reduce_time,
    double_binary_tree_allreduce_time,
    halving_doubling_allreduce_time,
    hierarchical_allreduce_time,
    local_aggregation_ps_time,
    parameter_server_time,
    ring_allreduce_time,
)
from tinygrad_opt.cluster.communication import CommCost, communication_cost
from tinygrad_opt.cluster.compute import (
    ComputeModel,
    Deterministic,
    Empirical,
    Heterogeneous,
    Lognormal,
    ShiftedExponential,
    Uniform,
    compute_model_from_dict,
    sample_step_compute,
)
from tinygrad_opt.cluster.failures import (
    FailureOverhead,
    FailureSpec,
    daly_interval,
    expected_wall_time,
    failure_overhead,
    system_mtbf,
    young_interval,
)
from tinygrad_opt.cluster.large_batch import LargeBatchModel, estimate_noise_scale
from tinygrad_opt.cluster.models import MODEL_NAMES, ModelProfile, get_model, list_models
from tinygrad_opt.cluster.overlap import bucket_schedule, overlapped_sync_end
from tinygrad_opt.cluster.placement import PLACEMENTS, Placement, place_tensors
from tinygrad_opt.cluster.plan_eval import balanced_batches, evaluate_grid
from tinygrad_opt.cluster.planner import Infeasible, Plan, plan, plot_plan
from tinygrad_opt.cluster.result import RESULT_KEYS, SimulationResult
from tinygrad_opt.cluster.scheme import SCHEMES, SyncScheme
from tinygrad_opt.cluster.sharding import ZERO_STAGES, MemoryEstimate, memory_per_gpu
from tinygrad_opt.cluster.simulate import simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.sweep import SWEEP_KEYS, SweepTable, pareto_front, sweep
from tinygrad_opt.cluster.transport import TRANSPORT_NAMES, TRANSPORTS, Transport
from tinygrad_opt.cluster.units import (
    format_bandwidth,
    format_bytes,
    format_duration,
    parse_bandwidth,
    parse_bytes,
    parse_duration,
)
from tinygrad_opt.cluster.validation import SpecError
from tinygrad_opt.cluster.workload import Workload

_PLOTS = ("plot_breakdown", "plot_pareto", "plot_scaling", "plot_timeline")


def __getattr__(name: str) -> Any:  # plots import matplotlib only when used
    if name in _PLOTS:
        from tinygrad_opt.cluster import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'tinygrad_opt.cluster' has no attribute {name!r}")


__all__ = [
    "MODEL_NAMES",
    "PLACEMENTS",
    "RESULT_KEYS",
    "SCHEMES",
    "SWEEP_KEYS",
    "ZERO_STAGES",
    "ClusterSpec",
    "CommCost",
    "ComputeModel",
    "Deterministic",
    "Empirical",
    "FailureOverhead",
    "FailureSpec",
    "Heterogeneous",
    "Infeasible",
    "LargeBatchModel",
    "Lognormal",
    "Uniform",
    "MemoryEstimate",
    "ModelProfile",
    "Placement",
    "Plan",
    "TRANSPORTS",
    "TRANSPORT_NAMES",
    "Transport",
    "ShiftedExponential",
    "SimulationResult",
    "SpecError",
    "SweepTable",
    "SyncScheme",
    "Workload",
    "assign_buckets",
    "binomial_tree_allreduce_time",
    "balanced_batches",
    "binomial_tree_reduce_time",
    "double_binary_tree_allreduce_time",
    "bucket_schedule",
    "communication_cost",
    "compute_model_from_dict",
    "daly_interval",
    "estimate_noise_scale",
    "evaluate_grid",
    "expected_wall_time",
    "failure_overhead",
    "format_bandwidth",
    "format_bytes",
    "format_duration",
    "fusion_schedule",
    "get_model",
    "halving_doubling_allreduce_time",
    "hierarchical_allreduce_time",
    "local_aggregation_ps_time",
    "list_models",
    "memory_per_gpu",
    "overlapped_sync_end",
    "parameter_server_time",
    "pareto_front",
    "pipeline_end",
    "pipeline_schedule",
    "parse_bandwidth",
    "parse_bytes",
    "parse_duration",
    "place_tensors",
    "plan",
    "plot_breakdown",
    "plot_pareto",
    "plot_plan",
    "plot_scaling",
    "plot_timeline",
    "ring_allreduce_time",
    "sample_step_compute",
    "simulate",
    "sweep",
    "system_mtbf",
    "young_interval",
]
