"""``tinygrad-opt calibrate``: measure this machine, fit the simulator to it, write a TOML file.

The simulator (:mod:`tinygrad_opt.cluster`) predicts a step of synchronous SGD from a few
numbers: the latency ``α`` and bandwidth ``B`` of the alpha-beta model, the compute time
of a step and its spread, the update time, and how much workers that share a machine
slow each other down. This module measures them with short MPI jobs that it starts
itself (``mpiexec -n K python -m tinygrad_opt.distributed.probes --job ...``):

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
   adding is (:mod:`tinygrad_opt.cluster.communication`).
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

**Measurements are never lost.** :func:`calibrate` fills a dictionary of raw measurements
(:func:`measure`) and, given ``raw_path``, writes it atomically after every job and once
more on any failure or interrupt, before it fits anything. A failure in fitting or
writing the TOML file leaves that file; ``tinygrad-opt calibrate --from-raw FILE`` fits
it again without measuring (:func:`~tinygrad_opt.cluster.calibration_fits.fit_calibration`).

Where the parts live: this module starts the jobs and runs the rounds (:func:`run_job`,
:func:`measure`, :func:`calibrate`); :mod:`tinygrad_opt.distributed.probes` measures
inside them; :mod:`tinygrad_opt.distributed.calibration_check` times the check runs;
:mod:`tinygrad_opt.cluster.calibration_fits` fits (no MPI);
:mod:`tinygrad_opt.cluster.calibration` holds the result and its settings and predictions;
:mod:`tinygrad_opt.cluster.toml_io` writes the file; :mod:`tinygrad_opt.cli.calibrate`
parses ``tinygrad-opt calibrate``'s flags. Their names stay importable from here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinygrad_opt.cluster.calibration import (  # noqa: F401 (names kept importable here)
    ADAM_BYTES_PER_PARAM,
    BATCH,
    MODES,
    SIMULATION,
    TURN_BYTES,
    WARMUP,
    Calibration,
    _node,
    _sig,
    cluster_flags,
    cluster_settings,
    collective_coefficients,
    mlp_parameters,
    mlp_sizes,
    predict,
    predict_step_time,
    scheme_settings,
    settings_for,
    turn_time_of,
    workload_flags,
    workload_settings,
)
from tinygrad_opt.cluster.calibration_fits import (  # noqa: F401
    MEASUREMENTS_FORMAT,
    crowded_ranks,
    effective_cores,
    fit_calibration,
    fit_effective_cores,
    fit_latency_bandwidth,
    fit_lognormal_sigma,
    fit_memory_streams,
    fit_reduce_bandwidth,
    fit_turn_time,
    load_measurements,
    median_records,
    turn_probe_settings,
)
from tinygrad_opt.cluster.calibration_fits import median_records as _median_records  # noqa: F401
from tinygrad_opt.cluster.toml_io import to_toml, toml_text, write_text_atomic, write_toml  # noqa: F401
from tinygrad_opt.distributed.calibration_check import (  # noqa: F401
    CheckRuns,
    _count,
    format_table,
    validation_runs,
)
from tinygrad_opt.distributed.launch import THREAD_ENV, rank_environment
from tinygrad_opt.distributed.probes import (  # noqa: F401
    _cpus,
    last_level_cache_bytes,
    measure_training,
    probe_contention,
    probe_turns,
    sweep_collectives,
    time_reduce,
)

__all__ = [
    "THREAD_ENV",
    "Calibration",
    "CalibrationError",
    "CheckRuns",
    "calibrate",
    "check_settings",
    "cluster_flags",
    "cluster_settings",
    "collective_coefficients",
    "fit_calibration",
    "fit_effective_cores",
    "fit_latency_bandwidth",
    "fit_lognormal_sigma",
    "fit_memory_streams",
    "fit_reduce_bandwidth",
    "fit_turn_time",
    "format_table",
    "last_level_cache_bytes",
    "measure",
    "mlp_sizes",
    "predict",
    "predict_step_time",
    "run_job",
    "settings_for",
    "time_reduce",
    "to_toml",
    "turn_probe_settings",
    "turn_time_of",
    "validation_runs",
    "write_measurements",
    "write_toml",
]

JOB_MODULE = "tinygrad_opt.distributed.probes"  # what ``mpiexec`` runs on every rank


class CalibrationError(RuntimeError):
    """A calibration job failed (the message holds its command and the end of its output)."""


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

    ``mpiexec -n ranks python -m tinygrad_opt.distributed.probes --job SPEC --out OUT``
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
        cmd = [_mpiexec(), "-n", str(int(ranks)), sys.executable, "-m", JOB_MODULE,
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


def check_settings(
    ranks: Sequence[int], sizes: Sequence[float], steps: int, rounds: int | None, quick: bool
) -> tuple[list[int], list[int], int]:
    """``(ranks, parameter counts, rounds)`` as :func:`calibrate` uses them, or
    ValueError naming the setting: checked before anything is measured."""
    ranks = sorted({int(k) for k in ranks} | {1})
    if ranks[0] < 1:
        raise ValueError(f"ranks must be positive, got {ranks}")
    if not [k for k in ranks if k > 1]:
        raise ValueError("calibrate needs a rank count above 1 (e.g. --ranks 1,2)")
    params = sorted(mlp_parameters(mlp_sizes(p)) for p in sizes)
    if len(set(params)) != len(params):
        raise ValueError(f"model sizes must differ, got {list(sizes)}")
    if steps < WARMUP + 2:
        raise ValueError(f"steps must be at least {WARMUP + 2}, got {steps}")
    rounds = (1 if quick else 3) if rounds is None else int(rounds)
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    return ranks, params, rounds


def write_measurements(path: str | Path, raw: dict[str, Any]) -> Path:
    """The raw measurements as JSON in ``path``, atomically (the folder must exist)."""
    return write_text_atomic(path, json.dumps(raw, indent=1))


def measure(
    ranks: Sequence[int] = (1, 2, 4),
    sizes: Sequence[float] = (1e5, 5e6),
    steps: int = 30,
    quick: bool = False,
    timeout: float = 300.0,
    log: Callable[[str], None] | None = None,
    rounds: int | None = None,
    after_round: Callable[[int, int, list[dict[str, Any]]], None] | None = None,
    record: Callable[[dict[str, Any]], None] | None = None,
    raw: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every measuring job of :func:`calibrate` (arguments as there) into a dictionary
    of raw measurements, which :func:`~tinygrad_opt.cluster.calibration_fits.fit_calibration`
    fits; ``record(raw)`` runs after every job (to save it as it grows). Pass the same
    ``raw`` again to add the turn probe the fitted cores call for (:func:`calibrate`)."""
    t_start = time.perf_counter()
    say = log or (lambda _msg: None)
    save = record or (lambda _raw: None)
    ranks, params, rounds = check_settings(ranks, sizes, steps, rounds, quick)
    multi = [k for k in ranks if k > 1]
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
    # the turn probe, on the most ranks when they outnumber the CPUs, in every round too:
    # how long ranks wait for turns changes with the machine's state as much as its speed
    tp = {"workloads": [{"parameters": p, "mode": m} for p in params for m in MODES],
          "seconds": 0.3 if quick else 0.8}  # fmt: skip
    cpus = _cpus()
    probe_ranks = max(multi) if max(multi) > cpus else None
    if raw is None:
        raw = {"format": MEASUREMENTS_FORMAT, "ranks": ranks, "sizes": params, "steps": int(steps),
               "rounds": rounds, "quick": bool(quick), "cache_bytes": cache, "cpus": cpus,
               "seconds": 0.0, "one_rank": [], "multi": {str(k): [] for k in multi},
               "turn_probes": {}}  # fmt: skip
    seconds0 = float(raw["seconds"])

    def saved() -> None:
        raw["seconds"] = seconds0 + time.perf_counter() - t_start
        save(raw)

    def turn_probe(k: int) -> None:
        say(f"{k} ranks: turn probe (each model and mode: alone, then synchronised by tiny "
            "messages)")  # fmt: skip
        turns = run_job(k, {"turn_probe": tp}, timeout)["turns"]
        raw["turn_probes"].setdefault(str(k), []).append(turns)
        saved()

    if raw["one_rank"]:  # measured already: the turn probe the fitted cores call for
        k = crowded_ranks(ranks, effective_cores(raw))
        if k is not None and not raw["turn_probes"].get(str(k)):
            for _ in range(rounds):  # fewer effective cores than CPUs: probe after the rounds
                turn_probe(k)
        return raw
    for r in range(rounds):
        say(f"round {r + 1} of {rounds}: 1 rank: contention probe, adding, {steps} training "
            f"steps per model size and mode; {', '.join(map(str, multi))} ranks: all-reduce "
            "and parameter-server sweep, contention probe")  # fmt: skip
        one = run_job(1, one_spec, timeout)
        one.pop("training", None)  # (none asked of this job) until its training jobs are done
        raw["one_rank"].append({**one, "training_jobs": []})
        saved()
        for t in train_specs:
            res = run_job(1, t, timeout)["training"][0]
            raw["one_rank"][-1]["training_jobs"].append(res)
            saved()
        raw["one_rank"][-1]["training"] = raw["one_rank"][-1].pop("training_jobs")
        saved()
        for k in multi:
            res = run_job(k, multi_spec, timeout)
            raw["multi"][str(k)].append(res)
            saved()
        if probe_ranks is not None:
            turn_probe(probe_ranks)
        if after_round is not None:
            measuring = time.perf_counter()
            after_round(r, rounds, raw["one_rank"][-1]["training"])
            t_start += time.perf_counter() - measuring  # not the calibration's own time
    return raw


