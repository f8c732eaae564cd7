"""Parse and print bandwidths, durations and byte counts.

Internally everything is in SI base units: **bytes per second**, **seconds**, **bytes**.
Plain numbers (``int``/``float``, or a string holding only a number) are taken to be in
those base units. Strings carry a unit:

Bandwidth
    ``<number> <prefix><base>``. The base decides bits or bytes:

    - bits per second: ``bit/s``, ``bits/s``, ``b/s``, ``bps`` (lower-case ``b``);
    - bytes per second: ``B/s``, ``byte/s``, ``bytes/s``, ``Bps`` (upper-case ``B``).

    So ``"25Gbit/s"`` = ``"25 Gbps"`` = ``"25Gb/s"`` = 25·10⁹ bits/s = 3.125·10⁹ bytes/s,
    and ``"10GB/s"`` = ``"10 GBps"`` = 10·10⁹ bytes/s. **"Gbps" means gigabits per second**
    (the networking convention). Decimal prefixes ``k, M, G, T, P`` are powers of 1000 and
    are case-insensitive (``"mbps"`` is megabits/s: a milli-bit per second is never meant);
    binary prefixes ``Ki, Mi, Gi, Ti, Pi`` are powers of 1024 (``"100MiB/s"``).
    ``/sec`` may replace ``/s``.

Duration
    ``ns``, ``us`` (also ``µs``, ``μs``), ``ms``, ``s`` (``sec``, ``second(s)``), ``min``,
    ``h`` (``hr``, ``hour(s)``), ``d`` (``day(s)``). A bare ``m`` is rejected (minutes or
    milliseconds?).

Size
    ``B``/``byte(s)`` or ``bit(s)``/``b`` with the same prefixes (``"25MiB"``, ``"1.2 GB"``).

Anything else raises :class:`~tinygrad_opt.cluster.validation.SpecError` (a ``ValueError``)
naming the field and the text, with examples of what is accepted.
"""

from __future__ import annotations

import math
import re
from typing import Any

from tinygrad_opt.cluster.validation import SpecError

__all__ = [
    "MAX_DURATION",
    "MIN_BANDWIDTH",
    "format_bandwidth",
    "format_bytes",
    "format_duration",
    "parse_bandwidth",
    "parse_bytes",
    "parse_duration",
]

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SPLIT = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>.*?)\s*$")

_DECIMAL = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}
_BINARY = {"ki": 2.0**10, "mi": 2.0**20, "gi": 2.0**30, "ti": 2.0**40, "pi": 2.0**50}

_BITS_PER_S = {"bit/s", "bits/s", "b/s", "bps", "bit/sec", "bits/sec", "b/sec"}
_BYTES_PER_S = {"B/s", "byte/s", "bytes/s", "Bps", "B/sec", "byte/sec", "bytes/sec", "Byte/s"}
_BITS = {"bit", "bits", "b"}
_BYTES = {"B", "byte", "bytes", "Byte", "Bytes"}

_SECONDS = {
    "ns": 1e-9, "nsec": 1e-9,
    "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "usec": 1e-6,
    "ms": 1e-3, "msec": 1e-3,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
}  # fmt: skip

_BANDWIDTH_EXAMPLES = (
    "'25Gbit/s', '25 Gbps' (gigabits/s), '25Gb/s', '10GB/s' (gigabytes/s), '100 MB/s', "
    "'100MiB/s', or a number of bytes/s"
)
_DURATION_EXAMPLES = "'5us', '1.5ms', '0.12s', '2 min', '3h', or a number of seconds"
_SIZE_EXAMPLES = "'25MB', '25 MiB', '1.5GB', '800Mbit', or a number of bytes"


def _split_prefix(unit: str, bases: set[str]) -> tuple[float, str] | None:
    """(multiplier, base) if ``unit`` is an optional prefix followed by one of ``bases``."""
    for base in sorted(bases, key=len, reverse=True):
        if unit.endswith(base):
            prefix = unit[: len(unit) - len(base)].lower()
            if prefix in _DECIMAL:
                return _DECIMAL[prefix], base
            if prefix in _BINARY:
                return _BINARY[prefix], base
    return None


def _number_and_unit(value: Any, field: str, examples: str) -> tuple[float, str]:
    if isinstance(value, bool):
        raise SpecError(field, value, f"expected a quantity such as {examples}")
    if (
        isinstance(value, (int, float))
        or hasattr(value, "__float__")
        and not isinstance(value, str)
    ):
        try:
            return float(value), ""
        except (TypeError, ValueError):
            raise SpecError(field, value, f"expected a quantity such as {examples}") from None
    if not isinstance(value, str):
        raise SpecError(field, value, f"expected a quantity such as {examples}")
    m = _SPLIT.match(value)
    if m is None:
        raise SpecError(field, value, f"cannot parse; expected e.g. {examples}")
    return float(m["num"]), m["unit"].replace(" ", "")


MAX_DURATION = 1e15
"""Longest duration accepted, in seconds (about 32 million years): larger ones only
overflow the products of a simulation (steps × step time, squares of step times)."""

