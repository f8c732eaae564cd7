"""Checking a calibration: separate training runs, timed, against the simulator's predictions.

``tinygrad-opt calibrate --check`` and ``scripts/make_calibration_doc.py`` (which writes
``docs/calibration.md``) time training runs of every calibrated model size, mode and rank
count with :class:`CheckRuns`, between the calibration's rounds so that both sample this
machine over the same minutes, and compare each with what the simulator predicts from
the calibrated file (:func:`~tinygrad_opt.cluster.calibration.predict`). Nothing in the
predictions is taken from these runs. The runs are MPI jobs started by
:func:`tinygrad_opt.distributed.calibrate.run_job`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.cluster.calibration import (
    MODES,
    Calibration,
    cluster_flags,
    predict,
    workload_flags,
)

__all__ = ["CheckRuns", "format_table", "validation_runs"]


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
        from tinygrad_opt.distributed import calibrate  # its run_job, looked up when run

        self.done += 1
        self.say(f"check runs: round {self.done} of {self.repeats}")
        for p in sorted(self.steps):
            for m in MODES:
                for k in self.ranks:
                    spec = {"training": [{"parameters": p, "mode": m, "steps": self.steps[p]}],
                            "keep_samples": False}  # fmt: skip
                    res = calibrate.run_job(k, spec, self.timeout)["training"][0]
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
