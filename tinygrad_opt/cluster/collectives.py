"""Time and traffic of one gradient synchronisation: the alpha-beta (latency-bandwidth) model.

Cost model (Hockney; as used by Thakur, Rabenseifner & Gropp 2005, "Optimization of
Collective Communication Operations in MPICH", IJHPCA 19(1):49-66): sending an ``m``-byte
message between two nodes takes ``α + m/B`` (latency ``α``, bandwidth ``B``). Links are
full duplex (``B`` each way at once); a NIC shared by several concurrent messages divides
its bandwidth among them. Reduction arithmetic is Thakur's ``γ`` term: with
:attr:`ClusterSpec.reduce_bandwidth` ``R`` set, adding ``m`` received bytes into one's
own costs ``m/R`` after the step that received them (no overlap of adding and moving:
on one machine the same CPU does both). Without it (the default) reductions are free, as
when accelerators and a network hide them. ``M`` below is the gradient message in bytes,
``N`` the number of ranks; the ``R`` terms below vanish for ``R = ∞``.

Closed forms (one node per rank, every link ``α``, ``B``):

=====================  =====================================================================
ring all-reduce        ``2(N−1)·α + 2(N−1)/N · M/B + (N−1)/N · M/R``  (reduce-scatter +
                       allgather around a ring; Thakur et al. 2005, Patarasuk & Yuan 2009)
halving-doubling       ``2·log2(N)·α + 2(N−1)/N · M/B + (N−1)/N · M/R`` for N = 2^L
                       (Rabenseifner: reduce-scatter by recursive halving + allgather by
                       recursive doubling, Thakur et al. 2005). Other N: the MPICH fold —
                       with ``p' = 2^⌊log2 N⌋``, ``r = N − p'`` ranks first hand their whole
                       vector to a partner (``α + M/B + M/R``), the ``p'`` remaining ranks
                       run the power-of-two algorithm, and the result is handed back
                       (``α + M/B``): ``2(log2 p' + 1)·α + (2(p'−1)/p' + 2)·M/B +
                       ((p'−1)/p' + 1)·M/R``.
binomial tree          ``2·⌈log2 N⌉·(α + M/B) + ⌈log2 N⌉·M/R``  (binomial-tree reduce to
                       rank 0 then binomial-tree broadcast, whole message per step;
                       Thakur et al. 2005)
parameter server       ``2α + (N_push + N)·M/B + (N_push − 1)·M/R``: the N workers push
                       M each into the server's one link, the server adds the pushed
                       gradients up, then the workers pull M each out of it; the server
                       link is the bottleneck (N·M/B each way; Li et al. 2014 "Scaling
                       distributed ML with the parameter server"; the seed article's
                       central node).
                       ``N_push = N − b`` with ``b`` backup workers (only the first
                       ``N − b`` pushes are waited for; all N pull).
(1 dedicated server)
k-sharded PS           each shard holds ``M/k`` and serves all workers. Dedicated:
(dedicated)            ``2α + [max(N_push/k, 1) + max(N/k, 1)]·M/B`` — a shard's link
                       carries ``N·M/k``, a worker's link ``M`` (k ≤ N ⇒ shards dominate);
                       every shard adds up ``(N_push − 1)·M/(kR)`` (all sharded forms).
                       With whole tensors on shards (:mod:`.placement`) shard ``j`` holds
                       ``f_j·M``: the hot shard's ``f_max`` replaces ``1/k`` everywhere.
k-sharded PS           shard ``j`` on worker ``j``: a shard holder's link also carries its
(colocated)            own traffic; the busiest link direction decides each phase:
                       push ``max(min(N_push, N−1), k − s_min)·M/(kB)``, pull likewise with
                       ``N`` (``s_min`` = 1 if ``k = N`` else 0). For ``b = 0``:
                       ``2α + 2(N−1)/k · M/B`` — with ``k = N`` the same bandwidth term as
                       the ring, i.e. bandwidth-optimal. Uneven shares: push
                       ``α + max(min(N_push, N−1)·f_max, 1 − f_min)·M/B`` (``f_min`` =
                       the smallest share if ``k = N``, else 0).
hierarchical           intra-node ring reduce-scatter ``(d−1)(α_i + M/(d·B_i) +
                       M/(d·R))``, ring all-reduce across the ``n`` nodes
                       ``2(n−1)α_e + 2(n−1)/n · M/B_e + (n−1)/n · M/R``, intra-node ring
                       all-gather ``(d−1)(α_i + M/(d·B_i))`` (NCCL inside a node:
                       Sergeev & Del Balso 2018 "Horovod"; Goyal et al. 2017 "Accurate,
                       Large Minibatch SGD" §4 — which uses halving-doubling across
                       servers; Jia et al. 2018).
=====================  =====================================================================

These are the formulas; :mod:`.communication` evaluates each scheme step by step on a
given cluster (several devices per node, shared NICs, transports, contention) and agrees
with them on one device per node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.cluster.placement import check_fractions
from tinygrad_opt.cluster.topology import LINK, IntraTopology, pair_bandwidth, ring_bandwidth
from tinygrad_opt.cluster.validation import SpecError, check_positive_int

__all__ = [
    "binomial_tree_allreduce_time",
    "binomial_tree_reduce_time",
    "double_binary_tree_allreduce_time",
    "halving_doubling_allreduce_time",
    "hierarchical_allreduce_time",
    "intra_ring_allreduce_time",
    "intra_tree_reduce_time",
    "local_aggregation_ps_time",
    "parameter_server_time",
    "ring_allreduce_time",
]


def __getattr__(name: str) -> Any:  # the step-by-step evaluation, from its old place
    if name in ("CommCost", "communication_cost"):
        from tinygrad_opt.cluster import communication

        return getattr(communication, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _ceil_log2(n: int) -> int:
    return (n - 1).bit_length()  # ceil(log2 n) for n >= 1


def _floor_log2(n: int) -> int:
    return n.bit_length() - 1


# ============================================================================ closed forms
def _per_byte(reduce_bandwidth: float | None) -> float:
    """``γ = 1/R`` seconds per byte added (0 when reductions are not modelled)."""
    return 0.0 if reduce_bandwidth is None else 1.0 / reduce_bandwidth


def ring_allreduce_time(
    message_bytes: float,
    ranks: int,
    bandwidth: float,
    latency: float,
    reduce_bandwidth: float | None = None,
) -> float:
    """Ring all-reduce: ``2(N−1)·α + 2(N−1)/N · M/B + (N−1)/N · M/R``.

    Reduce-scatter then allgather, each ``N−1`` steps moving ``M/N`` bytes per rank; each
    reduce-scatter step adds the ``M/N`` bytes it received (Thakur, Rabenseifner & Gropp
    2005; Patarasuk & Yuan 2009). 0 for one rank.
    """
    n = check_positive_int("ranks", ranks)
    gamma = _per_byte(reduce_bandwidth)
    return (
        2 * (n - 1) * latency
        + 2 * (n - 1) / n * message_bytes / bandwidth
        + (n - 1) / n * message_bytes * gamma
    )


def halving_doubling_allreduce_time(
    message_bytes: float,
    ranks: int,
    bandwidth: float,
    latency: float,
    reduce_bandwidth: float | None = None,
) -> float:
    """Rabenseifner's all-reduce: ``2·log2(N)·α + 2(N−1)/N · M/B + (N−1)/N · M/R`` for N
    a power of two.

    Reduce-scatter by recursive halving then allgather by recursive doubling (Thakur,
    Rabenseifner & Gropp 2005). For other N, MPICH's fold: ``r = N − p'`` ranks
    (``p' = 2^⌊log2 N⌋``) send their vector to a partner first (who adds it) and get the
    result back at the end, adding ``2(α + M/B) + M/R``: ``2(log2 p' + 1)α +
    (2(p'−1)/p' + 2)·M/B + ((p'−1)/p' + 1)·M/R``.
    """
    n = check_positive_int("ranks", ranks)
    gamma = _per_byte(reduce_bandwidth)
    p2 = 1 << _floor_log2(n)
    t = (
        2 * _floor_log2(n) * latency
        + 2 * (p2 - 1) / p2 * message_bytes / bandwidth
        + (p2 - 1) / p2 * message_bytes * gamma
    )
    if n != p2:
        t += 2 * (latency + message_bytes / bandwidth) + message_bytes * gamma
    return t


def binomial_tree_reduce_time(
    message_bytes: float,
    ranks: int,
    bandwidth: float,
    latency: float,
    reduce_bandwidth: float | None = None,
) -> float:
    """Binomial-tree reduce: ``⌈log2 N⌉·(α + M/B + M/R)``; a broadcast is the same
    without ``R`` (Thakur et al. 2005)."""
    n = check_positive_int("ranks", ranks)
    gamma = _per_byte(reduce_bandwidth)
    return _ceil_log2(n) * (latency + message_bytes / bandwidth + message_bytes * gamma)


def binomial_tree_allreduce_time(
    message_bytes: float,
    ranks: int,
    bandwidth: float,
    latency: float,
    reduce_bandwidth: float | None = None,
) -> float:
    """Tree all-reduce = binomial reduce + binomial broadcast:
    ``2⌈log2 N⌉·(α + M/B) + ⌈log2 N⌉·M/R``."""
    return binomial_tree_reduce_time(
        message_bytes, ranks, bandwidth, latency, reduce_bandwidth
    ) + binomial_tree_reduce_time(message_bytes, ranks, bandwidth, latency)


def double_binary_tree_allreduce_time(
    message_bytes: float,
    ranks: int,
    bandwidth: float,
    latency: float,
    reduce_bandwidth: float | None = None,
) -> float:
    """NCCL's double binary tree over ``N`` ranks (one per node):
    ``2(⌈log₂N⌉·α + M/B) + M/R`` for ``N ≥ 3``, ``2(α + M/(2B)) + M/R`` for two, 0 for one.

    Two complementary binary trees each reduce then broadcast half of the message,
    pipelined in small chunks; a rank is inner in at most one tree, so its link carries
    at most ``M`` each way per phase (``M/2`` with two ranks: each tree is one edge) and a
    phase costs the tree's depth in latencies plus that link's bytes (Sanders, Speck &
    Träff 2009; NCCL 2.4). Latency grows as ``log N`` instead of the ring's ``2(N−1)``.
    """
    n = check_positive_int("ranks", ranks)
    if n == 1:
        return 0.0
    link = message_bytes if n > 2 else message_bytes / 2
    return 2 * (_ceil_log2(n) * latency + link / bandwidth) + message_bytes * _per_byte(
        reduce_bandwidth
    )


def parameter_server_time(
    message_bytes: float,
    workers: int,
    bandwidth: float,
    latency: float,
    shards: int = 1,
    placement: str = "dedicated",
    pushing_workers: int | None = None,
    reduce_bandwidth: float | None = None,
    shard_fractions: Sequence[float] | None = None,
) -> float:
    """Push, sum and pull through ``k`` parameter-server shards, one worker per node (no
    update).

    ``shard_fractions`` (``f_j``, summing to 1; default ``1/k`` each) is each shard's
    share of the model (:mod:`.placement`); below ``1/k`` stands for the hot shard's
    ``f_max`` and, colocated, ``s_min/k`` for ``f_min`` (the smallest share when every
    worker holds a shard, else 0).

    Dedicated shards (``k`` extra machines): ``2α + [max(N_push/k, 1) + max(N/k, 1)]·M/B``;
    with one server ``2α + (N_push + N)·M/B`` = ``2α + 2N·M/B`` without backups — the
    server link carries ``N·M`` each way (Li et al. 2014).
    Colocated (shard ``j`` on worker ``j``, ``k <= N``): each phase is set by the busiest
    link direction, ``max(min(N_push, N−1), k − s_min)·M/(kB)`` for the push (``s_min`` = 1
    if every worker holds a shard, else 0) and the same with ``N`` for the pull; for
    ``N_push = N``: ``2α + 2(N−1)/k·M/B``.
    Both: each shard adds the ``N_push`` gradients it uses, ``(N_push − 1)·M/(kR)``.
    """
    n = check_positive_int("workers", workers)
    k = check_positive_int("ps_shards", shards)
    push = n if pushing_workers is None else check_positive_int("pushing_workers", pushing_workers)
    if push > n:
        raise SpecError("pushing_workers", push, f"must be <= workers={n}")
    m_b = message_bytes / bandwidth
    f = check_fractions(shard_fractions, k)
    f_max = float(f.max())
    add = (push - 1) * message_bytes * f_max * _per_byte(reduce_bandwidth)
    if placement == "dedicated":
        return 2 * latency + (max(push * f_max, 1.0) + max(n * f_max, 1.0)) * m_b + add
    if placement != "colocated":
        raise SpecError("ps_placement", placement, "unknown; valid: dedicated, colocated")
    if k > n:
        raise SpecError("ps_shards", k, f"colocated shards need k <= workers={n}")
    if n == 1:
        return 0.0  # the only worker holds the only shard: nothing crosses the network
    f_min = float(f.min()) if k == n else 0.0
    push_t = latency + max(min(push, n - 1) * f_max, 1.0 - f_min) * m_b
    pull_t = latency + max((n - 1) * f_max, 1.0 - f_min) * m_b
    return push_t + add + pull_t


def hierarchical_allreduce_time(
    message_bytes: float,
    nodes: int,
    devices_per_node: int,
    intra_bandwidth: float,
    intra_latency: float,
    inter_bandwidth: float,
    inter_latency: float,
    reduce_bandwidth: float | None = None,
    intra_topology: IntraTopology = LINK,
) -> float:
    """Intra-node reduce-scatter + inter-node ring all-reduce + intra-node all-gather.

    ``2(d−1)α_i + 2(d−1)/d · M/B_ring + (d−1)/d · M/R + 2(n−1)α_e + 2(n−1)/n · M/B_e +
    (n−1)/n · M/R``: inside a node the bandwidth-optimal ring halves of
    :func:`intra_ring_allreduce_time` (NCCL's reduce-scatter and all-gather, on the node's
    topology: ``B_ring`` = :func:`~tinygrad_opt.cluster.topology.ring_bandwidth`), across
    nodes a ring whose NIC carries the node's whole gradient (Horovod's hierarchical
    all-reduce, Sergeev & Del Balso 2018; Goyal et al. 2017 §4).
    """
    d = check_positive_int("devices_per_node", devices_per_node)
    r = reduce_bandwidth
    intra = 0.0
    if d > 1:
        m, b, a, t = message_bytes, intra_bandwidth, intra_latency, intra_topology
        intra = intra_ring_allreduce_time(m, d, b, a, t, r)
    return intra + ring_allreduce_time(message_bytes, nodes, inter_bandwidth, inter_latency, r)


def local_aggregation_ps_time(
    message_bytes: float,
    nodes: int,
    devices_per_node: int,
    intra_bandwidth: float,
    intra_latency: float,
    bandwidth: float,
    latency: float,
    shards: int = 1,
    placement: str = "dedicated",
    reduce_bandwidth: float | None = None,
    shard_fractions: Sequence[float] | None = None,
    intra_topology: IntraTopology = LINK,
) -> float:
    """Parameter server after a local aggregation in every node (no update).

    A ring reduce-scatter of the ``d`` devices of a node, ``(d−1)(α_i + M/(d·B_ring) +
    M/(d·R))``: the node's aggregate, ``1/d`` on each device; the ``n`` nodes push and
    pull it through the shards as ``n`` one-device nodes (:func:`parameter_server_time`
    with ``n`` workers: the node's NIC carries ``M`` either way); a ring all-gather inside
    the node, ``(d−1)(α_i + M/(d·B_ring))`` (BytePS: NCCL's reduce-scatter inside the
    machine, Jiang et al. OSDI 2020; TensorFlow ``distributed_replicated``, MXNet's
    ``dist_device_sync``). ``B_ring`` =
    :func:`~tinygrad_opt.cluster.topology.ring_bandwidth` of the node's topology.
    Dedicated, ``k`` shards: ``2(d−1)α_i + 2(d−1)/d·M/B_ring + (d−1)/d·M/R + 2α +
    2·max(n·f_max, 1)·M/B + (n − 1)·f_max·M/R``.
    """
    d = check_positive_int("devices_per_node", devices_per_node)
    intra = 0.0
    if d > 1:
        m, b, a, t = message_bytes, intra_bandwidth, intra_latency, intra_topology
        intra = intra_ring_allreduce_time(m, d, b, a, t, reduce_bandwidth)
    ps = parameter_server_time(
        message_bytes,
        nodes,
        bandwidth,
        latency,
        shards,
        placement,
        reduce_bandwidth=reduce_bandwidth,
        shard_fractions=shard_fractions,
    )
    return intra + ps


# ============================================================== inside one node, by topology
def intra_ring_allreduce_time(
    message_bytes: float,
    devices: int,
    bandwidth: float,
    latency: float,
    topology: IntraTopology = LINK,
    reduce_bandwidth: float | None = None,
) -> float:
    """Ring all-reduce of the ``d`` devices of one node on ``topology``:
    ``2(d−1)·α_i + 2(d−1)/d · M/B_ring + (d−1)/d · M/R`` with ``B_ring`` =
    :func:`~tinygrad_opt.cluster.topology.ring_bandwidth` (``B_i`` on ``link``/``nvswitch``,
    ``r_d·B_i`` on the cube-mesh, ``min(B_i, U)`` on a PCIe tree spanning switches)."""
    d = check_positive_int("devices_per_node", devices)
    b_ring = ring_bandwidth(topology, d, bandwidth)
    return ring_allreduce_time(message_bytes, d, b_ring, latency, reduce_bandwidth)


def intra_tree_reduce_time(
    message_bytes: float,
    devices: int,
    bandwidth: float,
    latency: float,
    topology: IntraTopology = LINK,
    reduce_bandwidth: float | None = None,
) -> float:
    """Binomial reduce of the ``d`` devices of one node to device 0 on ``topology``:
    ``Σ_i (α_i + M/b_i + M/R)`` over the ``⌈log2 d⌉`` steps, ``b_i`` the slowest of the
    step's messages ``j → j − 2^i`` (``j mod 2^(i+1) = 2^i``) by
    :func:`~tinygrad_opt.cluster.topology.pair_bandwidth`; a broadcast is the same without
    ``R``. On ``link``: :func:`binomial_tree_reduce_time`."""
    d = check_positive_int("devices_per_node", devices)
    if topology.name == "link":
        return binomial_tree_reduce_time(message_bytes, d, bandwidth, latency, reduce_bandwidth)
    gamma = _per_byte(reduce_bandwidth)
    local = np.arange(d)
    t = 0.0
    for i in range(_ceil_log2(d)):
        mask = 1 << i
        senders = local[(local % (2 * mask)) == mask]
        b = float(pair_bandwidth(topology, senders, senders - mask, bandwidth).min())
        t += latency + message_bytes / b + message_bytes * gamma
    return t
