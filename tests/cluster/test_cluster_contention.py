"""Contention inside a node: cores_per_node, memory_streams_per_node, cache_bytes_per_node,
turn_time.

Checked against the formulas written out by hand: processor sharing ``s = max(1, d/c)``
on compute, updates and intra-node all-reduces; ``max(1, k/m)`` on updates whose data do
not fit in the cache together; parameter-server messages not slowed.
"""

from __future__ import annotations

import pytest

from tinygrad_opt.cluster import (
    ClusterSpec,
    SpecError,
    Workload,
    communication_cost,
    parameter_server_time,
    ring_allreduce_time,
    simulate,
)
from tinygrad_opt.cluster.config import expand, load_toml

ALPHA, B = 5e-6, 4e9


def node(d: int, **kw) -> ClusterSpec:
    return ClusterSpec(nodes=1, devices_per_node=d, bandwidth=B, latency=ALPHA,
                       intra_bandwidth=B, intra_latency=ALPHA, **kw)  # fmt: skip


WL = Workload(parameters=5_000_000, per_worker_batch=32, compute_time_per_step=0.02,
              update_time=0.006, steps=100)  # fmt: skip
M = WL.gradient_bytes  # 20 MB


def test_defaults_change_nothing():
    c = node(4)
    assert c.cores_per_node is None and c.memory_streams_per_node is None
    assert c.cache_bytes_per_node == 0.0
    assert c.oversubscription == 1.0 and c.update_slowdown(1e9) == 1.0
    many = node(4, cores_per_node=64, memory_streams_per_node=64)
    for scheme in ("ring", "ps"):
        opts = {"ps_placement": "colocated"} if scheme == "ps" else {}
        a, b = simulate(c, WL, scheme, **opts), simulate(many, WL, scheme, **opts)
        assert a.step_time_s == pytest.approx(b.step_time_s, rel=1e-12)


@pytest.mark.parametrize(("d", "cores", "s"), [(1, 2, 1.0), (2, 2, 1.0), (4, 2, 2.0), (3, 2, 1.5),
                                              (4, 1.6, 2.5), (8, 2, 4.0)])  # fmt: skip
def test_oversubscription_is_processor_sharing(d, cores, s):
    assert node(d, cores_per_node=cores).oversubscription == pytest.approx(s)


def test_update_slowdown_memory_term_only_outside_the_cache():
    c = node(4, cores_per_node=2, memory_streams_per_node=1.25, cache_bytes_per_node="32MiB")
    assert c.cache_bytes_per_node == 32 * 2**20
    # k = min(d, c) = 2 updates at once: 2 x 10 MB fit in 32 MiB -> CPU share only
    assert c.update_slowdown(10e6) == pytest.approx(2.0)
    # 2 x 80 MB do not: they share the memory bandwidth, 2 / 1.25 each
    assert c.update_slowdown(80e6) == pytest.approx(2.0 * 2 / 1.25)
    # one update at a time (a parameter-server shard) never waits for memory (m >= 1)
    assert c.update_slowdown(80e6, concurrent=1) == pytest.approx(2.0)
    # without an oversubscribed CPU: d = 2 on 2 cores
    c2 = node(2, cores_per_node=2, memory_streams_per_node=1.0)
    assert c2.update_slowdown(1.0) == pytest.approx(2.0)  # no cache: always streams
    assert node(2, memory_streams_per_node=1.0).update_slowdown(1.0) == pytest.approx(2.0)


def test_ring_allreduce_on_an_oversubscribed_node_is_slowed_by_s():
    c = node(4, cores_per_node=2)
    got = communication_cost(c, "ring", M).time_s
    assert got == pytest.approx(ring_allreduce_time(M, 4, B / 2, ALPHA * 2))
    assert got == pytest.approx(2 * (6 * ALPHA + 1.5 * M / B))
    assert communication_cost(node(2, cores_per_node=2), "ring", M).time_s == pytest.approx(
        ring_allreduce_time(M, 2, B, ALPHA)
    )


def test_parameter_server_messages_are_not_slowed():
    c = node(4, cores_per_node=2)
    got = communication_cost(c, {"name": "ps", "ps_placement": "colocated"}, M).time_s
    assert got == pytest.approx(parameter_server_time(M, 4, B, ALPHA, 1, "colocated"))
    assert got == pytest.approx(2 * ALPHA + 6 * M / B)


