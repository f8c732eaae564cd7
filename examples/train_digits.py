"""Train an MLP and a small CNN on the real 8x8 handwritten digits, end to end.

    python examples/train_digits.py            # writes out/digits_*.png, about 3 s
    python examples/train_digits.py --help

The data are the 1,797 8x8 grey-scale digits (UCI optdigits) bundled with scikit-learn,
loaded by ``tinygrad_opt.data.load_digits`` (nothing is downloaded). One fixed split
(seed 0, independent of ``--seed``): 1,347 training and 450 test images.

Two models, trained two ways so that both styles are visible:

* **MLP** 64 -> 128 -> 10 (ReLU), about 9.7k parameters, trained with the **plain loop**
  written out below: ``zero_grad``, forward, loss, ``backward``, ``step``, plus a cosine
  learning-rate schedule stepped once per epoch. Target: >= 95% test accuracy.
* **CNN** Conv2d(1->8, 3x3, pad 1) -> ReLU -> MaxPool2d(2) -> Conv2d(8->16, 3x3, pad 1)
  -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(64 -> 10), about 1.9k parameters, trained
  with ``tinygrad_opt.train.fit`` (tqdm bar, per-epoch evaluation, ``History``).
  Target: >= 97% test accuracy.

Both use Adam (lr 3e-3 for the MLP, 1e-2 for the CNN), mini-batches of 32 and cosine
annealing over the run. With the defaults (20 epochs, seed 0) the MLP reaches 98.7% and
the CNN 99.1% test accuracy (seeds 0-4: MLP 97.6-98.7%, CNN 98.2-99.1%); training takes
about 0.2 s for the MLP and 1.2 s for the CNN on two cores, about 3 s in all with the
figures.

Figures (``--out``, default ``out/``):

* ``digits_training_curves.png``: train and test loss, and test accuracy, per epoch;
* ``digits_misclassified.png``: every misclassified test digit (up to 24 per model),
  with true and predicted labels, and each model's confusion matrix.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import Tensor, nn, no_grad, optim
from tinygrad_opt.data import DataLoader, load_digits, train_test_split
from tinygrad_opt.optim.lr_scheduler import CosineAnnealingLR
from tinygrad_opt.train import History, evaluate, fit

SPLIT_SEED = 0  # the train/test split never changes with --seed
TEST_SIZE = 0.25
TARGETS = {"mlp": 0.95, "cnn": 0.97}
MAX_SHOWN = 24  # misclassified digits drawn per model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=20, help="epochs for each model")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--mlp-lr", type=float, default=3e-3, help="Adam learning rate, MLP")
    p.add_argument("--cnn-lr", type=float, default=1e-2, help="Adam learning rate, CNN")
    p.add_argument("--hidden", type=int, default=128, help="width of the MLP's hidden layer")
    p.add_argument(
        "--models",
        default="mlp,cnn",
        help="comma-separated subset of mlp,cnn to train (default: both)",
    )
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNGs")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figures")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar for fit()")
    p.add_argument("--quiet", action="store_true", help="print nothing (implies --no-progress)")
    args = p.parse_args(argv)
    args.models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(TARGETS))
    if unknown or not args.models:
        p.error(f"--models: choose from mlp,cnn, got {unknown or 'nothing'}")
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    return args


# --------------------------------------------------------------------------- models
def make_mlp(hidden: int, seed: int) -> nn.Module:
    """64 pixels -> hidden (ReLU) -> 10 logits."""
    return nn.MLP([64, hidden, 10], activation="relu", rng=seed)


def make_cnn(seed: int) -> nn.Module:
    """(N, 1, 8, 8) -> conv/pool twice (8x8 -> 4x4 -> 2x2) -> 10 logits."""
    rng = np.random.default_rng(seed)  # one generator feeds every layer in order
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, rng=rng),  # (N, 8, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 8, 4, 4)
        nn.Conv2d(8, 16, kernel_size=3, padding=1, rng=rng),  # (N, 16, 4, 4)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 16, 2, 2)
        nn.Flatten(),  # (N, 64)
        nn.Linear(16 * 2 * 2, 10, rng=rng),
    )


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Predicted class of every row, in eval mode and without building a graph."""
    model.eval()
    with no_grad():
        logits = model(Tensor(X)).data
    model.train()
    return logits.argmax(axis=1)


