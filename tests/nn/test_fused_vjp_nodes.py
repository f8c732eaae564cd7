"""The hand-written vjps of the fused norm and attention ops, and of mse_loss.

``layer_norm``/``group_norm`` (``AffineRowNorm.vjp``), ``scaled_dot_product_attention``
(``_SDPA.vjp``) and ``mse_loss`` build their differentiable backward from dedicated
nodes (``NormAffineBackward``, ``RowNormalize``, ``_AttnProbs``, ``_SoftmaxGrad``) instead
of differentiating their ``composite``. The composite stays the reference definition:

- second and third derivatives through the vjp equal those through the composite
  (the class's ``vjp`` removed, ``Function.vjp`` then differentiates the composite),
  float64, for hypothesis-drawn shapes and options (masks, causal, dropout, GQA,
  broadcast batches, rows with every key masked, scales; weights/biases or not);
- each node's own backward equals the derivative of its composite (first order);
- Hessian-vector products agree with torch's double backward (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import Tensor
from tinygrad_opt.autograd.function import Function
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn._norm_rows import (
    NormAffineBackward,
    RowNormalize,
    SumOfProducts,
    normalize_rows,
)
from tinygrad_opt.nn.attention import _SDPA, _AttnProbs, _SoftmaxGrad
from tinygrad_opt.nn.layer_norm import AffineRowNorm
from tinygrad_opt.nn.loss.regression import _MSE

HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = {"rtol": 1e-9, "atol": 1e-10}


def _derivatives(fn, arrays: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """∇f, ∇⟨∇f, v⟩ and ∇⟨∇⟨∇f, v⟩, w⟩ for f = Σ u·y³ of ``fn``'s output y, for every
    float input (zeros where a derivative does not depend on an input). Order k takes
    k - 1 recorded passes and a last numpy one, so both the vjps (recorded) and the
    backwards of their nodes (numpy) are exercised."""
    out: list[np.ndarray] = []
    for order in (1, 2, 3):
        rng = np.random.default_rng(seed)
        xs = [Tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        level = (y * y * y * Tensor(rng.standard_normal(y.shape))).sum()
        for k in range(1, order + 1):
            last = k == order
            gs = tg.autograd.grad(level, xs, create_graph=not last, allow_unused=True)
            gs = [Tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(gs, xs)]
            if last:
                out += [g.data for g in gs]
                break
            terms = [(g * Tensor(rng.standard_normal(g.shape))).sum() for g in gs]
            level = sum(terms[1:], terms[0])
            if not level.requires_grad:  # the next derivatives are all 0
                out += [np.zeros(x.shape) for x in xs]
                break
    return out


def _same_as_composite(monkeypatch, cls: type, fn, arrays, seed=0) -> None:
    """Derivatives to third order with ``cls.vjp`` equal those of its composite."""
    ours = _derivatives(fn, arrays, seed)
    monkeypatch.delattr(cls, "vjp")
    assert cls.vjp is Function.vjp  # now the derivative of the composite
    reference = _derivatives(fn, arrays, seed)
    monkeypatch.undo()
    for i, (a, b) in enumerate(zip(ours, reference)):
        scale = 1.0 + np.abs(b).max(initial=0.0)
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11 * scale, err_msg=f"output {i}")


# --------------------------------------------------------------------------- norms
@st.composite
def layer_norm_case(draw):
    d = draw(st.integers(1, 2))
    norm = tuple(draw(st.integers(1, 4)) for _ in range(d))
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    affine = draw(st.sampled_from(["wb", "w", "none"]))
    eps = draw(st.sampled_from([1e-5, 0.1]))
    return lead + norm, norm, affine, eps, draw(st.integers(0, 2**16))


@HYPO
@given(layer_norm_case())
def test_layer_norm_vjp_matches_composite(case):
    shape, norm, affine, eps, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape)]
    arrays += [rng.standard_normal(norm) + 1.0 for _ in range({"wb": 2, "w": 1}.get(affine, 0))]

    def fn(x, *p):
        w, b = (p + (None, None))[:2]
        return F.layer_norm(x, norm, w, b, eps=eps)

    with pytest.MonkeyPatch.context() as mp:
        _same_as_composite(mp, AffineRowNorm, fn, arrays, seed)


@HYPO
@given(
    st.integers(1, 3),
    st.sampled_from([(1, 2), (2, 2), (2, 4), (3, 3)]),
    st.sampled_from([(), (3,), (2, 2)]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_group_norm_vjp_matches_composite(n, groups_channels, spatial, affine, seed):
    groups, c = groups_channels
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((n, c, *spatial))]
    if affine:
        arrays += [rng.standard_normal(c) + 1.0, rng.standard_normal(c)]

    def fn(x, *p):
        return F.group_norm(x, groups, *p) if p else F.group_norm(x, groups)

    with pytest.MonkeyPatch.context() as mp:
        _same_as_composite(mp, AffineRowNorm, fn, arrays, seed)


# --------------------------------------------------------------------------- attention
@st.composite
def attention_case(draw):
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    hk = draw(st.sampled_from([1, 2]))
    gqa = draw(st.booleans()) and len(batch) >= 1
    hq = hk * (draw(st.sampled_from([1, 2])) if gqa else 1)
    lq, lk = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    e, ev = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    q_shape = (*batch, hq, lq, e) if batch else (lq, e)
    kv_batch = (*batch, hk) if batch else ()
    if batch and draw(st.booleans()):  # broadcast the keys/values over the first batch dim
        kv_batch = (1, *kv_batch[1:])
    mask = draw(st.sampled_from(["none", "bool", "float", "float_grad", "causal"]))
    return {
        "shapes": [q_shape, (*kv_batch, lk, e), (*kv_batch, lk, ev)],
        "gqa": gqa,
        "mask": mask,
        "dead_row": draw(st.booleans()),
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.4])),
        "scale": draw(st.sampled_from([None, 0.5, 1.0])),
        "seed": draw(st.integers(0, 2**16)),
    }


def _attention_fn(case, rng):
    lq, lk = case["shapes"][0][-2], case["shapes"][1][-2]
    arrays = [rng.standard_normal(s) for s in case["shapes"]]
    kw = {"enable_gqa": case["gqa"], "scale": case["scale"], "dropout_p": case["dropout"]}
    kind = case["mask"]
    if kind == "bool":
        m = rng.random((lq, lk)) < 0.7
        if case["dead_row"]:
            m[0] = False  # every key of the first query masked: its row is 0
        kw["attn_mask"] = m
    elif kind in ("float", "float_grad"):
        m = rng.standard_normal((lq, lk))
        m[:, 0] = -np.inf
        if case["dead_row"]:
            m[0] = -np.inf
        if kind == "float_grad":
            arrays.append(m)
        else:
            kw["attn_mask"] = m
    elif kind == "causal":
        kw["is_causal"] = True
    seed = case["seed"]

    def fn(q, k, v, *mask):
        extra = dict(kw, rng=seed)  # the same dropout mask in every call
        if mask:
            extra["attn_mask"] = mask[0]
        return F.scaled_dot_product_attention(q, k, v, **extra)

    return fn, arrays


@HYPO
@given(attention_case())
def test_sdpa_vjp_matches_composite(case):
    fn, arrays = _attention_fn(case, np.random.default_rng(case["seed"]))
    with pytest.MonkeyPatch.context() as mp:
        _same_as_composite(mp, _SDPA, fn, arrays, case["seed"])


# --------------------------------------------------------------------------- the nodes
def _first_order_vs_composite(cls: type, inputs: list[np.ndarray], params: dict, seed: int):
    """The node's backward (numpy) equals the derivative of its composite, for every
    input, along a random upstream gradient."""
    rng = np.random.default_rng(seed)
    xs = [Tensor(a, requires_grad=True) for a in inputs]
    out = cls.apply(*xs, **params)
    u = Tensor(rng.standard_normal(out.shape))
    ours = tg.autograd.grad((out * u).sum(), xs)
    ref_xs = [Tensor(a, requires_grad=True) for a in inputs]
    ref_out = cls().composite(*ref_xs, **params)
    np.testing.assert_allclose(out.data, ref_out.data, **TOL)  # the same value too
    theirs = tg.autograd.grad((ref_out * u).sum(), ref_xs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.data, b.data, **TOL, err_msg=f"input {i}")


@HYPO
@given(st.integers(1, 4), st.integers(1, 6), st.booleans(), st.integers(0, 2**16))
def test_norm_nodes_backward_is_composite_derivative(m, n, weighted, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, n))
    xhat, invstd = normalize_rows(x, 1e-3)
    saved = {"eps": 1e-3, "xhat": xhat, "invstd": invstd}
    _first_order_vs_composite(RowNormalize, [x], saved, seed)
    inputs = [rng.standard_normal((m, n)), x]
    if weighted:
        inputs.append(rng.standard_normal(n))
    geometry = {"view": (m, n), "pshape": (1, n), "axes": (0,)}
    _first_order_vs_composite(NormAffineBackward, inputs, {**saved, **geometry}, seed)
    a, b = rng.standard_normal((m, 2, n)), rng.standard_normal((m, 2, n))
    for axes in [(0,), (0, 2), (1,)]:
        _first_order_vs_composite(SumOfProducts, [a, b], {"axes": axes}, seed)


@HYPO
@given(
    st.sampled_from([(3,), (2, 4), (2, 3, 5)]),
    st.booleans(),
    st.sampled_from([1.0, 0.3]),
    st.integers(0, 2**16),
)
def test_attention_nodes_backward_is_composite_derivative(shape, dropped, scale, seed):
    rng = np.random.default_rng(seed)
    s = rng.standard_normal(shape)
    p = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    drop = (rng.random(shape) < 0.7) / 0.7 if dropped else None
    _first_order_vs_composite(
        _SoftmaxGrad, [rng.standard_normal(shape), p], {"drop": drop, "scale": scale}, seed
    )
    # P = softmax(Q Kᵀ s + M) as a node of Q, K and a float mask M (a dead row included)
    q, k = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 4, 2))
    mask = rng.standard_normal((3, 4))
    mask[0] = -np.inf
    scores = q @ np.swapaxes(k, -1, -2) * scale + mask
    top = scores.max(-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = e.sum(-1, keepdims=True)
    probs = e / np.where(total == 0, 1, total)
    params = {"bias": None, "scale": scale, "groups": (1, 1), "saved": (probs, q * scale, k)}
    _first_order_vs_composite(_AttnProbs, [q, k, mask], params, seed)


# --------------------------------------------------------------------------- mse_loss
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target_grad", [False, True])
def test_mse_vjp_matches_composite(reduction, target_grad):
    rng = np.random.default_rng(7)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    if target_grad:
        fn, arrays = (lambda a, b: F.mse_loss(a, b, reduction=reduction)), [x, t]
    else:
        fn, arrays = (lambda a: F.mse_loss(a, Tensor(t), reduction=reduction)), [x]
    with pytest.MonkeyPatch.context() as mp:
        _same_as_composite(mp, _MSE, fn, arrays)


# --------------------------------------------------------------------------- vs torch
torch = pytest.importorskip("torch")
from hvp_oracle import check  # noqa: E402

TF = torch.nn.functional


@HYPO
@given(layer_norm_case())
def test_layer_norm_hvp_vs_torch(case):
    shape, norm, affine, eps, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape)]
    arrays += [rng.standard_normal(norm) + 1.0 for _ in range({"wb": 2, "w": 1}.get(affine, 0))]

    def make(mod):
        def fn(x, *p):
            w, b = (p + (None, None))[:2]
            return mod.layer_norm(x, norm, w, b, eps=eps)

        return fn

    check(make(F), make(TF), arrays)


@HYPO
@given(attention_case())
def test_sdpa_hvp_vs_torch(case):
    if case["dropout"] or (case["mask"] != "none" and case["dead_row"]):
        case = {**case, "dropout": 0.0, "dead_row": False}  # torch: no shared dropout mask
    if case["mask"] in ("bool", "float") and len(case["shapes"][0]) == 2:
        case = {**case, "mask": "none"}  # (torch's math path wants a batched mask there)
    fn, arrays = _attention_fn(case, np.random.default_rng(case["seed"]))
    kw = {"enable_gqa": case["gqa"], "scale": case["scale"]}
    lq, lk = case["shapes"][0][-2], case["shapes"][1][-2]
    rng = np.random.default_rng(case["seed"] + 1)
    if case["mask"] == "bool":
        kw["attn_mask"] = rng.random((lq, lk)) < 0.7
        kw["attn_mask"][:, 0] = True
    elif case["mask"] == "float":
        kw["attn_mask"] = rng.standard_normal((lq, lk))
    elif case["mask"] == "causal":
        kw["is_causal"] = True

    def make(mod, wrap):
        def run(q, k, v, *mask):
            extra = dict(kw)
            if "attn_mask" in extra:
                extra["attn_mask"] = wrap(extra["attn_mask"])
            if mask:
                extra["attn_mask"] = mask[0]
            return mod.scaled_dot_product_attention(q, k, v, **extra)

        return run

    if case["mask"] == "float_grad":
        arrays[3][:, 0] = 0.0  # finite: torch's math path and ours agree on -inf too, but
        # a -inf entry of a differentiated mask has no derivative to compare
    check(make(F, Tensor), make(TF, torch.tensor), arrays)


# --------------------------------------------------------------------------- linear
@HYPO
@given(
    st.sampled_from([(5,), (2, 3), (2, 1, 3)]),
    st.integers(1, 4),
    st.integers(1, 4),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_linear_hvp_vs_torch(lead, n_in, n_out, bias, seed):
    """linear's vjp is two fused nodes (linear(G, Wᵀ) and the weight gradient Gᵀ X):
    H·v against torch for input, weight and bias."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((*lead, n_in)), rng.standard_normal((n_out, n_in))]
    if bias:
        arrays.append(rng.standard_normal(n_out))
    check(F.linear, TF.linear, arrays)


