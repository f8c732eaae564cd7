"""The scalar engine: reverse-mode autodiff on single Python floats.

How it works
------------
Every arithmetic operation on :class:`Value` objects returns a new ``Value`` that
remembers *how* it was made: ``op`` (a short code such as ``"*"`` or ``"tanh"``) and
``children`` (its input Values, in order, as a tuple). A constant operand (``v * 2.0``)
is not wrapped in a Value; it is kept in ``aux`` and the op code says where it went
(``"*c"``). The nodes form a directed acyclic graph whose leaves are the Values you
created yourself.

``root.backward()`` applies the chain rule from ``root`` to the leaves:

1. sort the graph topologically with an explicit stack (no recursion, so a chain a
   million nodes deep is fine);
2. zero the gradient of every non-leaf node and seed ``root.grad = 1``;
3. walk the nodes from the root back to the leaves; for each, look up the derivative
   rule of its ``op`` in ``_BACKWARD`` and add ``grad * d(node)/d(child)`` into every
   child's ``grad``. Adding (not assigning) is what makes a node used twice
   (``a + a``) get both contributions.

Each derivative rule is a small plain function (a static method ``_<op>_backward``)
written right under the operator it differentiates; ``_BACKWARD`` maps op codes to them.
Nodes carry no closures, so nothing points from an input back to an output: the graph
has no reference cycles and is freed by reference counting as soon as the root is
dropped.

Higher derivatives
------------------
Each float rule has a twin in ``value_partials.py``: the same derivative as an equation on
Values, ``<op>_partials(out, ins, aux)`` -> the partials ∂out/∂ins[i] (for ``tanh``,
``1 - out * out``), collected in ``_PARTIALS``. ``backward(create_graph=True)`` and
:func:`grad` (torch's ``torch.autograd.grad`` for Values; see ``value_autograd.py``) run
the chain rule with them on the nodes themselves, so gradients are Values that can be
differentiated again, to any order; on numbers the same rules give float gradients.

Every node costs a Python object, so big sums are cheaper as one n-ary node:
``Value.sum(terms, start)`` instead of ``sum(terms, start)`` and ``Value.dot(ws, xs)``
instead of ``sum(w * x for w, x in zip(ws, xs))`` (same numbers, same gradients; both
are in ``value_nary.py``).

Accumulation contract (as in PyTorch)
-------------------------------------
* Gradients of **leaves** (Values you created, ``op == ""``) *accumulate* across
  ``backward()`` calls: calling ``backward()`` twice gives twice the gradient. Reset them
  between steps with ``loss.zero_grad()`` (zeroes every node reachable from ``loss``) or
  ``p.grad = 0.0``.
* Gradients of **intermediate** nodes are recomputed from scratch by every
  ``backward()``: after ``root.backward()`` a non-leaf's ``grad`` is d(root)/d(node) for
  that call only.
* Derivative rules read the children's ``data`` when ``backward()`` runs (only ``dot``
  records its coefficients when built), so do not change ``data`` between building a
  graph and calling ``backward()`` on it.
* ``grad`` is a ``float``, except on a **leaf** after ``backward(create_graph=True)``:
  then it is a ``Value`` (a function of the leaves, with its own graph; a float result
  becomes a new leaf, so every leaf reachable from the root gets a Value, also when its
  derivative is 0). Non-leaf nodes get the float value of their gradient in either mode.
* Accumulating into a Value ``grad`` is out of place, ``grad = grad + new``, whichever
  kind of backward adds: the old gradient Value is never changed, a float backward adds
  a ``+ c`` node. A create_graph backward onto a float ``grad`` of ``0.0`` assigns the
  new Value; onto another float ``g`` it gives ``g + new``. ``zero_grad()`` (or
  ``p.grad = 0.0``) brings a float back, and is needed before an optimizer step that
  expects numbers (``p.data -= lr * p.grad`` with a Value ``grad`` would make ``data`` a
  Value).
* As in torch, ``backward(create_graph=True)`` makes a reference cycle (leaf -> its
  ``grad`` -> graph -> leaf) that only Python's cycle collector frees; ``zero_grad()``
  breaks it. :func:`grad` returns the gradients without storing them anywhere, so it
  makes no cycle and never reads or writes ``.grad``: prefer it for higher derivatives.

Numbers (``value_numbers.py``)
------------------------------
``data`` is always a Python ``float``. ``int``, ``float``, numpy scalars
(``np.float64``, ``np.float32``, ``np.int64``, ...) and other real numbers are converted
with ``float()``. ``bool`` (and ``np.bool_``) is rejected with a ``TypeError``: a truth
value where a number is expected is almost always a bug. Anything else (``str``,
``None``, lists, arrays, complex numbers) raises ``TypeError`` naming the type.
Undefined results raise instead of producing nan: ``log`` of a number <= 0 and ``**``
without a real result (``(-8) ** 0.5``, ``0 ** -1``) raise ``ValueError``, division by
zero raises ``ZeroDivisionError``. Overflow in ``exp`` and ``**`` gives ``±inf``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from tinygrad_opt import value_autograd as _autograd
from tinygrad_opt import value_nary as _nary
from tinygrad_opt.value_numbers import const_operand as _const
from tinygrad_opt.value_numbers import exp as _exp
from tinygrad_opt.value_numbers import log_base as _log_base
from tinygrad_opt.value_numbers import power as _power
from tinygrad_opt.value_numbers import power_slope as _power_slope
from tinygrad_opt.value_numbers import to_float as _to_float
from tinygrad_opt.value_partials import PARTIALS as _PARTIALS

__all__ = ["Value", "dot", "grad", "vsum"]

Number = int | float


_new = object.__new__
_next_seq = itertools.count().__next__  # creation numbers: children are always older


def _make(data: float, children: tuple[Value, ...], op: str, aux: Any = None) -> Value:
    """Create a non-leaf node without re-validating ``data`` (ops produce floats)."""
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.children = children
    out.op = op
    out.aux = aux
    out.label = ""
    out._seq = _next_seq()
    return out


class Value:
    """A scalar that records the operations applied to it, for reverse-mode autodiff.

    Attributes:
        data: the number (a Python ``float``).
        grad: d(root)/d(self) after ``root.backward()``; starts at ``0.0``. Leaf
            gradients accumulate across ``backward()`` calls (as in PyTorch): reset them
            with ``zero_grad()`` or ``v.grad = 0.0`` between steps. Non-leaf gradients are
            recomputed from zero by each ``backward()``.
        op: code of the operation that produced this node (``""`` for leaves), e.g.
            ``"+"``, ``"*"``, ``"*c"`` (times a constant), ``"tanh"``, ``"sum"``.
        children: the input Values of that operation, in order (a tuple).
        aux: the constant operand of a constant op (``"+c"``, ``"*c"``, ``"**c"``, ...),
            the folded constant of ``"sum"``, the coefficients of ``"dot"``; else None.
        label: optional name, used in graph drawings and error messages.

    Supported: ``+ - * / **`` with Values or numbers on either side (the exponent may be
    a Value), unary ``-``, ``exp``, ``log``, ``tanh``, ``sigmoid``, ``relu``, the n-ary
    :meth:`sum` and :meth:`dot`, and ``backward``. Python's built-in ``sum()`` works too
    (it starts from ``0``), but builds a chain of additions; ``Value.sum`` builds one node.
    Nodes compare and hash by identity.
    """

    __slots__ = ("data", "grad", "children", "op", "aux", "label", "_seq", "__weakref__")

    # Only for readers and type checkers; the slots above hold the values.
    data: float
    grad: float
    children: tuple[Value, ...]
    op: str
    aux: Any
    label: str

    def __init__(self, data: Number, label: str = "") -> None:
        """Create a leaf holding ``data`` (converted to float; see the module notes)."""
        self.data = _to_float(data)
        self.grad = 0.0
        self.children = ()
        self.op = ""
        self.aux = None
        self.label = label
        self._seq = _next_seq()

    def __repr__(self) -> str:
        extra = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    # Numpy: make numpy scalars defer to our reflected operators, so that
    # ``np.float64(2.0) * v`` is a Value and not a 0-d object array.
    __array_ufunc__ = None

    # ------------------------------------------------------------------ add, sub
    def __add__(self, other: Value | Number) -> Value:
        """a + b; d/da = 1, d/db = 1."""
        if type(other) is Value:
            return _make(self.data + other.data, (self, other), "+")
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(self.data + c, (self,), "+c", c)

    def __radd__(self, other: Number) -> Value:
        """c + a (also what built-in ``sum()`` starts with); d/da = 1."""
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(c + self.data, (self,), "+c", c)

    @staticmethod
    def _add_backward(node: Value, g: float) -> None:
        # "+", "+c", "-c", "sum": every input gets the incoming gradient unchanged.
        for child in node.children:
            child.grad += g

    def __sub__(self, other: Value | Number) -> Value:
        """a - b; d/da = 1, d/db = -1."""
        if type(other) is Value:
            return _make(self.data - other.data, (self, other), "-")
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(self.data - c, (self,), "-c", c)

    @staticmethod
    def _sub_backward(node: Value, g: float) -> None:
        a, b = node.children
        a.grad += g
        b.grad -= g

    def __rsub__(self, other: Number) -> Value:
        """c - a; d/da = -1."""
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(c - self.data, (self,), "c-", c)

    def __neg__(self) -> Value:
        """-a; d/da = -1."""
        return _make(-self.data, (self,), "neg")

    @staticmethod
    def _neg_backward(node: Value, g: float) -> None:
        # "neg" and "c-"
        node.children[0].grad -= g

    # ------------------------------------------------------------------ mul, div
    def __mul__(self, other: Value | Number) -> Value:
        """a * b; d/da = b, d/db = a. With a constant c: d/da = c."""
        if type(other) is Value:
            return _make(self.data * other.data, (self, other), "*")
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(self.data * c, (self,), "*c", c)

    def __rmul__(self, other: Number) -> Value:
        """c * a; d/da = c."""
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(c * self.data, (self,), "*c", c)

    @staticmethod
    def _mul_backward(node: Value, g: float) -> None:
        a, b = node.children
        a.grad += g * b.data
        b.grad += g * a.data

    @staticmethod
    def _mulc_backward(node: Value, g: float) -> None:
        node.children[0].grad += g * node.aux

    def __truediv__(self, other: Value | Number) -> Value:
        """a / b; d/da = 1/b, d/db = -a/b**2 = -(a/b)/b."""
        if type(other) is Value:
            return _make(self.data / other.data, (self, other), "/")
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(self.data / c, (self,), "/c", c)

    @staticmethod
    def _div_backward(node: Value, g: float) -> None:
        a, b = node.children
        a.grad += g / b.data
        b.grad -= g * node.data / b.data

    @staticmethod
    def _divc_backward(node: Value, g: float) -> None:
        node.children[0].grad += g / node.aux

    def __rtruediv__(self, other: Number) -> Value:
        """c / a; d/da = -c/a**2 = -(c/a)/a."""
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(c / self.data, (self,), "c/", c)

    @staticmethod
    def _rdivc_backward(node: Value, g: float) -> None:
        a = node.children[0]
        a.grad -= g * node.data / a.data

    # ------------------------------------------------------------------ powers
    def __pow__(self, other: Value | Number) -> Value:
        """a ** b.

        d/da = b * a**(b-1). If b is a Value, also d/db = a**b * ln(a), taken as 0 at
        a = 0 (the limit for b > 0) and nan for a < 0 (where a**b only exists for
        integer b and is not differentiable in b).
        """
        if type(other) is Value:
            return _make(_power(self.data, other.data), (self, other), "**")
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(_power(self.data, c), (self,), "**c", c)

    @staticmethod
    def _pow_backward(node: Value, g: float) -> None:
        a, b = node.children
        a.grad += g * _power_slope(a.data, b.data)
        b.grad += g * node.data * _log_base(a.data)

    @staticmethod
    def _powc_backward(node: Value, g: float) -> None:
        a = node.children[0]
        a.grad += g * _power_slope(a.data, node.aux)

    def __rpow__(self, other: Number) -> Value:
        """c ** a; d/da = c**a * ln(c) (0 for c = 0, nan for c < 0)."""
        c = _const(other)
        if c is None:
            return NotImplemented
        return _make(_power(c, self.data), (self,), "c**", c)

    @staticmethod
    def _rpowc_backward(node: Value, g: float) -> None:
        node.children[0].grad += g * node.data * _log_base(node.aux)

    # ------------------------------------------------------------------ functions
    def exp(self) -> Value:
        """e**a; d/da = e**a (the output itself). Overflows to inf."""
        return _make(_exp(self.data), (self,), "exp")

    @staticmethod
    def _exp_backward(node: Value, g: float) -> None:
        node.children[0].grad += g * node.data

    def log(self) -> Value:
        """Natural log ln(a), for a > 0; d/da = 1/a."""
        x = self.data
        if not x > 0.0:
            raise ValueError(f"log is only defined for data > 0, got {x!r}")
        return _make(math.log(x), (self,), "log")

    @staticmethod
    def _log_backward(node: Value, g: float) -> None:
        a = node.children[0]
        a.grad += g / a.data

    def tanh(self) -> Value:
        """tanh(a); d/da = 1 - tanh(a)**2."""
        return _make(math.tanh(self.data), (self,), "tanh")

    @staticmethod
    def _tanh_backward(node: Value, g: float) -> None:
        t = node.data
        node.children[0].grad += g * (1.0 - t * t)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-a), computed without overflow; d/da = s * (1 - s)."""
        x = self.data
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _make(s, (self,), "sigmoid")

    @staticmethod
    def _sigmoid_backward(node: Value, g: float) -> None:
        s = node.data
        node.children[0].grad += g * s * (1.0 - s)

    def relu(self) -> Value:
        """max(a, 0); d/da = 1 if a > 0 else 0 (0 at a = 0)."""
        x = self.data
        return _make(x if x > 0.0 else 0.0, (self,), "relu")

    @staticmethod
    def _relu_backward(node: Value, g: float) -> None:
        if node.data > 0.0:
            node.children[0].grad += g

    # ------------------------------------------------------------------ n-ary helpers
    # one node for a whole sum or dot product (defined in value_nary.py)
    sum = staticmethod(_nary.vsum)
    dot = staticmethod(_nary.dot)

    # ------------------------------------------------------------------ backward
    def topological_order(self) -> list[Value]:
        """Every node reachable from ``self``, each after all of its children.

        A node is always created after its children, so sorting the reachable nodes by
        creation number (``_seq``) is a topological order. Collecting them uses an
        explicit stack, so graph depth is unlimited; the order is deterministic.
        """
        seen = {self}
        order = [self]
        stack = [self]
        while stack:
            for child in stack.pop().children:
                if child not in seen:
                    seen.add(child)
                    order.append(child)
                    stack.append(child)
        order.sort(key=_creation_number)
        return order

    def backward(
        self,
        grad: float | Value = 1.0,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Compute d(self)/d(node) for every node that ``self`` depends on.

        Non-leaf gradients are reset and recomputed; leaf gradients accumulate
        (``grad`` is added), as in PyTorch. ``grad`` seeds the root (default 1.0).

        With ``create_graph=True`` the gradients are built from Value operations, so
        they can be differentiated again: every leaf reachable from ``self`` gets a
        Value ``.grad`` (``grad = grad + new``, out of place); non-leaf nodes get the
        float value of theirs. See the module's accumulation contract. ``retain_graph``
        is accepted for torch's signature and has no effect (Value graphs are never
        freed by ``backward``).
        """
        if create_graph:
            _autograd.backward_create_graph(self, grad)
            return
        if type(grad) is not float:
            grad = grad.data if type(grad) is Value else _to_float(grad, "backward grad")
        order = self.topological_order()
        for node in order:
            if node.op:
                node.grad = 0.0
        self.grad += grad
        rules = _BACKWARD
        for node in reversed(order):
            op = node.op
            if op:
                rules[op](node, node.grad)

    def zero_grad(self) -> None:
        """Set ``grad = 0.0`` on every node reachable from ``self`` (leaves included)."""
        for node in self.topological_order():
            node.grad = 0.0

    @property
    def derivative_order(self) -> int:
        """0 for ordinary nodes; k for a node built by a k-th order ``create_graph`` pass.

        A ``create_graph`` backward through a graph whose nodes have orders up to k - 1
        marks the nodes it builds with k: for ``y = x**3``, the nodes of ``∂y/∂x`` have
        order 1 and those of ``∂²y/∂x²`` order 2. Graph drawings colour nodes by it.
        """
        made_by = _autograd.made_by(self)
        return 0 if made_by is None else made_by[0]

    @property
    def derivative_source(self) -> Value | None:
        """For a node built by a ``create_graph`` pass: the node whose derivative rule
        built it (or whose gradient it adds up); None for the results' wrappers and for
        ordinary nodes. Graph drawings show it as a dotted edge."""
        made_by = _autograd.made_by(self)
        return None if made_by is None else made_by[1]


_creation_number = attrgetter("_seq")

vsum = Value.sum
dot = Value.dot

#: op code -> float derivative rule ``rule(node, grad_of_node)`` that adds into the children.
_BACKWARD: dict[str, Callable[[Value, float], None]] = {
    "+": Value._add_backward,
    "+c": Value._add_backward,
    "-c": Value._add_backward,
    "sum": Value._add_backward,
    "-": Value._sub_backward,
    "neg": Value._neg_backward,
    "c-": Value._neg_backward,
    "*": Value._mul_backward,
    "*c": Value._mulc_backward,
    "/": Value._div_backward,
    "/c": Value._divc_backward,
    "c/": Value._rdivc_backward,
    "**": Value._pow_backward,
    "**c": Value._powc_backward,
    "c**": Value._rpowc_backward,
    "exp": Value._exp_backward,
    "log": Value._log_backward,
    "tanh": Value._tanh_backward,
    "sigmoid": Value._sigmoid_backward,
    "relu": Value._relu_backward,
    "dot": _nary.dot_backward,
}

_autograd.register(Value, _make, _PARTIALS, _next_seq)
_nary.register(Value, _make)
grad = _autograd.grad
