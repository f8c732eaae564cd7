"""The backward pass: topological order without recursion, then vector-Jacobian products.

``backward(root, seed)`` sorts the graph below ``root`` with an explicit stack (any
depth), then walks it from the output to the leaves. Intermediate gradients live in a
dictionary only until they are consumed; leaf tensors with ``requires_grad=True``
**accumulate** into ``.grad``, as in torch. Gradients produced by broadcasting are summed
back to each input's shape once, in :func:`unbroadcast`. On numpy arrays, the
contributions to one input are summed in place whenever no one else can see the array
written (see :func:`_fresh`), and a leaf adopts such an array as its ``.grad``.

Before a node's backward runs, the version of every input is compared with the one
recorded at forward time. An input changed in place since then (``t.add_(1)``,
``t[0] = 5``, ``t.data += 1``) no longer holds the value the node saw, and, when the
change rebased it, no longer stands at that place in the graph either. As torch, the
pass then depends on the node: if its backward reads its inputs' values
(``Function.saves_inputs``: mul, exp ...) the gradient would be silently wrong, so the
pass stops with :class:`~tinygrad_opt.errors.InplaceError`; if it needs only their
shapes (getitem, add, sum ...) and the tensor kept a stand-in for the old version
(``Tensor._olds``, left by a rebasing in-place op), the node's gradient goes to the
stand-in, whose graph continues to what the old value was computed from. That is what
makes ``y[i] += v`` work: Python runs it as ``t = y[i]; t += v; y[i] = t``, and the
``getitem`` node reads ``y`` as it was before ``y[i] = t``. The sort and the sweep make
the same substitution (:func:`recorded_input`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import (
    constant,
    set_grad_enabled,
    unbroadcast,
    unbroadcast_tensor,
)
from tinygrad_opt.errors import InplaceError

__all__ = ["GradArray", "backward", "recorded_input", "run_backward", "topological_order"]


class GradArray(np.ndarray):
    """The array stored in a leaf's ``.grad``: a plain numpy array (optimizers work on it
    with numpy, in place) that also answers the few Tensor methods code written for
    torch calls on gradients: ``numpy()``, ``detach()``, ``clone()``, ``zero_()``,
    ``cpu()``. Results of numpy operations on it are numpy arrays too."""

    def __array_wrap__(self, array: Any, context: Any = None, return_scalar: bool = False) -> Any:
        if array is self:  # an in-place op (out=self) keeps the gradient's type
            return self
        plain = array.view(np.ndarray)
        return plain[()] if return_scalar else plain

    def numpy(self) -> np.ndarray:
        return self.view(np.ndarray)

    def detach(self) -> GradArray:
        return self

    def cpu(self) -> GradArray:
        return self

    def clone(self) -> GradArray:
        return self.copy()

    def zero_(self) -> GradArray:
        self.fill(0)
        return self

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray)).replace("array", "grad", 1)


def backward(root: Any, seed: np.ndarray) -> None:
    """Propagate ``seed`` (d something / d root) from ``root`` into the leaves' ``.grad``."""
    run_backward([root], [seed])


def run_backward(
    roots: Sequence[Any],
    seeds: Sequence[Any],
    *,
    targets: Sequence[Any] | None = None,
    create_graph: bool = False,
    accumulate: bool = True,
) -> list[Any] | None:
    """The backward pass from several ``roots`` at once, each seeded with its gradient.

    - ``targets=None``: every leaf that requires grad accumulates into ``.grad``.
    - ``targets`` given: only the paths that lead to them are walked. With
      ``accumulate=True`` the targets' ``.grad`` accumulate (``backward(inputs=...)``);
      with ``accumulate=False`` nothing is stored and the targets' gradients are returned,
      in order (``None`` for a target the roots do not depend on).
    - ``create_graph``: seeds and gradients are Tensors and every step is recorded
      (each node's :meth:`~Function.vjp`), so the result can be differentiated again.
      Otherwise the pass runs on numpy arrays (each node's ``backward``).
    """
    if create_graph:
        with set_grad_enabled(True):
            return _run(roots, seeds, targets, True, accumulate)
    return _run(roots, seeds, targets, False, accumulate)


