"""Scoring trials the AlgoPerf way, and Dolan–Moré performance profiles.

AlgoPerf (Dahl et al. 2023, "Benchmarking Neural Network Training Algorithms", external
tuning): a method's time on a workload is, in each *study* (an independent random search
of ``budget`` trials), the time of its fastest trial that reaches the target; its score is
the median of that over the studies. A trial that never reaches the target counts as ∞,
and so does a study none of whose trials does.

Performance profile (Dolan & Moré 2002, "Benchmarking optimization software with
performance profiles"): with t[s, w] method s's score on workload w and r[s, w] =
t[s, w] / min_s t[s, w], ρ_s(τ) is the fraction of workloads with r[s, w] ≤ τ. A method
that never reaches the target has r = ∞ (never counted); on a workload no method solves,
every method has r = ∞.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MethodScore",
    "performance_profile",
    "profile_ratios",
    "score_trials",
]

INF = math.inf
MEASURES = ("seconds", "steps")


@dataclass(frozen=True)
class MethodScore:
    """One method on one workload: per study the best time/steps to target (∞ if none),
    the median over studies (the score), and the trial that set the best."""

    workload: str
    method: str
    seconds: float
    steps: float
    study_seconds: tuple[float, ...]
    study_steps: tuple[float, ...]
    reached: int
    trials: int
    best: Mapping[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isinf(x) else x

        return {
            "workload": self.workload,
            "method": self.method,
            "seconds_to_target": num(self.seconds),
            "steps_to_target": num(self.steps),
            "study_seconds": [num(x) for x in self.study_seconds],
            "study_steps": [num(x) for x in self.study_steps],
            "reached": self.reached,
            "trials": self.trials,
            "best_hyperparameters": None if self.best is None else self.best["hyperparameters"],
        }


def _value(trial: Mapping[str, Any], measure: str) -> float:
    v = trial.get(f"{measure}_to_target")
    return INF if v is None else float(v)


def _median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float))) if values else INF


def score_trials(trials: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, MethodScore]]:
    """``{workload: {method: MethodScore}}`` from trial records (each with ``workload``,
    ``method``, ``study``, ``seconds_to_target`` and ``steps_to_target``, None = never).

    In each study the best trial is the fastest by seconds (ties: fewer steps, then the
    earlier trial); a study's steps are those of its own fastest-by-steps trial. The score
    is the median over studies of each."""
    groups: dict[tuple[str, str], dict[int, list[Mapping[str, Any]]]] = {}
    for t in trials:
        groups.setdefault((t["workload"], t["method"]), {}).setdefault(int(t["study"]), []).append(
            t
        )
    out: dict[str, dict[str, MethodScore]] = {}
    for (workload, method), studies in groups.items():
        study_seconds, study_steps, best_overall = [], [], None
        reached = count = 0
        for study in sorted(studies):
            ts = sorted(studies[study], key=lambda t: int(t.get("trial", 0)))
            count += len(ts)
            reached += sum(t.get("steps_to_target") is not None for t in ts)
            fastest = min(ts, key=lambda t: (_value(t, "seconds"), _value(t, "steps")))
            study_seconds.append(_value(fastest, "seconds"))
            study_steps.append(min(_value(t, "steps") for t in ts))
            if fastest.get("steps_to_target") is not None and (
                best_overall is None
                or (_value(fastest, "seconds"), _value(fastest, "steps"))
                < (_value(best_overall, "seconds"), _value(best_overall, "steps"))
            ):
                best_overall = fastest
        out.setdefault(workload, {})[method] = MethodScore(
            workload=workload,
            method=method,
            seconds=_median(study_seconds),
            steps=_median(study_steps),
            study_seconds=tuple(study_seconds),
            study_steps=tuple(study_steps),
            reached=reached,
            trials=count,
            best=best_overall,
        )
    return out


def profile_ratios(
    scores: Mapping[str, Mapping[str, float]], methods: Sequence[str]
) -> dict[str, list[float]]:
    """``{method: [r[s, w] for each workload]}`` from ``{workload: {method: t}}``
    (t = ∞ or a missing entry: never reached). r = t / best t on that workload; ∞ where
    the method or every method fails."""
    ratios: dict[str, list[float]] = {m: [] for m in methods}
    for workload in scores:
        row = {m: float(scores[workload].get(m, INF)) for m in methods}
        for m, t in row.items():
            if not (t >= 0):
                raise ValueError(f"time of {m!r} on {workload!r} must be >= 0 or inf, got {t}")
        finite = [t for t in row.values() if math.isfinite(t)]
        best = min(finite) if finite else INF
        for m in methods:
            t = row[m]
            if not math.isfinite(t) or not math.isfinite(best):
                ratios[m].append(INF)
            elif best == 0:
                ratios[m].append(1.0 if t == 0 else INF)
            else:
                ratios[m].append(t / best)
    return ratios


def performance_profile(
    scores: Mapping[str, Mapping[str, float]],
    methods: Sequence[str],
    taus: Sequence[float] | np.ndarray,
) -> dict[str, np.ndarray]:
    """ρ_s(τ) for every method at every τ: the fraction of the workloads of ``scores``
    on which the method's time is within a factor τ of the best (Dolan & Moré 2002)."""
    taus = np.asarray(taus, dtype=float)
    n = len(scores)
    if n == 0:
        raise ValueError("a performance profile needs at least one workload")
    ratios = profile_ratios(scores, methods)
    return {m: np.array([sum(r <= tau for r in ratios[m]) / n for tau in taus]) for m in methods}
