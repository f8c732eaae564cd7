"""Data-parallel training on MPI: communication overhead, scaling, bucketing.

    flock /tmp/tinygrad_measure.lock python benchmarks/bench_distributed.py [--quick]

The script is its own MPI program: the launcher (what you run) starts jobs with
``mpiexec -n K python benchmarks/bench_distributed.py --worker PART ...``; rank 0 of each
job prints one ``BENCH_RESULT {json}`` line, and the launcher prints the tables and, last,
one JSON object. Three parts:

1. **Overhead** (2 ranks). The gradient synchronisation of
   ``DistributedOptimizer(mode="allreduce")`` against raw ``comm.Allreduce(MPI.IN_PLACE,
   buf)`` of one buffer of the same bytes, at several sizes (float32). The model is
   ``--tensors`` equal tensors; its optimizer is :class:`NoUpdate` (a step that does
   nothing), so ``dopt.step()`` is exactly: bucket gather, barrier (``split_wait=True``
   only), one Allreduce per bucket, divide by N. Both ``split_wait`` settings are timed
   end to end (``dopt.step()``), and the trace's ``wait + comm`` per step is reported
   too. Two more references: ``raw/bucket``, raw Allreduce over buffers laid out as our
   buckets (the same messages; with 25 MiB buckets a 64 MiB model is 3 messages, which
   MPICH happens to move faster than one), and ``+mean``, the same followed by dividing
   every buffer by N: the floor for any path that averages in a separate pass.
   ``ours / raw`` is what the issue's target (<= 1.10x) is about; ``ours / +mean`` is
   what our Python adds beyond the all-reduce and the divide.
2. **Bucketed vs per-tensor** (2 ranks). ``--small`` tensors of 1k-10k float32 each;
   ``dopt.step()`` with the default ``bucket_bytes`` (one message) against
   ``bucket_bytes=1`` (one message per tensor), with raw Allreduce of the same layouts
   beside them.
3. **Scaling** (1, 2, 4 ranks; weak scaling). An MLP of about 1M float32 parameters,
   cross-entropy on random data, SGD with momentum, ``--batch`` examples per rank per
   step, in both modes (``allreduce`` and ``ps``, one colocated server). Step time is the
   wall time of ``zero_grad + forward + backward + step``; efficiency is
   ``T(1 rank) / T(N ranks)`` of the same mode (1.0 is perfect weak scaling). The
   1-rank job also times the same training without any DistributedOptimizer ("plain").
   The machine has 2 cores: 4 ranks oversubscribe them, so at most 0.5 is possible there.

Fairness and noise, as in ``bench_optim.py``: only ratios measured in the same run mean
anything. Every rank runs single-threaded (``OPENBLAS_NUM_THREADS=1``, optimizer
``threads=1``): a rank is one core's worth of work at every N, as weak scaling assumes.
Within a job, contenders are timed in blocks (untimed warm-up, then ``--reps`` timed
repetitions), interleaved round-robin for ``--rounds`` rounds with the order rotated;
scaling jobs of different N are interleaved the same way across ``--rounds`` launches.
A timed repetition of parts 1-2 starts after a barrier and counts as the slowest rank's
time; scaling steps run back to back, each counted as the slowest rank's. Everything is
summarised by medians. Other processes' CPU use is measured from /proc/stat for every
round (scaling: every job); rounds (jobs) during which it exceeded ``--quiet`` are set
aside and run again, as in ``bench_optim.py``, and the tables print the load of what was
kept. On the 2-vCPU VM this was written on, MPICH's shared-memory all-reduce itself
switches between two speeds from one job to the next (e.g. 1 MiB in 0.14 ms or in
0.56 ms, with no other process running): compare ratios from the same job, and read the
``GB/s`` column to see which state a run was in.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
# measure the checkout this script lives in, whatever copy of the package is installed
sys.path.insert(0, str(ROOT))

from tinygrad_opt.distributed.launch import THREAD_ENV  # noqa: E402
from tinygrad_opt.optim import Optimizer  # noqa: E402

RESULT_PREFIX = "BENCH_RESULT "
TARGET_OVERHEAD = 1.10
MB = 2**20


class NoUpdate(Optimizer):
    """An optimizer whose step changes nothing: ``DistributedOptimizer.step()`` with it is
    the gradient synchronisation alone."""

    def __init__(self, params: Any) -> None:
        super().__init__(params, {})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return None


# ---------------------------------------------------------------------------- worker side
def _params(sizes: list[int], dtype: Any = np.float32) -> list[Any]:
    from tinygrad_opt import Tensor

    return [Tensor(np.zeros(n, dtype=dtype), requires_grad=True) for n in sizes]


class Contender:
    """Something to time: ``run()`` once per repetition, ``prepare()`` before a block.

    ``dopt``: the DistributedOptimizer behind ``run`` (its trace gives the sync time).
    """

    def __init__(
        self, run: Callable[[], Any], prepare: Callable[[], Any] | None = None, dopt: Any = None
    ) -> None:
        self.run, self.prepare, self.dopt = run, prepare, dopt


def _sync_dopt(params: list[Any], prescaled: bool = False, **kw: Any) -> Contender:
    """``dopt.step()`` of a NoUpdate optimizer over ``params`` (gradients = ones).

    ``prescaled``: the gradients count as made by ``dopt.backward(loss)`` (already divided
    by N), so the step is the all-reduce alone, without the division pass."""
    from tinygrad_opt.distributed import DistributedOptimizer

    dopt = DistributedOptimizer(NoUpdate(params), mode="allreduce", **kw)

    def prepare() -> None:
        dopt.zero_grad()  # every .grad becomes a view of its bucket, as after backward
        for b in dopt.buckets:
            b.buffer.fill(1.0)

    def step_prescaled() -> None:
        dopt._prescaled = True  # what dopt.backward(loss) records; step() resets it
        dopt.step()

    if prescaled:
        return Contender(step_prescaled, prepare, dopt)

    return Contender(dopt.step, prepare, dopt)


def _raw(buffers: list[np.ndarray], comm: Any, MPI: Any, mean: bool = False) -> Contender:
    """Raw ``Allreduce(IN_PLACE)`` of each buffer; ``mean``: then divide each by N."""
    n = comm.Get_size()

    def run() -> None:
        for buf in buffers:
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        if mean:
            for buf in buffers:
                buf /= n

    def prepare() -> None:
        for buf in buffers:
            buf.fill(1.0)

    return Contender(run, prepare)


def _trace_sync(dopt: Any, first_step: int) -> np.ndarray:
    """Per step from ``first_step`` on: seconds in ``wait`` + ``comm`` (this rank)."""
    steps = dopt.steps - first_step
    out = np.zeros(steps)
    for s, kind, a, b in dopt.trace.events:
        if s >= first_step and kind in ("wait", "comm"):
            out[s - first_step] += b - a
    return out


class RanksLoad:
    """How busy the CPUs were with processes other than this job's ranks between
    ``start`` and ``stop`` (collective calls; every rank gets the same answer): from
    /proc/stat on rank 0 minus all ranks' CPU time; 0.0 idle, 1.0 every CPU busy."""

    def __init__(self, comm: Any) -> None:
        self.comm = comm

    def start(self) -> None:
        self.comm.Barrier()
        self.t0, self.busy0, self.mine0 = time.perf_counter(), _busy_seconds(), _cpu_seconds()

    def stop(self) -> float | None:
        mine = self.comm.allreduce(_cpu_seconds() - self.mine0)
        load = None
        if self.comm.rank == 0:
            busy = _busy_seconds()
            if busy is not None and self.busy0 is not None:
                wall = time.perf_counter() - self.t0
                load = max(0.0, (busy - self.busy0 - mine) / (wall * (os.cpu_count() or 1)))
        return self.comm.bcast(load, root=0)


