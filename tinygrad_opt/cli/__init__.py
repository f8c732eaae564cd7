"""The ``tinygrad-opt`` command line.

    tinygrad-opt compare --function rosenbrock --optimizers sgd,momentum,adam --steps 500 \
        --out fig.png [--gif fig.gif] [--json]
    tinygrad-opt list                      # optimizers and test functions
    tinygrad-opt playground --out playground.html [--functions ...] [--optimizers ...]
        [--steps 200] [--lr ...] [--rho1 ...] [--rho2 ...] [--momentum ...]   # one HTML page
    tinygrad-opt whatif --params 25.6e6 --workers 1,8,64,256 --compute-time 0.12s \
        --bandwidth 25Gbit/s --latency 5us --scheme ring,ps [--json] [--out scaling.png]
    tinygrad-opt whatif --config examples/clusters/a100_ring.toml [flags override the file]
    tinygrad-opt whatif --model vgg16 --scheme ps --ps-shards 4 --placement greedy ...
    tinygrad-opt whatif --list-models       # the built-in model profiles
    tinygrad-opt timeline --params 25.6e6 --workers 8 ... --out gantt.png
    tinygrad-opt timeline --trace run.json --out gantt.png   # a real run's measured steps
    tinygrad-opt launch -n 4 [--hostfile hosts] train.py [args]   # mpiexec for you
    tinygrad-opt calibrate --ranks 1,2,4 --out cluster.toml     # fit the simulator to MPI
    tinygrad-opt plan --params 25.6M --workers 8,16,32,64 --scheme ring,ps ... --deadline 36h
    tinygrad-opt benchmark --optimizers sgd,adam --workloads mlp,cnn --budget 8 --out b.json
    tinygrad-opt validate [--data mine.toml] [--json]   # predict published measurements

``whatif`` simulates synchronous data-parallel SGD (:mod:`tinygrad_opt.cluster`) for every
combination of the comma-separated flag values and prints one row per configuration;
``timeline`` draws the Gantt chart of a few simulated steps of one configuration. See
``docs/cluster.md``.

Bad input (an unknown optimizer, function or scheme name, a bad number or unit, an
inconsistent cluster, a malformed TOML file, a value past the simulator's limits or one
whose result overflows, an output path with an unknown extension or in a missing folder)
exits with code 2 and a message naming the field and the value — never a traceback —
before any work is done and without writing anything.

One module per command group: :mod:`~tinygrad_opt.cli.compare` (``compare``, ``list``),
:mod:`~tinygrad_opt.cli.playground` (``playground``, docs/playground.md),
:mod:`~tinygrad_opt.cli.whatif` (``whatif``, ``timeline``) with
:mod:`~tinygrad_opt.cli.simulation` (the simulation flags, settings and table they share
with ``plan``), :mod:`~tinygrad_opt.cli.launch`, :mod:`~tinygrad_opt.cli.calibrate`,
:mod:`~tinygrad_opt.cli.plan`, :mod:`~tinygrad_opt.cli.benchmark` and
:mod:`~tinygrad_opt.cli.validate`. This module builds the
parser and runs a command
(:func:`main`); the commands import their modules (and those their dependencies) only when
the parser is built.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any


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
        try:  # "1e4", "2.0": integral numbers written as floats
            as_float = float(text)
            value = int(as_float) if as_float.is_integer() else None
        except (ValueError, OverflowError):
            value = None
        if value is None:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
"""What ``--out`` of ``compare``, ``whatif`` and ``timeline`` writes (matplotlib formats)."""


def _check_output(
    flag: str, path: str | None, suffixes: Sequence[str], *, default: bool = False
) -> None:
    """Refuse an output path before any work: an unknown extension, a missing folder (a
    default path's folder is created instead), or a folder. Nothing is written here."""
    import os
    from pathlib import Path

    if path is None:
        return
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag}: {path!r} is a folder; give a file name")
    if p.suffix.lower() not in suffixes:
        raise UsageError(
            f"{flag}: cannot write {path!r}: unknown extension {p.suffix or '(none)'!r}; "
            f"expected {', '.join(suffixes)}"
        )
    folder = p.parent
    if default:
        return  # the writer creates it
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"{flag}: cannot write {path!r}: folder {str(folder)!r} {what}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag}: cannot write {path!r}: folder {str(folder)!r} is not writable")


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float, at any depth, replaced by None."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalars
        return _finite(value.item())
    return value


def print_json(data: Any, indent: int = 2) -> None:
    """Print ``data`` as strict JSON (RFC 8259): NaN and infinities become ``null``, which
    every parser reads; other objects are written as their ``str``."""
    import json

    print(json.dumps(_finite(data), indent=indent, default=str, allow_nan=False))


