"""Pictures of simulation results (matplotlib, Agg canvas, PNG by default).

Each function takes results and an output path, writes the file (creating its folder) and
returns the path. They build a ``matplotlib.figure.Figure`` directly — no ``pyplot``
state, no backend switch — so they are safe in scripts, tests and threads.

- :func:`plot_scaling`: speed-up and scaling efficiency against workers, one line per
  scheme, with the ideal (linear) speed-up.
- :func:`plot_pareto`: cost against time to train; the Pareto front (nothing is both
  faster and cheaper) is highlighted and labelled.
- :func:`plot_timeline`: a Gantt chart of the first simulated steps, one row per worker
  (and per parameter-server shard): compute, waiting for stragglers, dropped backup
  work, send/receive, collective phases, update.
- :func:`plot_breakdown`: stacked bars of compute / wait / comm / update per row.
- :func:`plot_validation`: predicted against measured scaling efficiency of published
  records (:mod:`.published`), one colour per source, with ±5 and ±15 point bands.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tinygrad_opt.cluster.result import SimulationResult
from tinygrad_opt.cluster.sweep import pareto_front

__all__ = [
    "KIND_COLOURS",
    "plot_breakdown",
    "plot_events",
    "plot_pareto",
    "plot_scaling",
    "plot_timeline",
    "plot_validation",
]

KIND_COLOURS: dict[str, str] = {
    "compute": "#4c72b0",
    "wait": "#dddddd",
    "dropped": "#c44e52",
    "send": "#dd8452",
    "recv": "#55a868",
    "comm": "#8172b3",
    "update": "#937860",
}


def _rows(data: Sequence[Mapping[str, Any] | SimulationResult]) -> list[dict[str, Any]]:
    out = []
    for item in data:
        if isinstance(item, SimulationResult):
            d = item.to_dict()
            d["scheme_label"] = d["scheme"]
            out.append(d)
        else:
            out.append(dict(item))
    if not out:
        raise ValueError("nothing to plot: no rows")
    return out


def _save(fig: Figure, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def plot_scaling(
    results: Sequence[Mapping[str, Any] | SimulationResult],
    path: str | Path,
    *,
    x: str = "workers",
    group: str = "scheme_label",
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Speed-up and scaling efficiency vs ``x`` (workers), one line per ``group``."""
    rows = _rows(results)
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r[group]), []).append(r)
    fig = Figure(figsize=(11, 4.2))
    ax_s, ax_e = fig.subplots(1, 2)
    xs_all = sorted({r[x] for r in rows})
    ax_s.plot(xs_all, xs_all, "k--", lw=1, label="ideal (linear)")
    styles = [("o", "-"), ("s", "--"), ("^", "-."), ("D", ":"), ("v", "-"), ("P", "--")]
    for i, (name, items) in enumerate(groups.items()):
        items = sorted(items, key=lambda r: r[x])
        xs = [r[x] for r in items]
        marker, ls = styles[i % len(styles)]
        kw = {"marker": marker, "ls": ls, "label": name, "ms": 5}
        ax_s.plot(xs, [r["speedup"] for r in items], **kw)
        ax_e.plot(xs, [r["scaling_efficiency"] for r in items], **kw)
    for ax in (ax_s, ax_e):
        ax.set_xscale("log", base=2)
        ax.set_xlabel(x)
        ax.grid(True, alpha=0.3)
    ax_s.set_yscale("log", base=2)
    ax_s.set_ylabel("speed-up vs 1 worker (examples/s)")
    ax_e.set_ylabel("scaling efficiency = speed-up / workers")
    ax_e.set_ylim(0, 1.05)
    ax_s.legend(fontsize=8)
    fig.suptitle(title or "Scaling of synchronous data-parallel SGD")
    return _save(fig, path, dpi)


