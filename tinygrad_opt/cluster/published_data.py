"""The published-measurement records: where they are, how they are read and checked.

A data file holds ``[source.<key>]`` tables (citation, url, what was measured) and
``[[point]]`` records, one per measurement (docs/validation-data.md gives every field).
:func:`load` reads one, its records in the spelling of :mod:`.published_names`
(:func:`~.published_names.canonical`); :func:`check_data` raises ``ValueError`` naming
the first malformed record and field; :func:`complete` fills in what a file of your own
may leave out. :mod:`.published` predicts the records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinygrad_opt.cluster.config import tomllib
from tinygrad_opt.cluster.published_names import (
    BARE_TRANSPORTS,
    INTRA_TOPOLOGIES,
    NCCL_VERSIONS,
    PLACEMENTS,
    PRECISIONS,
    READ_FROM,
    SCHEMES,
    TENSOR_PLACEMENTS,
    THROUGHPUT_UNITS,
    TRANSPORTS,
    ZERO_STAGES,
    canonical,
    count,
    number,
)

__all__ = [
    "BARE_TRANSPORTS",
    "DATA",
    "INTRA_TOPOLOGIES",
    "POSITIVE",
    "PRECISIONS",
    "REQUIRED",
    "TRANSPORTS",
    "FIELDS",
    "canonical",
    "check_data",
    "complete",
    "implied_efficiency",
    "load",
    "unknown_fields",
]

DATA = Path(__file__).resolve().parent / "data" / "published_scaling.toml"
"""The published measurements shipped with the package (docs/validation-data.md)."""


def load(path: str | os.PathLike[str] = DATA) -> dict[str, Any]:
    """The data file as ``{"source": {key: table}, "point": [records]}``, every record in
    :func:`canonical` spelling; a record with both throughputs and no ``efficiency`` gets
    it from them (:func:`implied_efficiency`)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    points = data.get("point")
    if isinstance(points, list):
        points[:] = [canonical(p) if isinstance(p, dict) else p for p in points]
    for p in points if isinstance(points, list) else ():
        if isinstance(p, dict) and "efficiency" not in p:
            e = implied_efficiency(p)
            if e is not None:
                p["efficiency"] = round(e, 4)
    return data


def implied_efficiency(p: Mapping[str, Any]) -> float | None:
    """``throughput × baseline_gpus / (gpus × baseline_throughput)`` of record ``p``, or None
    when a throughput (or a number in it) is missing."""
    try:
        tp, base = float(p["throughput"]), float(p["baseline_throughput"])
        return tp * float(p["baseline_gpus"]) / (float(p["gpus"]) * base)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


REQUIRED = (
    "id", "source", "where", "read_from", "model", "parameters", "framework", "scheme",
    "gpus", "nodes", "gpus_per_node", "gpu", "precision", "efficiency", "baseline_gpus",
)  # fmt: skip
POSITIVE = ("parameters", "gpus", "nodes", "gpus_per_node", "per_gpu_batch", "throughput",
            "baseline_gpus", "baseline_throughput", "intra_bandwidth_gbps",
            "inter_bandwidth_gbps", "ps_servers", "devices_per_switch",
            "grad_accumulation", "sequence_length", "bucket_mb")  # fmt: skip


