"""The tensor engine: n-dimensional arrays on numpy with reverse-mode autodiff.

How it works
------------
Every differentiable operation is a :class:`~tinygrad_opt.autograd.function.Function`
subclass (the ops live in :mod:`tinygrad_opt.ops`, grouped by kind) with a ``forward``
on numpy arrays and its ``backward`` right beside it. ``Function.apply`` runs the forward
and, when gradients are wanted, records the node. ``Tensor.backward`` runs the iterative
backward pass of :mod:`tinygrad_opt.autograd.engine`.

``Tensor`` itself holds the array, its autograd bookkeeping and in-place version
tracking. Its other methods come from the ops modules, one mixin per kind of op
(``ElementwiseMethods``, ``ReduceMethods`` …, the dtype conversions in ``CastMethods``,
Python's operators and the in-place arithmetic in ``OperatorMethods``), so each method
sits beside its op.

Dtypes and memory
-----------------
float32 (the default) and float64 tensors are differentiable; integer and bool tensors
exist and never require gradients. ``Tensor(data)`` follows ``torch.tensor``: Python
floats become the default float dtype, Python ints int64, bools bool; a numpy array keeps
its dtype. ``Tensor(ndarray)`` **shares** the array's memory when no conversion is
needed (as ``torch.from_numpy``; ``torch.tensor`` would copy): changes through either
are seen by both. Pass ``copy=True`` (or ``ndarray.copy()``) for a private copy.
:meth:`numpy` returns the array itself, not a copy.

In-place changes
----------------
Each tensor has a version counter, bumped by every in-place change made through the
tensor: ``add_`` and the other ``*_`` methods, ``t[i] = v``, ``t += 1`` and assigning
``t.data`` (``t.data += 1`` and ``t.data = new`` both assign). Writing into the numpy
array directly (``t.data[i] = v``, ``np.add(..., out=t.data)``) is not seen, just as torch
does not track ``.data``. ``backward`` checks that every input of every node is at the
version it had in the forward pass and raises
:class:`~tinygrad_opt.errors.InplaceError` otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt import dtypes as _dt
from tinygrad_opt.autograd import engine as _engine
from tinygrad_opt.autograd import gradients as _gradients
from tinygrad_opt.autograd.function import (
    Function,
    enable_grad,
    is_grad_enabled,
    no_grad,
    register_tensor_type,
    set_grad_enabled,
    unbroadcast,
)
from tinygrad_opt.errors import DimError, DTypeError, InplaceError, ShapeError
from tinygrad_opt.ops import activation as _act
from tinygrad_opt.ops import binary as _bin
from tinygrad_opt.ops import clamp as _clamp
from tinygrad_opt.ops import compare as _cmp
from tinygrad_opt.ops import creation as _cr
from tinygrad_opt.ops import elementwise as _ew
from tinygrad_opt.ops import extrema as _ext
from tinygrad_opt.ops import index as _ix
from tinygrad_opt.ops import linalg as _la
from tinygrad_opt.ops import norms as _norms
from tinygrad_opt.ops import rearrange as _rr
from tinygrad_opt.ops import reduce as _red
from tinygrad_opt.ops import rounding as _rnd
from tinygrad_opt.ops import scan as _scan
from tinygrad_opt.ops import scatter as _sc
from tinygrad_opt.ops import shape as _sh
from tinygrad_opt.ops import softmax as _smx
from tinygrad_opt.ops import sort as _sort
from tinygrad_opt.ops import unary as _un
from tinygrad_opt.ops import window as _win
from tinygrad_opt.ops.cast import Cast, CastMethods
from tinygrad_opt.ops.operators import OperatorMethods

DEFAULT_DTYPE = np.float32  # the default float dtype (``dtypes.get_default_dtype()``)

__all__ = [
    "DTypeError",
    "DimError",
    "Function",
    "InplaceError",
    "ShapeError",
    "Tensor",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "tensor",
    "unbroadcast",
]


def _as_array(data: Any, dtype: Any, copy: bool) -> np.ndarray:
    """User data as a numpy array with torch.tensor's dtype rules, or a clear TypeError."""
    if isinstance(data, Tensor):
        data = data._data
    want = None if dtype is None else _dt.to_dtype(dtype)
    if isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as e:
            raise TypeError(f"Tensor data must be numeric (ragged or odd input): {e}") from None
        if arr.dtype == object:
            arr = _from_objects(data)
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numeric, got {type(data).__name__} "
            f"with numpy dtype {arr.dtype} (kind {kind!r})"
        )
    if want is None:
        if isinstance(data, (np.ndarray, np.generic)):
            want = arr.dtype
        elif kind == "f":  # Python floats: the default float dtype, as torch.tensor
            want = _dt.get_default_dtype()
        elif kind in "iu":
            want = _dt.int64
        else:
            want = _dt.bool_
    if arr.dtype != want:
        return arr.astype(want)
    return arr.copy() if copy else arr


