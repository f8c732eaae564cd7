"""``tinygrad-opt benchmark``: optimizers × workloads with an equal tuning budget.

    tinygrad-opt benchmark [--optimizers sgd,adam|all] [--workloads mlp,cnn] [--budget 8]
        [--studies 1] [--seed 0] [--out benchmark.json] [--plot profile.png] [--quick]
    tinygrad-opt benchmark --workloads transformer --optimizers sgd,adam --lr-grid 1e-4:1:9
    tinygrad-opt benchmark --list-spaces

Runs (or continues: the same command again skips finished trials) the trials of
:mod:`tinygrad_opt.benchmark`, writing every finished trial to ``--out``; prints the table
and draws the performance profiles. See ``docs/benchmark.md``.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from tinygrad_opt.cli import (
    FIGURE_SUFFIXES,
    UsageError,
    _check_output,
    _comma_list,
    _positive_int,
    print_json,
)

__all__ = ["CANONICAL_OPTIMIZERS", "QUICK_DEFAULTS", "add_arguments", "run"]

CANONICAL_OPTIMIZERS = (
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lion",
)  # fmt: skip
"""The default methods: the seed article's five and three widely used successors."""

QUICK_DEFAULTS = {"optimizers": ["sgd", "adam"], "workloads": ["logreg", "mlp"], "budget": 2}
"""``--quick`` without the flags: two methods, two small workloads, two trials each."""

