"""The scalar engine's n-ary nodes: ``Value.sum`` and ``Value.dot`` build ONE node.

Every node costs a Python object, so a sum of n terms as a chain of ``+`` costs n nodes
and a dot product 2n; these build one node (op ``"sum"`` / ``"dot"``) with the same
value and the same gradients. :class:`~tinygrad_opt.value.Value` exposes them as the
static methods ``Value.sum`` / ``Value.dot`` (and ``tinygrad_opt.value.vsum`` / ``dot``);
their derivative rules are ``"sum"``: 1 for every child (the rule of ``+``) and
:func:`dot_backward` (float) / ``dot_partials`` in ``value_partials.py`` (Values).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tinygrad_opt.value_numbers import to_float as _to_float

__all__ = ["dot", "dot_backward", "vsum"]

Number = int | float

#: ``Value`` and its node factory ``_make``, set by :func:`register` (value.py imports
#: this module, so it cannot import value.py back)
Value: Any = None
_make: Any = None


def register(value_cls: type, make: Any) -> None:
    """Hand this module the ``Value`` class and ``_make(data, children, op, aux)``."""
    global Value, _make
    Value, _make = value_cls, make


def vsum(values: Iterable[Value | Number], start: Value | Number = 0.0) -> Value:
    """``start + Σ values`` as ONE node (op ``"sum"``) instead of a chain of ``+``.

    Drop-in for the built-in: ``Value.sum((w * x for ...), b)``. Each Value operand
    (``start`` included) is a child with d/d(child) = 1, so a Value listed twice gets
    2. Numbers are added into a constant, kept in ``aux``. With no Value operand at all
    the result is a new leaf holding the total.
    """
    children: list[Value] = []
    if type(start) is Value:
        children.append(start)
        total, const = start.data, 0.0
    else:
        total = const = _to_float(start, "sum start")
    for v in values:
        if type(v) is Value:
            children.append(v)
            total += v.data
        else:
            c = _to_float(v, "sum operand")
            const += c
            total += c
    if not children:
        return Value(total)
    return _make(total, tuple(children), "sum", const)


def dot(xs: Sequence[Value | Number], ys: Sequence[Value | Number]) -> Value:
    """``Σ xs[i] * ys[i]`` as ONE node (op ``"dot"``); d/d(xs[i]) = ys[i] and back.

    Either side may hold numbers. Children are the Value operands in order; ``aux``
    is a pair ``(coefs, partners)``: for each child, its coefficient (the partner's
    value, recorded when the node is built) and its partner itself (the Value, or
    the number). Products of two numbers are folded into the result.
    """
    if len(xs) != len(ys):
        raise ValueError(f"dot: length mismatch, {len(xs)} vs {len(ys)}")
    children: list[Value] = []
    coefs: list[float] = []
    partners: list[Value | float] = []
    total = 0.0
    for x, y in zip(xs, ys):
        if type(x) is Value:
            xv = x.data
            if type(y) is Value:
                yv = y.data
                children += (x, y)
                coefs += (yv, xv)
                partners += (y, x)
            else:
                yv = _to_float(y, "dot operand")
                children.append(x)
                coefs.append(yv)
                partners.append(yv)
        else:
            xv = _to_float(x, "dot operand")
            if type(y) is Value:
                yv = y.data
                children.append(y)
                coefs.append(xv)
                partners.append(xv)
            else:
                yv = _to_float(y, "dot operand")
        total += xv * yv
    if not children:
        return Value(total)
    return _make(total, tuple(children), "dot", (tuple(coefs), tuple(partners)))


def dot_backward(node: Value, g: float) -> None:
    for child, k in zip(node.children, node.aux[0]):
        child.grad += g * k
