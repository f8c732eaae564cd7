"""Predict published measurements of real clusters: records in, scaling efficiencies out.

A *record* describes one published measurement of synchronous data-parallel training
with its public inputs: the model and its parameter count, the per-GPU batch, the
single-GPU throughput, the GPUs, machines and links, the scheme and the software
(docs/validation-data.md gives the format; :data:`DATA`, shipped with the package, holds
389 of them from 22 sources; :func:`load` and :func:`check_data` come from
:mod:`.published_data`). :func:`simulator_inputs` turns a record into a cluster, a
workload and a scheme by fixed rules, the same for every record and nothing taken from
the measured throughput at scale; :func:`predict` simulates it and returns the predicted
scaling efficiency. One constant is fitted, globally (:data:`FITTED_CONSTANTS`: the
spread of the per-step compute times); the assumed ones are :data:`LATENCY`,
:data:`OVERLAP`, :data:`BACKWARD_FRACTION` and :data:`BUCKET_BYTES` (docs/validation.md
changes each alone).

    data = load()                      # or load("my_measurements.toml")
    check_data(data)                   # ValueError naming the record and the field
    rows = predict_all(data)           # [{"p": record, "pred": 0.91, "err": -0.02}, ...]
    summary([r["err"] for r in rows if r["err"] is not None])   # (median, p90) |error|
    worst_model_checks(rows), scheme_pair_checks(rows)          # the orderings

(:func:`summary` and the checks live in :mod:`.published_checks`.)

``tinygrad-opt validate --data FILE`` runs the same on a file of your own records;
``scripts/make_validation_doc.py`` writes docs/validation.md from :data:`DATA`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tinygrad_opt.cluster.compute import Deterministic, Uniform
from tinygrad_opt.cluster.published_checks import (
    TIE,
    scheme_pair_checks,
    summary,
    worst_model_checks,
)
from tinygrad_opt.cluster.published_data import (
    BARE_TRANSPORTS,
    DATA,
    PRECISIONS,
    TRANSPORTS,
    canonical,
    check_data,
    load,
)
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.simulate import simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.workload import Workload

__all__ = [
    "DATA",
    "FEATURES",
    "FITTED_CONSTANTS",
    "TIE",
    "assumed",
    "check_data",
    "compute_spread",
    "compute_time",
    "gradient_bytes",
    "inputs_toml",
    "load",
    "missing_inputs",
    "predict",
    "predict_all",
    "scheme_pair_checks",
    "simulator_inputs",
    "summary",
    "tensor_placement",
    "topology_name",
    "transport_profile",
    "worst_model_checks",
]


LATENCY = 10e-6
"""Seconds of latency ``α`` assumed for every link (no source gives one per cluster); the
latency terms are below 2% of every predicted step here."""

OVERLAP = True
"""Frameworks overlap gradient exchange with the backward pass (TensorFlow's per-variable
dataflow, Horovod's fusion buffer, Caffe2/Gloo per blob, PyTorch DDP's buckets); modelled
as the simulator's DDP buckets (backward = :data:`BACKWARD_FRACTION` of the step): for a
per-tensor profile 1 MiB then :data:`BUCKET_BYTES` filled in reverse layer order, each
gradient ready when its layer's backward ends; for a bare parameter count equal buckets of
:data:`BUCKET_BYTES`.

A record with ``overlap = false`` is simulated without overlap: the exchange starts when
the backward pass ends. That is TensorFlow's in-graph NCCL all-reduce through its
``NcclManager`` (``variable_update=replicated`` with NCCL in tf_cnn_benchmarks, tensorpack's
replicated trainer, ``nccl_ops.all_sum``) until TensorFlow pull request #31481 (August
2019): a collective was launched only when its last participant (the last GPU's tower) had
joined, and each GPU's NCCL stream then waited for everything on that GPU's compute
stream (``NcclManager::RunCollective``, ``ThenWaitFor(p->tensor_stream)``), by then "most
compute kernels", so the all-reduce ran after the backward pass. And ChainerMN before its
double buffering (v1.3, 2018): its optimizer all-reduces the gradients after
``loss.backward()`` has returned (``chainermn/optimizers.py``). ``False`` here turns the
overlap off for every record."""

BACKWARD_FRACTION = 2.0 / 3.0
"""Share of a step's compute in the backward pass (the simulator's default: backward ≈
twice the forward work)."""

BUCKET_BYTES = 25 * 2**20
"""DDP's default bucket cap, used as the overlap unit for every framework."""

