"""``group_norm``/``GroupNorm`` against torch in float64: forward, gradients, state
dicts, finite differences and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch_compare import TOL, compare_with_torch

from tinygrad_opt import Tensor, nn
from tinygrad_opt.gradcheck import gradcheck
from tinygrad_opt.nn import functional as F
from tinygrad_opt.tensor import ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _torch_group_norm(x, groups, w, b, eps):
    if w is None and b is not None:  # torch's backward fails for a bias without a weight
        shift = b.reshape(1, -1, *[1] * (x.ndim - 2))
        return TF.group_norm(x, groups, None, None, eps) + shift
    return TF.group_norm(x, groups, w, b, eps)


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(1, 3),
    groups=st.integers(1, 4),
    per_group=st.integers(1, 3),
    spatial=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    affine=st.sampled_from(["both", "weight", "bias", "none"]),
    eps=st.sampled_from([1e-5, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_group_norm_matches_torch(n, groups, per_group, spatial, affine, eps, seed):
    # torch refuses an input whose N·(C/G)·spatial is 1 ("more than 1 value per channel")
    assume(n * per_group * math.prod(spatial) > 1)
    c = groups * per_group
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *spatial)) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    w = rng.standard_normal(c) if affine in ("both", "weight") else None
    b = rng.standard_normal(c) if affine in ("both", "bias") else None
    compare_with_torch(
        [x, w, b],
        lambda x, w, b: F.group_norm(x, groups, w, b, eps),
        lambda x, w, b: _torch_group_norm(x, groups, w, b, eps),
        seed,
    )


def test_group_norm_one_node_gradcheck_and_float32():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = Tensor(rng.standard_normal(4), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    out = F.group_norm(x, 2, w, b)
    assert out._ctx.name == "group_norm" and len(out._ctx.parents) == 3
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    gn = nn.GroupNorm(2, 4)
    x32 = Tensor(x.data.astype(np.float32), requires_grad=True)
    y = gn(x32)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x32.grad.dtype == gn.weight.grad.dtype == gn.bias.grad.dtype == np.float32


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"affine": False}, {"bias": False}, {"eps": 1e-3}],
    ids=["default", "no_affine", "no_bias", "eps"],
)
def test_group_norm_module_matches_torch_and_state_dicts_round_trip(kwargs):
    ours = nn.GroupNorm(3, 6, dtype=np.float64, **kwargs)
    theirs = torch.nn.GroupNorm(3, 6, dtype=torch.float64, **kwargs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    rng = np.random.default_rng(1)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(6)))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 6, 4, 3))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL)
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), err_msg=name, **TOL)
    back = torch.nn.GroupNorm(3, 6, dtype=torch.float64, **kwargs)
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(back(torch.from_numpy(x)).detach().numpy(), out.data, **TOL)


def test_group_norm_repr_and_defaults():
    gn = nn.GroupNorm(2, 4)
    assert repr(gn) == "GroupNorm(2, 4, eps=1e-05, affine=True): 8 parameters"
    assert np.all(gn.weight.data == 1) and np.all(gn.bias.data == 0)
    assert gn.weight.dtype == np.float32


def test_group_norm_errors():
    with pytest.raises(
        ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"
    ):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError):  # torch agrees
        torch.nn.GroupNorm(3, 4)
    x = Tensor(np.ones((2, 4, 3)))
    with pytest.raises(
        ValueError, match=r"group_norm: the 4 channels .* \(2, 4, 3\) .* num_groups=3"
    ):
        F.group_norm(x, 3)
    with pytest.raises(ShapeError, match=r"expected input of shape \(N, C, \*\), got shape \(4,\)"):
        F.group_norm(Tensor(np.ones(4)), 2)
    with pytest.raises(ShapeError, match=r"group_norm: weight shape \(3,\) does not match the 4"):
        F.group_norm(x, 2, Tensor(np.ones(3)))
    with pytest.raises(ShapeError, match=r"GroupNorm\(2, 6.*expected input of shape \(N, 6, \*\)"):
        nn.GroupNorm(2, 6)(x)
    with pytest.raises(ValueError, match="num_groups must be positive"):
        F.group_norm(x, 0)
