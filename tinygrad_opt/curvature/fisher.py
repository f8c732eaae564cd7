"""``EmpiricalFisherOperator``: F = (1/N) Σᵢ gᵢ gᵢᵀ from per-sample gradients.

gᵢ = ∇_θ ℓᵢ(θ) is the gradient of sample i's own loss. The *empirical* Fisher is their
uncentred second moment (Martens 2014, §11, who warns that it is not the Fisher
information: that one takes the expectation over targets drawn from the model, and then
equals the Gauss-Newton matrix for the usual losses — see
:mod:`~tinygrad_opt.curvature.gauss_newton`).

No per-sample loop. With f the output (row i belongs to sample i, and depends on
sample i only), gᵢ = Jᵢᵀ rᵢ where rᵢ = ∂ℓᵢ/∂fᵢ, so

    F v = (1/N) Σᵢ Jᵢᵀ rᵢ (rᵢ · Jᵢ v) = (1/N) Jᵀ [ r ⊙ s ],    sᵢ = rᵢ · (Jv)ᵢ

i.e. a Gauss-Newton product whose output "Hessian" is the block-diagonal Σᵢ rᵢrᵢᵀ: one
Jv, one Jᵀw. The residuals rᵢ come from one gradient of the batch loss with respect to
the output: the batch loss is the mean (``reduction="mean"``, r = N·∂L/∂f) or the sum
(``reduction="sum"``, r = ∂L/∂f) of the per-sample losses. This needs samples that do
not interact — not BatchNorm in training mode (eval mode, the default, is fine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.curvature.jacobian import OutputJacobian
from tinygrad_opt.curvature.model_operator import ModelOperator
from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.curvature.operator import apply_to
from tinygrad_opt.tensor import Tensor

__all__ = ["EmpiricalFisherOperator", "fisher_vector_product"]


class EmpiricalFisherOperator(ModelOperator):
    """F = (1/N) Σᵢ gᵢgᵢᵀ for ``loss_fn(model(inputs), targets)``, N = the output's first
    dimension. ``reduction``: how ``loss_fn`` combines the per-sample losses, ``"mean"``
    (torch's default) or ``"sum"``. Other arguments as
    :class:`~tinygrad_opt.curvature.model_operator.ModelOperator`."""

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Tensor, Any], Tensor],
        batch: tuple[Any, Any],
        *,
        reduction: str = "mean",
        parameters: Iterable[Tensor] | None = None,
        dtype: Any = np.float64,
        eval_mode: bool = True,
    ) -> None:
        self._configure(reduction=reduction)
        super().__init__(
            model, loss_fn, batch, parameters=parameters, dtype=dtype, eval_mode=eval_mode
        )

    def _configure(self, reduction: str = "mean") -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction

    def _setup(self, objective: Objective) -> None:
        super()._setup(objective)
        self.jacobian = OutputJacobian(objective)
        out = self.jacobian.output
        if out.ndim == 0:
            raise ValueError("the model output must have a sample dimension (dimension 0)")
        z = Tensor(out.copy(), requires_grad=True)
        loss = objective.loss_of_output(z)
        self.loss = float(loss.item())
        n = out.shape[0]
        if loss.requires_grad:
            (r,) = grad(loss, z, materialize_grads=True)
            r = np.asarray(r._data, dtype=np.float64)
        else:  # a loss that does not depend on the output: every gᵢ is zero
            r = np.zeros(out.shape)
        self.num_samples = n
        #: rᵢ = ∂ℓᵢ/∂fᵢ, one row per sample
        self.residuals = r * n if self.reduction == "mean" else r

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        r = self.residuals
        n = self.num_samples
        if n == 0:
            return np.zeros(self.layout.size)
        s = (r * self.jacobian.jvp(v)).reshape(n, -1).sum(axis=1)
        w = r * s.reshape((n,) + (1,) * (r.ndim - 1))
        return self.jacobian.vjp(w) / n


def fisher_vector_product(
    model: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch: tuple[Any, Any],
    v: Any,
    *,
    reduction: str = "mean",
    parameters: Iterable[Tensor] | None = None,
    dtype: Any = np.float64,
    eval_mode: bool = True,
) -> Any:
    """F·v for the loss of ``model`` on ``batch`` (see :class:`EmpiricalFisherOperator`);
    ``v`` flat, a sequence of parameter-shaped arrays or a mapping (result alike)."""
    op = EmpiricalFisherOperator(
        model,
        loss_fn,
        batch,
        reduction=reduction,
        parameters=parameters,
        dtype=dtype,
        eval_mode=eval_mode,
    )
    return apply_to(op, v)