FITTED_CONSTANTS: dict[str, float] = {"compute_spread": 0.10}
"""Global constants fitted to the published data (at most two are allowed; one is used).

``compute_spread``: every GPU's compute time per step is uniform on ``[1 − a, 1 + a]``
times its mean (:class:`~tinygrad_opt.cluster.compute.Uniform`), independently over GPUs
and steps; a synchronous step waits for the slowest GPU, ``1 + a(N − 1)/(N + 1)`` of the
mean at ``N`` GPUs. It stands for every per-step variation the inputs do not give (kernel
timing, input pipelines, the frameworks' own synchronisation). Bounded noise, not a
lognormal: the lognormal's ``σ·sqrt(2 ln N)`` keeps growing with ``N`` and fits these
data as well up to 64 GPUs but puts Horovod's 512-GPU points (90% measured) near 80%.
Fitted by ``scripts/make_validation_doc.py --fit``: the value of 0, 0.01, …, 0.30 with the
smallest mean |error| over the points of every source but the script's ``UNSEEN`` ones,
added afterwards (a least-absolute-deviations fit)."""


@contextmanager
def compute_spread(a: float | None) -> Iterator[float]:
    """Predict with compute-time spread ``a`` inside the block (``None``: the fitted one);
    the fitted value is restored on the way out. Yields the spread in use."""
    saved = FITTED_CONSTANTS["compute_spread"]
    if a is not None:
        FITTED_CONSTANTS["compute_spread"] = float(a)
    try:
        yield FITTED_CONSTANTS["compute_spread"]
    finally:
        FITTED_CONSTANTS["compute_spread"] = saved


ASSUMED = ("LATENCY", "OVERLAP", "BACKWARD_FRACTION", "BUCKET_BYTES")
"""The assumed (not fitted) constants :func:`assumed` may change."""


@contextmanager
def assumed(**values: Any) -> Iterator[None]:
    """Predict with some of the :data:`ASSUMED` constants changed inside the block
    (``assumed(LATENCY=50e-6)``); they are restored on the way out."""
    unknown = sorted(set(values) - set(ASSUMED))
    if unknown:
        raise KeyError(f"not an assumed constant: {', '.join(unknown)}; valid: {ASSUMED}")
    saved = {k: globals()[k] for k in values}
    globals().update(values)
    try:
        yield
    finally:
        globals().update(saved)


SAMPLED_STEPS = 2048
"""Steps sampled per prediction when the compute times vary (fixed seed 0)."""


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


FEATURES: tuple[str, ...] = (
    "model",
    "local_aggregation",
    "transport",
    "topology",
    "host_memory",
    "nccl_trees",
    "jitter",
)
"""What :func:`simulator_inputs` uses (issue 16): the per-tensor model profile, local
aggregation, the transport profile, the intra-node topology (:func:`intra_topology`), a
parameter server in one machine's host memory reached over its PCIe tree
(:func:`host_topology`), NCCL ≥ 2.4's choice of ring or trees across machines
(:func:`collective`) and the fitted compute-time spread (:data:`FITTED_CONSTANTS`)."""


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