def check_data(data: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the point and field of the first malformed record.

    Every source has a citation and a URL; every point cites a known source, has the
    required fields, positive numbers, ``gpus = nodes × gpus_per_node``, an efficiency in
    (0, 1.2] that matches its throughputs when both are given (to 0.05%), and a unique id;
    the points of one ``compare_group`` at one GPU count share model, hardware and batch.
    """
    sources = data.get("source")
    if not isinstance(sources, Mapping) or not sources:
        raise ValueError("source: the data has no [source.<key>] tables")
    for key, src in sources.items():
        for field in ("citation", "url", "measured"):
            if not isinstance(src.get(field), str) or not src[field].strip():
                raise ValueError(f"source.{key}.{field}: missing or empty")
    points = data.get("point")
    if not isinstance(points, list) or not points:
        raise ValueError("point: the data has no [[point]] records")
    seen = set()
    groups: dict[tuple[str, int], Mapping[str, Any]] = {}
    for i, raw in enumerate(points):
        p = canonical(raw)
        name = f"point {p.get('id', i)!r}"
        for field in REQUIRED:
            if field not in p:
                hint = (
                    " (give it, or both throughput and baseline_throughput)"
                    if field == "efficiency"
                    else ""
                )
                raise ValueError(f"{name}: {field} is missing{hint}")
        if p["id"] in seen:
            raise ValueError(f"{name}: id is used twice")
        seen.add(p["id"])
        if p["source"] not in sources:
            raise ValueError(f"{name}: source {p['source']!r} has no [source.{p['source']}] table")
        if p["scheme"] not in SCHEMES:
            raise ValueError(
                f"{name}: scheme {p['scheme']!r} is not one of {SCHEMES} (also read: "
                "all-reduce, NCCL, Horovod, DDP = ring; parameter server, BytePS, KVStore "
                "= ps; any case)"
            )
        if p["read_from"] not in READ_FROM:
            raise ValueError(f"{name}: read_from {p['read_from']!r} is not one of {READ_FROM}")
        if p.get("intra_topology", "link") not in INTRA_TOPOLOGIES:
            raise ValueError(
                f"{name}: intra_topology {p['intra_topology']!r} not in {INTRA_TOPOLOGIES}"
            )
        if str(p["precision"]) not in PRECISIONS:  # canonical(): in lower case
            raise ValueError(
                f"{name}: precision {p['precision']!r} is not one of {tuple(PRECISIONS)}"
            )
        if str(p.get("transport", "nccl")) not in TRANSPORTS:
            raise ValueError(f"{name}: transport {p['transport']!r} is not one of {TRANSPORTS}")
        if p.get("nccl_version", "2") not in NCCL_VERSIONS:
            raise ValueError(f"{name}: nccl_version {p['nccl_version']!r} not in {NCCL_VERSIONS}")
        if p.get("tensor_placement", "round_robin") not in TENSOR_PLACEMENTS:
            raise ValueError(
                f"{name}: tensor_placement {p['tensor_placement']!r} not in {TENSOR_PLACEMENTS}"
            )
        unit = p.get("throughput_unit", "samples/s")
        if unit not in THROUGHPUT_UNITS:
            raise ValueError(f"{name}: throughput_unit {unit!r} not in {THROUGHPUT_UNITS}")
        if unit == "tokens/s":  # left so by canonical(): no sequence_length to divide by
            raise ValueError(f"{name}: throughput_unit 'tokens/s' needs sequence_length")
        if p.get("zero_stage", 0) not in ZERO_STAGES:
            raise ValueError(f"{name}: zero_stage {p['zero_stage']!r} not in {ZERO_STAGES}")
        if p.get("zero_stage", 0) and p["scheme"] not in ("ring", "halving_doubling"):
            raise ValueError(
                f"{name}: zero_stage {p['zero_stage']} shards over a reduce-scatter and an "
                f"all-gather: scheme ring or halving_doubling, not {p['scheme']!r}"
            )
        if p.get("summation_service") and p.get("ps_placement") != "dedicated":
            raise ValueError(
                f"{name}: summation_service needs ps_placement = 'dedicated' (CPU machines "
                f"that only sum), not {p.get('ps_placement')!r}"
            )
        if p["scheme"] == "ps" and "ps_placement" not in p:
            raise ValueError(
                f"{name}: ps_placement is missing (scheme ps): host (the servers in one "
                "machine's CPU memory), colocated (on the GPUs' machines) or dedicated "
                "(machines of their own)"
            )
        if p["scheme"] == "ps" and p["ps_placement"] not in PLACEMENTS:
            raise ValueError(f"{name}: ps_placement {p['ps_placement']!r} not in {PLACEMENTS}")
        for field in BOOLEAN:
            if field in p and not isinstance(p[field], bool):
                raise ValueError(f"{name}: {field} must be true or false, got {p[field]!r}")
        for field in POSITIVE:
            x = p.get(field)
            if x is None:
                continue
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not x > 0:
                raise ValueError(f"{name}: {field} must be a positive number, got {x!r}")
        if p["gpus"] != p["nodes"] * p["gpus_per_node"]:
            raise ValueError(
                f"{name}: gpus={p['gpus']} != nodes × gpus_per_node = "
                f"{p['nodes']} × {p['gpus_per_node']}"
            )
        e = p["efficiency"]
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not 0 < e <= 1.2:
            hint = (
                f" (a fraction: {e / 100:g} for {e:g}%)"
                if isinstance(e, (int, float)) and 1.2 < e <= 120
                else ""
            )
            raise ValueError(f"{name}: efficiency must lie in (0, 1.2], got {e!r}{hint}")
        group = p.get("compare_group")
        if group is not None:
            key = (group, p["gpus"])
            same = ("model", "gpu", "nodes", "gpus_per_node", "per_gpu_batch", "precision")
            first = groups.setdefault(key, p)
            for field in same:
                if first.get(field) != p.get(field):
                    raise ValueError(
                        f"{name}: compare_group {group!r} mixes {field} "
                        f"{first.get(field)!r} and {p.get(field)!r}"
                    )
        implied = implied_efficiency(p)
        if implied is not None:
            if abs(implied - e) > 5e-4:
                raise ValueError(
                    f"{name}: efficiency {e} disagrees with its throughputs ({implied:.4f})"
                )


DESCRIPTIVE_DEFAULTS: dict[str, str] = {
    "read_from": "table", "framework": "(not given)", "gpu": "(not given)",
}  # fmt: skip
"""What :func:`complete` writes into a record of your own that leaves out a field no rule
reads (the shipped data gives them all); a missing ``where`` becomes ``(not given: <id>)``,
so that records of unknown tables are not ordered against each other."""


def complete(data: dict[str, Any]) -> dict[str, int]:
    """Fill in, in place, what a file of your own records may leave out, and count it.

    For ``tinygrad-opt validate --data``: the shipped data is checked without it.
    - ``id``: ``point-<n>``; ``source``: ``own``, and a placeholder ``[source.<key>]``
      table for every source a record names but the file does not describe;
    - ``where``: ``(not given: <id>)``, a table of its own (records are ordered against
      each other only within one ``source`` and ``where``);
    - ``read_from``, ``framework``, ``gpu``: :data:`DESCRIPTIVE_DEFAULTS`;
    - one of ``gpus``, ``nodes``, ``gpus_per_node`` from the other two, or both of the
      others from ``gpus`` alone when no network between machines is given (one
      machine);
    - ``parameters`` from the named model's built-in profile (any spelling);
    - ``model``: ``"<parameters> parameters"`` (a bare count, split evenly);
    - ``baseline_gpus``: 1 (efficiency against one GPU); ``precision``: ``fp32``;
    - ``per_gpu_batch`` from ``global_batch`` (divided by ``gpus × grad_accumulation``);
    - ``efficiency`` from the throughputs or from ``speedup`` (``speedup ×
      baseline_gpus / gpus``).

    Returns ``{field: records filled}``; nothing else is changed, and :func:`check_data`
    still refuses what is missing or wrong.
    """
    from tinygrad_opt.cluster.models import get_model
    from tinygrad_opt.cluster.validation import SpecError

    filled: dict[str, int] = {}

    def note(what: str) -> None:
        filled[what] = filled.get(what, 0) + 1

    def put(p: dict[str, Any], field: str, value: Any) -> None:
        p[field] = value
        note(field)

    points = data.get("point")
    sources = data.setdefault("source", {})
    if not isinstance(points, list) or not isinstance(sources, dict):
        return filled
    for i, p in enumerate(points):
        if not isinstance(p, dict):
            continue
        if "id" not in p:
            put(p, "id", f"point-{i + 1}")
        if "source" not in p:
            put(p, "source", "own")
        if "where" not in p:
            put(p, "where", f"(not given: {p['id']})")
        for field, value in DESCRIPTIVE_DEFAULTS.items():
            if field not in p:
                put(p, field, value)
        counts = [p.get(f) for f in ("gpus", "nodes", "gpus_per_node")]
        one_machine = "inter_bandwidth_gbps" not in p and "inter" not in p
        if count(counts[0]) and counts[1] is None and counts[2] is None and one_machine:
            put(p, "nodes", 1)  # no network between machines given: one machine
            put(p, "gpus_per_node", counts[0])
        elif sum(map(count, counts)) == 2:
            g, n, d = counts
            if g is None:
                put(p, "gpus", n * d)
            elif n is None and g % d == 0:
                put(p, "nodes", g // d)
            elif d is None and g % n == 0:
                put(p, "gpus_per_node", g // n)
        if "parameters" not in p and "model" in p:
            try:
                put(p, "parameters", get_model(p["model"]).parameters)
            except SpecError:
                pass
        if "model" not in p and isinstance(p.get("parameters"), int):
            put(p, "model", f"{p['parameters']} parameters")
        if "baseline_gpus" not in p:
            put(p, "baseline_gpus", 1)
        if "precision" not in p:
            put(p, "precision", "fp32")
        if "per_gpu_batch" not in p and count(p.get("global_batch")) and count(p.get("gpus")):
            acc = p.get("grad_accumulation", 1)
            share = p["gpus"] * (acc if count(acc) else 1)
            if p["global_batch"] % share == 0:
                put(p, "per_gpu_batch", p["global_batch"] // share)
        if "efficiency" not in p:
            e = implied_efficiency(p)
            speedup = p.get("speedup")
            if e is None and number(speedup) and count(p.get("gpus")):
                e = float(speedup) * float(p["baseline_gpus"]) / float(p["gpus"])
                note("efficiency from speedup")
            if e is not None:
                p["efficiency"] = round(e, 4)
        key = p["source"]
        if isinstance(key, str) and key not in sources:
            sources[key] = {f: "(not given)" for f in ("citation", "url", "measured")}
            note("source table")
    return filled


FIELDS = frozenset(
    {*REQUIRED, *POSITIVE, "scheme_detail", "ps_placement", "tensor_placement",
     "local_aggregation", "transport", "nccl_version", "overlap", "intra", "intra_topology",
     "inter", "rdma", "derived_inputs", "compare_group", "notes", "global_batch", "speedup",
     "zero_stage", "throughput_unit", "sequence_length", "bucket_mb", "summation_service"}
)  # fmt: skip
"""Every field a record may have (docs/validation-data.md, "Format")."""


def unknown_fields(p: Mapping[str, Any]) -> list[str]:
    """The fields of record ``p`` that no rule reads (a typo such as ``per_gpu_bach``):
    ignored, and named by ``tinygrad-opt validate``."""
    return sorted(k for k in p if k not in FIELDS)


BOOLEAN = ("local_aggregation", "rdma", "overlap", "summation_service")
"""Optional fields that are true or false (``overlap``: see
:data:`tinygrad_opt.cluster.published.OVERLAP`)."""
