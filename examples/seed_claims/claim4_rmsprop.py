"""Claim 4: RMSProp's moving average avoids AdaGrad's vanishing step.

    python examples/seed_claims/claim4_rmsprop.py    # writes out/claim4_rmsprop_vs_adagrad.png

The measurement of claim 3, for RMSProp (torch form, ρ = 0.99) beside AdaGrad at the same
learning rate:

* on "long_valley" (constant slope ≈ 1 along the floor, start (1, 30)): the effective θ2
  step η/(√r + δ) at steps 1 … N and its ratio end/start, the distance to the minimum
  after N steps, and the exponent p of steps ∝ distance^p to walk down the valley;
* on Rosenbrock (start (-1.5, 2)), where the first gradients are ~100× larger than those
  on the valley floor: the distance to (1, 1) after N steps over an lr grid, each method
  at its best lr and both at the same lrs, and the effective step at the end.

The other side of a step that does not vanish: with a constant learning rate RMSProp does
not settle at the minimum but keeps moving about it with steps of order η; the spread
of its last 100 iterates is reported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, batch_descend, fmt, lr_grid, pyplot, save, table
from claim3_adagrad_vanishing import effective_step_run, step_summary, steps_vs_distance

from tinygrad_opt import optim
from tinygrad_opt.playground import get_function

METHODS = ("adagrad", "rmsprop")


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--steps", type=int, default=3000, help="N, steps per run")
    p.add_argument("--lr", type=float, nargs="+", default=[0.1, 1.0], help="shared lrs (valley)")
    p.add_argument("--distances", type=float, nargs="+", default=[5, 10, 20, 40, 80, 160, 320, 640])
    p.add_argument("--distance-lr", type=float, default=0.3)
    p.add_argument("--max-steps", type=int, default=20000, help="cap for the distance sweep")
    p.add_argument("--rosenbrock-lr-min", type=float, default=1e-4)
    p.add_argument("--rosenbrock-lr-max", type=float, default=3.0)
    p.add_argument("--per-decade", type=int, default=3)
    return p.parse_args(argv)


def hover(run: dict[str, np.ndarray], last: int = 100) -> float:
    """Largest distance to the minimum over the last ``last`` iterates."""
    return float(run["distance"][-last:].max())


def rosenbrock_sweep(lrs: np.ndarray, steps: int) -> dict[str, Any]:
    fn = get_function("rosenbrock")
    out: dict[str, Any] = {"lrs": [float(v) for v in lrs]}
    for m in METHODS:
        starts = np.repeat(np.array([fn.start]), len(lrs), axis=0)
        run = batch_descend(
            fn, lambda t, i, m=m: optim.create(m, [t], lr=float(lrs[i])), starts, steps
        )
        final = run.final_points()
        dist = np.linalg.norm(final - np.array(fn.minima[0]), axis=1)
        dist = np.where([s is None for s in run.stopped], dist, np.inf)  # diverged: inf
        i = int(np.argmin(dist))
        out[m] = {
            "distance": [float(d) for d in dist],
            "best_lr": float(lrs[i]),
            "best_distance": float(dist[i]),
        }
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    valley: dict[str, Any] = {}
    runs: dict[str, dict[float, dict[str, np.ndarray]]] = {m: {} for m in METHODS}
    for m in METHODS:
        valley[m] = {}
        for lr in args.lr:
            run = effective_step_run(m, args.steps, lr=lr)
            runs[m][lr] = run
            valley[m][f"{lr:g}"] = {**step_summary(run), "hover_last_100": hover(run)}
    sweeps = {
        m: steps_vs_distance(m, args.distances, args.distance_lr, args.max_steps) for m in METHODS
    }
    lrs = lr_grid(args.rosenbrock_lr_min, args.rosenbrock_lr_max, args.per_decade)
    rosen = rosenbrock_sweep(lrs, args.steps)
    # effective steps at the end of Rosenbrock runs at each method's best lr
    for m in METHODS:
        run = effective_step_run(m, args.steps, "rosenbrock", lr=rosen[m]["best_lr"])
        e = run["effective"]
        rosen[m]["effective_step_start"] = [float(v) for v in e[0]]
        rosen[m]["effective_step_end"] = [float(v) for v in e[-1]]
        rosen[m]["effective_end_over_start"] = [float(v) for v in e[-1] / e[0]]
        runs[m]["rosenbrock"] = run
    results = {
        "steps": args.steps,
        "long_valley": valley,
        "distance_sweep": sweeps,
        "rosenbrock": rosen,
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(runs, results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    n = results["steps"]
    rows = []
    for m, per in results["long_valley"].items():
        for lr, s in per.items():
            at = s["effective_step_at"]
            rows.append(
                [
                    m,
                    lr,
                    at[1],
                    at.get(100),
                    at[n],
                    s["end_over_start"],
                    s["final_distance"],
                    s["hover_last_100"],
                ]
            )
    valley = table(
        [
            "method",
            "lr",
            "η/(√r+δ) θ2, t=1",
            "t=100",
            f"t={n}",
            "end / start",
            f"distance after {n}",
            "max distance, last 100",
        ],
        rows,
    )
    sw = results["distance_sweep"]
    dists = next(iter(sw.values()))["distances"]
    sweep = table(
        ["steps until θ2 ≤ 1, start θ2 =", *[f"{d:g}" for d in dists], "p", "p, last pair"],
        [
            [
                f"{m} (lr {s['lr']:g})",
                *[f"> {s['max_steps']}" if k is None else k for k in s["steps"]],
                s["exponent"],
                s["tail_exponent"],
            ]
            for m, s in sw.items()
        ],
    )
    r = results["rosenbrock"]
    rrows = []
    for m in METHODS:
        rrows.append(
            [
                m,
                r[m]["best_lr"],
                r[m]["best_distance"],
                r[m]["effective_step_start"][1],
                r[m]["effective_step_end"][1],
                r[m]["effective_end_over_start"][1],
            ]
        )
    rosen = table(
        [
            "Rosenbrock",
            "best lr",
            f"distance to (1,1) after {n}",
            "η/(√r+δ) θ2, t=1",
            f"t={n}",
            "end / start",
        ],
        rrows,
    )
    same = table(
        ["Rosenbrock, same lr", *[f"{v:g}" for v in r["lrs"]]],
        [[m, *r[m]["distance"]] for m in METHODS],
    )
    return "\n".join(
        [
            "Claim 4 — RMSProp vs AdaGrad (long_valley, start (1, 30))",
            valley,
            sweep,
            rosen,
            same,
        ]
    )


def plot(
    runs: dict[str, dict[Any, dict[str, np.ndarray]]], results: dict[str, Any], out: Path
) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.5))
    a, b, c, d = axes
    for m, per in runs.items():
        for lr, run in per.items():
            if lr == "rosenbrock":
                continue
            t = np.arange(1, len(run["effective"]) + 1)
            a.loglog(t, run["effective"][:, 1], label=f"{m} lr {lr:g}")
            b.plot(run["distance"], label=f"{m} lr {lr:g}")
    a.set(xlabel="step t", ylabel="η/(√r+δ) along θ2")
    a.set_title("long valley: effective step (AdaGrad ∝ 1/√t, RMSProp flat)", fontsize=9)
    b.set(xlabel="step", ylabel="distance to the minimum", yscale="log", ylim=(1e-4, 100))
    b.set_title("long valley: distance (RMSProp hovers at ~η)", fontsize=9)
    for m, s in results["distance_sweep"].items():
        ok = [(x, k) for x, k in zip(s["distances"], s["steps"]) if k is not None]
        c.loglog(
            [x for x, _ in ok],
            [k for _, k in ok],
            "o-",
            label=f"{m} (p, last pair = {fmt(s['tail_exponent'])})",  # None: < 2 reached
        )
    c.set(xlabel="start distance D", ylabel="steps until θ2 ≤ 1")
    c.set_title("walking down the valley: steps ∝ D^p", fontsize=9)
    r = results["rosenbrock"]
    for m in METHODS:
        dist = np.array(r[m]["distance"])
        d.loglog(r["lrs"], np.where(np.isfinite(dist), dist, np.nan), "o-", ms=3, label=m)
    d.set(xlabel="learning rate", ylabel=f"distance to (1, 1) after {results['steps']} steps")
    d.set_title("Rosenbrock: every lr of the grid", fontsize=9)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out, "claim4_rmsprop_vs_adagrad.png")


if __name__ == "__main__":
    main()
