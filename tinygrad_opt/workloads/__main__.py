"""Measure each workload with its default optimizer: steps and seconds to its target.

    python -m tinygrad_opt.workloads                       # every workload, seed 0
    python -m tinygrad_opt.workloads logreg mlp --seeds 0,1,2
    python -m tinygrad_opt.workloads transformer --optimizer adam --lr 0.003 --json

Prints one row per (workload, seed); docs/workloads.md shows what it printed. (The
optimizer comparison with a tuning budget per method is ``tinygrad-opt benchmark``.)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tinygrad_opt.workloads.base import available_workloads, get_workload
from tinygrad_opt.workloads.run import run


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds must be integers like 0,1,2, got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds must be integers >= 0, got {text!r}")
    return seeds


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog="python -m tinygrad_opt.workloads", description=__doc__.split("\n")[0])
    p.add_argument("workloads", nargs="*", help=f"names (default: all): {available_workloads()}")
    p.add_argument("--seeds", type=_seeds, default=[0], help="comma-separated (default 0)")
    p.add_argument("--optimizer", help="a registered name (default: each one's default)")
    p.add_argument("--lr", type=float, help="learning rate (default: the workload's)")
    p.add_argument("--max-steps", type=int, help="step budget (default: the workload's)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--progress", action="store_true", help="a progress bar per run")
    args = p.parse_args(argv)
    for name in args.workloads:
        if name not in available_workloads():
            p.error(f"unknown workload {name!r}; available: {', '.join(available_workloads())}")
    if args.max_steps is not None and args.max_steps < 1:
        p.error(f"--max-steps must be >= 1, got {args.max_steps}")
    if args.optimizer is not None:
        from tinygrad_opt.optim import registry

        try:
            registry.lookup(args.optimizer)
        except ValueError as exc:
            p.error(str(exc))
    return args


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    rows = []
    for name in args.workloads or available_workloads():
        wl = get_workload(name)
        optimizer = args.optimizer or wl.default_optimizer
        hp = dict(wl.default_hyperparameters) if args.optimizer is None else {}
        if args.lr is not None:
            hp["lr"] = args.lr
        for seed in args.seeds:
            r = run(wl, optimizer, hp, seed=seed, max_steps=args.max_steps, progress=args.progress)
            row = {
                "workload": name,
                "metric": wl.metric,
                "target": wl.target,
                "optimizer": optimizer,
                "hyperparameters": hp,
                "seed": seed,
                "steps_to_target": r.steps_to_target,
                "seconds_to_target": r.seconds_to_target,
                "final_metric": r.final_metric,
                "steps": r.steps,
                "seconds": r.seconds,
                "diverged": r.diverged,
            }
            rows.append(row)
            if not args.json:
                if len(rows) == 1:
                    print(f"{'workload':<12} {'metric':<13} {'target':>7} {'optimizer':<18}"
                          f"{'seed':>5} {'steps':>6} {'seconds':>8} {'final':>7}")  # fmt: skip
                print(
                    f"{name:<12} {wl.metric:<13} {wl.target:>7.3f} "
                    f"{optimizer + ' ' + json.dumps(hp):<18}{seed:>5} "
                    f"{_fmt(r.steps_to_target, 'd'):>6} {_fmt(r.seconds_to_target, '.2f'):>8} "
                    f"{r.final_metric:>7.3f}" + ("  diverged" if r.diverged else ""),
                    flush=True,
                )
    if args.json:
        print(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
