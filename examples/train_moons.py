"""Train a small MLP on the two-moons dataset with plain SGD, then plot its decision boundary.

    python examples/train_moons.py              # writes out/moons_decision_boundary.png
    python examples/train_moons.py --help

Everything is written out: the data are generated (no download), the model is
``nn.MLP([2, 32, 32, 2])``, the loss is ``nn.cross_entropy`` and each SGD step is the
one-line update ``p.data -= lr * p.grad`` (the optimizers come later). With the default
seed the test accuracy is above 97%, and the run takes about a second.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import Tensor, nn, no_grad
from tinygrad_opt.data import make_moons, train_test_split


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=1000, help="points in the dataset")
    p.add_argument("--noise", type=float, default=0.15, help="std of the Gaussian noise")
    p.add_argument("--hidden", type=int, default=32, help="width of the two hidden layers")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the plot")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    return p.parse_args(argv)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose largest logit is the true class."""
    with no_grad():
        logits = model(Tensor(X)).data
    return float((logits.argmax(axis=1) == y).mean())


def train(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    log: Any = print,
) -> list[float]:
    """Mini-batch SGD on the cross-entropy; returns the mean loss of each epoch."""
    history = []
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y))
        total = 0.0
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            model.zero_grad()  # 1. clear the gradients of the last step
            logits = model(Tensor(X[idx]))  # 2. forward
            loss = nn.cross_entropy(logits, y[idx])  # 3. loss
            loss.backward()  # 4. backward: fills p.grad
            for p in model.parameters():  # 5. SGD step
                p.data -= lr * p.grad
            total += loss.item() * len(idx)
        history.append(total / len(y))
        if epoch == 1 or epoch % max(epochs // 5, 1) == 0:
            log(
                f"  epoch {epoch:4d}  loss {history[-1]:.4f}  train acc {accuracy(model, X, y):.3f}"
            )
    return history


def plot_decision_boundary(
    model: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    path: Path,
    title: str,
) -> Path:
    """Save a PNG of P(class 1) over the plane, the 0.5 contour and the points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    X_all = np.concatenate([X_train, X_test])
    lo, hi = X_all.min(axis=0) - 0.5, X_all.max(axis=0) + 0.5
    xs, ys = np.linspace(lo[0], hi[0], 250), np.linspace(lo[1], hi[1], 250)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    with no_grad():
        prob = model(Tensor(grid)).softmax(axis=1).data[:, 1].reshape(gx.shape)

    fig = Figure(figsize=(6, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    filled = ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, prob, levels=[0.5], colors="k", linewidths=1.5)
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    kw = dict(cmap="RdBu_r", vmin=0, vmax=1, edgecolors="k", linewidths=0.4)
    ax.scatter(X_train[:, 0], X_train[:, 1], c=y_train, s=10, alpha=0.35, **kw)
    ax.scatter(X_test[:, 0], X_test[:, 1], c=y_test, s=18, marker="s", **kw)
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the example; returns test/train accuracy, final loss, plot path and run time."""
    args = parse_args(argv)
    log = (lambda *a: None) if args.quiet else print
    t0 = time.perf_counter()

    X, y = make_moons(args.samples, noise=args.noise, rng=args.seed)  # float32
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, rng=args.seed)
    model = nn.MLP([2, args.hidden, args.hidden, 2], activation="relu", rng=args.seed)
    log(f"two moons: {len(y_train)} train / {len(y_test)} test points, noise {args.noise}")
    log(model)
    log(f"SGD: lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs")

    history = train(
        model,
        X_train,
        y_train,
        args.epochs,
        args.batch_size,
        args.lr,
        np.random.default_rng(args.seed),
        log,
    )
    result: dict[str, Any] = {
        "test_accuracy": accuracy(model, X_test, y_test),
        "train_accuracy": accuracy(model, X_train, y_train),
        "final_loss": history[-1],
        "loss_history": history,
        "plot": None,
    }
    train_seconds = time.perf_counter() - t0
    log(
        f"test accuracy {result['test_accuracy']:.1%} "
        f"(train {result['train_accuracy']:.1%}) after {train_seconds:.2f} s"
    )
    if not args.no_plot:
        title = f"MLP on two moons: test accuracy {result['test_accuracy']:.1%}"
        path = args.out / "moons_decision_boundary.png"
        result["plot"] = plot_decision_boundary(
            model, X_train, y_train, X_test, y_test, path, title
        )
        log(f"decision boundary saved to {result['plot']}")
    result["seconds"] = time.perf_counter() - t0
    return result


if __name__ == "__main__":
    main()
