"""Bucketed compute/communication overlap (PyTorch DDP, Li et al. 2020): the two limits.

The reference is a plain Python loop over buckets (start = max(ready, previous end)),
independent of the library's closed form ``max(C(1-β+β/K) + K·u, C + u)``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import (
    ClusterSpec,
    Workload,
    bucket_schedule,
    communication_cost,
    overlapped_sync_end,
    simulate,
)

C = 0.3
BETA = 2 / 3


def loop_finish(c, beta, k, u):
    end = 0.0
    for j in range(1, k + 1):
        ready = c * (1 - beta + beta * j / k)
        end = max(ready, end) + u
    return end


@settings(max_examples=200, deadline=None)
@given(
    c=st.floats(1e-4, 10.0),
    beta=st.floats(0.01, 1.0),
    k=st.integers(1, 300),
    u=st.floats(0.0, 1.0),
)
def test_closed_form_equals_the_bucket_loop(c, beta, k, u):
    assert overlapped_sync_end(c, beta, k, u) == pytest.approx(loop_finish(c, beta, k, u))
    start, end = bucket_schedule(c, beta, k, u)
    assert end[-1] == pytest.approx(loop_finish(c, beta, k, u))
    assert (start >= 0).all() and (end[:-1] <= start[1:] + 1e-12).all()


def make(bandwidth="10Gbit/s", latency="10us", params=25_000_000):
    cl = ClusterSpec(workers=8, bandwidth=bandwidth, latency=latency)
    wl = Workload(
        parameters=params,
        per_worker_batch=32,
        compute_time_per_step=C,
        steps=10,
        backward_fraction=BETA,
    )
    return cl, wl


def test_no_overlap_is_the_sum():
    cl, wl = make()
    comm = communication_cost(cl, "ring", wl.gradient_bytes).time_s
    r = simulate(cl, wl, "ring", steps_to_sample=2)
    assert r.step_time_s == pytest.approx(C + comm)
    one_bucket = simulate(cl, wl, "ring", overlap=True, buckets=1, steps_to_sample=2)
    assert one_bucket.step_time_s == pytest.approx(C + comm)


def test_full_overlap_hides_all_but_the_last_bucket():
    # fast network: the whole all-reduce fits in the backward pass
    cl, wl = make(bandwidth="400Gbit/s", latency="1ns")
    k = 200
    u = communication_cost(cl, "ring", wl.gradient_bytes / k).time_s
    assert k * u < BETA * C / 2
    r = simulate(cl, wl, "ring", overlap=True, buckets=k, steps_to_sample=2)
    assert r.step_time_s == pytest.approx(C + u)
    assert r.comm_s == pytest.approx(u)
    assert r.comm_total_s == pytest.approx(k * u)
    assert r.step_time_s < C * 1.001  # the limit: step time = compute time


def test_communication_bound_overlap_hides_the_backward_pass_only():
    cl, wl = make(bandwidth="1Gbit/s")
    k = 25
    u = communication_cost(cl, "ring", wl.gradient_bytes / k).time_s
    assert k * u > C
    r = simulate(cl, wl, "ring", overlap=True, buckets=k, steps_to_sample=2)
    assert r.step_time_s == pytest.approx(C * (1 - BETA + BETA / k) + k * u)
    no = simulate(cl, wl, "ring", steps_to_sample=2)
    assert r.step_time_s < no.step_time_s


@pytest.mark.parametrize("scheme", ["ps", "ring", "tree", "halving_doubling"])
def test_overlap_matches_the_loop_for_every_scheme(scheme):
    cl, wl = make(bandwidth="25Gbit/s")
    wl = wl.replace(update_time=0.02)
    k = 7
    r = simulate(cl, wl, scheme, overlap=True, buckets=k, steps_to_sample=2)
    u = communication_cost(cl, scheme, wl.gradient_bytes / k).time_s
    if scheme == "ps":  # the server's update travels with the buckets
        expected = loop_finish(C, BETA, k, u + 0.02 / k)
    else:  # all-reduce: local update after the last bucket
        expected = loop_finish(C, BETA, k, u) + 0.02
    assert r.step_time_s == pytest.approx(expected)
    assert r.compute_s + r.wait_s + r.comm_s + r.update_s == pytest.approx(r.step_time_s)


def test_default_buckets_follow_ddp_25MiB():
    cl, wl = make()
    r = simulate(cl, wl, "ring", overlap=True, steps_to_sample=2)
    assert r.buckets == -(-int(wl.gradient_bytes) // (25 * 2**20))
