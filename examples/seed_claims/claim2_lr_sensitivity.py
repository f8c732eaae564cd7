"""Claim 2: adaptive per-parameter learning rates reduce tuning — an lr sweep on digits.

    python examples/seed_claims/claim2_lr_sensitivity.py   # writes out/claim2_lr_sensitivity.png

An MLP 64-32-10 (ReLU) is trained on the 8×8 digits (1,347 train / 450 test images,
batch 64, a fixed number of epochs) at every learning rate of a log grid spanning six
orders of magnitude (default 1e-5 … 1e1, three points a decade), with sgd, momentum
(μ = 0.9), adagrad, rmsprop and adam, and a few seeds. The number measured per optimizer
is the fraction of the grid's learning rates whose mean test accuracy reaches a target,
and the width of that window in decades.

Two versions of the data:

* ``scaled``: pixels in [0, 1] as ``load_digits`` returns them — every input feature on
  the same scale, so one global learning rate already suits every weight;
* ``rescaled``: every pixel column multiplied by a fixed random factor 10^U(-2, 1) (seed
  0): badly scaled features, where per-parameter learning rates have something to fix.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED_METHODS, base_parser, lr_grid, pyplot, save, table

from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, load_digits, train_test_split
from tinygrad_opt.train import fit


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--optimizers", default=",".join(SEED_METHODS))
    p.add_argument("--lr-min", type=float, default=1e-5)
    p.add_argument("--lr-max", type=float, default=10.0)
    p.add_argument("--per-decade", type=int, default=3, help="grid points per decade")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, default=2, help="seeds (init + batch order) per point")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--target", type=float, default=0.90, help="test accuracy target (scaled)")
    p.add_argument(
        "--target-rescaled", type=float, default=0.80, help="test accuracy target (rescaled)"
    )
    p.add_argument("--subset", type=int, default=None, help="use only this many images")
    p.add_argument("--datasets", default="scaled,rescaled")
    return p.parse_args(argv)


def digits(kind: str, subset: int | None) -> tuple[np.ndarray, ...]:
    X, y = load_digits()
    if kind == "rescaled":
        X = (X * 10 ** np.random.default_rng(0).uniform(-2, 1, X.shape[1])).astype(np.float32)
    elif kind != "scaled":
        raise ValueError(f"unknown dataset {kind!r}")
    if subset is not None:
        X, y = X[:subset], y[:subset]
    return train_test_split(X, y, test_size=0.25, rng=0)


def final_accuracy(
    method: str, lr: float, data: tuple[np.ndarray, ...], seed: int, args: Any
) -> float:
    Xtr, Xte, ytr, yte = data
    model = nn.MLP([64, args.hidden, 10], rng=seed)
    opt = optim.create(method, model.parameters(), lr=float(lr))
    loader = DataLoader((Xtr, ytr), batch_size=args.batch_size, shuffle=True, rng=seed)
    with np.errstate(all="ignore"):
        h = fit(
            model, opt, loader, nn.cross_entropy, args.epochs, val_data=(Xte, yte), progress=False
        )
    acc = h.val_metric[-1]
    return float(acc) if np.isfinite(acc) else 0.0


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    methods = [m for m in args.optimizers.split(",") if m]
    lrs = lr_grid(args.lr_min, args.lr_max, args.per_decade)
    results: dict[str, Any] = {
        "lrs": [float(v) for v in lrs],
        "decades": float(np.log10(lrs[-1] / lrs[0])),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "datasets": {},
    }
    for kind in args.datasets.split(","):
        target = args.target if kind == "scaled" else args.target_rescaled
        data = digits(kind, args.subset)
        per: dict[str, Any] = {}
        for m in methods:
            acc = np.array(
                [
                    np.mean([final_accuracy(m, lr, data, s, args) for s in range(args.seeds)])
                    for lr in lrs
                ]
            )
            ok = acc >= target
            per[m] = {
                "accuracy": [float(a) for a in acc],
                "fraction_reaching_target": float(ok.mean()),
                "window_decades": float(ok.sum() / args.per_decade),
                "best_accuracy": float(acc.max()),
                "best_lr": float(lrs[int(acc.argmax())]),
                "lr_range_reaching_target": (
                    [float(lrs[ok][0]), float(lrs[ok][-1])] if ok.any() else None
                ),
            }
        results["datasets"][kind] = {"target": target, "optimizers": per}

    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Claim 2 — lr sweep on digits ({len(results['lrs'])} learning rates over "
        f"{results['decades']:g} decades, {results['epochs']} epochs, "
        f"mean over {results['seeds']} seed(s))"
    ]
    rows = []
    for kind, d in results["datasets"].items():
        for m, r in d["optimizers"].items():
            span = r["lr_range_reaching_target"]
            rows.append(
                [
                    kind,
                    f"{d['target']:.0%}",
                    m,
                    r["fraction_reaching_target"],
                    r["window_decades"],
                    "—" if span is None else f"{span[0]:g} … {span[1]:g}",
                    r["best_accuracy"],
                    r["best_lr"],
                ]
            )
    header = [
        "data",
        "target",
        "optimizer",
        "fraction of lrs ≥ target",
        "window (decades)",
        "lrs reaching it",
        "best test acc",
        "at lr",
    ]
    return "\n".join(lines) + "\n" + table(header, rows)


def plot(results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    kinds = list(results["datasets"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.5), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        d = results["datasets"][kind]
        for m, r in d["optimizers"].items():
            ax.semilogx(
                results["lrs"],
                r["accuracy"],
                "-o",
                ms=3,
                label=f"{m} ({r['fraction_reaching_target']:.0%})",
            )
        ax.axhline(d["target"], color="k", ls="--", lw=0.8)
        ax.set(xlabel="learning rate", ylabel="test accuracy", ylim=(0, 1))
        ax.set_title(
            f"digits, {kind} pixels: share of lrs reaching {d['target']:.0%} in legend", fontsize=9
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, out, "claim2_lr_sensitivity.png")


if __name__ == "__main__":
    main()