def test_nic_transfers_are_not_slowed():
    """Two nodes of 4 workers on 2 cores: the ring's inter-node edge keeps the NIC's
    speed; only the intra-node edges (shared-memory copies) are slowed."""
    kw = {"nodes": 2, "devices_per_node": 4, "bandwidth": 1e9, "latency": 1e-5,
          "intra_bandwidth": 1e12, "intra_latency": 1e-7}  # fmt: skip
    plain = communication_cost(ClusterSpec(**kw), "ring", M).time_s
    busy = communication_cost(ClusterSpec(**kw, cores_per_node=2), "ring", M).time_s
    assert busy == pytest.approx(plain)  # the NIC edge is the slower one either way
    slow_intra = {**kw, "intra_bandwidth": 1.5e9}  # now the intra edge decides once slowed
    c = ClusterSpec(**slow_intra, cores_per_node=2)
    step = max(1e-5 + M / 8 / 1e9, 2 * 1e-7 + M / 8 / (1.5e9 / 2))
    assert communication_cost(c, "ring", M).time_s == pytest.approx(2 * 7 * step)


def test_simulated_step_on_an_oversubscribed_node_by_hand():
    c = node(4, cores_per_node=2, memory_streams_per_node=1.0, cache_bytes_per_node=32e6)
    r = simulate(c, WL, "ring")
    s, upd = 2.0, 2.0 * 2 / 1.0  # 2 updates at once of 80 MB each: streamed
    comm = ring_allreduce_time(M, 4, B / s, ALPHA * s)
    assert r.compute_s == pytest.approx(0.02 * s)
    assert r.comm_s == pytest.approx(comm)
    assert r.update_s == pytest.approx(0.006 * upd)
    assert r.step_time_s == pytest.approx(0.02 * s + comm + 0.006 * upd)
    # the one-worker baseline is the nominal machine: contention costs speed-up
    assert r.baseline_step_time_s == pytest.approx(0.026)
    assert r.speedup == pytest.approx(4 * 0.026 / r.step_time_s)


def test_colocated_server_update_runs_alone_dedicated_server_is_its_own_machine():
    c = node(4, cores_per_node=2, memory_streams_per_node=1.0)
    r = simulate(c, WL, "ps", ps_placement="colocated")
    assert dict(r.phases)["server update"] == pytest.approx(0.006 * 2.0)  # CPU share only
    assert r.step_time_s == pytest.approx(0.04 + 2 * ALPHA + 6 * M / B + 0.012)
    two = simulate(c, WL, "ps", ps_placement="colocated", ps_shards=2)
    # two shards on the one node update at once: each half the work, both streaming
    assert dict(two.phases)["server update"] == pytest.approx(0.003 * 2.0 * 2.0)
    flat = ClusterSpec(workers=4, bandwidth=B, latency=ALPHA, cores_per_node=2)
    r = simulate(flat, WL, "ps")  # one worker per node: no oversubscription, no sharing
    assert dict(r.phases)["server update"] == pytest.approx(0.006)


def test_update_bytes_default_and_override():
    assert WL.update_bytes is None and WL.update_working_set == 4 * M
    w = WL.replace(update_bytes="10MB")
    assert w.update_bytes == 10e6 and w.update_working_set == 10e6
    c = node(2, memory_streams_per_node=1.0, cache_bytes_per_node=32e6)
    assert simulate(c, w, "ring").update_s == pytest.approx(0.006)  # 2 x 10 MB fit
    assert simulate(c, WL, "ring").update_s == pytest.approx(0.012)  # 2 x 80 MB do not


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("cores_per_node", 0, "> 0"),
        ("cores_per_node", -2, "> 0"),
        ("cores_per_node", "many", "number"),
        ("memory_streams_per_node", 0.5, ">= 1"),
        ("memory_streams_per_node", 0, "> 0"),
        ("cache_bytes_per_node", -1, ""),
        ("cache_bytes_per_node", "32 parsecs", "unit"),
        ("turn_time", -1e-3, ""),
        ("turn_time", "1 fortnight", "unit"),
    ],
)
def test_bad_values_name_the_field(field, value, words):
    with pytest.raises(SpecError) as e:
        node(2, **{field: value})
    assert e.value.field == field and words in str(e.value)
    with pytest.raises(SpecError, match="update_bytes"):
        WL.replace(update_bytes=0)


