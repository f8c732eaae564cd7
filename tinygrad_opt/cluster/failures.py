"""Node failures, checkpoints and restarts: the expected wall time of a long run.

Model: every machine (worker nodes and dedicated parameter servers) fails independently
as a Poisson process with mean time between failures ``M_node``; one failure stops the
synchronous job, so the job sees failures at rate ``n / M_node``:

    M = M_node / n                                              (system MTBF)

The job writes a checkpoint (cost ``δ`` seconds) after every ``τ`` seconds of useful
work; after a failure it pays a restart ``R`` (re-launch, reload the checkpoint) and redoes
the work since the last checkpoint. Failures may also strike during checkpoints and
restarts. For exponential failures the expected wall time to finish ``T_s`` seconds of
failure-free work is (Daly 2006, "A higher order estimate of the optimum checkpoint
interval for restart dumps", Future Generation Computer Systems 22(3):303-312, the
"complete" cost model):

    T_w = M · e^{R/M} · (e^{(τ+δ)/M} − 1) · T_s / τ

(as ``M → ∞`` this tends to ``T_s (τ+δ)/τ``: only the checkpoint cost remains).

Optimal interval. Young (1974), "A first order approximation to the optimum checkpoint
interval", CACM 17(9):530-531:

    τ_Young = sqrt(2 δ M)

Daly (2006), the higher-order (perturbation) estimate used by default here:

    τ_Daly = sqrt(2δM) · [1 + (1/3)·sqrt(δ/(2M)) + (1/9)·(δ/(2M))] − δ    for δ < 2M
    τ_Daly = M                                                          for δ ≥ 2M
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tinygrad_opt.cluster.units import parse_duration
from tinygrad_opt.cluster.validation import (
    SpecError,
    check_choice,
    check_keys,
    check_positive_int,
)

__all__ = [
    "FailureOverhead",
    "FailureSpec",
    "daly_interval",
    "expected_wall_time",
    "failure_overhead",
    "system_mtbf",
    "young_interval",
]


def system_mtbf(node_mtbf: float, machines: int) -> float:
    """``M = M_node / n``: the MTBF of a job that stops when any of ``n`` machines fails."""
    return node_mtbf / check_positive_int("machines", machines)


def young_interval(checkpoint_cost: float, mtbf: float) -> float:
    """``τ = sqrt(2 δ M)`` (Young 1974): first-order optimal work between checkpoints."""
    return math.sqrt(2.0 * checkpoint_cost * mtbf)


def daly_interval(checkpoint_cost: float, mtbf: float) -> float:
    """Daly (2006) higher-order optimum ``τ``.

    ``sqrt(2δM)·[1 + (1/3)·sqrt(δ/(2M)) + (1/9)·δ/(2M)] − δ`` for ``δ < 2M``, else ``M``.
    """
    d, m = checkpoint_cost, mtbf
    if d >= 2.0 * m:
        return m
    x = d / (2.0 * m)
    return math.sqrt(2.0 * d * m) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - d


def expected_wall_time(
    solve_time: float, interval: float, checkpoint_cost: float, restart_cost: float, mtbf: float
) -> float:
    """``T_w = M e^{R/M} (e^{(τ+δ)/M} − 1) T_s/τ`` (Daly 2006, exponential failures)."""
    m = mtbf
    return (
        m
        * math.exp(restart_cost / m)
        * math.expm1((interval + checkpoint_cost) / m)
        * (solve_time / interval)
    )


@dataclass(frozen=True)
class FailureSpec:
    """Per-node MTBF and the checkpoint policy.

    Attributes:
        node_mtbf: mean time between failures of one machine (``"5000h"``, seconds).
        checkpoint_cost: time to write one checkpoint, ``δ`` (``"30s"``).
        restart_cost: time from a failure until training resumes from the checkpoint, ``R``.
        checkpoint_interval: useful work between checkpoints, ``τ``; ``"daly"`` (default)
            or ``"young"`` for the optimal interval, or a duration.
    """

    node_mtbf: float
    checkpoint_cost: float
    restart_cost: float = 0.0
    checkpoint_interval: float | str = "daly"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "node_mtbf", parse_duration(self.node_mtbf, "failures.node_mtbf"))
        set_(
            self,
            "checkpoint_cost",
            parse_duration(self.checkpoint_cost, "failures.checkpoint_cost"),
        )
        set_(
            self,
            "restart_cost",
            parse_duration(self.restart_cost, "failures.restart_cost", allow_zero=True),
        )
        ci = self.checkpoint_interval
        if isinstance(ci, str) and ci.strip().lower() in ("daly", "young", "optimal"):
            ci = check_choice(
                "failures.checkpoint_interval", ci, ("daly", "young"), {"optimal": "daly"}
            )
        else:
            ci = parse_duration(ci, "failures.checkpoint_interval")
        set_(self, "checkpoint_interval", ci)

    def interval_for(self, mtbf: float) -> float:
        """The work between checkpoints ``τ`` used for a system with MTBF ``mtbf``."""
        if self.checkpoint_interval == "daly":
            return daly_interval(self.checkpoint_cost, mtbf)
        if self.checkpoint_interval == "young":
            return young_interval(self.checkpoint_cost, mtbf)
        return float(self.checkpoint_interval)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FailureSpec:
        check_keys(
            "failures",
            data,
            ("node_mtbf", "checkpoint_cost", "restart_cost", "checkpoint_interval"),
        )
        for key in ("node_mtbf", "checkpoint_cost"):
            if key not in data:
                raise SpecError(f"failures.{key}", None, "is required")
        return cls(**data)


@dataclass(frozen=True)
class FailureOverhead:
    """Expected effect of failures on one run (all times in seconds).

    ``wall_time = solve_time + checkpoint_time + lost_work_and_restart_time``.
    """

    machines: int
    system_mtbf: float
    checkpoint_interval: float
    checkpoints: float
    solve_time: float
    checkpoint_time: float
    lost_work_and_restart_time: float
    expected_failures: float
    wall_time: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def failure_overhead(spec: FailureSpec, solve_time: float, machines: int) -> FailureOverhead:
    """Expected wall time and its parts for ``solve_time`` seconds of work on ``machines``.

    Uses :func:`expected_wall_time` (Daly 2006) with ``M = node_mtbf / machines``; the
    expected number of failures is ``T_w / M`` (failures arrive at rate ``1/M`` all along).
    """
    if solve_time < 0:
        raise SpecError("solve_time", solve_time, "must be >= 0")
    m = system_mtbf(spec.node_mtbf, machines)
    if m <= spec.checkpoint_cost:
        raise SpecError(
            "failures.node_mtbf",
            spec.node_mtbf,
            f"checkpointing cannot keep up: {machines} machines fail every "
            f"M = node_mtbf/{machines} = {m:.4g} s on average, no longer than one checkpoint "
            f"(checkpoint_cost = {spec.checkpoint_cost:.4g} s); need node_mtbf > "
            f"{machines} × checkpoint_cost = {machines * spec.checkpoint_cost:.4g} s",
        )
    tau = spec.interval_for(m)
    if solve_time == 0:
        return FailureOverhead(machines, m, tau, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    try:
        wall = expected_wall_time(solve_time, tau, spec.checkpoint_cost, spec.restart_cost, m)
    except OverflowError:
        wall = math.inf
    if not math.isfinite(wall):
        raise SpecError(
            "failures.restart_cost",
            spec.restart_cost,
            f"too extreme: the expected wall time M·e^(R/M)·(e^((τ+δ)/M) − 1)·T/τ overflows "
            f"(R/M = {spec.restart_cost / m:.4g}, "
            f"(τ+δ)/M = {(tau + spec.checkpoint_cost) / m:.4g})",
        )
    checkpoints = solve_time / tau
    ckpt_time = checkpoints * spec.checkpoint_cost
    return FailureOverhead(
        machines=machines,
        system_mtbf=m,
        checkpoint_interval=tau,
        checkpoints=checkpoints,
        solve_time=solve_time,
        checkpoint_time=ckpt_time,
        lost_work_and_restart_time=wall - solve_time - ckpt_time,
        expected_failures=wall / m,
        wall_time=wall,
    )
