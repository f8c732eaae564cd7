"""Train the same digits MLP from the same seed with every optimizer, and compare them.

    python examples/compare_optimizers.py                     # all 29 methods, 10-15 s
    python examples/compare_optimizers.py --optimizers sgd,momentum,adam --epochs 5
    python examples/compare_optimizers.py --tune              # re-derive the lr table

The task: the 8x8 digits (``tinygrad_opt.data.load_digits``), the same fixed split as
``examples/train_digits.py`` (seed 0: 1,347 train / 450 test images), an MLP
64 -> 128 -> 10 (ReLU), cross-entropy, mini-batches of 32 in the same shuffled order,
15 epochs at a constant learning rate (no schedule, no weight decay, every other
hyperparameter at the method's default). Every run starts from the same initial weights.

**Learning rates: one rule for every method, no hand-picking.** Each method gets the
value of the grid ``GRID`` (1e-4 ... 3 in half-decade steps) with the lowest *validation*
loss after the same 15 epochs, averaged over two seeds (``TUNE_SEEDS``). Validation is a
fixed 20% of the *training* images, held out from runs on the other 80%: the test set is
never looked at. The table ``LEARNING_RATES`` is the output of ``--tune`` (about two
minutes on two cores), committed so that a normal run is quick. A method missing from
the table (registered after it was made) falls back to its default ``lr`` and is
flagged in the output. The grid is coarse (a factor of ~3) and the validation set small
(270 images), so near-ties are decided by noise: read differences of less than a grid
step between methods as ties.

**Nothing is skipped.** Two methods are built for full-batch gradients and run that way,
with as many updates per epoch as the mini-batch methods (43), each on the whole
training set (43 times the data per epoch, so their wall time is not comparable):

* **L-BFGS** takes a closure: one ``step(closure)`` per epoch with ``max_iter`` = 43
  and the strong-Wolfe line search (torch's recommended setting; the search picks the
  step, ``lr`` is only its first trial, tuned on the grid like every other lr);
* **Rprop** (``FULL_BATCH``) uses only gradient signs, which mini-batch noise scrambles.

Both drive the training loss to ~1e-6 or below and overfit (Rprop's step sizes grow to
its default maximum of 50, giving huge, over-confident weights), which is why their
validation losses barely depend on lr. SAM and Sophia-H also take a closure, but per
mini-batch (SAM evaluates each batch's gradient at two points, Sophia-H differentiates
it twice for its Hessian-vector products), so their step time includes those passes.

**Matrix-only methods.** Muon steps 2-D weights only; as its authors recommend, it gets
the hidden layer's weight matrix and AdamW (at the same lr, default hyperparameters
otherwise) the biases and the output layer (``optim.split_muon_params``). Its row is
that pair (class ``Muon+AdamW``).

**Look-ahead methods.** ``textbook_nesterov`` and ``textbook_rmsprop_nesterov`` keep the
look-ahead point θ + αv in the parameters between steps; they are evaluated at θ itself
(``opt.at_theta()``), as their docs say.

Reported per method: the full training-set loss after every epoch (epoch 0 = the shared
start), the final training loss and test accuracy, the wall time of the training loop
(forward, backward and step; evaluation excluded), the mean time of one ``opt.step()``
(for L-BFGS it includes the closure's forward and backward passes), and the optimizer's
state memory ``opt.state_bytes()``, in bytes and as a multiple of the parameters' bytes
(SGD 0, momentum 1, Adam 2, AMSGrad 3, Adafactor 0.05 (factored), L-BFGS ~130: its
history of up to 100 (s, y) pairs). With seed 0 every mini-batch method reaches 95.6-99.6%
test accuracy.

Figure (``--out``): ``optimizers_loss.png``, log-scale training loss per epoch, one panel
for the mini-batch methods and one for the full-batch ones.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import Tensor, nn, no_grad, optim
from tinygrad_opt.data import DataLoader, load_digits, train_test_split

SPLIT_SEED = 0  # the same train/test split as examples/train_digits.py
VALID_SEED = 1  # which 20% of the training images --tune holds out
SIZES = (64, 128, 10)
EPOCHS = 15
BATCH_SIZE = 32

#: Methods designed for full-batch gradients that take no closure: trained with as many
#: steps per epoch as the mini-batch methods, each on the whole training set. Rprop uses
#: only gradient signs and adapts its step sizes to sign agreement between consecutive
#: steps, which mini-batch noise destroys (its docstring: "suits full-batch training").
FULL_BATCH = frozenset({"rprop"})

#: Seeds (initialisation and shuffling) whose validation losses --tune averages.
TUNE_SEEDS = (0, 1)

#: The lr grid every method is tuned on (half-decade steps).
GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0)

#: Learning rates: for each method, the GRID value with the lowest validation loss after
#: EPOCHS epochs, averaged over TUNE_SEEDS (the output of ``--tune`` with the defaults).
#: Regenerate after changing the network, the data, EPOCHS, BATCH_SIZE or any defaults.
LEARNING_RATES: dict[str, float] = {
    "adabelief": 0.003,
    "adadelta": 1.0,
    "adafactor": 0.1,
    "adagrad": 0.1,
    "adam": 0.003,
    "adamax": 0.01,
    "adamw": 0.003,
    "adan": 0.003,
    "ademamix": 0.003,
    "adopt": 0.001,
    "amsgrad": 0.003,
    "asgd": 1.0,
    "lamb": 0.003,
    "lars": 1.0,
    "lbfgs": 0.0001,
    "lion": 0.0003,
    "lookahead": 1.0,
    "momentum": 0.03,
    "muon": 0.01,
    "muon_optax": 0.01,
    "nadam": 0.003,
    "nadamw": 0.003,
    "nesterov": 0.3,
    "radam": 0.01,
    "radamw": 0.01,
    "rmsprop": 0.003,
    "rmsprop_centered": 0.003,
    "rprop": 0.003,
    "sam": 0.3,
    "sgd": 1.0,
    "textbook_adagrad": 0.1,
    "textbook_adam": 0.003,
    "textbook_momentum": 0.03,
    "textbook_nesterov": 0.03,
    "textbook_rmsprop": 0.003,
    "textbook_rmsprop_nesterov": 0.0003,
    "textbook_sgd": 1.0,
    "yogi": 0.003,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--optimizers",
        default="all",
        help="comma-separated names from optim.available(), or 'all' (default)",
    )
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--seed", type=int, default=0, help="initialisation and shuffling seed")
    p.add_argument(
        "--tune",
        action="store_true",
        help="run the lr grid on a train/validation split and print the lr table",
    )
    p.add_argument("--out", type=Path, default=Path("out"), help="directory for the PNG")
    p.add_argument("--no-plot", action="store_true", help="skip the matplotlib figure")
    p.add_argument("--quiet", action="store_true", help="print nothing")
    args = p.parse_args(argv)
    names = optim.available()
    if args.optimizers.strip().lower() == "all":
        args.optimizers = names
    else:
        chosen = [n.strip().lower().replace("-", "_") for n in args.optimizers.split(",")]
        chosen = [n for n in chosen if n]
        unknown = [n for n in chosen if n not in names]
        if unknown or not chosen:
            p.error(f"--optimizers: unknown {unknown or 'nothing'}; choose from {names}")
        args.optimizers = list(dict.fromkeys(chosen))  # keep order, drop repeats
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    return args


# --------------------------------------------------------------------------- one run
@functools.cache
def _probe(name: str) -> optim.Optimizer:
    """An instance on a dummy parameter: its class, defaults and flags, via public API."""
    return optim.create(name, [Tensor(np.zeros((1, 1), np.float32), requires_grad=True)])


def needs_closure(name: str) -> bool:
    """Closure-only methods (L-BFGS) say so with ``needs_closure = True``."""
    return bool(getattr(_probe(name), "needs_closure", False))


def is_lbfgs(name: str) -> bool:
    """L-BFGS: one ``step(closure)`` per epoch on the full batch. Other closure methods
    (SAM, Sophia-H) take a closure per mini-batch."""
    return isinstance(_probe(name), optim.LBFGS)


def is_full_batch(name: str) -> bool:
    """Full-batch methods: L-BFGS and those in FULL_BATCH (Rprop)."""
    return name in FULL_BATCH or is_lbfgs(name)


def default_lr(name: str) -> float:
    """The default lr (class default or registered preset), used if a method is not tuned."""
    return float(_probe(name).defaults["lr"])


class MatricesWithAdamW:
    """A matrix-only method (Muon) on the hidden weight matrices, AdamW on the rest."""

    def __init__(self, name: str, model: nn.Module, lr: float) -> None:
        named = list(model.named_parameters())
        output_layer = [n for n, p in named if p.ndim == 2][-1].rsplit(".", 1)[0]
        hidden, other = optim.split_muon_params(named, exclude=[output_layer])
        self.parts = [optim.create(name, hidden, lr=lr), optim.AdamW(other, lr=lr)]
        self.name = f"{type(self.parts[0]).__name__}+AdamW"

    def zero_grad(self) -> None:
        for opt in self.parts:
            opt.zero_grad()

    def step(self) -> None:
        for opt in self.parts:
            opt.step()

    def state_bytes(self) -> int:
        return sum(opt.state_bytes() for opt in self.parts)


def is_matrix_only(name: str) -> bool:
    return bool(getattr(_probe(name), "matrix_only", False))


def make_optimizer(
    name: str, model: nn.Module, lr: float, batches: int
) -> optim.Optimizer | MatricesWithAdamW:
    params = model.parameters()
    if is_matrix_only(name):
        return MatricesWithAdamW(name, model, lr)
    if is_lbfgs(name):  # full batch, one step(closure) per epoch
        return optim.create(name, params, lr=lr, max_iter=batches, line_search_fn="strong_wolfe")
    return optim.create(name, params, lr=lr)


def at_theta(opt: optim.Optimizer) -> Any:
    """Evaluate look-ahead methods at θ, everything else as it is."""
    return opt.at_theta() if hasattr(opt, "at_theta") else contextlib.nullcontext()


def full_loss(model: nn.Module, opt: optim.Optimizer, X: np.ndarray, y: np.ndarray) -> float:
    with no_grad(), at_theta(opt):
        return nn.cross_entropy(model(Tensor(X)), y).item()


def accuracy_of(model: nn.Module, opt: optim.Optimizer, X: np.ndarray, y: np.ndarray) -> float:
    with no_grad(), at_theta(opt):
        return float((model(Tensor(X)).data.argmax(axis=1) == y).mean())


def batch_closure(model: nn.Module, opt: optim.Optimizer, X: np.ndarray, y: np.ndarray) -> Any:
    """The mini-batch loss and its gradient, for methods that step with a closure (SAM,
    Sophia-H)."""

    def closure() -> Tensor:
        opt.zero_grad()
        loss = nn.cross_entropy(model(Tensor(X)), y)
        loss.backward()
        return loss

    return closure


def train_one(
    name: str,
    lr: float,
    X_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int,
    batch_size: int,
    seed: int,
) -> tuple[nn.Module, optim.Optimizer, dict[str, Any]]:
    """Train a fresh MLP (same seed, same batches) with ``name``; losses and timings."""
    model = nn.MLP(list(SIZES), activation="relu", rng=seed)
    loader = DataLoader((X_train, y_train), batch_size, shuffle=True, rng=seed)
    opt = make_optimizer(name, model, lr, len(loader))
    losses = [full_loss(model, opt, X_train, y_train)]  # epoch 0: the shared start
    train_seconds, step_seconds, steps = 0.0, 0.0, 0
    X_all = Tensor(X_train)

    def closure() -> Tensor:  # L-BFGS re-evaluates the full-batch loss through this
        opt.zero_grad()
        loss = nn.cross_entropy(model(X_all), y_train)
        loss.backward()
        return loss

    full_batch = is_full_batch(name)
    for _ in range(epochs):
        t0 = time.perf_counter()
        if is_lbfgs(name):  # up to len(loader) iterations in one step
            opt.step(closure)
            steps += 1
            step_seconds += time.perf_counter() - t0
        elif full_batch:  # Rprop: len(loader) steps, each on the whole training set
            for _ in range(len(loader)):
                closure()
                t1 = time.perf_counter()
                opt.step()
                step_seconds += time.perf_counter() - t1
                steps += 1
        else:  # the plain mini-batch loop
            for X, y in loader:
                if needs_closure(name):  # SAM, Sophia-H: a closure per mini-batch
                    t1 = time.perf_counter()
                    opt.step(batch_closure(model, opt, X, y))
                else:
                    loss = nn.cross_entropy(model(Tensor(X)), y)
                    opt.zero_grad()
                    loss.backward()
                    t1 = time.perf_counter()
                    opt.step()
                step_seconds += time.perf_counter() - t1
                steps += 1
        train_seconds += time.perf_counter() - t0
        losses.append(full_loss(model, opt, X_train, y_train))
        if not math.isfinite(losses[-1]):
            losses.extend([math.nan] * (epochs + 1 - len(losses)))
            break
    timing = {"seconds": train_seconds, "step_ms": 1e3 * step_seconds / max(steps, 1)}
    return model, opt, {"losses": losses, **timing}


def run(name: str, lr: float, data: dict[str, np.ndarray], args: argparse.Namespace) -> dict:
    """One row of the table."""
    model, opt, out = train_one(
        name, lr, data["X_train"], data["y_train"], args.epochs, args.batch_size, args.seed
    )
    param_bytes = sum(p.data.nbytes for p in model.parameters())
    state_bytes = opt.state_bytes()
    return {
        "optimizer": name,
        "class": getattr(opt, "name", type(opt).__name__),
        "lr": lr,
        "lr_source": "tuned" if name in LEARNING_RATES else "class default (not in table)",
        "batch": "full" if is_full_batch(name) else args.batch_size,
        "final_train_loss": out["losses"][-1],
        "test_accuracy": accuracy_of(model, opt, data["X_test"], data["y_test"]),
        "seconds": out["seconds"],
        "step_ms": out["step_ms"],
        "state_bytes": state_bytes,
        "param_bytes": param_bytes,
        "state_ratio": state_bytes / param_bytes,
        "losses": out["losses"],
    }


# --------------------------------------------------------------------------- tuning
def tune(names: list[str], data: dict[str, np.ndarray], args: argparse.Namespace, log) -> dict:
    """Grid search on a held-out 20% of the training images; returns {name: best lr}."""
    X_fit, X_val, y_fit, y_val = train_test_split(
        data["X_train"], data["y_train"], test_size=0.2, rng=VALID_SEED
    )
    log(
        f"tuning on {len(y_fit)} images, validating on {len(y_val)} (test set unused); "
        f"mean validation loss over seeds {TUNE_SEEDS}"
    )
    log(f"{'optimizer':27s} " + " ".join(f"{lr:>7g}" for lr in GRID) + "   best")
    best: dict[str, float] = {}
    for name in names:
        scores = []
        for lr in GRID:
            vals = []
            for seed in TUNE_SEEDS:
                model, opt, _ = train_one(
                    name, lr, X_fit, y_fit, args.epochs, args.batch_size, seed
                )
                vals.append(full_loss(model, opt, X_val, y_val))
            mean = float(np.mean(vals))
            scores.append(mean if math.isfinite(mean) else math.inf)
        best[name] = GRID[int(np.argmin(scores))]
        log(f"{name:27s} " + " ".join(f"{s:7.4f}" for s in scores) + f"   {best[name]:g}")
    log("\nLEARNING_RATES = {")
    for name, lr in best.items():
        log(f'    "{name}": {lr:g},')
    log("}")
    return best


# --------------------------------------------------------------------------- output
def print_table(rows: list[dict[str, Any]], log) -> None:
    log(
        f"\n{'optimizer':26s} {'batch':>5s} {'lr':>7s} {'train loss':>10s} {'test acc':>8s} "
        f"{'time s':>6s} {'step ms':>7s} {'state bytes':>11s} {'x params':>8s}"
    )
    for r in sorted(rows, key=lambda r: _sort_key(r["final_train_loss"])):
        flag = "" if r["lr_source"] == "tuned" else "  (lr: class default, not tuned)"
        log(
            f"{r['optimizer']:26s} {r['batch']!s:>5s} {r['lr']:7g} {r['final_train_loss']:10.2e} "
            f"{r['test_accuracy']:8.1%} {r['seconds']:6.2f} {r['step_ms']:7.3f} "
            f"{r['state_bytes']:11,d} {r['state_ratio']:8.2f}{flag}"
        )


def _sort_key(loss: float) -> float:
    return loss if math.isfinite(loss) else math.inf


def plot_losses(rows: list[dict[str, Any]], path: Path, epochs: int) -> Path:
    """Training-loss curves on a log scale: mini-batch methods, then full-batch ones.

    One figure, two panels (the full-batch methods reach losses orders of magnitude
    lower, which would squash the mini-batch curves); each legend is sorted by final loss.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ordered = sorted(rows, key=lambda r: _sort_key(r["final_train_loss"]))
    panels = [
        ([r for r in ordered if r["batch"] != "full"], f"mini-batch methods (batch {BATCH_SIZE})"),
        ([r for r in ordered if r["batch"] == "full"], "full-batch methods (same steps/epoch)"),
    ]
    panels = [(rs, title) for rs, title in panels if rs]
    fig = Figure(figsize=(14, 8.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), width_ratios=[3, 1.2][: len(panels)], squeeze=False)[0]
    colors = colormaps["tab20"].colors + colormaps["tab20b"].colors
    styles = ["-", "--", "-.", ":"]
    for ax, (panel_rows, title) in zip(axes, panels):
        for k, r in enumerate(panel_rows):
            ax.plot(
                np.arange(len(r["losses"])),
                r["losses"],
                color=colors[k % len(colors)],
                ls=styles[(k // 10) % len(styles)],
                lw=1.6,
                label=f"{r['optimizer']} (lr {r['lr']:g}): {r['final_train_loss']:.1e}",
            )
        ax.set_yscale("log")
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3, which="both")
        ncol = 3 if len(panel_rows) > 10 else 1
        ax.legend(
            fontsize=7.5,
            ncol=ncol,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.09),
            title="optimizer (lr): final training loss",
            title_fontsize=8,
        )
    axes[0].set_ylabel("training loss (full training set, cross-entropy)")
    fig.suptitle(
        f"Digits MLP {' -> '.join(map(str, SIZES))}: the same initial weights, {epochs} "
        "epochs, every optimizer at its tuned learning rate"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every chosen optimizer; returns the table rows, plot path and timings."""
    args = parse_args(argv)
    log = (lambda *a, **k: None) if args.quiet else print
    t_start = time.perf_counter()
    X, y = load_digits(flatten=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, rng=SPLIT_SEED)
    data = {"X_train": Xtr, "X_test": Xte, "y_train": ytr, "y_test": yte}
    log(
        f"digits MLP {' -> '.join(map(str, SIZES))}: {len(ytr)} train / {len(yte)} test, "
        f"batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}, "
        f"{len(args.optimizers)} optimizers"
    )
    if args.tune:
        best = tune(args.optimizers, data, args, log)
        return {"learning_rates": best, "seconds": time.perf_counter() - t_start}

    rows = []
    for name in args.optimizers:
        lr = LEARNING_RATES.get(name, default_lr(name))
        rows.append(run(name, lr, data, args))
        log(
            f"  {name:26s} lr {lr:<7g} loss {rows[-1]['final_train_loss']:.2e}  "
            f"test {rows[-1]['test_accuracy']:.1%}  {rows[-1]['seconds']:.2f} s"
        )
    print_table(rows, log)
    result: dict[str, Any] = {"rows": rows, "plot": None}
    if not args.no_plot:
        result["plot"] = plot_losses(rows, args.out / "optimizers_loss.png", args.epochs)
        log(f"\nloss curves saved to {result['plot']}")
    result["seconds"] = time.perf_counter() - t_start
    log(f"total runtime {result['seconds']:.1f} s")
    return result


if __name__ == "__main__":
    main()
