"""How a published-measurement record's fields are read: the rules that turn what a
source says (its software, its machines' words, its precision and transport) into the
simulator's inputs, and the notes (:func:`readings`) where a record could mean something
else. :func:`~tinygrad_opt.cluster.published.simulator_inputs` assembles them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tinygrad_opt.cluster.published_names import (
    BARE_TRANSPORTS,
    PRECISIONS,
    TRANSPORTS,
    canonical,
)

__all__ = [
    "CUBE_MESH_WORDS",
    "NVLINK_MAX_GBPS",
    "NVSWITCH_WORDS",
    "PCIE_TREE_WORDS",
    "PROFILE_TOLERANCE",
    "PROFILE_VARIANTS",
    "SHORT_STEP",
    "TRANSPORT_OF",
    "collective",
    "compute_time",
    "cube_mesh",
    "cube_mesh_links",
    "gbps",
    "gradient_bytes",
    "host_topology",
    "intra_link_gbps",
    "intra_topology",
    "local_aggregation",
    "model_profile",
    "readings",
    "software",
    "tensor_placement",
    "topology_name",
    "transport",
    "transport_profile",
]


def gbps(x: float) -> float:
    """Gbit/s -> bytes/s."""
    return float(x) * 1e9 / 8


TRANSPORT_OF: dict[str, str] = {n: n for n in TRANSPORTS if n not in BARE_TRANSPORTS}
"""The record's ``transport`` -> the simulator's profile (:mod:`tinygrad_opt.cluster.transport`,
the same names); :data:`~tinygrad_opt.cluster.published_data.BARE_TRANSPORTS` have no
profile: the links are taken as they are."""


def transport(p: Mapping[str, Any]) -> str:
    """Record ``p``'s ``transport`` in lower case; absent, ``nccl`` for the all-reduce
    schemes (every GPU framework's all-reduce since 2017: DDP, Horovod, DeepSpeed, MXNet,
    TensorFlow) and ``cuda-copy`` (the bare links) for a parameter server."""
    if "transport" in p:
        return str(p["transport"]).strip().lower()
    return "cuda-copy" if p.get("scheme") == "ps" else "nccl"


def transport_profile(p: Mapping[str, Any]) -> str | None:
    """The simulator's transport profile for record ``p`` (:data:`TRANSPORT_OF` of
    :func:`transport`), or None for the bare links."""
    return TRANSPORT_OF.get(transport(p))


def gradient_bytes(p: Mapping[str, Any]) -> int:
    """Bytes per gradient element of record ``p``: its ``precision``, any case
    (:data:`~tinygrad_opt.cluster.published_data.PRECISIONS`)."""
    return PRECISIONS[str(p["precision"]).strip().lower()]


PROFILE_TOLERANCE = 0.05
"""A built-in profile stands for a record's model when the names agree (any case and
punctuation: ``"ResNet-50 v1.5"`` is ``resnet50``) and so do the parameter counts, to 5%:
Keras' totals (the records') also count the batch norms' moving statistics and ResNets'
convolution biases, which are no gradients (0.3%, ``tests/cluster/test_model_profiles.py``),
and papers round (BERT-large's "340 M" is 335 M, 1.5%; GPT-2's "1.5 B" is 1.56 B, 3.7%).
A count further off is another model (Inception-v3 with and without its auxiliary head
differ by 14%, a 21,841-class head doubles ResNet-101): a bare count."""


PROFILE_VARIANTS: tuple[tuple[str, ...], ...] = (
    ("inception_v3_noaux", "inception_v3"),
    ("alexnet", "alexnet_mxnet"),
)
"""Profiles of one model name that differ in layout: a record naming any of them gets the
one whose parameter count is nearest (Inception-v3 with or without its auxiliary head;
AlexNet as torchvision and Caffe build it, 61 M, or as MXNet's example symbol, 51 M)."""


def model_profile(p: Mapping[str, Any]) -> str | None:
    """The built-in profile of the record's model (per-tensor sizes for a parameter
    server's placement; its trainable count is the gradient), or None (a bare count, split
    evenly) when no profile of that name has a count within :data:`PROFILE_TOLERANCE` of
    the record's; of a model's :data:`PROFILE_VARIANTS`, the one whose count is nearest."""
    from tinygrad_opt.cluster.models import get_model
    from tinygrad_opt.cluster.validation import SpecError

    try:
        name = get_model(p["model"]).name
    except (SpecError, KeyError):
        return None
    candidates = next((v for v in PROFILE_VARIANTS if name in v), (name,))
    n = int(p["parameters"])
    off = {c: abs(get_model(c).parameters - n) / n for c in candidates}
    best = min(candidates, key=off.__getitem__)
    return best if off[best] <= PROFILE_TOLERANCE else None


def collective(p: Mapping[str, Any], features: Iterable[str] = ("nccl_trees",)) -> str:
    """The simulator's all-reduce for record ``p`` across machines: its ``scheme``, except
    that NCCL 2.4 and later (``nccl_version = "2.4"``: NGC containers from 19.03 on,
    DLPerf's of 2020) choose per message between their ring and their double binary
    trees: the simulator's ``nccl``. Horovod's 2017 NCCL 2.0 and earlier run the ring, and
    so does a sharded record (``zero_stage`` 1–3: NCCL's reduce-scatter and all-gather
    have no trees)."""
    zero = canonical(p).get("zero_stage", 0)
    if p["scheme"] == "ring" and p.get("nccl_version") == "2.4" and "nccl_trees" in features:
        return "ring" if zero else "nccl"
    return p["scheme"]


CUBE_MESH_WORDS = re.compile(
    r"cube ?mesh|\bdgx ?1(?!\d)|big ?basin|\bhgx ?1\b|\bp3\.16xlarge|\bp3dn\b"
)
"""Words of ``intra`` naming a DGX-1 / Big Basin / AWS p3 NVLink hybrid cube-mesh."""

NVSWITCH_WORDS = re.compile(r"nvswitch|\bdgx ?(2|a100|h100|h200|b200)|\bhgx ?(a100|h100|h200|b200)")
"""Words of ``intra`` naming NVSwitch machines (DGX-2, DGX/HGX A100, H100 …)."""

PCIE_TREE_WORDS = re.compile(r"pcie[^,;()]*?\b(switch|switches|tree)\b|\bplx\b")
"""Words of ``intra`` naming GPUs behind shared PCIe switches."""


def topology_name(p: Mapping[str, Any]) -> str:
    """The GPU interconnect of record ``p``'s machines: its ``intra_topology`` field when
    given, else read from the words of ``intra`` (any case, hyphens and underscores as
    spaces): "cube-mesh", "DGX-1", "Big Basin", "p3.16xlarge" are a
    ``nvlink_cube_mesh`` (:data:`CUBE_MESH_WORDS`); "NVSwitch", "DGX-2", "DGX A100" …
    ``nvswitch``; "PCIe switch", "PCIe tree", "PLX" a ``pcie_tree``; else ``link`` (one
    link per GPU, "NVLink" alone too: then give the GPU's total bandwidth)."""
    if "intra_topology" in p:
        return str(p["intra_topology"])
    words = re.sub(r"[-_]", " ", str(p.get("intra", "")).lower())
    if CUBE_MESH_WORDS.search(words):
        return "nvlink_cube_mesh"
    if NVSWITCH_WORDS.search(words):
        return "nvswitch"
    return "pcie_tree" if PCIE_TREE_WORDS.search(words) else "link"


def cube_mesh(p: Mapping[str, Any]) -> bool:
    """Whether record ``p``'s GPUs sit on a DGX-1 / Big Basin NVLink hybrid cube-mesh
    (:func:`topology_name`)."""
    return topology_name(p) == "nvlink_cube_mesh"


def _pcie_tree(p: Mapping[str, Any]) -> dict[str, Any]:
    """A PCIe tree of the record's ``devices_per_switch`` GPUs (default 2) per switch."""
    return {"name": "pcie_tree", "devices_per_switch": int(p.get("devices_per_switch", 2))}


def host_topology(p: Mapping[str, Any]) -> str | dict[str, Any]:
    """How the GPUs of one machine reach its host memory, for a parameter server there
    (the simulator's ``ps_placement = "host"``, over ``intra_bandwidth_gbps``).

    Under a DGX-1's NVLink cube-mesh the GPUs sit in pairs behind 4 PCIe switches with
    one x16 uplink each (NVIDIA DGX-1 System Architecture whitepaper WP-08437-002,
    Fig. 2): a ``pcie_tree`` of two devices per switch. A record whose ``intra_topology``
    is ``pcie_tree`` has its ``devices_per_switch`` (default 2) under each switch.
    Elsewhere every GPU (a K80 die: its half of the board's link, already in
    ``intra_bandwidth_gbps``) has its own link: ``link``."""
    if cube_mesh(p):
        return {"name": "pcie_tree", "devices_per_switch": 2}
    return _pcie_tree(p) if topology_name(p) == "pcie_tree" else "link"


def intra_topology(p: Mapping[str, Any]) -> dict[str, Any] | None:
    """The simulator's intra-node topology for an all-reduce record ``p``
    (:func:`topology_name`), or None for one link per GPU.

    The NVLink hybrid cube-mesh of a DGX-1 / Big Basin (``links_per_gpu`` 6 for NVLink 2.0
    / V100, else 4): its ``intra_bandwidth_gbps`` is one NVLink (160 = 20 GB/s, 200 =
    25 GB/s). With ``nccl_version = "1"`` (TensorFlow's ``contrib.nccl`` of 2017 built
    NCCL 1.x from NVIDIA/nccl's GitHub tree, pinned in TensorFlow's ``workspace.bzl``) the
    ring is NCCL 1.x's one ring in device order (``rings = "device_order"``). NVSwitch:
    every GPU at its full ``intra_bandwidth_gbps`` to any other. A PCIe tree:
    ``devices_per_switch`` GPUs behind each switch's uplink. Parameter servers keep their
    links (their intra-node traffic is not topology-aware; a server in host memory goes
    through :func:`host_topology`), except the ring reduce-scatter and all-gather of a
    machine's local aggregation (``local_aggregation = true``), which run on the topology
    as NCCL's do in BytePS; the K80's two dies already share their board's link in
    ``intra_bandwidth_gbps``."""
    name = topology_name(p)
    if name == "link" or (p.get("scheme") == "ps" and not local_aggregation(p)):
        return None
    if name == "nvswitch":
        return {"name": "nvswitch"}
    if name == "pcie_tree":
        return _pcie_tree(p)
    rings = "device_order" if p.get("nccl_version") == "1" else "disjoint"
    return {"name": "nvlink_cube_mesh", "links_per_gpu": cube_mesh_links(p), "rings": rings}


def cube_mesh_links(p: Mapping[str, Any]) -> int:
    """NVLinks per GPU of record ``p``'s hybrid cube-mesh: 6 for V100 (NVLink 2.0: the
    words "V100", "2.0", "DGX-1V", "p3dn" in ``gpu`` or ``intra``), else 4 (P100)."""
    words = re.sub(r"[-_]", " ", f"{p.get('intra', '')} {p.get('gpu', '')}".lower())
    v100 = re.search(r"v100|2\.0|dgx ?1v|\bp3dn\b|\bp3\.16xlarge", words) is not None
    return 6 if v100 else 4


NVLINK_MAX_GBPS = 200.0
"""One NVLink 2.0 link, Gbit/s each way: the fastest link of a hybrid cube-mesh."""


def intra_link_gbps(p: Mapping[str, Any]) -> float:
    """Record ``p``'s ``intra_bandwidth_gbps``, the simulator's intra-node link. On an
    NVLink hybrid cube-mesh it is one NVLink: a value above one NVLink 2.0 link
    (:data:`NVLINK_MAX_GBPS`) is most likely the GPU's total over its links, and is
    refused (``ValueError`` naming both readings) rather than guessed."""
    g = float(p["intra_bandwidth_gbps"])
    topo = intra_topology(p)
    if topo is not None and topo["name"] == "nvlink_cube_mesh" and g > NVLINK_MAX_GBPS:
        raise ValueError(
            f"intra_bandwidth_gbps {g:g} is more than one NVLink ({NVLINK_MAX_GBPS:g} Gbit/s), "
            "which a hybrid cube-mesh takes: give one link's, 200 for V100 (NVLink 2.0) or "
            "160 for P100 (NVLink 1.0), not the GPU's total over its links"
        )
    return g


def compute_time(p: Mapping[str, Any]) -> float:
    """Seconds of compute per step of record ``p``: its per-GPU batch over one GPU's share
    of the baseline throughput, ``per_gpu_batch / (baseline_throughput / baseline_gpus)``."""
    return int(p["per_gpu_batch"]) * int(p["baseline_gpus"]) / float(p["baseline_throughput"])


def software(p: Mapping[str, Any]) -> str:
    """Record ``p``'s ``framework``, ``transport`` and ``scheme_detail``, in lower case:
    where the rules look for the software (BytePS, MXNet) that implies a default."""
    return " ".join(str(p.get(f, "")) for f in ("framework", "transport", "scheme_detail")).lower()


def tensor_placement(p: Mapping[str, Any], nodes: int | None = None) -> str:
    """How record ``p``'s parameter servers hold its tensors on ``nodes`` machines (default
    the record's) (:mod:`tinygrad_opt.cluster.placement`): the record's
    ``tensor_placement`` when given, else by its software.

    - BytePS cuts every tensor into pieces of at most 4,096,000 bytes spread over the
      servers (``byteps/common/global.cc``, ``BYTEPS_PARTITION_BYTES``): near-even loads,
      ``even``.
    - MXNet across machines (``dist_*`` KVStores) cuts every array of 10⁶ elements or
      more over all servers and puts a smaller one whole on one
      (``src/kvstore/kvstore_dist.h``, ``MXNET_KVSTORE_BIGARRAY_BOUND``): ``split``. On one
      machine its ``device`` KVStore sums each array on one GPU, the arrays taken largest
      first, each onto the GPU holding the fewest elements so far (``src/kvstore/comm.h``,
      ``CommDevice::InitMergeBuffer``): ``greedy``.
    - TensorFlow's ``replica_device_setter`` and the others place whole tensors one after
      the other: ``round_robin``.
    """
    if "tensor_placement" in p:
        return str(p["tensor_placement"])
    if "byteps" in software(p):
        return "even"
    if "mxnet" in software(p):
        return "split" if int(p["nodes"] if nodes is None else nodes) > 1 else "greedy"
    return "round_robin"


def local_aggregation(p: Mapping[str, Any]) -> bool:
    """Whether record ``p``'s machines sum their GPUs' gradients before the parameter
    servers see them: its ``local_aggregation`` when given, else by its software. BytePS
    always does (its local NCCL reduce, ``byteps/common/core_loops.cc``), and so do
    MXNet's ``dist_*`` KVStores across machines (``KVStoreDist`` pushes the sum of a
    machine's devices, ``src/kvstore/kvstore_dist.h``); the others push every GPU's own."""
    if "local_aggregation" in p:
        return bool(p["local_aggregation"])
    if p.get("scheme") != "ps" or int(p.get("nodes", 1)) < 2:
        return False
    return "byteps" in software(p) or "mxnet" in software(p)


SHORT_STEP = 1e-3
"""Seconds of compute per step below which :func:`readings` asks about the units of
``baseline_throughput`` (tokens per second read as samples per second give microseconds)."""


def readings(p: Mapping[str, Any]) -> list[str]:
    """How record ``p`` is read where it could have meant something else, one line each
    (``tinygrad-opt validate`` prints them): a precision that names no dtype, a topology
    or bandwidth read from words, local aggregation and tensor placement assumed from the
    software, a host parameter server across machines, a compute time so short that the
    throughput's unit is in doubt."""
    p = canonical(p)
    out = []
    prec = str(p.get("precision", ""))
    if prec in ("mixed", "amp"):
        out.append(
            f"precision {prec!r} read as fp16 gradients (apex O2, fp16 models); "
            "write fp32 for torch.cuda.amp or TF-AMP, whose gradients stay fp32"
        )
    several = int(p["gpus_per_node"]) > 1
    if "intra_topology" not in p and several and intra_topology(p) is not None:
        out.append(f"intra {p.get('intra')!r} read as intra_topology {topology_name(p)!r}")
    elif several and p.get("ps_placement") == "host" and host_topology(p) != "link":
        out.append(
            f"intra {p.get('intra')!r}: the parameter server in host memory is reached "
            "over PCIe switches shared by two GPUs (pcie_tree)"
        )
    words = str(p.get("intra", "")).lower()
    if several and "nvlink" in words and topology_name(p) == "link":
        out.append(
            f"intra {p.get('intra')!r} names NVLink but no machine: one link per GPU of "
            f"intra_bandwidth_gbps {p.get('intra_bandwidth_gbps')} (the GPU's total); a "
            "DGX-1-like cube-mesh needs intra_topology = 'nvlink_cube_mesh'"
        )
    if "transport" not in p:
        out.append(f"transport not given: {transport(p)!r}")
    if "local_aggregation" not in p and local_aggregation(p):
        out.append("local_aggregation assumed: BytePS and MXNet sum a machine's GPUs first")
    if p.get("scheme") == "ps" and "tensor_placement" not in p:
        placed = tensor_placement(p)
        if placed != "round_robin":
            out.append(f"tensor_placement {placed!r} assumed from the software")
    if p.get("scheme") == "ps" and p.get("ps_placement") == "host" and int(p["nodes"]) > 1:
        out.append("ps_placement 'host' across machines simulated as colocated servers")
    if "baseline_throughput" in p and "per_gpu_batch" in p and compute_time(p) < SHORT_STEP:
        out.append(
            f"compute time {1e6 * compute_time(p):.0f} µs per step (per_gpu_batch / "
            "baseline_throughput): is baseline_throughput in samples/s? (tokens/s: give "
            "throughput_unit and sequence_length)"
        )
    return out
