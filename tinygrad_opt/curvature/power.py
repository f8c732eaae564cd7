"""Extreme eigenvalues by power iteration with deflation: the simple fallback to Lanczos.

Power iteration repeats v ← Mv/‖Mv‖; v turns towards the eigenvector of largest |λ|,
with error shrinking like |λ₂/λ₁| per step, and the Rayleigh quotient vᵀMv estimates λ.
It needs storage for k vectors only (Lanczos keeps every iterate), but it converges
more slowly, and cannot separate λ from −λ.

The other ends of the spectrum come from shifts (M − σI has the eigenvectors of M and
eigenvalues λ − σ) and a sign (``which="SA"`` works on −M):

1. μ = the largest-magnitude eigenvalue of A (A = M for ``"LA"``, −M for ``"SA"``). If
   μ ≥ 0 it is A's largest eigenvalue — done for k = 1. If μ < 0 it is A's smallest.
2. Otherwise A's smallest eigenvalue is the largest-magnitude one of A − μI (whose
   eigenvalues are all ≤ 0); a rough estimate (10⁻³), moved down by 1% of the spread,
   gives the shift σ.
3. A − σI is positive semidefinite, so its largest-magnitude eigenvalues are its largest:
   the k wanted ones, found one at a time by *deflation* — each new iterate is kept
   orthogonal to the eigenvectors already found — and shifted back by σ.

``"LM"`` deflates M itself. A pair converges when ‖Mv − λv‖ ≤ tol·‖M‖ (‖M‖ estimated by
the largest |eigenvalue| met so far), after at most ``max_iter`` products per eigenvalue.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.curvature.lanczos import _check_k, _start_vector
from tinygrad_opt.curvature.operator import as_operator
from tinygrad_opt.curvature.spectrum import EigenResult, check_which, priority

__all__ = ["power_iteration"]


class _Run:
    """Shared state of one call: the product, the random source, the bookkeeping."""

    def __init__(self, matvec: Callable[[np.ndarray], np.ndarray], n: int, rng, v0, tol, max_iter):
        self.matvec = matvec
        self.n = n
        self.rng = rng
        self.v0 = v0
        self.tol = tol
        self.max_iter = max_iter
        self.scale = 0.0  # estimate of ‖M‖
        self.iterations = 0
        self.all_converged = True

    def dominant(
        self, shift: float, sign: float, found: list[np.ndarray], rough: bool = False
    ) -> tuple[float, np.ndarray, float]:
        """Largest-magnitude eigenpair of B = sign·M − shift·I on the complement of
        ``found`` (orthonormal). Returns (eigenvalue of B, unit vector, residual).
        ``rough``: a 10⁻³ tolerance, and no convergence is claimed (for a shift)."""
        tol = 1e-3 if rough else self.tol
        basis = np.array(found) if found else None

        def project(x: np.ndarray) -> np.ndarray:
            if basis is not None:
                for _ in range(2):
                    x = x - basis.T @ (basis @ x)
            return x

        v = project(_start_vector(self.n, self.rng, self.v0 if not found else None))
        v /= np.linalg.norm(v)
        lam, res = 0.0, np.inf
        for _ in range(self.max_iter):
            self.iterations += 1
            w = project(sign * self.matvec(v) - shift * v)
            lam = float(v @ w)
            res = float(np.linalg.norm(w - lam * v))
            self.scale = max(self.scale, abs(lam + shift))
            norm = np.linalg.norm(w)
            if res <= tol * max(self.scale, abs(shift)) or norm == 0.0:
                return lam, v, res
            v = w / norm
        self.all_converged = self.all_converged and rough
        return lam, v, res


def power_iteration(
    operator: Any,
    k: int = 1,
    which: str = "LA",
    *,
    max_iter: int = 1000,
    tol: float = 1e-8,
    seed: int | np.random.Generator | None = 0,
    v0: Any = None,
    return_eigenvectors: bool = False,
) -> EigenResult:
    """The ``k`` eigenvalues of a symmetric ``operator`` at the ``which`` end, by power
    iteration with shifts and deflation (see the module docstring; arguments as
    :func:`~tinygrad_opt.curvature.lanczos.lanczos`, but ``max_iter`` counts products
    per eigenvalue). A RuntimeWarning reports pairs that did not converge."""
    op = as_operator(operator)
    n = op.shape[0]
    check_which(which)
    _check_k(k, n)
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be positive, got {max_iter}")
    calls0 = op.calls
    run = _Run(op.matvec, n, np.random.default_rng(seed), v0, tol, int(max_iter))
    values: list[float] = []
    vectors: list[np.ndarray] = []
    residuals: list[float] = []
    if which == "LM":
        for _ in range(k):
            lam, v, res = run.dominant(0.0, 1.0, vectors)
            values.append(lam)
            vectors.append(v)
            residuals.append(res)
    else:
        sign = 1.0 if which == "LA" else -1.0
        mu, v, res = run.dominant(0.0, sign, [])
        if mu >= 0 and k == 1:
            values, vectors, residuals = [mu], [v], [res]
        else:
            if mu >= 0:  # mu is A's top: estimate A's bottom for the shift
                low, _, _ = run.dominant(mu, sign, [], rough=True)
                # a Rayleigh quotient lies above the bottom: step 1% of the spread lower
                shift = low + mu + 0.01 * low
                values, vectors, residuals = [mu - shift], [v], [res]
            else:  # mu is A's bottom already
                shift = mu
            while len(values) < k:
                lam, v, res = run.dominant(shift, sign, vectors)
                values.append(lam)
                vectors.append(v)
                residuals.append(res)
            values = [lam + shift for lam in values]
        values = [sign * lam for lam in values]
    if not run.all_converged:
        warnings.warn(
            f"power_iteration: not converged to tol={tol} within max_iter={max_iter} products "
            f"per eigenvalue; raise max_iter or use lanczos",
            RuntimeWarning,
            stacklevel=2,
        )
    vals = np.array(values)
    order = priority(vals, which)
    return EigenResult(
        eigenvalues=vals[order],
        eigenvectors=np.array(vectors).T[:, order] if return_eigenvectors else None,
        residuals=np.array(residuals)[order],
        converged=run.all_converged,
        iterations=run.iterations,
        matvecs=op.calls - calls0,
        method="power",
        which=which,
        layout=op.layout,
    )
