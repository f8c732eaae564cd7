"""Loss modules with torch's names: ``CrossEntropyLoss()(input, target)`` and friends.

Each holds its options and calls the function of the same name. Class weights are
buffers (numpy arrays in ``state_dict``), never parameters. Unlike torch, the options
are keyword-only: torch's deprecated ``size_average``/``reduce`` are not accepted, so a
positional call written for torch would silently mean something else here.
"""

from __future__ import annotations

from collections.abc import Callable
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
    """Base: stores ``reduction`` (checked now, not at the first call); ``extra_repr``
    shows the attributes named in ``_options``, in that order."""

    _reductions: tuple[str, ...] = REDUCTIONS
    _options: tuple[str, ...] = ("reduction",)

    def __init__(self, reduction: str = "mean") -> None:
        check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self._options)


class _ElementLoss(_Loss):
    """A loss of (input, target) whose options are all keywords of its function ``_fn``:
    ``forward`` calls ``_fn(input, target, **options)`` with the attributes of ``_options``."""

    _fn: Callable[..., Tensor]

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return self._fn(input, target, **{name: getattr(self, name) for name in self._options})


class _PairLoss(_Loss):
    """A loss of (input1, input2, target) with a ``margin``: ``_fn(input1, input2, target,
    margin, reduction)``."""

    _fn: Callable[..., Tensor]
    _options = ("margin", "reduction")

    def __init__(self, margin: float = 0.0, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return self._fn(input1, input2, target, self.margin, self.reduction)


class CrossEntropyLoss(_Loss):
    """:func:`~tinygrad_opt.nn.loss.cross_entropy` with fixed options."""

    _options = ("reduction", "ignore_index", "label_smoothing")

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


class SoftMarginLoss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.soft_margin_loss` with fixed options."""

    _fn = staticmethod(binary.soft_margin_loss)


class MSELoss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.mse_loss` with fixed options."""

    _fn = staticmethod(regression.mse_loss)


class L1Loss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.l1_loss` with fixed options."""

    _fn = staticmethod(regression.l1_loss)


class SmoothL1Loss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.smooth_l1_loss` with fixed options."""

    _fn = staticmethod(regression.smooth_l1_loss)
    _options = ("reduction", "beta")

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if not float(beta) >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = float(beta)


class HuberLoss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.huber_loss` with fixed options."""

    _fn = staticmethod(regression.huber_loss)
    _options = ("reduction", "delta")

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        if not float(delta) > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)


class KLDivLoss(_ElementLoss):
    """:func:`~tinygrad_opt.nn.loss.kl_div` with fixed options (``"batchmean"`` allowed)."""

    _fn = staticmethod(regression.kl_div)
    _reductions = ("mean", "batchmean", "sum", "none")
    _options = ("reduction", "log_target")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.log_target = bool(log_target)


class MarginRankingLoss(_PairLoss):
    """:func:`~tinygrad_opt.nn.loss.margin_ranking_loss` with fixed options."""

    _fn = staticmethod(pairs.margin_ranking_loss)


class CosineEmbeddingLoss(_PairLoss):
    """:func:`~tinygrad_opt.nn.loss.cosine_embedding_loss` with fixed options."""

    _fn = staticmethod(pairs.cosine_embedding_loss)
