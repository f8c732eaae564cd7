"""What-if settings: TOML cluster files and command-line flags -> configurations to simulate.

A *settings* dictionary has the sections of a TOML cluster file (see ``docs/cluster.md``
and ``examples/clusters/*.toml``)::

    [cluster]      # ClusterSpec fields: workers, nodes, devices_per_node, bandwidth, ...
    [cluster.compute]   # compute model: kind = "lognormal", sigma = 0.1, ...
    [workload]     # Workload fields: parameters, per_worker_batch, compute_time_per_step, ...
    [workload.large_batch]  # s_min, b_noise (instead of workload.steps)
    [scheme]       # SyncScheme fields: name, ps_shards, ps_placement, backup_workers, ...
    [failures]     # FailureSpec fields (optional): node_mtbf, checkpoint_cost, ...
    [simulation]   # seed, steps_to_sample
    [transport]    # Transport fields: name = "mpi", overhead, efficiency, staging_copies, ...

Values are the ones :meth:`ClusterSpec.from_dict` & co. accept (strings with units are
parsed there). **A list is a grid axis**: every top-level key of ``[cluster]``,
``[workload]`` and ``[scheme]`` whose value is a list is swept, and :func:`expand` returns
one :class:`Configuration` per combination (``workers = [1, 8, 64]``,
``name = ["ring", "ps"]``). Parameter-server options (``ps_shards``, ``ps_placement``,
``backup_workers``) are ignored for all-reduce schemes when the grid also holds ``ps``;
identical configurations are kept once. ``parameters`` also accepts ``"25.6M"``-style counts
(k, M, G or B for 10⁹, T). ``tensor_sizes`` and ``backward_times`` are lists by nature
(one value per tensor): they are grid axes only as lists of lists; ``model`` names a
built-in profile (``model = ["vgg16", "resnet50"]`` sweeps two).

Every problem raises :class:`~tinygrad_opt.cluster.validation.SpecError` naming the field
and the value, including a malformed TOML file (field ``config``).
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tinygrad_opt.cluster.failures import FailureSpec
from tinygrad_opt.cluster.result import SimulationResult
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.simulate import resolve_scheme, simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.sweep import SWEEP_KEYS
from tinygrad_opt.cluster.transport import Transport
from tinygrad_opt.cluster.validation import (
    SpecError,
    check_keys,
    check_nonnegative_int,
    check_positive_int,
)
from tinygrad_opt.cluster.workload import Workload

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "SECTIONS",
    "Configuration",
    "expand",
    "load_toml",
    "merge_settings",
    "parse_count",
    "result_row",
]

SECTIONS: tuple[str, ...] = (
    "cluster", "workload", "scheme", "failures", "simulation", "transport",
)  # fmt: skip
"""Top-level tables of a cluster file."""

SIMULATION_KEYS: tuple[str, ...] = ("seed", "steps_to_sample")

_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "cluster": tuple(f.name for f in fields(ClusterSpec)) + ("inter_bandwidth", "inter_latency"),
    "workload": tuple(f.name for f in fields(Workload)),
    "scheme": tuple(f.name for f in fields(SyncScheme)) + ("scheme", "placement"),
    "failures": ("node_mtbf", "checkpoint_cost", "restart_cost", "checkpoint_interval"),
    "simulation": SIMULATION_KEYS,
    "transport": tuple(f.name for f in fields(Transport)),
}
_ALIASES: dict[str, dict[str, str]] = {
    "cluster": {"inter_bandwidth": "bandwidth", "inter_latency": "latency"},
    "scheme": {"scheme": "name", "placement": "tensor_placement"},
}
# tables, not grid axes
_NESTED = {
    ("cluster", "compute"),
    ("workload", "large_batch"),
    ("cluster", "transport"),
    ("cluster", "intra_topology"),
}
_PS_ONLY = ("ps_shards", "ps_placement", "backup_workers", "tensor_placement", "split_threshold")
_LIST_VALUES = {("workload", "tensor_sizes"), ("workload", "backward_times")}
"""Keys whose value is itself a list: a grid axis only as a list of lists."""
_COUNT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKMGBT]?)\s*$")
_COUNT_SCALE = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9, "T": 1e12}


def parse_count(value: Any, field: str = "parameters") -> Any:
    """``"25.6M"`` -> ``25_600_000`` (k, M, G or B = 10⁹, T); other values pass through.

    Plain numbers and numeric strings are left for the spec to check.
    """
    if not isinstance(value, str):
        return value
    m = _COUNT.match(value)
    if m is None:
        raise SpecError(field, value, "expected a count such as 25600000, 25.6e6 or '25.6M'")
    x = float(m[1]) * _COUNT_SCALE[m[2]]
    return int(round(x)) if math.isfinite(x) and abs(x - round(x)) < 1e-6 * max(1, x) else x


# ============================================================================ loading
def load_toml(path: str | Path) -> dict[str, Any]:
    """Read and check a cluster file; a missing or malformed file is a ``SpecError``."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise SpecError("config", str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError("config", str(path), f"cannot read the file ({e})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError("config", str(path), f"malformed TOML: {e}") from None
    check_settings(data)
    return data


