"""Differentiable operations: each forward with its derivative right beside it.

Notation in the comments: ``g`` is the gradient arriving at the output (dL/dout); each
``backward`` returns dL/d(input) for every input, in input order. Results may keep a
broadcast shape: ``Tensor.backward`` sums them back with ``unbroadcast``. Only the inputs
flagged in ``self.needs_grad`` need a gradient; expensive ones are skipped otherwise.

To add an op: subclass :class:`Function`, write ``forward`` on numpy arrays (save what the
derivative needs on ``self``), write ``backward``, and expose it as a ``Tensor`` method.
Check it with ``tinygrad_opt.gradcheck``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Function, Tensor

# --------------------------------------------------------------------------- binary ops


class BinaryOp(Function):
    """Elementwise op on two broadcast-compatible inputs."""

    def describe_error(self, inputs: Any, params: dict, err: Exception) -> str:
        a, b = inputs
        return f"{self.name}: shapes {a.shape} and {b.shape} cannot be broadcast together"


class Add(BinaryOp):
    def forward(self, a, b):
        return a + b

    def backward(self, g):  # d(a+b)/da = 1, d(a+b)/db = 1
        return g, g


class Sub(BinaryOp):
    def forward(self, a, b):
        return a - b

    def backward(self, g):  # d(a-b)/da = 1, d(a-b)/db = -1
        return g, (-g if self.needs_grad[1] else None)


class Mul(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):  # d(ab)/da = b, d(ab)/db = a
        ga = g * self.b if self.needs_grad[0] else None
        gb = g * self.a if self.needs_grad[1] else None
        return ga, gb


class Div(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b²
        ga = g / self.b if self.needs_grad[0] else None
        gb = -g * self.a / (self.b * self.b) if self.needs_grad[1] else None
        return ga, gb


class Pow(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, g):
        # d(a^b)/da = b·a^(b-1), taken as 0 where b = 0 (a⁰ is constant; this avoids
        # 0·0⁻¹ = nan at a = 0, as torch does);  d(a^b)/db = a^b·ln a  (taken as 0 where
        # a = 0; torch does the same for b >= 0 and gives ∓inf for b < 0)
        a, b = self.a, self.b
        ga = None
        if self.needs_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = b * np.power(a, b - 1)
                if (b == 0).any():
                    d = np.where(b == 0, 0, d).astype(d.dtype, copy=False)
            ga = g * d
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * np.where(a == 0, 0.0, self.out * np.log(a)).astype(self.out.dtype)
        return ga, gb


class Maximum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.maximum(a, b)

    def backward(self, g):  # to the larger input; ties split the gradient evenly
        share = np.where(self.a == self.b, 0.5, (self.a > self.b)).astype(g.dtype)
        ga = g * share if self.needs_grad[0] else None
        gb = g * (1 - share) if self.needs_grad[1] else None
        return ga, gb


class Minimum(BinaryOp):
    def forward(self, a, b):
        self.a, self.b = a, b
        return np.minimum(a, b)

    def backward(self, g):  # to the smaller input; ties split the gradient evenly
        share = np.where(self.a == self.b, 0.5, (self.a < self.b)).astype(g.dtype)
        ga = g * share if self.needs_grad[0] else None
        gb = g * (1 - share) if self.needs_grad[1] else None
        return ga, gb


class Where(Function):
    def forward(self, a, b, condition):
        self.cond = condition
        return np.where(condition, a, b)

    def backward(self, g):  # the gradient flows to whichever input was picked
        zero = np.zeros((), dtype=g.dtype)
        ga = np.where(self.cond, g, zero) if self.needs_grad[0] else None
        gb = np.where(self.cond, zero, g) if self.needs_grad[1] else None
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        c = params["condition"].shape
        return f"where: condition {c}, a {a.shape} and b {b.shape} cannot be broadcast together"


class MatMul(Function):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        # C = A B  ⇒  dA = G Bᵀ,  dB = Aᵀ G. Vectors act as a row (A) or column (B) matrix.
        a, b = self.a, self.b
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}"
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            return (
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"inner dimensions {k_a} != {k_b}"
            )
        return f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"


# --------------------------------------------------------------------------- unary ops


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, g):  # d(-a)/da = -1
        return -g


class Cast(Function):
    def forward(self, a, dtype):
        self.dtype_in = a.dtype
        return a.astype(dtype)

    def backward(self, g):  # identity, back in the input's precision
        return g.astype(self.dtype_in)


class Exp(Function):
    def forward(self, a):
        self.out = np.exp(a)
        return self.out

    def backward(self, g):  # d(eᵃ)/da = eᵃ
        return g * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return np.log(a)

    def backward(self, g):  # d(ln a)/da = 1/a
        return g / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = np.sqrt(a)
        return self.out

    def backward(self, g):  # d(√a)/da = 1/(2√a)
        return g / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return np.abs(a)

    def backward(self, g):  # d|a|/da = sign(a), taken as 0 at a = 0
        return g * np.sign(self.a)


class Tanh(Function):
    def forward(self, a):
        self.out = np.tanh(a)
        return self.out

    def backward(self, g):  # d tanh(a)/da = 1 - tanh²(a)
        return g * (1 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, a):
        # σ(a) = 1/(1+e⁻ᵃ) = (1 + tanh(a/2))/2, which never overflows
        self.out = 0.5 * (1 + np.tanh(0.5 * a))
        return self.out

    def backward(self, g):  # dσ/da = σ(1-σ)
        return g * self.out * (1 - self.out)


class ReLU(Function):
    def forward(self, a):
        self.out = np.maximum(a, 0)
        return self.out

    def backward(self, g):  # d max(a,0)/da = 1 if a > 0 else 0
        return g * (self.out > 0)


class LeakyReLU(Function):
    def forward(self, a, slope):
        self.mask, self.slope = a > 0, slope
        return np.where(self.mask, a, a * slope).astype(a.dtype, copy=False)

    def backward(self, g):  # 1 if a > 0 else slope
        return np.where(self.mask, g, g * self.slope).astype(g.dtype, copy=False)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Function):
    """GELU(a) = a·Φ(a); with ``approximate='tanh'`` Φ(a) ≈ ½(1 + tanh(√(2/π)(a + 0.044715a³)))."""

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a**3))
            return (0.5 * a * (1 + self.t)).astype(a.dtype, copy=False)
        self.cdf = (0.5 * (1 + erf(a * _INV_SQRT_2))).astype(a.dtype, copy=False)
        return a * self.cdf

    def backward(self, g):
        a = self.a
        if self.approximate == "tanh":
            # d/da ½a(1+t) = ½(1+t) + ½a(1-t²)·√(2/π)(1 + 3·0.044715a²)
            dt = (1 - self.t**2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + self.t) + 0.5 * a * dt)
        # d/da aΦ(a) = Φ(a) + a·φ(a),  φ(a) = e^(-a²/2)/√(2π)
        return g * (self.cdf + a * _INV_SQRT_2PI * np.exp(-0.5 * a * a))


class Clip(Function):
    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        return np.clip(a, lo, hi)

    def backward(self, g):  # 1 inside [lo, hi] (edges included, as torch.clamp), 0 outside
        inside = np.ones(self.a.shape, dtype=bool)
        if self.lo is not None:
            inside &= self.a >= self.lo
        if self.hi is not None:
            inside &= self.a <= self.hi
        return g * inside


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, vectorised, accurate to about 1e-15 in float64.

    |x| <= 2: the Maclaurin series erf x = 2/√π Σ (-1)ⁿ x²ⁿ⁺¹ / (n!(2n+1)) (beyond 2 its
    alternating terms grow to ~e^(x²) and cancellation costs digits: 8e-14 at |x| = 3).
    |x| > 2: erfc x = e^(-x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + ...)))), the Laplace
    continued fraction (Abramowitz & Stegun 7.1.14), evaluated bottom-up.
    """
    x = np.asarray(x, dtype=np.float64)
    ax = np.abs(x)
    small = np.minimum(ax, 2.0)
    x2 = small * small
    term = small.copy()
    total = small.copy()
    for n in range(1, 60):
        term = term * (-x2) / n
        total += term / (2 * n + 1)
    series = total * (2.0 / math.sqrt(math.pi))
    big = np.maximum(ax, 2.0)
    frac = big.copy()
    for k in range(60, 0, -1):
        frac = big + (k / 2.0) / frac
    tail = 1.0 - np.exp(-big * big) / (math.sqrt(math.pi) * frac)
    return np.sign(x) * np.where(ax <= 2.0, series, tail)


