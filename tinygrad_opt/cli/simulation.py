"""What ``whatif``, ``timeline`` and ``plan`` share: the simulation flags and the table.

The flags (:data:`_SIM_FLAGS`: one per setting of a TOML cluster file, a comma list in
the ``cluster``, ``workload`` and ``scheme`` sections is a grid axis) become settings
merged over ``--config`` (:func:`_settings`), expanded into configurations
(:func:`_configurations`); a ``SpecError`` becomes a usage error naming the flag or the
file that set the field (:func:`_spec_error`). :func:`_describe` and :func:`_table` print
the workload and one row per configuration.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from tinygrad_opt.cli import UsageError

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
    ("--intra-topology", "cluster", "intra_topology",
     "wiring inside a node: link (default), pcie_tree, nvlink_cube_mesh (DGX-1), nvswitch"),
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
     "deterministic, lognormal, uniform, shifted_exponential, heterogeneous, empirical"),
    ("--sigma", "compute", "sigma", "lognormal log-std of compute times (implies lognormal)"),
    ("--spread", "compute", "spread",
     "uniform compute times in [1-a, 1+a] x the mean, a in [0, 1) (implies uniform)"),
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
    ("--scheme", "scheme", "name",
     "ps, ring, tree, halving_doubling, hierarchical, double_binary_tree, nccl"),
    ("--ps-shards", "scheme", "ps_shards", "parameter-server shards k (default 1)"),
    ("--ps-placement", "scheme", "ps_placement",
     "dedicated (extra machines), colocated, or host (one machine's host memory)"),
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


def _add_simulation_flags(p: argparse.ArgumentParser, lists: str | None = "swept") -> None:
    """The simulation flags; ``lists``: what a comma list does in the command's help
    (``whatif`` sweeps it, ``plan`` searches it; None: one value each, ``timeline``)."""
    p.add_argument("--config", default=None, help="TOML cluster file (flags override it)")
    for flag, section, _, text in _SIM_FLAGS:
        if section in _LISTS and lists:
            text += f" (comma list: {lists})"
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
    if flag == "--params" and len(items) > 1 and all(re.fullmatch(r"\d{3}", t) for t in items[1:]):
        raise UsageError(
            f"--params {text!r} reads as thousands separators, but a comma separates values "
            f"to sweep: write {''.join(items)} or {int(''.join(items)) / 1e6:g}M"
        )
    return items[0] if len(items) == 1 else items


_IMPLIED_KIND = {"--sigma": "lognormal", "--spread": "uniform",
                 "--shift-fraction": "shifted_exponential"}  # fmt: skip
"""The compute model each of these flags implies (the model's own parameter)."""


def _check_compute_flags(args: argparse.Namespace) -> None:
    """Flags that choose different compute models are one mistake, named in flags."""
    given = {f: k for f, k in _IMPLIED_KIND.items() if getattr(args, f[2:].replace("-", "_"))}
    kind = getattr(args, "compute_model", None)
    if kind is not None:
        kind = kind.strip().lower()
        given |= {"--compute-model": kind}
    if len(set(given.values())) > 1:
        flags = " and ".join(given)
        kinds = ", ".join(dict.fromkeys(given.values()))
        raise UsageError(f"{flags} choose different compute models ({kinds}); give one")


def _flag_settings(args: argparse.Namespace) -> dict:
    """Settings (the sections of a TOML file) from the flags that were given."""
    _check_compute_flags(args)
    if getattr(args, "bytes_per_param", None) and getattr(args, "grad_dtype", None):
        raise UsageError("--bytes-per-param and --grad-dtype both set the gradient bytes: give one")
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
    if flag and getattr(e, "value", 0) is None:  # a required input nobody gave
        return UsageError(f"{str(e).removesuffix(', got None')}: give {flag}")
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


def _describe(conf, batches: Any = ()) -> str:
    """One line about the workload of ``conf``; ``batches``: the per-worker batches the
    grid varies (then the batch and the compute per step are the table's)."""
    from tinygrad_opt.cluster.units import format_bytes, format_duration

    wl, c = conf.workload, conf.cluster
    batches = sorted(set(batches))
    steps = (
        f"{wl.steps} steps"
        if wl.steps is not None
        else f"steps from S_min={wl.large_batch.s_min:g}, B_noise={wl.large_batch.b_noise:g}"
    )
    model = "" if wl.model is None else f"{wl.model}: "
    tensors = "" if wl.tensor_sizes is None else f" in {len(wl.tensor_sizes)} tensors"
    speeds = ", unequal speeds" if getattr(c.compute, "speed_factors", None) else ""
    batch = f"per-worker batch {', '.join(map(str, batches or [wl.per_worker_batch]))}"
    if len(batches) > 1 and wl.compute_time_per_example is not None:
        compute = f"compute {format_duration(wl.compute_time_per_example)}/example"
    else:
        compute = f"compute {format_duration(wl.compute_time)}/step"
    return (
        f"{model}{wl.parameters:,} parameters{tensors}, "
        f"{format_bytes(wl.gradient_bytes)} of gradients; {batch}"
        f"{'' if wl.grad_accumulation == 1 else f' × {wl.grad_accumulation} micro-batches'}; "
        f"{compute} ({c.compute.kind}{speeds}); {steps}"
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
