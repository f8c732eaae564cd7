"""``tinygrad-opt playground``: write the interactive playground page (one HTML file).

    tinygrad-opt playground --out playground.html [--functions rosenbrock,beale]
        [--optimizers sgd,momentum,nesterov,adagrad,rmsprop,adam] [--steps 200]
        [--lr 0.0625,...,16] [--rho1 0,0.5,...] [--rho2 0.9,...] [--momentum 0.5,...]

Every path is computed here, over the grid of slider values (:mod:`tinygrad_opt.playground.page`);
the page only draws them. See docs/playground.md.
"""

from __future__ import annotations

import argparse
import time

from tinygrad_opt.cli import UsageError, _check_output, _comma_list, _positive_int

__all__ = ["PLAYGROUND_MAX_POINTS", "PLAYGROUND_MAX_STEPS", "add_arguments", "run"]

PLAYGROUND_MAX_STEPS = 5_000
"""Most ``--steps``: every step of every run is stored in the page."""
PLAYGROUND_MAX_POINTS = 20_000_000
"""Most stored points (runs × (steps + 1), over all functions): ~2 minutes, ~20 MB."""


def _float_list(text: str) -> list[float]:
    values = []
    for item in _comma_list(text):
        try:
            values.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers, got {item!r}") from None
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``playground``."""
    from tinygrad_opt.playground.page import DEFAULT_OPTIMIZERS, Grid

    grid = Grid()

    def show(values: tuple[float, ...]) -> str:
        return ",".join(f"{v:g}" for v in values)

    p.add_argument("--out", required=True, help="the page to write (.html)")
    p.add_argument(
        "--functions", type=_comma_list, default=None, help="test functions (default: all)"
    )
    p.add_argument(
        "--optimizers",
        type=_comma_list,
        default=list(DEFAULT_OPTIMIZERS),
        help=f"comma-separated optimizer names (default: {','.join(DEFAULT_OPTIMIZERS)})",
    )
    p.add_argument("--steps", type=_positive_int, default=200, help="steps per run (200)")
    p.add_argument(
        "--lr",
        type=_float_list,
        default=None,
        help=f"η slider: multiples of each suggested lr (default {show(grid.lr)})",
    )
    p.add_argument(
        "--rho1", type=_float_list, default=None, help=f"ρ1 (β1) slider ({show(grid.rho1)})"
    )
    p.add_argument(
        "--rho2", type=_float_list, default=None, help=f"ρ2 (β2, α) slider ({show(grid.rho2)})"
    )
    p.add_argument(
        "--momentum",
        type=_float_list,
        default=None,
        help=f"μ slider ({show(grid.momentum)})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """The ``playground`` command: check everything, then compute and write the page."""
    import numpy as np

    from tinygrad_opt import optim, playground
    from tinygrad_opt.playground.page import Grid, count_runs, settings_of, write_page
    from tinygrad_opt.tensor import Tensor

    _check_output("--out", args.out, (".html", ".htm"))
    functions = args.functions or list(playground.FUNCTIONS)
    unknown = [f for f in functions if f not in playground.FUNCTIONS]
    if unknown:
        raise UsageError(
            f"unknown function(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(playground.FUNCTIONS))}"
        )
    optimizers = [o.lower().replace("-", "_") for o in args.optimizers]
    unknown = [o for o, key in zip(args.optimizers, optimizers) if key not in optim.available()]
    if unknown:
        raise UsageError(
            f"unknown optimizer(s) {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(optim.available())}"
        )
    matrix_only = [o for o in optimizers if getattr(optim.lookup(o)[0], "matrix_only", False)]
    if matrix_only:
        raise UsageError(
            f"{', '.join(map(repr, matrix_only))} steps 2-D weight matrices only; the "
            "playground moves a single 2-vector θ"
        )
    for name, seen in (("--functions", functions), ("--optimizers", optimizers)):
        twice = sorted({v for v in seen if seen.count(v) > 1})
        if twice:
            raise UsageError(f"{name}: {', '.join(map(repr, twice))} given twice")
    if args.steps > PLAYGROUND_MAX_STEPS:
        raise UsageError(f"--steps: must be <= {PLAYGROUND_MAX_STEPS:,}, got {args.steps:,}")
    given = {k: getattr(args, k) for k in ("lr", "rho1", "rho2", "momentum")}
    try:
        grid = Grid(**{k: tuple(v) for k, v in given.items() if v is not None})
    except ValueError as e:
        raise UsageError(str(e).replace("grid ", "--", 1)) from None
    per_function = count_runs(optimizers, grid)
    points = per_function * len(functions) * (args.steps + 1)
    if points > PLAYGROUND_MAX_POINTS:
        raise UsageError(
            f"{per_function:,} runs per function × {len(functions)} function(s) × "
            f"{args.steps + 1:,} points = {points:,} points, more than {PLAYGROUND_MAX_POINTS:,} "
            "(too big a page): fewer steps, functions, optimizers or slider values"
        )
    try:  # every setting must be valid before any work (the decays are checked above)
        for o in optimizers:
            for hp in settings_of(functions[0], o, grid):
                optim.create(o, [Tensor(np.zeros(2), requires_grad=True)], **hp)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{o}: {e}") from None
    started = time.perf_counter()
    built = {}
    try:
        path = write_page(
            args.out,
            functions,
            optimizers,
            args.steps,
            grid,
            progress=False if args.quiet else None,
            on_built=lambda data: built.setdefault("runs", data.n_runs),
        )
    except OSError as e:
        raise UsageError(f"--out: cannot write {args.out!r} ({e.strerror or e})") from None
    size, seconds = path.stat().st_size, time.perf_counter() - started
    print(
        f"wrote {path} ({size / 1e6:.1f} MB): {len(functions)} function(s) × "
        f"{len(optimizers)} optimizer(s), {per_function} runs per function "
        f"({built['runs']:,} in all) of {args.steps} steps, in {seconds:.0f} s"
    )
    return 0
