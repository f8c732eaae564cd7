"""Selection by a mask (``where``, ``masked_fill``); comparisons, logic and the value
tests (``isnan``, ``isclose`` …), which give booleans and no gradient.

The ``logical_*`` functions take any dtype (nonzero is true, nan included) and give
bool; the ``bitwise_*`` ones (``& | ^ ~``) take integers and bools only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import DTYPE_NAMES, get_default_dtype
from tinygrad_opt.errors import DTypeError, ShapeError
from tinygrad_opt.ops.common import lift

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "isnan",
    "isinf",
    "isposinf",
    "isneginf",
    "isfinite",
    "isclose",
    "allclose",
    "where",
    "masked_fill",
]


def _dtype_name(d: np.dtype) -> str:
    return DTYPE_NAMES.get(d, str(d))


_BITS = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _is_plus_zero(a: np.ndarray) -> bool:
    return a.ndim == 0 and a == 0 and not np.signbit(a)


def keep_where(condition: np.ndarray, a: np.ndarray, keep: bool = True) -> np.ndarray | None:
    """``np.where(condition, a, 0)`` (``keep=False``: ``np.where(condition, 0, a)``) for a
    float32/64 ``a`` of the result's full shape, or None when that does not apply.

    Bit for bit the same result (nan, inf and the sign of zero kept where selected, +0
    elsewhere) without ``np.where``'s data-dependent branch, which costs ~15× more on an
    irregular mask (a ReLU's): the mask widens to all-ones/all-zeros words that are
    and-ed with ``a``'s bits."""
    bits = _BITS.get(a.dtype)
    if bits is None or a.size < 1024 or getattr(condition, "dtype", None) != np.bool_:
        return None  # (small arrays: np.where is as fast)
    if a.ndim < condition.ndim:
        return None
    if np.broadcast_shapes(condition.shape, a.shape) != a.shape:
        return None
    words = np.empty(a.shape, dtype=bits)
    # True -> -1 (all ones), False -> 0; or the other way round
    if keep:
        np.negative(condition, out=words, dtype=bits, casting="unsafe")
    else:
        np.subtract(condition, 1, out=words, dtype=bits, casting="unsafe")
    np.bitwise_and(words, np.ascontiguousarray(a).view(bits), out=words)
    return words.view(a.dtype)


class Where(Function):
    saves_inputs = False

    def forward(self, a, b, condition):
        self.cond = condition
        if _is_plus_zero(b) and b.dtype == a.dtype:
            out = keep_where(condition, a)
            if out is not None:
                return out
        elif _is_plus_zero(a) and a.dtype == b.dtype:
            out = keep_where(condition, b, keep=False)
            if out is not None:
                return out
        return np.where(condition, a, b)

    def backward(self, g):  # the gradient flows to whichever input was picked
        zero = np.zeros((), dtype=g.dtype)
        ga = gb = None
        if self.needs_grad[0]:
            ga = keep_where(self.cond, g)
            ga = np.where(self.cond, g, zero) if ga is None else ga
        if self.needs_grad[1]:
            gb = keep_where(self.cond, g, keep=False)
            gb = np.where(self.cond, zero, g) if gb is None else gb
        return ga, gb

    def vjp(self, g):  # the same selections, as where nodes (linear in g: any order)
        zero = constant(np.zeros((), dtype=g._data.dtype))
        ga = Where.apply(g, zero, condition=self.cond) if self.needs_grad[0] else None
        gb = Where.apply(zero, g, condition=self.cond) if self.needs_grad[1] else None
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        c = params["condition"].shape
        return f"where: condition {c}, a {a.shape} and b {b.shape} cannot be broadcast together"


class MaskedFill(Where):
    """``where(mask, value, input)``: the value (a 0-d tensor) gets the sum of the
    gradient over the filled places, the input the gradient elsewhere."""

    def describe_error(self, inputs, params, err):
        shape = inputs[1].shape
        mask = params["condition"].shape
        return f"masked_fill: mask of shape {mask} and input of shape {shape} cannot be broadcast"


class Compare(Function):
    """An elementwise comparison or logical op: a boolean (or integer) result, no gradient."""

    def forward(self, a, b, ufunc):
        self.ufunc = ufunc
        return ufunc(a, b)

    def describe_error(self, inputs, params, err):
        a, b = inputs
        name = params["ufunc"].__name__
        return f"{name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


def _compare(ufunc, a: Any, b: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    return Compare.apply(*binary_operands(a, b), ufunc=ufunc)


def eq(input: Any, other: Any):
    """input == other, elementwise (bool)."""
    return _compare(np.equal, input, other)


def ne(input: Any, other: Any):
    return _compare(np.not_equal, input, other)


def lt(input: Any, other: Any):
    return _compare(np.less, input, other)


def le(input: Any, other: Any):
    return _compare(np.less_equal, input, other)


def gt(input: Any, other: Any):
    return _compare(np.greater, input, other)


def ge(input: Any, other: Any):
    return _compare(np.greater_equal, input, other)


def _integral(name: str, *xs):
    for x in xs:
        if x._data.dtype.kind == "f":
            raise TypeError(f"{name}: only integer and bool tensors, got dtype {x.dtype}")


def bitwise_and(input: Any, other: Any):
    """``&``: logical and for bool tensors, bitwise and for integers."""
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_and", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_and)


def bitwise_or(input: Any, other: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_or", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_or)


def bitwise_xor(input: Any, other: Any):
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    _integral("bitwise_xor", a, b)
    return Compare.apply(a, b, ufunc=np.bitwise_xor)


def bitwise_not(input: Any):
    """``~``: logical not for bool tensors, bitwise not for integers."""
    _integral("bitwise_not", input)
    return tensor_type()(np.invert(input._data))


def where(condition: Any, input: Any = None, other: Any = None):
    """Elementwise ``input`` where ``condition`` is true, else ``other`` (torch.where).

    The branches may be tensors or numbers and broadcast against the condition; the
    result dtype is their promotion (``where(c, x_f32, 0.0)`` is float32, ``where(c, 1,
    0)`` int64). The condition must be bool (a bool array or list will do) and gets no
    gradient. ``where(condition)`` alone is ``nonzero(as_tuple=True)``.
    """
    T = tensor_type()
    cond = condition._data if isinstance(condition, T) else np.asarray(condition)
    if input is None and other is None:
        return tuple(T(i) for i in np.nonzero(cond))
    if cond.dtype == np.uint8:  # torch still accepts (deprecated) byte masks
        cond = cond.astype(bool)
    elif cond.dtype != np.bool_:
        raise DTypeError(
            f"where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{_dtype_name(cond.dtype)}"
        )
    from tinygrad_opt.ops.elementwise import binary_operands

    a, b = binary_operands(input, other)
    return Where.apply(a, b, condition=cond)


def _logical(ufunc: Any, input: Any, other: Any):
    T = tensor_type()
    a = input if isinstance(input, T) else T(np.asarray(input))
    b = other if isinstance(other, T) else T(np.asarray(other))
    return Compare.apply(a, b, ufunc=ufunc)


def logical_and(input: Any, other: Any):
    """True where both are nonzero (any dtypes, broadcasting); bool."""
    return _logical(np.logical_and, input, other)


def logical_or(input: Any, other: Any):
    """True where either is nonzero; bool."""
    return _logical(np.logical_or, input, other)


def logical_xor(input: Any, other: Any):
    """True where exactly one is nonzero; bool."""
    return _logical(np.logical_xor, input, other)


def logical_not(input: Any):
    """True where the input is zero (nan counts as nonzero); bool."""
    return tensor_type()(np.logical_not(input._data))


def _value_test(input: Any, test: Any, default: bool):
    """``test`` of a float tensor's values; ints and bools are all ``default``."""
    data = input._data
    if data.dtype.kind == "f":
        return tensor_type()(test(data))
    return tensor_type()(np.full(data.shape, default))


def isnan(input: Any):
    """True where the value is nan."""
    return _value_test(input, np.isnan, False)


def isinf(input: Any):
    """True where the value is +inf or −inf."""
    return _value_test(input, np.isinf, False)


def isposinf(input: Any):
    return _value_test(input, np.isposinf, False)


def isneginf(input: Any):
    return _value_test(input, np.isneginf, False)


def isfinite(input: Any):
    """True where the value is neither inf nor nan (always, for integers and bools)."""
    return _value_test(input, np.isfinite, True)


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float, equal_nan: bool):
    """torch's closeness test: a == b, or |a − b| <= atol + |rtol·b| with |a − b| finite.
    For integers the tolerance is computed in the default float dtype, as torch."""
    close = a == b
    if equal_nan and a.dtype.kind == "f":
        close = close | (np.isnan(a) & np.isnan(b))
    if rtol == 0 and atol == 0:
        return close
    if a.dtype.kind == "b":
        a, b = a.astype(get_default_dtype()), b.astype(get_default_dtype())
    with np.errstate(invalid="ignore", over="ignore"):
        if a.dtype.kind == "f":
            allowed = atol + np.abs(rtol * b)
            actual = np.abs(a - b)
            return close | (np.isfinite(actual) & (actual <= allowed))
        allowed = atol + np.abs(rtol * b.astype(get_default_dtype()))
        actual = np.abs(a - b).astype(allowed.dtype)
        return close | (actual <= allowed)


def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
):
    """True where |input − other| <= atol + rtol·|other| (elementwise, broadcasting).

    Infinities are close only to themselves; nan is close to nan only with
    ``equal_nan=True``. Both tensors must have the same dtype, as in torch."""
    T = tensor_type()
    a = input if isinstance(input, T) else T(np.asarray(input))
    b = lift(other, a)
    if a.dtype != b.dtype:
        raise DTypeError(f"isclose: {_dtype_name(a.dtype)} did not match {_dtype_name(b.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")

    def isclose(x, y):  # named for Compare's error message
        return _close(x, y, rtol, atol, equal_nan)

    return Compare.apply(a, b, ufunc=isclose)


def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """Whether every element of ``input`` is close to ``other`` (see :func:`isclose`);
    a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def masked_fill(input: Any, mask: Any, value: Any):
    """A copy of ``input`` with ``value`` where ``mask`` is true (mask and input
    broadcast). ``value`` is a number or a 0-d tensor, cast to ``input``'s dtype; a 0-d
    tensor that requires grad gets the sum of the gradient over the filled places."""
    T = tensor_type()
    m = mask._data if isinstance(mask, T) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{_dtype_name(m.dtype)}"
        )
    if isinstance(value, T):
        if value.ndim:
            raise ShapeError(
                f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor "
                f"with {value.ndim} dimension(s)."
            )
        v = value if value.dtype == input.dtype else value.to(input.dtype)
    else:
        v = T(np.asarray(value).astype(input.dtype))
    return MaskedFill.apply(v, input, condition=m)


class CompareMethods:
    """Tensor methods for comparisons, logic and selection."""

    __slots__ = ()

    eq = eq
    ne = not_equal = ne
    lt = less = lt
    le = less_equal = le
    gt = greater = gt
    ge = greater_equal = ge
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    bitwise_not = bitwise_not
    logical_and = logical_and
    logical_or = logical_or
    logical_xor = logical_xor
    logical_not = logical_not
    isnan = isnan
    isinf = isinf
    isposinf = isposinf
    isneginf = isneginf
    isfinite = isfinite
    isclose = isclose
    allclose = allclose
    masked_fill = masked_fill

    def where(self, condition: Any, other: Any):
        """``self.where(condition, other)`` is ``where(condition, self, other)``."""
        return where(condition, self, other)

    def masked_fill_(self, mask: Any, value: Any):
        """In-place :func:`masked_fill`; the mask must broadcast to this tensor's shape."""
        shape = np.shape(mask._data if isinstance(mask, tensor_type()) else mask)
        try:
            fits = np.broadcast_shapes(shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"masked_fill_: mask of shape {shape} does not broadcast to the tensor's "
                f"shape {self.shape}"
            )
        return self._inplace(lambda old: masked_fill(old, mask, value))

    def _logical_inplace(self, fn: Any, *args: Any):
        # torch keeps the tensor's dtype: the bools become 0/1
        return self._inplace(lambda old: fn(old, *args).to(self.dtype))

    def logical_and_(self, other: Any):
        return self._logical_inplace(logical_and, other)

    def logical_or_(self, other: Any):
        return self._logical_inplace(logical_or, other)

    def logical_xor_(self, other: Any):
        return self._logical_inplace(logical_xor, other)

    def logical_not_(self):
        return self._logical_inplace(logical_not)
