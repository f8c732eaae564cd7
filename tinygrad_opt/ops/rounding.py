"""Rounding and division with rounding: ``floor ceil round trunc frac sign``, ``//``
(``floor_divide``), ``fmod`` and ``%`` (``remainder``).

The rounding functions are piecewise constant: their gradient is zero everywhere (as
torch, which also returns zeros at the jumps), yet the result stays in the graph, so
``floor(x).requires_grad`` is true for a float ``x``. Integer inputs keep their dtype
(``floor`` of an int64 tensor is the same values, int64). Their ``vjp`` is a constant
zero, and that of ``fmod``/``remainder`` treats the rounded quotient as a constant, so
higher derivatives are 0 there too.

Division conventions, as torch (and C / Python):

- ``floor_divide(a, b)`` = ⌊a / b⌋ (``a // b``), rounded towards −∞;
- ``fmod(a, b)`` = a − b·trunc(a / b): the sign of the dividend ``a``;
- ``remainder(a, b)`` = a − b·⌊a / b⌋ (``a % b``): the sign of the divisor ``b``.

Integer division by zero raises (a ``RuntimeError`` that is also a ``ZeroDivisionError``);
float division by zero gives inf or nan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import DTYPE_NAMES
from tinygrad_opt.ops.elementwise import BinaryOp, binary_operands, inplace_method

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "floor",
    "ceil",
    "round",
    "trunc",
    "fix",
    "frac",
    "sign",
    "sgn",
    "signbit",
    "floor_divide",
    "fmod",
    "remainder",
]


class IntegerDivisionByZero(RuntimeError, ZeroDivisionError):
    """An integer tensor divided by zero (torch raises ``RuntimeError: ZeroDivisionError``)."""


def _not_for(op: str, t: Tensor, kinds: str) -> None:
    """torch's NotImplementedError for a dtype the op has no kernel for."""
    if t._data.dtype.kind in kinds:
        name = DTYPE_NAMES.get(t._data.dtype, str(t._data.dtype))
        raise NotImplementedError(f"\"{op}\" not implemented for '{name}'")


def _zeros_like(t: Tensor) -> Tensor:
    """A constant zero gradient of ``t``'s shape and dtype (no graph behind it)."""
    return constant(np.zeros(t._data.shape, dtype=t._data.dtype))


class Rounding(Function):
    """A piecewise-constant function of one input: values from ``fn``, zero gradient."""

    op = "rounding"

    @property
    def name(self) -> str:
        return self.op

    def forward(self, a, fn, op):
        self.op = op
        return fn(a)

    def backward(self, g):
        return np.zeros_like(g)

    def vjp(self, g):  # a constant zero: nothing flows back, at any order
        return _zeros_like(self.parents[0])


class RoundedDiv(BinaryOp):
    """a / b rounded by ``fn`` (floor or trunc): piecewise constant, zero gradients."""

    op = "div"

    @property
    def name(self) -> str:
        return self.op

    def forward(self, a, b, fn, op):
        self.op = op
        with np.errstate(divide="ignore", invalid="ignore"):
            return fn(a, b)

    def backward(self, g):
        zero = np.zeros_like(g)
        return zero, zero

    def vjp(self, g):
        return tuple(
            _zeros_like(p) if need else None for p, need in zip(self.parents, self.needs_grad)
        )


