"""examples/train_digits_distributed.py under real ``mpiexec``: it learns, writes a trace
that loads, and a run resumed from its checkpoint ends bit-identical to an uninterrupted one.

Every run has a hard timeout; skipped when mpi4py or mpiexec is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found")

EXAMPLE = Path(__file__).parents[2] / "examples" / "train_digits_distributed.py"
EPOCHS = 3  # 2 workers x batch 16: 42 steps an epoch


def run_example(ranks: int, out: Path, *args: str, timeout: float = 90) -> dict[str, str]:
    """Run the example on ``ranks`` ranks; returns its parsed summary lines."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    cmd = [MPIEXEC, "-n", str(ranks), sys.executable, str(EXAMPLE), "--out", str(out),
           "--no-progress", "--timeout", "30", *args]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
            f"{proc.stderr[-3000:]}"
        )
    lines = proc.stdout.strip().splitlines()
    acc = re.fullmatch(r"test accuracy (\d\.\d+)", lines[-1])
    digest = re.fullmatch(r"parameters sha256 ([0-9a-f]{16})", lines[-2])
    assert acc and digest, proc.stdout
    return {"accuracy": acc.group(1), "digest": digest.group(1), "stdout": proc.stdout}


@pytest.fixture(scope="module")
def allreduce_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("allreduce")
    return out, run_example(2, out, "--epochs", str(EPOCHS))


def test_allreduce_learns_and_writes_a_trace(allreduce_run):
    from tinygrad_opt.distributed import load_trace, summarize_trace

    out, result = allreduce_run
    assert float(result["accuracy"]) >= 0.9
    trace = load_trace(out / "digits_trace.json")
    assert trace["world_size"] == 2 and trace["meta"]["mode"] == "allreduce"
    assert [r["rank"] for r in trace["ranks"]] == [0, 1]
    steps = {e[0] for r in trace["ranks"] for e in r["events"]}
    assert steps == set(range(EPOCHS * 42))
    assert summarize_trace(trace)["mean_step_s"] > 0
    assert (out / "digits.ckpt").exists()
    assert f"checkpoint {out / 'digits.ckpt'} (step {EPOCHS * 42})" in result["stdout"]


def test_dedicated_parameter_server_computes_the_same_numbers(tmp_path, allreduce_run):
    """3 ranks = 1 dedicated server + 2 workers: the server averages the same two
    gradients the 2-rank all-reduce sums (a + b is exact to commute), so the final
    parameters are bit-identical."""
    from tinygrad_opt.distributed import load_trace

    result = run_example(3, tmp_path, "--mode", "ps", "--placement", "dedicated",
                         "--epochs", str(EPOCHS))  # fmt: skip
    assert float(result["accuracy"]) >= 0.9
    assert result["digest"] == allreduce_run[1]["digest"]
    trace = load_trace(tmp_path / "digits_trace.json")
    roles = {r["rank"]: r["role"] for r in trace["ranks"]}
    assert roles == {0: "server", 1: "worker", 2: "worker"}
    assert (tmp_path / "digits.ckpt").exists()  # written by rank 0, the server


def test_resumed_run_ends_where_the_uninterrupted_run_ends(tmp_path, allreduce_run):
    first = run_example(2, tmp_path, "--epochs", str(EPOCHS - 1))
    assert first["digest"] != allreduce_run[1]["digest"]
    resumed = run_example(2, tmp_path, "--epochs", str(EPOCHS), "--resume")
    assert f"resumed at step {(EPOCHS - 1) * 42}" in resumed["stdout"]
    assert "trained 42 steps" in resumed["stdout"]
    assert resumed["digest"] == allreduce_run[1]["digest"]
    assert resumed["accuracy"] == allreduce_run[1]["accuracy"]
