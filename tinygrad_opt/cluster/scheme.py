"""How gradients are combined each step: the synchronisation scheme (:class:`SyncScheme`).

Parameter server or ring / binomial-tree / halving-doubling / hierarchical all-reduce,
with its options: shards and their placement, backup workers, overlapped buckets (DDP) or
tensor fusion (Horovod), compression and ZeRO stages. Like
:class:`~tinygrad_opt.cluster.spec.ClusterSpec` it is a frozen dataclass that validates on
construction (a :class:`~tinygrad_opt.cluster.validation.SpecError` naming the field and
the value) and has ``from_dict`` / ``to_dict``; sizes and durations accept units
(:mod:`tinygrad_opt.cluster.units`) and are stored in bytes and seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tinygrad_opt.cluster.placement import DEFAULT_SPLIT_THRESHOLD, PLACEMENTS
from tinygrad_opt.cluster.units import parse_bytes, parse_duration
from tinygrad_opt.cluster.validation import (
    MAX_WORKERS,
    SpecError,
    check_choice,
    check_keys,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    dataclass_from_dict,
)

__all__ = [
    "ALLREDUCE_SCHEMES",
    "DEFAULT_BUCKET_BYTES",
    "DEFAULT_CYCLE_TIME",
    "DEFAULT_FIRST_BUCKET_BYTES",
    "DEFAULT_FUSION_BYTES",
    "PS_PLACEMENTS",
    "SCHEMES",
    "SyncScheme",
]

SCHEMES: tuple[str, ...] = (
    "ps", "ring", "tree", "halving_doubling", "hierarchical", "double_binary_tree", "nccl",
)  # fmt: skip
"""Canonical scheme names: parameter server, ring / binomial-tree / Rabenseifner
(recursive halving-doubling) all-reduce, hierarchical (intra-node + inter-node) all-reduce,
NCCL's double binary tree, and ``nccl``: the faster of ring and double binary tree for
each message, as NCCL ≥ 2.4 chooses."""

ALLREDUCE_SCHEMES: tuple[str, ...] = (
    "ring", "tree", "halving_doubling", "hierarchical", "double_binary_tree", "nccl",
)  # fmt: skip

SCHEME_ALIASES: dict[str, str] = {
    "parameter_server": "ps", "param_server": "ps", "sharded_ps": "ps",
    "ring_allreduce": "ring", "allreduce": "ring", "allreduce_ring": "ring",
    "tree_allreduce": "tree", "binomial_tree": "tree", "binomial": "tree",
    "rabenseifner": "halving_doubling", "recursive_halving_doubling": "halving_doubling",
    "halving_doubling_allreduce": "halving_doubling", "hd": "halving_doubling",
    "hierarchical_allreduce": "hierarchical", "hierarchical_ring": "hierarchical",
    "dbtree": "double_binary_tree", "double_tree": "double_binary_tree",
    "nccl_tree": "double_binary_tree", "nccl_auto": "nccl",
    "2d": "hierarchical",
}  # fmt: skip

PS_PLACEMENTS: tuple[str, ...] = ("dedicated", "colocated", "host")

_PLACEMENT_ALIASES = {"roundrobin": "round_robin", "rr": "round_robin", "lpt": "greedy",
                      "mxnet": "split", "kvstore": "split"}  # fmt: skip

DEFAULT_BUCKET_BYTES = 25 * 2**20
"""PyTorch DDP's default ``bucket_cap_mb=25`` (25 MiB) (Li et al. 2020)."""

DEFAULT_FIRST_BUCKET_BYTES = 2**20
"""PyTorch DDP's first bucket (``dist._DEFAULT_FIRST_BUCKET_BYTES``, 1 MiB): small, so
the first all-reduce starts early in the backward pass."""

DEFAULT_FUSION_BYTES = 64 * 2**20
"""Horovod's ``HOROVOD_FUSION_THRESHOLD`` default, 64 MiB (``horovod/common/operations.cc``)."""

DEFAULT_CYCLE_TIME = 5e-3
"""Horovod's ``HOROVOD_CYCLE_TIME`` default, 5 ms (``horovod/common/operations.cc``)."""


