"""The ``tinygrad-opt`` command line.

    tinygrad-opt compare --function rosenbrock --optimizers sgd,momentum,adam --steps 500 \
        --out fig.png [--gif fig.gif] [--json]
    tinygrad-opt list                      # optimizers and test functions

Bad input (an unknown optimizer or function name, a bad number) exits with code 2 and a
message listing what is valid — never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A problem with the command line; reported with exit code 2."""


def _comma_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _cmd_compare(args: argparse.Namespace) -> int:
    from tinygrad_opt import optim, playground

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
    try:
        run = playground.run(args.function, args.optimizers, args.steps, start=start, lr=args.lr)
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
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{run.function.name}: {run.function.description}")
    print(
        f"start {tuple(run.function.start) if start is None else tuple(start)}, "
        f"{args.steps} steps, f* = {run.function.min_value:g}"
    )
    print(f"{'optimizer':<12}{'lr':>10}{'final f':>14}{'steps to 1e-3':>15}  final θ")
    for name, info in summary["optimizers"].items():
        steps = info["steps_to_1e-3"]
        point = ", ".join(f"{v:.4f}" for v in info["final_point"])
        print(
            f"{name:<12}{info['hyperparameters'].get('lr', float('nan')):>10.3g}"
            f"{info['final_loss']:>14.6g}{'never' if steps is None else steps:>15}  ({point})"
        )
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from tinygrad_opt import optim, playground

    print("optimizers: " + ", ".join(optim.available()))
    print("functions:  " + ", ".join(sorted(playground.FUNCTIONS)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-opt", description="Understand and plan neural-network optimization."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    cmp = sub.add_parser("compare", help="run optimizers side by side on a 2-D test function")
    cmp.add_argument("--function", default="quadratic", help="test function (see `list`)")
    cmp.add_argument(
        "--optimizers",
        type=_comma_list,
        default=["sgd", "momentum", "adagrad", "rmsprop", "adam"],
        help="comma-separated optimizer names",
    )
    cmp.add_argument("--steps", type=_positive_int, default=200)
    cmp.add_argument("--lr", type=float, default=None, help="one lr for all (default: suggested)")
    cmp.add_argument("--start", default=None, help="start point, e.g. -1.5,2")
    cmp.add_argument("--out", default=None, help="PNG with contour paths and loss curves")
    cmp.add_argument("--gif", default=None, help="animated GIF of the paths")
    cmp.add_argument("--json", action="store_true", help="print the numbers as JSON")
    cmp.set_defaults(handler=_cmd_compare)

    lst = sub.add_parser("list", help="list optimizers and test functions")
    lst.set_defaults(handler=_cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits with 2 on malformed flags
    try:
        return args.handler(args)
    except UsageError as e:
        print(f"tinygrad-opt {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
