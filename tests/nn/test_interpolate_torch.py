"""interpolate / Upsample against torch: every mode's coordinate rule, both ways of giving
the output size, ``align_corners`` and ``recompute_scale_factor``, forward and gradient
in float64 over hypothesis-drawn sizes and scale factors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spatial_oracle import compare  # noqa: E402

from tinygrad_opt import Tensor, gradcheck, nn  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402
from tinygrad_opt.tensor import ShapeError  # noqa: E402

pytestmark = pytest.mark.torch
HYPO = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NDIM = {"nearest": (3, 4), "nearest-exact": (3, 4), "area": (3, 4), "linear": (3,),
        "bilinear": (4,), "bicubic": (4,)}  # fmt: skip
# factors that are exact in binary and ones that are not (0.3, 1/3, 0.7, 1.1, ...)
FACTORS = [0.3, 1 / 3, 0.5, 0.7, 0.75, 1.0, 1.1, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0]


@st.composite
def interp_configs(draw):
    mode = draw(st.sampled_from(sorted(NDIM)))
    ndim = draw(st.sampled_from(NDIM[mode]))
    nsp = ndim - 2
    size_in = tuple(draw(st.integers(1, 9)) for _ in range(nsp))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + size_in
    kw = {"mode": mode}
    if draw(st.booleans()):
        size = tuple(draw(st.integers(1, 13)) for _ in range(nsp))
        kw["size"] = size[0] if draw(st.booleans()) and len(set(size)) == 1 else size
    else:
        factors = tuple(draw(st.sampled_from(FACTORS)) for _ in range(nsp))
        assume(all(int(n * f) >= 1 for n, f in zip(size_in, factors)))
        kw["scale_factor"] = factors[0] if len(set(factors)) == 1 else factors
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if mode in ("linear", "bilinear", "bicubic"):
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    return shape, kw


def _torch_backward_differs(shape, kw):
    """Where torch's backward takes a shortcut its forward does not (see upsample.py):
    3-D nearest with an output of the input's size or twice it, and bicubic whose output
    has the input's size, under a scale_factor that is not 1 (or 2)."""
    if "scale_factor" not in kw or kw.get("recompute_scale_factor"):
        return False
    nsp = len(shape) - 2
    f = kw["scale_factor"]
    factors = f if isinstance(f, tuple) else (f,) * nsp
    outs = [int(n * x) for n, x in zip(shape[2:], factors)]
    if kw["mode"] == "nearest" and nsp == 1:
        return outs[0] in (shape[2], 2 * shape[2]) and factors[0] not in (1, 2)
    if kw["mode"] == "bicubic" and not kw.get("align_corners"):
        return tuple(outs) == shape[2:] and any(x != 1 for x in factors)
    return False


@HYPO
@given(interp_configs(), st.integers(0, 2**31))
def test_interpolate_matches_torch(cfg, seed):
    shape, kw = cfg
    rng = np.random.default_rng(seed)
    compare(
        lambda x: F.interpolate(x, **kw),
        lambda x: TF.interpolate(x, **kw),
        [rng.standard_normal(shape)],
        rng,
        f"interpolate {shape} {kw}",
        grads=not _torch_backward_differs(shape, kw),
    )


@pytest.mark.parametrize("factors", [(1.0, 1.1), (1.2, 1.15), (1.3, 1.0)])
def test_bicubic_gradient_is_that_of_the_forward_where_torch_copies(factors):
    # 3x5 scaled by these stays 3x5: torch's forward resamples, its backward copies the
    # gradient through (a shortcut for equal sizes); ours is the adjoint of the forward
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 1, 3, 5))
    kw = {"scale_factor": factors, "mode": "bicubic"}
    ours, theirs = (lambda t: F.interpolate(t, **kw)), (lambda t: TF.interpolate(t, **kw))
    out, ref = compare(ours, theirs, [x], rng, kw, grads=False)
    assert out.shape[2:] == (3, 5)
    assert gradcheck(ours, [Tensor(x, requires_grad=True)])
    tx = torch.tensor(x, requires_grad=True)
    theirs(tx).sum().backward()
    xo = Tensor(x, requires_grad=True)
    ours(xo).sum().backward()
    assert not np.allclose(xo.grad, tx.grad.numpy())


@pytest.mark.parametrize("n, factor", [(4, 1.2), (4, 2.2), (5, 1.1), (3, 2.3)])
def test_1d_nearest_gradient_is_that_of_the_forward(n, factor):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((1, 2, n))
    kw = {"scale_factor": factor, "mode": "nearest"}
    ours, theirs = (lambda t: F.interpolate(t, **kw)), (lambda t: TF.interpolate(t, **kw))
    compare(ours, theirs, [x], rng, kw, grads=False)
    xt = Tensor(x, requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, **kw), [xt])
    _assert_gradient_is_adjoint_of_torch_forward(x, kw, rng)
    # ... which torch's own backward is not, here
    tx = torch.tensor(x, requires_grad=True)
    y = TF.interpolate(tx, **kw)
    y.backward(torch.ones_like(y))
    idx = TF.interpolate(torch.arange(n, dtype=torch.float64)[None, None], **kw)[0, 0].long()
    counts = torch.zeros(n, dtype=torch.float64).index_add_(0, idx, torch.ones(len(idx)).double())
    assert not torch.equal(tx.grad[0, 0], counts)


