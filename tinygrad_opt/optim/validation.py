"""Checks of hyperparameter values, with messages that name the value (torch's wording).

Every check raises ``ValueError("Invalid <what>: <value>")`` for a number out of range, as
``torch.optim`` does, and ``TypeError("<name> must be a number ...")`` for a value that is
not a number at all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def plain_number(value: Any) -> Any:
    """A hyperparameter with numpy scalars (``np.float32(0.1)``, ``np.int64(5)``, 0-d
    arrays) replaced by the Python numbers they hold, inside tuples and lists too.

    torch accepts such values (it converts them to double); here they would fail the
    ``isinstance(x, (int, float))`` checks, and a float32 learning rate would make the
    scalar arithmetic of an update float32.
    """
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if isinstance(value, tuple):
        return tuple(plain_number(v) for v in value)
    if isinstance(value, list):
        return [plain_number(v) for v in value]
    return value


def is_number(value: Any) -> bool:
    """A real number given as a Python int or float (not a bool, not a string)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_number(name: str, value: Any) -> None:
    """``TypeError("<name> must be a number, got '0.1' (str)")`` unless ``value`` is one
    (torch fails on such a value with a TypeError from its first comparison)."""
    if not is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")


def check_nonnegative(what: str, value: Any) -> None:
    """Raise ``ValueError("Invalid <what>: <value>")`` unless value is a number >= 0."""
    if not is_number(value) or not value >= 0.0:
        raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas: Any, count: int | None = 2) -> None:
    """``count`` betas (None: any number), each a number in [0, 1):
    ``Invalid beta parameter at index i: value`` as torch."""
    try:
        items = list(betas)
    except TypeError:
        raise ValueError(f"Invalid betas: {betas} (expected {count or 'some'} numbers)") from None
    if count is not None and len(items) != count:
        raise ValueError(f"Invalid betas: {betas} (expected {count} numbers, got {len(items)})")
    for i, b in enumerate(items):
        check_number(f"betas[{i}]", b)
        if not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def check_range(what: str, value: Any, low: float, high: float, *, high_open: bool = False) -> None:
    """Raise ``ValueError("Invalid <what>: <value>")`` unless low <= value <= high (or < high)."""
    ok = (
        isinstance(value, (int, float))
        and low <= value
        and (value < high if high_open else value <= high)
    )
    if not ok or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"Invalid {what}: {value}")
