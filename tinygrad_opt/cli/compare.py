"""``tinygrad-opt compare`` and ``tinygrad-opt list``: optimizers on the 2-D playground.

``compare`` runs optimizers side by side on a test function of
:mod:`tinygrad_opt.playground` and prints (or ``--json``) the final loss and the steps to
reach ``1e-3``; ``--out`` draws the paths and losses, ``--gif`` animates them. ``list``
prints the optimizers, the test functions and the built-in cluster model profiles.
"""

from __future__ import annotations

import argparse

from tinygrad_opt.cli import (
    FIGURE_SUFFIXES,
    UsageError,
    _check_output,
    _comma_list,
    _positive_int,
    print_json,
)

__all__ = ["COMPARE_MAX_STEPS", "add_arguments", "run", "run_list"]

COMPARE_MAX_STEPS = 100_000
"""Most ``compare --steps``: the playground keeps every point and steps in Python."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``compare``."""
    p.add_argument(
        "--function", default="quadratic", help="test function (default quadratic; see `list`)"
    )
    p.add_argument(
        "--optimizers",
        type=_comma_list,
        default=["sgd", "momentum", "adagrad", "rmsprop", "adam"],
        help="comma-separated optimizer names (default sgd,momentum,adagrad,rmsprop,adam)",
    )
    p.add_argument(
        "--steps", type=_positive_int, default=200, help="steps of each optimizer (default 200)"
    )
    p.add_argument("--lr", type=float, default=None, help="one lr for all (default: suggested)")
    p.add_argument("--start", default=None, help="start point, e.g. -1.5,2")
    p.add_argument("--out", default=None, help="PNG (or PDF, SVG) of the paths and losses")
    p.add_argument("--gif", default=None, help="animated GIF of the paths")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")


def run(args: argparse.Namespace) -> int:
    """The ``compare`` command."""
    from tinygrad_opt import optim, playground

    if args.steps > COMPARE_MAX_STEPS:
        raise UsageError(
            f"--steps: must be <= {COMPARE_MAX_STEPS:,} (about a minute for five optimizers), "
            f"got {args.steps:,}"
        )
    _check_output("--out", args.out, FIGURE_SUFFIXES)
    _check_output("--gif", args.gif, (".gif",))

    args.function = args.function.strip().lower()
    if args.function not in playground.FUNCTIONS:
        raise UsageError(
            f"unknown function {args.function!r}; valid: {', '.join(sorted(playground.FUNCTIONS))}"
        )
    unknown = [o for o in args.optimizers if o.lower() not in optim.available()]
    if unknown:
        raise UsageError(
            f"unknown optimizer(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(optim.available())}"
        )
    matrix_only = [o for o in args.optimizers if getattr(optim.lookup(o)[0], "matrix_only", False)]
    if matrix_only:
        raise UsageError(
            f"{', '.join(map(repr, matrix_only))} steps 2-D weight matrices only, and the "
            "playground moves a single 2-vector θ (as a 1×2 matrix Muon would be normalised "
            "gradient descent, a different method); use it on a model's hidden layers"
        )
    start = None
    if args.start is not None:
        try:
            start = [float(v) for v in args.start.split(",")]
        except ValueError:
            raise UsageError(
                f"--start must be two numbers like 1.0,-2, got {args.start!r}"
            ) from None
        if len(start) != 2:
            raise UsageError(f"--start must be two numbers like 1.0,-2, got {args.start!r}")
    import math

    import numpy as np

    if args.lr is not None and not (math.isfinite(args.lr) and args.lr >= 0):
        raise UsageError(f"--lr must be a finite number >= 0, got {args.lr}")
    if start is not None and not all(map(math.isfinite, start)):
        raise UsageError(f"--start must be two finite numbers, got {args.start!r}")
    try:  # a diverging run shows as nan and "never": numpy need not warn about it
        with np.errstate(all="ignore"):
            run = playground.run(
                args.function,
                args.optimizers,
                args.steps,
                start=start,
                lr=args.lr,
                progress=False if args.json else None,
            )
    except ValueError as e:  # e.g. an invalid learning rate
        raise UsageError(str(e)) from None
    written = []
    if args.out:
        written.append(str(playground.plot_paths(run, args.out)))
    if args.gif:
        written.append(str(playground.animate_paths(run, args.gif)))
    summary = run.to_dict()
    summary["files"] = written
    if args.json:
        print_json(summary)
        return 0
    print(f"{run.function.name}: {run.function.description}")
    print(
        f"start {tuple(run.function.start) if start is None else tuple(start)}, "
        f"{args.steps} steps, f* = {run.function.min_value:g}"
    )
    width = max(12, *(len(name) + 2 for name in summary["optimizers"]))
    print(f"{'optimizer':<{width}}{'lr':>10}{'final f':>14}{'steps to 1e-3':>15}  final θ")
    for name, info in summary["optimizers"].items():
        steps = info["steps_to_1e-3"]
        point = ", ".join(f"{v:.4f}" for v in info["final_point"])
        print(
            f"{name:<{width}}{info['hyperparameters'].get('lr', float('nan')):>10.3g}"
            f"{info['final_loss']:>14.6g}{'never' if steps is None else steps:>15}  ({point})"
        )
    for path in written:
        print(f"wrote {path}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """The ``list`` command."""
    from tinygrad_opt import optim, playground

    print("optimizers: " + ", ".join(optim.available()))
    print("functions:  " + ", ".join(sorted(playground.FUNCTIONS)))
    print("models:     " + ", ".join(_model_names()) + "  (whatif --list-models)")
    return 0


def _model_names() -> list[str]:
    from tinygrad_opt.cluster.models import MODEL_NAMES

    return list(MODEL_NAMES)
