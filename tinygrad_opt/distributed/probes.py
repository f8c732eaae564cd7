"""The measuring side of ``tinygrad-opt calibrate``: MPI probes, and the job that runs them.

Every function here runs inside an MPI job (``mpiexec -n K python -m
tinygrad_opt.distributed.probes --job SPEC --out OUT``, started by
:func:`tinygrad_opt.distributed.calibrate.run_job`), or on this process alone
(:func:`time_reduce`, :func:`last_level_cache_bytes`):

* :func:`time_reduce`: adding float32 buffers at one rank (the reduce bandwidth ``R``);
* :func:`sweep_collectives`: ``Barrier`` + ``Allreduce`` and the parameter-server
  pattern (gather to rank 0, sum, send back) for message sizes from 8 bytes up;
* :func:`probe_contention`: every rank trains the same model at the same time, no messages;
* :func:`probe_turns`: each rank trains alone, then all of them synchronised by tiny
  messages (the waiting for turns on the cores);
* :func:`measure_training`: a few training steps with ``DistributedOptimizer``.

The numbers go to :mod:`tinygrad_opt.cluster.calibration_fits`; what they mean and how
they are fitted is in :mod:`tinygrad_opt.distributed.calibrate` and ``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.cluster.calibration import (
    BATCH,
    CLASSES,
    DATASET,
    IN_FEATURES,
    MODES,
    TURN_BYTES,
    WARMUP,
    mlp_parameters,
    mlp_sizes,
)

__all__ = [
    "last_level_cache_bytes",
    "measure_training",
    "probe_contention",
    "probe_turns",
    "sweep_collectives",
    "time_reduce",
]


# ============================================================================ the workload
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


# ============================================================================ this machine
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
    ap = argparse.ArgumentParser(prog="python -m tinygrad_opt.distributed.probes")
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


if __name__ == "__main__":
    sys.exit(_job_main(sys.argv[1:]))
