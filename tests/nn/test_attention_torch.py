"""F.scaled_dot_product_attention against torch 2.13 in float64: forward and every gradient.

Hypothesis draws batch shapes (including broadcast ones), L != S, E != Ev, bool and float
masks of every broadcastable shape, causal masks and explicit scales; dropout is checked
against torch fed the same dropout scales. Error cases check the exception class and
that the message names the op and the shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import ShapeError, Tensor, gradcheck, no_grad
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn.dropout import keep_mask

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = 1e-10
HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _close(ours: np.ndarray, theirs, what: str) -> None:
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL, err_msg=what)


def _run(q, k, v, mask=None, mask_grad=False, seed=0, **kw):
    """Run ours and torch on the same float64 data; compare output and all gradients."""
    ours = [Tensor(x, requires_grad=True) for x in (q, k, v)]
    theirs = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    om = tm = None
    if mask is not None:
        if mask.dtype == bool:
            om, tm = mask, torch.tensor(mask)
        else:
            om = Tensor(mask, requires_grad=mask_grad)
            tm = torch.tensor(mask, requires_grad=mask_grad)
    out = F.scaled_dot_product_attention(*ours, attn_mask=om, **kw)
    ref = TF.scaled_dot_product_attention(*theirs, attn_mask=tm, **kw)
    _close(out.data, ref, "output")
    g = np.random.default_rng(seed).standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for name, a, b in zip("qkv", ours, theirs):
        _close(a.grad, b.grad, f"d{name}")
    if mask_grad:
        _close(om.grad, tm.grad, "d attn_mask")
    return out


@st.composite
def attention_case(draw):
    """Shapes (with broadcast batch dims), mask kind and shape, causal flag, scale."""
    nb = draw(st.integers(0, 2))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=nb, max_size=nb)))

    def thin(shape):  # some batch dims of k/v/mask become 1 or disappear: broadcasting
        kept = [1 if draw(st.booleans()) and draw(st.booleans()) else n for n in shape]
        drop = draw(st.integers(0, len(kept)))
        return tuple(kept[drop:])

    L, S = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    E, Ev = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    qb, kb, vb = batch, thin(batch), thin(batch)
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = (*thin(batch), draw(st.sampled_from([1, L])), draw(st.sampled_from([1, S])))
    scale = draw(st.none() | st.floats(0.05, 2.0))
    return (qb + (L, E), kb + (S, E), vb + (S, Ev)), mask_kind, mask_shape, scale


@HYPO
@given(case=attention_case(), seed=st.integers(0, 2**16))
def test_sdpa_matches_torch(case, seed):
    (qs, ks, vs), mask_kind, mask_shape, scale = case
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal(s) for s in (qs, ks, vs))
    kw = {"scale": scale}
    mask = None
    if mask_kind == "bool":
        mask = rng.random(mask_shape) > 0.3
    elif mask_kind == "float":
        mask = rng.standard_normal(mask_shape)
        mask[rng.random(mask_shape) < 0.2] = -np.inf
    elif mask_kind == "causal":
        kw["is_causal"] = True
    _run(q, k, v, mask=mask, mask_grad=mask_kind == "float", seed=seed, **kw)


@pytest.mark.parametrize(
    "shapes",
    [
        ((2, 6, 4, 5), (2, 2, 6, 5), (2, 2, 6, 3)),  # 3 query heads per key/value head
        ((2, 6, 4, 5), (2, 3, 6, 5), (2, 2, 6, 3)),  # different groups for k and v
        ((6, 4, 5), (1, 6, 5), (3, 6, 3)),  # 3-D, one key head
    ],
)
def test_grouped_query_attention(shapes):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in shapes)
    _run(q, k, v, enable_gqa=True)
    _run(q, k, v, enable_gqa=True, is_causal=True)


def test_fully_masked_rows_give_zeros_like_torch():
    rng = np.random.default_rng(2)
    q, k, v = (
        rng.standard_normal((2, 4, 3)),
        rng.standard_normal((2, 5, 3)),
        rng.standard_normal((2, 5, 2)),
    )
    m = rng.random((2, 4, 5)) > 0.3
    m[0, 1] = False
    m[1, 3] = False
    out = _run(q, k, v, mask=m)
    assert np.all(out.data[0, 1] == 0) and np.all(out.data[1, 3] == 0)
    fm = np.where(m, rng.standard_normal(m.shape), -np.inf)
    _run(q, k, v, mask=fm, mask_grad=True)


def test_empty_keys_give_zeros_and_no_keys_no_grad_trouble():
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 4, 3)), np.zeros((2, 0, 3)), np.zeros((2, 0, 5))
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    ref = TF.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)))
    _close(out.data, ref, "S = 0")


def test_float_mask_as_numpy_array_is_a_constant():
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    mask = rng.standard_normal((3, 5))
    out = F.scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), attn_mask=mask)
    ref = TF.scaled_dot_product_attention(
        *map(torch.tensor, (q, k, v)), attn_mask=torch.tensor(mask)
    )
    _close(out.data, ref, "numpy float mask")


@pytest.mark.parametrize("p", [0.25, 0.6])
def test_dropout_matches_torch_given_the_same_mask(p):
    """Ours with a seed; torch computes (softmax(s) ⊙ D) V with our D: output and grads."""
    rng = np.random.default_rng(5)
    shapes = ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 2))
    q, k, v = (rng.standard_normal(s) for s in shapes)
    ours = [Tensor(x, requires_grad=True) for x in (q, k, v)]
    out = F.scaled_dot_product_attention(*ours, dropout_p=p, rng=7)
    keep = keep_mask(np.random.default_rng(7), (2, 3, 4, 6), p)
    d = torch.tensor(keep / (1 - p))
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    ref = (torch.softmax(tq @ tk.transpose(-1, -2) / np.sqrt(5), -1) * d) @ tv
    _close(out.data, ref, "dropout output")
    g = rng.standard_normal(ref.shape)
    out.backward(g)
    ref.backward(torch.tensor(g))
    for name, a, b in zip("qkv", ours, (tq, tk, tv)):
        _close(a.grad, b.grad, f"dropout d{name}")
    # a seed fixes the masks; another seed changes them; about 1 - p of the weights kept
    again = F.scaled_dot_product_attention(*ours, dropout_p=p, rng=7)
    np.testing.assert_array_equal(again.data, out.data)
    other = F.scaled_dot_product_attention(*ours, dropout_p=p, rng=8)
    assert not np.array_equal(other.data, out.data)
    big = keep_mask(np.random.default_rng(7), (400, 500), p)
    assert abs(big.mean() - (1 - p)) < 0.005


def test_dropout_edges():
    rng = np.random.default_rng(6)
    q, k, v = (Tensor(rng.standard_normal(s)) for s in ((3, 4), (5, 4), (5, 2)))
    exact = F.scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.0).data, exact.data
    )
    all_dropped = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0, rng=0)
    ref = TF.scaled_dot_product_attention(*(torch.tensor(t.data) for t in (q, k, v)), dropout_p=1.0)
    _close(all_dropped.data, ref, "dropout_p = 1")


def test_float32_stays_float32_and_is_close_to_float64():
    rng = np.random.default_rng(7)
    shapes = ((2, 4, 16, 8), (2, 4, 16, 8), (2, 4, 16, 8))
    arrs = [rng.standard_normal(s) for s in shapes]
    q32 = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrs]
    out = F.scaled_dot_product_attention(*q32, is_causal=True)
    assert out.dtype == np.float32
    out.sum().backward()
    assert all(t.grad.dtype == np.float32 for t in q32)
    ref = F.scaled_dot_product_attention(*(Tensor(a) for a in arrs), is_causal=True)
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-5, atol=1e-5)


def test_gradcheck_with_float_mask():
    rng = np.random.default_rng(8)
    ts = [
        Tensor(rng.standard_normal(s), requires_grad=True)
        for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2))
    ]
    mask = Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), [*ts, mask]
    )


def test_no_grad_records_nothing():
    rng = np.random.default_rng(9)
    ts = [Tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(3)]
    with no_grad():
        out = F.scaled_dot_product_attention(*ts)
    assert not out.requires_grad and out.is_leaf


# --------------------------------------------------------------------------- errors
def _t(*shape):
    return Tensor(np.zeros(shape))


@pytest.mark.parametrize(
    ("args", "kw", "needle"),
    [
        ((_t(4), _t(6, 4), _t(6, 2)), {}, "at least 2-D"),
        ((_t(3, 4), _t(6, 5), _t(6, 2)), {}, "query shape (3, 4) and key shape (6, 5)"),
        ((_t(3, 4), _t(6, 4), _t(5, 2)), {}, "key shape (6, 4) and value shape (5, 2)"),
        ((_t(2, 3, 4), _t(3, 6, 4), _t(3, 6, 2)), {}, "cannot be broadcast"),
        (
            (_t(2, 3, 4), _t(2, 6, 4), _t(2, 6, 2)),
            {"attn_mask": np.ones((3, 3, 6), bool)},
            "attn_mask shape (3, 3, 6)",
        ),
        (
            (_t(2, 3, 4), _t(2, 6, 4), _t(2, 6, 2)),
            {"attn_mask": np.ones((2, 2, 3, 6))},
            "scores' shape (2, 3, 6)",
        ),
        (
            (_t(1, 6, 3, 4), _t(1, 4, 5, 4), _t(1, 4, 5, 2)),
            {"enable_gqa": True},
            "multiple of the key and value heads",
        ),
    ],
)
def test_shape_errors_name_op_and_shapes(args, kw, needle):
    with pytest.raises(ShapeError) as info:
        F.scaled_dot_product_attention(*args, **kw)
    msg = str(info.value)
    assert msg.startswith("scaled_dot_product_attention:") and needle in msg, msg


def test_argument_errors():
    q, k, v = _t(3, 4), _t(5, 4), _t(5, 2)
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\], got 1.5"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\], got -0.1"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=-0.1)
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(TypeError, match="bool .* or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), int))
    with pytest.raises(TypeError, match="same dtype, got float64, float64 and float32"):
        F.scaled_dot_product_attention(q, k, Tensor(np.zeros((5, 2), np.float32)))


def test_keep_mask_probabilities_and_shapes():
    """Dropout masks (shared by Dropout and SDPA): P(keep) = 1 - p, any shape, seeded."""
    gen = np.random.default_rng(11)
    assert keep_mask(gen, (3, 5), 0.0).all()  # p = 0 keeps everything
    assert keep_mask(gen, (7,), 0.3).shape == (7,)  # odd sizes use half of a 64-bit draw
    assert keep_mask(gen, (0, 4), 0.3).shape == (0, 4)
    for p in (0.05, 0.5, 0.9):
        frac = keep_mask(gen, (1000, 1000), p).mean()
        assert abs(frac - (1 - p)) < 0.002, (p, frac)  # ~4.6 standard errors at most
    a = keep_mask(np.random.default_rng(3), (5, 9), 0.5)
    np.testing.assert_array_equal(a, keep_mask(np.random.default_rng(3), (5, 9), 0.5))