def _assert_gradient_is_adjoint_of_torch_forward(x, kw, rng):
    """Our 1-D gradient adds u back to the positions torch's forward read."""
    n = x.shape[-1]
    idx = TF.interpolate(torch.arange(n, dtype=torch.float64)[None, None], **kw)[0, 0].long()
    u = rng.standard_normal(x.shape[:-1] + (len(idx),))
    adjoint = np.zeros(x.shape)
    np.add.at(adjoint, (..., idx.numpy()), u)
    xt = Tensor(x, requires_grad=True)
    (F.interpolate(xt, **kw) * Tensor(u)).sum().backward()
    np.testing.assert_allclose(xt.grad, adjoint, rtol=1e-12)


@pytest.mark.parametrize(
    "n_in, out",
    [(6, {"size": 74}), (26, {"size": 22}), (39, {"size": 33}), (31, {"scale_factor": 1.3}),
     (33, {"scale_factor": 2.7}), (30, {"size": 52}), (4, {"size": 82}), (48, {"size": 74})],
)  # fmt: skip
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("nsp", [1, 2])
def test_nearest_index_rounds_like_torch(n_in, out, mode, nsp):
    # sizes where ⌊dst·scale⌋ depends on the precision of the product: torch rounds it to
    # float32 (and takes a float32 scale in 2-D); exact float64 arithmetic differs
    rng = np.random.default_rng(n_in)
    x = rng.standard_normal((1, 2, n_in) + ((3,) if nsp == 2 else ()))
    kw = {"mode": mode}
    if "size" in out:
        kw["size"] = (out["size"], 3) if nsp == 2 else out["size"]
    else:
        kw["scale_factor"] = (out["scale_factor"], 1.0) if nsp == 2 else out["scale_factor"]
    ours, theirs = (lambda t: F.interpolate(t, **kw)), (lambda t: TF.interpolate(t, **kw))
    # torch's 1-D backward indexes by its 2-D rule, not by its own forward's: compare the
    # 1-D gradient with the adjoint of torch's forward instead
    compare(ours, theirs, [x], rng, kw, grads=nsp == 2)
    if nsp == 1:
        _assert_gradient_is_adjoint_of_torch_forward(x, kw, rng)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_integer_upsampling_and_float32(mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 4))
    kw = {"scale_factor": 2, "mode": mode}
    compare(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), [x], rng, mode)
    ours = F.interpolate(Tensor(x.astype(np.float32)), size=(7, 9), mode=mode)
    ref = TF.interpolate(torch.tensor(x, dtype=torch.float32), size=(7, 9), mode=mode)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_gradcheck_bilinear_and_bicubic():
    x = Tensor(np.random.default_rng(1).standard_normal((1, 2, 4, 3)), True)
    assert gradcheck(lambda t: F.interpolate(t, size=(5, 7), mode="bilinear"), [x])
    assert gradcheck(
        lambda t: F.interpolate(t, scale_factor=1.7, mode="bicubic", align_corners=True), [x]
    )


@pytest.mark.parametrize(
    "args",
    [
        {"size": 7},
        {"scale_factor": (2.0, 0.5)},
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
        {"size": (3, 4), "mode": "area"},
        {"scale_factor": 0.5, "mode": "bicubic"},
    ],
)
def test_upsample_layer_matches_torch(args):
    ours, ref = nn.Upsample(**args), torch.nn.Upsample(**args)
    x = np.random.default_rng(2).standard_normal((2, 2, 6, 5))
    compare(ours, ref, [x], np.random.default_rng(3), f"Upsample {args}")
    assert ours.extra_repr() == ref.extra_repr()
    assert ours.num_parameters() == 0


@pytest.mark.parametrize(
    "kw, cls, match",
    [
        ({"size": 3, "scale_factor": 2.0}, ValueError, "only one of size or scale_factor"),
        ({}, ValueError, "either size or scale_factor"),
        ({"size": 3, "align_corners": True}, ValueError, "align_corners can only be set"),
        ({"size": (3, 3, 3)}, ValueError, "same number of spatial dimensions"),
        ({"scale_factor": (2.0,)}, ValueError, "same number of spatial dimensions"),
        ({"size": 3, "mode": "linear"}, ShapeError, r"mode 'linear' needs 3-D input"),
        ({"size": 3, "mode": "cubic"}, ValueError, "mode must be one of"),
        ({"size": 3, "recompute_scale_factor": True}, ValueError, "not meaningful"),
        ({"size": 3, "mode": "bilinear", "antialias": True}, NotImplementedError, "antialias"),
    ],
)  # fmt: skip
def test_interpolate_errors(kw, cls, match):
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(cls, match=match):
        F.interpolate(Tensor(x), **kw)
    if not kw.get("antialias"):  # torch implements antialias; everything else it rejects
        with pytest.raises((ValueError, NotImplementedError, RuntimeError)):
            TF.interpolate(torch.tensor(x), **kw)
