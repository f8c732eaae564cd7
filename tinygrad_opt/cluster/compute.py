"""How long one worker's forward + backward takes: deterministic, heterogeneous, stochastic.

Convention (the same for every model): the workload fixes the **mean** compute time ``t̄``
of a worker running at nominal speed; the compute model fixes the **spread** and the
per-worker **speed**. Worker ``w``'s compute time in step ``s`` is

    c[s, w] = t̄ / speed[w] · X[s, w],        E[X] = 1,

with ``X`` i.i.d. over steps and workers. ``speed[w]`` comes from ``speed_factors``
(2.0 = twice as fast; one factor per worker, or one per node repeated over its devices).

- :class:`Deterministic`: ``X = 1``. With ``speed_factors`` it is the heterogeneous model
  (:class:`Heterogeneous` is the same thing with the factors required).
- :class:`Lognormal`: ``X = exp(σZ − σ²/2)``, ``Z ~ N(0, 1)``; ``σ`` is the log-space
  standard deviation (≈ the coefficient of variation for small σ).
- :class:`Uniform`: ``X ~ U[1 − a, 1 + a]``, ``a`` in [0, 1): bounded noise; the slowest of
  ``N`` takes ``1 + a(N − 1)/(N + 1)`` on average.
- :class:`ShiftedExponential`: ``X = f + (1 − f)·E``, ``E ~ Exp(1)``. ``f`` is the part of
  the step that never varies; ``f = 0`` gives pure exponential compute times with rate
  ``μ = 1/t̄``, the model behind the backup-worker analysis of Chen et al. (2016).
- :class:`Empirical`: ``X`` drawn uniformly with replacement from measured step times
  divided by their mean (so set the workload's compute time to the mean of the samples,
  see :attr:`Empirical.mean_s`).

Stragglers (:func:`sample_step_compute`). A synchronous step can only combine gradients
once the ``N``-th fastest of the ``W`` workers has finished (``N = W`` without backup
workers: the slowest; with ``b`` backups ``N = W − b``, Chen et al. 2016, "Revisiting
Distributed Synchronous SGD", arXiv:1604.00981). The sampler draws the whole
``steps × W`` matrix in chunks of about 2²⁰ float32 values, one ``Generator`` call per
chunk, and takes the maximum (``N = W``) or ``np.partition``'s ``N``-th order statistic
along the worker axis — no Python loop over samples. Chunks use independent streams
``SeedSequence(seed).spawn(...)`` so the result depends on the seed only, not on the number
of threads that process the chunks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from tinygrad_opt.cluster.validation import (
    SpecError,
    check_fraction,
    check_keys,
    check_positive_float,
)

__all__ = [
    "COMPUTE_MODELS",
    "ComputeModel",
    "Deterministic",
    "Empirical",
    "Heterogeneous",
    "Lognormal",
    "ShiftedExponential",
    "StepComputeSamples",
    "Uniform",
    "compute_model_from_dict",
    "sample_step_compute",
]


def _speed_tuple(value: Any, fieldname: str = "compute.speed_factors") -> tuple[float, ...] | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=float).ravel() if not isinstance(value, str) else None
    if arr is None or arr.size == 0:
        raise SpecError(fieldname, value, "must be a non-empty list of positive numbers")
    for x in arr:
        if not (np.isfinite(x) and x > 0):
            raise SpecError(fieldname, value, "every speed factor must be a finite number > 0")
    return tuple(float(x) for x in arr)


@dataclass(frozen=True)
class ComputeModel:
    """Base class: the distribution of ``X`` (mean 1) and optional per-worker speeds.

    Subclasses declare their own parameters first and ``speed_factors`` last, so that
    ``Lognormal(0.2)`` reads naturally.
    """

    kind: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed_factors", _speed_tuple(self.speed_factors))

    # ------------------------------------------------------------------ interface
    @property
    def is_deterministic(self) -> bool:
        """True when ``X = 1`` (no sampling needed)."""
        return False

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """``X`` with the given shape, float32, mean 1."""
        raise NotImplementedError

    def worker_scales(self, workers: int, nodes: int | None = None) -> np.ndarray:
        """``1/speed[w]`` for each worker (float64), checking the number of factors."""
        if self.speed_factors is None:
            return np.ones(workers)
        f = np.asarray(self.speed_factors, dtype=float)
        if f.size == workers:
            return 1.0 / f
        if nodes is not None and f.size == nodes and workers % nodes == 0:
            return np.repeat(1.0 / f, workers // nodes)
        expected = f"{workers} (one per worker)"
        if nodes is not None and nodes != workers:
            expected += f" or {nodes} (one per node)"
        raise SpecError(
            "compute.speed_factors",
            list(self.speed_factors),
            f"has {f.size} entries but the cluster needs {expected}",
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class Deterministic(ComputeModel):
    """Every worker takes exactly ``t̄ / speed[w]`` every step."""

    speed_factors: tuple[float, ...] | None = None
    kind: ClassVar[str] = "deterministic"

    @property
    def is_deterministic(self) -> bool:
        return True

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.ones(shape, dtype=np.float32)


@dataclass(frozen=True)
class Heterogeneous(Deterministic):
    """Deterministic with per-worker (or per-node) ``speed_factors``, which are required."""

    kind: ClassVar[str] = "heterogeneous"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.speed_factors is None:
            raise SpecError("compute.speed_factors", None, "heterogeneous compute needs factors")


MAX_SIGMA = 3.0
"""Largest lognormal log-std accepted: past it the variance ``e^(σ²) − 1`` exceeds 8,000,
so a Monte Carlo of a few thousand samples no longer has mean 1."""


@dataclass(frozen=True)
class Lognormal(ComputeModel):
    """``X = exp(σZ − σ²/2)``: multiplicative noise with mean 1 and log-std ``sigma``."""

    sigma: float = 0.1
    speed_factors: tuple[float, ...] | None = None
    kind: ClassVar[str] = "lognormal"

    def __post_init__(self) -> None:
        super().__post_init__()
        sigma = check_positive_float("compute.sigma", self.sigma)
        if sigma > MAX_SIGMA:
            raise SpecError(
                "compute.sigma",
                self.sigma,
                f"must be <= {MAX_SIGMA:g}: beyond it the variance e^(σ²) − 1 > 8,000 and "
                "the mean of a few thousand samples is not 1 (the simulator limit)",
            )
        object.__setattr__(self, "sigma", sigma)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.standard_normal(size=shape, dtype=np.float32)
        x *= np.float32(self.sigma)
        x -= np.float32(0.5 * self.sigma**2)
        np.exp(x, out=x)
        return x


@dataclass(frozen=True)
class Uniform(ComputeModel):
    """``X ~ U[1 − a, 1 + a]`` with ``a = spread`` in [0, 1): bounded noise with mean 1.

    The slowest of ``N`` workers then takes ``E[max X] = 1 + a(N − 1)/(N + 1)`` (the
    ``N``-th order statistic of ``N`` uniforms has mean ``N/(N + 1)``): the straggler cost
    grows with ``N`` but never past ``a``, unlike a lognormal's ``≈ σ·sqrt(2 ln N)``.
    """

    spread: float = 0.1
    speed_factors: tuple[float, ...] | None = None
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        a = check_fraction("compute.spread", self.spread, closed_high=False)
        object.__setattr__(self, "spread", a)

    @property
    def is_deterministic(self) -> bool:
        return self.spread == 0.0

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.random(size=shape, dtype=np.float32)
        x *= np.float32(2.0 * self.spread)
        x += np.float32(1.0 - self.spread)
        return x


@dataclass(frozen=True)
class ShiftedExponential(ComputeModel):
    """``X = f + (1 − f)·Exp(1)`` with ``f = shift_fraction`` in [0, 1)."""

    shift_fraction: float = 0.0
    speed_factors: tuple[float, ...] | None = None
    kind: ClassVar[str] = "shifted_exponential"

    def __post_init__(self) -> None:
        super().__post_init__()
        f = check_fraction("compute.shift_fraction", self.shift_fraction, closed_high=False)
        object.__setattr__(self, "shift_fraction", f)

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        x = rng.standard_exponential(size=shape, dtype=np.float32)
        f = self.shift_fraction
        if f > 0:
            x *= np.float32(1.0 - f)
            x += np.float32(f)
        return x


@dataclass(frozen=True)
class Empirical(ComputeModel):
    """Resample measured step times (seconds); ``X = sample / mean(samples)``."""

    samples: tuple[float, ...] = field(default=())
    speed_factors: tuple[float, ...] | None = None
    kind: ClassVar[str] = "empirical"

    def __post_init__(self) -> None:
        super().__post_init__()
        s = self.samples
        arr = None if isinstance(s, str) else np.asarray(s, dtype=float).ravel()
        if arr is None or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise SpecError(
                "compute.samples",
                s if arr is None or arr.size < 6 else f"<{arr.size} values>",
                "must be a non-empty list of positive, finite step times",
            )
        object.__setattr__(self, "samples", tuple(float(x) for x in arr))
        object.__setattr__(self, "_normalised", (arr / arr.mean()).astype(np.float32))

    @property
    def mean_s(self) -> float:
        """Mean of the samples: the natural ``compute_time_per_step`` for the workload."""
        return float(np.mean(self.samples))

    @property
    def is_deterministic(self) -> bool:
        return len(set(self.samples)) == 1

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        table: np.ndarray = self._normalised
        idx = rng.integers(0, table.size, size=shape, dtype=np.int32)
        return table[idx]


COMPUTE_MODELS: dict[str, type[ComputeModel]] = {
    cls.kind: cls
    for cls in (Deterministic, Heterogeneous, Lognormal, Uniform, ShiftedExponential, Empirical)
}
_ALIASES = {
    "exponential": "shifted_exponential",
    "shifted_exp": "shifted_exponential",
    "constant": "deterministic",
    "measured": "empirical",
    "samples": "empirical",
}


def compute_model_from_dict(data: Mapping[str, Any] | str | ComputeModel) -> ComputeModel:
    """Build a compute model from ``{"kind": "lognormal", "sigma": 0.2, ...}`` or a kind name.

    Kinds: ``deterministic``, ``heterogeneous`` (needs ``speed_factors``), ``lognormal``
    (``sigma``), ``uniform`` (``spread``), ``shifted_exponential`` (``shift_fraction``),
    ``empirical`` (``samples``).
    """
    if isinstance(data, ComputeModel):
        return data
    if isinstance(data, str):
        data = {"kind": data}
    if not isinstance(data, Mapping):
        raise SpecError("compute", data, "must be a compute model, a kind name or a dictionary")
    kind_raw = data.get("kind", "deterministic")
    key = str(kind_raw).strip().lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in COMPUTE_MODELS:
        raise SpecError("compute.kind", kind_raw, f"unknown; valid: {', '.join(COMPUTE_MODELS)}")
    cls = COMPUTE_MODELS[key]
    params = {k: v for k, v in data.items() if k != "kind"}
    check_keys(f"compute ({key})", params, tuple(f.name for f in fields(cls)))
    return cls(**params)


# ============================================================================ stragglers
CHUNK_ELEMENTS = 1 << 20
"""Worker-step samples per chunk (float32: 4 MiB; fits the caches, bounds the memory)."""


@dataclass(frozen=True)
class StepComputeSamples:
    """Per-step compute statistics drawn by :func:`sample_step_compute` (seconds).

    Attributes:
        sync: when the ``N``-th fastest worker finishes, per step (``steps``,).
        useful: mean over all workers of ``min(c_w, sync)`` per step: compute that is
            not cut off (a dropped backup worker's extra time does not count).
        head: full compute times ``c[s, w]`` of the first few steps, for timelines.
    """

    sync: np.ndarray
    useful: np.ndarray
    head: np.ndarray


def sample_step_compute(
    model: ComputeModel,
    mean_time: float,
    workers: int,
    applied: int,
    steps: int,
    seed: int | None = 0,
    *,
    nodes: int | None = None,
    head_steps: int = 4,
    threads: int | None = None,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> StepComputeSamples:
    """Sample ``c[s, w] = mean_time / speed[w] · X[s, w]`` and reduce it per step.

    ``applied`` (``N``) is how many gradients the step waits for: the step's gradients are
    ready at the ``N``-th smallest ``c[s, ·]`` (the maximum when ``N = workers``).
    Deterministic models are evaluated once, without sampling.
    """
    w, n_app = int(workers), int(applied)
    if not 1 <= n_app <= w:
        raise SpecError("applied", n_app, f"must lie in [1, workers={w}]")
    scales = model.worker_scales(w, nodes)
    heterogeneous = not np.all(scales == 1.0)
    head_steps = min(head_steps, steps)
    if model.is_deterministic:
        c = mean_time * scales
        sync = float(np.partition(c, n_app - 1)[n_app - 1])
        useful = float(np.minimum(c, sync).mean())
        return StepComputeSamples(
            sync=np.full(steps, sync),
            useful=np.full(steps, useful),
            head=np.tile(c, (head_steps, 1)),
        )
    rows = max(1, chunk_elements // w)
    n_chunks = -(-steps // rows)
    streams = np.random.SeedSequence(seed).spawn(n_chunks)
    scales32 = scales.astype(np.float32)

    def run(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        r = min(rows, steps - i * rows)
        rng = np.random.Generator(np.random.PCG64(streams[i]))
        x = model.sample(rng, (r, w))
        if heterogeneous:
            x *= scales32
        head = x[:head_steps].astype(float) if i == 0 else None
        if n_app == w:
            sync = x.max(axis=1)
        else:
            sync = np.partition(x, n_app - 1, axis=1)[:, n_app - 1]
            np.minimum(x, sync[:, None], out=x)
        useful = x.sum(axis=1)
        return sync, useful, head

    if threads is None:
        threads = min(2, os.cpu_count() or 1)
    if n_chunks > 1 and threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = list(pool.map(run, range(n_chunks)))
    else:
        parts = [run(i) for i in range(n_chunks)]
    sync = np.concatenate([p[0] for p in parts]).astype(float) * mean_time
    useful = np.concatenate([p[1] for p in parts]).astype(float) * (mean_time / w)
    head = parts[0][2] * mean_time
    return StepComputeSamples(sync=sync, useful=useful, head=head)
