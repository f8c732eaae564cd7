"""Measured timing of a real run: per rank, per step, what it spent its time on.

Every rank records events ``(step, kind, start, end)`` with ``kind`` one of the
simulator's timeline kinds (:meth:`tinygrad_opt.cluster.SimulationResult.timeline`):
``compute`` (forward + backward, from the end of the previous step to the call of
``step``), ``wait`` (waiting for the other ranks: the barrier before an all-reduce, or a
server waiting for gradients), ``comm`` (an all-reduce), ``send`` / ``recv``
(parameter-server messages), ``update`` (the optimizer step) and ``dropped`` (a backup
worker's gradient that arrived too late). Times are seconds since a start that all ranks
took together after a barrier (on one host the same clock; across hosts good to the
barrier's latency).

:meth:`Trace.gather` collects all ranks' events on rank 0, :meth:`Trace.write` writes
them as JSON; :func:`load_trace`, :func:`trace_events` (rows for a Gantt chart, as the
simulator's) and :func:`summarize_trace` read such a file. ``tinygrad-opt timeline
--trace run.json`` draws it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.train.checkpoint import write_atomically

__all__ = ["KINDS", "Trace", "load_trace", "summarize_trace", "trace_events"]

FORMAT = "tinygrad_opt.trace"
VERSION = 1
KINDS = ("compute", "wait", "comm", "send", "recv", "update", "dropped")


class Trace:
    """The events of this rank (see the module docstring)."""

    def __init__(
        self,
        rank: int,
        role: str,
        host: str = "",
        t0: float | None = None,
        max_steps: int | None = 10_000,
    ) -> None:
        """``max_steps``: record the events of steps ``0 .. max_steps-1`` only (None: all;
        0: none), so a long run's trace stays small."""
        self.rank, self.role, self.host = rank, role, host
        self.max_steps = max_steps
        self.t0 = time.perf_counter() if t0 is None else t0
        self.events: list[tuple[int, str, float, float]] = []
        self.meta: dict[str, Any] = {}
        self.accepted: list[dict[str, Any]] = []

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def add(self, step: int, kind: str, start: float, end: float) -> None:
        """Record ``kind`` from ``start`` to ``end`` (seconds since ``t0``)."""
        if self.max_steps is not None and step >= self.max_steps:
            return
        self.events.append((int(step), kind, float(start), float(end)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "role": self.role,
            "host": self.host,
            "events": [list(e) for e in self.events],
            "accepted": self.accepted,
        }

    def gather(self, ctx: Any) -> dict[str, Any] | None:
        """All ranks' traces on rank 0 (collective; other ranks get None)."""
        from tinygrad_opt.distributed import faults

        with faults.waiting(ctx, "gathering the trace"):
            everyone = ctx.comm.gather(self.to_dict(), root=0)
        if ctx.rank != 0:
            return None
        return {
            "format": FORMAT,
            "version": VERSION,
            "world_size": ctx.world_size,
            "meta": self.meta,
            "ranks": everyone,
        }

    def write(self, path: str | Path, ctx: Any) -> Path | None:
        """Gather and, on rank 0, write the JSON trace atomically (collective)."""
        data = self.gather(ctx)
        if data is None:
            return None
        return write_json_atomic(path, data)


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """``data`` as JSON in ``path``, written atomically."""
    return write_atomically(path, lambda f: json.dump(data, f), binary=False)


def load_trace(path: str | Path) -> dict[str, Any]:
    """Read a trace written by :meth:`Trace.write` (ValueError if it is not one)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read trace {path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tinygrad_opt trace (no format {FORMAT!r})")
    _check_trace(path, data)
    return data


def _check_trace(path: str | Path, data: dict[str, Any]) -> None:
    """ValueError naming the first field of ``data`` that is not as :meth:`Trace.write`
    writes it: ``world_size`` an integer, ``ranks`` a list of ``{"rank": int, "events":
    [[step, kind, start, end], ...]}`` with an integer step, a string kind and numbers."""

    def bad(field: str, why: str) -> ValueError:
        return ValueError(f"trace {path}: {field} {why}")

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if not isinstance(data.get("world_size"), int) or isinstance(data["world_size"], bool):
        raise bad("world_size", f"must be an integer, got {data.get('world_size')!r}")
    ranks = data.get("ranks")
    if not isinstance(ranks, list):
        raise bad("ranks", f"must be a list, got {type(ranks).__name__}")
    for i, r in enumerate(ranks):
        if not isinstance(r, dict) or not isinstance(r.get("rank"), int):
            raise bad(f"ranks[{i}]", "must be an object with an integer 'rank'")
        events = r.get("events")
        if not isinstance(events, list):
            raise bad(f"ranks[{i}].events", "is missing or not a list")
        for j, e in enumerate(events):
            ok = (
                isinstance(e, list)
                and len(e) == 4
                and isinstance(e[0], int)
                and isinstance(e[1], str)
                and number(e[2])
                and number(e[3])
            )
            if not ok:
                raise bad(f"ranks[{i}].events[{j}]", f"must be [step, kind, start, end], got {e!r}")


def _row_name(r: dict[str, Any]) -> str:
    role = r.get("role", "worker")
    if role == "server":
        return f"ps {r['rank']}"
    return f"worker {r['rank']}"


def trace_events(
    trace: dict[str, Any], steps: tuple[int, int] | None = None, max_ranks: int = 12
) -> list[dict[str, Any]]:
    """Gantt events ``{"row", "step", "kind", "start", "end", "label"}`` of a trace.

    ``steps``: the half-open range of steps to show (default: the first 5 recorded).
    Times are shifted so the first event shown starts at 0.
    """
    ranks = trace["ranks"][:max_ranks]
    all_steps = sorted({e[0] for r in ranks for e in r["events"]})
    if not all_steps:
        return []
    lo, hi = (
        steps if steps is not None else (all_steps[0], all_steps[min(4, len(all_steps) - 1)] + 1)
    )
    chosen = [(r, e) for r in ranks for e in r["events"] if lo <= e[0] < hi]
    if not chosen:
        return []
    t0 = min(e[2] for _, e in chosen)
    return [
        {
            "row": _row_name(r),
            "step": e[0],
            "kind": e[1],
            "start": e[2] - t0,
            "end": e[3] - t0,
            "label": e[1],
        }
        for r, e in chosen
    ]


def step_table(trace: dict[str, Any]) -> dict[str, Any]:
    """Per rank and step, seconds spent in each kind: ``{rank: {kind: array[steps]}}``."""
    out: dict[int, dict[str, np.ndarray]] = {}
    for r in trace["ranks"]:
        ev = r["events"]
        if not ev:
            continue
        steps = sorted({e[0] for e in ev})
        index = {s: i for i, s in enumerate(steps)}
        table = {k: np.zeros(len(steps)) for k in KINDS}
        for s, kind, a, b in ev:
            table[kind][index[s]] += b - a
        table["step"] = np.array(steps)
        out[r["rank"]] = table
    return out


def step_times(trace: dict[str, Any], skip: int = 1) -> np.ndarray:
    """Wall time of each step: from one step's first event to the next step's first event
    over all ranks (the first ``skip`` steps, warm-up, are left out)."""
    starts: dict[int, float] = {}
    for r in trace["ranks"]:
        for s, _, a, _ in r["events"]:
            starts[s] = min(a, starts.get(s, a))
    ordered = [starts[s] for s in sorted(starts)]
    diffs = np.diff(ordered)
    return diffs[skip:] if len(diffs) > skip else diffs


def summarize_trace(trace: dict[str, Any], skip: int = 1) -> dict[str, Any]:
    """Mean step time and, per role, the mean seconds per step in each kind."""
    times = step_times(trace, skip)
    table = step_table(trace)
    per_role: dict[str, dict[str, float]] = {}
    roles = {r["rank"]: r.get("role", "worker") for r in trace["ranks"]}
    for rank, t in table.items():
        role = roles[rank]
        agg = per_role.setdefault(role, {k: 0.0 for k in KINDS} | {"ranks": 0})
        for k in KINDS:
            vals = t[k][skip:] if len(t[k]) > skip else t[k]
            agg[k] += float(np.mean(vals)) if len(vals) else 0.0
        agg["ranks"] += 1
    for agg in per_role.values():
        n = agg.pop("ranks")
        for k in KINDS:
            agg[k] /= max(n, 1)
    return {
        "steps": int(len(times)),
        "mean_step_s": float(np.mean(times)) if len(times) else float("nan"),
        "median_step_s": float(np.median(times)) if len(times) else float("nan"),
        "per_role": per_role,
        "meta": trace.get("meta", {}),
    }
