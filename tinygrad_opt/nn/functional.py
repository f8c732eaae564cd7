"""Losses and fused layer ops, each one :class:`~tinygrad_opt.tensor.Function`.

Fusing means the forward and the hand-derived backward of the whole expression live in a
single node: one numpy pass each way instead of a chain of small ops, and no
intermediate graph. Every loss takes ``reduction``: ``"mean"`` (default), ``"sum"`` or
``"none"`` (the per-element / per-sample losses), with the same definitions as
``torch.nn.functional``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "linear",
    "mse_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- helpers
def _check_reduction(fn: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _target_array(fn: str, target: Any, like: Tensor) -> np.ndarray:
    """A float target (Tensor, array, list) as an array with ``like``'s dtype and shape."""
    arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: targets must be numeric, got dtype {arr.dtype}")
    if arr.shape != like.shape:
        raise ShapeError(
            f"{fn}: input shape {like.shape} and target shape {arr.shape} differ "
            f"(no broadcasting here: it usually hides an (N, 1) vs (N,) mistake)"
        )
    return arr.astype(like.dtype, copy=False)


def _targets(fn: str, target: Any, like: Tensor) -> Tensor:
    """Targets as a Tensor of ``like``'s shape; a Tensor is kept (it may need a gradient)."""
    if isinstance(target, Tensor):
        if target.shape != like.shape:
            _target_array(fn, target, like)  # raises the ShapeError
        return target
    return Tensor(_target_array(fn, target, like))


def _reduce(losses: np.ndarray, reduction: str, dtype: np.dtype) -> np.ndarray:
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):  # empty input: nan, as torch
            total = total / losses.size  # faster than .mean() on small arrays
    return np.asarray(total, dtype=dtype)


def _reduction_grad(g: np.ndarray, reduction: str, n: int) -> Any:
    """d(reduced)/d(each loss) times the incoming g: a scalar or g itself for 'none'."""
    if reduction == "none":
        return g
    g = float(g)  # a Python float keeps the arrays' dtype and is cheaper than a 0-d array
    return g / n if reduction == "mean" and n else g


# --------------------------------------------------------------------------- linear
class _Linear(Function):
    """y = x W + b with W of shape (in, out); x may have any leading dimensions.

    Backward: dx = g Wᵀ, dW = xᵀ g, db = Σ g over all leading dimensions.
    """

    name = "linear"

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        out = x @ w
        if b is not None:
            out += b
        return out

    def backward(self, g):
        gx = gw = gb = None
        if self.needs_grad[0]:
            gx = g @ self.w.T
        if len(self.needs_grad) > 1 and self.needs_grad[1]:
            x2 = self.x.reshape(-1, self.x.shape[-1])
            gw = (x2.T @ g.reshape(-1, g.shape[-1])).astype(self.w.dtype, copy=False)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = g.reshape(-1, g.shape[-1]).sum(axis=0)
        return gx, gw, gb

    def describe_error(self, inputs, params, err):
        x, w = inputs[0], inputs[1]
        if x.ndim == 0 or w.ndim != 2:
            return f"linear: input shape {x.shape} needs >= 1 dim and weight shape {w.shape} 2"
        if x.shape[-1] != w.shape[0]:
            return (
                f"linear: input shape {x.shape} does not fit weight shape {w.shape}: "
                f"{x.shape[-1]} input features != {w.shape[0]} weight rows (the weight has "
                f"the (in, out) layout)"
            )
        shapes = ", ".join(str(t.shape) for t in inputs)
        return f"linear: input, weight, bias shapes {shapes} do not fit: {err}"


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight + bias`` as one node; ``weight`` has the (in, out) layout."""
    x = _as_tensor(x)
    if bias is None:
        return _Linear.apply(x, weight)
    return _Linear.apply(x, weight, bias)


# --------------------------------------------------------------------------- MSE
class _MSELoss(Function):
    """loss_i = (p_i - t_i)²;  d/dp_i = 2 (p_i - t_i),  d/dt_i = -2 (p_i - t_i)."""

    name = "mse_loss"

    def forward(self, pred, target, reduction):
        self.diff, self.reduction = pred - target, reduction
        return _reduce(self.diff * self.diff, reduction, pred.dtype)

    def backward(self, g):
        gp = (2 * _reduction_grad(g, self.reduction, self.diff.size)) * self.diff
        gp = gp.astype(self.diff.dtype, copy=False)
        return (gp if self.needs_grad[0] else None), (-gp if self.needs_grad[1] else None)


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error (pred - target)², averaged (``"mean"``), summed, or kept (``"none"``).

    ``target`` must have exactly the shape of ``pred`` (a :class:`ShapeError` otherwise).
    It may be a Tensor (then it also receives a gradient if it requires one), an array or
    a list.
    """
    _check_reduction("mse_loss", reduction)
    pred = _as_tensor(pred)
    target = _targets("mse_loss", target, pred)
    return _MSELoss.apply(pred, target, reduction=reduction)


