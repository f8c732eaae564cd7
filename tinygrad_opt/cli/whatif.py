"""``tinygrad-opt whatif`` and ``tinygrad-opt timeline``: simulate cluster what-ifs.

``whatif`` simulates synchronous data-parallel SGD (:mod:`tinygrad_opt.cluster`) for every
combination of the comma-separated flag values and prints one row per configuration
(``--json``, ``--csv``, ``--out`` scaling plot; ``--list-models``); ``timeline`` draws the
Gantt chart of a few simulated steps of one configuration, or of a real run's trace
(``--trace``). The flags they share are in :mod:`tinygrad_opt.cli.simulation`.
"""

from __future__ import annotations

import argparse
import sys

from tinygrad_opt.cli import FIGURE_SUFFIXES, UsageError, _check_output, _write, print_json
from tinygrad_opt.cli.simulation import (
    _add_simulation_flags,
    _configurations,
    _describe,
    _spec_error,
    _table,
)

__all__ = [
    "TIMELINE_DEFAULT_OUT",
    "TIMELINE_MAX",
    "add_timeline_arguments",
    "add_whatif_arguments",
    "run_timeline",
    "run_whatif",
]

TIMELINE_DEFAULT_OUT = "out/timeline.png"
TIMELINE_MAX = 100
"""Most steps (``--show-steps``) and worker rows (``--max-rows``) a timeline draws."""


def add_whatif_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``whatif``: the simulation flags and the outputs."""
    _add_simulation_flags(p)
    p.add_argument("--out", default=None, help="PNG: speed-up and efficiency vs workers")
    p.add_argument("--csv", default=None, help="also write the rows as CSV")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--list-models", action="store_true", help="list the built-in --model profiles and exit"
    )


def add_timeline_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``timeline``: the simulation flags, the chart and ``--trace``."""
    _add_simulation_flags(p, lists=None)
    p.add_argument("--out", default=None, help=f"PNG, PDF or SVG (default {TIMELINE_DEFAULT_OUT})")
    p.add_argument("--show-steps", type=int, default=4, help="steps drawn (default 4)")
    p.add_argument("--max-rows", type=int, default=12, help="worker rows drawn (default 12)")
    p.add_argument("--json", action="store_true", help="print the result and events as JSON")
    p.add_argument(
        "--trace",
        default=None,
        help="draw a real run's JSON trace (DistributedOptimizer.trace.write) instead of "
        "simulating; the simulation flags are then ignored",
    )
    p.add_argument(
        "--first-step", type=int, default=None, help="--trace: first step drawn (default 1)"
    )


def _print_models(as_json: bool) -> int:
    """The built-in model profiles of ``whatif --model``, one a line (or JSON)."""
    from tinygrad_opt.cluster.models import list_models

    rows = list_models()
    if as_json:
        print_json({"models": rows})
        return 0
    head = f"{'model':<20}{'parameters':>15}{'tensors':>9}  {'largest tensor':<34}{'share':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<20}{r['parameters']:>15,}{r['tensors']:>9}  "
              f"{r['largest_tensor']:<34}{100 * r['largest_share']:>6.1f}%")  # fmt: skip
    return 0


