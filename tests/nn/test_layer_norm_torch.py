"""``layer_norm``/``LayerNorm`` and ``rms_norm``/``RMSNorm`` against torch in float64.

Forward and gradients (input, weight, bias) for hypothesis-drawn leading shapes,
normalised shapes, affine options and eps; float32 behaviour; state dicts both ways;
finite differences; error messages.
"""

from __future__ import annotations

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

lead_shapes = st.lists(st.integers(0, 3), min_size=0, max_size=2)
group_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3)


def _data(seed: int, *shapes, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) + rng.uniform(-1, 1) for s in shapes]


# --------------------------------------------------------------------------- layer_norm
@settings(max_examples=80, deadline=None)
@given(
    lead=lead_shapes,
    group=group_shapes,
    affine=st.sampled_from(["both", "weight", "bias", "none"]),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_layer_norm_matches_torch(lead, group, affine, eps, seed):
    x, w, b = _data(seed, (*lead, *group), group, group)
    w = w if affine in ("both", "weight") else None
    b = b if affine in ("both", "bias") else None
    shape = tuple(group)
    compare_with_torch(
        [x, w, b],
        lambda x, w, b: F.layer_norm(x, shape, w, b, eps),
        lambda x, w, b: TF.layer_norm(x, shape, w, b, eps),
        seed,
    )


def test_layer_norm_int_normalized_shape_and_large_offset():
    (x,) = _data(1, (4, 7))
    x = x + 1e4  # centring first keeps the variance accurate
    w, b = _data(2, 7, 7)
    compare_with_torch(
        [x, w, b],
        lambda x, w, b: F.layer_norm(x, 7, w, b),
        lambda x, w, b: TF.layer_norm(x, (7,), w, b),
        tol={"rtol": 1e-8, "atol": 1e-10},
    )


def test_layer_norm_is_one_node_and_passes_gradcheck():
    x, w, b = (Tensor(a, requires_grad=True) for a in _data(3, (3, 2, 4), (2, 4), (2, 4)))
    out = F.layer_norm(x, (2, 4), w, b)
    assert out._ctx.name == "layer_norm" and len(out._ctx.parents) == 3
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [x, w, b])


def test_layer_norm_float32_stays_float32():
    x = Tensor(np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32))
    x.requires_grad = True
    ln = nn.LayerNorm(6)
    out = ln(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == ln.weight.grad.dtype == ln.bias.grad.dtype == np.float32
    ref = TF.layer_norm(torch.from_numpy(x.data), (6,))
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"bias": False}, {"elementwise_affine": False}, {"eps": 1e-3}],
    ids=["default", "no_bias", "no_affine", "eps"],
)
def test_layer_norm_module_matches_torch_and_state_dicts_round_trip(kwargs):
    ours = nn.LayerNorm((3, 4), dtype=np.float64, **kwargs)
    theirs = torch.nn.LayerNorm((3, 4), dtype=torch.float64, **kwargs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    rng = np.random.default_rng(0)
    with torch.no_grad():  # non-trivial parameters on the torch side, loaded into ours
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 5, 3, 4))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL)
    u = rng.standard_normal(x.shape)
    (out * Tensor(u)).sum().backward()
    (ref * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), err_msg=name, **TOL)
    # ours -> torch
    back = torch.nn.LayerNorm((3, 4), dtype=torch.float64, **kwargs)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(back(torch.from_numpy(x)).detach().numpy(), out.data, **TOL)


def test_layer_norm_module_defaults_and_repr():
    ln = nn.LayerNorm(8)
    assert ln.normalized_shape == (8,) and ln.eps == 1e-5
    assert ln.weight.dtype == np.float32 and np.all(ln.weight.data == 1)
    assert np.all(ln.bias.data == 0)
    assert [n for n, _ in ln.named_parameters()] == ["weight", "bias"]
    assert repr(ln) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True): 16 parameters"
    assert nn.LayerNorm(8, bias=False).bias is None
    assert nn.LayerNorm([2, 3], elementwise_affine=False).parameters() == []


