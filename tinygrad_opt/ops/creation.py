"""Tensors made from a shape, a range or data: zeros, ones, full, arange, linspace, eye,
``meshgrid``, ``as_tensor``, ``from_numpy`` (random ones: ``sampling.py``).

Dtypes follow torch: floating results take the default dtype (float32) unless ``dtype=``
says otherwise; ``arange`` of integers and ``full`` with an int are int64, ``full`` with
a bool is bool. ``arange`` and ``linspace`` reproduce torch's float32 arithmetic on CPU
(see :func:`_arange_values` and :func:`_linspace_values`), so their float32 values are
bit-identical to torch's. ``device`` may only be None or "cpu".
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import tensor_type
from tinygrad_opt.dtypes import get_default_dtype, int64, to_dtype
from tinygrad_opt.errors import DTypeError, ShapeError

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "arange",
    "as_tensor",
    "empty",
    "empty_like",
    "eye",
    "from_numpy",
    "full",
    "full_like",
    "linspace",
    "logspace",
    "meshgrid",
    "ones",
    "ones_like",
    "tril_indices",
    "triu_indices",
    "zeros",
    "zeros_like",
]


def _dtype(dtype: Any, default: Any = None) -> np.dtype:
    if dtype is not None:
        return to_dtype(dtype)
    return default if default is not None else get_default_dtype()


def _device(device: Any) -> None:
    if device is not None and not str(device).startswith("cpu"):
        raise RuntimeError(f"device {device!r} is not available: tensors live on the cpu only")


def _size(size: tuple, op: str) -> tuple[int, ...]:
    """``f(2, 3)`` / ``f((2, 3))`` / ``f([2, 3])`` → ``(2, 3)``, checked non-negative."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(int(s) for s in size)
    for s in shape:
        if s < 0:
            raise ShapeError(
                f"{op}: Trying to create tensor with negative dimension {s}: {list(shape)}"
            )
    return shape


def _make(arr: np.ndarray, requires_grad: bool, name: str | None = None) -> Any:
    """A new leaf around ``arr``; ``name`` labels it in graph drawings (``viz``)."""
    return tensor_type()(arr, requires_grad=requires_grad, name=name)