# --------------------------------------------------------------------------- training
def train_plain_loop(
    model: nn.Module,
    data: dict[str, np.ndarray],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    log: Any = print,
) -> History:
    """The loop written out: Adam, a cosine schedule, and a test evaluation per epoch."""
    optimizer = optim.create("adam", model.parameters(), lr=lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    loader = DataLoader((data["X_train"], data["y_train"]), batch_size, shuffle=True, rng=seed)
    history = History()
    model.train()
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        total, correct = 0.0, 0
        for X, y in loader:
            logits = model(Tensor(X))  # 1. forward
            loss = nn.cross_entropy(logits, y)  # 2. loss
            optimizer.zero_grad()  # 3. clear the last step's gradients
            loss.backward()  # 4. backward: fills p.grad for every parameter
            optimizer.step()  # 5. Adam step
            total += loss.item() * len(y)
            correct += int((logits.data.argmax(axis=1) == y).sum())
        history.lr.append(optimizer.param_groups[0]["lr"])
        scheduler.step()  # once per epoch
        history.train_loss.append(total / len(data["y_train"]))
        history.train_metric.append(correct / len(data["y_train"]))
        scores = evaluate(model, data["X_test"], data["y_test"], nn.cross_entropy)
        history.val_loss.append(scores["loss"])
        history.val_metric.append(scores["accuracy"])
        history.seconds.append(time.perf_counter() - t0)
        if epoch == 1 or epoch % max(epochs // 4, 1) == 0 or epoch == epochs:
            log(
                f"  epoch {epoch:3d}  train loss {history.train_loss[-1]:.4f}  "
                f"test loss {scores['loss']:.4f}  test acc {scores['accuracy']:.1%}"
            )
    return history


def train_with_fit(
    model: nn.Module,
    data: dict[str, np.ndarray],
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
) -> History:
    """The same loop, run by ``fit``: tqdm bar, test evaluation and scheduler per epoch."""
    optimizer = optim.create("adam", model.parameters(), lr=lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    loader = DataLoader((data["X_train"], data["y_train"]), batch_size, shuffle=True, rng=seed)
    return fit(
        model,
        optimizer,
        loader,
        nn.cross_entropy,
        epochs,
        val_data=(data["X_test"], data["y_test"]),
        scheduler=scheduler,
        progress=progress,
    )


# --------------------------------------------------------------------------- figures
def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def plot_curves(runs: dict[str, dict[str, Any]], path: Path) -> Path:
    """Loss (train solid, test dashed, log scale) and test accuracy per epoch."""
    fig = _figure((10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    colors = {"mlp": "tab:blue", "cnn": "tab:orange"}
    for name, run in runs.items():
        h: History = run["history"]
        epochs = np.arange(1, len(h.train_loss) + 1)
        c, label = colors[name], name.upper()
        ax_loss.plot(epochs, h.train_loss, color=c, label=f"{label} train")
        ax_loss.plot(epochs, h.val_loss, color=c, ls="--", label=f"{label} test")
        ax_acc.plot(epochs, h.val_metric, color=c, marker=".", label=f"{label} test")
        ax_acc.axhline(TARGETS[name], color=c, ls=":", lw=1, label=f"{label} target")
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy")
    ax_acc.set_ylim(0.85, 1.0)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("8x8 digits: " + ", ".join(_headline(n, r) for n, r in runs.items()))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def plot_errors(runs: dict[str, dict[str, Any]], data: dict[str, np.ndarray], path: Path) -> Path:
    """One row per model: its confusion matrix, then its misclassified test digits."""
    images, y = data["X_test"].reshape(-1, 8, 8), data["y_test"]
    rows, cols = 3, MAX_SHOWN // 3
    fig = _figure((13, 3.6 * len(runs)))
    for sub, (name, run) in zip(np.atleast_1d(fig.subfigures(len(runs), 1)), runs.items()):
        wrong, pred = run["wrong"], run["pred"]
        more = "" if len(wrong) <= MAX_SHOWN else f"; the first {MAX_SHOWN} shown"
        sub.suptitle(
            f"{name.upper()}: {len(wrong)} of {len(y)} test digits misclassified "
            f"(true -> predicted{more})",
            fontsize=11,
        )
        left, right = sub.subfigures(1, 2, width_ratios=[1, 2.6])
        ax = left.subplots()
        ax.imshow(run["confusion"], cmap="Blues")
        for (i, j), v in np.ndenumerate(run["confusion"]):
            if v:
                color = "white" if i == j else "tab:red"
                ax.text(j, i, str(v), ha="center", va="center", fontsize=6, color=color)
        ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10))
        ax.tick_params(labelsize=7)
        left.subplots_adjust(left=0.2, right=0.95, bottom=0.2, top=0.85)
        for k, a in enumerate(right.subplots(rows, cols).flat):
            a.set_axis_off()
            if k < min(len(wrong), MAX_SHOWN):
                i = wrong[k]
                a.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
                a.set_title(f"{y[i]} -> {pred[i]}", fontsize=9, color="tab:red")
        right.subplots_adjust(left=0.02, right=0.98, bottom=0.05, top=0.85, hspace=0.45)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def _headline(name: str, run: dict[str, Any]) -> str:
    return f"{name.upper()} {run['test_accuracy']:.1%}"


def confusion_matrix(y: np.ndarray, pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    return counts


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train the requested models; returns accuracies, histories, plot paths, timings."""
    args = parse_args(argv)
    log = (lambda *a, **k: None) if args.quiet else print
    t_start = time.perf_counter()

    X_flat, y = load_digits(flatten=True)  # (1797, 64) float32 in [0, 1]
    Xtr, Xte, ytr, yte = train_test_split(X_flat, y, test_size=TEST_SIZE, rng=SPLIT_SEED)
    flat = {"X_train": Xtr, "X_test": Xte, "y_train": ytr, "y_test": yte}
    # the CNN sees the same images as (N, C=1, H=8, W=8); same rows, same split
    image = {**flat, "X_train": Xtr.reshape(-1, 1, 8, 8), "X_test": Xte.reshape(-1, 1, 8, 8)}
    log(f"8x8 digits: {len(ytr)} train / {len(yte)} test images (split seed {SPLIT_SEED})")
    log(f"seed {args.seed}, batch {args.batch_size}, {args.epochs} epochs, Adam + cosine")

    runs: dict[str, dict[str, Any]] = {}
    if "mlp" in args.models:
        model = make_mlp(args.hidden, args.seed)
        log(f"\nMLP, plain loop: {model}  ({model.num_parameters():,} parameters)")
        t0 = time.perf_counter()
        history = train_plain_loop(
            model, flat, args.epochs, args.batch_size, args.mlp_lr, args.seed, log
        )
        runs["mlp"] = {"model": model, "history": history, "seconds": time.perf_counter() - t0}
    if "cnn" in args.models:
        model = make_cnn(args.seed)
        log(f"\nCNN, fit(): {model}  ({model.num_parameters():,} parameters)")
        t0 = time.perf_counter()
        progress = not (args.quiet or args.no_progress)
        history = train_with_fit(
            model, image, args.epochs, args.batch_size, args.cnn_lr, args.seed, progress
        )
        runs["cnn"] = {"model": model, "history": history, "seconds": time.perf_counter() - t0}
        for e in sorted({1, max(args.epochs // 4, 1), args.epochs // 2, args.epochs} - {0}):
            log(
                f"  epoch {e:3d}  train loss {history.train_loss[e - 1]:.4f}  "
                f"test loss {history.val_loss[e - 1]:.4f}  "
                f"test acc {history.val_metric[e - 1]:.1%}"
            )

    for name, run in runs.items():
        data = flat if name == "mlp" else image
        pred = predict(run["model"], data["X_test"])
        run["pred"] = pred
        run["wrong"] = np.flatnonzero(pred != yte)
        run["confusion"] = confusion_matrix(yte, pred)
        run["test_accuracy"] = float((pred == yte).mean())
        run["train_accuracy"] = float((predict(run["model"], data["X_train"]) == ytr).mean())

    result: dict[str, Any] = {"plots": {}}
    log("\nsummary")
    header = ("model", "params", "train acc", "test acc", "target", "time")
    log("  {:5s} {:>7s} {:>9s} {:>8s} {:>6s} {:>6s}".format(*header))
    for name, run in runs.items():
        ok = "ok" if run["test_accuracy"] >= TARGETS[name] else "MISSED"
        log(
            f"  {name.upper():5s} {run['model'].num_parameters():7,d} "
            f"{run['train_accuracy']:9.1%} {run['test_accuracy']:8.1%} "
            f"{TARGETS[name]:6.0%} {run['seconds']:5.2f}s  {ok}"
        )
        result[name] = {
            "test_accuracy": run["test_accuracy"],
            "train_accuracy": run["train_accuracy"],
            "target": TARGETS[name],
            "parameters": run["model"].num_parameters(),
            "misclassified": int(len(run["wrong"])),
            "seconds": run["seconds"],
            "history": run["history"].to_dict(),
        }
    result["train_seconds"] = time.perf_counter() - t_start

    if not args.no_plot:
        curves = plot_curves(runs, args.out / "digits_training_curves.png")
        errors = plot_errors(runs, flat, args.out / "digits_misclassified.png")
        result["plots"] = {"curves": curves, "misclassified": errors}
        log(f"figures: {curves}, {errors}")
    result["seconds"] = time.perf_counter() - t_start
    log(f"total runtime {result['seconds']:.2f} s (data, training, evaluation, figures)")
    return result


if __name__ == "__main__":
    main()
