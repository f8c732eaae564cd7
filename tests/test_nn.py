"""Tests for tinygrad_opt.nn: Module bookkeeping, layers, initialisers and losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import ShapeError, Tensor, gradcheck, nn, no_grad
from tinygrad_opt.nn import StateDictError, init
from tinygrad_opt.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


# --------------------------------------------------------------------------- helpers
class Block(nn.Module):
    def __init__(self, rng=0):
        self.layers = [nn.Linear(2, 3, rng=rng), nn.Tanh(), nn.Linear(3, 1, rng=rng)]
        self.scale = nn.Parameter(np.ones(1))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x * self.scale


class Net(nn.Module):
    def __init__(self):
        self.encoder = nn.Linear(4, 2, rng=1)
        self.block = Block()
        self.heads = {"a": nn.Linear(1, 1, rng=2)}
        self.constant = np.arange(3)  # a plain array: not a parameter

    def forward(self, x):
        return self.heads["a"](self.block(self.encoder(x)))


# --------------------------------------------------------------------------- Module
def test_named_parameters_of_mlp_are_dotted_and_ordered():
    model = nn.MLP([2, 16, 16, 1], rng=0)
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert [p.shape for p in model.parameters()] == [(16, 2), (16,), (16, 16), (16,), (1, 16), (1,)]
    assert all(p.requires_grad for p in model.parameters())
    assert model.parameters()[0] is model[0].weight


def test_named_parameters_through_attributes_lists_and_dicts():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "encoder.weight",
        "encoder.bias",
        "block.layers.0.weight",
        "block.layers.0.bias",
        "block.layers.2.weight",
        "block.layers.2.bias",
        "block.scale",
        "heads.a.weight",
        "heads.a.bias",
    ]
    assert [n for n, _ in net.named_modules()] == [
        "",
        "encoder",
        "block",
        "block.layers.0",
        "block.layers.1",
        "block.layers.2",
        "heads.a",
    ]
    assert [n for n, _ in net.named_children()] == ["encoder", "block", "heads.a"]
    # the order is stable from call to call
    assert [id(p) for p in net.parameters()] == [id(p) for p in net.parameters()]


def test_shared_parameter_and_shared_module_are_listed_once():
    a = nn.Linear(3, 3, rng=0)
    b = nn.Linear(3, 3, rng=1)
    b.weight = a.weight  # tied weights
    model = nn.Sequential(a, nn.ReLU(), b, a)  # and `a` used twice
    names = [n for n, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.bias"]
    assert len(model.parameters()) == len({id(p) for p in model.parameters()}) == 3
    assert model.num_parameters() == 9 + 3 + 3
    assert sorted(model.state_dict()) == sorted(names)
    # a gradient through both uses accumulates on the single shared tensor
    x = Tensor(np.ones((2, 3)))
    model(x).sum().backward()
    assert a.weight.grad is not None and b.weight.grad is a.weight.grad


def test_train_eval_propagate_to_all_children():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    assert not net.block.layers[1].training
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert net.training and net.encoder.training
    assert not net.block.training and not net.block.layers[0].training


def test_zero_grad_clears_every_parameter():
    model = nn.MLP([3, 4, 2], rng=0)
    model(Tensor(np.ones((5, 3)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_call_is_forward_and_missing_forward_is_clear():
    model = nn.MLP([2, 3, 1], rng=0)
    x = Tensor(np.ones((4, 2)))
    np.testing.assert_array_equal(model(x).data, model.forward(x).data)
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(x)


# --------------------------------------------------------------------------- state dict
def test_state_dict_is_a_copy_and_round_trips():
    src, dst = nn.MLP([2, 8, 3], rng=0), nn.MLP([2, 8, 3], rng=1)
    sd = src.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    sd["0.bias"][:] = 123.0  # editing the copy leaves the model alone
    assert not np.any(src[0].bias.data == 123.0)
    sd = src.state_dict()
    weight_before = dst[0].weight
    result = dst.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert dst[0].weight is weight_before  # tensors stay, values change
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2)))
    np.testing.assert_array_equal(src(x).data, dst(x).data)
    sd["0.weight"][:] = 0.0  # the loaded arrays are not aliased either
    assert np.any(dst[0].weight.data != 0.0)


def test_load_state_dict_lists_missing_and_unexpected_keys():
    model = nn.MLP([2, 4, 1], rng=0)
    sd = model.state_dict()
    del sd["2.bias"]
    sd["3.weight"] = np.zeros((1, 4), np.float32)
    with pytest.raises(nn.StateDictError) as err:
        model.load_state_dict(sd)
    msg = str(err.value)
    assert "missing keys: ['2.bias']" in msg
    assert "unexpected keys: ['3.weight']" in msg
    assert "MLP" in msg
    assert isinstance(err.value, KeyError)

    before = model[2].bias.data.copy()
    sd["0.weight"] = np.full((4, 2), 7.0)
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["3.weight"]
    assert np.all(model[0].weight.data == 7.0)
    np.testing.assert_array_equal(model[2].bias.data, before)


def test_load_state_dict_shape_mismatch_names_key_and_both_shapes():
    model = nn.MLP([2, 4, 1], rng=0)
    sd = model.state_dict()
    sd["0.bias"] = np.zeros(4, np.float32) + 5
    sd["2.weight"] = np.zeros((4, 1), np.float32)  # transposed: the (in, out) layout
    with pytest.raises(ShapeError) as err:
        model.load_state_dict(sd)
    msg = str(err.value)
    assert "'2.weight'" in msg and "has shape (1, 4), state_dict has (4, 1)" in msg
    # nothing was written: the check happens before any copy
    assert not np.any(model[0].bias.data == 5)


def test_load_state_dict_casts_dtype_and_rejects_non_numbers():
    model = nn.MLP([2, 3], rng=0)
    sd = {k: v.astype(np.float64) + 1 for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_allclose(model[0].weight.data, sd["0.weight"], rtol=1e-6)
    sd["0.bias"] = Tensor(np.zeros(3))  # Tensors are accepted too
    model.load_state_dict(sd)
    assert np.all(model[0].bias.data == 0)
    sd["0.bias"] = np.array(["a", "b", "c"])
    with pytest.raises(TypeError, match="'0.bias'"):
        model.load_state_dict(sd)


# --------------------------------------------------------------------------- repr
def test_repr_shows_tree_and_parameter_counts():
    model = nn.MLP([2, 16, 16, 1], rng=0)
    assert model.num_parameters() == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1 == 337
    text = repr(model)
    lines = text.splitlines()
    assert lines[0] == "MLP(2 -> 16 -> 16 -> 1, activation='relu'): 337 parameters"
    assert "(0): Linear(2 -> 16): 48 parameters" in text
    assert "(1): ReLU()" in text
    assert "(4): Linear(16 -> 1): 17 parameters" in text
    assert len(lines) == 6
    nested = repr(Net())
    assert "(block): Block(): 14 parameters" in nested
    assert "    (layers.0): Linear(2 -> 3): 9 parameters" in nested
    assert "Linear(3 -> 1, bias=False)" in repr(nn.Linear(3, 1, bias=False))
    assert repr(nn.Linear(1, 1, bias=False)).endswith(": 1 parameter")


def test_num_parameters_trainable_only():
    model = nn.MLP([2, 3, 1], rng=0)
    model[2].bias.requires_grad = False
    assert model.num_parameters() == 13
    assert model.num_parameters(trainable_only=True) == 12


# --------------------------------------------------------------------------- Linear
def test_linear_forward_is_x_at_w_transposed_plus_b_with_torch_layout():
    layer = nn.Linear(3, 4, rng=0)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (4,)
    assert layer.weight.dtype == np.float32
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    out = layer(Tensor(x))
    np.testing.assert_allclose(out.data, x @ layer.weight.data.T + layer.bias.data, rtol=1e-6)
    # numpy input is accepted; leading batch dimensions too
    np.testing.assert_allclose(layer(x).data, out.data)
    x3 = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    assert layer(Tensor(x3)).shape == (2, 5, 4)
    assert layer(Tensor(x[0])).shape == (4,)
    no_bias = nn.Linear(3, 4, bias=False, rng=0)
    assert no_bias.bias is None and len(no_bias.parameters()) == 1
    np.testing.assert_allclose(no_bias(Tensor(x)).data, x @ no_bias.weight.data.T, rtol=1e-6)


def test_linear_wrong_width_error_names_layer_expected_and_got():
    layer = nn.Linear(3, 4)
    with pytest.raises(ShapeError) as err:
        layer(Tensor(np.zeros((5, 7))))
    assert str(err.value) == (
        "Linear(3 -> 4): expected input with last dimension 3, got shape (5, 7)"
    )
    with pytest.raises(ShapeError, match=r"got shape \(\)"):
        layer(Tensor(1.0))
    model = nn.MLP([2, 8, 1])
    with pytest.raises(
        ShapeError, match=r"Linear\(2 -> 8\): .* last dimension 2, got shape \(4, 3\)"
    ):
        model(Tensor(np.zeros((4, 3))))


def test_linear_default_init_matches_torch_bounds_and_is_seeded():
    layer = nn.Linear(50, 400, rng=0)
    bound = 1 / math.sqrt(50)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    # U(-b, b) has std b/√3
    assert abs(layer.weight.data.std() - bound / math.sqrt(3)) < 0.02 * bound
    again = nn.Linear(50, 400, rng=0)
    np.testing.assert_array_equal(layer.weight.data, again.weight.data)
    np.testing.assert_array_equal(layer.bias.data, again.bias.data)
    assert not np.array_equal(layer.weight.data, nn.Linear(50, 400, rng=1).weight.data)
    assert nn.Linear(2, 3, dtype=np.float64).weight.dtype == np.float64


def test_mlp_seed_fixes_all_layers_and_layers_differ():
    a, b = nn.MLP([4, 4, 4], rng=3), nn.MLP([4, 4, 4], rng=3)
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    assert not np.array_equal(a[0].weight.data, a[2].weight.data)


@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradcheck(with_bias):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((5, 4)), requires_grad=True)  # (out, in)
    b = Tensor(rng.standard_normal(5), requires_grad=True)
    if with_bias:
        assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x, w, b])
    else:
        assert gradcheck(lambda x, w: F.linear(x, w), [x, w])
    x1 = Tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), [x1, w, b])


def test_mlp_gradcheck_float64():
    model = nn.MLP([3, 5, 2], activation="tanh", rng=0, dtype=np.float64)
    x = Tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    params = model.parameters()

    # gradcheck calls g with float64 copies of the inputs: swap them into the model
    def g(x, w0, b0, w1, b1):
        saved = list(params)
        model[0].weight, model[0].bias, model[2].weight, model[2].bias = w0, b0, w1, b1
        try:
            return model(x)
        finally:
            model[0].weight, model[0].bias, model[2].weight, model[2].bias = saved

    inputs = [x] + [Tensor(p.data.copy(), requires_grad=True) for p in params]
    assert gradcheck(g, inputs)


# ------------------------------------------------------------------ activations, containers
def test_activations_match_numpy():
    x = np.linspace(-3, 3, 13)
    t = Tensor(x)
    np.testing.assert_allclose(nn.ReLU()(t).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(t).data, np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(t).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(t).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(nn.Identity()(t).data, x)
    gelu = x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(nn.GELU()(t).data, gelu, rtol=1e-10, atol=1e-12)
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_sequential_is_indexable_sized_and_iterable():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=0))
    assert len(seq) == 3
    assert isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    x = Tensor(np.ones((4, 2)))
    np.testing.assert_allclose(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()][-1] == "3"
    with pytest.raises(TypeError, match="item 1 is a int"):
        nn.Sequential(nn.ReLU(), 3)


def test_mlp_activation_choices():
    assert [type(m).__name__ for m in nn.MLP([2, 4, 4, 1], activation="tanh")] == [
        "Linear",
        "Tanh",
        "Linear",
        "Tanh",
        "Linear",
    ]
    m = nn.MLP([2, 4, 1], activation=nn.GELU, final_activation="sigmoid", rng=0)
    assert isinstance(m[1], nn.GELU) and isinstance(m[-1], nn.Sigmoid)
    out = m(Tensor(np.random.default_rng(0).standard_normal((10, 2)) * 10))
    assert np.all((out.data > 0) & (out.data < 1))
    assert "final_activation='sigmoid'" in repr(m) and "activation='GELU'" in repr(m)
    assert isinstance(nn.MLP([2, 3, 1], activation="leaky_relu")[1], nn.LeakyReLU)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 3, 1], activation="swish")
    with pytest.raises(ValueError, match="at least"):
        nn.MLP([2])


# --------------------------------------------------------------------------- init
BIG = (500, 1000)  # (out, in): fan_in 1000, fan_out 500


def test_kaiming_normal_std_and_mean():
    w = init.kaiming_normal(BIG, rng=0)
    assert w.shape == BIG and w.dtype == np.float32
    std = math.sqrt(2) / math.sqrt(1000)
    assert abs(w.std() - std) < 0.01 * std
    assert abs(w.mean()) < 0.01 * std
    w = init.kaiming_normal(BIG, mode="fan_out", nonlinearity="tanh", rng=0)
    assert abs(w.std() - (5 / 3) / math.sqrt(500)) < 0.01 * (5 / 3) / math.sqrt(500)


def test_kaiming_uniform_bound_and_std():
    w = init.kaiming_uniform(BIG, rng=0)
    bound = math.sqrt(2) * math.sqrt(3 / 1000)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    assert abs(w.std() - math.sqrt(2 / 1000)) < 0.01 * math.sqrt(2 / 1000)
    torch_default = init.kaiming_uniform(BIG, a=math.sqrt(5), nonlinearity="leaky_relu", rng=0)
    assert np.abs(torch_default).max() <= 1 / math.sqrt(1000)


def test_xavier_bound_and_std():
    w = init.xavier_uniform(BIG, rng=0)
    bound = math.sqrt(6 / 1500)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.999 * bound
    w = init.xavier_normal(BIG, gain=2.0, rng=0)
    std = 2.0 * math.sqrt(2 / 1500)
    assert abs(w.std() - std) < 0.01 * std


def test_initialisers_are_seeded():
    for fn in (init.kaiming_uniform, init.kaiming_normal, init.xavier_uniform, init.xavier_normal):
        np.testing.assert_array_equal(fn((20, 30), rng=7), fn((20, 30), rng=7))
        assert not np.array_equal(fn((20, 30), rng=7), fn((20, 30), rng=8))
        # a Generator is advanced: two calls differ, but the sequence is reproducible
        g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
        first, second = fn((4, 4), rng=g1), fn((4, 4), rng=g1)
        assert not np.array_equal(first, second)
        np.testing.assert_array_equal(first, fn((4, 4), rng=g2))
        # the dtype only changes the precision, not the draw
        np.testing.assert_allclose(
            fn((4, 4), rng=1, dtype=np.float64), fn((4, 4), rng=1), rtol=1e-6
        )


def test_simple_initialisers_and_fans():
    assert np.all(init.zeros((2, 3)) == 0) and init.zeros(4).shape == (4,)
    assert np.all(init.ones((2, 3), dtype=np.float64) == 1)
    u = init.uniform((10000,), -2, 3, rng=0)
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.05
    n = init.normal((10000,), mean=1.0, std=0.5, rng=0)
    assert abs(n.mean() - 1) < 0.02 and abs(n.std() - 0.5) < 0.02
    assert init.compute_fans((3, 4)) == (4, 3)  # (out, in) as torch
    assert init.compute_fans(5) == (5, 5)
    assert init.compute_fans((2, 3, 4, 5)) == (3 * 20, 2 * 20)  # conv (out, in, kh, kw)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal((2, 2), mode="fan_avg")


# --------------------------------------------------------------------------- losses: references
def _np_cross_entropy(x, y, reduction):
    m = x.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(x - m).sum(axis=1))
    losses = lse - x[np.arange(len(y)), y]
    soft = np.exp(x - lse[:, None])
    soft[np.arange(len(y)), y] -= 1
    if reduction == "none":
        return losses, soft
    if reduction == "sum":
        return losses.sum(), soft
    return losses.mean(), soft / len(y)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 20),
    c=st.integers(1, 10),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
    seed=st.integers(0, 2**31),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_cross_entropy_matches_numpy_reference(n, c, scale, seed, reduction):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * scale
    y = rng.integers(0, c, n)
    logits = Tensor(x, requires_grad=True)
    loss = nn.cross_entropy(logits, y, reduction=reduction)
    ref, ref_grad = _np_cross_entropy(x, y, reduction)
    np.testing.assert_allclose(loss.data, ref, rtol=1e-10, atol=1e-12)
    if reduction == "none":
        loss.sum().backward()
    else:
        loss.backward()
    np.testing.assert_allclose(logits.grad, ref_grad, rtol=1e-10, atol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits_and_keeps_dtype():
    x = np.array([[1000.0, 0.0, -1000.0], [0.0, 1e4, 0.0]], dtype=np.float32)
    logits = Tensor(x, requires_grad=True)
    loss = nn.cross_entropy(logits, [0, 0])
    assert loss.dtype == np.float32 and np.isfinite(loss.item())
    assert loss.item() == pytest.approx(1e4 / 2)
    loss.backward()
    assert logits.grad.dtype == np.float32 and np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(logits.grad, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-7)


def test_cross_entropy_on_non_contiguous_logits():
    rng = np.random.default_rng(4)
    base = Tensor(rng.standard_normal((5, 7)), requires_grad=True)
    logits = base.T  # (7, 5), a transposed view
    assert not logits.data.flags.c_contiguous
    y = rng.integers(0, 5, 7)
    loss = nn.cross_entropy(logits, y)
    ref, ref_grad = _np_cross_entropy(base.data.T, y, "mean")
    np.testing.assert_allclose(loss.data, ref, rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(base.grad, ref_grad.T, rtol=1e-10, atol=1e-14)


def test_cross_entropy_backward_twice_accumulates():
    logits = Tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    loss = nn.cross_entropy(logits, np.array([0, 1, 2, 0]))
    loss.backward()
    first = logits.grad.copy()
    loss.backward()  # the saved softmax must not have been modified in place
    np.testing.assert_allclose(logits.grad, 2 * first)


def test_cross_entropy_accepts_lists_int_arrays_and_whole_number_tensors():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 4)))
    ref = nn.cross_entropy(x, np.array([3, 0, 1], dtype=np.int32)).item()
    assert nn.cross_entropy(x, [3, 0, 1]).item() == pytest.approx(ref)
    assert nn.cross_entropy(x, Tensor([3, 0, 1])).item() == pytest.approx(ref)
    for dtype in (np.uint8, np.int8, np.uint64):
        labels = np.array([3, 0, 1], dtype=dtype)
        assert nn.cross_entropy(x, labels).item() == pytest.approx(ref)
    with pytest.raises(ValueError, match="label -3 is out of range"):
        nn.cross_entropy(x, np.array([-3, 0, 1], dtype=np.int8))
    with no_grad():
        assert not nn.cross_entropy(Tensor(x.data, requires_grad=True), [3, 0, 1]).requires_grad


def _np_bce(x, y):
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _reduce(v, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](v)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_other_losses_match_numpy(reduction):
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    np.testing.assert_allclose(
        nn.mse_loss(Tensor(p), t, reduction).data, _reduce((p - t) ** 2, reduction)
    )
    y = rng.random((6, 2))
    np.testing.assert_allclose(
        nn.binary_cross_entropy_with_logits(Tensor(p), y, reduction=reduction).data,
        _reduce(
            -(y * np.log(1 / (1 + np.exp(-p))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-p)))),
            reduction,
        ),
        rtol=1e-12,
    )
    s = rng.choice([-1.0, 1.0], (6, 2))
    np.testing.assert_allclose(
        nn.hinge_loss(Tensor(p), s, reduction).data, _reduce(np.maximum(0, 1 - s * p), reduction)
    )


def test_bce_with_logits_is_stable():
    x = Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32), requires_grad=True)
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    loss = nn.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 0.0, math.log(2), 0.0, 1000.0], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-6)


# --------------------------------------------------------------------------- losses: gradcheck
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_gradcheck(reduction):
    rng = np.random.default_rng(1)
    logits = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    labels = rng.integers(0, 4, 5)
    assert gradcheck(lambda z: nn.cross_entropy(z, labels, reduction=reduction), [logits])

    pred = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    target = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda p, t: nn.mse_loss(p, t, reduction), [pred, target])

    probs = Tensor(rng.random((3, 2)), requires_grad=True)
    assert gradcheck(
        lambda p, t: nn.binary_cross_entropy_with_logits(p, t, reduction=reduction), [pred, probs]
    )

    scores = Tensor(rng.uniform(-3, 3, (4, 3)), requires_grad=True)  # away from the kink
    signs = rng.choice([-1.0, 1.0], (4, 3))
    scores.data[np.abs(1 - signs * scores.data) < 0.05] += 0.2
    assert gradcheck(lambda s: nn.hinge_loss(s, signs, reduction), [scores])


def test_cross_entropy_gradcheck_large_batch_uses_vjp_path():
    rng = np.random.default_rng(2)
    logits = Tensor(rng.standard_normal((200, 10)) * 3, requires_grad=True)
    labels = rng.integers(0, 10, 200)
    assert gradcheck(lambda z: nn.cross_entropy(z, labels), [logits])


# --------------------------------------------------------------------------- losses: vs torch
@pytest.mark.torch
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_match_torch(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(3)

    def both(x):
        return Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    def check(ours, theirs, inputs):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
        up = rng.standard_normal(ours.shape)
        ours.backward(up)
        theirs.backward(torch.tensor(up))
        for a, b in inputs:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), rtol=1e-10, atol=1e-12)

    # cross-entropy, including an extreme row
    x = rng.standard_normal((8, 5)) * 4
    x[0] = [200.0, -200.0, 0.0, 5.0, 1.0]
    y = rng.integers(0, 5, 8)
    a, b = both(x)
    check(
        nn.cross_entropy(a, y, reduction=reduction),
        tf.cross_entropy(b, torch.tensor(y), reduction=reduction),
        [(a, b)],
    )
    # mse: both inputs get gradients
    (p, tp), (t, tt) = both(rng.standard_normal((4, 3))), both(rng.standard_normal((4, 3)))
    check(
        nn.mse_loss(p, t, reduction), tf.mse_loss(tp, tt, reduction=reduction), [(p, tp), (t, tt)]
    )
    # BCE with logits, large logits and soft targets
    z = rng.standard_normal((6,)) * 10
    z[:2] = [80.0, -80.0]
    (l, tl), (q, tq) = both(z), both(rng.random(6))
    check(
        nn.binary_cross_entropy_with_logits(l, q, reduction=reduction),
        tf.binary_cross_entropy_with_logits(tl, tq, reduction=reduction),
        [(l, tl), (q, tq)],
    )
    # hinge: mean(relu(1 - y s)) written in torch
    s, ts = both(rng.uniform(-3, 3, (10,)))
    sign = rng.choice([-1.0, 1.0], 10)
    theirs = torch.relu(1 - torch.tensor(sign) * ts)
    theirs = {"mean": theirs.mean(), "sum": theirs.sum(), "none": theirs}[reduction]
    check(nn.hinge_loss(s, sign, reduction), theirs, [(s, ts)])


@pytest.mark.torch
def test_linear_matches_torch_with_the_same_weight():
    torch = pytest.importorskip("torch")
    layer = nn.Linear(3, 4, rng=0, dtype=np.float64)
    ref = torch.nn.Linear(3, 4, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(layer.weight.data))  # both store (out, in)
        ref.bias.copy_(torch.tensor(layer.bias.data))
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(layer(Tensor(x)).data, ref(torch.tensor(x)).detach().numpy())


# --------------------------------------------------------------------------- losses: bad input
def test_cross_entropy_rejects_bad_labels():
    logits = Tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"label 4 is out of range for C = 4 classes"):
        nn.cross_entropy(logits, [0, 4, 1])
    with pytest.raises(ValueError, match=r"label -1 is out of range for C = 4"):
        nn.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ShapeError) as err:
        nn.cross_entropy(logits, [0, 1])
    assert "(3, 4)" in str(err.value) and "(2,)" in str(err.value)
    with pytest.raises(ShapeError, match=r"\(3, 1\)"):
        nn.cross_entropy(logits, np.zeros((3, 1), dtype=int))
    with pytest.raises(TypeError, match="integer class indices.*float64"):
        nn.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        nn.cross_entropy(logits, [0.5, 1, 2])
    with pytest.raises(TypeError, match="non-integer"):
        nn.cross_entropy(logits, Tensor([0.5, 1, 2]))
    with pytest.raises(TypeError, match="bool"):
        nn.cross_entropy(logits, np.array([True, False, True]))
    with pytest.raises(ShapeError, match=r"\(4,\) needs class-index targets of shape \(\).*\(1,\)"):
        nn.cross_entropy(Tensor(np.zeros(4)), [1])  # (C,) logits take a 0-d target, as torch
    with pytest.raises(ValueError, match="reduction must be"):
        nn.cross_entropy(logits, [0, 1, 2], reduction="avg")


def test_other_losses_reject_bad_input():
    pred = Tensor(np.zeros((4, 1)))
    with pytest.raises(ShapeError) as err:
        nn.mse_loss(pred, np.zeros(4))
    assert "(4, 1)" in str(err.value) and "(4,)" in str(err.value)
    with pytest.raises(ShapeError):
        nn.mse_loss(pred, Tensor(np.zeros((1, 4))))
    with pytest.raises(ShapeError):
        nn.binary_cross_entropy_with_logits(pred, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="targets must be -1 or \\+1, found 0"):
        nn.hinge_loss(pred, np.array([[1.0], [0.0], [-1.0], [1.0]]))
    with pytest.raises(ValueError, match="reduction"):
        nn.mse_loss(pred, np.zeros((4, 1)), reduction="mean ")
    with pytest.raises(TypeError, match="numeric"):
        nn.mse_loss(pred, np.array([["a"], ["b"], ["c"], ["d"]]))


def test_registered_buffers_are_saved_loaded_and_never_trained():
    class Scaler(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(2, 2, rng=0)
            self.register_buffer("count", np.zeros((), dtype=np.int64))

        def forward(self, x):
            self.count += 1
            return self.lin(x)

    m = nn.Sequential(Scaler())
    m(Tensor(np.ones((1, 2))))
    sd = m.state_dict()
    assert int(sd["0.count"]) == 1 and "0.count" not in dict(m.named_parameters())
    other = nn.Sequential(Scaler())
    other.load_state_dict(sd)
    assert int(other[0].count) == 1
    with pytest.raises(StateDictError, match=r"missing keys: \['0.count'\]"):
        other.load_state_dict({k: v for k, v in sd.items() if k != "0.count"})
    with pytest.raises(TypeError, match="numpy array, not a Tensor"):
        Scaler().register_buffer("bad", Tensor([1.0]))


def test_kaiming_on_a_conv_kernel_uses_in_channels_times_kernel_area():
    w = init.kaiming_normal((64, 16, 3, 3), rng=0)
    assert w.std() == pytest.approx(math.sqrt(2.0 / (16 * 9)), rel=0.03)
