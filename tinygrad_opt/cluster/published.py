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

(:func:`summary` and the checks live in :mod:`.published_checks`; how each field is read,
the topology words, the software's defaults and the ``reading:`` notes in
:mod:`.published_rules`; the names fields take, in any spelling, in
:mod:`.published_names`.)

``tinygrad-opt validate --data FILE`` runs the same on a file of your own records;
``scripts/make_validation_doc.py`` writes docs/validation.md from :data:`DATA`.
"""

from __future__ import annotations

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
from tinygrad_opt.cluster.published_data import DATA, check_data, load
from tinygrad_opt.cluster.published_names import canonical
from tinygrad_opt.cluster.published_rules import (
    collective,
    compute_time,
    cube_mesh_links,
    gbps,
    gradient_bytes,
    host_topology,
    intra_link_gbps,
    intra_topology,
    local_aggregation,
    model_profile,
    readings,
    tensor_placement,
    topology_name,
    transport,
    transport_profile,
)
from tinygrad_opt.cluster.scheme import SyncScheme
from tinygrad_opt.cluster.simulate import simulate
from tinygrad_opt.cluster.spec import ClusterSpec
from tinygrad_opt.cluster.workload import Workload

__all__ = [
    "BACKWARD_FRACTION",
    "BUCKET_BYTES",
    "DATA",
    "FEATURES",
    "FITTED_CONSTANTS",
    "LATENCY",
    "OVERLAP",
    "TIE",
    "assumed",
    "canonical",
    "check_data",
    "collective",
    "compute_spread",
    "compute_time",
    "cube_mesh_links",
    "gradient_bytes",
    "host_topology",
    "inputs_toml",
    "intra_topology",
    "load",
    "local_aggregation",
    "missing_inputs",
    "model_profile",
    "predict",
    "predict_all",
    "readings",
    "scheme_pair_checks",
    "simulated_efficiency",
    "simulator_inputs",
    "summary",
    "tensor_placement",
    "topology_name",
    "transport",
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
