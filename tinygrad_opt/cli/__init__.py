"""The ``tinygrad-opt`` command line.

    tinygrad-opt compare --function rosenbrock --optimizers sgd,momentum,adam --steps 500 \
        --out fig.png [--gif fig.gif] [--json]
    tinygrad-opt list                      # optimizers and test functions
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

``whatif`` simulates synchronous data-parallel SGD (:mod:`tinygrad_opt.cluster`) for every
combination of the comma-separated flag values and prints one row per configuration;
``timeline`` draws the Gantt chart of a few simulated steps of one configuration. See
``docs/cluster.md``.

Bad input (an unknown optimizer, function or scheme name, a bad number or unit, an
inconsistent cluster, a malformed TOML file, a value past the simulator's limits or one
whose result overflows, an output path with an unknown extension or in a missing folder)
exits with code 2 and a message naming the field and the value — never a traceback —
before any work is done and without writing anything.
"""

from __future__ import annotations

import argparse
import json
import re
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

COMPARE_MAX_STEPS = 100_000
"""Most ``compare --steps``: the playground keeps every point and steps in Python."""

LAUNCH_MAX_RANKS = 1_000_000  # as the simulator's workers
LAUNCH_MAX_LOCAL_RANKS = 1024
"""Most ``launch -n`` ranks without ``--hostfile``: one process each on this machine."""

TIMELINE_DEFAULT_OUT = "out/timeline.png"
TIMELINE_MAX = 100
"""Most steps (``--show-steps``) and worker rows (``--max-rows``) a timeline draws."""


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
    if p.suffix.lower() not in suffixes:
        raise UsageError(
            f"{flag}: cannot write {path!r}: unknown extension {p.suffix or '(none)'!r}; "
            f"expected {', '.join(suffixes)}"
        )
    if p.is_dir():
        raise UsageError(f"{flag}: {path!r} is a folder; give a file name")
    folder = p.parent
    if default:
        return  # the writer creates it
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UsageError(f"{flag}: cannot write {path!r}: folder {str(folder)!r} {what}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag}: cannot write {path!r}: folder {str(folder)!r} is not writable")


def _cmd_compare(args: argparse.Namespace) -> int:
    from tinygrad_opt import optim, playground

    if args.steps > COMPARE_MAX_STEPS:
        raise UsageError(
            f"--steps: must be <= {COMPARE_MAX_STEPS:,} (about a minute for five optimizers), "
            f"got {args.steps:,}"
        )
    _check_output("--out", args.out, FIGURE_SUFFIXES)
    _check_output("--gif", args.gif, (".gif",))

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

    if args.lr is not None and not math.isfinite(args.lr):
        raise UsageError(f"--lr must be a finite number, got {args.lr}")
    if start is not None and not all(map(math.isfinite, start)):
        raise UsageError(f"--start must be two finite numbers, got {args.start!r}")
    try:  # a diverging run shows as nan and "never": numpy need not warn about it
        with np.errstate(all="ignore"):
            run = playground.run(
                args.function, args.optimizers, args.steps, start=start, lr=args.lr
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
    print("models:     " + ", ".join(_model_names()) + "  (whatif --list-models)")
    return 0


def _model_names() -> list[str]:
    from tinygrad_opt.cluster.models import MODEL_NAMES

    return list(MODEL_NAMES)


def _print_models(as_json: bool) -> int:
    """The built-in model profiles of ``whatif --model``, one a line (or JSON)."""
    from tinygrad_opt.cluster.models import list_models

    rows = list_models()
    if as_json:
        print(json.dumps({"models": rows}, indent=2))
        return 0
    head = f"{'model':<20}{'parameters':>15}{'tensors':>9}  {'largest tensor':<34}{'share':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:<20}{r['parameters']:>15,}{r['tensors']:>9}  "
              f"{r['largest_tensor']:<34}{100 * r['largest_share']:>6.1f}%")  # fmt: skip
    return 0


# ============================================================================ cluster what-ifs
DEFAULT_STEPS = 10_000
"""Steps to train when neither ``--steps`` nor ``--s-min``/``--b-noise`` (nor the file) says."""

