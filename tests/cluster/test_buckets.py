"""DDP buckets in reverse layer order: hand-computed boundaries and end times, an event
simulation of the bucket pipeline against the closed form, and the simulator's steps."""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import simulate
from tinygrad_opt.cluster.buckets import (
    assign_buckets,
    bucket_ready_times,
    fusion_end,
    fusion_schedule,
    gradient_ready_times,
    pipeline_end,
    pipeline_schedule,
)
from tinygrad_opt.cluster.overlap import overlapped_sync_end
from tinygrad_opt.cluster.validation import SpecError

MIB = 2**20


def test_three_layers_by_hand():
    # tensors (model order) of 3, 1, 2 MiB; backward 1, 2, 3 ms; forward 4 ms;
    # caps 1 MiB (first) then 25 MiB
    nbytes = [3 * MIB, 1 * MIB, 2 * MIB]
    groups = assign_buckets(nbytes, 25 * MIB, 1 * MIB)
    assert groups == [[2], [1, 0]]  # reverse order: tensor 3 alone (2 MiB >= 1 MiB)
    ready = gradient_ready_times([1e-3, 2e-3, 3e-3], 4e-3)
    np.testing.assert_allclose(ready, [10e-3, 9e-3, 7e-3])
    r = bucket_ready_times(groups, ready)
    np.testing.assert_allclose(r, [7e-3, 10e-3])
    u = [2e-3, 4e-3]  # 1 ms per MiB
    start, end = pipeline_schedule(r, u)
    np.testing.assert_allclose(start, [7e-3, 10e-3])
    np.testing.assert_allclose(end, [9e-3, 14e-3])
    assert pipeline_end(r, u) == pytest.approx(14e-3)


def test_link_busy_delays_the_next_bucket():
    # bucket 2 is ready before bucket 1 is done: it waits for the link
    start, end = pipeline_schedule([1.0, 1.5, 1.6], [2.0, 0.5, 0.25])
    np.testing.assert_allclose(start, [1.0, 3.0, 3.5])
    np.testing.assert_allclose(end, [3.0, 3.5, 3.75])


def test_assignment_rule():
    # a tensor past the cap closes its bucket after joining it; the first cap applies once
    assert assign_buckets([5, 5, 5, 5], cap=10, first_cap=10) == [[3, 2], [1, 0]]
    assert assign_buckets([5, 5, 5, 5], cap=10, first_cap=1) == [[3], [2, 1], [0]]
    assert assign_buckets([100, 1, 1], cap=10, first_cap=10) == [[2, 1, 0]]
    assert assign_buckets([1, 100, 1], cap=10) == [[2, 1], [0]]
    assert assign_buckets([7], cap=10) == [[0]]
    with pytest.raises(SpecError, match="bucket_bytes"):
        assign_buckets([1, 2], cap=0)


def _event_simulation(sizes, times, forward, cap, first_cap, per_byte, alpha):
    """Brute force: gradient events in time order fill DDP buckets; a full bucket joins
    the link's queue; the link serves buckets one at a time in order."""
    groups = assign_buckets(sizes, cap, first_cap)
    owner = {i: j for j, g in enumerate(groups) for i in g}
    missing = [len(g) for g in groups]
    events = []  # (time, kind, index): kind 0 = gradient ready, 1 = link free
    t = forward
    for i in range(len(sizes) - 1, -1, -1):
        t += times[i]
        heapq.heappush(events, (t, 0, i))
    queue: list[int] = []
    link_free_at = 0.0
    busy = False
    launched = 0
    last_end = forward
    while events:
        now, kind, idx = heapq.heappop(events)
        if kind == 0:
            j = owner[idx]
            missing[j] -= 1
            if missing[j] == 0:
                queue.append(j)
        else:
            busy = False
        queue.sort()
        if not busy and queue and queue[0] == launched:
            j = queue.pop(0)
            launched += 1
            dur = alpha + per_byte * sum(sizes[i] for i in groups[j])
            link_free_at = max(now, link_free_at) + dur
            last_end = link_free_at
            busy = True
            heapq.heappush(events, (link_free_at, 1, j))
    assert launched == len(groups)
    return last_end


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 40), st.floats(0.0, 5.0)),
        min_size=1,
        max_size=25,
    ),
    st.floats(0.0, 10.0),
    st.integers(1, 60),
    st.integers(1, 30),
    st.floats(0.01, 2.0),
    st.floats(0.0, 1.0),
)
def test_event_simulation_equals_the_closed_form(layers, forward, cap, first_cap, per_byte, alpha):
    sizes = [float(s) for s, _ in layers]
    times = [b for _, b in layers]
    groups = assign_buckets(sizes, cap, first_cap)
    r = bucket_ready_times(groups, gradient_ready_times(times, forward))
    u = [alpha + per_byte * sum(sizes[i] for i in g) for g in groups]
    assert np.all(np.diff(r) >= 0)  # buckets become ready in launch order
    brute = _event_simulation(sizes, times, forward, cap, first_cap, per_byte, alpha)
    assert pipeline_end(r, u) == pytest.approx(brute, rel=1e-12, abs=1e-12)
    assert pipeline_schedule(r, u)[1][-1] == pytest.approx(brute, rel=1e-12, abs=1e-12)
    # the recurrence e_j = max(r_j, e_{j-1}) + u_j, written as a loop
    e = -np.inf
    for rj, uj in zip(r, u):
        e = max(rj, e) + uj
    assert e == pytest.approx(brute, rel=1e-12, abs=1e-12)


