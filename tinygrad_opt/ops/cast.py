"""Dtype conversion as a differentiable op (the gradient is cast back)."""

from __future__ import annotations

from tinygrad_opt.autograd.function import Function


class Cast(Function):
    def forward(self, a, dtype):
        self.dtype_in = a.dtype
        return a.astype(dtype)

    def backward(self, g):  # identity, back in the input's precision
        return g.astype(self.dtype_in)
