"""Matrix products."""

from __future__ import annotations

import numpy as np

from tinygrad_opt.autograd.function import Function

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "matmul",
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
        ga = gb = None
        if self.needs_grad[0]:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g2
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


def matmul(input, other):
    """Matrix product with torch's rules: 1-D, 2-D and batched (broadcast) operands."""
    from tinygrad_opt.ops.elementwise import binary_operands

    return MatMul.apply(*binary_operands(input, other))


class LinalgMethods:
    """Tensor methods for matrix products."""

    __slots__ = ()

    matmul = matmul
