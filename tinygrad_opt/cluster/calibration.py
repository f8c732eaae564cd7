"""A calibration of the simulator to one machine: the record, its settings, its predictions.

``tinygrad-opt calibrate`` (:mod:`tinygrad_opt.distributed.calibrate`) measures a
machine with short MPI jobs; :mod:`tinygrad_opt.cluster.calibration_fits` fits the
simulator's parameters to the measurements; this module holds what comes out
(:class:`Calibration`) and turns it into the sections of a cluster file
(:func:`cluster_settings`, :func:`workload_settings`, :func:`scheme_settings`,
:func:`settings_for`) and into predictions (:func:`predict`, :func:`predict_step_time`);
:mod:`tinygrad_opt.cluster.toml_io` writes the file. Also here: the calibration's
workload (a float32 MLP ``[64, h, h, 10]`` trained with Adam, :func:`mlp_sizes`) and the
simulator's coefficients of one collective (:func:`collective_coefficients`), which the
fits and :meth:`Calibration.sweep_fit` share.

No MPI and no engine here: numbers in, settings and predictions out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ADAM_BYTES_PER_PARAM",
    "BATCH",
    "MODES",
    "SIMULATION",
    "TURN_BYTES",
    "WARMUP",
    "Calibration",
    "cluster_flags",
    "cluster_settings",
    "collective_coefficients",
    "mlp_parameters",
    "mlp_sizes",
    "predict",
    "predict_step_time",
    "scheme_settings",
    "settings_for",
    "turn_time_of",
    "workload_flags",
    "workload_settings",
]

MODES = ("allreduce", "ps")
IN_FEATURES, CLASSES, BATCH, DATASET = 64, 10, 32, 2048
ADAM_BYTES_PER_PARAM = 16  # float32 parameter, gradient and two moments
WARMUP = 3  # training steps left out of every mean
TURN_BYTES = 64  # every message of the turn probe (16 float32)
SIMULATION = {"seed": 0, "steps_to_sample": 4000}


# ============================================================================ the workload
def mlp_sizes(parameters: float) -> list[int]:
    """Layer sizes ``[64, h, h, 10]`` of the MLP whose parameter count is closest to
    ``parameters``: two hidden layers of width ``h`` hold ``h² + 76h + 10`` weights and
    biases."""
    p = float(parameters)
    if not math.isfinite(p) or p < 1000:
        raise ValueError(f"model size must be at least 1000 parameters, got {parameters!r}")
    a, b = IN_FEATURES + 2 + CLASSES, CLASSES
    h = (-a + math.sqrt(a * a + 4 * (p - b))) / 2
    width = min((max(1, math.floor(h)), math.ceil(h)), key=lambda w: abs(w * w + a * w + b - p))
    return [IN_FEATURES, width, width, CLASSES]


def mlp_parameters(sizes: Sequence[int]) -> int:
    """Weights and biases of ``nn.MLP(sizes)``."""
    return int(sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:])))


# ============================================================================ the model
def _node(
    ranks: int,
    cores: float | None = None,
    streams: float | None = None,
    cache: float = 0.0,
    reduce_bandwidth: float | None = None,
) -> Any:
    """One node with ``ranks`` workers: the simulator's contention formulas live on it."""
    from tinygrad_opt.cluster.spec import ClusterSpec

    return ClusterSpec(
        nodes=1, devices_per_node=int(ranks), bandwidth=1.0, latency=1.0, intra_bandwidth=1.0,
        cores_per_node=cores, memory_streams_per_node=streams, cache_bytes_per_node=cache,
        reduce_bandwidth=reduce_bandwidth,
    )  # fmt: skip


