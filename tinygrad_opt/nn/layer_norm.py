"""Layer normalisation and RMS normalisation: ``LayerNorm``, ``RMSNorm`` and functionals.

Both normalise each sample over its trailing ``normalized_shape`` axes (D of them, N
values per group; every leading index is one group), with torch's definitions.

**layer_norm.** With μ = mean(x), σ² = mean((x - μ)²) (biased) over the group and
σ = √(σ² + ε), x̂ = (x - μ)/σ and

    y = x̂ · w + b                                    (w, b of shape normalized_shape)

Backward, with ĝ = g·w (g if there is no weight) and means over the group:

    dx = (1/σ) · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)),   dw = Σ g·x̂,   db = Σ g

(dw and db sum over the leading axes).

**rms_norm.** With r = 1/√(mean(x²) + ε) over the group, x̂ = x·r and y = x̂ · w;
ε = None means the machine epsilon of x's dtype, as torch. Backward:

    dx = r · (ĝ - x̂ · mean(ĝ · x̂)),   dw = Σ g·x̂.

Both are on a transformer's hot path, so each is one fused
:class:`~tinygrad_opt.tensor.Function`: the input is viewed as an (M, N) matrix (M groups
of N values) and every per-group mean is a single row reduction, one numpy pass forward
and one backward instead of a graph of about ten small nodes (and their temporaries).
For derivatives of higher order (``create_graph=True``) each op also has a
``composite``, the same formula in Tensor ops. rms_norm's vjp is the composite's
derivative; layer_norm's and group_norm's (``AffineRowNorm.vjp``) is written out with
the nodes of ``nn/_norm_rows.py`` (dx one fused node, x̂ taken from the forward), the
composite staying the reference the tests compare it with.
``GroupNorm`` (``nn/group_norm.py``) reuses the same row kernels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.nn._norm_rows import (
    NormAffineBackward,
    RowNormalize,
    SumOfProducts,
    normalize_rows,
    normalize_rows_backward,
    normalize_tensor,
    row_dot_mean,
)
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["LayerNorm", "RMSNorm", "layer_norm", "rms_norm"]

ShapeLike = int | Sequence[int]


# --------------------------------------------------------------------------- row kernels


def _sum_rows(a: np.ndarray) -> np.ndarray:
    """Σ over the rows (axis 0) of a 2-D array."""
    return a.sum(axis=0)


def affine_tensor(y: Tensor, affine: Sequence[Tensor], has_weight: bool, pshape) -> Tensor:
    """y·w + b with the optional ``affine`` (weight, bias) reshaped to ``pshape``."""
    if has_weight:
        y = y * affine[0].reshape(pshape)
    if len(affine) > int(has_weight):
        y = y + affine[-1].reshape(pshape)
    return y


class AffineRowNorm(Function):
    """Rows normalised by :func:`normalize_rows`, then y = x̂·w + b with w, b broadcast
    against a view of x̂ (the part layer_norm and group_norm share, forward and backward).

    ``view`` is x̂'s shape as the affine sees it, ``pshape`` the parameters' broadcast
    shape in it and ``axes`` the view's axes a parameter gradient sums over:
    layer_norm (M, N) / (1, N) / (0,), group_norm (N, C, K) / (1, C, 1) / (0, 2).
    ``affine`` is (weight, bias), (weight,), (bias,) or () (``has_weight`` tells which).
    """

    def normalize_affine(self, x, rows, affine, *, eps, has_weight, view, pshape, axes):
        """Forward: ``rows`` (M, N) is ``x`` cut into its normalisation groups."""
        xhat, invstd = normalize_rows(rows, eps)
        self.xhat, self.invstd, self.eps = xhat, invstd, eps
        self.shape, self.view, self.pshape, self.axes = x.shape, view, pshape, axes
        w = affine[0] if has_weight else None
        b = affine[-1] if len(affine) > int(has_weight) else None
        self.param_shape = None if not affine else affine[0].shape
        self.w = None if w is None else w.reshape(pshape)
        self.dtypes = [a.dtype for a in affine]
        out = xhat.reshape(view)
        out = out.copy() if self.w is None else out * self.w  # never a view of saved xhat
        if b is not None:
            out += b.reshape(pshape)
        return out.reshape(x.shape)

    def backward(self, g):
        gv = g.reshape(self.view)
        grads: list[np.ndarray | None] = [None]
        if self.needs_grad[0]:
            gh = gv if self.w is None else gv * self.w
            dx = normalize_rows_backward(gh.reshape(self.xhat.shape), self.xhat, self.invstd)
            grads[0] = dx.reshape(self.shape)
        for i, dtype in enumerate(self.dtypes, start=1):
            if not self.needs_grad[i]:
                grads.append(None)
                continue
            is_weight = i == 1 and self.w is not None
            part = gv * self.xhat.reshape(self.view) if is_weight else gv
            grads.append(
                part.sum(axis=self.axes).reshape(self.param_shape).astype(dtype, copy=False)
            )
        return tuple(grads)

    def vjp(self, g):
        """``backward``'s formulas in Tensor ops: dx is one :class:`NormAffineBackward`
        node, dw = Σ g·x̂ with x̂ a :class:`RowNormalize` node; both are functions of x
        valued from the forward, so nothing is recomputed and the graph stays small."""
        x, affine = self.parents[0], self.parents[1:]
        needs = self.needs_grad
        saved = {"eps": self.eps, "xhat": self.xhat, "invstd": self.invstd}
        grads: list[Any] = [None]
        if needs[0]:
            w = affine[:1] if self.w is not None else ()
            geometry = {"view": self.view, "pshape": self.pshape, "axes": self.axes}
            grads[0] = NormAffineBackward.apply(g, x, *w, **saved, **geometry)
        gv = g.reshape(self.view)
        for i in range(1, len(needs)):
            if not needs[i]:
                grads.append(None)
                continue
            if i == 1 and self.w is not None:  # dw = Σ g·x̂
                xhat = RowNormalize.apply(x.reshape(self.xhat.shape), **saved)
                part = SumOfProducts.apply(gv, xhat.reshape(self.view), axes=self.axes)
            else:  # db = Σ g
                part = gv.sum(self.axes)
            part = part.reshape(self.param_shape)
            dtype = self.dtypes[i - 1]
            grads.append(part if part.dtype == dtype else part.to(dtype))
        return tuple(grads)


class AffineNormModule(Module):
    """Base of LayerNorm and GroupNorm: ``weight`` (ones) and ``bias`` (zeros) of the
    parameter shape, or None, and :meth:`reset_parameters`."""

    def _init_affine(self, shape: Any, affine: bool, bias: bool, dtype: Any) -> None:
        self.weight: Tensor | None = None
        self.bias: Tensor | None = None
        if affine:
            self.weight = Parameter(np.ones(shape), dtype=dtype)
            if bias:
                self.bias = Parameter(np.zeros(shape), dtype=dtype)

    def reset_parameters(self) -> None:
        """weight ← 1, bias ← 0 (in place)."""
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0


# --------------------------------------------------------------------------- shared checks
def _normalized_shape(fn: str, normalized_shape: ShapeLike) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)):
        shape = (int(normalized_shape),)
    else:
        shape = tuple(int(n) for n in normalized_shape)
    if not shape:
        raise ValueError(f"{fn}: normalized_shape must have at least one dimension, got ()")
    if any(n < 0 for n in shape):
        raise ValueError(f"{fn}: normalized_shape must be non-negative, got {shape}")
    return shape


def _check_input(fn: str, x: Tensor, shape: tuple[int, ...]) -> None:
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape) :] != shape:
        raise ShapeError(
            f"{fn}: input shape {x.shape} does not end with normalized_shape {shape} "
            f"(expected input of shape (*, {', '.join(map(str, shape))}))"
        )


def _check_param(fn: str, name: str, p: Tensor | None, shape: tuple[int, ...]) -> None:
    if p is not None and p.shape != shape:
        raise ShapeError(f"{fn}: {name} shape {p.shape} does not match normalized_shape {shape}")


def _as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(x, dtype=None if like is None else like.dtype)


# --------------------------------------------------------------------------- layer_norm
class _LayerNorm(AffineRowNorm):
    """y = x̂·w + b over the last D axes; formulas in the module docstring."""

    name = "layer_norm"

    def forward(self, x, *affine, d, eps, has_weight):
        n = math.prod(x.shape[x.ndim - d :])
        rows = x.reshape(x.size // n if n else 0, n)
        return self.normalize_affine(
            x,
            rows,
            affine,
            eps=eps,
            has_weight=has_weight,
            view=rows.shape,
            pshape=(1, n),
            axes=(0,),
        )

    def composite(self, x, *affine, d, eps, has_weight):
        """The same normalisation in Tensor ops (its derivative is the vjp)."""
        y = normalize_tensor(x, tuple(range(x.ndim - d, x.ndim)), eps)
        return affine_tensor(y, affine, has_weight, x.shape[x.ndim - d :])


def layer_norm(
    input: Tensor,
    normalized_shape: ShapeLike,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.functional.layer_norm``.

    y = (x - μ)/√(σ² + ε) · weight + bias with μ, σ² the mean and biased variance of each
    group of trailing values. ``weight``/``bias`` (optional) have shape
    ``normalized_shape``. One fused node; see :mod:`tinygrad_opt.nn.layer_norm`.
    Raises :class:`ShapeError` naming layer_norm and both shapes if the input does not
    end with ``normalized_shape`` or a parameter has another shape.
    """
    x = _as_tensor(input, weight)
    shape = _normalized_shape("layer_norm", normalized_shape)
    _check_input("layer_norm", x, shape)
    _check_param("layer_norm", "weight", weight, shape)
    _check_param("layer_norm", "bias", bias, shape)
    affine = [t for t in (weight, bias) if t is not None]
    return _LayerNorm.apply(x, *affine, d=len(shape), eps=float(eps), has_weight=weight is not None)