def _write(flag: str, path: str, writer, data, **kwargs) -> str:
    """``writer(data, path, **kwargs)``; a file that cannot be written is a usage error."""
    try:
        return str(writer(data, path, **kwargs))
    except OSError as e:
        raise UsageError(f"{flag}: cannot write {path!r} ({e.strerror or e})") from None


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line, ``tinygrad-opt CMD: error: ...``
    (exit code 2), without the usage block; ``--help`` still prints it."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from tinygrad_opt.cli import benchmark as benchmark_cmd
    from tinygrad_opt.cli import calibrate as calibrate_cmd  # numpy + stdlib only
    from tinygrad_opt.cli import compare as compare_cmd
    from tinygrad_opt.cli import launch as launch_cmd
    from tinygrad_opt.cli import plan as plan_cmd
    from tinygrad_opt.cli import playground as playground_cmd
    from tinygrad_opt.cli import validate as validate_cmd
    from tinygrad_opt.cli import whatif as whatif_cmd

    parser = _Parser(
        prog="tinygrad-opt", description="Understand and plan neural-network optimization."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, module: Any, **texts: str) -> None:
        """Subcommand ``name``: ``module.add_arguments`` its flags, ``module.run`` it."""
        p = sub.add_parser(name, **texts)
        module.add_arguments(p)
        p.set_defaults(handler=module.run)

    command(
        "compare",
        compare_cmd,
        help="run optimizers side by side on a 2-D test function",
        description="Run each optimizer from the same start on a 2-D test function and "
        "print its final loss and the steps it took to come within 1e-3 of the minimum; "
        "--out draws the paths and the losses, --gif animates them.",
    )

    command(
        "playground",
        playground_cmd,
        help="write the interactive playground: one HTML page with sliders (no network needed)",
        description="Run the optimizers over a grid of slider values on the 2-D test "
        "functions and write one self-contained HTML page that draws the paths and losses "
        "for the slider values chosen (docs/playground.md).",
    )

    lst = sub.add_parser("list", help="list optimizers and test functions")
    lst.set_defaults(handler=compare_cmd.run_list)

    wif = sub.add_parser(
        "whatif",
        help="simulate synchronous SGD on a cluster: one table row per configuration",
        description="Simulate synchronous data-parallel SGD for every combination of the "
        "comma-separated values (see docs/cluster.md). Units: 25Gbit/s = 25Gbps (bits), "
        "10GB/s (bytes); 5us, 1.5ms, 0.12s, 2h.",
    )
    whatif_cmd.add_whatif_arguments(wif)
    wif.set_defaults(handler=whatif_cmd.run_whatif)

    tl = sub.add_parser(
        "timeline",
        help="Gantt chart of a few simulated steps of one configuration",
        description="Simulate one configuration (the flags of `whatif`, one value each) and "
        "draw its first steps: compute, waiting, communication, update.",
    )
    whatif_cmd.add_timeline_arguments(tl)
    tl.set_defaults(handler=whatif_cmd.run_timeline)

    command(
        "launch",
        launch_cmd,
        help="run a script on N MPI ranks (mpiexec -n N python script.py ...)",
        description="Start a data-parallel job: mpiexec -n N [-f hostfile] [-iface IF] "
        "python SCRIPT ARGS (see docs/distributed.md for multi-host runs).",
    )

    command(
        "calibrate",
        calibrate_cmd,
        help="measure this machine with MPI, fit the simulator, write a TOML cluster file",
        description="Run a short all-reduce / gather-broadcast sweep and a few training "
        "steps on MPI, fit latency, bandwidth, compute time and contention, and write a "
        "cluster file that `tinygrad-opt whatif --config` accepts (docs/calibration.md).",
    )

    command(
        "plan",
        plan_cmd,
        help="search whatif's grid for the fastest run under a budget, the cheapest under a "
        "deadline or the best time-cost trade-off",
        description="Evaluate every combination of the comma-separated values (whatif's "
        "flags) and choose: --minimize time|cost|tradeoff, --deadline, --budget. Prints the "
        "Pareto front and why the winner wins (docs/cluster.md#planning).",
    )

    command(
        "benchmark",
        benchmark_cmd,
        help="optimizers x workloads with an equal tuning budget: time to target, "
        "performance profiles (resumable)",
        description="Random search over each method's declared space, the same number of "
        "trials for every method, on the workloads of tinygrad_opt.workloads; scored by "
        "time to target as AlgoPerf does; resumable (docs/benchmark.md).",
    )

    command(
        "validate",
        validate_cmd,
        help="predict published cluster measurements (or your own, same format) and report "
        "the errors and orderings",
        description="Turn every record of a data file (docs/validation-data.md) into "
        "simulator inputs by fixed rules, predict its scaling efficiency and compare: one "
        "row per record, median and 90th-percentile |error|, the worst-scaling model and "
        "parameter server against all-reduce (docs/validation.md).",
    )
    parser.set_defaults(
        value_flags={  # options that take a value, for _join_negative_values
            flag
            for sp in sub.choices.values()
            for action in sp._actions
            if action.nargs != 0
            for flag in action.option_strings
        }
    )
    return parser


_NEGATIVE = re.compile(r"^-\.?\d")


def _join_negative_values(argv: Sequence[str], value_flags: set[str]) -> list[str]:
    """``--latency -5us`` -> ``--latency=-5us``.

    argparse takes a value starting with ``-`` for an option unless it is a plain negative
    number, so ``-5us`` or ``-1.5,2`` would fail with "expected one argument" instead of
    reaching the check that names the field and the value.
    """
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in value_flags and i + 1 < len(tokens) and _NEGATIVE.match(tokens[i + 1]):
            out.append(f"{tok}={tokens[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    argv = _join_negative_values(argv, parser.get_default("value_flags"))
    args, extra = parser.parse_known_args(argv)  # malformed flags: exit 2, one line
    if extra:  # named with the subcommand they were given to
        print(
            f"tinygrad-opt {args.command}: error: unrecognized arguments: {' '.join(extra)}",
            file=sys.stderr,
        )
        return 2
    try:
        return args.handler(args)
    except UsageError as e:
        print(f"tinygrad-opt {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tinygrad-opt ... | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
