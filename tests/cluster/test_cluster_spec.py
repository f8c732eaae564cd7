"""Specs: construction from plain values and modules, and clear errors for bad input."""

from __future__ import annotations

import pytest

from tinygrad_opt import nn
from tinygrad_opt.cluster import (
    SCHEMES,
    ClusterSpec,
    FailureSpec,
    Lognormal,
    SpecError,
    SyncScheme,
    Workload,
    compute_model_from_dict,
    simulate,
)

GOOD = {"workers": 8, "bandwidth": "25Gbps", "latency": "5us"}
WL = {
    "parameters": 1_000_000,
    "per_worker_batch": 32,
    "compute_time_per_step": "100ms",
    "steps": 100,
}


def test_from_dict_round_trip_and_units():
    c = ClusterSpec.from_dict(
        {**GOOD, "compute": {"kind": "lognormal", "sigma": 0.2}, "price_per_node_hour": 3.5}
    )
    assert c.bandwidth == 25e9 / 8 and c.latency == 5e-6 and c.nodes == 8
    assert c.compute == Lognormal(0.2)
    assert ClusterSpec.from_dict(c.to_dict()) == c
    w = Workload.from_dict(WL)
    assert Workload.from_dict(w.to_dict()) == w
    s = SyncScheme.from_dict({"scheme": "parameter_server", "ps_shards": 4})
    assert s.name == "ps" and SyncScheme.from_dict(s.to_dict()) == s


def test_hierarchy_derivations():
    c = ClusterSpec(
        nodes=4, devices_per_node=8, bandwidth="100Gbps", latency="5us", intra_bandwidth="300GB/s"
    )
    assert c.workers == 32 and c.intra_latency == c.latency and c.hierarchical
    assert c.replace(workers=64).nodes == 8
    assert c.replace(nodes=2).workers == 16


def test_workload_from_a_real_module():
    model = nn.MLP([2, 16, 16, 2], rng=0)
    w = Workload.from_module(model, per_worker_batch=64, compute_time_per_example="2ms", steps=10)
    assert w.parameters == model.num_parameters() == (2 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
    assert w.compute_time == pytest.approx(0.128)
    assert w.gradient_bytes == 4 * w.parameters
    assert Workload(**{**WL, "bytes_per_param": "bf16"}).gradient_bytes == 2e6


def err(fn, *args, **kwargs) -> str:
    with pytest.raises(ValueError) as e:
        fn(*args, **kwargs)
    assert isinstance(e.value, SpecError)
    return str(e.value)


@pytest.mark.parametrize(
    "changes, field, shown",
    [
        ({"workers": 0}, "workers", "0"),
        ({"workers": -4}, "workers", "-4"),
        ({"workers": 2.5}, "workers", "2.5"),
        ({"bandwidth": 0}, "bandwidth", "0"),
        ({"bandwidth": "-10Gbps"}, "bandwidth", "'-10Gbps'"),
        ({"bandwidth": "ten gigabit"}, "bandwidth", "'ten gigabit'"),
        ({"latency": 0}, "latency", "0"),
        ({"latency": "-5us"}, "latency", "'-5us'"),
        ({"latency": "5 parsecs"}, "latency", "'5 parsecs'"),
        (
            {"workers": 10, "nodes": 4, "devices_per_node": 2, "intra_bandwidth": 1e10},
            "workers",
            "inconsistent hierarchy",
        ),
        (
            {"workers": 10, "devices_per_node": 4, "intra_bandwidth": 1e10},
            "workers",
            "inconsistent hierarchy",
        ),
        ({"devices_per_node": 2}, "intra_bandwidth", "None"),
        ({"compute": {"kind": "gaussian"}}, "compute.kind", "'gaussian'"),
        ({"compute": {"kind": "lognormal", "sigma": -1}}, "compute.sigma", "-1"),
        (
            {"compute": {"kind": "heterogeneous", "speed_factors": [1, 2]}},
            "compute.speed_factors",
            "[1.0, 2.0]",
        ),
        ({"price_per_node_hour": -1}, "price_per_node_hour", "-1"),
        ({"bandwdith": "1Gbps"}, "cluster", "bandwdith"),
    ],
)
def test_bad_cluster_names_field_and_value(changes, field, shown):
    msg = err(ClusterSpec.from_dict, {**GOOD, **changes})
    assert msg.startswith(f"{field}:") and shown in msg


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"compute_time_per_step": 0}, "compute_time_per_step"),
        ({"compute_time_per_step": "-3ms"}, "compute_time_per_step"),
        ({"compute_time_per_example": "1ms"}, "compute_time_per_step"),  # both given
        ({"parameters": 0}, "parameters"),
        ({"per_worker_batch": 0}, "per_worker_batch"),
        ({"bytes_per_param": "fp7"}, "bytes_per_param"),
        ({"steps": None}, "steps"),  # neither steps nor large_batch
        ({"large_batch": {"s_min": 10, "b_noise": 5}}, "steps"),  # both
        ({"backward_fraction": 0}, "backward_fraction"),
    ],
)
def test_bad_workload_names_field(changes, field):
    assert err(Workload.from_dict, {**WL, **changes}).startswith(f"{field}:")


