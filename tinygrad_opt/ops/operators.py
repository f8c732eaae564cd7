"""Python's operators on tensors and the in-place arithmetic methods (``OperatorMethods``).

``a + b``, ``a @ b``, ``a[i]``, ``a == b`` … call the ops of their modules
(:mod:`.elementwise`, :mod:`.linalg`, :mod:`.index`, :mod:`.compare`); ``add_``,
``mul_``, ``+=`` … compute the new value on a stand-in for the old one and make it the
tensor's value through ``Tensor._inplace`` / ``Tensor._assign`` (version counting and
rebasing live there, in :mod:`tinygrad_opt.tensor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import no_grad, tensor_type
from tinygrad_opt.ops import compare as _cmp
from tinygrad_opt.ops import elementwise as _ew
from tinygrad_opt.ops import index as _ix
from tinygrad_opt.ops import linalg as _la
from tinygrad_opt.ops import shape as _sh
from tinygrad_opt.ops.common import lift

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

__all__ = ["OperatorMethods"]


class OperatorMethods:
    """Tensor methods: the in-place arithmetic (``*_``, ``+=`` …) and Python's operators."""

    __slots__ = ()

    def copy_(self, src: Any) -> Tensor:
        src = lift(src, self)
        return self._inplace(lambda old: _sh.expand_as_copy(src, old))

    def zero_(self) -> Tensor:
        with no_grad():
            return self._assign(tensor_type()(np.zeros(self.shape, dtype=self.dtype)))

    def fill_(self, value: Any) -> Tensor:
        with no_grad():
            return self._assign(tensor_type()(np.full(self.shape, value, dtype=self.dtype)))

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace(lambda old: old.add(other, alpha=alpha))

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace(lambda old: old.sub(other, alpha=alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace(lambda old: old * other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace(lambda old: old / other)

    def pow_(self, other: Any) -> Tensor:
        return self._inplace(lambda old: old**other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace(lambda old: old.clamp(min, max))

    clip_ = clamp_

    def neg_(self) -> Tensor:
        return self._inplace(lambda old: -old)

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    # Python operators
    def __add__(self, other: Any) -> Tensor:
        return _ew.Add.apply(*_ew.binary_operands(self, other))

    def __radd__(self, other: Any) -> Tensor:
        return _ew.Add.apply(*_ew.binary_operands(other, self))

    def __sub__(self, other: Any) -> Tensor:
        return _ew.Sub.apply(*_ew.binary_operands(self, other))

    def __rsub__(self, other: Any) -> Tensor:
        return _ew.Sub.apply(*_ew.binary_operands(other, self))

    def __mul__(self, other: Any) -> Tensor:
        return _ew.Mul.apply(*_ew.binary_operands(self, other))

    def __rmul__(self, other: Any) -> Tensor:
        return _ew.Mul.apply(*_ew.binary_operands(other, self))

    def __truediv__(self, other: Any) -> Tensor:
        return _ew.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ew.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ew.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ew.pow(other, self)

    def __neg__(self) -> Tensor:
        return _ew.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ew.abs(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _la.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _la.matmul(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ix.getitem(self, index)

    # comparisons (bool results, no gradient) and logic on bool tensors
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _cmp.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _cmp.ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _cmp.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _cmp.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _cmp.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _cmp.ge(self, other)

    def __invert__(self) -> Tensor:
        return _cmp.bitwise_not(self)

    def __and__(self, other: Any) -> Tensor:
        return _cmp.bitwise_and(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _cmp.bitwise_and(other, self)

    def __or__(self, other: Any) -> Tensor:
        return _cmp.bitwise_or(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _cmp.bitwise_or(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _cmp.bitwise_xor(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _cmp.bitwise_xor(other, self)
