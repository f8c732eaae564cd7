"""Running the benchmark: the trial plan, seeds, the resumable results file.

A benchmark is every (study, workload, method, trial) of :class:`Settings`, in that
order. Trial ``i`` of a method draws its hyperparameters from the method's declared space
(:mod:`~tinygrad_opt.benchmark.spaces`) with a generator seeded by (``seed``, workload,
method, study, i), and trains with a seed derived from (``seed``, workload, study, i)
only — so trial i of every method sees the same initialization and batch order (common
random numbers), and adding a method changes no other method's draws.

Every finished trial is written to the results file at once (atomically, the whole file:
:mod:`tinygrad_opt.atomic_io`); running the same settings again skips the trials already
there. Trials are kept in plan order, so an interrupted and continued run writes the same
file as an uninterrupted one. A results file made with other settings (or other spaces or
workload definitions) is refused rather than mixed.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.atomic_io import write_text_atomic
from tinygrad_opt.benchmark.scoring import score_trials
from tinygrad_opt.benchmark.spaces import describe_space, sample, space_for

__all__ = [
    "FORMAT",
    "QUICK_MAX_STEPS",
    "QUICK_WORKLOADS",
    "ResumeError",
    "Settings",
    "TrialSpec",
    "cannot_run",
    "describe_workload",
    "load_results",
    "plan_trials",
    "run_benchmark",
    "trial_record",
]

FORMAT = "tinygrad_opt.benchmark/1"
QUICK_MAX_STEPS = 100
"""``--quick``: a workload not in :data:`QUICK_WORKLOADS` is cut to this many steps."""
QUICK_EVAL_EVERY = 10
QUICK_WORKLOADS = {
    "logreg": {"max_steps": 100, "target": 0.4},
    "mlp": {"max_steps": 100, "target": 0.9},
    "cnn": {"max_steps": 60, "target": 0.9},
    "transformer": {"max_steps": 40, "target": 3.0},
    "lstm": {"max_steps": 40, "target": 3.2},
}
"""``--quick``: each built-in workload shortened, with a target its first tens of steps
can reach (the results file records them), evaluated every :data:`QUICK_EVAL_EVERY`."""


class ResumeError(ValueError):
    """The results file exists but was made with other settings (or is not one)."""


@dataclass(frozen=True)
class Settings:
    """What a benchmark run is: compared on resume, field by field."""

    optimizers: tuple[str, ...]
    workloads: tuple[str, ...]
    budget: int = 8
    studies: int = 1
    seed: int = 0
    quick: bool = False
    max_steps: int | None = None
    lr_grid: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.optimizers:
            raise ValueError("Settings: no optimizers")
        if not self.workloads:
            raise ValueError("Settings: no workloads")
        if self.budget <= 0:
            raise ValueError(f"Settings: budget must be positive, got {self.budget}")
        if self.studies <= 0:
            raise ValueError(f"Settings: studies must be positive, got {self.studies}")
        if self.max_steps is not None and self.max_steps <= 0:
            raise ValueError(f"Settings: max_steps must be positive, got {self.max_steps}")
        if self.lr_grid is not None:
            if not self.lr_grid or not all(math.isfinite(x) and x > 0 for x in self.lr_grid):
                raise ValueError(f"Settings: lr_grid must be positive numbers, got {self.lr_grid}")
            if self.budget != len(self.lr_grid):
                raise ValueError(
                    f"Settings: with an lr grid the budget is its length ({len(self.lr_grid)}), "
                    f"got {self.budget}"
                )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optimizers"] = list(self.optimizers)
        d["workloads"] = list(self.workloads)
        d["lr_grid"] = None if self.lr_grid is None else list(self.lr_grid)
        return d


@dataclass(frozen=True)
class TrialSpec:
    """One planned trial: where it is, what it uses."""

    workload: str
    method: str
    study: int
    trial: int
    hyperparameters: dict[str, Any] = field(hash=False)
    seed: int

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.workload, self.method, self.study, self.trial)


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def hyperparameter_rng(
    seed: int, workload: str, method: str, study: int, trial: int
) -> np.random.Generator:
    """The generator of one trial's hyperparameter draw."""
    return np.random.default_rng([seed, 0, _crc(workload), _crc(method.lower()), study, trial])


