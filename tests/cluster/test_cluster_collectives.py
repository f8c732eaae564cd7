"""Closed forms of the communication schemes, checked against formulas written here.

Every expected value below is typed out from the papers (Thakur, Rabenseifner & Gropp
2005 for the collectives; the parameter-server link argument; Goyal et al. 2017 /
Sergeev & Del Balso 2018 for the hierarchical all-reduce), not imported from the library,
and compared with ``simulate`` on deterministic compute, where the step time must be
exactly compute + communication + update.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    ClusterSpec,
    SyncScheme,
    Workload,
    binomial_tree_allreduce_time,
    communication_cost,
    halving_doubling_allreduce_time,
    hierarchical_allreduce_time,
    parameter_server_time,
    ring_allreduce_time,
    simulate,
)

M_PARAMS = 10_000_000  # 40 MB of fp32 gradients
M = 4.0 * M_PARAMS
B = 1.25e9  # 10 Gbit/s
A = 50e-6
C = 0.1  # compute seconds per step


def ring(m, n, b, a):
    return 2 * (n - 1) * a + 2 * (n - 1) / n * m / b


def tree(m, n, b, a):
    return 2 * math.ceil(math.log2(n)) * (a + m / b) if n > 1 else 0.0


def halving_doubling(m, n, b, a):
    p = 2 ** int(math.floor(math.log2(n)))
    t = 2 * math.log2(p) * a + 2 * (p - 1) / p * m / b
    if p != n:  # fold + unfold (MPICH)
        t += 2 * (a + m / b)
    return t


def ps_dedicated(m, n, b, a, k=1, n_push=None):
    n_push = n if n_push is None else n_push
    # push: the k shard links each take n_push·m/k; a worker link m. pull: n·m/k.
    return 2 * a + max(n_push * m / k, m) / b + max(n * m / k, m) / b


def ps_colocated(m, n, b, a, k):
    # shard j on worker j; a holder receives m/k from the other n-1 workers (push) and
    # sends m/k to each of them (pull); a non-holder sends/receives its whole m.
    if n == 1:
        return 0.0
    busiest = max((n - 1) * m / k, m if k < n else (k - 1) * m / k)
    return 2 * (a + busiest / b)


def hierarchical(m, nodes, d, b_intra, a_intra, b_inter, a_inter):
    # ring reduce-scatter and all-gather inside a node (d-1 steps of m/d each), a ring
    # across the nodes
    intra = 2 * (d - 1) * (a_intra + m / (d * b_intra))
    inter = 2 * (nodes - 1) * a_inter + 2 * (nodes - 1) / nodes * m / b_inter
    return intra + inter


def cluster(n, **kw):
    kw.setdefault("bandwidth", B)
    kw.setdefault("latency", A)
    return ClusterSpec(workers=n, **kw)


def workload(**kw):
    kw.setdefault("parameters", M_PARAMS)
    kw.setdefault("per_worker_batch", 32)
    kw.setdefault("compute_time_per_step", C)
    kw.setdefault("steps", 100)
    return Workload(**kw)


def step_time(n, scheme, **opts):
    r = simulate(cluster(n), workload(), scheme, steps_to_sample=3, **opts)
    assert np.all(r.step_times == r.step_times[0])  # deterministic
    return r


WORKERS = [1, 2, 3, 4, 5, 7, 8, 12, 16, 31, 64]


@pytest.mark.parametrize("n", WORKERS)
@pytest.mark.parametrize(
    "scheme, formula",
    [("ring", ring), ("tree", tree), ("halving_doubling", halving_doubling)],
)
def test_allreduce_closed_forms(n, scheme, formula):
    r = step_time(n, scheme)
    assert r.comm_s == pytest.approx(formula(M, n, B, A), rel=1e-12, abs=1e-15)
    assert r.step_time_s == pytest.approx(C + formula(M, n, B, A), rel=1e-12)
    assert r.wait_s == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize("n", WORKERS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_dedicated_parameter_server(n, k):
    r = step_time(n, "ps", ps_shards=k)
    assert r.comm_s == pytest.approx(ps_dedicated(M, n, B, A, k), rel=1e-12)
    assert r.ps_machines == k and r.machines == n + k


def test_single_ps_is_2NM_over_B_plus_latency():
    for n in (1, 4, 32):
        r = step_time(n, "ps")
        assert r.comm_s == pytest.approx(2 * A + 2 * n * M / B, rel=1e-12)
        assert r.busiest_link_bytes == pytest.approx(n * M)  # the server's link, each way
        assert "PS server" in r.busiest_link


@pytest.mark.parametrize("n", [2, 3, 4, 8, 13, 32])
@pytest.mark.parametrize("k_of", [lambda n: 1, lambda n: 2, lambda n: n // 2 or 1, lambda n: n])
def test_colocated_sharded_ps(n, k_of):
    k = k_of(n)
    r = step_time(n, "ps", ps_shards=k, ps_placement="colocated")
    assert r.comm_s == pytest.approx(ps_colocated(M, n, B, A, k), rel=1e-12)
    assert r.ps_machines == 0 and r.machines == n


def test_colocated_ps_with_one_shard_per_worker_matches_ring_bandwidth():
    n = 16
    r = step_time(n, "ps", ps_shards=n, ps_placement="colocated")
    assert r.comm_s - 2 * A == pytest.approx(2 * (n - 1) / n * M / B, rel=1e-12)


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("d", [1, 2, 4, 8, 3])
def test_hierarchical_allreduce(nodes, d):
    b_i, a_i = 100e9, 2e-6
    c = ClusterSpec(
        nodes=nodes,
        devices_per_node=d,
        bandwidth=B,
        latency=A,
        intra_bandwidth=b_i,
        intra_latency=a_i,
    )
    r = simulate(c, workload(), "hierarchical", steps_to_sample=2)
    expected = hierarchical(M, nodes, d, b_i, a_i, B, A)
    assert r.comm_s == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert r.step_time_s == pytest.approx(C + expected, rel=1e-12)


def test_hierarchical_on_flat_cluster_is_the_ring():
    for n in (2, 5, 16):
        assert step_time(n, "hierarchical").comm_s == pytest.approx(ring(M, n, B, A))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    m=st.floats(1.0, 1e10),
    b=st.floats(1e6, 1e12),
    a=st.floats(1e-9, 1e-2),
    k=st.integers(1, 16),
)
def test_formulas_hold_for_random_inputs(n, m, b, a, k):
    c = ClusterSpec(workers=n, bandwidth=b, latency=a)
    got = {s: communication_cost(c, s, m).time_s for s in ("ring", "tree", "halving_doubling")}
    assert got["ring"] == pytest.approx(ring(m, n, b, a), rel=1e-9)
    assert got["tree"] == pytest.approx(tree(m, n, b, a), rel=1e-9)
    assert got["halving_doubling"] == pytest.approx(halving_doubling(m, n, b, a), rel=1e-9)
    ps = communication_cost(c, SyncScheme("ps", ps_shards=k), m).time_s
    assert ps == pytest.approx(ps_dedicated(m, n, b, a, k), rel=1e-9)
    if k <= n:
        col = communication_cost(c, SyncScheme("ps", k, "colocated"), m).time_s
        assert col == pytest.approx(ps_colocated(m, n, b, a, k), rel=1e-9, abs=1e-300)


def test_compression_divides_the_bytes():
    plain = step_time(8, "ring")
    fp16 = step_time(8, "ring", compression=2.0)
    assert fp16.message_bytes == plain.message_bytes / 2
    assert fp16.comm_s == pytest.approx(ring(M / 2, 8, B, A))


def test_ps_update_time_is_split_over_shards_and_allreduce_update_is_local():
    wl = workload(update_time=0.04)
    ps = simulate(cluster(8), wl, "ps", ps_shards=4, steps_to_sample=2)
    assert ps.update_s == pytest.approx(0.01)
    assert ps.step_time_s == pytest.approx(C + ps_dedicated(M, 8, B, A, 4) + 0.01)
    rg = simulate(cluster(8), wl, "ring", steps_to_sample=2)
    assert rg.update_s == pytest.approx(0.04)
    assert rg.step_time_s == pytest.approx(C + ring(M, 8, B, A) + 0.04)


# ------------------------------------------------------------------ flat schemes, d > 1
def hier_cluster(nodes, d, b_i=50e9, a_i=1e-6, b_e=B, a_e=A):
    return ClusterSpec(
        nodes=nodes,
        devices_per_node=d,
        bandwidth=b_e,
        latency=a_e,
        intra_bandwidth=b_i,
        intra_latency=a_i,
    )


def test_flat_ring_on_nodes_takes_the_slower_edge_each_step():
    c = hier_cluster(4, 8)
    n = 32
    step = max(A + M / n / B, 1e-6 + M / n / 50e9)
    assert communication_cost(c, "ring", M).time_s == pytest.approx(2 * (n - 1) * step)


def test_flat_schemes_on_nodes_with_equal_links_match_the_flat_formulas():
    # one ring edge and one tree message per node and step: no NIC sharing
    c = hier_cluster(4, 4, b_i=B, a_i=A)
    assert communication_cost(c, "ring", M).time_s == pytest.approx(ring(M, 16, B, A))
    assert communication_cost(c, "tree", M).time_s == pytest.approx(tree(M, 16, B, A))


def test_tree_and_halving_doubling_by_hand_on_two_nodes_of_two():
    b_i, a_i = 40e9, 1e-6
    c = hier_cluster(2, 2, b_i=b_i, a_i=a_i)
    # tree: 1->0 and 3->2 inside nodes, then 2->0 across; broadcast mirrors
    assert communication_cost(c, "tree", M).time_s == pytest.approx(
        2 * ((a_i + M / b_i) + (A + M / B))
    )
    # halving: distance 1 (inside nodes, M/2 each), then distance 2: both ranks of a
    # node send M/4 through the one NIC; allgather mirrors
    assert communication_cost(c, "halving_doubling", M).time_s == pytest.approx(
        2 * ((a_i + M / 2 / b_i) + (A + 2 * (M / 4) / B))
    )


def test_dedicated_ps_on_nodes_shares_the_node_nic():
    c = hier_cluster(4, 8)
    k = 2
    t = communication_cost(c, SyncScheme("ps", ps_shards=k), M).time_s
    assert t == pytest.approx(2 * (A + max(32 / k, 8) * M / B))
    t8 = communication_cost(c, SyncScheme("ps", ps_shards=8), M).time_s
    assert t8 == pytest.approx(2 * (A + 8 * M / B))  # now the worker NIC (8 devices) limits


# ------------------------------------------------------------------ traffic
def test_bytes_per_node_and_busiest_link():
    n = 8
    rg = step_time(n, "ring")
    assert rg.bytes_sent_per_node == pytest.approx(2 * (n - 1) / n * M)
    assert rg.busiest_link_bytes == pytest.approx(2 * (n - 1) / n * M)
    ps = step_time(n, "ps")
    assert ps.bytes_sent_per_node == pytest.approx(M)  # a worker pushes its gradient once
    assert ps.busiest_link_bytes == pytest.approx(n * M)
    tr = step_time(n, "tree")
    assert tr.bytes_sent_per_node == pytest.approx(2 * (n - 1) / n * M)  # N-1 messages twice
    assert tr.bytes_sent_per_node_max == pytest.approx(math.log2(n) * M)  # the root


def brute_force_colocated_ps(nodes, d, k, m, b_e, a_e, b_i, a_i):
    """Push phase time by listing every (worker, shard) message; pull is symmetric."""
    n_w = nodes * d
    host = [(j % nodes) * d + j // nodes for j in range(k)]  # round-robin over nodes
    nic_out = [0.0] * nodes
    nic_in = [0.0] * nodes
    dev_out = [0.0] * n_w
    dev_in = [0.0] * n_w
    for w in range(n_w):
        for j in range(k):
            h = host[j]
            if h == w:
                continue
            if w // d != h // d:
                nic_out[w // d] += m / k
                nic_in[h // d] += m / k
            else:
                dev_out[w] += m / k
                dev_in[h] += m / k
    t = 0.0
    if nodes > 1:
        t = max(t, a_e + max(nic_out + nic_in) / b_e)
    if d > 1:
        t = max(t, a_i + max(dev_out + dev_in) / b_i)
    return 2 * t


@pytest.mark.parametrize("nodes, d", [(1, 4), (2, 2), (3, 4), (4, 1), (2, 8)])
def test_colocated_ps_on_nodes_matches_a_message_by_message_count(nodes, d):
    b_i, a_i = 60e9, 2e-6
    c = hier_cluster(nodes, d, b_i=b_i, a_i=a_i)
    for k in sorted({1, 2, nodes, d, nodes * d - 1, nodes * d} - {0}):
        t = communication_cost(c, SyncScheme("ps", k, "colocated"), M).time_s
        assert t == pytest.approx(brute_force_colocated_ps(nodes, d, k, M, B, A, b_i, a_i))


# ------------------------------------------------------------------ reduction term (γ = 1/R)
# Thakur, Rabenseifner & Gropp 2005: every reduce step adds the bytes it received.
def ring_r(m, n, r):
    return (n - 1) / n * m / r


def tree_r(m, n, r):
    return math.ceil(math.log2(n)) * m / r if n > 1 else 0.0


def halving_doubling_r(m, n, r):
    p = 2 ** int(math.floor(math.log2(n)))
    t = (p - 1) / p * m / r
    if p != n:  # the folded partner adds the whole vector it was handed
        t += m / r
    return t


def ps_r(m, n_push, r, k=1):
    return (n_push - 1) * m / k / r  # each shard adds up the n_push gradients it uses


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    m=st.floats(1.0, 1e10),
    b=st.floats(1e6, 1e12),
    a=st.floats(1e-9, 1e-2),
    r=st.floats(1e6, 1e12),
    k=st.integers(1, 16),
)
def test_reduction_adds_its_closed_form_to_every_scheme(n, m, b, a, r, k):
    c = ClusterSpec(workers=n, bandwidth=b, latency=a, reduce_bandwidth=r)
    got = {s: communication_cost(c, s, m).time_s for s in ("ring", "tree", "halving_doubling")}
    assert got["ring"] == pytest.approx(ring(m, n, b, a) + ring_r(m, n, r), rel=1e-9)
    assert got["tree"] == pytest.approx(tree(m, n, b, a) + tree_r(m, n, r), rel=1e-9)
    assert got["halving_doubling"] == pytest.approx(
        halving_doubling(m, n, b, a) + halving_doubling_r(m, n, r), rel=1e-9
    )
    ps = communication_cost(c, SyncScheme("ps", ps_shards=k), m).time_s
    assert ps == pytest.approx(ps_dedicated(m, n, b, a, k) + ps_r(m, n, r, k), rel=1e-9)
    if k <= n:
        col = communication_cost(c, SyncScheme("ps", k, "colocated"), m).time_s
        expected = ps_colocated(m, n, b, a, k) + ps_r(m, n, r, k)
        assert col == pytest.approx(expected, rel=1e-9, abs=1e-300)
    # the exported closed forms say the same
    assert ring_allreduce_time(m, n, b, a, r) == pytest.approx(got["ring"], rel=1e-9)
    assert binomial_tree_allreduce_time(m, n, b, a, r) == pytest.approx(got["tree"], rel=1e-9)
    assert halving_doubling_allreduce_time(m, n, b, a, r) == pytest.approx(
        got["halving_doubling"], rel=1e-9
    )
    assert parameter_server_time(m, n, b, a, k, reduce_bandwidth=r) == pytest.approx(ps, rel=1e-9)


@pytest.mark.parametrize("nodes", [1, 2, 3, 8])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_hierarchical_reduction_term(nodes, d):
    b_i, a_i, r = 100e9, 2e-6, 8e9
    c = ClusterSpec(
        nodes=nodes,
        devices_per_node=d,
        bandwidth=B,
        latency=A,
        intra_bandwidth=b_i,
        intra_latency=a_i,
        reduce_bandwidth=r,
    )
    expected = hierarchical(M, nodes, d, b_i, a_i, B, A) + ring_r(M, d, r) + ring_r(M, nodes, r)
    assert communication_cost(c, "hierarchical", M).time_s == pytest.approx(expected, rel=1e-12)
    assert hierarchical_allreduce_time(M, nodes, d, b_i, a_i, B, A, r) == pytest.approx(
        expected, rel=1e-12
    )


def test_without_reduce_bandwidth_reductions_are_free_and_phases_unchanged():
    plain, adding = cluster(4), cluster(4, reduce_bandwidth="1GB/s")
    assert adding.reduce_bandwidth == 1e9
    for scheme in ("ring", "tree", "halving_doubling", "ps"):
        p = communication_cost(plain, scheme, M)
        q = communication_cost(adding, scheme, M)
        assert q.time_s > p.time_s  # 4 workers always add something
        assert q.busiest_link_bytes == p.busiest_link_bytes  # adding moves no bytes
    assert [n for n, _ in communication_cost(plain, "ps", M).phases] == ["push", "pull"]
    assert [n for n, _ in communication_cost(adding, "ps", M).phases] == ["push", "sum", "pull"]


def test_backup_workers_gradients_are_not_added():
    c = cluster(6, reduce_bandwidth=2e9)
    full = dict(communication_cost(c, "ps", M).phases)["sum"]
    fewer = dict(communication_cost(c, "ps", M, pushing_workers=4).phases)["sum"]
    assert full == pytest.approx(5 * M / 2e9) and fewer == pytest.approx(3 * M / 2e9)


def test_adding_on_an_oversubscribed_node_takes_s_times_longer_but_not_on_a_dedicated_server():
    r = 5e9

    def node(cores):
        return ClusterSpec(
            nodes=1, devices_per_node=4, bandwidth=B, latency=A, intra_bandwidth=B,
            intra_latency=A, cores_per_node=cores, reduce_bandwidth=r,
        )  # fmt: skip

    free, crowded = node(4.0), node(2.0)  # s = 1 and s = 2
    col = SyncScheme("ps", 1, "colocated")
    assert dict(communication_cost(crowded, col, M).phases)["sum"] == pytest.approx(2 * 3 * M / r)
    assert dict(communication_cost(free, col, M).phases)["sum"] == pytest.approx(3 * M / r)
    ded = SyncScheme("ps", 1, "dedicated")
    assert dict(communication_cost(crowded, ded, M).phases)["sum"] == pytest.approx(3 * M / r)
    # the ring: its links and its adding are both slowed by s
    ring_free = communication_cost(free, "ring", M).time_s
    ring_crowded = communication_cost(crowded, "ring", M).time_s
    assert ring_crowded == pytest.approx(2 * ring_free, rel=1e-12)
    assert ring_free == pytest.approx(ring(M, 4, B, A) + ring_r(M, 4, r), rel=1e-12)


def test_simulated_ps_step_puts_the_sum_before_the_server_update_and_the_pull():
    wl = workload(update_time=0.02)
    c = cluster(4, reduce_bandwidth=4e9)
    res = simulate(c, wl, "ps", steps_to_sample=2, timeline_steps=1)
    names = [n for n, _ in res.phases]
    assert names == ["push", "sum", "server update", "pull"]
    expected = C + ps_dedicated(M, 4, B, A) + ps_r(M, 4, 4e9) + 0.02
    assert res.step_time_s == pytest.approx(expected, rel=1e-12)
    kinds = {e["label"]: e["kind"] for e in res.timeline() if e["row"] == "ps 0"}
    assert kinds["sum"] == kinds["server update"] == "update"  # the server's CPU works


def test_reduce_bandwidth_is_validated():
    with pytest.raises(ValueError, match="reduce_bandwidth"):
        cluster(2, reduce_bandwidth=0)
    with pytest.raises(ValueError, match="reduce_bandwidth"):
        cluster(2, reduce_bandwidth="fast")
    c = cluster(2, reduce_bandwidth="8GB/s")
    assert ClusterSpec.from_dict(c.to_dict()) == c
