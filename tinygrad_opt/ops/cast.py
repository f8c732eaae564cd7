"""Dtype conversion as a differentiable op (the gradient is cast back)."""

from __future__ import annotations

from tinygrad_opt.autograd.function import Function


class Cast(Function):
    saves_inputs = False

    def forward(self, a, dtype):
        self.dtype_in = a.dtype
        return a.astype(dtype)

    def backward(self, g):  # identity, back in the input's precision
        return g.astype(self.dtype_in)

    def vjp(self, g):  # the cast back, as a node (its own vjp casts forward again)
        return g if g._data.dtype == self.dtype_in else Cast.apply(g, dtype=self.dtype_in)