def collective_coefficients(
    kind: str, ranks: int, cores_per_node: float | None = None
) -> tuple[float, float, float]:
    """``(a, b, g)`` with ``T = a·α + b·M/B + g·M/R``: the simulator's time of one
    ``kind`` exchange of ``M`` bytes among ``ranks`` ranks of one node with latency
    ``α``, bandwidth ``B`` and reduce bandwidth ``R`` (read off
    :func:`~tinygrad_opt.cluster.communication.communication_cost` itself, so the fit uses
    exactly what the simulator predicts with).

    ``"allreduce"``: ring all-reduce, ``a = 2(N−1)·s``, ``b = 2(N−1)/N·s``, ``g =
    (N−1)/N·s`` with ``s`` the node's oversubscription for ``cores_per_node``; ``"ps"``:
    one parameter server colocated with rank 0, push + sum + pull, ``a = 2``, ``b =
    2(N−1)``, ``g = (N−1)·s`` (all 0 for one rank).
    """
    from tinygrad_opt.cluster.communication import communication_cost

    if kind not in MODES:
        raise ValueError(f"kind must be 'allreduce' or 'ps', got {kind!r}")
    scheme = scheme_settings(kind)
    moving = _node(int(ranks), cores_per_node)
    adding = _node(int(ranks), cores_per_node, reduce_bandwidth=1.0)

    def seconds(node: Any, message: float) -> float:
        return communication_cost(node, scheme, message).time_s

    a = seconds(moving, 0.0)
    b = seconds(moving, 1.0) - a
    return float(a), float(b), float(seconds(adding, 1.0) - a - b)


def scheme_settings(mode: str) -> dict[str, Any]:
    """``[scheme]`` of a mode: ring all-reduce, or one parameter server on rank 0."""
    if mode == "allreduce":
        return {"name": "ring"}
    if mode == "ps":
        return {"name": "ps", "ps_shards": 1, "ps_placement": "colocated"}
    raise ValueError(f"mode must be 'allreduce' or 'ps', got {mode!r}")


# ============================================================================ the record
@dataclass
class Calibration:
    """What :func:`calibrate` measured and fitted (SI units: s, bytes, bytes/s)."""

    ranks: list[int]
    sizes: list[int]
    latency_s: float
    bandwidth: float
    cores_per_node: float
    memory_streams_per_node: float
    cache_bytes_per_node: float
    sigma: float
    workloads: dict[str, dict[str, Any]]  # "<parameters>/<mode>" -> workload fields
    # "<parameters>/<mode>" -> what fit_turn_time used (the workload's "turn_time")
    turn_probe: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: dict[str, list[list[float]]] = field(default_factory=dict)  # "ps/4" -> rows
    contention: list[dict[str, Any]] = field(default_factory=list)
    host: str = ""
    cpus: int = 0
    steps: int = 0
    seconds: float = 0.0
    rounds: int = 1  # every job ran this many times; the numbers are medians over them
    reduce_bandwidth: float | None = None  # bytes/s one rank adds (None: not measured)
    reduce_rows: list[list[float]] = field(default_factory=list)  # [bytes, seconds]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(**data)

    def sweep_fit(self) -> list[dict[str, Any]]:
        """Every sweep point with the fitted model's time: ``kind, ranks, bytes,
        measured_s, fitted_s``."""
        out = []
        gamma = 0.0 if self.reduce_bandwidth is None else 1.0 / self.reduce_bandwidth
        for key, rows in self.sweeps.items():
            kind, ranks = key.split("/")
            a, b, g = collective_coefficients(kind, int(ranks), self.cores_per_node)
            for nbytes, seconds in rows:
                fitted = a * self.latency_s + b * nbytes / self.bandwidth + g * nbytes * gamma
                out.append({"kind": kind, "ranks": int(ranks), "bytes": nbytes,
                            "measured_s": seconds, "fitted_s": fitted})  # fmt: skip
        return out


# ============================================================================ settings
def _sig(x: float, digits: int = 5) -> float:
    return float(f"{x:.{digits}g}")


def turn_time_of(cal: Calibration, parameters: int, mode: str) -> float:
    """The turn time measured for one calibrated model size and mode (0 if none was)."""
    w = cal.workloads.get(f"{int(parameters)}/{mode}", {})
    return float(w.get("turn_time", 0.0))


