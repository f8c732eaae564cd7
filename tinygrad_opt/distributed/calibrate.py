"""``tinygrad-opt calibrate``: measure this machine, fit the simulator to it, write a TOML file.

The simulator (:mod:`tinygrad_opt.cluster`) predicts a step of synchronous SGD from a few
numbers: the latency ``α`` and bandwidth ``B`` of the alpha-beta model, the compute time
of a step and its spread, the update time, and how much workers that share a machine
slow each other down. This module measures them with short MPI jobs that it starts
itself (``mpiexec -n K python -m tinygrad_opt.distributed.calibrate --job ...``):

0. **Adding** at one rank: the time of ``np.add(a, b, out=a)`` on float32 buffers of
   every sweep size (out of the cache where large) gives the *reduce bandwidth* ``R``
   (:func:`time_reduce`, :func:`fit_reduce_bandwidth`): the cost of summing gradients,
   Thakur's ``γ = 1/R``. A parameter server adds ``K − 1`` gradients into its own at
   every step; with 20 MB gradients that is milliseconds, not hidden by anything.
1. **Collective sweep** at every rank count ``K > 1``: the all-reduce as the core runs it
   (``Barrier``, then ``Allreduce``) and the parameter-server pattern (every worker sends
   ``M`` bytes to rank 0, which adds them up and sends ``M`` bytes back to each), for
   ``M`` from 8 bytes up to the largest model's gradient. One least-squares fit of all
   of them to the simulator's own formulas (:func:`collective_coefficients`, relative
   errors), with the adding at ``R`` taken out, gives ``α`` and ``B``::

       all-reduce (ring)            T = s(K) · [2(K−1)·α + 2(K−1)/K · M/B + (K−1)/K · M/R]
       parameter server (rank 0)    T = 2α + 2(K−1) · M/B + s(K) · (K−1) · M/R

   ``s(K)`` is the CPU oversubscription below: on one machine MPI moves the bytes with
   CPU copies through shared memory, and in an all-reduce every rank copies at every
   step, so a rank that runs ``1/s`` of the time moves its share ``s`` times slower. The
   parameter server's exchange is paced by the server alone and is not slowed, its
   adding is (:mod:`tinygrad_opt.cluster.collectives`).
2. **Contention probe** at every ``K``: all ranks train the same model at the same time
   without communicating. The slow-down of the forward+backward pass against one rank
   gives the node's *effective cores* ``c`` (compute is CPU-bound: ``s(K) = max(1, K/c)``,
   :func:`fit_effective_cores`), that of the optimizer update its *memory streams* ``m``
   (an update streams parameters, gradients and optimizer state; updates whose data do
   not fit in the last-level cache together share the memory bandwidth,
   :func:`fit_memory_streams`).
3. **A few training steps at one rank** per model size and mode: the compute time per
   step (the trace's ``compute``), its spread (lognormal ``σ`` of the per-step times)
   and the update time (everything after the compute: dividing or averaging the
   gradient, the optimizer step).
4. **Turn probe** at the largest rank count with more ranks than whole cores, per model
   size and mode, in one job: each rank in turn trains the model alone, then every rank
   trains it in the mode's pattern, but with 64-byte messages (:func:`probe_turns`).
   The simulator, with everything above and the loop's own compute and update times
   alone, predicts the loop's step without turns (:func:`turn_probe_settings`); what
   the loop takes beyond that is the waiting for turns on the cores around the
   synchronisations,
   ``turn_time`` (:func:`fit_turn_time`, :attr:`ClusterSpec.turn_wait
   <tinygrad_opt.cluster.ClusterSpec.turn_wait>`). It depends on the work between
   synchronisations (a cache-resident computation in place of the model's steps lost a
   fraction of it), so every workload has its own. It also changes with the machine's
   state (the same probe's crowded step went from 1.9 to 3.0 ms within half an hour), so
   the probe runs in every round, with the other jobs (when the ranks outnumber the
   CPUs; with fewer effective cores than CPUs, after the rounds), and τ is the median.

:func:`write_toml` writes a cluster file for ``tinygrad-opt whatif --config``: one node
(``nodes = 1``) with ``devices_per_node`` = the rank counts, the fitted latency and
bandwidth as its intra-node link, ``cores_per_node``, ``memory_streams_per_node``,
``cache_bytes_per_node``, ``turn_time`` (that of ``[workload]``) and a lognormal compute
model; ``[workload]`` holds the largest model, the comments give the ``whatif`` flags of
the others (with their ``--turn-time``).
:class:`CheckRuns` times separate, longer training runs for comparison (``--check``;
``scripts/make_calibration_doc.py`` writes ``docs/calibration.md`` from them), between
the calibration's rounds, so that both see this machine over the same minutes.

Every job runs in the environment ``tinygrad-opt launch`` gives its ranks
(:mod:`tinygrad_opt.distributed.launch`): one BLAS/OpenMP thread per rank (:data:`THREAD_ENV`),
as MPI jobs usually do (on 2 cores, 2 ranks of a 0.1M-parameter MLP took over 20× longer
per step with multi-threaded BLAS), and MPICH's polling throttled when a machine runs more
ranks than it has CPUs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.distributed.launch import THREAD_ENV, rank_environment

__all__ = [
    "THREAD_ENV",
    "Calibration",
    "CalibrationError",
    "CheckRuns",
    "add_arguments",
    "calibrate",
    "cluster_settings",
    "collective_coefficients",
    "fit_effective_cores",
    "fit_latency_bandwidth",
    "fit_lognormal_sigma",
    "fit_memory_streams",
    "fit_reduce_bandwidth",
    "fit_turn_time",
    "turn_probe_settings",
    "turn_time_of",
    "cluster_flags",
    "last_level_cache_bytes",
    "mlp_sizes",
    "predict",
    "predict_step_time",
    "run",
    "run_job",
    "settings_for",
    "time_reduce",
    "to_toml",
    "validation_runs",
    "write_toml",
]


MODES = ("allreduce", "ps")
IN_FEATURES, CLASSES, BATCH, DATASET = 64, 10, 32, 2048
ADAM_BYTES_PER_PARAM = 16  # float32 parameter, gradient and two moments
WARMUP = 3  # training steps left out of every mean
TURN_BYTES = 64  # every message of the turn probe (16 float32)


class CalibrationError(RuntimeError):
    """A calibration job failed (the message holds its command and the end of its output)."""


# ============================================================================ the model
def mlp_sizes(parameters: float) -> list[int]:
    """Layer sizes ``[64, h, h, 10]`` of the MLP whose parameter count is closest to
    ``parameters``: two hidden layers of width ``h`` hold ``h² + 76h + 10`` weights and
    biases."""
    p = float(parameters)
    if not math.isfinite(p) or p < 1000:
        raise ValueError(f"model size must be at least 1000 parameters, got {parameters!r}")
    a, b = IN_FEATURES + 2 + CLASSES, CLASSES
    h = (-a + math.sqrt(a * a + 4 * (p - b))) / 2
    width = min((max(1, math.floor(h)), math.ceil(h)), key=lambda w: abs(w * w + a * w + b - p))
    return [IN_FEATURES, width, width, CLASSES]


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of ``nn.MLP(sizes)``."""
    return int(sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:])))


def _build(parameters: float, seed: int = 0) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The calibration workload: a float32 MLP, Adam, random inputs and 10-class labels."""
    from tinygrad_opt import nn, optim

    model = nn.MLP(mlp_sizes(parameters), rng=seed, dtype=np.float32)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((DATASET, IN_FEATURES)).astype(np.float32)
    y = rng.integers(0, CLASSES, DATASET)
    return model, opt, X, y


def _loss(model: Any, X: np.ndarray, y: np.ndarray, idx: np.ndarray) -> Any:
    from tinygrad_opt import nn

    return nn.functional.cross_entropy(model(X[idx]), y[idx])


# ============================================================================ fitting
def collective_coefficients(
    kind: str, ranks: int, cores_per_node: float | None = None
) -> tuple[float, float, float]:
    """``(a, b, g)`` with ``T = a·α + b·M/B + g·M/R``: the simulator's time of one
    ``kind`` exchange of ``M`` bytes among ``ranks`` ranks of one node with latency
    ``α``, bandwidth ``B`` and reduce bandwidth ``R`` (read off
    :func:`~tinygrad_opt.cluster.collectives.communication_cost` itself, so the fit uses
    exactly what the simulator predicts with).

    ``"allreduce"``: ring all-reduce, ``a = 2(N−1)·s``, ``b = 2(N−1)/N·s``, ``g =
    (N−1)/N·s`` with ``s`` the node's oversubscription for ``cores_per_node``; ``"ps"``:
    one parameter server colocated with rank 0, push + sum + pull, ``a = 2``, ``b =
    2(N−1)``, ``g = (N−1)·s`` (all 0 for one rank).
    """
    from tinygrad_opt.cluster.collectives import communication_cost

    if kind not in MODES:
        raise ValueError(f"kind must be 'allreduce' or 'ps', got {kind!r}")
    scheme = scheme_settings(kind)
    moving = _node(int(ranks), cores_per_node)
    adding = _node(int(ranks), cores_per_node, reduce_bandwidth=1.0)

    def seconds(node: Any, message: float) -> float:
        return communication_cost(node, scheme, message).time_s

    a = seconds(moving, 0.0)
    b = seconds(moving, 1.0) - a
    return float(a), float(b), float(seconds(adding, 1.0) - a - b)


def _nonnegative_lstsq(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``min |Ax − y|`` over ``x >= 0`` for a few unknowns (every active set is tried)."""
    n = A.shape[1]
    best, best_r = np.zeros(n), float(y @ y)
    for mask in range(1, 1 << n):
        cols = [j for j in range(n) if mask >> j & 1]
        sol, *_ = np.linalg.lstsq(A[:, cols], y, rcond=None)
        if np.any(sol < 0):
            continue
        x = np.zeros(n)
        x[cols] = sol
        r = float(np.sum((A @ x - y) ** 2))
        if r < best_r:
            best, best_r = x, r
    return best


