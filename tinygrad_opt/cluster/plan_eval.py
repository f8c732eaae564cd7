"""The planner's evaluation of a whole grid at once: the simulator's closed forms in numpy.

:func:`evaluate_grid` returns, for every configuration of a settings grid
(:func:`~tinygrad_opt.cluster.config.expand`), the row :func:`simulate` would give
(:data:`~tinygrad_opt.cluster.sweep.SWEEP_KEYS`), without simulating each one. A step of
:func:`~tinygrad_opt.cluster.simulate.simulate` splits into two parts:

- **synchronisation** (communication, placement, server update, post-all-reduce update):
  it depends on the network, the scheme and the model, not on the batch, the compute time,
  the steps or the prices. It is taken from ``simulate`` itself, run once per distinct
  synchronisation (deterministic compute, one sampled step): its ``unit`` (one
  synchronisation, or one bucket with overlap), ``post_update``, bucket count and the
  update's share of the exposed tail — whatever the simulator models there, the planner
  gets it;
- **compute**: ``c[s, w] = t̄ · o / speed[w] · X[s, w]`` (``o`` = the node's
  oversubscription) is linear in the mean compute time ``t̄``, so the straggler samples
  ``X_(N)`` (the ``N``-th fastest of ``W``) are drawn once per (compute model, ``W``,
  ``N``) with ``t̄ = 1`` and scaled for every row.

Then, vectorised over the rows (``T = t̄ · o``, ``τ`` = turn wait, ``u`` = unit,
``p`` = post update, ``K`` buckets, ``β`` backward fraction):

    ready = T·X_(N) + τ
    sync_end = ready + u                                   (no overlap)
             = max(T·X_(N)(1 − β + β/K) + K·u, T·X_(N) + u) + τ   (overlap)
    step = sync_end + p + a;    steps = steps or ⌈S_min(1 + B_noise / (N·b·k))⌉

with ``k`` micro-batches of gradient accumulation (``T = k·t̄·o``, ``β/k``, global batch
``N·b·k``) and ``a`` the ZeRO parameter all-gather after the update. Per-tensor DDP
buckets and Horovod fusion (:mod:`.buckets`) replace the overlap line by their own
schedule, evaluated per row over its samples ``T·X_(N)``.

and the speed-up, total time (Daly 2006 with failures) and cost as in ``simulate``.

**Balanced batches** (heterogeneous speeds, :func:`balanced_batches`): worker ``w``
gets ``b_w`` examples, ``b_w ∝ speed[w]`` rounded to integers that keep the global batch
``W·b``, so that all finish together: its compute time becomes ``t_ex·b_w/speed[w]`` with
``t_ex = t̄/b``, which is the simulator's model with speeds ``speed[w]·b/b_w``.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tinygrad_opt.cluster.buckets import pipeline_end
from tinygrad_opt.cluster.compute import Deterministic, sample_step_compute
from tinygrad_opt.cluster.config import Configuration, expand, result_row, simulation_options
from tinygrad_opt.cluster.simulate import simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.sync_plan import fusion_plan
from tinygrad_opt.cluster.validation import SpecError
from tinygrad_opt.cluster.workload import Workload

__all__ = [
    "GridEvaluation",
    "balanced_batches",
    "check_row",
    "effective_speeds",
    "evaluate_grid",
]

_CLUSTER_FREE = ("compute", "price_per_node_hour", "ps_price_per_node_hour", "name")
"""ClusterSpec fields the synchronisation does not read (any new field is assumed to)."""
_WORKLOAD_FREE = (
    "per_worker_batch", "compute_time_per_step", "compute_time_per_example", "steps",
    "large_batch", "name", "backward_fraction",
)  # fmt: skip
"""Workload fields the synchronisation does not read (vectorised here instead)."""
_CLUSTER_KEYED = tuple(f.name for f in fields(ClusterSpec) if f.name not in _CLUSTER_FREE)
_WORKLOAD_KEYED = tuple(f.name for f in fields(Workload) if f.name not in _WORKLOAD_FREE)


def balanced_batches(speeds: Sequence[float], global_batch: int) -> np.ndarray:
    """Integer batches ``b_w >= 1`` summing to ``global_batch`` that minimise the slowest
    worker's time ``max_w b_w / speed[w]`` (all finish together as nearly as integers allow).

    Without rounding ``b_w = B·s_w / Σs`` and every worker takes ``B/Σs``. With integers:
    start from ``max(1, ⌊t₀·s_w⌋)`` with ``t₀ = (B − W)/Σs`` (their sum is at most ``B``),
    then give each remaining example to the worker that would finish first with it
    (``argmin (b_w + 1)/s_w``, ties to the lower index) — the greedy that is optimal for
    this bottleneck allocation.
    """
    s = np.asarray(speeds, dtype=float).ravel()
    w = s.size
    if w == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise SpecError("speed_factors", list(s), "must be positive numbers")
    b_total = int(global_batch)
    if b_total < w:
        raise SpecError("global_batch", b_total, f"must be >= workers={w} (one example each)")
    t0 = max(b_total - w, 0) / s.sum()
    b = np.maximum(1, np.floor(t0 * s)).astype(np.int64)
    left = b_total - int(b.sum())
    heap = [((b[i] + 1) / s[i], i) for i in range(w)]
    heapq.heapify(heap)
    for _ in range(left):
        _, i = heapq.heappop(heap)
        b[i] += 1
        heapq.heappush(heap, ((b[i] + 1) / s[i], i))
    return b


def effective_speeds(cluster: ClusterSpec, per_worker_batch: int) -> tuple[float, ...] | None:
    """Speeds ``speed[w]·b/b_w`` under :func:`balanced_batches` (None if all speeds are
    equal): the simulator's model of worker ``w`` computing ``b_w`` examples."""
    c = cluster
    speeds = 1.0 / c.compute.worker_scales(int(c.workers), int(c.nodes))
    if np.all(speeds == speeds[0]):
        return None
    b = int(per_worker_batch)
    batches = balanced_batches(speeds, b * int(c.workers))
    return tuple(float(x) for x in speeds * b / batches)