def check_settings(settings: Mapping[str, Any]) -> None:
    """Check sections and keys (not values: the specs check those when built)."""
    if not isinstance(settings, Mapping):
        raise SpecError("config", settings, "must be a dictionary of sections")
    unknown = [k for k in settings if k not in SECTIONS]
    if unknown:
        raise SpecError(
            "config",
            unknown[0] if len(unknown) == 1 else unknown,
            f"unknown section; valid sections: {', '.join(SECTIONS)} "
            "(every key belongs under one, e.g. [cluster] workers = 8)",
        )
    for name, section in settings.items():
        if not isinstance(section, Mapping):
            raise SpecError(name, section, f"must be a table ([{name}] with key = value lines)")
        check_keys(f"[{name}]", section, _SECTION_KEYS[name])
        for key, value in section.items():
            if isinstance(value, list) and (name not in ("cluster", "workload", "scheme")):
                raise SpecError(f"{name}.{key}", value, "cannot be a list (grid axes live in "
                                "[cluster], [workload] and [scheme])")  # fmt: skip
            if isinstance(value, list) and not value:
                raise SpecError(key, value, "an empty list leaves nothing to simulate")
            if isinstance(value, Mapping) and (name, key) not in _NESTED:
                raise SpecError(f"{name}.{key}", value, "must be a single value or a list")


def _canonical(section: str, data: Mapping[str, Any]) -> dict[str, Any]:
    aliases = _ALIASES.get(section, {})
    return {aliases.get(k, k): v for k, v in data.items()}


_EXCLUSIVE = {
    "cluster": (("workers", "nodes"),),
    "workload": (
        ("steps", "large_batch"),
        ("compute_time_per_step", "compute_time_per_example"),
        ("parameters", "tensor_sizes", "model"),
        ("bytes_per_param", "grad_dtype"),
    ),
}


def _infer_kind(compute: Mapping[str, Any]) -> str | None:
    if "kind" in compute:
        return str(compute["kind"])
    implied = (
        ("sigma", "lognormal"),
        ("spread", "uniform"),
        ("shift_fraction", "shifted_exponential"),
        ("samples", "empirical"),
    )
    for key, kind in implied:
        if key in compute:
            return kind
    return None


def _is_ps(name: Any) -> bool:
    try:
        return SyncScheme.coerce(name).name == "ps"
    except SpecError:
        return False  # reported when the configuration is built


