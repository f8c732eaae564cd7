"""retain_freed_memory: freed array memory stays in the process (glibc), bad thresholds fail.

The effect is checked in a child process (the setting is process-wide): 20 arrays of
8 MB are filled and freed; with the setting the resident size stays up, without it the
memory goes back to the kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinygrad_opt.memory import _mallopt, retain_freed_memory

CHILD = """
import sys, numpy as np
from tinygrad_opt.memory import retain_freed_memory
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
before = rss_mb()
arrays = [np.ones(2 << 20, dtype=np.float32) for _ in range(20)]  # 20 x 8 MB, touched
peak = rss_mb()
del arrays
print(peak - before, rss_mb() - before)
"""

glibc = pytest.mark.skipif(_mallopt() is None, reason="needs glibc's mallopt")


def _child(mode: str) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, env=env, check=True
    )
    grown, kept = map(float, out.stdout.split())
    return grown, kept


@glibc
def test_freed_arrays_stay_resident_only_with_the_setting():
    grown, kept = _child("retain")
    assert grown > 150 and kept > 0.9 * grown  # ~160 MB touched, all of it kept
    grown, kept = _child("default")
    assert grown > 150 and kept < 0.2 * grown  # handed back to the kernel


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"trim_threshold": -1}, "trim_threshold must be in"),
        ({"trim_threshold": 1 << 31}, "trim_threshold must be in"),
        ({"mmap_threshold": 64 << 20}, r"mmap_threshold must be in \[0, 33554432\]"),
    ],
)
def test_thresholds_out_of_range_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        retain_freed_memory(**kwargs)
