"""Neural-network building blocks on top of the Tensor engine.

- :class:`Module`: parameter discovery, ``train``/``eval``, ``state_dict``.
- Layers: :class:`Linear` (weight (out, in), as torch), activations, :class:`MLP`;
  containers :class:`Sequential`, :class:`ModuleList`, :class:`ModuleDict`
  (``nn/containers.py``); :class:`ScalarMLP` and friends (``nn/scalar.py``) are built from scalar
  ``Value`` nodes for teaching.
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
- :mod:`~tinygrad_opt.nn.functional`: fused losses and ops, re-exported here.
"""

from tinygrad_opt.nn import functional, init
from tinygrad_opt.nn.containers import ModuleDict, ModuleList
from tinygrad_opt.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.embedding import Embedding
from tinygrad_opt.nn.flatten import Flatten
from tinygrad_opt.nn.functional import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    linear,
    mse_loss,
    scaled_dot_product_attention,
)
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
from tinygrad_opt.nn.module import IncompatibleKeys, Module, Parameter, StateDictError
from tinygrad_opt.nn.multihead_attention import MultiheadAttention
from tinygrad_opt.nn.normalization import BatchNorm1d, BatchNorm2d
from tinygrad_opt.nn.scalar import ScalarLayer, ScalarMLP, ScalarNeuron
from tinygrad_opt.nn.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)

__all__ = [
    "GELU",
    "GroupNorm",
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "Parameter",
    "RMSNorm",
    "ReLU",
    "ScalarLayer",
    "ScalarMLP",
    "ScalarNeuron",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "functional",
    "generate_square_subsequent_mask",
    "hinge_loss",
    "init",
    "linear",
    "mse_loss",
    "scaled_dot_product_attention",
]
