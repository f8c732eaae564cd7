"""Dtype conversion as a differentiable op (the gradient is cast back), and the tensor
methods that convert (``to``, ``float``, ``long`` …: ``CastMethods``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_opt import dtypes as _dt
from tinygrad_opt.autograd.function import Function, tensor_type

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

__all__ = ["Cast", "CastMethods"]


class Cast(Function):
    saves_inputs = False

    def forward(self, a, dtype):
        self.dtype_in = a.dtype
        return a.astype(dtype)

    def backward(self, g):  # identity, back in the input's precision
        return g.astype(self.dtype_in)

    def vjp(self, g):  # the cast back, as a node (its own vjp casts forward again)
        return g if g._data.dtype == self.dtype_in else Cast.apply(g, dtype=self.dtype_in)


class CastMethods:
    """Tensor methods converting the dtype (a :class:`Cast` node, so gradients flow)."""

    __slots__ = ()

    def to(self, *args: Any, dtype: Any = None, copy: bool = False, **kw: Any) -> Tensor:
        """``t.to(dtype)`` / ``t.to("cpu")`` / ``t.to(other_tensor)``: a converted tensor."""
        for a in args:
            if isinstance(a, tensor_type()):
                dtype = a.dtype
            elif isinstance(a, str) and a.startswith("cpu"):
                continue
            elif a is not None:
                dtype = a
        if dtype is None:
            return self.clone() if copy else self
        d = _dt.to_dtype(dtype)
        if d == self.dtype and not copy:
            return self
        return Cast.apply(self, dtype=d)

    def type(self, dtype: Any = None) -> Any:
        return str(self.dtype) if dtype is None else self.to(dtype)

    def astype(self, dtype: Any) -> Tensor:
        return self.to(dtype)

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def half(self) -> Tensor:
        return self.to(_dt.float16)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def int(self) -> Tensor:
        return self.to(_dt.int32)

    def short(self) -> Tensor:
        return self.to(_dt.int16)

    def bool(self) -> Tensor:
        return self.to(_dt.bool_)

    def byte(self) -> Tensor:
        return self.to(_dt.uint8)

    def cpu(self) -> Tensor:
        return self
