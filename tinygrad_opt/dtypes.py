"""Tensor dtypes and torch's type-promotion rules.

Dtypes are numpy dtypes, also exported under torch's names (``tinygrad_opt.float32``,
``.long``, ``.bool`` …). Floating tensors (float16/32/64) can require gradients;
integer and boolean tensors cannot (as in torch).

Promotion (what dtype ``a + b`` has) follows torch, not numpy. Operands fall in three
groups: tensors with at least one dimension, 0-d tensors, and Python numbers. Each
group's dtype is the promotion of its members; the groups are then combined so that a
lower group only counts when it is of a *higher category* (bool < integer < float):

- ``int32 tensor + int64 0-d tensor`` → int32 (same category: the 0-d one does not count)
- ``float32 tensor + 2.5`` → float32; ``int64 tensor + 2.5`` → the default float dtype
- ``int64 tensor + float32 tensor`` → float32 (numpy would say float64)

Within a category the wider type wins; an integer/bool type meeting a float type gives
the float type.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

__all__ = [
    "DTYPE_NAMES",
    "get_default_dtype",
    "is_floating",
    "promote_types",
    "result_type",
    "set_default_dtype",
    "to_dtype",
]

float16 = half = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
uint8 = np.dtype(np.uint8)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

#: torch's spelling of each dtype, for messages (``torch.float32`` prints ``Float``).
DTYPE_NAMES = {
    float16: "Half",
    float32: "Float",
    float64: "Double",
    uint8: "Byte",
    int8: "Char",
    int16: "Short",
    int32: "Int",
    int64: "Long",
    bool_: "Bool",
}

_default_float = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (float32 or float64) the default floating dtype, as torch's."""
    d = np.dtype(dtype)
    if d not in (float16, float32, float64):
        raise TypeError(f"set_default_dtype: only floating dtypes are supported, got {d}")
    _default_float[0] = d


def to_dtype(dtype: Any) -> np.dtype:
    """Normalise a dtype given as numpy dtype/type, Python type or torch-style name."""
    if dtype is builtins.float:
        return get_default_dtype()
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool_
    if isinstance(dtype, str) and dtype in ("long", "int", "float", "double", "half", "bool"):
        return {"long": int64, "int": int32, "float": float32, "double": float64,
                "half": float16, "bool": bool_}[dtype]  # fmt: skip
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None
    if d.kind not in "biuf":
        raise TypeError(f"tensors hold bool, integer or floating numbers; got dtype {d}")
    return d


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def _category(d: np.dtype) -> int:
    return 2 if d.kind == "f" else 0 if d.kind == "b" else 1


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the smallest dtype both cast to safely, floats winning."""
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Let ``lower`` (a weaker group) count only if it is of a higher category."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(lower) > _category(higher):
        return promote_types(higher, lower)
    return higher


def _python_number_dtype(x: Any) -> np.dtype:
    if isinstance(x, (builtins.bool, np.bool_)):
        return bool_
    if isinstance(x, (builtins.int, np.integer)):
        return int64
    return get_default_dtype()


def result_type(*operands: Any) -> np.dtype:
    """The dtype of an elementwise op on ``operands`` (Tensors, arrays or numbers)."""
    dims: np.dtype | None = None
    zero: np.dtype | None = None
    wrapped: np.dtype | None = None
    for x in operands:
        arr = getattr(x, "_data", None)
        if arr is None and isinstance(x, np.ndarray):
            arr = x
        if arr is None:
            d = _python_number_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
        elif arr.ndim:
            dims = arr.dtype if dims is None else promote_types(dims, arr.dtype)
        else:
            zero = arr.dtype if zero is None else promote_types(zero, arr.dtype)
    out = _combine(dims, _combine(zero, wrapped))
    return out if out is not None else get_default_dtype()


# torch's names that shadow builtins, defined last so the code above sees the builtins
bool = bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001