def test_linear_weight_grad_node_numpy_and_recorded_backward_agree():
    from tinygrad_opt.nn.functional import _WeightGrad

    rng = np.random.default_rng(2)
    g, x = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 5))
    u = rng.standard_normal((4, 5))
    gt, xt = Tensor(g, requires_grad=True), Tensor(x, requires_grad=True)
    out = _WeightGrad.apply(gt, xt)
    np.testing.assert_allclose(out.data, np.einsum("abi,abj->ij", g, x), **TOL)
    numpy_pass = tg.autograd.grad(out, [gt, xt], Tensor(u))
    recorded = tg.autograd.grad(out, [gt, xt], Tensor(u), create_graph=True)
    expected = (np.einsum("abj,ij->abi", x, u), np.einsum("abi,ij->abj", g, u))
    for a, b, e in zip(numpy_pass, recorded, expected):
        np.testing.assert_allclose(a.data, e, **TOL)
        np.testing.assert_allclose(b.data, e, **TOL)


# --------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("order", [(1, 2, 0, 3), (0, 2, 1, 3), (2, 0, 1, 3)])
def test_laid_out_matmul_stores_the_product_as_its_model(order):
    """dQ = dS K is stored as Q is (a head-split view of a projection): same values and
    derivatives as a plain product, the model's strides, a contiguous array behind."""
    from tinygrad_opt.nn._attention_vjp import laid_out_matmul, memory_order

    rng = np.random.default_rng(9)
    shape = (2, 3, 4, 5)
    memory = rng.standard_normal([shape[i] for i in order])
    like = Tensor(memory.transpose(np.argsort(order)))  # logical shape ``shape``
    assert like.shape == shape and memory_order(like.data) == order
    a = Tensor(rng.standard_normal((2, 3, 4, 6)), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    out = laid_out_matmul(a, b, like=like)
    assert out.data.strides == like.data.strides
    np.testing.assert_allclose(out.data, a.data @ b.data, **TOL)
    u = Tensor(rng.standard_normal(shape))
    ours = tg.autograd.grad(out, [a, b], u, create_graph=True)
    plain = tg.autograd.grad(a @ b, [a, b], u, create_graph=True)
    for x, y in zip(ours, plain):
        np.testing.assert_allclose(x.data, y.data, **TOL)
    assert memory_order(np.ones(shape)) is None  # contiguous: a plain product
    assert laid_out_matmul(a, b, like=Tensor(np.ones(shape))).data.flags.c_contiguous
