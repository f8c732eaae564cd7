"""Neural-network building blocks on top of the Tensor engine.

- :class:`Module`: parameter discovery, ``train``/``eval``, ``state_dict``.
- Layers: :class:`Linear` (weight stored as (in, out)), :class:`Sequential`, :class:`MLP`;
  activation layers (``nn/activation.py``: :class:`ReLU`, :class:`GELU`, :class:`SiLU`,
  :class:`ELU`, :class:`PReLU`, :class:`Softmax` …, torch's constructor arguments);
  :class:`ScalarMLP` and friends (``nn/scalar.py``) are built from scalar
  ``Value`` nodes for teaching.
- More layers, one module each: :class:`Conv2d`, :class:`MaxPool2d`, :class:`AvgPool2d`
  (``nn/conv.py``, NCHW), :class:`BatchNorm1d`, :class:`BatchNorm2d`
  (``nn/normalization.py``), :class:`Dropout`, :class:`Flatten`, :class:`Embedding`.
- :mod:`~tinygrad_opt.nn.init`: seeded initialisers (Kaiming, Xavier, ...).
- :mod:`~tinygrad_opt.nn.functional`: fused losses and ops, re-exported here.
"""

from tinygrad_opt.nn import activation, functional, init
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
from tinygrad_opt.nn.scalar import ScalarLayer, ScalarMLP, ScalarNeuron

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU6",
    "SiLU",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "activation",
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
    "LeakyReLU",
    "Linear",
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
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "functional",
    "hinge_loss",
    "init",
    "linear",
    "mse_loss",
]
