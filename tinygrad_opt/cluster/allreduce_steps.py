"""Every all-reduce algorithm laid out rank by rank, step by step (vectorised), on a
cluster with ``d`` devices per node: each step's time and the bytes on every link.

:data:`ALLREDUCE_STEPS` maps a scheme name to its evaluation ``f(cluster, M, traffic)``,
which returns the ``(phase, seconds)`` of one all-reduce of ``M`` bytes per rank and adds
its bytes to ``traffic`` (:class:`Traffic`); :mod:`.communication` (its docstring gives the
rules for devices per node, shared NICs and topologies) applies the transport and the
contention first and wraps the result in a :class:`~.communication.CommCost`. On one
device per node each reproduces its closed form in :mod:`.collectives`.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.cluster.collectives import _ceil_log2, _floor_log2, ring_allreduce_time
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.topology import pair_bandwidth, ring_bandwidth

__all__ = ["ALLREDUCE_STEPS", "Traffic", "node_reduce_scatter_gather"]


class Traffic:
    """Bytes per link direction accumulated over the algorithm steps."""

    def __init__(self, nodes: int, workers: int, servers: int = 0) -> None:
        self.nic_out = np.zeros(nodes)
        self.nic_in = np.zeros(nodes)
        self.dev_out = np.zeros(workers)
        self.dev_in = np.zeros(workers)
        self.srv_out = np.zeros(servers)
        self.srv_in = np.zeros(servers)

    def summary(self) -> tuple[float, float, float, str]:
        """(mean NIC out per node, max NIC out per node, busiest link bytes, its name)."""
        candidates = [  # servers first: on a tie the central node is the bottleneck
            ("PS server", "NIC in", self.srv_in),
            ("PS server", "NIC out", self.srv_out),
            ("node", "NIC out", self.nic_out),
            ("node", "NIC in", self.nic_in),
            ("worker", "intra-node link out", self.dev_out),
            ("worker", "intra-node link in", self.dev_in),
        ]
        best, label = 0.0, "none (no traffic)"
        for who, link, arr in candidates:
            if arr.size and arr.max() > best * (1 + 1e-12):
                i = int(np.argmax(arr))
                best = float(arr[i])
                same = arr.size > 1 and bool(np.isclose(arr, arr[i], rtol=1e-12, atol=0).all())
                label = f"every {who}'s {link}" if same else f"{who} {i} {link}"
        return float(self.nic_out.mean()), float(self.nic_out.max()), best, label


def _steps_time(
    src: np.ndarray, dst: np.ndarray, size: float, c: ClusterSpec, traffic: Traffic
) -> float:
    """Seconds for one step in which every ``src[i]`` sends ``size`` bytes to ``dst[i]``."""
    if src.size == 0:
        return 0.0
    d, n = c.devices_per_node, c.nodes
    node_s, node_d = src // d, dst // d
    cross = node_s != node_d
    t = 0.0
    if cross.any():
        out_c = np.bincount(node_s[cross], minlength=n)
        in_c = np.bincount(node_d[cross], minlength=n)
        busy = max(int(out_c.max()), int(in_c.max()))
        t = max(t, c.latency + busy * size / c.bandwidth)
        traffic.nic_out += out_c * size
        traffic.nic_in += in_c * size
    local = ~cross
    if local.any():
        out_c = np.bincount(src[local], minlength=c.workers)
        in_c = np.bincount(dst[local], minlength=c.workers)
        if c.intra_topology.name == "link":
            busy = max(int(out_c.max()), int(in_c.max()))
            t = max(t, c.intra_latency + busy * size / c.intra_bandwidth)
        else:  # each message at its own speed, its ends' links shared by their messages
            s_l, d_l = src[local], dst[local]
            bw = pair_bandwidth(c.intra_topology, s_l % d, d_l % d, c.intra_bandwidth, s_l // d)
            busy = np.maximum(out_c[s_l], in_c[d_l])
            t = max(t, c.intra_latency + float((busy * size / bw).max()))
        traffic.dev_out += out_c * size
        traffic.dev_in += in_c * size
    return t


def _tree(c: ClusterSpec, m: float, traffic: Traffic) -> tuple[tuple[str, float], ...]:
    """Binomial reduce to rank 0 (mask 1, 2, 4, ...) then binomial broadcast (reverse)."""
    ranks = np.arange(c.workers)
    steps = []
    for i in range(_ceil_log2(c.workers)):
        mask = 1 << i
        senders = ranks[(ranks % (2 * mask)) == mask]
        steps.append((senders, senders - mask))
    reduce_t = sum(_steps_time(s, r, m, c, traffic) + c.reduce_time(m) for s, r in steps)
    bcast_t = sum(_steps_time(r, s, m, c, traffic) for s, r in reversed(steps))
    return (("reduce", reduce_t), ("broadcast", bcast_t))


def _halving_doubling(c: ClusterSpec, m: float, traffic: Traffic):
    """Rabenseifner with MPICH's fold for non-powers of two, evaluated step by step."""
    n = c.workers
    p2 = 1 << _floor_log2(n)
    r = n - p2
    phases: list[tuple[str, float]] = []
    if r:
        evens = np.arange(r) * 2
        phases.append(("fold", _steps_time(evens, evens + 1, m, c, traffic) + c.reduce_time(m)))
    newrank = np.arange(p2)
    phys = np.where(newrank < r, 2 * newrank + 1, newrank + r)
    exchanges = []
    for k in range(_floor_log2(p2)):
        mask = 1 << k
        partner = phys[newrank ^ mask]
        exchanges.append((phys, partner, m / (2 << k)))
    rs = sum(_steps_time(a, b, size, c, traffic) + c.reduce_time(size) for a, b, size in exchanges)
    ag = sum(_steps_time(a, b, size, c, traffic) for a, b, size in reversed(exchanges))
    phases += [("reduce-scatter", rs), ("allgather", ag)]
    if r:
        evens = np.arange(r) * 2
        phases.append(("unfold", _steps_time(evens + 1, evens, m, c, traffic)))
    return tuple(phases)


