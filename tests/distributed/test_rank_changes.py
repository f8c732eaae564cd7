"""Faults a new user meets under real ``mpiexec`` (loopback, hard timeouts): a checkpoint
resumed on another number of ranks, ranks started with different settings, a checkpoint
path that is a symbolic link."""

from __future__ import annotations

import importlib.util
import os
import re
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
_spec = importlib.util.spec_from_file_location("train_job_rank_changes", JOB)
train_job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_job)
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")


def mpirun(n: int, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [MPIEXEC, "-n", str(n), sys.executable, str(JOB), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def params_of(path: Path) -> list[np.ndarray]:
    with np.load(path) as z:
        return [z[f"arr_{i}"] for i in range(6)]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """2 ranks × batch 8 save at step 11 (through a symlink) and crash at 17; and the
    one-process run with the global batch 16 that every resumed run must equal."""
    tmp = tmp_path_factory.mktemp("rank_changes")
    (tmp / "store").mkdir()
    target = tmp / "store" / "ckpt.npz"
    link = tmp / "latest.npz"
    link.symlink_to(target)
    common = ["--optimizer", "adam", "--steps", "30", "--batch", "8"]
    crashed = mpirun(2, str(tmp / "x.npz"), *common, "--save-at", "11", "--ckpt", str(link),
                     "--crash-at", "17", check=False)  # fmt: skip
    assert crashed.returncode != 0
    reference = train_job.run_single("adam", 30, 16)
    return {"tmp": tmp, "link": link, "target": target, "reference": reference}


def test_distributed_checkpoint_symlink_is_written_through(saved):
    link, target = saved["link"], saved["target"]
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.is_file() and target.stat().st_size > 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["ckpt.npz"]  # no temporary


@pytest.mark.parametrize("ranks, batch", [(4, 4), (1, 16), (2, 8)])
def test_resume_on_other_ranks_with_the_same_global_batch_repartitions_exactly(saved, ranks, batch):
    out = saved["tmp"] / f"resumed_{ranks}.npz"
    mpirun(ranks, str(out), "--optimizer", "adam", "--steps", "30", "--batch", str(batch),
           "--resume", str(saved["link"]))  # fmt: skip
    # same examples per step; only the order of the additions over ranks differs
    for a, b in zip(params_of(out), saved["reference"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)


def test_resume_with_another_global_batch_is_refused_on_every_rank(saved):
    out = saved["tmp"] / "refused.npz"
    proc = mpirun(4, str(out), "--optimizer", "adam", "--steps", "30", "--batch", "8",
                  "--resume", str(saved["link"]), check=False)  # fmt: skip
    assert proc.returncode != 0 and not out.exists()
    # the ranks' stderr streams are merged by mpiexec: count messages, not lines
    assert sorted(re.findall(r"train_job: error \(rank (\d)\)", proc.stderr)) == list("0123")
    msg = proc.stderr
    assert "was written by 2 workers × 8 = a global batch of 16" in msg
    assert "this job has 4 workers × 8 = a global batch of 32" in msg
    assert "resume on 2 workers, or with a per-worker batch of 4 on 4" in msg
    assert "trained" not in proc.stdout


def test_ranks_started_with_different_settings_are_stopped_at_set_up(tmp_path):
    """MPMD: ranks 0 and 2 get one seed and batch, rank 1 others; every rank names them."""
    out = tmp_path / "o.npz"

    def part(seed: int, batch: int) -> list[str]:
        return ["-n", "1", sys.executable, str(JOB), str(out), "--steps", "3",
                "--seed", str(seed), "--batch", str(batch)]  # fmt: skip

    cmd = [MPIEXEC, *part(5, 8), ":", *part(6, 4), ":", *part(5, 8)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode != 0 and not out.exists()
    message = (
        "train_job: error: the ranks were started with different settings: "
        "batch: 8 on ranks 0, 2; 4 on rank 1 | seed: 5 on ranks 0, 2; 6 on rank 1"
    )
    assert proc.stderr.count(message) == 3  # the same message on every rank


def test_same_settings_pass_the_check(tmp_path):
    out = tmp_path / "o.npz"
    mpirun(2, str(out), "--steps", "3", "--seed", "7")
    assert out.exists()


EXAMPLE = Path(__file__).parents[2] / "examples" / "train_digits_distributed.py"


def run_example(ranks: int, out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [MPIEXEC, "-n", str(ranks), sys.executable, str(EXAMPLE), "--out", str(out),
           "--no-progress", "--timeout", "30", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=ENV)


def test_the_digits_example_resumes_on_4_ranks_or_says_why_not(tmp_path):
    """2 ranks × 16 train an epoch (42 steps); 4 ranks × 8 go on exactly from step 42;
    4 ranks × 16 (another global batch) are refused with one line and exit code 2 — no
    longer 'trained 0 steps' and exit 0."""
    first = run_example(2, tmp_path, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-2000:]
    refused = run_example(4, tmp_path, "--epochs", "2", "--resume")
    assert refused.returncode == 2 and "trained" not in refused.stdout
    errors = [line for line in refused.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, refused.stderr
    assert "written by 2 workers × 16 = a global batch of 32" in errors[0]
    assert "this job has 4 workers × 16 = a global batch of 64" in errors[0]
    assert "with a per-worker batch of 8 on 4" in errors[0]
    resumed = run_example(4, tmp_path, "--epochs", "2", "--resume", "--batch", "8")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed at step 42" in resumed.stdout and "trained 42 steps" in resumed.stdout


def test_the_digits_example_stops_ranks_started_with_different_seeds(tmp_path):
    def part(seed: str) -> list[str]:
        return ["-n", "1", sys.executable, str(EXAMPLE), "--out", str(tmp_path),
                "--no-progress", "--timeout", "30", "--epochs", "1", "--seed", seed]  # fmt: skip

    proc = subprocess.run([MPIEXEC, *part("0"), ":", *part("1")], capture_output=True,
                          text=True, timeout=120, env=ENV)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [
        "train_digits_distributed: error: the ranks were started with different settings: "
        "seed: 0 on rank 0; 1 on rank 1"
    ]
    assert not (tmp_path / "digits.ckpt").exists()