# (flag, section, key, help); section "compute" / "large_batch" are sub-tables
_SIM_FLAGS: tuple[tuple[str, str, str, str], ...] = (
    ("--workers", "cluster", "workers", "worker processes, e.g. 1,8,64,256"),
    ("--nodes", "cluster", "nodes", "machines, instead of --workers (workers = nodes × devices)"),
    ("--devices-per-node", "cluster", "devices_per_node", "workers sharing a NIC (default 1)"),
    ("--bandwidth", "cluster", "bandwidth", "each node's NIC, each way: 25Gbit/s, 10GB/s, ..."),
    ("--latency", "cluster", "latency", "message latency between nodes: 5us, 0.1ms, ..."),
    ("--intra-bandwidth", "cluster", "intra_bandwidth", "per-device link inside a node: 300GB/s"),
    ("--intra-latency", "cluster", "intra_latency", "latency inside a node (default --latency)"),
    ("--price", "cluster", "price_per_node_hour", "price of one node for one hour"),
    ("--ps-price", "cluster", "ps_price_per_node_hour", "price of a dedicated PS machine/hour"),
    ("--cores-per-node", "cluster", "cores_per_node", "CPU cores a node's workers share"),
    ("--turn-time", "cluster", "turn_time",
     "waiting per step for turns on the cores, with more workers than cores: 0.5ms"),
    ("--gpu-memory", "cluster", "gpu_memory",
     "memory of one GPU: 80GB; configurations whose model states do not fit are infeasible"),
    ("--reduce-bandwidth", "cluster", "reduce_bandwidth",
     "bytes/s a worker adds gradients at (reductions cost M/R; default free): 8GB/s"),
    ("--transport", "cluster", "transport",
     "communication software: nccl, mpi, mpi_gpudirect, grpc, gloo (default ideal links)"),
    ("--compute-model", "compute", "kind",
     "deterministic, lognormal, shifted_exponential, heterogeneous, empirical"),
    ("--sigma", "compute", "sigma", "lognormal log-std of compute times (implies lognormal)"),
    ("--shift-fraction", "compute", "shift_fraction",
     "shifted-exponential constant part in [0, 1) (implies shifted_exponential)"),
    ("--speed-factors", "compute", "speed_factors", "per-worker (or per-node) speeds: 1,1,0.5"),
    ("--compute-samples", "compute", "samples", "measured step times in seconds (empirical)"),
    ("--params", "workload", "parameters", "trainable parameters: 25.6e6, 25.6M"),
    ("--model", "workload", "model",
     "built-in model profile, per-tensor sizes: vgg16, resnet50, gpt2 ... (--list-models)"),
    ("--per-worker-batch", "workload", "per_worker_batch", "examples per worker per step (32)"),
    ("--compute-time", "workload", "compute_time_per_step", "mean fwd+bwd time per step: 0.12s"),
    ("--compute-time-per-example", "workload", "compute_time_per_example",
     "or per example (the step takes it × per-worker batch)"),
    ("--bytes-per-param", "workload", "bytes_per_param", "gradient bytes/parameter: 4, fp16 ..."),
    ("--grad-dtype", "workload", "grad_dtype",
     "gradient (and weight) dtype: fp16, bf16 (2 bytes, mixed precision), fp32"),
    ("--grad-accumulation", "workload", "grad_accumulation",
     "micro-batches per optimiser step (communication once per k; default 1)"),
    ("--optimizer-bytes", "workload", "optimizer_bytes_per_param",
     "optimizer state bytes/parameter for memory (default Adam: 12 mixed, 8 fp32)"),
    ("--steps", "workload", "steps", f"optimiser steps to train (default {DEFAULT_STEPS})"),
    ("--s-min", "large_batch", "s_min", "large-batch target: S_min steps (McCandlish et al.)"),
    ("--b-noise", "large_batch", "b_noise", "large-batch target: noise scale B_noise"),
    ("--e-min", "large_batch", "e_min", "large-batch target: E_min examples"),
    ("--update-time", "workload", "update_time", "optimiser update of the whole model: 2ms"),
    ("--backward-fraction", "workload", "backward_fraction", "backward share of compute (2/3)"),
    ("--scheme", "scheme", "name", "ps, ring, tree, halving_doubling, hierarchical"),
    ("--ps-shards", "scheme", "ps_shards", "parameter-server shards k (default 1)"),
    ("--ps-placement", "scheme", "ps_placement", "dedicated (extra machines) or colocated"),
    ("--backup-workers", "scheme", "backup_workers", "slowest gradients dropped per step (ps)"),
    ("--placement", "scheme", "tensor_placement",
     "PS tensors to shards: round_robin (default), greedy, split (MXNet), even"),
    ("--split-threshold", "scheme", "split_threshold",
     "elements from which --placement split cuts a tensor over all shards (1e6)"),
    ("--buckets", "scheme", "buckets", "gradient buckets with --overlap (default by size)"),
    ("--bucket-bytes", "scheme", "bucket_bytes", "bucket cap with --overlap (default 25MiB)"),
    ("--bucket-mb", "scheme", "bucket_bytes",
     "DDP bucket cap in MiB with --overlap (PyTorch's bucket_cap_mb, default 25)"),
    ("--first-bucket-mb", "scheme", "first_bucket_bytes", "DDP's first bucket in MiB (1)"),
    ("--fusion-mb", "scheme", "fusion_bytes",
     "Horovod tensor fusion threshold in MiB (64) instead of DDP buckets; implies overlap"),
    ("--cycle-time", "scheme", "cycle_time", "Horovod cycle time with --fusion-mb (5ms)"),
    ("--zero-stage", "scheme", "zero_stage",
     "sharded data parallel: 0 (off), 1, 2, 3 (ZeRO stages; 3 = FSDP)"),
    ("--compression", "scheme", "compression", "gradient bytes divided by this on the wire"),
    ("--node-mtbf", "failures", "node_mtbf", "mean time between failures of one machine: 5000h"),
    ("--checkpoint-cost", "failures", "checkpoint_cost", "time to write a checkpoint: 30s"),
    ("--restart-cost", "failures", "restart_cost", "time to restart after a failure: 5min"),
    ("--checkpoint-interval", "failures", "checkpoint_interval", "daly (default), young or 1h"),
    ("--seed", "simulation", "seed", "random seed (default 0)"),
    ("--samples", "simulation", "steps_to_sample", "Monte Carlo steps per configuration (1000)"),
)  # fmt: skip
_LISTS = {"cluster", "workload", "scheme"}  # their comma-separated flags are grid axes
_NUMBER_LISTS = {"speed_factors", "samples"}  # values that are lists of numbers
_FIELD_FLAG = {
    **{(f"{sec}.{key}" if sec in ("compute", "large_batch", "failures") else key): flag
       for flag, sec, key, _ in _SIM_FLAGS},
    "scheme": "--scheme",
    "large_batch": "--s-min/--b-noise/--e-min",
    "local_aggregation": "--local-aggregation",
    "summation_service": "--summation-service",
}  # fmt: skip