# --------------------------------------------------------------------------- cross-entropy
class _CrossEntropy(Function):
    """loss_i = logsumexp(x_i) - x_i[y_i] for logits x of shape (N, C).

    Forward is the stable log-softmax: with m_i = max_j x_ij, logsumexp = m_i + log Σ_j
    exp(x_ij - m_i); only the picked entry of the log-softmax is formed.
    Backward: d loss_i / d x_ij = softmax(x_i)_j - [j = y_i], times g_i (g/N for "mean").

    Speed notes (this is a benchmark's hot path): entries are addressed by flat index
    i·C + j, which beats 2-D fancy indexing; the row max is read at ``argmax`` (numpy
    vectorises argmax along a row, not max); row sums are a matrix-vector product (BLAS).
    """

    name = "cross_entropy"

    def forward(self, x, labels, reduction):
        n, c = x.shape
        row_start = np.arange(0, n * c, c)
        flat_x = x.reshape(-1)  # a view unless x is non-contiguous
        m = flat_x.take(row_start + x.argmax(axis=1))
        shifted = np.subtract(x, m[:, None], order="C")  # C order: flat indices hold
        self.flat = flat = row_start + labels  # flat index of x_i[y_i]
        picked = shifted.reshape(-1).take(flat)
        e = np.exp(shifted, out=shifted)  # reuse the buffer: shifted is not needed again
        s = _row_sums(e)
        self.e, self.s, self.reduction = e, s, reduction
        return _reduce(np.log(s) - picked, reduction, x.dtype)

    def backward(self, g):
        coef = _reduction_grad(g, self.reduction, self.e.shape[0])
        grad = np.multiply(self.e, (coef / self.s)[:, None], order="C")  # softmax · g_i
        grad.reshape(-1)[self.flat] -= coef  # each row once: no np.add.at needed
        return grad


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Σ_j a_ij; a BLAS matrix-vector product when a is float32/float64 (much faster)."""
    if a.dtype in _BLAS_DTYPES:
        return a @ _ones(a.shape[1], a.dtype)
    return a.sum(axis=1)


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=32)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype=dtype)
    ones.flags.writeable = False  # shared between calls
    return ones


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _class_labels(labels: Any, logits_shape: tuple[int, ...]) -> np.ndarray:
    """Validate class labels for (N, C) logits and return them as an integer array."""
    if isinstance(labels, Tensor):  # Tensors hold floats: accept whole numbers only
        arr = labels.data
        if arr.size and not np.array_equal(arr, np.floor(arr)):
            raise TypeError(
                "cross_entropy: labels must be integer class indices; the labels Tensor "
                "holds non-integer values"
            )
        arr = arr.astype(np.intp)
    else:
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iu":
            if arr.size == 0 and arr.dtype.kind == "f":  # [] becomes float64
                arr = arr.astype(np.intp)
            else:
                raise TypeError(
                    f"cross_entropy: labels must be integer class indices, got dtype "
                    f"{arr.dtype} (use y.astype(int), or binary_cross_entropy_with_logits "
                    f"for float targets)"
                )
    n, c = logits_shape
    if arr.shape != (n,):
        raise ShapeError(
            f"cross_entropy: logits of shape {logits_shape} need labels of shape ({n},), "
            f"got labels of shape {arr.shape}"
        )
    # One reduction checks both ends: seen as unsigned, negative labels become huge.
    unsigned = arr.view(_UNSIGNED[arr.dtype.itemsize]) if arr.dtype.kind == "i" else arr
    if n and unsigned.max() >= c:
        lo, hi = arr.min(), arr.max()
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"cross_entropy: label {int(bad)} is out of range for C = {c} classes "
            f"(labels must be in [0, {c - 1}])"
        )
    return arr if arr.dtype == np.intp else arr.astype(np.intp)  # uint64 + int64 is float


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against integer labels in [0, C).

    loss_i = -log softmax(logits_i)[labels_i] = logsumexp(logits_i) - logits_i[labels_i],
    as ``torch.nn.functional.cross_entropy``. ``labels`` is an integer array, a list of
    ints, or a Tensor holding whole numbers. Raises ``TypeError`` for float labels,
    :class:`ShapeError` when there is not one label per row, ``ValueError`` for a label
    outside [0, C).
    """
    _check_reduction("cross_entropy", reduction)
    logits = _as_tensor(logits)
    if logits.ndim != 2:
        raise ShapeError(f"cross_entropy: logits must have shape (N, C), got shape {logits.shape}")
    if logits.shape[1] == 0:
        raise ShapeError(f"cross_entropy: logits of shape {logits.shape} have no classes")
    y = _class_labels(labels, logits.shape)
    return _CrossEntropy.apply(logits, reduction=reduction, labels=y)