def _from_objects(data: Any) -> np.ndarray:
    """Lists holding Tensors (``[t1, t2]``) become one array, as torch.tensor does."""
    try:
        return np.asarray(
            [x._data if isinstance(x, Tensor) else x for x in data]
            if isinstance(data, (list, tuple))
            else data
        )
    except (ValueError, TypeError) as e:
        raise TypeError(f"Tensor data must be numeric (ragged or odd input): {e}") from None


class Tensor(
    _ew.ElementwiseMethods,
    _clamp.ClampMethods,
    _un.UnaryMethods,
    _bin.BinaryMathMethods,
    _rnd.RoundingMethods,
    _act.ActivationMethods,
    _cmp.CompareMethods,
    _la.LinalgMethods,
    _red.ReduceMethods,
    _smx.SoftmaxMethods,
    _ext.ExtremaMethods,
    _norms.NormMethods,
    _scan.ScanMethods,
    _sort.SortMethods,
    _sh.ShapeMethods,
    _ix.IndexMethods,
    _sc.ScatterMethods,
    _rr.RearrangeMethods,
    _win.WindowMethods,
    _cr.CreationMethods,
    CastMethods,
    OperatorMethods,
):
    """An n-dimensional array that can record operations for autodiff.

    ``Tensor(data, requires_grad=False, dtype=None, name=None, copy=False)``: ``data`` is
    anything numpy can turn into a numeric array (see the module docstring for dtypes
    and memory sharing). ``.grad`` is a numpy array (or None) that accumulates across
    ``backward()`` calls until reset with ``zero_grad()``.
    """

    # _olds (set only once the tensor is rebased, see _assign): {version: stand-in}
    __slots__ = ("_data", "grad", "_rg", "_ctx", "name", "_version", "_olds", "__weakref__")
    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
        copy: bool = False,
    ) -> None:
        self._data: np.ndarray = _as_array(data, dtype, copy)
        self.grad: np.ndarray | None = None
        self._rg = False
        self._ctx: Function | None = None
        self.name: str | None = name
        self._version = 0
        if requires_grad:
            self.requires_grad = True

    # ----------------------------------------------------------------- data and autograd state
    @property
    def data(self) -> np.ndarray:
        """The numpy array (shared, not copied). Assigning it counts as an in-place change."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)
        self._version += 1

    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        flag = bool(flag)
        if flag and self._data.dtype.kind != "f":
            raise DTypeError(
                f"only tensors of floating point dtype can require gradients, "
                f"got dtype {self._data.dtype}"
            )
        if not flag and self._ctx is not None:
            raise RuntimeError(
                "requires_grad=False only applies to leaf tensors; use detach() for a "
                "non-leaf tensor"
            )
        self._rg = flag

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Function | None:
        """The op that produced this tensor (None for leaves), as torch's ``grad_fn``."""
        return self._ctx

    @property
    def op(self) -> str:
        """Name of the operation that produced this tensor ('' for leaves)."""
        return self._ctx.name if self._ctx is not None else ""

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The inputs of the operation that produced this tensor (empty for leaves)."""
        return self._ctx.parents if self._ctx is not None else ()

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def size(self) -> _SizeCount:
        """Both conventions at once: ``t.size()`` / ``t.size(dim)`` as torch (the shape, or
        one dim's length), and ``t.size`` as numpy (the element count, an int), so code
        written for arrays and tensors alike keeps working."""
        return _SizeCount(self._data.size, self._data.shape)

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def device(self) -> str:
        return "cpu"

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self._data, precision=4, separator=", ", threshold=20)
        extra = ""
        if self._ctx is not None:
            extra = f", op={self.op}"
        elif self._rg:
            extra = ", requires_grad=True"
        default = self.dtype in (_dt.get_default_dtype(), _dt.int64, _dt.bool_)
        dt = "" if default else f", dtype={self.dtype}"
        return f"Tensor({body}{dt}{extra})"

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self._data.reshape(()))

    def __hash__(self) -> int:
        return id(self)

    # ----------------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> Any:
        """The single element as a Python number (float, int or bool, by dtype)."""
        if self._data.size != 1:
            raise ValueError(
                f"item(): a Tensor with {self._data.size} elements cannot be converted to "
                f"a Python number (shape {self.shape})"
            )
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        out = Tensor(self._data)
        out._version = self._version
        return out

    def clone(self) -> Tensor:
        """A copy with its own memory that stays in the graph (gradient flows through)."""
        return _sh.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def is_contiguous(self) -> bool:
        return True

    # ----------------------------------------------------------------- autodiff
    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Any = None,
        *,
        grad: Any = None,
    ) -> None:
        """Backpropagate from this tensor; leaf ``.grad`` arrays accumulate the result.

        ``gradient`` is the gradient of some scalar with respect to this tensor; it may be
        omitted only when this tensor holds a single element (then it is 1). The graph
        is kept after the pass (``retain_graph`` is accepted for torch compatibility).
        ``inputs`` limits accumulation to those tensors. With ``create_graph=True`` the
        pass is recorded and ``.grad`` become Tensors that can be differentiated again
        (see :mod:`tinygrad_opt.autograd.gradients`).
        """
        if grad is not None:
            gradient = grad
        if not self._rg:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: none of its inputs "
                "had requires_grad=True, or it was computed under no_grad()"
            )
        if create_graph or inputs is not None:
            _gradients.backward(self, gradient, retain_graph, create_graph, inputs)
            return
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward() needs a gradient argument for a non-scalar tensor of shape "
                    f"{self.shape}; implicit gradients are created only for scalars"
                )
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.asarray(
                gradient._data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype
            )
            if seed.shape != self.shape:
                raise ShapeError(
                    f"backward(): gradient shape {seed.shape} does not match tensor shape "
                    f"{self.shape}"
                )
        _engine.backward(self, seed)

    # ----------------------------------------------------------------- in-place changes
    def _assign(self, result: Tensor, old: Tensor | None = None) -> Tensor:
        """Make ``result`` this tensor's new value, in place (the ``*_`` methods, ``t[i] = v``).

        With no gradient involved, the values are copied into this tensor's array (which
        stays the same object). Otherwise this tensor takes over ``result``'s place in the
        graph, as torch rebases an in-place op, and its old array is left as it was. Its
        version goes up either way, so a node that saved the old value refuses to
        backpropagate through it.

        ``old`` (given by :meth:`_inplace`) is a stand-in for the value before the change:
        same array, same place in the graph, same version. When the tensor is rebased it
        is remembered in ``self._olds[version]``, so that a node recorded on the old
        version whose backward needs no input values (a ``getitem``, an ``add`` ...) can
        still send its gradient to where the old value came from (see
        :mod:`tinygrad_opt.autograd.engine`). Copying values in place destroys the old
        value: no stand-in then.
        """
        if result._data.dtype != self._data.dtype and not np.can_cast(
            result._data.dtype, self._data.dtype, casting="same_kind"
        ):
            raise DTypeError(
                f"result type {_dt.DTYPE_NAMES.get(result.dtype, result.dtype)} can't be cast "
                f"to the desired output type {_dt.DTYPE_NAMES.get(self.dtype, self.dtype)}"
            )
        if result.shape != self.shape:
            raise ShapeError(
                f"in-place op: result of shape {result.shape} does not fit the tensor's "
                f"shape {self.shape}"
            )
        if result._ctx is None:
            if self._data.flags.writeable:
                np.copyto(self._data, result._data, casting="unsafe")
            else:
                self._data = result._data.astype(self.dtype, copy=True)
        else:
            if self._ctx is None and self._rg:
                raise RuntimeError(
                    "a leaf tensor that requires grad is being used in an in-place operation; "
                    "wrap the change in no_grad() or use an out-of-place op"
                )
            if result.dtype != self.dtype:
                result = Cast.apply(result, dtype=self.dtype)
            if old is not None:
                olds = getattr(self, "_olds", None)
                if olds is None:
                    self._olds = olds = {}
                olds[self._version] = old
            self._data, self._ctx, self._rg = result._data, result._ctx, result._rg
        self._version += 1
        return self

    def _inplace(self, compute: Any) -> Tensor:
        """Run ``compute(old)`` on a stand-in for this tensor's current value, then make the
        result this tensor's value (see :meth:`_assign`). The stand-in keeps the old value's
        place in the graph, so the gradient reaches what this tensor was computed from."""
        old = Tensor.__new__(Tensor)
        old._data, old._ctx, old._rg, old._version = self._data, self._ctx, self._rg, self._version
        old.grad, old.name = None, self.name
        return self._assign(compute(old), old)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace(lambda old: _ix.index_put(old, index, value))


class _SizeCount(int):
    """An int (the element count) that, called, gives torch's ``size()``."""

    def __new__(cls, count: int, shape: tuple[int, ...]) -> _SizeCount:
        out = super().__new__(cls, count)
        out.shape = shape
        return out

    def __call__(self, dim: int | None = None) -> Any:
        if dim is None:
            return Size(self.shape)
        from tinygrad_opt.ops.common import dim_index

        return self.shape[dim_index(dim, len(self.shape), "size")]


class Size(tuple):
    """The shape of a tensor, as ``t.size()`` returns it (torch.Size): a tuple of ints."""

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n


register_tensor_type(Tensor)


# --------------------------------------------------------------------------- free functions
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (as ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, copy=True)


# free functions older code imports from here
from tinygrad_opt.ops.compare import where  # noqa: E402
from tinygrad_opt.ops.elementwise import maximum, minimum  # noqa: E402
from tinygrad_opt.ops.shape import cat, concatenate, stack  # noqa: E402

__all__ += ["cat", "concatenate", "maximum", "minimum", "stack", "where"]