def _scheme_cell(row: dict) -> str:
    """The scheme label, with local aggregation, a summation service and the transport."""
    out = row["scheme_label"]
    if row.get("local_aggregation"):
        out += " +local agg."
    if row.get("summation_service"):
        out += " +summation"
    if row.get("transport", "ideal") != "ideal":
        out += f" [{row['transport']}]"
    return out


def _add_simulation_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="TOML cluster file (flags override it)")
    for flag, section, _, text in _SIM_FLAGS:
        if section in _LISTS:
            text += " (comma list: swept)"
        p.add_argument(flag, default=None, metavar="V", help=text)
    p.add_argument(
        "--overlap",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="overlap bucketed communication with the backward pass (PyTorch DDP)",
    )
    p.add_argument(
        "--local-aggregation",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ps: sum the GPUs of a node first, push one aggregate per node",
    )
    p.add_argument(
        "--summation-service",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ps: dedicated shards are CPU-only summation machines; workers update (BytePS)",
    )


def _split(flag: str, text: str) -> str | list[str]:
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise UsageError(f"{flag}: empty item in {text!r}")
    return items[0] if len(items) == 1 else items


def _flag_settings(args: argparse.Namespace) -> dict:
    """Settings (the sections of a TOML file) from the flags that were given."""
    out: dict[str, dict] = {}
    for flag, section, key, _ in _SIM_FLAGS:
        text = getattr(args, flag[2:].replace("-", "_"))
        if text is None:
            continue
        if key in _NUMBER_LISTS:
            try:
                value: object = [float(t) for t in _as_list(_split(flag, text))]
            except ValueError:
                raise UsageError(
                    f"compute.{key}: expected comma-separated numbers, got {text!r} (from {flag})"
                ) from None
        elif section in _LISTS:
            value = _split(flag, text)
            if flag in _MIB_FLAGS:
                if getattr(args, "bucket_bytes", None) is not None and key == "bucket_bytes":
                    raise UsageError("--bucket-mb and --bucket-bytes set the same cap: give one")
                value = _mib(flag, value)
        else:
            value = text.strip()
        if section == "compute":
            out.setdefault("cluster", {}).setdefault("compute", {})[key] = value
        elif section == "large_batch":
            out.setdefault("workload", {}).setdefault("large_batch", {})[key] = value
        else:
            out.setdefault(section, {})[key] = value
    if args.overlap is not None:
        out.setdefault("scheme", {})["overlap"] = args.overlap
    for key in ("local_aggregation", "summation_service"):
        if getattr(args, key, None) is not None:
            out.setdefault("cluster", {})[key] = getattr(args, key)
    return out


