"""Floating-point math functions of two tensors (broadcasting): ``atan2``, ``hypot``,
``copysign``, ``logaddexp``, ``logaddexp2``, ``xlogy``, and ``lerp`` of three.

Each is a primitive ``Function`` (forward and derivative side by side) because its
derivative needs care where a composition would give nan or lose accuracy: at the
origin (``atan2``), at infinities (``logaddexp``), at zeros (``xlogy``, ``copysign``).
Integer inputs give the default float dtype where torch allows them (``atan2``,
``copysign``, ``xlogy``); ``hypot``, ``logaddexp(2)`` and ``lerp`` take floats only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import DTYPE_NAMES, result_type
from tinygrad_opt.errors import DTypeError
from tinygrad_opt.ops.common import cast, lift
from tinygrad_opt.ops.elementwise import (
    BinaryOp,
    _float_operands,
    binary_operands,
    exp,
    inplace_method,
)

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "atan2",
    "arctan2",
    "hypot",
    "copysign",
    "logaddexp",
    "logaddexp2",
    "xlogy",
    "lerp",
]

_LN2 = math.log(2.0)


class Atan2(BinaryOp):
    """The angle of the point (b, a): atan2(a, b) in (−π, π].

    d/da = b/(a² + b²), d/db = −a/(a² + b²); both 0 at the origin, as torch."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return np.arctan2(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        r2 = a * a + b * b
        with np.errstate(divide="ignore"):
            inv = np.where(r2 == 0, 0, 1 / r2).astype(g.dtype, copy=False)
        ga = g * b * inv if self.needs_grad[0] else None
        gb = -g * a * inv if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        # the same rule; at the origin 1/r² is replaced by 0, which leaves the second
        # derivatives there nan (0/0 through the division), as torch's
        a, b = self.parents
        r2 = a * a + b * b
        origin = constant(np.asarray(self.a * self.a + self.b * self.b == 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = (1 / r2).masked_fill(origin, 0.0)
        ga = g * (b * inv) if self.needs_grad[0] else None
        gb = g * -(a * inv) if self.needs_grad[1] else None
        return ga, gb


class Hypot(BinaryOp):
    """√(a² + b²) without overflow;  d/da = a/out, d/db = b/out (nan at the origin)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.hypot(a, b)
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * self.a / self.out if self.needs_grad[0] else None
            gb = g * self.b / self.out if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        a, b = self.parents
        out = hypot(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * (a / out) if self.needs_grad[0] else None
            gb = g * (b / out) if self.needs_grad[1] else None
        return ga, gb


class Copysign(BinaryOp):
    """|a| with the sign of b (−0.0 counts as negative).

    d/da = out/a = ±1 (0 where a = 0, as torch); d/db = 0."""

    def forward(self, a, b):
        self.a = a
        self.out = np.copysign(a, b)
        return self.out

    def backward(self, g):
        ga = None
        if self.needs_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * np.where(self.a == 0, 0, self.out / self.a).astype(g.dtype, copy=False)
        gb = np.zeros_like(g) if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        # ga = g·(out/a), with 0 where a = 0: out/a = ±1 is piecewise constant, so the
        # second derivative is 0, except at a = 0 where the masked 0/0 leaves nan (as
        # torch's; copysign has a kink there)
        ga = gb = None
        if self.needs_grad[0]:
            a, b = self.parents
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (Copysign.apply(a, b) / a).masked_fill(constant(self.a == 0), 0.0)
            ga = g * ratio
        if self.needs_grad[1]:
            gb = constant(np.zeros(self.parents[1]._data.shape, dtype=self.out.dtype))
        return ga, gb


class LogAddExp(BinaryOp):
    """ln(eᵃ + eᵇ) without overflow (``base=2``: log₂(2ᵃ + 2ᵇ)).

    d/da = 1/(1 + e^(b−a)) and d/db = 1/(1 + e^(a−b)) (2^… for base 2): finite where one
    side is ±inf and the other finite, nan where both are the same infinity, as torch."""

    def forward(self, a, b, base):
        self.a, self.b, self.base = a, b, base
        return np.logaddexp(a, b) if base == "e" else np.logaddexp2(a, b)

    def backward(self, g):
        power = np.exp if self.base == "e" else np.exp2
        with np.errstate(over="ignore", invalid="ignore"):
            ga = g / (1 + power(self.b - self.a)) if self.needs_grad[0] else None
            gb = g / (1 + power(self.a - self.b)) if self.needs_grad[1] else None
        return ga, gb

    def vjp(self, g):
        from tinygrad_opt.ops.unary import exp2

        a, b = self.parents
        power = exp if self.base == "e" else exp2
        with np.errstate(over="ignore", invalid="ignore"):
            ga = g / (1 + power(b - a)) if self.needs_grad[0] else None
            gb = g / (1 + power(a - b)) if self.needs_grad[1] else None
        return ga, gb


class Xlogy(BinaryOp):
    """a·ln b, taken as 0 where a = 0 (unless b is nan).

    d/da = ln b (0 where a = 0 and b <= 0, and where the incoming gradient is 0);
    d/db = a/b, as torch."""

    def forward(self, a, b):
        self.a, self.b = a, b
        with np.errstate(divide="ignore", invalid="ignore"):
            out = a * np.log(b)
        return np.where((a == 0) & ~np.isnan(b), 0, out).astype(out.dtype, copy=False)

    def backward(self, g):
        a, b = self.a, self.b
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_grad[0]:
                d = g * np.log(b)
                zero = ((g == 0) & ~np.isnan(b)) | ((a == 0) & (b <= 0))
                ga = np.where(zero, 0, d).astype(d.dtype, copy=False)
            if self.needs_grad[1]:
                gb = g * a / b
        return ga, gb

    def vjp(self, g):  # ga = xlogy(g, b), so it differentiates again by this same rule
        a, b = self.parents
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_grad[0]:
                ga = Xlogy.apply(g, b).masked_fill(constant((self.a == 0) & (self.b <= 0)), 0.0)
            if self.needs_grad[1]:
                gb = g * (a / b)
        return ga, gb


class Lerp(Function):
    """start + w·(end − start), evaluated as torch does for accuracy at both ends:
    start + w·(end − start) where |w| < ½, else end − (end − start)·(1 − w).

    d/dstart = 1 − w, d/dend = w, d/dw = end − start."""

    def forward(self, s, e, w):
        self.s, self.e, self.w = s, e, w
        d = e - s
        return np.where(np.abs(w) < 0.5, s + w * d, e - d * (1 - w)).astype(d.dtype, copy=False)

    def backward(self, g):
        gs = g * (1 - self.w) if self.needs_grad[0] else None
        ge = g * self.w if self.needs_grad[1] else None
        gw = g * (self.e - self.s) if self.needs_grad[2] else None
        return gs, ge, gw

    def vjp(self, g):
        s, e, w = self.parents
        gs = g * (1 - w) if self.needs_grad[0] else None
        ge = g * w if self.needs_grad[1] else None
        gw = g * (e - s) if self.needs_grad[2] else None
        return gs, ge, gw

    def describe_error(self, inputs, params, err):
        s, e, w = (t.shape for t in inputs)
        return f"lerp: shapes {s} (input), {e} (end) and {w} (weight) cannot be broadcast"


# --------------------------------------------------------------------------- functions
def _floats_only(op: str, *ts: Tensor) -> None:
    for t in ts:
        if t._data.dtype.kind != "f":
            name = DTYPE_NAMES.get(t._data.dtype, str(t._data.dtype))
            raise NotImplementedError(f"\"{op}\" not implemented for '{name}'")


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of (other, input), i.e. atan(input/other) in the right quadrant."""
    return Atan2.apply(*_float_operands(input, other))


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:
    """√(input² + other²), elementwise, without overflow (floats only, as torch)."""
    x, y = binary_operands(input, other)
    _floats_only("hypot", x)
    return Hypot.apply(x, y)


def copysign(input: Any, other: Any) -> Tensor:
    """|input| with the sign of ``other`` (integers give the default float dtype)."""
    return Copysign.apply(*_float_operands(input, other))


def logaddexp(input: Any, other: Any) -> Tensor:
    """ln(eˣ + eʸ), stable for large |x|, |y| (floats only, as torch)."""
    x, y = binary_operands(input, other)
    _floats_only("logaddexp", x)
    return LogAddExp.apply(x, y, base="e")


def logaddexp2(input: Any, other: Any) -> Tensor:
    """log₂(2ˣ + 2ʸ), stable for large |x|, |y| (floats only, as torch)."""
    x, y = binary_operands(input, other)
    _floats_only("logaddexp2", x)
    return LogAddExp.apply(x, y, base="2")


def xlogy(input: Any, other: Any) -> Tensor:
    """input·ln(other), 0 where input = 0 (so 0·ln 0 = 0), nan where other is nan."""
    return Xlogy.apply(*_float_operands(input, other))


def lerp(input: Tensor, end: Tensor, weight: Any) -> Tensor:
    """Linear interpolation input + weight·(end − input); ``weight`` is a number or a
    tensor, all three broadcast. ``input`` and ``end`` must have the same float dtype."""
    T = tensor_type()
    if not isinstance(end, T):
        raise TypeError(f"lerp: end must be a Tensor, got {type(end).__name__}")
    _floats_only("lerp_kernel", input)
    if end.dtype != input.dtype:
        raise DTypeError(f"lerp: expected dtype {input.dtype} for `end` but got dtype {end.dtype}")
    if isinstance(weight, T):
        if weight.dtype != input.dtype and result_type(input, weight) != input.dtype:
            raise DTypeError(
                f"lerp: expected dtype {input.dtype} for `weight` but got dtype {weight.dtype}"
            )
        w = cast(weight, input.dtype)
    else:
        w = lift(weight, dtype=input.dtype)
    return Lerp.apply(input, end, w)


class BinaryMathMethods:
    """Tensor methods for the functions above (``t.atan2(u)`` is ``atan2(t, u)``) and
    their in-place forms."""

    __slots__ = ()

    atan2 = arctan2 = atan2
    hypot = hypot
    copysign = copysign
    logaddexp = logaddexp
    logaddexp2 = logaddexp2
    xlogy = xlogy
    lerp = lerp

    atan2_ = arctan2_ = inplace_method(atan2)
    hypot_ = inplace_method(hypot)
    copysign_ = inplace_method(copysign)
    xlogy_ = inplace_method(xlogy)
    lerp_ = inplace_method(lerp)
