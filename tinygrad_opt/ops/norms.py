"""Vector norms: ``norm`` (torch.norm, i.e. ``linalg.vector_norm`` for every number ``p``
and for ``'fro'`` over at most two dims), with torch's subgradients at the kinks."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import constant
from tinygrad_opt.errors import DTypeError
from tinygrad_opt.ops.reduce import (
    Dim,
    Reduction,
    _axes,
    _normalize_axes,
    _regrow,
    _regrow_tensor,
    _with_dtype,
)

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["norm"]


class VectorNorm(Reduction):
    """‖a‖_p over the dims: (Σ|a|ᵖ)^(1/p); p = inf / -inf: max / min |a|; p = 0: the
    number of nonzeros. Backward (torch's choices at the kinks): p = 0 has no gradient;
    p = 1 gives sign(a)·g (0 at a = 0); inf norms share g between the elements that
    attain the norm; otherwise sign(a)|a|^(p-1) · g / ‖a‖^(p-1), taken as 0 where the
    norm is 0 (p ≥ 1) or where a = 0 (p < 1): the subgradient 0 at the origin."""

    def forward(self, a, axis, keepdims, p):
        self.a, self.axes, self.keepdims, self.p = a, _normalize_axes(axis, a.ndim), keepdims, p
        absa = np.abs(a)
        if math.isinf(p) and any(a.shape[i] == 0 for i in self.axes):
            # max/min of nothing: no identity to fall back on (RuntimeError, as torch)
            raise RuntimeError(
                f"norm(): cannot take the {p} norm of shape {a.shape} over dim {axis}: "
                f"an empty dim has no max/min"
            )
        if p == math.inf:
            out = absa.max(axis=self.axes, keepdims=True)
        elif p == -math.inf:
            out = absa.min(axis=self.axes, keepdims=True)
        elif p == 0:
            out = (a != 0).sum(axis=self.axes, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = absa.sum(axis=self.axes, keepdims=True)
        elif p == 2:
            out = np.sqrt((a * a).sum(axis=self.axes, keepdims=True))
        else:
            with np.errstate(divide="ignore"):
                out = (absa**p).sum(axis=self.axes, keepdims=True) ** (1.0 / p)
        self.out = np.asarray(out, dtype=a.dtype)
        return self.out if keepdims else np.squeeze(self.out, self.axes)

    def backward(self, g):
        a, p, norm = self.a, self.p, self.out
        g = _regrow(g, self.axes, self.keepdims, a.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return np.zeros_like(a)
            if p == 1:
                return np.sign(a) * g
            if math.isinf(p):
                absa = np.abs(a)
                hit = (absa == norm) | np.isnan(absa)
                return np.sign(a) * (g / hit.sum(axis=self.axes, keepdims=True)) * hit
            if p == 2:
                return g * np.where(norm == 0, 0, a / norm)
            if p < 1:
                scaled = np.where(a == 0, 0, np.sign(a) * np.abs(a) ** (p - 1))
                return scaled * g * norm ** (1 - p)
            scaled = np.sign(a) * np.abs(a) ** (p - 1)
            return scaled * np.where(norm == 0, 0, g / norm ** (p - 1))

    def vjp(self, g):
        # backward in Tensor ops: sign(a) and the masks are constants, the norm is
        # recomputed from the input. Where backward takes a value as 0 (a = 0, ‖a‖ = 0)
        # its derivative is 0 too (see _masked): torch's formulas divide 0 by 0 there
        # and give nan second derivatives at zero slices.
        x, p = self.a, self.p
        a = self.parents[0]
        g = _regrow_tensor(g, self.axes, self.keepdims, x.shape)
        dt = g.dtype
        sign = constant(np.sign(x))
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return constant(np.zeros_like(x))
            if p == 1:
                return g * sign
            if math.isinf(p):
                absx = np.abs(x)
                hit = (absx == self.out) | np.isnan(absx)
                count = constant(hit.sum(axis=self.axes, keepdims=True).astype(dt))
                return sign * (g / count) * constant(hit.astype(dt))
            norm = VectorNorm.apply(a, axis=self.axes, keepdims=True, p=p)
            zero_norm = self.out == 0
            if p == 2:  # g · a / ‖a‖
                return g * _masked(norm, zero_norm, lambda t: a / t)
            # sign(a)|a|^(p-1) · g / ‖a‖^(p-1); its second derivative at a = 0 is 0 for
            # p > 2 and infinite for p < 2, taken as 0 (torch: nan)
            scaled = sign * _masked(a.abs(), x == 0, lambda t: t ** (p - 1))
            if p < 1:  # (‖a‖^(1-p) = 0 at ‖a‖ = 0)
                return scaled * g * _masked(norm, zero_norm, lambda t: t ** (1 - p))
            return scaled * _masked(norm, zero_norm, lambda t: g / t ** (p - 1))


def _masked(t: Tensor, where: np.ndarray, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """``fn(t)`` with the result 0 (and no gradient) where the constant mask ``where`` is
    True: ``fn`` is applied to ``t`` with those entries set to 1 (finite there) and the
    result multiplied by 0 there."""
    if not where.any():
        return fn(t)
    dt = t.dtype
    return fn(t + constant(where.astype(dt))) * constant((~where).astype(dt))


def norm(
    input: Tensor,
    p: float | str | None = "fro",
    dim: Dim = None,
    keepdim: bool = False,
    dtype: Any = None,
) -> Tensor:
    """The vector p-norm over ``dim`` (every element when None), as torch.norm, which is
    ``linalg.vector_norm`` for every number ``p`` and for ``'fro'`` (= 2) over at most
    two dims. ``p``: a number (2 when None), ``inf``, ``-inf``, 0 (count of nonzeros) or
    ``'fro'``; ``'nuc'`` (a matrix norm) is not implemented. ``dtype`` casts the input
    first. Gradients at 0 are torch's subgradient 0 (see :class:`VectorNorm`)."""
    axes = _axes(dim, None)
    if isinstance(p, str):
        ndims = input.ndim if axes is None else 1 if isinstance(axes, int) else len(axes)
        if p == "nuc":
            raise NotImplementedError("norm(): the nuclear norm (p='nuc') is not implemented")
        if p != "fro":
            raise RuntimeError(f"norm(): order p={p!r} is not supported (use a number or 'fro')")
        if axes is not None and ndims > 2:
            raise RuntimeError(f"norm(): p='fro' takes at most 2 dims, got dim={dim}")
        p = 2.0
    p = 2.0 if p is None else float(p)
    input = _with_dtype(input, dtype)
    if input._data.dtype.kind != "f":
        raise DTypeError(
            f"norm(): expected a floating point tensor as input, got dtype {input.dtype}"
        )
    return VectorNorm.apply(input, axis=axes, keepdims=bool(keepdim), p=p)


class NormMethods:
    """Tensor methods for norms (``t.norm(2, 1)`` is ``norm(t, 2, 1)``)."""

    __slots__ = ()

    norm = norm