# --------------------------------------------------------------------------- reductions


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    out = []
    for ax in axes:
        # a 0-d tensor accepts axis 0 and -1 (reducing nothing), as torch does
        if not -max(ndim, 1) <= ax < max(ndim, 1):
            raise ValueError(f"axis {ax} is out of range for a {ndim}-D tensor")
        if ndim:
            out.append(ax % ndim)
    return tuple(out)


def _regrow(g: np.ndarray, axes: tuple[int, ...], keepdims: bool, shape: tuple) -> np.ndarray:
    """Put the reduced axes back into ``g`` (as size 1) so it broadcasts against ``shape``."""
    if not keepdims and axes and len(shape):
        g = np.expand_dims(g, axes)
    return g


class Reduction(Function):
    def describe_error(self, inputs, params, err):
        return f"{self.name}: cannot reduce shape {inputs[0].shape} over axis {params['axis']}"


class Sum(Reduction):
    def forward(self, a, axis, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, g):  # every summed element gets g
        return np.broadcast_to(_regrow(g, self.axes, self.keepdims, self.shape), self.shape)


class Mean(Reduction):
    def forward(self, a, axis, keepdims):
        self.shape, self.axes, self.keepdims = a.shape, _normalize_axes(axis, a.ndim), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        return np.asarray(a.mean(axis=self.axes, keepdims=keepdims))

    def backward(self, g):  # every averaged element gets g / count
        g = _regrow(g, self.axes, self.keepdims, self.shape) / self.count
        return np.broadcast_to(g, self.shape)


