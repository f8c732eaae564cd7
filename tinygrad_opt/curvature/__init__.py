"""Curvature of a model's loss: Hessian, Gauss-Newton and Fisher products, their extreme
eigenvalues, trace and diagonal, and a training callback recording sharpness.

Layering: built on :mod:`tinygrad_opt.autograd` (``grad`` with ``create_graph=True``) and
on modules of :mod:`tinygrad_opt.nn`; nothing below imports it. See docs/curvature.md.

- :mod:`.layout` — :class:`ParameterLayout`: parameters ↔ one flat vector.
- :mod:`.objective` — :class:`Objective`: L(θ) at a fixed θ₀ (from a model, loss and
  batch; or from plain functions), on private copies of the parameters.
- :mod:`.operator` — :class:`CurvatureOperator` (``matvec``, ``shape``, ``calls``,
  ``to_dense``), :class:`MatrixOperator`, :func:`as_operator`.
- :mod:`.hessian` — :class:`HessianOperator`, :func:`hessian_vector_product`.
- :mod:`.jacobian` — :class:`OutputJacobian`: Jv and Jᵀw of the network output.
- :mod:`.gauss_newton` — :class:`GGNOperator`, :func:`ggn_vector_product`.
- :mod:`.fisher` — :class:`EmpiricalFisherOperator`, :func:`fisher_vector_product`.
- :mod:`.lanczos`, :mod:`.power` — :func:`lanczos`, :func:`power_iteration`;
  :mod:`.spectrum` — :class:`EigenResult`; :mod:`.eigen` — :func:`extreme_eigenvalues`,
  :func:`hessian_eigenvalues`, :func:`sharpness`.
- :mod:`.trace` — :func:`hutchinson_trace`, :func:`hutchinson_diagonal`.
- :mod:`.callbacks` — :class:`SharpnessCallback` for :func:`tinygrad_opt.train.fit`.
"""

from tinygrad_opt.curvature.callbacks import SharpnessCallback
from tinygrad_opt.curvature.eigen import extreme_eigenvalues, hessian_eigenvalues, sharpness
from tinygrad_opt.curvature.fisher import EmpiricalFisherOperator, fisher_vector_product
from tinygrad_opt.curvature.gauss_newton import GGNOperator, ggn_vector_product
from tinygrad_opt.curvature.hessian import HessianOperator, hessian_vector_product
from tinygrad_opt.curvature.jacobian import OutputJacobian
from tinygrad_opt.curvature.lanczos import lanczos
from tinygrad_opt.curvature.layout import ParameterLayout
from tinygrad_opt.curvature.model_operator import ModelOperator
from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.curvature.operator import (
    CurvatureOperator,
    MatrixOperator,
    apply_to,
    as_operator,
)
from tinygrad_opt.curvature.power import power_iteration
from tinygrad_opt.curvature.spectrum import EigenResult
from tinygrad_opt.curvature.trace import (
    TraceEstimate,
    hutchinson_diagonal,
    hutchinson_products,
    hutchinson_trace,
)

__all__ = [
    "CurvatureOperator",
    "EigenResult",
    "EmpiricalFisherOperator",
    "GGNOperator",
    "HessianOperator",
    "MatrixOperator",
    "ModelOperator",
    "Objective",
    "OutputJacobian",
    "ParameterLayout",
    "SharpnessCallback",
    "TraceEstimate",
    "apply_to",
    "as_operator",
    "extreme_eigenvalues",
    "fisher_vector_product",
    "ggn_vector_product",
    "hessian_eigenvalues",
    "hessian_vector_product",
    "hutchinson_diagonal",
    "hutchinson_products",
    "hutchinson_trace",
    "lanczos",
    "power_iteration",
    "sharpness",
]
