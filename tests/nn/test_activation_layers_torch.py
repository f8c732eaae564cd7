"""The activation layers of ``nn/activation.py`` against ``torch.nn``: constructor
signatures and defaults, reprs, ``inplace=True``, PReLU's parameter (shape, init, dtype,
gradient, state_dict), and the layers' place in ``nn`` (exports, ``nn.layers``, MLP)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn
from tinygrad_opt.nn import activation

torch = pytest.importorskip("torch")

LAYERS = activation.__all__


@pytest.mark.parametrize("name", LAYERS)
def test_layer_is_exported_and_its_constructor_matches_torch(name):
    ours = getattr(nn, name)
    assert ours is getattr(activation, name) and name in nn.__all__
    theirs = getattr(torch.nn, name)
    want = inspect.signature(theirs.__init__).parameters
    have = inspect.signature(ours.__init__).parameters
    assert list(have) == list(want), name
    for p in want.values():
        if p.default is not inspect.Parameter.empty:
            assert have[p.name].default == p.default, f"{name}.{p.name}"


DEFAULT_INPUT = np.linspace(-4, 4, 24).reshape(2, 3, 4)
BUILT = {
    "Threshold": ((0.5, -1.0), {}),
    "PReLU": ((), {"num_parameters": 3}),
    "Softmax": ((), {"dim": 1}),
    "Softmin": ((), {"dim": -1}),
    "LogSoftmax": ((), {"dim": 0}),
}


@pytest.mark.parametrize("name", LAYERS)
def test_default_layer_forward_and_backward_match_torch(name):
    args, kw = BUILT.get(name, ((), {}))
    ours = getattr(nn, name)(*args, **kw)
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    if name == "PReLU":
        ours.weight = nn.Parameter(theirs.weight.detach().numpy().copy())
    x = Tensor(DEFAULT_INPUT.copy(), requires_grad=True)
    tx = torch.tensor(DEFAULT_INPUT, requires_grad=True)
    u = np.cos(np.arange(DEFAULT_INPUT.size)).reshape(-1)
    y, ty = ours(x), theirs(tx)
    (y * Tensor(u[: y.data.size].reshape(y.shape))).sum().backward()
    (ty * torch.tensor(u[: ty.numel()].reshape(ty.shape))).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    if name == "PReLU":
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "layer, text",
    [
        (nn.ReLU(), "ReLU()"),
        (nn.ReLU(inplace=True), "ReLU(inplace=True)"),
        (nn.ELU(alpha=0.5), "ELU(alpha=0.5)"),
        (nn.Hardtanh(-2.0, 2.0), "Hardtanh(min_val=-2.0, max_val=2.0)"),
        (nn.Softplus(2, 4), "Softplus(beta=2.0, threshold=4.0)"),
        (nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
        (nn.GLU(), "GLU(dim=-1)"),
        (nn.Softmax(dim=1), "Softmax(dim=1)"),
        (nn.Softshrink(), "Softshrink(0.5)"),
    ],
)
def test_reprs_follow_torch(layer, text):
    assert repr(layer) == text


def test_prelu_parameter():
    m = nn.PReLU(4, init=0.1)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.weight.shape == (4,) and m.weight.requires_grad
    np.testing.assert_array_equal(m.weight.data, np.full(4, 0.1, np.float32))
    assert m.weight.dtype == np.float32
    assert nn.PReLU(dtype=np.float64).weight.dtype == np.float64
    assert set(m.state_dict()) == {"weight"}
    assert repr(m).startswith("PReLU(num_parameters=4): 4 parameters")
    with pytest.raises(ValueError, match="num_parameters"):
        nn.PReLU(0)


def test_inplace_layers_write_into_their_input():
    x = Tensor(np.array([-1.0, 0.5, 8.0]))
    arr = x.data
    for layer in (nn.ReLU6(inplace=True), nn.Hardtanh(-0.5, 0.5, inplace=True)):
        assert layer(x) is x
    assert x.data is arr
    np.testing.assert_array_equal(arr, [0.0, 0.5, 0.5])
    y = Tensor(np.array([-1.0, 2.0]))
    assert nn.SiLU()(y) is not y  # inplace=False leaves the input alone
    np.testing.assert_array_equal(y.data, [-1.0, 2.0])


def test_hardtanh_layer_checks_its_range():
    with pytest.raises(ValueError, match="min_val"):
        nn.Hardtanh(1.0, -1.0)


def test_layers_module_keeps_the_moved_classes():
    from tinygrad_opt.nn import layers

    for name in ("ReLU", "Tanh", "Sigmoid", "GELU", "LeakyReLU"):
        assert getattr(layers, name) is getattr(activation, name)
    m = nn.MLP([2, 3, 1], activation="leaky_relu", final_activation=nn.SiLU, rng=0)
    assert isinstance(m[1], nn.LeakyReLU) and isinstance(m[-1], nn.SiLU)
    assert m(Tensor(np.ones((4, 2)))).shape == (4, 1)


def test_hardtanh_accepts_torchs_deprecated_spellings():
    with pytest.warns(DeprecationWarning, match="min_val"):
        m = nn.Hardtanh(min_value=-0.5, max_value=0.25)
    assert (m.min_val, m.max_val) == (-0.5, 0.25)
    np.testing.assert_array_equal(m(Tensor([-1.0, 1.0])).data, [-0.5, 0.25])
