"""Gradients that are Values themselves: higher derivatives for the scalar engine.

``Value.backward()`` computes plain float gradients with the fast rules of ``value.py``.
This module holds the other backward pass, used by ``Value.backward(create_graph=True)``
and by the functional :func:`grad` (``tinygrad_opt.value.grad``, torch's
``torch.autograd.grad`` for Values).

How a gradient becomes a graph
------------------------------
Every op of ``value.py`` also has a *partials* rule: ``partials(out, ins, aux)`` returns
∂out/∂ins[i] for each input, written with the same operators as the forward pass (for
``tanh``, ``1 - out * out``). Called on the nodes themselves (``out`` the node, ``ins`` its
children) the partials are Values; the chain rule

    ḡ(child) = Σ over the uses of child:  ḡ(node) · ∂node/∂child

is then evaluated with Value arithmetic too, so every gradient is a node of a new graph
that reaches back into the forward graph, and ``backward`` or :func:`grad` can be run on
it again, to any order. Called on the numbers (``out.data``, the children's ``data``), the
same rules give float gradients: that is :func:`grad` with ``create_graph=False``.

Numbers stay numbers: the seed ``1.0`` is a float, and a product of floats is a float, so
constant factors are folded (``∂(3x²)/∂x`` is ``6 · x``, not ``1 · 3 · 2 · x``), a factor
``1`` is skipped, and a gradient that does not depend on any Value comes out as a float.
``create_graph=True`` hands every result back as a *new* Value: a float becomes a new
leaf, an existing node (``∂(x·z)/∂x`` is ``z`` itself) is wrapped in a ``* 1`` node, so
a gradient is never one of your own nodes.

Every node a pass builds is marked with its derivative order (``Value.derivative_order``:
one more than the highest order in the graph it differentiates) and with the node whose
derivative rule built it, or whose gradient it adds up (``Value.derivative_source``);
the results are labelled ``∂y/∂x``, ``∂²y/∂x²``, ``∂²y/∂z∂x`` from the labels of the
output (``y`` when it has none) and of the input (no label when the input has none), so
that ``viz.draw_graph`` can show where a derivative comes from.

Deep graphs: the sort, the sweep and the marking use explicit stacks and loops, never
recursion.
"""

from __future__ import annotations

import numbers
import re
import weakref
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tinygrad_opt.value import Value

__all__ = ["grad"]

# node -> (derivative order, source node) for the nodes built by create_graph passes.
# A side table rather than a slot: ordinary nodes stay as small as before, and an entry
# goes away with its node.
_MADE_BY: weakref.WeakKeyDictionary[Value, tuple[int, Value | None]] = weakref.WeakKeyDictionary()


def made_by(node: Value) -> tuple[int, Value | None] | None:
    """(derivative order, source node) if a create_graph pass built ``node``, else None."""
    return _MADE_BY.get(node) if _MADE_BY else None


# Filled in by value.py (which imports this module first): the Value class, its node
# constructor, the op code -> partials table and the creation counter. This module never
# imports value.py, so the imports have no cycle.
_ENGINE: dict[str, Any] = {}


def register(
    value_cls: type,
    make: Callable[..., Any],
    partials: dict[str, Callable],
    next_seq: Callable[[], int],
) -> None:
    """Called once by ``value.py`` to hand over ``Value``, ``_make``, the partials, the counter."""
    _ENGINE.update(Value=value_cls, make=make, partials=partials, next_seq=next_seq)


# --------------------------------------------------------------------------- the graph
def _graph(roots: Sequence[Value]) -> tuple[list[Value], set[Value]]:
    """Nodes reachable from ``roots``, children first, and the same as a set.

    Sorting by creation number is a topological order (children are always older). The
    collection uses an explicit stack.
    """
    seen = set(roots)
    order = list(seen)
    stack = list(order)
    while stack:
        for child in stack.pop().children:
            if child not in seen:
                seen.add(child)
                order.append(child)
                stack.append(child)
    order.sort(key=_creation_number)
    return order, seen


def _top_order(order: list[Value]) -> int:
    """The highest ``derivative_order`` among ``order`` (0 for a plain graph)."""
    if not _MADE_BY:
        return 0
    get = _MADE_BY.get
    top = 0
    for node in order:
        made_by = get(node)
        if made_by is not None and made_by[0] > top:
            top = made_by[0]
    return top


def _creation_number(node: Value) -> int:
    return node._seq


