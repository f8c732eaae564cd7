"""Choose the cluster configuration: fastest under a budget, cheapest under a deadline.

:func:`plan` searches a grid — every combination of the list-valued settings, the same
grid ``whatif`` sweeps (workers × nodes × scheme × PS shards × backup workers ×
per-worker batch × bandwidth × ... : any key of a cluster file) — evaluated at once by
:func:`~tinygrad_opt.cluster.plan_eval.evaluate_grid` (the simulator's closed forms,
vectorised over the rows; thousands of configurations in about a second). With a
large-batch target (``[workload.large_batch]``, McCandlish et al. 2018) each per-worker
batch trains for its own number of steps ``S(B)``, so the batch is a real trade-off.

Objectives (``minimize``):

- ``"time"``: the shortest ``total_time_s`` (ties: the cheaper, then grid order);
- ``"cost"``: the smallest ``cost`` (ties: the faster);
- ``"tradeoff"``: the smallest ``total_time_s × cost`` — on log axes the point where 1%
  less time is worth 1% more money; it always lies on the Pareto front (with zero
  prices it is the fastest run).

Default: ``time`` with a budget, ``cost`` with only a deadline, else ``tradeoff``.
Constraints: ``budget`` (``cost <= budget``) and ``deadline`` (``total_time_s <=
deadline``; seconds or ``"36h"``). If nothing meets them, :class:`Infeasible` (a
``SpecError`` naming the constraint) says which one failed and how close the grid came.

The result (:class:`Plan`) holds the feasible rows (the keys of ``whatif --json``), the
Pareto front of time against cost (rows no other row beats in both), the winner, the
runner-up and a one-paragraph explanation: which factor of time (or cost) separates them
— steps, step time, machines — and which term of the step (compute, wait, comm, update)
dominates. On a cluster with unequal ``speed_factors`` each worker's batch is in
proportion to its speed (``balance_batches``), and :attr:`Plan.balance` reports the
winner's per-worker and per-node batches and its gain over equal batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.cluster.plan_eval import (
    GridEvaluation,
    balanced_batches,
    check_row,
    evaluate_grid,
)
from tinygrad_opt.cluster.units import format_bytes, format_duration, parse_duration
from tinygrad_opt.cluster.validation import SpecError, check_choice, check_nonnegative_float

__all__ = [
    "OBJECTIVES",
    "Infeasible",
    "Plan",
    "balance_report",
    "explain",
    "pareto_mask",
    "plan",
    "plot_plan",
]

OBJECTIVES: tuple[str, ...] = ("time", "cost", "tradeoff")
_TERMS = ("compute_s", "wait_s", "comm_s", "update_s")


class Infeasible(SpecError):
    """No configuration of the grid meets the deadline and/or the budget."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        ValueError.__init__(self, f"{field} {value}: {problem}")
        self.field = field
        self.value = value


