"""Run a grid of what-ifs and tabulate them.

``sweep(cluster, workload, {"workers": [1, 2, 4, 8, 16], "scheme": ["ps", "ring"],
"bandwidth": ["10Gbps", "100Gbps"]})`` simulates every combination (Cartesian product,
in the grid's key order, last key fastest) and returns a :class:`SweepTable`: a list of
dicts with the stable keys :data:`SWEEP_KEYS` plus one entry per grid key.

Grid keys may be any :class:`ClusterSpec` field (``workers``, ``nodes``,
``devices_per_node``, ``bandwidth``, ``latency``, ``intra_bandwidth``, ``compute``,
``price_per_node_hour`` ...), any :class:`Workload` field (``parameters``,
``per_worker_batch``, ``compute_time_per_step`` ...), ``scheme`` (names, dicts or
:class:`SyncScheme` objects), a scheme option (``ps_shards``, ``ps_placement``,
``backup_workers``, ``overlap``, ``buckets``, ``bucket_bytes``, ``compression``,
``tensor_placement``, ``split_threshold``) or ``failures``; ``model`` sweeps built-in
profiles. Changing ``workers`` keeps ``devices_per_node`` and re-derives ``nodes``.

Parameter-server options are ignored for all-reduce schemes, and identical resolved
configurations are simulated once (a grid ``scheme × ps_shards`` gives one ring row).
Combinations that are invalid (backup workers with an all-reduce, ``backup_workers >=
workers``, ...) are skipped when ``skip_invalid`` (the default) and listed in
``table.skipped`` with the reason; otherwise the ``SpecError`` is raised.

Every row uses the same ``seed`` (common random numbers), so differences between rows
come from the configurations, not from sampling noise.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from tinygrad_opt.cluster.failures import FailureSpec
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.simulate import SCHEME_OPTIONS, resolve_scheme, simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.validation import SpecError
from tinygrad_opt.cluster.workload import Workload

__all__ = ["SWEEP_KEYS", "SweepTable", "pareto_front", "sweep"]

SWEEP_KEYS: tuple[str, ...] = (
    "workers", "nodes", "devices_per_node", "scheme", "scheme_label", "ps_shards",
    "ps_placement", "backup_workers", "overlap", "compression", "bandwidth", "latency",
    "per_worker_batch", "global_batch", "step_time_s", "compute_s", "comm_s", "wait_s",
    "update_s", "throughput", "speedup", "scaling_efficiency", "steps", "total_time_s",
    "time_to_train_speedup", "cost", "machines", "bytes_sent_per_node", "busiest_link_bytes",
    "model", "tensor_placement", "ps_shard_bytes", "ps_hot_shard", "ps_hot_shard_bytes",
    "ps_imbalance", "transport", "intra_topology", "local_aggregation", "summation_service",
    "zero_stage", "grad_accumulation", "memory_per_gpu_bytes", "gpu_memory", "feasible",
    "infeasible_reason",
)  # fmt: skip
"""Keys present in every sweep row (seconds, bytes, bytes/s, examples/s, currency).

``scheme`` is the canonical name (``"ps"``), ``scheme_label`` the full description
(``"ps(k=4, colocated)+2 backup"``); the other values are as in
:class:`~tinygrad_opt.cluster.result.SimulationResult`.
"""

_CLUSTER_KEYS = tuple(f.name for f in fields(ClusterSpec) if f.name != "name")
_WORKLOAD_KEYS = tuple(f.name for f in fields(Workload) if f.name != "name")
_SCHEME_KEYS = ("scheme",) + SCHEME_OPTIONS
_PS_ONLY = ("ps_shards", "ps_placement", "tensor_placement", "split_threshold")
VALID_GRID_KEYS = _CLUSTER_KEYS + _WORKLOAD_KEYS + _SCHEME_KEYS + ("failures",)


class SweepTable(list):
    """A list of row dicts (keys :data:`SWEEP_KEYS` + grid keys) with a few helpers.

    Attributes:
        skipped: ``[{"config": {...}, "error": "..."}]`` for invalid combinations.
    """

    def __init__(self, rows: Sequence[dict[str, Any]] = (), skipped: Sequence[dict] = ()):
        super().__init__(rows)
        self.skipped: list[dict[str, Any]] = list(skipped)

    def column(self, key: str) -> list[Any]:
        """The values of one key, in row order."""
        return [row.get(key) for row in self]

    def best(self, key: str = "total_time_s", minimise: bool = True) -> dict[str, Any]:
        """The row with the smallest (or largest) ``key``."""
        if not self:
            raise ValueError("the sweep table is empty")
        pick = min if minimise else max
        return pick(self, key=lambda r: r[key])

    def to_csv(self, path: str | Path) -> Path:
        """Write the table as CSV (all keys seen, in first-seen order)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        keys: list[str] = []
        for row in self:
            keys += [k for k in row if k not in keys]
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            for row in self:  # a list (ps_shard_bytes) as one cell, values split by spaces
                writer.writerow(
                    {k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()}
                )
        return path


