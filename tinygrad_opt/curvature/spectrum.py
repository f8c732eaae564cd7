"""``EigenResult``: what the eigenvalue solvers return, and the ``which`` conventions.

``which`` chooses the end of the spectrum, with SciPy ``eigsh``'s names:

- ``"LA"`` (largest algebraic): λ₁ ≥ λ₂ ≥ … — the top of the Hessian, the *sharpness*;
- ``"SA"`` (smallest algebraic): the most negative first — directions of negative
  curvature (saddle points);
- ``"LM"`` (largest magnitude): |λ₁| ≥ |λ₂| ≥ … — the spectral norm first.

Unlike SciPy (ascending order), results come in that order of priority: the first
eigenvalue is the one asked for most.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinygrad_opt.curvature.layout import ParameterLayout

__all__ = ["WHICH", "EigenResult", "check_which", "priority"]

WHICH = ("LA", "SA", "LM")


def check_which(which: str) -> str:
    if which not in WHICH:
        raise ValueError(f"which must be one of {', '.join(WHICH)}, got {which!r}")
    return which


def priority(values: np.ndarray, which: str) -> np.ndarray:
    """Indices of ``values``, the wanted end first (stable: ties keep their order)."""
    values = np.asarray(values)
    key = {"LA": -values, "SA": values, "LM": -np.abs(values)}[which]
    return np.argsort(key, kind="stable")


@dataclass
class EigenResult:
    """Eigenvalues found by :func:`~tinygrad_opt.curvature.lanczos.lanczos` or
    :func:`~tinygrad_opt.curvature.power.power_iteration`.

    - ``eigenvalues``: shape (k,), in ``which``'s order (see the module docstring);
    - ``eigenvectors``: shape (n, k), unit columns (or None if not asked for);
      ``parameter_eigenvectors`` gives them parameter-shaped;
    - ``residuals``: ‖M yᵢ − λᵢ yᵢ‖ for each pair (Lanczos: the standard estimate
      β·|last component|, exact in exact arithmetic);
    - ``converged``: every residual ≤ tol·‖M‖ (‖M‖ estimated by the solver);
    - ``iterations``, ``matvecs``: work done.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    residuals: np.ndarray
    converged: bool
    iterations: int
    matvecs: int
    method: str
    which: str
    layout: ParameterLayout | None = field(default=None, repr=False)

    @property
    def parameter_eigenvectors(self) -> list[dict[str, np.ndarray]]:
        """Each eigenvector as ``{parameter name: array shaped like it}``."""
        if self.eigenvectors is None:
            raise ValueError("eigenvectors were not computed: pass return_eigenvectors=True")
        if self.layout is None:
            raise ValueError("no parameter layout is known for this operator")
        return [self.layout.unflatten(self.eigenvectors[:, i]) for i in range(self.k)]

    @property
    def k(self) -> int:
        return len(self.eigenvalues)
