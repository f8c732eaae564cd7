"""Random tensors: ``rand``, ``randn``, ``randint``, ``randperm`` and their ``*_like``.

Samples come from ``numpy.random.default_rng(rng)``: ``rng`` (or torch's ``generator=``)
is an int seed or a numpy Generator, so runs are reproducible, but the numbers are not
torch's random stream. Floating samples take the default dtype; integers are int64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.dtypes import int64
from tinygrad_opt.errors import ShapeError
from tinygrad_opt.ops.creation import _device, _dtype, _make, _size
from tinygrad_opt.ops.reduce import NoKernelError

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
]


def _rng(rng: Any, generator: Any) -> np.random.Generator:
    return np.random.default_rng(generator if rng is None else rng)


def _floating(dtype: np.dtype, op: str) -> np.dtype:
    if dtype.kind != "f":
        raise NoKernelError(f"{op}: needs a floating dtype, got {dtype}")
    return dtype


def randn(
    *size: Any,
    rng: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Any:
    """Standard-normal samples from ``numpy.random.default_rng(rng)``."""
    _device(device)
    d = _floating(_dtype(dtype), "randn")
    sample = _rng(rng, generator).standard_normal(_size(size, "randn"))
    return _make(sample.astype(d), requires_grad, name)


def rand(
    *size: Any,
    rng: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Any:
    """Uniform samples in [0, 1) from ``numpy.random.default_rng(rng)``."""
    _device(device)
    d = _floating(_dtype(dtype), "rand")
    return _make(_rng(rng, generator).random(_size(size, "rand")).astype(d), requires_grad, name)


def randint(*args: Any, rng: Any = None, generator: Any = None, dtype: Any = None, **kw) -> Any:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high),
    int64 unless ``dtype`` says otherwise."""
    _device(kw.pop("device", None))
    requires_grad = kw.pop("requires_grad", False)
    if kw:
        raise TypeError(f"randint: unexpected arguments {sorted(kw)}")
    if len(args) == 2:
        low, (high, size) = 0, args
    elif len(args) == 3:
        low, high, size = args
    else:
        raise TypeError("randint expects (high, size) or (low, high, size)")
    if low >= high:
        raise ShapeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    values = _rng(rng, generator).integers(low, high, _size((size,), "randint"))
    return _make(values.astype(_dtype(dtype, int64)), requires_grad)


def randperm(n: int, *, rng: Any = None, generator: Any = None, dtype: Any = None, **kw) -> Any:
    """A random permutation of 0 … n-1 (int64)."""
    _device(kw.pop("device", None))
    if n < 0:
        raise ShapeError(f"randperm: Trying to create tensor with negative dimension {n}: [{n}]")
    return _make(_rng(rng, generator).permutation(n).astype(_dtype(dtype, int64)), False)


def rand_like(input: Any, *, rng: Any = None, dtype: Any = None, requires_grad=False) -> Any:
    """``rand`` with ``input``'s shape (and dtype, which must be floating)."""
    d = _floating(_dtype(dtype, input.dtype), "rand_like")
    return rand(input.shape, rng=rng, dtype=d, requires_grad=requires_grad)


def randn_like(input: Any, *, rng: Any = None, dtype: Any = None, requires_grad=False) -> Any:
    """``randn`` with ``input``'s shape (and dtype, which must be floating)."""
    d = _floating(_dtype(dtype, input.dtype), "randn_like")
    return randn(input.shape, rng=rng, dtype=d, requires_grad=requires_grad)


def randint_like(input: Any, low: int, high: int | None = None, *, rng: Any = None, dtype=None):
    """``randint`` with ``input``'s shape and dtype (``randint_like(x, high)`` too)."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, rng=rng, dtype=_dtype(dtype, input.dtype))