@dataclass
class Plan:
    """The planner's answer.

    Attributes:
        best: the winning row (keys of ``whatif --json``).
        runner_up: the second row by the objective (None with one feasible row).
        pareto: the feasible rows on the time-cost Pareto front, fastest first.
        rows: every feasible row, in grid order.
        objective, deadline, budget: what was asked (seconds, currency; None if not).
        explanation: why the winner wins (a few sentences).
        settings: the grid settings of the winner (the values of its list-valued keys).
        balance: for a heterogeneous winner, its balanced batches and the gain over equal
            batches (:func:`balance_report`); None otherwise.
        evaluated: configurations evaluated; infeasible: how many broke a constraint;
            skipped: grid combinations that cannot exist (backup workers >= workers, ...).
        configuration: the winner's :class:`~tinygrad_opt.cluster.config.Configuration`.
    """

    best: dict[str, Any]
    runner_up: dict[str, Any] | None
    pareto: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    objective: str
    deadline: float | None
    budget: float | None
    explanation: str
    settings: dict[str, Any] = field(default_factory=dict)
    balance: dict[str, Any] | None = None
    evaluated: int = 0
    infeasible: int = 0
    skipped: int = 0
    configuration: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"best", "pareto", "rows"}`` plus the objective, constraints and explanation."""
        return {
            "best": self.best,
            "pareto": self.pareto,
            "rows": self.rows,
            "runner_up": self.runner_up,
            "objective": self.objective,
            "deadline": self.deadline,
            "budget": self.budget,
            "explanation": self.explanation,
            "best_settings": self.settings,
            "balance": self.balance,
            "evaluated": self.evaluated,
            "infeasible": self.infeasible,
            "skipped": self.skipped,
        }


def pareto_mask(time: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True for the points no other point dominates (no worse in both, better in one).

    Sorted by time, a point is dominated iff an earlier time has a cost no higher, or the
    same time has a lower cost. Equal points are all kept.
    """
    t = np.asarray(time, dtype=float)
    c = np.asarray(cost, dtype=float)
    n = t.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((c, t))
    ts, cs = t[order], c[order]
    first = np.ones(n, dtype=bool)
    first[1:] = ts[1:] != ts[:-1]  # start of each group of equal times
    gid = np.cumsum(first) - 1
    group_min = np.minimum.reduceat(cs, np.nonzero(first)[0])
    before = np.concatenate([[np.inf], np.minimum.accumulate(group_min)[:-1]])
    keep = (before[gid] > cs) & (cs <= group_min[gid])
    out = np.zeros(n, dtype=bool)
    out[order] = keep
    return out