def training_seed(seed: int, workload: str, study: int, trial: int) -> int:
    """The training seed of trial ``trial`` of ``study``: the same for every method."""
    state = np.random.SeedSequence([seed, 1, _crc(workload), study, trial]).generate_state(1)
    return int(state[0] % (2**31 - 1))


def plan_trials(settings: Settings) -> list[TrialSpec]:
    """Every trial of ``settings``, in run order (study, workload, method, trial).

    Random search: trial i's hyperparameters are a draw from the method's space. With an
    ``lr_grid``: trial i uses ``lr_grid[i]`` and every other hyperparameter at its default
    (the sensitivity sweep of seed claim 2)."""
    plan = []
    for study in range(settings.studies):
        for workload in settings.workloads:
            for method in settings.optimizers:
                space = space_for(method)
                for trial in range(settings.budget):
                    if settings.lr_grid is None:
                        rng = hyperparameter_rng(settings.seed, workload, method, study, trial)
                        hp = sample(space, rng)
                    else:
                        hp = {"lr": float(settings.lr_grid[trial])}
                    seed = training_seed(settings.seed, workload, study, trial)
                    plan.append(TrialSpec(workload, method, study, trial, hp, seed))
    return plan


def cannot_run(method: str, workload: Any) -> str | None:
    """Why ``method`` cannot train ``workload`` (None if it can): a method that steps 2-D
    weight matrices only (Muon) on a model with other parameters."""
    from tinygrad_opt.optim.registry import lookup

    cls, _ = lookup(method)
    if not getattr(cls, "matrix_only", False):
        return None
    trial = workload.setup(getattr(workload, "seed", 0))
    other = [name for name, p in trial.named_parameters() if np.ndim(p.data) != 2]
    if other:
        return (
            f"{method!r} steps 2-D weight matrices only; workload {workload.name!r} also has "
            f"{len(other)} other parameter(s) (e.g. {other[0]!r})"
        )
    return None


def describe_workload(workload: Any) -> dict[str, Any]:
    """The fields of a workload that decide its results (compared on resume)."""
    keys = ("name", "metric", "goal", "target", "max_steps", "eval_every", "batch_size", "seed")
    out = {k: getattr(workload, k, None) for k in keys}
    out["options"] = dict(getattr(workload, "options", {}) or {})
    return out


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _plain(hp: Mapping[str, Any]) -> dict[str, Any]:
    """JSON's view of hyperparameters: tuples as lists, numpy numbers as Python's."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v

    return {k: plain(v) for k, v in hp.items()}


def trial_record(spec: TrialSpec, result: Any) -> dict[str, Any]:
    """The JSON record of a finished trial from the workload runner's ``RunResult``."""
    steps = getattr(result, "steps_to_target", None)
    seconds = getattr(result, "seconds_to_target", None)
    final = getattr(result, "final_metric", getattr(result, "final", None))
    used = getattr(result, "hyperparameters", None) or {}
    history = [
        [int(s), _finite_or_none(t), _finite_or_none(v)]
        for s, t, v in getattr(result, "history", [])
    ]
    return {
        "workload": spec.workload,
        "method": spec.method,
        "study": spec.study,
        "trial": spec.trial,
        "seed": spec.seed,
        # the drawn values, then any the runner added (Sophia-G's label count ``bs``)
        "hyperparameters": {**spec.hyperparameters, **_plain(used)},
        "steps_to_target": None if steps is None else int(steps),
        "seconds_to_target": _finite_or_none(seconds),
        "final_metric": _finite_or_none(final),
        "diverged": bool(getattr(result, "diverged", False)),
        "history": history,
    }


