"""``tinygrad-opt plan``: search the configurations ``whatif`` would sweep, pick the best.

Takes ``whatif``'s flags (a comma list is a search axis) plus ``--minimize
time|cost|tradeoff``, ``--deadline`` (``36h``) and ``--budget``; prints the Pareto front
of time against cost, the winner and why it wins (:func:`tinygrad_opt.cluster.planner.plan`).
``--json`` prints ``{"best": row, "pareto": [rows], "rows": [every feasible row], ...}``,
rows with ``whatif --json``'s keys; ``--out plan.png`` draws the front and every feasible
point. Nothing feasible: exit code 2 and one line naming the constraint that failed.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The simulation flags of ``whatif`` and the planner's own."""
    from tinygrad_opt.cli.simulation import _add_simulation_flags

    _add_simulation_flags(p, lists="searched")
    p.add_argument(
        "--minimize",
        default=None,
        metavar="WHAT",
        help="time, cost or tradeoff (time × cost); default: time with --budget, cost with "
        "only --deadline, else tradeoff",
    )
    p.add_argument("--deadline", default=None, metavar="T", help="longest time to train: 36h")
    p.add_argument("--budget", default=None, metavar="X", help="most money to spend: 500")
    p.add_argument(
        "--equal-batches",
        action="store_true",
        help="keep equal per-worker batches on workers of unequal speed (default: batches "
        "in proportion to speed, so all finish together)",
    )
    p.add_argument("--out", default=None, help="PNG: Pareto front and every feasible point")
    p.add_argument("--json", action="store_true", help="print best, pareto and rows as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """The ``plan`` command."""
    from tinygrad_opt.cli import FIGURE_SUFFIXES, UsageError, _check_output, _write, print_json
    from tinygrad_opt.cli.simulation import _describe, _settings, _spec_error, _table
    from tinygrad_opt.cluster.planner import plan, plot_plan
    from tinygrad_opt.cluster.units import format_duration
    from tinygrad_opt.cluster.validation import SpecError

    _check_output("--out", args.out, FIGURE_SUFFIXES)
    try:
        settings = _settings(args)
    except (SpecError, ValueError, TypeError) as e:
        raise _spec_error(e, args) from None
    prices = settings.get("cluster", {}).get("price_per_node_hour")
    if (args.budget is not None or args.minimize == "cost") and not prices:
        what = "--budget" if args.budget is not None else f"--minimize {args.minimize}"
        raise UsageError(f"{what} needs --price (a node's price per hour): every cost is 0")
    budget = args.budget
    if budget is not None:
        try:
            budget = float(budget)
        except ValueError:
            raise UsageError(f"--budget: expected a number, got {args.budget!r}") from None
    try:
        result = plan(
            settings,
            minimize=args.minimize,
            deadline=args.deadline,
            budget=budget,
            balance_batches=not args.equal_batches,
            progress=False if args.json or args.no_progress else None,
        )
    except SpecError as e:
        field = getattr(e, "field", "")
        if field in ("minimize", "deadline", "budget") or field.startswith("deadline,"):
            raise UsageError(str(e)) from None
        raise _spec_error(e, args) from None
    files = []
    if args.out:
        files.append(_write("--out", args.out, plot_plan, result))
    if args.json:
        out = {**result.to_dict(), "settings": settings, "files": files}
        print_json(out)
        return 0
    print(_describe(result.configuration, [r["per_worker_batch"] for r in result.rows]))
    limits = []
    if result.deadline is not None:
        limits.append(f"deadline {format_duration(result.deadline)}")
    if result.budget is not None:
        limits.append(f"budget {result.budget:,.2f}")
    n = result.evaluated
    skipped = (
        f" ({result.skipped:,} combination{'s' * (result.skipped != 1)} that cannot exist skipped)"
        if result.skipped
        else ""
    )
    print(
        f"searched {n:,} configuration{'s' * (n != 1)}{skipped}; {len(result.rows):,} feasible"
        + (f" ({', '.join(limits)})" if limits else "")
        + f"; minimising {result.objective}"
    )
    print(f"\nPareto front (time against cost), fastest first: {len(result.pareto)} of "
          f"{len(result.rows):,}")  # fmt: skip
    front = result.pareto
    if len({r["per_worker_batch"] for r in result.rows}) > 1:  # the batch is a choice: show it
        front = [{**r, "scheme_label": f"{r['scheme_label']}, b={r['per_worker_batch']}"}
                 for r in front]  # fmt: skip
    print(_table(front))
    print(f"\nbest: {result.explanation}")
    if result.balance is not None:
        b = result.balance
        print(
            f"batches in proportion to speed ({', '.join(f'{s:g}' for s in b['speeds'])}): "
            f"per node {', '.join(map(str, b['per_node']))} instead of "
            f"{b['equal_batch']} per worker; step {format_duration(b['step_time_balanced_s'])}"
            f" against {format_duration(b['step_time_equal_s'])}, time to train "
            f"{b['gain']:.3g}x shorter"
        )
    for path in files:
        print(f"wrote {path}")
    return 0
