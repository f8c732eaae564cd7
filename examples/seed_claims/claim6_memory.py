"""Claim 6: Adam is memory demanding — optimizer state and traced memory per method.

    python examples/seed_claims/claim6_memory.py        # writes out/claim6_memory.png

Two real networks for the 8×8 digits: an MLP 64-256-256-10 and a small CNN
(conv 1→16 3×3, pool, conv 16→32 3×3, pool, linear 128→10). For each optimizer, one
batch of 256 images is forwarded and backpropagated, then:

* ``opt.state_bytes()`` after the first step: the bytes of the state arrays the method
  keeps for the rest of training, and that divided by the parameters' bytes;
* ``tracemalloc`` around the first ``opt.step()``: the peak of new allocations during
  the step (state being created plus temporaries) and what is still allocated after it;
* ``tracemalloc`` around a second step: the peak of temporaries once the state exists.

Each (model, method) is measured in a fresh forked process, so one method's left-over
buffers (the optimizers keep per-thread scratch arrays for reuse) cannot hide or inflate
another's.

Methods: sgd, momentum, adagrad, rmsprop, adam, amsgrad, and the memory-light
alternatives adafactor (factored second moment, no first moment) and lion (one buffer).
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import base_parser, pyplot, save, table

from tinygrad_opt import Tensor, nn, optim
from tinygrad_opt.data import load_digits

METHODS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "amsgrad", "adafactor", "lion")


def parse_args(argv: list[str] | None = None):
    p = base_parser(__doc__)
    p.add_argument("--optimizers", default=",".join(METHODS))
    p.add_argument("--models", default="mlp,cnn")
    p.add_argument("--hidden", type=int, default=256, help="MLP width")
    p.add_argument("--batch-size", type=int, default=256)
    return p.parse_args(argv)


def build(model: str, hidden: int) -> nn.Module:
    if model == "mlp":
        return nn.MLP([64, hidden, hidden, 10], rng=0)
    if model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, rng=0),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1, rng=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 2 * 2, 10, rng=2),
        )
    raise ValueError(f"unknown model {model!r}")


def traced_step(opt: optim.Optimizer) -> tuple[int, int]:
    """(peak, retained) bytes of new allocations during one ``opt.step()``."""
    gc.collect()
    tracemalloc.start()
    try:
        opt.step()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, retained


def measure(model_name: str, method: str, args: Any) -> dict[str, Any]:
    flatten = model_name == "mlp"
    X, y = load_digits(flatten=flatten)
    X, y = X[: args.batch_size], y[: args.batch_size]
    model = build(model_name, args.hidden)
    params = model.parameters()
    opt = optim.create(method, params, lr=1e-3)

    def backward() -> None:
        loss = nn.cross_entropy(model(Tensor(X)), y)
        opt.zero_grad()
        loss.backward()

    backward()
    peak1, retained1 = traced_step(opt)
    state = opt.state_bytes()
    backward()
    peak2, retained2 = traced_step(opt)
    param_bytes = sum(p.data.nbytes for p in params)
    return {
        "parameters": int(sum(p.size for p in params)),
        "param_bytes": int(param_bytes),
        "state_bytes": int(state),
        "state_over_params": state / param_bytes,
        "first_step_peak_bytes": int(peak1),
        "first_step_retained_bytes": int(retained1),
        "later_step_peak_bytes": int(peak2),
        "later_step_retained_bytes": int(retained2),
    }


def _child(conn: Any, model_name: str, method: str, args: Any) -> None:
    try:
        conn.send(measure(model_name, method, args))
    except BaseException as e:  # pragma: no cover - reported by the parent
        conn.send(e)
    finally:
        conn.close()


def measure_isolated(model_name: str, method: str, args: Any) -> dict[str, Any]:
    """:func:`measure` in a fresh forked process, so no method inherits buffers that an
    earlier one left behind (e.g. per-thread scratch pools); in-process if fork is
    not available."""
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - no fork (Windows)
        return {**measure(model_name, method, args), "isolated": False}
    gc.freeze()  # the child's gc.collect() then skips (and does not copy) the parent's heap
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, model_name, method, args))
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    gc.unfreeze()
    if isinstance(result, BaseException):
        raise result
    return {**result, "isolated": True}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    methods = [m for m in args.optimizers.split(",") if m]
    load_digits()  # import scikit-learn and read the images once, before forking
    results: dict[str, Any] = {"models": {}}
    for model_name in args.models.split(","):
        results["models"][model_name] = {m: measure_isolated(model_name, m, args) for m in methods}
    if not args.quiet:
        print(report(results))
    if not args.no_plot:
        results["figure"] = str(plot(results, args.out))
    return results


def report(results: dict[str, Any]) -> str:
    out = []
    for model_name, per in results["models"].items():
        first = next(iter(per.values()))
        rows = [
            [
                m,
                r["state_bytes"],
                f"{r['state_over_params']:.3g}×",
                r["first_step_peak_bytes"],
                r["first_step_retained_bytes"],
                r["later_step_peak_bytes"],
            ]
            for m, r in per.items()
        ]
        out.append(
            f"Claim 6 — {model_name}: {first['parameters']:,} parameters, "
            f"{first['param_bytes']:,} bytes (float32)"
        )
        out.append(
            table(
                [
                    "optimizer",
                    "state bytes",
                    "state / params",
                    "tracemalloc peak, 1st step",
                    "retained after 1st step",
                    "peak, later step",
                ],
                rows,
            )
        )
    return "\n".join(out)


def plot(results: dict[str, Any], out: Path) -> Path:
    plt = pyplot()
    models = list(results["models"])
    fig, axes = plt.subplots(1, len(models), figsize=(7 * len(models), 4.5), squeeze=False)
    for ax, model_name in zip(axes[0], models):
        per = results["models"][model_name]
        methods = list(per)
        pb = next(iter(per.values()))["param_bytes"]
        x = np.arange(len(methods))
        w = 0.27
        bars = [
            ("state (kept)", "state_bytes"),
            ("tracemalloc peak, 1st step", "first_step_peak_bytes"),
            ("tracemalloc peak, later step", "later_step_peak_bytes"),
        ]
        for k, (label, key) in enumerate(bars):
            ax.bar(x + (k - 1) * w, [per[m][key] / pb for m in methods], w, label=label)
        ax.axhline(1, color="k", lw=0.6, ls="--")
        ax.set_xticks(x, methods, rotation=30)
        ax.set_ylabel("bytes / parameter bytes")
        ax.set_title(f"{model_name}: {per[methods[0]]['parameters']:,} parameters", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    return save(fig, out, "claim6_memory.png")


if __name__ == "__main__":
    main()
