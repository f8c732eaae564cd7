"""Tensors made from a shape or a range: zeros, ones, full, arange, eye, random …

Floating results take the default dtype (float32) unless ``dtype=`` says otherwise;
``arange`` of integers is int64, as torch. Random tensors come from
``numpy.random.default_rng(rng)``: ``rng`` is an int seed or a Generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import tensor_type
from tinygrad_opt.dtypes import get_default_dtype, int64, to_dtype
from tinygrad_opt.ops.common import shape_arg

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "arange",
    "empty",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "zeros",
    "zeros_like",
]


def _dtype(dtype: Any, default: Any = None) -> np.dtype:
    if dtype is not None:
        return to_dtype(dtype)
    return default if default is not None else get_default_dtype()


def _make(arr: np.ndarray, requires_grad: bool) -> Any:
    return tensor_type()(arr, requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Any:
    """A tensor of zeros of shape ``size`` (``zeros(2, 3)`` or ``zeros((2, 3))``)."""
    return _make(np.zeros(shape_arg(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, **_: Any) -> Any:
    """A tensor of ones of shape ``size``."""
    return _make(np.ones(shape_arg(size), dtype=_dtype(dtype)), requires_grad)


empty = zeros  # numpy's empty would expose garbage; zeros is as cheap here


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Any:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    if dtype is None:
        dtype = tensor_type()(fill_value).dtype
    return _make(np.full(shape_arg((size,)), fill_value, dtype=to_dtype(dtype)), requires_grad)


def zeros_like(input: Any, *, dtype: Any = None, requires_grad: bool = False) -> Any:
    return _make(np.zeros(input.shape, dtype=_dtype(dtype, input.dtype)), requires_grad)


def ones_like(input: Any, *, dtype: Any = None, requires_grad: bool = False) -> Any:
    return _make(np.ones(input.shape, dtype=_dtype(dtype, input.dtype)), requires_grad)


def full_like(
    input: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
) -> Any:
    arr = np.full(input.shape, fill_value, dtype=_dtype(dtype, input.dtype))
    return _make(arr, requires_grad)


def arange(
    start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, requires_grad: bool = False
) -> Any:
    """Values from ``start`` (0 if only one bound is given) up to ``end`` (excluded) by
    ``step``; int64 when all three are integers, else the default float dtype."""
    if end is None:
        start, end = 0, start
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    d = _dtype(dtype, int64 if ints else None)
    if ints:
        arr = np.arange(start, end, step).astype(d)
    else:  # torch's count: ceil((end - start) / step), values start + i·step
        n = max(int(np.ceil((float(end) - float(start)) / float(step))), 0)
        arr = (float(start) + np.arange(n, dtype=np.float64) * float(step)).astype(d)
    return _make(arr, requires_grad)


def linspace(
    start: float, end: float, steps: int, *, dtype: Any = None, requires_grad: bool = False
) -> Any:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    arr = np.linspace(start, end, int(steps)).astype(_dtype(dtype))
    return _make(arr, requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Any:
    """The n×m identity matrix (m = n by default)."""
    return _make(np.eye(n, n if m is None else m, dtype=_dtype(dtype)), requires_grad)


def randn(
    *size: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False, **_: Any
) -> Any:
    """Standard-normal samples from ``numpy.random.default_rng(rng)``."""
    gen = np.random.default_rng(rng)
    return _make(gen.standard_normal(shape_arg(size)).astype(_dtype(dtype)), requires_grad)


def rand(
    *size: Any, rng: Any = None, dtype: Any = None, requires_grad: bool = False, **_: Any
) -> Any:
    """Uniform samples in [0, 1) from ``numpy.random.default_rng(rng)``."""
    gen = np.random.default_rng(rng)
    return _make(gen.random(shape_arg(size)).astype(_dtype(dtype)), requires_grad)


class CreationMethods:
    """``Tensor.zeros(2, 3)`` and friends, as static methods (the older spelling)."""

    __slots__ = ()
    zeros = staticmethod(zeros)
    ones = staticmethod(ones)
    full = staticmethod(full)
    arange = staticmethod(arange)
    eye = staticmethod(eye)
    linspace = staticmethod(linspace)
    randn = staticmethod(randn)
    rand = staticmethod(rand)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Any:
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Any:
        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None) -> Any:
        return full(size, fill_value, dtype=dtype or self.dtype)

    def new_tensor(self, data: Any, *, dtype: Any = None, requires_grad: bool = False) -> Any:
        return tensor_type()(
            data, dtype=dtype or self.dtype, requires_grad=requires_grad, copy=True
        )
