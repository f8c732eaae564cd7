"""The Value-based neurons, layers and MLPs in tinygrad_opt.nn.scalar."""

import math

import numpy as np
import pytest

from tinygrad_opt import Value, gradcheck
from tinygrad_opt.data import make_moons
from tinygrad_opt.nn import ScalarLayer, ScalarMLP, ScalarNeuron


def test_neuron_computes_activation_of_weighted_sum():
    n = ScalarNeuron(3, activation="tanh", rng=0)
    n.b.data = 0.25
    x = [0.5, -1.0, 2.0]
    expected = math.tanh(sum(w.data * xi for w, xi in zip(n.w, x)) + 0.25)
    assert n(x).data == pytest.approx(expected, rel=1e-15)


def test_neuron_gradients_match_finite_differences():
    n = ScalarNeuron(3, activation="tanh", rng=1)
    x = [0.3, -0.7, 1.1]

    def f(w0, w1, w2, b):
        n.w, n.b = [w0, w1, w2], b
        return n(x)

    assert gradcheck(f, [w.data for w in n.w] + [0.1])


def test_mlp_shapes_parameter_count_and_seed():
    m = ScalarMLP(2, [16, 16, 1], rng=0)
    assert m.num_parameters() == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert isinstance(m([0.1, 0.2]), Value)
    assert len(ScalarLayer(2, 3)([1.0, 2.0])) == 3
    same = ScalarMLP(2, [16, 16, 1], rng=0)
    assert [p.data for p in m.parameters()] == [p.data for p in same.parameters()]
    assert "337 parameters" in repr(m)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="activation"):
        ScalarNeuron(2, activation="swish")
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        ScalarNeuron(2)([1.0, 2.0, 3.0])


def test_scalar_mlp_learns_moons_with_hinge_loss():
    X, y = make_moons(100, noise=0.1, rng=1)
    ys = [1.0 if t == 1 else -1.0 for t in y]
    model = ScalarMLP(2, [16, 16, 1], rng=0)
    params = model.parameters()
    for step in range(40):
        scores = [model(list(map(float, row))) for row in X]
        loss = Value.sum((1.0 - yi * s).relu() for yi, s in zip(ys, scores)) * 0.01
        loss = loss + 1e-4 * Value.dot(params, params)
        model.zero_grad()
        loss.backward()
        lr = 1.0 - 0.9 * step / 40
        for p in params:
            p.data -= lr * p.grad
    accuracy = np.mean([(s.data > 0) == (yi > 0) for s, yi in zip(scores, ys)])
    assert accuracy >= 0.9