def fit_latency_bandwidth(
    samples: Iterable[tuple[str, int, float, float]],
    cores_per_node: float | None = None,
    reduce_bandwidth: float | None = None,
) -> tuple[float, float]:
    """Fit ``α`` (s) and ``B`` (bytes/s) to ``(kind, ranks, bytes, seconds)`` samples.

    Model: ``seconds = a·α + b·bytes/B + g·bytes/R`` with ``(a, b, g)`` from
    :func:`collective_coefficients` (the simulator's formulas on one node with
    ``cores_per_node``) and ``R`` = ``reduce_bandwidth``, measured on its own (None: no
    adding term). Minimises the sum of squared *relative* errors (the times span
    microseconds to tenths of a second), which is linear in ``(α, 1/B)``; both are kept
    >= 0. Samples with one rank are skipped. ValueError when fewer than 2 are left or no
    time grows with the size.
    """
    gamma = 0.0 if reduce_bandwidth is None else 1.0 / float(reduce_bandwidth)
    rows, target = [], []
    for kind, ranks, nbytes, seconds in samples:
        if int(ranks) < 2 or not seconds > 0:
            continue
        a, b, g = collective_coefficients(kind, int(ranks), cores_per_node)
        rows.append([a / seconds, b * nbytes / seconds])
        target.append(1.0 - g * nbytes * gamma / seconds)  # what is left for α and B
    if len(rows) < 2:
        raise ValueError("fit_latency_bandwidth needs at least 2 timings with 2 or more ranks")
    A = np.array(rows)
    scale = np.maximum(np.abs(A).max(axis=0), 1e-300)  # columns of similar size
    alpha, inv_b = _nonnegative_lstsq(A / scale, np.array(target)) / scale
    if not inv_b > 0:
        raise ValueError("the bandwidth is not determined by the data (no time grows with size)")
    return float(alpha), float(1.0 / inv_b)


def fit_reduce_bandwidth(rows: Iterable[Sequence[float]], min_bytes: float = 2**16) -> float:
    """``R`` (bytes/s) from ``[bytes, seconds]`` timings of adding ``bytes`` into a
    buffer of the same size: ``seconds = bytes/R``, least squares of the relative errors
    over the rows with at least ``min_bytes`` (below, the call's own overhead
    dominates): ``1/R = Σ x / Σ x²`` with ``x = bytes/seconds``. ValueError when no row
    qualifies.
    """
    x = np.array([float(m) / float(t) for m, t in rows if m >= min_bytes and t > 0])
    if x.size == 0:
        raise ValueError(f"fit_reduce_bandwidth needs a timing of at least {min_bytes:g} bytes")
    return float(np.sum(x**2) / np.sum(x))