# --------------------------------------------------------------------------- rms_norm
@settings(max_examples=60, deadline=None)
@given(
    lead=lead_shapes,
    group=group_shapes,
    with_weight=st.booleans(),
    eps=st.sampled_from([None, 1e-6, 0.25]),
    seed=st.integers(0, 2**16),
)
def test_rms_norm_matches_torch(lead, group, with_weight, eps, seed):
    x, w = _data(seed, (*lead, *group), group)
    shape = tuple(group)
    compare_with_torch(
        [x, w if with_weight else None],
        lambda x, w: F.rms_norm(x, shape, w, eps),
        lambda x, w: TF.rms_norm(x, shape, w, eps),
        seed,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_default_eps_is_the_dtype_epsilon_as_torch(dtype):
    # tiny inputs: mean(x²) is comparable to eps, so the default eps shows in the result
    x = (1e-4 * np.random.default_rng(0).standard_normal((3, 4))).astype(dtype)
    if dtype == np.float64:
        x *= 1e-4
    ours = nn.RMSNorm(4, dtype=dtype)
    assert ours.eps is None
    out = ours(Tensor(x)).data
    ref = torch.nn.RMSNorm(4, dtype=getattr(torch, np.dtype(dtype).name))(torch.from_numpy(x))
    np.testing.assert_allclose(
        out, ref.detach().numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12
    )
    eps = np.finfo(dtype).eps
    r = 1 / np.sqrt((x.astype(np.float64) ** 2).mean(axis=-1, keepdims=True) + eps)
    np.testing.assert_allclose(out, x * r, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_rms_norm_module_state_dict_round_trip_and_grads():
    ours = nn.RMSNorm((2, 3), eps=1e-6, dtype=np.float64)
    theirs = torch.nn.RMSNorm((2, 3), eps=1e-6, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(np.arange(6.0).reshape(2, 3) - 2.5))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 2, 3))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL)
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOL)
    back = torch.nn.RMSNorm((2, 3), eps=1e-6, dtype=torch.float64)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(), ours.weight.data)
    assert nn.RMSNorm(3, elementwise_affine=False).state_dict() == {}
    assert repr(nn.RMSNorm(3)) == "RMSNorm((3,), eps=None, elementwise_affine=True): 3 parameters"


def test_rms_norm_gradcheck_and_one_node():
    x, w = (Tensor(a, requires_grad=True) for a in _data(4, (3, 5), 5))
    out = F.rms_norm(x, 5, w, 1e-3)
    assert out._ctx.name == "rms_norm" and len(out._ctx.parents) == 2
    assert gradcheck(lambda x, w: F.rms_norm(x, 5, w, 1e-3), [x, w])


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("fn", [F.layer_norm, F.rms_norm], ids=["layer_norm", "rms_norm"])
def test_wrong_normalized_shape_names_the_op_and_both_shapes(fn):
    x = Tensor(np.ones((2, 3, 4)))
    for shape in [(3,), (2, 4), (5, 2, 3, 4)]:
        with pytest.raises(ShapeError) as err:
            fn(x, shape)
        msg = str(err.value)
        assert msg.startswith(fn.__name__ + ":") and "(2, 3, 4)" in msg and str(shape) in msg
        with pytest.raises((RuntimeError, ValueError)):  # torch rejects it too
            getattr(TF, fn.__name__)(torch.ones(2, 3, 4), shape)


def test_parameter_shape_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ShapeError, match=r"layer_norm: weight shape \(4,\) does not match "):
        F.layer_norm(x, (3,), Tensor(np.ones(4)))
    with pytest.raises(ShapeError, match=r"layer_norm: bias shape \(3, 1\) does not match"):
        F.layer_norm(x, (3,), None, Tensor(np.ones((3, 1))))
    with pytest.raises(ShapeError, match=r"rms_norm: weight shape \(2,\) does not match"):
        F.rms_norm(x, 3, Tensor(np.ones(2)))
    with pytest.raises(ShapeError, match=r"LayerNorm|layer_norm"):
        nn.LayerNorm(5)(x)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match=r"eps must be non-negative, got -1"):
        nn.LayerNorm(3, eps=-1)
    with pytest.raises(ValueError, match=r"normalized_shape must be non-negative"):
        nn.LayerNorm((3, -2))
    with pytest.raises(ValueError, match=r"RMSNorm: eps"):
        nn.RMSNorm(3, eps=-1e-3)
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape must have at least one"):
        F.layer_norm(Tensor(np.ones((2, 3))), ())


def test_every_normalisation_is_importable_from_nn_normalization():
    from tinygrad_opt.nn import normalization

    assert normalization.LayerNorm is nn.LayerNorm and normalization.GroupNorm is nn.GroupNorm
    assert normalization.rms_norm is F.rms_norm and normalization.group_norm is F.group_norm


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda x: F.layer_norm(x, 4), lambda x: TF.layer_norm(x, (4,))),
        (lambda x: F.rms_norm(x, 4, eps=1e-6), lambda x: TF.rms_norm(x, (4,), eps=1e-6)),
        (lambda x: F.group_norm(x, 1), lambda x: TF.group_norm(x, 1)),
    ],
    ids=["layer_norm", "rms_norm", "group_norm"],
)
def test_writing_into_the_output_does_not_change_the_gradient(ours, theirs):
    x = np.random.default_rng(6).standard_normal((3, 4))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    u = np.random.default_rng(7).standard_normal(x.shape)
    out.data[...] = 7.0  # the saved normalised values must not be this array
    (out * Tensor(u)).sum().backward()
    (ref * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