def merge_settings(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base`` (e.g. flags on top of a TOML file).

    Pairs that exclude each other follow the override: giving ``workers`` drops the base's
    ``nodes`` (and vice versa), ``steps`` drops ``large_batch``, a per-example compute time
    drops the per-step one. A compute model of another kind replaces the base's (keeping its
    ``speed_factors``); one of the same kind, and ``large_batch``, are updated key by key.
    Overriding the scheme with all-reduce names only drops the base's parameter-server
    options (``ps_shards``, ``ps_placement``, ``backup_workers``).
    """
    out: dict[str, Any] = {k: dict(_canonical(k, v)) for k, v in base.items()}
    for name, section in override.items():
        section = _canonical(name, section)
        if not section:
            continue
        target = out.setdefault(name, {})
        for group in _EXCLUSIVE.get(name, ()):
            given = [k for k in group if k in section]
            if given:
                for k in group:
                    if k not in section:
                        target.pop(k, None)
        if name == "scheme" and "name" in section:
            names = section["name"] if isinstance(section["name"], list) else [section["name"]]
            if not any(_is_ps(n) for n in names):  # the base's PS options no longer apply
                for k in _PS_ONLY:
                    if k not in section:
                        target.pop(k, None)
        for key, value in section.items():
            old = target.get(key)
            if key == "compute" and isinstance(value, Mapping) and "kind" not in value:
                kind = _infer_kind(value)
                value = {"kind": kind, **value} if kind is not None else value
            if isinstance(old, str) and key == "compute":
                old = {"kind": old}
            if key == "compute" and isinstance(old, Mapping) and isinstance(value, Mapping):
                kind_new, kind_old = _infer_kind(value), _infer_kind(old)
                if kind_new is None or kind_new == kind_old:
                    target[key] = {**old, **value}
                else:
                    keep = {"speed_factors": old["speed_factors"]} if "speed_factors" in old else {}
                    target[key] = {**keep, "kind": kind_new, **value}
            elif key == "large_batch" and isinstance(old, Mapping) and isinstance(value, Mapping):
                target[key] = {**old, **value}
            else:
                target[key] = value
    return out


# ============================================================================ expanding
@dataclass(frozen=True)
class Configuration:
    """One point of the grid: the specs to simulate and the grid values that made it."""

    cluster: ClusterSpec
    workload: Workload
    scheme: SyncScheme
    failures: FailureSpec | None = None
    setting: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def simulate(self, **kwargs: Any) -> SimulationResult:
        """``simulate(cluster, workload, scheme, failures=..., **kwargs)``."""
        return simulate(self.cluster, self.workload, self.scheme, failures=self.failures, **kwargs)


def _axes(settings: Mapping[str, Any]) -> list[tuple[str, str, list[Any]]]:
    """(section, key, values) for every list-valued key, outermost first."""
    order: list[tuple[str, str]] = []
    scheme = settings.get("scheme", {})
    order += [("scheme", "name")] + [("scheme", k) for k in scheme if k != "name"]
    cluster = settings.get("cluster", {})
    order += [("cluster", k) for k in cluster if k not in ("nodes", "workers")]
    order += [("workload", k) for k in settings.get("workload", {})]
    order += [("cluster", "nodes"), ("cluster", "workers")]  # fastest: rows read as a curve
    axes = []
    for section, key in order:
        value = settings.get(section, {}).get(key)
        if (section, key) in _LIST_VALUES and not (value and isinstance(value[0], list)):
            continue  # one list of per-tensor values, not a grid
        if isinstance(value, list):
            axes.append((section, key, value))
    return axes


def simulation_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``seed`` and ``steps_to_sample`` from ``[simulation]`` (checked), for :func:`simulate`."""
    sim = dict(settings.get("simulation", {}))
    out: dict[str, Any] = {}
    if "seed" in sim:
        out["seed"] = check_nonnegative_int("seed", sim["seed"])
    if "steps_to_sample" in sim:
        out["steps_to_sample"] = check_positive_int("steps_to_sample", sim["steps_to_sample"])
    return out


