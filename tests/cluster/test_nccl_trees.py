"""NCCL's double binary tree and NCCL ≥ 2.4's choice between it and the ring:
closed forms typed by hand, and the choice against brute force."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    ClusterSpec,
    SyncScheme,
    Workload,
    double_binary_tree_allreduce_time,
    simulate,
)
from tinygrad_opt.cluster.communication import communication_cost

A, AI = 10e-6, 3e-6  # NIC and intra-node latency
B, BI = 12.5e9, 150e9  # NIC and intra-node bandwidth, bytes/s
M = 100e6


def cluster(nodes, d=1, **kw):
    extra = {} if d == 1 else {"intra_bandwidth": BI, "intra_latency": AI}
    return ClusterSpec(nodes=nodes, devices_per_node=d, bandwidth=B, latency=A, **extra, **kw)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 64, 1000])
def test_one_rank_per_node_closed_form(n):
    # 2(⌈log₂n⌉α + M/B) for n ≥ 3; two nodes: each tree is one edge carrying M/2
    if n == 1:
        expected = 0.0
    elif n == 2:
        expected = 2 * (A + M / 2 / B)
    else:
        expected = 2 * (math.ceil(math.log2(n)) * A + M / B)
    got = communication_cost(cluster(n), "double_binary_tree", M).time_s
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert double_binary_tree_allreduce_time(M, n, B, A) == pytest.approx(got, rel=1e-12)
    # the additions of the reduce: M/R once
    r = communication_cost(cluster(n, reduce_bandwidth=20e9), "double_binary_tree", M).time_s
    assert r == pytest.approx(got + (M / 20e9 if n > 1 else 0.0), rel=1e-12)
    assert double_binary_tree_allreduce_time(M, n, B, A, 20e9) == pytest.approx(r, rel=1e-12)


@pytest.mark.parametrize("n, d", [(1, 8), (4, 8), (128, 16)])
def test_nodes_of_chained_devices(n, d):
    # inside a node the d devices are a chain: (d−1)·α_i more latency per phase and the
    # chain's bytes M/B_i; a phase takes the slower of the NIC's and the chain's bytes
    nic = 0.0 if n == 1 else (M if n > 2 else M / 2) / B
    depth = 0 if n == 1 else math.ceil(math.log2(n))
    phase = depth * A + (d - 1) * AI + max(nic, M / BI)
    got = communication_cost(cluster(n, d), "double_binary_tree", M)
    assert got.time_s == pytest.approx(2 * phase, rel=1e-12)
    assert [name for name, _ in got.phases] == ["tree reduce", "tree broadcast"]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.sampled_from([1, 2, 8]),
    m=st.floats(1e3, 1e9),
)
def test_nccl_takes_the_faster_of_ring_and_tree(n, d, m):
    c = cluster(n, d)
    ring = communication_cost(c, "ring", m)
    tree = communication_cost(c, "double_binary_tree", m)
    auto = communication_cost(c, "nccl", m)
    assert auto.time_s == pytest.approx(min(ring.time_s, tree.time_s), rel=1e-12)
    best = ring if ring.time_s <= tree.time_s else tree
    assert auto.phases == best.phases and auto.busiest_link_bytes == best.busiest_link_bytes


def test_trees_win_at_scale_rings_for_big_messages_on_few_nodes():
    # the ring pays 2(N−1) latencies: at 1024 ranks a 25 MiB bucket is latency-bound
    big = cluster(128, 8)
    bucket = 25 * 2**20
    assert communication_cost(big, "nccl", bucket).phases[0][0] == "tree reduce"
    # one node: the chain's M/B_i per phase against the ring's (d−1)/d·M/B_i
    one = cluster(1, 8)
    assert communication_cost(one, "nccl", 1e9).phases[0][0] == "reduce-scatter"


def test_simulate_and_aliases():
    wl = Workload(parameters=50e6, compute_time_per_step=0.2, steps=10)
    r = simulate(cluster(64, 8), wl, "nccl", steps_to_sample=2)
    t = simulate(cluster(64, 8), wl, "ring", steps_to_sample=2)
    assert r.comm_s < t.comm_s
    assert SyncScheme.coerce("dbtree").name == "double_binary_tree"
    assert SyncScheme.coerce("nccl_auto").name == "nccl"