_MIB_FLAGS = ("--bucket-mb", "--first-bucket-mb", "--fusion-mb")


def _mib(flag: str, value: str | list[str]) -> str | list[str]:
    """``"25"`` -> ``"25MiB"`` (PyTorch's ``bucket_cap_mb`` is in MiB)."""
    out = []
    for v in _as_list(value):
        try:
            float(v)
        except ValueError:
            raise UsageError(f"{flag}: expected a number of MiB, got {v!r}") from None
        out.append(f"{v}MiB")
    return out[0] if len(out) == 1 else out


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _settings(args: argparse.Namespace) -> dict:
    from tinygrad_opt.cluster.config import load_toml, merge_settings

    base = load_toml(args.config) if args.config else {}
    merged = merge_settings(base, _flag_settings(args))
    work = merged.setdefault("workload", {})
    if "steps" not in work and "large_batch" not in work:
        work["steps"] = DEFAULT_STEPS
    return merged


def _spec_error(e: Exception, args: argparse.Namespace) -> UsageError:
    """A ``SpecError`` as a usage error, pointing at the flag (or file) that set the field."""
    field = getattr(e, "field", None)
    flag = _FIELD_FLAG.get(field) if isinstance(field, str) else None
    if flag and any(getattr(args, f[2:].replace("-", "_"), None) is not None
                    for f in flag.split("/")):  # fmt: skip
        return UsageError(f"{e} (from {flag})")
    if getattr(args, "config", None) and field != "config":
        return UsageError(f"{e} (in {args.config})")
    return UsageError(str(e))


def _configurations(args: argparse.Namespace) -> tuple[dict, list, dict]:
    from tinygrad_opt.cluster.config import expand, simulation_options
    from tinygrad_opt.cluster.validation import SpecError

    try:
        settings = _settings(args)
        confs = expand(settings)
        sim = simulation_options(settings)
    except (SpecError, ValueError, TypeError) as e:
        raise _spec_error(e, args) from None
    return settings, confs, sim