@dataclass(frozen=True)
class SyncScheme:
    """How gradients are combined each step.

    Attributes:
        name: one of :data:`SCHEMES` (aliases such as ``"parameter_server"``,
            ``"rabenseifner"``, ``"ring_allreduce"`` are accepted).
        ps_shards: parameter-server shards ``k`` (``ps`` only).
        ps_placement: ``"dedicated"`` (``k`` extra machines, paid for), ``"colocated"``
            (shard ``j`` runs on a worker node, whose NIC then carries both) or ``"host"``
            (one machine's host memory: the variables and the sums live on the CPU side
            of a single node, every device pushes and pulls over its own path to the host,
            TensorFlow's ``local_parameter_device=cpu``; needs ``nodes = 1``).
        backup_workers: ``b`` of the ``workers`` are backups: the server applies the first
            ``workers − b`` gradients and drops the ``b`` slowest (Chen et al. 2016).
            Needs ``ps`` (an all-reduce needs every member) and ``0 <= b < workers``.
        overlap: start synchronising gradient buckets during the backward pass
            (PyTorch DDP, Li et al. 2020); see :mod:`tinygrad_opt.cluster.overlap`.
        buckets: number of equal gradient buckets when overlapping; default
            ``ceil(gradient_bytes / bucket_bytes)``.
        bucket_bytes: DDP's bucket cap (default 25 MiB), used when ``buckets`` is None.
        compression: gradient bytes are divided by this factor on the wire (2.0 for
            fp32 -> fp16); >= 1.
        tensor_placement: how a parameter server puts the workload's tensors on its
            shards (``ps`` only): ``"round_robin"`` (TensorFlow's default), ``"greedy"``
            (largest first onto the least-loaded shard), ``"split"`` (MXNet KVStore:
            tensors of ``split_threshold`` elements or more cut over all shards) or
            ``"even"`` (an evenly divisible blob, as for a bare parameter count); see
            :mod:`tinygrad_opt.cluster.placement`.
        split_threshold: elements from which ``"split"`` cuts a tensor (default 10⁶,
            MXNet's ``MXNET_KVSTORE_BIGARRAY_BOUND``).
        zero_stage: sharded data parallelism (:mod:`.sharding`): 0 (plain data
            parallel, default), 1 (optimizer state), 2 (+ gradients), 3 (+ parameters:
            FSDP). Stages 1–3 need ``ring`` or ``halving_doubling`` (a reduce-scatter and
            an all-gather).
        first_bucket_bytes: cap of DDP's first bucket (default 1 MiB) with per-tensor
            buckets (:mod:`.buckets`).
        fusion_bytes: Horovod's tensor fusion instead of DDP buckets (implies
            ``overlap``): the fusion threshold (``"64MiB"``, Horovod's default); needs a
            workload with tensors, an all-reduce and no ZeRO stage (:mod:`.buckets`).
        cycle_time: Horovod's cycle time with ``fusion_bytes`` (default 5 ms).
    """

    name: str = "ring"
    ps_shards: int = 1
    ps_placement: str = "dedicated"
    backup_workers: int = 0
    overlap: bool = False
    buckets: int | None = None
    bucket_bytes: float | str = DEFAULT_BUCKET_BYTES
    compression: float = 1.0
    tensor_placement: str = "round_robin"
    split_threshold: int = DEFAULT_SPLIT_THRESHOLD
    zero_stage: int = 0
    first_bucket_bytes: float | str = DEFAULT_FIRST_BUCKET_BYTES
    fusion_bytes: float | str | None = None
    cycle_time: float | str = DEFAULT_CYCLE_TIME

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        name = check_choice("scheme", self.name, SCHEMES, SCHEME_ALIASES)
        set_(self, "name", name)
        set_(self, "ps_shards", check_positive_int("ps_shards", self.ps_shards, MAX_WORKERS))
        set_(self, "ps_placement", check_choice("ps_placement", self.ps_placement, PS_PLACEMENTS))
        set_(self, "backup_workers", check_nonnegative_int("backup_workers", self.backup_workers))
        if not isinstance(self.overlap, bool):
            raise SpecError("overlap", self.overlap, "must be true or false")
        if self.buckets is not None:
            set_(self, "buckets", check_positive_int("buckets", self.buckets))
        set_(self, "bucket_bytes", parse_bytes(self.bucket_bytes, "bucket_bytes"))
        c = check_positive_float("compression", self.compression)
        if c < 1:
            raise SpecError("compression", self.compression, "must be >= 1 (2.0 = fp32 -> fp16)")
        set_(self, "compression", c)
        set_(
            self,
            "tensor_placement",
            check_choice("tensor_placement", self.tensor_placement, PLACEMENTS, _PLACEMENT_ALIASES),
        )
        set_(self, "split_threshold", check_positive_int("split_threshold", self.split_threshold))
        set_(self, "first_bucket_bytes", parse_bytes(self.first_bucket_bytes, "first_bucket_bytes"))
        set_(self, "cycle_time", parse_duration(self.cycle_time, "cycle_time"))
        if self.fusion_bytes is not None:
            set_(self, "fusion_bytes", parse_bytes(self.fusion_bytes, "fusion_bytes"))
            if name == "ps":
                raise SpecError(
                    "fusion_bytes", self.fusion_bytes, "is Horovod's all-reduce, not for 'ps'"
                )
            if self.zero_stage:
                raise SpecError(
                    "fusion_bytes", self.fusion_bytes, "does not combine with a ZeRO stage"
                )
            set_(self, "overlap", True)
        zs = check_nonnegative_int("zero_stage", self.zero_stage)
        if zs > 3:
            raise SpecError("zero_stage", self.zero_stage, "must be 0, 1, 2 or 3")
        set_(self, "zero_stage", zs)
        if zs and name not in ("ring", "halving_doubling"):
            raise SpecError(
                "zero_stage",
                zs,
                f"needs scheme 'ring' or 'halving_doubling' (a reduce-scatter of the "
                f"gradients and an all-gather of the parameters), not {name!r}",
            )
        if name != "ps":
            if self.tensor_placement != "round_robin":
                raise SpecError(
                    "tensor_placement",
                    self.tensor_placement,
                    f"only applies to scheme 'ps', not {name!r}",
                )
            if self.ps_shards != 1:
                raise SpecError(
                    "ps_shards", self.ps_shards, f"only applies to scheme 'ps', not {name!r}"
                )
            if self.ps_placement != "dedicated":
                raise SpecError(
                    "ps_placement", self.ps_placement, f"only applies to scheme 'ps', not {name!r}"
                )
            if self.backup_workers:
                raise SpecError(
                    "backup_workers",
                    self.backup_workers,
                    f"needs scheme 'ps' (the server drops late gradients); an all-reduce "
                    f"({name!r}) waits for every member",
                )

    @property
    def label(self) -> str:
        """Short description for tables and plots, e.g. ``"ps(k=4, colocated)+2 backup"``."""
        out = self.name
        if self.name == "ps":
            opts = []
            if self.ps_shards != 1:
                opts.append(f"k={self.ps_shards}")
            if self.ps_placement != "dedicated":
                opts.append(self.ps_placement)
            if self.tensor_placement != "round_robin" and self.ps_shards > 1:
                opts.append(self.tensor_placement)
            if opts:
                out += f"({', '.join(opts)})"
            if self.backup_workers:
                out += f"+{self.backup_workers} backup"
        if self.zero_stage:
            out += f"+zero{self.zero_stage}"
        if self.fusion_bytes is not None:
            out += "+fusion"
        elif self.overlap:
            out += "+overlap"
        if self.compression != 1:
            out += f"/{self.compression:g}x"
        return out

    def replace(self, **changes: Any) -> SyncScheme:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SyncScheme:
        """Build from ``{"name": "ps", "ps_shards": 4}`` (``scheme`` = ``name``)."""
        return dataclass_from_dict(
            cls, data, "scheme", {"scheme": "name", "placement": "tensor_placement"}
        )

    @classmethod
    def coerce(cls, scheme: SyncScheme | str | Mapping[str, Any], **overrides: Any) -> SyncScheme:
        """A ``SyncScheme`` from a name, a dict or a scheme, with field ``overrides``."""
        if isinstance(scheme, SyncScheme):
            if not overrides:
                return scheme
            check_keys("scheme options", overrides, tuple(f.name for f in fields(cls)))
            return dataclasses.replace(scheme, **overrides)
        if isinstance(scheme, str):
            return cls.from_dict({"name": scheme, **overrides})
        if isinstance(scheme, Mapping):
            return cls.from_dict({**scheme, **overrides})
        raise SpecError("scheme", scheme, f"must be a name ({', '.join(SCHEMES)}) or a SyncScheme")
