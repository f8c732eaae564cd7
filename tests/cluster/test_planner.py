"""The planner: its vectorised rows against ``simulate``, its choices against brute force,
the Pareto front against its definition, balanced batches against closed forms."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import SWEEP_KEYS, SpecError, simulate
from tinygrad_opt.cluster.config import expand, result_row
from tinygrad_opt.cluster.plan_eval import balanced_batches, effective_speeds, evaluate_grid
from tinygrad_opt.cluster.planner import Infeasible, explain, pareto_mask, plan


def base(**over):
    s = {
        "cluster": {"workers": [2, 4, 8], "bandwidth": ["10Gbps", "25Gbps"], "latency": "20us",
                    "price_per_node_hour": 3.0, "ps_price_per_node_hour": 2.0},
        "workload": {"parameters": 25e6, "per_worker_batch": [16, 64, 256],
                     "compute_time_per_example": "2ms", "update_time": "4ms",
                     "large_batch": {"s_min": 2000, "b_noise": 2048}},
        "scheme": {"name": ["ring", "ps", "tree"], "ps_shards": [1, 2], "backup_workers": [0, 1]},
        "simulation": {"steps_to_sample": 200},
    }  # fmt: skip
    for sec, vals in over.items():
        s.setdefault(sec, {}).update(vals)
    return s


def brute_rows(settings_):
    """Every configuration simulated one by one (the reference)."""
    skipped = []
    confs = expand(settings_, skipped)
    n = settings_.get("simulation", {}).get("steps_to_sample", 1000)
    return [result_row(c.simulate(steps_to_sample=n, timeline_steps=0), c.scheme) for c in confs]


def assert_rows_equal(got, want, rel=1e-9):
    assert list(got) == list(SWEEP_KEYS)
    for k in SWEEP_KEYS:
        a, b = got[k], want[k]
        if isinstance(b, float):
            assert a == pytest.approx(b, rel=rel, abs=1e-15), k
        else:
            assert a == b, k


# ============================================================================ vectorised rows
GRIDS = {
    "lognormal, overlap, failures": base(
        cluster={"compute": {"kind": "lognormal", "sigma": 0.3}},
        scheme={"overlap": [False, True], "buckets": 4},
        failures={"node_mtbf": "200h", "checkpoint_cost": "1min", "restart_cost": "5min"},
    ),
    "shifted exponential, fixed steps, young": base(
        cluster={"compute": {"kind": "shifted_exponential", "shift_fraction": 0.5}},
        workload={
            "large_batch": None,
            "steps": 5000,
            "compute_time_per_example": None,
            "compute_time_per_step": ["50ms", "0.2s"],
        },
        failures={"node_mtbf": "100h", "checkpoint_cost": "30s", "checkpoint_interval": "young"},
    ),  # fmt: skip
    "hierarchy, contention, halving-doubling, colocated": base(
        cluster={
            "workers": [4, 8],
            "devices_per_node": 2,
            "intra_bandwidth": "50GB/s",
            "cores_per_node": 1.5,
            "turn_time": "0.3ms",
            "reduce_bandwidth": "8GB/s",
        },
        scheme={
            "name": ["hierarchical", "halving_doubling", "ps"],
            "ps_placement": ["dedicated", "colocated"],
            "overlap": [False, True],
        },
        failures={"node_mtbf": "50h", "checkpoint_cost": "20s", "checkpoint_interval": "1h"},
    ),  # fmt: skip
    "model profile, placements": base(
        workload={"parameters": None, "model": "vgg16"},
        scheme={
            "name": "ps",
            "ps_shards": [2, 4],
            "tensor_placement": ["round_robin", "greedy"],
            "backup_workers": [0, 1],
        },
    ),  # fmt: skip
    "heterogeneous speeds, balanced": base(
        cluster={
            "workers": 4,
            "compute": {"kind": "lognormal", "sigma": 0.1, "speed_factors": [1, 1, 2, 0.5]},
        },
    ),  # fmt: skip
}


def _clean(s):
    for sec in list(s):
        s[sec] = {k: v for k, v in s[sec].items() if v is not None}
    return s


@pytest.mark.parametrize("name", list(GRIDS))
def test_vectorised_rows_equal_simulate_on_sampled_rows(name):
    s = _clean(GRIDS[name])
    ev = evaluate_grid(s)
    assert len(ev.rows) == len(expand(s, []))
    picks = random.Random(0).sample(range(len(ev.rows)), min(25, len(ev.rows)))
    for i in picks:
        conf = ev.configurations[i]
        c = conf.cluster
        speeds = ev.balanced[i]
        if speeds is not None:  # balanced batches = the simulator with speeds s·b/b_w
            c = c.replace(compute=dataclasses.replace(c.compute, speed_factors=speeds))
        r = simulate(c, conf.workload, conf.scheme, failures=conf.failures,
                     steps_to_sample=200, timeline_steps=0)  # fmt: skip
        assert_rows_equal(ev.rows[i], result_row(r, conf.scheme))


def test_equal_batches_rows_equal_the_sweep():
    s = _clean(GRIDS["heterogeneous speeds, balanced"])
    ev = evaluate_grid(s, balance_batches=False)
    for got, want in zip(ev.rows, brute_rows(s)):
        assert_rows_equal(got, want)


def test_grid_values_that_never_work_are_errors_combinations_are_skipped():
    s = base(cluster={"workers": [1, 2]}, scheme={"name": "ps", "backup_workers": [0, 1]})
    ev = evaluate_grid(s)  # (workers 1, backup 1) cannot exist: skipped
    assert len(ev.skipped) == 2 * 2 * 3  # shards × bandwidths × batches with workers 1
    assert {r["backup_workers"] for r in ev.rows} == {0, 1}
    with pytest.raises(SpecError, match="backup_workers"):  # 2 never fits 1-2 workers
        evaluate_grid(base(cluster={"workers": [1, 2]},
                           scheme={"name": "ps", "backup_workers": [0, 2]}))  # fmt: skip
    with pytest.raises(SpecError, match="bandwidth"):
        evaluate_grid(base(cluster={"bandwidth": ["10Gbps", "25Gbpx"]}))


# ============================================================================ brute force
def _best(rows, key):
    return min(range(len(rows)), key=lambda i: (key(rows[i]), i))


@pytest.mark.parametrize(
    "kwargs, pick",
    [
        ({"minimize": "time"}, lambda r: (r["total_time_s"], r["cost"])),
        ({"minimize": "cost"}, lambda r: (r["cost"], r["total_time_s"])),
        ({"minimize": "tradeoff"},
         lambda r: (r["total_time_s"] * r["cost"], r["total_time_s"], r["cost"])),
    ],
)  # fmt: skip
def test_plan_picks_what_brute_force_picks(kwargs, pick):
    s = base(cluster={"compute": {"kind": "lognormal", "sigma": 0.2}})
    rows = brute_rows(s)
    p = plan(s, **kwargs)
    assert_rows_equal(p.best, rows[_best(rows, pick)])
    assert len(p.rows) == len(rows)


def test_deadline_and_budget_against_brute_force():
    s = base()
    rows = brute_rows(s)
    times = sorted(r["total_time_s"] for r in rows)
    costs = sorted(r["cost"] for r in rows)
    deadline, budget = times[len(times) // 3], costs[len(costs) // 2]
    p = plan(s, deadline=deadline)  # cheapest in time
    ok = [r for r in rows if r["total_time_s"] <= deadline]
    assert p.objective == "cost" and len(p.rows) == len(ok)
    assert_rows_equal(p.best, ok[_best(ok, lambda r: (r["cost"], r["total_time_s"]))])
    p = plan(s, budget=budget)  # fastest in budget
    ok = [r for r in rows if r["cost"] <= budget]
    assert p.objective == "time"
    assert_rows_equal(p.best, ok[_best(ok, lambda r: (r["total_time_s"], r["cost"]))])
    p = plan(s, budget=budget, deadline=deadline)
    ok = [r for r in rows if r["cost"] <= budget and r["total_time_s"] <= deadline]
    assert all(r["cost"] <= budget and r["total_time_s"] <= deadline for r in p.rows)
    assert len(p.rows) == len(ok)


def test_infeasible_names_the_constraint_and_how_close_the_grid_came():
    s = base()
    rows = brute_rows(s)
    fastest = min(r["total_time_s"] for r in rows)
    cheapest = min(r["cost"] for r in rows)
    with pytest.raises(Infeasible, match="^deadline .*finishes in time.*fastest takes") as e:
        plan(s, deadline=fastest * 0.99)
    assert e.value.field == "deadline"
    with pytest.raises(Infeasible, match="^budget .*cheapest costs") as e:
        plan(s, budget=cheapest * 0.99)
    assert f"{cheapest:,.2f}" in str(e.value)
    in_time_cheapest = min(r["cost"] for r in rows if r["total_time_s"] <= fastest * 1.01)
    assert in_time_cheapest > cheapest  # the fastest runs are not the cheapest
    with pytest.raises(Infeasible, match="meets both") as e:
        plan(s, deadline=fastest * 1.01, budget=(cheapest + in_time_cheapest) / 2)
    assert f"{in_time_cheapest:,.2f}" in str(e.value)
    with pytest.raises(SpecError, match="minimize"):
        plan(s, minimize="speed")


# ============================================================================ Pareto front
def brute_front(t, c):
    n = len(t)
    return {
        i for i in range(n)
        if not any(t[j] <= t[i] and c[j] <= c[i] and (t[j] < t[i] or c[j] < c[i])
                   for j in range(n))
    }  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=0, max_size=30))
def test_pareto_mask_is_exactly_the_non_dominated_points(points):
    t = np.array([p[0] for p in points], dtype=float)
    c = np.array([p[1] for p in points], dtype=float)
    assert set(np.nonzero(pareto_mask(t, c))[0]) == brute_front(t, c)


@settings(max_examples=15, deadline=None)
@given(
    workers=st.lists(st.sampled_from([1, 2, 3, 4, 6, 8, 16]), min_size=1, max_size=3, unique=True),
    batches=st.lists(st.sampled_from([8, 32, 128, 512]), min_size=1, max_size=3, unique=True),
    price=st.sampled_from([0.0, 1.0, 2.5]),
    ps_price=st.sampled_from([0.5, 4.0]),
)
def test_plan_front_on_random_grids(workers, batches, price, ps_price):
    s = base(
        cluster={"workers": workers, "price_per_node_hour": price,
                 "ps_price_per_node_hour": ps_price},
        workload={"per_worker_batch": batches},
        scheme={"name": ["ring", "ps"], "ps_shards": [1, 2], "backup_workers": 0},
    )  # fmt: skip
    p = plan(s)
    t = [r["total_time_s"] for r in p.rows]
    c = [r["cost"] for r in p.rows]
    want = brute_front(t, c)
    assert sorted(id(r) for r in p.pareto) == sorted(id(p.rows[i]) for i in want)
    keys = [(r["total_time_s"], r["cost"]) for r in p.pareto]
    assert keys == sorted(keys)
    assert any(r is p.best for r in p.pareto)  # the trade-off lies on the front


# ============================================================================ balanced batches
def brute_balance(speeds, total):
    w = len(speeds)
    best = None
    for cut in itertools.combinations(range(1, total), w - 1):
        b = np.diff([0, *cut, total])
        v = max(b / np.asarray(speeds))
        best = v if best is None else min(best, v)
    return best


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=1, max_size=4),
    st.integers(0, 9),
)
def test_balanced_batches_are_optimal_integers_keeping_the_global_batch(speeds, extra):
    total = len(speeds) + extra
    b = balanced_batches(speeds, total)
    s = np.asarray(speeds)
    assert b.sum() == total and b.min() >= 1
    assert max(b / s) == pytest.approx(brute_balance(speeds, total))
    assert max(b / s) <= max(total / s.sum(), 1 / s.min()) + 1 / s.min() + 1e-12


def test_balanced_batches_closed_form_when_divisible():
    # b_w = B·s_w/Σs exactly: everyone takes B/Σs
    assert list(balanced_batches([1, 1, 2, 4], 64)) == [8, 8, 16, 32]
    assert list(balanced_batches([3, 1], 1000)) == [750, 250]
    with pytest.raises(SpecError, match="global_batch"):
        balanced_batches([1, 2, 3], 2)


def test_balanced_step_and_gain_against_the_closed_form():
    """Deterministic speeds, ring all-reduce: step = t_ex·max(b_w/s_w) + 2(N−1)α +
    2(N−1)/N·M/B; equal batches: t_ex·b/min(s) + the same."""
    t_ex, alpha, bw, m, n, b = 2e-3, 20e-6, 25e9 / 8, 25e6 * 4, 4, 64
    s = base(
        cluster={"workers": n, "bandwidth": "25Gbps",
                 "compute": {"kind": "deterministic", "speed_factors": [1, 1, 2, 0.5]}},
        workload={"per_worker_batch": b, "update_time": 0},
        scheme={"name": "ring", "ps_shards": 1, "backup_workers": 0},
    )  # fmt: skip
    p = plan(s)
    comm = 2 * (n - 1) * alpha + 2 * (n - 1) / n * m / bw
    speeds = np.array([1, 1, 2, 0.5])
    batches = balanced_batches(speeds, n * b)
    assert list(batches) == [57, 57, 114, 28]  # 256 · s/4.5 = 56.9, 56.9, 113.8, 28.4
    assert p.best["step_time_s"] == pytest.approx(t_ex * max(batches / speeds) + comm)
    bal = p.balance
    assert bal["per_worker"] == [57, 57, 114, 28] and bal["per_node"] == bal["per_worker"]
    assert bal["step_time_equal_s"] == pytest.approx(t_ex * b / 0.5 + comm)
    assert bal["gain"] == pytest.approx((t_ex * b / 0.5 + comm) / (t_ex * 57 + comm))
    assert p.best["global_batch"] == n * b
    assert effective_speeds(p.configuration.cluster, b) == pytest.approx(
        tuple(speeds * b / batches)
    )
    equal = plan(s, balance_batches=False)
    assert equal.balance is None
    assert equal.best["step_time_s"] == pytest.approx(t_ex * b / 0.5 + comm)


def test_per_node_speeds_give_per_node_batches():
    s = base(
        cluster={"workers": 4, "devices_per_node": 2, "intra_bandwidth": "100GB/s",
                 "compute": {"kind": "deterministic", "speed_factors": [1, 3]}},
        workload={"per_worker_batch": 32},
        scheme={"name": "hierarchical", "ps_shards": 1, "backup_workers": 0},
    )  # fmt: skip
    bal = plan(s).balance
    assert bal["per_worker"] == [16, 16, 48, 48] and bal["per_node"] == [32, 96]


# ============================================================================ explanation
def test_explanation_names_the_deciding_factor():
    row = {"total_time_s": 3600.0, "cost": 10.0, "steps": 1000, "step_time_s": 3.6,
           "compute_s": 2.0, "wait_s": 0.1, "comm_s": 1.4, "update_s": 0.1,
           "global_batch": 512, "machines": 4}  # fmt: skip
    slower_comm = {**row, "total_time_s": 5400.0, "step_time_s": 5.4, "comm_s": 3.2}
    text = explain(row, slower_comm, "time", ("A", "B"))
    assert "step time decides" in text and "mostly comm" in text and "compute dominates" in text
    more_steps = {**row, "steps": 2000, "total_time_s": 7200.0, "global_batch": 256}
    assert "steps decide: 1,000 against 2,000" in explain(row, more_steps, "time")
    fewer_longer = {**row, "steps": 600, "step_time_s": 9.0, "compute_s": 7.4,
                    "total_time_s": 5400.0}  # fmt: skip
    text = explain(row, fewer_longer, "time")
    assert "step time decides" in text and "outweighs more steps (1,000 against 600)" in text
    more_machines = {**row, "cost": 40.0, "machines": 16}
    assert "machines decide" in explain(row, more_machines, "cost")
    assert "only configuration" in explain(row, None, "cost")
    assert math.isclose(row["step_time_s"], sum(row[k] for k in
                        ("compute_s", "wait_s", "comm_s", "update_s")))  # fmt: skip


def test_a_cluster_file_plans_like_its_settings():
    from pathlib import Path

    from tinygrad_opt.cluster.config import load_toml

    path = Path(__file__).parents[2] / "examples" / "clusters" / "a100_ring.toml"
    p = plan(path, minimize="time")
    q = plan(load_toml(path), minimize="time")
    assert p.best == q.best and len(p.rows) == len(q.rows)
    with pytest.raises(SpecError, match="no such file"):
        plan("missing.toml")


def test_check_row_catches_a_row_that_disagrees_with_simulate():
    from tinygrad_opt.cluster.plan_eval import check_row

    ev = evaluate_grid(_clean(GRIDS["heterogeneous speeds, balanced"]))
    check_row(ev, 3)  # agrees
    ev.rows[3]["comm_s"] *= 1.001
    with pytest.raises(RuntimeError, match="comm_s"):
        check_row(ev, 3)


def test_a_long_grid_shows_progress_on_request(capsys):
    # progress=True draws a bar on stderr; the default draws none (library use)
    s = base(cluster={"workers": [1, 2, 4, 8, 16]})
    evaluate_grid(s, progress=True)
    assert "plan" in capsys.readouterr().err
    evaluate_grid(s)
    assert capsys.readouterr().err == ""
