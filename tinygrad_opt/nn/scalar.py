"""Neurons, layers and MLPs made of scalar :class:`~tinygrad_opt.value.Value` nodes.

For teaching and pictures: every weight is one ``Value`` and a forward pass builds a graph
small enough to draw. A neuron computes ``act(Σᵢ wᵢ xᵢ + b)``; the weighted sum is one
``Value.dot`` node (the same numbers and gradients as a chain of ``*`` and ``+``, with a
fraction of the nodes). For real training use the Tensor layers in ``tinygrad_opt.nn``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinygrad_opt.value import Value

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")


class ScalarModule:
    """Base class: ``parameters()`` lists the trainable Values, ``zero_grad()`` resets them."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def num_parameters(self) -> int:
        return len(self.parameters())


class ScalarNeuron(ScalarModule):
    """``act(w · x + b)`` with weights drawn from U(-1, 1) and bias 0."""

    def __init__(
        self, n_inputs: int, activation: str = "relu", rng: np.random.Generator | int | None = None
    ) -> None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        gen = np.random.default_rng(rng)
        self.w = [Value(float(v)) for v in gen.uniform(-1.0, 1.0, n_inputs)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x: Sequence[Value | float]) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"ScalarNeuron: expected {len(self.w)} inputs, got {len(x)}")
        z = Value.dot(self.w, x) + self.b
        if self.activation == "linear":
            return z
        return getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def __repr__(self) -> str:
        return f"ScalarNeuron({len(self.w)}, {self.activation})"


class ScalarLayer(ScalarModule):
    """``n_outputs`` independent neurons reading the same inputs."""

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        activation: str = "relu",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        gen = np.random.default_rng(rng)
        self.neurons = [ScalarNeuron(n_inputs, activation, gen) for _ in range(n_outputs)]

    def __call__(self, x: Sequence[Value | float]) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        n = self.neurons[0]
        return f"ScalarLayer({len(n.w)} -> {len(self.neurons)}, {n.activation})"


class ScalarMLP(ScalarModule):
    """``ScalarMLP(2, [16, 16, 1])``: hidden layers use ``activation``, the last is linear.

    Calling it on a list of inputs returns a list of outputs, or a single Value when the
    last layer has one neuron.
    """

    def __init__(
        self,
        n_inputs: int,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        gen = np.random.default_rng(rng)
        sizes = [n_inputs, *layer_sizes]
        last = len(layer_sizes) - 1
        self.layers = [
            ScalarLayer(sizes[i], sizes[i + 1], "linear" if i == last else activation, gen)
            for i in range(len(layer_sizes))
        ]

    def __call__(self, x: Sequence[Value | float]) -> Value | list[Value]:
        out: list = list(x)
        for layer in self.layers:
            out = layer(out)
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"ScalarMLP([{inner}], {self.num_parameters()} parameters)"
