"""Entry points for spectra: :func:`extreme_eigenvalues` on any operator,
:func:`hessian_eigenvalues` and :func:`sharpness` on a model's loss.

``method="lanczos"`` (default) or ``"power"`` chooses the solver
(:mod:`~tinygrad_opt.curvature.lanczos`, :mod:`~tinygrad_opt.curvature.power`); the other
keywords (``max_iter``, ``tol``, ``seed``, ``v0``, ``return_eigenvectors``) go to it.
The sharpness of a loss at θ is λ_max(∇²L(θ)), its top Hessian eigenvalue: gradient
descent with step η is stable on a quadratic only while λ_max < 2/η, and training at
large η hovers there — the "edge of stability" (Cohen et al. 2021).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_opt.curvature.hessian import HessianOperator
from tinygrad_opt.curvature.lanczos import lanczos
from tinygrad_opt.curvature.power import power_iteration
from tinygrad_opt.curvature.spectrum import EigenResult
from tinygrad_opt.tensor import Tensor

__all__ = ["METHODS", "extreme_eigenvalues", "hessian_eigenvalues", "sharpness"]

METHODS = {"lanczos": lanczos, "power": power_iteration}


def extreme_eigenvalues(
    operator: Any, k: int = 1, which: str = "LA", *, method: str = "lanczos", **options: Any
) -> EigenResult:
    """The ``k`` eigenvalues of a symmetric operator at the ``which`` end (``"LA"``,
    ``"SA"``, ``"LM"``), by ``method`` (``"lanczos"`` or ``"power"``)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    return METHODS[method](operator, k, which, **options)


def hessian_eigenvalues(
    model: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch: tuple[Any, Any],
    k: int = 1,
    which: str = "LA",
    *,
    method: str = "lanczos",
    parameters: Iterable[Tensor] | None = None,
    dtype: Any = np.float64,
    eval_mode: bool = True,
    **options: Any,
) -> EigenResult:
    """Extreme eigenvalues of the Hessian of ``loss_fn(model(inputs), targets)`` w.r.t.
    the model's parameters at their current values (a
    :class:`~tinygrad_opt.curvature.hessian.HessianOperator`; ``parameters``, ``dtype``,
    ``eval_mode`` as there). ``result.parameter_eigenvectors`` gives the eigenvectors
    parameter-shaped (with ``return_eigenvectors=True``)."""
    op = HessianOperator(
        model, loss_fn, batch, parameters=parameters, dtype=dtype, eval_mode=eval_mode
    )
    return extreme_eigenvalues(op, k, which, method=method, **options)


def sharpness(
    model: Any,
    loss_fn: Callable[[Tensor, Any], Tensor],
    batch: tuple[Any, Any],
    **options: Any,
) -> float:
    """λ_max of the loss Hessian on ``batch`` (the largest algebraic eigenvalue);
    ``options`` as :func:`hessian_eigenvalues`."""
    return float(hessian_eigenvalues(model, loss_fn, batch, 1, "LA", **options).eigenvalues[0])