def _order(objective: str, t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Row indices best first (ties: the other quantity, then grid order)."""
    idx = np.arange(t.size)
    if objective == "time":
        return np.lexsort((idx, c, t))
    if objective == "cost":
        return np.lexsort((idx, t, c))
    return np.lexsort((idx, c, t, t * c))


_PS_ONLY = ("ps_shards", "ps_placement", "backup_workers", "tensor_placement", "split_threshold")


def _applicable(row: Mapping[str, Any], setting: Mapping[str, Any]) -> dict[str, Any]:
    """The grid values of a row that apply to it (no PS options for an all-reduce)."""
    ps = row["scheme"] == "ps"
    return {k: v for k, v in setting.items() if ps or k not in _PS_ONLY}


def _label(row: Mapping[str, Any], setting: Mapping[str, Any]) -> str:
    """``"ps(k=4), 64 workers, batch 128"``: the scheme, the workers and the other values
    the grid varied."""
    parts = [str(row["scheme_label"]), f"{row['workers']} workers"]
    for k, v in _applicable(row, setting).items():
        if k in ("scheme", "workers", "ps_shards", "backup_workers", "ps_placement",
                 "overlap", "compression", "tensor_placement", "zero_stage"):  # fmt: skip
            continue  # in the label already
        if k == "nodes":
            parts.append(f"{v} nodes")
        elif k == "per_worker_batch":
            parts.append(f"batch {v}")
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def _money(x: float) -> str:
    return f"{x:,.2f}"


def explain(
    best: Mapping[str, Any],
    runner_up: Mapping[str, Any] | None,
    objective: str,
    labels: tuple[str, str] = ("the winner", "the runner-up"),
) -> str:
    """Why ``best`` beats ``runner_up`` on ``objective``, in a few sentences.

    Time to train = steps × step time (× the failure overhead); cost = time × machines ×
    price. The explanation names the factor whose ratio separates the two most, and for
    the step time the term (compute, wait, comm, update) that dominates the winner's step
    and the one whose difference is largest.
    """
    a_label, b_label = labels
    terms = ", ".join(
        f"{k.removesuffix('_s')} {100 * best[k] / best['step_time_s']:.0f}%" for k in _TERMS
    )
    dom = max(_TERMS, key=lambda k: best[k]).removesuffix("_s")
    head = (
        f"{a_label} takes {format_duration(best['total_time_s'])} for "
        f"{_money(best['cost'])}: {best['steps']:,} steps of "
        f"{format_duration(best['step_time_s'])} ({terms}; {dom} dominates)."
    )
    if runner_up is None:
        return head + " It is the only configuration that meets the constraints."
    b = runner_up
    what = {"time": "time", "cost": "cost", "tradeoff": "time × cost"}[objective]
    if objective == "time":
        vs = f"{format_duration(best['total_time_s'])} against {format_duration(b['total_time_s'])}"
    elif objective == "cost":
        vs = f"{_money(best['cost'])} against {_money(b['cost'])}"
    else:
        vs = (
            f"{format_duration(best['total_time_s'])} for {_money(best['cost'])} against "
            f"{format_duration(b['total_time_s'])} for {_money(b['cost'])}"
        )
    factors = {
        "steps": np.log(b["steps"] / best["steps"]),
        "step time": np.log(b["step_time_s"] / best["step_time_s"]),
    }
    if objective != "time" and best["cost"] > 0 and b["cost"] > 0:
        rate_a = best["cost"] / best["total_time_s"]
        rate_b = b["cost"] / b["total_time_s"]
        factors["machines"] = np.log(rate_b / rate_a)
    key = max(factors, key=lambda k: abs(factors[k]))
    if key == "steps":
        why = (
            f"the steps decide: {best['steps']:,} against {b['steps']:,} "
            f"(global batch {best['global_batch']:,} against {b['global_batch']:,})"
        )
    elif key == "machines":
        why = (
            f"the machines decide: {best['machines']} against {b['machines']} "
            f"(cost per hour {_money(3600 * rate_a)} against {_money(3600 * rate_b)})"
        )
    else:
        diff = {k: b[k] - best[k] for k in _TERMS}
        term = max(diff, key=lambda k: abs(diff[k]))
        dom_b = max(_TERMS, key=lambda k: b[k]).removesuffix("_s")
        why = (
            f"the step time decides: {format_duration(best['step_time_s'])} against "
            f"{format_duration(b['step_time_s'])}, mostly {term.removesuffix('_s')} "
            f"({format_duration(best[term])} against {format_duration(b[term])}; "
            f"{dom} dominates the winner's step, {dom_b} the runner-up's)"
        )
    against = {
        "steps": f"more steps ({best['steps']:,} against {b['steps']:,})",
        "step time": f"longer steps ({format_duration(best['step_time_s'])} against "
        f"{format_duration(b['step_time_s'])})",
        "machines": f"a higher cost per hour ({best['machines']} machines against {b['machines']})",
    }
    worse = [against[k] for k, v in factors.items() if k != key and v < -0.01]
    if worse:
        why += f", which outweighs {' and '.join(worse)}"
    return f"{head} It beats {b_label} on {what} ({vs}): {why}."


def balance_report(evaluation: GridEvaluation, index: int) -> dict[str, Any] | None:
    """Batches of a heterogeneous configuration, and the gain over equal batches.

    ``{"per_worker": [...], "per_node": [...], "speeds": [...], "step_time_equal_s",
    "step_time_balanced_s", "total_time_equal_s", "total_time_balanced_s", "gain"}``,
    ``gain`` = equal / balanced total time (None for equal speeds).
    """
    if evaluation.balanced[index] is None:
        return None
    conf = evaluation.configurations[index]
    c = conf.cluster
    speeds = 1.0 / c.compute.worker_scales(int(c.workers), int(c.nodes))
    b = int(conf.workload.per_worker_batch)
    batches = balanced_batches(speeds, b * int(c.workers))
    equal = conf.simulate(timeline_steps=0)
    row = evaluation.rows[index]
    d = int(c.devices_per_node)
    return {
        "speeds": [float(x) for x in speeds],
        "per_worker": [int(x) for x in batches],
        "per_node": [int(x) for x in batches.reshape(-1, d).sum(axis=1)],
        "equal_batch": b,
        "step_time_equal_s": equal.step_time_s,
        "step_time_balanced_s": row["step_time_s"],
        "total_time_equal_s": equal.total_time_s,
        "total_time_balanced_s": row["total_time_s"],
        "gain": equal.total_time_s / row["total_time_s"],
    }


def _no_fit(rows: list[dict[str, Any]], settings: list[dict[str, Any]]) -> Infeasible:
    """Nothing fits in ``gpu_memory``: the configuration that needs least, and its need."""
    i = min(range(len(rows)), key=lambda j: rows[j]["memory_per_gpu_bytes"])
    hint = "" if max(r["zero_stage"] for r in rows) == 3 else "; ZeRO stages shard them"
    return Infeasible(
        "gpu_memory", format_bytes(rows[i]["gpu_memory"]),
        f"no configuration's model states fit: the smallest need is "
        f"{format_bytes(rows[i]['memory_per_gpu_bytes'])} per GPU "
        f"({_label(rows[i], settings[i])}){hint}",
    )  # fmt: skip


def _infeasible(t: np.ndarray, c: np.ndarray, labels, deadline, budget) -> Infeasible:
    """The constraint that failed, with how close the grid came."""
    in_time = np.ones(t.size, bool) if deadline is None else t <= deadline
    in_budget = np.ones(t.size, bool) if budget is None else c <= budget
    dl = None if deadline is None else format_duration(deadline)
    if deadline is not None and budget is not None and in_time.any() and in_budget.any():
        i = int(np.argmin(np.where(in_time, c, np.inf)))
        return Infeasible(
            "deadline, budget", f"{dl}, {_money(budget)}",
            f"no configuration meets both: within the deadline the cheapest costs "
            f"{_money(c[i])} ({labels[i]})",
        )  # fmt: skip
    if deadline is not None and not in_time.any():
        i = int(np.argmin(t))
        return Infeasible(
            "deadline", dl,
            f"no configuration finishes in time: the fastest takes "
            f"{format_duration(t[i])} ({labels[i]})",
        )  # fmt: skip
    i = int(np.argmin(c))
    return Infeasible(
        "budget", _money(budget),
        f"no configuration fits the budget: the cheapest costs {_money(c[i])} ({labels[i]})",
    )  # fmt: skip


def plan(
    settings: Mapping[str, Any] | str | Path,
    *,
    minimize: str | None = None,
    deadline: float | str | None = None,
    budget: float | None = None,
    balance_batches: bool = True,
    verify: bool = True,
    progress: bool | None = False,
) -> Plan:
    """Search the grid of ``settings`` for the best configuration; see the module docstring.

    Args:
        settings: the sections of a cluster file (``cluster``, ``workload``, ``scheme``,
            ``failures``, ``simulation``), or the path of one; every list is a search axis.
        minimize: ``"time"``, ``"cost"`` or ``"tradeoff"`` (default: ``time`` with a
            budget, ``cost`` with only a deadline, else ``tradeoff``).
        deadline: longest allowed ``total_time_s`` (seconds or ``"36h"``).
        budget: largest allowed ``cost``.
        balance_batches: give workers of unequal speed batches in proportion to it.
        verify: simulate the winner with :func:`simulate` and check its row (a
            ``RuntimeError`` if the closed forms and the simulator disagree).
        progress: a tqdm bar over the configurations (``None``: only on a terminal).

    Raises:
        SpecError: a bad setting; :class:`Infeasible` when nothing meets the constraints.
    """
    if isinstance(settings, (str, Path)):
        from tinygrad_opt.cluster.config import load_toml

        settings = load_toml(settings)
    if deadline is not None:
        deadline = parse_duration(deadline, "deadline")
    if budget is not None:
        budget = check_nonnegative_float("budget", budget)
    if minimize is None:
        minimize = "time" if budget is not None or deadline is None else "cost"
        if budget is None and deadline is None:
            minimize = "tradeoff"
    objective = check_choice("minimize", minimize, OBJECTIVES)
    ev = evaluate_grid(settings, balance_batches=balance_batches, progress=progress)
    t, c = ev.time, ev.cost
    ok = np.isfinite(t) & np.isfinite(c)
    fits = np.array([bool(r["feasible"]) for r in ev.rows])  # model states vs gpu_memory
    if not fits.any():
        raise _no_fit(ev.rows, [conf.setting for conf in ev.configurations])
    ok &= fits
    t, c = np.where(fits, t, np.inf), np.where(fits, c, np.inf)
    if deadline is not None:
        ok &= t <= deadline
    if budget is not None:
        ok &= c <= budget
    labels = [_label(r, conf.setting) for r, conf in zip(ev.rows, ev.configurations)]
    if not ok.any():
        raise _infeasible(t, c, labels, deadline, budget)
    feasible = np.nonzero(ok)[0]
    tf, cf = t[feasible], c[feasible]
    order = feasible[_order(objective, tf, cf)]
    front = feasible[pareto_mask(tf, cf)]
    front = front[np.lexsort((c[front], t[front]))]
    best = int(order[0])
    if verify:
        check_row(ev, best)
    runner = int(order[1]) if order.size > 1 else None
    text = explain(
        ev.rows[best],
        None if runner is None else ev.rows[runner],
        objective,
        (labels[best], "the runner-up" if runner is None else labels[runner]),
    )
    return Plan(
        best=ev.rows[best],
        runner_up=None if runner is None else ev.rows[runner],
        pareto=[ev.rows[i] for i in front],
        rows=[ev.rows[i] for i in feasible],
        objective=objective,
        deadline=deadline,
        budget=budget,
        explanation=text,
        settings=_applicable(ev.rows[best], ev.configurations[best].setting),
        balance=balance_report(ev, best),
        evaluated=len(ev.rows),
        infeasible=int(len(ev.rows) - feasible.size),
        skipped=len(ev.skipped),
        configuration=ev.configurations[best],
    )


def plot_plan(result: Plan, path: str | Path, *, title: str | None = None, dpi: int = 120) -> Path:
    """Cost against time to train: every feasible configuration (grey), the Pareto front
    (red, labelled with scheme and workers) and the winner (a star); log time axis."""
    from matplotlib.figure import Figure

    from tinygrad_opt.cluster.plots import _save, cost_time_axes

    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    ax.scatter([r["total_time_s"] / 3600 for r in result.rows], [r["cost"] for r in result.rows],
               s=10, c="#999999", alpha=0.6, label=f"feasible ({len(result.rows)})")  # fmt: skip
    fx = [r["total_time_s"] / 3600 for r in result.pareto]
    fy = [r["cost"] for r in result.pareto]
    ax.plot(fx, fy, "o-", c="#c44e52", ms=4, label=f"Pareto front ({len(fx)})")
    for r, x, y in zip(result.pareto, fx, fy):
        ax.annotate(f"{r['scheme_label']}, {r['workers']}w, b{r['per_worker_batch']}", (x, y),
                    textcoords="offset points", xytext=(4, 3), fontsize=6)  # fmt: skip
    b = result.best
    ax.scatter([b["total_time_s"] / 3600], [b["cost"]], marker="*", s=180, c="#4c72b0",
               zorder=5, label=f"best ({result.objective})")  # fmt: skip
    if result.deadline is not None:
        ax.axvline(result.deadline / 3600, c="#555555", ls="--", lw=1, label="deadline")
    if result.budget is not None:
        ax.axhline(result.budget, c="#555555", ls=":", lw=1, label="budget")
    cost_time_axes(ax, [r["cost"] for r in result.rows], title or "Plan: cost vs time to train")
    return _save(fig, path, dpi)
