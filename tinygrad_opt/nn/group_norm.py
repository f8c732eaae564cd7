"""Group normalisation: ``GroupNorm`` and :func:`group_norm`, as torch's.

The C channels of an input (N, C, *) are split into G groups of C/G consecutive
channels; each sample's group (C/G channels times every spatial position, K values) is
normalised with its own mean μ and biased variance σ², then every channel gets its own
scale and shift:

    x̂ = (x - μ)/√(σ² + ε),    y[:, c] = x̂[:, c] · w[c] + b[c].

Backward, with ĝ = g·w[c] and means over each (sample, group):

    dx = (1/σ)(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)),   dw[c] = Σ g·x̂,   db[c] = Σ g

(dw, db summed over the batch and the spatial axes). Fused into one Function because
the statistics are exactly layer normalisation's on the (N·G, K) view of x, so the row
kernels of :mod:`tinygrad_opt.nn.layer_norm` do the work; only the per-channel affine
differs. Composing it from Tensor ops would build about ten nodes with a reshape
between the per-group statistics and the per-channel affine, for no gain.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn.layer_norm import (
    AffineNormModule,
    AffineRowNorm,
    affine_tensor,
    normalize_tensor,
)
from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = ["GroupNorm", "group_norm"]


class _GroupNorm(AffineRowNorm):
    """y = x̂·w[c] + b[c] with x̂ normalised per (sample, group); see the module docstring."""

    name = "group_norm"

    def forward(self, x, *affine, groups, eps, has_weight):
        n, c = x.shape[0], x.shape[1]
        s = math.prod(x.shape[2:])  # spatial positions per channel
        rows = x.reshape(n * groups, (c // groups) * s)
        return self.normalize_affine(
            x, rows, affine, eps=eps, has_weight=has_weight, view=(n, c, s), pshape=(1, c, 1),
            axes=(0, 2),
        )  # fmt: skip

    def composite(self, x, *affine, groups, eps, has_weight):
        """The same normalisation in Tensor ops (its derivative is the vjp)."""
        n, c = x.shape[0], x.shape[1]
        y = normalize_tensor(x.reshape(n, groups, -1), (2,), eps).reshape(x.shape)
        return affine_tensor(y, affine, has_weight, (1, c) + (1,) * (x.ndim - 2))


def _channels(who: str, name: str, p: Tensor | None, c: int) -> None:
    if p is not None and p.shape != (c,):
        raise ShapeError(f"{who}: {name} shape {p.shape} does not match the {c} input channels")


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalisation of ``input`` (N, C, *) as ``torch.nn.functional.group_norm``.

    Channels are split into ``num_groups`` groups of C/num_groups; each sample's group
    is normalised by its mean and biased variance, then ``weight``/``bias`` (shape (C,),
    optional) scale and shift each channel. One fused node (see
    :mod:`tinygrad_opt.nn.group_norm`). Raises :class:`ShapeError` (a ``ValueError``)
    if C is not divisible by ``num_groups``, the input has fewer than 2 dimensions, or a
    parameter is not of shape (C,).
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    groups = int(num_groups)
    if groups < 1:
        raise ValueError(f"group_norm: num_groups must be positive, got {num_groups}")
    if x.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, *), got shape {x.shape}")
    c = x.shape[1]
    if c % groups:
        raise ShapeError(
            f"group_norm: the {c} channels of input shape {x.shape} are not divisible by "
            f"num_groups={groups}"
        )
    _channels("group_norm", "weight", weight, c)
    _channels("group_norm", "bias", bias, c)
    affine = [t for t in (weight, bias) if t is not None]
    return _GroupNorm.apply(
        x, *affine, groups=groups, eps=float(eps), has_weight=weight is not None
    )


class GroupNorm(AffineNormModule):
    """Group normalisation, as ``torch.nn.GroupNorm``.

    ``GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, dtype=float32, *,
    bias=True)``: ``weight`` (ones) and ``bias`` (zeros) of shape (num_channels,) when
    ``affine`` (``bias=False`` drops the bias). Statistics come from each sample alone,
    the same in train and eval mode; no buffers. ``num_channels`` must be divisible by
    ``num_groups`` (``ValueError`` otherwise). Input: (N, num_channels, *).
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = np.float32,
        *,
        bias: bool = True,
    ) -> None:
        if int(num_groups) < 1 or int(num_channels) < 1:
            raise ValueError(
                f"GroupNorm: num_groups and num_channels must be positive, got "
                f"{num_groups} and {num_channels}"
            )
        if int(num_channels) % int(num_groups):
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                f"num_groups ({num_groups})"
            )
        if not eps >= 0:
            raise ValueError(f"GroupNorm: eps must be non-negative, got {eps}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        self._init_affine(self.num_channels, self.affine, bias, dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=None if self.weight is None else self.weight.dtype)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(
                f"GroupNorm({self.extra_repr()}): expected input of shape "
                f"(N, {self.num_channels}, *), got {x.shape}"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        text = f"{self.num_groups}, {self.num_channels}, eps={self.eps:g}, affine={self.affine}"
        if self.affine and self.bias is None:
            text += ", bias=False"
        return text
