"""Hyperparameters: declared once per method, checked with messages that name the value.

A method lists its hyperparameters and defaults in ``Optimizer.hyperparameters``;
:func:`declared_init` makes its constructor from that list, and
:func:`check_declared_types` holds every value to its default's kind. Every check raises
``ValueError("Invalid <what>: <value>")`` for a number out of range, as ``torch.optim``
does, and ``TypeError("<name> must be a number ...")`` for a value that is not a number.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

#: Keyword arguments every optimizer takes besides its hyperparameters.
OPTIONS = ("skip_nonfinite", "flat", "chunk_size", "threads")


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


def check_declared_types(declared: dict[str, Any], hp: dict[str, Any]) -> None:
    """Each value of ``hp`` has its declared default's kind: a number where the default is
    a number (``TypeError``), a tuple of the same length where it is a tuple of numbers."""
    for name, value in hp.items():
        default = declared.get(name)
        if is_number(default) and value is not None:
            check_number(name, value)
        elif isinstance(default, tuple) and all(is_number(d) for d in default):
            if not isinstance(value, (tuple, list)) or len(value) != len(default):
                raise ValueError(
                    f"Invalid {name}: {value!r} (expected {len(default)} numbers, as the "
                    f"default {default})"
                )
            for i, v in enumerate(value):
                check_number(f"{name}[{i}]", v)


def declared_init(cls: type, base_init: Callable[..., None]) -> Callable[..., None]:
    """The ``__init__`` of a class that declares ``hyperparameters``:
    ``(params, <hyperparameters in order, with defaults>, **options)``, which binds the
    arguments and calls ``base_init(self, params, hyperparameters, **options)``."""
    names = list(cls.hyperparameters)

    def __init__(self: Any, params: Any, *args: Any, **kwargs: Any) -> None:
        declared = cls.hyperparameters
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__}() takes at most {len(names)} hyperparameters by position "
                f"({', '.join(names)}), got {len(args)}"
            )
        hp = dict(declared)
        hp.update(zip(names, args))
        options = {k: kwargs.pop(k) for k in OPTIONS if k in kwargs}
        for name, value in kwargs.items():
            if name not in declared:
                raise TypeError(
                    f"{cls.__name__}() got an unexpected keyword argument {name!r}; its "
                    f"hyperparameters are {', '.join(names)}"
                )
            if names.index(name) < len(args):
                raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
            hp[name] = value
        for name, value in hp.items():
            if isinstance(declared[name], tuple) and isinstance(value, list):
                hp[name] = tuple(value)
        base_init(self, params, hp, **options)

    P = inspect.Parameter
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [P("self", P.POSITIONAL_OR_KEYWORD), P("params", P.POSITIONAL_OR_KEYWORD)]
        + [P(n, P.POSITIONAL_OR_KEYWORD, default=d) for n, d in cls.hyperparameters.items()]
        + [P("options", P.VAR_KEYWORD)]
    )
    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    __init__.__doc__ = f"Make a {cls.__name__}; hyperparameters as in the class docstring."
    return __init__