def fit_lognormal_sigma(times: Sequence[float]) -> float:
    """Log-space standard deviation ``σ`` of positive step times (0 for fewer than 2).

    The simulator's lognormal compute model draws ``X = exp(σZ − σ²/2)``, so ``σ`` is
    the standard deviation of ``log(time)``, whatever the mean.
    """
    x = np.asarray(times, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 2:
        return 0.0
    return float(np.std(np.log(x), ddof=1))


def _fit_scale(
    points: Sequence[tuple[Any, float]],
    model: Callable[[float, Any], float],
    low: float,
    top: float,
) -> float:
    """The ``x`` in [low, top] minimising ``Σ (log slow-down − log model(x, point))²``."""
    if not points:
        raise ValueError("nothing to fit: no slow-downs measured")
    s = np.log(np.maximum([p[1] for p in points], 1e-12))
    grid = np.geomspace(low, top, 2000)
    err = [float(np.sum((s - np.log([model(x, p[0]) for p in points])) ** 2)) for x in grid]
    return float(grid[int(np.argmin(err))])


def _node(
    ranks: int,
    cores: float | None = None,
    streams: float | None = None,
    cache: float = 0.0,
    reduce_bandwidth: float | None = None,
) -> Any:
    """One node with ``ranks`` workers: the simulator's contention formulas live on it."""
    from tinygrad_opt.cluster.spec import ClusterSpec

    return ClusterSpec(
        nodes=1, devices_per_node=int(ranks), bandwidth=1.0, latency=1.0, intra_bandwidth=1.0,
        cores_per_node=cores, memory_streams_per_node=streams, cache_bytes_per_node=cache,
        reduce_bandwidth=reduce_bandwidth,
    )  # fmt: skip


def fit_effective_cores(ranks: Sequence[int], slowdowns: Sequence[float]) -> float:
    """Effective cores ``c`` of a node from compute slow-downs ``s_K`` with ``K`` ranks.

    Processor sharing, :attr:`ClusterSpec.oversubscription
    <tinygrad_opt.cluster.ClusterSpec.oversubscription>`: ``K`` CPU-bound processes on
    ``c`` cores each run ``c/K`` of the time, ``s(K) = max(1, K/c)``. Least squares in
    log space over the given points.
    """
    if len(ranks) != len(slowdowns) or not len(ranks):
        raise ValueError("fit_effective_cores: give one slow-down per rank count")
    points = [(int(k), float(x)) for k, x in zip(ranks, slowdowns)]
    return _fit_scale(points, lambda c, k: _node(k, c).oversubscription, 0.25, 4.0 * max(ranks))


def fit_memory_streams(
    points: Sequence[tuple[int, float, float]], cores: float, cache_bytes: float = 0.0
) -> float:
    """Memory streams ``m >= 1`` of a node from ``(ranks K, update bytes W, slow-down)``.

    ``K`` ranks update at once; :meth:`ClusterSpec.update_slowdown
    <tinygrad_opt.cluster.ClusterSpec.update_slowdown>` (the CPU share, times
    ``max(1, k/m)`` when the ``k = min(K, c)`` running updates' data ``k·W`` does not
    fit in the cache) is fitted by least squares in log space. ``m >= 1``: one update
    alone runs at full speed, which is how its time was measured.
    """
    pts = [((int(k), float(w)), float(x)) for k, w, x in points]
    top = 4.0 * max(k for (k, _), _ in pts) if pts else 4.0
    return _fit_scale(
        pts, lambda m, kw: _node(kw[0], cores, m, cache_bytes).update_slowdown(kw[1]), 1.0, top
    )


def fit_turn_time(step_s: float, predicted_without_turn_s: float) -> float:
    """``turn_time`` from the turn probe: ``max(0, T − T₀)``.

    ``T``: the probe's measured mean step on the most ranks (:func:`probe_turns`: the
    model's own forward+backward and update, synchronised in the mode's pattern with
    tiny messages); ``T₀``: the simulator's step for that loop without the turn term
    (:func:`turn_probe_settings`), whose compute and update times the same probe
    measured with each rank alone. Whatever the loop takes beyond it is the waiting for turns on
    the cores around the step's synchronisations.
    """
    if not (step_s > 0 and predicted_without_turn_s > 0):
        raise ValueError(
            f"fit_turn_time needs positive times, got step {step_s!r}, predicted "
            f"{predicted_without_turn_s!r}"
        )
    return float(max(0.0, step_s - predicted_without_turn_s))


def turn_probe_settings(
    cluster: dict[str, Any], parameters: int, mode: str, ranks: int, alone: dict[str, float]
) -> dict[str, Any]:
    """Settings of the turn probe's loop as the simulator sees it, with no turn term:
    ``cluster`` (a calibrated ``[cluster]`` section) on ``ranks`` ranks, a workload of
    ``parameters`` (their Adam update's memory) whose messages are
    :data:`TURN_BYTES` long, and the compute and update times ``alone`` (the probe's own
    with each rank alone)."""
    return {
        "cluster": {**cluster, "devices_per_node": int(ranks), "turn_time": 0.0},
        "workload": {
            "parameters": int(parameters),
            "per_worker_batch": BATCH,
            "compute_time_per_step": float(alone["compute_s"]),
            "update_time": float(alone["update_s"]),
            "bytes_per_param": TURN_BYTES / int(parameters),
            "update_bytes": float(ADAM_BYTES_PER_PARAM * int(parameters)),
            "steps": 1000,
        },
        "scheme": scheme_settings(mode),
        "simulation": dict(SIMULATION),
    }


def last_level_cache_bytes() -> float:
    """Size of the largest CPU cache Linux reports (sysfs), 0 if unknown."""
    best = 0.0
    for d in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (d / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:].upper(), 1)
        try:
            best = max(best, float(text.rstrip("KMGkmg")) * scale)
        except ValueError:
            continue
    return best


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ============================================================================ measuring (MPI)
def _timed_max(
    comm: Any,
    fn: Callable[[], None],
    reps: int,
    warmup: int = 2,
    between: Callable[[], None] | None = None,
) -> list[float]:
    """Per repetition, the longest time any rank spent in ``fn`` (started after a
    barrier); ``between`` runs, untimed, before each repetition's barrier."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        if between is not None:
            between()
        comm.Barrier()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return [float(x) for x in np.max(comm.allgather(out), axis=0)]


def _reps_for(nbytes: int, quick: bool) -> int:
    reps = 40 if nbytes <= 2**16 else 20 if nbytes <= 2**22 else 12
    return max(3, reps // 4) if quick else reps


def _copies(nbytes: float, cold_bytes: float, most: int) -> int:
    """How many buffers of ``nbytes`` to rotate through so that together they exceed
    ``cold_bytes`` (each one is then out of the cache when used again), at most ``most``."""
    return int(min(most, max(1, math.ceil(cold_bytes / max(nbytes, 1.0)))))


def _allreduce_step(comm: Any, MPI: Any, count: int, copies: int) -> Callable[[], None]:
    bufs = [np.ones(count, dtype=np.float32) for _ in range(copies)]
    turn = [0]

    def step() -> None:
        buf = bufs[turn[0] % copies]
        turn[0] += 1
        comm.Barrier()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

    return step


def _ps_step(comm: Any, MPI: Any, count: int, copies: int) -> Callable[[], None]:
    rank, n = comm.Get_rank(), comm.Get_size()
    turn = [0]
    if rank != 0:
        grads = [np.ones(count, dtype=np.float32) for _ in range(copies)]

        def worker() -> None:
            mine = grads[turn[0] % copies]
            turn[0] += 1
            comm.Send(mine, dest=0, tag=7)
            comm.Recv(mine, source=0, tag=8)

        return worker
    # the server's own gradient, the workers' gradients and the sum, per copy
    sets = [[np.ones(count, dtype=np.float32) for _ in range(n + 1)] for _ in range(copies)]

    def server() -> None:
        mine, total, *inbox = sets[turn[0] % copies]
        turn[0] += 1
        MPI.Request.Waitall([comm.Irecv(b, source=w, tag=7) for w, b in enumerate(inbox, 1)])
        np.add(mine, inbox[0], out=total)  # N − 1 additions, as the simulator's "sum"
        for b in inbox[1:]:
            np.add(total, b, out=total)
        MPI.Request.Waitall([comm.Isend(total, dest=w, tag=8) for w in range(1, n)])

    return server


def time_reduce(sizes: Sequence[int], quick: bool = False, cold_bytes: float = 0.0):
    """``[[bytes, seconds]]``: the median time of adding a float32 buffer of ``bytes``
    into another (``np.add(a, b, out=a)``, as a parameter server sums gradients), on
    this process alone; buffers rotate through copies as in :func:`sweep_collectives`."""
    out = []
    for nbytes in sizes:
        count = max(1, int(nbytes) // 4)
        reps = _reps_for(nbytes, quick)
        copies = _copies(8 * count, cold_bytes, reps + 2)
        pairs = [(np.ones(count, np.float32), np.ones(count, np.float32)) for _ in range(copies)]
        times = []
        for i in range(reps + 2):
            a, b = pairs[i % copies]
            t = time.perf_counter()
            np.add(a, b, out=a)
            times.append(time.perf_counter() - t)
        out.append([float(4 * count), float(np.median(times[2:]))])
    return out


def _compute_between(side: int = 256, products: int = 2) -> Callable[[], None]:
    """Work every rank does between two timed exchanges of the sweep, as a training step
    computes between two synchronisations: ``products`` products of ``side``×``side``
    float32 matrices (three of them, 0.8 MB, go through the core's caches)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((side, side)).astype(np.float32) / 16 for _ in range(2))
    out = np.empty_like(a)

    def work() -> None:
        for _ in range(products):
            np.matmul(a, b, out=out)

    return work


def sweep_collectives(
    ctx: Any, sizes: Sequence[int], quick: bool = False, cold_bytes: float = 0.0
) -> dict[str, Any]:
    """``{"allreduce": rows, "ps": rows}``, rows ``[bytes, seconds]``: the mean over
    repetitions (each the longest rank) of the all-reduce as the core runs it
    (``Barrier`` + in-place ``Allreduce(SUM)``) and of the parameter-server pattern
    (workers send ``M`` bytes to rank 0, which adds them up and sends ``M`` back to
    each: the messages and averaging of one ``ps`` step), on float32 buffers.

    Each repetition uses the next of a few copies of the buffers, together more than
    ``cold_bytes`` where the repetitions allow: in training a large gradient is out of
    the cache when it is sent (the update and the next pass stream more than the cache
    holds), a small one is not. Before each repetition every rank computes a little
    (:func:`_compute_between`, untimed) unless the ranks outnumber the CPUs.
    """
    from mpi4py import MPI

    out: dict[str, Any] = {"allreduce": [], "ps": []}
    # between the exchanges every rank computes, as in training (collectives right after
    # a computation took up to twice as long here as back to back: the caches are
    # someone else's); not with more ranks than CPUs, where the ranks would then take
    # turns on the cores around every exchange: the turn probe measures that
    work = _compute_between() if ctx.world_size <= _cpus() else None
    for nbytes in sizes:
        count = max(1, int(nbytes) // 4)
        reps = _reps_for(nbytes, quick)
        copies = _copies(4 * count, cold_bytes, reps + 2)
        for kind, make in (("allreduce", _allreduce_step), ("ps", _ps_step)):
            step = make(ctx.comm, MPI, count, copies)
            times = _timed_max(ctx.comm, step, reps, between=work)
            out[kind].append([float(4 * count), float(np.mean(times))])
    return out


def probe_contention(ctx: Any, parameters: float, seconds: float = 0.1) -> dict[str, float]:
    """Mean seconds of one forward+backward and of one optimizer update while every rank
    trains the same model at the same time, step after step, without communicating.

    The loop runs for about ``seconds`` (the same number of steps on every rank) after a
    warm-up, so that on an oversubscribed node the scheduler's turns are averaged over.
    """
    from mpi4py import MPI

    model, opt, X, y = _build(parameters)
    rng = np.random.default_rng(ctx.rank)

    def step() -> tuple[float, float]:
        t0 = time.perf_counter()
        opt.zero_grad()
        _loss(model, X, y, rng.integers(0, DATASET, BATCH)).backward()
        t1 = time.perf_counter()
        opt.step()
        return t1 - t0, time.perf_counter() - t1

    t = time.perf_counter()
    warm = 0
    while warm < 3 or time.perf_counter() - t < seconds / 3:  # caches, allocator, clock
        step()
        warm += 1
    guess = (time.perf_counter() - t) / warm
    reps = int(ctx.comm.allreduce(max(4, min(400, math.ceil(seconds / guess))), op=MPI.MIN))
    ctx.comm.Barrier()
    times = np.array([step() for _ in range(reps)])
    compute, update = np.mean(ctx.comm.allgather(times.mean(axis=0).tolist()), axis=0)
    return {"compute_s": float(compute), "update_s": float(update)}


def _sleep_until_all_arrive(comm: Any, pause: float = 1e-3) -> None:
    """A barrier that sleeps instead of polling, so a rank measuring alone has a core."""
    request = comm.Ibarrier()
    while not request.Test():
        time.sleep(pause)


def probe_turns(
    ctx: Any, parameters: float, mode: str, seconds: float = 0.8, nbytes: int = TURN_BYTES
) -> dict[str, Any]:
    """The turn probe of one model size and mode, in two parts, in the same processes.

    *Alone*: each rank in turn trains the calibration model for about ``seconds / 2``
    with no messages (forward+backward, Adam update) while the others sleep; its mean
    compute and update times (``alone``: the means over the ranks) are what one rank
    takes alone, measured by the processes whose crowded steps follow (on a virtual
    machine the speed changes from process to process more than within one).

    *Crowded*: every rank trains in ``mode``'s pattern, but every message is ``nbytes``
    long, for about ``seconds`` (the same step count on every rank). ``"allreduce"``:
    forward+backward, ``Barrier`` + ``Allreduce`` of ``nbytes``, the Adam update on every
    rank. ``"ps"``: forward+backward, every other rank sends ``nbytes`` to rank 0, which
    runs the Adam update and sends ``nbytes`` back to each. Returns the mean seconds per
    step (``step_s``, the slowest rank's loop) and, measured on every rank, of its
    forward+backward (``compute_s``) and of the update (``update_s``: on rank 0 in
    ``"ps"``, which alone updates).
    """
    from mpi4py import MPI

    if mode not in MODES:
        raise ValueError(f"mode must be 'allreduce' or 'ps', got {mode!r}")
    comm, rank, world = ctx.comm, ctx.rank, ctx.world_size
    model, opt, X, y = _build(parameters)
    rng = np.random.default_rng(rank)
    buf = np.ones(max(1, int(nbytes) // 4), dtype=np.float32)
    inbox = [np.empty_like(buf) for _ in range(world)]

    def compute() -> float:
        t = time.perf_counter()
        opt.zero_grad()
        _loss(model, X, y, rng.integers(0, DATASET, BATCH)).backward()
        return time.perf_counter() - t

    def update() -> float:
        t = time.perf_counter()
        opt.step()
        return time.perf_counter() - t

    def synchronise_and_update() -> float:
        if mode == "allreduce":
            comm.Barrier()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            return update()
        if rank != 0:
            comm.Send(buf, dest=0, tag=11)
            comm.Recv(buf, source=0, tag=12)
            return 0.0
        MPI.Request.Waitall([comm.Irecv(inbox[r], source=r, tag=11) for r in range(1, world)])
        u = update()
        MPI.Request.Waitall([comm.Isend(buf, dest=r, tag=12) for r in range(1, world)])
        return u

    def step() -> tuple[float, float]:
        return compute(), synchronise_and_update()

    def alone_step() -> tuple[float, float]:
        return compute(), update()

    # alone, one rank after the other
    mine = (0.0, 0.0)
    for turn in range(world):
        if turn == rank:
            for _ in range(5):
                alone_step()
            t = time.perf_counter()
            warm = [alone_step() for _ in range(5)]
            n = max(20, min(20000, math.ceil(seconds / 2 / ((time.perf_counter() - t) / 5))))
            times = np.array(warm + [alone_step() for _ in range(n)])
            mine = (float(times[:, 0].mean()), float(times[:, 1].mean()))
        _sleep_until_all_arrive(comm)
    alone_c, alone_u = np.mean(comm.allgather(mine), axis=0)
    # crowded: every rank at once, synchronised in the mode's pattern
    for _ in range(5):  # the same count on every rank: every step synchronises
        step()
    t = time.perf_counter()
    for _ in range(5):
        step()
    guess = (time.perf_counter() - t) / 5
    n = int(comm.allreduce(max(20, min(20000, math.ceil(seconds / guess))), op=MPI.MIN))
    comm.Barrier()
    t = time.perf_counter()
    crowded = np.array([step() for _ in range(n)])
    total = time.perf_counter() - t
    step_s = max(comm.allgather(total / n))
    comp = float(np.mean(comm.allgather(float(crowded[:, 0].mean()))))
    updaters = [u for u in comm.allgather(float(crowded[:, 1].mean())) if u > 0]
    return {"step_s": float(step_s), "compute_s": comp,
            "update_s": float(np.mean(updaters)) if updaters else 0.0, "iterations": n,
            "alone": {"compute_s": float(alone_c), "update_s": float(alone_u)}}  # fmt: skip


def measure_training(
    ctx: Any,
    parameters: float,
    mode: str,
    steps: int,
    warmup: int = WARMUP,
    min_seconds: float = 0.0,
) -> dict[str, Any]:
    """Train the calibration MLP with a ``DistributedOptimizer`` for ``steps`` steps, or
    more until ``min_seconds`` have passed (at most 20 times ``steps``; rank 0 decides).

    Returns the trace summary after ``warmup`` steps: ``mean_step_s``
    (:func:`~tinygrad_opt.distributed.summarize_trace`), ``compute_s`` (mean compute
    per step and worker), ``after_compute_s`` (the mean step minus that: synchronisation
    and update), ``compute_samples`` (every worker's per-step compute times), ``per_role``.
    """
    from tinygrad_opt import distributed as dist
    from tinygrad_opt.distributed.trace import step_table

    model, opt, X, y = _build(parameters)
    dist.broadcast_parameters(model, ctx)
    dopt = dist.DistributedOptimizer(opt, mode=mode, ctx=ctx)
    sampler = dist.DistributedSampler(
        DATASET, BATCH, rank=dopt.worker_rank, world_size=dopt.num_workers, seed=0
    )
    t0 = time.perf_counter()
    for i, idx in enumerate(sampler):
        if i >= steps:
            more = min_seconds > 0 and i < 20 * steps and time.perf_counter() - t0 < min_seconds
            if not ctx.comm.bcast(more, root=0):
                break
        dopt.zero_grad()
        _loss(model, X, y, idx).backward()
        dopt.step()
    dopt.close()
    data = ctx.comm.bcast(dopt.trace.gather(ctx), root=0)
    summary = dist.summarize_trace(data, skip=warmup)
    samples = [float(v) for t in step_table(data).values() for v in t["compute"][warmup:]]
    compute = float(np.mean(samples)) if samples else float("nan")
    return {
        "parameters": mlp_parameters(mlp_sizes(parameters)),
        "mode": mode,
        "ranks": ctx.world_size,
        "steps": int(summary["steps"]),
        "mean_step_s": float(summary["mean_step_s"]),
        "median_step_s": float(summary["median_step_s"]),
        "compute_s": compute,
        "after_compute_s": float(summary["mean_step_s"]) - compute,
        "compute_samples": samples,
        "per_role": summary["per_role"],
    }


def _job_main(argv: Sequence[str]) -> int:
    """One calibration job, inside ``mpiexec``: read a JSON spec, rank 0 writes the result.

    Spec keys (all optional): ``collective_bytes`` (sweep sizes), ``reduce_bytes`` (sizes
    to time :func:`time_reduce` at), ``contention`` (model sizes to probe),
    ``probe_seconds``, ``training`` (``[{parameters, mode, steps}]``), ``quick``,
    ``cold_bytes``, ``keep_samples``, ``timeout``, ``turn_probe`` (``{workloads:
    [{parameters, mode}], seconds, bytes}``); a training entry may add ``min_seconds``.
    """
    ap = argparse.ArgumentParser(prog="python -m tinygrad_opt.distributed.calibrate")
    ap.add_argument("--job", required=True, help="JSON file: what to measure")
    ap.add_argument("--out", required=True, help="JSON file that rank 0 writes")
    args = ap.parse_args(argv)
    spec = json.loads(Path(args.job).read_text())
    from tinygrad_opt import distributed as dist
    from tinygrad_opt.distributed.trace import write_json_atomic

    ctx = dist.init(timeout=float(spec.get("timeout", 120)))
    result: dict[str, Any] = {"world_size": ctx.world_size, "host": ctx.hostname}
    sizes = spec.get("collective_bytes")
    if sizes and ctx.world_size > 1:
        quick, cold = bool(spec.get("quick", False)), float(spec.get("cold_bytes", 0.0))
        result.update(sweep_collectives(ctx, sizes, quick, cold))
    if spec.get("reduce_bytes") and ctx.rank == 0:
        quick, cold = bool(spec.get("quick", False)), float(spec.get("cold_bytes", 0.0))
        result["reduce"] = time_reduce(spec["reduce_bytes"], quick, cold)
    if "turn_probe" in spec:
        tp = spec["turn_probe"]
        nbytes, secs = int(tp.get("bytes", TURN_BYTES)), float(tp.get("seconds", 0.8))
        result["turns"] = [
            {"parameters": w["parameters"], "mode": w["mode"],
             **probe_turns(ctx, w["parameters"], w["mode"], secs, nbytes)}
            for w in tp["workloads"]
        ]  # fmt: skip
    seconds = float(spec.get("probe_seconds", 0.1))
    result["contention"] = [
        {"parameters": p, **probe_contention(ctx, p, seconds)} for p in spec.get("contention", [])
    ]
    result["training"] = [
        measure_training(
            ctx,
            t["parameters"],
            t["mode"],
            int(t["steps"]),
            min_seconds=float(t.get("min_seconds", 0.0)),
        )  # fmt: skip
        for t in spec.get("training", [])
    ]
    if ctx.rank == 0:
        if not spec.get("keep_samples", True):
            for t in result["training"]:
                t.pop("compute_samples", None)
        write_json_atomic(args.out, result)
    ctx.barrier()
    return 0


# ============================================================================ launching
def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if not found:
        raise CalibrationError(
            "mpiexec not found: install the [dist] extra (pip install 'tinygrad-opt[dist]')"
        )
    return found


def run_job(ranks: int, spec: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """Run one calibration job on ``ranks`` MPI ranks of this machine; return its result.

    ``mpiexec -n ranks python -m tinygrad_opt.distributed.calibrate --job SPEC --out OUT``
    in the environment ``tinygrad-opt launch`` gives (:func:`.launch.rank_environment`:
    one BLAS thread per rank, MPICH backing off when oversubscribed). A job that fails,
    or takes longer than ``timeout`` seconds (it is then stopped), raises
    :class:`CalibrationError`.
    """
    env = {**rank_environment(int(ranks)), **THREAD_ENV}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="tinygrad_calibrate_") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job.write_text(json.dumps(spec))
        cmd = [_mpiexec(), "-n", str(int(ranks)), sys.executable, "-m", __name__,
               "--job", str(job), "--out", str(out)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise CalibrationError(
                f"a calibration job on {ranks} ranks took longer than {timeout:g} s and was "
                f"stopped: {' '.join(cmd)}"
            ) from None
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout or "").strip()[-2000:]
            raise CalibrationError(
                f"a calibration job on {ranks} ranks failed (exit code {proc.returncode}): "
                f"{' '.join(cmd)}\n{tail}"
            )
        return json.loads(out.read_text())


# ============================================================================ calibrating
@dataclass
class Calibration:
    """What :func:`calibrate` measured and fitted (SI units: s, bytes, bytes/s)."""

    ranks: list[int]
    sizes: list[int]
    latency_s: float
    bandwidth: float
    cores_per_node: float
    memory_streams_per_node: float
    cache_bytes_per_node: float
    sigma: float
    workloads: dict[str, dict[str, Any]]  # "<parameters>/<mode>" -> workload fields
    # "<parameters>/<mode>" -> what fit_turn_time used (the workload's "turn_time")
    turn_probe: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: dict[str, list[list[float]]] = field(default_factory=dict)  # "ps/4" -> rows
    contention: list[dict[str, Any]] = field(default_factory=list)
    host: str = ""
    cpus: int = 0
    steps: int = 0
    seconds: float = 0.0
    rounds: int = 1  # every job ran this many times; the numbers are medians over them
    reduce_bandwidth: float | None = None  # bytes/s one rank adds (None: not measured)
    reduce_rows: list[list[float]] = field(default_factory=list)  # [bytes, seconds]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(**data)

    def sweep_fit(self) -> list[dict[str, Any]]:
        """Every sweep point with the fitted model's time: ``kind, ranks, bytes,
        measured_s, fitted_s``."""
        out = []
        gamma = 0.0 if self.reduce_bandwidth is None else 1.0 / self.reduce_bandwidth
        for key, rows in self.sweeps.items():
            kind, ranks = key.split("/")
            a, b, g = collective_coefficients(kind, int(ranks), self.cores_per_node)
            for nbytes, seconds in rows:
                fitted = a * self.latency_s + b * nbytes / self.bandwidth + g * nbytes * gamma
                out.append({"kind": kind, "ranks": int(ranks), "bytes": nbytes,
                            "measured_s": seconds, "fitted_s": fitted})  # fmt: skip
        return out


def _median_records(runs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Records of the same measurements from several rounds, merged: the median of each
    number (a round that ran slow throughout does not move it; ``iterations`` and
    ``steps`` are added up), lists of samples joined, anything else from the first round."""
    out = []
    for same in zip(*runs):
        merged: dict[str, Any] = {}
        for key, first in same[0].items():
            values = [r[key] for r in same]
            if key in ("iterations", "steps"):
                merged[key] = int(sum(values))
            elif isinstance(first, float):
                merged[key] = float(np.median(values))
            elif isinstance(first, list):
                merged[key] = [x for v in values for x in v]
            else:
                merged[key] = first
        out.append(merged)
    return out


def _sweep_sizes(gradient_bytes: Sequence[float], quick: bool) -> list[int]:
    """Sweep sizes: 8 bytes ×8 up to 256 KiB (enough to pin the latency), then ×2 up to
    the largest gradient, where the bandwidth decides; plus every model's gradient size.
    ``quick``: ×64, then ×8."""
    top = int(max(gradient_bytes))
    sizes = {8, top, *(int(g) for g in gradient_bytes)}
    m = 8
    while m < top:
        m *= (64 if quick else 8) if m < 2**18 else (8 if quick else 2)
        if m < top:
            sizes.add(m)
    return sorted(sizes)


def calibrate(
    ranks: Sequence[int] = (1, 2, 4),
    sizes: Sequence[float] = (1e5, 5e6),
    steps: int = 30,
    quick: bool = False,
    timeout: float = 300.0,
    log: Callable[[str], None] | None = None,
    rounds: int | None = None,
    after_round: Callable[[int, int, list[dict[str, Any]]], None] | None = None,
) -> Calibration:
    """Measure and fit (see the module docstring); returns a :class:`Calibration`.

    ``ranks``: the rank counts to calibrate for (1 is always measured, and at least one
    count above 1 is needed); ``sizes``: model sizes in parameters; ``steps``: training
    steps per size and mode at one rank, at least (more until 0.25 s have passed; the
    first 3 are warm-up); ``quick``: fewer repetitions and sweep sizes, shorter probes (a
    rough file in seconds); ``timeout``: per MPI job; ``rounds``: how many times every
    job runs (default 3, 1 with ``quick``), each quantity being the median over the rounds:
    on a virtual machine the speed of a process can change by tens of percent from one
    process to the next. ``after_round(index, rounds, one_rank_training)`` runs after
    each round's jobs (e.g. a :class:`CheckRuns`, to time check runs in between).
    """
    t_start = time.perf_counter()
    say = log or (lambda _msg: None)
    ranks = sorted({int(k) for k in ranks} | {1})
    if ranks[0] < 1:
        raise ValueError(f"ranks must be positive, got {ranks}")
    multi = [k for k in ranks if k > 1]
    if not multi:
        raise ValueError("calibrate needs a rank count above 1 (e.g. --ranks 1,2)")
    params = sorted(mlp_parameters(mlp_sizes(p)) for p in sizes)
    if len(set(params)) != len(params):
        raise ValueError(f"model sizes must differ, got {list(sizes)}")
    if steps < WARMUP + 2:
        raise ValueError(f"steps must be at least {WARMUP + 2}, got {steps}")
    rounds = (1 if quick else 3) if rounds is None else int(rounds)
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    probe_s, train_s = (0.03, 0.05) if quick else (0.15, 0.25)
    cache = last_level_cache_bytes()
    collective = _sweep_sizes([4 * p for p in params], quick)
    one_spec = {"contention": params, "probe_seconds": probe_s, "reduce_bytes": collective,
                "quick": quick, "cold_bytes": 2 * cache}  # fmt: skip
    # every training measurement in a process of its own, as the runs it predicts
    train_specs = [{"training": [{"parameters": p, "mode": m, "steps": steps,
                                  "min_seconds": train_s}]}
                   for p in params for m in MODES]  # fmt: skip
    multi_spec = {"collective_bytes": collective, "contention": params, "probe_seconds": probe_s,
                  "quick": quick, "cold_bytes": 2 * cache}  # fmt: skip
    ones: list[dict[str, Any]] = []
    results: dict[int, list[dict[str, Any]]] = {k: [] for k in multi}
    # the turn probe, on the most ranks when they outnumber the CPUs, in every round too:
    # how long ranks wait for turns changes with the machine's state as much as its speed
    tp = {"workloads": [{"parameters": p, "mode": m} for p in params for m in MODES],
          "seconds": 0.3 if quick else 0.8}  # fmt: skip
    probe_ranks = max(multi) if max(multi) > _cpus() else None
    probes: list[list[dict[str, Any]]] = []

    def turn_probe(k: int) -> list[dict[str, Any]]:
        say(f"{k} ranks: turn probe (each model and mode: alone, then synchronised by tiny "
            "messages)")  # fmt: skip
        return run_job(k, {"turn_probe": tp}, timeout)["turns"]

    for r in range(rounds):
        say(f"round {r + 1} of {rounds}: 1 rank: contention probe, adding, {steps} training "
            f"steps per model size and mode; {', '.join(map(str, multi))} ranks: all-reduce "
            "and parameter-server sweep, contention probe")  # fmt: skip
        ones.append(run_job(1, one_spec, timeout))
        ones[-1]["training"] = [run_job(1, t, timeout)["training"][0] for t in train_specs]
        for k in multi:
            results[k].append(run_job(k, multi_spec, timeout))
        if probe_ranks is not None:
            probes.append(turn_probe(probe_ranks))
        if after_round is not None:
            measuring = time.perf_counter()
            after_round(r, rounds, ones[-1]["training"])
            t_start += time.perf_counter() - measuring  # not the calibration's own time
    # every quantity is the median over the rounds (separate processes: this machine's
    # speed changes from process to process more than within one)
    one = {"contention": _median_records([o["contention"] for o in ones]),
           "training": _median_records([o["training"] for o in ones])}  # fmt: skip
    reduce_rows = [[row[0][0], float(np.median([x[1] for x in row]))]
                   for row in zip(*(o["reduce"] for o in ones))]  # fmt: skip
    reduce_bandwidth = fit_reduce_bandwidth(reduce_rows)
    contention = {1: one["contention"]}
    sweeps: dict[str, list[list[float]]] = {}
    for k in multi:
        for kind in MODES:
            rows = [res[kind] for res in results[k]]
            sweeps[f"{kind}/{k}"] = [[row[0][0], float(np.median([x[1] for x in row]))]
                                     for row in zip(*rows)]  # fmt: skip
        contention[k] = _median_records([res["contention"] for res in results[k]])
    # contention: slow-down of every probed size against one rank
    alone = {c["parameters"]: c for c in contention[1]}
    comp_k, comp_s, upd = [], [], []
    for k in multi:
        for c in contention[k]:
            base = alone[c["parameters"]]
            comp_k.append(k)
            comp_s.append(c["compute_s"] / base["compute_s"])
            upd.append(
                (k, ADAM_BYTES_PER_PARAM * c["parameters"], c["update_s"] / base["update_s"])
            )
    cpus = _cpus()
    cores = min(fit_effective_cores(comp_k, comp_s), float(cpus))  # never more than there are
    streams = fit_memory_streams(upd, cores, cache)
    samples = [(key.split("/")[0], int(key.split("/")[1]), nbytes, seconds)
               for key, rows in sweeps.items() for nbytes, seconds in rows]  # fmt: skip
    alpha, bandwidth = fit_latency_bandwidth(samples, cores, reduce_bandwidth)
    alpha = max(alpha, 1e-9)  # the simulator needs a latency > 0
    workloads: dict[str, dict[str, Any]] = {}
    sigmas = []
    for i, t in enumerate(one["training"]):
        per_round = [fit_lognormal_sigma(o["training"][i]["compute_samples"]) for o in ones]
        sigmas.append(float(np.median(per_round)))
        workloads[f"{t['parameters']}/{t['mode']}"] = {
            "parameters": t["parameters"],
            "mode": t["mode"],
            "per_worker_batch": BATCH,
            "bytes_per_param": 4,
            "compute_time_per_step": t["compute_s"],
            "update_time": max(t["after_compute_s"], 0.0),
            "step_time": t["mean_step_s"],
            "sigma": sigmas[-1],
            "turn_time": 0.0,
        }
    cal = Calibration(
        ranks=ranks,
        sizes=params,
        latency_s=alpha,
        bandwidth=bandwidth,
        cores_per_node=cores,
        memory_streams_per_node=streams,
        cache_bytes_per_node=cache,
        sigma=float(np.median(sigmas)),
        workloads=workloads,
        sweeps=sweeps,
        contention=[{"ranks": k, **c} for k in ranks for c in contention[k]],
        host=ones[0].get("host", ""),
        cpus=cpus,
        steps=int(steps),
        rounds=rounds,
        reduce_bandwidth=reduce_bandwidth,
        reduce_rows=reduce_rows,
    )
    crowded = [k for k in multi if k > math.ceil(cores - 1e-9)]  # more ranks than cores
    if crowded:
        k = max(crowded)
        runs = probes
        if k != probe_ranks:  # fewer effective cores than CPUs: probe now, after the rounds
            runs = [turn_probe(k) for _ in range(rounds)]
        cluster = cluster_settings(cal)  # the fitted node; turn_probe_settings drops τ
        for run in runs:  # each round's τ from its own processes, alone and crowded
            for probe in run:
                settings = turn_probe_settings(cluster, probe["parameters"], probe["mode"], k,
                                               probe["alone"])  # fmt: skip
                probe["predicted_without_turn_s"] = predict_step_time(settings)
                probe["turn_time_s"] = fit_turn_time(
                    probe["step_s"], probe["predicted_without_turn_s"]
                )
        for i, probe in enumerate(_median_records(runs)):
            key = f"{probe['parameters']}/{probe['mode']}"
            alone = {f: float(np.median([run[i]["alone"][f] for run in runs]))
                     for f in ("compute_s", "update_s")}  # fmt: skip
            workloads[key]["turn_time"] = probe["turn_time_s"]  # the median over the rounds
            cal.turn_probe[key] = {
                "ranks": k, "message_bytes": TURN_BYTES, "rounds": rounds, "alone": alone,
                **{f: probe[f] for f in ("step_s", "compute_s", "update_s", "iterations",
                                         "predicted_without_turn_s", "turn_time_s")},
                "runs_s": [run[i]["step_s"] for run in runs],
                "turn_times_s": [run[i]["turn_time_s"] for run in runs],
            }  # fmt: skip
    cal.seconds = time.perf_counter() - t_start
    return cal


# ============================================================================ the TOML file
def _sig(x: float, digits: int = 5) -> float:
    return float(f"{x:.{digits}g}")


def turn_time_of(cal: Calibration, parameters: int, mode: str) -> float:
    """The turn time measured for one calibrated model size and mode (0 if none was)."""
    w = cal.workloads.get(f"{int(parameters)}/{mode}", {})
    return float(w.get("turn_time", 0.0))


def cluster_settings(
    cal: Calibration, parameters: int | None = None, mode: str = "allreduce"
) -> dict[str, Any]:
    """The ``[cluster]`` section (with ``[cluster.compute]``) of the calibrated file;
    ``turn_time`` is that of the model size ``parameters`` (default the largest) in
    ``mode``: the waiting for turns depends on the work between synchronisations."""
    compute = (
        {"kind": "lognormal", "sigma": _sig(cal.sigma, 3)}
        if cal.sigma > 1e-4
        else {"kind": "deterministic"}
    )
    parameters = max(cal.sizes) if parameters is None else parameters
    r = cal.reduce_bandwidth
    return {
        "name": f"calibrated: {cal.host or 'this machine'}, {cal.cpus} CPUs, MPI on one node",
        "nodes": 1,
        "devices_per_node": list(cal.ranks),
        "bandwidth": _sig(cal.bandwidth),
        "latency": _sig(cal.latency_s),
        "intra_bandwidth": _sig(cal.bandwidth),
        "intra_latency": _sig(cal.latency_s),
        "cores_per_node": _sig(cal.cores_per_node, 4),
        "memory_streams_per_node": _sig(cal.memory_streams_per_node, 4),
        "cache_bytes_per_node": float(cal.cache_bytes_per_node),
        "turn_time": _sig(turn_time_of(cal, parameters, mode), 4),
        **({} if r is None else {"reduce_bandwidth": _sig(r)}),
        "compute": compute,
    }


def workload_settings(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[workload]`` section of one calibrated model size and mode."""
    key = f"{int(parameters)}/{mode}"
    if key not in cal.workloads:
        raise KeyError(f"no calibrated workload {key!r}; there are {sorted(cal.workloads)}")
    w = cal.workloads[key]
    return {
        "name": f"MLP {mlp_sizes(w['parameters'])}, Adam, float32, mode {mode}",
        "parameters": int(w["parameters"]),
        "per_worker_batch": int(w["per_worker_batch"]),
        "compute_time_per_step": _sig(w["compute_time_per_step"]),
        "update_time": _sig(w["update_time"]),
        "bytes_per_param": w["bytes_per_param"],
        "steps": 1000,
    }


def scheme_settings(mode: str) -> dict[str, Any]:
    """``[scheme]`` of a mode: ring all-reduce, or one parameter server on rank 0."""
    if mode == "allreduce":
        return {"name": "ring"}
    if mode == "ps":
        return {"name": "ps", "ps_shards": 1, "ps_placement": "colocated"}
    raise ValueError(f"mode must be 'allreduce' or 'ps', got {mode!r}")


SIMULATION = {"seed": 0, "steps_to_sample": 4000}


def settings_for(
    cal: Calibration, parameters: int, mode: str, ranks: int | None = None
) -> dict[str, Any]:
    """A whole settings dictionary (the sections of a TOML file) for one configuration."""
    cluster = cluster_settings(cal, parameters, mode)
    if ranks is not None:
        cluster["devices_per_node"] = int(ranks)
    return {
        "cluster": cluster,
        "workload": workload_settings(cal, parameters, mode),
        "scheme": scheme_settings(mode),
        "simulation": dict(SIMULATION),
    }


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v!r} to TOML")
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def to_toml(settings: dict[str, Any], comments: dict[str, str] | None = None) -> str:
    """TOML text of a settings dictionary: tables of scalars and lists, one nested level.

    ``comments`` maps ``"section.key"`` (or ``"section.table.key"``) to a comment written
    after that line.
    """
    comments = comments or {}

    def lines(path: str, body: dict[str, Any]) -> list[str]:
        out = [f"[{path}]"]
        for k, v in body.items():
            if isinstance(v, dict):
                continue
            text = f"{k} = {_toml_value(v)}"
            note = comments.get(f"{path}.{k}")
            out.append(f"{text:<44} # {note}" if note else text)
        for k, v in body.items():
            if isinstance(v, dict):
                out += ["", *lines(f"{path}.{k}", v)]
        return out

    blocks = ["\n".join(lines(name, body)) for name, body in settings.items()]
    return "\n\n".join(blocks) + "\n"


def toml_text(cal: Calibration, mode: str = "allreduce") -> str:
    """The calibrated cluster file: ``[workload]`` holds the largest model in ``mode``."""
    from tinygrad_opt.cluster.units import format_bandwidth, format_bytes, format_duration

    settings = settings_for(cal, max(cal.sizes), mode)
    cache = format_bytes(cal.cache_bytes_per_node)
    comments = {
        "cluster.nodes": "every rank on this machine",
        "cluster.devices_per_node": "MPI ranks; --devices-per-node 8 for more",
        "cluster.bandwidth": "unused with one node (= intra_bandwidth)",
        "cluster.latency": "unused with one node (= intra_latency)",
        "cluster.intra_bandwidth": f"{format_bandwidth(cal.bandwidth)}: fitted, bytes/s",
        "cluster.intra_latency": f"{format_duration(cal.latency_s)}: fitted, seconds",
        "cluster.cores_per_node": f"effective cores (of {cal.cpus} CPUs): fitted",
        "cluster.memory_streams_per_node": "updates at full memory speed at once: fitted",
        "cluster.cache_bytes_per_node": f"last-level cache, {cache}",
        "cluster.reduce_bandwidth": f"{format_bandwidth(cal.reduce_bandwidth or 0.0)}: "
        "measured, one rank adding arrays",
        "cluster.turn_time": f"{format_duration(settings['cluster']['turn_time'])}"
        + (f" per step with > {math.ceil(cal.cores_per_node - 1e-9)} ranks: turn probe"
           " of this [workload]" if cal.turn_probe
           else ": no turn probe (no rank count above the cores)"),
        "cluster.compute.sigma": "log-std of the compute time per step: fitted",
        "workload.compute_time_per_step": format_duration(
            settings["workload"]["compute_time_per_step"]
        ),
        "workload.update_time": format_duration(settings["workload"]["update_time"]),
    }  # fmt: skip
    multi = ", ".join(str(k) for k in cal.ranks if k > 1)
    head = [
        f"# Calibrated by `tinygrad-opt calibrate` on {cal.host or 'this machine'} "
        f"({cal.cpus} CPUs) in {cal.seconds:.0f} s, {time.strftime('%Y-%m-%d %H:%M')}.",
        "# MPI ranks with one BLAS thread each (OMP_NUM_THREADS=1 ...). Measured and fitted:",
        "#   reduce_bandwidth: one rank adding float32 arrays (np.add, out of the cache);",
        "#   intra_latency, intra_bandwidth: least squares of the simulator's formulas over",
        f"#     Barrier+Allreduce and gather+sum+broadcast sweeps on {multi} ranks (their",
        "#     adding, at reduce_bandwidth, taken out first);",
        "#   cores_per_node, memory_streams_per_node: slow-down of concurrent forward+backward",
        "#     passes and Adam updates against one rank;",
        "#   compute time, update time, sigma: training steps at 1 rank;",
        "#   turn_time: waiting for turns on the cores per step with more ranks than cores:",
        "#     on the most ranks, the model's own training steps synchronised by 64-byte",
        "#     messages, minus the simulator's step for that loop without turns; it depends",
        "#     on the work between synchronisations, so each workload has its own (below).",
        "#",
        "#   tinygrad-opt whatif --config THIS.toml",
        "#   tinygrad-opt whatif --config THIS.toml --devices-per-node 1,2,4,8",
        "#",
        "# The calibrated workloads as whatif flags ([workload] below: the largest, allreduce):",
    ]
    for w in sorted(cal.workloads.values(), key=lambda w: (w["parameters"], w["mode"])):
        scheme = scheme_settings(w["mode"])
        flags = f"--scheme {scheme['name']}"
        if w["mode"] == "ps":
            flags += " --ps-placement colocated"
        head.append(
            f"#   --params {w['parameters']} --compute-time "
            f"{_sig(w['compute_time_per_step'], 4)}s --update-time {_sig(w['update_time'], 4)}s "
            f"--turn-time {_sig(w.get('turn_time', 0.0), 4)}s {flags}"
        )
    return "\n".join(head) + "\n\n" + to_toml(settings, comments)


def write_toml(cal: Calibration, path: str | Path, mode: str = "allreduce") -> Path:
    """Write :func:`toml_text` to ``path`` (directories are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(cal, mode))
    return path


# ============================================================================ predicting
def predict(
    config: str | Path | dict[str, Any],
    ranks: int | None = None,
    mode: str | None = None,
    workload: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
) -> Any:
    """The simulator's result (:class:`~tinygrad_opt.cluster.SimulationResult`) for a
    cluster file (or settings), as ``tinygrad-opt whatif --config FILE --devices-per-node
    RANKS --scheme ...`` with workload flags: ``workload`` overrides ``[workload]`` key by
    key, ``cluster`` likewise ``[cluster]``. The file must then describe one
    configuration."""
    from tinygrad_opt.cluster.config import expand, load_toml, merge_settings, simulation_options

    base = load_toml(config) if isinstance(config, (str, Path)) else config
    override: dict[str, Any] = {"cluster": dict(cluster or {})}
    if ranks is not None:
        override["cluster"]["devices_per_node"] = int(ranks)
    if mode is not None:
        override["scheme"] = scheme_settings(mode)
    if workload:
        override["workload"] = dict(workload)
    settings = merge_settings(base, override)
    confs = expand(settings)
    if len(confs) != 1:
        raise ValueError(f"the settings describe {len(confs)} configurations, not one")
    return confs[0].simulate(**simulation_options(settings))


def predict_step_time(
    config: str | Path | dict[str, Any],
    ranks: int | None = None,
    mode: str | None = None,
    workload: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
) -> float:
    """Mean step time (s) of :func:`predict`."""
    return float(predict(config, ranks, mode, workload, cluster).step_time_s)


def workload_flags(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[workload]`` keys a ``whatif`` run of one calibrated size and mode overrides."""
    w = workload_settings(cal, parameters, mode)
    return {k: w[k] for k in ("parameters", "compute_time_per_step", "update_time", "name")}


def cluster_flags(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[cluster]`` keys a ``whatif`` run of one calibrated size and mode overrides:
    its own ``turn_time`` (``--turn-time``)."""
    return {"turn_time": _sig(turn_time_of(cal, parameters, mode), 4)}


# ============================================================================ checking
class CheckRuns:
    """Training runs timed to check a calibration: every calibrated model size, mode and
    rank count (``ranks``), in rounds of one run each, the configurations interleaved.

    A round runs when called; as ``after_round`` of :func:`calibrate` the runs are spread
    over the calibration's rounds (``repeats`` runs each in all, as evenly as they go), so
    that calibration and check sample this machine over the same minutes: its speed
    drifts by tens of percent within minutes, and a check that runs after the
    calibration measures the drift as much as the model. Each run lasts about
    ``seconds`` at one rank (30 to 400 steps, the first 3 left out; sized from the
    first calibration round's 1-rank steps). :meth:`rows` compares them with the
    simulator.
    """

    def __init__(
        self,
        ranks: Sequence[int],
        repeats: int = 3,
        seconds: float = 1.0,
        timeout: float = 300.0,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        self.ranks = sorted({int(k) for k in ranks} | {1})
        self.repeats, self.seconds, self.timeout = int(repeats), float(seconds), timeout
        self.say = log or (lambda _msg: None)
        self.steps: dict[int, int] = {}
        self.measured: dict[tuple[int, str, int], list[float]] = {}
        self.phases: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        self.done = 0

    def size_runs(self, one_rank: Sequence[dict[str, Any]]) -> None:
        """Steps per model size from 1-rank training records (``parameters``,
        ``mean_step_s``): the faster mode's step × steps ≈ ``seconds``."""
        for rec in one_rank:
            p, t = int(rec["parameters"]), float(rec["mean_step_s"])
            n = int(min(400, max(30, math.ceil(self.seconds / max(t, 1e-6)))))
            self.steps[p] = max(self.steps.get(p, 0), n)

    def run_round(self) -> None:
        """One run of every configuration."""
        self.done += 1
        self.say(f"check runs: round {self.done} of {self.repeats}")
        for p in sorted(self.steps):
            for m in MODES:
                for k in self.ranks:
                    spec = {"training": [{"parameters": p, "mode": m, "steps": self.steps[p]}],
                            "keep_samples": False}  # fmt: skip
                    res = run_job(k, spec, self.timeout)["training"][0]
                    self.measured.setdefault((p, m, k), []).append(res["mean_step_s"])
                    self.phases.setdefault((p, m, k), []).append(res["per_role"])

    def __call__(self, index: int, rounds: int, one_rank: Sequence[dict[str, Any]]) -> None:
        """``after_round`` hook: after calibration round ``index`` (0-based) of ``rounds``,
        its share of the ``repeats`` rounds of runs."""
        if not self.steps:
            self.size_runs(one_rank)
        share = self.repeats * (index + 1) // rounds - self.repeats * index // rounds
        for _ in range(share):
            self.run_round()

    def rows(self, cal: Calibration, config: str | Path | dict[str, Any]) -> list[dict[str, Any]]:
        """Rows ``parameters, mode, ranks, steps, predicted_s, measured_s`` (the median
        over the runs of each run's mean step, as the calibration's numbers are medians
        over its rounds: a run on a slow process moves neither), ``runs_s`` (each run's
        mean), ``error`` (predicted / measured − 1), ``predicted_phases`` and
        ``measured_phases`` (per role, the mean over the runs)."""
        if not self.steps:
            self.size_runs([{"parameters": w["parameters"], "mean_step_s": w["step_time"]}
                            for w in cal.workloads.values()])  # fmt: skip
        while self.done < self.repeats:
            self.run_round()
        out = []
        for p in cal.sizes:
            for m in MODES:
                for k in self.ranks:
                    out.append(self._row(cal, config, p, m, k))
        return out

    def _row(self, cal: Calibration, config: Any, p: int, m: str, k: int) -> dict[str, Any]:
        sim = predict(config, k, m, workload_flags(cal, p, m), cluster_flags(cal, p, m))
        runs = self.measured[(p, m, k)]
        mean = float(np.median(runs))
        runs_phases = self.phases[(p, m, k)]
        roles = {
            role: {kind: float(np.mean([r[role][kind] for r in runs_phases])) for kind in kinds}
            for role, kinds in runs_phases[0].items()
        }
        return {
            "parameters": p, "mode": m, "ranks": k, "steps": self.steps[p],
            "predicted_s": float(sim.step_time_s), "measured_s": mean, "runs_s": runs,
            "error": float(sim.step_time_s) / mean - 1.0,
            "predicted_phases": {"compute": sim.compute_s, "wait": sim.wait_s,
                                 "comm": sim.comm_s, "update": sim.update_s,
                                 "sum": float(dict(sim.phases).get("sum", 0.0))},
            "measured_phases": roles,
        }  # fmt: skip


def validation_runs(
    cal: Calibration,
    config: str | Path | dict[str, Any],
    ranks: Sequence[int] | None = None,
    repeats: int = 3,
    seconds: float = 1.0,
    timeout: float = 300.0,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Time separate training runs after a calibration and compare them with the
    simulator's predictions (:class:`CheckRuns`, all ``repeats`` rounds now; pass a
    :class:`CheckRuns` to :func:`calibrate` as ``after_round`` to interleave them)."""
    check = CheckRuns(ranks or cal.ranks, repeats, seconds, timeout, log)
    return check.rows(cal, config)


def format_table(rows: Sequence[dict[str, Any]], tolerance: float = 0.15) -> str:
    """A Markdown table of :func:`validation_runs` rows."""
    out = [
        "| model | mode | ranks | predicted (ms) | measured (ms) | runs (ms) | error | within "
        f"±{tolerance:.0%} |",
        "|---:|---|---:|---:|---:|---|---:|:---:|",
    ]
    for r in rows:
        runs = ", ".join(f"{x * 1e3:.3g}" for x in r["runs_s"])
        ok = "yes" if abs(r["error"]) <= tolerance else "**no**"
        out.append(
            f"| {_count(r['parameters'])} | {r['mode']} | {r['ranks']} | "
            f"{r['predicted_s'] * 1e3:.3g} | {r['measured_s'] * 1e3:.3g} | {runs} | "
            f"{r['error']:+.1%} | {ok} |"
        )
    return "\n".join(out)


def _count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


# ============================================================================ command line
def _int_list(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return out


def _size_list(text: str) -> list[int]:
    from tinygrad_opt.cluster.config import parse_count

    out = []
    for t in text.split(","):
        try:
            out.append(int(float(parse_count(t.strip()))))
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(
                f"expected parameter counts such as 0.1M,5M, got {text!r}"
            ) from None
    if min(out) < 1000:
        raise argparse.ArgumentTypeError(f"model sizes must be >= 1000 parameters, got {text!r}")
    return out


def _positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not x > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return x

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tinygrad-opt calibrate``."""
    parser.add_argument(
        "--ranks",
        type=_int_list,
        default=[1, 2, 4],
        help="MPI rank counts to calibrate for (default 1,2,4)",
    )
    parser.add_argument(
        "--sizes",
        type=_size_list,
        default=[100_000, 5_000_000],
        help="model sizes in parameters (default 0.1M,5M)",
    )
    parser.add_argument(
        "--steps",
        type=_positive(int),
        default=30,
        help="training steps per size and mode at 1 rank (default 30)",
    )
    parser.add_argument("--out", default="cluster.toml", help="TOML file (default cluster.toml)")
    parser.add_argument("--json", default=None, help="also write every measurement and fit as JSON")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repetitions and sweep sizes: a rough file in seconds",
    )
    parser.add_argument(
        "--rounds",
        type=_positive(int),
        default=None,
        help="run every measuring job this many times, take medians (default 3, 1 with --quick)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="also time separate training runs (between the calibration's rounds) and "
        "print predicted vs measured",
    )
    parser.add_argument(
        "--timeout",
        type=_positive(float),
        default=300.0,
        help="seconds an MPI job may take before it is stopped (default 300)",
    )


def run(args: argparse.Namespace) -> int:
    """``tinygrad-opt calibrate``: measure, fit, write the TOML file; the exit code."""
    from tinygrad_opt.cluster.units import format_bandwidth, format_duration

    def say(msg: str) -> None:
        print(f"calibrate: {msg}", file=sys.stderr, flush=True)

    try:
        check = None
        if args.check:  # check runs between the calibration's rounds (same minutes)
            check = CheckRuns(args.ranks, 1 if args.quick else 3, timeout=args.timeout, log=say)
        cal = calibrate(ranks=args.ranks, sizes=args.sizes, steps=args.steps,
                        quick=args.quick, timeout=args.timeout, log=say,
                        rounds=args.rounds, after_round=check)  # fmt: skip
        path = write_toml(cal, args.out)
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(cal.to_dict(), indent=1))
        print(
            f"latency {format_duration(cal.latency_s)}, bandwidth "
            f"{format_bandwidth(cal.bandwidth)}, effective cores {cal.cores_per_node:.3g} "
            f"of {cal.cpus}, memory streams {cal.memory_streams_per_node:.3g}, compute "
            f"sigma {cal.sigma:.3g}"
        )
        for w in sorted(cal.workloads.values(), key=lambda w: (w["parameters"], w["mode"])):
            print(
                f"{_count(w['parameters']):>7} parameters, {w['mode']:<9}: compute "
                f"{format_duration(w['compute_time_per_step'])}, update "
                f"{format_duration(w['update_time'])}"
            )
        print(f"wrote {path} ({cal.seconds:.0f} s of measuring)")
        if check is not None:
            print(format_table(check.rows(cal, path)))
    except (CalibrationError, ValueError, OSError) as e:
        print(f"tinygrad-opt calibrate: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_job_main(sys.argv[1:]))