@dataclass
class GridEvaluation:
    """Every valid configuration of a grid and its row (same order).

    Attributes:
        configurations: the :class:`~tinygrad_opt.cluster.config.Configuration` s.
        rows: one row per configuration, keys :data:`~tinygrad_opt.cluster.sweep.SWEEP_KEYS`.
        time, cost: ``total_time_s`` and ``cost`` as arrays.
        balanced: per configuration, the speeds used for balanced batches (None if equal).
        skipped: ``(setting, error)`` of the combinations that cannot exist.
        simulation: ``seed`` and ``steps_to_sample`` used.
    """

    configurations: list[Configuration]
    rows: list[dict[str, Any]]
    time: np.ndarray
    cost: np.ndarray
    balanced: list[tuple[float, ...] | None]
    skipped: list[tuple[dict[str, Any], SpecError]]
    simulation: dict[str, Any] = dataclasses.field(default_factory=dict)


def _sync_key(conf: Configuration) -> tuple[Any, ...]:
    c, wl = conf.cluster, conf.workload
    return (
        tuple(getattr(c, k) for k in _CLUSTER_KEYED),
        tuple(getattr(wl, k) for k in _WORKLOAD_KEYED),
        conf.scheme,
    )


def _sync_terms(conf: Configuration) -> dict[str, Any]:
    """``simulate``'s synchronisation terms for one configuration (deterministic compute).

    ``after`` is the part exposed after the update (ZeRO's parameter all-gather);
    ``bucket_ready`` / ``bucket_units`` the per-tensor DDP buckets (readiness as a share of
    the step's compute, seconds each) and ``fusion`` Horovod's schedule as a function of
    the compute, when the configuration uses them (:mod:`.sync_plan`).
    """
    c = conf.cluster.replace(compute=Deterministic())
    r = simulate(c, conf.workload, conf.scheme, steps_to_sample=1, seed=0, timeline_steps=0)
    d = r.timeline_data
    post = float(d["post_update"])
    after = float(d["after"])
    upd = r.update_s - post
    tail = r.comm_s - after + upd
    s = conf.scheme
    fusion = None
    if s.fusion_bytes is not None:
        wl, applied = conf.workload, int(conf.cluster.workers) - s.backup_workers
        fusion = fusion_plan(conf.cluster, wl, s, applied, wl.grad_accumulation)
    return {
        "unit": float(d["unit"]),
        "post": post,
        "after": after,
        "buckets": int(d["buckets"]),
        "ratio": upd / tail if tail > 0 else 0.0,
        "bucket_ready": d["bucket_ready"],
        "bucket_units": d["bucket_units"],
        "fusion": fusion,
        "row": result_row(r, conf.scheme),
        "ps_machines": int(r.ps_machines),
    }


