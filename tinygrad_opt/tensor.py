"""The tensor engine: n-dimensional arrays on numpy with reverse-mode autodiff.

How it works
------------
Every differentiable operation is a :class:`Function` subclass (see ``ops.py``) with a
``forward`` that computes the result from numpy arrays and, right beside it, a
``backward`` that maps the gradient of the output to gradients of the inputs (a
vector-Jacobian product). ``Function.apply`` runs the forward and, when gradients are
wanted, records the node: the output tensor keeps its ``Function`` (``_ctx``), the
``Function`` keeps its input tensors (``parents``). Nothing points back from an input
to an output, so a graph is a DAG without reference cycles and is freed by reference
counting the moment the last output is dropped.

``Tensor.backward`` sorts the graph topologically with an explicit stack (no recursion,
any depth), then walks it from the output to the leaves. Intermediate gradients live in
a dictionary only until they are consumed; leaf tensors with ``requires_grad=True``
**accumulate** into ``.grad`` across calls, as in PyTorch. Gradients produced by
broadcasting are summed back to each input's shape once, in :func:`unbroadcast`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

DEFAULT_DTYPE = np.float32
_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


class ShapeError(ValueError):
    """An operation got inputs whose shapes do not fit together."""


# --------------------------------------------------------------------------- grad mode
class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """True unless inside a :class:`no_grad` block."""
    return _GradMode.enabled


class no_grad:
    """Context manager (and decorator) that stops recording the graph.

    Inside it, results of operations have ``requires_grad=False`` and keep no inputs alive.
    """

    def __enter__(self) -> no_grad:
        self._prev = _GradMode.enabled
        _GradMode.enabled = False
        return self

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = self._prev

    def __call__(self, fn):  # used as a decorator
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


# --------------------------------------------------------------------------- helpers
def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    If ``y = f(x)`` broadcast ``x`` of shape ``shape`` up to ``grad.shape``, each element
    of ``x`` was used once per copy, so its gradient is the sum over the copies.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:  # a backward may return fewer dims (e.g. a (5,) grad for a (1, 5) bias)
        grad = grad.reshape((1,) * -extra + grad.shape)
    elif extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _as_float_array(data: Any, dtype: Any) -> np.ndarray:
    """Convert user data to a floating numpy array, or raise a clear TypeError."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.type not in _FLOAT_DTYPES:
            raise TypeError(f"Tensor dtype must be float16, float32 or float64, got {dtype}")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise TypeError(f"Tensor data must be numeric (ragged or odd input): {e}") from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"Tensor data must be numeric, got {type(data).__name__} "
            f"with numpy dtype {arr.dtype} (kind {kind!r})"
        )
    if dtype is None:
        # numpy floating arrays/scalars keep their precision; Python floats and lists of
        # them (which numpy would make float64) get the default, as in torch.tensor
        keep = kind == "f" and isinstance(data, (np.ndarray, np.floating))
        dtype = arr.dtype if keep else DEFAULT_DTYPE
    return arr.astype(dtype, copy=False) if arr.dtype != dtype else arr


