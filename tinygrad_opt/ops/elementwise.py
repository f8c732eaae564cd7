"""Elementwise arithmetic and math: each forward with its derivative right beside it.

Notation: ``g`` is the gradient arriving at the output (dL/dout); each ``backward``
returns dL/d(input) for every input, in order. Results may keep a broadcast shape: the
engine sums them back with ``unbroadcast``. Only inputs flagged in ``self.needs_grad``
need a gradient; expensive ones are skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import get_default_dtype
from tinygrad_opt.ops.common import promote

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
    "fmax",
    "fmin",
    "exp",
    "log",
    "sqrt",
    "abs",
    "absolute",
    "tanh",
    "binary_operands",
]


class BinaryOp(Function):
    """Elementwise op on two broadcast-compatible inputs."""

    def describe_error(self, inputs: Any, params: dict, err: Exception) -> str:
        a, b = inputs
        return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


class Add(BinaryOp):
    saves_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return g, g

    def vjp(self, g):
        return g, g


class Sub(BinaryOp):
    saves_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, g):  # d(a-b)/da = 1, d(a-b)/db = -1
        return g, (-g if self.needs_grad[1] else None)

    def vjp(self, g):
        return g, (-g if self.needs_grad[1] else None)


class Mul(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):  # d(ab)/da = b, d(ab)/db = a
        ga = g * self.b if self.needs_grad[0] else None
        gb = g * self.a if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        a, b = self.parents
        return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)


class Div(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):  # d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b (no b² to overflow)
        ga = g / self.b if self.needs_grad[0] else None
        gb = -g * (self.a / self.b) / self.b if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        a, b = self.parents
        ga = g / b if self.needs_grad[0] else None
        gb = -g * (a / b) / b if self.needs_grad[1] else None
        return ga, gb


def _power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """aᵇ; a one-element exponent that is a small integer is done by multiplication
    (numpy's general power is ~100× slower than a product for x³)."""
    if b.size == 1 and b.ndim <= a.ndim and a.dtype.kind == "f":
        e = float(b.reshape(()))
        if e in (3.0, 4.0, -2.0, -3.0):
            sq = a * a
            out = sq * a if e == 3.0 else sq * sq if e == 4.0 else sq
            if e == -3.0:
                out = out * a
            out = np.asarray(out)  # (0-d operands give numpy scalars)
            return np.reciprocal(out, out=out) if e < 0 else out
    return np.power(a, b)


class Pow(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = _power(a, b)
        return self.out

    def backward(self, g):
        # d(a^b)/da = b·a^(b-1), taken as 0 where b = 0 (a⁰ is constant; this avoids
        # 0·0⁻¹ = nan at a = 0, as torch does);  d(a^b)/db = a^b·ln a  (taken as 0 where
        # a = 0; torch does the same for b >= 0 and gives ∓inf for b < 0)
        a, b = self.a, self.b
        ga = None
        if self.needs_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = b * _power(a, b - 1)
                if (b == 0).any():
                    d = np.where(b == 0, 0, d).astype(d.dtype, copy=False)
            ga = g * d
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * np.where(a == 0, 0.0, self.out * np.log(a)).astype(self.out.dtype)
        return ga, gb

    def vjp(self, g):  # the same rules in Tensor ops (masks from the forward's values)
        a, b = self.parents
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_grad[0]:
                d = b * pow(a, b - 1)
                if (self.b == 0).any():
                    d = d.masked_fill(constant(self.b == 0), 0.0)
                ga = g * d
            if self.needs_grad[1]:
                safe = a.masked_fill(constant(self.a == 0), 1.0)  # ln 1 = 0 where a = 0
                gb = g * (pow(a, b) * log(safe))
        return ga, gb


def _extreme_grads(fn: Function, g: np.ndarray, a: np.ndarray, b: np.ndarray, beats: Any):
    """Gradients of max (``beats`` = greater) or min (less): all of ``g`` to the winner,
    half to each on a tie; where neither wins nor ties (a nan operand) both get ``g``, as
    torch."""
    ties = a == b
    half = g * np.where(ties, 0.5, 1.0).astype(g.dtype) if ties.any() else g
    # masks multiply (several times faster than np.where on unsorted data)
    ga = half * ~beats(b, a) if fn.needs_grad[0] else None
    gb = half * ~beats(a, b) if fn.needs_grad[1] else None
    return ga, gb


def _extreme_vjp(fn: Function, g: Tensor, beats: Any):
    """:func:`_extreme_grads` in Tensor ops: ``g`` times each input's share (constants)."""
    a, b = fn.a, fn.b
    share = np.where(a == b, 0.5, 1.0).astype(g.dtype)
    ga = g * constant(share * ~beats(b, a)) if fn.needs_grad[0] else None
    gb = g * constant(share * ~beats(a, b)) if fn.needs_grad[1] else None
    return ga, gb


class Maximum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):  # to the larger input; a tie splits g evenly; nan: g to both
        return _extreme_grads(self, g, self.a, self.b, np.greater)

    def vjp(self, g):
        return _extreme_vjp(self, g, np.greater)


class Minimum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):  # to the smaller input; a tie splits g evenly; nan: g to both
        return _extreme_grads(self, g, self.a, self.b, np.less)

    def vjp(self, g):
        return _extreme_vjp(self, g, np.less)


