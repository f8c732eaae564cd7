"""Batch normalisation: ``BatchNorm1d``, ``BatchNorm2d`` and :func:`batch_norm`.

(The per-sample normalisations live in their own modules and are re-exported here, so
every normalisation layer can be imported from ``nn.normalization``: ``LayerNorm``,
``RMSNorm``, :func:`layer_norm`, :func:`rms_norm` in ``nn/layer_norm.py``; ``GroupNorm``,
:func:`group_norm` in ``nn/group_norm.py``.)

For an input with channels on axis 1, statistics are per channel over every other axis
(N for (N, C); N and L for (N, C, L); N, H, W for (N, C, H, W)); m is the number of
values per channel.

- **Training** (or ``track_running_stats=False``): μ and σ² are the batch mean and the
  *biased* variance (divide by m), and

      y = γ · (x - μ) / √(σ² + ε) + β.

  The running statistics (if tracked) are then updated with the *unbiased* variance, as
  torch does: ``running_mean ← (1 - f)·running_mean + f·μ`` and ``running_var ← (1 - f)·
  running_var + f·σ²·m/(m - 1)``, with f = ``momentum`` (or 1/``num_batches_tracked``, a
  cumulative average, when ``momentum=None``).
- **Eval** mode normalises with the running statistics instead, a fixed affine map.

Backward (one fused op). With x̂ = (x - μ)/√(σ² + ε) and ĝ = γ·g:
dβ = Σ g, dγ = Σ g·x̂ and, with batch statistics (μ and σ² depend on x),
dx = (ĝ - mean(ĝ) - x̂ · mean(ĝ·x̂)) / √(σ² + ε); with running statistics
dx = ĝ / √(σ² + ε). Sums and means run over the reduced axes. For higher derivatives
the op's ``composite`` writes the same map in Tensor ops.

**Buffers.** ``running_mean``, ``running_var`` (arrays of shape (C,)) and
``num_batches_tracked`` (a 0-d int64 array) are plain numpy arrays, not Tensors, so they
are not parameters and optimisers never see them. They are declared as the module's
``buffer_names``, so ``state_dict``/``load_state_dict`` of the layer and of every model
containing it include them (keys as in torch, so a torch ``BatchNorm`` state dict
converted to numpy loads directly).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import constant
from tinygrad_opt.nn.group_norm import GroupNorm, group_norm
from tinygrad_opt.nn.layer_norm import (
    LayerNorm,
    RMSNorm,
    affine_tensor,
    layer_norm,
    normalize_tensor,
    rms_norm,
)
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "LayerNorm",
    "RMSNorm",
    "batch_norm",
    "group_norm",
    "layer_norm",
    "rms_norm",
]


class _BatchNorm(Function):
    """y = γ·(x - μ)/√(σ² + ε) + β with per-channel μ, σ² given (batch or running stats).

    ``batch_stats=True`` means μ and σ² were computed from x itself, so the backward
    includes their dependence on x. See the module docstring for the formulas.
    """

    name = "batch_norm"

    def forward(self, x, *affine, mean, var, eps, batch_stats, has_weight):
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)  # broadcasts (C,) over x
        self.axes = (0, *range(2, x.ndim))
        self.batch_stats, self.has_weight = batch_stats, has_weight
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(shape)
        xhat = (x - mean.reshape(shape).astype(x.dtype, copy=False)) * invstd
        self.xhat, self.invstd = xhat, invstd
        w = affine[0] if has_weight else None
        b = affine[-1] if len(affine) > int(has_weight) else None
        self.w = None if w is None else w.reshape(shape)
        out = xhat if w is None else xhat * self.w
        if b is not None:
            out = out + b.reshape(shape)
        return out

    def backward(self, g):
        xhat, axes = self.xhat, self.axes
        grads: list[np.ndarray | None] = []
        if self.needs_grad[0]:
            gh = g if self.w is None else g * self.w  # dL/dx̂
            if self.batch_stats:
                gh = gh - gh.mean(axis=axes, keepdims=True)
                gh -= xhat * (gh * xhat).mean(axis=axes, keepdims=True)
            grads.append(gh * self.invstd)
        else:
            grads.append(None)
        rest = self.needs_grad[1:]
        if self.has_weight:
            grads.append((g * xhat).sum(axis=axes) if rest[0] else None)
            rest = rest[1:]
        if rest:
            grads.append(g.sum(axis=axes) if rest[0] else None)
        return tuple(grads)

    def composite(self, x, *affine, mean, var, eps, batch_stats, has_weight):
        """The same map in Tensor ops: with batch statistics μ and σ² are recomputed from
        x (so they are differentiated too); running statistics are constants."""
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if batch_stats:
            y = normalize_tensor(x, (0, *range(2, x.ndim)), eps)
        else:
            dt = x.dtype
            invstd = (1.0 / np.sqrt(var + eps)).astype(dt, copy=False).reshape(shape)
            mu = np.asarray(mean).reshape(shape).astype(dt, copy=False)
            y = (x - constant(mu)) * constant(invstd)
        return affine_tensor(y, affine, has_weight, shape)


def _channels_vector(who: str, name: str, a: Any, c: int) -> None:
    if a is not None and np.shape(a.data if isinstance(a, Tensor) else a) != (c,):
        shape = np.shape(a.data if isinstance(a, Tensor) else a)
        raise ShapeError(f"{who}: {name} must have shape ({c},), got {shape}")


def _batch_norm(
    who: str,
    x: Tensor,
    running_mean: np.ndarray | Tensor | None,
    running_var: np.ndarray | Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
) -> Tensor:
    if x.ndim < 2:
        raise ShapeError(f"{who}: expected input of shape (N, C, ...), got {x.shape}")
    c = x.shape[1]
    if isinstance(running_mean, Tensor):  # update the Tensor's array in place
        running_mean = running_mean.data
    if isinstance(running_var, Tensor):
        running_var = running_var.data
    for name, a in (("running_mean", running_mean), ("running_var", running_var)):
        _channels_vector(who, name, a, c)
    _channels_vector(who, "weight", weight, c)
    _channels_vector(who, "bias", bias, c)
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        axes = (0, *range(2, x.ndim))
        m = x.size // c if c else 0
        if m <= 1 and training:
            raise ShapeError(
                f"{who}: training needs more than one value per channel to estimate the "
                f"variance, got input of shape {x.shape}"
            )
        mean, var = x.data.mean(axis=axes), x.data.var(axis=axes)
        if training and running_mean is not None and running_var is not None:
            # in place, as torch: the caller's arrays hold the new running statistics
            f = float(momentum)
            running_mean *= 1.0 - f
            running_mean += f * mean
            running_var *= 1.0 - f
            running_var += (f * m / (m - 1)) * var
    else:
        mean, var = np.asarray(running_mean), np.asarray(running_var)
    affine = [t for t in (weight, bias) if t is not None]
    return _BatchNorm.apply(
        x,
        *affine,
        mean=mean,
        var=var,
        eps=float(eps),
        batch_stats=use_batch,
        has_weight=weight is not None,
    )


def batch_norm(
    x: Tensor | np.ndarray,
    running_mean: np.ndarray | Tensor | None,
    running_var: np.ndarray | Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over axis 1 of ``x`` (N, C, ...), as ``torch.nn.functional.batch_norm``.

    ``training=True`` (or no running statistics given) normalises with the batch mean and
    biased variance and, if ``running_mean``/``running_var`` (float arrays of shape (C,))
    are given, updates them **in place** with ``momentum`` and the unbiased variance.
    ``training=False`` normalises with the running statistics. ``weight`` γ and ``bias`` β
    (shape (C,), optional) scale and shift the result.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    return _batch_norm(
        "batch_norm", x, running_mean, running_var, weight, bias, training, momentum, eps
    )


_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class _BatchNormNd(Module):
    """Shared implementation of BatchNorm1d / BatchNorm2d (see the module docstring)."""

    buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    _ndims: tuple[int, ...] = ()
    _layout: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        name = type(self).__name__
        if int(num_features) < 1:
            raise ValueError(f"{name}: num_features must be positive, got {num_features}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        c = self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight: Tensor | None = Parameter(np.ones(c), dtype=dtype) if affine else None
        self.bias: Tensor | None = Parameter(np.zeros(c), dtype=dtype) if affine else None
        self.running_mean: np.ndarray | None = None
        self.running_var: np.ndarray | None = None
        self.num_batches_tracked: np.ndarray | None = None
        if track_running_stats:
            self.running_mean = np.zeros(c, dtype=dtype)
            self.running_var = np.ones(c, dtype=dtype)
            self.num_batches_tracked = np.zeros((), dtype=np.int64)

    # ----------------------------------------------------------------- forward
    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=None if self.weight is None else self.weight.dtype)
        who = f"{type(self).__name__}({self.extra_repr()})"
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            expected = self._layout.format(c=self.num_features)
            raise ShapeError(f"{who}: expected input of shape {expected}, got {x.shape}")
        training = self.training
        momentum = self.momentum
        tracking = training and self.num_batches_tracked is not None
        if tracking and momentum is None:  # cumulative moving average
            momentum = 1.0 / (int(self.num_batches_tracked) + 1)
        out = _batch_norm(
            who,
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training,
            0.0 if momentum is None else momentum,
            self.eps,
        )
        if tracking:
            self.num_batches_tracked += 1
        return out

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.running_mean is not None:
            self.running_mean = np.zeros_like(self.running_mean)
            self.running_var = np.ones_like(self.running_var)
            self.num_batches_tracked = np.zeros((), dtype=np.int64)

    def extra_repr(self) -> str:
        text = str(self.num_features)
        if self.eps != 1e-5:
            text += f", eps={self.eps:g}"
        if self.momentum != 0.1:
            text += f", momentum={self.momentum}"
        if not self.affine:
            text += ", affine=False"
        if not self.track_running_stats:
            text += ", track_running_stats=False"
        return text


class BatchNorm1d(_BatchNormNd):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L), per channel.

    ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)``: γ (``weight``, ones) and β (``bias``, zeros) of shape
    (C,) if ``affine``; buffers ``running_mean``, ``running_var``, ``num_batches_tracked``
    if ``track_running_stats``. Training mode uses batch statistics and updates the
    running ones (unbiased variance); eval mode uses the running ones. Formulas and
    buffer handling: see :mod:`tinygrad_opt.nn.normalization`.
    """

    _ndims = (2, 3)
    _layout = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNormNd):
    """Batch normalisation of (N, C, H, W) input over N, H and W, per channel.

    Same arguments and behaviour as :class:`BatchNorm1d`; see
    :mod:`tinygrad_opt.nn.normalization`.
    """

    _ndims = (4,)
    _layout = "(N, {c}, H, W)"