def simulator_inputs(
    p: Mapping[str, Any], gpus: int | None = None, features: Iterable[str] = FEATURES
):
    """(cluster, workload, scheme) for point ``p`` at ``gpus`` GPUs (default ``p["gpus"]``).

    Rules (public inputs only):

    - compute time per step = ``per_gpu_batch / (baseline_throughput / baseline_gpus)``;
      gradient bytes = parameters × 4 (fp32) or × 2 (fp16);
    - the model's per-tensor sizes (:func:`model_profile`) when a built-in profile has the
      record's parameter count: a parameter server places whole tensors round-robin
      (TensorFlow's default) and sends one message per tensor;
    - one machine (``nodes == 1``): every GPU is its own "node" whose link is its
      intra-node link (``intra_bandwidth_gbps``); a parameter server in host memory
      (``ps_placement = "host"``, or colocated servers after local aggregation on one
      machine) is one dedicated server with a link of the same speed; servers spread over
      the GPUs are ``k`` colocated shards;
    - ``ps_servers`` when not given: one server per machine (one per GPU on one machine,
      TensorFlow's variables spread over the GPUs);
    - several machines: ``gpus_per_node`` devices per node on ``intra_bandwidth_gbps``,
      nodes on ``inter_bandwidth_gbps``; ``ring``/``hierarchical`` as named, parameter
      servers as ``k`` colocated or dedicated shards, with the record's
      ``local_aggregation`` (a machine sums its GPUs and pushes one gradient);
    - the record's ``transport`` as the simulator's profile (:data:`TRANSPORT_OF`);
    - parameter servers hold the tensors as the software does (:func:`tensor_placement`:
      BytePS even shares, MXNet's KVStore split arrays, else whole tensors round-robin);
    - latency :data:`LATENCY` on every link; overlap :data:`OVERLAP`, unless the record
      sets ``overlap = false`` (software that starts the exchange only after the backward
      pass: TensorFlow's in-graph NCCL all-reduce of 2017-2019, ChainerMN 1.0;
      :data:`OVERLAP`).

    ``features`` (a subset of :data:`FEATURES`) selects which of the model profile, local
    aggregation and transport are used: ``()`` gives the inputs as before they existed,
    for the comparison in the doc.
    """
    p = canonical(p)
    features = frozenset(features)
    g = int(p["gpus"] if gpus is None else gpus)
    gpn = int(p["gpus_per_node"]) if g > int(p["gpus_per_node"]) else g
    nodes = max(1, g // gpn)
    batch = int(p["per_gpu_batch"])
    model = model_profile(p) if "model" in features else None
    size = {"model": model} if model else {"parameters": int(p["parameters"])}
    wl = Workload(
        **size,
        per_worker_batch=batch,
        compute_time_per_step=compute_time(p),
        bytes_per_param=gradient_bytes(p),
        backward_fraction=BACKWARD_FRACTION,
        steps=1,
        grad_accumulation=int(p.get("grad_accumulation", 1)),
    )
    if "intra_bandwidth_gbps" not in p:  # one GPU per machine: its only link is the NIC
        intra = gbps(p["inter_bandwidth_gbps"])
    elif "topology" in features:
        intra = gbps(intra_link_gbps(p))
    else:
        intra = gbps(p["intra_bandwidth_gbps"])
    scheme = p["scheme"]
    place = p.get("ps_placement")
    if place == "host" and int(p["nodes"]) > 1:  # servers in each machine's memory:
        place = "colocated"  # colocated, at the baseline's GPU count too
    k = int(p.get("ps_servers") or (nodes if nodes > 1 else g))
    transport = transport_profile(p) if "transport" in features else None
    local = local_aggregation(p) and "local_aggregation" in features
    topo = intra_topology(p) if "topology" in features else None
    spread = FITTED_CONSTANTS["compute_spread"] if "jitter" in features else 0.0
    overlap = OVERLAP and bool(p.get("overlap", True))
    placed = tensor_placement(p, nodes) if "model" in features else "round_robin"
    tensors = {"tensor_placement": placed}
    compute = Uniform(spread=spread) if spread else Deterministic()

    def sync(**fields: Any) -> SyncScheme:
        """The record's scheme with the overlap and bucket size every record shares (and
        its ZeRO stage: the all-reduce schemes only, :func:`check_data` sees to it)."""
        zero = {} if fields["name"] == "ps" else {"zero_stage": int(p.get("zero_stage", 0))}
        bucket = float(p["bucket_mb"]) * 2**20 if "bucket_mb" in p else BUCKET_BYTES
        return SyncScheme(overlap=overlap, bucket_bytes=bucket, **fields, **zero)

    def machine(topology: Any) -> ClusterSpec:
        """One node of the ``g`` GPUs on ``topology`` over the record's intra link."""
        return ClusterSpec(
            nodes=1,
            devices_per_node=g,
            bandwidth=intra,
            latency=LATENCY,
            intra_bandwidth=intra,
            intra_latency=LATENCY,
            intra_topology=topology,
            transport=transport,
            compute=compute,
        )

    if nodes == 1:
        if topo is not None and scheme != "ps":  # one node of g GPUs on its topology
            return machine(topo), wl, sync(name="ring")
        cluster = ClusterSpec(
            workers=g, bandwidth=intra, latency=LATENCY, transport=transport, compute=compute
        )
        if scheme != "ps":
            return cluster, wl, sync(name="ring")
        if place == "host" or (place == "colocated" and local_aggregation(p)):
            if "host_memory" not in features:  # one server with one GPU's link
                return cluster, wl, sync(name="ps", ps_shards=1)
            host = machine(host_topology(p))
            return host, wl, sync(name="ps", ps_placement="host")
        shards = min(k, g)
        return cluster, wl, sync(name="ps", ps_shards=shards, ps_placement="colocated", **tensors)
    extra: dict[str, Any] = {}
    if gpn > 1:
        extra = {"intra_bandwidth": intra, "intra_latency": LATENCY, "intra_topology": topo}
    cluster = ClusterSpec(
        workers=g,
        devices_per_node=gpn,
        bandwidth=gbps(p["inter_bandwidth_gbps"]),
        latency=LATENCY,
        transport=transport,
        local_aggregation=local and scheme == "ps",
        summation_service=bool(p.get("summation_service")) and place == "dedicated",
        compute=compute,
        **extra,
    )
    if scheme != "ps":
        return cluster, wl, sync(name=collective(p, features))
    placement = "dedicated" if place == "dedicated" else "colocated"
    shards = min(k, nodes if local and placement == "colocated" else g)
    # BytePS cuts every tensor into pieces of at most 4,096,000 bytes spread over the
    # servers (byteps/common/global.cc, BYTEPS_PARTITION_BYTES): near-even shard loads
    return cluster, wl, sync(name="ps", ps_shards=shards, ps_placement=placement, **tensors)


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
    prec = str(p.get("precision", "")).strip().lower()
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


def missing_inputs(p: Mapping[str, Any]) -> list[str]:
    """Inputs a prediction needs that point ``p`` lacks: the batch and the one-GPU speed,
    the link between the GPUs of a machine when it has several, the network when there
    are several machines (a record at its baseline's GPU count needs nothing: 1)."""
    if int(p["gpus"]) == int(p["baseline_gpus"]):
        return []
    need = ["per_gpu_batch", "baseline_throughput"]
    if int(p["gpus_per_node"]) > 1:
        need.append("intra_bandwidth_gbps")
    if int(p["nodes"]) > 1:
        need.append("inter_bandwidth_gbps")
    return [k for k in need if k not in p]


def simulated_efficiency(
    p: Mapping[str, Any], gpus: int, features: Iterable[str] = FEATURES
) -> float:
    """The simulator's scaling efficiency of record ``p``'s configuration at ``gpus`` GPUs
    (:func:`predict` divides the record's by its baseline's)."""
    return _efficiency(canonical(p), gpus, features)


def _efficiency(p: Mapping[str, Any], gpus: int, features: Iterable[str]) -> float:
    cluster, wl, scheme = simulator_inputs(p, gpus, features)
    steps = 4 if isinstance(cluster.compute, Deterministic) else SAMPLED_STEPS
    return simulate(cluster, wl, scheme, steps_to_sample=steps, seed=0).scaling_efficiency


def predict(p: Mapping[str, Any], features: Iterable[str] = FEATURES) -> float | None:
    """Predicted scaling efficiency of point ``p``, or None when an input is missing.

    Relative, like the measurement, to the same configuration on ``baseline_gpus``: the
    simulator's efficiency at ``gpus`` divided by its efficiency at ``baseline_gpus``. On
    one GPU that is 1 for the all-reduce schemes (nothing to exchange), but a parameter
    server in host memory still costs one GPU its push and pull every step, and the
    sources' one-GPU numbers are measured with it (tf_cnn_benchmarks'
    ``parameter_server`` mode, tensorpack's per-mode tables)."""
    p = canonical(p)
    if missing_inputs(p):
        return None
    if int(p["gpus"]) == int(p["baseline_gpus"]):  # the same configuration on both sides
        return 1.0
    eff = _efficiency(p, int(p["gpus"]), features)
    return eff / _efficiency(p, int(p["baseline_gpus"]), features)


def inputs_toml(p: Mapping[str, Any], gpus: int | None = None) -> str:
    """Record ``p``'s simulator inputs at ``gpus`` GPUs (default its own) as a cluster file:
    ``tinygrad-opt whatif --config FILE --samples 2048 --seed 0`` simulates exactly what
    :func:`predict` does at that GPU count (:data:`SAMPLED_STEPS`, seed 0)."""
    from tinygrad_opt.cluster.toml_io import to_toml

    cluster, wl, scheme = simulator_inputs(p, gpus)
    settings = {"cluster": cluster.to_dict(), "workload": wl.to_dict(), "scheme": scheme.to_dict()}
    return to_toml(settings)


def predict_all(
    data: Mapping[str, Any], features: Iterable[str] = FEATURES
) -> list[dict[str, Any]]:
    """``{"p": record, "pred": predicted efficiency or None, "err": pred − measured or None}``
    for every record of ``data``, in order."""
    out = []
    for p in data["point"]:
        pred = predict(p, features)
        out.append({"p": p, "pred": pred, "err": None if pred is None else pred - p["efficiency"]})
    return out