# --------------------------------------------------------------------------- rms_norm
class _RMSNorm(Function):
    """y = x·r·w with r = 1/√(mean(x²) + ε) over the last D axes."""

    name = "rms_norm"

    def forward(self, x, *affine, d, eps):
        self.shape, self.group_shape = x.shape, x.shape[x.ndim - d :]
        n = math.prod(self.group_shape)
        x2 = x.reshape(x.size // n if n else 0, n)
        r = 1.0 / np.sqrt(row_dot_mean(x2, x2) + eps)
        xhat = x2 * r.astype(x.dtype, copy=False)
        self.xhat, self.r = xhat, r
        self.w = affine[0].reshape(1, n) if affine else None
        out = xhat.copy() if self.w is None else xhat * self.w  # never a view of saved xhat
        return out.reshape(x.shape)

    def backward(self, g):
        g2 = g.reshape(self.xhat.shape)
        gx = gw = None
        if self.needs_grad[0]:
            gh = g2 if self.w is None else g2 * self.w
            dx = gh - self.xhat * row_dot_mean(gh, self.xhat)
            dx *= self.r.astype(dx.dtype, copy=False)
            gx = dx.reshape(self.shape)
        if self.w is not None and self.needs_grad[1]:
            gw = _sum_rows(g2 * self.xhat).reshape(self.group_shape)
            gw = gw.astype(self.w.dtype, copy=False)
        return gx if self.w is None else (gx, gw)

    def composite(self, x, *affine, d, eps):
        """The same normalisation in Tensor ops (its derivative is the vjp)."""
        axes = tuple(range(x.ndim - d, x.ndim))
        y = x / ((x * x).mean(axes, keepdim=True) + eps).sqrt()
        return y * affine[0] if affine else y


def _default_eps(eps: float | None, dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps) if eps is None else float(eps)


def rms_norm(
    input: Tensor,
    normalized_shape: ShapeLike,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.functional.rms_norm``.

    y = x / √(mean(x²) + ε) · weight; ``eps=None`` uses the machine epsilon of the
    input's dtype (``numpy.finfo(dtype).eps``). No centring and no bias. One fused node
    (see :mod:`tinygrad_opt.nn.layer_norm`); shape errors as :func:`layer_norm`.
    """
    x = _as_tensor(input, weight)
    shape = _normalized_shape("rms_norm", normalized_shape)
    _check_input("rms_norm", x, shape)
    _check_param("rms_norm", "weight", weight, shape)
    affine = [] if weight is None else [weight]
    return _RMSNorm.apply(x, *affine, d=len(shape), eps=_default_eps(eps, x.dtype))


# --------------------------------------------------------------------------- modules
class LayerNorm(AffineNormModule):
    """Layer normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.LayerNorm``.

    ``LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
    dtype=float32)``: ``weight`` (ones) and ``bias`` (zeros) of shape
    ``normalized_shape`` when ``elementwise_affine`` (``bias=False`` drops the bias);
    no buffers, the statistics come from each input alone (same in train and eval).
    Formulas: :mod:`tinygrad_opt.nn.layer_norm`.
    """

    def __init__(
        self,
        normalized_shape: ShapeLike,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.normalized_shape = _normalized_shape("LayerNorm", normalized_shape)
        if not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be non-negative, got {eps}")
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        self._init_affine(self.normalized_shape, self.elementwise_affine, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        text = f"{self.normalized_shape}, eps={self.eps:g}"
        text += f", elementwise_affine={self.elementwise_affine}"
        if self.elementwise_affine and self.bias is None:
            text += ", bias=False"
        return text


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes, as
    ``torch.nn.RMSNorm``.

    ``RMSNorm(normalized_shape, eps=None, elementwise_affine=True, dtype=float32)``:
    y = x / √(mean(x²) + ε) · weight, ``weight`` (ones, shape ``normalized_shape``) when
    ``elementwise_affine``; ``eps=None`` means the machine epsilon of the input's dtype.
    """

    def __init__(
        self,
        normalized_shape: ShapeLike,
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.normalized_shape = _normalized_shape("RMSNorm", normalized_shape)
        if eps is not None and not eps >= 0:
            raise ValueError(f"RMSNorm: eps must be non-negative or None, got {eps}")
        self.eps = None if eps is None else float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight: Tensor | None = None
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def reset_parameters(self) -> None:
        """weight ← 1 (in place)."""
        if self.weight is not None:
            self.weight.data[...] = 1

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )
