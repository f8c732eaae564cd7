"""Failures: Young (1974) / Daly (2006) checkpoint intervals and Daly's expected wall time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_opt.cluster import (
    ClusterSpec,
    FailureSpec,
    Workload,
    daly_interval,
    expected_wall_time,
    failure_overhead,
    simulate,
    young_interval,
)

MIN = 60.0
HOUR = 3600.0


def test_young_interval():
    assert young_interval(30.0, 10 * HOUR) == pytest.approx(math.sqrt(2 * 30 * 36000))


@pytest.mark.parametrize(
    "mtbf_min, tau_min", [(24 * 60, 117.0), (6 * 60, 57.0), (15, 9.1)]
)  # Daly 2006, Figs. 3-5: δ = 5 min, R = 10 min
def test_daly_interval_matches_the_paper(mtbf_min, tau_min):
    tau = daly_interval(5 * MIN, mtbf_min * MIN) / MIN
    assert tau == pytest.approx(tau_min, abs=0.6)


def test_daly_interval_when_checkpoints_are_slower_than_failures():
    assert daly_interval(100.0, 40.0) == 40.0


def renewal_monte_carlo(work, delta, restart, mtbf, segments, seed=0):
    """Mean time to complete one segment (work + checkpoint) with restarts, simulated."""
    rng = np.random.default_rng(seed)
    need = work + delta
    total = np.zeros(segments)
    active = np.ones(segments, dtype=bool)
    while active.any():
        idx = np.nonzero(active)[0]
        x = rng.exponential(mtbf, idx.size)
        ok = x >= need
        total[idx[ok]] += need
        active[idx[ok]] = False
        fail = idx[~ok]
        total[fail] += x[~ok]
        pending = fail  # restarts can fail too
        while pending.size:
            y = rng.exponential(mtbf, pending.size)
            done = y >= restart
            total[pending[done]] += restart
            total[pending[~done]] += y[~done]
            pending = pending[~done]
    return total.mean()


def test_daly_expected_wall_time_matches_a_renewal_simulation():
    tau, delta, restart, mtbf = 2 * HOUR, 5 * MIN, 10 * MIN, 6 * HOUR
    per_segment = renewal_monte_carlo(tau, delta, restart, mtbf, 200_000)
    solve = 100 * tau
    assert expected_wall_time(solve, tau, delta, restart, mtbf) == pytest.approx(
        100 * per_segment, rel=0.01
    )


def test_without_failures_only_checkpoints_cost():
    t = expected_wall_time(1000 * HOUR, HOUR, MIN, MIN, 1e12)
    assert t == pytest.approx(1000 * (HOUR + MIN), rel=1e-6)


def test_system_mtbf_is_node_mtbf_over_machines_in_simulate():
    spec = FailureSpec(node_mtbf="2000h", checkpoint_cost="2min", restart_cost="5min")
    cl = ClusterSpec(workers=32, bandwidth="25Gbps", latency="5us", price_per_node_hour=1.0)
    wl = Workload(
        parameters=10_000_000, per_worker_batch=32, compute_time_per_step=0.25, steps=200_000
    )
    r = simulate(cl, wl, "ps", ps_shards=4, failures=spec, steps_to_sample=2)
    f = r.failure
    assert f["machines"] == 36
    assert f["system_mtbf"] == pytest.approx(2000 * HOUR / 36)
    assert f["checkpoint_interval"] == pytest.approx(daly_interval(120, 2000 * HOUR / 36))
    assert r.solve_time_s == pytest.approx(200_000 * r.step_time_s)
    assert r.total_time_s == pytest.approx(
        expected_wall_time(r.solve_time_s, f["checkpoint_interval"], 120, 300, f["system_mtbf"])
    )
    assert f["wall_time"] == pytest.approx(
        f["solve_time"] + f["checkpoint_time"] + f["lost_work_and_restart_time"]
    )
    assert r.cost == pytest.approx(36 * r.total_time_s / HOUR)
    more = simulate(
        cl.replace(workers=128), wl, "ps", ps_shards=4, failures=spec, steps_to_sample=2
    )
    assert more.failure["expected_failures"] > f["expected_failures"]


def test_fixed_interval_and_young_option():
    young = FailureSpec(node_mtbf="1000h", checkpoint_cost=60, checkpoint_interval="young")
    fixed = FailureSpec(node_mtbf="1000h", checkpoint_cost=60, checkpoint_interval="30min")
    a = failure_overhead(young, 100 * HOUR, 10)
    b = failure_overhead(fixed, 100 * HOUR, 10)
    assert a.checkpoint_interval == pytest.approx(math.sqrt(2 * 60 * 100 * HOUR))
    assert b.checkpoint_interval == 1800 and b.checkpoints == pytest.approx(200)
    best = failure_overhead(FailureSpec(node_mtbf="1000h", checkpoint_cost=60), 100 * HOUR, 10)
    assert best.wall_time <= min(a.wall_time, b.wall_time) + 1e-6