def _needed(order: list[Value], inputs: Iterable[Value]) -> set[Value]:
    """The nodes from which some input can be reached (the only ones worth a rule)."""
    needed = set(inputs)
    add = needed.add
    for node in order:  # children first, so a node's children are already decided
        for child in node.children:
            if child in needed:
                add(node)
                break
    return needed


# --------------------------------------------------------------------------- the sweeps
def _sweep_floats(
    order: list[Value], seeds: dict[Value, float], needed: set[Value] | None
) -> dict[Value, float]:
    """The chain rule on numbers: ``{node: d(outputs)/d(node)}`` for every node reached."""
    partials = _ENGINE["partials"]
    grads = dict(seeds)
    get = grads.get
    for node in reversed(order):
        g = get(node)
        op = node.op
        if g is None or not op:
            continue
        children = node.children
        if len(children) == 1:
            (child,) = children
            (d,) = partials[op](node.data, (child.data,), node.aux)
            if d is not None and (needed is None or child in needed):
                grads[child] = get(child, 0.0) + g * d
            continue
        ds = partials[op](node.data, tuple([c.data for c in children]), node.aux)
        for child, d in zip(children, ds):
            if d is None or (needed is not None and child not in needed):
                continue
            grads[child] = get(child, 0.0) + g * d
    return grads


def _sweep_values(
    order: list[Value],
    seeds: list[tuple[Value, Any]],
    needed: set[Value] | None,
    visits: list[tuple[int, Value]],
) -> dict[Value, Any]:
    """The chain rule on Values: ``{node: gradient}``, each a Value or (if constant) a float.

    The contributions arriving at a node are kept in a list and added once, when the
    sweep reaches the node (all its uses are done by then): one ``+`` or ``sum`` node.
    ``visits`` receives (first creation number, node) per visited node: the nodes
    created from that number on, up to the next visit, come from that node's rule.
    """
    partials = _ENGINE["partials"]
    next_seq = _ENGINE["next_seq"]
    pending: dict[Value, list[Any]] = {}
    for root, seed in seeds:
        pending.setdefault(root, []).append(seed)
    grads: dict[Value, Any] = {}
    pop, get, visit = pending.pop, pending.get, visits.append
    for node in reversed(order):
        parts = pop(node, None)
        if parts is None:
            continue
        visit((next_seq(), node))
        g = grads[node] = parts[0] if len(parts) == 1 else _add_up(parts)
        op = node.op
        if not op:
            continue
        children = node.children
        for child, d in zip(children, partials[op](node, children, node.aux)):
            if d is None or (needed is not None and child not in needed):
                continue
            contribution = _times(g, d)
            waiting = get(child)
            if waiting is None:
                pending[child] = [contribution]
            else:
                waiting.append(contribution)
    return grads


def _times(g: Any, d: Any) -> Any:
    """ḡ · ∂, skipping factors ±1 (floats) so that no ``* 1`` nodes are built."""
    if type(d) is float:
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
    elif type(g) is float:
        if g == 1.0:
            return d
        if g == -1.0:
            return -d
    return g * d


def _add_up(parts: list[Any]) -> Any:
    """Σ parts: floats are added up as numbers, Values as one ``+``/``sum`` node."""
    if len(parts) == 1:
        return parts[0]
    const = 0.0
    values = []
    for p in parts:
        if type(p) is float:
            const += p
        else:
            values.append(p)
    if not values:
        return const
    if len(values) == 1:
        return values[0] + const if const != 0.0 else values[0]
    if len(values) == 2 and const == 0.0:
        return values[0] + values[1]
    return _ENGINE["Value"].sum(values, const)


# --------------------------------------------------------------------------- results
def _fresh(g: Any, start: int) -> Value:
    """``g`` as a Value built by this pass: floats become leaves, old nodes get ``* 1``."""
    Value = _ENGINE["Value"]
    if type(g) is not Value:
        return Value(g)
    if g._seq < start:
        return _ENGINE["make"](g.data, (g,), "*c", 1.0)
    return g


def _mark(
    results: Iterable[Any], start: int, order: int, visits: list[tuple[int, Value]], end: int
) -> None:
    """Mark every node built since ``start`` that the results reach with (order, the node
    whose visit built it; None for nodes made after the sweep)."""
    starts = [s for s, _ in visits]
    stack = [r for r in results if r is not None and r._seq >= start]
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        seq = node._seq
        i = bisect_right(starts, seq) - 1
        _MADE_BY[node] = (order, visits[i][1] if i >= 0 and seq < end else None)
        for child in node.children:
            if child._seq >= start and child not in seen:
                stack.append(child)


_SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_SUP = str.maketrans("0123456789", _SUPERSCRIPT)
_FROM_SUP = str.maketrans(_SUPERSCRIPT, "0123456789")
_NAME = r"(?:\([^()]*\)|[^\s∂/()+\-*^" + _SUPERSCRIPT + r"]+)"
_DERIVATIVE = re.compile(rf"∂([{_SUPERSCRIPT}]*)({_NAME})/((?:∂{_NAME}[{_SUPERSCRIPT}]*)+)")
_DENOMINATOR = re.compile(rf"∂({_NAME})([{_SUPERSCRIPT}]*)")


def _power_text(n: int) -> str:
    return str(n).translate(_TO_SUP) if n > 1 else ""


def derivative_label(y: str, x: str) -> str:
    """The label of ∂y/∂x, merging repeated variables: ("∂y/∂x", "x") -> "∂²y/∂x²".

    The newest variable is written first, as in ∂²y/∂z∂x = ∂/∂z (∂y/∂x). Names that are
    not a single word are parenthesised: ("a + b", "x") -> "∂(a + b)/∂x".
    """
    if not re.fullmatch(_NAME, x):
        x = f"({x})"
    m = _DERIVATIVE.fullmatch(y)
    if m:
        n = int(m[1].translate(_FROM_SUP) or 1)
        f = m[2]
        denominators = [
            (v, int(p.translate(_FROM_SUP) or 1)) for v, p in _DENOMINATOR.findall(m[3])
        ]
    else:
        n, f, denominators = 0, (y if re.fullmatch(_NAME, y) else f"({y})"), []
    if denominators and denominators[0][0] == x:
        denominators[0] = (x, denominators[0][1] + 1)
    else:
        denominators.insert(0, (x, 1))
    bottom = "".join(f"∂{v}{_power_text(p)}" for v, p in denominators)
    return f"∂{_power_text(n + 1)}{f}/{bottom}"


# --------------------------------------------------------------------------- backward
def backward_create_graph(root: Value, seed: Any) -> None:
    """``root.backward(seed, create_graph=True)``: Value gradients into the leaves.

    Leaves: ``grad = new`` when ``grad`` is the float 0.0, else ``grad = grad + new``
    (out of place). Non-leaf nodes: the float value of their gradient.
    """
    Value = _ENGINE["Value"]
    if type(seed) is not Value:
        seed = _number(seed, "backward grad")
    start = _ENGINE["next_seq"]()  # nodes made from here on belong to this pass
    order, _ = _graph([root])
    top = _top_order(order)
    visits: list[tuple[int, Value]] = []
    grads = _sweep_values(order, [(root, seed)], None, visits)
    end = _ENGINE["next_seq"]()
    y = root.label or "y"
    named = type(seed) is float and seed == 1.0
    made = []
    for node in order:
        g = grads.get(node, 0.0)
        if node.op:
            node.grad = g.data if type(g) is Value else g
            continue
        old = node.grad
        if type(old) is Value and type(g) is float and g == 0.0:
            continue  # nothing to add
        new = _fresh(g, start)
        if named and node.label and not new.label:
            new.label = derivative_label(y, node.label)
        total = new if type(old) is not Value and old == 0.0 else old + new
        node.grad = total
        made.append(total)
    _mark(made, start, top + 1, visits, end)