def _run(roots, seeds, targets, graph: bool, accumulate: bool) -> list[Any] | None:
    add_to_leaf = _accumulate_leaf_tensor if graph else accumulate_leaf
    sum_back = unbroadcast_tensor if graph else unbroadcast
    grads: dict[int, Any] = {}  # gradients of non-leaves, until consumed
    # numpy mode: the gradients the engine may add into in place (id -> array), see _summer
    owned: dict[int, np.ndarray] = {}
    add = _add_recorded if graph else _summer(owned)
    want: dict[int, int] | None = None  # id(target) -> position
    found: dict[int, Any] = {}  # gradients of the targets
    if targets is not None:
        want = {}
        for i, t in enumerate(targets):
            want.setdefault(id(t), i)
    for root, seed in zip(roots, seeds):
        if want is not None and id(root) in want and root._ctx is None:
            _add(found, id(root), seed)
        elif root._ctx is None:
            if want is None and root._rg:
                add_to_leaf(root, seed)
        else:
            _add(grads, id(root), seed)
    order, stale = _sort(roots)
    live = None if want is None else _leading_to(order, want, stale)
    for node in reversed(order):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        if owned:
            owned.pop(id(g), None)  # given to a backward now: no longer the engine's
        if live is not None:
            if id(node) in want:
                found[id(node)] = g
            if id(node) not in live:
                continue
        ctx = node._ctx
        # an input changed in place: its stand-in, or InplaceError
        parents = _recorded_inputs(ctx) if stale and id(node) in stale else ctx.parents
        in_grads = ctx.vjp(g) if graph else ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, pg, need in zip(parents, in_grads, ctx.needs_grad):
            if not need or pg is None:
                continue
            if pg.shape != parent._data.shape:
                pg = sum_back(pg, parent._data.shape)
            if parent._ctx is not None:
                add(grads, id(parent), pg, g, in_grads)
            elif want is None:
                # a leaf may adopt a fresh array as its .grad (and add into it later)
                add_to_leaf(parent, pg, adopt=not graph and _fresh(pg, g, in_grads))
            elif id(parent) in want:
                add(found, id(parent), pg, g, in_grads)
    if want is None:
        return None
    result = [found.get(id(t)) for t in targets]
    if accumulate:
        for t, g in zip(targets, result):
            if g is not None:
                add_to_leaf(t, g)
        return None
    return result


def _add_recorded(store: dict, key: int, g: Any, upstream: Any, results: tuple) -> None:
    """``_summer``'s signature for the recorded pass: Tensor sums, always out of place."""
    _add(store, key, g)


def _add(store: dict[int, Any], key: int, g: Any) -> None:
    prev = store.get(key)
    store[key] = g if prev is None else prev + g


_IN_PLACE_MIN = 4096  # elements: below this a new array costs no more than the checks


def _owner(a: Any) -> Any:
    """The object holding the memory ``a`` shows (itself unless it is a view)."""
    base = a.base
    return a if base is None else base


def _fresh(g: np.ndarray, upstream: Any, results: tuple) -> bool:
    """True if no one but the engine can see ``g``'s memory: ``g`` is one of a backward's
    ``results`` for its ``upstream`` gradient, writable, not that gradient nor a view of
    it, and sharing memory with no other result. (Functions never return an array they
    keep, so anything else is the backward's own new array or a view of one.)"""
    if not (isinstance(g, np.ndarray) and g.flags.writeable):
        return False
    owner = _owner(g)
    if owner is _owner(upstream):
        return False
    n = 0
    for r in results:
        if r is not None and _owner(r) is owner:
            n += 1
    return n <= 1


def _summer(owned: dict[int, np.ndarray]) -> Callable[..., None]:
    """``add(store, key, g, upstream, results)``: ``store[key] += g`` for numpy gradients,
    in place whenever no one else can see the array written: a sum the engine made (kept
    in ``owned`` until it is given to a backward), or else ``g`` itself when it is fresh
    (see :func:`_fresh`). Saves a large temporary (and its page faults) per sum; the
    numbers are the same. A single contribution costs no check at all."""

    def add(store: dict, key: int, g: np.ndarray, upstream: Any, results: tuple) -> None:
        prev = store.get(key)
        if prev is None:
            store[key] = g
            return
        dtype = prev.dtype if prev.dtype == g.dtype else np.result_type(prev, g)
        if id(prev) in owned and prev.dtype == dtype:
            np.add(prev, g, out=prev)
            return
        if g.dtype == dtype and g.size >= _IN_PLACE_MIN and _fresh(g, upstream, results):
            total = np.add(g, prev, out=g)
        else:
            total = prev + g
        store[key] = total
        if isinstance(total, np.ndarray) and total.size >= _IN_PLACE_MIN:
            owned[id(total)] = total

    return add


