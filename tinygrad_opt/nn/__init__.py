"""Neural-network building blocks on top of the Tensor engine.

- :class:`Module`: parameter discovery, ``train``/``eval``, ``state_dict``.
- Layers: :class:`Linear` (weight stored as (in, out)), activations, :class:`Sequential`,
  :class:`MLP`; :class:`ScalarMLP` and friends (``nn/scalar.py``) are built from scalar
  ``Value`` nodes for teaching.
- Convolution and pooling (torch's API, NCHW): :class:`Conv1d`, :class:`Conv2d`
  (``nn/conv.py``), :class:`ConvTranspose1d`, :class:`ConvTranspose2d`
  (``nn/conv_transpose.py``), :class:`MaxPool1d`, :class:`MaxPool2d`, :class:`AvgPool1d`,
  :class:`AvgPool2d` (``nn/pooling.py``), :class:`AdaptiveAvgPool1d`,
  :class:`AdaptiveAvgPool2d`, :class:`AdaptiveMaxPool1d`, :class:`AdaptiveMaxPool2d`
  (``nn/adaptive_pooling.py``), :class:`Upsample` (``nn/upsample.py``).
- More layers, one module each: :class:`BatchNorm1d`, :class:`BatchNorm2d`
  (``nn/normalization.py``), :class:`Dropout`, :class:`Flatten`, :class:`Embedding`.
- :mod:`~tinygrad_opt.nn.init`: seeded initialisers (Kaiming, Xavier, ...).
- :mod:`~tinygrad_opt.nn.functional`: fused losses and ops, re-exported here.
"""

from tinygrad_opt.nn import functional, init
from tinygrad_opt.nn.adaptive_pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
)
from tinygrad_opt.nn.conv import Conv1d, Conv2d
from tinygrad_opt.nn.conv_transpose import ConvTranspose1d, ConvTranspose2d
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.embedding import Embedding
from tinygrad_opt.nn.flatten import Flatten
from tinygrad_opt.nn.functional import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    linear,
    mse_loss,
)
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
from tinygrad_opt.nn.normalization import BatchNorm1d, BatchNorm2d
from tinygrad_opt.nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from tinygrad_opt.nn.scalar import ScalarLayer, ScalarMLP, ScalarNeuron
from tinygrad_opt.nn.upsample import Upsample

__all__ = [
    "GELU",
    "MLP",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "LeakyReLU",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "ScalarLayer",
    "ScalarMLP",
    "ScalarNeuron",
    "Sequential",
    "Sigmoid",
    "StateDictError",
    "Tanh",
    "Upsample",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "functional",
    "hinge_loss",
    "init",
    "linear",
    "mse_loss",
]