# --------------------------------------------------------------------------- grad
def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value] | dict[Any, Value],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Any, ...] | dict[Any, Any]:
    """Σⱼ vⱼ · ∂outputs[j]/∂inputs[i] for each input, as ``torch.autograd.grad``.

    Args:
        outputs: a Value or a sequence of Values to differentiate.
        inputs: a Value, a sequence of Values (any nodes, not only leaves), or a dict
            of them (the result is then a dict with the same keys).
        grad_outputs: the weights vⱼ, one per output (a number, a Value, or None for
            1.0); a single one may be given bare for a single output. Default all 1.
        retain_graph: accepted for torch's signature; no effect (graphs are kept).
        create_graph: return Values built from differentiable operations (each a new
            Value, marked and labelled as described in the module notes), so that
            they can be differentiated again. Otherwise return floats.
        allow_unused: an input that the outputs do not depend on (not in their graph)
            is an error naming it, unless this is True: it then gets None. Defaults to
            ``materialize_grads``.
        materialize_grads: give unused inputs 0 (``0.0``, or ``Value(0.0)`` with
            ``create_graph``) instead of None.

    Returns:
        A tuple with one gradient per input (a dict for dict inputs). ``.grad`` is not
        read or written.

    Raises:
        TypeError: outputs, inputs or grad_outputs of the wrong type.
        RuntimeError: no inputs; grad_outputs and outputs of different lengths; an
            unused input without ``allow_unused``.
        ValueError: ``materialize_grads=True`` with ``allow_unused=False``.
    """
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "grad: materialize_grads=True needs allow_unused=True or not passed, "
            "got allow_unused=False"
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    keys = list(inputs) if type(inputs) is dict else None
    outs = _values(outputs, "outputs")
    ins = _values(list(inputs.values()) if keys is not None else inputs, "inputs")
    if not ins:
        raise RuntimeError("grad: `inputs` cannot be empty")
    if not outs:
        raise RuntimeError("grad: `outputs` cannot be empty")
    seeds = _seeds(outs, grad_outputs, create_graph)

    start = _ENGINE["next_seq"]()
    order, reachable = _graph(outs)
    needed = _needed(order, ins)
    if create_graph:
        top = _top_order(order)
        visits: list[tuple[int, Value]] = []
        grads = _sweep_values(order, [s for s in seeds if s[0] in needed], needed, visits)
    else:
        totals: dict[Value, float] = {}
        for out, seed in seeds:
            if out in needed:
                totals[out] = totals.get(out, 0.0) + seed
        grads = _sweep_floats(order, totals, needed)

    end = _ENGINE["next_seq"]()
    named = len(outs) == 1 and grad_outputs is None
    y = outs[0].label or "y"
    results: list[Any] = []
    made: dict[Value, Any] = {}
    for i, x in enumerate(ins):
        if x in made:
            results.append(made[x])
            continue
        if x not in reachable:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: {_describe(x, i, keys)} is not used to compute the outputs "
                    "(it is not in their graph); pass allow_unused=True to get None for "
                    "it, or materialize_grads=True to get 0"
                )
            g = 0.0 if materialize_grads else None
        else:
            g = grads.get(x, 0.0)
        if create_graph and g is not None:
            g = _fresh(g, start)
            if named and x.label and not g.label:
                g.label = derivative_label(y, x.label)
        made[x] = g
        results.append(g)
    if create_graph:
        _mark(made.values(), start, top + 1, visits, end)
    if keys is not None:
        return dict(zip(keys, results))
    return tuple(results)


def _describe(x: Value, i: int, keys: list[Any] | None) -> str:
    where = f"inputs[{keys[i]!r}]" if keys is not None else f"inputs[{i}]"
    return f"{where} ({x.label!r})" if x.label else where


def _values(x: Any, what: str) -> tuple[Value, ...]:
    """A Value or a sequence of Values as a tuple; TypeError naming the culprit."""
    Value = _ENGINE["Value"]
    if type(x) is Value:
        return (x,)
    if isinstance(x, (str, bytes, dict)) or not isinstance(x, Iterable):
        raise TypeError(
            f"grad: {what} must be a Value or a sequence of Values, got {type(x).__name__}"
        )
    items = tuple(x)
    for i, v in enumerate(items):
        if type(v) is not Value:
            raise TypeError(f"grad: {what}[{i}] must be a Value, got {type(v).__name__}")
    return items


def _number(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number or a Value, got {type(x).__name__}")
    return float(x)


def _seeds(outs: tuple[Value, ...], grad_outputs: Any, keep_values: bool) -> list[tuple]:
    """(output, vⱼ) pairs; vⱼ a float, or a Value when building a graph."""
    Value = _ENGINE["Value"]
    if grad_outputs is None:
        given: Sequence[Any] = [None] * len(outs)
    elif type(grad_outputs) is Value or isinstance(grad_outputs, numbers.Number):
        given = [grad_outputs]
    elif isinstance(grad_outputs, (str, bytes, dict)) or not isinstance(grad_outputs, Iterable):
        raise TypeError(
            "grad: grad_outputs must be None, a number, a Value or a sequence of them, "
            f"got {type(grad_outputs).__name__}"
        )
    else:
        given = list(grad_outputs)
    if len(given) != len(outs):
        raise RuntimeError(
            f"grad: got {len(given)} grad_outputs for {len(outs)} outputs; give one per output"
        )
    seeds = []
    for j, (out, v) in enumerate(zip(outs, given)):
        if v is None:
            v = 1.0
        elif type(v) is Value:
            v = v if keep_values else v.data
        else:
            v = _number(v, f"grad: grad_outputs[{j}]")
        seeds.append((out, v))
    return seeds
