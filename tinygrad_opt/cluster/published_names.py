"""The names a published-measurement record's fields take, and :func:`canonical`, which
reads a record written in other spellings (any case and punctuation, common other names,
other units) into the ones the rules of :mod:`.published` read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tinygrad_opt.cluster.placement import PLACEMENTS as TENSOR_PLACEMENTS
from tinygrad_opt.cluster.transport import TRANSPORT_NAMES
from tinygrad_opt.cluster.workload import BYTES_PER_DTYPE

__all__ = [
    "BARE_TRANSPORTS",
    "FIELD_ALIASES",
    "INTRA_TOPOLOGIES",
    "NCCL_VERSIONS",
    "PLACEMENTS",
    "PRECISIONS",
    "READ_FROM",
    "SCHEMES",
    "SCHEME_ALIASES",
    "TENSOR_PLACEMENTS",
    "THROUGHPUT_UNITS",
    "TRANSPORTS",
    "ZERO_ALIASES",
    "ZERO_STAGES",
    "canonical",
    "count",
    "nccl_bucket",
    "number",
]

SCHEMES = ("ps", "ring", "hierarchical", "tree", "halving_doubling")
ZERO_STAGES = (0, 1, 2, 3)
ZERO_ALIASES: dict[str, int] = {
    "ddp": 0, "noshard": 0, "none": 0, "zero0": 0, "zero1": 1, "zero2": 2, "zero3": 3,
    "shardgradop": 2, "fsdp": 3, "fullshard": 3, "hybridshard": 3,
    **{f"stage{k}": k for k in range(4)}, **{f"zerostage{k}": k for k in range(4)},
}  # fmt: skip
"""Other names of ``zero_stage``: DeepSpeed's ZeRO-1/2/3, FSDP's sharding strategies
(``SHARD_GRAD_OP`` shards gradients and optimizer state: stage 2; ``FULL_SHARD``: 3)."""
PLACEMENTS = ("host", "colocated", "dedicated")
READ_FROM = ("table", "text", "figure")
NCCL_VERSIONS = ("1", "2", "2.4")
INTRA_TOPOLOGIES = ("nvlink_cube_mesh", "nvswitch", "pcie_tree", "link")
"""Values of a record's optional ``intra_topology`` field: the machine's GPU interconnect
by name, instead of reading it from the ``intra`` words (``pcie_tree`` takes the optional
``devices_per_switch``, default 2)."""

PRECISIONS: dict[str, int] = {
    **{name: int(n) for name, n in BYTES_PER_DTYPE.items() if n in (2, 4)},
    "half": 2, "mixed": 2, "amp": 2,
}  # fmt: skip
"""A record's ``precision`` (any case) -> bytes per gradient element. It is the dtype the
gradients are exchanged in: ``mixed`` / ``amp`` are taken as half-precision gradients (apex
O2, NVIDIA's tables, Horovod's fp16 compression); write ``fp32`` for mixed precision that
keeps fp32 gradients (``torch.cuda.amp``, TensorFlow's TF-AMP)."""

BARE_TRANSPORTS = ("cuda-copy", "poseidon", "byteps", "ps-lite")
"""Software of a record that no transport profile describes: its links are taken as they
are (copies through host memory, Poseidon, BytePS, MXNet's ps-lite over ZeroMQ)."""

TRANSPORTS = (*(n for n in TRANSPORT_NAMES if n != "ideal"), *BARE_TRANSPORTS)
"""Values of a record's ``transport`` (any case): the simulator's profiles
(:mod:`tinygrad_opt.cluster.transport`) and :data:`BARE_TRANSPORTS`."""


def count(x: Any) -> bool:
    """A positive int (not a bool)."""
    return isinstance(x, int) and not isinstance(x, bool) and x > 0


def number(x: Any) -> bool:
    """A positive int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


def _key(x: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(x).lower())


SCHEME_ALIASES: dict[str, str] = {
    "parameterserver": "ps", "parameterservers": "ps", "allreduce": "ring",
    "ringallreduce": "ring", "nccl": "ring", "horovod": "ring", "ddp": "ring",
    "ncclallreduce": "ring", "horovodallreduce": "ring", "ncclring": "ring",
    "byteps": "ps", "kvstore": "ps", "mxnetkvstore": "ps", "distsync": "ps",
    "distsyncdevice": "ps", "distdevicesync": "ps", "pslite": "ps",
    "replicated": "ring", "parameterserverps": "ps", "distributedreplicated": "ps",
    "distributedallreduce": "ring", "collectiveallreduce": "ring",
    "hierarchicalallreduce": "hierarchical", "binomialtree": "tree",
    "recursivehalvingdoubling": "halving_doubling", "rabenseifner": "halving_doubling",
}  # fmt: skip
"""Other names of a record's ``scheme`` (case and punctuation ignored): an all-reduce
through NCCL, Horovod or DDP is the ring (``nccl_version`` then picks NCCL's trees)."""

PS_PLACEMENT_ALIASES: dict[str, str] = {
    "cpu": "host", "hostmemory": "host", "gpu": "colocated", "gpus": "colocated",
    "workers": "colocated", "servers": "dedicated", "separate": "dedicated",
}  # fmt: skip
"""Other names of ``ps_placement``: variables on the CPU of the workers' machine are in
host memory (tf_cnn_benchmarks' ``local_parameter_device=cpu``), on its GPUs colocated."""

TOPOLOGY_ALIASES: dict[str, str] = {
    "cubemesh": "nvlink_cube_mesh", "hybridcubemesh": "nvlink_cube_mesh",
    "nvlinkhybridcubemesh": "nvlink_cube_mesh", "pcieswitches": "pcie_tree",
}  # fmt: skip


def _pick(value: Any, names: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> Any:
    """``value`` as one of ``names`` (case and punctuation ignored) or an alias; an
    unknown value comes back unchanged (for :func:`check_data` to name it)."""
    k = _key(value)
    for n in names:
        if _key(n) == k:
            return n
    return (aliases or {}).get(k, value)


def nccl_bucket(version: Any) -> Any:
    """A release number (``"2.7.8"``, ``"2.18"``, ``2``) as the record's NCCL generation:
    ``"1"`` below 2, ``"2"`` for 2.0–2.3 (rings only), ``"2.4"`` from 2.4 on (rings or
    double binary trees). Anything else comes back unchanged. Write versions as strings:
    TOML reads ``2.10`` as the number 2.1."""
    m = re.fullmatch(r"\s*v?(\d+)(?:\.(\d+))?(?:\.\d+)*\s*", str(version))
    if isinstance(version, bool) or m is None:
        return version
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if major < 2:
        return "1"
    return "2.4" if (major, minor) >= (2, 4) else "2"


FIELD_ALIASES: dict[str, str] = {
    "gradient_accumulation_steps": "grad_accumulation",
    "gradient_accumulation": "grad_accumulation", "accumulation_steps": "grad_accumulation",
    "seq_len": "sequence_length", "bucket_cap_mb": "bucket_mb",
    "fusion_threshold_mb": "bucket_mb", "backend": "transport", "dist_backend": "transport",
    "communication_backend": "transport", "sharding_strategy": "zero_stage",
    "zero": "zero_stage", "variable_update": "scheme", "local_parameter_device": "ps_placement",
    "sequence_len": "sequence_length",
}  # fmt: skip
"""Other names of record fields (the record's own name wins when both are given)."""

THROUGHPUT_UNITS = ("samples/s", "tokens/s")
"""``throughput_unit``: throughputs in samples (images, sequences) per second, the
default, or in tokens per second, divided by ``sequence_length`` on reading."""
SAMPLE_UNITS = ("sampless", "samplessec", "samplespersecond", "imagess", "imagessec",
                "imagespersecond", "imgs", "imgsec", "sequencess", "sequencespersecond",
                "seqs", "seqsec")  # fmt: skip
TOKEN_UNITS = ("tokenss", "tokenssec", "tokenspersecond", "toks", "toksec")


def canonical(p: Mapping[str, Any]) -> dict[str, Any]:
    """Record ``p`` with its named choices in the spelling the rules read: ``scheme``,
    ``ps_placement``, ``tensor_placement``, ``intra_topology`` and ``read_from`` in any
    case and punctuation or under another common name (:data:`SCHEME_ALIASES`,
    :data:`PS_PLACEMENT_ALIASES`, :data:`TOPOLOGY_ALIASES`), ``zero_stage`` as a number or
    a name (:data:`ZERO_ALIASES`: ``"ZeRO-2"``, ``"FSDP"``), ``nccl_version`` as any
    release number (:func:`nccl_bucket`), ``precision`` and ``transport`` in lower case;
    fields under another name (:data:`FIELD_ALIASES`) under theirs, and throughputs in
    tokens per second (``throughput_unit = "tokens/s"``) divided by ``sequence_length``.
    A value it does not know is left as written, for :func:`check_data` to name."""
    q = dict(p)
    for other, field in FIELD_ALIASES.items():
        if other in q and field not in q:
            q[field] = q.pop(other)
    scheme_key = _key(q.get("scheme", ""))
    if scheme_key in ZERO_ALIASES and ZERO_ALIASES[scheme_key] > 0:  # FSDP, ZeRO-k: rings
        q.setdefault("zero_stage", ZERO_ALIASES[scheme_key])
        q["scheme"] = "ring"
    if scheme_key == "distributedreplicated":  # TensorFlow: a machine sums its GPUs first
        q.setdefault("local_aggregation", True)
    if scheme_key == "byteps":  # BytePS's servers, and its own transport
        q.setdefault("transport", "byteps")
        if "byteps" not in str(q.get("scheme_detail", "")).lower():
            q["scheme_detail"] = f"{q.get('scheme_detail', '')} (BytePS)".strip()
    unit = _key(q.get("throughput_unit", ""))
    if unit in SAMPLE_UNITS:
        q["throughput_unit"] = "samples/s"
    elif unit in TOKEN_UNITS:
        q["throughput_unit"] = "tokens/s"
        seq = q.get("sequence_length")
        if number(seq):
            for field in ("throughput", "baseline_throughput"):
                if number(q.get(field)):
                    q[field] = float(q[field]) / float(seq)
            q["throughput_unit"] = "samples/s"
    if "scheme" in q:
        q["scheme"] = _pick(q["scheme"], SCHEMES, SCHEME_ALIASES)
    if "ps_placement" in q:
        q["ps_placement"] = _pick(q["ps_placement"], PLACEMENTS, PS_PLACEMENT_ALIASES)
    if "tensor_placement" in q:
        q["tensor_placement"] = _pick(q["tensor_placement"], TENSOR_PLACEMENTS)
    if "intra_topology" in q:
        q["intra_topology"] = _pick(q["intra_topology"], INTRA_TOPOLOGIES, TOPOLOGY_ALIASES)
    if "read_from" in q:
        q["read_from"] = _pick(q["read_from"], READ_FROM)
    if "nccl_version" in q:
        q["nccl_version"] = nccl_bucket(q["nccl_version"])
    zero = q.get("zero_stage")
    if isinstance(zero, str):
        k = _key(zero)
        q["zero_stage"] = int(k) if k in ("0", "1", "2", "3") else ZERO_ALIASES.get(k, zero)
    for field in ("precision", "transport"):
        if isinstance(q.get(field), str):
            q[field] = q[field].strip().lower()
    return q
