"""Run a module with some of its parameter tensors replaced by others.

Curvature operators differentiate a model's loss with respect to *private* copies of its
parameters (float64, say, and detached from anything an optimizer holds), so the model
must compute with those copies. :func:`substituted_parameters` swaps them in where the
module tree stores its parameters — module attributes, and the lists, tuples and dicts
held in attributes, exactly the places ``Module.named_parameters`` looks — and puts the
originals back on exit, even after an exception. Replacement is by identity, so a tensor
shared by several modules (weight tying) is replaced everywhere it appears.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tinygrad_opt.tensor import Tensor

__all__ = ["substituted_parameters"]


@contextmanager
def substituted_parameters(model: Any, replace: Mapping[int, Tensor]) -> Iterator[None]:
    """Inside the block, every attribute of ``model``'s modules holding a tensor ``t``
    with ``id(t)`` in ``replace`` holds ``replace[id(t)]`` instead (also inside lists,
    tuples and dicts stored as attributes)."""
    undo: list[tuple[Any, Any, Any]] = []  # (container or module, key or attr, old value)
    try:
        for module in model.modules():
            for attr, value in list(vars(module).items()):
                _swap(module, attr, value, replace, undo)
        yield
    finally:
        for where, key, old in reversed(undo):
            if isinstance(where, (list, dict)):
                where[key] = old
            else:
                setattr(where, key, old)


def _swap(module: Any, attr: str, value: Any, replace: Mapping[int, Tensor], undo: list) -> None:
    if isinstance(value, Tensor):
        if id(value) in replace:
            setattr(module, attr, replace[id(value)])
            undo.append((module, attr, value))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, Tensor) and id(item) in replace:
                value[i] = replace[id(item)]
                undo.append((value, i, item))
    elif isinstance(value, tuple):
        if any(isinstance(item, Tensor) and id(item) in replace for item in value):
            new = [
                replace[id(item)] if isinstance(item, Tensor) and id(item) in replace else item
                for item in value
            ]
            setattr(module, attr, type(value)(*new) if hasattr(value, "_fields") else tuple(new))
            undo.append((module, attr, value))
    elif isinstance(value, dict):
        for key, item in list(value.items()):
            if isinstance(item, Tensor) and id(item) in replace:
                value[key] = replace[id(item)]
                undo.append((value, key, item))
