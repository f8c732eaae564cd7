"""Chunked, threaded steps for elementwise methods (the contract is in ``optimizer.py``).

A big parameter (or a flat group's buffer, ``flat.py``) is cut into cache-sized chunks;
each chunk runs the method's ``update`` on 1-D views of the parameter, its gradient and
its state arrays, on whichever of a few threads is free (numpy releases the GIL inside
ufuncs). After the last chunk, :meth:`_Task.commit` checks that every chunk computed the
same scalar state and stores it once. Results are bit-identical to one unchunked call.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_opt.optim.optimizer import Optimizer
    from tinygrad_opt.tensor import Tensor

#: Default chunk for elementwise updates, in bytes per array. Measured (2-core AMD EPYC,
#: 1 MiB L2 per core, 32 MiB L3; 2 threads; 10M float32 parameters, ms per step) for
#: chunks of 64 KiB / 256 KiB / 1 MiB / 4 MiB / 8 MiB: SGD-momentum 12.7 / 5.5 / 4.3 /
#: 4.7 / 8.1, Adam 26.9 / 13.0 / 10.7 / 12.3 / 25.2 (unchunked, 1 thread: 12.9 and 35.2);
#: float64 has the same optimum in bytes. Small chunks lose to the per-call overhead and
#: GIL hand-offs between threads, big ones to cache misses between the passes.
DEFAULT_CHUNK_BYTES = 1 << 20

#: Without ``flat``, parameters of at least this many bytes are stepped as tasks spread
#: over the threads (in chunks if big enough); smaller ones are stepped directly, where
#: the hand-off would cost more than the work.
MIN_TASK_BYTES = 128 * 1024


def chunk_elements(opt: Optimizer, dtype: np.dtype) -> int:
    """Elements per chunk for ``dtype``: ``opt.chunk_size``, or 1 MiB worth."""
    if opt.chunk_size is not None:
        return opt.chunk_size
    return max(1, DEFAULT_CHUNK_BYTES // np.dtype(dtype).itemsize)


def queue_parameter(
    opt: Optimizer, p: Tensor, state: dict[str, Any], group: dict[str, Any], tasks: list[_Task]
) -> bool:
    """Queue one parameter's step as chunks if that pays (an elementwise method, a big
    parameter, several threads or several chunks); False: the caller steps it directly."""
    chunk = chunk_elements(opt, p.dtype)
    if not (
        opt.elementwise
        and p.data.nbytes >= MIN_TASK_BYTES
        and (opt.threads > 1 or 0 < chunk < p.size)  # else a task gains nothing
        and _chunkable(p.data, state)
    ):
        return False
    arrays = {k: v.reshape(-1) for k, v in state.items() if isinstance(v, np.ndarray)}
    tasks.append(
        _Task(
            opt,
            group,
            p.data.reshape(-1),
            p.grad.reshape(-1),
            state,
            arrays,
            _chunks(p.size, chunk),
            group.get("maximize", False),
            finish=_PerParameterFinish(p.shape),
        )
    )
    return True


def run_tasks(tasks: list[_Task], threads: int) -> None:
    """Run every chunk of every task, split over ``threads`` threads; then commit."""
    jobs = [(task, c) for task in tasks for c in range(len(task.chunks))]
    queue = _JobQueue(jobs)
    helpers = min(threads, len(jobs)) - 1
    if helpers == 0:
        queue.work()
    else:
        futures = [_thread_pool(helpers).submit(queue.work) for _ in range(helpers)]
        try:
            queue.work()
        except BaseException:
            queue.stop()  # the helpers finish their chunk and take no more
            raise
        finally:
            concurrent.futures.wait(futures)
        for f in futures:
            f.result()  # re-raise the first error of a helper
    for task in tasks:
        task.commit()


class _Task:
    """One owner of state (a parameter, or a flat group) stepped chunk by chunk.

    ``p``, ``g`` and ``arrays`` (the state arrays) are 1-D views of the same length;
    ``state`` is the owner's dict, read (never written) while chunks run. ``gather``, for a
    flat group, is ``(pieces, sources)``: the gradient pieces each chunk copies into ``g``
    first (``sources[i]`` is parameter i's flattened gradient, None if already in place).
    """

    __slots__ = (
        "opt", "group", "p", "g", "state", "arrays", "chunks", "negate", "finish", "gather",
        "results",
    )  # fmt: skip

    def __init__(
        self,
        opt: Optimizer,
        group: dict[str, Any],
        p: np.ndarray,
        g: np.ndarray,
        state: dict[str, Any],
        arrays: dict[str, np.ndarray],
        chunks: list[tuple[int, int]],
        negate: bool,
        finish: Any,
        gather: tuple[list, list] | None = None,
    ) -> None:
        self.opt, self.group, self.p, self.g = opt, group, p, g
        self.state, self.arrays, self.chunks, self.negate = state, arrays, chunks, negate
        self.finish, self.gather = finish, gather
        self.results: list[dict[str, Any] | None] = [None] * len(chunks)

    def run(self, c: int) -> None:
        """Step chunk ``c`` (on any thread): gather, negate if maximizing, update."""
        lo, hi = self.chunks[c]
        if self.gather is not None:
            pieces, sources = self.gather
            for i, src_lo, dst_lo, n in pieces[c]:
                src = sources[i]
                if src is not None:
                    np.copyto(self.g[dst_lo : dst_lo + n], src[src_lo : src_lo + n])
        g = self.g[lo:hi]
        if self.negate:
            g = np.negative(g)
        views = {k: a[lo:hi] for k, a in self.arrays.items()}
        state = {**self.state, **views}
        self.opt.update(self.p[lo:hi], g, state, self.group)
        for k, v in views.items():
            if state.get(k) is not v:
                raise RuntimeError(
                    f"{type(self.opt).__name__}.update() replaced or removed state array "
                    f"{k!r}; an elementwise update must change state arrays in place"
                )
        self.results[c] = state

    def commit(self) -> None:
        """After every chunk ran: check and store the scalar state, join new arrays."""
        name = type(self.opt).__name__
        first = self.results[0]
        assert first is not None
        scalars: dict[str, Any] = {}
        new_arrays: dict[str, np.ndarray] = {}
        for k, v in first.items():
            if k in self.arrays:
                continue
            lo, hi = self.chunks[0]
            if isinstance(v, np.ndarray) and v.shape == (hi - lo,):  # made by this update
                new_arrays[k] = np.concatenate([r[k] for r in self.results])  # type: ignore[index]
                continue
            for r in self.results[1:]:
                if not _same_scalar(r.get(k, _MISSING), v):  # type: ignore[union-attr]
                    raise RuntimeError(
                        f"{name}.update() computed different values of scalar state {k!r} "
                        "on different chunks: scalar state must not depend on array data "
                        "(set elementwise = False for such a method)"
                    )
            scalars[k] = v
        gone = [k for k in self.state if k not in first]
        if gone:
            raise RuntimeError(f"{name}.update() removed state {gone}")
        self.finish.commit(self.state, scalars, new_arrays)


_MISSING = object()


def _same_scalar(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):
        return False


class _PerParameterFinish:
    """Commit for one parameter stepped in chunks (``flat=False``)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def commit(self, state: dict, scalars: dict, new_arrays: dict) -> None:
        state.update(scalars)
        for k, v in new_arrays.items():
            state[k] = v.reshape(self.shape)


def _chunkable(data: np.ndarray, state: dict[str, Any]) -> bool:
    """Whether a parameter and its state can be stepped as 1-D chunks (contiguous, and every
    state array has the parameter's shape)."""
    if not data.flags.c_contiguous:
        return False
    return all(
        v.shape == data.shape and v.flags.c_contiguous
        for v in state.values()
        if isinstance(v, np.ndarray)
    )


def _chunks(n: int, chunk: int) -> list[tuple[int, int]]:
    """``[(lo, hi), ...]`` covering ``range(n)`` in pieces of ``chunk`` (0: one piece)."""
    if n == 0:
        return [(0, 0)]
    chunk = chunk or n
    return [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]


class _JobQueue:
    """Chunks handed out one at a time, so a thread that gets less CPU (a busy machine)
    simply takes fewer chunks instead of making the others wait at the end."""

    def __init__(self, jobs: list[tuple[_Task, int]]) -> None:
        self.jobs, self.next, self.lock = jobs, 0, threading.Lock()

    def work(self) -> None:
        while True:
            with self.lock:
                i = self.next
                self.next = i + 1
            if i >= len(self.jobs):
                return
            task, c = self.jobs[i]
            task.run(c)

    def stop(self) -> None:
        with self.lock:
            self.next = len(self.jobs)


_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers)


def _thread_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """A process-wide pool with at least ``workers`` threads (rebuilt after fork)."""
    global _pool, _pool_key
    with _pool_lock:
        pid = os.getpid()
        if _pool is None or _pool_key[0] != pid or _pool_key[1] < workers:
            old = _pool if _pool_key[0] == pid else None
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="tinygrad_opt-step"
            )
            _pool_key = (pid, workers)
            if old is not None:
                old.shutdown(wait=False)
        return _pool
