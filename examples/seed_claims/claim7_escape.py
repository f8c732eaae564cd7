"""Claim 7: advanced methods avoid poor local minima and escape saddle points — measured.

    python examples/seed_claims/claim7_escape.py        # writes out/claim7_escape.png

Saddle: f = θ1² - θ2² + θ2⁴/2 (playground "saddle"; saddle point at the origin, minima at
(0, ±1)). From (1, y0) with y0 = 1e-2 … 1e-8 and y0 = 0, count the steps until |θ2| > 0.5
(escaped), for every method at the same learning rate and at the playground's
suggested one, without and with Gaussian gradient noise (σ = 1e-3, a stand-in for
mini-batch noise; median over 3 seeds).

Poor local minimum: "local_minimum" has a wide shallow basin at (-1, 0) and a deeper,
narrower one at (2, 0). From 30 starts on a grid over the shallow side (θ1 ∈ [-3, -0.5],
θ2 ∈ [-1.5, 1.5]), each method runs a noisy phase (gradient noise σ, several seeds),
then a noise-free phase that lets it settle; the number measured is the fraction of runs
that end in the deep basin (θ1 > 0.5), per method and noise level, at the same lr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED_METHODS, base_parser, descend_many, first_true, pyplot, save, table

from tinygrad_opt.playground import SUGGESTED_LR

METHODS = (*SEED_METHODS, "nesterov")


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--optimizers", default=",".join(METHODS))
    p.add_argument("--saddle-lr", type=float, default=0.01, help="shared lr on the saddle")
    p.add_argument("--saddle-steps", type=int, default=3000)
    p.add_argument(
        "--y0", type=float, nargs="+", default=[1e-2, 1e-4, 1e-6, 1e-8, 0.0], help="start θ2"
    )
    p.add_argument("--saddle-noise", type=float, default=1e-3)
    p.add_argument("--basin-lr", type=float, default=0.1, help="shared lr on local_minimum")
    p.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.3, 1.0])
    p.add_argument("--noisy-steps", type=int, default=1000)
    p.add_argument("--settle-steps", type=int, default=300)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--grid", type=int, nargs=2, default=[6, 5], help="starts along θ1, θ2")
    return p.parse_args(argv)


def saddle_escape(method: str, lr: float, y0s, steps: int, noise: float, seeds: int) -> dict:
    """Steps until |θ2| > 0.5 from (1, y0), per y0 (median over seeds if noisy)."""
    starts = np.array([[1.0, y] for y in y0s] * (seeds if noise else 1))
    pts, _ = descend_many(
        "saddle",
        method,
        starts,
        steps,
        lr=lr,
        grad_noise=noise,
        rng=0,
        until=lambda th: np.abs(th[1]) > 0.5,
    )
    hit = first_true(np.abs(pts[:, :, 1]) > 0.5)
    per = np.array([np.nan if h is None else h for h in hit]).reshape(-1, len(y0s))
    escaped = np.isfinite(per).mean(axis=0)
    med = [None if e < 0.5 else float(np.nanmedian(col)) for e, col in zip(escaped, per.T)]
    return {"steps": med, "escaped_fraction": [float(e) for e in escaped]}


def basin_fraction(method: str, lr: float, starts: np.ndarray, noise: float, args: Any) -> float:
    """Fraction of runs ending in the deep basin after a noisy and a settling phase."""
    seeds = args.seeds if noise else 1
    batch = np.concatenate([starts] * seeds)
    pts, _ = descend_many(
        "local_minimum", method, batch, args.noisy_steps, lr=lr, grad_noise=noise, rng=1
    )
    pts2, _ = descend_many("local_minimum", method, pts[-1], args.settle_steps, lr=lr)
    return float(np.mean(pts2[-1][:, 0] > 0.5))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    methods = [m for m in args.optimizers.split(",") if m]
    saddle: dict[str, Any] = {}
    for m in methods:
        suggested = SUGGESTED_LR["saddle"].get(m, args.saddle_lr)
        saddle[m] = {
            "same_lr": saddle_escape(m, args.saddle_lr, args.y0, args.saddle_steps, 0.0, 1),
            "same_lr_noisy": saddle_escape(
                m, args.saddle_lr, args.y0, args.saddle_steps, args.saddle_noise, args.seeds
            ),
            "suggested_lr": suggested,
            "suggested": saddle_escape(m, suggested, args.y0, args.saddle_steps, 0.0, 1),
        }
    xs = np.linspace(-3.0, -0.5, args.grid[0])
    ys = np.linspace(-1.5, 1.5, args.grid[1])
    starts = np.array([[x, y] for x in xs for y in ys])
    basins = {
        m: {f"{n:g}": basin_fraction(m, args.basin_lr, starts, n, args) for n in args.noise}
        for m in methods
    }
    results = {
        "saddle": saddle,
        "saddle_lr": args.saddle_lr,
        "y0": list(args.y0),
        "saddle_noise": args.saddle_noise,
        "deep_basin_fraction": basins,
        "basin_lr": args.basin_lr,
        "starts": len(starts),
        "seeds": args.seeds,
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    y0 = [f"y0={v:g}" for v in results["y0"]]
    rows = []
    for m, r in results["saddle"].items():
        rows.append([m, f"same {results['saddle_lr']:g}", *r["same_lr"]["steps"]])
        rows.append([m, f"same + noise {results['saddle_noise']:g}", *r["same_lr_noisy"]["steps"]])
        rows.append([m, f"suggested {r['suggested_lr']:g}", *r["suggested"]["steps"]])
    saddle = table(["method", "lr", *y0], rows)
    noises = list(next(iter(results["deep_basin_fraction"].values())))
    basin = table(
        ["method", *[f"noise σ={n}" for n in noises]],
        [[m, *per.values()] for m, per in results["deep_basin_fraction"].items()],
    )
    return "\n".join(
        [
            "Claim 7 — saddle: steps until |θ2| > 0.5 from (1, y0) (— = not within the run)",
            saddle,
            f"Claim 7 — local_minimum: fraction of {results['starts']} starts × seeds ending in "
            f"the deep basin (lr {results['basin_lr']:g})",
            basin,
        ]
    )


def plot(results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.8))
    y0 = [v for v in results["y0"] if v > 0]
    for m, r in results["saddle"].items():
        steps = r["same_lr"]["steps"][: len(y0)]
        a.semilogx(y0, [np.nan if s is None else s for s in steps], "o-", ms=3, label=m)
    a.invert_xaxis()
    a.set(
        xlabel="start θ2 = y0 (distance from the saddle's ridge)", ylabel="steps until |θ2| > 0.5"
    )
    a.set_title(
        f"saddle, all at lr {results['saddle_lr']:g}: y0 = 0 never escapes without noise",
        fontsize=9,
    )
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    fracs = results["deep_basin_fraction"]
    methods = list(fracs)
    noises = list(fracs[methods[0]])
    x = np.arange(len(methods))
    w = 0.8 / len(noises)
    for k, n in enumerate(noises):
        b.bar(
            x + (k - (len(noises) - 1) / 2) * w, [fracs[m][n] for m in methods], w, label=f"σ = {n}"
        )
    b.set_xticks(x, methods)
    b.set(ylabel="fraction ending in the deep basin", ylim=(0, 1))
    b.set_title(
        f"local_minimum: {results['starts']} starts on the shallow side, "
        f"lr {results['basin_lr']:g}, noisy phase then settling",
        fontsize=9,
    )
    b.grid(True, axis="y", alpha=0.3)
    b.legend(fontsize=8, title="gradient noise")
    fig.tight_layout()
    return save(fig, out, "claim7_escape.png")


if __name__ == "__main__":
    main()
