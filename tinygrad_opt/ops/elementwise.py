"""Elementwise arithmetic and math: each forward with its derivative right beside it.

Notation: ``g`` is the gradient arriving at the output (dL/dout); each ``backward``
returns dL/d(input) for every input, in order. Results may keep a broadcast shape: the
engine sums them back with ``unbroadcast``. Only inputs flagged in ``self.needs_grad``
need a gradient; expensive ones are skipped otherwise.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import get_default_dtype
from tinygrad_opt.ops.common import lift, promote

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "add",
    "sub",
    "subtract",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "pow",
    "neg",
    "negative",
    "maximum",
    "minimum",
    "exp",
    "log",
    "sqrt",
    "abs",
    "absolute",
    "tanh",
    "clamp",
    "clip",
    "floor_divide",
    "trunc",
    "erf",
    "binary_operands",
]


class BinaryOp(Function):
    """Elementwise op on two broadcast-compatible inputs."""

    def describe_error(self, inputs: Any, params: dict, err: Exception) -> str:
        a, b = inputs
        return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


class Add(BinaryOp):
    def forward(self, a, b):
        return a + b

    def backward(self, g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return g, g


class Sub(BinaryOp):
    def forward(self, a, b):
        return a - b

    def backward(self, g):  # d(a-b)/da = 1, d(a-b)/db = -1
        return g, (-g if self.needs_grad[1] else None)


class Mul(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):  # d(ab)/da = b, d(ab)/db = a
        ga = g * self.b if self.needs_grad[0] else None
        gb = g * self.a if self.needs_grad[1] else None
        return ga, gb


class Div(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b²
        ga = g / self.b if self.needs_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_grad[1] else None
        return ga, gb


class Pow(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        # d(a^b)/da = b·a^(b-1), taken as 0 where b = 0 (a⁰ is constant; this avoids
        # 0·0⁻¹ = nan at a = 0, as torch does);  d(a^b)/db = a^b·ln a  (taken as 0 where
        # a = 0; torch does the same for b >= 0 and gives ∓inf for b < 0)
        a, b = self.a, self.b
        ga = None
        if self.needs_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = b * np.power(a, b - 1)
                if (b == 0).any():
                    d = np.where(b == 0, 0, d).astype(d.dtype, copy=False)
            ga = g * d
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * np.where(a == 0, 0.0, self.out * np.log(a)).astype(self.out.dtype)
        return ga, gb


class Maximum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):  # to the larger input; ties split the gradient evenly
        share = np.where(self.a == self.b, 0.5, (self.a > self.b)).astype(g.dtype)
        ga = g * share if self.needs_grad[0] else None
        gb = g * (1 - share) if self.needs_grad[1] else None
        return ga, gb


class Minimum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):  # to the smaller input; ties split the gradient evenly
        share = np.where(self.a == self.b, 0.5, (self.a < self.b)).astype(g.dtype)
        ga = g * share if self.needs_grad[0] else None
        gb = g * (1 - share) if self.needs_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):  # d(-a)/da = -1
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):  # d(eᵃ)/da = eᵃ
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):  # d(ln a)/da = 1/a
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):  # d(√a)/da = 1/(2√a)
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):  # d|a|/da = sign(a), taken as 0 at a = 0
        return g * np.sign(self.a)


class Tanh(Function):
    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, g):  # d tanh(a)/da = 1 - tanh²(a)
        return g * (1 - self.out * self.out)


class Clip(Function):
    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        return np.clip(a, lo, hi)

    def backward(self, g):  # 1 inside [lo, hi] (edges included, as torch.clamp), 0 outside
        inside = np.ones(self.a.shape, dtype=bool)
        if self.lo is not None:
            inside &= self.a >= self.lo
        if self.hi is not None:
            inside &= self.a <= self.hi
        return g * inside


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised, accurate to about 1e-15 in float64.

    |x| <= 2: the Maclaurin series erf x = 2/√π Σ (-1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)) (beyond 2 its
    alternating terms grow to ~e^(x²) and cancellation costs digits: 8e-14 at |x| = 3).
    |x| > 2: erfc x = e^(-x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + ...)))), the Laplace
    continued fraction (Abramowitz & Stegun 7.1.14), evaluated bottom-up.
    """
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = np.minimum(ax, 2.0)
    x2 = small * small
    term = small.copy()
    total = small.copy()
    for n in range(1, 60):
        term = term * (-x2) / n
        total += term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    big = np.maximum(ax, 2.0)
    frac = big.copy()
    for k in range(60, 0, -1):
        frac = big + (k / 2.0) / frac
    tail = 1.0 - np.exp(-big * big) / (math.sqrt(math.pi) * frac)
    return np.sign(x) * np.where(ax <= 2.0, series, tail)


