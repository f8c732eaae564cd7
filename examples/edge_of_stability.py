"""Edge of stability: full-batch gradient descent drives the sharpness up to 2/η and holds it there.

    python examples/edge_of_stability.py           # writes out/edge_of_stability.png (~1-2 min)
    python examples/edge_of_stability.py --quick   # a small subset, a few hundred steps (CI)

Cohen, Kaur, Li, Kolter & Talwalkar (ICLR 2021), "Gradient Descent on Neural Networks
Typically Occurs at the Edge of Stability". On a quadratic with top Hessian eigenvalue
λ₁, gradient descent at step size η is stable only while λ₁ < 2/η (along the top
eigenvector the error is multiplied by 1 − ηλ₁ each step). On a neural network the
*sharpness* λ₁(∇²L(θ)) is not fixed: during full-batch training it grows ("progressive
sharpening") until it reaches 2/η, and then, instead of diverging, training stays there
— λ₁ hovers at or just above 2/η while the loss keeps going down over long times, though
no longer monotonically.

The set-up, small enough to run on a CPU: the 8×8 digits (the first ``--samples``
images, pixels standardised), one-hot targets, the square loss
L = (1/2n) Σᵢ ‖f(xᵢ) − yᵢ‖² (Cohen et al.'s main loss), a tanh MLP 64-32-32-10 in float64
with the same initialisation for every η, and plain full-batch gradient descent
(``optim.SGD``, no momentum). Every ``--every`` steps the sharpness is measured with
:func:`tinygrad_opt.curvature.hessian_eigenvalues` (Lanczos on Hessian-vector products,
warm-started from the previous top eigenvector).

Reported per η: the step at which λ₁ first reaches 2/η, the mean (and range) of
λ₁/(2/η) from then on and over the later half of that stretch (past the first
overshoot), the peak, the share of steps on which the loss went *up* before
and after that point, and the loss at the start, at the crossing and at the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import nn, optim
from tinygrad_opt.curvature import hessian_eigenvalues
from tinygrad_opt.tensor import Tensor


class TanhMLP(nn.Module):
    """x → tanh(x W₁ᵀ + b₁) → tanh(· W₂ᵀ + b₂) → · W₃ᵀ + b₃, with ``nn.Linear``'s
    parameters and initialisation; the affine maps are spelled out as x @ Wᵀ + b."""

    def __init__(self, sizes: list[int], rng: int = 0) -> None:
        gen = np.random.default_rng(rng)
        self.layers = [
            nn.Linear(a, b, rng=gen, dtype=np.float64) for a, b in zip(sizes[:-1], sizes[1:])
        ]
        for i, layer in enumerate(self.layers):
            setattr(self, f"fc{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = x @ layer.weight.T + layer.bias
            if i < len(self.layers) - 1:
                x = x.tanh()
        return x


def square_loss(output: Tensor, target: Any) -> Tensor:
    """(1/2n) Σᵢ ‖outputᵢ − targetᵢ‖²."""
    target = target if isinstance(target, Tensor) else Tensor(target)
    return 0.5 * ((output - target) ** 2).sum(axis=1).mean()


def digits_regression(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``samples`` digits, standardised pixels (float64), one-hot targets."""
    from tinygrad_opt.data import load_digits

    X, y = load_digits(dtype=np.float64)
    X, y = X[:samples], y[:samples]
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    return X, np.eye(10)[y]