def _overlap_end(terms: dict[str, Any], cc: np.ndarray) -> np.ndarray | None:
    """Per sampled compute ``cc``: when the last per-tensor bucket or fusion buffer is
    done (None for the equal-bucket model, vectorised by the caller)."""
    if terms["fusion"] is not None:
        return terms["fusion"].end(cc)
    if terms["bucket_ready"] is not None:
        return np.asarray(
            pipeline_end(np.multiply.outer(cc, terms["bucket_ready"]), terms["bucket_units"])
        )
    return None


def _check_unique_errors(settings: Mapping[str, Any], skipped, confs) -> None:
    """A grid value that never makes a valid configuration, refused each time by an error
    about its own field, is an error (a typo, or a value that fits none of the grid: 2
    backup workers with at most 2 workers); so is a grid with no valid configuration. A
    value refused through another field's error (4 workers next to a fixed 4 backup
    workers, while 8 workers can have them) is a combination that cannot exist: skipped."""
    if not confs:
        raise skipped[0][1]
    seen: dict[tuple[str, str], SpecError] = {}
    for setting, err in skipped:
        for k, v in setting.items():
            if str(err.field).rsplit(".", 1)[-1] == k.rsplit(".", 1)[-1]:
                seen.setdefault((k, repr(v)), err)
    for conf in confs:
        for k, v in conf.setting.items():
            seen.pop((k, repr(v)), None)
    if seen:
        raise next(iter(seen.values()))