# --------------------------------------------------------------------------- Function
class Function:
    """One differentiable operation: ``forward`` on arrays and its ``backward`` beside it.

    Subclasses implement ``forward(self, *arrays, **params) -> ndarray`` and
    ``backward(self, grad) -> ndarray | tuple[ndarray | None, ...]`` returning one gradient
    per input (``None`` for inputs that need none; ``self.needs_grad[i]`` says which).
    ``backward`` may return a gradient with the *broadcast* shape; the engine sums it back
    to the input's shape. ``backward`` must not modify ``grad`` in place, and must return
    new arrays (or views of ``grad``), never an array the Function keeps: the engine may
    hand a returned array to a leaf as its ``.grad``.
    """

    parents: tuple[Tensor, ...] = ()
    needs_grad: tuple[bool, ...] = ()

    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        ctx = cls()
        needs = tuple(t.requires_grad for t in inputs) if _GradMode.enabled else ()
        ctx.needs_grad = needs
        try:
            out = ctx.forward(*[t.data for t in inputs], **params)
        except (ValueError, IndexError) as e:
            raise ShapeError(ctx.describe_error(inputs, params, e)) from None
        result = Tensor.__new__(Tensor)
        result.data = out
        result.grad = None
        result.name = None
        if any(needs):
            result.requires_grad = True
            ctx.parents = inputs
            result._ctx = ctx
        else:
            result.requires_grad = False
            result._ctx = None
        return result

    def describe_error(self, inputs: Sequence[Tensor], params: dict, err: Exception) -> str:
        shapes = ", ".join(str(t.shape) for t in inputs)
        extra = f" with {params}" if params else ""
        return f"{self.name}: cannot apply to input shapes {shapes}{extra}: {err}"

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------- Tensor
class Tensor:
    """An n-dimensional float array that can record operations for autodiff.

    ``Tensor(data, requires_grad=False, dtype=None)``: ``data`` is anything numpy can turn
    into a numeric array. Floating arrays keep their dtype; Python numbers, lists and
    integer arrays become float32 (the default). ``.grad`` is a numpy array (or None)
    that accumulates across ``backward()`` calls until reset with ``zero_grad()``.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "__weakref__")
    __array_priority__ = 1000  # make ``ndarray + Tensor`` call Tensor.__radd__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self.data: np.ndarray = _as_float_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.requires_grad: bool = bool(requires_grad)
        self._ctx: Function | None = None
        self.name: str | None = name

    # ----------------------------------------------------------------- constructors
    @staticmethod
    def zeros(*shape: int | Sequence[int], dtype: Any = DEFAULT_DTYPE, **kw: Any) -> Tensor:
        return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), **kw)

    @staticmethod
    def ones(*shape: int | Sequence[int], dtype: Any = DEFAULT_DTYPE, **kw: Any) -> Tensor:
        return Tensor(np.ones(_shape_arg(shape), dtype=dtype), **kw)

    @staticmethod
    def randn(
        *shape: int | Sequence[int],
        rng: np.random.Generator | int | None = None,
        dtype: Any = DEFAULT_DTYPE,
        **kw: Any,
    ) -> Tensor:
        """Standard-normal samples from ``numpy.random.default_rng(rng)``."""
        gen = np.random.default_rng(rng)
        return Tensor(gen.standard_normal(_shape_arg(shape)).astype(dtype), **kw)

    @staticmethod
    def arange(*args: Any, dtype: Any = DEFAULT_DTYPE, **kw: Any) -> Tensor:
        return Tensor(np.arange(*args).astype(dtype), **kw)

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def op(self) -> str:
        """Name of the operation that produced this tensor ('' for leaves)."""
        return self._ctx.name if self._ctx is not None else ""

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The inputs of the operation that produced this tensor (empty for leaves)."""
        return self._ctx.parents if self._ctx is not None else ()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        extra = ""
        if self._ctx is not None:
            extra = f", op={self.op}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        dt = "" if self.dtype == DEFAULT_DTYPE else f", dtype={self.dtype}"
        return f"Tensor({body}{dt}{extra})"

    # ----------------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor(self.data, requires_grad=False)

    def astype(self, dtype: Any) -> Tensor:
        return _ops.Cast.apply(self, dtype=np.dtype(dtype))

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if self._ctx is not None and not flag:
            raise RuntimeError("requires_grad_(False) only applies to leaf tensors; use detach()")
        self.requires_grad = flag
        return self

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- autodiff
    def backward(self, grad: Any = None) -> None:
        """Backpropagate from this tensor; leaf ``.grad`` arrays accumulate the result.

        ``grad`` is the gradient of some scalar with respect to this tensor; it may be
        omitted only when this tensor holds a single element (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad: none of its inputs "
                "had requires_grad=True, or it was computed under no_grad()"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() needs a gradient argument for a non-scalar tensor of shape "
                    f"{self.shape}; implicit gradients are created only for scalars"
                )
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ShapeError(
                    f"backward(): gradient shape {seed.shape} does not match tensor shape "
                    f"{self.shape}"
                )
        if self._ctx is None:  # a leaf: d(self)/d(self) = seed
            _accumulate_leaf(self, seed)
            return

        grads: dict[int, np.ndarray] = {id(self): seed}
        # ids of arrays already given to some input: a leaf may adopt a gradient array as
        # its .grad (and later add into it in place) only if nobody else has seen it.
        handed: set[int] = {id(seed)}
        for node in reversed(_topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            ctx = node._ctx
            in_grads = ctx.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            for parent, pg, need in zip(ctx.parents, in_grads, ctx.needs_grad):
                if not need or pg is None:
                    continue
                if pg.shape != parent.data.shape:
                    pg = unbroadcast(pg, parent.data.shape)
                if parent._ctx is None:
                    _accumulate_leaf(parent, pg, adopt=id(pg) not in handed)
                else:
                    key = id(parent)
                    prev = grads.get(key)
                    grads[key] = pg if prev is None else prev + pg
                handed.add(id(pg))

    # ----------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, _lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return _ops.Add.apply(_lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, _lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(_lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, _lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(_lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, _lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(_lift(other, self), self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.Pow.apply(self, _lift(other, self))

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.Pow.apply(_lift(other, self), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, _lift(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(_lift(other, self), self)

    def add(self, other: Any) -> Tensor:
        return self + other

    def sub(self, other: Any) -> Tensor:
        return self - other

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def matmul(self, other: Any) -> Tensor:
        return self @ other

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max; where both are equal the gradient is split evenly."""
        return _ops.Maximum.apply(self, _lift(other, self))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise min; where both are equal the gradient is split evenly."""
        return _ops.Minimum.apply(self, _lift(other, self))

    # ----------------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return _ops.Abs.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return _ops.LeakyReLU.apply(self, slope=float(negative_slope))

    def gelu(self, approximate: str = "none") -> Tensor:
        """GELU x·Φ(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return _ops.GELU.apply(self, approximate=approximate)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:
        """Clamp into [min, max]; the gradient passes where min <= x <= max."""
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return _ops.Clip.apply(self, lo=min, hi=max)

    clamp = clip

    # ----------------------------------------------------------------- reductions
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Sum.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Mean.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Maximum; tied maxima share the gradient evenly (like ``torch.amax``)."""
        return _ops.Max.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Minimum; tied minima share the gradient evenly (like ``torch.amin``)."""
        return _ops.Min.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def var(
        self,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        correction: int = 1,
    ) -> Tensor:
        """Variance with ``correction`` (1 = unbiased, as torch's default; 0 = numpy's)."""
        return _ops.Var.apply(self, axis=_axis_arg(axis), keepdims=keepdims, correction=correction)

    def std(
        self, axis: int | Sequence[int] | None = None, keepdims: bool = False, correction: int = 1
    ) -> Tensor:
        """Standard deviation √var; where it is 0 the gradient is 0 (as torch), not nan."""
        return _ops.Std.apply(self, axis=_axis_arg(axis), keepdims=keepdims, correction=correction)

    def logsumexp(self, axis: int | Sequence[int] | None = -1, keepdims: bool = False) -> Tensor:
        """log Σ exp(x), computed as m + log Σ exp(x - m) with m = max(x): no overflow."""
        return _ops.LogSumExp.apply(self, axis=_axis_arg(axis), keepdims=keepdims)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.LogSoftmax.apply(self, axis=axis)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.Reshape.apply(self, shape=_shape_arg(shape))

    view = reshape

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (torch semantics). For a full reordering use ``permute``."""
        order = list(range(self.ndim))
        try:
            order[dim0], order[dim1] = order[dim1], order[dim0]
        except IndexError:
            raise ShapeError(
                f"transpose: axes ({dim0}, {dim1}) out of range for shape {self.shape}"
            ) from None
        return _ops.Permute.apply(self, order=tuple(order))

    def permute(self, *order: int | Sequence[int]) -> Tensor:
        return _ops.Permute.apply(self, order=_shape_arg(order))

    @property
    def T(self) -> Tensor:
        """All axes reversed (the usual transpose for a matrix)."""
        return _ops.Permute.apply(self, order=tuple(range(self.ndim))[::-1])

    def expand(self, *shape: int | Sequence[int]) -> Tensor:
        """Broadcast to ``shape`` without copying; -1 keeps a dimension as it is."""
        target = _shape_arg(shape)
        lead = len(target) - self.ndim
        if lead < 0:
            raise ShapeError(f"expand: cannot expand shape {self.shape} to fewer dims {target}")
        full = tuple(
            self.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(target)
        )
        return _ops.Expand.apply(self, shape=full)

    def squeeze(self, axis: int | Sequence[int] | None = None) -> Tensor:
        """Drop axes of size 1 (all of them, or those named)."""
        try:
            shape = np.squeeze(self.data, axis=_axis_arg(axis)).shape
        except ValueError as e:
            raise ShapeError(
                f"squeeze: cannot squeeze axis {axis} of shape {self.shape}: {e}"
            ) from None
        return _ops.Reshape.apply(self, shape=shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of size 1 at position ``axis``."""
        try:
            shape = np.expand_dims(self.data, axis).shape
        except ValueError as e:
            raise ShapeError(
                f"unsqueeze: axis {axis} out of range for shape {self.shape}: {e}"
            ) from None
        return _ops.Reshape.apply(self, shape=shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        if self.ndim == 0:
            return self.reshape(1)
        for d in (start_dim, end_dim):
            if not -self.ndim <= d < self.ndim:
                raise ShapeError(f"flatten: dim {d} is out of range for shape {self.shape}")
        s = start_dim % self.ndim
        e = end_dim % self.ndim
        if s > e:
            raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape[:s] + (-1,) + self.shape[e + 1 :]
        if 0 in self.shape:
            shape = self.shape[:s] + (int(np.prod(self.shape[s : e + 1])),) + self.shape[e + 1 :]
        return self.reshape(shape)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_index_arg(index))

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """Constant padding; ``pad_width`` as in ``numpy.pad`` (int, pair, or pair per axis)."""
        return _ops.Pad.apply(self, pad_width=pad_width, value=value)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``where(condition, self, other)``."""
        return where(condition, self, other)


# --------------------------------------------------------------------------- free functions
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``condition`` is true, else ``b``; ``condition`` gets no grad."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    ref = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    if ref is None:
        a = Tensor(a)
        ref = a
    return _ops.Where.apply(_lift(a, ref), _lift(b, ref), condition=cond)


def maximum(a: Any, b: Any) -> Tensor:
    a = a if isinstance(a, Tensor) else _lift(a, b)
    return a.maximum(b)


def minimum(a: Any, b: Any) -> Tensor:
    a = a if isinstance(a, Tensor) else _lift(a, b)
    return a.minimum(b)


def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = _tensor_list(tensors, "cat")
    return _ops.Cat.apply(*ts, axis=axis)


concatenate = cat


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    ts = _tensor_list(tensors, "stack")
    return _ops.Stack.apply(*ts, axis=axis)


# --------------------------------------------------------------------------- internals
def _accumulate_leaf(leaf: Tensor, g: np.ndarray, adopt: bool = False) -> None:
    """Add ``g`` into ``leaf.grad``; the first time, store a private copy of ``g``.

    With ``adopt=True`` (the caller knows nobody else holds ``g``) a fresh, writable array
    of the right dtype is stored as it is, saving a copy per parameter per step.
    """
    if leaf.grad is None:
        if adopt and g.base is None and g.flags.writeable and g.dtype == leaf.data.dtype:
            leaf.grad = g
        else:  # g may be a broadcast view, or shared with another input
            leaf.grad = np.array(g, dtype=leaf.data.dtype, copy=True)
    else:
        np.add(leaf.grad, g, out=leaf.grad, casting="unsafe")


def _topological_order(root: Tensor) -> list[Tensor]:
    """Non-leaf nodes reachable from ``root``, each after all of its inputs (iterative DFS)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in node._ctx.parents:
            if p._ctx is not None and id(p) not in visited:
                stack.append((p, False))
    return order


def _lift(x: Any, like: Any) -> Tensor:
    """Turn a number or array into a constant Tensor; numbers take ``like``'s dtype."""
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if isinstance(like, Tensor) else None
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        dtype = None  # arrays keep their precision, as numpy would
    return Tensor(x, dtype=dtype)


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _axis_arg(axis: Any) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _index_arg(index: Any) -> Any:
    """Replace Tensors and lists inside an index by numpy arrays."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, Tensor):
        return index.data.astype(np.intp) if index.dtype.kind == "f" else index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _tensor_list(tensors: Iterable[Any], op: str) -> list[Tensor]:
    ts = list(tensors)
    if not ts:
        raise ValueError(f"{op}: needs at least one tensor")
    ref = next((t for t in ts if isinstance(t, Tensor)), None)
    return [_lift(t, ref) for t in ts]


from tinygrad_opt import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