def _busy_seconds() -> float | None:
    """CPU seconds all processes spent busy since boot (/proc/stat), None if unknown."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def _cpu_seconds(children: bool = False) -> float:
    t = os.times()
    return t.user + t.system + ((t.children_user + t.children_system) if children else 0.0)


def time_blocks(
    comm: Any,
    MPI: Any,
    contenders: dict[str, Contender],
    args: argparse.Namespace,
) -> tuple[dict[str, list[float]], int, float | None]:
    """Seconds per repetition of every contender (the slowest rank's), blocks round-robin.

    Also ``"<name> trace"``: the trace's wait + comm of each repetition, for contenders
    with a DistributedOptimizer. A round during which other processes kept more than
    ``args.quiet`` of the CPUs busy is set aside and more rounds run (up to
    ``args.max_rounds``) until ``args.rounds`` quiet ones are in; if there are not
    enough, every round counts. Returns the times, the rounds used and their other load.
    """
    names = list(contenders)
    kept: list[tuple[dict[str, list[float]], float | None]] = []
    noisy: list[tuple[dict[str, list[float]], float | None]] = []
    probe = RanksLoad(comm)
    r = 0
    while len(kept) < args.rounds and r < args.max_rounds:
        k = r % len(names)
        r += 1
        times: dict[str, list[float]] = {}
        probe.start()
        for name in names[k:] + names[:k]:
            c = contenders[name]
            if c.prepare is not None:
                c.prepare()
            for _ in range(args.warmup):
                comm.Barrier()
                c.run()
            first = c.dopt.steps if c.dopt is not None else 0
            local = np.empty(args.reps)
            for i in range(args.reps):
                comm.Barrier()
                t0 = time.perf_counter()
                c.run()
                local[i] = time.perf_counter() - t0
            comm.Allreduce(MPI.IN_PLACE, local, op=MPI.MAX)
            times[name] = local.tolist()
            if c.dopt is not None:
                sync = _trace_sync(c.dopt, first)
                comm.Allreduce(MPI.IN_PLACE, sync, op=MPI.MAX)
                times[f"{name} trace"] = sync.tolist()
        load = probe.stop()
        (kept if load is None or load <= args.quiet else noisy).append((times, load))
    used = kept if len(kept) >= args.rounds else kept + noisy
    merged = {name: [t for times, _ in used for t in times[name]] for name in used[0][0]}
    loads = [load for _, load in used if load is not None]
    return merged, len(used), (statistics.mean(loads) if loads else None)


def _medians_ms(times: dict[str, list[float]]) -> dict[str, float]:
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def worker_overhead(ctx: Any, MPI: Any, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mb in args.sizes:
        n = int(mb * MB) // 4
        parts = np.full(args.tensors, n // args.tensors)
        parts[-1] += n - parts.sum()
        params = _params([int(x) for x in parts])
        split = _sync_dopt(params, ctx=ctx, split_wait=True)
        nosplit = _sync_dopt(params, ctx=ctx, split_wait=False)
        pre = _sync_dopt(params, prescaled=True, ctx=ctx, split_wait=False)
        layout = [b.buffer.size for b in split.dopt.buckets]
        contenders = {
            "raw": _raw([np.zeros(n, np.float32)], ctx.comm, MPI),
            "raw/bucket": _raw([np.zeros(m, np.float32) for m in layout], ctx.comm, MPI),
            "raw+mean": _raw([np.zeros(m, np.float32) for m in layout], ctx.comm, MPI, mean=True),
            "ours split_wait": split,
            "ours no split_wait": nosplit,
            "ours prescaled": pre,
        }
        times, used, load = time_blocks(ctx.comm, MPI, contenders, args)
        out[f"{mb:g}MB"] = {
            "ms": _medians_ms(times),
            "buckets": len(layout),
            "bytes": 4 * n,
            "rounds_used": used,
            "other_cpu_load": load,
        }
        del contenders, split, nosplit, pre, params
    return out


def worker_buckets(ctx: Any, MPI: Any, args: argparse.Namespace) -> dict[str, Any]:
    sizes = np.random.default_rng(0).integers(1000, 10_001, args.small).tolist()
    params = _params(sizes)
    bucketed = _sync_dopt(params, ctx=ctx)
    per_tensor = _sync_dopt(params, ctx=ctx, bucket_bytes=1)
    contenders = {
        "ours bucketed": bucketed,
        "ours per-tensor": per_tensor,
        "raw bucketed": _raw(
            [np.zeros(b.buffer.size, np.float32) for b in bucketed.dopt.buckets], ctx.comm, MPI
        ),
        "raw per-tensor": _raw([np.zeros(m, np.float32) for m in sizes], ctx.comm, MPI),
    }
    times, used, load = time_blocks(ctx.comm, MPI, contenders, args)
    return {
        "ms": _medians_ms(times),
        "rounds_used": used,
        "other_cpu_load": load,
        "tensors": len(sizes),
        "bytes": 4 * int(sum(sizes)),
        "buckets": {"bucketed": len(bucketed.dopt.buckets), "per-tensor": len(sizes)},
    }


def worker_scaling(ctx: Any, MPI: Any, args: argparse.Namespace) -> dict[str, Any]:
    from tinygrad_opt import nn, optim
    from tinygrad_opt.distributed import (
        DistributedOptimizer,
        DistributedSampler,
        broadcast_parameters,
    )

    comm = ctx.comm
    sizes = args.mlp
    rng = np.random.default_rng(0)
    n = max(args.batch * ctx.world_size * 8, 512)
    X = rng.standard_normal((n, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], n)

    def setup(mode: str | None) -> tuple[Callable[[], None], Any]:
        model = nn.MLP(sizes, rng=1, dtype=np.float32)
        opt = optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, threads=1)
        if mode is None:
            sampler = DistributedSampler(n, args.batch, seed=0)
            dopt, target = None, opt
        else:
            broadcast_parameters(model, ctx)
            dopt = target = DistributedOptimizer(opt, mode=mode, ctx=ctx)
            sampler = DistributedSampler(
                n, args.batch, rank=dopt.worker_rank, world_size=dopt.num_workers, seed=0
            )
        batches = iter(sampler)

        def train_step() -> None:
            idx = next(batches)
            target.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            target.step()

        return train_step, dopt

    modes: list[str | None] = list(args.modes)
    if ctx.world_size == 1:
        modes.append(None)
    runs = {m: setup(m) for m in modes}
    names = {m: m or "plain" for m in modes}
    times: dict[str, list[float]] = {names[m]: [] for m in modes}
    kinds: dict[str, dict[str, float]] = {}
    for r in range(args.inner_rounds):
        k = r % len(modes)
        for m in modes[k:] + modes[:k]:
            step, dopt = runs[m]
            comm.Barrier()
            for _ in range(args.warmup):
                step()
            first = dopt.steps if dopt is not None else 0
            local = np.empty(args.reps)
            t_prev = time.perf_counter()
            for i in range(args.reps):
                step()
                now = time.perf_counter()
                local[i], t_prev = now - t_prev, now
            comm.Allreduce(MPI.IN_PLACE, local, op=MPI.MAX)
            times[names[m]].extend(local.tolist())
            if dopt is not None:
                per_kind = _kinds_per_step(dopt, first)
                for kind, v in per_kind.items():
                    kinds.setdefault(names[m], {}).setdefault(kind, 0.0)
                    kinds[names[m]][kind] += v / args.inner_rounds
    for m in modes:
        if runs[m][1] is not None:
            runs[m][1].close()
    # the ranks' mean seconds per step in each phase, averaged over ranks
    everyone = comm.gather(kinds, root=0)
    mean_kinds: dict[str, dict[str, float]] = {}
    if ctx.rank == 0:
        for name in kinds:
            mean_kinds[name] = {
                kind: 1e3 * float(np.mean([k[name][kind] for k in everyone]))
                for kind in kinds[name]
            }
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    return {
        "ranks": ctx.world_size,
        "step_ms": _medians_ms(times),
        "step_samples_ms": {k: [round(1e3 * t, 4) for t in v] for k, v in times.items()},
        "phase_ms": mean_kinds,
        "parameters": params,
    }


def _kinds_per_step(dopt: Any, first_step: int) -> dict[str, float]:
    """Mean seconds per step (from ``first_step`` on) in each trace kind, this rank."""
    from tinygrad_opt.distributed.trace import KINDS

    steps = max(dopt.steps - first_step, 1)
    out = {k: 0.0 for k in KINDS if k != "dropped"}
    for s, kind, a, b in dopt.trace.events:
        if s >= first_step and kind in out:
            out[kind] += (b - a) / steps
    return out


WORKERS = {"overhead": worker_overhead, "buckets": worker_buckets, "scaling": worker_scaling}


def worker_main(args: argparse.Namespace) -> int:
    from tinygrad_opt import distributed as dist

    ctx = dist.init(timeout=120)
    result = WORKERS[args.worker](ctx, dist.comm.require_mpi(), args)
    ctx.barrier()
    if ctx.rank == 0:
        print(RESULT_PREFIX + json.dumps(result), flush=True)
    ctx.close()
    return 0


# ---------------------------------------------------------------------------- launcher side
class OtherLoad:
    """How busy the CPUs were with processes other than this one and its (waited-for)
    children, e.g. an ``mpiexec`` job, between ``start`` and ``stop``: 0.0 idle, 1.0 all
    busy."""

    def start(self) -> None:
        self.t0, self.busy0 = time.perf_counter(), _busy_seconds()
        self.mine0 = _cpu_seconds(children=True)

    def stop(self) -> float | None:
        busy = _busy_seconds()
        if busy is None or self.busy0 is None:
            return None
        wall = time.perf_counter() - self.t0
        other = (busy - self.busy0) - (_cpu_seconds(children=True) - self.mine0)
        return max(0.0, other / (wall * (os.cpu_count() or 1)))


def run_job(ranks: int, part: str, options: list[str], timeout: float) -> tuple[dict, float | None]:
    """Run one ``mpiexec`` job of ``part``; rank 0's result and the other CPU load."""
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise RuntimeError("mpiexec not found (pip install 'tinygrad-opt[dist]')")
    cmd = [mpiexec, "-n", str(ranks), sys.executable, str(pathlib.Path(__file__).resolve())]
    cmd += ["--worker", part, *options]
    env = os.environ | THREAD_ENV
    probe = OtherLoad()
    probe.start()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    load = probe.stop()
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :]), load


