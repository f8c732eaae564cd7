"""The seed's claim — a central parameter server needs high bandwidth — as tests; plus the
definitions of throughput, speed-up, efficiency, cost and reproducibility."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_opt.cluster import RESULT_KEYS, ClusterSpec, Lognormal, Workload, simulate

WORKERS = [2, 4, 8, 16, 32, 64, 128]


def run(n, scheme, bandwidth="10Gbit/s", **kw):
    cl = ClusterSpec(workers=n, bandwidth=bandwidth, latency="5us", price_per_node_hour=2.0)
    wl = Workload(parameters=25_000_000, per_worker_batch=32, compute_time_per_step=0.2, steps=1000)
    return simulate(cl, wl, scheme, steps_to_sample=4, **kw)


def test_parameter_server_time_grows_linearly_with_workers():
    comm = np.array([run(n, "ps").comm_s for n in WORKERS])
    slope, intercept = np.polyfit(WORKERS, comm, 1)
    assert np.allclose(comm, slope * np.array(WORKERS) + intercept, rtol=1e-9)
    assert slope == pytest.approx(2 * 100e6 / 1.25e9)  # 2·M/B per extra worker
    assert comm[-1] / comm[0] == pytest.approx(WORKERS[-1] / WORKERS[0], rel=0.01)


def test_ring_allreduce_stays_nearly_flat():
    comm = np.array([run(n, "ring").comm_s for n in WORKERS])
    bound = 2 * 100e6 / 1.25e9 + 2 * (np.array(WORKERS) - 1) * 5e-6
    assert np.all(comm <= bound)  # 2(N-1)/N·M/B never exceeds 2·M/B
    assert comm[-1] / comm[WORKERS.index(8)] < 1.15  # 8 -> 128 workers: +14%
    ps = [run(n, "ps").comm_s for n in (8, 128)]
    assert ps[1] / ps[0] > 15  # ... while the central server's time grows 16-fold


def test_bandwidth_a_central_server_needs_scales_with_workers():
    # to keep communication at 10% of compute, the PS link must grow ∝ N; the ring does not
    def needed(scheme, n):
        r = run(n, scheme, bandwidth="1GB/s")
        bw_term = r.comm_s - 2 * 5e-6 * (n - 1 if scheme == "ring" else 1)
        return bw_term * 1e9 / (0.1 * 0.2)  # bytes/s so that bandwidth term = 0.02 s

    assert needed("ps", 64) / needed("ps", 8) == pytest.approx(8.0)
    assert needed("ring", 64) / needed("ring", 8) == pytest.approx((63 / 64) / (7 / 8))


def test_speedup_efficiency_throughput_cost_definitions():
    r = run(8, "ring")
    assert r.baseline_step_time_s == pytest.approx(0.2)  # one worker: compute only
    assert r.throughput == pytest.approx(8 * 32 / r.step_time_s)
    assert r.speedup == pytest.approx(8 * 0.2 / r.step_time_s)
    assert r.scaling_efficiency == pytest.approx(r.speedup / 8)
    assert r.total_time_s == pytest.approx(1000 * r.step_time_s)
    assert r.cost == pytest.approx(2.0 * 8 * r.total_time_s / 3600)
    one = run(1, "ring")
    assert one.speedup == pytest.approx(1.0) and one.scaling_efficiency == pytest.approx(1.0)


def test_dedicated_servers_are_paid_for():
    r = run(8, "ps", ps_shards=2)
    assert r.machines == 10
    assert r.cost == pytest.approx(2.0 * 10 * r.total_time_s / 3600)
    cheap = ClusterSpec(
        workers=8,
        bandwidth="10Gbit/s",
        latency="5us",
        price_per_node_hour=2.0,
        ps_price_per_node_hour=0.5,
    )
    wl = Workload(parameters=1000, per_worker_batch=1, compute_time_per_step=1.0, steps=3600)
    r2 = simulate(cheap, wl, "ps", ps_shards=2, steps_to_sample=2)
    assert r2.cost == pytest.approx((8 * 2.0 + 2 * 0.5) * r2.total_time_s / 3600)


def stochastic(n=16):
    cl = ClusterSpec(workers=n, bandwidth="10Gbit/s", latency="5us", compute=Lognormal(0.3))
    wl = Workload(parameters=5_000_000, per_worker_batch=32, compute_time_per_step=0.1, steps=100)
    return cl, wl


def test_same_seed_same_result_and_threads_do_not_matter():
    cl, wl = stochastic()
    a = simulate(cl, wl, "ring", steps_to_sample=300_000, seed=7, threads=1)
    b = simulate(cl, wl, "ring", steps_to_sample=300_000, seed=7, threads=2)
    c = simulate(cl, wl, "ring", steps_to_sample=300_000, seed=8)
    assert np.array_equal(a.step_times, b.step_times)
    assert a.to_dict() == b.to_dict()
    assert not np.array_equal(a.step_times, c.step_times)
    assert a.step_time_s == pytest.approx(c.step_time_s, rel=0.005)


def test_result_is_json_serialisable():
    cl, wl = stochastic()
    r = simulate(cl, wl, "ps", ps_shards=2, backup_workers=1, steps_to_sample=50)
    d = r.to_dict()
    assert tuple(d) == RESULT_KEYS
    back = json.loads(json.dumps(d))
    assert back["step_time_s"] == pytest.approx(r.step_time_s)
    full = json.loads(json.dumps(r.to_dict(include_samples=True)))
    assert len(full["step_times"]) == 50
    json.dumps(r.timeline())


def test_breakdown_parts_are_never_negative():
    for workers in (1, 8, 256):
        cluster = ClusterSpec.from_dict(
            {"workers": workers, "bandwidth": "25Gbit/s", "latency": "5us"}
        )
        wl = Workload.from_dict(
            {"parameters": 25.6e6, "compute_time_per_step": "0.12s", "steps": 100}
        )
        for scheme in ("ring", "ps"):
            r = simulate(cluster, wl, scheme, seed=0).to_dict()
            assert min(r["compute_s"], r["wait_s"], r["comm_s"], r["update_s"]) >= 0.0