def load_results(path: str | Path) -> dict[str, Any]:
    """A results file as a dict; :class:`ResumeError` if it is not one."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise ResumeError(f"cannot read {str(path)!r}: {e}") from None
    except json.JSONDecodeError as e:
        raise ResumeError(f"{str(path)!r} is not a benchmark results file ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ResumeError(f"{str(path)!r} is not a benchmark results file (format {FORMAT})")
    return doc


def _header(settings: Settings, workloads: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "settings": settings.to_dict(),
        "workloads": {name: describe_workload(w) for name, w in workloads.items()},
        "spaces": (
            {m: describe_space(space_for(m)) for m in settings.optimizers}
            if settings.lr_grid is None
            else {m: {"lr": f"grid {list(settings.lr_grid)}"} for m in settings.optimizers}
        ),
    }


def _first_difference(old: Any, new: Any, where: str = "") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            d = _first_difference(old.get(k), new.get(k), f"{where}.{k}" if where else str(k))
            if d:
                return d
        return None
    if old != new:
        return f"{where}: {json.dumps(old)} there, {json.dumps(new)} now"
    return None


def _document(
    header: Mapping[str, Any], plan: Sequence[TrialSpec], done: Mapping[tuple, dict]
) -> dict[str, Any]:
    trials = [done[s.key] for s in plan if s.key in done]
    doc = dict(header)
    doc["complete"] = len(trials) == len(plan)
    doc["trials"] = trials
    if doc["complete"]:
        scores = score_trials(trials)
        doc["scores"] = [
            scores[w][m].to_dict()
            for w in header["settings"]["workloads"]
            for m in header["settings"]["optimizers"]
            if m in scores.get(w, {})
        ]
    return doc


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


Runner = Callable[..., Any]


def run_benchmark(
    settings: Settings,
    out: str | Path,
    workloads: Mapping[str, Any],
    runner: Runner,
    *,
    stop_after: int | None = None,
    progress: bool = True,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run (or continue) ``settings``, writing ``out`` after every trial; returns the
    results document (``complete`` False if ``stop_after`` trials ran first).

    ``workloads`` maps each name of ``settings.workloads`` to its ``Workload``; ``runner``
    is ``tinygrad_opt.workloads.run`` (or anything with its signature and result fields).
    An existing ``out`` made with the same settings is continued; one made with other
    settings raises :class:`ResumeError` before any trial runs."""
    from tqdm.auto import tqdm

    out = Path(out)
    header = _header(settings, workloads)
    plan = plan_trials(settings)
    done: dict[tuple, dict] = {}
    if out.exists():
        old = load_results(out)
        diff = _first_difference(
            {k: old.get(k) for k in ("settings", "workloads", "spaces")},
            {k: header[k] for k in ("settings", "workloads", "spaces")},
        )
        if diff:
            raise ResumeError(
                f"{str(out)!r} was made with different settings ({diff}); "
                "rerun with its settings or choose another --out"
            )
        planned = {s.key for s in plan}
        for t in old.get("trials", []):
            key = (t["workload"], t["method"], int(t["study"]), int(t["trial"]))
            if key in planned:
                done[key] = t
    todo = [s for s in plan if s.key not in done]
    if stop_after is not None:
        todo = todo[:stop_after]
    bar = tqdm(
        total=len(plan),
        initial=len(done),
        disable=not progress,
        desc="benchmark",
        unit="trial",
        dynamic_ncols=True,
    )
    try:
        if not todo:  # nothing to run: still (re)write the complete document
            write_text_atomic(out, _dump(_document(header, plan, done)))
        for spec in todo:
            bar.set_postfix_str(f"{spec.workload} {spec.method} s{spec.study} #{spec.trial}")
            with np.errstate(all="ignore"):
                result = runner(
                    workloads[spec.workload],
                    spec.method,
                    dict(spec.hyperparameters),
                    seed=spec.seed,
                    progress=False,
                )
            record = trial_record(spec, result)
            done[spec.key] = record
            write_text_atomic(out, _dump(_document(header, plan, done)))
            bar.update(1)
            if on_trial is not None:
                on_trial(record)
    finally:
        bar.close()
    return _document(header, plan, done)
