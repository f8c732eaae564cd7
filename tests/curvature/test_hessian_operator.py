"""HessianOperator / hessian_vector_product: against torch (hvp, hessian, torch.func) in
float64, finite differences, our own autograd.functional.hessian, and its contract
(layout, dtype, the model left untouched, errors)."""

from __future__ import annotations

import numpy as np
import pytest
from curv_helpers import (
    LOSSES,
    forward,
    make_data,
    our_loss,
    param_arrays,
    tanh_mlp,
    torch_flat_loss,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, autograd, nn
from tinygrad_opt.curvature import (
    HessianOperator,
    Objective,
    ParameterLayout,
    hessian_vector_product,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}


def small_problem(draw_sizes, kind, n, seed):
    d_in, hidden, d_out = draw_sizes
    model = tanh_mlp([d_in, *hidden, d_out], seed=seed, scale=1.5)
    X, y = make_data(kind, n, d_in, d_out, seed)
    return model, X, y


@settings(max_examples=25, deadline=None)
@given(
    d_in=st.integers(1, 4),
    hidden=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    d_out=st.integers(1, 3),
    n=st.integers(1, 6),
    kind=st.sampled_from(sorted(LOSSES)),
    seed=st.integers(0, 2**16),
)
def test_hvp_matches_torch_autograd_functional_hvp(d_in, hidden, d_out, n, kind, seed):
    torch = pytest.importorskip("torch")
    model, X, y = small_problem((d_in, hidden, d_out), kind, n, seed)
    op = HessianOperator(model, our_loss(kind), (X, y))
    v = np.random.default_rng(seed).standard_normal(op.shape[0])
    arrays = param_arrays(model)
    loss, _ = torch_flat_loss(kind, [a.shape for a in arrays], X, y)
    flat = torch.from_numpy(np.concatenate([a.reshape(-1) for a in arrays]))
    value, ref = torch.autograd.functional.hvp(loss, flat, torch.from_numpy(v))
    np.testing.assert_allclose(op.matvec(v), ref.numpy(), **TOL)
    assert op.loss == pytest.approx(value.item(), rel=1e-12, abs=1e-14)
    x = flat.clone().requires_grad_(True)
    np.testing.assert_allclose(op.gradient, torch.autograd.grad(loss(x), x)[0].numpy(), **TOL)


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dense_hessian_matches_torch_func_and_our_functional_hessian(kind, seed):
    torch = pytest.importorskip("torch")
    from torch.func import functional_call, hessian

    model = tanh_mlp([3, 4, 2], seed=seed, scale=2.0)
    X, y = make_data(kind, 5, 3, 2, seed)
    H = HessianOperator(model, our_loss(kind), (X, y)).to_dense()
    # torch.func on a torch twin of the model with the same weights
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
    ).double()
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    names = [n for n, _ in tmodel.named_parameters()]
    shapes = [p.shape for _, p in tmodel.named_parameters()]
    sizes = [int(np.prod(s)) for s in shapes]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def loss_of_flat(flat):
        parts = torch.split(flat, sizes)
        params = {n: p.reshape(s) for n, p, s in zip(names, parts, shapes)}
        return LOSSES[kind](functional_call(tmodel, params, (Xt,)), yt)

    flat = torch.cat([p.detach().reshape(-1) for p in tmodel.parameters()])
    np.testing.assert_allclose(H, hessian(loss_of_flat)(flat).numpy(), **TOL)
    # our autograd.functional.hessian of the same loss as a function of the tensors
    arrays = param_arrays(model)

    def ours(*params):
        return LOSSES[kind](forward(list(params), Tensor(X)), Tensor(y))

    blocks = autograd.functional.hessian(ours, tuple(Tensor(a) for a in arrays))
    sz = [a.size for a in arrays]
    dense = np.block(
        [
            [blocks[i][j].numpy().reshape(sz[i], sz[j]) for j in range(len(sz))]
            for i in range(len(sz))
        ]
    )
    np.testing.assert_allclose(H, dense, **TOL)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-13)


def test_hvp_matches_central_finite_differences_of_the_gradient():
    model = tanh_mlp([2, 3, 1], seed=3, scale=2.0)
    X, y = make_data("logistic", 6, 2, 1, 3)
    op = HessianOperator(model, our_loss("logistic"), (X, y))
    v = np.random.default_rng(0).standard_normal(op.shape[0])
    base = op.layout.flatten(param_arrays(model))
    eps = 1e-5

    def gradient_at(theta):
        fn = HessianOperator.from_function(
            lambda *p: LOSSES["logistic"](forward(list(p), Tensor(X)), Tensor(y)),
            op.layout.split(theta),
        )
        return fn.gradient

    fd = (gradient_at(base + eps * v) - gradient_at(base - eps * v)) / (2 * eps)
    np.testing.assert_allclose(op.matvec(v), fd, rtol=1e-6, atol=1e-8)


