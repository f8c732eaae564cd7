"""The benchmark's table and its performance-profile figure."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt.benchmark.scoring import MethodScore, performance_profile, profile_ratios

__all__ = ["format_table", "plot_profiles", "profile_taus"]


def _fmt_time(seconds: float, steps: float) -> str:
    if math.isinf(seconds):
        return "never"
    return f"{seconds:.3g}s/{int(steps)}"


def format_table(
    scores: Mapping[str, Mapping[str, MethodScore]],
    methods: Sequence[str],
    workloads: Sequence[str],
) -> str:
    """One row per method: on each workload the score (median over studies of the best
    trial's seconds to target) and the steps (likewise), then how many trials reached
    the target; last, the number of workloads won (fastest) and solved."""
    headers = ["method"] + list(workloads) + ["won", "solved"]
    rows = []
    ratios = profile_ratios(
        {w: {m: s.seconds for m, s in scores.get(w, {}).items()} for w in workloads}, methods
    )
    for m in methods:
        cells = [m]
        for w in workloads:
            s = scores.get(w, {}).get(m)
            if s is None:
                cells.append("-")
            else:
                cells.append(f"{_fmt_time(s.seconds, s.steps)} ({s.reached}/{s.trials})")
        won = sum(r == 1.0 for r in ratios[m])
        solved = sum(math.isfinite(r) for r in ratios[m])
        cells += [str(won), f"{solved}/{len(workloads)}"]
        rows.append(cells)
    widths = [max(len(r[i]) for r in [headers] + rows) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(wd) for h, wd in zip(headers, widths))]
    lines += ["  ".join(c.ljust(wd) for c, wd in zip(r, widths)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def profile_taus(ratios: Mapping[str, Sequence[float]], points: int = 400) -> np.ndarray:
    """τ from 1 to a little past the largest finite ratio, log-spaced (and every ratio,
    so each step of the profile is drawn at its exact τ)."""
    finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
    top = max(max(finite, default=1.0) * 1.5, 2.0)
    grid = np.geomspace(1.0, top, points)
    return np.unique(np.concatenate([grid, np.asarray(finite, dtype=float)]))


def plot_profiles(
    scores: Mapping[str, Mapping[str, MethodScore]],
    methods: Sequence[str],
    workloads: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Two panels: the performance profile by time to target and by steps to target.
    Written atomically (matplotlib, any of its formats by extension)."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend is left alone

    from tinygrad_opt.atomic_io import write_atomically

    ncol = math.ceil(len(methods) / 18)  # legend columns beside the panels
    fig = Figure(figsize=(11 + 1.9 * ncol, 4.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, measure, label in (
        (axes[0], "seconds", "time to target"),
        (axes[1], "steps", "steps to target"),
    ):
        table = {
            w: {m: getattr(s, measure) for m, s in scores.get(w, {}).items()} for w in workloads
        }
        ratios = profile_ratios(table, methods)
        taus = profile_taus(ratios)
        rho = performance_profile(table, methods, taus)
        for i, m in enumerate(methods):
            ax.step(
                taus,
                rho[m],
                where="post",
                label=m,
                lw=1.8,
                ls=("-", "--", ":", "-.")[i // 10 % 4],
            )
        ax.set_xscale("log", base=2)
        ax.set_xlim(1.0, taus[-1])
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"τ (within a factor τ of the best {label})")
        ax.set_title(f"performance profile: {label}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ρ(τ): fraction of workloads")
    handles, labels = axes[0].get_legend_handles_labels()
    right = 1 - 1.9 * ncol / (11 + 1.9 * ncol)
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(right, 0.5), fontsize=8,
               ncol=ncol, frameon=False)  # fmt: skip
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, right, 1))
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    write_atomically(path, lambda f: fig.savefig(f, format=fmt, dpi=110))
    return path


def results_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The scores part of a results document as ``{workload: {method: score dict}}``."""
    out: dict[str, Any] = {}
    for s in doc.get("scores", []):
        out.setdefault(s["workload"], {})[s["method"]] = s
    return out
