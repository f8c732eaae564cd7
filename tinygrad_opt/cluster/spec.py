"""What is being planned: the cluster, the training workload and the synchronisation scheme.

All three are frozen dataclasses that validate (and parse units) on construction, so a
bad setting fails early with a :class:`~tinygrad_opt.cluster.validation.SpecError` (a
``ValueError``) naming the field and the value. Each has ``from_dict`` / ``to_dict`` so a
command line or a TOML/JSON file can build it from plain values; strings with units are
accepted wherever a bandwidth, duration or size is expected (see
:mod:`tinygrad_opt.cluster.units`), and stored in SI base units (bytes/s, s, bytes).

Terminology
-----------
*worker*: one process computing gradients on its own mini-batch (one GPU, one CPU box).
*node*: a machine with one network interface (NIC) shared by its ``devices_per_node``
workers. Without a hierarchy every worker is its own node. ``bandwidth``/``latency``
describe each node's NIC (full duplex: ``bandwidth`` each way); ``intra_bandwidth`` /
``intra_latency`` each device's link inside a node (NVLink, PCIe).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from tinygrad_opt.cluster.compute import ComputeModel, Deterministic, compute_model_from_dict
from tinygrad_opt.cluster.large_batch import LargeBatchModel
from tinygrad_opt.cluster.models import backward_weights, resolve_tensors
from tinygrad_opt.cluster.placement import DEFAULT_SPLIT_THRESHOLD, PLACEMENTS
from tinygrad_opt.cluster.transport import Transport, coerce_transport
from tinygrad_opt.cluster.units import parse_bandwidth, parse_bytes, parse_duration
from tinygrad_opt.cluster.validation import (
    MAX_COUNT,
    MAX_WORKERS,
    SpecError,
    check_choice,
    check_fraction,
    check_keys,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)

__all__ = [
    "ALLREDUCE_SCHEMES",
    "BYTES_PER_DTYPE",
    "PS_PLACEMENTS",
    "SCHEMES",
    "ClusterSpec",
    "SyncScheme",
    "Workload",
]

SCHEMES: tuple[str, ...] = ("ps", "ring", "tree", "halving_doubling", "hierarchical")
"""Canonical scheme names: parameter server, ring / binomial-tree / Rabenseifner
(recursive halving-doubling) all-reduce, hierarchical (intra-node + inter-node) all-reduce."""

ALLREDUCE_SCHEMES: tuple[str, ...] = ("ring", "tree", "halving_doubling", "hierarchical")

SCHEME_ALIASES: dict[str, str] = {
    "parameter_server": "ps", "param_server": "ps", "sharded_ps": "ps",
    "ring_allreduce": "ring", "allreduce": "ring", "allreduce_ring": "ring",
    "tree_allreduce": "tree", "binomial_tree": "tree", "binomial": "tree",
    "rabenseifner": "halving_doubling", "recursive_halving_doubling": "halving_doubling",
    "halving_doubling_allreduce": "halving_doubling", "hd": "halving_doubling",
    "hierarchical_allreduce": "hierarchical", "hierarchical_ring": "hierarchical",
    "2d": "hierarchical",
}  # fmt: skip

PS_PLACEMENTS: tuple[str, ...] = ("dedicated", "colocated")

_PLACEMENT_ALIASES = {"roundrobin": "round_robin", "rr": "round_robin", "lpt": "greedy",
                      "mxnet": "split", "kvstore": "split"}  # fmt: skip

BYTES_PER_DTYPE: dict[str, float] = {
    "fp64": 8, "float64": 8, "fp32": 4, "float32": 4, "tf32": 4, "fp16": 2, "float16": 2,
    "bf16": 2, "bfloat16": 2, "fp8": 1, "int8": 1,
}  # fmt: skip

DEFAULT_BUCKET_BYTES = 25 * 2**20
"""PyTorch DDP's default ``bucket_cap_mb=25`` (25 MiB) (Li et al. 2020)."""

DEFAULT_FIRST_BUCKET_BYTES = 2**20
"""PyTorch DDP's first bucket (``dist._DEFAULT_FIRST_BUCKET_BYTES``, 1 MiB): small, so
the first all-reduce starts early in the backward pass."""

DEFAULT_FUSION_BYTES = 64 * 2**20
"""Horovod's ``HOROVOD_FUSION_THRESHOLD`` default, 64 MiB (``horovod/common/operations.cc``)."""

DEFAULT_CYCLE_TIME = 5e-3
"""Horovod's ``HOROVOD_CYCLE_TIME`` default, 5 ms (``horovod/common/operations.cc``)."""

GRAD_DTYPES: tuple[str, ...] = ("fp16", "bf16", "fp32")
_GRAD_DTYPE_ALIASES = {"float16": "fp16", "half": "fp16", "bfloat16": "bf16",
                       "float32": "fp32", "float": "fp32"}  # fmt: skip


