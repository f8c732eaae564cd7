"""nn.MultiheadAttention against torch 2.13 in float64.

torch's ``state_dict`` is loaded into ours as it is; then output, attention weights and
the gradients of the inputs, of every parameter and of float masks are compared, over
hypothesis-drawn options (bias, add_bias_kv, add_zero_attn, kdim/vdim, batch_first,
unbatched inputs, self-attention, need_weights, head averaging, bool/float masks of
every accepted shape). Plus: names/shapes/init as torch's, dropout behaviour, fully
masked rows, torch's inference fast path, and error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import ShapeError, Tensor, nn, no_grad

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-10}
HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pair(seed: int = 0, **kw):
    """A torch MHA (float64, seeded) and ours with torch's state_dict loaded into it."""
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(dtype=torch.float64, **kw)
    with torch.no_grad():  # torch's biases start at 0: make them count
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.add_(0.3 * torch.randn_like(p))
    ours = nn.MultiheadAttention(dtype=np.float64, **kw)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _ours_mask(m):
    """Bool masks as numpy arrays; float masks as Tensors that want a gradient."""
    if m is None or m.dtype == bool:
        return m
    return Tensor(m, requires_grad=True)


def _theirs_mask(m):
    if m is None or m.dtype == bool:
        return None if m is None else torch.tensor(m)
    return torch.tensor(m, requires_grad=True)


def _compare(ours, theirs, q, k, v, self_attention=False, seed=0, **fkw):
    """Forward both, backprop the same random weighting, compare everything."""
    oq, ok, ov = (Tensor(a, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    if self_attention:
        ok = ov = oq
        tk = tv = tq
    omasks = {n: _ours_mask(fkw.pop(n, None)) for n in ("key_padding_mask", "attn_mask")}
    tmasks = {n: _theirs_mask(None if m is None else _raw(m)) for n, m in omasks.items()}
    out, w = ours(oq, ok, ov, **omasks, **fkw)
    ref, rw = theirs(tq, tk, tv, **tmasks, **fkw)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL, err_msg="output")
    assert (w is None) == (rw is None)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(out.shape)
    loss_o, loss_t = (out * Tensor(u)).sum(), (ref * torch.tensor(u)).sum()
    if w is not None:
        np.testing.assert_allclose(w.data, rw.detach().numpy(), **TOL, err_msg="weights")
        uw = rng.standard_normal(w.shape)
        loss_o = loss_o + (w * Tensor(uw)).sum()
        loss_t = loss_t + (rw * torch.tensor(uw)).sum()
    loss_o.backward()
    loss_t.backward()
    pairs = [("query", oq, tq)] + ([] if self_attention else [("key", ok, tk), ("value", ov, tv)])
    for name, m in omasks.items():
        if isinstance(m, Tensor):
            pairs.append((name, m, tmasks[name]))
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    pairs += [(n, p, tparams[n]) for n, p in ours.named_parameters()]
    for name, a, b in pairs:
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"d {name}")
    return out, w


def _raw(m):
    return m.data if isinstance(m, Tensor) else m


@st.composite
def mha_case(draw):
    heads = draw(st.sampled_from([1, 2, 3]))
    embed = heads * draw(st.sampled_from([1, 2, 3]))
    kw = {
        "embed_dim": embed,
        "num_heads": heads,
        "bias": draw(st.booleans()),
        "add_bias_kv": draw(st.booleans()),
        "add_zero_attn": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
    }
    self_attention = draw(st.booleans())
    if not self_attention and draw(st.booleans()):
        kw["kdim"], kw["vdim"] = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    batched = draw(st.booleans())
    L = draw(st.integers(1, 4))
    S = L if self_attention else draw(st.integers(1, 5))
    N = draw(st.integers(1, 3))
    fkw = {
        "need_weights": draw(st.booleans()),
        "average_attn_weights": draw(st.booleans()),
    }
    kpm_kind = draw(st.sampled_from(["none", "bool", "float"]))
    am_kind = draw(st.sampled_from(["none", "bool2", "float2", "bool3", "float3"]))
    if kpm_kind == "float" and am_kind.startswith("bool"):
        am_kind = "float" + am_kind[-1]  # torch warns about mixed mask types
    if kpm_kind == "bool" and am_kind.startswith("float"):
        am_kind = "bool" + am_kind[-1]
    return kw, fkw, self_attention, batched, (L, S, N), kpm_kind, am_kind


def _mask(rng, kind, shape):
    """A bool (True = masked out) or float mask; the first key is never masked."""
    if kind.startswith("bool"):
        m = rng.random(shape) < 0.35
        m[..., 0] = False
        return m
    m = rng.standard_normal(shape)
    m[rng.random(shape) < 0.2] = -np.inf
    m[..., 0] = rng.standard_normal(m[..., 0].shape)
    return m


