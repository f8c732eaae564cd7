"""Neural-network building blocks on top of the Tensor engine.

- :class:`Module`: parameter discovery, ``train``/``eval``, ``state_dict``.
- Layers: :class:`Linear` (weight (out, in), as torch), :class:`MLP`; activation
  layers (``nn/activation.py``: :class:`ReLU`, :class:`GELU`, :class:`SiLU`, :class:`ELU`,
  :class:`PReLU`, :class:`Softmax` …, torch's constructor arguments);
  containers :class:`Sequential`, :class:`ModuleList`, :class:`ModuleDict`
  (``nn/containers.py``); :class:`ScalarMLP` and friends (``nn/scalar.py``) are built from scalar
  ``Value`` nodes for teaching.
- Normalisation: :class:`BatchNorm1d`, :class:`BatchNorm2d` (``nn/normalization.py``),
  :class:`LayerNorm`, :class:`RMSNorm` (``nn/layer_norm.py``), :class:`GroupNorm`
  (``nn/group_norm.py``).
- Recurrent layers with torch's parameter names and layout: :class:`RNN`, :class:`LSTM`,
  :class:`GRU` (``nn/rnn.py``) and the cells :class:`RNNCell`, :class:`LSTMCell`,
  :class:`GRUCell` (``nn/rnn_cells.py``).
- Convolution and pooling (torch's API, NCHW): :class:`Conv1d`, :class:`Conv2d`
  (``nn/conv.py``), :class:`ConvTranspose1d`, :class:`ConvTranspose2d`
  (``nn/conv_transpose.py``), :class:`MaxPool1d`, :class:`MaxPool2d`, :class:`AvgPool1d`,
  :class:`AvgPool2d` (``nn/pooling.py``), :class:`AdaptiveAvgPool1d`,
  :class:`AdaptiveAvgPool2d`, :class:`AdaptiveMaxPool1d`, :class:`AdaptiveMaxPool2d`
  (``nn/adaptive_pooling.py``), :class:`Upsample` (``nn/upsample.py``).
- More layers, one module each: :class:`Dropout`, :class:`Flatten`, :class:`Embedding`.
- More layers, one module each: :class:`Conv2d`, :class:`MaxPool2d`, :class:`AvgPool2d`
  (``nn/conv.py``, NCHW), :class:`BatchNorm1d`, :class:`BatchNorm2d`
  (``nn/normalization.py``), :class:`LayerNorm`, :class:`RMSNorm` (``nn/layer_norm.py``),
  :class:`GroupNorm` (``nn/group_norm.py``),
  :class:`Dropout`, :class:`Flatten`, :class:`Embedding`.
- Attention and transformers: :func:`scaled_dot_product_attention` (``nn/attention.py``,
  one fused node), :class:`MultiheadAttention` (``nn/multihead_attention.py``),
  :class:`TransformerEncoderLayer`, :class:`TransformerEncoder`,
  :class:`TransformerDecoderLayer`, :class:`TransformerDecoder` (``nn/transformer.py``),
  all with torch's parameter names so torch state dicts load as they are.
- :mod:`~tinygrad_opt.nn.init`: seeded initialisers (Kaiming, Xavier, ...).
- :mod:`~tinygrad_opt.nn.loss`: losses with torch's names and semantics
  (``cross_entropy``, ``nll_loss``, ``binary_cross_entropy[_with_logits]``, ``mse_loss``,
  ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``, ``kl_div``, ...) and their modules
  (``CrossEntropyLoss``, ``MSELoss``, ...), re-exported here.
- :mod:`~tinygrad_opt.nn.functional`: fused ops (and the losses), as torch's ``F``.
"""

from tinygrad_opt.nn import activation, functional, init, loss, utils
from tinygrad_opt.nn.activation import (
    CELU,
    ELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU6,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)
from tinygrad_opt.nn.adaptive_pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
)
from tinygrad_opt.nn.containers import ModuleDict, ModuleList
from tinygrad_opt.nn.conv import Conv1d, Conv2d
from tinygrad_opt.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.embedding import Embedding
from tinygrad_opt.nn.flatten import Flatten
from tinygrad_opt.nn.functional import linear, scaled_dot_product_attention
from tinygrad_opt.nn.group_norm import GroupNorm
from tinygrad_opt.nn.layer_norm import LayerNorm, RMSNorm
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
from tinygrad_opt.nn.multihead_attention import MultiheadAttention
from tinygrad_opt.nn.normalization import BatchNorm1d, BatchNorm2d
from tinygrad_opt.nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from tinygrad_opt.nn.rnn import GRU, LSTM, RNN
from tinygrad_opt.nn.rnn_cells import GRUCell, LSTMCell, RNNCell
from tinygrad_opt.nn.scalar import ScalarLayer, ScalarMLP, ScalarNeuron
from tinygrad_opt.nn.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)
from tinygrad_opt.nn.upsample import Upsample

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "CELU",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Embedding",
    "Flatten",
    "GELU",
    "GLU",
    "GRU",
    "GRUCell",
    "GroupNorm",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LSTM",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MLP",
    "MSELoss",
    "MarginRankingLoss",
    "MaxPool1d",
    "MaxPool2d",
    "Mish",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "PReLU",
    "Parameter",
    "RMSNorm",
    "RNN",
    "RNNCell",
    "ReLU",
    "ReLU6",
    "SELU",
    "ScalarLayer",
    "ScalarMLP",
    "ScalarNeuron",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "StateDictError",
    "Tanh",
    "Tanhshrink",
    "Threshold",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "Upsample",
    "activation",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "functional",
    "generate_square_subsequent_mask",
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
    "scaled_dot_product_attention",
    "smooth_l1_loss",
    "soft_margin_loss",
    "utils",
]
