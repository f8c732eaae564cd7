"""McCandlish et al. 2018: S = S_min(1 + B_noise/B), E = E_min(1 + B/B_noise)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    ClusterSpec,
    LargeBatchModel,
    Workload,
    estimate_noise_scale,
    simulate,
)


def test_at_the_noise_scale_steps_and_examples_double():
    m = LargeBatchModel(s_min=1000, b_noise=512)
    assert m.steps(512) == pytest.approx(2 * m.s_min)
    assert m.examples(512) == pytest.approx(2 * m.e_min)
    assert m.e_min == pytest.approx(1000 * 512) and m.critical_batch == pytest.approx(512)


@given(s_min=st.floats(1, 1e7), b_noise=st.floats(1, 1e6), batch=st.floats(1, 1e7))
def test_examples_are_steps_times_batch(s_min, b_noise, batch):
    m = LargeBatchModel(s_min=s_min, b_noise=b_noise)
    assert m.examples(batch) == pytest.approx(m.steps(batch) * batch, rel=1e-9)
    assert m.steps(batch) > s_min and m.examples(batch) > m.e_min


def test_any_two_parameters_define_the_model():
    a = LargeBatchModel(s_min=200, b_noise=64)
    assert LargeBatchModel(e_min=200 * 64, b_noise=64) == a
    assert LargeBatchModel(s_min=200, e_min=200 * 64) == a
    with pytest.raises(ValueError, match="large_batch"):
        LargeBatchModel(s_min=200)
    with pytest.raises(ValueError, match="inconsistent"):
        LargeBatchModel(s_min=200, b_noise=64, e_min=1)


def test_global_batch_sets_the_steps_in_simulate():
    lb = LargeBatchModel(s_min=1000, b_noise=1024)
    wl = Workload(parameters=1000, per_worker_batch=64, compute_time_per_step=0.1, large_batch=lb)
    for n in (1, 4, 16, 64):
        cl = ClusterSpec(workers=n, bandwidth="100Gbps", latency="1us")
        r = simulate(cl, wl, "ring", steps_to_sample=2)
        assert r.global_batch == 64 * n
        assert r.steps == math.ceil(1000 * (1 + 1024 / (64 * n)))
        assert r.total_time_s == pytest.approx(r.steps * r.step_time_s)
    # at the critical batch (16 workers × 64 = 1024) the steps are twice the minimum
    cl = ClusterSpec(workers=16, bandwidth="100Gbps", latency="1us")
    assert simulate(cl, wl, "ring", steps_to_sample=2).steps == 2000


def test_time_to_train_speedup_accounts_for_more_steps():
    lb = LargeBatchModel(s_min=1000, b_noise=256)
    wl = Workload(parameters=1000, per_worker_batch=32, compute_time_per_step=0.1, large_batch=lb)
    cl = ClusterSpec(workers=64, bandwidth="1000Gbps", latency="1ns")
    r = simulate(cl, wl, "ring", steps_to_sample=2)
    steps_one = math.ceil(1000 * (1 + 256 / 32))
    assert r.time_to_train_speedup == pytest.approx(steps_one * 0.1 / r.total_time_s)
    assert r.time_to_train_speedup < 0.5 * r.speedup  # far above B_noise: steps saturate


def test_noise_scale_estimate_recovers_trace_over_gradient_norm():
    g2, trace = 4.0, 400.0
    small, big = 10, 1000
    est = estimate_noise_scale(g2 + trace / small, small, g2 + trace / big, big)
    assert est == pytest.approx(trace / g2)
    with pytest.raises(ValueError, match="batch_big"):
        estimate_noise_scale(1.0, 100, 2.0, 10)
