"""Losses with ``torch.nn.functional``'s names, signatures and semantics, plus modules.

- :mod:`.classification`: :func:`cross_entropy` (class indices or probabilities, class
  weights, ``ignore_index``, ``label_smoothing``), :func:`nll_loss`.
- :mod:`.binary`: :func:`binary_cross_entropy`, :func:`binary_cross_entropy_with_logits`
  (``pos_weight``), :func:`soft_margin_loss`, and our :func:`hinge_loss`.
- :mod:`.regression`: :func:`mse_loss`, :func:`l1_loss`, :func:`smooth_l1_loss`,
  :func:`huber_loss`, :func:`kl_div`.
- :mod:`.pairs`: :func:`margin_ranking_loss`, :func:`cosine_embedding_loss`.
- :mod:`.modules`: ``CrossEntropyLoss``, ``NLLLoss``, ``BCELoss``, ``BCEWithLogitsLoss``,
  ``MSELoss``, ``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``KLDivLoss``,
  ``SoftMarginLoss``, ``MarginRankingLoss``, ``CosineEmbeddingLoss``.

Every loss is a fused :class:`~tinygrad_opt.tensor.Function` (forward and hand-derived
backward in one node) and takes ``reduction`` = ``"mean"`` | ``"sum"`` | ``"none"``.
``tinygrad_opt.nn.functional`` and ``tinygrad_opt.nn`` re-export all of them.
"""

from tinygrad_opt.nn.loss._labels import TargetIndexError
from tinygrad_opt.nn.loss.binary import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    hinge_loss,
    soft_margin_loss,
)
from tinygrad_opt.nn.loss.classification import cross_entropy, nll_loss
from tinygrad_opt.nn.loss.modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
)
from tinygrad_opt.nn.loss.pairs import cosine_embedding_loss, margin_ranking_loss
from tinygrad_opt.nn.loss.regression import huber_loss, kl_div, l1_loss, mse_loss, smooth_l1_loss

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
    "TargetIndexError",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "hinge_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]