@HYPO
@given(case=mha_case(), seed=st.integers(0, 2**16))
def test_mha_matches_torch(case, seed):
    kw, fkw, self_attention, batched, (L, S, N), kpm_kind, am_kind = case
    ours, theirs = _pair(seed, **kw)
    rng = np.random.default_rng(seed)
    E, kd, vd = kw["embed_dim"], kw.get("kdim", kw["embed_dim"]), kw.get("vdim", kw["embed_dim"])

    def shape(n, width):
        if not batched:
            return (n, width)
        return (N, n, width) if kw["batch_first"] else (n, N, width)

    q, k, v = (rng.standard_normal(shape(n, w)) for n, w in ((L, E), (S, kd), (S, vd)))
    if kpm_kind != "none":
        fkw["key_padding_mask"] = _mask(rng, kpm_kind, (N, S) if batched else (S,))
    if am_kind != "none":
        n_bh = (N if batched else 1) * kw["num_heads"]
        fkw["attn_mask"] = _mask(rng, am_kind, (L, S) if am_kind[-1] == "2" else (n_bh, L, S))
    _compare(ours, theirs, q, k, v, self_attention=self_attention, seed=seed, **fkw)


@pytest.mark.parametrize("need_weights", [True, False])
def test_causal_hint(need_weights):
    """is_causal with the causal mask: torch drops the mask for SDPA's causal path."""
    ours, theirs = _pair(1, embed_dim=6, num_heads=2, batch_first=True)
    x = np.random.default_rng(1).standard_normal((2, 5, 6))
    causal = np.triu(np.ones((5, 5), bool), 1)
    _compare(ours, theirs, x, x, x, self_attention=True, attn_mask=causal, is_causal=True,
             need_weights=need_weights)  # fmt: skip


def test_fully_masked_rows_as_torch():
    """A padded-out sequence: nan with need_weights (plain softmax), zeros without."""
    ours, theirs = _pair(2, embed_dim=4, num_heads=2)
    rng = np.random.default_rng(2)
    q, k, v = (
        rng.standard_normal((3, 2, 4)),
        rng.standard_normal((5, 2, 4)),
        rng.standard_normal((5, 2, 4)),
    )
    kpm = np.zeros((2, 5), bool)
    kpm[1] = True
    with no_grad(), torch.no_grad():
        for need in (True, False):
            out, _ = ours(q, k, v, key_padding_mask=kpm, need_weights=need)
            ref, _ = theirs(*map(torch.tensor, (q, k, v)), key_padding_mask=torch.tensor(kpm),
                            need_weights=need)  # fmt: skip
            np.testing.assert_allclose(out.data, ref.numpy(), **TOL)
            assert np.isnan(out.data[:, 1]).all() == need


def test_eval_fast_path_of_torch_agrees():
    """torch takes its fused inference path under no_grad in eval mode: same numbers."""
    ours, theirs = _pair(3, embed_dim=8, num_heads=2, batch_first=True, dropout=0.5)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(3).standard_normal((2, 4, 8))
    kpm = np.array([[False, False, False, True], [False, False, False, False]])
    with no_grad(), torch.no_grad():
        for need in (True, False):
            out, w = ours(x, x, x, key_padding_mask=kpm, need_weights=need)
            tx = torch.tensor(x)
            ref, rw = theirs(tx, tx, tx, key_padding_mask=torch.tensor(kpm), need_weights=need)
            np.testing.assert_allclose(out.data, ref.numpy(), **TOL)
            if need:
                np.testing.assert_allclose(w.data, rw.numpy(), **TOL)