def expand(
    settings: Mapping[str, Any], skipped: list[tuple[dict[str, Any], SpecError]] | None = None
) -> list[Configuration]:
    """Every combination of the list-valued keys, built and checked, duplicates removed.

    Order: the scheme axes outermost, then the other cluster and workload axes, then
    ``nodes`` / ``workers`` fastest. Raises ``SpecError`` for the first invalid setting,
    or, given a list ``skipped``, appends ``(setting, error)`` to it and goes on (the
    planner's search space holds combinations that cannot exist, such as more backup
    workers than workers).
    """
    check_settings(settings)
    settings = {k: _canonical(k, v) for k, v in settings.items()}
    cluster = settings.get("cluster", {})
    if isinstance(cluster.get("workers"), list) and isinstance(cluster.get("nodes"), list):
        raise SpecError("nodes", cluster["nodes"], "give workers or nodes as a list, not both")
    names = settings.get("scheme", {}).get("name", "ring")
    names = names if isinstance(names, list) else [names]
    canonical = [SyncScheme.coerce(n).name for n in names]
    mixed = "ps" in canonical and any(n != "ps" for n in canonical)
    axes = _axes(settings)
    failures = settings.get("failures")
    f = FailureSpec.from_dict(failures) if failures else None
    table = dict(settings.get("transport", {}))
    out: list[Configuration] = []
    seen: set[tuple[Any, ...]] = set()
    built: dict[tuple[str, ...], Any] = {}  # specs by their settings: each built once
    for combo in itertools.product(*[values for _, _, values in axes]):
        parts = {s: dict(settings.get(s, {})) for s in ("cluster", "workload", "scheme")}
        setting: dict[str, Any] = {}
        for (section, key, _), value in zip(axes, combo):
            parts[section][key] = value
            setting[key if key != "name" else "scheme"] = value
        if "parameters" in parts["workload"] and not isinstance(
            parts["workload"]["parameters"], list
        ):
            parts["workload"]["parameters"] = parse_count(parts["workload"]["parameters"])
        if table:  # [transport] overrides the fields of cluster.transport's profile
            base = parts["cluster"].get("transport")
            own = dict(table)
            if base is not None:  # the cluster's profile name (a flag, a grid) wins
                own.pop("name", None)
            base = {"name": base} if isinstance(base, str) else dict(base or {})
            parts["cluster"]["transport"] = {**base, **own}
        try:
            ck = repr(parts["cluster"])
            c = _built(built, ("cluster", ck), ClusterSpec.from_dict, parts["cluster"])
            wl = _built(built, ("workload", repr(parts["workload"])), Workload.from_dict,
                        parts["workload"])  # fmt: skip
            sch = parts["scheme"]
            if mixed and SyncScheme.coerce(sch.get("name", "ring")).name != "ps":
                for k in _PS_ONLY:
                    sch.pop(k, None)
            elif mixed:  # a parameter server has no ZeRO stages
                sch.pop("zero_stage", None)
            s = _built(built, ("scheme", ck, repr(sch)),
                       lambda d, c=c: resolve_scheme(c, SyncScheme.from_dict(d)), sch)  # fmt: skip
        except SpecError as e:
            if skipped is None:
                raise
            skipped.append((setting, e))
            continue
        key = (c, wl, s, f)
        if key in seen:
            continue
        seen.add(key)
        out.append(Configuration(c, wl, s, f, setting))
    return out


def _built(cache: dict, key: tuple[str, ...], build, data: Any) -> Any:
    """``build(data)`` once per ``key``; a ``SpecError`` is remembered and raised again."""
    if key not in cache:
        try:
            cache[key] = build(data)
        except SpecError as e:
            cache[key] = e
    value = cache[key]
    if isinstance(value, SpecError):
        raise value
    return value


def result_row(result: SimulationResult, scheme: SyncScheme) -> dict[str, Any]:
    """The stable row :data:`~tinygrad_opt.cluster.sweep.SWEEP_KEYS` for one result.

    Values are ``result.to_dict()``'s, except ``scheme`` (the canonical name, e.g. ``"ps"``)
    and ``scheme_label`` (the result's ``scheme``, e.g. ``"ps(k=4)+2 backup"``) — the same
    rows as :func:`~tinygrad_opt.cluster.sweep.sweep`.
    """
    d = result.to_dict()
    d.update(
        scheme=result.scheme_name,
        scheme_label=result.scheme,
        ps_shards=scheme.ps_shards,
        ps_placement=scheme.ps_placement,
    )
    return {k: d[k] for k in SWEEP_KEYS}
