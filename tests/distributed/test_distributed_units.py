"""The pieces of tinygrad_opt.distributed that need no second process."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import nn, optim
from tinygrad_opt.distributed.buckets import GradientBuckets
from tinygrad_opt.distributed.noise_scale import noise_scale_from_log
from tinygrad_opt.distributed.parameter_server import plan_shards
from tinygrad_opt.distributed.sampler import DistributedSampler
from tinygrad_opt.tensor import Tensor


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    b=st.integers(1, 9),
    world=st.integers(1, 5),
    seed=st.integers(0, 3),
    shuffle=st.booleans(),
)
def test_ranks_share_exactly_the_single_process_global_batches(n, b, world, seed, shuffle):
    if world * b > n:
        with pytest.raises(ValueError, match="larger than the dataset"):
            DistributedSampler(n, b, 0, world, seed=seed)
        return
    single = DistributedSampler(n, b * world, seed=seed, shuffle=shuffle)
    ranks = [DistributedSampler(n, b, r, world, seed=seed, shuffle=shuffle) for r in range(world)]
    for epoch in range(2):
        glob = list(single.epoch(epoch))
        local = [list(s.epoch(epoch)) for s in ranks]
        assert len(glob) == len(single) == n // (b * world)
        for i, g in enumerate(glob):
            joined = np.concatenate([local[r][i] for r in range(world)])
            assert np.array_equal(joined, g)
            assert all(len(local[r][i]) == b for r in range(world))
        everything = np.concatenate(glob) if glob else np.array([], int)
        assert len(set(everything.tolist())) == len(everything)  # no example twice


def test_sampler_resumes_from_its_state():
    a = DistributedSampler(50, 4, 1, 3, seed=2)
    it = iter(a)
    seen = [next(it) for _ in range(7)]  # crosses an epoch boundary (4 steps per epoch)
    state = a.state_dict()
    rest = [next(it) for _ in range(5)]
    b = DistributedSampler(50, 4, 1, 3, seed=2)
    b.load_state_dict(state)
    it_b = iter(b)
    assert all(np.array_equal(x, next(it_b)) for x in rest)
    assert len(seen) == 7
    with pytest.raises(ValueError, match="seed 2"):
        DistributedSampler(50, 4, 1, 3, seed=3).load_state_dict(state)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rank": 3, "world_size": 3}, "rank 3 is not below world_size 3"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"world_size": 2.5}, "world_size must be an integer"),
    ],
)
def test_sampler_rejects_bad_arguments(kwargs, match):
    args = {"num_samples": 10, "batch_size": 2} | kwargs
    with pytest.raises(ValueError, match=match):
        DistributedSampler(**args)


def test_gradients_accumulate_in_the_buckets_and_stray_arrays_are_copied():
    model = nn.MLP([5, 7, 3], rng=0, dtype=np.float64)
    params = model.parameters()
    buckets = GradientBuckets(params, bucket_bytes=200)  # small: several buckets
    assert len(buckets) > 1
    assert sum(b.buffer.size for b in buckets) == sum(p.data.size for p in params)
    # reverse order: the last parameter is in the first bucket
    assert buckets.buckets[0].params[0] is params[-1]
    x = Tensor(np.random.default_rng(1).standard_normal((4, 5)))
    buckets.install_views()
    model(x).sum().backward()
    model(x).sum().backward()  # accumulates in place, into the bucket views
    expected = [p.grad.copy() for p in params]
    for b in buckets:
        for p in b.params:
            assert np.shares_memory(p.grad, b.buffer)
    params[0].grad = expected[0] * 1.0  # replaced by user code: gather copies it back in
    params[1].grad = None  # no gradient: zeros
    buckets.gather()
    flat = {id(p): b.view(i) for b in buckets for i, p in enumerate(b.params)}
    assert np.array_equal(flat[id(params[0])], expected[0])
    assert not flat[id(params[1])].any()
    assert all(np.array_equal(flat[id(p)], e) for p, e in zip(params[2:], expected[2:]))


def test_shards_hold_whole_tensors_balanced_by_bytes():
    params = [Tensor(np.zeros(n)) for n in (100, 10, 60, 40, 5, 50)]
    plan = plan_shards(params, 2)
    loads = [sum(params[i].data.size for i in plan.members(j)) for j in range(2)]
    assert sorted(loads) == [125, 140]  # greedy, largest first: 100+40 | 60+50+10+5
    assert sorted(i for j in range(2) for i in plan.members(j)) == list(range(6))
    with pytest.raises(ValueError, match="cannot split 6 parameter tensors over 7"):
        plan_shards(params, 7)


def test_noise_scale_recovers_a_known_b_simple():
    """E|G_B|² = |G|² + tr(Σ)/B: with exact expectations the estimate is exact."""
    g2, trace, b, n = 2.0, 300.0, 8, 4
    log = [(g2 + trace / b, g2 + trace / (b * n))] * 10
    assert noise_scale_from_log(log, b, n) == pytest.approx(trace / g2)
    with pytest.raises(ValueError, match="at least 2 ranks"):
        noise_scale_from_log(log, b, 1)


def test_one_rank_job_and_bad_settings_without_mpiexec():
    pytest.importorskip("mpi4py")
    from tinygrad_opt import distributed as dist

    model = nn.MLP([3, 4, 1], rng=0, dtype=np.float64)
    ctx = dist.init()
    assert (ctx.rank, ctx.world_size) == (0, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    for bad, match in [
        ({"mode": "gossip"}, "mode must be one of"),
        ({"mode": "ps", "servers": 2}, "do not fit in a job of 1 ranks"),
        ({"mode": "ps", "backup_workers": 1}, "leaves no gradient to use"),
        ({"mode": "allreduce", "backup_workers": 1}, "needs mode='ps'"),
        ({"mode": "ps", "placement": "moon"}, "placement must be one of"),
    ]:
        with pytest.raises(ValueError, match=match):
            dist.DistributedOptimizer(opt, **bad)
    x = np.random.default_rng(0).standard_normal((6, 3))
    ref = nn.MLP([3, 4, 1], rng=0, dtype=np.float64)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1)
    for mode in ("allreduce", "ps"):
        dopt = dist.DistributedOptimizer(opt, mode=mode)
        for _ in range(3):
            dopt.zero_grad()
            model(Tensor(x)).sum().backward()
            dopt.step()
            ref_opt.zero_grad()
            ref(Tensor(x)).sum().backward()
            ref_opt.step()
        dopt.close()
        for p, q in zip(model.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=0, atol=1e-14)


def test_trace_summary_and_gantt_events_from_synthetic_events():
    from tinygrad_opt.distributed.trace import Trace, step_times, summarize_trace, trace_events

    traces = []
    for rank in range(2):
        t = Trace(rank, "worker", t0=0.0, max_steps=4)
        for s in range(6):  # steps 4 and 5 are beyond max_steps: not recorded
            base = 0.1 * s
            t.add(s, "compute", base, base + 0.06 + 0.01 * rank)
            t.add(s, "wait", base + 0.06 + 0.01 * rank, base + 0.08)
            t.add(s, "comm", base + 0.08, base + 0.095)
            t.add(s, "update", base + 0.095, base + 0.1)
        traces.append(t.to_dict())
    data = {"format": "tinygrad_opt.trace", "world_size": 2, "meta": {}, "ranks": traces}
    assert np.allclose(step_times(data, skip=0), [0.1, 0.1, 0.1])
    summary = summarize_trace(data, skip=1)
    worker = summary["per_role"]["worker"]
    assert summary["mean_step_s"] == pytest.approx(0.1)
    assert worker["compute"] == pytest.approx(0.065)  # mean of 0.06 and 0.07
    assert worker["wait"] == pytest.approx(0.015)
    assert worker["comm"] == pytest.approx(0.015)
    events = trace_events(data, steps=(1, 3))
    assert {e["step"] for e in events} == {1, 2}
    assert min(e["start"] for e in events) == 0.0
    assert {e["row"] for e in events} == {"worker 0", "worker 1"}


def test_rank_environment_one_thread_and_backoff_only_when_oversubscribed():
    from tinygrad_opt.distributed.launch import rank_environment

    base = {"PATH": "/bin", "OMP_NUM_THREADS": "3"}
    env = rank_environment(2, base=base, cpus=2)
    assert env["OMP_NUM_THREADS"] == "3"  # the caller's choice is kept
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["PATH"] == "/bin"
    assert "MPIR_CVAR_CH4_PROGRESS_THROTTLE" not in env
    assert rank_environment(4, base=base, cpus=2)["MPIR_CVAR_CH4_PROGRESS_THROTTLE"] == "1"
    assert "MPIR_CVAR_CH4_PROGRESS_THROTTLE" not in rank_environment(
        4, single_host=False, base=base, cpus=2
    )
