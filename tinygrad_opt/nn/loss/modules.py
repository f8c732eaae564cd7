"""Loss modules with torch's names: ``CrossEntropyLoss()(input, target)`` and friends.

Each holds its options and calls the function of the same name. Class weights are
buffers (numpy arrays in ``state_dict``), never parameters. Unlike torch, the options
are keyword-only: torch's deprecated ``size_average``/``reduce`` are not accepted, so a
positional call written for torch would silently mean something else here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.nn.loss import binary, classification, pairs, regression
from tinygrad_opt.nn.loss._common import REDUCTIONS, check_reduction
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "NLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
]


def _buffer(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    return np.array(value.data if isinstance(value, Tensor) else value)


class _Loss(Module):
    """Base: stores ``reduction`` (checked now, not at the first call)."""

    _reductions: tuple[str, ...] = REDUCTIONS

    def __init__(self, reduction: str = "mean") -> None:
        check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.cross_entropy` with fixed options."""

    def __init__(
        self,
        weight: Any = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(reduction)
        classification._check_smoothing(label_smoothing)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return classification.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"reduction={self.reduction!r}, ignore_index={self.ignore_index}, "
            f"label_smoothing={self.label_smoothing}"
        )


class NLLLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.nll_loss` with fixed options."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.ignore_index = int(ignore_index)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return classification.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.binary_cross_entropy` with fixed options."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return binary.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.binary_cross_entropy_with_logits` with fixed options."""

    def __init__(
        self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None
    ) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return binary.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class SoftMarginLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.soft_margin_loss` with fixed options."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return binary.soft_margin_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.mse_loss` with fixed options."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return regression.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.l1_loss` with fixed options."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return regression.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.smooth_l1_loss` with fixed options."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        if not float(beta) >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return regression.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, beta={self.beta}"


class HuberLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.huber_loss` with fixed options."""

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not float(delta) > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return regression.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, delta={self.delta}"


class KLDivLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.kl_div` with fixed options (``"batchmean"`` allowed)."""

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return regression.kl_div(
            input, target, reduction=self.reduction, log_target=self.log_target
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class MarginRankingLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.margin_ranking_loss` with fixed options."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return pairs.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"


class CosineEmbeddingLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.cosine_embedding_loss` with fixed options."""

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return pairs.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