def _ring(n, alpha, bandwidth, m):
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * m / bandwidth


CLUSTER = {"workers": 4, "bandwidth": 1e9, "latency": 1e-4}


def test_simulated_step_follows_the_buckets_by_hand():
    # 4 tensors (model order) of 1, 2, 4, 8 M parameters, fp32: 4, 8, 16, 32 MB;
    # backward 5, 10, 15, 20 ms, compute 100 ms: forward 50 ms
    sizes = [1_000_000, 2_000_000, 4_000_000, 8_000_000]
    bt = [0.005, 0.010, 0.015, 0.020]
    wl = {"tensor_sizes": sizes, "backward_times": bt, "compute_time_per_step": 0.1, "steps": 1}
    r = simulate(CLUSTER, wl, "ring", overlap=True, bucket_bytes=20e6, first_bucket_bytes=20e6)
    # reverse order: tensor 4 (32 MB >= 20 MB) alone; tensors 3, 2 (16 + 8 = 24 MB); tensor 1
    assert r.bucket_sizes_bytes == pytest.approx([32e6, 24e6, 4e6])
    ready = [0.05 + 0.020, 0.05 + 0.020 + 0.015 + 0.010, 0.1]
    u = [_ring(4, 1e-4, 1e9, m) for m in (32e6, 24e6, 4e6)]
    e1 = ready[0] + u[0]
    e2 = max(ready[1], e1) + u[1]
    e3 = max(ready[2], e2) + u[2]
    assert r.step_time_s == pytest.approx(e3, rel=1e-12)
    assert r.comm_s == pytest.approx(e3 - 0.1, rel=1e-9)
    assert r.buckets == 3
    events = r.timeline()
    comm = [e for e in events if e["row"] == "worker 0" and e["kind"] == "comm" and e["step"] == 0]
    assert comm[-1]["end"] == pytest.approx(e3)


def test_equal_tensors_reproduce_the_equal_bucket_model():
    # K equal tensors, backward times proportional to size, one tensor per bucket: the
    # per-tensor model is the constant-rate model of overlap.py
    k, n, c, beta = 6, 4, 0.12, 0.6
    wl = {
        "tensor_sizes": [5_000_000] * k,
        "compute_time_per_step": c,
        "backward_fraction": beta,
        "steps": 1,
    }
    r = simulate(CLUSTER, wl, "ring", overlap=True, bucket_bytes=20e6, first_bucket_bytes=20e6)
    assert r.buckets == k
    u = _ring(n, 1e-4, 1e9, 20e6)
    assert r.step_time_s == pytest.approx(overlapped_sync_end(c, beta, k, u), rel=1e-12)


def test_gradient_accumulation_overlaps_only_the_last_micro_batch():
    sizes = [4_000_000, 4_000_000]
    bt = [0.01, 0.01]
    k = 3
    wl = {
        "tensor_sizes": sizes,
        "backward_times": bt,
        "compute_time_per_step": 0.05,
        "steps": 1,
        "grad_accumulation": k,
    }
    r = simulate(CLUSTER, wl, "ring", overlap=True, bucket_bytes=16e6, first_bucket_bytes=16e6)
    forward = k * 0.05 - 0.02
    u = _ring(4, 1e-4, 1e9, 16e6)
    e1 = forward + 0.01 + u
    e2 = max(forward + 0.02, e1) + u
    assert r.step_time_s == pytest.approx(e2, rel=1e-12)
    assert r.global_batch == 4 * 32 * k