def _fmt_load(load: float | None) -> str:
    return "n/a" if load is None else f"{100 * load:.0f}%"


def _block_opts(args: argparse.Namespace) -> list[str]:
    return [
        "--rounds",
        str(args.rounds),
        "--reps",
        str(args.reps),
        "--warmup",
        str(args.warmup),
        "--quiet",
        str(args.quiet),
        "--max-rounds",
        str(args.max_rounds),
    ]


def run_overhead(args: argparse.Namespace) -> dict[str, Any]:
    opts = ["--sizes", *(f"{s:g}" for s in args.sizes), "--tensors", str(args.tensors)]
    res, _ = run_job(2, "overhead", opts + _block_opts(args), args.job_timeout)
    print(
        f"\n1. Overhead of our all-reduce path: 2 ranks, float32, {args.tensors} tensors; "
        "ms per sync (slowest rank), medians"
    )
    head = (
        f"{'size':>5}{'bkts':>5}{'raw':>8}{'raw/bkt':>8}{'+mean':>8}{'ours T':>8}{'ours F':>8}"
        f"{'trace T':>8}{'trace F':>8}{'GB/s':>6} |{'T/raw':>7}{'F/raw':>7} |{'T/mean':>7}"
        f"{'F/mean':>7} |{'rounds':>7}{'load':>5}"
    )
    print(head)
    print("-" * len(head))
    table: dict[str, Any] = {}
    for size, row in res.items():
        ms = row["ms"]
        raw, rawb, rawm = ms["raw"], ms["raw/bucket"], ms["raw+mean"]
        sw, nsw = ms["ours split_wait"], ms["ours no split_wait"]
        tsw, tnsw = ms["ours split_wait trace"], ms["ours no split_wait trace"]
        pre = ms["ours prescaled"]
        entry = {
            "bytes": row["bytes"],
            "buckets": row["buckets"],
            "raw_ms": raw,
            "raw_bucket_layout_ms": rawb,
            "raw_bucket_layout_mean_ms": rawm,
            "ours_split_wait_ms": sw,
            "ours_no_split_wait_ms": nsw,
            "ours_split_wait_trace_sync_ms": tsw,
            "ours_no_split_wait_trace_sync_ms": tnsw,
            "raw_GBps": row["bytes"] / (raw * 1e-3) / 1e9,
            "ratio_split_wait": sw / raw,
            "ratio_no_split_wait": nsw / raw,
            "ratio_split_wait_vs_bucket_layout": sw / rawb,
            "ratio_no_split_wait_vs_bucket_layout": nsw / rawb,
            "ratio_split_wait_vs_raw_mean": sw / rawm,
            "ratio_no_split_wait_vs_raw_mean": nsw / rawm,
            "ours_prescaled_ms": pre,
            "ratio_prescaled": pre / raw,
            "rounds_used": row["rounds_used"],
            "other_cpu_load": row["other_cpu_load"],
        }
        table[size] = {k: round(v, 4) if isinstance(v, float) else v for k, v in entry.items()}
        print(
            f"{size:>5}{row['buckets']:>5}{raw:>8.3f}{rawb:>8.3f}{rawm:>8.3f}{sw:>8.3f}"
            f"{nsw:>8.3f}{tsw:>8.3f}{tnsw:>8.3f}{entry['raw_GBps']:>6.2f} |{sw / raw:>6.2f}x"
            f"{nsw / raw:>6.2f}x |{sw / rawm:>6.2f}x{nsw / rawm:>6.2f}x |"
            f"{row['rounds_used']:>7}{_fmt_load(row['other_cpu_load']):>5}"
        )
        print(
            f"{'':>5}  ours P (dopt.backward, no divide pass): {pre:.3f} ms = {pre / raw:.2f}x raw"
        )
    print(
        "   raw: one Allreduce(IN_PLACE) of all the bytes; raw/bkt: raw Allreduce of buffers "
        "laid out as our\n   buckets; +mean: the same, then each divided by N (the floor for "
        "any averaging path);\n   ours T / F: dopt.step() with split_wait=True / False "
        "(NoUpdate optimizer); trace T / F: its\n   trace's wait + comm (no bucket gather); "
        "T/raw, F/raw: the target ratios; T/mean, F/mean:\n   what our code adds beyond an "
        "all-reduce + divide; load: other processes' share of the CPUs."
    )
    return {"table": table}


