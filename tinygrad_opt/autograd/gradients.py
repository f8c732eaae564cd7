"""``backward`` and ``grad``: torch's two entry points to the backward pass.

- :func:`backward` (also ``Tensor.backward``) adds d(outputs)/d(leaf) into every leaf's
  ``.grad`` (or only into ``inputs``' if given).
- :func:`grad` returns d(outputs)/d(inputs) as new tensors and touches no ``.grad``.

With ``create_graph=True`` the pass is recorded (each op's differentiable ``vjp``), so the
gradients are tensors with a graph of their own: differentiate them again for second,
third ... derivatives. ``grad_outputs`` (the vector ``v`` of the vector-Jacobian product
vᵀ·∂outputs/∂inputs) may itself require grad; the gradient is linear in it, which is what
:func:`~tinygrad_opt.autograd.functional.jvp` uses.

The graph is kept after a pass, whatever ``retain_graph`` says (the argument is accepted
for torch compatibility): a second ``backward`` through the same graph works.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.engine import run_backward
from tinygrad_opt.autograd.function import constant, tensor_type
from tinygrad_opt.errors import ShapeError

__all__ = ["backward", "grad"]


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _seeds(outputs: tuple, grad_outputs: tuple, create_graph: bool, what: str) -> tuple[list, list]:
    """The roots that require grad and their seeds (arrays, or Tensors with create_graph)."""
    T = tensor_type()
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise ValueError(
            f"{what}: got {len(grad_outputs)} gradients for {len(outputs)} outputs; "
            f"give one per output"
        )
    roots, seeds = [], []
    for i, out in enumerate(outputs):
        if not isinstance(out, T):
            raise TypeError(f"{what}: output {i} is a {type(out).__name__}, not a Tensor")
        g = grad_outputs[i] if grad_outputs else None
        if not out._rg:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; output {i} has "
                    f"shape {out.shape}: pass its gradient"
                )
            g = np.ones(out.shape, dtype=out.dtype)
        g_shape = tuple(np.shape(g._data if isinstance(g, T) else g))
        if g_shape != out.shape:
            raise ShapeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {g_shape} and output[{i}] "
                f"has a shape of {out.shape}"
            )
        if create_graph:
            if not isinstance(g, T):
                g = constant(np.asarray(g, dtype=out.dtype))
            elif g.dtype != out.dtype:
                g = g.to(out.dtype)
        else:
            g = np.asarray(g._data if isinstance(g, T) else g, dtype=out.dtype)
        roots.append(out)
        seeds.append(g)
    return roots, seeds


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate d(Σ tensors·grad_tensors)/d(leaf) into the leaves' ``.grad``.

    ``inputs`` (a tensor or a sequence) restricts accumulation to those tensors (which may
    be non-leaves). With ``create_graph=True`` the stored ``.grad`` are Tensors carrying a
    graph (accumulation is then out of place: ``grad = grad + new``).
    """
    outputs = _as_tuple(tensors)
    roots, seeds = _seeds(outputs, _as_tuple(grad_tensors), create_graph, "backward")
    targets = None
    if inputs is not None:
        targets = list(_as_tuple(inputs))
        if not targets:
            raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty")
        _check_inputs(targets, "backward")
    run_backward(roots, seeds, targets=targets, create_graph=create_graph, accumulate=True)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to each of ``inputs``, as a tuple.

    ``Σ_k grad_outputs[k] · ∂outputs[k]/∂inputs[i]`` for every i (a vector-Jacobian
    product); ``grad_outputs`` may be omitted for single-element outputs. An input the
    outputs do not depend on is an error, unless ``allow_unused=True`` (its gradient is
    then None) or ``materialize_grads=True`` (zeros). With ``create_graph=True`` the
    results carry a graph, so they can be differentiated again.
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError(
            "grad: materialize_grads=True needs allow_unused to be True or None, got False"
        )
    if allow_unused is None:
        allow_unused = materialize_grads
    outs = _as_tuple(outputs)
    targets = list(_as_tuple(inputs))
    if not targets:
        raise RuntimeError("grad requires non-empty inputs.")
    _check_inputs(targets, "grad")
    roots, seeds = _seeds(outs, _as_tuple(grad_outputs), create_graph, "grad")
    found = run_backward(roots, seeds, targets=targets, create_graph=create_graph, accumulate=False)
    T = tensor_type()
    result = []
    for i, (t, g) in enumerate(zip(targets, found)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}, shape {t.shape}) appears to "
                    f"not have been used in the graph. Set allow_unused=True if this is the "
                    f"desired behavior."
                )
            result.append(T(np.zeros(t.shape, dtype=t.dtype)) if materialize_grads else None)
        elif isinstance(g, T):
            result.append(g if g.dtype == t.dtype else g.to(t.dtype))
        else:
            result.append(T(np.asarray(g, dtype=t.dtype)))
    return tuple(result)


def _check_inputs(targets: Sequence[Any], what: str) -> None:
    T = tensor_type()
    for i, t in enumerate(targets):
        if not isinstance(t, T):
            raise TypeError(f"{what}: input {i} is a {type(t).__name__}, not a Tensor")
        if not t._rg:
            raise RuntimeError(
                f"One of the differentiated Tensors does not require grad (input {i}, shape "
                f"{t.shape})"
            )