def _from_dict(cls: type, data: Mapping[str, Any], where: str, aliases: Mapping[str, str]):
    if not isinstance(data, Mapping):
        raise SpecError(where, data, "must be a dictionary")
    names = tuple(f.name for f in fields(cls))
    data = {aliases.get(k, k): v for k, v in data.items()}
    check_keys(where, data, names + tuple(aliases))
    return cls(**data)


# ============================================================================ cluster
@dataclass(frozen=True)
class ClusterSpec:
    """Machines, network and prices.

    Attributes:
        workers: worker processes in the job (all paid for, including backup workers).
            May be left out when ``nodes`` is given: ``workers = nodes × devices_per_node``.
        bandwidth: each node's NIC bandwidth, each way (``"25Gbit/s"``, ``"10GB/s"``,
            bytes/s). ``"Gbps"`` = gigabits/s. Parameter servers have the same NIC.
        latency: one-message latency ``α`` between nodes (``"5us"``, seconds); > 0.
        compute: the compute-time model (:mod:`~tinygrad_opt.cluster.compute`): an object,
            a kind name or a dict ``{"kind": "lognormal", "sigma": 0.2}``.
        nodes: number of machines; default ``workers / devices_per_node``.
        devices_per_node: workers per node sharing one NIC (default 1: no hierarchy).
        intra_bandwidth, intra_latency: per-device link inside a node; the bandwidth is
            required when ``devices_per_node > 1``, the latency defaults to ``latency``.
        price_per_node_hour: price of one worker node for one hour (any currency).
        ps_price_per_node_hour: price of a dedicated parameter-server machine
            (default: ``price_per_node_hour``).
        name: free text for tables and plots.
        cores_per_node: CPU cores the node's ``d = devices_per_node`` worker processes
            share (may be fractional: *effective* cores, as ``tinygrad-opt calibrate``
            measures them). With ``d > cores_per_node`` the node is oversubscribed:
            under a fair scheduler each process runs ``c/d`` of the time, so its compute,
            its update and its share of an intra-node all-reduce (shared-memory copies
            made by the CPUs) take ``s = d/c`` times longer (waiting MPI ranks poll, so
            all ``d`` processes compete). Parameter-server messages, which one server
            handles one after another, are not slowed (:mod:`.collectives`).
            Default None: a core per worker.
        memory_streams_per_node: how many optimizer updates the node's memory
            bandwidth serves at full speed at once, >= 1 (default None: unlimited). The
            ``k = min(d, c)`` updates that run at the same time (after an all-reduce
            every worker updates; a parameter-server shard updates alone) share it when
            their data (``k × Workload.update_bytes``) does not fit in the cache: each
            then takes ``max(1, k/m)`` times longer (:meth:`update_slowdown`).
        cache_bytes_per_node: last-level cache the node's workers share (bytes or
            ``"32MiB"``; default 0). Only used with ``memory_streams_per_node``.
        turn_time: waiting per step on an oversubscribed node (more workers than whole
            cores, ``d > ceil(cores_per_node)``; ``"0.9ms"``, seconds; default 0).
            Processor sharing spreads CPU work evenly, but at every synchronisation the
            ranks take turns on the cores: a rank whose peers' messages have arrived
            still waits for a core while another rank runs or polls there, for up to a
            scheduler time slice. Each worker's step then waits ``turn_time`` longer
            (:attr:`turn_wait`). It depends on the work between synchronisations:
            ``tinygrad-opt calibrate`` measures it per model size and mode, with the
            model's own training steps synchronised by tiny messages.
        reduce_bandwidth: bytes per second one worker adds into a running sum (Thakur,
            Rabenseifner & Gropp's ``1/γ``): every algorithm step that combines ``m``
            received bytes with the worker's own costs ``m/reduce_bandwidth`` more
            (``s`` times more on an oversubscribed node: the CPUs do the adding), and a
            parameter server adds up the pushed gradients before it updates
            (:mod:`.collectives`). Default None: not modelled, as on accelerators where
            the network hides it.
        transport: the communication software (:mod:`.transport`): a profile name
            (``"nccl"``, ``"mpi"``, ``"mpi_gpudirect"``, ``"grpc"``, ``"gloo"``), a dict
            (``{"name": "mpi", "overhead": "2us"}``) or a :class:`Transport`; default
            ``"ideal"``: the nominal links, no per-message overhead, no host staging.
        local_aggregation: a parameter server's workers first sum their gradients
            inside each node (binomial reduce over the intra-node link to one leader),
            the leaders push one aggregate per node and pull the result, which is
            broadcast inside the node (TensorFlow's ``distributed_replicated``, MXNet's
            ``device`` KVStore, BytePS). Only changes scheme ``ps``.
        summation_service: the parameter-server shards are CPU-only machines that only
            sum (BytePS's summation service, Jiang et al. OSDI 2020): no update on the
            servers; every worker applies the update after the pull. Needs
            ``ps_placement = "dedicated"``; all-reduce schemes ignore it.
        gpu_memory: memory of one worker's GPU (bytes or ``"80GB"``; default None: not
            checked). A configuration whose model states (:mod:`.sharding`) need more is
            reported infeasible, with the reason.
    """

    workers: int | None = None
    bandwidth: float | str | None = None
    latency: float | str | None = None
    compute: ComputeModel | Mapping[str, Any] | str = field(default_factory=Deterministic)
    nodes: int | None = None
    devices_per_node: int = 1
    intra_bandwidth: float | str | None = None
    intra_latency: float | str | None = None
    price_per_node_hour: float = 0.0
    ps_price_per_node_hour: float | None = None
    name: str = ""
    cores_per_node: float | None = None
    memory_streams_per_node: float | None = None
    cache_bytes_per_node: float | str = 0.0
    turn_time: float | str = 0.0
    reduce_bandwidth: float | str | None = None
    transport: Transport | str | Mapping[str, Any] | None = None
    local_aggregation: bool = False
    summation_service: bool = False
    gpu_memory: float | str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "transport", coerce_transport(self.transport))
        for key in ("local_aggregation", "summation_service"):
            if not isinstance(getattr(self, key), bool):
                raise SpecError(key, getattr(self, key), "must be true or false")
        d = check_positive_int("devices_per_node", self.devices_per_node, MAX_WORKERS)
        set_(self, "devices_per_node", d)
        workers, nodes = self.workers, self.nodes
        if workers is None and nodes is None:
            raise SpecError("workers", None, "is required (or give nodes)")
        if workers is not None:
            workers = check_positive_int("workers", workers, MAX_WORKERS)
        if nodes is not None:
            nodes = check_positive_int("nodes", nodes, MAX_WORKERS)
        if workers is None:
            workers = nodes * d
        elif nodes is None:
            if workers % d:
                raise SpecError(
                    "workers",
                    workers,
                    f"inconsistent hierarchy: not a multiple of devices_per_node={d}",
                )
            nodes = workers // d
        elif workers != nodes * d:
            raise SpecError(
                "workers",
                workers,
                f"inconsistent hierarchy: must equal nodes × devices_per_node = "
                f"{nodes} × {d} = {nodes * d}",
            )
        set_(self, "workers", workers)
        set_(self, "nodes", nodes)
        for key, example in (("bandwidth", "'25Gbit/s'"), ("latency", "'5us'")):
            if getattr(self, key) is None:
                raise SpecError(key, None, f"is required (e.g. {example})")
        set_(self, "bandwidth", parse_bandwidth(self.bandwidth, "bandwidth"))
        set_(self, "latency", parse_duration(self.latency, "latency"))
        if d > 1:
            if self.intra_bandwidth is None:
                raise SpecError(
                    "intra_bandwidth",
                    None,
                    f"is required with devices_per_node={d} (e.g. '300GB/s' for NVLink)",
                )
            set_(self, "intra_bandwidth", parse_bandwidth(self.intra_bandwidth, "intra_bandwidth"))
            lat = self.latency if self.intra_latency is None else self.intra_latency
            set_(self, "intra_latency", parse_duration(lat, "intra_latency"))
        else:
            if self.intra_bandwidth is not None:
                set_(
                    self,
                    "intra_bandwidth",
                    parse_bandwidth(self.intra_bandwidth, "intra_bandwidth"),
                )
            if self.intra_latency is not None:
                set_(self, "intra_latency", parse_duration(self.intra_latency, "intra_latency"))
        if self.gpu_memory is not None:
            set_(self, "gpu_memory", parse_bytes(self.gpu_memory, "gpu_memory"))
        set_(self, "compute", compute_model_from_dict(self.compute))
        self.compute.worker_scales(workers, nodes)  # checks the number of speed factors
        set_(
            self,
            "price_per_node_hour",
            check_nonnegative_float("price_per_node_hour", self.price_per_node_hour),
        )
        if self.ps_price_per_node_hour is not None:
            set_(
                self,
                "ps_price_per_node_hour",
                check_nonnegative_float("ps_price_per_node_hour", self.ps_price_per_node_hour),
            )
        if self.cores_per_node is not None:
            set_(
                self, "cores_per_node", check_positive_float("cores_per_node", self.cores_per_node)
            )
        m = self.memory_streams_per_node
        if m is not None:
            m = check_positive_float("memory_streams_per_node", m)
            if m < 1:
                raise SpecError(
                    "memory_streams_per_node",
                    self.memory_streams_per_node,
                    "must be >= 1 (one update alone runs at full speed by definition)",
                )
            set_(self, "memory_streams_per_node", m)
        set_(
            self,
            "cache_bytes_per_node",
            parse_bytes(self.cache_bytes_per_node, "cache_bytes_per_node", allow_zero=True),
        )
        set_(self, "turn_time", parse_duration(self.turn_time, "turn_time", allow_zero=True))
        if self.reduce_bandwidth is not None:
            set_(
                self,
                "reduce_bandwidth",
                parse_bandwidth(self.reduce_bandwidth, "reduce_bandwidth"),
            )

    # ------------------------------------------------------------------ contention
    @property
    def oversubscription(self) -> float:
        """``s = max(1, d / cores_per_node)``: how much slower a worker's CPU work runs
        because the node's ``d`` processes share its cores (1 without ``cores_per_node``)."""
        if self.cores_per_node is None:
            return 1.0
        return max(1.0, self.devices_per_node / self.cores_per_node)

    @property
    def turn_wait(self) -> float:
        """Seconds each worker waits per step for its turn on a core: ``turn_time`` when
        the node runs more workers than it has whole cores (``devices_per_node >
        ceil(cores_per_node)``: 1.88 effective cores are two CPUs, which two processes
        need not take turns on), else 0."""
        c = self.cores_per_node
        if c is None or self.devices_per_node <= math.ceil(c - 1e-9):
            return 0.0
        return float(self.turn_time)

    def update_slowdown(self, update_bytes: float, concurrent: int | None = None) -> float:
        """Factor on the update time of one worker on a node of this cluster.

        ``s · max(1, k/m)`` when the ``k`` updates that run at once do not fit in the
        cache together (``k × update_bytes > cache_bytes_per_node``: they stream from
        memory and share its bandwidth), else ``s``. ``s`` = :attr:`oversubscription`,
        ``m`` = ``memory_streams_per_node`` (no memory term without it), ``k`` =
        ``min(concurrent, d, c)``: ``concurrent`` updates at once (default all ``d``
        workers of the node), never more than its ``c`` cores run.
        """
        s = self.oversubscription
        m = self.memory_streams_per_node
        d = self.devices_per_node
        k = float(d if concurrent is None else max(1, min(int(concurrent), d)))
        if self.cores_per_node is not None:
            k = min(k, max(1.0, self.cores_per_node))
        if m is None or k * float(update_bytes) <= float(self.cache_bytes_per_node):
            return s
        return s * max(1.0, k / m)

    def reduce_time(self, nbytes: float, oversubscribed: bool = True) -> float:
        """Seconds one worker spends adding ``nbytes`` received bytes into its own:
        ``nbytes · s / reduce_bandwidth`` (``s`` = :attr:`oversubscription`, or 1 with
        ``oversubscribed=False``, as for a dedicated server's own CPU); 0 without
        ``reduce_bandwidth``."""
        if self.reduce_bandwidth is None:
            return 0.0
        s = self.oversubscription if oversubscribed else 1.0
        return float(nbytes) * s / float(self.reduce_bandwidth)

    # ------------------------------------------------------------------ helpers
    @property
    def hierarchical(self) -> bool:
        """True when several workers share a node (``devices_per_node > 1``)."""
        return self.devices_per_node > 1

    @property
    def ps_price(self) -> float:
        """Hourly price of a dedicated parameter-server machine."""
        p = self.ps_price_per_node_hour
        return self.price_per_node_hour if p is None else p

    def replace(self, **changes: Any) -> ClusterSpec:
        """A copy with ``changes``; changing ``workers`` alone re-derives ``nodes``.

        Likewise changing ``nodes`` alone re-derives ``workers``.
        """
        if "workers" in changes and "nodes" not in changes:
            changes["nodes"] = None
        elif "nodes" in changes and "workers" not in changes:
            changes["workers"] = None
        elif "devices_per_node" in changes and "nodes" not in changes:
            changes["nodes"] = None
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (SI units); ``ClusterSpec.from_dict(c.to_dict()) == c``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["compute"] = self.compute.to_dict()
        out["transport"] = self.transport.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterSpec:
        """Build from ``{"workers": 16, "bandwidth": "25Gbps", "latency": "5us", ...}``.

        ``inter_bandwidth`` / ``inter_latency`` are accepted for ``bandwidth`` /
        ``latency``; unknown keys raise a ``SpecError`` listing the valid ones.
        """
        aliases = {"inter_bandwidth": "bandwidth", "inter_latency": "latency"}
        return _from_dict(cls, data, "cluster", aliases)


