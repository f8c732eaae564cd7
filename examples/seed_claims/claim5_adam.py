"""Claim 5: Adam combines momentum with RMSProp — direction and step size both from history.

    python examples/seed_claims/claim5_adam.py          # writes out/claim5_adam.png

Part A, inside Adam: train the digits MLP 64-32-10 with Adam and, at every step, compare
the update u = θ_after - θ_before that actually happened with candidate directions built
from the same step's gradient g and Adam's state (s, r; ŝ, r̂ bias-corrected):

* −ŝ/(√r̂ + δ)   Adam's formula (cosine 1 if the code does what the paper says);
* −g/(√r̂ + δ)   RMSProp's direction: current gradient, history only in the scale;
* −ŝ             momentum's direction: history in the direction, no per-coordinate scale;
* −g             plain SGD.

and, coordinate by coordinate, how well |u_i|/|ŝ_i| follows 1/(√r̂_i + δ) (correlation of
the logs; 1 = each coordinate's step size is set by its own r), and what that does: the
spread (5th–95th percentile, in decades) of the momentum |ŝ_i| across the network's
coordinates against the spread of Adam's steps |u_i| — dividing by √r̂ evens the steps out.

Part B, is Adam fastest? Each method (sgd, momentum, adagrad, rmsprop, adam) at its best
learning rate from a log grid (1e-4 … 3, three a decade): steps until f - f* stays ≤ 1e-3
on the playground functions (1,000 steps), and epochs until the digits MLP reaches 95 %
test accuracy (15 epochs).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED_METHODS, base_parser, lr_grid, lr_sweep, pyplot, save, table

from tinygrad_opt import Tensor, nn, optim
from tinygrad_opt.data import DataLoader, load_digits, train_test_split
from tinygrad_opt.train import fit

FUNCTIONS = ("quadratic", "rosenbrock", "beale", "himmelblau", "saddle", "long_valley")
CANDIDATES = ("adam: -ŝ/(√r̂+δ)", "rmsprop: -g/(√r̂+δ)", "momentum: -ŝ", "sgd: -g")


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--adam-lr", type=float, default=3e-3, help="Adam lr for part A")
    p.add_argument("--adam-epochs", type=int, default=3, help="epochs for part A")
    p.add_argument("--functions", default=",".join(FUNCTIONS))
    p.add_argument("--optimizers", default=",".join(SEED_METHODS))
    p.add_argument("--steps", type=int, default=1000, help="steps per 2-D run")
    p.add_argument("--tol", type=float, default=1e-3)
    p.add_argument("--lr-min", type=float, default=1e-4)
    p.add_argument("--lr-max", type=float, default=3.0)
    p.add_argument("--per-decade", type=int, default=3)
    p.add_argument("--epochs", type=int, default=15, help="digits epochs for part B (0: skip)")
    p.add_argument("--target", type=float, default=0.95, help="digits test accuracy target")
    return p.parse_args(argv)


def digits_data() -> tuple[np.ndarray, ...]:
    X, y = load_digits()
    return train_test_split(X, y, test_size=0.25, rng=0)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300))


def log_corr(a: np.ndarray, b: np.ndarray) -> float:
    keep = (a > 0) & (b > 0)
    return float(np.corrcoef(np.log(a[keep]), np.log(b[keep]))[0, 1])


def spread_decades(a: np.ndarray) -> float:
    """Width of the 5th–95th percentile range of log10|a| over the nonzero entries."""
    a = np.abs(a[a != 0])
    lo, hi = np.percentile(np.log10(a), [5, 95])
    return float(hi - lo)


def inside_adam(lr: float, epochs: int, seed: int = 0) -> dict[str, Any]:
    """Part A: per step, cosines of the actual update with the candidate directions."""
    Xtr, _, ytr, _ = digits_data()
    model = nn.MLP([64, 32, 10], rng=seed)
    params = model.parameters()
    opt = optim.Adam(params, lr=lr)
    (b1, b2), eps = opt.param_groups[0]["betas"], opt.param_groups[0]["eps"]
    loader = DataLoader((Xtr, ytr), batch_size=64, shuffle=True, rng=seed)
    cos = {c: [] for c in CANDIDATES}
    corr_scaled, spread_s, spread_u = [], [], []
    for _ in range(epochs):
        for X, y in loader:
            loss = nn.cross_entropy(model(Tensor(X)), y)
            opt.zero_grad()
            loss.backward()
            before = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)
            g = np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)
            opt.step()
            after = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)
            t = opt.state[params[0]]["step"]
            s = np.concatenate([opt.state[p]["exp_avg"].ravel() for p in params])
            r = np.concatenate([opt.state[p]["exp_avg_sq"].ravel() for p in params])
            s_hat, r_hat = s / (1 - b1**t), r / (1 - b2**t)
            scale = 1.0 / (np.sqrt(r_hat) + eps)
            u = after - before
            for c, d in zip(CANDIDATES, (-s_hat * scale, -g * scale, -s_hat, -g)):
                cos[c].append(cosine(u, d))
            nz = s_hat != 0
            corr_scaled.append(log_corr(np.abs(u[nz]) / np.abs(s_hat[nz]), scale[nz]))
            spread_s.append(spread_decades(s_hat))
            spread_u.append(spread_decades(u))
    skip = min(10, len(corr_scaled) - 1)  # let the moving averages fill first
    return {
        "lr": lr,
        "steps": len(corr_scaled),
        "cosine_per_step": {c: v for c, v in cos.items()},
        "mean_cosine": {c: float(np.mean(v[skip:])) for c, v in cos.items()},
        "corr_step_over_s_vs_inv_sqrt_r": float(np.mean(corr_scaled[skip:])),
        "spread_momentum_decades": float(np.mean(spread_s[skip:])),
        "spread_update_decades": float(np.mean(spread_u[skip:])),
    }


def digits_epochs_to_target(
    methods: list[str], lrs: np.ndarray, epochs: int, target: float
) -> dict[str, Any]:
    Xtr, Xte, ytr, yte = digits_data()
    out = {}
    for m in methods:
        best = (None, None, 0.0)
        for lr in lrs:
            model = nn.MLP([64, 32, 10], rng=0)
            opt = optim.create(m, model.parameters(), lr=float(lr))
            loader = DataLoader((Xtr, ytr), batch_size=64, shuffle=True, rng=0)
            with np.errstate(all="ignore"):
                h = fit(
                    model,
                    opt,
                    loader,
                    nn.cross_entropy,
                    epochs,
                    val_data=(Xte, yte),
                    progress=False,
                )
            acc = np.nan_to_num(np.array(h.val_metric), nan=0.0)
            hit = np.flatnonzero(acc >= target)
            e = int(hit[0]) + 1 if hit.size else None
            if e is not None and (best[1] is None or e < best[1]):
                best = (float(lr), e, float(acc.max()))
            elif best[1] is None and acc.max() > best[2]:
                best = (None, None, float(acc.max()))
        out[m] = {"best_lr": best[0], "epochs": best[1], "best_accuracy": best[2]}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    methods = [m for m in args.optimizers.split(",") if m]
    lrs = lr_grid(args.lr_min, args.lr_max, args.per_decade)
    results: dict[str, Any] = {"inside_adam": inside_adam(args.adam_lr, args.adam_epochs)}
    speed: dict[str, Any] = {}
    for f in [f for f in args.functions.split(",") if f]:
        speed[f] = {}
        for m in methods:
            sw = lr_sweep(f, m, lrs, args.steps, args.tol)
            speed[f][m] = {
                "best_lr": sw["best_lr"],
                "steps": sw["best_steps"],
                "lr_at_grid_edge": sw["best_lr"] in (lrs[0], lrs[-1]),
            }
    results["functions"] = speed
    results["tol"] = args.tol
    results["steps"] = args.steps
    if args.epochs:
        d_lrs = lrs[lrs <= 1.0]
        results["digits"] = digits_epochs_to_target(methods, d_lrs, args.epochs, args.target)
        results["digits_target"] = args.target
        results["digits_epochs"] = args.epochs
    results["fastest"] = {task: _fastest(per, "steps") for task, per in speed.items()}
    if args.epochs:
        results["fastest"]["digits"] = _fastest(results["digits"], "epochs")
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def _fastest(per: dict[str, Any], key: str) -> list[str]:
    """The method(s) with the fewest steps (ties share the place); [] if none got there."""
    got = {m: r[key] for m, r in per.items() if r[key] is not None}
    if not got:
        return []
    low = min(got.values())
    return sorted(m for m, v in got.items() if v == low)


def report(results: dict[str, Any]) -> str:
    a = results["inside_adam"]
    part_a = table(
        ["candidate direction", "mean cosine with Adam's actual update"],
        [[c, v] for c, v in a["mean_cosine"].items()],
    )
    corr = table(
        ["per coordinate", "value"],
        [
            [
                "log-log correlation of abs(u_i)/abs(ŝ_i) with 1/(√r̂_i + δ)",
                a["corr_step_over_s_vs_inv_sqrt_r"],
            ],
            ["spread of the momentum abs(ŝ_i) (decades, 5–95 %)", a["spread_momentum_decades"]],
            ["spread of Adam's steps abs(u_i) (decades, 5–95 %)", a["spread_update_decades"]],
        ],
    )
    methods = list(next(iter(results["functions"].values())))
    rows = []
    for f, per in results["functions"].items():
        cells = []
        for m in methods:
            r = per[m]
            if r["steps"] is None:
                cells.append("—")
            else:
                edge = "*" if r["lr_at_grid_edge"] else ""
                cells.append(f"{r['steps']} (lr {r['best_lr']:g}{edge})")
        rows.append([f, *cells, ", ".join(results["fastest"][f]) or "—"])
    if "digits" in results:
        cells = [
            "—" if r["epochs"] is None else f"{r['epochs']} ep (lr {r['best_lr']:g})"
            for r in results["digits"].values()
        ]
        rows.append(
            [
                f"digits MLP → {results['digits_target']:.0%}",
                *cells,
                ", ".join(results["fastest"]["digits"]),
            ]
        )
    speed = table(["task", *methods, "fastest"], rows)
    return "\n".join(
        [
            f"Claim 5 — inside Adam (digits MLP, lr {a['lr']:g}, {a['steps']} steps; "
            "means over steps 10+)",
            part_a,
            corr,
            f"Steps until f - f* stays ≤ {results['tol']:g} ({results['steps']} steps), each "
            "method at its best lr (* = at the edge of the grid)",
            speed,
        ]
    )


def plot(results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(14, 4.8))
    for c, v in results["inside_adam"]["cosine_per_step"].items():
        a.plot(v, label=c, lw=1)
    a.set(xlabel="step", ylabel="cosine with Adam's update", ylim=(-0.1, 1.05))
    a.set_title("Adam's update: direction from ŝ (history), scale from r̂", fontsize=9)
    a.legend(fontsize=8)
    a.grid(True, alpha=0.3)
    tasks = list(results["functions"])
    per_task = [results["functions"][t] for t in tasks]
    if "digits" in results:
        tasks.append("digits (epochs)")
        per_task.append({m: {"steps": r["epochs"]} for m, r in results["digits"].items()})
    methods = list(per_task[0])
    M = np.full((len(tasks), len(methods)), np.nan)
    for i, per in enumerate(per_task):
        got = {m: r["steps"] for m, r in per.items() if r["steps"] is not None}
        for j, m in enumerate(methods):
            if m in got:
                M[i, j] = got[m] / min(got.values())  # 1 = fastest on this task
    im = b.imshow(np.log2(M), cmap="RdYlGn_r", aspect="auto")
    for i in range(len(tasks)):
        for j in range(len(methods)):
            v = per_task[i][methods[j]]["steps"]
            b.text(
                j, i, "—" if v is None else str(v), ha="center", va="center", fontsize=8, color="k"
            )
    b.set_xticks(range(len(methods)), methods)
    b.set_yticks(range(len(tasks)), tasks)
    b.set_title(
        "steps to tolerance at each method's best lr (colour: log2 of × the fastest)", fontsize=9
    )
    fig.colorbar(im, ax=b)
    fig.tight_layout()
    return save(fig, out, "claim5_adam.png")


if __name__ == "__main__":
    main()