class Max(Reduction):
    reducer = staticmethod(np.max)

    def forward(self, a, axis, keepdims):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        self.out = np.asarray(self.reducer(a, axis=self.axes, keepdims=keepdims))
        return self.out

    def backward(self, g):  # to the arg-extreme elements, split evenly between ties
        out = _regrow(self.out, self.axes, self.keepdims, self.a.shape)
        hits = self.a == out
        count = hits.sum(axis=self.axes, keepdims=True)
        return _regrow(g, self.axes, self.keepdims, self.a.shape) * hits / count


class Min(Max):
    reducer = staticmethod(np.min)


class Var(Reduction):
    def forward(self, a, axis, keepdims, correction):
        self.axes, self.keepdims, self.shape = _normalize_axes(axis, a.ndim), keepdims, a.shape
        n = math.prod(a.shape[i] for i in self.axes)
        self.denom = max(n - correction, 0)
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (self.centered**2).sum(axis=self.axes, keepdims=keepdims) / self.denom
        return np.asarray(out, dtype=a.dtype)

    def backward(self, g):  # d/da_i Σ(a - ā)²/(n - c) = 2(a_i - ā)/(n - c)
        g = _regrow(g, self.axes, self.keepdims, self.shape)
        # n <= c: the variance is nan (0/0), and so is its gradient (as torch)
        scale = 2.0 / self.denom if self.denom else math.nan
        return g * scale * self.centered


class Std(Var):
    """√var. Backward g·(a - ā)/((n - c)·std), taken as 0 where std = 0 (torch's choice:
    a constant slice has a zero gradient, not the nan of 1/(2√0) · 0)."""

    def forward(self, a, axis, keepdims, correction):
        self.out = np.sqrt(super().forward(a, axis, keepdims, correction))
        return self.out

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(self.out == 0, 0, g / (2 * self.out)).astype(self.out.dtype, copy=False)
        return super().backward(g)


class LogSumExp(Reduction):
    def forward(self, a, axis, keepdims):
        self.a, self.axes, self.keepdims = a, _normalize_axes(axis, a.ndim), keepdims
        m = a.max(axis=self.axes, keepdims=True, initial=-np.inf)  # empty axes: -inf, as torch
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        out = m + np.log(np.exp(a - m).sum(axis=self.axes, keepdims=True))
        self.out_kept = out
        return out if keepdims else np.squeeze(out, axis=self.axes)

    def backward(self, g):  # d/da_i log Σ eᵃ = softmax(a)_i
        g = _regrow(g, self.axes, self.keepdims, self.a.shape)
        return g * np.exp(self.a - self.out_kept)


class Softmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        e = np.exp(a - a.max(axis=axis, keepdims=True, initial=-np.inf))  # initial: empty axis
        self.out = e / e.sum(axis=axis, keepdims=True)
        return self.out

    def backward(self, g):  # s ⊙ (g - Σ g⊙s): the Jacobian diag(s) - s sᵀ applied to g
        s = self.out
        return s * (g - (g * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis):
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: empty axis
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, g):  # g - softmax ⊙ Σ g
        return g - np.exp(self.out) * g.sum(axis=self.axis, keepdims=True)


# --------------------------------------------------------------------------- shape ops


class Reshape(Function):
    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, g):  # same numbers, old shape
        return g.reshape(self.shape)

    def describe_error(self, inputs, params, err):
        a = inputs[0]
        return f"reshape: cannot reshape shape {a.shape} ({a.size} elements) into {params['shape']}"


class Permute(Function):
    def forward(self, a, order):
        if sorted(o % max(a.ndim, 1) for o in order) != list(range(a.ndim)):
            raise ValueError("order must name every axis once")
        self.order = order
        return np.transpose(a, order)

    def backward(self, g):  # apply the inverse permutation
        return np.transpose(g, np.argsort([o % g.ndim for o in self.order]))

    def describe_error(self, inputs, params, err):
        return f"permute: order {params['order']} is not a permutation of the axes of shape {inputs[0].shape}"  # noqa: E501


class Expand(Function):
    def forward(self, a, shape):
        return np.broadcast_to(a, shape)

    def backward(self, g):  # the engine's unbroadcast sums the copies
        return g

    def describe_error(self, inputs, params, err):
        return f"expand: cannot expand shape {inputs[0].shape} to {params['shape']}"


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None
        or p is Ellipsis
        or isinstance(p, (slice, int, np.integer))
        or (isinstance(p, np.ndarray) and p.dtype == np.bool_)
        for p in parts
    )


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return a[index]

    def backward(self, g):
        # Scatter g back to where it came from; integer-array indices may repeat an element,
        # so those go through np.add.at, which adds instead of overwriting.
        out = np.zeros(self.shape, dtype=g.dtype)
        if _is_basic_index(self.index):
            out[self.index] = g
        else:
            np.add.at(out, self.index, g)
        return out

    def describe_error(self, inputs, params, err):
        return f"getitem: index {params['index']!r} does not fit shape {inputs[0].shape}: {err}"


class Cat(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.splits = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):  # each input gets its own slab of g
        return tuple(np.split(g, self.splits, axis=self.axis))

    def describe_error(self, inputs, params, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        axis, nd = params["axis"], inputs[0].ndim
        if not -nd <= axis < nd:
            return f"cat: axis {axis} is out of range for input shapes {shapes}"
        return f"cat: shapes {shapes} do not match outside axis {axis}"


class Stack(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, g):  # input i gets slice i along the new axis
        return tuple(np.take(g, i, axis=self.axis) for i in range(g.shape[self.axis]))

    def describe_error(self, inputs, params, err):
        shapes = ", ".join(str(t.shape) for t in inputs)
        if len({t.shape for t in inputs}) == 1:
            axis, nd = params["axis"], inputs[0].ndim + 1
            return f"stack: axis {axis} is out of range for {nd}-D results (shapes {shapes})"
        return f"stack: all shapes must be equal, got {shapes}"


class Pad(Function):
    def forward(self, a, pad_width, value):
        try:
            widths = np.broadcast_to(np.asarray(pad_width, dtype=np.intp), (a.ndim, 2))
        except ValueError:
            raise ValueError(
                f"need an int, one (before, after) pair, or {a.ndim} pairs (one per axis)"
            ) from None
        if (widths < 0).any():
            raise ValueError("pad widths must be non-negative")
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, a.shape))
        return np.pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):  # the padding is constant: only the original window gets gradient
        return g[self.slices]

    def describe_error(self, inputs, params, err):
        return f"pad: pad_width {params['pad_width']!r} does not fit shape {inputs[0].shape}: {err}"


__all__ = [
    name for name, obj in globals().items() if isinstance(obj, type) and issubclass(obj, Function)
]
__all__ += ["erf", "Tensor"]
