"""``CurvatureOperator``: a symmetric n×n matrix known only through products M·v.

The Hessian, Gauss-Newton and Fisher matrices of a network are far too large to form
(n² entries for n parameters), but each product M·v costs a few backward passes. The
algorithms of this package (Lanczos, power iteration, Hutchinson) need nothing else, so
they take any object with ``shape`` and ``matvec`` — a :class:`CurvatureOperator`, a
numpy matrix (wrapped by :func:`as_operator`), or a SciPy-style linear operator.

Vectors are flat float64 arrays of length n; the operator's ``layout`` maps them to
parameter-shaped arrays (``op.layout.unflatten(v)``). ``op.calls`` counts products.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_opt.curvature.layout import ParameterLayout

__all__ = ["CallableOperator", "CurvatureOperator", "MatrixOperator", "apply_to", "as_operator"]


class CurvatureOperator:
    """Base class: subclasses set ``layout`` and implement ``_matvec(v) -> M v`` on a
    float64 vector of length n. Public products go through :meth:`matvec`, which checks
    the shape and counts the call."""

    layout: ParameterLayout
    dtype = np.dtype(np.float64)  #: the dtype of the vectors the operator returns

    def __init__(self, layout: ParameterLayout) -> None:
        self.layout = layout
        self.calls = 0  #: number of matrix-vector products so far

    @property
    def shape(self) -> tuple[int, int]:
        return (self.layout.size, self.layout.size)

    def matvec(self, v: Any) -> np.ndarray:
        """M·v for a flat vector ``v`` of length n (float64 result)."""
        v = np.asarray(self.layout.check(v), dtype=np.float64)
        self.calls += 1
        return np.asarray(self._matvec(v), dtype=np.float64)

    def rmatvec(self, v: Any) -> np.ndarray:
        """vᵀ·M, equal to M·v (the operator is symmetric)."""
        return self.matvec(v)

    def _matvec(self, v: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def matmat(self, V: Any) -> np.ndarray:
        """M·V for an (n, m) array, one product per column."""
        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] != self.layout.size:
            n = self.layout.size
            raise ValueError(f"matmat: expected an array of shape ({n}, m), got {V.shape}")
        out = np.empty(V.shape, dtype=np.float64)
        for j in range(V.shape[1]):
            out[:, j] = self.matvec(V[:, j])
        return out

    def __matmul__(self, v: Any) -> np.ndarray:
        v = np.asarray(v)
        return self.matvec(v) if v.ndim == 1 else self.matmat(v)

    def to_dense(self) -> np.ndarray:
        """The whole n×n matrix (n products): for small problems and tests."""
        return self.matmat(np.eye(self.layout.size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.layout.size}, calls={self.calls})"


class MatrixOperator(CurvatureOperator):
    """An explicit symmetric matrix as an operator (one flat parameter named ``"0"``
    unless a ``layout`` is given)."""

    def __init__(self, matrix: Any, layout: ParameterLayout | None = None) -> None:
        A = np.asarray(matrix, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"MatrixOperator: expected a square matrix, got shape {A.shape}")
        super().__init__(layout or ParameterLayout(["0"], [(A.shape[0],)]))
        if self.layout.size != A.shape[0]:
            raise ValueError(
                f"MatrixOperator: the layout has {self.layout.size} entries, the matrix is "
                f"{A.shape}"
            )
        self.matrix = A

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return self.matrix @ v


class CallableOperator(CurvatureOperator):
    """Wraps anything with ``shape`` (n, n) and ``matvec`` (a SciPy LinearOperator, say)."""

    def __init__(self, obj: Any) -> None:
        n, m = (int(d) for d in obj.shape)
        if n != m:
            raise ValueError(f"expected a square operator, got shape {obj.shape}")
        super().__init__(getattr(obj, "layout", None) or ParameterLayout(["0"], [(n,)]))
        self.wrapped = obj

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.wrapped.matvec(v), dtype=np.float64).reshape(-1)


def as_operator(obj: Any) -> CurvatureOperator:
    """``obj`` as a :class:`CurvatureOperator`: returned as it is if it already is one; a
    2-D array becomes a :class:`MatrixOperator`; an object with ``shape`` and ``matvec``
    a :class:`CallableOperator`. TypeError otherwise."""
    if isinstance(obj, CurvatureOperator):
        return obj
    if isinstance(obj, np.ndarray) or isinstance(obj, (list, tuple)):
        return MatrixOperator(obj)
    if hasattr(obj, "matvec") and hasattr(obj, "shape"):
        return CallableOperator(obj)
    raise TypeError(
        f"expected a curvature operator, a square matrix, or an object with shape and matvec; "
        f"got {type(obj).__name__}"
    )


def apply_to(op: CurvatureOperator, v: Any) -> Any:
    """``op``·v where ``v`` is flat (length n), a sequence of parameter-shaped arrays in
    layout order, or a mapping name → array; the result comes in the same form."""
    layout = op.layout
    if isinstance(v, Mapping):
        return layout.unflatten(op.matvec(layout.flatten(v)))
    if isinstance(v, (list, tuple)):
        return type(v)(layout.split(op.matvec(layout.flatten(v))))
    return op.matvec(v)
