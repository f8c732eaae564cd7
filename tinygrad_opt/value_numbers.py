"""Numbers for the scalar engine: operands converted to float, and float math with edges.

``value.py`` builds graphs; this module only handles numbers:

- :func:`to_float` and :func:`const_operand` turn ``int``, ``float``, numpy scalars and
  other real numbers into ``float`` and reject ``bool`` (and non-numbers) with a
  ``TypeError`` that names the type;
- :func:`exp`, :func:`power`, :func:`power_slope`, :func:`log_base` are the float
  functions the forward ops and the float derivative rules use, with their limits and
  undefined points written out (overflow gives ``±inf``, ``(-8) ** 0.5`` raises);
- :func:`num`, :func:`pow_`, :func:`ln` let one partial-derivative rule run on a Value
  (building graph nodes, for ``create_graph``) or on a float (plain numbers).

It imports nothing from ``value.py``: a Value is recognised by its ``data`` and
``children`` attributes.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "const_operand",
    "exp",
    "ln",
    "log_base",
    "num",
    "pow_",
    "power",
    "power_slope",
    "to_float",
]


def to_float(x: Any, what: str = "Value data") -> float:
    """Convert a real number to ``float``; raise ``TypeError`` for anything else."""
    if type(x) is float:
        return x
    if isinstance(x, bool):  # (numpy.bool_ is not a numbers.Real: rejected below)
        raise TypeError(f"{what} must be a real number, got bool ({x!r}); use 1.0 or 0.0")
    if isinstance(x, numbers.Real):  # int, float subclasses, numpy scalars, Fraction
        return float(x)
    if hasattr(x, "children") and hasattr(x, "data"):
        raise TypeError(f"{what} must be a real number, got Value; pass v.data instead")
    raise TypeError(
        f"{what} must be a real number (int, float or a numpy scalar), got {type(x).__name__}"
    )


def const_operand(x: Any) -> float | None:
    """The float value of a constant operand, or None if ``x`` is not a number.

    Returning None lets the operator return ``NotImplemented``, so Python reports
    ``unsupported operand type(s)`` naming both types. ``bool`` raises ``TypeError``.
    """
    t = type(x)
    if t is float:
        return x
    if t is int:
        return float(x)
    if t is bool:
        raise TypeError(f"operand must be a real number, got bool ({x!r}); use 1.0 or 0.0")
    if isinstance(x, numbers.Real):
        return float(x)
    return None


def exp(x: float) -> float:
    """e ** x, inf on overflow."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def power(x: float, c: float) -> float:
    """x ** c as a float: ValueError where undefined over the reals, ±inf on overflow."""
    try:
        return math.pow(x, c)
    except ValueError:
        raise ValueError(f"{x!r} ** {c!r} is undefined over the real numbers") from None
    except OverflowError:
        return -math.inf if x < 0.0 and c % 2.0 == 1.0 else math.inf


def power_slope(x: float, c: float) -> float:
    """d/dx x**c = c * x**(c - 1), with the limits at x = 0 spelled out."""
    if c == 0.0:
        return 0.0
    if x == 0.0:
        if c == 1.0:
            return 1.0
        return 0.0 if c > 1.0 else math.inf  # 0 < c < 1 (or c < 0 never reaches here)
    return c * x ** (c - 1.0)


def log_base(x: float) -> float:
    """ln x for the exponent rule d/db a**b = a**b * ln a (0 at a = 0, nan for a < 0)."""
    if x > 0.0:
        return math.log(x)
    return 0.0 if x == 0.0 else math.nan


# The partial-derivative rules run on Values (create_graph) or on floats.
def num(x: Any) -> float:
    """The number held by ``x`` (a float, or a Value's ``data``)."""
    return x if type(x) is float else x.data


def pow_(a: Any, e: Any) -> Any:
    """a ** e on Values or floats; ``a ** 1`` is ``a`` itself and ``a ** 0`` is 1."""
    if type(e) is float:
        if e == 1.0:
            return a
        if e == 0.0:
            return 1.0
        if type(a) is float:
            return power(a, e)
    return a**e


def ln(a: Any) -> Any:
    """ln a: a float for a float, a ``log`` node for a Value."""
    return math.log(a) if type(a) is float else a.log()