# ============================================================================ workload
@dataclass(frozen=True)
class Workload:
    """The model being trained and how long it takes.

    Attributes:
        parameters: number of trainable parameters, or a module with ``num_parameters()``
            (:meth:`tinygrad_opt.nn.Module.num_parameters`, trainable ones), or a list of
            per-tensor counts in model order (stored as ``tensor_sizes``, their sum here).
            May be left out with ``tensor_sizes`` or ``model``.
        per_worker_batch: examples per worker per step.
        compute_time_per_step: mean forward+backward time of one worker at nominal speed
            for its ``per_worker_batch`` (``"120ms"``); or give
        compute_time_per_example: and the step takes ``per_example × per_worker_batch``.
        bytes_per_param: gradient bytes per parameter before compression (4, or
            ``"fp32"``, ``"fp16"``, ``"bf16"`` ...).
        steps: optimiser steps to train; or give
        large_batch: a :class:`LargeBatchModel` (or dict) and the steps follow from the
            global batch, ``S(B) = S_min(1 + B_noise/B)``.
        update_time: time to apply the optimiser update to the whole model on one
            machine (a parameter-server shard does ``1/k`` of it); default 0.
        backward_fraction: share of the compute time spent in the backward pass (when
            gradients become ready for overlapped communication); default 2/3.
        name: free text.
        update_bytes: memory one worker's optimizer update works on: parameters,
            gradients and optimizer state (bytes or ``"80MB"``); default
            ``4 × parameters × bytes_per_param`` (Adam: parameters, gradients, two
            moments). Only used with ``ClusterSpec.memory_streams_per_node``.
        tensor_sizes: parameters of each tensor in model order (forward order, as
            ``named_parameters()``); default None: one evenly divisible blob. A parameter
            server places whole tensors on its shards (``SyncScheme.tensor_placement``).
        backward_times: backward seconds of each tensor's layer (one per tensor, in
            model order); default: ``backward_fraction × compute_time`` split in
            proportion to :func:`~tinygrad_opt.cluster.models.backward_weights` (the
            profile's forward MACs for a ``model``, else the tensor sizes); see
            :attr:`tensor_backward_times`.
        model: a built-in profile (:data:`~tinygrad_opt.cluster.models.MODEL_NAMES`:
            ``"vgg16"``, ``"resnet50"``, ``"bert_base"``, ``"gpt2"`` ...): its tensors
            become ``tensor_sizes`` and its total ``parameters``.
        grad_dtype: ``"fp16"``, ``"bf16"`` or ``"fp32"``: sets ``bytes_per_param`` (2 or
            4); with 2-byte gradients (mixed precision) the weights are 2-byte too and
            Adam keeps 12 bytes of state per parameter (:mod:`.sharding`).
        grad_accumulation: ``k`` micro-batches of ``per_worker_batch`` per optimiser step
            (default 1): a step computes ``k`` times and synchronises once.
        optimizer_bytes_per_param: optimizer state per parameter for the memory estimate
            (default: 12 with 2-byte gradients, 8 with 4-byte: Adam; 0 for SGD).
    """

    parameters: int | Any = None
    per_worker_batch: int = 32
    compute_time_per_step: float | str | None = None
    compute_time_per_example: float | str | None = None
    bytes_per_param: float | str = 4.0
    steps: int | None = None
    large_batch: LargeBatchModel | Mapping[str, Any] | None = None
    update_time: float | str = 0.0
    backward_fraction: float = 2.0 / 3.0
    name: str = ""
    update_bytes: float | str | None = None
    tensor_sizes: Sequence[int] | None = None
    backward_times: Sequence[float | str] | None = None
    model: str | None = None
    grad_dtype: str | None = None
    grad_accumulation: int = 1
    optimizer_bytes_per_param: float | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        params, sizes, times, model = resolve_tensors(
            self.parameters, self.tensor_sizes, self.backward_times, self.model
        )
        set_(self, "tensor_sizes", sizes)
        set_(self, "backward_times", times)
        set_(self, "model", model)
        if model is not None and not self.name:
            set_(self, "name", model)
        if params is None:
            raise SpecError(
                "parameters",
                None,
                "is required (a count, a list of tensor sizes or a module; or give model)",
            )
        if hasattr(params, "num_parameters"):
            if not self.name:
                set_(self, "name", type(params).__name__)
            params = params.num_parameters(trainable_only=True)
        set_(self, "parameters", check_positive_int("parameters", params, MAX_COUNT))
        batch = check_positive_int("per_worker_batch", self.per_worker_batch, MAX_COUNT)
        set_(self, "per_worker_batch", batch)
        per_step, per_ex = self.compute_time_per_step, self.compute_time_per_example
        if (per_step is None) == (per_ex is None):
            raise SpecError(
                "compute_time_per_step",
                per_step,
                "give exactly one of compute_time_per_step and compute_time_per_example",
            )
        if per_step is not None:
            set_(self, "compute_time_per_step", parse_duration(per_step, "compute_time_per_step"))
        else:
            set_(
                self, "compute_time_per_example", parse_duration(per_ex, "compute_time_per_example")
            )
        bpp = self.bytes_per_param
        if isinstance(bpp, str) and bpp.strip().lower() in BYTES_PER_DTYPE:
            bpp = BYTES_PER_DTYPE[bpp.strip().lower()]
        elif isinstance(bpp, str):
            try:
                bpp = float(bpp)
            except ValueError:
                raise SpecError(
                    "bytes_per_param",
                    bpp,
                    f"must be a number or a dtype name ({', '.join(BYTES_PER_DTYPE)})",
                ) from None
        set_(self, "bytes_per_param", check_positive_float("bytes_per_param", bpp))
        if self.bytes_per_param > 1024:
            raise SpecError("bytes_per_param", bpp, "must be <= 1024 (the simulator limit)")
        if self.grad_dtype is not None:
            gd = check_choice("grad_dtype", self.grad_dtype, GRAD_DTYPES, _GRAD_DTYPE_ALIASES)
            set_(self, "grad_dtype", gd)
            if self.bytes_per_param not in (4.0, BYTES_PER_DTYPE[gd]):
                raise SpecError(
                    "bytes_per_param",
                    self.bytes_per_param,
                    f"contradicts grad_dtype {gd!r} ({BYTES_PER_DTYPE[gd]:g} bytes); give one",
                )
            set_(self, "bytes_per_param", float(BYTES_PER_DTYPE[gd]))
        set_(
            self,
            "grad_accumulation",
            check_positive_int("grad_accumulation", self.grad_accumulation, MAX_COUNT),
        )
        if self.optimizer_bytes_per_param is not None:
            key = "optimizer_bytes_per_param"
            set_(self, key, check_nonnegative_float(key, self.optimizer_bytes_per_param))
        lb = self.large_batch
        if isinstance(lb, Mapping):
            lb = LargeBatchModel.from_dict(lb)
            set_(self, "large_batch", lb)
        elif lb is not None and not isinstance(lb, LargeBatchModel):
            raise SpecError("large_batch", lb, "must be a LargeBatchModel or a dictionary")
        if (self.steps is None) == (lb is None):
            raise SpecError(
                "steps", self.steps, "give exactly one of steps and large_batch (to derive them)"
            )
        if self.steps is not None:
            set_(self, "steps", check_positive_int("steps", self.steps, MAX_COUNT))
        set_(self, "update_time", parse_duration(self.update_time, "update_time", allow_zero=True))
        set_(
            self,
            "backward_fraction",
            check_fraction("backward_fraction", self.backward_fraction, closed_low=False),
        )
        if self.update_bytes is not None:
            set_(self, "update_bytes", parse_bytes(self.update_bytes, "update_bytes"))

    @property
    def update_working_set(self) -> float:
        """Bytes the update works on: ``update_bytes``, or ``4 × gradient_bytes``."""
        if self.update_bytes is not None:
            return float(self.update_bytes)
        return 4.0 * self.gradient_bytes

    @property
    def tensor_backward_times(self) -> tuple[float, ...]:
        """Backward seconds per tensor (model order): ``backward_times`` if given, else
        ``backward_fraction × compute_time`` split in proportion to
        :func:`~tinygrad_opt.cluster.models.backward_weights`; one entry for a bare
        parameter count."""
        if self.backward_times is not None:
            return tuple(self.backward_times)
        total = self.backward_fraction * self.compute_time
        if self.tensor_sizes is None:
            return (total,)
        w = backward_weights(self.tensor_sizes, self.model)
        s = sum(w)
        return tuple(total * x / s for x in w)

    @classmethod
    def from_model(cls, model: str, **kwargs: Any) -> Workload:
        """``Workload(model=model, **kwargs)``: a built-in profile (``"vgg16"`` ...)."""
        return cls(model=model, **kwargs)

    @property
    def compute_time(self) -> float:
        """Mean compute seconds per step of one nominal-speed worker."""
        if self.compute_time_per_step is not None:
            return float(self.compute_time_per_step)
        return float(self.compute_time_per_example) * self.per_worker_batch

    @property
    def gradient_bytes(self) -> float:
        """Uncompressed gradient size: ``parameters × bytes_per_param``."""
        return float(self.parameters) * float(self.bytes_per_param)

    def total_steps(self, global_batch: int) -> int:
        """Steps to train: ``steps`` if given, else ``ceil(S_min (1 + B_noise / B))``."""
        if self.steps is not None:
            return int(self.steps)
        return int(math.ceil(self.large_batch.steps(global_batch) - 1e-9))

    @classmethod
    def from_module(cls, module: Any, *, per_tensor: bool = False, **kwargs: Any) -> Workload:
        """``Workload(parameters=module.num_parameters(trainable_only=True), **kwargs)``.

        With ``per_tensor=True`` the module's trainable tensors, in ``parameters()``
        order, become ``tensor_sizes`` (whole tensors on parameter-server shards).
        """
        if not per_tensor:
            return cls(parameters=module, **kwargs)
        sizes = [int(p.size) for p in module.parameters() if p.requires_grad]
        kwargs.setdefault("name", type(module).__name__)
        return cls(tensor_sizes=sizes, **kwargs)

    def replace(self, **changes: Any) -> Workload:
        """A copy with ``changes`` (switching per-step/per-example time clears the other)."""
        if "compute_time_per_step" in changes and "compute_time_per_example" not in changes:
            changes["compute_time_per_example"] = None
        if "compute_time_per_example" in changes and "compute_time_per_step" not in changes:
            changes["compute_time_per_step"] = None
        if "steps" in changes and "large_batch" not in changes:
            changes["large_batch"] = None
        if "large_batch" in changes and "steps" not in changes:
            changes["steps"] = None
        if "bytes_per_param" in changes:
            changes.setdefault("grad_dtype", None)
        size_keys = ("parameters", "tensor_sizes", "model")
        if any(k in changes for k in size_keys):  # a new size: the old tensors go
            for k in (*size_keys, "backward_times"):
                changes.setdefault(k, None)
            if self.model is not None and self.name == self.model:
                changes.setdefault("name", "")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values; a model's ``tensor_sizes`` are left out (the name gives them)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.large_batch is not None:
            out["large_batch"] = self.large_batch.to_dict()
        if self.model is not None:
            out.pop("tensor_sizes")
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workload:
        """Build from ``{"parameters": 25e6, "per_worker_batch": 64, ...}``."""
        return _from_dict(cls, data, "workload", {})