def plot_pareto(
    results: Sequence[Mapping[str, Any] | SimulationResult],
    path: str | Path,
    *,
    time_key: str = "total_time_s",
    cost_key: str = "cost",
    label_keys: Sequence[str] = ("scheme_label", "workers"),
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Cost vs time to train for every row; the Pareto front is joined and labelled."""
    rows = _rows(results)
    front = pareto_front(rows, time_key, cost_key)
    fig = Figure(figsize=(7.5, 5))
    ax = fig.subplots()
    hours = [r[time_key] / 3600 for r in rows]
    ax.scatter(hours, [r[cost_key] for r in rows], s=18, c="#999999", label="configurations")
    fx = [r[time_key] / 3600 for r in front]
    fy = [r[cost_key] for r in front]
    ax.plot(fx, fy, "o-", c="#c44e52", label="Pareto front")
    for r, xx, yy in zip(front, fx, fy):
        text = ", ".join(f"{r[k]}" for k in label_keys if k in r)
        ax.annotate(text, (xx, yy), textcoords="offset points", xytext=(5, 4), fontsize=7)
    cost_time_axes(ax, [r[cost_key] for r in rows], title or "Cost vs time to train")
    return _save(fig, path, dpi)


def cost_time_axes(ax: Any, costs: Sequence[float], title: str) -> None:
    """Finish a cost-against-time-to-train plot: log time axis, log cost axis when the
    costs span more than 20×, labels, grid, legend, title."""
    ax.set_xscale("log")
    costs = [c for c in costs if c > 0]
    if costs and max(costs) > 20 * min(costs):
        ax.set_yscale("log")
    ax.set_xlabel("time to train (hours)")
    ax.set_ylabel("cost (price per node-hour × node-hours)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)


def plot_timeline(
    result: SimulationResult,
    path: str | Path,
    *,
    max_workers: int = 12,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Gantt chart of the first simulated steps (``result.timeline(max_workers)``)."""
    events = result.timeline(max_workers)
    if not events:
        raise ValueError("the result has no timeline (simulate(..., timeline_steps=0)?)")
    title = title or (
        f"{result.scheme}: {result.workers} workers, first steps "
        f"(mean step {result.step_time_s:.4g} s)"
    )
    return plot_events(events, path, title=title, overlaid_comm=result.overlap, dpi=dpi)


def plot_events(
    events: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str = "",
    overlaid_comm: bool = False,
    dpi: int = 120,
) -> Path:
    """Gantt chart of timeline events ``{"row", "step", "kind", "start", "end"}``: one bar
    row per worker / server, coloured by kind, dotted lines at step starts. Used for
    simulated steps (:func:`plot_timeline`) and measured ones (a real run's trace,
    :func:`tinygrad_opt.distributed.trace_events`). ``overlaid_comm`` draws ``comm`` as a
    thin bar over compute (communication overlapped with the backward pass)."""
    if not events:
        raise ValueError("no events to draw")
    rows: list[str] = []
    for e in events:
        if e["row"] not in rows:
            rows.append(e["row"])
    rows.sort(key=lambda r: (r.startswith("worker"), int(r.split()[-1])))
    index = {r: i for i, r in enumerate(rows)}
    fig = Figure(figsize=(11, 0.45 * len(rows) + 1.6))
    ax = fig.subplots()
    for e in events:
        y = index[e["row"]]
        overlaid = e["kind"] == "comm" and overlaid_comm
        h, dy = (0.35, 0.3) if overlaid else (0.8, 0.0)
        ax.broken_barh(
            [(e["start"], e["end"] - e["start"])],
            (y - 0.4 + dy, h),
            facecolors=KIND_COLOURS[e["kind"]],
            edgecolor="none",
        )
    ends = [e["end"] for e in events]
    step_starts = sorted(
        {min(x["start"] for x in events if x["step"] == s) for s in {e["step"] for e in events}}
    )
    for t in step_starts[1:]:
        ax.axvline(t, color="k", lw=0.6, ls=":")
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlim(0, max(ends))
    ax.set_xlabel("time (s)")
    used = [k for k in KIND_COLOURS if any(e["kind"] == k for e in events)]
    ax.legend(
        handles=[Patch(color=KIND_COLOURS[k], label=k) for k in used],
        ncol=len(used),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        fontsize=8,
    )
    ax.set_title(title)
    return _save(fig, path, dpi)


def plot_breakdown(
    results: Sequence[Mapping[str, Any] | SimulationResult],
    path: str | Path,
    *,
    label_keys: Sequence[str] = ("scheme_label", "workers"),
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Stacked bars: where each configuration's step time goes."""
    rows = _rows(results)
    fig = Figure(figsize=(max(6.0, 0.5 * len(rows) + 2), 4.5))
    ax = fig.subplots()
    labels = [", ".join(str(r[k]) for k in label_keys if k in r) for r in rows]
    bottom = [0.0] * len(rows)
    parts = (
        ("compute_s", "compute"),
        ("wait_s", "wait"),
        ("comm_s", "comm"),
        ("update_s", "update"),
    )
    for key, kind in parts:
        vals = [r[key] for r in rows]
        ax.bar(range(len(rows)), vals, bottom=bottom, color=KIND_COLOURS[kind], label=kind)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("seconds per step")
    ax.legend(fontsize=8)
    ax.set_title(title or "Step time breakdown")
    return _save(fig, path, dpi)


def plot_validation(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Predicted against measured scaling efficiency (%), one colour per source.

    ``rows``: :func:`~tinygrad_opt.cluster.published.predict_all`'s ``{"p": record,
    "pred": ..., "err": ...}``; records without a prediction are left out. The diagonal
    is a perfect prediction; the bands are ±5 and ±15 points (issue 16's median and 90th
    percentile goals)."""
    done = [r for r in rows if r.get("pred") is not None]
    if not done:
        raise ValueError("nothing to plot: no predicted records")
    fig = Figure(figsize=(6.4, 6.0))
    ax = fig.subplots()
    lo = min(0.0, *(100 * min(r["p"]["efficiency"], r["pred"]) for r in done))
    hi = max(105.0, *(100 * max(r["p"]["efficiency"], r["pred"]) for r in done))
    line = [lo, hi]
    for band, alpha in ((15, 0.08), (5, 0.14)):
        ax.fill_between(line, [v - band for v in line], [v + band for v in line],
                        color="k", alpha=alpha, lw=0, label=f"±{band} points")  # fmt: skip
    ax.plot(line, line, "k-", lw=0.8)
    sources: dict[str, list[Mapping[str, Any]]] = {}
    for r in done:
        sources.setdefault(str(r["p"]["source"]), []).append(r)
    markers = "osD^vP*"  # 7 markers against 10 colours: distinct pairs up to 70 sources
    for i, (name, items) in enumerate(sources.items()):
        ax.scatter(
            [100 * r["p"]["efficiency"] for r in items],
            [100 * r["pred"] for r in items],
            s=16,
            marker=markers[i % len(markers)],
            label=f"{name} ({len(items)})",
            alpha=0.8,
        )
    median = statistics.median(abs(100 * r["err"]) for r in done)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("measured scaling efficiency (%)")
    ax.set_ylabel("predicted scaling efficiency (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(
        title or f"{len(done)} published measurements: median |error| {median:.1f} points",
        fontsize=10,
    )
    return _save(fig, path, dpi)