def _leading_to(order: list[Any], want: dict[int, int], stale: set[int]) -> set[int]:
    """ids of the nodes whose backward must run to reach a target: those with a target
    among their inputs' ancestry (``order`` has every node after its inputs).

    An input changed in place since the node was recorded counts through its stand-in
    (:func:`recorded_input`). Without one the node counts as live: it points at the
    changed tensor, which can make the graph cyclic and this order wrong; run, its
    version check stops the pass, as in ``backward()``, where skipping it would silently
    drop its gradient."""
    live: set[int] = set()
    for node in order:
        ctx = node._ctx
        if stale and id(node) in stale:
            parents = [
                p if p._version == seen else recorded_input(p, seen, ctx)
                for p, seen in zip(ctx.parents, ctx.versions)
            ]
            if any(p is None for p in parents):
                live.add(id(node))
                continue
        else:
            parents = ctx.parents
        for p in parents:
            if id(p) in want or id(p) in live:
                live.add(id(node))
                break
    return live


def _accumulate_leaf_tensor(leaf: Any, g: Any, adopt: bool = False) -> None:
    """Graph mode: ``leaf.grad`` becomes the Tensor ``g`` (or ``grad + g``, out of place),
    so it can be differentiated again, as torch's ``backward(create_graph=True)``."""
    if g.dtype != leaf._data.dtype:
        g = g.to(leaf._data.dtype)
    old = leaf.grad
    if old is None:
        leaf.grad = g
    else:
        leaf.grad = (old if isinstance(old, type(g)) else constant(np.asarray(old))) + g


def accumulate_leaf(leaf: Any, g: np.ndarray, adopt: bool = False) -> None:
    """Add ``g`` into ``leaf.grad``; the first time, store a private copy of ``g``.

    With ``adopt=True`` (the caller knows nobody else holds ``g``) a fresh, writable array
    of the right dtype is stored as it is, saving a copy per parameter per step.
    """
    dtype = leaf._data.dtype
    if leaf.grad is None:
        if adopt and g.base is None and g.flags.writeable and g.dtype == dtype:
            leaf.grad = g.view(GradArray)
        else:  # g may be a broadcast view, or shared with another input
            leaf.grad = np.array(g, dtype=dtype, copy=True).view(GradArray)
    else:
        np.add(leaf.grad, g, out=leaf.grad, casting="unsafe")


def topological_order(roots: Any) -> list[Any]:
    """Non-leaf nodes reachable from ``roots`` (a tensor or a list of them), each after
    all of its inputs (iterative DFS). An input changed in place since its node was
    recorded is walked through its stand-in when it has one (:func:`recorded_input`)."""
    return _sort(roots)[0]


def _sort(roots: Any) -> tuple[list[Any], set[int]]:
    """:func:`topological_order`, and the ids of the nodes with an input changed in place
    since they were recorded (their inputs are checked here once, not again in the
    sweep)."""
    order: list[Any] = []
    visited: set[int] = set()
    stale: set[int] = set()
    if not isinstance(roots, (list, tuple)):
        roots = [roots]
    stack: list[tuple[Any, bool]] = [(r, False) for r in reversed(roots) if r._ctx is not None]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        ctx = node._ctx
        for p, seen in zip(ctx.parents, ctx.versions):
            if p._version != seen:
                stale.add(id(node))
                old = recorded_input(p, seen, ctx)
                p = p if old is None else old
            if p._ctx is not None and id(p) not in visited:
                stack.append((p, False))
    return order, stale


def recorded_input(parent: Any, seen: int, ctx: Any) -> Any | None:
    """The tensor standing for input ``parent`` of node ``ctx`` as it was when ``ctx`` was
    recorded (at version ``seen``; ``parent`` has been changed in place since), or None
    when there is none: ``ctx`` reads its inputs' values, or ``parent``'s old value was
    overwritten (not rebased) or never had a stand-in."""
    if ctx.saves_inputs:
        return None
    olds = getattr(parent, "_olds", None)
    return None if olds is None else olds.get(seen)


def _recorded_inputs(ctx: Any) -> tuple[Any, ...]:
    """``ctx``'s inputs as recorded: each one changed in place since replaced by its
    stand-in (:func:`recorded_input`); :class:`InplaceError` where there is none."""
    out = []
    for parent, seen in zip(ctx.parents, ctx.versions):
        if parent._version != seen:
            old = recorded_input(parent, seen, ctx)
            if old is None:
                raise InplaceError(
                    f"one of the tensors needed for gradient computation has been modified "
                    f"by an in-place operation: the input of shape {parent.shape} of "
                    f"{ctx.name} is at version {parent._version}; expected version {seen}"
                )
            parent = old
        out.append(parent)
    return tuple(out)
