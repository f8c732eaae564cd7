"""Input checks shared by the cluster specs: every failure is a :class:`SpecError`.

A :class:`SpecError` is a ``ValueError`` whose message starts with the field name and shows
the offending value, e.g. ``workers: must be a positive integer, got 0``, so that a command
line or a TOML file can point at the exact setting that is wrong.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

__all__ = [
    "MAX_COUNT",
    "MAX_SAMPLED_WORKER_STEPS",
    "MAX_STEPS_TO_SAMPLE",
    "MAX_WORKERS",
    "SpecError",
    "check_choice",
    "check_fraction",
    "check_keys",
    "check_nonnegative_float",
    "check_nonnegative_int",
    "check_positive_float",
    "check_positive_int",
    "dataclass_from_dict",
]


MAX_WORKERS = 1_000_000
"""Most workers, nodes or parameter-server shards: the simulator holds arrays (and loops
over shards) of that length, and sizes a laptop can still simulate in seconds."""

MAX_STEPS_TO_SAMPLE = 1_000_000
"""Most Monte Carlo steps per configuration (one float per step is kept)."""

MAX_SAMPLED_WORKER_STEPS = 10**9
"""Most ``workers × steps_to_sample`` random compute times per configuration (about 25 s
of sampling on two cores); deterministic compute is not sampled and has no such limit."""

MAX_COUNT = 10**15
"""Most parameters, steps or examples per worker: far past any real run, and small enough
that products of counts and times stay exact integers and finite floats."""


class SpecError(ValueError):
    """A cluster, workload, scheme or failure setting is invalid (names the field and value)."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {problem}, got {value!r}")


def _as_real(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise SpecError(field, value, "must be a number")
    try:
        x = float(value)
    except ValueError:
        raise SpecError(field, value, "must be a number") from None
    if not math.isfinite(x):
        raise SpecError(field, value, "must be a finite number")
    return x


def check_positive_float(field: str, value: Any) -> float:
    """``value`` as a float that is finite and > 0."""
    x = _as_real(field, value)
    if x <= 0:
        raise SpecError(field, value, "must be > 0")
    return x


def check_nonnegative_float(field: str, value: Any) -> float:
    """``value`` as a float that is finite and >= 0."""
    x = _as_real(field, value)
    if x < 0:
        raise SpecError(field, value, "must be >= 0")
    return x


def check_fraction(field: str, value: Any, *, closed_low: bool = True, closed_high: bool = True):
    """``value`` as a float in [0, 1] (ends open when asked)."""
    x = _as_real(field, value)
    lo_ok = x >= 0 if closed_low else x > 0
    hi_ok = x <= 1 if closed_high else x < 1
    if not (lo_ok and hi_ok):
        lo = "[" if closed_low else "("
        hi = "]" if closed_high else ")"
        raise SpecError(field, value, f"must lie in {lo}0, 1{hi}")
    return x


def _as_int(field: str, value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise SpecError(field, value, f"must be {what}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, (numbers.Real, str)):
        try:
            x = float(value)
        except ValueError:
            raise SpecError(field, value, f"must be {what}") from None
        if math.isfinite(x) and x == int(x):
            return int(x)
    raise SpecError(field, value, f"must be {what}")


def _check_max(field: str, value: Any, n: int, maximum: int | None, why: str) -> int:
    if maximum is not None and n > maximum:
        if isinstance(value, numbers.Integral) and abs(value) > 10**18:
            value = float(value)  # 1e+300, not three hundred digits
        raise SpecError(field, value, f"must be <= {maximum:,} ({why or 'the simulator limit'})")
    return n


def check_positive_int(field: str, value: Any, maximum: int | None = None, why: str = "") -> int:
    """``value`` as an int >= 1 (integral floats such as ``8.0`` or ``"1e3"`` are accepted)
    and at most ``maximum`` (``why`` says why in the error)."""
    n = _as_int(field, value, "a positive integer")
    if n < 1:
        raise SpecError(field, value, "must be a positive integer")
    return _check_max(field, value, n, maximum, why)


def check_nonnegative_int(field: str, value: Any, maximum: int | None = None, why: str = "") -> int:
    """``value`` as an int >= 0 and at most ``maximum``."""
    n = _as_int(field, value, "a non-negative integer")
    if n < 0:
        raise SpecError(field, value, "must be a non-negative integer")
    return _check_max(field, value, n, maximum, why)


def check_choice(field: str, value: Any, choices: Iterable[str], aliases: Mapping[str, str] = ()):
    """Canonical name for ``value`` among ``choices`` (case-insensitive, ``-``/space = ``_``).

    The error lists the valid names.
    """
    choices = tuple(choices)
    aliases = dict(aliases)
    if not isinstance(value, str):
        raise SpecError(field, value, f"must be one of {', '.join(choices)}")
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key in choices:
        return key
    if key in aliases:
        return aliases[key]
    raise SpecError(field, value, f"unknown name; valid: {', '.join(choices)}")


def check_keys(field: str, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Reject keys of a settings dictionary that are not ``allowed`` (lists the valid ones)."""
    if not isinstance(data, Mapping):
        raise SpecError(field, data, "must be a dictionary")
    allowed = tuple(allowed)
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise SpecError(
            field,
            unknown[0] if len(unknown) == 1 else unknown,
            f"unknown key(s); valid keys: {', '.join(allowed)}",
        )


def dataclass_from_dict(cls: type, data: Any, where: str, aliases: Mapping[str, str]) -> Any:
    """``cls(**data)`` for a settings dictionary ``data`` (of section ``where``): keys
    renamed by ``aliases``, unknown keys rejected with the list of valid ones."""
    if not isinstance(data, Mapping):
        raise SpecError(where, data, "must be a dictionary")
    names = tuple(f.name for f in fields(cls))
    data = {aliases.get(k, k): v for k, v in data.items()}
    check_keys(where, data, names + tuple(aliases))
    return cls(**data)
