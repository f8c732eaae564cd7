"""Kronecker-factored preconditioners: the matrix machinery Shampoo and SOAP share.

A tensor gradient G of shape (d₁, ..., d_k) gets one d_i × d_i statistic per dimension,
the contraction of G with itself over every other axis (for a matrix: L = G·Gᵀ and
R = Gᵀ·G). From a statistic S these functions make

* :func:`inverse_root`: S^(-1/p) (Shampoo), through the eigendecomposition S = V·diag(λ)·Vᵀ;
* :func:`eigenbasis`: the eigenvectors of S, largest eigenvalue first (SOAP's first basis);
* :func:`refresh_eigenbasis`: one step of power iteration with QR, Q ← qr(S·Q) with the
  columns sorted by the estimated eigenvalues diag(Qᵀ·S·Q) (SOAP's later bases);

and :func:`mode_product` multiplies a tensor by one matrix per dimension (G ×₁ M₁ ... ×_k
M_k): projecting a gradient into the eigenbases (Mᵢ = Qᵢ, contracted with Qᵢ's rows),
back out of them (with Qᵢᵀ), or applying Shampoo's roots. All numpy; the matrix products
run in BLAS, writing into given arrays (``out=``) where a result has a home.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Matrices = Sequence[np.ndarray | None]


def statistic(g: np.ndarray, axis: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """G contracted with itself over every axis but ``axis``: a d × d matrix (d = the
    length of ``axis``; G·Gᵀ for axis 0 of a matrix, Gᵀ·G for axis 1)."""
    d = g.shape[axis]
    unfolded = np.moveaxis(g, axis, 0).reshape(d, -1)
    return np.matmul(unfolded, unfolded.T, out=out)


def inverse_root(s: np.ndarray, p: float, *, out: np.ndarray | None = None) -> np.ndarray:
    """S^(-1/p) for a symmetric positive semi-definite S: V·diag(λ^(-1/p))·Vᵀ.

    Eigenvalues at or below the rounding level (λ ≤ d·ε_dtype·λ_max, including negative
    ones from rounding) count as zero and get 0: a pseudo-inverse root on S's null space
    (``np.linalg.pinv``'s rule), where λ^(-1/p) would be inf or noise.
    """
    lam, v = np.linalg.eigh(s)
    floor = s.shape[0] * np.finfo(s.dtype).eps * max(float(lam[-1]), 0.0)
    keep = lam > floor
    root = np.zeros_like(lam)
    np.power(lam, -1.0 / p, out=root, where=keep)
    return np.matmul(v * root, v.T, out=out)


def eigenbasis(s: np.ndarray) -> np.ndarray:
    """The eigenvectors of symmetric S as columns, largest eigenvalue first (ties and signs
    as LAPACK's ``syevd`` returns them). As the SOAP authors, 1e-30·I is added first."""
    _, v = np.linalg.eigh(s + 1e-30 * np.eye(s.shape[0], dtype=s.dtype))
    return np.ascontiguousarray(v[:, ::-1])


def refresh_eigenbasis(s: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One power-iteration step towards S's eigenvectors from the basis ``q``.

    P = S·Q; the estimated eigenvalues are diag(Qᵀ·P); the columns of P are sorted by
    them, largest first, and orthonormalised by a (Householder) QR decomposition. Returns
    the new basis and the sort order (to carry quantities kept in the old basis along).
    """
    power = np.matmul(s, q)
    estimate = np.einsum("ij,ij->j", q, power)
    order = np.argsort(-estimate, kind="stable")
    new_q, _ = np.linalg.qr(power[:, order])
    return new_q, order


def mode_product(x: np.ndarray, mats: Matrices, *, transpose: bool = False) -> np.ndarray:
    """x ×₁ M₁ ×₂ M₂ ... : contract axis i of ``x`` with the rows of Mᵢ (with its columns
    if ``transpose``); a ``None`` leaves that axis alone. ``len(mats) == x.ndim``.

    Each factor contracts the current first axis and appends the result as the last one,
    so after all of them the axes are back in order (SOAP's ``project``). A new array.
    """
    if len(mats) != x.ndim:
        raise ValueError(f"{len(mats)} matrices for a tensor of {x.ndim} dimensions")
    fresh = False  # whether x is already a new array (not a view of the input)
    for m in mats:
        d = x.shape[0]
        rest = x.shape[1:]
        if m is None:
            x = np.moveaxis(x, 0, -1)
            continue
        unfolded = x.reshape(d, -1).T  # (rest, d)
        x = np.matmul(unfolded, m.T if transpose else m).reshape(*rest, m.shape[1])
        fresh = True
    return x if fresh and x.flags.c_contiguous else np.array(x, order="C", copy=True)


def merged_shape(shape: Sequence[int], max_dim: int) -> tuple[int, ...]:
    """SOAP's ``merge_dims``: neighbouring dimensions multiplied together while the
    product stays ≤ ``max_dim`` (a dimension already above it stands alone; 1s vanish)."""
    out: list[int] = []
    current = 1
    for d in shape:
        if current * d > max_dim:
            if current > 1:
                out.append(current)
                current = d
            else:
                out.append(d)
        else:
            current *= d
    if current > 1 or not out:
        out.append(current)
    return tuple(out)


class MatrixStateMixin:
    """``load_state_dict`` that also checks lists of per-dimension matrices.

    The base class validates state arrays against the parameter's shape; the preconditioner
    lists (one d × d matrix per dimension, or ``None``) are not of that shape. A class
    using this mixin says, in :meth:`matrix_dims`, which dimensions each list key must
    have for a parameter; loading then rejects a wrong length, shape or dtype.
    """

    def matrix_dims(self, name: str, shape: tuple[int, ...], group: dict) -> list | None:
        """Expected sizes (``None``: no matrix) of list key ``name``; None: not a list."""
        raise NotImplementedError

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        try:
            saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
            pairs = [
                (old, p, {**mine, **{k: v for k, v in saved.items() if k != "params"}})
                for saved, mine in zip(saved_groups, self.param_groups)  # type: ignore[attr-defined]
                for old, p in zip(saved["params"], mine["params"])
            ]
        except (KeyError, TypeError):
            pairs = []  # malformed: the base class says what is wrong
        owner = {old: (p, group) for old, p, group in pairs}
        for key, s in saved_state.items() if pairs else ():
            if key not in owner or not isinstance(s, dict):
                continue
            p, group = owner[key]
            for name, value in s.items():
                dims = self.matrix_dims(name, p.shape, group)
                if dims is None:
                    continue
                _check_matrices(name, key, value, dims, p.dtype)
        super().load_state_dict(state_dict)  # type: ignore[misc]


def _check_matrices(name: str, key: Any, value: Any, dims: list, dtype: Any) -> None:
    if not isinstance(value, (list, tuple)) or len(value) != len(dims):
        raise ValueError(
            f"state '{name}' of parameter {key} must be a list of {len(dims)} matrices "
            f"(None for a dimension without one), got {value!r:.80}"
        )
    for i, (m, d) in enumerate(zip(value, dims)):
        if d is None and m is None:
            continue
        want = "None" if d is None else f"a {d}x{d} array"
        if d is None or not isinstance(m, np.ndarray) or m.shape != (d, d):
            got = m.shape if isinstance(m, np.ndarray) else type(m).__name__
            raise ValueError(f"state '{name}[{i}]' of parameter {key} should be {want}, got {got}")
        if m.dtype != dtype:
            raise ValueError(
                f"state '{name}[{i}]' of parameter {key} has dtype {m.dtype}, the parameter "
                f"has {dtype}"
            )
