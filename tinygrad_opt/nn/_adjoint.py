"""Linear maps and their adjoints, for the differentiable backward of the nn ops (private).

A fused op's numpy ``backward`` cannot be differentiated; its differentiable ``vjp``
must be written with Tensor operations (see :class:`~tinygrad_opt.autograd.function.
Function`). For the many nn ops whose backward is a *linear* map of the output gradient
g with coefficients fixed by the forward (pooling, resampling, padding, embedding
lookups, the routing of a max), the cheapest exact rule is a pair of Functions, each the
adjoint of the other: the vjp of one is the other applied to g, so the derivative of a
derivative costs one numpy kernel and every order works.

- :class:`LinearAdjoint`: y = Lᵀ g for a *recorded* Function L that is linear in its one
  input (its numpy ``backward`` is Lᵀ); the adjoint of Lᵀ is L again, re-applied.
- :func:`take_flat` / :func:`put_flat`: y[i] = x.flat[index[i]] (0 where ``keep`` is
  False), and its adjoint, the scatter-add of y's gradient into zeros of x's shape.
- :func:`keep_where`: y = x where ``keep`` else 0, its own adjoint (a constant mask that
  never multiplies, so an inf or nan outside it cannot leak through as 0·inf).
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.tensor import Function, Tensor

__all__ = ["LinearAdjoint", "keep_where", "put_flat", "take_flat"]


class LinearAdjoint(Function):
    """y = Lᵀ g, with L = ``op`` a recorded Function linear in its single input.

    Forward is ``op``'s numpy backward; backward (the adjoint of Lᵀ) runs ``op``'s
    forward on a fresh instance with the recorded keyword arguments; the vjp re-applies
    ``op`` as a new node, so the chain Lᵀ, L, Lᵀ, ... is differentiable to any order.
    ``op``'s forward may depend on its input only through its shape and dtype.
    """

    name = "linear_adjoint"

    def forward(self, g, *, op):
        self.name = f"{op.name}_adjoint"
        return op.backward(g)

    def backward(self, gg):
        op = self.params["op"]
        fresh = type(op)()
        fresh.needs_grad = (False,)
        return fresh.forward(gg, **op.params)

    def vjp(self, gg):
        op = self.params["op"]
        return type(op).apply(gg, **op.params)


def adjoint(op: Function, g: Tensor) -> Tensor:
    """The vjp of a linear single-input Function ``op``: ``opᵀ g`` as a differentiable node."""
    return LinearAdjoint.apply(g, op=op)


class _TakeFlat(Function):
    """y = x.flat[index] (shape of ``index``), 0 where ``keep`` is False."""

    name = "take_flat"

    def forward(self, x, *, index, keep, shape):
        out = x.reshape(-1)[index]
        return out if keep is None else np.where(keep, out, 0).astype(x.dtype, copy=False)

    def backward(self, g):
        p = self.params
        return _scatter(g, p["index"], p["keep"], p["shape"])

    def vjp(self, g):
        p = self.params
        return _PutFlat.apply(g, index=p["index"], keep=p["keep"], shape=p["shape"])


class _PutFlat(Function):
    """y = zeros(shape) with g[i] added at flat position index[i] (where ``keep``)."""

    name = "put_flat"

    def forward(self, g, *, index, keep, shape):
        return _scatter(g, index, keep, shape)

    def backward(self, gg):
        p = self.params
        out = gg.reshape(-1)[p["index"]]
        return out if p["keep"] is None else np.where(p["keep"], out, 0).astype(gg.dtype)

    def vjp(self, gg):
        p = self.params
        return _TakeFlat.apply(gg, index=p["index"], keep=p["keep"], shape=p["shape"])


def _scatter(g: np.ndarray, index: np.ndarray, keep, shape: tuple[int, ...]) -> np.ndarray:
    size = int(np.prod(shape, dtype=np.int64))
    idx, w = (index, g) if keep is None else (index[keep], g[keep])
    out = np.bincount(idx.reshape(-1), weights=w.reshape(-1), minlength=size)
    return out.astype(g.dtype, copy=False).reshape(shape)


def take_flat(x: Tensor, index: np.ndarray, keep: np.ndarray | None = None) -> Tensor:
    """``x.flat[index]`` as a Tensor of ``index``'s shape (0 where ``keep`` is False).

    Differentiable to any order: its vjp is :func:`put_flat` with the same indices.
    """
    keep = None if keep is None else np.broadcast_to(keep, index.shape)
    return _TakeFlat.apply(x, index=index, keep=keep, shape=tuple(x.shape))


def put_flat(
    g: Tensor, index: np.ndarray, shape: tuple[int, ...], keep: np.ndarray | None = None
) -> Tensor:
    """Zeros of ``shape`` with ``g[i]`` added at flat position ``index[i]`` (where ``keep``).

    The adjoint of :func:`take_flat`; repeated indices add up.
    """
    keep = None if keep is None else np.broadcast_to(keep, index.shape)
    return _PutFlat.apply(g, index=index, keep=keep, shape=tuple(shape))


class _KeepWhere(Function):
    """y = x where ``keep`` else 0 (self-adjoint)."""

    name = "keep_where"

    def forward(self, x, *, keep):
        return np.where(keep, x, 0).astype(x.dtype, copy=False)

    def backward(self, g):
        return np.where(self.params["keep"], g, 0).astype(g.dtype, copy=False)

    def vjp(self, g):
        return _KeepWhere.apply(g, keep=self.params["keep"])


def keep_where(x: Tensor, keep: np.ndarray | None) -> Tensor:
    """``x`` where the constant bool mask ``keep`` holds, else 0 (``x`` itself for None)."""
    return x if keep is None else _KeepWhere.apply(x, keep=keep)