def test_round_trip_and_toml(tmp_path):
    c = node(4, cores_per_node=1.9, memory_streams_per_node=1.2, cache_bytes_per_node="32MiB",
             turn_time="0.9ms")  # fmt: skip
    d = c.to_dict()
    assert d["cores_per_node"] == 1.9 and d["cache_bytes_per_node"] == 32 * 2**20
    assert d["turn_time"] == pytest.approx(9e-4)
    assert ClusterSpec.from_dict(d) == c
    path = tmp_path / "c.toml"
    path.write_text(
        "[cluster]\nnodes = 1\ndevices_per_node = [1, 2, 4]\nbandwidth = 4e9\nlatency = 5e-6\n"
        'intra_bandwidth = "32Gbit/s"\ncores_per_node = 2\nmemory_streams_per_node = 1.0\n'
        'cache_bytes_per_node = "32MiB"\nturn_time = "1ms"\n\n[workload]\nparameters = "5M"\n'
        'compute_time_per_step = "20ms"\nupdate_time = "6ms"\nupdate_bytes = "80MB"\n'
        "steps = 10\n"
    )
    confs = expand(load_toml(path))
    assert [x.cluster.workers for x in confs] == [1, 2, 4]
    assert [x.cluster.oversubscription for x in confs] == [1.0, 1.0, 2.0]
    assert [x.cluster.turn_wait for x in confs] == [0.0, 0.0, pytest.approx(1e-3)]
    steps = [x.simulate(steps_to_sample=10).step_time_s for x in confs]
    assert steps[0] < steps[1] < steps[2]


# ============================================================================ turn_time
@pytest.mark.parametrize(
    ("d", "cores", "scheme", "opts"),
    [
        (4, 2, "ring", {}),
        (4, 2, "ps", {"ps_placement": "colocated"}),
        (3, 2, "tree", {}),
        (4, 1.9, "ring", {"overlap": True, "buckets": 4}),
        (4, 2, "ps", {"ps_placement": "colocated", "backup_workers": 1}),
    ],
)
def test_turn_time_adds_exactly_its_wait_when_oversubscribed(d, cores, scheme, opts):
    wl = WL.replace(compute_time_per_step=4e-4, update_time=2e-4)  # short steps
    plain = simulate(node(d, cores_per_node=cores), wl, scheme, **opts)
    turns = simulate(node(d, cores_per_node=cores, turn_time="0.9ms"), wl, scheme, **opts)
    assert node(d, cores_per_node=cores, turn_time=9e-4).turn_wait == pytest.approx(9e-4)
    assert turns.step_time_s == pytest.approx(plain.step_time_s + 9e-4, rel=1e-12)
    assert turns.wait_s == pytest.approx(plain.wait_s + 9e-4, rel=1e-12)  # counted as waiting
    for key in ("compute_s", "comm_s", "update_s"):
        assert getattr(turns, key) == pytest.approx(getattr(plain, key), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "kw",
    [
        {"devices_per_node": 2, "cores_per_node": 2},  # a core per rank: no turns
        {"devices_per_node": 1, "cores_per_node": 2},
        {"devices_per_node": 4},  # cores_per_node not given: a core per worker
        {"devices_per_node": 4, "cores_per_node": 4.0},
        {"devices_per_node": 2, "cores_per_node": 1.88},  # effective cores of 2 CPUs
    ],
)
def test_turn_time_costs_nothing_without_oversubscription(kw):
    d = kw.pop("devices_per_node")
    c0, c1 = node(d, **kw), node(d, **kw, turn_time=5e-3)
    assert c1.turn_wait == 0.0
    for scheme, opts in (("ring", {}), ("ps", {"ps_placement": "colocated"})):
        a, b = simulate(c0, WL, scheme, **opts), simulate(c1, WL, scheme, **opts)
        assert b.step_time_s == pytest.approx(a.step_time_s, rel=1e-12)


def test_turn_time_default_is_zero_and_units_parse():
    assert node(4, cores_per_node=2).turn_time == 0.0
    assert node(4, cores_per_node=2).turn_wait == 0.0
    assert node(4, cores_per_node=2, turn_time="900us").turn_time == pytest.approx(9e-4)
    assert node(4, cores_per_node=2, turn_time=0.002).turn_wait == 0.002