# --------------------------------------------------------------------------- BCE with logits
class _BCEWithLogits(Function):
    """loss = max(x, 0) - x y + log(1 + exp(-|x|)): log σ written so exp never overflows.

    d/dx = σ(x) - y;  d/dy = -x.
    """

    name = "bce_with_logits"

    def forward(self, x, y, reduction):
        self.x, self.y, self.reduction = x, y, reduction
        losses = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        return _reduce(losses, reduction, x.dtype)

    def backward(self, g):
        coef = _reduction_grad(g, self.reduction, self.x.size)
        gx = gy = None
        if self.needs_grad[0]:
            sig = 0.5 * (1 + np.tanh(0.5 * self.x))
            gx = (coef * (sig - self.y)).astype(self.x.dtype, copy=False)
        if self.needs_grad[1]:
            gy = (-coef * self.x).astype(self.x.dtype, copy=False)
        return gx, gy


def binary_cross_entropy_with_logits(
    logits: Tensor, targets: Any, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of sigmoid(logits) against targets in [0, 1], computed stably.

    loss = -[y log σ(x) + (1 - y) log(1 - σ(x))] = max(x, 0) - x y + log(1 + e^(-|x|)),
    as ``torch.nn.functional.binary_cross_entropy_with_logits``. ``targets`` must have the
    shape of ``logits``; soft targets are allowed.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    logits = _as_tensor(logits)
    targets = _targets("binary_cross_entropy_with_logits", targets, logits)
    return _BCEWithLogits.apply(logits, targets, reduction=reduction)


# --------------------------------------------------------------------------- hinge
class _Hinge(Function):
    """loss = max(0, 1 - y s);  d/ds = -y where 1 - y s > 0, else 0."""

    name = "hinge_loss"

    def forward(self, s, y, reduction):
        margin = 1 - y * s
        self.active = margin > 0
        self.y, self.reduction = y, reduction
        return _reduce(np.where(self.active, margin, 0).astype(s.dtype), reduction, s.dtype)

    def backward(self, g):
        coef = _reduction_grad(g, self.reduction, self.y.size)
        return (-coef * self.y * self.active).astype(self.y.dtype, copy=False)


def hinge_loss(scores: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """The SVM hinge loss max(0, 1 - y s) for targets y in {-1, +1}.

    With ``"mean"`` this is mean(relu(1 - y * s)), i.e. in torch
    ``torch.relu(1 - y * s).mean()``. ``targets`` must have the shape of ``scores`` and
    contain only -1 and +1 (``ValueError`` otherwise; 0/1 labels are a common slip).
    """
    _check_reduction("hinge_loss", reduction)
    scores = _as_tensor(scores)
    y = _target_array("hinge_loss", targets, scores)
    bad = (y != 1) & (y != -1)
    if bad.any():
        raise ValueError(
            f"hinge_loss: targets must be -1 or +1, found {y[bad].flat[0]:g} "
            f"(map 0/1 labels with 2 * y - 1)"
        )
    return _Hinge.apply(scores, reduction=reduction, y=y)


# --------------------------------------------------------------------------- layer ops
# Fused ops of the layers in conv.py, normalization.py, dropout.py and embedding.py are
# defined beside their layers and re-exported here (imported last: those modules must
# not import this one at load time).
from tinygrad_opt.nn.conv import avg_pool2d, conv2d, max_pool2d  # noqa: E402
from tinygrad_opt.nn.dropout import dropout  # noqa: E402
from tinygrad_opt.nn.embedding import embedding  # noqa: E402
from tinygrad_opt.nn.normalization import batch_norm  # noqa: E402
from tinygrad_opt.ops.index import one_hot  # noqa: E402
from tinygrad_opt.ops.pad import pad  # noqa: E402
from tinygrad_opt.ops.window import fold  # noqa: E402
from tinygrad_opt.ops.window import unfold2d as unfold  # noqa: E402

__all__ += ["avg_pool2d", "batch_norm", "conv2d", "dropout", "embedding", "max_pool2d"]
__all__ += ["fold", "one_hot", "pad", "unfold"]
