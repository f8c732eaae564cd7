"""The derivative rules of the scalar engine as equations: ``partials(out, ins, aux)``.

For every op code of :class:`~tinygrad_opt.value.Value`, a rule that returns the partial
derivatives ∂out/∂ins[i] (None for a constant zero) from the node's output ``out``, its
inputs ``ins`` and its constant operand ``aux``. Written with ordinary arithmetic, one
rule serves two kinds of argument: on Values (``out`` the node, ``ins`` its children)
the partials are Values, so the chain rule of ``backward(create_graph=True)`` and
:func:`~tinygrad_opt.value.grad` builds a graph that can be differentiated again; on
floats they are the numbers. ``value.py`` keeps the plain float rules (``_<op>_backward``)
under each operator, the first-order engine; these are the higher-order ones, collected
in :data:`PARTIALS` by op code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tinygrad_opt.value_numbers import ln as _ln
from tinygrad_opt.value_numbers import log_base as _log_base
from tinygrad_opt.value_numbers import num as _num
from tinygrad_opt.value_numbers import pow_ as _pow
from tinygrad_opt.value_numbers import power_slope as _power_slope

__all__ = ["PARTIALS"]


def add_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a + b + …)/∂each = 1 (also ``+c``, ``-c`` and the n-ary ``sum``)."""
    # ∂(a + b + ...)/∂each = 1
    return (1.0,) * len(ins)


def sub_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a - b)/∂a = 1, ∂(a - b)/∂b = -1."""
    return 1.0, -1.0


def neg_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(-a)/∂a = -1 (also ``c - a``)."""
    return (-1.0,)


def mul_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a b)/∂a = b, ∂(a b)/∂b = a."""
    a, b = ins
    return b, a


def mulc_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(c a)/∂a = c."""
    return (c,)


def div_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a / b)/∂a = 1/b, ∂(a / b)/∂b = -(a/b)/b."""
    a, b = ins
    return 1.0 / b, -out / b


def divc_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a / c)/∂a = 1/c."""
    return (1.0 / c,)


def rdivc_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(c / a)/∂a = -(c/a)/a."""
    (a,) = ins
    return (-out / a,)


def pow_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a^b)/∂a = b a^(b-1), ∂(a^b)/∂b = a^b ln a (0 at a = 0, nan for a < 0)."""
    a, b = ins
    x, e = _num(a), _num(b)
    if x == 0.0 and e < 1.0:  # the slope is 0 (e = 0) or inf there: a constant
        da = _power_slope(0.0, e)
    else:
        da = b * _pow(a, b - 1.0)
    if x > 0.0:
        db = out * _ln(a)
    else:  # ln a is 0 at a = 0 (limit for b > 0) and nan for a < 0: constants
        db = None if x == 0.0 else math.nan
    return da, db


def powc_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(a^c)/∂a = c a^(c-1) (None for c = 0: a constant output)."""
    (a,) = ins
    if c == 0.0:
        return (None,)
    if _num(a) == 0.0 and c < 1.0:  # inf at 0 for 0 < c < 1: a constant
        return (_power_slope(0.0, c),)
    return (c * _pow(a, c - 1.0),)


def rpowc_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(c^a)/∂a = c^a ln c (None when ln c is 0)."""
    ln_c = _log_base(c)
    return (None,) if ln_c == 0.0 else (out * ln_c,)


def exp_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(e^a)/∂a = e^a, the output."""
    return (out,)


def log_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(ln a)/∂a = 1/a."""
    (a,) = ins
    return (1.0 / a,)


def tanh_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂tanh(a)/∂a = 1 - tanh(a)²."""
    return (1.0 - out * out,)


def sigmoid_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂σ(a)/∂a = σ(a)(1 - σ(a))."""
    return (out * (1.0 - out),)


def relu_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂max(a, 0)/∂a = 1 for a > 0, else 0 (a step: None, a constant zero)."""
    # a step: 1 or 0, constant on each side (its own derivative is 0)
    return (1.0 if _num(out) > 0.0 else None,)


def dot_partials(out: Any, ins: tuple[Any, ...], c: Any) -> tuple[Any, ...]:
    """∂(Σ xᵢ yᵢ)/∂xᵢ = yᵢ: the recorded numbers on floats, the partners on Values."""
    # ∂(Σ xᵢ yᵢ)/∂xᵢ = yᵢ: the recorded numbers on floats, the partners on Values
    coefs, partners = c
    return coefs if type(out) is float else partners


#: op code -> ``partials(out, ins, aux)``: the tuple of ∂out/∂ins[i] (None for a constant
#: zero). On Values (``out`` the node, ``ins`` its children) the partials are Values, so
#: the chain rule builds a differentiable graph; on floats they are numbers.
PARTIALS: dict[str, Callable[[Any, tuple[Any, ...], Any], tuple[Any, ...]]] = {
    "+": add_partials,
    "+c": add_partials,
    "-c": add_partials,
    "sum": add_partials,
    "-": sub_partials,
    "neg": neg_partials,
    "c-": neg_partials,
    "*": mul_partials,
    "*c": mulc_partials,
    "/": div_partials,
    "/c": divc_partials,
    "c/": rdivc_partials,
    "**": pow_partials,
    "**c": powc_partials,
    "c**": rpowc_partials,
    "exp": exp_partials,
    "log": log_partials,
    "tanh": tanh_partials,
    "sigmoid": sigmoid_partials,
    "relu": relu_partials,
    "dot": dot_partials,
}