def run_buckets(args: argparse.Namespace) -> dict[str, Any]:
    opts = ["--small", str(args.small)] + _block_opts(args)
    res, _ = run_job(2, "buckets", opts, args.job_timeout)
    ms = res["ms"]
    print(
        f"\n2. Bucketed vs per-tensor: 2 ranks, {res['tensors']} tensors of 1k-10k float32 "
        f"({res['bytes'] / MB:.1f} MiB); ms per sync, medians ({res['rounds_used']} rounds, "
        f"other load {_fmt_load(res['other_cpu_load'])})"
    )
    for name, nb in (
        ("ours bucketed", res["buckets"]["bucketed"]),
        ("ours per-tensor", res["tensors"]),
        ("raw bucketed", res["buckets"]["bucketed"]),
        ("raw per-tensor", res["tensors"]),
    ):
        extra = f"   trace wait+comm {ms[name + ' trace']:.3f}" if name.startswith("ours") else ""
        print(f"   {name:<17}{nb:>4} msgs {ms[name]:>8.3f}{extra}")
    speedup = ms["ours per-tensor"] / ms["ours bucketed"]
    raw_speedup = ms["raw per-tensor"] / ms["raw bucketed"]
    print(f"   speedup of bucketing: ours {speedup:.2f}x (raw Allreduce alone: {raw_speedup:.2f}x)")
    return {
        "ms": {k: round(v, 4) for k, v in ms.items()},
        "tensors": res["tensors"],
        "bytes": res["bytes"],
        "buckets": res["buckets"],
        "speedup": round(speedup, 3),
        "raw_speedup": round(raw_speedup, 3),
        "rounds_used": res["rounds_used"],
        "other_cpu_load": res["other_cpu_load"],
    }


