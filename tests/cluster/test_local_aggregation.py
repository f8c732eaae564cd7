"""Local aggregation (a node sums its devices, one push per node) and the summation
service (CPU-only servers that only sum), against formulas typed by hand.

Intra-node ring reduce-scatter ``(d−1)(α_i + M/(d·B_i) + M/(d·R))``, parameter server of
the ``n`` nodes, intra-node ring all-gather ``(d−1)(α_i + M/(d·B_i))`` (BytePS: NCCL's
reduce-scatter inside the machine, Jiang et al. OSDI 2020).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import ClusterSpec, SpecError, Workload, communication_cost, simulate
from tinygrad_opt.cluster.collectives import local_aggregation_ps_time
from tinygrad_opt.cluster.config import expand

A, AI = 20e-6, 3e-6  # inter- and intra-node latency
B, BI = 1.25e9, 10e9  # 10 Gbit/s NIC, 10 GB/s device link


def cluster(n: int, d: int, **kw) -> ClusterSpec:
    return ClusterSpec(
        nodes=n,
        devices_per_node=d,
        bandwidth=B,
        latency=A,
        intra_bandwidth=BI,
        intra_latency=AI,
        local_aggregation=True,
        **kw,
    )


def intra(m, d):
    """The ring reduce-scatter and all-gather inside a node: 2(d−1)(α_i + M/(d·B_i))."""
    return 2 * (d - 1) * (AI + m / (d * BI))


def hand_dedicated(m, n, d, k, r=None):
    """2(d−1)(α_i + M/(d·B_i)) + (d−1)/d·M/R + 2α + 2·max(n/k, 1)·M/B + (n−1)·M/(kR)."""
    add = 0.0 if r is None else (d - 1) / d * m / r + (n - 1) * m / (k * r)
    return intra(m, d) + 2 * A + 2 * max(n / k, 1) * m / B + add


# ============================================================================ closed forms
@pytest.mark.parametrize("n,d,k", [(4, 8, 1), (4, 8, 2), (8, 4, 4), (3, 5, 2), (16, 2, 3)])
def test_dedicated_by_hand(n, d, k):
    m = 100e6
    cost = communication_cost(cluster(n, d), {"name": "ps", "ps_shards": k}, m)
    assert cost.time_s == pytest.approx(hand_dedicated(m, n, d, k), rel=1e-12)
    names = [p for p, _ in cost.phases]
    assert names == ["intra-node reduce", "push", "pull", "intra-node broadcast"]
    # a server's NIC gets one aggregate per node, n·M/k (not n·d·M/k); a device's link
    # carries 2(d−1)/d·M each way (its reduce-scatter and all-gather chunks)
    assert cost.busiest_link_bytes == pytest.approx(max(n * m / k, 2 * (d - 1) / d * m))


def test_dedicated_with_reduction_by_hand():
    m, r = 50e6, 8e9
    c = cluster(4, 8, reduce_bandwidth=r)
    cost = communication_cost(c, {"name": "ps", "ps_shards": 2}, m)
    assert cost.time_s == pytest.approx(hand_dedicated(m, 4, 8, 2, r), rel=1e-12)
    assert cost.time_s == pytest.approx(
        local_aggregation_ps_time(m, 4, 8, BI, AI, B, A, 2, "dedicated", r), rel=1e-12
    )


@pytest.mark.parametrize("n,d", [(2, 2), (4, 8), (8, 4)])
def test_colocated_every_node_a_shard_by_hand(n, d):
    # push α + max((n−1)/n, 1 − 1/n)·M/B = α + (n−1)/n·M/B, pull the same
    m = 80e6
    hand = intra(m, d) + 2 * (A + (n - 1) / n * m / B)
    scheme = {"name": "ps", "ps_shards": n, "ps_placement": "colocated"}
    assert communication_cost(cluster(n, d), scheme, m).time_s == pytest.approx(hand, rel=1e-12)


def test_hot_shard_share_replaces_one_over_k():
    m, f = 100e6, [0.7, 0.2, 0.1]
    hand = intra(m, 8) + 2 * A + 2 * max(4 * 0.7, 1) * m / B
    cost = communication_cost(cluster(4, 8), {"name": "ps", "ps_shards": 3}, m, None, f)
    assert cost.time_s == pytest.approx(hand, rel=1e-12)


def test_one_device_per_node_changes_nothing():
    c = ClusterSpec(workers=8, bandwidth=B, latency=A, local_aggregation=True)
    plain = c.replace(local_aggregation=False)
    for scheme in ({"name": "ps", "ps_shards": 2}, "ring"):
        assert (
            communication_cost(c, scheme, 1e8).time_s
            == communication_cost(plain, scheme, 1e8).time_s
        )


def test_all_reduce_ignores_local_aggregation():
    c = cluster(4, 8)
    for name in ("ring", "hierarchical", "tree"):
        a = communication_cost(c, name, 1e8).time_s
        assert a == communication_cost(c.replace(local_aggregation=False), name, 1e8).time_s


def test_aggregation_cuts_the_node_traffic_by_d():
    # one dedicated server: without aggregation the server's NIC takes N = n·d gradients
    m, n, d = 100e6, 4, 8
    with_ = communication_cost(cluster(n, d), "ps", m)
    without = communication_cost(cluster(n, d).replace(local_aggregation=False), "ps", m)
    assert without.time_s == pytest.approx(2 * A + 2 * n * d * m / B, rel=1e-12)
    assert with_.time_s == pytest.approx(hand_dedicated(m, n, d, 1), rel=1e-12)
    assert with_.busiest_link_bytes * d == pytest.approx(without.busiest_link_bytes)


# ============================================================================ simulate
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 9),
    k=st.integers(1, 6),
    mparams=st.floats(1e5, 3e8),
    compute=st.floats(0.01, 2.0),
    update=st.floats(0.0, 0.05),
)
def test_simulate_equals_closed_form(n, d, k, mparams, compute, update):
    """Deterministic compute, no overlap: step = compute + sync + update/k (server)."""
    c = cluster(n, d)
    wl = Workload(
        parameters=int(mparams), compute_time_per_step=compute, update_time=update, steps=1
    )
    r = simulate(c, wl, "ps", ps_shards=k, steps_to_sample=3)
    m = int(mparams) * 4.0
    hand = hand_dedicated(m, n, d, k) if d > 1 else 2 * A + 2 * max(n / k, 1) * m / B
    assert r.step_time_s == pytest.approx(compute + hand + update / k, rel=1e-9)
    assert r.local_aggregation == (d > 1)


def test_server_update_sits_before_the_pull():
    wl = Workload(parameters=10**7, compute_time_per_step=0.1, update_time=0.02, steps=1)
    r = simulate(cluster(4, 8), wl, "ps", ps_shards=2, steps_to_sample=2)
    names = [p for p, _ in r.phases]
    assert names == ["intra-node reduce", "push", "server update", "pull", "intra-node broadcast"]


# ============================================================================ summation
def test_summation_service_moves_the_update_to_the_workers():
    wl = Workload(parameters=10**7, compute_time_per_step=0.1, update_time=0.02, steps=1)
    base = simulate(cluster(4, 8), wl, "ps", ps_shards=4, steps_to_sample=2)
    summ = simulate(cluster(4, 8, summation_service=True), wl, "ps", ps_shards=4, steps_to_sample=2)
    sync = hand_dedicated(4e7, 4, 8, 4)
    assert base.step_time_s == pytest.approx(0.1 + sync + 0.02 / 4, rel=1e-9)
    assert summ.step_time_s == pytest.approx(0.1 + sync + 0.02, rel=1e-9)
    assert dict(summ.phases)["server update"] == 0.0 and summ.summation_service
    assert summ.ps_machines == 4


def test_summation_service_needs_dedicated_ps():
    wl = Workload(parameters=10**6, compute_time_per_step=0.1, steps=1)
    c = cluster(4, 2, summation_service=True)
    ring = simulate(c, wl, "ring", steps_to_sample=2)  # all-reduce rows ignore it
    assert (
        ring.step_time_s
        == simulate(c.replace(summation_service=False), wl, "ring", steps_to_sample=2).step_time_s
    )
    assert not ring.summation_service
    with pytest.raises(SpecError, match="summation_service"):
        simulate(c, wl, "ps", ps_shards=2, ps_placement="colocated")


# ============================================================================ bad input
def test_backup_workers_and_too_many_colocated_shards_refused():
    wl = Workload(parameters=10**6, compute_time_per_step=0.1, steps=1)
    with pytest.raises(SpecError, match="backup_workers"):
        simulate(cluster(4, 2), wl, "ps", backup_workers=1)
    with pytest.raises(SpecError, match="nodes=4"):
        simulate(cluster(4, 2), wl, "ps", ps_shards=5, ps_placement="colocated")
    with pytest.raises(SpecError, match="local_aggregation"):
        ClusterSpec(workers=2, bandwidth=B, latency=A, local_aggregation="yes")


# ============================================================================ TOML, CLI, JSON
def test_toml_key(tmp_path):
    settings_ = {
        "cluster": {
            "nodes": 4,
            "devices_per_node": 8,
            "bandwidth": "10Gbit/s",
            "latency": "20us",
            "intra_bandwidth": "10GB/s",
            "local_aggregation": [True, False],
            "summation_service": True,
        },
        "workload": {"parameters": "25M", "compute_time_per_step": "0.2s", "steps": 1},
        "scheme": {"name": "ps", "ps_shards": 4},
    }
    confs = expand(settings_)
    assert [c.cluster.local_aggregation for c in confs] == [True, False]
    assert all(c.cluster.summation_service for c in confs)


CLI = ["whatif", "--nodes", "4", "--devices-per-node", "8", "--bandwidth", "10Gbit/s",
       "--latency", "20us", "--intra-bandwidth", "10GB/s", "--intra-latency", "3us",
       "--params", "25M",
       "--compute-time", "0.2s", "--steps", "1", "--scheme", "ps", "--ps-shards", "2",
       "--samples", "2"]  # fmt: skip


def test_cli_flags_and_json(capsys):
    assert main([*CLI, "--local-aggregation", "--json"]) == 0
    on = json.loads(capsys.readouterr().out)["rows"][0]
    assert main([*CLI, "--no-local-aggregation", "--json"]) == 0
    off = json.loads(capsys.readouterr().out)["rows"][0]
    assert on["local_aggregation"] is True and off["local_aggregation"] is False
    assert on["step_time_s"] < off["step_time_s"]
    m = 25e6 * 4
    assert on["step_time_s"] == pytest.approx(0.2 + hand_dedicated(m, 4, 8, 2), rel=1e-9)


def test_cli_summation_service_with_colocated_exits_2(capsys):
    argv = [*CLI, "--ps-placement", "colocated", "--summation-service"]
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "summation_service" in cap.err and "--summation-service" in cap.err
    assert len(cap.err.strip().splitlines()) == 1


def test_cli_table_marks_local_aggregation(capsys):
    assert main([*CLI, "--local-aggregation"]) == 0
    assert "+local agg." in capsys.readouterr().out


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 8),
    d=st.integers(2, 8),
    k=st.integers(1, 4),
    o=st.floats(0, 1e-3),
    eta=st.floats(0.1, 1.0),
    h=st.sampled_from([0, 2]),
)
def test_simulate_with_a_transport_equals_closed_form(n, d, k, o, eta, h):
    """Every link at α + o and ηB, one message (a bare count), h staging copies."""
    from tinygrad_opt.cluster.transport import Transport

    t = Transport("t", overhead=o, efficiency=eta, staging_copies=h, staging_bandwidth=12e9)
    wl = Workload(parameters=10**7, compute_time_per_step=0.3, steps=1)
    r = simulate(cluster(n, d, transport=t), wl, "ps", ps_shards=k, steps_to_sample=2)
    m = 4e7
    sync = (
        2 * (d - 1) * (AI + o + m / (d * eta * BI))
        + 2 * (A + o)
        + 2 * max(n / k, 1) * m / (eta * B)
        + h * m / 12e9
    )
    assert r.step_time_s == pytest.approx(0.3 + sync, rel=1e-9)
