"""Matrix products: ``matmul`` (numpy/torch broadcasting rules), the strict ``mm``, ``bmm``,
``mv``, ``dot``, ``outer``, ``tensordot``, ``addmm``/``baddbmm``. ``einsum`` is in
:mod:`~tinygrad_opt.ops.einsum` (still importable from here).

``mm``, ``bmm``, ``mv`` and ``dot`` insist on their ranks and on one dtype for both
operands, as torch does (``matmul`` promotes; ``outer`` promotes like ``mul``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function
from tinygrad_opt.errors import DTypeError, ShapeError
from tinygrad_opt.ops.einsum import Einsum, einsum  # noqa: F401  (re-exported)

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "addmm",
    "baddbmm",
    "bmm",
    "dot",
    "ger",
    "inner",
    "matmul",
    "mm",
    "mv",
    "outer",
    "tensordot",
    "trace",
    "vdot",
]


class MatMul(Function):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        # C = A B  ⇒  dA = G Bᵀ,  dB = Aᵀ G. Vectors act as a row (A) or column (B) matrix.
        a, b = self.a, self.b
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        # A gradient is laid out as its input: for a transposed view (Xᵀ) the product is
        # taken transposed, so the gradient flowing on to X is contiguous again and sums
        # with X's other gradients at full speed (same products, same cost).
        ga = gb = None
        if self.needs_grad[0]:
            if _transposed(a2):
                ga = _t(b2 @ _t(g2))
            else:
                ga = g2 @ _t(b2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            if _transposed(b2):
                gb = _t(_t(g2) @ a2)
            else:
                gb = _t(a2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    def vjp(self, g):  # the same products in Tensor ops
        a, b = self.parents
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-2) if a.ndim == 1 else g
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = matmul(g2, b2.transpose(-1, -2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            gb = matmul(a2.transpose(-1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}"
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            return (
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"inner dimensions {k_a} != {k_b}"
            )
        return f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _transposed(a: np.ndarray) -> bool:
    """True for a matrix (stack) stored transposed: swapping its last two axes gives a
    C-contiguous array, while it is not one itself."""
    return not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous


def matmul(input, other):
    """Matrix product with torch's rules: 1-D, 2-D and batched (broadcast) operands."""
    from tinygrad_opt.ops.elementwise import binary_operands

    return MatMul.apply(*binary_operands(input, other))


def _same_dtype(op: str, a, b) -> None:
    if a.dtype != b.dtype:
        raise DTypeError(
            f"{op}: expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}"
        )


def mm(input, mat2):
    """``(n, k) @ (k, m)``: both operands exactly 2-D, of one dtype."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: self must be a matrix, got shapes {input.shape} and {mat2.shape}")
    if input.shape[1] != mat2.shape[0]:
        (n, k), (k2, m) = input.shape, mat2.shape
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
    _same_dtype("mm", input, mat2)
    return MatMul.apply(input, mat2)


def bmm(input, mat2):
    """``(b, n, k) @ (b, k, m)``: both exactly 3-D with the same batch size, one dtype."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError(
            f"bmm: batch1 and batch2 must be 3D tensors, got shapes {input.shape} and {mat2.shape}"
        )
    want = [input.shape[0], input.shape[2]]
    if list(mat2.shape[:2]) != want:
        raise ShapeError(
            f"bmm: Expected size for first two dimensions of batch2 tensor to be: {want} but "
            f"got: {list(mat2.shape[:2])} (shapes {input.shape} and {mat2.shape})."
        )
    _same_dtype("bmm", input, mat2)
    return MatMul.apply(input, mat2)


def mv(input, vec):
    """``(n, m) @ (m,)`` → ``(n,)``."""
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(
            f"mv: vector + matrix @ vector expected, got shapes {input.shape} and {vec.shape}"
        )
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(
            f"mv: size mismatch, got mat ({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})"
        )
    _same_dtype("mv", input, vec)
    return MatMul.apply(input, vec)


def dot(input, other):
    """Σ_i a_i b_i of two 1-D tensors of the same length and dtype (a 0-d result)."""
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(
            f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors "
            f"(shapes {input.shape} and {other.shape})"
        )
    if input.shape != other.shape:
        raise ShapeError(
            f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{other.shape[0]}] to have the same number of elements, but got "
            f"{input.shape[0]} and {other.shape[0]} elements respectively"
        )
    _same_dtype("dot", input, other)
    return MatMul.apply(input, other)


vdot = dot  # real tensors: no conjugation


def trace(input):
    """Σ_i x[i, i] of a 2-D tensor (integers sum to int64)."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    from tinygrad_opt.ops.rearrange import diagonal

    return diagonal(input).sum()


def inner(input, other):
    """Σ over the last dim of both: ``out[i..., j...] = Σ_k a[i..., k] b[j..., k]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def outer(input, vec2):
    """``out[i, j] = a[i] · b[j]`` for 1-D ``a`` and ``b`` (dtypes promote as ``mul``)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise ShapeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def tensordot(a, b, dims: Any = 2):
    """Sum of products over pairs of dims: ``dims`` = n (the last n of ``a`` with the first
    n of ``b``) or two lists ``([dims of a], [dims of b])``. Composed from permute,
    reshape and matmul."""
    from tinygrad_opt.ops.common import dim_index

    if hasattr(dims, "ndim") and dims.ndim == 0:
        dims = int(dims.item())
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise ShapeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise ShapeError(
                f"tensordot: dims {dims} is more than the dims of shapes {a.shape}, {b.shape}"
            )
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        if len(da) != len(db):
            raise ShapeError(
                f"tensordot: both dimension lists should have same length, got {da} and {db}"
            )
    da = [dim_index(d, a.shape, "tensordot") for d in da]
    db = [dim_index(d, b.shape, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise ShapeError(
                f"tensordot: contracted dimensions need to match, but first has size "
                f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}"
            )
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    out_shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    a2 = a.permute(*free_a, *da).reshape(-1, k)
    b2 = b.permute(*db, *free_b).reshape(k, -1)
    return matmul(a2, b2).reshape(out_shape)


def _scaled_sum(input, product, beta: Any, alpha: Any, op: str):
    """β·input + α·product; β = 0 ignores ``input`` (NaN in it does not spread), as torch."""
    try:
        shape = np.broadcast_shapes(input.shape, product.shape)
    except ValueError:
        shape = None
    if shape != product.shape:
        raise ShapeError(
            f"{op}: input of shape {input.shape} does not broadcast to the product's shape "
            f"{product.shape}"
        )
    prod = product if alpha == 1 else product * alpha
    if beta == 0:
        return prod
    return (input if beta == 1 else input * beta) + prod


def addmm(input, mat1, mat2, *, beta: Any = 1, alpha: Any = 1):
    """β·input + α·(mat1 @ mat2); ``input`` broadcasts to the product's shape."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha, "addmm")


def baddbmm(input, batch1, batch2, *, beta: Any = 1, alpha: Any = 1):
    """β·input + α·bmm(batch1, batch2); ``input`` broadcasts to the product's shape."""
    if input.dtype != batch1.dtype:
        raise DTypeError(
            f"baddbmm: expected input and batch1 to have the same dtype, got {input.dtype} "
            f"and {batch1.dtype}"
        )
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha, "baddbmm")


class LinalgMethods:
    """Tensor methods for matrix products."""

    __slots__ = ()

    matmul = matmul
    mm = mm
    bmm = bmm
    mv = mv
    dot = dot
    vdot = vdot
    inner = inner
    outer = ger = outer
    trace = trace
    addmm = addmm
    baddbmm = baddbmm
