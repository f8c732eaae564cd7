"""Fitting the simulator to measurements: least squares on measured numbers, no MPI.

``tinygrad-opt calibrate`` (:mod:`tinygrad_opt.distributed.calibrate`) measures; the
functions here turn its numbers into the simulator's parameters, each by least squares
against the simulator's own formulas
(:func:`~tinygrad_opt.cluster.calibration.collective_coefficients`,
:attr:`ClusterSpec.oversubscription <tinygrad_opt.cluster.ClusterSpec.oversubscription>`,
:meth:`ClusterSpec.update_slowdown <tinygrad_opt.cluster.ClusterSpec.update_slowdown>`):

* :func:`fit_reduce_bandwidth`: ``R`` from timings of adding arrays, ``seconds = bytes/R``;
* :func:`fit_latency_bandwidth`: ``α`` and ``B`` from all-reduce and parameter-server
  sweeps, ``T = a·α + b·M/B + g·M/R`` (relative errors, both kept >= 0);
* :func:`fit_effective_cores`, :func:`fit_memory_streams`: the node's contention from
  slow-downs against one rank (log space);
* :func:`fit_lognormal_sigma`: the spread of the compute time per step;
* :func:`fit_turn_time`: the turn probe's step beyond the simulator's step without turns
  (:func:`turn_probe_settings`).

:func:`fit_calibration` does all of it on the raw measurements ``calibrate`` saves as it
takes them (:func:`load_measurements`), so a calibration can be fitted again from its
file (``tinygrad-opt calibrate --from-raw FILE``) without measuring anything.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.cluster.calibration import (
    ADAM_BYTES_PER_PARAM,
    BATCH,
    MODES,
    SIMULATION,
    TURN_BYTES,
    Calibration,
    _node,
    cluster_settings,
    collective_coefficients,
    predict_step_time,
    scheme_settings,
)

__all__ = [
    "MEASUREMENTS_FORMAT",
    "complete_rounds",
    "crowded_ranks",
    "effective_cores",
    "fit_calibration",
    "fit_effective_cores",
    "fit_latency_bandwidth",
    "fit_lognormal_sigma",
    "fit_memory_streams",
    "fit_reduce_bandwidth",
    "fit_turn_time",
    "load_measurements",
    "median_records",
    "turn_probe_settings",
]

MEASUREMENTS_FORMAT = "tinygrad_opt calibration measurements 1"


# ============================================================================ elementary fits
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


def median_records(runs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
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


# ============================================================================ the whole fit
def _rounds_median_rows(rounds: Sequence[Sequence[Sequence[float]]]) -> list[list[float]]:
    """``[bytes, seconds]`` rows measured in several rounds: the median seconds per size."""
    return [[row[0][0], float(np.median([x[1] for x in row]))] for row in zip(*rounds)]


def _multi(raw: dict[str, Any]) -> list[int]:
    return [int(k) for k in raw["ranks"] if int(k) > 1]


def _contention(raw: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Per rank count, the contention probe's records (medians over the rounds)."""
    out = {1: median_records([o["contention"] for o in raw["one_rank"]])}
    for k in _multi(raw):
        out[k] = median_records([res["contention"] for res in raw["multi"][str(k)]])
    return out


def effective_cores(raw: dict[str, Any]) -> float:
    """The node's effective cores from the contention probes of the measurements
    (:func:`fit_effective_cores`), never more than its CPUs."""
    contention = _contention(raw)
    alone = {c["parameters"]: c for c in contention[1]}
    ks, slow = [], []
    for k in _multi(raw):
        for c in contention[k]:
            ks.append(k)
            slow.append(c["compute_s"] / alone[c["parameters"]]["compute_s"])
    return min(fit_effective_cores(ks, slow), float(raw["cpus"]))


def crowded_ranks(ranks: Sequence[int], cores: float) -> int | None:
    """The largest rank count with more ranks than whole ``cores`` (None if none): where
    the turn probe measures the waiting for turns."""
    crowded = [int(k) for k in ranks if int(k) > 1 and int(k) > math.ceil(cores - 1e-9)]
    return max(crowded) if crowded else None


def complete_rounds(raw: dict[str, Any]) -> int:
    """How many rounds the measurements hold whole (every job of the round done)."""
    n = 0
    for o in raw.get("one_rank", []):
        if "training" not in o or "training_jobs" in o:  # its training jobs not all done
            break
        n += 1
    for k in _multi(raw):
        n = min(n, len(raw.get("multi", {}).get(str(k), [])))
    return n


