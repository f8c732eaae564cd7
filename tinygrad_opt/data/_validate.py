"""Argument checks shared by the data generators and the loader (clear errors, early)."""

from __future__ import annotations

import numbers

import numpy as np

RngLike = np.random.Generator | np.random.BitGenerator | np.random.SeedSequence | int | None


def check_int(fn: str, name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int; TypeError if it is not an integer, ValueError if too small."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{fn}: {name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        bound = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{fn}: {name} must be {bound}, got {value}")
    return value


def check_nonneg(fn: str, name: str, value: object) -> float:
    """Return ``value`` as a float; ValueError if it is negative or not finite."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(out) or out < 0:
        raise ValueError(f"{fn}: {name} must be a finite number >= 0, got {value!r}")
    return out
