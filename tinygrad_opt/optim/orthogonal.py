r"""Orthogonalising a matrix by a Newton–Schulz iteration: the core of Muon.

For a matrix G with singular value decomposition G = U·S·Vᵀ, the *orthogonalisation* of
G is U·Vᵀ: the same singular vectors with every singular value set to 1 (the nearest
semi-orthogonal matrix). :func:`newton_schulz` approximates it with a few matrix
products, no SVD:

    X₀ = G / max(‖G‖_F, ε)                    (Optax: G / (‖G‖_F + ε))
    A_k = X_k·X_kᵀ
    X_{k+1} = a·X_k + (b·A_k + c·A_k²)·X_k    (k = 0 … steps-1)

Each step maps every singular value σ of X_k to p(σ) = a·σ + b·σ³ + c·σ⁵ and leaves the
singular vectors alone. Dividing by the Frobenius norm puts every σ in [0, 1]; Jordan's
coefficients (a, b, c) = (3.4445, -4.7750, 2.0315) make p steep at 0 (slope a), so five
steps bring every σ that is not tiny into roughly [0.7, 1.2] rather than exactly to 1 —
which is what Muon needs, at a third of the cost of a converging iteration.

Since p(Xᵀ) = p(X)ᵀ, a tall matrix (more rows than columns) is iterated as its
transpose, so that A_k is the smaller Gram matrix (m×m with m = min(rows, cols)).

Speed: the products go to BLAS with preallocated outputs (``np.matmul(..., out=)``);
X·Xᵀ and A·A (A is symmetric, A·A = A·Aᵀ) are symmetric rank-k updates, which numpy
computes with BLAS ``syrk`` at half the cost of a general product. Work arrays are kept
per thread and reused. A float32 matrix is iterated in float32, float64 in float64.
"""

from __future__ import annotations

import math
import threading

import numpy as np

#: Jordan's quintic coefficients (a, b, c) and step count (Muon, 2024).
DEFAULT_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
DEFAULT_STEPS = 5

_local = threading.local()


def _work(m: int, n: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """Per-thread work arrays: two m×n (the iterate and the next one), two m×m."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    key = (m, n, np.dtype(dtype).str)
    arrays = cache.get(key)
    if arrays is None:
        if len(cache) >= 8:  # many shapes in turn: keep memory bounded
            cache.clear()
        arrays = cache[key] = (
            np.empty((m, n), dtype),
            np.empty((m, n), dtype),
            np.empty((m, m), dtype),
            np.empty((m, m), dtype),
        )
    return arrays


def newton_schulz(
    g: np.ndarray,
    coefficients: tuple[float, float, float] = DEFAULT_COEFFICIENTS,
    steps: int = DEFAULT_STEPS,
    eps: float = 1e-7,
    *,
    eps_mode: str = "clamp",
    out: np.ndarray | None = None,
) -> np.ndarray:
    r"""Approximate orthogonalisation U·Vᵀ of the 2-D array ``g`` (see the module docstring):

        X₀ = G / max(‖G‖_F, ε),   X_{k+1} = a·X_k + (b·A_k + c·A_k²)·X_k,   A_k = X_k·X_kᵀ

    ``eps_mode="clamp"`` normalises by max(‖G‖_F, ε) (torch's ``Muon``), ``"add"`` by
    ‖G‖_F + ε (Optax's ``orthogonalize_via_newton_schulz``). A matrix with more rows
    than columns is iterated as its transpose. Returns a new array of ``g``'s shape and
    dtype, or writes into ``out`` (which may be ``g`` itself) and returns it.
    """
    if g.ndim != 2:
        raise ValueError(f"newton_schulz needs a 2-D matrix, got shape {g.shape}")
    if eps_mode not in ("clamp", "add"):
        raise ValueError(f"Invalid eps_mode: {eps_mode!r} (expected 'clamp' or 'add')")
    a, b, c = coefficients
    if out is None:
        out = np.empty(g.shape, g.dtype)
    elif out.shape != g.shape:
        raise ValueError(f"out has shape {out.shape}, expected {g.shape}")
    if g.size == 0:
        return out
    tall = g.shape[0] > g.shape[1]
    m, n = (g.shape[1], g.shape[0]) if tall else g.shape
    x, y, gram, poly = _work(m, n, g.dtype)
    flat = g.reshape(-1) if g.flags.c_contiguous else g.ravel()
    norm = math.sqrt(float(np.vdot(flat, flat)))
    norm = max(norm, eps) if eps_mode == "clamp" else norm + eps
    np.divide(g.T if tall else g, norm, out=x)
    for k in range(steps):
        np.matmul(x, x.T, out=gram)  # A = X·Xᵀ (syrk)
        np.matmul(gram, gram.T, out=poly)  # A² = A·Aᵀ, A symmetric (syrk)
        poly *= c
        gram *= b
        poly += gram  # B = b·A + c·A²
        if k < steps - 1:
            np.matmul(poly, x, out=y)  # B·X
            x *= a
            y += x
            x, y = y, x
        elif tall:  # last step straight into out, transposed back: (B·X)ᵀ = Xᵀ·B
            np.matmul(x.T, poly, out=out)
            x *= a
            out += x.T
        else:
            np.matmul(poly, x, out=out)
            x *= a
            out += x
    if steps == 0:
        out[...] = x.T if tall else x
    return out
