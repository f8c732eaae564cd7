"""Real MPI runs (``mpiexec`` on loopback): data-parallel training equals one process.

Every run has a hard timeout; the tests are skipped when mpi4py or mpiexec is missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py")
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found")

JOB = Path(__file__).parents[1] / "mpi" / "train_job.py"
_spec = importlib.util.spec_from_file_location("train_job", JOB)
train_job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_job)


def mpirun(n: int, *args: str, timeout: float = 120, check: bool = True):
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [MPIEXEC, "-n", str(n), sys.executable, str(JOB), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def params_of(path: Path) -> list[np.ndarray]:
    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(6)]


def assert_params_close(ours: list[np.ndarray], ref: list[np.ndarray], tol: float) -> None:
    for a, b in zip(ours, ref):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=tol)


CASES = [
    # (ranks, workers, mode, extra flags)
    (2, 2, "allreduce", []),
    (4, 4, "allreduce", []),
    (4, 4, "allreduce", ["--prescale"]),  # dopt.backward: gradients pre-divided by N
    (2, 2, "ps", []),
    (4, 4, "ps", []),
    (4, 4, "ps", ["--servers", "3"]),
    (3, 2, "ps", ["--placement", "dedicated"]),
    (5, 3, "ps", ["--placement", "dedicated", "--servers", "2"]),
]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("ranks,workers,mode,extra", CASES)
def test_synchronous_sgd_equals_single_process(tmp_path, optimizer, ranks, workers, mode, extra):
    """N workers with batch b each == one process with batch N·b, 50 steps, to 1e-9."""
    out = tmp_path / "out.npz"
    mpirun(ranks, str(out), "--mode", mode, "--optimizer", optimizer, "--steps", "50", *extra)
    ref = train_job.run_single(optimizer, steps=50, global_batch=8 * workers)
    start = train_job.build(optimizer)[2].parameters()
    moved = max(float(np.abs(r - s.data).max()) for r, s in zip(ref, start))
    assert moved > 0.05  # the reference really trained
    assert_params_close(params_of(out), ref, 1e-9)


def test_backup_workers_use_the_first_n_gradients(tmp_path):
    """4 workers, 1 backup, plain SGD: every step's update is -lr × the mean of exactly the
    3 logged accepted workers' gradients of that step; the deliberately slow rank 3 is
    mostly dropped, and skips ahead instead of falling further behind."""
    out = tmp_path / "out.npz"
    lr, steps = 0.05, 12
    mpirun(4, str(out), "--mode", "ps", "--optimizer", "plain", "--backup", "1",
           "--slow-rank", "3", "--steps", str(steps))  # fmt: skip
    with np.load(out) as z:
        accepted = json.loads(str(z["accepted"]))[0]  # rank 0 = the server's log
        grads = {r: {int(row[0]): row[1:] for row in z[f"grads_{r}"]} for r in range(4)}
        before = z["before"]  # rank 0 computes every step: parameters before step s
        final = np.concatenate([z[f"arr_{i}"].ravel() for i in range(6)])
    assert [a["step"] for a in accepted] == list(range(steps))
    assert sorted(grads[0]) == list(range(steps))
    after = np.vstack([before[1:], final])
    dropped_3 = 0
    for a in accepted:
        s, ranks = a["step"], a["accepted"]
        assert len(ranks) == 3 and len(set(ranks)) == 3
        assert sorted(ranks + a["dropped"]) == [0, 1, 2, 3]
        expected = before[s] - lr * np.mean([grads[r][s] for r in ranks], axis=0)
        np.testing.assert_allclose(after[s], expected, rtol=0, atol=1e-12)
        dropped_3 += 3 not in ranks
    assert dropped_3 >= 8  # 30 ms slower every step: late almost always
    assert len(grads[3]) < steps  # ... so it skipped steps to catch up


@pytest.mark.parametrize(
    "ranks,flags",
    [
        (2, ["--mode", "allreduce"]),
        (2, ["--mode", "ps"]),
        (4, ["--mode", "ps", "--placement", "dedicated", "--servers", "2"]),
    ],
)
def test_restart_from_checkpoint_is_bit_identical(tmp_path, ranks, flags):
    """Save at step 11, crash at 17, restart from the file: the same bits as a run that
    never stopped (model, Adam state, sampler position and step counter all restored)."""
    ckpt = tmp_path / "ckpt.npz"
    full, resumed = tmp_path / "full.npz", tmp_path / "resumed.npz"
    common = [*flags, "--optimizer", "adam", "--steps", "30"]
    mpirun(ranks, str(full), *common)
    crashed = mpirun(ranks, str(tmp_path / "x.npz"), *common, "--save-at", "11",
                     "--ckpt", str(ckpt), "--crash-at", "17", check=False)  # fmt: skip
    assert crashed.returncode != 0 and ckpt.exists()
    mpirun(ranks, str(resumed), *common, "--resume", str(ckpt))
    for a, b in zip(params_of(resumed), params_of(full)):
        assert np.array_equal(a, b)


def test_trace_is_written_and_drawn(tmp_path):
    trace = tmp_path / "trace.json"
    mpirun(2, str(tmp_path / "o.npz"), "--mode", "ps", "--steps", "6", "--trace", str(trace))
    from tinygrad_opt.distributed import load_trace, summarize_trace, trace_events

    data = load_trace(trace)
    assert data["world_size"] == 2 and [r["rank"] for r in data["ranks"]] == [0, 1]
    for r in data["ranks"]:
        steps = sorted({e[0] for e in r["events"]})
        assert steps == list(range(6))
        kinds = {e[1] for e in r["events"]}
        assert {"compute", "send", "recv"} <= kinds or {"compute", "update"} <= kinds
        for _, _, a, b in r["events"]:
            assert 0 <= a <= b
    summary = summarize_trace(data)
    assert summary["steps"] == 4 and summary["mean_step_s"] > 0
    events = trace_events(data)
    assert {e["row"] for e in events} == {"worker 0", "worker 1"}
    png = tmp_path / "gantt.png"
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_opt.cli", "timeline", "--trace", str(trace),
         "--out", str(png)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert png.stat().st_size > 5000


def test_noise_scale_estimate_matches_per_example_gradients(tmp_path):
    """With lr=0 the parameters stay put, so B_simple = tr(Σ)/|G|² can be computed from
    the per-example gradients; the data-parallel estimate (4 ranks, 300 steps) agrees."""
    out = tmp_path / "o.npz"
    mpirun(4, str(out), "--mode", "allreduce", "--optimizer", "plain", "--lr", "0",
           "--steps", "300", "--noise-scale", "--prescale")  # fmt: skip
    with np.load(out) as z:
        estimate = float(z["noise"])
    X, y, model, _ = train_job.build("plain")
    per_example = []
    for i in range(len(X)):
        for p in model.parameters():
            p.grad = None
        train_job.loss_of(model, X, y, np.array([i])).backward()
        per_example.append(np.concatenate([p.grad.ravel() for p in model.parameters()]))
    G = np.array(per_example)
    mean = G.mean(axis=0)
    trace_sigma = ((G - mean) ** 2).sum(axis=1).mean()
    truth = trace_sigma / (mean @ mean)
    assert 0.75 * truth < estimate < 1.33 * truth, (estimate, truth)
