"""Smoke test of benchmarks/bench_distributed.py: ``--quick`` runs and reports every part.

No timing is asserted (the machine is shared); only that the final JSON line holds every
expected key with positive, finite numbers. The run goes under the shared measurement
lock (``flock /tmp/tinygrad_measure.lock``) when ``flock`` exists, so it does not disturb
another benchmark; if the lock stays taken too long the test is skipped.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py")
pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="mpiexec not found")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_distributed.py"
LOCK = "/tmp/tinygrad_measure.lock"
LOCK_WAIT_S = 120
LOCK_BUSY = 75  # flock's exit code when the lock stayed taken for LOCK_WAIT_S


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_quick_bench_reports_every_part():
    cmd = [sys.executable, str(BENCH), "--quick"]
    if shutil.which("flock"):
        cmd = ["flock", "-w", str(LOCK_WAIT_S), "-E", str(LOCK_BUSY), LOCK, *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LOCK_WAIT_S + 120)
    if proc.returncode == LOCK_BUSY and cmd[0] == "flock":
        pytest.skip(f"{LOCK} stayed taken for {LOCK_WAIT_S} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["benchmark"] == "bench_distributed"
    assert out["config"]["quick"] is True

    table = out["overhead"]["table"]
    assert set(table) == {f"{s:g}MB" for s in out["config"]["sizes"]}
    for row in table.values():
        keys = [
            "raw_ms",
            "raw_bucket_layout_ms",
            "raw_bucket_layout_mean_ms",
            "ours_split_wait_ms",
            "ours_no_split_wait_ms",
            "ours_split_wait_trace_sync_ms",
            "ours_no_split_wait_trace_sync_ms",
            "raw_GBps",
            "ratio_split_wait",
            "ratio_no_split_wait",
            "ours_prescaled_ms",
            "ratio_prescaled",
        ]
        for key in keys:
            assert _positive(row[key]), (key, row)
        assert row["buckets"] >= 1
    labels = ("split_wait=True", "split_wait=False", "dopt.backward (pre-divided)")
    assert {t["target"] for t in out["targets"]} == {
        f"overhead {size} {label}: ours / raw Allreduce" for size in table for label in labels
    }
    assert all(t["met"] == (t["ratio"] <= t["limit"]) for t in out["targets"])

    buckets = out["buckets"]
    assert buckets["buckets"] == {"bucketed": 1, "per-tensor": buckets["tensors"]}
    for key in ("ours bucketed", "ours per-tensor", "raw bucketed", "raw per-tensor"):
        assert _positive(buckets["ms"][key]), key
    assert _positive(buckets["speedup"]) and _positive(buckets["raw_speedup"])

    scaling = out["scaling"]
    assert set(scaling["table"]) == {"allreduce", "ps"}
    for mode, rows in scaling["table"].items():
        assert set(rows) == {"1", "2"}, mode
        for row in rows.values():
            assert _positive(row["step_ms"]) and _positive(row["efficiency"]), (mode, row)
            assert row["phase_ms"]["compute"] > 0, (mode, row)
        assert rows["1"]["efficiency"] == 1.0
    assert scaling["table"]["allreduce"]["2"]["phase_ms"]["comm"] > 0
    assert _positive(scaling["plain_1rank_step_ms"])
