"""One gradient synchronisation on a given cluster, step by step: :func:`communication_cost`.

Each scheme's messages are laid out rank by rank (vectorised; the all-reduce algorithms in
:mod:`.allreduce_steps`, the parameter server here) under the alpha-beta model
of :mod:`.collectives`, whose closed forms it reproduces on one device per node; here the
cluster's devices per node, shared NICs, transport and CPU contention are taken into
account, and the bytes on every link are counted (:class:`CommCost`).

On a cluster with ``d > 1`` devices per node the *flat* schemes see two kinds of link.
Ranks are placed node-major (rank ``r`` on node ``r // d``); a message between devices of
one node uses the intra-node link (``α_i``, ``B_i`` per device), any other message the
NICs of the two nodes, shared by all of that node's concurrent inter-node messages. Every
algorithm step then takes the longest of its messages: ``max(α_e + c·m/B_e, α_i + m/B_i)``
where ``c`` is the most messages one NIC carries in that direction in that step. For the
ring this gives ``2(N−1)·max(α_e + M/(N·B_e), α_i + M/(N·B_i))`` (one ring edge leaves each
node); tree and halving-doubling steps are evaluated rank by rank (vectorised); a parameter
server sees each node's ``d`` workers push through one NIC, and colocated shards go
round-robin over nodes (shard ``j`` on node ``j mod n``, device ``⌊j/n⌋``), each phase
timed by its busiest NIC or device link.

An oversubscribed node (``devices_per_node > cores_per_node``,
:attr:`ClusterSpec.oversubscription` ``s > 1``) has its intra-node links slowed to
``α_i·s`` and ``B_i/s`` for the all-reduce algorithms: inside a node the CPUs copy the
bytes (MPI over shared memory), every rank sends and receives at every step, and each
rank only runs ``1/s`` of the time. A parameter-server phase is not slowed: its pace is
set by one process, the shard's server, which takes the messages one after another while
the workers wait (measured on 2 cores, 4 ranks: a gather+broadcast of 20 MB took 1.4× its
uncontended time, an all-reduce 2.7×). NIC transfers are not slowed. Adding (``M/R``)
is CPU work of the worker or colocated server that does it and takes ``s`` times longer
(:meth:`ClusterSpec.reduce_time`); a dedicated server's own CPU is not shared.

**Transport** (:mod:`.transport`, :attr:`ClusterSpec.transport`): every link's latency
becomes ``α + o`` and its bandwidth ``ηB`` before any of the above (contention then
applies to the result), a ``host staging`` phase adds ``h·M/B_pcie``, and a parameter
server's push and pull pay ``(n_msg − 1)·o`` for one message per tensor piece.
**Local aggregation** (:attr:`ClusterSpec.local_aggregation`, parameter server, ``d > 1``):
a ring reduce-scatter inside every node, the push/sum/pull of ``n`` one-device nodes, a
ring all-gather inside the node (:func:`local_aggregation_ps_time`).
**Intra-node topology** (:attr:`ClusterSpec.intra_topology`, :mod:`.topology`): off the
default ``link`` a ring step inside a node moves its chunk at the topology's ring
bandwidth, and each message of a tree or halving-doubling step at its pair's bandwidth
(divided by the messages its two devices carry in that step); the hierarchical
all-reduce's and local aggregation's reduce-scatter and all-gather inside a node run at
the ring bandwidth too. A colocated parameter server's
intra-node traffic still sees one link of ``B_i`` per device; a parameter server in one
machine's host memory (``ps_placement = "host"``) is reached over each device's path to
the host (:func:`host_bandwidth`: PCIe switches shared under a ``pcie_tree``, PCIe under
NVLink topologies).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinygrad_opt.cluster.allreduce_steps import (
    ALLREDUCE_STEPS,
    Traffic,
    node_reduce_scatter_gather,
)
from tinygrad_opt.cluster.compute import Deterministic
from tinygrad_opt.cluster.placement import check_fractions
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.transport import IDEAL
from tinygrad_opt.cluster.validation import SpecError

__all__ = ["CommCost", "communication_cost"]


# ============================================================================ cost object
@dataclass(frozen=True)
class CommCost:
    """One synchronisation of ``message_bytes`` per worker on a given cluster.

    Attributes:
        scheme: the scheme label.
        phases: ``(name, seconds)`` in order (``push``/``pull`` for a parameter server,
            with ``sum`` between them when reductions are modelled; the server update
            goes before ``pull`` and is not included here).
        message_bytes: gradient bytes per worker on the wire.
        bytes_sent_per_node: bytes a worker node's NIC transmits per sync (mean over
            worker nodes); for one worker per node: per worker.
        bytes_sent_per_node_max: the same, for the node that sends most.
        busiest_link_bytes: bytes through the most loaded link direction (NIC in/out of
            any worker or server, or an intra-node device link) per sync.
        busiest_link: which link that is.
        ps_machines: dedicated parameter-server machines (0 otherwise).
    """

    scheme: str
    phases: tuple[tuple[str, float], ...]
    message_bytes: float
    bytes_sent_per_node: float
    bytes_sent_per_node_max: float
    busiest_link_bytes: float
    busiest_link: str
    ps_machines: int = 0

    @property
    def time_s(self) -> float:
        """Total seconds of all phases."""
        return float(sum(t for _, t in self.phases))


def _parameter_server(
    c: ClusterSpec, s: SyncScheme, m: float, push: int, traffic: Traffic, f: np.ndarray
):
    """Push, sum and pull; shard ``j`` holds the share ``f[j]`` of the model."""
    n_w, d, n = c.workers, c.devices_per_node, c.nodes
    k = s.ps_shards
    f_max = float(f.max())
    dedicated = s.ps_placement in ("dedicated", "host")
    # each shard adds up the push gradients it uses (on its own CPU when dedicated)
    adding = (
        ()
        if c.reduce_bandwidth is None
        else (("sum", c.reduce_time((push - 1) * m * f_max, oversubscribed=not dedicated)),)
    )
    if s.ps_placement == "host":
        # every device pushes its whole gradient to host memory and pulls the result, all
        # at once, each over its own path to the host (host_bandwidth); late gradients of
        # backup workers still arrive
        b_h = host_bandwidth(c)
        a_h = c.latency if c.intra_latency is None else c.intra_latency
        traffic.dev_out += m  # the push
        traffic.dev_in += m  # the pull
        return (("push", a_h + m / b_h), *adding, ("pull", a_h + m / b_h))
    if dedicated:
        push_t = c.latency + max(push * f_max, d) * m / c.bandwidth
        pull_t = c.latency + max(n_w * f_max, d) * m / c.bandwidth
        traffic.nic_out += d * m
        traffic.nic_in += d * m
        traffic.srv_in += n_w * m * f  # late (dropped) gradients still arrive
        traffic.srv_out += n_w * m * f
        return (("push", push_t), *adding, ("pull", pull_t))
    if k > n_w:
        raise SpecError("ps_shards", k, f"colocated shards need ps_shards <= workers={n_w}")
    # shard j lives on node j % n, device (j // n) of that node: one shard per device;
    # share_on[v] = the model share held on node v, held[w] = the share device w holds
    shard_ids = np.arange(k)
    share_on = np.bincount(shard_ids % n, weights=f, minlength=n)
    held = np.zeros(n_w)
    held[(shard_ids % n) * d + shard_ids // n] = f
    off_node = n_w - d
    # push, per node NIC: out = its d workers' parts for off-node shards; in = each local
    # shard's part from every off-node sender (worst case: all N_push senders off-node)
    nic_out = d * (1.0 - share_on) * m
    # per device inside a node: out = parts for local shards held by other devices;
    # in = a holder receives its part from the other d - 1 local devices
    dev_out = (np.repeat(share_on, d) - held) * m
    dev_in = held * (d - 1) * m

    def phase(senders: int) -> float:
        t = 0.0
        if n > 1:
            nic_in = share_on * min(senders, off_node) * m
            busiest = max(nic_out.max(), nic_in.max())
            t = max(t, c.latency + busiest / c.bandwidth)
        if d > 1:
            busiest = max(dev_out.max(), dev_in.max())
            t = max(t, c.intra_latency + busiest / c.intra_bandwidth)
        return t

    if n > 1:  # push out + pull out (the pull mirrors the push with every worker)
        traffic.nic_out += nic_out + share_on * off_node * m
        traffic.nic_in += nic_out + share_on * off_node * m
    if d > 1:
        traffic.dev_out += dev_out + dev_in
        traffic.dev_in += dev_in + dev_out
    return (("push", phase(push)), *adding, ("pull", phase(n_w)))


def host_bandwidth(c: ClusterSpec) -> float:
    """Bytes/s each of a one-node cluster's ``d`` devices gets to host memory when all
    ``d`` transfer at once (``ps_placement = "host"``).

    ``link``: ``B_i``, each device's own link. Otherwise the devices reach the host over
    PCIe, ``s = devices_per_switch`` under each switch with one uplink ``U`` (default: the
    device link): ``min(B, U / min(s, d))`` with ``B = B_i`` on a ``pcie_tree`` and the
    topology's ``pcie_bandwidth`` on ``nvlink_cube_mesh`` / ``nvswitch`` (their NVLinks do
    not reach the CPU; DGX-1: two GPUs per PCIe switch, whitepaper Fig. 2).
    """
    d = c.devices_per_node
    own = float(c.bandwidth if c.intra_bandwidth is None else c.intra_bandwidth)
    t = c.intra_topology
    if d == 1 or t.name == "link":
        return own
    b = own if t.name == "pcie_tree" else float(t.pcie_bandwidth)
    up = b if t.uplink_bandwidth is None else float(t.uplink_bandwidth)
    return min(b, up / min(t.devices_per_switch, d))


def _local_aggregation(
    c: ClusterSpec, s: SyncScheme, m: float, traffic: Traffic, f: np.ndarray
) -> tuple[tuple[str, float], ...]:
    """Reduce inside every node, one push/pull per node leader, broadcast inside the node.

    The leaders are the node's device 0; the parameter-server exchange is that of ``n``
    one-device nodes (the same NICs, the same shards: colocated shard ``j`` on node ``j``).
    """
    n = c.nodes
    intra, adding = node_reduce_scatter_gather(c, m, traffic)
    leaders = dataclasses.replace(
        c,
        workers=n,
        nodes=n,
        devices_per_node=1,
        intra_bandwidth=None,
        intra_latency=None,
        intra_topology=None,
        compute=Deterministic(),
        cores_per_node=None,
        memory_streams_per_node=None,
        turn_time=0.0,
    )
    sub = Traffic(n, n, traffic.srv_in.size)
    ps = _parameter_server(leaders, s, m, n, sub, f)
    traffic.nic_out += sub.nic_out
    traffic.nic_in += sub.nic_in
    traffic.srv_in += sub.srv_in
    traffic.srv_out += sub.srv_out
    return (("intra-node reduce", intra + adding), *ps, ("intra-node broadcast", intra))


def _with_transport(c: ClusterSpec) -> ClusterSpec:
    """The cluster as its transport makes it look: every link's latency ``α + o`` and
    bandwidth ``ηB`` (:mod:`.transport`); the staging copies are added separately."""
    t = c.transport
    if t.overhead == 0 and t.efficiency == 1:
        return c
    o, eta = float(t.overhead), float(t.efficiency)
    changes: dict = {
        "latency": c.latency + o,
        "bandwidth": c.bandwidth * eta,
        "transport": IDEAL,
        "workers": c.workers,
        "nodes": c.nodes,
    }
    if c.intra_latency is not None:
        changes["intra_latency"] = c.intra_latency + o
    if c.intra_bandwidth is not None:
        changes["intra_bandwidth"] = c.intra_bandwidth * eta
    if c.intra_topology.name != "link":
        changes["intra_topology"] = c.intra_topology.scaled(eta)
    return dataclasses.replace(c, **changes)


def _contended(c: ClusterSpec) -> ClusterSpec:
    """The cluster with the intra-node links of an oversubscribed node slowed down.

    Between devices of one node (MPI over shared memory) the CPUs copy the bytes, and in
    an all-reduce every rank does so at every step; a rank that runs ``1/s`` of the time
    (:attr:`ClusterSpec.oversubscription`) moves its bytes and answers its messages
    ``s`` times slower: ``α_i·s`` and ``B_i/s``.
    """
    s = c.oversubscription
    if s == 1.0 or c.devices_per_node == 1:
        return c
    return dataclasses.replace(
        c,
        intra_latency=c.intra_latency * s,
        intra_bandwidth=c.intra_bandwidth / s,
        intra_topology=c.intra_topology.scaled(1 / s),
    )


def communication_cost(
    cluster: ClusterSpec,
    scheme: SyncScheme | str,
    message_bytes: float,
    pushing_workers: int | None = None,
    shard_fractions: Sequence[float] | None = None,
    messages: float = 1,
) -> CommCost:
    """Time (by phase) and traffic of synchronising ``message_bytes`` per worker.

    The cluster's :attr:`~ClusterSpec.transport` adds its overhead ``o`` to every
    message's latency, scales every link by its efficiency ``η`` and adds a ``host
    staging`` phase of ``h·M/B_pcie``; a parameter server's push and pull each send
    ``messages`` messages per worker (one per tensor piece: ``(messages − 1)·o`` more
    per phase). With :attr:`~ClusterSpec.local_aggregation` a parameter server's
    ``d`` devices per node reduce first and one aggregate per node is pushed.

    ``pushing_workers`` (parameter server only) is the number of gradients the server
    waits for, ``workers − backup_workers`` (default: all workers). ``shard_fractions``
    (parameter server only) is each shard's share of the model (default ``1/k`` each;
    :func:`~tinygrad_opt.cluster.placement.place_tensors` gives it for whole tensors):
    the hot shard's share replaces ``1/k``. On a one-device-per-
    node cluster the times equal the closed forms of :mod:`.collectives`; see the module
    docstring for how ``devices_per_node > 1`` is handled.
    """
    s = SyncScheme.coerce(scheme)
    transport = cluster.transport
    c = _with_transport(cluster)
    c = c if s.name == "ps" else _contended(c)
    if not messages >= 1 or not math.isfinite(messages):
        raise SpecError("messages", messages, "must be a finite number >= 1")
    if message_bytes < 0 or not math.isfinite(message_bytes):
        raise SpecError("message_bytes", message_bytes, "must be a finite number >= 0")
    push = c.workers if pushing_workers is None else int(pushing_workers)
    servers = s.ps_shards if (s.name == "ps" and s.ps_placement == "dedicated") else 0
    traffic = Traffic(c.nodes, c.workers, servers)
    if s.name in ALLREDUCE_STEPS:
        phases = ALLREDUCE_STEPS[s.name](c, message_bytes, traffic)
    else:
        if not 1 <= push <= c.workers:
            raise SpecError("pushing_workers", push, f"must lie in [1, workers={c.workers}]")
        f = check_fractions(shard_fractions, s.ps_shards)
        if c.local_aggregation and c.devices_per_node > 1:
            if push != c.workers:
                raise SpecError(
                    "local_aggregation",
                    True,
                    "cannot drop backup workers' gradients after they are summed in the node",
                )
            phases = _local_aggregation(c, s, message_bytes, traffic, f)
        else:
            phases = _parameter_server(c, s, message_bytes, push, traffic, f)
        extra = (float(messages) - 1.0) * float(transport.overhead)
        if extra:
            phases = tuple(
                (name, t + extra) if name in ("push", "pull") else (name, t) for name, t in phases
            )
    if transport.staging_copies:
        phases = (*phases, ("host staging", transport.staging_time(message_bytes)))
    mean_out, max_out, busiest, label = traffic.summary()
    return CommCost(
        scheme=s.label,
        phases=tuple((name, float(t)) for name, t in phases),
        message_bytes=float(message_bytes),
        bytes_sent_per_node=mean_out,
        bytes_sent_per_node_max=max_out,
        busiest_link_bytes=busiest,
        busiest_link=label,
        ps_machines=servers,
    )
