"""Stragglers and backup workers (Chen et al. 2016, "Revisiting Distributed Synchronous SGD").

With i.i.d. exponential compute times of rate μ, the N-th fastest of N + b workers
finishes on average after (H_{N+b} − H_b)/μ (Rényi's representation of exponential order
statistics: the gaps are independent exponentials with rates (N+b)μ, (N+b−1)μ, ...).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    ClusterSpec,
    Deterministic,
    Empirical,
    Heterogeneous,
    Lognormal,
    ShiftedExponential,
    Uniform,
    Workload,
    sample_step_compute,
    simulate,
)


def harmonic(n):
    return float(np.sum(1.0 / np.arange(1, n + 1))) if n else 0.0


def expected_ready(n, b, mu):
    return (harmonic(n + b) - harmonic(b)) / mu


@pytest.mark.parametrize("n, b", [(1, 0), (4, 0), (8, 2), (16, 4), (30, 1), (50, 10)])
def test_exponential_order_statistic_within_one_percent(n, b):
    mu = 4.0
    cl = ClusterSpec(
        workers=n + b, bandwidth="10Gbps", latency="1us", compute=ShiftedExponential(0.0)
    )
    wl = Workload(parameters=1000, per_worker_batch=8, compute_time_per_step=1 / mu, steps=1)
    r = simulate(cl, wl, "ps", backup_workers=b, steps_to_sample=100_000, seed=3)
    ready = r.compute_s + r.wait_s  # mean time at which the N-th gradient is in
    assert ready == pytest.approx(expected_ready(n, b, mu), rel=0.01)


def test_shifted_exponential_and_lognormal_keep_the_mean():
    rng_means = []
    for model in (ShiftedExponential(0.4), Lognormal(0.3), Empirical([1.0, 2.0, 6.0])):
        s = sample_step_compute(model, 0.5, 1, 1, 200_000, seed=1)
        rng_means.append(s.sync.mean())
    assert np.allclose(rng_means, 0.5, rtol=0.01)
    # shifted exponential: max of N = shift + (1 - shift)·H_N (in units of the mean)
    s = sample_step_compute(ShiftedExponential(0.4), 1.0, 10, 10, 100_000, seed=2)
    assert s.sync.mean() == pytest.approx(0.4 + 0.6 * harmonic(10), rel=0.01)


@pytest.mark.parametrize("w, b, a", [(1, 0, 0.3), (2, 0, 0.09), (16, 0, 0.2), (16, 4, 0.2)])
def test_uniform_order_statistic_closed_form(w, b, a):
    # X ~ U[1 − a, 1 + a]: the N-th smallest of W has mean 1 − a + 2a·N/(W + 1)
    # (N = W − b; the slowest, N = W: 1 + a(W − 1)/(W + 1))
    n = w - b
    s = sample_step_compute(Uniform(a), 2.0, w, n, 200_000, seed=4)
    assert s.sync.mean() == pytest.approx(2.0 * (1 - a + 2 * a * n / (w + 1)), rel=2e-3)
    x = Uniform(a).sample(np.random.default_rng(0), (100_000,))
    assert x.dtype == np.float32 and x.min() >= 1 - a and x.max() <= 1 + a
    assert x.mean() == pytest.approx(1.0, abs=3e-3)


def test_uniform_spread_is_checked_and_inferred():
    from tinygrad_opt.cluster.compute import compute_model_from_dict
    from tinygrad_opt.cluster.validation import SpecError

    for bad in (-0.1, 1.0, 2.0, "x"):
        with pytest.raises(SpecError, match="compute.spread"):
            Uniform(bad)
    assert Uniform(0.0).is_deterministic and not Uniform(0.1).is_deterministic
    assert compute_model_from_dict({"kind": "uniform", "spread": 0.2}) == Uniform(0.2)
    # a flag or TOML key ``spread`` alone means the uniform model, replacing another kind
    from tinygrad_opt.cluster.config import merge_settings

    base = {"cluster": {"compute": {"kind": "lognormal", "sigma": 0.3}}}
    merged = merge_settings(base, {"cluster": {"compute": {"spread": 0.2}}})
    assert compute_model_from_dict(merged["cluster"]["compute"]) == Uniform(0.2)


def setting(n, b, mu, bandwidth, params):
    cl = ClusterSpec(
        workers=n + b, bandwidth=bandwidth, latency="1us", compute=ShiftedExponential(0.0)
    )
    wl = Workload(parameters=params, per_worker_batch=8, compute_time_per_step=1 / mu, steps=1)
    return cl, wl


def theory_step(n, b, mu, bandwidth_bytes, m_bytes, latency=1e-6):
    # single dedicated PS: wait for the N-th of N+b, push N gradients, pull N+b
    return expected_ready(n, b, mu) + 2 * latency + (n + (n + b)) * m_bytes / bandwidth_bytes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    n=st.integers(2, 24),
    b=st.integers(1, 6),
    mu=st.floats(0.5, 20.0),
    gbps=st.floats(0.5, 100.0),
    params=st.integers(1_000, 20_000_000),
)
def test_backups_help_exactly_when_theory_says_so(n, b, mu, gbps, params):
    bw = gbps * 1e9 / 8
    m = 4.0 * params
    without = theory_step(n, 0, mu, bw, m)
    with_b = theory_step(n, b, mu, bw, m)
    assume(abs(with_b - without) > 0.03 * without)  # clear of Monte Carlo noise
    results = []
    for workers_b in (0, b):
        cl, wl = setting(n, workers_b, mu, bw, params)
        r = simulate(cl, wl, "ps", backup_workers=workers_b, steps_to_sample=20_000, seed=11)
        results.append(r.step_time_s)
    assert (results[1] < results[0]) == (with_b < without)
    assert results[0] == pytest.approx(without, rel=0.02)
    assert results[1] == pytest.approx(with_b, rel=0.02)


def test_backups_never_help_deterministic_workers():
    for b in (1, 3):
        cl = ClusterSpec(workers=8 + b, bandwidth="10Gbps", latency="5us")
        base = ClusterSpec(workers=8, bandwidth="10Gbps", latency="5us")
        wl = Workload(parameters=1_000_000, per_worker_batch=8, compute_time_per_step=0.1, steps=1)
        with_b = simulate(cl, wl, "ps", backup_workers=b, steps_to_sample=2)
        without = simulate(base, wl, "ps", steps_to_sample=2)
        assert with_b.step_time_s > without.step_time_s  # same compute, more pulls
        assert with_b.compute_s + with_b.wait_s == pytest.approx(0.1)


def test_heterogeneous_speeds_wait_for_the_slowest_or_drop_it():
    speeds = [1.0, 1.0, 2.0, 0.5]  # worker 3 takes twice the nominal time
    cl = ClusterSpec(workers=4, bandwidth="100Gbps", latency="1us", compute=Heterogeneous(speeds))
    wl = Workload(parameters=1000, per_worker_batch=8, compute_time_per_step=0.1, steps=1)
    r = simulate(cl, wl, "ring", steps_to_sample=2)
    assert r.compute_s + r.wait_s == pytest.approx(0.2)
    assert r.compute_s == pytest.approx(np.mean([0.1, 0.1, 0.05, 0.2]))
    dropped = simulate(cl, wl, "ps", backup_workers=1, steps_to_sample=2)
    assert dropped.compute_s + dropped.wait_s == pytest.approx(0.1)  # 3rd fastest


def test_per_node_speed_factors_repeat_over_devices():
    cl = ClusterSpec(
        nodes=2,
        devices_per_node=4,
        bandwidth="100Gbps",
        latency="1us",
        intra_bandwidth="300GB/s",
        compute=Deterministic([1.0, 0.25]),
    )
    wl = Workload(parameters=1000, per_worker_batch=8, compute_time_per_step=0.1, steps=1)
    assert simulate(cl, wl, "hierarchical", steps_to_sample=2).wait_s == pytest.approx(
        0.4 - np.mean([0.1] * 4 + [0.4] * 4)
    )


def test_empirical_step_times_resampled():
    measured = [0.10, 0.11, 0.10, 0.30]  # one slow outlier in four
    model = Empirical(measured)
    s = sample_step_compute(model, model.mean_s, 8, 8, 50_000, seed=0)
    # P(no worker hits the outlier) = (3/4)^8; otherwise the max is 0.30
    p_clean = 0.75**8
    expected = p_clean * (1 - (2 / 3) ** 8) * 0.11 + p_clean * (2 / 3) ** 8 * 0.10
    expected += (1 - p_clean) * 0.30
    assert s.sync.mean() == pytest.approx(expected, rel=0.01)


def test_breakdown_adds_up_and_dropped_work_is_not_counted():
    cl = ClusterSpec(workers=12, bandwidth="10Gbps", latency="5us", compute=Lognormal(0.5))
    wl = Workload(
        parameters=2_000_000,
        per_worker_batch=8,
        compute_time_per_step=0.05,
        steps=1,
        update_time=0.01,
    )
    r = simulate(cl, wl, "ps", ps_shards=3, backup_workers=2, steps_to_sample=5000)
    assert r.compute_s + r.wait_s + r.comm_s + r.update_s == pytest.approx(r.step_time_s)
    assert r.compute_s < 0.05  # the two slowest are cut off each step
    kinds = {e["kind"] for e in r.timeline()}
    assert {"compute", "wait", "dropped", "send", "recv", "update"} <= kinds


@pytest.mark.parametrize("params, helps", [(5_000_000, True), (50_000_000, False)])
def test_backups_help_or_hurt_at_the_predicted_crossover(params, helps):
    # N=8, b=2, mean compute 0.1 s: backups save (H_8 - H_10 + H_2)/μ ≈ 0.129 s of waiting
    # and cost two extra pulls, 2·M/B; at 10 Gbit/s they pay off below M ≈ 80 MB.
    n, b, mu, bw = 8, 2, 10.0, 1.25e9
    saving = (harmonic(n) - harmonic(n + b) + harmonic(b)) / mu
    assert (2 * 4.0 * params / bw < saving) == helps
    times = []
    for extra in (0, b):
        cl, wl = setting(n, extra, mu, bw, params)
        r = simulate(cl, wl, "ps", backup_workers=extra, steps_to_sample=50_000, seed=5)
        times.append(r.step_time_s)
    assert (times[1] < times[0]) == helps
