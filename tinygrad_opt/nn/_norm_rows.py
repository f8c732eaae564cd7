"""Row kernels of the normalisations, and the nodes their second derivatives are built from.

The layer, group and batch-free norms view their input as an (M, N) matrix of M groups
("rows") of N values. Per row: μ the mean, σ² the biased variance, σ = √(σ² + ε) and
x̂ = (x - μ)/σ. Given ĝ = dL/dx̂,

    dx = (1/σ)(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))                              (1)

(means over the row). The fused forwards and backwards live in ``layer_norm.py``; the
derivative of (1) itself, needed for Hessian-vector products, is the node
:class:`NormAffineBackward` here, and x̂ as a function of x is :class:`RowNormalize`.
Both take their values from the forward (nothing is recomputed) and have a composite,
the same formula in Tensor ops, for derivatives of any higher order.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.parallel import CHUNK_ELEMENTS, for_each_chunk
from tinygrad_opt.tensor import Function, Tensor

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def row_mean(a: np.ndarray) -> np.ndarray:
    """Mean of each row of a 2-D array, shape (M, 1). For float32/64 the row sums are a
    matrix-vector product (BLAS), several times faster than numpy's reduction along a
    short last axis."""
    if a.dtype in (np.float32, np.float64):
        with np.errstate(invalid="ignore", divide="ignore"):  # no columns: nan, as mean
            return (a @ np.ones(a.shape[1], dtype=a.dtype))[:, None] / a.shape[1]
    return a.mean(axis=1, keepdims=True)


def row_dot_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """mean(a·b) of each row of two 2-D arrays, shape (M, 1), without the product array."""
    with np.errstate(invalid="ignore", divide="ignore"):  # no columns: nan, as mean
        return np.einsum("ij,ij->i", a, b)[:, None] / a.shape[1]


def normalize_rows(x2: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """x̂ = (x - μ)/√(σ² + ε) per row of ``x2`` (M, N); returns (x̂, 1/σ of shape (M, 1)).

    Big float arrays are done in blocks of rows on the intra-op threads
    (:mod:`tinygrad_opt.parallel`), each block's passes staying in cache."""
    m, n = x2.shape
    if x2.dtype not in _FLOATS or x2.size < 2 * CHUNK_ELEMENTS:
        return _normalize_block(x2, eps)
    xhat = np.empty((m, n), dtype=x2.dtype)
    invstd = np.empty((m, 1), dtype=x2.dtype)

    def block(i: int, j: int) -> None:
        _normalize_block(x2[i:j], eps, xhat[i:j], invstd[i:j])

    for_each_chunk(block, m, max(1, CHUNK_ELEMENTS // n))
    return xhat, invstd


def _normalize_block(x2, eps, xhat=None, invstd=None):
    centred = np.subtract(x2, row_mean(x2), out=xhat)
    var = row_dot_mean(centred, centred)
    inv = 1.0 / np.sqrt(var + eps)
    if invstd is None:
        invstd = inv
    else:
        invstd[...] = inv
    centred *= inv.astype(centred.dtype, copy=False)
    return centred, invstd


def normalize_rows_backward(
    gh: np.ndarray, xhat: np.ndarray, invstd: np.ndarray, extra: np.ndarray | None = None
) -> np.ndarray:
    """dx = (1/σ)(ĝ - mean(ĝ) - x̂·(mean(ĝ·x̂) + e)) per row, given ĝ = dL/dx̂ (M, N) and
    an optional extra x̂ coefficient e (M, 1) (0 for the plain backward): one new array,
    worked on in place (in blocks of rows on the intra-op threads when big)."""
    dx = np.empty(gh.shape, dtype=gh.dtype)
    m, n = gh.shape
    if gh.dtype not in _FLOATS or gh.size < 2 * CHUNK_ELEMENTS:
        _backward_block(gh, xhat, invstd, extra, dx)
        return dx
    per_row = extra is not None and np.ndim(extra) == 2 and np.shape(extra)[0] == m

    def block(i: int, j: int) -> None:
        e = extra[i:j] if per_row else extra
        _backward_block(gh[i:j], xhat[i:j], invstd[i:j], e, dx[i:j])

    for_each_chunk(block, m, max(1, CHUNK_ELEMENTS // n))
    return dx


def _backward_block(gh, xhat, invstd, extra, dx) -> None:
    coef = row_dot_mean(gh, xhat)
    if extra is not None:
        coef = coef + extra
    np.multiply(xhat, coef, out=dx, casting="same_kind")
    np.subtract(gh, dx, out=dx)
    dx -= row_mean(gh)
    dx *= invstd.astype(dx.dtype, copy=False)


def normalize_tensor(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """x̂ = (x - μ)/√(σ² + ε) over ``axes`` in differentiable Tensor ops (the composites'
    half of :func:`normalize_rows`)."""
    centred = x - x.mean(axes, keepdim=True)
    var = (centred * centred).mean(axes, keepdim=True)
    return centred / (var + eps).sqrt()


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ_j a[i, j]·b[i, j] per row, shape (M, 1)."""
    return np.einsum("ij,ij->i", a, b)[:, None]


class RowNormalize(Function):
    """x̂ = (x - μ)/√(σ² + ε) per row of a 2-D x: a node of the norms' vjp graphs.

    Its value is the x̂ the fused forward computed (passed in ``xhat``, with ``invstd``):
    nothing is recomputed. Backward is :func:`normalize_rows_backward`; the composite
    (:func:`normalize_tensor`) gives the derivatives of higher order."""

    def forward(self, x, *, eps, xhat, invstd):
        self.xhat, self.invstd = xhat, invstd
        return xhat

    def backward(self, g):
        return normalize_rows_backward(g, self.xhat, self.invstd)

    def composite(self, x, *, eps, xhat, invstd):
        return normalize_tensor(x, (1,), eps)


class NormAffineBackward(Function):
    """dx of an affine row norm as a function of (g, x[, w]): a node of its vjp graph.

    ``g`` (the gradient of y = x̂·w + b) is viewed as ``view`` and multiplied by ``w``
    (reshaped to ``pshape``), giving ĝ; then (1) with the forward's x̂ and 1/σ. With s = 1/σ,
    N(u) = u - mean(u) - x̂·mean(u·x̂) (so dx = s·N(ĝ); N is symmetric), A = mean(ĝ),
    B = mean(ĝ·x̂) and U the gradient of dx, the backward is

        dĝ = s·N(U)                        (then dg = dĝ·w, dw = Σ dĝ·g over ``axes``)
        dx = s·N(V) - (c s²/N) x̂,   V = -s B U - (s/N)(Σ U·x̂) ĝ,   c = Σ U·N(ĝ)

    (the path through x̂ and through s = (σ² + ε)^(-1/2), whose derivative is
    -s² x̂/N); the sums run over each row.
    """

    name = "norm_backward"

    def forward(self, g, x, *w, eps, xhat, invstd, view, pshape, axes):
        self.xhat, self.invstd, self.view, self.axes = xhat, invstd, view, axes
        self.g_shape, self.x_shape = g.shape, x.shape
        self.gv = gv = g.reshape(view)
        self.w = w[0].reshape(pshape) if w else None
        self.w_shape = w[0].shape if w else None
        gh = (gv if self.w is None else gv * self.w).reshape(xhat.shape)
        s = invstd.astype(gh.dtype, copy=False)
        self.a, self.b = row_mean(gh), row_dot_mean(gh, xhat)
        dx = (xhat * self.b).astype(gh.dtype, copy=False)
        np.subtract(gh, dx, out=dx)
        dx -= self.a
        dx *= s
        return dx.reshape(x.shape)

    def backward(self, u):
        xhat, w = self.xhat, self.w
        gh = (self.gv if w is None else self.gv * w).reshape(xhat.shape)  # ĝ again
        s = self.invstd.astype(gh.dtype, copy=False)
        n = xhat.shape[1]
        u = u.reshape(xhat.shape)
        need_g, need_x = self.needs_grad[:2]
        need_w = len(self.needs_grad) > 2 and self.needs_grad[2]
        dg = dx = dw = None
        if need_g or need_w:
            dgh = normalize_rows_backward(u, xhat, s).reshape(self.view)
            if need_w:
                dw = sum_of_products(dgh, self.gv, self.axes).reshape(self.w_shape)
            if need_g:
                dg = (dgh if w is None else np.multiply(dgh, w, out=dgh)).reshape(self.g_shape)
        if need_x:
            u_xhat = _row_dot(u, xhat)
            c = _row_dot(u, gh) - self.a * (row_mean(u) * n) - self.b * u_xhat
            v = u * (-s * self.b)
            scratch = gh if w is not None else None  # ĝ is ours when recomputed: reuse it
            v -= np.multiply(gh, s * u_xhat / n, out=scratch)
            # the path through s: -(c s²/N) x̂ = s · (-x̂ · c s/N), an extra x̂ coefficient
            dx = normalize_rows_backward(v, xhat, s, extra=c * s / n).reshape(self.x_shape)
        return (dg, dx, dw) if w is not None else (dg, dx)

    def composite(self, g, x, *w, eps, xhat, invstd, view, pshape, axes):
        gh = g.reshape(view)
        if w:
            gh = gh * w[0].reshape(pshape)
        gh = gh.reshape(xhat.shape)
        rows = x.reshape(xhat.shape)
        centred = rows - rows.mean(1, keepdim=True)
        s = ((centred * centred).mean(1, keepdim=True) + eps).rsqrt()
        xh = centred * s
        dx = s * (gh - gh.mean(1, keepdim=True) - xh * (gh * xh).mean(1, keepdim=True))
        return dx.reshape(x.shape)


def sum_of_products(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Σ a·b over ``axes`` (a and b of one shape), without the product array."""
    labels = "abcdefghijklmnopqrstuvwxyz"[: a.ndim]
    kept = "".join(lab for i, lab in enumerate(labels) if i not in axes)
    return np.asarray(np.einsum(f"{labels},{labels}->{kept}", a, b))


class SumOfProducts(Function):
    """Σ a·b over ``axes`` (a and b of one shape) without the product array: a node of
    the norms' vjp graphs (dw = Σ g·x̂). Backward: da = u·b, db = u·a, u broadcast back."""

    name = "sum_of_products"

    def forward(self, a, b, *, axes):
        self.a, self.b, self.axes = a, b, axes
        return sum_of_products(a, b, axes)

    def backward(self, u):
        u = np.expand_dims(u, self.axes)
        da = u * self.b if self.needs_grad[0] else None
        db = u * self.a if self.needs_grad[1] else None
        return da, db

    def composite(self, a, b, *, axes):
        return (a * b).sum(axes)
