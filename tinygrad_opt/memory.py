"""Keep freed array memory in the process, so a training step stops paying page faults.

A training step allocates its activations and gradients afresh (tens to hundreds of MB
for a small transformer) and frees them when the graph is dropped. With glibc's default
settings, freed memory at the top of the heap is handed back to the kernel once more
than a threshold (about twice the largest recent allocation) is free, so the next step
gets fresh pages, and the kernel zeroes each 4 KiB page on first touch: about 0.3 ms per
MB on the development machine, a fifth of the step of ``benchmarks/bench_transformer.py``
(140 MB per step, ~45 ms of a ~230 ms step at one thread).

:func:`retain_freed_memory` raises glibc's trim threshold (memory stays in the process,
reused by the next step without faults) and fixes the size from which ``malloc`` maps
blocks of their own (returned on ``free``), via ``mallopt``. It is opt-in because it is
process-wide: the process keeps its high-water mark of memory (other libraries in the
process, torch included, get the same treatment). On a system without glibc it does
nothing and returns False. The same effect without code: run with the environment
variables ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_`` set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["retain_freed_memory"]

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper limit on 64-bit systems (HEAP_MAX_SIZE / 2)
_INT_MAX = (1 << 31) - 1


def retain_freed_memory(
    trim_threshold: int = 1 << 30, mmap_threshold: int = _MMAP_THRESHOLD_MAX
) -> bool:
    """Tell glibc's ``malloc`` to keep up to ``trim_threshold`` bytes of freed memory at
    the top of the heap (default 1 GiB) and to serve blocks below ``mmap_threshold``
    bytes (default and at most 32 MiB) from the heap. Returns True when applied, False
    where there is no glibc (macOS, Windows, musl). Raises ValueError for a threshold out
    of range."""
    if not 0 <= int(trim_threshold) <= _INT_MAX:
        raise ValueError(
            f"retain_freed_memory: trim_threshold must be in [0, {_INT_MAX}] (a C int), "
            f"got {trim_threshold}"
        )
    if not 0 <= int(mmap_threshold) <= _MMAP_THRESHOLD_MAX:
        raise ValueError(
            f"retain_freed_memory: mmap_threshold must be in [0, {_MMAP_THRESHOLD_MAX}] "
            f"(glibc's limit), got {mmap_threshold}"
        )
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok_trim = mallopt(_M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    return ok_trim and ok_mmap


def _mallopt():
    """glibc's ``mallopt(int, int) -> int``, or None where there is no glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (only glibc has it: musl's mallopt is a stub)
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn
