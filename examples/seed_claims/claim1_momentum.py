"""Claim 1: momentum damps the oscillation across the steep θ1 axis and speeds the shallow θ2.

    python examples/seed_claims/claim1_momentum.py          # writes out/claim1_momentum.png

On the ill-conditioned quadratic f = ½(10·θ1² + 0.2·θ2²) (playground "quadratic", start
(-1, 5)), plain SGD is compared with heavy-ball momentum (SGD, μ = 0.9 — the registry's
"momentum") and with a lighter momentum μ = 0.5, each

* at its best learning rate from a log grid (the lr that first settles at f ≤ tol), and
* at the same learning rates (default 0.02 and 0.18; SGD zig-zags only above lr = 0.1,
  where 1 - 10·lr < 0).

Measured on θ1 (the steep axis): the zig-zag rate (fraction of consecutive θ1 moves that
reverse direction, first 100 steps), the amplitude max |θ1| over steps 20–40, and the path
length Σ|Δθ1| (1 = straight to the valley floor). On θ2 (the shallow axis): the steps
until |θ2| stays ≤ 1 % of its start. Overall: the steps until f stays ≤ tol.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, lr_grid, lr_sweep, pyplot, save, steps_to_stay, table

#: (label, registry name, extra hyperparameters)
METHODS = (
    ("sgd", "sgd", {}),
    ("momentum μ=0.9", "momentum", {}),
    ("momentum μ=0.5", "momentum", {"momentum": 0.5}),
)
FUNCTION = "quadratic"


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--steps", type=int, default=1000, help="steps per run")
    p.add_argument("--tol", type=float, default=1e-6, help="f - f* tolerance")
    p.add_argument(
        "--same-lr",
        type=float,
        nargs="+",
        default=[0.02, 0.18],
        help="learning rates at which every method is also run",
    )
    p.add_argument("--lr-min", type=float, default=1e-3)
    p.add_argument("--lr-max", type=float, default=1.0)
    p.add_argument("--per-decade", type=int, default=20, help="grid points per decade")
    return p.parse_args(argv)


def theta1_metrics(points: np.ndarray, losses: np.ndarray, tol: float) -> dict[str, Any]:
    """The oscillation and speed numbers of one run (points: (steps + 1, 2))."""
    finite = np.isfinite(losses)
    if not finite.all():
        return {"diverged": True}
    d1 = np.diff(points[:101, 0])
    d1 = d1[np.abs(d1) > 1e-12]
    zigzag = float(np.mean(np.sign(d1[1:]) != np.sign(d1[:-1]))) if d1.size > 1 else 0.0
    theta2_ok = np.abs(points[:, 1]) <= 0.01 * abs(points[0, 1])
    return {
        "diverged": False,
        "zigzag_rate": zigzag,
        "theta1_amplitude_20_40": float(np.abs(points[20:41, 0]).max()),
        "theta1_path_length": float(np.abs(np.diff(points[:, 0])).sum()),
        "theta2_steps_to_1pct": steps_to_stay(np.where(theta2_ok, 0.0, 1.0), 0.5),
        "steps_to_tol": steps_to_stay(losses, tol),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    lrs = lr_grid(args.lr_min, args.lr_max, args.per_decade)
    results: dict[str, Any] = {"function": FUNCTION, "tol": args.tol, "best": {}, "same_lr": {}}
    paths: dict[str, dict[str, np.ndarray]] = {"best": {}}
    for label, name, hp in METHODS:
        sweep = lr_sweep(FUNCTION, name, lrs, args.steps, args.tol, **hp)
        if sweep["best_lr"] is None:
            results["best"][label] = {"lr": None}
            continue
        i = int(np.flatnonzero(lrs == sweep["best_lr"])[0])
        run = sweep["run"]
        pts, loss = run.points[:, i], run.losses[:, i]
        results["best"][label] = {
            "lr": float(sweep["best_lr"]),
            **theta1_metrics(pts, loss, args.tol),
        }
        paths["best"][label] = pts
    for lr in args.same_lr:
        key = f"lr={lr:g}"
        results["same_lr"][key] = {}
        paths[key] = {}
        for label, name, hp in METHODS:
            sweep = lr_sweep(FUNCTION, name, [lr], args.steps, args.tol, **hp)
            pts, loss = sweep["run"].points[:, 0], sweep["run"].losses[:, 0]
            results["same_lr"][key][label] = {"lr": lr, **theta1_metrics(pts, loss, args.tol)}
            paths[key][label] = pts

    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(paths, results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    header = [
        "setting",
        "method",
        "lr",
        "θ1 zig-zag rate",
        "θ1 amplitude (steps 20-40)",
        "θ1 path length",
        "steps θ2 → 1 %",
        f"steps to f ≤ {results['tol']:g}",
    ]
    rows = []
    settings = [("best lr", results["best"])] + list(results["same_lr"].items())
    for setting, per in settings:
        for label, m in per.items():
            if m.get("lr") is None or m.get("diverged"):
                rows.append([setting, label, m.get("lr"), "diverged", "", "", "", ""])
                continue
            rows.append(
                [
                    setting,
                    label,
                    m["lr"],
                    m["zigzag_rate"],
                    m["theta1_amplitude_20_40"],
                    m["theta1_path_length"],
                    m["theta2_steps_to_1pct"],
                    m["steps_to_tol"],
                ]
            )
    return "Claim 1 — momentum on the ill-conditioned quadratic ½(10θ1² + 0.2θ2²)\n" + table(
        header, rows
    )


def plot(paths: dict[str, dict[str, np.ndarray]], results: dict[str, Any], out: Path) -> Path:
    from tinygrad_opt.playground import get_function

    plt = pyplot()
    fn = get_function(FUNCTION)
    settings = list(paths)
    fig, axes = plt.subplots(2, len(settings), figsize=(5 * len(settings), 8.5), squeeze=False)
    xs, ys = np.linspace(-1.6, 1.6, 200), np.linspace(-1.5, 5.5, 200)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.value(np.stack([X, Y]))
    for col, setting in enumerate(settings):
        ax, ax1 = axes[0, col], axes[1, col]
        ax.contour(X, Y, Z, levels=np.geomspace(1e-3, Z.max(), 25), linewidths=0.5, alpha=0.7)
        per = results["best"] if setting == "best" else results["same_lr"][setting]
        for label, pts in paths[setting].items():
            lr = per[label]["lr"]
            ok = np.isfinite(pts).all(axis=1)
            ax.plot(
                pts[ok][:150, 0], pts[ok][:150, 1], "-o", ms=1.5, lw=1, label=f"{label} (lr {lr:g})"
            )
            ax1.plot(np.arange(ok.sum())[:80], pts[ok][:80, 0], lw=1, label=label)
        ax.set(xlim=(-1.6, 1.6), ylim=(-1.5, 5.5), xlabel="θ1 (steep)", ylabel="θ2 (shallow)")
        ax.set_title(
            f"{'each at its best lr' if setting == 'best' else setting}: first 150 steps",
            fontsize=9,
        )
        ax.legend(fontsize=7)
        ax1.axhline(0, color="k", lw=0.5)
        ax1.set(xlabel="step", ylabel="θ1", ylim=(-1.6, 1.6))
        ax1.set_title("θ1 across the valley (first 80 steps)", fontsize=9)
        ax1.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out, "claim1_momentum.png")


if __name__ == "__main__":
    main()