def _cmd_whatif(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tinygrad_opt.cluster.config import result_row
    from tinygrad_opt.cluster.validation import SpecError

    if args.list_models:
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
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(_describe(confs[0]))
    print(_table(rows, [conf.setting for conf in confs]))
    reasons = dict.fromkeys(r["infeasible_reason"] for r in rows if not r["feasible"])
    for reason in reasons:
        print(f"infeasible: {reason}")
    for path in files:
        print(f"wrote {path}")
    return 0


def _write(flag: str, path: str, writer, data, **kwargs) -> str:
    """``writer(data, path, **kwargs)``; a file that cannot be written is a usage error."""
    try:
        return str(writer(data, path, **kwargs))
    except OSError as e:
        raise UsageError(f"{flag}: cannot write {path!r} ({e.strerror or e})") from None


def _describe(conf) -> str:
    from tinygrad_opt.cluster.units import format_bytes, format_duration

    wl, c = conf.workload, conf.cluster
    steps = (
        f"{wl.steps} steps"
        if wl.steps is not None
        else f"steps from S_min={wl.large_batch.s_min:g}, B_noise={wl.large_batch.b_noise:g}"
    )
    model = "" if wl.model is None else f"{wl.model}: "
    tensors = "" if wl.tensor_sizes is None else f" in {len(wl.tensor_sizes)} tensors"
    return (
        f"{model}{wl.parameters:,} parameters{tensors}, "
        f"{format_bytes(wl.gradient_bytes)} of gradients; "
        f"per-worker batch {wl.per_worker_batch}"
        f"{'' if wl.grad_accumulation == 1 else f' × {wl.grad_accumulation} micro-batches'}; "
        f"compute {format_duration(wl.compute_time)}"
        f"/step ({c.compute.kind}); {steps}"
    )


# grid keys the table shows in their own columns or in the scheme label
_SHOWN_KEYS = {"workers", "nodes", "scheme", "model", "bandwidth", "latency", "overlap",
               "compression", "zero_stage", "per_worker_batch", "ps_shards", "ps_placement",
               "backup_workers", "tensor_placement", "transport", "local_aggregation",
               "summation_service"}  # fmt: skip


def _table(rows: list[dict], settings: list[dict] | None = None) -> str:
    from tinygrad_opt.cluster.units import format_bandwidth, format_duration

    def varies(key: str) -> bool:
        return len({r[key] for r in rows}) > 1

    cols: list[tuple[str, object]] = [("scheme", _scheme_cell)]
    if settings:  # other grid axes (--bucket-mb 25,100, --grad-dtype ...): one column
        other = {id(r): ", ".join(f"{k}={v}" for k, v in st.items() if k not in _SHOWN_KEYS)
                 for r, st in zip(rows, settings)}  # fmt: skip
        if any(other.values()):
            cols.append(("setting", lambda r: other[id(r)] or "-"))
    if varies("model"):
        cols.append(("model", lambda r: r["model"] or "-"))
    cols.append(("workers", lambda r: r["workers"]))
    if any(r["devices_per_node"] > 1 for r in rows):
        cols.append(("nodes×dev", lambda r: f"{r['nodes']}×{r['devices_per_node']}"))
    cols.append(("bandwidth", lambda r: format_bandwidth(r["bandwidth"])))
    if varies("latency"):
        cols.append(("latency", lambda r: format_duration(r["latency"])))
    cols.append(("batch", lambda r: r["global_batch"]))
    for key in ("step_time_s", "compute_s", "wait_s", "comm_s", "update_s"):
        if key != "update_s" or any(r[key] > 0 for r in rows):
            cols.append((key.removesuffix("_s").replace("_time", ""),
                         lambda r, k=key: format_duration(r[k])))  # fmt: skip
    if any(r["zero_stage"] or r["gpu_memory"] is not None or r["grad_accumulation"] > 1
           for r in rows):  # fmt: skip
        cols.append(("memory/GPU", _memory_cell))
    if any((r["ps_imbalance"] or 1.0) != 1.0 for r in rows):  # uneven parameter servers
        cols.append(("hot shard", _hot_shard))
    cols += [
        ("examples/s", lambda r: f"{r['throughput']:,.0f}" if r["throughput"] >= 100
         else f"{r['throughput']:.3g}"),
        ("speedup", lambda r: f"{r['speedup']:.3g}"),
        ("efficiency", lambda r: f"{100 * r['scaling_efficiency']:.1f}%"),
        ("steps", lambda r: r["steps"]),
        ("total time", lambda r: format_duration(r["total_time_s"])),
        ("cost", lambda r: f"{r['cost']:,.2f}"),
    ]  # fmt: skip
    cells = [[str(fn(r)) for _, fn in cols] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, (h, _) in enumerate(cols)]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (v.rjust(w) for v, w in zip(values[1:], widths[1:]))
        return "  ".join([first, *rest]).rstrip()

    out = [line([h for h, _ in cols]), line(["-" * w for w in widths])]
    out += [line(c) for c in cells]
    return "\n".join(out)


def _memory_cell(row: dict) -> str:
    """``"16.6GB"`` (model states per GPU), ``"41.2GB (no fit)"`` when over --gpu-memory."""
    from tinygrad_opt.cluster.units import format_bytes

    text = format_bytes(row["memory_per_gpu_bytes"])
    return text if row["feasible"] else f"{text} (no fit)"


def _hot_shard(row: dict) -> str:
    """``"#2 45.1MB 3.28x"``: the hot PS shard, its bytes per worker push and max/mean."""
    from tinygrad_opt.cluster.units import format_bytes

    if row["ps_hot_shard"] is None:
        return "-"
    return (
        f"#{row['ps_hot_shard']} {format_bytes(row['ps_hot_shard_bytes'])} "
        f"{row['ps_imbalance']:.2f}x"
    )


def _cmd_timeline_trace(args: argparse.Namespace) -> int:
    from tinygrad_opt.cluster.plots import plot_events
    from tinygrad_opt.distributed.trace import load_trace, summarize_trace, trace_events

    try:
        trace = load_trace(args.trace)
    except ValueError as e:
        raise UsageError(str(e)) from None
    first = args.first_step
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
        print(json.dumps({"summary": summary, "events": events, "files": [str(path)]}, indent=2))
        return 0
    print(f"{title}\nwrote {path}")
    return 0


def _cmd_launch(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    for flag, value in (("--timeout", args.timeout), ("--rank-timeout", args.rank_timeout)):
        if value is not None and not 0 < value < float("inf"):  # also NaN
            raise UsageError(f"{flag} must be a positive number of seconds, got {value}")
    if args.n > LAUNCH_MAX_RANKS:
        raise UsageError(f"-n {args.n:,}: at most {LAUNCH_MAX_RANKS:,} ranks")
    if args.hostfile is None and args.n > LAUNCH_MAX_LOCAL_RANKS:
        raise UsageError(
            f"-n {args.n:,}: at most {LAUNCH_MAX_LOCAL_RANKS:,} ranks on this machine "
            "(give --hostfile to spread more over several hosts)"
        )
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        raise UsageError('mpiexec not found: pip install "tinygrad-opt[dist]" (mpi4py, mpich)')
    if not args.command_args:
        raise UsageError("give the script to run, e.g. tinygrad-opt launch -n 4 train.py")
    cmd = [mpiexec, "-n", str(args.n)]
    from tinygrad_opt.distributed.launch import rank_environment

    # one BLAS thread per rank; MPICH backs off when ranks outnumber this machine's CPUs
    env = rank_environment(args.n, single_host=args.hostfile is None)
    if args.rank_timeout is not None:
        # the ranks' watchdogs name a crashed rank; hydra must let the others live that long
        env["TINYGRAD_OPT_TIMEOUT"] = str(args.rank_timeout)
        cmd.append("-disable-auto-cleanup")
    if args.hostfile:
        cmd += ["-f", args.hostfile]
    if args.iface:
        cmd += ["-iface", args.iface]
    script, *rest = args.command_args
    cmd += [sys.executable, script, *rest] if script.endswith(".py") else [script, *rest]
    if args.dry_run:
        extra = f"TINYGRAD_OPT_TIMEOUT={env['TINYGRAD_OPT_TIMEOUT']} " if args.rank_timeout else ""
        print(extra + " ".join(cmd))
        return 0
    try:
        return subprocess.run(cmd, timeout=args.timeout, env=env).returncode
    except subprocess.TimeoutExpired:
        print(f"tinygrad-opt launch: the job ran longer than {args.timeout} s; stopped it",
              file=sys.stderr)  # fmt: skip
        return 124


def _cmd_timeline(args: argparse.Namespace) -> int:
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
        return _cmd_timeline_trace(args)
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
        print(json.dumps(out, indent=2, default=str))
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
    cmp.add_argument("--out", default=None, help="PNG (or PDF, SVG) of the paths and losses")
    cmp.add_argument("--gif", default=None, help="animated GIF of the paths")
    cmp.add_argument("--json", action="store_true", help="print the numbers as JSON")
    cmp.set_defaults(handler=_cmd_compare)

    lst = sub.add_parser("list", help="list optimizers and test functions")
    lst.set_defaults(handler=_cmd_list)

    wif = sub.add_parser(
        "whatif",
        help="simulate synchronous SGD on a cluster: one table row per configuration",
        description="Simulate synchronous data-parallel SGD for every combination of the "
        "comma-separated values (see docs/cluster.md). Units: 25Gbit/s = 25Gbps (bits), "
        "10GB/s (bytes); 5us, 1.5ms, 0.12s, 2h.",
    )
    _add_simulation_flags(wif)
    wif.add_argument("--out", default=None, help="PNG: speed-up and efficiency vs workers")
    wif.add_argument("--csv", default=None, help="also write the rows as CSV")
    wif.add_argument("--json", action="store_true", help="print the rows as JSON")
    wif.add_argument("--no-progress", action="store_true", help="no progress bar")
    wif.add_argument(
        "--list-models", action="store_true", help="list the built-in --model profiles and exit"
    )
    wif.set_defaults(handler=_cmd_whatif)

    tl = sub.add_parser(
        "timeline",
        help="Gantt chart of a few simulated steps of one configuration",
        description="Simulate one configuration (the flags of `whatif`, one value each) and "
        "draw its first steps: compute, waiting, communication, update.",
    )
    _add_simulation_flags(tl)
    tl.add_argument("--out", default=None, help=f"PNG, PDF or SVG (default {TIMELINE_DEFAULT_OUT})")
    tl.add_argument("--show-steps", type=int, default=4, help="steps drawn (default 4)")
    tl.add_argument("--max-rows", type=int, default=12, help="worker rows drawn (default 12)")
    tl.add_argument("--json", action="store_true", help="print the result and events as JSON")
    tl.add_argument(
        "--trace",
        default=None,
        help="draw a real run's JSON trace (DistributedOptimizer.trace.write) instead of "
        "simulating; the simulation flags are then ignored",
    )
    tl.add_argument(
        "--first-step", type=int, default=None, help="--trace: first step drawn (default 1)"
    )
    tl.set_defaults(handler=_cmd_timeline)

    la = sub.add_parser(
        "launch",
        help="run a script on N MPI ranks (mpiexec -n N python script.py ...)",
        description="Start a data-parallel job: mpiexec -n N [-f hostfile] [-iface IF] "
        "python SCRIPT ARGS (see docs/distributed.md for multi-host runs).",
    )
    la.add_argument("-n", type=_positive_int, required=True, help="number of ranks")
    la.add_argument("--hostfile", default=None, help="MPICH hostfile: one 'host:slots' a line")
    la.add_argument("--iface", default=None, help="network interface for MPI (e.g. eth0)")
    la.add_argument("--timeout", type=float, default=None, help="stop the job after S seconds")
    la.add_argument(
        "--rank-timeout",
        type=float,
        default=None,
        help="S: a rank waiting S seconds for a lost (crashed or hung) rank ends the job and "
        "names it (sets TINYGRAD_OPT_TIMEOUT for dist.init and mpiexec -disable-auto-cleanup)",
    )
    la.add_argument("--dry-run", action="store_true", help="print the mpiexec command only")
    la.add_argument("command_args", nargs=argparse.REMAINDER, help="script.py and its args")
    la.set_defaults(handler=_cmd_launch)

    from tinygrad_opt.cli import calibrate as calibrate_cmd  # numpy + stdlib only

    cal = sub.add_parser(
        "calibrate",
        help="measure this machine with MPI, fit the simulator, write a TOML cluster file",
        description="Run a short all-reduce / gather-broadcast sweep and a few training "
        "steps on MPI, fit latency, bandwidth, compute time and contention, and write a "
        "cluster file that `tinygrad-opt whatif --config` accepts (docs/calibration.md).",
    )
    calibrate_cmd.add_arguments(cal)
    cal.set_defaults(handler=calibrate_cmd.run)
    from tinygrad_opt.cli import plan as plan_cmd

    pl = sub.add_parser(
        "plan",
        help="search whatif's grid for the fastest run under a budget, the cheapest under a "
        "deadline or the best time-cost trade-off",
        description="Evaluate every combination of the comma-separated values (whatif's "
        "flags) and choose: --minimize time|cost|tradeoff, --deadline, --budget. Prints the "
        "Pareto front and why the winner wins (docs/cluster.md#planning).",
    )
    plan_cmd.add_arguments(pl)
    pl.set_defaults(handler=plan_cmd.run)
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
    args = parser.parse_args(argv)  # argparse itself exits with 2 on malformed flags
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