MIN_BANDWIDTH = 0.125
"""Smallest non-zero bandwidth accepted, in bytes/s (1 bit/s), for the same reason."""


def _finish(x: float, value: Any, field: str, allow_zero: bool) -> float:
    if not math.isfinite(x):
        raise SpecError(field, value, "must be finite")
    if x < 0 or (x == 0 and not allow_zero):
        raise SpecError(field, value, "must be >= 0" if allow_zero else "must be > 0")
    return x


def parse_bandwidth(value: Any, field: str = "bandwidth", *, allow_zero: bool = False) -> float:
    """Bytes per second from ``"25Gbit/s"``, ``"25 Gbps"``, ``"10GB/s"``, ``3.125e9`` ...

    Lower-case ``b`` is bits, upper-case ``B`` bytes; ``Gbps`` is gigabits per second.
    Must be > 0 (>= 0 with ``allow_zero``).
    """
    x, unit = _number_and_unit(value, field, _BANDWIDTH_EXAMPLES)
    if unit:
        hit = _split_prefix(unit, _BITS_PER_S)
        if hit is not None:
            x = x * hit[0] / 8.0
        else:
            hit = _split_prefix(unit, _BYTES_PER_S)
            if hit is None:
                raise SpecError(
                    field, value, f"unknown bandwidth unit; expected e.g. {_BANDWIDTH_EXAMPLES}"
                )
            x = x * hit[0]
    x = _finish(x, value, field, allow_zero)
    if 0 < x < MIN_BANDWIDTH:
        raise SpecError(field, value, "must be >= 1 bit/s (the simulator limit)")
    return x


def parse_duration(value: Any, field: str = "duration", *, allow_zero: bool = False) -> float:
    """Seconds from ``"5us"``, ``"1.5ms"``, ``"0.12s"``, ``"3h"``, ``0.002`` ...

    Must be > 0 (>= 0 with ``allow_zero``).
    """
    x, unit = _number_and_unit(value, field, _DURATION_EXAMPLES)
    if unit:
        # exact symbols ("ms", "us", "s", "h"); words ("Sec", "Hours") in any case
        scale = _SECONDS.get(unit, _SECONDS.get(unit.lower()) if len(unit) > 2 else None)
        if scale is None:
            raise SpecError(field, value, f"unknown time unit; expected e.g. {_DURATION_EXAMPLES}")
        x = x * scale if scale >= 1 else x / round(1.0 / scale)  # 5us -> 5e-06 exactly
    x = _finish(x, value, field, allow_zero)
    if x > MAX_DURATION:
        raise SpecError(field, value, "must be <= 1e15 s, 32 million years (the simulator limit)")
    return x


def parse_bytes(value: Any, field: str = "size", *, allow_zero: bool = False) -> float:
    """Bytes from ``"25MB"``, ``"25MiB"``, ``"800Mbit"``, ``1e6`` ...; must be > 0."""
    x, unit = _number_and_unit(value, field, _SIZE_EXAMPLES)
    if unit:
        hit = _split_prefix(unit, _BYTES)
        if hit is not None:
            x *= hit[0]
        else:
            hit = _split_prefix(unit, _BITS)
            if hit is None:
                raise SpecError(field, value, f"unknown size unit; expected e.g. {_SIZE_EXAMPLES}")
            x = x * hit[0] / 8.0
    return _finish(x, value, field, allow_zero)


def _engineering(x: float, units: list[tuple[float, str]]) -> str:
    for scale, name in units:
        if abs(x) >= scale:
            return f"{x / scale:.4g} {name}"
    scale, name = units[-1]
    return f"{x / scale:.4g} {name}"


def format_bandwidth(bytes_per_s: float) -> str:
    """``3.125e9`` -> ``"25 Gbit/s"`` (networking convention: bits, decimal prefixes)."""
    bits = bytes_per_s * 8.0
    units = [
        (1e15, "Pbit/s"),
        (1e12, "Tbit/s"),
        (1e9, "Gbit/s"),
        (1e6, "Mbit/s"),
        (1e3, "kbit/s"),
        (1.0, "bit/s"),
    ]
    return _engineering(bits, units)


def format_duration(seconds: float) -> str:
    """``0.0015`` -> ``"1.5 ms"``; ``7200`` -> ``"2 h"``."""
    if abs(seconds) >= 86400 * 2:
        return f"{seconds / 86400:.4g} d"
    if abs(seconds) >= 3600:
        return f"{seconds / 3600:.4g} h"
    if abs(seconds) >= 120:
        return f"{seconds / 60:.4g} min"
    units = [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")]
    if seconds == 0:
        return "0 s"
    return _engineering(seconds, units)


def format_bytes(n: float) -> str:
    """``2.5e7`` -> ``"25 MB"`` (decimal prefixes)."""
    units = [(1e15, "PB"), (1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B")]
    if n == 0:
        return "0 B"
    return _engineering(n, units)