def _ring(c: ClusterSpec, m: float, traffic: Traffic):
    n, d = c.workers, c.devices_per_node
    if n == 1:
        return (("reduce-scatter", 0.0), ("allgather", 0.0))
    chunk = m / n
    step = 0.0
    per_link = 2 * (n - 1) * chunk
    if c.nodes > 1:
        step = max(step, c.latency + chunk / c.bandwidth)
        traffic.nic_out += per_link
        traffic.nic_in += per_link
    if d > 1:
        b_ring = ring_bandwidth(c.intra_topology, d, c.intra_bandwidth)
        step = max(step, c.intra_latency + chunk / b_ring)
        local = (np.arange(n) + 1) % d != 0  # successor on the same node
        if c.nodes == 1:
            local[:] = True
        traffic.dev_out += per_link * local
        traffic.dev_in += per_link * np.roll(local, 1)
    reduce_scatter = (n - 1) * (step + c.reduce_time(chunk))
    return (("reduce-scatter", reduce_scatter), ("allgather", (n - 1) * step))


def _double_binary_tree(c: ClusterSpec, m: float, traffic: Traffic):
    """NCCL's double binary tree (Sanders, Speck & Träff 2009; NCCL 2.4): the ``d``
    devices of a node form a chain, the ``n`` nodes two complementary binary trees that
    each carry half the message, pipelined in small chunks. A node is inner in at most one
    tree, so in the reduce its NIC receives at most ``2·M/2`` and sends at most ``M``
    (``M/2`` each way with two nodes); the broadcast mirrors it. Each phase then takes
    its latency, ``⌈log₂n⌉·α + (d−1)·α_i``, plus its busiest link's bytes (pipelined):
    ``max(M_nic/B, M/B_chain)``; one node is the chain alone."""
    n, d = c.nodes, c.devices_per_node
    if c.workers == 1:
        return (("tree reduce", 0.0), ("tree broadcast", 0.0))
    lat = 0.0
    per_byte = 0.0
    if n > 1:
        nic = m if n > 2 else m / 2
        lat += _ceil_log2(n) * c.latency
        per_byte = max(per_byte, nic / c.bandwidth)
        traffic.nic_out += 2 * nic
        traffic.nic_in += 2 * nic
    if d > 1:
        lat += (d - 1) * c.intra_latency
        per_byte = max(per_byte, m / ring_bandwidth(c.intra_topology, d, c.intra_bandwidth))
        traffic.dev_out += 2 * m
        traffic.dev_in += 2 * m
    phase = lat + per_byte
    return (("tree reduce", phase + c.reduce_time(m)), ("tree broadcast", phase))


def _nccl(c: ClusterSpec, m: float, traffic: Traffic):
    """NCCL ≥ 2.4's choice for one message: the faster of its ring and its double binary
    tree (its tuner picks per size from the same kind of latency/bandwidth model; Jeaugey
    2019, "Massively scale your deep learning training with NCCL 2.4")."""
    tried = []
    for algorithm in (_ring, _double_binary_tree):
        t = Traffic(c.nodes, c.workers)
        phases = algorithm(c, m, t)
        tried.append((sum(x for _, x in phases), phases, t))
    _, phases, t = min(tried, key=lambda x: x[0])
    traffic.nic_out += t.nic_out
    traffic.nic_in += t.nic_in
    traffic.dev_out += t.dev_out
    traffic.dev_in += t.dev_in
    return phases


def node_reduce_scatter_gather(c: ClusterSpec, m: float, traffic: Traffic) -> tuple[float, float]:
    """The ring reduce-scatter of ``m`` bytes inside every node (and the all-gather back,
    the same messages): the time of one of them on the node's topology, ``(d−1)(α_i +
    M/(d·B_ring))`` (:func:`~tinygrad_opt.cluster.topology.ring_bandwidth`), the time of
    its additions, ``(d−1)/d·M/R``, and each device's bytes added to ``traffic``:
    ``(d−1)/d·M`` each way in each of the two."""
    d = c.devices_per_node
    b_ring = ring_bandwidth(c.intra_topology, d, c.intra_bandwidth)
    intra = (d - 1) * (c.intra_latency + m / (d * b_ring))
    adding = c.reduce_time((d - 1) / d * m)
    traffic.dev_out += 2 * (d - 1) / d * m
    traffic.dev_in += 2 * (d - 1) / d * m
    return intra, adding


def _hierarchical(c: ClusterSpec, m: float, traffic: Traffic):
    d, n = c.devices_per_node, c.nodes
    intra = adding = 0.0
    if d > 1:
        intra, adding = node_reduce_scatter_gather(c, m, traffic)
    inter = ring_allreduce_time(m, n, c.bandwidth, c.latency) + (n - 1) * c.reduce_time(m / n)
    if n > 1:
        traffic.nic_out += 2 * (n - 1) / n * m
        traffic.nic_in += 2 * (n - 1) / n * m
    return (
        ("intra-node reduce", intra + adding),
        ("inter-node allreduce", inter),
        ("intra-node broadcast", intra),
    )


ALLREDUCE_STEPS = {
    "ring": _ring,
    "tree": _tree,
    "halving_doubling": _halving_doubling,
    "hierarchical": _hierarchical,
    "double_binary_tree": _double_binary_tree,
    "nccl": _nccl,
}
"""Each all-reduce scheme's step-by-step evaluation."""