def test_backward_times_longer_than_the_step_are_an_error():
    wl = {"tensor_sizes": [10, 10], "backward_times": [0.2, 0.2], "compute_time_per_step": 0.3}
    with pytest.raises(SpecError, match="backward_times"):
        simulate(CLUSTER, {**wl, "steps": 1}, "ring", overlap=True)


def test_vgg16_hides_more_than_gpt2_embedding_first():
    # VGG-16's big fully connected tensors are last in model order: first in the backward
    # pass, so its first large bucket is ready early; GPT-2's tied embedding is first in
    # model order and ready last
    common = {"compute_time_per_step": 0.3, "steps": 1}
    vgg = simulate(CLUSTER, {"model": "vgg16", **common}, "ring", overlap=True)
    # fc8, fc7, fc6 (weight + bias, fp32), each past the 1 MiB / 25 MiB caps on its own
    fc = [(4096 * 1000 + 1000) * 4, (4096 * 4096 + 4096) * 4, (25088 * 4096 + 4096) * 4]
    assert vgg.bucket_sizes_bytes[:3] == pytest.approx(fc)
    gpt = simulate(CLUSTER, {"model": "gpt2", **common}, "ring", overlap=True)
    assert gpt.bucket_sizes_bytes[-1] >= 0.3 * gpt.message_bytes  # the embedding, last


# ---------------------------------------------------------------- Horovod tensor fusion
def test_fusion_cycles_by_hand():
    # milliseconds: tensors (ready order) of 10, 30, 40, 5 bytes ready at 1, 2.5, 2.6, 7.2;
    # threshold 50, cycle 2, an all-reduce of m bytes takes 0.1 + 0.05 m
    sched = fusion_schedule(
        [1.0, 2.5, 2.6, 7.2], [10, 30, 40, 5], 50, 2.0, lambda m: 0.1 + 0.05 * m
    )
    expected = [(2.0, 2.6, 10), (4.0, 5.6, 30), (5.6, 7.7, 40), (7.7, 8.05, 5)]
    assert len(sched) == len(expected)
    for got, want in zip(sched, expected):
        assert got == pytest.approx(want)


def _cycle_by_cycle(ready, sizes, threshold, cycle, duration):
    """Brute force: every cycle of the background thread, idle ones included."""
    sent = [False] * len(ready)
    start, last = 0.0, 0.0
    while not all(sent):
        batch = [i for i in range(len(ready)) if not sent[i] and ready[i] <= start + 1e-12]
        t = start
        buf = 0.0
        for i in batch:
            if buf > 0 and buf + sizes[i] > threshold:
                t += duration(buf)
                buf = 0.0
            buf += sizes[i]
            sent[i] = True
        if batch:
            t += duration(buf)
            last = t
        start = max(start + cycle, t)
    return last


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 3.0), st.integers(1, 50)), min_size=1, max_size=20),
    st.integers(1, 80),
    st.floats(0.1, 2.0),
    st.floats(0.0, 0.5),
    st.floats(0.001, 0.1),
)
def test_fusion_schedule_equals_cycle_by_cycle(layers, threshold, cycle, alpha, per_byte):
    ready = list(np.cumsum([g for g, _ in layers]))
    sizes = [float(s) for _, s in layers]

    def duration(m):
        return alpha + per_byte * m

    sched = fusion_schedule(ready, sizes, threshold, cycle, duration)
    brute = _cycle_by_cycle(ready, sizes, threshold, cycle, duration)
    assert sched[-1][1] == pytest.approx(brute, rel=1e-9, abs=1e-9)
    assert sum(b for _, _, b in sched) == pytest.approx(sum(sizes))
    assert all(b <= threshold or b in sizes for _, _, b in sched)  # big tensors alone
    assert all(a2 >= e1 - 1e-12 for (_, e1, _), (a2, _, _) in zip(sched, sched[1:]))