DEFAULT_OUT = "benchmark.json"


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``benchmark``."""
    p.add_argument(
        "--optimizers",
        type=_comma_list,
        default=None,
        help=f"comma-separated names or 'all' (default {','.join(CANONICAL_OPTIMIZERS)})",
    )
    p.add_argument(
        "--workloads", type=_comma_list, default=None, help="comma-separated (default: all)"
    )
    p.add_argument(
        "--budget", type=_positive_int, default=None, help="trials per method and workload (8)"
    )
    p.add_argument(
        "--studies",
        type=_positive_int,
        default=1,
        help="independent repeats of the search; the score is their median (1)",
    )
    p.add_argument(
        "--seed", type=_non_negative_int, default=0, help="derives every draw and training seed"
    )
    p.add_argument(
        "--max-steps", type=_positive_int, default=None, help="cut every workload to this many"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="WORKLOAD.KEY=VALUE",
        help="change one workload's setting, e.g. transformer.max_steps=300 or "
        "transformer.target=2.5 (repeatable; recorded in the results file)",
    )
    p.add_argument(
        "--lr-grid",
        default=None,
        help="instead of random search: these lrs (LOW:HIGH:N log-spaced, or a comma list), "
        "every other hyperparameter at its default",
    )
    p.add_argument(
        "--out", default=None, help=f"results JSON, resumed if it exists ({DEFAULT_OUT})"
    )
    p.add_argument(
        "--plot", default=None, help="performance profiles (default: OUT with _profile.png)"
    )
    p.add_argument("--no-plot", action="store_true", help="draw no figure")
    p.add_argument(
        "--stop-after",
        type=_positive_int,
        default=None,
        help="run at most this many trials now; the same command continues",
    )
    p.add_argument("--quick", action="store_true", help="tiny budget, shortened workloads")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list-spaces", action="store_true", help="print every declared space")


def parse_lr_grid(text: str) -> tuple[float, ...]:
    """``"1e-4:1:9"`` (9 log-spaced values) or ``"0.001,0.01"``; a ``UsageError`` naming
    the text otherwise."""
    import numpy as np

    bad = f"--lr-grid: expected LOW:HIGH:N or a comma list of positive numbers, got {text!r}"
    try:
        if ":" in text:
            low, high, n = text.split(":")
            lo, hi, count = float(low), float(high), int(n)
            if count < 1 or not (0 < lo <= hi) or not math.isfinite(hi):
                raise UsageError(bad)
            values = np.geomspace(lo, hi, count) if count > 1 else np.array([lo])
            grid = tuple(float(f"{v:.4g}") for v in values)
        else:
            grid = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(bad) from None
    if not grid or not all(math.isfinite(v) and v > 0 for v in grid):
        raise UsageError(bad)
    return grid


def parse_sets(items: list[str], workloads: list[str]) -> dict[str, dict[str, object]]:
    """``["transformer.max_steps=300"]`` -> ``{"transformer": {"max_steps": 300}}``; the
    value is read as an int, else a float, else kept as text."""
    out: dict[str, dict[str, object]] = {}
    for item in items:
        head, eq, text = item.partition("=")
        name, dot, key = head.partition(".")
        if not (eq and dot and name and key and text):
            raise UsageError(f"--set: expected WORKLOAD.KEY=VALUE, got {item!r}")
        if name not in workloads:
            raise UsageError(
                f"--set {item!r}: workload {name!r} is not benchmarked "
                f"(--workloads: {', '.join(workloads)})"
            )
        value: object = text
        for kind in (int, float):
            try:
                value = kind(text)
                break
            except ValueError:
                continue
        out.setdefault(name, {})[key] = value
    return out


def _list_spaces() -> int:
    from tinygrad_opt.benchmark import SEARCH_SPACES, describe_space

    for name in sorted(SEARCH_SPACES):
        desc = describe_space(SEARCH_SPACES[name])
        print(f"{name}: " + "; ".join(f"{k} {v}" for k, v in desc.items()))
    return 0


def _resolve_names(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from tinygrad_opt.optim.registry import available
    from tinygrad_opt.workloads import available_workloads

    quick = args.quick
    workloads = args.workloads or (
        QUICK_DEFAULTS["workloads"] if quick else list(available_workloads())
    )
    valid_w = list(available_workloads())
    unknown = [w for w in workloads if w not in valid_w]
    if unknown:
        raise UsageError(
            f"unknown workload(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid_w)}"
        )
    if args.optimizers == ["all"]:
        return ["all"], list(dict.fromkeys(workloads))
    optimizers = args.optimizers or (
        QUICK_DEFAULTS["optimizers"] if quick else list(CANONICAL_OPTIMIZERS)
    )
    optimizers = [o.lower().replace("-", "_") for o in optimizers]
    unknown = [o for o in optimizers if o not in available()]
    if unknown:
        raise UsageError(
            f"unknown optimizer(s) {', '.join(map(repr, unknown))}; valid: {', '.join(available())}"
        )
    return list(dict.fromkeys(optimizers)), list(dict.fromkeys(workloads))


def run(args: argparse.Namespace) -> int:
    """The ``benchmark`` command."""
    if args.list_spaces:
        return _list_spaces()
    from tinygrad_opt.benchmark import (
        ResumeError,
        Settings,
        cannot_run,
        format_table,
        plot_profiles,
        run_benchmark,
        score_trials,
        space_for,
    )
    from tinygrad_opt.benchmark.study import QUICK_EVAL_EVERY, QUICK_MAX_STEPS, QUICK_WORKLOADS
    from tinygrad_opt.optim.registry import available
    from tinygrad_opt.workloads import get_workload
    from tinygrad_opt.workloads import run as run_workload

    out = args.out or DEFAULT_OUT
    _check_output("--out", out, (".json",), default=args.out is None)
    plot = None
    if not args.no_plot:
        plot = args.plot or str(Path(out).with_name(Path(out).stem + "_profile.png"))
        _check_output("--plot", plot, FIGURE_SUFFIXES, default=args.plot is None)
    if Path(out).is_file() and not os.access(out, os.W_OK):
        raise UsageError(f"--out: cannot write {out!r}: the file is not writable")
    lr_grid = None if args.lr_grid is None else parse_lr_grid(args.lr_grid)
    optimizers, workload_names = _resolve_names(args)
    budget = args.budget or (QUICK_DEFAULTS["budget"] if args.quick else 8)
    if lr_grid is not None:
        if args.budget is not None and args.budget != len(lr_grid):
            raise UsageError(
                f"--budget {args.budget} with --lr-grid of {len(lr_grid)} values: the grid "
                "is the budget; drop --budget"
            )
        budget = len(lr_grid)
    max_steps = args.max_steps
    sets = parse_sets(args.set, workload_names)
    workloads = {}
    for name in workload_names:
        try:
            probe = get_workload(name, **sets.get(name, {}))
        except ValueError as e:
            raise UsageError(f"--set: {e}") from None
        overrides: dict = dict(sets.get(name, {}))
        if args.quick:  # shortened, then --set on top
            quick = dict(QUICK_WORKLOADS.get(name, {"max_steps": QUICK_MAX_STEPS}))
            quick["eval_every"] = min(probe.eval_every, QUICK_EVAL_EVERY)
            overrides = {**quick, **overrides}
        steps = min(x for x in (max_steps, overrides.get("max_steps"), probe.max_steps) if x)
        if steps < probe.max_steps:
            overrides["max_steps"] = steps
        workloads[name] = get_workload(name, **overrides)

    skipped: list[str] = []
    if optimizers == ["all"]:
        optimizers = []
        for name in available():
            try:
                space_for(name)
            except ValueError:
                skipped.append(f"{name} (no declared search space)")
                continue
            reasons = [cannot_run(name, w) for w in workloads.values()]
            if any(reasons):
                skipped.append(f"{name} ({next(r for r in reasons if r)})")
                continue
            optimizers.append(name)
    else:
        for name in optimizers:
            try:
                space_for(name)
            except ValueError as e:
                raise UsageError(str(e)) from None
            for w in workloads.values():
                reason = cannot_run(name, w)
                if reason:
                    raise UsageError(f"{reason}; choose other workloads or optimizers")

    settings = Settings(
        optimizers=tuple(optimizers),
        workloads=tuple(workload_names),
        budget=budget,
        studies=args.studies,
        seed=args.seed,
        quick=args.quick,
        max_steps=max_steps,
        lr_grid=lr_grid,
    )
    try:
        doc = run_benchmark(
            settings,
            out,
            workloads,
            run_workload,
            stop_after=args.stop_after,
            progress=not args.no_progress,
        )
    except ResumeError as e:
        raise UsageError(f"--out: {e}") from None
    except KeyboardInterrupt:
        import sys

        print(
            f"tinygrad-opt benchmark: interrupted; finished trials are in {out}: "
            "rerun the same command to continue",
            file=sys.stderr,
        )
        return 130
    for line in skipped:
        print(f"skipped {line}")
    total = len(settings.optimizers) * len(settings.workloads) * budget * settings.studies
    if not doc["complete"]:
        print(
            f"{len(doc['trials'])} of {total} trials done, in {out}; "
            "rerun the same command to continue"
        )
        return 0
    scores = score_trials(doc["trials"])
    if args.json:
        print_json({"results": str(out), "scores": doc["scores"]}, indent=1)
    else:
        search = (
            f"lr grid of {budget}" if lr_grid is not None else f"random search, budget {budget}"
        )
        print(
            f"{len(settings.optimizers)} optimizers x {len(settings.workloads)} workloads, "
            f"{search}, {settings.studies} stud{'y' if settings.studies == 1 else 'ies'}, "
            f"seed {settings.seed}"
        )
        for w in workloads.values():
            print(
                f"  {w.name}: {w.metric} {'<=' if w.goal == 'min' else '>='} {w.target:g} "
                f"within {w.max_steps} steps"
            )
        print("time to target (median over studies of the best trial) / steps (reached/trials)")
        print(format_table(scores, settings.optimizers, settings.workloads))
    if plot is not None:
        try:
            plot_profiles(
                scores,
                settings.optimizers,
                settings.workloads,
                plot,
                title=f"{', '.join(settings.workloads)}; budget {budget}, seed {settings.seed}",
            )
        except OSError as e:
            raise UsageError(f"--plot: cannot write {plot!r} ({e.strerror or e})") from None
    if not args.json:
        print(f"wrote {out}" + (f" and {plot}" if plot else ""))
    return 0