def test_vector_forms_flat_list_and_mapping_give_the_same_product():
    model = tanh_mlp([2, 3, 2], seed=0)
    X, y = make_data("mse", 4, 2, 2, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    v = np.random.default_rng(1).standard_normal(op.shape[0])
    pieces = op.layout.split(v)
    flat = hessian_vector_product(model, our_loss("mse"), (X, y), v)
    as_list = hessian_vector_product(model, our_loss("mse"), (X, y), list(pieces))
    as_dict = hessian_vector_product(model, our_loss("mse"), (X, y), op.layout.unflatten(v))
    np.testing.assert_allclose(flat, op.matvec(v), **TOL)
    assert isinstance(as_list, list) and [a.shape for a in as_list] == [p.shape for p in pieces]
    np.testing.assert_allclose(np.concatenate([a.ravel() for a in as_list]), flat, **TOL)
    assert list(as_dict) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    np.testing.assert_allclose(op.layout.flatten(as_dict), flat, **TOL)


def test_layout_maps_names_shapes_and_slices():
    model = tanh_mlp([3, 4, 2], seed=0)
    X, y = make_data("mse", 4, 3, 2, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    layout = op.layout
    assert layout.names == ("0.weight", "0.bias", "2.weight", "2.bias")
    assert layout.shapes == ((4, 3), (4,), (2, 4), (2,))
    assert layout.slices == (slice(0, 12), slice(12, 16), slice(16, 24), slice(24, 26))
    assert op.shape == (26, 26) and layout.size == 26 and op.dtype == np.float64
    theta = layout.flatten(param_arrays(model))
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(layout.unflatten(theta)[name], p.data)
    np.testing.assert_allclose(op.gradient, layout.gather(_torchless_gradient(model, X, y)))
    with pytest.raises(ValueError, match=r"expected a flat vector of shape \(26,\)"):
        op.matvec(np.ones(25))
    with pytest.raises(KeyError, match="missing parameters"):
        layout.flatten({"0.weight": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="0.bias has shape"):
        layout.flatten([np.zeros((4, 3)), np.zeros(3), np.zeros((2, 4)), np.zeros(2)])
    with pytest.raises(ValueError, match="unique"):
        ParameterLayout(["a", "a"], [(1,), (2,)])


def _torchless_gradient(model, X, y):
    loss = our_loss("mse")(model(Tensor(X)), y)
    return autograd.grad(loss, model.parameters())


def test_calls_are_counted_and_matmat_to_dense_agree():
    model = tanh_mlp([2, 2, 1], seed=0)
    X, y = make_data("mse", 3, 2, 1, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    assert op.calls == 0
    n = op.shape[0]
    D = op.to_dense()
    assert op.calls == n
    V = np.random.default_rng(0).standard_normal((n, 3))
    np.testing.assert_allclose(op @ V, D @ V, **TOL)
    np.testing.assert_allclose(op @ V[:, 0], D @ V[:, 0], **TOL)
    assert op.calls == n + 4
    assert repr(op) == f"HessianOperator(n={n}, calls={n + 4})"


def test_float32_model_is_differentiated_in_float64_by_default_and_in_float32_if_asked():
    model32 = tanh_mlp([3, 4, 2], seed=5, dtype=np.float32, scale=2.0)
    model64 = tanh_mlp([3, 4, 2], seed=5, dtype=np.float32, scale=2.0)
    for p in model64.parameters():
        p.data = p.data.astype(np.float64)
    X, y = make_data("xent", 6, 3, 2, 5)
    X32 = X.astype(np.float32)
    H64 = HessianOperator(model64, our_loss("xent"), (X32.astype(np.float64), y)).to_dense()
    H = HessianOperator(model32, our_loss("xent"), (X32, y)).to_dense()
    np.testing.assert_allclose(H, H64, **TOL)  # float32 values cast exactly, float64 math
    op32 = HessianOperator(model32, our_loss("xent"), (X32, y.astype(np.float32)), dtype=None)
    assert op32.objective.leaves[0].dtype == np.float32
    H32 = op32.to_dense()
    assert H32.dtype == np.float64  # vectors are float64 whatever the compute dtype
    np.testing.assert_allclose(H32, H64, rtol=1e-3, atol=1e-5)
    assert not np.allclose(H32, H64, rtol=0, atol=1e-12)
    assert all(p.dtype == np.float32 for p in model32.parameters())


def test_the_model_is_left_untouched():
    model = nn.Sequential(tanh_mlp([2, 3, 2], seed=0), nn.Dropout(0.5))
    model.train()
    model[0].eval()  # a mixed state must come back as it was
    before = {n: (p, p.data, p.data.copy()) for n, p in model.named_parameters()}
    X, y = make_data("mse", 4, 2, 2, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    op.to_dense()
    for name, p in model.named_parameters():
        tensor, array, copy = before[name]
        assert p is tensor and p.data is array and p.grad is None
        np.testing.assert_array_equal(p.data, copy)
    assert model.training and not model[0].training and model[1].training
    # eval mode by default: dropout is off and the Hessian is deterministic
    np.testing.assert_array_equal(op.to_dense(), op.to_dense())


def test_parameter_subset_gives_the_matching_block_and_unused_or_frozen_parameters():
    model = tanh_mlp([2, 3, 2], seed=1, scale=2.0)
    X, y = make_data("mse", 4, 2, 2, 1)
    full = HessianOperator(model, our_loss("mse"), (X, y))
    H = full.to_dense()
    last = [model[2].weight, model[2].bias]
    sub = HessianOperator(model, our_loss("mse"), (X, y), parameters=last)
    assert sub.layout.names == ("2.weight", "2.bias")
    start = full.layout.slices[2].start
    np.testing.assert_allclose(sub.to_dense(), H[start:, start:], **TOL)
    # a parameter the loss never uses gets zero rows; a frozen one is not in the layout
    model.unused = nn.Parameter(np.ones(3))
    model[0].bias.requires_grad_(False)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    assert "unused" in op.layout.names and "0.bias" not in op.layout.names
    D = op.to_dense()
    np.testing.assert_array_equal(D[-3:], 0.0)
    np.testing.assert_array_equal(D[:, -3:], 0.0)
    with pytest.raises(ValueError, match="every tensor must be a parameter of the model"):
        HessianOperator(model, our_loss("mse"), (X, y), parameters=[Tensor(np.ones(2))])


def test_tied_weights_are_one_parameter_substituted_everywhere():
    torch = pytest.importorskip("torch")

    class Tied(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.w = nn.Parameter(rng.standard_normal((3, 3)) * 0.7)
            self.layers = [self.w, self.w]  # held twice, in a list as well

        def forward(self, x):
            return ((x @ self.layers[0]).tanh() @ self.w.permute(1, 0)).tanh()

    model = Tied()
    X, y = make_data("mse", 4, 3, 3, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    assert op.layout.names == ("w",)
    w = torch.from_numpy(model.w.data.copy())

    def f(w):
        return (((torch.from_numpy(X) @ w).tanh() @ w.T).tanh() - torch.from_numpy(y)).pow(2).mean()

    ref = torch.autograd.functional.hessian(f, w).reshape(9, 9).numpy()
    np.testing.assert_allclose(op.to_dense(), ref, **TOL)
    assert model.layers[0] is model.w and model.layers[1] is model.w


def test_from_function_closure_and_refresh():
    # f(a, b) = a²b + sin-free cubic: Hessian known in closed form
    def f(a, b):
        return (a * a * b).sum() + (b**3).sum()

    a0, b0 = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    op = HessianOperator.from_function(f, {"a": a0, "b": b0})
    expected = np.block([[np.diag(2 * b0), np.diag(2 * a0)], [np.diag(2 * a0), np.diag(6 * b0)]])
    np.testing.assert_allclose(op.to_dense(), expected, **TOL)
    assert op.layout.names == ("a", "b")
    assert op.loss == pytest.approx(float((a0**2 * b0).sum() + (b0**3).sum()))
    with pytest.raises(TypeError, match="only an operator built from a model"):
        op.refresh()
    model = tanh_mlp([2, 2, 1], seed=0)
    X, y = make_data("mse", 3, 2, 1, 0)
    op = HessianOperator(model, our_loss("mse"), (X, y))
    before = op.to_dense()
    for p in model.parameters():
        p.data = p.data * 2.0
    np.testing.assert_array_equal(op.to_dense(), before)  # the Hessian at the old point
    after = op.refresh().to_dense()
    assert op.calls == after.shape[0]
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, HessianOperator(model, our_loss("mse"), (X, y)).to_dense())


def test_linear_loss_has_a_zero_hessian():
    op = HessianOperator.from_function(lambda a: (a * 3.0).sum(), [np.ones(4)])
    np.testing.assert_array_equal(op.to_dense(), np.zeros((4, 4)))
    np.testing.assert_array_equal(op.gradient, np.full(4, 3.0))


def test_errors():
    model = tanh_mlp([2, 2, 1], seed=0)
    X, y = make_data("mse", 3, 2, 1, 0)
    with pytest.raises(TypeError, match="batch must be a pair"):
        HessianOperator(model, our_loss("mse"), X)
    with pytest.raises(ValueError, match="the loss must be a single number, got shape"):
        HessianOperator(model, lambda out, y: out * 2.0, (X, y))
    with pytest.raises(TypeError, match="the loss must be a Tensor"):
        HessianOperator(model, lambda out, y: 1.0, (X, y))
    with pytest.raises(TypeError, match="expected a Module"):
        HessianOperator(lambda x: x, our_loss("mse"), (X, y))
    with pytest.raises(ValueError, match="does not depend on the parameters"):
        HessianOperator.from_function(lambda a: Tensor(np.float64(1.0)), [np.ones(2)])
    with pytest.raises(TypeError, match="floating point"):
        Objective.from_function(lambda a: a.sum(), [np.ones(2, dtype=np.int64)])
    with pytest.raises(TypeError, match="plain function of the parameters"):
        Objective.from_function(lambda a: a.sum(), [np.ones(2)]).output()
