"""ZeRO stages: memory per GPU against the paper's worked example, communication and
update closed forms, gradient dtype and accumulation, the CLI and TOML keys."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster import simulate
from tinygrad_opt.cluster.sharding import default_optimizer_bytes, memory_per_gpu
from tinygrad_opt.cluster.spec import SyncScheme, Workload
from tinygrad_opt.cluster.validation import SpecError

PSI, N = 7.5e9, 64


@pytest.mark.parametrize("stage, paper_gb", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_worked_example(stage, paper_gb):
    # Rajbhandari et al. 2020, Figure 1: Psi = 7.5B, N = 64, K = 12, fp16 weights/grads
    m = memory_per_gpu(PSI, N, stage, param_bytes=2, grad_bytes=2)
    closed = {
        0: (2 + 2 + 12) * PSI,
        1: (2 + 2) * PSI + 12 * PSI / N,
        2: 2 * PSI + (2 + 12) * PSI / N,
        3: (2 + 2 + 12) * PSI / N,
    }[stage]
    assert m.total == pytest.approx(closed, rel=1e-12)
    assert round(m.total / 1e9, 1) == paper_gb
    assert m.feasible and m.reason is None


def test_memory_parts_and_defaults():
    m = memory_per_gpu(1000, 4, 2, param_bytes=4, grad_bytes=4)
    assert (m.parameters, m.gradients, m.optimizer) == (4000, 1000, 2000)  # K = 8 in fp32
    assert default_optimizer_bytes(2) == 12 and default_optimizer_bytes(4) == 8
    sgd = memory_per_gpu(1000, 4, 1, param_bytes=4, grad_bytes=4, optimizer_bytes=0)
    assert sgd.total == 8000
    with pytest.raises(SpecError, match="zero_stage"):
        memory_per_gpu(1000, 4, 4)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10**11), st.integers(1, 4096), st.sampled_from([2.0, 4.0]))
def test_each_stage_needs_at_most_the_previous(psi, n, g):
    totals = [memory_per_gpu(psi, n, s, param_bytes=g, grad_bytes=g).total for s in range(4)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(totals, totals[1:]))
    assert totals[3] == pytest.approx(totals[0] / n, rel=1e-12)


CLUSTER = {"workers": 8, "bandwidth": 1e9, "latency": 1e-5}


def _ring_halves(n, alpha, b, m):
    """(reduce-scatter, all-gather) of a ring: (N-1)(alpha + M/(N B)) each."""
    half = (n - 1) * (alpha + m / (n * b))
    return half, half


def _wl(**kw):
    base = {"parameters": 50_000_000, "compute_time_per_step": 0.2, "steps": 10}
    return {**base, **kw}


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_step_without_overlap(stage):
    wl = _wl(grad_dtype="fp16", update_time=0.016)
    r = simulate(CLUSTER, wl, "ring", zero_stage=stage)
    m = 50_000_000 * 2
    rs, ag = _ring_halves(8, 1e-5, 1e9, m)
    comm = rs + ag + (ag if stage == 3 else 0.0)
    update = 0.016 / 8 if stage else 0.016
    assert r.message_bytes == m
    assert r.comm_s == pytest.approx(comm, rel=1e-12)
    assert r.update_s == pytest.approx(update, rel=1e-12)
    assert r.step_time_s == pytest.approx(0.2 + comm + update, rel=1e-12)
    assert r.zero_stage == stage
    if stage == 3:
        assert [p[0] for p in r.phases] == ["reduce-scatter", "allgather", "forward allgather"]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 64), st.integers(10**5, 10**9), st.sampled_from(["ring", "hd"]))
def test_stage3_moves_one_and_a_half_times_the_bytes(n, params, scheme):
    c = {"workers": n, "bandwidth": 1e9, "latency": 1e-6}
    wl = _wl(parameters=params)
    t0 = simulate(c, wl, scheme, steps_to_sample=1).comm_s
    t1 = simulate(c, wl, scheme, zero_stage=1, steps_to_sample=1).comm_s
    t3 = simulate(c, wl, scheme, zero_stage=3, steps_to_sample=1).comm_s
    assert t1 == pytest.approx(t0, rel=1e-12)
    if scheme == "ring" or n & (n - 1) == 0:  # RS and AG halves are equal
        assert t3 == pytest.approx(1.5 * t0, rel=1e-12)
    else:  # the fold's unfold step goes with the all-gather
        assert t3 > t0


@pytest.mark.parametrize("stage", [1, 3])
def test_overlap_with_equal_buckets(stage):
    # bare count: K equal buckets carry the reduce-scatter (stage 3: + the backward
    # all-gather); the parameter all-gather follows the update
    c, beta, k = 0.2, 2 / 3, 4
    wl = _wl(update_time=0.008)
    r = simulate(CLUSTER, wl, "ring", zero_stage=stage, overlap=True, buckets=k)
    m = 50_000_000 * 4
    rs_b, ag_b = _ring_halves(8, 1e-5, 1e9, m / k)
    unit = rs_b + (ag_b if stage == 3 else 0.0)
    ag_full = _ring_halves(8, 1e-5, 1e9, m)[1]
    sync_end = max(c * (1 - beta + beta / k) + k * unit, c + unit)
    assert r.step_time_s == pytest.approx(sync_end + 0.008 / 8 + ag_full, rel=1e-12)
    assert r.comm_s == pytest.approx(sync_end - c + ag_full, rel=1e-12)


def test_gradient_accumulation_closed_form():
    k = 4
    r = simulate(CLUSTER, _wl(grad_accumulation=k, update_time=0.01), "ring")
    rs, ag = _ring_halves(8, 1e-5, 1e9, 50_000_000 * 4)
    assert r.step_time_s == pytest.approx(k * 0.2 + rs + ag + 0.01, rel=1e-12)
    assert r.global_batch == 8 * 32 * k
    assert r.grad_accumulation == k
    # overlap: only the last micro-batch's backward (beta/k of the step) hides buckets
    o = simulate(CLUSTER, _wl(grad_accumulation=k), "ring", overlap=True, buckets=5)
    u = sum(_ring_halves(8, 1e-5, 1e9, 50_000_000 * 4 / 5))
    beta = (2 / 3) / k
    c = k * 0.2
    assert o.step_time_s == pytest.approx(max(c * (1 - beta + beta / 5) + 5 * u, c + u))


def test_gpu_memory_feasibility():
    c = {**CLUSTER, "gpu_memory": "16GB"}
    wl = _wl(parameters=1_000_000_000, grad_dtype="bf16")
    r0 = simulate(c, wl, "ring", steps_to_sample=1)
    assert r0.memory_per_gpu_bytes == pytest.approx(16e9)  # 16 bytes x 1e9: fits exactly
    assert r0.feasible
    r0 = simulate({**c, "gpu_memory": "15GB"}, wl, "ring", steps_to_sample=1)
    assert not r0.feasible and "gpu_memory" in r0.infeasible_reason
    r2 = simulate({**c, "gpu_memory": "15GB"}, wl, "ring", zero_stage=2, steps_to_sample=1)
    assert r2.memory_per_gpu_bytes == pytest.approx(2e9 + 14e9 / 8)
    assert r2.feasible and r2.infeasible_reason is None
    d = r2.to_dict()
    assert d["memory_params_bytes"] == 2e9 and d["gpu_memory"] == 15e9


def test_bad_settings_name_the_field():
    with pytest.raises(SpecError, match="zero_stage"):
        SyncScheme("ps", zero_stage=1)
    with pytest.raises(SpecError, match="zero_stage"):
        SyncScheme("tree", zero_stage=2)
    with pytest.raises(SpecError, match="zero_stage"):
        SyncScheme("ring", zero_stage=4)
    with pytest.raises(SpecError, match="grad_dtype"):
        Workload(**_wl(grad_dtype="int4"))
    with pytest.raises(SpecError, match="bytes_per_param"):
        Workload(**_wl(grad_dtype="fp32", bytes_per_param=2))
    with pytest.raises(SpecError, match="grad_accumulation"):
        Workload(**_wl(grad_accumulation=0))
    with pytest.raises(SpecError, match="gpu_memory"):
        simulate({**CLUSTER, "gpu_memory": "lots"}, _wl(), "ring")
    w = Workload(**_wl(grad_dtype="bfloat16"))
    assert (w.grad_dtype, w.bytes_per_param) == ("bf16", 2.0)
    assert w.replace(bytes_per_param=4).grad_dtype is None


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_opt.cli", "whatif", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


BASE = ("--workers", "64", "--bandwidth", "100Gbit/s", "--latency", "5us", "--params", "7.5B",
        "--compute-time", "1s", "--samples", "1")  # fmt: skip


def test_cli_zero_stages_memory_and_json():
    p = _cli(*BASE, "--grad-dtype", "fp16", "--zero-stage", "0,1,2,3", "--gpu-memory", "32GB",
             "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["rows"]
    assert [r["zero_stage"] for r in rows] == [0, 1, 2, 3]
    gb = [round(r["memory_per_gpu_bytes"] / 1e9, 1) for r in rows]
    assert gb == [120.0, 31.4, 16.6, 1.9]
    assert [r["feasible"] for r in rows] == [False, True, True, True]
    assert rows[3]["comm_s"] == pytest.approx(1.5 * rows[0]["comm_s"], rel=1e-9)
    table = _cli(*BASE, "--grad-dtype", "fp16", "--zero-stage", "0,3", "--gpu-memory", "32GB")
    assert table.returncode == 0, table.stderr
    assert "(no fit)" in table.stdout and "infeasible: model states need 120 GB" in table.stdout
    assert "ring+zero3" in table.stdout


def test_cli_bucket_mb_and_accumulation():
    p = _cli("--workers", "4", "--bandwidth", "10Gbit/s", "--latency", "5us", "--model",
             "vgg16", "--compute-time", "0.3s", "--overlap", "--bucket-mb", "25,100",
             "--grad-accumulation", "2", "--samples", "1", "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["settings"]["scheme"]["bucket_bytes"] == ["25MiB", "100MiB"]
    assert [r["grad_accumulation"] for r in out["rows"]] == [2, 2]
    assert out["rows"][0]["global_batch"] == 4 * 32 * 2
    table = _cli("--workers", "4", "--bandwidth", "10Gbit/s", "--latency", "5us", "--model",
                 "vgg16", "--compute-time", "0.3s", "--overlap", "--bucket-mb", "25,100",
                 "--grad-accumulation", "2", "--samples", "1")  # fmt: skip
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "setting" in lines[1] and "× 2 micro-batches" in lines[0]
    assert "bucket_bytes=25MiB" in lines[3] and "bucket_bytes=100MiB" in lines[4]


@pytest.mark.parametrize(
    "flags, text",
    [
        (("--zero-stage", "5"), "zero_stage: must be 0, 1, 2 or 3"),
        (("--zero-stage", "2", "--scheme", "ps"), "zero_stage: needs scheme"),
        (("--grad-dtype", "fp8"), "grad_dtype"),
        (("--bucket-mb", "x"), "--bucket-mb: expected a number of MiB"),
        (("--bucket-mb", "5", "--bucket-bytes", "5MB"), "give one"),
        (("--gpu-memory", "-1GB"), "gpu_memory"),
        (("--grad-accumulation", "0"), "grad_accumulation"),
    ],
)
def test_cli_errors_exit_2_with_one_line(flags, text):
    p = _cli(*BASE, *flags)
    assert p.returncode == 2
    assert p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in p.stderr


def test_toml_keys(tmp_path):
    cfg = tmp_path / "zero.toml"
    cfg.write_text(
        "[cluster]\nworkers = 64\nbandwidth = '100Gbit/s'\nlatency = '5us'\n"
        "gpu_memory = '32GB'\n"
        "[workload]\nparameters = '7.5B'\ncompute_time_per_step = '1s'\nsteps = 10\n"
        "grad_dtype = 'fp16'\ngrad_accumulation = 2\noptimizer_bytes_per_param = 12\n"
        "[scheme]\nname = 'ring'\nzero_stage = [1, 2]\nfirst_bucket_bytes = '1MiB'\n"
        "[simulation]\nsteps_to_sample = 1\n"
    )
    p = _cli("--config", str(cfg), "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["rows"]
    assert [round(r["memory_per_gpu_bytes"] / 1e9, 1) for r in rows] == [31.4, 16.6]
    assert all(r["grad_accumulation"] == 2 for r in rows)
    # a flag's bytes_per_param replaces the file's grad_dtype
    p = _cli("--config", str(cfg), "--bytes-per-param", "4", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["rows"][0]["memory_per_gpu_bytes"] == pytest.approx(
        8 * 7.5e9 + 12 * 7.5e9 / 64
    )


# ---------------------------------------------------------------- the planner
def _grid(**scheme):
    return {
        "cluster": {"workers": [4, 8], "bandwidth": "10Gbit/s", "latency": "5us",
                    "compute": {"kind": "lognormal", "sigma": 0.1}, "price_per_node_hour": 3},
        "workload": {"model": "gpt2", "compute_time_per_step": "0.3s", "steps": 100,
                     "grad_dtype": "bf16", "grad_accumulation": [1, 3]},
        "scheme": {"name": "ring", **scheme},
        "simulation": {"steps_to_sample": 20},
    }  # fmt: skip


@pytest.mark.parametrize(
    "scheme",
    [
        {"zero_stage": [0, 1, 3], "overlap": [False, True]},  # per-tensor buckets with overlap
        {"zero_stage": [0, 2], "overlap": True, "buckets": 4},  # equal buckets
        {"fusion_bytes": ["64MiB", "2MiB"], "cycle_time": ["1ms", "5ms"]},
    ],
)
def test_planner_rows_equal_simulate(scheme):
    from tinygrad_opt.cluster.plan_eval import check_row, evaluate_grid

    ev = evaluate_grid(_grid(**scheme))
    assert len(ev.rows) >= 8
    for i in range(len(ev.rows)):
        check_row(ev, i, rel=1e-9)  # every key of the row, against simulate


def test_planner_leaves_out_what_does_not_fit():
    from tinygrad_opt.cluster.planner import Infeasible, plan

    settings = _grid(zero_stage=[0, 1, 2, 3])
    settings["cluster"]["gpu_memory"] = "1GB"  # GPT-2 in bf16 with Adam: 16 x 124M = 2 GB
    p = plan(settings, minimize="time")
    assert all(r["feasible"] for r in p.rows)
    assert {r["zero_stage"] for r in p.rows} == {1, 2, 3}
    assert p.infeasible == 4  # stage 0 on 4 and 8 workers, k = 1 and 3
    settings["cluster"]["gpu_memory"] = "100MB"
    settings["scheme"]["zero_stage"] = [0, 1]
    with pytest.raises(Infeasible, match="gpu_memory.*smallest need is .* ZeRO stages shard"):
        plan(settings)
