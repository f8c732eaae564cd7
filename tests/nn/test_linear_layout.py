"""``F.linear`` and ``nn.Linear`` with torch's (out_features, in_features) weight layout.

Forward and gradients against ``torch.nn.functional.linear`` in float64 (hypothesis
shapes: any leading dimensions, 1-D input, 1-D weight, scalar bias), the layer's
initialisation, state dicts in both directions, and the error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_compare import TOL, compare_with_torch

from tinygrad_opt import Tensor, nn
from tinygrad_opt.gradcheck import gradcheck
from tinygrad_opt.nn import functional as F
from tinygrad_opt.tensor import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# --------------------------------------------------------------------------- functional
@settings(max_examples=60, deadline=None)
@given(
    lead=st.lists(st.integers(0, 4), min_size=0, max_size=3),
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 6),
    bias=st.sampled_from(["none", "vector", "scalar"]),
    seed=st.integers(0, 2**16),
)
def test_linear_matches_torch_forward_and_grads(lead, n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, n_in))
    w = rng.standard_normal((n_out, n_in))
    b = {"none": None, "vector": rng.standard_normal(n_out), "scalar": np.array(0.7)}[bias]
    compare_with_torch([x, w, b], F.linear, TF.linear, seed)


@settings(max_examples=30, deadline=None)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    n_in=st.integers(1, 6),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_with_a_1d_weight_drops_the_last_axis_as_torch(lead, n_in, with_bias, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((*lead, n_in)), rng.standard_normal(n_in)
    b = np.array(-0.3) if with_bias else None

    def theirs(x, w, b):  # torch's addmm path rejects a bias here; the definition is + b
        return TF.linear(x, w) if b is None else TF.linear(x, w) + b

    out = compare_with_torch([x, w, b], F.linear, theirs, seed)
    assert out.shape == tuple(lead)


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape",
    [((5, 2, 3), (4, 3), (2, 4)), ((2, 3), (4, 3), (1, 4)), ((3,), (4, 3), (4,)),
     ((2, 3), (4, 3), (1,)), ((2, 3), (4, 3), ())],
)  # fmt: skip
def test_linear_bias_broadcasts_as_torch(x_shape, w_shape, b_shape):
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s) for s in (x_shape, w_shape, b_shape)]
    out = compare_with_torch(arrays, F.linear, TF.linear)
    assert out.shape == tuple(TF.linear(*map(torch.from_numpy, arrays)).shape)


def test_linear_1d_input_gives_1d_output():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(4), rng.standard_normal((5, 4)), rng.standard_normal(5)
    out = compare_with_torch([x, w, b], F.linear, TF.linear)
    assert out.shape == (5,)


def test_linear_non_contiguous_input_and_weight():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 4)).transpose(1, 0, 2)  # (5, 3, 4), not contiguous
    w = rng.standard_normal((4, 6)).T  # (6, 4), a transposed view
    compare_with_torch([x, w, rng.standard_normal(6)], F.linear, TF.linear)


def test_linear_is_one_node_and_passes_gradcheck():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal(5), requires_grad=True)
    out = F.linear(x, w, b)
    assert out._ctx.name == "linear"
    assert [id(p) for p in out._ctx.parents] == [id(x), id(w), id(b)]
    assert gradcheck(F.linear, [x, w, b])


def test_linear_gradients_keep_the_parameter_dtype():
    x = Tensor(np.ones((3, 4), np.float32), requires_grad=True)
    w = Tensor(np.ones((2, 4), np.float32), requires_grad=True)
    b = Tensor(np.zeros(2, np.float32), requires_grad=True)
    out = F.linear(x, w, b)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, np.full((2, 4), 3.0))  # Σ over the 3 rows of 1s


@pytest.mark.parametrize(
    "x_shape, w_shape, b_shape, fragments",
    [
        ((2, 3), (4, 5), None, ["linear", "(2, 3)", "(4, 5)", "3 input features != 5"]),
        ((2, 3), (3, 4), None, ["linear", "(2, 3)", "(3, 4)", "(out_features, in_features)"]),
        ((), (4, 1), None, ["linear", "()", "(4, 1)"]),
        ((2, 3), (2, 2, 3), None, ["linear", "(2, 3)", "(2, 2, 3)"]),
        ((2, 3), (4, 3), (5,), ["linear", "(2, 3)", "(4, 3)", "(5,)"]),
    ],
)
def test_linear_shape_errors_name_linear_and_both_shapes(x_shape, w_shape, b_shape, fragments):
    args = [Tensor(np.ones(x_shape)), Tensor(np.ones(w_shape))]
    if b_shape is not None:
        args.append(Tensor(np.ones(b_shape)))
    with pytest.raises(ShapeError) as err:
        F.linear(*args)
    for text in fragments:
        assert text in str(err.value), (text, str(err.value))
    with pytest.raises(RuntimeError):  # torch agrees that these do not fit
        TF.linear(*[torch.from_numpy(a.data) for a in args])


# --------------------------------------------------------------------------- the layer
def test_linear_layer_layout_and_torch_init_bounds():
    for n_in, n_out in ((50, 400), (400, 50)):
        layer = nn.Linear(n_in, n_out, rng=0)
        assert layer.weight.shape == (n_out, n_in) and layer.bias.shape == (n_out,)
        assert layer.weight.data.flags.c_contiguous
        bound = 1 / math.sqrt(n_in)  # kaiming_uniform(a=√5) with fan_in = in_features
        ref = torch.nn.Linear(n_in, n_out)
        assert float(ref.weight.detach().abs().max()) <= bound
        for p, fill in ((layer.weight.data, 0.99), (layer.bias.data, 0.8)):
            assert np.abs(p).max() <= bound and np.abs(p).max() > fill * bound
        assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.03 * bound
        assert init_fan_in(layer.weight.shape) == n_in


def init_fan_in(shape):
    return nn.init.compute_fans(shape)[0]


def test_init_fans_follow_torch():
    for shape in ((7, 3), (4, 3, 2, 5), (1, 9)):
        t = torch.empty(shape)
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
        assert nn.init.compute_fans(shape) == (fan_in, fan_out)


@settings(max_examples=20, deadline=None)
@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    n_in=st.integers(1, 5),
    n_out=st.integers(1, 5),
    bias=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_linear_layer_state_dict_round_trips_with_torch(lead, n_in, n_out, bias, seed):
    ours = nn.Linear(n_in, n_out, bias=bias, rng=seed, dtype=np.float64)
    theirs = torch.nn.Linear(n_in, n_out, bias=bias, dtype=torch.float64)
    # torch -> ours, as is
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)
    assert sorted(ours.state_dict()) == sorted(sd)
    x = np.random.default_rng(seed).standard_normal((*lead, n_in))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOL)
    if bias:
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), **TOL)
    # ours -> torch, as is
    fresh = nn.Linear(n_in, n_out, bias=bias, rng=seed + 1, dtype=np.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in fresh.state_dict().items()})
    np.testing.assert_array_equal(theirs.weight.detach().numpy(), fresh.weight.data)


def test_mlp_state_dict_loads_into_torch_sequential_and_back():
    ours = nn.MLP([4, 8, 8, 3], activation="tanh", rng=0, dtype=np.float64)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
        torch.nn.Linear(8, 3),
    ).double()  # fmt: skip
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((5, 4))
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach(), **TOL)
    other = nn.MLP([4, 8, 8, 3], activation="tanh", rng=9, dtype=np.float64)
    other.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for (name, p), q in zip(other.named_parameters(), ours.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_linear_layer_error_names_the_layer():
    with pytest.raises(ShapeError, match=r"Linear\(3 -> 4\): expected input with last dim"):
        nn.Linear(3, 4)(Tensor(np.ones((2, 4))))