def pareto_front(
    rows: Sequence[Mapping[str, Any]], x: str = "total_time_s", y: str = "cost"
) -> list[Mapping[str, Any]]:
    """Rows not dominated in (``x``, ``y``), both minimised, sorted by ``x``.

    A row is dominated when another is no worse in both and better in one.
    """
    ordered = sorted(rows, key=lambda r: (r[x], r[y]))
    front: list[Mapping[str, Any]] = []
    best_y = float("inf")
    for row in ordered:
        if row[y] < best_y:
            front.append(row)
            best_y = row[y]
    return front


def _plain(value: Any) -> Any:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, SyncScheme):
        return value.label
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return str(value)


def sweep(
    cluster: ClusterSpec | Mapping[str, Any],
    workload: Workload | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    *,
    scheme: SyncScheme | str = "ring",
    steps_to_sample: int = 1000,
    seed: int | None = 0,
    failures: FailureSpec | None = None,
    progress: bool | None = None,
    skip_invalid: bool = True,
    threads: int | None = None,
) -> SweepTable:
    """Simulate every combination of ``grid`` values; see the module docstring.

    Args:
        cluster, workload: the base configuration that grid values modify.
        grid: ``{key: [values...]}``; a single non-list value is used as is.
        scheme: the base scheme (a grid ``scheme`` key overrides it).
        steps_to_sample, seed, failures, threads: passed to :func:`simulate`.
        progress: tqdm progress bar: ``True``/``False``, or ``None`` for one only on long
            sweeps (more than 20 combinations) in a terminal.
        skip_invalid: skip invalid combinations (listed in ``table.skipped``) instead of
            raising.
    """
    if not isinstance(cluster, ClusterSpec):
        cluster = ClusterSpec.from_dict(cluster)
    if not isinstance(workload, Workload):
        workload = Workload.from_dict(workload)
    if not isinstance(grid, Mapping):
        raise SpecError("grid", grid, "must be a dictionary of key -> list of values")
    unknown = [k for k in grid if k not in VALID_GRID_KEYS]
    if unknown:
        raise SpecError("grid", unknown, f"unknown key(s); valid: {', '.join(VALID_GRID_KEYS)}")
    keys = list(grid)
    values = []
    for k in keys:
        v = grid[k]
        seq = list(v) if isinstance(v, (list, tuple, range)) else [v]
        if not seq:
            raise SpecError(f"grid.{k}", v, "needs at least one value")
        values.append(seq)
    combos = list(itertools.product(*values))

    disable = (len(combos) <= 20 or None) if progress is None else (not progress)
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for combo in tqdm(combos, desc="sweep", unit="config", disable=disable, leave=False):
        setting = dict(zip(keys, combo))
        try:
            c_changes = {k: v for k, v in setting.items() if k in _CLUSTER_KEYS}
            w_changes = {k: v for k, v in setting.items() if k in _WORKLOAD_KEYS}
            c = cluster.replace(**c_changes) if c_changes else cluster
            wl = workload.replace(**w_changes) if w_changes else workload
            base = SyncScheme.coerce(setting.get("scheme", scheme))
            opts = {k: v for k, v in setting.items() if k in SCHEME_OPTIONS}
            if base.name != "ps":
                for k in _PS_ONLY:
                    opts.pop(k, None)
            s = resolve_scheme(c, base, **opts)
            f = setting.get("failures", failures)
            if f is not None and not isinstance(f, FailureSpec):
                f = FailureSpec.from_dict(f)
        except SpecError as err:
            if not skip_invalid:
                raise
            skipped.append(
                {"config": {k: _plain(v) for k, v in setting.items()}, "error": str(err)}
            )
            continue
        key = (c, wl, s, f)
        if key in seen:
            continue
        seen.add(key)
        r = simulate(
            c,
            wl,
            s,
            steps_to_sample=steps_to_sample,
            seed=seed,
            failures=f,
            threads=threads,
            timeline_steps=1,
        )
        d = r.to_dict()
        d.update(
            scheme=r.scheme_name,
            scheme_label=r.scheme,
            ps_shards=s.ps_shards,
            ps_placement=s.ps_placement,
        )
        row = {k: d[k] for k in SWEEP_KEYS}
        for k, v in setting.items():
            if k not in row:
                row[k] = _plain(v)
        rows.append(row)
    return SweepTable(rows, skipped)