def test_unknown_scheme_lists_the_valid_ones():
    msg = err(SyncScheme.coerce, "allgather")
    assert msg.startswith("scheme:") and "'allgather'" in msg
    for name in SCHEMES:
        assert name in msg


@pytest.mark.parametrize(
    "scheme, opts, field",
    [
        ("ring", {"backup_workers": 1}, "backup_workers"),  # all-reduce waits for everyone
        ("ps", {"backup_workers": 8}, "backup_workers"),  # b >= workers: nothing applied
        ("ps", {"backup_workers": -1}, "backup_workers"),
        ("ps", {"ps_shards": 9, "ps_placement": "colocated"}, "ps_shards"),
        ("ps", {"ps_shards": 0}, "ps_shards"),
        ("ps", {"ps_placement": "cloud"}, "ps_placement"),
        ("ring", {"ps_shards": 2}, "ps_shards"),
        ("ring", {"compression": 0.5}, "compression"),
        ("ring", {"buckets": 0, "overlap": True}, "buckets"),
        ("ring", {"shards": 2}, "simulate options"),
    ],
)
def test_bad_scheme_options(scheme, opts, field):
    cl = ClusterSpec(**GOOD)
    wl = Workload(**WL)
    assert err(simulate, cl, wl, scheme, **opts).startswith(f"{field}:")


def test_backup_limit_is_workers_minus_one():
    cl = ClusterSpec(**GOOD)
    r = simulate(cl, Workload(**WL), "ps", backup_workers=7, steps_to_sample=2)
    assert r.applied_workers == 1 and r.global_batch == 32


def test_simulate_argument_errors():
    cl, wl = ClusterSpec(**GOOD), Workload(**WL)
    assert err(simulate, cl, wl, steps_to_sample=0).startswith("steps_to_sample:")
    assert err(simulate, cl, wl, seed="abc").startswith("seed:")
    msg = err(simulate, cl, wl, failures={"node_mtbf": "-1h", "checkpoint_cost": "1min"})
    assert msg.startswith("failures.node_mtbf:")


def test_compute_model_kinds():
    assert compute_model_from_dict("exponential").kind == "shifted_exponential"
    assert compute_model_from_dict(
        {"kind": "empirical", "samples": [0.1, 0.2]}
    ).mean_s == pytest.approx(0.15)
    assert err(compute_model_from_dict, {"kind": "empirical", "samples": []}).startswith(
        "compute.samples:"
    )
    assert FailureSpec(node_mtbf="100h", checkpoint_cost=10).checkpoint_interval == "daly"
