"""Transports: per-message overhead ``o``, achieved bandwidth ``η`` and host staging ``h``
against formulas typed by hand, monotonicity, the TOML ``[transport]`` table and the CLI.

Every scheme: ``T(M; α + o, ηB, ηB_i) + h·M/B_pcie``; a parameter server's push and pull
also pay ``(n_msg − 1)·o`` for the messages of the other tensors.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import ClusterSpec, SpecError, Workload, communication_cost, simulate
from tinygrad_opt.cluster.config import expand
from tinygrad_opt.cluster.transport import PCIE3_X16, TRANSPORTS, Transport, coerce_transport

A, B = 10e-6, 3.125e9  # 25 Gbit/s
PROFILES = [t for name, t in TRANSPORTS.items() if name != "ideal"]


def flat(n: int, t, **kw) -> ClusterSpec:
    return ClusterSpec(workers=n, bandwidth=B, latency=A, transport=t, **kw)


def staging(t: Transport, m: float) -> float:
    return t.staging_copies * m / t.staging_bandwidth


# ============================================================================ closed forms
@pytest.mark.parametrize("t", PROFILES, ids=lambda t: t.name)
@pytest.mark.parametrize("n", [2, 5, 8])
def test_ring_by_hand(t, n):
    m = 100e6
    a, b = A + t.overhead, B * t.efficiency
    hand = 2 * (n - 1) * a + 2 * (n - 1) / n * m / b + staging(t, m)
    assert communication_cost(flat(n, t), "ring", m).time_s == pytest.approx(hand, rel=1e-12)


@pytest.mark.parametrize("t", PROFILES, ids=lambda t: t.name)
def test_tree_and_halving_doubling_by_hand(t):
    m, n = 40e6, 8
    a, b = A + t.overhead, B * t.efficiency
    tree = 2 * 3 * (a + m / b) + staging(t, m)
    hd = 2 * 3 * a + 2 * 7 / 8 * m / b + staging(t, m)
    assert communication_cost(flat(n, t), "tree", m).time_s == pytest.approx(tree, rel=1e-12)
    assert communication_cost(flat(n, t), "halving_doubling", m).time_s == pytest.approx(
        hd, rel=1e-12
    )


@pytest.mark.parametrize("t", PROFILES, ids=lambda t: t.name)
def test_hierarchical_by_hand(t):
    m, n, d, ai, bi = 60e6, 4, 8, 2e-6, 20e9
    c = ClusterSpec(
        nodes=n, devices_per_node=d, bandwidth=B, latency=A, intra_bandwidth=bi,
        intra_latency=ai, transport=t,
    )  # fmt: skip
    o, eta = t.overhead, t.efficiency
    hand = (
        2 * (d - 1) * (ai + o + m / (d * eta * bi))  # reduce-scatter, all-gather in a node
        + 2 * (n - 1) * (A + o)
        + 2 * (n - 1) / n * m / (eta * B)
        + staging(t, m)
    )
    assert communication_cost(c, "hierarchical", m).time_s == pytest.approx(hand, rel=1e-12)


@pytest.mark.parametrize("t", PROFILES, ids=lambda t: t.name)
@pytest.mark.parametrize("messages", [1, 7, 32])
def test_parameter_server_by_hand(t, messages):
    # one dedicated server, N workers: 2(α + o) + 2N·M/(ηB) + 2(n_msg − 1)·o + h·M/B_pcie
    m, n = 20e6, 6
    hand = (
        2 * (A + t.overhead)
        + 2 * n * m / (B * t.efficiency)
        + 2 * (messages - 1) * t.overhead
        + staging(t, m)
    )
    cost = communication_cost(flat(n, t), "ps", m, messages=messages)
    assert cost.time_s == pytest.approx(hand, rel=1e-12)
    assert ("host staging" in dict(cost.phases)) == (t.staging_copies > 0)


def test_simulate_counts_one_message_per_tensor():
    """A workload of T tensors on one dedicated server: push and pull pay T·o each."""
    sizes = [1000, 250_000, 30, 4_000_000, 7]
    t = Transport("custom", overhead=1e-3, efficiency=0.5, staging_copies=2)
    wl = Workload(tensor_sizes=sizes, compute_time_per_step=0.1, steps=1)
    r = simulate(flat(4, t), wl, "ps", steps_to_sample=2)
    m = sum(sizes) * 4.0
    sync = 2 * (A + 1e-3) + 2 * 4 * m / (B * 0.5) + 2 * (len(sizes) - 1) * 1e-3
    sync += 2 * m / PCIE3_X16
    assert r.step_time_s == pytest.approx(0.1 + sync, rel=1e-9)
    assert r.transport == "custom"


def test_split_pieces_are_messages():
    # split placement cuts the 4M tensor over 3 shards: 5 tensors -> 7 pieces
    sizes = [1000, 250_000, 30, 4_000_000, 7]
    t = Transport("custom", overhead=1e-3, efficiency=1.0, staging_copies=0)
    wl = Workload(tensor_sizes=sizes, compute_time_per_step=0.1, steps=1)
    base = simulate(flat(4, t), wl, "ps", ps_shards=3, tensor_placement="split")
    ideal = simulate(flat(4, None), wl, "ps", ps_shards=3, tensor_placement="split")
    assert base.step_time_s - ideal.step_time_s == pytest.approx(2 * 1e-3 + 2 * 6 * 1e-3)


def test_ideal_is_the_default_and_changes_nothing():
    c = ClusterSpec(workers=8, bandwidth=B, latency=A)
    assert c.transport.is_ideal and c.transport.name == "ideal"
    assert communication_cost(c, "ring", 1e8).time_s == pytest.approx(
        2 * 7 * A + 2 * 7 / 8 * 1e8 / B, rel=1e-12
    )


# ============================================================================ monotonicity
@settings(max_examples=60, deadline=None)
@given(
    o1=st.floats(0, 1e-3),
    o2=st.floats(0, 1e-3),
    e1=st.floats(0.05, 1.0),
    e2=st.floats(0.05, 1.0),
    h1=st.integers(0, 4),
    h2=st.integers(0, 4),
    scheme=st.sampled_from(["ring", "tree", "halving_doubling", "ps"]),
    n=st.integers(2, 16),
)
def test_monotone_in_every_parameter(o1, o2, e1, e2, h1, h2, scheme, n):
    """More overhead, less efficiency or more copies never make a synchronisation faster."""
    lo = Transport("a", min(o1, o2), max(e1, e2), min(h1, h2))
    hi = Transport("b", max(o1, o2), min(e1, e2), max(h1, h2))
    t_lo = communication_cost(flat(n, lo), scheme, 5e7, messages=9).time_s
    t_hi = communication_cost(flat(n, hi), scheme, 5e7, messages=9).time_s
    assert t_lo <= t_hi * (1 + 1e-12)


def test_profiles_order_on_a_big_gradient():
    # 25 Gbit/s ring of 8, 100 MB: the host-staged, low-efficiency gRPC is slowest
    times = {t.name: communication_cost(flat(8, t), "ring", 1e8).time_s for t in PROFILES}
    assert times["grpc"] == max(times.values())
    assert times["mpi_gpudirect"] < times["mpi"]  # the same wire rate without the copies
    assert times["nccl"] < times["gloo"]


# ============================================================================ profiles
def test_profiles_are_in_range_and_aliases_resolve():
    for t in PROFILES:
        assert 0 < t.efficiency <= 1 and t.overhead >= 0 and t.staging_copies in (0, 2)
    assert coerce_transport("CUDA-aware-MPI").name == "mpi_gpudirect"
    assert coerce_transport(None).is_ideal


@pytest.mark.parametrize(
    "value,field",
    [
        ({"name": "mpi", "efficiency": 0}, "transport.efficiency"),
        ({"name": "mpi", "efficiency": 1.5}, "transport.efficiency"),
        ({"name": "mpi", "overhead": "-1us"}, "transport.overhead"),
        ({"name": "mpi", "staging_copies": -1}, "transport.staging_copies"),
        ({"name": "mpi", "speed": 3}, "transport"),
        ({"name": "tcp"}, "transport"),
        ("infiniband", "transport"),
        (3, "transport"),
    ],
)
def test_bad_transport_names_the_field(value, field):
    with pytest.raises(SpecError) as e:
        ClusterSpec(workers=2, bandwidth=B, latency=A, transport=value)
    assert e.value.field == field


def test_roundtrip():
    c = flat(4, {"name": "grpc", "overhead": "50us"})
    assert c.transport.overhead == 50e-6 and c.transport.efficiency == TRANSPORTS["grpc"].efficiency
    assert ClusterSpec.from_dict(c.to_dict()) == c


# ============================================================================ TOML and CLI
BASE = {
    "cluster": {"workers": 8, "bandwidth": "25Gbit/s", "latency": "10us", "transport": "mpi"},
    "workload": {"parameters": "25M", "compute_time_per_step": "0.2s", "steps": 1},
    "scheme": {"name": "ring"},
}


def test_toml_transport_table_overrides_the_profile():
    settings_ = {**BASE, "transport": {"staging_bandwidth": "5GB/s", "overhead": "3us"}}
    (conf,) = expand(settings_)
    t = conf.cluster.transport
    assert t.name == "mpi" and t.staging_bandwidth == 5e9 and t.overhead == 3e-6
    assert t.efficiency == TRANSPORTS["mpi"].efficiency


def test_toml_transport_table_alone_and_grid():
    settings_ = {**BASE, "cluster": {**BASE["cluster"]}, "transport": {"name": "gloo"}}
    del settings_["cluster"]["transport"]
    (conf,) = expand(settings_)
    assert conf.cluster.transport == TRANSPORTS["gloo"]
    grid = {**BASE, "cluster": {**BASE["cluster"], "transport": ["nccl", "grpc"]}}
    grid["transport"] = {"name": "mpi", "efficiency": 0.5}  # the cluster's names win
    got = [(c.cluster.transport.name, c.cluster.transport.efficiency) for c in expand(grid)]
    assert got == [("nccl", 0.5), ("grpc", 0.5)]


def test_toml_unknown_transport_key():
    with pytest.raises(SpecError, match="speed"):
        expand({**BASE, "transport": {"speed": 1}})


CLI = ["whatif", "--workers", "8", "--bandwidth", "25Gbit/s", "--latency", "10us",
       "--params", "25M", "--compute-time", "0.2s", "--steps", "1", "--samples", "2"]  # fmt: skip


def test_cli_transport_flag(capsys):
    assert main([*CLI, "--transport", "nccl,grpc", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["transport"] for r in rows] == ["nccl", "grpc"]
    m, n = 25e6 * 4, 8
    for r in rows:
        t = TRANSPORTS[r["transport"]]
        sync = 2 * (n - 1) * (10e-6 + t.overhead) + 2 * (n - 1) / n * m / (B * t.efficiency)
        sync += staging(t, m)
        assert r["step_time_s"] == pytest.approx(0.2 + sync, rel=1e-5)


def test_cli_flag_beats_the_file_profile(tmp_path, capsys):
    f = tmp_path / "c.toml"
    f.write_text('[transport]\nname = "mpi"\nstaging_bandwidth = "1GB/s"\n')
    assert main([*CLI, "--config", str(f), "--transport", "gloo", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    t = TRANSPORTS["gloo"].replace(staging_bandwidth=1e9)
    m = 25e6 * 4
    sync = 14 * (10e-6 + t.overhead) + 14 / 8 * m / (B * t.efficiency) + staging(t, m)
    assert row["transport"] == "gloo" and row["step_time_s"] == pytest.approx(0.2 + sync, 1e-5)


def test_cli_bad_transport_exits_2(capsys):
    assert main([*CLI, "--transport", "carrier-pigeon"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "carrier-pigeon" in cap.err and "--transport" in cap.err
    assert len(cap.err.strip().splitlines()) == 1 and "Traceback" not in cap.err


def test_cli_table_names_the_transport(capsys):
    assert main([*CLI, "--transport", "gloo,ideal", "--scheme", "ps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("ps")]
    assert len(rows) == 2 and "[gloo]" in rows[0] and "[" not in rows[1]