# --------------------------------------------------------------------------- constant fills
def zeros(
    *size: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Any:
    """A tensor of zeros of shape ``size`` (``zeros(2, 3)`` or ``zeros((2, 3))``)."""
    _device(device)
    return _make(np.zeros(_size(size, "zeros"), dtype=_dtype(dtype)), requires_grad, name)


def ones(
    *size: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Any:
    """A tensor of ones of shape ``size``."""
    _device(device)
    return _make(np.ones(_size(size, "ones"), dtype=_dtype(dtype)), requires_grad, name)


def empty(
    *size: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    name: str | None = None,
) -> Any:
    """An 'uninitialised' tensor: zeros here (numpy's garbage would only hide bugs)."""
    _device(device)
    return _make(np.zeros(_size(size, "empty"), dtype=_dtype(dtype)), requires_grad, name)


def _fill_dtype(fill_value: Any) -> np.dtype:
    """torch's dtype for ``full(size, v)``: bool → bool, int → int64, float → default."""
    if isinstance(fill_value, tensor_type()):
        fill_value = fill_value.item()
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(fill_value, (int, np.integer)):
        return int64
    return get_default_dtype()


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """A tensor of shape ``size`` filled with ``fill_value``; the dtype comes from the value
    (bool, int64 or the default float) unless ``dtype`` is given."""
    _device(device)
    d = _fill_dtype(fill_value) if dtype is None else to_dtype(dtype)
    if isinstance(fill_value, tensor_type()):
        fill_value = fill_value.item()
    return _make(np.full(_size((size,), "full"), fill_value, dtype=d), requires_grad)


def zeros_like(input: Any, *, dtype: Any = None, device: Any = None, requires_grad=False) -> Any:
    _device(device)
    return _make(np.zeros(input.shape, dtype=_dtype(dtype, input.dtype)), requires_grad)


def ones_like(input: Any, *, dtype: Any = None, device: Any = None, requires_grad=False) -> Any:
    _device(device)
    return _make(np.ones(input.shape, dtype=_dtype(dtype, input.dtype)), requires_grad)


def empty_like(input: Any, *, dtype: Any = None, device: Any = None, requires_grad=False) -> Any:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(
    input: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """``input``'s shape filled with ``fill_value``, in ``input``'s dtype unless given."""
    _device(device)
    arr = np.full(input.shape, fill_value, dtype=_dtype(dtype, input.dtype))
    return _make(arr, requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """The n×m identity matrix (m = n by default)."""
    _device(device)
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise ShapeError(f"eye: {name} must be greater or equal to 0, got {v}")
    return _make(np.eye(n, n if m is None else m, dtype=_dtype(dtype)), requires_grad)


# --------------------------------------------------------------------------- ranges
def _number(v: Any) -> Any:
    return v.item() if isinstance(v, tensor_type()) else v


def _arange_values(start: float, step: float, n: int, dtype: np.dtype) -> np.ndarray:
    """torch's CPU arange values: ``start + i·step`` in double, rounded to ``dtype``.

    For float32, torch's vectorised kernel computes each block of 8 from its first
    element rounded to float32 (``base + k·step``, k < 8), over the largest multiple of
    16 elements; the rest element by element. Reproducing that gives torch's exact
    bits (and differs from the plain formula by one ulp here and there)."""
    i = np.arange(n, dtype=np.float64)
    plain = start + i * step
    if dtype != np.float32:
        return plain.astype(dtype)
    idx = np.arange(n)
    block = idx // 8 * 8
    base = (start + block * step).astype(np.float32).astype(np.float64)
    vector = base + (idx - block) * step
    return np.where(idx < n // 16 * 16, vector, plain).astype(np.float32)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """Values from ``start`` (0 if only one bound is given) up to ``end`` (excluded) by
    ``step``: ceil((end - start) / step) of them. int64 when all three are integers, else
    the default float dtype."""
    _device(device)
    if end is None:
        start, end = 0, start
    start, end, step = _number(start), _number(end), _number(step)
    ints = all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step)
    )
    if step == 0:
        raise ShapeError("arange: step must be nonzero")
    if not all(math.isfinite(float(v)) for v in (start, end)):
        raise ShapeError(f"arange: unsupported range: {start} -> {end}")
    if (end - start) * step < 0:
        raise ShapeError(
            f"arange: upper bound and lower bound inconsistent with step sign "
            f"(start {start}, end {end}, step {step})"
        )
    d = _dtype(dtype, int64 if ints else None)
    if d.kind in "iu":  # torch truncates the bounds to integers first (int64)
        s, e, st = int(start), int(end), int(step)
        if st == 0:
            raise ShapeError("arange: step must be nonzero")
        n = len(range(s, e, st)) if d == int64 else math.ceil((end - start) / step)
        return _make((s + st * np.arange(max(n, 0))).astype(d), requires_grad)
    n = max(math.ceil((float(end) - float(start)) / float(step)), 0)
    return _make(_arange_values(float(start), float(step), n, d), requires_grad)


def _fused(a: np.ndarray, p: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a + p`` rounded once to ``dtype``, as a fused multiply-add gives it, for ``a`` and
    ``p`` exact in float64 (``p`` a product of a ``dtype`` value and a small integer).

    Rounding the float64 sum to ``dtype`` rounds twice; that differs from rounding once
    only when the float64 sum lands exactly halfway between two ``dtype`` values while
    the part it dropped (``err``, recovered exactly by the two-sum trick) was not zero:
    then ``err`` decides the side."""
    a, p = np.float64(a), np.asarray(p, dtype=np.float64)
    s = a + p
    bb = s - a
    err = (a - (s - bb)) + (p - bb)
    f = s.astype(dtype)
    f64 = f.astype(np.float64)
    away = np.where(f64 > s, -np.inf, np.inf).astype(dtype)
    other = np.nextafter(f, away)
    o64 = other.astype(np.float64)
    tie = (f64 - s) == -(o64 - s)
    fix = tie & (err != 0) & (np.sign(o64 - s) == np.sign(err))
    return np.where(fix, other, f)


def _fma64(a: float, b: np.ndarray, c: float) -> np.ndarray:
    """``a·b + c`` in float64 with (nearly) one rounding, as a fused multiply-add: the
    product's rounding error (Dekker's split) and the sum's (two-sum) are added back."""
    b = np.asarray(b, dtype=np.float64)
    p = a * b

    def split(x):
        big = 134217729.0 * x  # 2**27 + 1
        hi = big - (big - x)
        return hi, x - hi

    (ah, al), (bh, bl) = split(np.float64(a)), split(b)
    err_p = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = c + p
    bb = s - c
    err_s = (c - (s - bb)) + (p - bb)
    return s + (err_s + err_p)


def _linspace_values(start: float, end: float, steps: int, dtype: np.dtype) -> np.ndarray:
    """torch's CPU linspace: the first half counts up from ``start``, the second half down
    from ``end`` (so both ends are exact), with ``step = (end - start) / (steps - 1)``.
    Floats work in the dtype itself, rounding once per element as a fused multiply-add;
    integers work in double and truncate."""
    i = np.arange(steps)
    if steps == 1:
        return np.asarray([int(start) if dtype.kind in "iu" else start]).astype(dtype)
    if dtype.kind == "f":
        t = dtype.type
        s, e = t(start), t(end)
        step = np.float64(t((e - s) / t(steps - 1)))
        with np.errstate(over="ignore", invalid="ignore"):
            up = _fused(s, step * i, dtype)
            down = _fused(e, -step * (steps - 1 - i), dtype)
    else:  # the bounds are truncated to integers first
        start, end = int(start), int(end)
        step = (end - start) / (steps - 1)
        with np.errstate(over="ignore", invalid="ignore"):
            up, down = _fma64(step, i, start), _fma64(-step, steps - 1 - i, end)
    return np.where(i < steps // 2, up, down).astype(dtype)


def linspace(
    start: Any,
    end: Any,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    _device(device)
    if steps < 0:
        raise ShapeError(f"linspace: number of steps must be non-negative, got {steps}")
    d = _dtype(dtype)
    return _make(_linspace_values(_number(start), _number(end), int(steps), d), requires_grad)


def logspace(
    start: Any,
    end: Any,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """``base ** linspace(start, end, steps)``, computed in double then rounded."""
    _device(device)
    if steps < 0:
        raise ShapeError(f"logspace: number of steps must be non-negative, got {steps}")
    exps = _linspace_values(_number(start), _number(end), int(steps), np.dtype(np.float64))
    return _make((float(base) ** exps).astype(_dtype(dtype)), requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device=None) -> Any:
    """The (2, N) coordinates of the lower triangle (``j - i <= offset``) of a row×col
    matrix, row by row (int64)."""
    _device(device)
    rows, cols = np.tril_indices(row, offset, col)
    return _make(np.stack([rows, cols]).astype(_dtype(dtype, int64)).reshape(2, -1), False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype: Any = None, device=None) -> Any:
    """The (2, N) coordinates of the upper triangle (``j - i >= offset``), row by row."""
    _device(device)
    rows, cols = np.triu_indices(row, offset, col)
    return _make(np.stack([rows, cols]).astype(_dtype(dtype, int64)).reshape(2, -1), False)


# --------------------------------------------------------------------------- grids and data
_MESHGRID_WARNING = (
    "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple:
    """Coordinate grids from 0-d/1-D tensors of lengths n0, n1, …: output k is tensor k
    expanded along its own axis over the (n0, n1, …) grid ('ij', matrix indexing) or
    the (n1, n0, …) grid ('xy', Cartesian: the first two axes swapped). Without
    ``indexing`` it is 'ij' with a UserWarning, as torch. Differentiable (reshape and
    expand)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise ShapeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn(_MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ShapeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise DTypeError(
            "meshgrid expects all tensors to have the same dtype, got "
            + ", ".join(str(t.dtype) for t in tensors)
        )
    for t in tensors:
        if t.ndim > 1:
            raise ShapeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got shape "
                f"{t.shape}"
            )
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for t, ax in zip(tensors, axes):
        shape[ax] = t._data.size
    out = []
    for t, ax in zip(tensors, axes):
        own = [1] * len(shape)
        own[ax] = -1
        out.append(t.reshape(own).expand(shape))
    return tuple(out)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Any:
    """``data`` as a tensor without copying when possible: a Tensor of that dtype is
    returned as it is, a numpy array of that dtype is shared; else converted."""
    _device(device)
    T = tensor_type()
    if isinstance(data, T):
        return data if dtype is None or to_dtype(dtype) == data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is not None:
        data = data.astype(to_dtype(dtype), copy=False)
    return T(data, dtype=dtype)


def from_numpy(ndarray: np.ndarray) -> Any:
    """A tensor sharing ``ndarray``'s memory (changes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(
            f"can't convert np.ndarray of type {ndarray.dtype}. The only supported types "
            "are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        )
    return tensor_type()(ndarray)


from tinygrad_opt.ops.sampling import rand, randn  # noqa: E402  (older Tensor.randn spelling)


class CreationMethods:
    """``Tensor.zeros(2, 3)`` and friends, as static methods (the older spelling), and
    torch's ``new_*`` methods (the tensor's dtype unless ``dtype`` is given)."""

    __slots__ = ()
    zeros = staticmethod(zeros)
    ones = staticmethod(ones)
    full = staticmethod(full)
    arange = staticmethod(arange)
    eye = staticmethod(eye)
    linspace = staticmethod(linspace)
    randn = staticmethod(randn)
    rand = staticmethod(rand)

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Any:
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Any:
        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Any:
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(
        self, size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False
    ) -> Any:
        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_tensor(self, data: Any, *, dtype: Any = None, requires_grad: bool = False) -> Any:
        return tensor_type()(
            data, dtype=dtype or self.dtype, requires_grad=requires_grad, copy=True
        )