def train(
    X: np.ndarray,
    Y: np.ndarray,
    lr: float,
    steps: int,
    every: int,
    hidden: int,
    seed: int,
    tol: float,
) -> dict[str, Any]:
    """Full-batch GD at ``lr``; the loss at every step, the sharpness every ``every``."""
    model = TanhMLP([X.shape[1], hidden, hidden, Y.shape[1]], rng=seed)
    opt = optim.SGD(model.parameters(), lr=lr)
    Xt, Yt = Tensor(X), Tensor(Y)
    losses = np.empty(steps + 1)
    sharp_steps, sharp, matvecs = [], [], 0
    v0 = None
    t0 = time.perf_counter()
    for k in range(steps + 1):
        if k % every == 0 or k == steps:
            r = hessian_eigenvalues(
                model, square_loss, (X, Y), k=1, v0=v0, tol=tol, return_eigenvectors=True
            )
            v0 = r.eigenvectors[:, 0]
            sharp_steps.append(k)
            sharp.append(float(r.eigenvalues[0]))
            matvecs += r.matvecs
        opt.zero_grad()
        loss = square_loss(model(Xt), Yt)
        losses[k] = float(loss.item())
        if not np.isfinite(losses[k]):
            losses[k + 1 :] = np.nan
            break
        if k < steps:
            loss.backward()
            opt.step()
    return {
        "lr": lr,
        "threshold": 2.0 / lr,
        "loss": losses,
        "sharpness_steps": np.array(sharp_steps),
        "sharpness": np.array(sharp),
        "matvecs": matvecs,
        "seconds": time.perf_counter() - t0,
        "parameters": sum(p.numel() for p in model.parameters()),
        "model": model,
    }


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    """The edge-of-stability numbers of one run."""
    s, lam, loss = run["sharpness_steps"], run["sharpness"], run["loss"]
    ratio = lam / run["threshold"]
    crossed = np.flatnonzero(ratio >= 1.0)
    up = np.diff(loss) > 0
    out: dict[str, Any] = {
        "lr": run["lr"],
        "threshold": run["threshold"],
        "initial_sharpness": float(lam[0]),
        "min_sharpness_before": float(lam[: crossed[0] + 1].min()) if crossed.size else None,
        "peak_ratio": float(ratio.max()),
        "loss_start": float(loss[0]),
        "loss_end": float(loss[-1]),
        "diverged": bool(not np.isfinite(loss).all()),
    }
    if not crossed.size:
        out.update(
            crossing_step=None,
            final_ratio=float(ratio[-1]),
            mean_ratio_after=None,
            mean_ratio_hover=None,
            ratio_range_after=None,
            fraction_within_15pct=None,
            loss_up_before=float(up.mean()),
            loss_up_after=None,
            loss_at_crossing=None,
        )
        return out
    c = int(s[crossed[0]])
    after = ratio[crossed[0] :]
    hover = after[len(after) // 2 :]  # the later half: past the first overshoot
    out.update(
        crossing_step=c,
        final_ratio=float(ratio[-1]),
        mean_ratio_after=float(after.mean()),
        mean_ratio_hover=float(hover.mean()),
        ratio_range_after=(float(after.min()), float(after.max())),
        fraction_within_15pct=float(np.mean(np.abs(after - 1) <= 0.15)),
        loss_up_before=float(up[:c].mean()) if c > 0 else None,
        loss_up_after=float(up[c:].mean()),
        loss_at_crossing=float(loss[c]),
    )
    return out


# --------------------------------------------------------------------------- cli
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--lrs", type=float, nargs="+", default=[0.6, 0.4, 0.3], help="step sizes η")
    p.add_argument("--steps", type=int, default=2500, help="gradient steps per η")
    p.add_argument("--every", type=int, default=20, help="measure the sharpness every N steps")
    p.add_argument("--samples", type=int, default=1000, help="digits used (full batch)")
    p.add_argument("--hidden", type=int, default=32, help="width of the two hidden layers")
    p.add_argument("--seed", type=int, default=0, help="initialisation seed (same for every η)")
    p.add_argument("--tol", type=float, default=1e-5, help="Lanczos residual tolerance")
    p.add_argument("--quick", action="store_true", help="256 digits, 400 steps (CI)")
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.samples, args.steps, args.every, args.lrs = 256, 400, 10, [0.6, 0.45, 0.3]
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    X, Y = digits_regression(args.samples)
    runs = [
        train(X, Y, lr, args.steps, args.every, args.hidden, args.seed, args.tol) for lr in args.lrs
    ]
    results = {
        "samples": len(X),
        "parameters": runs[0]["parameters"],
        "steps": args.steps,
        "runs": runs,
        "summary": [summarize(r) for r in runs],
    }
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, tuple):
        return "–".join(_fmt(x, digits) for x in v)
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Edge of stability — tanh MLP ({results['parameters']} parameters), "
        f"{results['samples']} digits, square loss, full-batch GD, {results['steps']} steps",
        "| η | 2/η | λ₁ at start | first step λ₁ ≥ 2/η | mean λ₁/(2/η) after | later half | "
        "range after | within ±15 % | peak | loss ↑ steps before / after | loss start → at "
        "crossing → end | seconds (Lanczos matvecs) |",
        "|" + "---|" * 12,
    ]
    for s, r in zip(results["summary"], results["runs"]):
        up = f"{_fmt(s['loss_up_before'], 2)} / {_fmt(s['loss_up_after'], 2)}"
        loss = f"{s['loss_start']:.3g} → {_fmt(s['loss_at_crossing'])} → {s['loss_end']:.3g}"
        lines.append(
            f"| {s['lr']:g} | {s['threshold']:.3g} | {s['initial_sharpness']:.3g} | "
            f"{_fmt(s['crossing_step'])} | {_fmt(s['mean_ratio_after'], 4)} | "
            f"{_fmt(s['mean_ratio_hover'], 4)} | "
            f"{_fmt(s['ratio_range_after'])} | {_fmt(s['fraction_within_15pct'], 2)} | "
            f"{s['peak_ratio']:.3g} | {up} | {loss} | {r['seconds']:.1f} ({r['matvecs']}) |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 8.5), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (r, s) in enumerate(zip(results["runs"], results["summary"])):
        c = colors[i % len(colors)]
        ax.plot(r["sharpness_steps"], r["sharpness"], color=c, lw=1.2, label=f"η = {r['lr']:g}")
        ax.axhline(r["threshold"], color=c, ls="--", lw=0.9)
        ax.text(
            len(r["loss"]) - 1,
            r["threshold"],
            f"2/η = {r['threshold']:.3g}",
            color=c,
            ha="right",
            va="bottom",
            fontsize=8,
        )
        if s["crossing_step"] is not None:
            ax.axvline(s["crossing_step"], color=c, ls=":", lw=0.7)
            ax2.axvline(s["crossing_step"], color=c, ls=":", lw=0.7)
        ax2.semilogy(r["loss"], color=c, lw=0.9, label=f"η = {r['lr']:g}")
    ax.set(ylabel="sharpness λ₁(∇²L) (Lanczos)")
    ax.set_title(
        "Full-batch GD: the sharpness rises to 2/η (dashed) and hovers there "
        "(dotted: first crossing)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    ax2.set(xlabel="step", ylabel="training loss (square)")
    ax2.set_title("the loss keeps falling, no longer monotonically", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "edge_of_stability.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
