"""Extreme eigenvalues of a symmetric operator by the Lanczos method with full
reorthogonalisation (Lanczos 1950; Golub & Van Loan, *Matrix Computations*, §10.1-10.3).

Starting from a random unit vector q₁, the three-term recurrence

    β_{j+1} q_{j+1} = M q_j − α_j q_j − β_j q_{j−1},    α_j = q_jᵀ M q_j

builds an orthonormal basis Q_j of the Krylov space span{q₁, Mq₁, …, M^{j−1}q₁} in which
M is the tridiagonal T_j = tridiag(β, α, β). The eigenvalues θᵢ of T_j (Ritz values)
approach M's extreme eigenvalues after far fewer than n steps — each step costs one
product M·q. For a Ritz pair (θ, Q_j s), the residual is exactly
‖M Q_j s − θ Q_j s‖ = β_{j+1} |s_j| (last component of s), which gives the stopping test.

In floating point the q_j lose orthogonality as Ritz values converge, and copies
("ghosts") of converged eigenvalues appear. Full reorthogonalisation — subtracting the
components along every earlier q, a second time when the first pass cancelled more than
30% of the vector's norm (Kahan-Parlett "twice is enough") — prevents it, at O(j·n) per
step and the storage of all q_j (float64).

If β_{j+1} vanishes the Krylov space is invariant: its Ritz values are exact eigenvalues,
and the iteration continues from a new random vector orthogonal to it (T becomes block
diagonal): that is how further copies of a repeated eigenvalue are found (a Krylov space
holds one vector per distinct eigenvalue). Before that happens, a single-vector Krylov
method cannot see multiplicities: a repeated eigenvalue may be reported once.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinygrad_opt.curvature.operator import as_operator
from tinygrad_opt.curvature.spectrum import EigenResult, check_which, priority

__all__ = ["lanczos", "tridiagonal_eigh"]


def tridiagonal_eigh(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix with
    diagonal ``alpha`` (length m) and off-diagonal ``beta`` (length m−1)."""
    m = len(alpha)
    T = np.diag(np.asarray(alpha, dtype=np.float64))
    if m > 1:
        idx = np.arange(m - 1)
        T[idx, idx + 1] = beta
        T[idx + 1, idx] = beta
    return np.linalg.eigh(T)


def _check_k(k: int, n: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer between 1 and n = {n}, got {k!r}")


def _start_vector(n: int, rng: np.random.Generator, v0: Any) -> np.ndarray:
    if v0 is None:
        q = rng.standard_normal(n)
    else:
        q = np.array(getattr(v0, "_data", v0), dtype=np.float64).reshape(-1)
        if q.shape != (n,):
            raise ValueError(f"v0 must have {n} entries, got {q.size}")
    norm = np.linalg.norm(q)
    if norm == 0 or not np.isfinite(norm):
        raise ValueError("v0 must be a nonzero finite vector")
    return q / norm


def lanczos(
    operator: Any,
    k: int = 1,
    which: str = "LA",
    *,
    max_iter: int | None = None,
    tol: float = 1e-8,
    seed: int | np.random.Generator | None = 0,
    v0: Any = None,
    return_eigenvectors: bool = False,
) -> EigenResult:
    """The ``k`` eigenvalues of a symmetric ``operator`` at the ``which`` end of its
    spectrum (``"LA"``, ``"SA"``, ``"LM"``; see
    :mod:`~tinygrad_opt.curvature.spectrum`).

    ``operator``: a :class:`~tinygrad_opt.curvature.operator.CurvatureOperator`, a
    symmetric matrix, or anything with ``shape`` and ``matvec``. Stops when every wanted
    Ritz pair has residual ≤ ``tol``·‖M‖ (‖M‖ estimated by the largest |Ritz value|; the
    eigenvalue error is then about residual²/gap), or after ``max_iter`` products
    (default min(n, max(100, 10k))), with a RuntimeWarning if not converged. ``seed``
    draws the start vector unless ``v0`` is given.
    """
    op = as_operator(operator)
    n = op.shape[0]
    check_which(which)
    _check_k(k, n)
    if tol <= 0:
        raise ValueError(f"tol must be positive, got {tol}")
    m = min(n, max(100, 10 * k)) if max_iter is None else int(max_iter)
    if m < k:
        raise ValueError(f"max_iter must be at least k = {k}, got {max_iter}")
    m = min(m, n)
    rng = np.random.default_rng(seed)
    Q = np.zeros((m, n), dtype=np.float64)  # rows: the Lanczos vectors
    Q[0] = _start_vector(n, rng, v0)
    alpha = np.zeros(m)
    beta = np.zeros(m)  # beta[j] couples q_j and q_{j+1}
    calls0 = op.calls
    converged = False
    steps = 0
    for j in range(m):
        steps = j + 1
        w = op.matvec(Q[j])
        alpha[j] = Q[j] @ w
        w -= alpha[j] * Q[j]
        if j > 0:
            w -= beta[j - 1] * Q[j - 1]
        basis = Q[: j + 1]
        before = np.linalg.norm(w)
        w -= basis.T @ (basis @ w)  # full reorthogonalisation ...
        beta[j] = np.linalg.norm(w)
        if beta[j] < 0.7 * before:  # ... repeated when cancellation was large
            w -= basis.T @ (basis @ w)
            beta[j] = np.linalg.norm(w)
        theta, S = tridiagonal_eigh(alpha[: j + 1], beta[:j])
        wanted = priority(theta, which)[:k]
        scale = np.abs(theta).max()
        residuals = beta[j] * np.abs(S[-1, wanted])
        invariant = beta[j] <= 100 * np.finfo(np.float64).eps * max(scale, np.abs(alpha[j]))
        # at an invariant subspace the Ritz values are exact but may miss copies of a
        # repeated eigenvalue: look into the complement before stopping (unless that
        # was just done: a one-vector invariant block means the rest is one eigenspace)
        fresh_block = j > 0 and beta[j - 1] == 0.0
        if (not invariant or fresh_block) and j + 1 >= k and np.all(residuals <= tol * scale):
            converged = True
            break
        if j + 1 == m:
            break
        if invariant:  # restart orthogonally to the Krylov space (T turns block diagonal)
            q = rng.standard_normal(n)
            for _ in range(2):
                q -= basis.T @ (basis @ q)
            beta[j] = 0.0
            Q[j + 1] = q / np.linalg.norm(q)
        else:
            Q[j + 1] = w / beta[j]
    if steps == n:  # the whole space: T is similar to M, every Ritz value is exact
        converged = True
    if not converged:
        warnings.warn(
            f"lanczos: {k} eigenvalue(s) ({which}) not converged to tol={tol} after "
            f"{steps} iterations (largest residual {residuals.max():.3g}); raise max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    vectors = None
    if return_eigenvectors:
        vectors = Q[:steps].T @ S[:, wanted]
        vectors /= np.linalg.norm(vectors, axis=0)
    return EigenResult(
        eigenvalues=theta[wanted].copy(),
        eigenvectors=vectors,
        residuals=residuals,
        converged=converged,
        iterations=steps,
        matvecs=op.calls - calls0,
        method="lanczos",
        which=which,
        layout=op.layout,
    )