def calibrate(
    ranks: Sequence[int] = (1, 2, 4),
    sizes: Sequence[float] = (1e5, 5e6),
    steps: int = 30,
    quick: bool = False,
    timeout: float = 300.0,
    log: Callable[[str], None] | None = None,
    rounds: int | None = None,
    after_round: Callable[[int, int, list[dict[str, Any]]], None] | None = None,
    raw_path: str | Path | None = None,
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
    ``raw_path``: a JSON file that holds the raw measurements, written atomically after
    every job and on any failure or interrupt (:func:`measure`), so that nothing measured
    is lost when a job, a fit or the caller fails.
    """
    check_settings(ranks, sizes, steps, rounds, quick)  # before anything is measured
    latest: dict[str, Any] = {}  # "raw": the measurements so far

    def record(raw: dict[str, Any]) -> None:
        latest["raw"] = raw
        if raw_path is not None:
            write_measurements(raw_path, raw)

    args = (ranks, sizes, steps, quick, timeout, log, rounds)
    try:
        raw = measure(*args, after_round=after_round, record=record)
        raw = measure(*args, record=record, raw=raw)  # the turn probe the fitted cores call for
    except BaseException:  # a failed job, Ctrl-C: what was measured stays on disk
        if raw_path is not None and "raw" in latest:
            write_measurements(raw_path, latest["raw"])
        raise
    return fit_calibration(raw)
