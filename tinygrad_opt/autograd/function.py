"""The pieces every op shares: :class:`Function`, grad mode and :func:`unbroadcast`.

A differentiable operation is a :class:`Function` subclass with a ``forward`` on numpy
arrays and, right beside it, a ``backward`` that maps the gradient of the output to the
gradients of the inputs (a vector-Jacobian product). ``Function.apply`` runs the
forward and, when gradients are wanted, records the node: the output tensor keeps its
``Function`` (``_ctx``), the ``Function`` keeps its input tensors (``parents``) and their
version counters at that moment. Nothing points from an input to an output, so a graph
has no reference cycles and is freed by reference counting when its output is dropped.

This module imports neither ``tensor.py`` nor the ops; ``tensor.py`` registers the
``Tensor`` class here (:func:`register_tensor_type`) so that ``apply`` can build results.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.errors import DimError, ShapeError

__all__ = [
    "Function",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
    "unbroadcast_tensor",
]


# --------------------------------------------------------------------------- grad mode
class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True unless inside a :class:`no_grad` block (or ``set_grad_enabled(False)``)."""
    return _GradMode.enabled


class _GradModeSwitch:
    """Shared by the three grad-mode switches: inside ``with`` (or a decorated function)
    graph recording is ``mode``; on leaving, it is what it was before."""

    mode: bool = True

    def __enter__(self) -> _GradModeSwitch:
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self.prev

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class set_grad_enabled(_GradModeSwitch):
    """Turn graph recording on or off: as a call, for good; as a context manager or a
    decorator, inside it (as torch's)."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode  # a plain call takes effect at once

    def __enter__(self) -> set_grad_enabled:
        return self  # __init__ already switched, and saved the mode to restore

    def __call__(self, fn: Callable) -> Callable:
        _GradMode.enabled = self.prev  # as a decorator the construction changed nothing
        return super().__call__(fn)


class no_grad(_GradModeSwitch):
    """Context manager (and decorator) that stops recording the graph.

    Inside it, results of operations have ``requires_grad=False`` and keep no inputs alive.
    """

    mode = False


class enable_grad(_GradModeSwitch):
    """Context manager (and decorator) that records the graph even inside ``no_grad``."""

    mode = True


# --------------------------------------------------------------------------- unbroadcast
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    If ``y = f(x)`` broadcast ``x`` of shape ``shape`` up to ``grad.shape``, each element
    of ``x`` was used once per copy, so its gradient is the sum over the copies.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:  # a backward may return fewer dims (e.g. a (5,) grad for a (1, 5) bias)
        grad = grad.reshape((1,) * -extra + grad.shape)
    elif extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def unbroadcast_tensor(grad: Any, shape: tuple[int, ...]) -> Any:
    """:func:`unbroadcast` in Tensor operations, so that the sum is itself differentiable
    (the backward pass with ``create_graph=True``)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        grad = grad.reshape((1,) * -extra + tuple(grad.shape))
    elif extra:
        grad = grad.sum(tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(stretched, keepdim=True)
    return grad.reshape(shape)


# --------------------------------------------------------------------------- Function
_TENSOR: list[type] = []  # the Tensor class, registered by tensor.py
_new = object.__new__


def constant(array: np.ndarray) -> Any:
    """A leaf tensor around ``array`` as it is (no checks, no copy): for ops that lift
    numbers they have already converted to the right dtype."""
    t = _new(_TENSOR[0])
    t._data = array
    t.grad = None
    t.name = None
    t._version = 0
    t._rg = False
    t._ctx = None
    return t


def register_tensor_type(cls: type) -> None:
    """Called once by ``tensor.py``: the class ``Function.apply`` builds its results from."""
    _TENSOR[:] = [cls]


def tensor_type() -> type:
    """The registered Tensor class (for ops that must build tensors from numbers)."""
    return _TENSOR[0]


class Function:
    """One differentiable operation: ``forward`` on arrays and its ``backward`` beside it.

    Subclasses implement ``forward(self, *arrays, **params) -> ndarray`` and
    ``backward(self, grad) -> ndarray | tuple[ndarray | None, ...]`` returning one gradient
    per input (``None`` for inputs that need none; ``self.needs_grad[i]`` says which).
    ``backward`` may return a gradient with the *broadcast* shape; the engine sums it back
    to the input's shape. ``backward`` must not modify ``grad`` in place, and must return
    new arrays (or views of ``grad``), never an array the Function keeps: the engine may
    hand a returned array to a leaf as its ``.grad``.

    Second derivatives. ``backward`` works on numpy arrays: fast, but the engine cannot
    differentiate it. For ``create_graph=True`` the engine calls :meth:`vjp` instead: the
    same vector-Jacobian product written with Tensor operations on the recorded inputs
    (``self.parents``; forward's keyword arguments are ``self.params``), so the result is
    itself a graph that can be differentiated again, to any order. A Function gets its
    ``vjp`` one of two ways:

    - it overrides ``vjp(self, g)`` (``g`` a Tensor; return Tensors, ``None`` where
      ``self.needs_grad`` is False) — the rule for primitives (add, exp, sum, matmul ...);
    - or it defines ``composite(self, *inputs, **params)``: the same forward written with
      differentiable Tensor ops (slower, clearer). Its derivative is then the derivative
      of the composite, taken by the engine — the rule for fused kernels (softmax, losses
      ...), whose numpy ``backward`` stays the fast first-order path.

    A fused kernel on a hot second-order path may override ``vjp`` as well, keeping its
    composite as the reference definition (tests compare the two): layer/group norm,
    attention, linear and mse_loss build their vjp from fused nodes whose values come
    from the forward (x̂, P) and whose own ``backward`` is fused numpy, so a
    Hessian-vector product neither redoes the forward nor walks a graph of small ops.

    Only floating results are differentiable: a forward that returns integers or booleans
    (comparisons, ``argmax``) records no node, whatever its inputs.

    When forward raises ``ValueError`` the caller gets a :class:`ShapeError`, when it
    raises ``IndexError`` a :class:`DimError`, with the message of ``describe_error``.

    ``saves_inputs`` says whether ``backward`` or ``vjp`` reads the *values* of the
    floating inputs (``self.parents``, or arrays of them kept by ``forward``), as torch
    says whether a node saves its inputs. True (the safe default) for ops such as mul or
    exp; False for ops whose vector-Jacobian product depends only on the inputs' shapes,
    dtypes and on ``params`` (add, sum, reshape, indexing, cat ...). When an input was
    changed in place after the node was recorded, the engine backpropagates through the
    input's old value for a node with ``saves_inputs = False`` and refuses
    (:class:`~tinygrad_opt.errors.InplaceError`) for the others; see
    :mod:`tinygrad_opt.autograd.engine`.
    """

    saves_inputs: bool = True
    parents: tuple = ()
    params: dict = {}  # noqa: RUF012 (read-only default; apply() stores a fresh dict)
    needs_grad: tuple[bool, ...] = ()
    versions: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Any:
        ctx = cls()
        record = _GradMode.enabled
        # (list comprehensions: measurably faster than generators on this hot path)
        needs = tuple([t._rg for t in inputs]) if record else ()
        ctx.needs_grad = needs
        try:
            out = ctx.forward(*[t._data for t in inputs], **params)
        except IndexError as e:
            raise DimError(ctx.describe_error(inputs, params, e)) from None
        except ValueError as e:
            raise ShapeError(ctx.describe_error(inputs, params, e)) from None
        result = _new(_TENSOR[0])
        result._data = out
        result.grad = None
        result.name = None
        result._version = 0
        if record and True in needs and out.dtype.kind == "f":
            result._rg = True
            ctx.parents = inputs
            ctx.params = params
            ctx.versions = tuple([t._version for t in inputs])
            result._ctx = ctx
        else:
            result._rg = False
            result._ctx = None
        return result

    def describe_error(self, inputs: Sequence[Any], params: dict, err: Exception) -> str:
        shapes = ", ".join(str(t.shape) for t in inputs)
        extra = f" with {params}" if params else ""
        return f"{self.name}: cannot apply to input shapes {shapes}{extra}: {err}"

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    def vjp(self, g: Any) -> Any:
        """``backward`` in differentiable Tensor ops (see the class docstring). By default
        the derivative of :meth:`composite`, for Functions that define one."""
        if getattr(type(self), "composite", None) is None:
            raise NotImplementedError(
                f"{self.name}: no differentiable backward (vjp or composite) is written for "
                f"this op, so it cannot be differentiated twice (create_graph=True)"
            )
        from tinygrad_opt.autograd.engine import run_backward

        with set_grad_enabled(True):
            # Each input enters through an identity node, so the composite's derivative is
            # taken with respect to this op's inputs alone, even when one input was
            # computed from another; through the identities the result stays connected
            # to the inputs' own graphs.
            stand_ins = [Identity.apply(p) if p._rg else p for p in self.parents]
            out = self.composite(*stand_ins, **self.params)
            wanted = [s for s, need in zip(stand_ins, self.needs_grad) if need]
            grads = iter(
                run_backward([out], [g], targets=wanted, create_graph=True, accumulate=False)
            )
        result = tuple(next(grads) if need else None for need in self.needs_grad)
        return result if len(result) > 1 else result[0]

    composite: Callable[..., Any] | None = None


class Identity(Function):
    """y = x, sharing x's array: a distinct node standing for x (used by ``vjp``)."""

    saves_inputs = False

    def forward(self, a):
        return a

    def backward(self, g):
        return g

    def vjp(self, g):
        return g
