"""Claim 3: AdaGrad's step size vanishes as the squared gradients accumulate.

    python examples/seed_claims/claim3_adagrad_vanishing.py   # writes out/claim3_adagrad_step.png

On the playground's "long_valley", f = 5·θ1² + √(1 + θ2²) - 1 from (1, 30), the gradient
along the valley floor stays ≈ 1 for a long way. AdaGrad's accumulator r = Σ g⊙g then
grows linearly in t, so the effective per-parameter step η/(√r + δ) — read from the
optimizer's state after every step — shrinks like 1/√t, and the distance AdaGrad covers
grows only like 2η√t. Measured:

* the effective θ2 step at steps 1, 10, 100, 1000 and N, its ratio end/start, and the
  log-log slope of effective step vs t while the gradient is constant (1/√t: slope -0.5);
* the distance to the minimum after N steps, for a few learning rates;
* the steps AdaGrad needs to reach θ2 ≤ 1 from starts θ = (0, D), D = 5 … 80 (lr 0.3),
  and the exponent p of steps ∝ D^p (p = 2 for a 1/√t step, 1 for a constant one).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, descend_many, first_true, fmt, pyplot, save, table

from tinygrad_opt import optim
from tinygrad_opt.playground import get_function
from tinygrad_opt.tensor import Tensor

FUNCTION = "long_valley"


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--steps", type=int, default=3000, help="N, steps per run")
    p.add_argument("--lr", type=float, nargs="+", default=[0.1, 0.3, 1.0], help="AdaGrad lrs")
    p.add_argument(
        "--distances", type=float, nargs="+", default=[5, 10, 20, 40, 80], help="starting θ2"
    )
    p.add_argument("--distance-lr", type=float, default=0.3, help="lr for the distance sweep")
    p.add_argument("--max-steps", type=int, default=20000, help="cap for the distance sweep")
    return p.parse_args(argv)


def effective_step_run(
    method: str, steps: int, function: str = FUNCTION, start=None, **hp: Any
) -> dict[str, np.ndarray]:
    """One run; after every step record θ and the effective step η/(√r + δ) per coordinate.

    The accumulator r is read from the optimizer's state: ``sum`` (AdaGrad),
    ``square_avg`` (RMSProp) or ``exp_avg_sq`` (Adam, bias-corrected).
    """
    fn = get_function(function)
    theta = Tensor(np.array(fn.start if start is None else start, float), requires_grad=True)
    opt = optim.create(method, [theta], **hp)
    group = opt.param_groups[0]
    points = np.empty((steps + 1, 2))
    effective = np.empty((steps, 2))
    points[0] = theta.data
    for k in range(steps):
        theta.grad = None
        fn(theta).backward()
        opt.step()
        points[k + 1] = theta.data
        state = opt.state[theta]
        if "sum" in state:
            r = state["sum"]
        elif "square_avg" in state:
            r = state["square_avg"]
        else:
            r = state["exp_avg_sq"] / (1 - group["betas"][1] ** state["step"])
        effective[k] = group["lr"] / (np.sqrt(r) + group["eps"])
    fmin = np.array(fn.minima[0])
    return {
        "points": points,
        "effective": effective,
        "distance": np.linalg.norm(points - fmin, axis=1),
    }


def loglog_slope(t: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(t), np.log(y), 1)[0])


def step_summary(run: dict[str, np.ndarray], axis: int = 1) -> dict[str, Any]:
    """Effective step along ``axis`` at a few steps, its end/start ratio and 1/√t slope."""
    e = run["effective"][:, axis]
    n = len(e)
    at = {t: float(e[t - 1]) for t in (1, 10, 100, 1000) if t <= n}
    at[n] = float(e[-1])
    # fit while the run is still on the constant-slope floor (|θ2| > 5, gradient ≈ 1)
    on_floor = np.abs(run["points"][1:, 1]) > 5
    t = np.arange(1, n + 1)
    fit = on_floor & (t >= 10)
    return {
        "effective_step_at": at,
        "end_over_start": float(e[-1] / e[0]),
        "slope_loglog": loglog_slope(t[fit], e[fit]) if fit.sum() > 10 else None,
        "steps_on_floor": int(on_floor.sum()),
        "final_distance": float(run["distance"][-1]),
    }


def steps_vs_distance(method: str, distances, lr: float, max_steps: int) -> dict[str, Any]:
    """Steps until θ2 ≤ 1 from θ = (0, D) for every D, and the exponent of D."""
    starts = np.array([[0.0, d] for d in distances])
    pts, _ = descend_many(FUNCTION, method, starts, max_steps, lr=lr, until=lambda th: th[1] <= 1.0)
    steps = first_true(pts[:, :, 1] <= 1.0)
    ok = np.array([(d, s) for d, s in zip(distances, steps) if s is not None], dtype=float)
    enough = len(ok) > 1
    return {
        "distances": list(distances),
        "lr": lr,
        "max_steps": max_steps,
        "steps": steps,
        # over every distance reached, and between the two largest (past any warm-up)
        "exponent": loglog_slope(ok[:, 0], ok[:, 1]) if enough else None,
        "tail_exponent": loglog_slope(ok[-2:, 0], ok[-2:, 1]) if enough else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    runs = {lr: effective_step_run("adagrad", args.steps, lr=lr) for lr in args.lr}
    results: dict[str, Any] = {
        "function": FUNCTION,
        "steps": args.steps,
        "adagrad": {f"{lr:g}": step_summary(run) for lr, run in runs.items()},
        "distance_sweep": steps_vs_distance(
            "adagrad", args.distances, args.distance_lr, args.max_steps
        ),
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(runs, results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    n = results["steps"]
    rows = []
    for lr, s in results["adagrad"].items():
        at = s["effective_step_at"]
        rows.append(
            [
                lr,
                at.get(1),
                at.get(10),
                at.get(100),
                at.get(1000),
                at[n],
                s["end_over_start"],
                s["slope_loglog"],
                s["final_distance"],
            ]
        )
    header = [
        "AdaGrad lr",
        "η/(√r+δ) θ2, t=1",
        "t=10",
        "t=100",
        "t=1000",
        f"t={n}",
        "end / start",
        "log-log slope (floor)",
        f"distance to min after {n}",
    ]
    d = results["distance_sweep"]
    sweep = table(
        ["start θ2 = D", *[f"{v:g}" for v in d["distances"]], "p (steps ∝ D^p)", "p, last pair"],
        [
            [
                f"AdaGrad (lr {d['lr']:g}) steps until θ2 ≤ 1",
                *[f"> {d['max_steps']}" if s is None else s for s in d["steps"]],
                d["exponent"],
                d["tail_exponent"],
            ]
        ],
    )
    return (
        f"Claim 3 — AdaGrad's effective step on {results['function']} (start (1, 30))\n"
        + table(header, rows)
        + "\n"
        + sweep
    )


def plot(runs: dict[float, dict[str, np.ndarray]], results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(16, 4.5))
    for lr, run in runs.items():
        t = np.arange(1, len(run["effective"]) + 1)
        a.loglog(t, run["effective"][:, 1], label=f"lr {lr:g}")
        b.plot(run["distance"], label=f"lr {lr:g}")
    t = np.arange(1, results["steps"] + 1)
    lr0 = min(runs)
    a.loglog(t, lr0 / np.sqrt(t), "k--", lw=0.8, label="η/√t")
    a.set(xlabel="step t", ylabel="effective step η/(√r+δ) along θ2")
    a.set_title("AdaGrad: the step shrinks like 1/√t on the valley floor", fontsize=9)
    b.set(xlabel="step", ylabel="distance to the minimum", yscale="symlog")
    b.set_title("distance to the minimum (start 30 down the valley)", fontsize=9)
    d = results["distance_sweep"]
    ok = [(x, s) for x, s in zip(d["distances"], d["steps"]) if s is not None]
    c.loglog(
        [x for x, _ in ok], [s for _, s in ok], "o-", label=f"AdaGrad (p = {fmt(d['exponent'])})"
    )
    c.set(xlabel="start distance D along the valley", ylabel="steps until θ2 ≤ 1")
    c.set_title("steps ∝ D^p: p = 2 means the step vanishes like 1/√t", fontsize=9)
    for ax in (a, b, c):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, out, "claim3_adagrad_step.png")


if __name__ == "__main__":
    main()