def run_scaling(args: argparse.Namespace) -> dict[str, Any]:
    """Jobs of 1, 2, 4 ranks interleaved over ``args.rounds`` rounds; a job during which
    other processes were busy (> ``args.quiet``) is run again, up to ``args.retries``
    times, and the quietest attempt counts."""
    opts = ["--mlp", *map(str, args.mlp), "--batch", str(args.batch), "--modes", *args.modes]
    opts += ["--reps", str(args.steps), "--warmup", str(args.warmup)]
    opts += ["--inner-rounds", str(args.inner_rounds)]
    samples: dict[int, dict[str, list[float]]] = {k: {} for k in args.ranks}
    phases: dict[int, list[dict[str, dict[str, float]]]] = {k: [] for k in args.ranks}
    loads: dict[int, list[float]] = {k: [] for k in args.ranks}
    params = 0
    for r in range(args.rounds):
        order = args.ranks[r % len(args.ranks) :] + args.ranks[: r % len(args.ranks)]
        for k in order:
            attempts = []
            for _ in range(1 + args.retries):
                res, load = run_job(k, "scaling", opts, args.job_timeout)
                attempts.append((1.0 if load is None else load, res, load))
                if load is None or load <= args.quiet:
                    break
            _, res, load = min(attempts, key=lambda a: a[0])
            params = res["parameters"]
            for name, v in res["step_samples_ms"].items():
                samples[k].setdefault(name, []).extend(v)
            phases[k].append(res["phase_ms"])
            if load is not None:
                loads[k].append(load)
    step_ms = {k: {n: statistics.median(v) for n, v in samples[k].items()} for k in args.ranks}
    print(
        f"\n3. Weak scaling: MLP {args.mlp} ({params / 1e6:.2f}M float32 parameters), batch "
        f"{args.batch} per rank, SGD momentum,\n   1 thread per rank, {os.cpu_count()} cores; "
        "ms per step (slowest rank), medians; phases: mean ms per step"
    )
    head = (
        f"{'mode':<10}{'ranks':>6}{'step':>9}{'eff.':>7} |{'compute':>8}{'wait':>7}"
        f"{'comm':>7}{'send':>7}{'recv':>7}{'update':>7} |{'load':>6}"
    )
    print(head)
    print("-" * len(head))
    table: dict[str, Any] = {}
    for mode in args.modes:
        base = step_ms[1][mode]
        for k in args.ranks:
            t = step_ms[k][mode]
            ph = {
                kind: statistics.mean(p[mode][kind] for p in phases[k])
                for kind in phases[k][0][mode]
            }
            load = statistics.mean(loads[k]) if loads[k] else None
            table.setdefault(mode, {})[str(k)] = {
                "step_ms": round(t, 3),
                "efficiency": round(base / t, 3),
                "phase_ms": {kk: round(v, 3) for kk, v in ph.items()},
                "other_cpu_load": None if load is None else round(load, 3),
            }
            print(
                f"{mode:<10}{k:>6}{t:>9.2f}{base / t:>7.2f} |{ph['compute']:>8.2f}"
                f"{ph['wait']:>7.2f}{ph['comm']:>7.2f}{ph['send']:>7.2f}{ph['recv']:>7.2f}"
                f"{ph['update']:>7.2f} |{_fmt_load(load):>6}"
            )
    plain = step_ms[1].get("plain")
    if plain is not None:
        print(
            f"{'plain':<10}{1:>6}{plain:>9.2f}   (the same training without DistributedOptimizer)"
        )
    cores = os.cpu_count() or 1
    if max(args.ranks) > cores:
        print(
            f"   {max(args.ranks)} ranks on {cores} cores oversubscribe them: efficiency "
            f"<= {cores / max(args.ranks):.2f} there at best."
        )
    return {
        "table": table,
        "plain_1rank_step_ms": None if plain is None else round(plain, 3),
        "parameters": params,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, ranks 1-2, < 30 s")
    ap.add_argument(
        "--parts", nargs="+", default=["overhead", "buckets", "scaling"], choices=list(WORKERS)
    )
    ap.add_argument("--rounds", type=int, default=5, help="round-robin rounds (default 5)")
    ap.add_argument("--reps", type=int, default=10, help="timed repetitions per block")
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 16, 64], help="MB (MiB)")
    ap.add_argument("--tensors", type=int, default=8, help="overhead: tensors in the model")
    ap.add_argument("--small", type=int, default=500, help="bucketing: number of tensors")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4], help="scaling")
    ap.add_argument("--modes", nargs="+", default=["allreduce", "ps"], help="scaling")
    ap.add_argument("--mlp", type=int, nargs="+", default=[512, 1024, 512, 10], help="scaling")
    ap.add_argument("--batch", type=int, default=64, help="scaling: examples per rank")
    ap.add_argument("--steps", type=int, default=10, help="scaling: timed steps per block")
    ap.add_argument("--inner-rounds", type=int, default=2, help="scaling: mode blocks per job")
    ap.add_argument("--warmup", type=int, default=2, help="untimed repetitions per block")
    ap.add_argument(
        "--quiet",
        type=float,
        default=0.1,
        help="rounds (scaling: jobs) in which other processes kept more than this share of "
        "the CPUs busy are set aside and run again (default 0.1)",
    )
    ap.add_argument("--max-rounds", type=int, default=0, help="default: 3 x --rounds")
    ap.add_argument("--retries", type=int, default=2, help="scaling: reruns of a noisy job")
    ap.add_argument("--job-timeout", type=float, default=300.0, help="seconds per mpiexec job")
    ap.add_argument("--worker", choices=list(WORKERS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if args.quick:
        args.sizes, args.rounds, args.reps, args.small = [1, 4], 2, 4, 200
        args.ranks, args.mlp, args.batch, args.steps = [1, 2], [256, 256, 10], 32, 4
        args.inner_rounds, args.job_timeout, args.retries = 1, 60.0, 0
    args.max_rounds = args.max_rounds or 3 * args.rounds
    args.ranks = [1, *sorted(set(args.ranks) - {1})]  # efficiency needs the 1-rank time
    try:
        import mpi4py

        mpi4py.rc.initialize = False  # the launcher only starts jobs; it is not one
        from mpi4py import MPI
    except ImportError:
        print("bench_distributed needs mpi4py: pip install 'tinygrad-opt[dist]'", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    t_start = time.perf_counter()
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
        f"{np.__version__}, mpi4py {mpi4py.__version__}, "
        f"{MPI.Get_library_version().splitlines()[0].strip()}; {args.rounds} rounds x "
        f"{args.reps} reps, medians; load avg {load_before:.2f}"
    )
    out: dict[str, Any] = {"benchmark": "bench_distributed"}
    targets = []
    if "overhead" in args.parts:
        out["overhead"] = run_overhead(args)
        for size, row in out["overhead"]["table"].items():
            for key, label in (
                ("ratio_split_wait", "split_wait=True"),
                ("ratio_no_split_wait", "split_wait=False"),
                ("ratio_prescaled", "dopt.backward (pre-divided)"),
            ):
                targets.append(
                    {
                        "target": f"overhead {size} {label}: ours / raw Allreduce",
                        "ratio": row[key],
                        "limit": TARGET_OVERHEAD,
                        "met": row[key] <= TARGET_OVERHEAD,
                    }
                )
    if "buckets" in args.parts:
        out["buckets"] = run_buckets(args)
    if "scaling" in args.parts:
        out["scaling"] = run_scaling(args)
    if targets:
        print(f"\n{'target (medians)':<58}{'ratio':>8}{'limit':>8}  met")
        for t in targets:
            print(
                f"{t['target']:<58}{t['ratio']:>7.3f}x{t['limit']:>7.2f}x  "
                f"{'yes' if t['met'] else 'NO'}"
            )
    load_after = os.getloadavg()[0]
    elapsed = time.perf_counter() - t_start
    print(f"# load average {load_before:.2f} before, {load_after:.2f} after; {elapsed:.0f} s")
    out["targets"] = targets
    out["all_met"] = all(t["met"] for t in targets)
    out["config"] = {
        k: getattr(args, k)
        for k in (
            "quick",
            "rounds",
            "reps",
            "sizes",
            "tensors",
            "small",
            "ranks",
            "modes",
            "mlp",
            "batch",
            "steps",
            "inner_rounds",
            "warmup",
            "quiet",
            "max_rounds",
        )
    } | {
        "cpus": os.cpu_count(),
        "numpy": np.__version__,
        "mpi": MPI.Get_library_version().splitlines()[0].strip(),
        "load_avg": [round(load_before, 2), round(load_after, 2)],
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
