"""Lost ranks and mismatched set-ups, with real ``mpiexec`` runs on loopback.

Each run of ``tests/mpi/fault_job.py`` has a hard subprocess timeout, carries a unique
``--tag`` so the test can check that no process of it is left, and (for faults) writes
the moment of the fault so the test times fault -> end of job, start-up excluded. The
tests are skipped when mpi4py or mpiexec is missing.

Hydra (MPICH's mpiexec) SIGKILLs every rank as soon as one exits non-zero, so a crashed
rank can only be named by the others when the job runs with ``-disable-auto-cleanup``;
those runs also show that the ranks end by themselves, without the launcher's help.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not found")

from tinygrad_opt.distributed import faults  # noqa: E402

JOB = Path(__file__).parents[1] / "mpi" / "fault_job.py"
HARD_LIMIT = 60.0  # seconds: no run may take longer, whatever goes wrong
# fault -> job ended, beyond the timeout: watchdog poll (<= 0.25 s), asking the peers,
# the grace period (0.5 s), process exits and mpiexec's own shutdown, on a busy box
MARGIN = 3.0
SLOW = 30.0  # a timeout long enough that reaching it would fail the test


@dataclass
class Run:
    returncode: int
    output: str  # stdout + stderr
    elapsed: float  # launch -> end, seconds
    after_fault: float | None  # fault -> end, seconds (None: no fault happened)


def _processes_with(tag: str) -> list[int]:
    """PIDs whose command line contains ``tag`` (Linux /proc; empty elsewhere)."""
    pids = []
    for d in Path("/proc").glob("[0-9]*"):
        try:
            if tag.encode() in (d / "cmdline").read_bytes():
                pids.append(int(d.name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


def run_job(n: int, *args: str, timeout: float, tmp_path: Path, auto_cleanup: bool = True) -> Run:
    tag = uuid.uuid4().hex
    fault_file = tmp_path / f"fault-{tag}.txt"
    cmd = [MPIEXEC] + ([] if auto_cleanup else ["-disable-auto-cleanup"])
    cmd += ["-n", str(n), sys.executable, str(JOB), "--timeout", str(timeout)]
    cmd += ["--tag", tag, "--fault-file", str(fault_file), *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=HARD_LIMIT, env=env)
    except subprocess.TimeoutExpired as e:
        for pid in _processes_with(tag):
            os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"{' '.join(cmd)} did not end within {HARD_LIMIT} s:\n{e}") from e
    end_wall, elapsed = time.time(), time.monotonic() - start
    deadline = time.monotonic() + 3.0  # ranks that mpiexec no longer waits for
    while (left := _processes_with(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the job were still running after it ended: {left}"
    after = end_wall - float(fault_file.read_text()) if fault_file.exists() else None
    return Run(proc.returncode, proc.stdout + proc.stderr, elapsed, after)


def ours(output: str) -> list[str]:
    """The lines the fault handling printed."""
    return [ln for ln in output.splitlines() if ln.startswith(faults.PREFIX)]


def lost_ranks(output: str) -> set[int]:
    return {int(r) for r in re.findall(r"lost rank (\d+)", output)}


# ---------------------------------------------------------------------------- clean runs
@pytest.mark.parametrize("n,mode", [(2, "allreduce"), (4, "ps")])
def test_a_clean_run_exits_zero_and_prints_nothing(tmp_path, n, mode):
    run = run_job(n, "--mode", mode, timeout=3, tmp_path=tmp_path)
    assert run.returncode == 0, run.output
    assert run.output == ""


def test_a_run_longer_than_the_timeout_is_not_ended(tmp_path):
    """40 steps of 50 ms compute on both ranks (2 s) with timeout=1 s: only waiting
    longer than the timeout counts, and nobody does."""
    run = run_job(2, "--steps", "40", "--sleep", "0.05", timeout=1, tmp_path=tmp_path)
    assert run.returncode == 0, run.output
    assert run.output == ""
    assert run.elapsed > 2.0


# ---------------------------------------------------------------------------- lost ranks
def test_a_crashed_rank_is_named_by_the_others(tmp_path):
    """Rank 2 of 4 exits (os._exit(9)) at step 5; hydra does not clean up, so the other
    ranks must time out, find that rank 2 does not answer, say so and exit."""
    t = 3.0
    run = run_job(
        4, "--fault", "crash", "--rank", "2", "--step", "5",
        timeout=t, tmp_path=tmp_path, auto_cleanup=False,
    )  # fmt: skip
    assert run.returncode != 0
    lines = ours(run.output)
    assert lines, run.output
    assert lost_ranks(run.output) == {2}, run.output
    assert "no answer" in run.output and "crashed?" in run.output
    for r in (0, 1, 3):  # every survivor either found the lost rank or was told
        assert any(ln.startswith(f"{faults.PREFIX}rank {r} ") for ln in lines), run.output
    assert t <= run.after_fault <= t + MARGIN, run.after_fault


def test_a_crash_under_default_mpiexec_ends_the_job_at_once(tmp_path):
    """With hydra's default clean-up the crash takes every rank down immediately (its
    banner names the PID and exit code; no rank lives to name rank 1)."""
    run = run_job(2, "--fault", "crash", "--rank", "1", timeout=SLOW, tmp_path=tmp_path)
    assert run.returncode != 0
    assert run.after_fault < MARGIN, run.after_fault


@pytest.mark.parametrize(
    "n,mode,auto_cleanup", [(2, "allreduce", True), (4, "ps", False)], ids=["allreduce", "ps"]
)
def test_a_hung_rank_is_named_and_the_job_ends(tmp_path, n, mode, auto_cleanup):
    """Rank 1 sleeps 1000 s in the compute of step 5. The ranks waiting for it give up
    after the timeout, name it as hung, and tell everyone (the hung rank included) to
    stop; in the ps run hydra does not help, so every rank must end by itself."""
    t = 3.0
    run = run_job(
        n, "--mode", mode, "--fault", "hang", "--rank", "1", "--step", "5",
        timeout=t, tmp_path=tmp_path, auto_cleanup=auto_cleanup,
    )  # fmt: skip
    assert run.returncode != 0
    assert lost_ranks(run.output) == {1}, run.output
    assert "computing step 5" in run.output and "hung?" in run.output
    waited = re.search(r"waited ([\d.]+) s in '([^']+)' at step 5", run.output)
    assert waited and float(waited.group(1)) >= t, run.output
    if not auto_cleanup:
        for r in range(n):
            assert any(ln.startswith(f"{faults.PREFIX}rank {r} ") for ln in ours(run.output))
    assert t <= run.after_fault <= t + MARGIN, run.after_fault


def test_an_exception_on_one_rank_ends_the_job(tmp_path):
    """Rank 1 raises at step 5: it prints its traceback and a line naming itself, tells
    rank 0 (stuck in the barrier) to stop, and nobody waits for the timeout."""
    run = run_job(
        2, "--fault", "raise", "--rank", "1", "--step", "5",
        timeout=SLOW, tmp_path=tmp_path, auto_cleanup=False,
    )  # fmt: skip
    assert run.returncode != 0
    assert "Traceback" in run.output
    assert re.search(
        r"rank 1 \(host [^)]+\) failed at step 5: RuntimeError: injected failure on rank 1",
        run.output,
    ), run.output
    assert re.search(r"rank 0 \(host [^)]+\) stops \(waiting in ", run.output), run.output
    assert run.after_fault < MARGIN, run.after_fault


# ---------------------------------------------------------------------------- set-ups
@pytest.mark.parametrize(
    "mismatch,extra,difference",
    [
        pytest.param("lr", [], "lr: '0.05' vs '0.1'", id="lr"),
        pytest.param("layer", ["--no-broadcast"], "16 vs 17", id="layer"),
        pytest.param("layer", [], "16 vs 17", id="layer-broadcast-first"),
    ],
)  # fmt: skip
def test_a_mismatched_setup_is_a_clear_error_at_start_up(tmp_path, mismatch, extra, difference):
    """Rank 1 builds a different optimizer (lr) or model (hidden width): the job stops at
    start-up with SetupMismatchError naming rank 1 and the difference, long before the
    watchdog's timeout."""
    run = run_job(2, "--mismatch", mismatch, "--rank", "1", *extra, timeout=SLOW, tmp_path=tmp_path)
    assert run.returncode != 0
    assert "SetupMismatchError" in run.output, run.output
    line = next(ln for ln in ours(run.output) if "SetupMismatchError" in ln)
    assert "failed during set-up" in line
    assert "rank 1: " in line and difference in line, line
    assert run.after_fault is None and run.elapsed < SLOW / 2, run.elapsed