class Fmod(BinaryOp):
    """a − b·trunc(a/b);  d/da = 1,  d/db = −trunc(a/b)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.fmod(a, b)

    def backward(self, g):
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -g * np.trunc(self.a / self.b)
        return g, gb

    def vjp(self, g):  # trunc(a/b) is piecewise constant: a constant factor
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * constant(-np.trunc(self.a / self.b))
        return g, gb


class Remainder(BinaryOp):
    """a − b·⌊a/b⌋;  d/da = 1,  d/db = −⌊a/b⌋ (the floor division of ``//``)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.remainder(a, b)

    def backward(self, g):
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -g * np.floor_divide(self.a, self.b)
        return g, gb

    def vjp(self, g):  # ⌊a/b⌋ is piecewise constant: a constant factor
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * constant(-np.floor_divide(self.a, self.b))
        return g, gb


# --------------------------------------------------------------------------- rounding
def _rounded(op: str, input: Tensor, fn: Any) -> Tensor:
    _not_for(op, input, "b")
    if input._data.dtype.kind in "iu":  # integers are already whole: the same values
        return tensor_type()(input._data.copy())
    return Rounding.apply(input, fn=fn, op=op)


def floor(input: Tensor) -> Tensor:
    """⌊x⌋, the largest integer <= x (as a float for float x)."""
    return _rounded("floor", input, np.floor)


def ceil(input: Tensor) -> Tensor:
    """⌈x⌉, the smallest integer >= x."""
    return _rounded("ceil", input, np.ceil)


def trunc(input: Tensor) -> Tensor:
    """x rounded towards zero."""
    return _rounded("trunc", input, np.trunc)


fix = trunc


def round(input: Tensor, decimals: int = 0) -> Tensor:
    """x rounded to ``decimals`` decimal places, halves to even (``round(2.5) = 2``).

    With decimals d > 0 this is rint(x·10ᵈ)/10ᵈ, with d < 0 rint(x/10⁻ᵈ)·10⁻ᵈ, as torch
    (so ``round(2.675, 2)`` follows the float product, not the decimal digits)."""
    decimals = int(decimals)
    if decimals == 0:
        return _rounded("round", input, np.rint)
    _not_for("round_cpu", input, "biu")
    return Rounding.apply(input, fn=lambda a: np.round(a, decimals), op="round")


def frac(input: Tensor) -> Tensor:
    """x − trunc(x), with the sign of x; gradient 1."""
    _not_for("frac_cpu", input, "biu")
    return input - trunc(input)


def _sign(a: np.ndarray) -> np.ndarray:
    """np.sign with torch's sign(nan) = 0."""
    s = np.sign(a)
    return np.where(np.isnan(a), 0, s).astype(s.dtype, copy=False) if s.dtype.kind == "f" else s


def sign(input: Tensor) -> Tensor:
    """−1, 0 or +1 by the sign of x (0 for ±0 and, as torch, for nan); bool stays bool."""
    if input._data.dtype.kind == "b":
        return tensor_type()(input._data.copy())
    if input._data.dtype.kind in "iu":
        return tensor_type()(np.sign(input._data))
    return Rounding.apply(input, fn=_sign, op="sign")


sgn = sign


def signbit(input: Tensor) -> Tensor:
    """True where the sign bit is set (negative numbers and −0.0), bool."""
    return tensor_type()(np.signbit(input._data))


# --------------------------------------------------------------------------- division
def _division_operands(op: str, input: Any, other: Any) -> tuple[Tensor, Tensor]:
    """Promoted operands; integers may not be divided by zero, bools not at all."""
    x, y = binary_operands(input, other)
    _not_for(op, x, "b")
    if x._data.dtype.kind in "iu" and not y._data.all():
        raise IntegerDivisionByZero(f"{op}: integer division by zero (ZeroDivisionError)")
    return x, y


def _trunc_divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return np.trunc(a / b)
    q = np.floor_divide(a, b)  # integers: step the floor back up where it went below
    return q + ((q < 0) & (q * b != a))


def rounded_div(input: Any, other: Any, rounding_mode: str) -> Tensor:
    """``div(input, other, rounding_mode='floor' | 'trunc')``: zero gradients."""
    op = "floor_divide" if rounding_mode == "floor" else "div_trunc"
    x, y = _division_operands(op, input, other)
    fn = np.floor_divide if rounding_mode == "floor" else _trunc_divide
    return RoundedDiv.apply(x, y, fn=fn, op=op)


def floor_divide(input: Any, other: Any) -> Tensor:
    """⌊input / other⌋ (the ``//`` operator), rounded towards −∞; zero gradients."""
    return rounded_div(input, other, "floor")


def fmod(input: Any, other: Any) -> Tensor:
    """The C remainder a − b·trunc(a/b): the sign of ``input`` (``fmod(-7, 2) = -1``)."""
    return Fmod.apply(*_division_operands("fmod", input, other))


def remainder(input: Any, other: Any) -> Tensor:
    """The Python remainder a − b·⌊a/b⌋ (``%``): the sign of ``other`` (``-7 % 2 = 1``)."""
    return Remainder.apply(*_division_operands("remainder", input, other))


class RoundingMethods:
    """Tensor methods for rounding and division with rounding, operators ``//`` and ``%``,
    and the in-place forms (``t.floor_()``, ``t //= 2``, ``t %= 2``)."""

    __slots__ = ()

    floor = floor
    ceil = ceil
    round = round
    trunc = fix = trunc
    frac = frac
    sign = sgn = sign
    signbit = signbit
    floor_divide = floor_divide
    fmod = fmod
    remainder = remainder

    floor_ = inplace_method(floor)
    ceil_ = inplace_method(ceil)
    round_ = inplace_method(round)
    trunc_ = fix_ = inplace_method(trunc)
    frac_ = inplace_method(frac)
    sign_ = sgn_ = inplace_method(sign)
    floor_divide_ = inplace_method(floor_divide)
    fmod_ = inplace_method(fmod)
    remainder_ = inplace_method(remainder)

    def __floordiv__(self, other: Any) -> Tensor:
        return floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return floor_divide(other, self)

    def __ifloordiv__(self, other: Any) -> Tensor:
        return self._inplace(lambda old: floor_divide(old, other))

    def __mod__(self, other: Any) -> Tensor:
        return remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return remainder(other, self)

    def __imod__(self, other: Any) -> Tensor:
        return self._inplace(lambda old: remainder(old, other))