def evaluate_grid(
    settings: Mapping[str, Any], *, balance_batches: bool = True, progress: bool | None = False
) -> GridEvaluation:
    """Rows of every configuration of ``settings`` (the sections of a cluster file; lists
    are grid axes), vectorised; see the module docstring.

    Combinations that cannot exist (backup workers >= workers, a hierarchy that does not
    divide) are skipped; a value that never works, or a grid with nothing valid, raises its
    :class:`SpecError`. With ``balance_batches`` a cluster with unequal speeds gives each
    worker a batch in proportion to its speed (:func:`balanced_batches`).
    """
    skipped: list[tuple[dict[str, Any], SpecError]] = []
    confs = expand(settings, skipped)
    _check_unique_errors(settings, skipped, confs)
    sim = simulation_options(settings)
    n_steps = int(sim.get("steps_to_sample", 1000))
    seed = sim.get("seed", 0)
    n = len(confs)

    sync_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
    strag_cache: dict[tuple[Any, ...], int] = {}
    strag: list[tuple[np.ndarray, float, bool]] = []  # (X_(N) samples, mean useful, det)
    sync: list[dict[str, Any]] = []
    group = np.empty(n, dtype=np.int64)
    balanced: list[tuple[float, ...] | None] = []
    cols = {k: np.empty(n) for k in ("T", "tbar", "turn", "beta", "upd", "price", "ps_price",
                                     "applied", "batch", "workers", "nodes", "fixed_steps",
                                     "s_min", "b_noise", "overlap", "k")}  # fmt: skip
    bar = tqdm(
        total=n,
        desc="plan",
        unit="config",
        leave=False,
        disable=(n <= 8 or None) if progress is None else not progress or n <= 8,
    )
    for i, conf in enumerate(confs):
        bar.update()
        c, wl, s = conf.cluster, conf.workload, conf.scheme
        key = _sync_key(conf)
        terms = sync_cache.get(key)
        if terms is None:
            terms = sync_cache[key] = _sync_terms(conf)
        sync.append(terms)
        workers = int(c.workers)
        applied = workers - s.backup_workers
        model = c.compute
        speeds = effective_speeds(c, wl.per_worker_batch) if balance_batches else None
        balanced.append(speeds)
        if speeds is not None:
            model = dataclasses.replace(model, speed_factors=speeds)
        skey = (model, workers, applied, int(c.nodes))
        g = strag_cache.get(skey)
        if g is None:
            smp = sample_step_compute(model, 1.0, workers, applied, n_steps, seed,
                                      nodes=int(c.nodes), head_steps=0)  # fmt: skip
            det = model.is_deterministic
            x = np.asarray(smp.sync[:1] if det else smp.sync, dtype=float)
            strag.append((x, float(np.mean(smp.useful)), det))
            g = strag_cache[skey] = len(strag) - 1
        group[i] = g
        lb = wl.large_batch
        vals = {
            "T": wl.compute_time * wl.grad_accumulation * c.oversubscription,
            "tbar": wl.compute_time,
            "turn": c.turn_wait,
            "beta": wl.backward_fraction / wl.grad_accumulation,
            "upd": float(wl.update_time),
            "price": c.price_per_node_hour,
            "ps_price": c.ps_price,
            "applied": applied,
            "batch": int(wl.per_worker_batch),
            "workers": workers,
            "nodes": int(c.nodes),
            "fixed_steps": np.nan if wl.steps is None else int(wl.steps),
            "s_min": np.nan if lb is None else lb.s_min,
            "b_noise": np.nan if lb is None else lb.b_noise,
            "overlap": float(s.overlap),
            "k": float(wl.grad_accumulation),
        }
        for k, v in vals.items():
            cols[k][i] = v
    bar.close()
    unit = np.array([t["unit"] for t in sync])
    post = np.array([t["post"] for t in sync])
    after = np.array([t["after"] for t in sync])
    buckets = np.array([t["buckets"] for t in sync], dtype=float)
    ratio = np.array([t["ratio"] for t in sync])
    ps_machines = np.array([t["ps_machines"] for t in sync], dtype=float)

    T, turn = cols["T"], cols["turn"]
    step = np.empty(n)
    tail = np.empty(n)
    compute = np.empty(n)
    ready = np.empty(n)
    for g, (x, useful, _det) in enumerate(strag):
        idx = np.nonzero(group == g)[0]
        if idx.size == 0:
            continue
        compute[idx] = T[idx] * useful
        xm = float(x.mean())
        ready[idx] = T[idx] * xm + turn[idx]
        plain = idx[cols["overlap"][idx] == 0]
        step[plain] = ready[plain] + unit[plain] + post[plain]
        tail[plain] = unit[plain]
        ov = idx[cols["overlap"][idx] == 1]
        per_tensor = [i for i in ov if _overlap_end(sync[i], x[:1]) is not None]
        for i in per_tensor:  # DDP buckets of the tensors, or Horovod's cycles
            end_mean = float(_overlap_end(sync[i], T[i] * x).mean()) + turn[i]
            step[i] = end_mean + post[i] + after[i]
            tail[i] = end_mean - ready[i]
        ov = np.setdiff1d(ov, per_tensor)
        if ov.size:
            cc = T[ov, None] * x[None, :]
            k, u, beta = buckets[ov, None], unit[ov, None], cols["beta"][ov, None]
            end = np.maximum(cc * (1.0 - beta + beta / k) + k * u, cc + u) + turn[ov, None]
            end_mean = end.mean(axis=1)
            step[ov] = end_mean + post[ov] + after[ov]
            tail[ov] = end_mean - ready[ov]
    wait = np.maximum(ready - compute, 0.0)
    upd_exposed = tail * ratio
    comm = tail - upd_exposed + after
    update = upd_exposed + post

    applied, batch, workers, nodes = cols["applied"], cols["batch"], cols["workers"], cols["nodes"]
    global_batch = applied * batch * cols["k"]
    throughput = global_batch / step
    baseline_step = cols["tbar"] + cols["upd"]
    speedup = throughput / (batch / baseline_step)
    large = np.isnan(cols["fixed_steps"])
    with np.errstate(invalid="ignore", divide="ignore"):
        lb_steps = np.ceil(cols["s_min"] * (1.0 + cols["b_noise"] / global_batch) - 1e-9)
        lb_base = np.ceil(cols["s_min"] * (1.0 + cols["b_noise"] / batch) - 1e-9)
    steps = np.where(large, lb_steps, cols["fixed_steps"])
    solve = steps * step
    machines = nodes + ps_machines
    failures = confs[0].failures
    total = _wall_time(failures, solve, machines)
    base_total = _wall_time(failures, lb_base * baseline_step, np.ones(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        time_speedup = np.where(large, base_total / total, np.nan)
    cost = total / 3600.0 * (nodes * cols["price"] + ps_machines * cols["ps_price"])

    rows = []
    f = _finite
    for i in range(n):
        row = dict(sync[i]["row"])
        row.update(
            per_worker_batch=int(batch[i]),
            global_batch=int(global_batch[i]),
            step_time_s=f(step[i]),
            compute_s=f(compute[i]),
            comm_s=f(comm[i]),
            wait_s=f(wait[i]),
            update_s=f(update[i]),
            throughput=f(throughput[i]),
            speedup=f(speedup[i]),
            scaling_efficiency=f(speedup[i] / workers[i]),
            steps=int(steps[i]),
            total_time_s=f(total[i]),
            time_to_train_speedup=None if not large[i] else f(time_speedup[i]),
            cost=f(cost[i]),
        )
        rows.append(row)
    return GridEvaluation(confs, rows, total, cost, balanced, skipped, sim)


def check_row(evaluation: GridEvaluation, index: int, rel: float = 1e-6) -> None:
    """Simulate row ``index`` with :func:`simulate` (balanced batches as speeds) and raise
    ``RuntimeError`` naming the first key that differs by more than ``rel``: the planner's
    closed forms no longer match the simulator (a new term in ``simulate``'s compute,
    step or cost part must be added here too)."""
    conf = evaluation.configurations[index]
    c = conf.cluster
    speeds = evaluation.balanced[index]
    if speeds is not None:
        c = c.replace(compute=dataclasses.replace(c.compute, speed_factors=speeds))
    sim = dict(evaluation.simulation)
    r = simulate(c, conf.workload, conf.scheme, failures=conf.failures, timeline_steps=0, **sim)
    want = result_row(r, conf.scheme)
    got = evaluation.rows[index]
    for k, v in want.items():
        w = got.get(k)
        same = (
            math.isclose(w, v, rel_tol=rel, abs_tol=1e-12)
            if isinstance(v, float) and isinstance(w, float)
            else w == v
        )
        if not same:
            raise RuntimeError(
                f"planner row {index} differs from simulate in {k}: {w!r} against {v!r} "
                f"(plan_eval.py is out of date with simulate.py)"
            )


def _finite(x: float) -> float | None:
    """A float for JSON (None when not finite, as in ``SimulationResult.to_dict``)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _wall_time(failures, solve: np.ndarray, machines: np.ndarray) -> np.ndarray:
    """:func:`~tinygrad_opt.cluster.failures.failure_overhead`'s wall time, vectorised
    (Daly 2006: ``M e^{R/M} (e^{(τ+δ)/M} − 1) T_s/τ`` with ``M = M_node / machines``)."""
    if failures is None:
        return solve
    m = failures.node_mtbf / machines
    d = failures.checkpoint_cost
    ci = failures.checkpoint_interval
    if ci == "young":
        tau = np.sqrt(2.0 * d * m)
    elif ci == "daly":
        x = d / (2.0 * m)
        tau = np.where(
            d >= 2.0 * m, m, np.sqrt(2.0 * d * m) * (1.0 + np.sqrt(x) / 3.0 + x / 9.0) - d
        )
    else:
        tau = np.full_like(m, float(ci))
    wall = m * np.exp(failures.restart_cost / m) * np.expm1((tau + d) / m) * (solve / tau)
    return np.where(solve == 0, 0.0, wall)