def fit_calibration(raw: dict[str, Any]) -> Calibration:
    """Every fit of ``tinygrad-opt calibrate`` on its raw measurements: the dictionary
    :func:`tinygrad_opt.distributed.calibrate.measure` fills and saves, with ``format``
    (:data:`MEASUREMENTS_FORMAT`), the settings (``ranks``, ``sizes`` in parameters,
    ``steps``, ``rounds``, ``quick``), this machine (``cache_bytes``, ``cpus``),
    ``seconds`` of measuring, and every job's result as the job returned it:
    ``one_rank`` (per round, the 1-rank probes with ``reduce`` and ``contention``, and
    ``training``: its training jobs, or ``training_jobs`` while they run), ``multi``
    (rank count → per round, the sweeps ``allreduce`` and ``ps`` and ``contention``),
    ``turn_probes`` (rank count → per round, the turn probe's records). Only whole rounds
    are fitted (:func:`complete_rounds`). Each quantity is the median over the rounds;
    ``raw`` is not changed. ValueError when a fit has nothing to work with, e.g. when the
    measurements stopped before a round was complete or hold no turn probe on the rank
    count the fitted cores call for.
    """
    if raw.get("format") != MEASUREMENTS_FORMAT:
        raise ValueError(f"not calibration measurements (no format {MEASUREMENTS_FORMAT!r})")
    multi = _multi(raw)
    n = complete_rounds(raw)
    if n == 0:
        raise ValueError("the measurements hold no complete round: nothing to fit")
    raw = {**raw, "one_rank": raw["one_rank"][:n],
           "multi": {str(k): raw["multi"][str(k)][:n] for k in multi}}  # fmt: skip
    ones = raw["one_rank"]
    cache, cpus = float(raw["cache_bytes"]), int(raw["cpus"])
    training = median_records([o["training"] for o in ones])
    reduce_rows = _rounds_median_rows([o["reduce"] for o in ones])
    reduce_bandwidth = fit_reduce_bandwidth(reduce_rows)
    contention = _contention(raw)
    sweeps: dict[str, list[list[float]]] = {}
    for k in multi:
        for kind in MODES:
            sweeps[f"{kind}/{k}"] = _rounds_median_rows([res[kind] for res in raw["multi"][str(k)]])
    alone = {c["parameters"]: c for c in contention[1]}
    upd = [(k, ADAM_BYTES_PER_PARAM * c["parameters"],
            c["update_s"] / alone[c["parameters"]]["update_s"])
           for k in multi for c in contention[k]]  # fmt: skip
    cores = effective_cores(raw)  # never more than there are
    streams = fit_memory_streams(upd, cores, cache)
    samples = [(key.split("/")[0], int(key.split("/")[1]), nbytes, seconds)
               for key, rows in sweeps.items() for nbytes, seconds in rows]  # fmt: skip
    alpha, bandwidth = fit_latency_bandwidth(samples, cores, reduce_bandwidth)
    alpha = max(alpha, 1e-9)  # the simulator needs a latency > 0
    workloads: dict[str, dict[str, Any]] = {}
    sigmas = []
    for i, t in enumerate(training):
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
    ranks = sorted(int(k) for k in raw["ranks"])
    cal = Calibration(
        ranks=ranks,
        sizes=sorted(int(p) for p in raw["sizes"]),
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
        steps=int(raw["steps"]),
        rounds=len(ones),
        reduce_bandwidth=reduce_bandwidth,
        reduce_rows=reduce_rows,
        seconds=float(raw.get("seconds", 0.0)),
    )
    k = crowded_ranks(ranks, cores)
    if k is not None:
        runs = copy.deepcopy(raw.get("turn_probes", {}).get(str(k), []))
        if not runs:
            raise ValueError(
                f"the measurements hold no turn probe on {k} ranks, which the fitted "
                f"{cores:.3g} effective cores call for"
            )
        _fit_turns(cal, k, runs)
    return cal


def _fit_turns(cal: Calibration, k: int, runs: list[list[dict[str, Any]]]) -> None:
    """Each round's ``turn_time`` from its own processes (alone and crowded), then the
    median over the rounds into ``cal``'s workloads and ``cal.turn_probe``."""
    cluster = cluster_settings(cal)  # the fitted node; turn_probe_settings drops τ
    for run in runs:
        for probe in run:
            settings = turn_probe_settings(cluster, probe["parameters"], probe["mode"], k,
                                           probe["alone"])  # fmt: skip
            probe["predicted_without_turn_s"] = predict_step_time(settings)
            probe["turn_time_s"] = fit_turn_time(probe["step_s"], probe["predicted_without_turn_s"])
    for i, probe in enumerate(median_records(runs)):
        key = f"{probe['parameters']}/{probe['mode']}"
        alone = {f: float(np.median([run[i]["alone"][f] for run in runs]))
                 for f in ("compute_s", "update_s")}  # fmt: skip
        cal.workloads[key]["turn_time"] = probe["turn_time_s"]  # the median over the rounds
        cal.turn_probe[key] = {
            "ranks": k, "message_bytes": TURN_BYTES, "rounds": len(runs), "alone": alone,
            **{f: probe[f] for f in ("step_s", "compute_s", "update_s", "iterations",
                                     "predicted_without_turn_s", "turn_time_s")},
            "runs_s": [run[i]["step_s"] for run in runs],
            "turn_times_s": [run[i]["turn_time_s"] for run in runs],
        }  # fmt: skip


def load_measurements(path: str | Path) -> dict[str, Any]:
    """The raw measurements ``tinygrad-opt calibrate`` saved (ValueError if ``path`` does
    not hold them)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read calibration measurements {path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != MEASUREMENTS_FORMAT:
        raise ValueError(f"{path} holds no calibration measurements (no format "
                         f"{MEASUREMENTS_FORMAT!r})")  # fmt: skip
    shapes = {"ranks": list, "sizes": list, "one_rank": list, "multi": dict,
              "cpus": int, "cache_bytes": (int, float)}  # fmt: skip
    for key, kind in shapes.items():
        if key not in data:
            raise ValueError(f"{path}: the calibration measurements lack the field {key!r}")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            raise ValueError(f"{path}: {key} is not as calibrate writes it: {data[key]!r}")
    if not all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in data["ranks"]):
        raise ValueError(f"{path}: ranks must be positive integers, got {data['ranks']!r}")
    return data
