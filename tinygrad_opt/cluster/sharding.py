"""Sharded data parallelism (ZeRO stages 1–3, FSDP): memory per GPU and communication.

ZeRO (Rajbhandari, Rasley, Ruwase & He 2020, "ZeRO: Memory Optimizations Toward Training
Trillion Parameter Models", SC20) splits the *model states* of data-parallel training over
the ``N`` data-parallel ranks; PyTorch FSDP (Zhao et al. 2023, "PyTorch FSDP: Experiences
on Scaling Fully Sharded Data Parallel", PVLDB 16(12)) is stage 3. With ``Ψ`` parameters,
``p`` bytes per parameter for the working weights and ``g`` for the gradients (mixed
precision: fp16/bf16, ``p = g = 2``) and ``K`` bytes of optimizer state per parameter
(Adam with mixed precision: an fp32 master copy and two fp32 moments, ``K = 12``; the
paper's §3.1), each GPU holds

=======  ==========================  ========================================
stage    what is sharded             bytes per GPU
=======  ==========================  ========================================
0 (DDP)  nothing                     ``(p + g + K)·Ψ``
1        optimizer state (P_os)      ``(p + g)·Ψ + K·Ψ/N``
2        + gradients (P_os+g)        ``p·Ψ + (g + K)·Ψ/N``
3        + parameters (P_os+g+p)     ``(p + g + K)·Ψ/N``
=======  ==========================  ========================================

(the paper's Figure 1: ``Ψ = 7.5·10⁹``, ``N = 64``, ``K = 12``, ``p = g = 2``: 120 GB,
31.4 GB, 16.6 GB, 1.9 GB). Activations and temporary buffers are not counted. ``K``
defaults to 12 when the gradients are 2-byte (mixed precision) and to 8 for fp32 (Adam's
two moments; the weights are their own master copy); ``Workload.optimizer_bytes_per_param``
sets it (0 for plain SGD, 4 for momentum).

Communication (the paper's §7): stages 1 and 2 replace the all-reduce by a reduce-scatter
of the gradients (each rank receives the sum of its shard) and, after each rank updates
its shard, an all-gather of the updated parameters — the two halves of a ring or
halving-doubling all-reduce, so the same ``2(N−1)/N·M`` bytes and time. Stage 3 also
all-gathers every layer's parameters before its forward and again before its backward
pass: reduce-scatter + 2 all-gathers, ``3(N−1)/N·M``, 1.5× the data-parallel volume. Every
rank updates only its ``1/N`` shard, so the optimizer update takes ``update_time / N``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinygrad_opt.cluster.validation import SpecError, check_positive_int

__all__ = [
    "ZERO_STAGES",
    "MemoryEstimate",
    "default_optimizer_bytes",
    "memory_fields",
    "memory_per_gpu",
    "sharded_phases",
]

ZERO_STAGES: tuple[int, ...] = (0, 1, 2, 3)


def default_optimizer_bytes(grad_bytes_per_param: float) -> float:
    """Adam's state per parameter (ZeRO §3.1): 12 with mixed precision (``g < 4``: fp32
    master copy + two fp32 moments), 8 in fp32 (two moments)."""
    return 12.0 if grad_bytes_per_param < 4 else 8.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Model-state bytes per GPU (activations not included).

    Attributes:
        parameters, gradients, optimizer: bytes of each kind one GPU holds.
        total: their sum.
        capacity: the GPU's memory (None: not checked).
        feasible: ``total <= capacity`` (True when no capacity is given).
        reason: why it does not fit (None when it does).
    """

    parameters: float
    gradients: float
    optimizer: float
    capacity: float | None = None

    @property
    def total(self) -> float:
        return self.parameters + self.gradients + self.optimizer

    @property
    def feasible(self) -> bool:
        return self.capacity is None or self.total <= self.capacity

    @property
    def reason(self) -> str | None:
        if self.feasible:
            return None
        return (
            f"model states need {self.total / 1e9:.3g} GB per GPU (parameters "
            f"{self.parameters / 1e9:.3g}, gradients {self.gradients / 1e9:.3g}, optimizer "
            f"{self.optimizer / 1e9:.3g}) > gpu_memory {self.capacity / 1e9:.3g} GB"
        )


def memory_per_gpu(
    parameters: float,
    ranks: int,
    stage: int,
    *,
    param_bytes: float = 2.0,
    grad_bytes: float = 2.0,
    optimizer_bytes: float | None = None,
    capacity: float | None = None,
) -> MemoryEstimate:
    """Bytes of parameters, gradients and optimizer state on one of ``ranks`` GPUs.

    ``stage`` 0 (plain data parallel) to 3; ``optimizer_bytes`` per parameter defaults to
    :func:`default_optimizer_bytes`. See the module docstring for the formulas.
    """
    if stage not in ZERO_STAGES:
        raise SpecError("zero_stage", stage, "must be 0, 1, 2 or 3")
    n = check_positive_int("workers", ranks)
    k = default_optimizer_bytes(grad_bytes) if optimizer_bytes is None else optimizer_bytes
    psi = float(parameters)
    p = param_bytes * psi / (n if stage >= 3 else 1)
    g = grad_bytes * psi / (n if stage >= 2 else 1)
    o = k * psi / (n if stage >= 1 else 1)
    return MemoryEstimate(p, g, o, capacity)


def sharded_phases(
    phases: tuple[tuple[str, float], ...], stage: int
) -> tuple[tuple[str, float], ...]:
    """The all-reduce ``phases`` (reduce-scatter, all-gather) of a ZeRO ``stage``.

    Stages 0–2: unchanged (stage 1/2's reduce-scatter and parameter all-gather are the
    all-reduce's two halves). Stage 3: one more all-gather, of the parameters before the
    forward pass: ``(reduce-scatter, allgather, forward allgather)`` with the all-gather
    time repeated (the 1.5× volume).
    """
    if stage < 3:
        return phases
    gather = [t for name, t in phases if name == "allgather"]
    if not gather:
        raise SpecError("zero_stage", stage, "needs an all-reduce with an allgather phase")
    return (*phases, ("forward allgather", gather[0]))


def memory_fields(c: Any, wl: Any, stage: int) -> dict[str, Any]:
    """The result keys of model-state bytes per GPU for a ``ClusterSpec`` ``c`` and a
    ``Workload`` ``wl`` with ZeRO ``stage``, and the ``gpu_memory`` check."""
    m = memory_per_gpu(
        wl.parameters,
        int(c.workers),
        stage,
        param_bytes=wl.bytes_per_param,
        grad_bytes=wl.bytes_per_param,
        optimizer_bytes=wl.optimizer_bytes_per_param,
        capacity=c.gpu_memory,
    )
    return {
        "memory_params_bytes": m.parameters,
        "memory_grads_bytes": m.gradients,
        "memory_optimizer_bytes": m.optimizer,
        "memory_per_gpu_bytes": m.total,
        "gpu_memory": c.gpu_memory,
        "feasible": m.feasible,
        "infeasible_reason": m.reason,
    }
