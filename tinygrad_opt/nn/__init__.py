"""Neural-network building blocks on top of the Tensor engine.

- :class:`Module`: parameter discovery, ``train``/``eval``, ``state_dict``.
- Layers: :class:`Linear` (weight stored as (in, out)), activations, :class:`Sequential`,
  :class:`MLP`; :class:`ScalarMLP` and friends (``nn/scalar.py``) are built from scalar
  ``Value`` nodes for teaching.
- More layers, one module each: :class:`Conv2d`, :class:`MaxPool2d`, :class:`AvgPool2d`
  (``nn/conv.py``, NCHW), :class:`BatchNorm1d`, :class:`BatchNorm2d`
  (``nn/normalization.py``), :class:`Dropout`, :class:`Flatten`, :class:`Embedding`.
- Recurrent layers with torch's parameter names and layout: :class:`RNN`, :class:`LSTM`,
  :class:`GRU` (``nn/rnn.py``) and the cells :class:`RNNCell`, :class:`LSTMCell`,
  :class:`GRUCell` (``nn/rnn_cells.py``).
- :mod:`~tinygrad_opt.nn.init`: seeded initialisers (Kaiming, Xavier, ...).
- :mod:`~tinygrad_opt.nn.loss`: losses with torch's names and semantics
  (``cross_entropy``, ``nll_loss``, ``binary_cross_entropy[_with_logits]``, ``mse_loss``,
  ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``, ``kl_div``, ...) and their modules
  (``CrossEntropyLoss``, ``MSELoss``, ...), re-exported here.
- :mod:`~tinygrad_opt.nn.functional`: fused ops (and the losses), as torch's ``F``.
"""

from tinygrad_opt.nn import functional, init, loss
from tinygrad_opt.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.embedding import Embedding
from tinygrad_opt.nn.flatten import Flatten
from tinygrad_opt.nn.functional import linear
from tinygrad_opt.nn.layers import (
    GELU,
    MLP,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from tinygrad_opt.nn.loss import (
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
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    hinge_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
)
from tinygrad_opt.nn.module import IncompatibleKeys, Module, Parameter, StateDictError
from tinygrad_opt.nn.normalization import BatchNorm1d, BatchNorm2d
from tinygrad_opt.nn.rnn import GRU, LSTM, RNN
from tinygrad_opt.nn.rnn_cells import GRUCell, LSTMCell, RNNCell
from tinygrad_opt.nn.scalar import ScalarLayer, ScalarMLP, ScalarNeuron

__all__ = [
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "GRU",
    "GRUCell",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LeakyReLU",
    "Linear",
    "MLP",
    "MSELoss",
    "MarginRankingLoss",
    "MaxPool2d",
    "Module",
    "NLLLoss",
    "Parameter",
    "RNN",
    "RNNCell",
    "ReLU",
    "ScalarLayer",
    "ScalarMLP",
    "ScalarNeuron",
    "Sequential",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "StateDictError",
    "Tanh",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "functional",
    "hinge_loss",
    "huber_loss",
    "init",
    "kl_div",
    "l1_loss",
    "linear",
    "loss",
    "margin_ranking_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
]
