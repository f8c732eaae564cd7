"""How many steps (and examples) a target needs at a given batch size.

McCandlish, Kaplan, Amodei & OpenAI Dota Team (2018), "An Empirical Model of Large-Batch
Training", arXiv:1812.06162, §2: to reach a given loss with batch ``B``,

    S(B) = S_min · (1 + B_noise / B)        optimiser steps,
    E(B) = E_min · (1 + B / B_noise)        training examples,

with ``E = S·B``; hence ``E_min = S_min · B_noise`` and the *critical batch*
``B_crit = E_min / S_min = B_noise`` is where both costs are twice their minimum
(``S(B_noise) = 2·S_min``, ``E(B_noise) = 2·E_min``). Below ``B_noise`` adding workers
(a bigger global batch) cuts the steps almost proportionally; above it the steps saturate
at ``S_min`` and extra examples are wasted.

``B_noise`` is approximated by the *simple noise scale* ``B_simple = tr(Σ)/|G|²``
(§2), which :func:`estimate_noise_scale` estimates from squared gradient norms measured
at two batch sizes (Appendix A): with ``E|G_B|² = |G|² + tr(Σ)/B``,

    |G|²  ≈ (B_big·|G_big|² − B_small·|G_small|²) / (B_big − B_small),
    tr(Σ) ≈ (|G_small|² − |G_big|²) / (1/B_small − 1/B_big).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_opt.cluster.validation import (
    MAX_COUNT,
    SpecError,
    check_keys,
    check_positive_float,
)

__all__ = ["LargeBatchModel", "estimate_noise_scale"]


@dataclass(frozen=True)
class LargeBatchModel:
    """``S(B) = S_min(1 + B_noise/B)``, ``E(B) = E_min(1 + B/B_noise)``; McCandlish et al. 2018.

    Give ``b_noise`` and one of ``s_min`` / ``e_min`` (or ``s_min`` and ``e_min``, from
    which ``b_noise = e_min / s_min``).
    """

    s_min: float | None = None
    b_noise: float | None = None
    e_min: float | None = None

    def __post_init__(self) -> None:
        given = {k: getattr(self, k) for k in ("s_min", "b_noise", "e_min")}
        vals = {
            k: check_positive_float(f"large_batch.{k}", v)
            for k, v in given.items()
            if v is not None
        }
        if len(vals) < 2:
            raise SpecError(
                "large_batch", given, "needs two of s_min, b_noise, e_min (e.g. s_min and b_noise)"
            )
        if len(vals) == 3:
            if not math.isclose(vals["e_min"], vals["s_min"] * vals["b_noise"], rel_tol=1e-9):
                raise SpecError(
                    "large_batch", given, "is inconsistent: e_min must equal s_min * b_noise"
                )
        s_min = vals.get("s_min")
        b_noise = vals.get("b_noise")
        e_min = vals.get("e_min")
        if s_min is None:
            s_min = e_min / b_noise
        if b_noise is None:
            b_noise = e_min / s_min
        for key, v in (("s_min", s_min), ("b_noise", b_noise)):
            if v > MAX_COUNT:
                raise SpecError(
                    f"large_batch.{key}", given[key] if given[key] is not None else v,
                    f"must be <= {MAX_COUNT:.0e} (the simulator limit)",
                )  # fmt: skip
        object.__setattr__(self, "s_min", float(s_min))
        object.__setattr__(self, "b_noise", float(b_noise))
        object.__setattr__(self, "e_min", float(s_min * b_noise))

    @property
    def critical_batch(self) -> float:
        """``B_crit = E_min / S_min = B_noise``."""
        return self.e_min / self.s_min

    def steps(self, batch: float | np.ndarray) -> float | np.ndarray:
        """``S(B) = S_min (1 + B_noise / B)``: optimiser steps to reach the target."""
        b = np.asarray(batch, dtype=float)
        if np.any(b <= 0):
            raise SpecError("batch", batch, "must be > 0")
        out = self.s_min * (1.0 + self.b_noise / b)
        return float(out) if np.ndim(out) == 0 else out

    def examples(self, batch: float | np.ndarray) -> float | np.ndarray:
        """``E(B) = E_min (1 + B / B_noise)``: training examples to reach the target."""
        b = np.asarray(batch, dtype=float)
        if np.any(b <= 0):
            raise SpecError("batch", batch, "must be > 0")
        out = self.e_min * (1.0 + b / self.b_noise)
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict[str, float]:
        return {"s_min": self.s_min, "b_noise": self.b_noise, "e_min": self.e_min}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LargeBatchModel:
        check_keys("large_batch", data, ("s_min", "b_noise", "e_min"))
        return cls(**data)


def estimate_noise_scale(
    grad_sq_small: float, batch_small: float, grad_sq_big: float, batch_big: float
) -> float:
    """``B_simple = tr(Σ)/|G|²`` from mean squared gradient norms at two batch sizes.

    McCandlish et al. 2018, Appendix A: ``E|G_B|² = |G|² + tr(Σ)/B`` gives unbiased
    estimates of ``|G|²`` and ``tr(Σ)`` from two batch sizes ``B_small < B_big``. Average
    each squared norm over many steps first: the single-step estimate is very noisy.
    """
    b_s = check_positive_float("batch_small", batch_small)
    b_b = check_positive_float("batch_big", batch_big)
    if b_b <= b_s:
        raise SpecError("batch_big", batch_big, f"must be larger than batch_small={b_s}")
    g2 = (b_b * grad_sq_big - b_s * grad_sq_small) / (b_b - b_s)
    trace = (grad_sq_small - grad_sq_big) / (1.0 / b_s - 1.0 / b_b)
    if g2 <= 0 or trace <= 0:
        raise SpecError(
            "grad_sq",
            (grad_sq_small, grad_sq_big),
            "give |G|² estimates that shrink with batch size (average them over more steps)",
        )
    return float(trace / g2)
