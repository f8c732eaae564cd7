"""``HessianOperator``: products H·v with the Hessian of a loss w.r.t. all parameters.

H = ∇²L(θ₀). One product is the derivative of the gradient along v (Pearlmutter 1994):

    H v = ∇_θ ( ∇_θ L(θ) · v ) |θ₀

so on construction the operator builds the gradient g(θ₀) with ``create_graph=True``
(one forward and one recorded backward pass), and each :meth:`matvec` is one backward
pass through that graph with v as ``grad_outputs`` — ``autograd.grad(g, θ, v)``. The
graph is kept for the operator's lifetime; it is a function of the private copies of the
parameters taken on construction, so the operator is the Hessian *at that point*: build
a new one (or call ``refresh()``) after the model changes.

By-products of construction: ``op.loss`` (L(θ₀), a float) and ``op.gradient`` (∇L(θ₀),
flat float64).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.curvature.model_operator import ModelOperator
from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.curvature.operator import apply_to
from tinygrad_opt.tensor import Tensor

__all__ = ["HessianOperator", "hessian_vector_product"]


class HessianOperator(ModelOperator):
    """The Hessian of ``loss_fn(model(inputs), targets)`` w.r.t. the model's parameters,
    at their current values, as an n×n operator (see the module docstring and
    :class:`~tinygrad_opt.curvature.model_operator.ModelOperator` for the arguments).
    For a plain function of tensors use :meth:`from_function`."""

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Tensor],
        params: Sequence[Any] | Mapping[str, Any],
        *,
        dtype: Any = np.float64,
    ) -> HessianOperator:
        """The Hessian of ``func(*params)`` (a scalar Tensor) at ``params`` (arrays or
        Tensors; a mapping name → array names them)."""
        return cls.from_objective(Objective.from_function(func, params, dtype=dtype))

    def _setup(self, objective: Objective) -> None:
        super()._setup(objective)
        loss = objective.loss()
        if not loss.requires_grad:
            raise ValueError("the loss does not depend on the parameters")
        g = grad(loss, objective.leaves, create_graph=True, allow_unused=True)
        self.loss = float(loss.item())
        self.gradient = self.layout.gather(g)
        # parameters whose gradient is itself a function of θ (others: zero Hessian rows)
        self._rows = [i for i, gi in enumerate(g) if gi is not None and gi.requires_grad]
        self._grads = tuple(g[i] for i in self._rows)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        if not self._grads:
            return np.zeros(self.layout.size)
        pieces = self.layout.split(v)
        hv = grad(
            self._grads,
            self.objective.leaves,
            tuple(pieces[i] for i in self._rows),
            allow_unused=True,
        )
        return self.layout.gather(hv)


def hessian_vector_product(
    model: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch: tuple[Any, Any],
    v: Any,
    *,
    parameters: Iterable[Tensor] | None = None,
    dtype: Any = np.float64,
    eval_mode: bool = True,
) -> Any:
    """H·v for the loss of ``model`` on ``batch`` (see :class:`HessianOperator`).

    ``v`` is a flat vector of length n, or a sequence of parameter-shaped arrays (in the
    order of ``model.parameters()``), or a mapping name → array; the result has the same
    form (numpy float64 arrays).
    """
    op = HessianOperator(
        model, loss_fn, batch, parameters=parameters, dtype=dtype, eval_mode=eval_mode
    )
    return apply_to(op, v)
