"""Floating-point math functions of one tensor: trigonometric, hyperbolic, exp/log
variants, powers, and the error function family.

Each op is a primitive ``Function`` (numpy has the forward as one ufunc; a composition
would only add nodes and rounding), with its derivative right beside the forward.
Integer and bool inputs give the default float dtype, as in torch (``sin`` of an int64
tensor is float32). The error functions (``erf erfc erfinv``), which need kernels of
their own, are in :mod:`tinygrad_opt.ops.special` (re-exported here).

Each ``vjp`` (the derivative in Tensor ops, for ``create_graph=True``) recomputes the
derivative from the input with these same ops, so every order of derivative is available
(erf's derivative 2/√π·e^(−x²) needs no derivative of the erf kernel itself).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from tinygrad_opt.autograd.function import Function, constant
from tinygrad_opt.ops.elementwise import _float_input, div, exp, inplace_method, mul, sqrt
from tinygrad_opt.ops.special import erf, erfc, erfinv

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "sin",
    "cos",
    "tan",
    "asin",
    "arcsin",
    "acos",
    "arccos",
    "atan",
    "arctan",
    "sinh",
    "cosh",
    "asinh",
    "arcsinh",
    "acosh",
    "arccosh",
    "atanh",
    "arctanh",
    "exp2",
    "expm1",
    "log2",
    "log10",
    "log1p",
    "rsqrt",
    "reciprocal",
    "square",
    "sinc",
    "deg2rad",
    "rad2deg",
    "erf",
    "erfc",
    "erfinv",
]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# --------------------------------------------------------------------------- trigonometric
class Sin(Function):
    def forward(self, a):
        self.a = a
        return np.sin(a)

    def backward(self, g):  # d sin a = cos a
        return g * np.cos(self.a)

    def vjp(self, g):
        return g * cos(self.parents[0])


class Cos(Function):
    def forward(self, a):
        self.a = a
        return np.cos(a)

    def backward(self, g):  # d cos a = −sin a
        return -g * np.sin(self.a)

    def vjp(self, g):
        return g * -sin(self.parents[0])


class Tan(Function):
    def forward(self, a):
        self.out = np.tan(a)
        return self.out

    def backward(self, g):  # d tan a = 1 + tan² a
        return g * (1 + self.out * self.out)

    def vjp(self, g):
        t = tan(self.parents[0])
        return g * (1 + t * t)


class Asin(Function):
    def forward(self, a):
        self.a = a
        return np.arcsin(a)

    def backward(self, g):  # d asin a = 1/√(1 − a²)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / np.sqrt(1 - self.a * self.a)

    def vjp(self, g):
        a = self.parents[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / sqrt(1 - a * a)


class Acos(Function):
    def forward(self, a):
        self.a = a
        return np.arccos(a)

    def backward(self, g):  # d acos a = −1/√(1 − a²)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -g / np.sqrt(1 - self.a * self.a)

    def vjp(self, g):
        a = self.parents[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return -g / sqrt(1 - a * a)


class Atan(Function):
    def forward(self, a):
        self.a = a
        return np.arctan(a)

    def backward(self, g):  # d atan a = 1/(1 + a²)
        return g / (1 + self.a * self.a)

    def vjp(self, g):
        a = self.parents[0]
        return g / (1 + a * a)


# --------------------------------------------------------------------------- hyperbolic
class Sinh(Function):
    def forward(self, a):
        self.a = a
        return np.sinh(a)

    def backward(self, g):  # d sinh a = cosh a
        return g * np.cosh(self.a)

    def vjp(self, g):
        return g * cosh(self.parents[0])


class Cosh(Function):
    def forward(self, a):
        self.a = a
        return np.cosh(a)

    def backward(self, g):  # d cosh a = sinh a
        return g * np.sinh(self.a)

    def vjp(self, g):
        return g * sinh(self.parents[0])


class Asinh(Function):
    def forward(self, a):
        self.a = a
        return np.arcsinh(a)

    def backward(self, g):  # d asinh a = 1/√(a² + 1)
        return g / np.sqrt(self.a * self.a + 1)

    def vjp(self, g):
        a = self.parents[0]
        return g / sqrt(a * a + 1)


class Acosh(Function):
    def forward(self, a):
        self.a = a
        return np.arccosh(a)

    def backward(self, g):  # d acosh a = 1/√(a² − 1)  (a > 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / np.sqrt(self.a * self.a - 1)

    def vjp(self, g):
        a = self.parents[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / sqrt(a * a - 1)


class Atanh(Function):
    def forward(self, a):
        self.a = a
        return np.arctanh(a)

    def backward(self, g):  # d atanh a = 1/(1 − a²)
        with np.errstate(divide="ignore"):
            return g / (1 - self.a * self.a)

    def vjp(self, g):
        a = self.parents[0]
        with np.errstate(divide="ignore"):
            return g / (1 - a * a)


# --------------------------------------------------------------------------- exp / log
class Exp2(Function):
    def forward(self, a):
        self.out = np.exp2(a)
        return self.out

    def backward(self, g):  # d 2ᵃ = 2ᵃ ln 2
        return g * self.out * _LN2

    def vjp(self, g):
        return g * (exp2(self.parents[0]) * _LN2)


class Expm1(Function):
    def forward(self, a):
        self.out = np.expm1(a)
        return self.out

    def backward(self, g):  # d (eᵃ − 1) = eᵃ = out + 1
        return g * (self.out + 1)

    def vjp(self, g):
        return g * exp(self.parents[0])


class Log2(Function):
    def forward(self, a):
        self.a = a
        return np.log2(a)

    def backward(self, g):  # d log₂ a = 1/(a ln 2)
        with np.errstate(divide="ignore"):
            return g / (self.a * _LN2)

    def vjp(self, g):
        with np.errstate(divide="ignore"):
            return g / (self.parents[0] * _LN2)


class Log10(Function):
    def forward(self, a):
        self.a = a
        return np.log10(a)

    def backward(self, g):  # d log₁₀ a = 1/(a ln 10)
        with np.errstate(divide="ignore"):
            return g / (self.a * _LN10)

    def vjp(self, g):
        with np.errstate(divide="ignore"):
            return g / (self.parents[0] * _LN10)


class Log1p(Function):
    def forward(self, a):
        self.a = a
        return np.log1p(a)

    def backward(self, g):  # d ln(1 + a) = 1/(1 + a)
        with np.errstate(divide="ignore"):
            return g / (1 + self.a)

    def vjp(self, g):
        with np.errstate(divide="ignore"):
            return g / (1 + self.parents[0])


class Rsqrt(Function):
    def forward(self, a):
        self.a = a
        with np.errstate(divide="ignore", invalid="ignore"):
            self.out = 1 / np.sqrt(a)
        return self.out

    def backward(self, g):  # d a^(−½) = −½ a^(−3/2) = −½ out³
        return -0.5 * g * self.out**3

    def vjp(self, g):
        r = rsqrt(self.parents[0])
        return g * (r * r * r * -0.5)


class Sinc(Function):
    """sin(πa)/(πa), 1 at a = 0 (the normalised sinc)."""

    def forward(self, a):
        self.a = a
        pa = np.pi * a
        with np.errstate(divide="ignore", invalid="ignore"):
            self.out = np.where(a == 0, 1, np.sin(pa) / pa).astype(a.dtype, copy=False)
        return self.out

    def backward(self, g):  # d sinc = (cos(πa) − sinc a)/a, 0 at a = 0
        a = self.a
        with np.errstate(divide="ignore", invalid="ignore"):
            d = (np.cos(np.pi * a) - self.out) / a
        return g * np.where(a == 0, 0, d).astype(a.dtype, copy=False)

    def vjp(self, g):
        # The same rule, except at a = 0, where the quotient is 0/0: there d is replaced by
        # its tangent −π²a/3 (value 0, slope sinc''(0) = −π²/3), so the second derivative
        # is right at 0 too (torch's is nan there).
        from tinygrad_opt.ops.compare import Where

        a = self.parents[0]
        at0 = self.a == 0
        safe = a.masked_fill(constant(at0), 1.0)
        d = (cos(a * np.pi) - sinc(a)) / safe
        return g * Where.apply(a * (-np.pi * np.pi / 3), d, condition=at0)


# --------------------------------------------------------------------------- functions
def _unary(fn: type[Function], input: Tensor) -> Tensor:
    return fn.apply(_float_input(input))


def sin(input: Tensor) -> Tensor:
    """sin x (radians)."""
    return _unary(Sin, input)


def cos(input: Tensor) -> Tensor:
    """cos x (radians)."""
    return _unary(Cos, input)


def tan(input: Tensor) -> Tensor:
    """tan x (radians)."""
    return _unary(Tan, input)


def asin(input: Tensor) -> Tensor:
    """arcsin x in [−π/2, π/2]; nan outside [−1, 1]."""
    return _unary(Asin, input)


def acos(input: Tensor) -> Tensor:
    """arccos x in [0, π]; nan outside [−1, 1]."""
    return _unary(Acos, input)


def atan(input: Tensor) -> Tensor:
    """arctan x in (−π/2, π/2)."""
    return _unary(Atan, input)


def sinh(input: Tensor) -> Tensor:
    return _unary(Sinh, input)


def cosh(input: Tensor) -> Tensor:
    return _unary(Cosh, input)


def asinh(input: Tensor) -> Tensor:
    return _unary(Asinh, input)


def acosh(input: Tensor) -> Tensor:
    """arcosh x for x >= 1; nan below."""
    return _unary(Acosh, input)


def atanh(input: Tensor) -> Tensor:
    """artanh x for |x| < 1; ±inf at ±1, nan beyond."""
    return _unary(Atanh, input)


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def exp2(input: Tensor) -> Tensor:
    """2ˣ."""
    return _unary(Exp2, input)


def expm1(input: Tensor) -> Tensor:
    """eˣ − 1, accurate for small x."""
    return _unary(Expm1, input)


def log2(input: Tensor) -> Tensor:
    return _unary(Log2, input)


def log10(input: Tensor) -> Tensor:
    return _unary(Log10, input)


def log1p(input: Tensor) -> Tensor:
    """ln(1 + x), accurate for small x."""
    return _unary(Log1p, input)


def rsqrt(input: Tensor) -> Tensor:
    """1/√x."""
    return _unary(Rsqrt, input)


def reciprocal(input: Tensor) -> Tensor:
    """1/x (integers give the default float dtype)."""
    return div(1, _float_input(input))


def square(input: Tensor) -> Tensor:
    """x·x; keeps integer dtypes (bool becomes int64, as torch)."""
    if input.dtype.kind == "b":
        input = input.long()
    return mul(input, input)


def sinc(input: Tensor) -> Tensor:
    """The normalised sinc sin(πx)/(πx), with sinc(0) = 1."""
    return _unary(Sinc, input)


def deg2rad(input: Tensor) -> Tensor:
    """x·π/180."""
    return mul(_float_input(input), math.pi / 180.0)


def rad2deg(input: Tensor) -> Tensor:
    """x·180/π."""
    return mul(_float_input(input), 180.0 / math.pi)


class UnaryMethods:
    """Tensor methods for the math functions above (``t.sin()`` is ``sin(t)``), and their
    in-place forms (``t.sin_()``)."""

    __slots__ = ()

    sin = sin
    cos = cos
    tan = tan
    asin = arcsin = asin
    acos = arccos = acos
    atan = arctan = atan
    sinh = sinh
    cosh = cosh
    asinh = arcsinh = asinh
    acosh = arccosh = acosh
    atanh = arctanh = atanh
    exp2 = exp2
    expm1 = expm1
    log2 = log2
    log10 = log10
    log1p = log1p
    rsqrt = rsqrt
    reciprocal = reciprocal
    square = square
    sinc = sinc
    deg2rad = deg2rad
    rad2deg = rad2deg
    erf = erf
    erfc = erfc
    erfinv = erfinv

    sin_ = inplace_method(sin)
    cos_ = inplace_method(cos)
    tan_ = inplace_method(tan)
    asin_ = arcsin_ = inplace_method(asin)
    acos_ = arccos_ = inplace_method(acos)
    atan_ = arctan_ = inplace_method(atan)
    sinh_ = inplace_method(sinh)
    cosh_ = inplace_method(cosh)
    asinh_ = arcsinh_ = inplace_method(asinh)
    acosh_ = arccosh_ = inplace_method(acosh)
    atanh_ = arctanh_ = inplace_method(atanh)
    exp2_ = inplace_method(exp2)
    expm1_ = inplace_method(expm1)
    log2_ = inplace_method(log2)
    log10_ = inplace_method(log10)
    log1p_ = inplace_method(log1p)
    rsqrt_ = inplace_method(rsqrt)
    reciprocal_ = inplace_method(reciprocal)
    square_ = inplace_method(square)
    sinc_ = inplace_method(sinc)
    erf_ = inplace_method(erf)
    erfc_ = inplace_method(erfc)
    erfinv_ = inplace_method(erfinv)
    deg2rad_ = inplace_method(deg2rad)
    rad2deg_ = inplace_method(rad2deg)