def run_whatif(args: argparse.Namespace) -> int:
    """The ``whatif`` command."""
    from tqdm import tqdm

    from tinygrad_opt.cluster.config import result_row
    from tinygrad_opt.cluster.validation import SpecError

    if args.list_models:
        given = [f for f in ("out", "csv", "config") if getattr(args, f, None) is not None]
        if given:
            raise UsageError(f"--list-models prints the profiles only; drop --{given[0]}")
        return _print_models(args.json)
    _check_output("--out", args.out, FIGURE_SUFFIXES)
    _check_output("--csv", args.csv, (".csv",))
    settings, confs, sim = _configurations(args)
    quiet = args.json or args.no_progress or len(confs) <= 8
    rows = []
    try:
        for conf in tqdm(confs, desc="whatif", unit="config", disable=True if quiet else None,
                         leave=False, file=sys.stderr):  # fmt: skip
            rows.append(result_row(conf.simulate(**sim, timeline_steps=0), conf.scheme))
    except SpecError as e:
        raise _spec_error(e, args) from None
    files = []
    if args.out:
        from tinygrad_opt.cluster.plots import plot_scaling

        series = []
        for conf, row in zip(confs, rows):
            extra = [f"{k}={v}" for k, v in conf.setting.items()
                     if k not in ("workers", "nodes", "scheme")]  # fmt: skip
            series.append({**row, "series": ", ".join([row["scheme_label"], *extra])})
        files.append(_write("--out", args.out, plot_scaling, series, group="series"))
    if args.csv:
        from tinygrad_opt.cluster.sweep import SweepTable

        files.append(
            _write("--csv", args.csv, lambda rows, path: rows.to_csv(path), SweepTable(rows))
        )
    if args.json:
        out = {"rows": rows, "settings": settings, **sim, "files": files}
        print_json(out)
        return 0
    print(_describe(confs[0], [c.workload.per_worker_batch for c in confs]))
    print(_table(rows, [conf.setting for conf in confs]))
    reasons = dict.fromkeys(r["infeasible_reason"] for r in rows if not r["feasible"])
    for reason in reasons:
        print(f"infeasible: {reason}")
    for path in files:
        print(f"wrote {path}")
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    """The ``timeline`` command."""
    default = args.out is None
    args.out = TIMELINE_DEFAULT_OUT if default else args.out
    _check_output("--out", args.out, FIGURE_SUFFIXES, default=default)
    for flag, value in (("--show-steps", args.show_steps), ("--max-rows", args.max_rows)):
        if not 1 <= value <= TIMELINE_MAX:
            raise UsageError(
                f"{flag}: must be an integer in [1, {TIMELINE_MAX}] (a chart stays readable), "
                f"got {value!r}"
            )
    if args.trace:
        return _timeline_trace(args)
    if args.first_step is not None:
        raise UsageError("--first-step chooses the steps of a --trace; give --trace FILE")
    from tinygrad_opt.cluster.config import result_row
    from tinygrad_opt.cluster.plots import plot_timeline
    from tinygrad_opt.cluster.units import format_bytes, format_duration
    from tinygrad_opt.cluster.validation import SpecError

    settings, confs, sim = _configurations(args)
    if len(confs) != 1:
        varied = sorted({k for c in confs for k in c.setting})
        raise UsageError(
            f"timeline draws one configuration, but {', '.join(varied)} "
            f"{'has' if len(varied) == 1 else 'have'} several values ({len(confs)} "
            f"configurations); give one value each"
        )
    conf = confs[0]
    try:
        result = conf.simulate(**sim, timeline_steps=args.show_steps)
    except SpecError as e:
        raise _spec_error(e, args) from None
    path = _write("--out", args.out, plot_timeline, result, max_workers=args.max_rows)
    if args.json:
        out = {
            "row": result_row(result, conf.scheme),
            "phases": [[name, t] for name, t in result.phases],
            "events": result.timeline(args.max_rows),
            "settings": settings,
            **sim,
            "files": [str(path)],
        }
        print_json(out)
        return 0
    print(_describe(conf))
    print(
        f"{result.scheme}, {result.workers} workers: step {format_duration(result.step_time_s)}"
        f" = compute {format_duration(result.compute_s)} + wait {format_duration(result.wait_s)}"
        f" + comm {format_duration(result.comm_s)} + update {format_duration(result.update_s)}"
    )
    phases = ", ".join(f"{name} {format_duration(t)}" for name, t in result.phases)
    print(f"synchronisation phases: {phases}")
    if result.ps_hot_shard is not None:
        shards = " ".join(format_bytes(b) for b in result.ps_shard_bytes)
        print(
            f"parameter-server shards ({result.tensor_placement}), bytes per worker push: "
            f"{shards}; hot shard #{result.ps_hot_shard}, max/mean {result.ps_imbalance:.2f}"
        )
    print(f"wrote {path}")
    return 0


def _timeline_trace(args: argparse.Namespace) -> int:
    """``timeline --trace``: draw a real run's measured steps."""
    from tinygrad_opt.cluster.plots import plot_events
    from tinygrad_opt.distributed.trace import load_trace, summarize_trace, trace_events

    try:
        trace = load_trace(args.trace)
    except ValueError as e:
        raise UsageError(str(e)) from None
    first = args.first_step
    if first is not None and first < 0:
        raise UsageError(f"--first-step must be a step number >= 0, got {first}")
    steps = None if first is None else (first, first + args.show_steps)
    if steps is None:
        all_steps = sorted({e[0] for r in trace["ranks"] for e in r["events"]})
        if not all_steps:
            raise UsageError(f"trace {args.trace} has no events")
        start = all_steps[min(1, len(all_steps) - 1)]  # skip the warm-up step
        steps = (start, start + args.show_steps)
    events = trace_events(trace, steps=steps, max_ranks=args.max_rows)
    if not events:
        raise UsageError(f"trace {args.trace} has no events in steps {steps[0]}..{steps[1] - 1}")
    summary = summarize_trace(trace)
    meta = trace.get("meta", {})
    title = (
        f"measured: {meta.get('mode', '?')}, {trace['world_size']} ranks, steps "
        f"{steps[0]}-{steps[1] - 1} (mean step {summary['mean_step_s'] * 1e3:.3g} ms)"
    )
    path = _write("--out", args.out, plot_events, events, title=title)
    if args.json:
        print_json({"summary": summary, "events": events, "files": [str(path)]})
        return 0
    print(f"{title}\nwrote {path}")
    return 0