# ---------------------------------------------------------------------------- in process
def test_without_a_watchdog_the_hooks_are_no_ops():
    class Ctx:
        watchdog = None

    ctx = Ctx()
    with faults.waiting(ctx, "all-reduce", 3):
        pass
    faults.computing(ctx, 4)
    assert faults.start_watchdog(type("C", (), {"timeout": None, "world_size": 4})()) is None
    assert faults.start_watchdog(type("C", (), {"timeout": 5.0, "world_size": 1})()) is None


def test_launch_with_rank_timeout_names_a_crashed_rank(tmp_path):
    """`tinygrad-opt launch --rank-timeout 3` gives the script's dist.init() its timeout
    (TINYGRAD_OPT_TIMEOUT) and keeps hydra from killing the survivors of a crash, so they
    can name the crashed rank."""
    tag = uuid.uuid4().hex
    cmd = [
        sys.executable, "-m", "tinygrad_opt.cli", "launch", "-n", "3", "--rank-timeout", "3",
        "--timeout", str(HARD_LIMIT), str(JOB), "--timeout", "0", "--fault", "crash",
        "--rank", "1", "--step", "4", "--tag", tag,
    ]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=HARD_LIMIT + 10)
    elapsed = time.monotonic() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert lost_ranks(output) == {1}, output
    assert elapsed < 3 + 15, elapsed
    deadline = time.monotonic() + 3.0
    while _processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _processes_with(tag)
