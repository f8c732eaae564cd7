"""Claims 2 and 5 re-measured on the character-level transformer workload.

    python examples/seed_claims/claim2_5_transformer.py   # out/claim2_5_transformer.{json,png}

Every method of the seed article is trained on the ``transformer`` workload of
:mod:`tinygrad_opt.workloads` (its fixed validation-loss target and step budget) at every
learning rate of a log grid, every other hyperparameter at its default — the
``--lr-grid`` mode of ``tinygrad-opt benchmark``, so the run is resumable (rerun the same
command after an interruption) and its JSON is a benchmark results file.

* Claim 2 ("adaptive per-parameter learning rates reduce tuning"): the share of the grid
  whose run reaches the target, and the width of that window in decades.
* Claim 5 ("Adam works better than other methods"): each method's time (and steps) to
  the target at its best learning rate on the grid.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED_METHODS, base_parser, lr_grid, pyplot, save, table

from tinygrad_opt.benchmark import Settings, run_benchmark, score_trials
from tinygrad_opt.workloads import get_workload
from tinygrad_opt.workloads import run as run_workload


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--optimizers", default=",".join(SEED_METHODS))
    p.add_argument("--workload", default="transformer")
    p.add_argument("--lr-min", type=float, default=1e-4)
    p.add_argument("--lr-max", type=float, default=1.0)
    p.add_argument("--per-decade", type=int, default=2, help="grid points per decade")
    p.add_argument("--max-steps", type=int, default=None, help="cut the workload's budget")
    p.add_argument("--target", type=float, default=None, help="change the workload's target")
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--progress", action="store_true", help="a progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    methods = tuple(m.strip() for m in args.optimizers.split(",") if m.strip())
    grid = tuple(float(x) for x in lr_grid(args.lr_min, args.lr_max, args.per_decade))
    overrides = {
        k: v
        for k, v in (
            ("max_steps", args.max_steps),
            ("target", args.target),
            ("eval_every", args.eval_every),
        )
        if v is not None
    }
    workload = get_workload(args.workload, **overrides)
    settings = Settings(
        optimizers=methods,
        workloads=(workload.name,),
        budget=len(grid),
        seed=args.seed,
        max_steps=args.max_steps,
        lr_grid=grid,
    )
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = run_benchmark(
        settings,
        out_dir / "claim2_5_transformer.json",
        {workload.name: workload},
        run_workload,
        progress=args.progress,
    )
    scores = score_trials(doc["trials"])[workload.name]
    result: dict[str, Any] = {
        "workload": workload.name,
        "target": f"{workload.metric} {'<=' if workload.goal == 'min' else '>='} "
        f"{workload.target:g} within {workload.max_steps} steps",
        "lr_grid": list(grid),
        "methods": {},
    }
    for m in methods:
        trials = [t for t in doc["trials"] if t["method"] == m]
        ok = [t["hyperparameters"]["lr"] for t in trials if t["steps_to_target"] is not None]
        s = scores[m]
        result["methods"][m] = {
            "share_reaching": len(ok) / len(trials),
            "window_decades": math.log10(max(ok) / min(ok)) if ok else None,
            "lrs_reaching": ok,
            "best_lr": None if s.best is None else s.best["hyperparameters"]["lr"],
            "best_seconds": None if math.isinf(s.seconds) else s.seconds,
            "best_steps": None if math.isinf(s.steps) else int(s.steps),
            "diverged": sum(t["diverged"] for t in trials),
            "final_metric": {str(t["hyperparameters"]["lr"]): t["final_metric"] for t in trials},
            "seconds_by_lr": [t["seconds_to_target"] for t in trials],
            "steps_by_lr": [t["steps_to_target"] for t in trials],
        }
    if not args.quiet:
        print(f"{workload.name}: {result['target']}; lr grid {grid[0]:g} … {grid[-1]:g} "
              f"({len(grid)} points)")  # fmt: skip
        rows = []
        for m, r in result["methods"].items():
            share = f"{100 * r['share_reaching']:.0f} %"
            rows.append([m, share, r["window_decades"], r["best_lr"], r["best_seconds"],
                         r["best_steps"], r["diverged"]])  # fmt: skip
        print(table(["method", "grid reaching target", "window (decades)", "best lr",
                     "seconds to target", "steps to target", "diverged"], rows))  # fmt: skip
    if not args.no_plot:
        result["figure"] = str(plot(result, workload, out_dir))
    (out_dir / "claim2_5_summary.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def plot(result: dict[str, Any], workload: Any, out_dir: Path) -> Path:
    """Left: the metric each lr ended at (at the target if reached) against the target;
    middle: the share of the grid reaching it (claim 2); right: steps to the target at
    each method's best lr, seconds written above (claim 5)."""
    plt = pyplot()
    methods = list(result["methods"])
    grid = np.asarray(result["lr_grid"])
    colors = [f"C{i}" for i in range(len(methods))]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [2, 1, 1]})
    ax = axes[0]
    finals = [[result["methods"][m]["final_metric"][str(lr)] for lr in grid] for m in methods]
    finite = [v for row in finals for v in row if v is not None and math.isfinite(v)]
    top = min(max(finite, default=1.0), 2 * workload.target + 2)  # blown-up runs: at the top
    for m, row, color in zip(methods, finals, colors):
        y = np.array([top if v is None or v > top else v for v in row], dtype=float)
        ax.plot(grid, y, "o-", color=color, label=m)
        off = np.array([v is None or v > top for v in row])
        ax.plot(grid[off], y[off], "^", color=color, ms=9)
    ax.axhline(workload.target, color="k", ls="--", lw=1)
    ax.text(grid[0], workload.target, " target", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (every other hyperparameter at its default)")
    ax.set_ylabel(f"{workload.metric} at the end (▲ diverged / off the chart)")
    ax.set_title(f"{workload.name}: where each lr ends ({workload.max_steps} steps at most)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    x = np.arange(len(methods))
    share = [100 * result["methods"][m]["share_reaching"] for m in methods]
    axes[1].bar(x, share, color=colors)
    axes[1].set_ylabel("% of the lr grid reaching the target")
    axes[1].set_title("claim 2: how much tuning")
    steps = [result["methods"][m]["best_steps"] for m in methods]
    secs = [result["methods"][m]["best_seconds"] for m in methods]
    axes[2].bar(x, [0 if s is None else s for s in steps], color=colors)
    for i, (st, sc) in enumerate(zip(steps, secs)):
        label = "never" if st is None else f"{sc:.3g} s"
        axes[2].text(i, 0 if st is None else st, label, ha="center", va="bottom", fontsize=8)
    axes[2].set_ylabel("steps to target at the best lr")
    axes[2].set_title("claim 5: best-tuned speed")
    for a in axes[1:]:
        a.set_xticks(x, methods, rotation=45)
    fig.tight_layout()
    return save(fig, out_dir, "claim2_5_transformer.png")


if __name__ == "__main__":
    main()
