"""``GGNOperator``: the generalized Gauss-Newton matrix G = Jᵀ H_ℓ J.

Write the loss as L(θ) = ℓ(f(θ)), f the network output (N samples × outputs) and ℓ the
loss on the outputs. The chain rule splits the Hessian in two (Martens 2014, §8;
Schraudolph 2002):

    ∇²L = Jᵀ (∇²_f ℓ) J  +  Σ_k (∂ℓ/∂f_k) ∇²_θ f_k
        =       G         +  (curvature of the network itself)

G keeps only the first term. It is positive semidefinite whenever ℓ is convex in f
(MSE, cross-entropy, logistic loss), which is why it serves as a trust-region or
second-order preconditioner where H, indefinite, does not.

**When G = H.** The second term vanishes, so G equals the Hessian exactly, when

- f is linear (affine) in θ — e.g. linear least squares ℓ = ‖Xθ − y‖²/N, or logistic
  regression: every ∇²_θ f_k is zero; or
- every residual ∂ℓ/∂f_k is zero — at a point that fits the data exactly.

For a squared error ℓ, G is the classical Gauss-Newton matrix 2/N·JᵀJ; for
cross-entropy on softmax outputs it equals the Fisher information of the model's
predictive distribution (Martens 2014, §9.2).

One product G·v = Jᵀ(H_ℓ(Jv)) costs three backward passes on graphs built once:
Jv (:class:`~tinygrad_opt.curvature.jacobian.OutputJacobian`), H_ℓ·(Jv) (a Hessian-vector
product of ℓ with respect to a leaf copy of the output), and Jᵀ(·).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.curvature.jacobian import OutputJacobian
from tinygrad_opt.curvature.model_operator import ModelOperator
from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.curvature.operator import apply_to
from tinygrad_opt.tensor import Tensor

__all__ = ["GGNOperator", "ggn_vector_product"]


class GGNOperator(ModelOperator):
    """G = Jᵀ H_ℓ J for ``loss_fn(model(inputs), targets)`` (arguments as
    :class:`~tinygrad_opt.curvature.model_operator.ModelOperator`); for plain functions
    use :meth:`from_functions`. ``op.loss`` is L(θ₀)."""

    @classmethod
    def from_functions(
        cls,
        output_fn: Callable[..., Tensor],
        loss_fn: Callable[[Tensor], Tensor],
        params: Sequence[Any] | Mapping[str, Any],
        *,
        dtype: Any = np.float64,
    ) -> GGNOperator:
        """G for L = ``loss_fn(output_fn(*params))`` at ``params``."""
        return cls.from_objective(Objective.from_functions(output_fn, loss_fn, params, dtype=dtype))

    def _setup(self, objective: Objective) -> None:
        super()._setup(objective)
        self.jacobian = OutputJacobian(objective)
        out = self.jacobian.output
        z = Tensor(out.copy(), requires_grad=True)
        loss = objective.loss_of_output(z)
        self.loss = float(loss.item())
        gz = grad(loss, z, create_graph=True, allow_unused=True)[0] if loss.requires_grad else None
        self._z = z
        self._gz = gz if gz is not None and gz.requires_grad else None

    def output_hessian_product(self, w: np.ndarray) -> np.ndarray:
        """H_ℓ·w: the loss Hessian with respect to the output, times ``w`` (output-shaped)."""
        if self._gz is None:
            return np.zeros(self._z.shape, dtype=np.float64)
        (hw,) = grad(self._gz, self._z, np.asarray(w), allow_unused=True)
        if hw is None:
            return np.zeros(self._z.shape, dtype=np.float64)
        return np.asarray(hw._data, dtype=np.float64)

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self.jacobian.vjp(self.output_hessian_product(self.jacobian.jvp(v)))


def ggn_vector_product(
    model: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch: tuple[Any, Any],
    v: Any,
    *,
    parameters: Iterable[Tensor] | None = None,
    dtype: Any = np.float64,
    eval_mode: bool = True,
) -> Any:
    """G·v for the loss of ``model`` on ``batch`` (see :class:`GGNOperator`); ``v`` flat,
    a sequence of parameter-shaped arrays or a mapping name → array (result alike)."""
    op = GGNOperator(model, loss_fn, batch, parameters=parameters, dtype=dtype, eval_mode=eval_mode)
    return apply_to(op, v)