def test_names_shapes_and_init_as_torch():
    for kw in (
        {"embed_dim": 8, "num_heads": 2},
        {"embed_dim": 8, "num_heads": 4, "bias": False},
        {"embed_dim": 8, "num_heads": 2, "kdim": 3, "vdim": 5, "add_bias_kv": True},
    ):
        ours = nn.MultiheadAttention(**kw, rng=0)
        theirs = torch.nn.MultiheadAttention(**kw)
        shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == shapes
        assert list(ours.state_dict()) == list(shapes)  # same order too
        theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    big = nn.MultiheadAttention(256, 4, rng=0)
    w = big.in_proj_weight.data
    bound = math.sqrt(6 / (256 + 3 * 256))  # Xavier-uniform on (3E, E)
    assert w.dtype == np.float32 and np.abs(w).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert not big.in_proj_bias.data.any() and not big.out_proj.bias.data.any()
    ow = big.out_proj.weight.data  # Linear's default: U(±1/√E)
    assert np.abs(ow).max() <= 1 / 16 and ow.std() > 0.9 / 16 / math.sqrt(3)
    kv = nn.MultiheadAttention(256, 4, add_bias_kv=True, rng=0)
    assert abs(kv.bias_k.data.std() - math.sqrt(2 / 512)) < 0.2 * math.sqrt(2 / 512)
    a, b = nn.MultiheadAttention(8, 2, rng=5), nn.MultiheadAttention(8, 2, rng=5)
    for (na, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(pa.data, pb.data, err_msg=na)


def test_dropout_only_in_training_and_seeded():
    x = Tensor(np.random.default_rng(4).standard_normal((5, 2, 8)))
    outs = []
    for seed in (7, 7, 8):
        mha = nn.MultiheadAttention(8, 2, dropout=0.5, rng=seed)
        mha.load_state_dict(nn.MultiheadAttention(8, 2, rng=0).state_dict())
        outs.append([mha(x, x, x, need_weights=nw)[0].data for nw in (False, True)])
        mha.eval()
        outs[-1].append(mha(x, x, x)[0].data)
    np.testing.assert_array_equal(outs[0][0], outs[1][0])  # same seed, same masks
    np.testing.assert_array_equal(outs[0][1], outs[1][1])
    assert not np.allclose(outs[0][0], outs[2][0])  # another seed, other masks
    assert not np.allclose(outs[0][0], outs[0][2])  # training differs from eval
    np.testing.assert_allclose(outs[0][2], outs[2][2], rtol=1e-6)  # eval: no dropout


def test_float32_forward_and_backward():
    mha = nn.MultiheadAttention(8, 2, batch_first=True, rng=0)
    x = Tensor(np.random.default_rng(5).standard_normal((2, 3, 8)).astype(np.float32))
    out, w = mha(x, x, x)
    assert out.dtype == np.float32 and w.dtype == np.float32
    out.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in mha.parameters())


# --------------------------------------------------------------------------- errors
def test_constructor_errors():
    with pytest.raises(ValueError, match="embed_dim=10 must be divisible by num_heads=4"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="embed_dim=0 and num_heads=2"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(ValueError, match="dropout"):
        nn.MultiheadAttention(8, 2, dropout=1.5)


@pytest.mark.parametrize(
    ("q", "k", "v", "kw", "needle"),
    [
        ((2, 3, 4, 8), (2, 3, 4, 8), (2, 3, 4, 8), {}, "query must be 2-D"),
        ((3, 2, 8), (4, 8), (4, 8), {}, "key and value must be 3-D too"),
        ((3, 2, 6), (4, 2, 8), (4, 2, 8), {}, "query shape (3, 2, 6) must have last dimension 8"),
        ((3, 2, 8), (4, 2, 8), (5, 2, 8), {}, "key shape (4, 2, 8) and value shape (5, 2, 8)"),
        ((3, 2, 8), (4, 3, 8), (4, 3, 8), {}, "different batch sizes"),
        ((3, 2, 8), (4, 2, 8), (4, 2, 8), {"key_padding_mask": np.zeros((2, 5), bool)},
         "key_padding_mask shape (2, 5) should be (N, S) = (2, 4)"),
        ((3, 2, 8), (4, 2, 8), (4, 2, 8), {"key_padding_mask": np.zeros(4, bool)},
         "key_padding_mask must be 2-D"),
        ((3, 2, 8), (4, 2, 8), (4, 2, 8), {"attn_mask": np.zeros((4, 4), bool)},
         "2-D attn_mask shape (4, 4) should be (3, 4)"),
        ((3, 2, 8), (4, 2, 8), (4, 2, 8), {"attn_mask": np.zeros((2, 3, 4), bool)},
         "3-D attn_mask shape (2, 3, 4) should be (4, 3, 4)"),
        ((3, 2, 8), (4, 2, 8), (4, 2, 8), {"attn_mask": np.zeros(4, bool)},
         "attn_mask must be 2-D or 3-D"),
    ],
)  # fmt: skip
def test_shape_errors(q, k, v, kw, needle):
    mha = nn.MultiheadAttention(8, 2, rng=0)
    with pytest.raises(ShapeError) as info:
        mha(*(Tensor(np.zeros(s)) for s in (q, k, v)), **kw)
    msg = str(info.value)
    assert msg.startswith("MultiheadAttention:") and needle in msg, msg


def test_argument_errors():
    mha = nn.MultiheadAttention(8, 2, rng=0)
    x = Tensor(np.zeros((3, 2, 8)))
    with pytest.raises(ValueError, match="is_causal=True .* needs attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="masks must be bool or float"):
        mha(x, x, x, key_padding_mask=np.zeros((2, 3), int))
