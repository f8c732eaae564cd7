"""Layers: ``Linear``, activations and the ``MLP`` shortcut (``Sequential`` lives in
``nn/containers.py`` and is re-exported here)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.containers import Sequential
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = [
    "GELU",
    "MLP",
    "Identity",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
]


class Linear(Module):
    """Affine map ``y = x Wᵀ + b``, as ``torch.nn.Linear``.

    Layout (torch's): ``weight`` has shape **(out_features, in_features)** and ``bias``
    shape (out_features,), so a torch ``state_dict`` converted to numpy loads unchanged
    and ours loads into torch. The forward is one fused node, :func:`F.linear
    <tinygrad_opt.nn.functional.linear>`; ``x`` may have any leading dimensions.

    Initialisation (torch's default): weight and bias are drawn from
    U(-1/√in_features, 1/√in_features), i.e. ``init.kaiming_uniform`` on the (out, in)
    weight with a = √5 and ``nonlinearity="leaky_relu"`` (fan_in = in_features). The
    weight's entries are drawn in (in, out) order and transposed: the same distribution,
    and a seed keeps giving the numbers it gave when this library stored (in, out).
    ``rng`` is an int seed or a ``numpy.random.Generator``.

    The input's last dimension must be ``in_features``; otherwise a :class:`ShapeError`
    names the layer, the expected width and the shape it got.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"Linear: sizes must be non-negative, got {in_features} -> {out_features}"
            )
        gen = np.random.default_rng(rng)
        self.in_features, self.out_features = int(in_features), int(out_features)
        fan_in = max(self.in_features, 1)  # an empty weight: any finite bound will do
        gain = init.calculate_gain("leaky_relu", math.sqrt(5))
        bound = gain * math.sqrt(3.0 / fan_in)  # kaiming_uniform's bound: 1/√in_features
        w = init.uniform((self.in_features, self.out_features), -bound, bound, rng=gen)
        self.weight = Parameter(np.ascontiguousarray(w.T), dtype=dtype)
        self.bias: Tensor | None = None
        if bias:
            bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
            self.bias = Parameter(init.uniform(self.out_features, -bound, bound, rng=gen), dtype)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.weight.dtype)
        if x.shape[-1:] != (self.in_features,):
            raise ShapeError(
                f"{type(self).__name__}({self.extra_repr()}): expected input with last "
                f"dimension {self.in_features}, got shape {x.shape}"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        text = f"{self.in_features} -> {self.out_features}"
        return text if self.bias is not None else text + ", bias=False"


# --------------------------------------------------------------------------- activations
class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(Module):
    """x·Φ(x) with Φ the standard normal CDF; ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return x.gelu(self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


class LeakyReLU(Module):
    """x if x > 0 else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        return x


ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "gelu": GELU,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
    "linear": Identity,
}


def _make_activation(spec: str | Callable[[], Module]) -> Module:
    if isinstance(spec, str):
        try:
            return ACTIVATIONS[spec.lower()]()
        except KeyError:
            raise ValueError(
                f"unknown activation {spec!r}; choose from {sorted(ACTIVATIONS)}"
            ) from None
    if callable(spec):
        act = spec()
        if isinstance(act, Module):
            return act
    raise TypeError(f"activation must be a name or a Module class/factory, got {spec!r}")


# --------------------------------------------------------------------------- MLP
class MLP(Sequential):
    """A multi-layer perceptron: ``Linear`` layers of the given sizes with activations between.

    ``MLP([2, 16, 16, 1])`` is Linear(2→16), act, Linear(16→16), act, Linear(16→1) and
    then ``final_activation`` if given. ``activation`` is a name (relu, tanh, sigmoid,
    gelu, leaky_relu, identity) or a Module class. One generator made from ``rng`` feeds
    all layers in order, so a seed fixes the whole network.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Callable[[], Module] = "relu",
        final_activation: str | Callable[[], Module] | None = None,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = np.float32,
    ) -> None:
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        gen = np.random.default_rng(rng)
        layers: list[Module] = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, rng=gen, dtype=dtype))
            if k < len(sizes) - 2:
                layers.append(_make_activation(activation))
        if final_activation is not None:
            layers.append(_make_activation(final_activation))
        super().__init__(*layers)
        self.sizes = sizes
        self._act_name = _spec_name(activation)
        self._final_name = None if final_activation is None else _spec_name(final_activation)

    def extra_repr(self) -> str:
        text = " -> ".join(map(str, self.sizes)) + f", activation={self._act_name!r}"
        if self._final_name is not None:
            text += f", final_activation={self._final_name!r}"
        return text


def _spec_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "__name__", repr(spec))