def test_fusion_in_the_simulator_by_hand():
    # tensors of 1, 2, 3 M fp32 parameters (4, 8, 12 MB), backward 10 ms each, compute
    # 100 ms: ready (backward order) at 80, 90, 100 ms; 5 ms cycles, 64 MiB threshold
    wl = {
        "tensor_sizes": [1_000_000, 2_000_000, 3_000_000],
        "backward_times": [0.01, 0.01, 0.01],
        "compute_time_per_step": 0.1,
        "steps": 1,
    }
    r = simulate(CLUSTER, wl, "ring", fusion_bytes="64MiB", cycle_time="5ms")
    u12, u8, u4 = (_ring(4, 1e-4, 1e9, m) for m in (12e6, 8e6, 4e6))
    e1 = 0.08 + u12  # cycle at 80 ms takes tensor 3
    e2 = e1 + u8  # next cycle at e1 (> 85 ms): tensor 2 (90 ms) is ready, tensor 1 not
    assert e1 > 0.09 and e1 < 0.1
    e3 = e2 + u4  # next cycle at e2 (> 100 ms): tensor 1
    assert r.step_time_s == pytest.approx(e3, rel=1e-12)
    assert r.bucket_sizes_bytes == pytest.approx([12e6, 8e6, 4e6])
    assert r.scheme == "ring+fusion" and r.overlap
    comm = [e for e in r.timeline() if e["row"] == "worker 0" and e["kind"] == "comm"]
    assert [e["end"] for e in comm if e["step"] == 0] == pytest.approx([e1, e2, e3])


def test_fusion_errors():
    wl = {"parameters": 1000, "compute_time_per_step": 0.1, "steps": 1}
    with pytest.raises(SpecError, match="fusion_bytes.*tensors"):
        simulate(CLUSTER, wl, "ring", fusion_bytes="64MiB")
    with pytest.raises(SpecError, match="fusion_bytes"):
        simulate(CLUSTER, wl, "ps", fusion_bytes="64MiB")
    with pytest.raises(SpecError, match="fusion_bytes"):
        simulate(CLUSTER, wl, "ring", fusion_bytes="64MiB", zero_stage=1)
    with pytest.raises(SpecError, match="cycle_time"):
        simulate(CLUSTER, wl, "ring", cycle_time="0s")


def test_cli_fusion_flags():
    import json
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "tinygrad_opt.cli", "whatif", "--workers", "4", "--bandwidth",
         "10Gbit/s", "--latency", "5us", "--model", "resnet50", "--compute-time", "0.3s",
         "--fusion-mb", "64,8", "--cycle-time", "5ms", "--samples", "1", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["settings"]["scheme"]["fusion_bytes"] == ["64MiB", "8MiB"]
    assert [r["scheme_label"] for r in out["rows"]] == ["ring+fusion"] * 2
    assert all(r["overlap"] for r in out["rows"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 0.2), st.integers(1, 50)), min_size=1, max_size=20),
    st.lists(st.floats(0.5, 20.0), min_size=1, max_size=12),
    st.integers(1, 80),
    st.floats(0.1, 2.0),
    st.floats(0.0, 0.5),
)
def test_fusion_end_equals_the_schedule_of_each_step(layers, computes, threshold, cycle, alpha):
    frac = np.cumsum([g for g, _ in layers])
    frac = frac / max(1.0, float(frac[-1]))  # ready shares of the compute, non-decreasing
    sizes = [float(s) for _, s in layers]

    def duration(m):
        return alpha + 0.01 * m

    ends = fusion_end(frac, computes, sizes, threshold, cycle, duration)
    for t, e in zip(computes, ends):
        want = fusion_schedule(frac * t, sizes, threshold, cycle, duration)[-1][1]
        assert e == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(
    "cluster",
    [
        CLUSTER,
        {"workers": 16, "devices_per_node": 4, "bandwidth": "25Gbit/s", "latency": "5us",
         "intra_bandwidth": "50GB/s", "intra_latency": "1us"},
        {"workers": 6, "bandwidth": "25Gbit/s", "latency": "5us", "reduce_bandwidth": "8GB/s"},
    ],
)  # fmt: skip
@pytest.mark.parametrize("scheme", ["ring", "halving_doubling", "tree", "hierarchical"])
def test_fusion_buffer_times_equal_communication_cost(cluster, scheme):
    # buffers are timed by a line when the all-reduce is affine in the bytes: it must
    # agree with communication_cost on every size
    from tinygrad_opt.cluster import ClusterSpec, SyncScheme, Workload, communication_cost
    from tinygrad_opt.cluster.sync_plan import fusion_plan

    c = ClusterSpec.from_dict(cluster)
    wl = Workload(model="resnet50", compute_time_per_step=0.2, steps=1)
    s = SyncScheme(scheme, fusion_bytes="64MiB")
    plan = fusion_plan(c, wl, s, c.workers, 1)
    for m in np.linspace(0, wl.gradient_bytes, 17)[1:]:
        want = communication_cost(c, s, m).time_s
        assert plan.duration(float(m)) == pytest.approx(want, rel=1e-12)