# --------------------------------------------------------------------------- functions
_NUMBER_TYPES = (int, float, bool, np.number, np.bool_)


def binary_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of their common dtype (torch's promotion)."""
    T = tensor_type()
    ta, tb = type(a) is T, type(b) is T
    if ta and tb:
        if a._data.dtype == b._data.dtype:
            return a, b
    elif ta and type(b) in (float, int):  # tensor op Python number: the common fast path
        dt = a._data.dtype
        if dt.kind == "f" or (dt == np.int64 and type(b) is int and -(2**63) <= b < 2**63):
            return a, constant(np.array(b, dtype=dt))
    elif tb and type(a) in (float, int):
        dt = b._data.dtype
        if dt.kind == "f" or (dt == np.int64 and type(a) is int and -(2**63) <= a < 2**63):
            return constant(np.array(a, dtype=dt)), b
    for x in (a, b):
        if not isinstance(x, (T, np.ndarray, list, tuple, *_NUMBER_TYPES)):
            raise TypeError(
                f"unsupported operand type {type(x).__name__} for a tensor op; operands must "
                f"be numeric: a Tensor, an array or a number"
            )
    x, y = promote(a, b)
    return x, y


def _float_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Operands for an op whose result is always floating (true division)."""
    x, y = binary_operands(a, b)
    if x._data.dtype.kind != "f":
        x, y = promote(x.to(get_default_dtype()), y)
    return x, y


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha·other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(*binary_operands(input, other))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input − alpha·other, broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(*binary_operands(input, other))


subtract = sub


def mul(input: Any, other: Any) -> Tensor:
    return Mul.apply(*binary_operands(input, other))


multiply = mul


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats); ``rounding_mode='trunc'|'floor'`` rounds."""
    if rounding_mode is None:
        return Div.apply(*_float_operands(input, other))
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        x, y = binary_operands(input, other)
        if x._data.dtype.kind == "f":
            return trunc(Div.apply(x, y))
        return _IntTruncDiv.apply(x, y)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


divide = true_divide = div


def pow(input: Any, exponent: Any) -> Tensor:
    return Pow.apply(*binary_operands(input, exponent))


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


negative = neg


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise max; where both are equal the gradient is split evenly (as torch)."""
    return Maximum.apply(*binary_operands(input, other))


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise min; where both are equal the gradient is split evenly (as torch)."""
    return Minimum.apply(*binary_operands(input, other))


def _float_input(x: Tensor) -> Tensor:
    """Integer inputs of float-valued functions (exp, log, ...) become the default float."""
    return x if x._data.dtype.kind == "f" else x.to(get_default_dtype())


def exp(input: Tensor) -> Tensor:
    return Exp.apply(_float_input(input))


def log(input: Tensor) -> Tensor:
    return Log.apply(_float_input(input))


def sqrt(input: Tensor) -> Tensor:
    return Sqrt.apply(_float_input(input))


def abs(input: Tensor) -> Tensor:
    return Abs.apply(input)


absolute = abs


def tanh(input: Tensor) -> Tensor:
    return Tanh.apply(_float_input(input))


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clamp into [min, max]; the gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise ValueError("clamp: give at least one of min and max")
    return Clip.apply(input, lo=min, hi=max)


clip = clamp


def floor_divide(input: Any, other: Any) -> Tensor:
    """⌊input / other⌋ (``//``); no gradient, as torch."""
    x, y = binary_operands(input, other)
    T = tensor_type()
    return T(np.floor_divide(x._data, y._data))


def trunc(input: Tensor) -> Tensor:
    T = tensor_type()
    return T(np.trunc(input._data)) if input._data.dtype.kind == "f" else input


class _IntTruncDiv(BinaryOp):
    def forward(self, a, b):
        q = np.floor_divide(a, b)
        return q + ((q < 0) & (q * b != a))


class ElementwiseMethods:
    """Tensor methods for the ops above (``t.exp()`` is ``exp(t)``)."""

    __slots__ = ()

    add = add
    sub = subtract = sub
    mul = multiply = mul
    div = divide = true_divide = div
    pow = pow
    neg = negative = neg
    maximum = maximum
    minimum = minimum
    exp = exp
    log = log
    sqrt = sqrt
    abs = absolute = abs
    tanh = tanh
    clamp = clip = clamp
    floor_divide = floor_divide
    trunc = trunc

    def __floordiv__(self, other: Any) -> Tensor:
        return floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return floor_divide(other, self)


_ = lift