class Fmax(BinaryOp):
    """max ignoring nan (nan only where both are nan)."""

    def forward(self, a, b):
        self.pick_a = (a >= b) | np.isnan(b)  # a wins ties and when b is nan
        return np.fmax(a, b)

    def backward(self, g):
        zero = np.zeros((), dtype=g.dtype)
        ga = np.where(self.pick_a, g, zero) if self.needs_grad[0] else None
        gb = np.where(self.pick_a, zero, g) if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        pick_a = constant(self.pick_a)
        ga = g * pick_a if self.needs_grad[0] else None
        gb = g * constant(~self.pick_a) if self.needs_grad[1] else None
        return ga, gb


class Fmin(Fmax):
    """min ignoring nan (nan only where both are nan)."""

    def forward(self, a, b):
        self.pick_a = (a <= b) | np.isnan(b)
        return np.fmin(a, b)


class Neg(Function):
    saves_inputs = False

    def forward(self, a):
        return -a

    def backward(self, g):  # d(-a)/da = -1
        return -g

    def vjp(self, g):
        return -g


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):  # d(eᵃ)/da = eᵃ
        return g * self.out

    def vjp(self, g):
        return g * exp(self.parents[0])


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):  # d(ln a)/da = 1/a
        return g / self.a

    def vjp(self, g):
        return g / self.parents[0]


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):  # d(√a)/da = 1/(2√a)
        return g / (2 * self.out)

    def vjp(self, g):
        return g / (2 * sqrt(self.parents[0]))


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):  # d|a|/da = sign(a), taken as 0 at a = 0 and at nan (as torch)
        a = self.a
        return g * ((a > 0).astype(g.dtype) - (a < 0))

    def vjp(self, g):
        return g * constant((self.a > 0).astype(g.dtype) - (self.a < 0))


class Tanh(Function):
    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, g):  # d tanh(a)/da = 1 - tanh²(a)
        return g * (1 - self.out * self.out)

    def vjp(self, g):
        t = tanh(self.parents[0])
        return g * (1 - t * t)


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
    if rounding_mode in ("floor", "trunc"):
        from tinygrad_opt.ops.rounding import rounded_div

        return rounded_div(input, other, rounding_mode)
    raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")


divide = true_divide = div


def pow(input: Any, exponent: Any) -> Tensor:
    return Pow.apply(*binary_operands(input, exponent))


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


negative = neg


def maximum(input: Any, other: Any) -> Tensor:
    """Elementwise max (nan if either is nan); a tie splits the gradient evenly, as torch."""
    return Maximum.apply(*binary_operands(input, other))


def minimum(input: Any, other: Any) -> Tensor:
    """Elementwise min (nan if either is nan); a tie splits the gradient evenly, as torch."""
    return Minimum.apply(*binary_operands(input, other))


def fmax(input: Any, other: Any) -> Tensor:
    """Elementwise max that ignores nan; a tie gives the gradient to ``input``."""
    return Fmax.apply(*binary_operands(input, other))


def fmin(input: Any, other: Any) -> Tensor:
    """Elementwise min that ignores nan; a tie gives the gradient to ``input``."""
    return Fmin.apply(*binary_operands(input, other))


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


def inplace_method(fn: Callable) -> Callable:
    """The in-place method ``t.fn_(...)``: computes ``fn`` of ``t``'s current value and
    makes it ``t``'s value (``Tensor._inplace``; a float result cannot go into an integer
    tensor, as torch)."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(lambda old: fn(old, *args, **kwargs))

    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    method.__doc__ = f"In-place :func:`{fn.__name__}`: writes the result into this tensor."
    return method


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
    fmax = fmax
    fmin = fmin
    exp = exp
    log = log
    sqrt = sqrt
    abs = absolute = abs
    tanh = tanh

    exp_ = inplace_method(exp)
    log_ = inplace_method(log)
    sqrt_ = inplace_method(sqrt)
    abs_ = absolute_ = inplace_method(abs)
    tanh_ = inplace_method(tanh)


#: names that moved to :mod:`~tinygrad_opt.ops.clamp`, still importable from here
_MOVED = ("ClampArgumentError", "Clip", "ClampTensor", "clamp", "clip", "clamp_min", "clamp_max")


def __getattr__(name: str) -> Any:
    """Lazy re-export of :data:`_MOVED` (clamp.py imports this module: no import cycle)."""
    if name in _MOVED:
        from tinygrad_opt.ops import clamp as _clamp

        return getattr(_clamp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
