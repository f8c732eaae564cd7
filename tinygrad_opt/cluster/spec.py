"""What is being planned on: the cluster (:class:`ClusterSpec`).

:class:`ClusterSpec` is a frozen dataclass that validates (and parses units) on
construction, so a bad setting fails early with a
:class:`~tinygrad_opt.cluster.validation.SpecError` (a ``ValueError``) naming the field and
the value. ``from_dict`` / ``to_dict`` let a command line or a TOML/JSON file build it from
plain values; strings with units are accepted wherever a bandwidth, duration or size is
expected (see :mod:`tinygrad_opt.cluster.units`), and stored in SI base units (bytes/s, s,
bytes). The workload is in :mod:`.workload`, the synchronisation scheme in :mod:`.scheme`
(both re-exported here).

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
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tinygrad_opt.cluster.compute import ComputeModel, Deterministic, compute_model_from_dict
from tinygrad_opt.cluster.scheme import (  # noqa: F401  (re-exported from their old place)
    ALLREDUCE_SCHEMES,
    DEFAULT_BUCKET_BYTES,
    DEFAULT_CYCLE_TIME,
    DEFAULT_FIRST_BUCKET_BYTES,
    DEFAULT_FUSION_BYTES,
    PS_PLACEMENTS,
    SCHEME_ALIASES,
    SCHEMES,
    SyncScheme,
)
from tinygrad_opt.cluster.topology import IntraTopology, coerce_topology
from tinygrad_opt.cluster.transport import Transport, coerce_transport
from tinygrad_opt.cluster.units import parse_bandwidth, parse_bytes, parse_duration
from tinygrad_opt.cluster.validation import (
    MAX_WORKERS,
    SpecError,
    check_nonnegative_float,
    check_positive_float,
    check_positive_int,
    dataclass_from_dict,
)
from tinygrad_opt.cluster.workload import (  # noqa: F401  (re-exported from their old place)
    BYTES_PER_DTYPE,
    GRAD_DTYPES,
    Workload,
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
            handles one after another, are not slowed (:mod:`.communication`).
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
            inside each node (a ring reduce-scatter over the node's interconnect), the
            node pushes one aggregate and pulls the result, which a ring all-gather
            spreads inside the node (BytePS, TensorFlow's ``distributed_replicated``,
            MXNet's ``dist_device_sync``). Only changes scheme ``ps``.
        summation_service: the parameter-server shards are CPU-only machines that only
            sum (BytePS's summation service, Jiang et al. OSDI 2020): no update on the
            servers; every worker applies the update after the pull. Needs
            ``ps_placement = "dedicated"``; all-reduce schemes ignore it.
        gpu_memory: memory of one worker's GPU (bytes or ``"80GB"``; default None: not
            checked). A configuration whose model states (:mod:`.sharding`) need more is
            reported infeasible, with the reason.
        intra_topology: how a node's devices are wired (:mod:`.topology`): ``"link"``
            (default: one link of ``intra_bandwidth`` per device, as before),
            ``"pcie_tree"``, ``"nvlink_cube_mesh"`` (DGX-1), ``"nvswitch"``, or a dict
            with the name and its parameters. Off ``link`` ``intra_bandwidth`` defaults
            to the topology's published link speed.
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
    intra_topology: IntraTopology | str | Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "transport", coerce_transport(self.transport))
        topo = coerce_topology(self.intra_topology)
        set_(self, "intra_topology", topo)
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
        if topo.name == "nvlink_cube_mesh" and d > 8:
            raise SpecError("devices_per_node", d, "nvlink_cube_mesh has 8 GPUs per node")
        if d > 1 and self.intra_bandwidth is None and topo.default_bandwidth() is not None:
            set_(self, "intra_bandwidth", topo.default_bandwidth())
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
        topo = self.intra_topology
        out["intra_topology"] = "link" if topo.name == "link" else topo.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClusterSpec:
        """Build from ``{"workers": 16, "bandwidth": "25Gbps", "latency": "5us", ...}``.

        ``inter_bandwidth`` / ``inter_latency`` are accepted for ``bandwidth`` /
        ``latency``; unknown keys raise a ``SpecError`` listing the valid ones.
        """
        aliases = {"inter_bandwidth": "bandwidth", "inter_latency": "latency"}
        return dataclass_from_dict(cls, data, "cluster", aliases)
