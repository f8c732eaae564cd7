"""The backward pass: topological order without recursion, then vector-Jacobian products.

``backward(root, seed)`` sorts the graph below ``root`` with an explicit stack (any
depth), then walks it from the output to the leaves. Intermediate gradients live in a
dictionary only until they are consumed; leaf tensors with ``requires_grad=True``
**accumulate** into ``.grad``, as in torch. Gradients produced by broadcasting are summed
back to each input's shape once, in :func:`unbroadcast`.

Before a node's backward runs, the version of every input is compared with the one
recorded at forward time: an input changed in place since then (``t.add_(1)``,
``t[0] = 5``, ``t.data += 1``) would make the gradient silently wrong, so the pass stops
with :class:`~tinygrad_opt.errors.InplaceError` instead, as torch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import unbroadcast
from tinygrad_opt.errors import InplaceError

__all__ = ["GradArray", "backward", "topological_order"]


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
    if root._ctx is None:  # a leaf: d(root)/d(root) = seed
        accumulate_leaf(root, seed)
        return
    grads: dict[int, np.ndarray] = {id(root): seed}
    # ids of arrays already given to some input: a leaf may adopt a gradient array as its
    # .grad (and later add into it in place) only if nobody else has seen it.
    handed: set[int] = {id(seed)}
    for node in reversed(topological_order(root)):
        g = grads.pop(id(node), None)
        if g is None:
            continue
        ctx = node._ctx
        for parent, seen in zip(ctx.parents, ctx.versions):
            if parent._version != seen:
                raise InplaceError(
                    f"one of the tensors needed for gradient computation has been modified "
                    f"by an in-place operation: the input of shape {parent.shape} of "
                    f"{ctx.name} is at version {parent._version}; expected version {seen}"
                )
        in_grads = ctx.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for parent, pg, need in zip(ctx.parents, in_grads, ctx.needs_grad):
            if not need or pg is None:
                continue
            if pg.shape != parent._data.shape:
                pg = unbroadcast(pg, parent._data.shape)
            if parent._ctx is None:
                accumulate_leaf(parent, pg, adopt=id(pg) not in handed)
            else:
                key = id(parent)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
            handed.add(id(pg))


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


def topological_order(root: Any) -> list[Any]:
    """Non-leaf nodes reachable from ``root``, each after all of its inputs (iterative DFS)."""
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in node._ctx.parents:
            if p._ctx is not None and id(p) not in visited:
                stack.append((p, False))
    return order