# ============================================================================ scheme
@dataclass(frozen=True)
class SyncScheme:
    """How gradients are combined each step.

    Attributes:
        name: one of :data:`SCHEMES` (aliases such as ``"parameter_server"``,
            ``"rabenseifner"``, ``"ring_allreduce"`` are accepted).
        ps_shards: parameter-server shards ``k`` (``ps`` only).
        ps_placement: ``"dedicated"`` (``k`` extra machines, paid for) or ``"colocated"``
            (shard ``j`` runs on a worker node, whose NIC then carries both).
        backup_workers: ``b`` of the ``workers`` are backups: the server applies the first
            ``workers − b`` gradients and drops the ``b`` slowest (Chen et al. 2016).
            Needs ``ps`` (an all-reduce needs every member) and ``0 <= b < workers``.
        overlap: start synchronising gradient buckets during the backward pass
            (PyTorch DDP, Li et al. 2020); see :mod:`tinygrad_opt.cluster.overlap`.
        buckets: number of equal gradient buckets when overlapping; default
            ``ceil(gradient_bytes / bucket_bytes)``.
        bucket_bytes: DDP's bucket cap (default 25 MiB), used when ``buckets`` is None.
        compression: gradient bytes are divided by this factor on the wire (2.0 for
            fp32 -> fp16); >= 1.
        tensor_placement: how a parameter server puts the workload's tensors on its
            shards (``ps`` only): ``"round_robin"`` (TensorFlow's default), ``"greedy"``
            (largest first onto the least-loaded shard), ``"split"`` (MXNet KVStore:
            tensors of ``split_threshold`` elements or more cut over all shards) or
            ``"even"`` (an evenly divisible blob, as for a bare parameter count); see
            :mod:`tinygrad_opt.cluster.placement`.
        split_threshold: elements from which ``"split"`` cuts a tensor (default 10⁶,
            MXNet's ``MXNET_KVSTORE_BIGARRAY_BOUND``).
        zero_stage: sharded data parallelism (:mod:`.sharding`): 0 (plain data
            parallel, default), 1 (optimizer state), 2 (+ gradients), 3 (+ parameters:
            FSDP). Stages 1–3 need ``ring`` or ``halving_doubling`` (a reduce-scatter and
            an all-gather).
        first_bucket_bytes: cap of DDP's first bucket (default 1 MiB) with per-tensor
            buckets (:mod:`.buckets`).
        fusion_bytes: Horovod's tensor fusion instead of DDP buckets (implies
            ``overlap``): the fusion threshold (``"64MiB"``, Horovod's default); needs a
            workload with tensors, an all-reduce and no ZeRO stage (:mod:`.buckets`).
        cycle_time: Horovod's cycle time with ``fusion_bytes`` (default 5 ms).
    """

    name: str = "ring"
    ps_shards: int = 1
    ps_placement: str = "dedicated"
    backup_workers: int = 0
    overlap: bool = False
    buckets: int | None = None
    bucket_bytes: float | str = DEFAULT_BUCKET_BYTES
    compression: float = 1.0
    tensor_placement: str = "round_robin"
    split_threshold: int = DEFAULT_SPLIT_THRESHOLD
    zero_stage: int = 0
    first_bucket_bytes: float | str = DEFAULT_FIRST_BUCKET_BYTES
    fusion_bytes: float | str | None = None
    cycle_time: float | str = DEFAULT_CYCLE_TIME

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        name = check_choice("scheme", self.name, SCHEMES, SCHEME_ALIASES)
        set_(self, "name", name)
        set_(self, "ps_shards", check_positive_int("ps_shards", self.ps_shards, MAX_WORKERS))
        set_(self, "ps_placement", check_choice("ps_placement", self.ps_placement, PS_PLACEMENTS))
        set_(self, "backup_workers", check_nonnegative_int("backup_workers", self.backup_workers))
        if not isinstance(self.overlap, bool):
            raise SpecError("overlap", self.overlap, "must be true or false")
        if self.buckets is not None:
            set_(self, "buckets", check_positive_int("buckets", self.buckets))
        set_(self, "bucket_bytes", parse_bytes(self.bucket_bytes, "bucket_bytes"))
        c = check_positive_float("compression", self.compression)
        if c < 1:
            raise SpecError("compression", self.compression, "must be >= 1 (2.0 = fp32 -> fp16)")
        set_(self, "compression", c)
        set_(
            self,
            "tensor_placement",
            check_choice("tensor_placement", self.tensor_placement, PLACEMENTS, _PLACEMENT_ALIASES),
        )
        set_(self, "split_threshold", check_positive_int("split_threshold", self.split_threshold))
        set_(self, "first_bucket_bytes", parse_bytes(self.first_bucket_bytes, "first_bucket_bytes"))
        set_(self, "cycle_time", parse_duration(self.cycle_time, "cycle_time"))
        if self.fusion_bytes is not None:
            set_(self, "fusion_bytes", parse_bytes(self.fusion_bytes, "fusion_bytes"))
            if name == "ps":
                raise SpecError(
                    "fusion_bytes", self.fusion_bytes, "is Horovod's all-reduce, not for 'ps'"
                )
            if self.zero_stage:
                raise SpecError(
                    "fusion_bytes", self.fusion_bytes, "does not combine with a ZeRO stage"
                )
            set_(self, "overlap", True)
        zs = check_nonnegative_int("zero_stage", self.zero_stage)
        if zs > 3:
            raise SpecError("zero_stage", self.zero_stage, "must be 0, 1, 2 or 3")
        set_(self, "zero_stage", zs)
        if zs and name not in ("ring", "halving_doubling"):
            raise SpecError(
                "zero_stage",
                zs,
                f"needs scheme 'ring' or 'halving_doubling' (a reduce-scatter of the "
                f"gradients and an all-gather of the parameters), not {name!r}",
            )
        if name != "ps":
            if self.tensor_placement != "round_robin":
                raise SpecError(
                    "tensor_placement",
                    self.tensor_placement,
                    f"only applies to scheme 'ps', not {name!r}",
                )
            if self.ps_shards != 1:
                raise SpecError(
                    "ps_shards", self.ps_shards, f"only applies to scheme 'ps', not {name!r}"
                )
            if self.ps_placement != "dedicated":
                raise SpecError(
                    "ps_placement", self.ps_placement, f"only applies to scheme 'ps', not {name!r}"
                )
            if self.backup_workers:
                raise SpecError(
                    "backup_workers",
                    self.backup_workers,
                    f"needs scheme 'ps' (the server drops late gradients); an all-reduce "
                    f"({name!r}) waits for every member",
                )

    @property
    def label(self) -> str:
        """Short description for tables and plots, e.g. ``"ps(k=4, colocated)+2 backup"``."""
        out = self.name
        if self.name == "ps":
            opts = []
            if self.ps_shards != 1:
                opts.append(f"k={self.ps_shards}")
            if self.ps_placement != "dedicated":
                opts.append(self.ps_placement)
            if self.tensor_placement != "round_robin" and self.ps_shards > 1:
                opts.append(self.tensor_placement)
            if opts:
                out += f"({', '.join(opts)})"
            if self.backup_workers:
                out += f"+{self.backup_workers} backup"
        if self.zero_stage:
            out += f"+zero{self.zero_stage}"
        if self.fusion_bytes is not None:
            out += "+fusion"
        elif self.overlap:
            out += "+overlap"
        if self.compression != 1:
            out += f"/{self.compression:g}x"
        return out

    def replace(self, **changes: Any) -> SyncScheme:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncScheme:
        """Build from ``{"name": "ps", "ps_shards": 4}`` (``scheme`` = ``name``)."""
        return _from_dict(cls, data, "scheme", {"scheme": "name", "placement": "tensor_placement"})

    @classmethod
    def coerce(cls, scheme: SyncScheme | str | Mapping[str, Any], **overrides: Any) -> SyncScheme:
        """A ``SyncScheme`` from a name, a dict or a scheme, with field ``overrides``."""
        if isinstance(scheme, SyncScheme):
            if not overrides:
                return scheme
            check_keys("scheme options", overrides, tuple(f.name for f in fields(cls)))
            return dataclasses.replace(scheme, **overrides)
        if isinstance(scheme, str):
            return cls.from_dict({"name": scheme, **overrides})
        if isinstance(scheme, Mapping):
            return cls.from_dict({**scheme, **overrides})
        raise SpecError("scheme", scheme, f"must be a name ({', '.join(SCHEMES)}) or a SyncScheme")
