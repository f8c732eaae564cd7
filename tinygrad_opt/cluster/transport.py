"""The communication software: per-message overhead, achieved bandwidth, host staging.

The same ring over the same link runs at different speeds under different software. A
:class:`Transport` changes the alpha-beta model of :mod:`.collectives` in three ways:

* **per-message overhead** ``o`` (seconds): added to the latency of every message, so an
  algorithm step costs ``α + o + m/(ηB)``; a parameter-server push or pull sends one
  message per tensor (piece) placed on the shards, ``n_msg`` of them per worker
  (:attr:`~tinygrad_opt.cluster.placement.Placement.pieces`; 1 for a bare parameter count),
  and costs ``α + n_msg·o + …``;
* **achieved fraction of the link bandwidth** ``η`` in (0, 1]: every link (NIC and
  intra-node) moves ``ηB`` bytes per second;
* **host-staging copies** ``h``: a transport that sends from host memory copies the
  gradient GPU→host before the network and host→GPU after it, ``h = 2`` copies of the
  whole message over PCIe at ``staging_bandwidth``: ``h·M/B_pcie`` more per
  synchronisation (a phase ``host staging``).

Closed form, for every scheme: ``T_transport(M) = T(M; α + o, ηB, ηB_i) + h·M/B_pcie``,
plus ``2(n_msg − 1)·o`` for a parameter server (push and pull).

Named profiles (:data:`TRANSPORTS`), each value from a published microbenchmark (a
message-size sweep of one primitive, not a training run):

=================  ==========  =====  ===  ==============================================
name               ``o``       ``η``  h    source
=================  ==========  =====  ===  ==============================================
``nccl``           10 µs       0.976  0    nccl-tests ``all_reduce_perf``: 8-byte
                                           all-reduce of 2 ranks on 2 nodes in 19.9 µs,
                                           i.e. ~10 µs per ring step (NVIDIA/nccl-tests
                                           issue #150, output table, row ``8``);
                                           12.2 GB/s bus bandwidth on one 100 Gbit/s EDR
                                           NIC, "as good as you can get" (NVIDIA/
                                           nccl-tests issue #29, maintainer's comment)
``mpi``            1.18 µs     0.990  2    OSU ``osu_latency`` 0 bytes, Open MPI ob1,
                                           1.18 µs (gist hppritcha/6a3acd0c…, OSU 5.3.2
                                           table, row ``0``); ``osu_mbw_mr`` 4 MiB,
                                           12,380.57 MB/s on 100 Gbit/s Omni-Path (gist
                                           hppritcha/8da4436a…, row ``4194304``); host
                                           buffers: the GPU gradient is staged
``mpi_gpudirect``  14.5 µs     0.990  0    CUDA-aware MPICH ping-pong of device
                                           buffers, 8 bytes in 14.46 µs (pmodels/mpich
                                           issue #7140, results table, row ``8``); the
                                           wire rate as ``mpi`` (no device-buffer sweep
                                           with its link speed was found)
``grpc``           8 µs        0.736  2    gRPC C++ 1.8.3 streaming RPC on a 10 Gbit/s
                                           Mellanox NIC, Linux: 125,000 empty messages/s
                                           (8 µs each) and 920 MB/s with 2 MB messages
                                           (920/1250; grpc/grpc issue #14378); TensorFlow
                                           copies GPU tensors to host before gRPC
``gloo``           39 µs       0.880  2    Gloo ``benchmark`` ``allreduce_ring`` of 2
                                           processes, 1 KB in 0.039 ms over ibverbs
                                           (pytorch/gloo issue #158, test 1 table, row
                                           ``1KB``); ``allreduce_ring_chunked`` at
                                           110 MB/s on 1 GbE of 125 (pytorch/gloo issue
                                           #21, maintainer's comment); CUDA buffers go
                                           through host memory on TCP
=================  ==========  =====  ===  ==============================================

``staging_bandwidth`` defaults to 12.15 GB/s: CUDA's ``bandwidthTest`` on a Tesla
P100-PCIe (PCIe 3.0 ×16), pinned memory, 32 MiB, host to device 12,150.7 MB/s and device to
host 12,890.6 MB/s (mpicbg-scicomp/gearshifft pull request #82, the NUMA-local run; the
slower direction), against 15.75 GB/s nominal (8 GT/s × 16 lanes × 128/130).

:data:`IDEAL` (no overhead, the nominal bandwidth, no staging) is the default of
:class:`~tinygrad_opt.cluster.spec.ClusterSpec`: the plain alpha-beta model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from tinygrad_opt.cluster.units import parse_bandwidth, parse_duration
from tinygrad_opt.cluster.validation import (
    SpecError,
    check_choice,
    check_fraction,
    check_keys,
    check_nonnegative_int,
)

__all__ = ["IDEAL", "TRANSPORTS", "TRANSPORT_NAMES", "Transport", "coerce_transport"]

PCIE3_X16 = 12.15e9
"""Bytes/s of one pinned GPU↔host copy over PCIe 3.0 ×16 as measured by CUDA's
``bandwidthTest`` (host to device, 12,150.7 MB/s; see the module docstring)."""


@dataclass(frozen=True)
class Transport:
    """A communication library's cost on top of the links (see the module docstring).

    Attributes:
        name: the profile name (free text for a custom one).
        overhead: seconds added to every message (``"10us"``), >= 0.
        efficiency: achieved fraction of every link's bandwidth, in (0, 1].
        staging_copies: GPU↔host copies of the whole message per synchronisation (0, or
            2 for a transport that sends from host memory).
        staging_bandwidth: bytes/s of one staging copy (``"12GB/s"``).
    """

    name: str = "ideal"
    overhead: float | str = 0.0
    efficiency: float = 1.0
    staging_copies: int = 0
    staging_bandwidth: float | str = PCIE3_X16

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.name, str):
            raise SpecError("transport.name", self.name, "must be a string")
        set_(
            self,
            "overhead",
            parse_duration(self.overhead, "transport.overhead", allow_zero=True),
        )
        set_(
            self,
            "efficiency",
            check_fraction("transport.efficiency", self.efficiency, closed_low=False),
        )
        set_(
            self,
            "staging_copies",
            check_nonnegative_int("transport.staging_copies", self.staging_copies),
        )
        set_(
            self,
            "staging_bandwidth",
            parse_bandwidth(self.staging_bandwidth, "transport.staging_bandwidth"),
        )

    @property
    def is_ideal(self) -> bool:
        """True when the transport changes nothing (no overhead, full bandwidth, no copies)."""
        return self.overhead == 0 and self.efficiency == 1 and self.staging_copies == 0

    def staging_time(self, message_bytes: float) -> float:
        """``h · M / B_pcie``: the GPU↔host copies of one synchronisation."""
        return self.staging_copies * float(message_bytes) / float(self.staging_bandwidth)

    def replace(self, **changes: Any) -> Transport:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


IDEAL = Transport()

TRANSPORTS: dict[str, Transport] = {
    "nccl": Transport("nccl", 10e-6, 0.976, 0),
    "mpi": Transport("mpi", 1.18e-6, 0.990, 2),
    "mpi_gpudirect": Transport("mpi_gpudirect", 14.5e-6, 0.990, 0),
    "grpc": Transport("grpc", 8e-6, 0.736, 2),
    "gloo": Transport("gloo", 39e-6, 0.880, 2),
    "ideal": IDEAL,
}
"""Named profiles; the values and their sources are in the module docstring."""

TRANSPORT_NAMES: tuple[str, ...] = tuple(TRANSPORTS)

_ALIASES = {"cuda_aware_mpi": "mpi_gpudirect", "mpi-gpudirect": "mpi_gpudirect",
            "gpudirect": "mpi_gpudirect", "mpi_host": "mpi", "none": "ideal"}  # fmt: skip


_CUSTOM = ("overhead", "efficiency", "staging_copies")


def coerce_transport(value: Transport | str | Mapping[str, Any] | None) -> Transport:
    """A :class:`Transport` from a profile name, a dict or a transport (None: ideal).

    A dict may name a profile and override its fields:
    ``{"name": "mpi", "staging_bandwidth": "12GB/s"}`` (TOML ``[transport]``).
    """
    if value is None:
        return IDEAL
    if isinstance(value, Transport):
        return value
    if isinstance(value, str):
        name = check_choice("transport", value.strip().lower(), TRANSPORT_NAMES, _ALIASES)
        return TRANSPORTS[name]
    if isinstance(value, Mapping):
        names = tuple(f.name for f in fields(Transport))
        check_keys("transport", value, names)
        data = dict(value)
        base = IDEAL
        if "name" in data:
            raw = str(data["name"]).strip().lower().replace("-", "_").replace(" ", "_")
            key = _ALIASES.get(raw, raw)
            if key in TRANSPORTS:
                base = TRANSPORTS[key]
                data["name"] = key
            elif not all(k in data for k in _CUSTOM):
                raise SpecError(
                    "transport",
                    data["name"],
                    f"unknown profile; valid: {', '.join(TRANSPORT_NAMES)} (a custom transport "
                    f"gives {', '.join(_CUSTOM)})",
                )
        return dataclasses.replace(base, **data)
    raise SpecError(
        "transport", value, f"must be a name ({', '.join(TRANSPORT_NAMES)}) or a dictionary"
    )
