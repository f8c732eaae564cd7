"""Parameter-server tensor placement: per-shard loads by hand, greedy against brute force,
and the hot shard's share in the communication closed forms.

Placement rules: TensorFlow's ``replica_device_setter`` round-robin, Graham's LPT rule
(greedy), MXNet KVStore's split of arrays of ``MXNET_KVSTORE_BIGARRAY_BOUND`` (10⁶)
elements or more, smaller keys on server ``(key · 9973) mod k``.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cli import main
from tinygrad_opt.cluster import (
    ClusterSpec,
    SpecError,
    SyncScheme,
    Workload,
    communication_cost,
    parameter_server_time,
    simulate,
)
from tinygrad_opt.cluster.config import expand
from tinygrad_opt.cluster.models import get_model
from tinygrad_opt.cluster.placement import (
    DEFAULT_SPLIT_THRESHOLD,
    optimal_max_load,
    place_tensors,
)

SIZES = [5, 3, 3, 2, 2, 1]


# ============================================================================ loads by hand
def test_round_robin_by_hand():
    p = place_tensors(SIZES, 2, "round_robin")
    assert p.loads == (5 + 3 + 2, 3 + 2 + 1)  # tensors 0, 2, 4 | 1, 3, 5
    assert p.hot_shard == 0 and p.hot_fraction == 10 / 16 and p.imbalance == 2 * 10 / 16
    assert place_tensors(SIZES, 4, "round_robin").loads == (5 + 2, 3 + 1, 3, 2)


def test_greedy_by_hand():
    # 5 -> s0 (5, 0); 3 -> s1 (5, 3); 3 -> s1 (5, 6); 2 -> s0 (7, 6); 2 -> s1 (7, 8);
    # 1 -> s0 (8, 8)
    p = place_tensors(SIZES, 2, "greedy")
    assert p.loads == (8, 8) and p.imbalance == 1.0
    assert sorted(p.pieces) == [(0, 0, 5), (1, 1, 3), (2, 1, 3), (3, 0, 2), (4, 1, 2), (5, 0, 1)]
    # 3 shards: 5 | 3 + 1 ... : 5 -> s0; 3 -> s1; 3 -> s2; 2 -> s1 (5); 2 -> s2 (5); 1 -> s0
    assert place_tensors(SIZES, 3, "greedy").loads == (6, 5, 5)


def test_split_by_hand():
    # threshold 4: tensor 0 (5 elements) is cut: floor(5/2) = 2 on s0, 3 on s1; the others
    # go whole to (9973 i) mod 2 = i mod 2: s0 gets 2 and 4, s1 gets 1, 3 and 5
    p = place_tensors(SIZES, 2, "split", split_threshold=4)
    assert p.loads == (2 + 3 + 2, 3 + 3 + 2 + 1)
    assert (0, 0, 2) in p.pieces and (0, 1, 3) in p.pieces
    # threshold 5 is inclusive (MXNet: size < bound stays whole); 6 keeps tensor 0 whole
    assert place_tensors(SIZES, 2, "split", split_threshold=5).loads == (7, 9)
    assert place_tensors(SIZES, 2, "split", split_threshold=6).loads == (5 + 3 + 2, 3 + 2 + 1)
    # k = 3: 9973 = 3·3324 + 1, so small keys go to i mod 3; 10 elements cut 3 + 3 + 4
    p3 = place_tensors([10, 1, 1, 1], 3, "split", split_threshold=10)
    assert p3.loads == (3 + 1, 3 + 1, 4 + 1)
    # 9973 mod 4 = 1 too; 9973 mod 7 = 5: key 1 on shard 5, key 2 on 10 mod 7 = 3
    assert place_tensors([1, 1, 1], 7, "split").loads == (1, 0, 0, 1, 0, 1, 0)
    assert DEFAULT_SPLIT_THRESHOLD == 1_000_000


def test_even_and_bare_count():
    assert place_tensors(SIZES, 4, "even").loads == (4.0,) * 4
    for method in ("round_robin", "greedy", "split", "even"):
        p = place_tensors(None, 4, method, total=100)
        assert p.method == "even" and p.loads == (25.0,) * 4 and p.hot_fraction == 0.25


@pytest.mark.parametrize(
    "args, field",
    [
        (([1, 2], 2, "lpt2"), "tensor_placement"),
        (([1, 2], 0, "greedy"), "ps_shards"),
        (([1, 0], 2, "greedy"), "tensor_sizes[1]"),
        (([1, 2], 2, "split", 0), "split_threshold"),
    ],
)
def test_bad_arguments(args, field):
    with pytest.raises(SpecError) as e:
        place_tensors(*args)
    assert e.value.field == field


# ============================================================================ brute force
def _brute_force(sizes, k):
    best = sum(sizes)
    for assignment in itertools.product(range(k), repeat=len(sizes)):
        loads = [0] * k
        for s, j in zip(sizes, assignment):
            loads[j] += s
        best = min(best, max(loads))
    return best


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=7),
    k=st.integers(1, 3),
)
def test_greedy_within_lpt_bound_of_brute_force_optimum(sizes, k):
    opt = _brute_force(sizes, k)
    assert optimal_max_load(sizes, k) == opt
    hot = place_tensors(sizes, k, "greedy").hot_load
    assert opt <= hot <= (4 / 3 - 1 / (3 * k)) * opt + 1e-9
    assert place_tensors(sizes, k, "round_robin").hot_load >= opt


def test_lpt_bound_is_tight():
    # Graham's worst case for k = 2: 3, 3, 2, 2, 2 — LPT 7, optimum 6 = (4/3 - 1/6)·6
    assert place_tensors([3, 3, 2, 2, 2], 2, "greedy").hot_load == 7
    assert optimal_max_load([3, 3, 2, 2, 2], 2) == 6


# ============================================================================ properties
@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 3_000_000), min_size=1, max_size=40),
    k=st.integers(1, 9),
    bound=st.integers(1, 2_000_000),
)
def test_placement_properties(sizes, k, bound):
    total = sum(sizes)
    for method in ("round_robin", "greedy", "split", "even"):
        p = place_tensors(sizes, k, method, split_threshold=bound)
        assert sum(p.loads) == pytest.approx(total) and len(p.loads) == k
        assert 1 / k - 1e-12 <= p.hot_fraction <= 1 and 1 - 1e-12 <= p.imbalance <= k + 1e-12
        assert p.loads[p.hot_shard] == max(p.loads)
    rr = place_tensors(sizes, k, "round_robin")
    assert rr.loads == tuple(float(sum(sizes[j::k])) for j in range(k))
    greedy = place_tensors(sizes, k, "greedy")
    assert greedy.hot_load <= total / k + max(sizes)  # LPT: mean + largest
    split = place_tensors(sizes, k, "split", split_threshold=bound)
    for i, s in enumerate(sizes):  # big tensors on every shard, within one element
        parts = [n for t, _, n in split.pieces if t == i]
        assert sum(parts) == s
        if s >= bound:
            assert len(parts) == min(k, s) and max(parts) - min(parts) <= 1
        else:
            assert parts == [s] and [j for t, j, _ in split.pieces if t == i] == [i * 9973 % k]


def test_vgg16_hot_shard():
    p = get_model("vgg16")
    fc6 = 25088 * 4096
    total = p.parameters
    rr = place_tensors(p.tensor_sizes, 4, "round_robin")
    assert rr.hot_shard == 26 % 4 and rr.hot_load == sum(p.tensor_sizes[2::4])
    greedy = place_tensors(p.tensor_sizes, 4, "greedy")
    assert greedy.hot_load == fc6 and greedy.hot_fraction == pytest.approx(fc6 / total)
    split = place_tensors(p.tensor_sizes, 4, "split")
    assert split.imbalance < 1.02


# ============================================================================ communication
B, ALPHA = 1e9, 1e-5


def _cluster(n, **kw):
    return ClusterSpec(workers=n, bandwidth=B, latency=ALPHA, **kw)


def test_dedicated_ps_closed_form_with_hot_shard():
    # 4 workers, 2 dedicated shards, tensors 6M and 2M fp32 round-robin: f = 3/4, 1/4
    # M = 32 MB; push = α + 4·(3/4)·M/B, pull the same; update 0.1 s × 3/4
    w = Workload(tensor_sizes=[6_000_000, 2_000_000], compute_time_per_step=0.2, steps=1,
                 update_time=0.1)  # fmt: skip
    r = simulate(_cluster(4), w, "ps", ps_shards=2, steps_to_sample=5)
    m = 32e6
    comm = 2 * ALPHA + 2 * 3 * m / B
    assert r.comm_s == pytest.approx(comm) and r.update_s == pytest.approx(0.075)
    assert r.step_time_s == pytest.approx(0.2 + comm + 0.075)
    assert r.ps_shard_bytes == pytest.approx([24e6, 8e6]) and r.ps_hot_shard == 0
    assert r.ps_hot_shard_bytes == pytest.approx(24e6) and r.ps_imbalance == pytest.approx(1.5)
    assert r.busiest_link_bytes == pytest.approx(4 * 24e6) and "PS server 0" in r.busiest_link
    # the same tensors, greedy: also 6M | 2M; even: 16 MB each, the old closed form
    even = simulate(_cluster(4), w, "ps", ps_shards=2, tensor_placement="even", steps_to_sample=5)
    assert even.comm_s == pytest.approx(2 * ALPHA + 2 * 2 * m / B)
    assert even.update_s == pytest.approx(0.05)


def test_colocated_ps_closed_form_with_hot_shard():
    # 4 workers each holding a shard; f = .4, .3, .2, .1 (round-robin of 4, 3, 2, 1 M)
    # push: α + max(3·f_max, 1 − f_min)·M/B = α + 1.2·M/B; pull likewise
    sizes = [4_000_000, 3_000_000, 2_000_000, 1_000_000]
    m = 4e7
    s = SyncScheme("ps", ps_shards=4, ps_placement="colocated")
    f = place_tensors(sizes, 4).fractions
    cost = communication_cost(_cluster(4), s, m, shard_fractions=f)
    assert cost.time_s == pytest.approx(2 * (ALPHA + 1.2 * m / B))
    assert parameter_server_time(m, 4, B, ALPHA, 4, "colocated", shard_fractions=f) == (
        pytest.approx(cost.time_s)
    )
    # 2 shards on 4 workers: f = .6, .4; a node without a shard sends all of M:
    # push α + max(3·0.6, 1)·M/B
    s2 = SyncScheme("ps", ps_shards=2, ps_placement="colocated")
    f2 = place_tensors(sizes, 2).fractions
    assert f2 == pytest.approx((0.6, 0.4))
    cost2 = communication_cost(_cluster(4), s2, m, shard_fractions=f2)
    assert cost2.time_s == pytest.approx(2 * (ALPHA + 1.8 * m / B))


def test_summing_on_the_hot_shard():
    # reduce_bandwidth R: the hot shard adds (N_push − 1)·f_max·M/R between push and pull
    c = _cluster(4, reduce_bandwidth=2e9)
    s = SyncScheme("ps", ps_shards=2)
    cost = communication_cost(c, s, 32e6, shard_fractions=(0.75, 0.25))
    assert dict(cost.phases)["sum"] == pytest.approx(3 * 0.75 * 32e6 / 2e9)
    t = parameter_server_time(
        32e6, 4, B, ALPHA, 2, reduce_bandwidth=2e9, shard_fractions=(0.75, 0.25)
    )
    assert t == pytest.approx(cost.time_s)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5_000_000), min_size=1, max_size=20),
    n=st.integers(1, 16),
    k=st.integers(1, 6),
    method=st.sampled_from(["round_robin", "greedy", "split", "even"]),
    placement=st.sampled_from(["dedicated", "colocated"]),
)
def test_simulator_equals_closed_form_with_fractions(sizes, n, k, method, placement):
    if placement == "colocated" and k > n:
        k = n
    w = Workload(tensor_sizes=sizes, compute_time_per_step=0.1, steps=1)
    r = simulate(_cluster(n), w, "ps", ps_shards=k, ps_placement=placement,
                 tensor_placement=method, steps_to_sample=3)  # fmt: skip
    f = place_tensors(sizes, k, method).fractions
    m = 4.0 * sum(sizes)
    expected = parameter_server_time(m, n, B, ALPHA, k, placement, shard_fractions=f)
    assert r.comm_s == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert r.ps_hot_shard_bytes == pytest.approx(max(f) * m)
    # never faster than the even split of the same bytes
    even = parameter_server_time(m, n, B, ALPHA, k, placement)
    assert expected >= even * (1 - 1e-12)


def test_bare_count_is_unchanged_by_the_placement():
    w = Workload(parameters=8_000_000, compute_time_per_step=0.2, steps=1)
    rows = [
        simulate(_cluster(8), w, "ps", ps_shards=3, tensor_placement=m, steps_to_sample=5)
        for m in ("round_robin", "greedy", "split", "even")
    ]
    assert len({r.step_time_s for r in rows}) == 1
    assert rows[0].comm_s == pytest.approx(parameter_server_time(32e6, 8, B, ALPHA, 3))
    assert rows[0].tensor_placement == "even" and rows[0].ps_imbalance == 1.0


def test_several_devices_per_node_even_fractions_unchanged_and_hot_slower():
    c = ClusterSpec(nodes=3, devices_per_node=2, bandwidth=B, latency=ALPHA,
                    intra_bandwidth=1e10, intra_latency=1e-6)  # fmt: skip
    for placement in ("dedicated", "colocated"):
        s = SyncScheme("ps", ps_shards=4, ps_placement=placement)
        base = communication_cost(c, s, 4e7)
        even = communication_cost(c, s, 4e7, shard_fractions=[0.25] * 4)
        hot = communication_cost(c, s, 4e7, shard_fractions=[0.7, 0.1, 0.1, 0.1])
        assert even == base and hot.time_s > base.time_s
    with pytest.raises(SpecError) as e:
        communication_cost(c, s, 4e7, shard_fractions=[0.5, 0.5])
    assert e.value.field == "shard_fractions"


# ============================================================================ spec, TOML, CLI
def test_scheme_field_validation_and_label():
    assert SyncScheme("ps", ps_shards=4, tensor_placement="LPT").tensor_placement == "greedy"
    assert SyncScheme("ps", ps_shards=4, tensor_placement="round-robin").label == "ps(k=4)"
    assert SyncScheme("ps", ps_shards=4, tensor_placement="split").label == "ps(k=4, split)"
    assert SyncScheme.from_dict({"name": "ps", "placement": "greedy"}).tensor_placement == "greedy"
    for kwargs, field in (
        ({"name": "ring", "tensor_placement": "greedy"}, "tensor_placement"),
        ({"name": "ps", "tensor_placement": "random"}, "tensor_placement"),
        ({"name": "ps", "split_threshold": 0}, "split_threshold"),
    ):
        with pytest.raises(SpecError) as e:
            SyncScheme(**kwargs)
        assert e.value.field == field


def test_toml_placement_keys():
    settings_ = {
        "cluster": {"workers": 4, "bandwidth": "10Gbps", "latency": "5us"},
        "workload": {"model": "vgg16", "compute_time_per_step": "0.3s", "steps": 10},
        "scheme": {"name": ["ps", "ring"], "ps_shards": 4, "placement": ["greedy", "split"],
                   "split_threshold": 1e6},
    }  # fmt: skip
    confs = expand(settings_)
    got = [(c.scheme.name, c.scheme.tensor_placement) for c in confs]
    assert got == [("ps", "greedy"), ("ps", "split"), ("ring", "round_robin")]


CLI = ["--workers", "8", "--compute-time", "0.3s", "--bandwidth", "10Gbps", "--latency", "5us"]


def test_cli_placement_flags(capsys):
    argv = ["whatif", "--model", "vgg16", *CLI, "--scheme", "ps,ring", "--ps-shards", "4",
            "--placement", "round_robin,greedy,split", "--split-threshold", "1e6"]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    got = [(r["scheme"], r["tensor_placement"]) for r in rows]
    assert got == [("ps", "round_robin"), ("ps", "greedy"), ("ps", "split"), ("ring", None)]
    p = get_model("vgg16")
    for row in rows[:3]:
        pl = place_tensors(p.tensor_sizes, 4, row["tensor_placement"])
        assert row["ps_shard_bytes"] == pytest.approx([4 * x for x in pl.loads])
        assert row["ps_hot_shard"] == pl.hot_shard
        assert row["ps_imbalance"] == pytest.approx(pl.imbalance)
    assert rows[0]["comm_s"] > rows[1]["comm_s"] > rows[2]["comm_s"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hot shard" in out and "#2 " in out and "3.28x" in out


@pytest.mark.parametrize(
    "extra, shown",
    [
        (["--scheme", "ps", "--placement", "random"], ["tensor_placement", "random",
                                                        "(from --placement)"]),
        (["--scheme", "ps", "--split-threshold", "0"], ["split_threshold", "(from --split-"]),
        (["--scheme", "ring", "--placement", "greedy"], ["tensor_placement", "only applies"]),
    ],
)  # fmt: skip
def test_cli_bad_placement_exits_2(extra, shown, capsys):
    assert main(["whatif", *CLI, "--params", "1e6", *extra]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "Traceback" not in cap.err and len(cap.err.strip().splitlines()) == 1
    for part in shown:
        assert part in cap.err, cap.err


def test_timeline_reports_the_shards(tmp_path, capsys):
    # VGG-16 round-robin on 2 shards: weights and biases alternate, so every weight lands
    # on shard 0 and every bias on shard 1
    argv = ["timeline", "--model", "vgg16", *CLI, "--scheme", "ps", "--ps-shards", "2",
            "--out", str(tmp_path / "t.png")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    p = get_model("vgg16")
    weights = sum(p.tensor_sizes[0::2])
    assert weights == sum(s for n, s in zip(p.tensor_names, p.tensor_sizes) if "weight" in n)
    assert "parameter-server shards (round_robin)" in out and "hot shard #0" in out
    assert f"max/mean {2 * weights / p.parameters:.2f}" in out
