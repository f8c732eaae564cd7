"""Intra-op threads for the engine's big elementwise kernels (as torch's intra-op threads).

numpy's BLAS runs a matrix product on several threads, but numpy's elementwise ufuncs
run on one. A fused kernel that makes several passes over a large array (the tanh GELU's
forward and backward) can instead cut the array into cache-sized chunks and run each
chunk's whole chain of in-place ufuncs on whichever thread is free: numpy releases the
GIL inside ufuncs, so the chunks run in parallel, and each chunk's passes hit the cache
(faster than whole-array passes even on one thread).

:func:`set_num_threads` / :func:`get_num_threads` are torch's names: how many threads
:func:`for_each_chunk` uses (default: the CPUs this process may run on, at most 8, and at
most ``OMP_NUM_THREADS`` when set). They do not change numpy's BLAS threads (use
``threadpoolctl`` or ``OPENBLAS_NUM_THREADS`` for those) nor an optimizer's ``threads``.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable

import numpy as np

__all__ = [
    "CHUNK_ELEMENTS",
    "default_threads",
    "for_each_chunk",
    "get_num_threads",
    "scratch",
    "set_num_threads",
]

#: Elements per chunk (float32: 256 KiB per array, so a chunk's few arrays stay in a
#: 1 MiB L2 cache across the passes).
CHUNK_ELEMENTS = 1 << 16

_state: dict[str, int | None] = {"threads": None}
_pool_lock = threading.Lock()
_pool: list[concurrent.futures.ThreadPoolExecutor] = []
_local = threading.local()


def default_threads() -> int:
    """The CPUs this process may run on, at most 8 (elementwise kernels are memory-bound
    beyond that), and at most ``OMP_NUM_THREADS`` when that is set (as torch's intra-op
    threads): MPI ranks sharing a machine each get one thread (``tinygrad-opt launch``
    sets it), so they do not fight over the cores."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    return max(1, min(n, 8))


def get_num_threads() -> int:
    """Threads the chunked elementwise kernels use."""
    n = _state["threads"]
    return default_threads() if n is None else n


def set_num_threads(n: int) -> None:
    """Use ``n`` threads (>= 1) for the chunked elementwise kernels from now on."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an integer >= 1, got {n!r}")
    _state["threads"] = n


def _executor(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    with _pool_lock:
        if not _pool or _pool[0]._max_workers < workers:
            if _pool:
                _pool[0].shutdown(wait=False)
            _pool[:] = [
                concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="tinygrad-op")
            ]
        return _pool[0]


def for_each_chunk(fn: Callable[[int, int], object], n: int, chunk: int = CHUNK_ELEMENTS) -> None:
    """Call ``fn(start, stop)`` for consecutive ranges of about ``chunk`` of ``range(n)``,
    spread over :func:`get_num_threads` threads (the caller's among them); returns when
    all are done, re-raising the first exception. ``fn`` must only write its own range."""
    if n <= 0:
        return
    chunk = max(1, int(chunk))
    count = -(-n // chunk)
    threads = min(get_num_threads(), count)
    if threads <= 1:
        for start in range(0, n, chunk):
            fn(start, min(start + chunk, n))
        return
    # Chunks are claimed one at a time; the caller waits only for chunks another thread
    # has claimed, never for a worker that has not started (on a busy machine that could
    # be a whole scheduler time slice): a late worker finds nothing left and returns.
    cond = threading.Condition()
    state = {"next": 0, "running": 0}
    errors: list[BaseException] = []

    def work() -> None:
        while True:
            with cond:
                i = state["next"]
                if i >= count:
                    return
                state["next"] = i + 1
                state["running"] += 1
            try:
                fn(i * chunk, min((i + 1) * chunk, n))
            except BaseException as e:  # noqa: BLE001 (re-raised by the caller below)
                errors.append(e)
                with cond:
                    state["next"] = count  # nobody claims another chunk
            finally:
                with cond:
                    state["running"] -= 1
                    if state["running"] == 0:
                        cond.notify_all()

    pool = _executor(threads - 1)
    for _ in range(threads - 1):
        pool.submit(work)
    work()
    with cond:
        cond.wait_for(lambda: state["running"] == 0)
    if errors:
        raise errors[0]


def scratch(n: int, dtype: np.dtype) -> np.ndarray:
    """A 1-D work array of ``n`` elements of ``dtype``, owned by the calling thread and
    reused by its next call (contents undefined): a chunk's temporary, allocated once."""
    dtype = np.dtype(dtype)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(dtype)
    if buf is None or buf.size < n:
        buf = buffers[dtype] = np.empty(max(n, CHUNK_ELEMENTS), dtype)
    return buf[:n]
