"""Selection by a mask: ``where``; comparisons and logic give booleans (no gradient)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, tensor_type
from tinygrad_opt.ops.common import lift

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "where",
]


class Where(Function):
    def forward(self, a, b, condition):
        self.cond = condition
        return np.where(condition, a, b)

    def backward(self, g):  # the gradient flows to whichever input was picked
        zero = np.zeros((), dtype=g.dtype)
        ga = np.where(self.cond, g, zero) if self.needs_grad[0] else None
        gb = np.where(self.cond, zero, g) if self.needs_grad[1] else None
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        c = params["condition"].shape
        return f"where: condition {c}, a {a.shape} and b {b.shape} cannot be broadcast together"


class Compare(Function):
    """An elementwise comparison or logical op: a boolean (or integer) result, no gradient."""

    def forward(self, a, b, ufunc):
        self.ufunc = ufunc
        return ufunc(a, b)

    def describe_error(self, inputs, params, err):
        a, b = inputs
        name = params["ufunc"].__name__
        return f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


def _compare(ufunc, a: Any, b: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    return Compare.apply(*binary_operands(a, b), ufunc=ufunc)


def eq(input: Any, other: Any):
    """input == other, elementwise (bool)."""
    return _compare(np.equal, input, other)


def ne(input: Any, other: Any):
    return _compare(np.not_equal, input, other)


def lt(input: Any, other: Any):
    return _compare(np.less, input, other)


def le(input: Any, other: Any):
    return _compare(np.less_equal, input, other)


def gt(input: Any, other: Any):
    return _compare(np.greater, input, other)


def ge(input: Any, other: Any):
    return _compare(np.greater_equal, input, other)


def _integral(name: str, *xs):
    for x in xs:
        if x._data.dtype.kind == "f":
            raise TypeError(f"{name}: only integer and bool tensors, got dtype {x.dtype}")


def bitwise_and(input: Any, other: Any):
    """``&``: logical and for bool tensors, bitwise and for integers."""
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_and", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_and)


def bitwise_or(input: Any, other: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_or", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_or)


def bitwise_xor(input: Any, other: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_xor", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_xor)


def bitwise_not(input: Any):
    """``~``: logical not for bool tensors, bitwise not for integers."""
    _integral("bitwise_not", input)
    return tensor_type()(np.invert(input._data))


def where(condition: Any, input: Any = None, other: Any = None):
    """Elementwise ``input`` where ``condition`` is true, else ``other`` (torch.where).

    The branches may be tensors or numbers and broadcast against the condition; the
    condition gets no gradient. ``where(condition)`` alone is ``nonzero(as_tuple=True)``.
    """
    T = tensor_type()
    cond = condition._data if isinstance(condition, T) else np.asarray(condition)
    if input is None and other is None:
        return tuple(T(i) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    return Where.apply(a, b, condition=cond)


class CompareMethods:
    """Tensor methods for comparisons and selection."""

    __slots__ = ()

    eq = eq
    ne = not_equal = ne
    lt = less = lt
    le = less_equal = le
    gt = greater = gt
    ge = greater_equal = ge
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    bitwise_not = bitwise_not

    def where(self, condition: Any, other: Any):
        """``self.where(condition, other)`` is ``where(condition, self, other)``."""
        return where(condition, self, other)


_ = lift