def cluster_settings(
    cal: Calibration, parameters: int | None = None, mode: str = "allreduce"
) -> dict[str, Any]:
    """The ``[cluster]`` section (with ``[cluster.compute]``) of the calibrated file;
    ``turn_time`` is that of the model size ``parameters`` (default the largest) in
    ``mode``: the waiting for turns depends on the work between synchronisations."""
    compute = (
        {"kind": "lognormal", "sigma": _sig(cal.sigma, 3)}
        if cal.sigma > 1e-4
        else {"kind": "deterministic"}
    )
    parameters = max(cal.sizes) if parameters is None else parameters
    r = cal.reduce_bandwidth
    return {
        "name": f"calibrated: {cal.host or 'this machine'}, {cal.cpus} CPUs, MPI on one node",
        "nodes": 1,
        "devices_per_node": list(cal.ranks),
        "bandwidth": _sig(cal.bandwidth),
        "latency": _sig(cal.latency_s),
        "intra_bandwidth": _sig(cal.bandwidth),
        "intra_latency": _sig(cal.latency_s),
        "cores_per_node": _sig(cal.cores_per_node, 4),
        "memory_streams_per_node": _sig(cal.memory_streams_per_node, 4),
        "cache_bytes_per_node": float(cal.cache_bytes_per_node),
        "turn_time": _sig(turn_time_of(cal, parameters, mode), 4),
        **({} if r is None else {"reduce_bandwidth": _sig(r)}),
        "compute": compute,
    }


def workload_settings(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[workload]`` section of one calibrated model size and mode."""
    key = f"{int(parameters)}/{mode}"
    if key not in cal.workloads:
        raise KeyError(f"no calibrated workload {key!r}; there are {sorted(cal.workloads)}")
    w = cal.workloads[key]
    return {
        "name": f"MLP {mlp_sizes(w['parameters'])}, Adam, float32, mode {mode}",
        "parameters": int(w["parameters"]),
        "per_worker_batch": int(w["per_worker_batch"]),
        "compute_time_per_step": _sig(w["compute_time_per_step"]),
        "update_time": _sig(w["update_time"]),
        "bytes_per_param": w["bytes_per_param"],
        "steps": 1000,
    }


def settings_for(
    cal: Calibration, parameters: int, mode: str, ranks: int | None = None
) -> dict[str, Any]:
    """A whole settings dictionary (the sections of a TOML file) for one configuration."""
    cluster = cluster_settings(cal, parameters, mode)
    if ranks is not None:
        cluster["devices_per_node"] = int(ranks)
    return {
        "cluster": cluster,
        "workload": workload_settings(cal, parameters, mode),
        "scheme": scheme_settings(mode),
        "simulation": dict(SIMULATION),
    }


# ============================================================================ predicting
def predict(
    config: str | Path | dict[str, Any],
    ranks: int | None = None,
    mode: str | None = None,
    workload: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
) -> Any:
    """The simulator's result (:class:`~tinygrad_opt.cluster.SimulationResult`) for a
    cluster file (or settings), as ``tinygrad-opt whatif --config FILE --devices-per-node
    RANKS --scheme ...`` with workload flags: ``workload`` overrides ``[workload]`` key by
    key, ``cluster`` likewise ``[cluster]``. The file must then describe one
    configuration."""
    from tinygrad_opt.cluster.config import expand, load_toml, merge_settings, simulation_options

    base = load_toml(config) if isinstance(config, (str, Path)) else config
    override: dict[str, Any] = {"cluster": dict(cluster or {})}
    if ranks is not None:
        override["cluster"]["devices_per_node"] = int(ranks)
    if mode is not None:
        override["scheme"] = scheme_settings(mode)
    if workload:
        override["workload"] = dict(workload)
    settings = merge_settings(base, override)
    confs = expand(settings)
    if len(confs) != 1:
        raise ValueError(f"the settings describe {len(confs)} configurations, not one")
    return confs[0].simulate(**simulation_options(settings))


def predict_step_time(
    config: str | Path | dict[str, Any],
    ranks: int | None = None,
    mode: str | None = None,
    workload: dict[str, Any] | None = None,
    cluster: dict[str, Any] | None = None,
) -> float:
    """Mean step time (s) of :func:`predict`."""
    return float(predict(config, ranks, mode, workload, cluster).step_time_s)


def workload_flags(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[workload]`` keys a ``whatif`` run of one calibrated size and mode overrides."""
    w = workload_settings(cal, parameters, mode)
    return {k: w[k] for k in ("parameters", "compute_time_per_step", "update_time", "name")}


def cluster_flags(cal: Calibration, parameters: int, mode: str) -> dict[str, Any]:
    """The ``[cluster]`` keys a ``whatif`` run of one calibrated size and mode overrides:
    its own ``turn_time`` (``--turn-time``)."""
    return {"turn_time": _sig(turn_time_of(cal, parameters, mode), 4)}
