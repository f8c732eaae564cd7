"""Transformer encoder/decoder layers and stacks against torch 2.13 in float64.

torch's ``state_dict`` (with LayerNorm parameters and biases perturbed so they matter) is
loaded into ours; forward and the gradients of the input(s) and of every parameter are
compared for post-/pre-norm, relu/gelu/callable activations, batch_first, bias, unbatched
input, bool/float attention and padding masks, causal hints, in eval mode (dropout off)
and in training mode with dropout 0. Plus stacks (deep copies, ``layers.i`` names, final
norm, causal-mask detection), dropout sharing, torch's fast path, and errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, nn, no_grad

torch = pytest.importorskip("torch")

TOL = {"rtol": 1e-10, "atol": 1e-10}
HYPO = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
E, H, FF = 8, 2, 12


def _load(ours, theirs, seed):
    """Perturb torch's norms and biases, then copy its state_dict into ours."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def _mask_pair(m):
    if m is None:
        return None, None
    if m.dtype == bool:
        return m, torch.tensor(m)
    return Tensor(m), torch.tensor(m)


def _compare(ours, theirs, inputs, seed=0, **masks):
    """Run both on the same inputs and masks; compare output, input and parameter grads."""
    xs = [Tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    om, tm = {}, {}
    for name, m in masks.items():
        if isinstance(m, np.ndarray) or m is None:
            om[name], tm[name] = _mask_pair(m)
        else:  # flags such as is_causal
            om[name] = tm[name] = m
    out, ref = ours(*xs, **om), theirs(*ts, **tm)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL, err_msg="output")
    u = np.random.default_rng(seed).standard_normal(out.shape)
    (out * Tensor(u)).sum().backward()
    (ref * torch.tensor(u)).sum().backward()
    for i, (a, b) in enumerate(zip(xs, ts)):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **TOL, err_msg=f"input {i}")
    tparams = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(tparams)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), **TOL, err_msg=name)
    return out


def _silu_ours(x):
    return x * x.sigmoid()


@st.composite
def layer_case(draw):
    act = draw(st.sampled_from(["relu", "gelu", "callable"]))
    kw = {
        "norm_first": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "layer_norm_eps": draw(st.sampled_from([1e-5, 1e-2])),
    }
    mode = draw(st.sampled_from(["eval", "train_p0"]))
    batched = draw(st.booleans())
    mask = draw(st.sampled_from(["none", "bool", "float", "causal", "causal_hint"]))
    kpm = draw(st.sampled_from(["none", "bool", "float"]))
    if kpm == "float" and mask == "bool":
        mask = "float"
    if kpm == "bool" and mask in ("float", "causal", "causal_hint"):
        kpm = "none"  # torch warns about mixed mask types; keep the float case
    S, N = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    return act, kw, mode, batched, mask, kpm, S, N


def _build_masks(rng, mask, kpm, S, N, batched):
    masks = {}
    causal = np.triu(np.full((S, S), -np.inf), 1)
    if mask == "bool":
        m = rng.random((S, S)) < 0.3
        np.fill_diagonal(m, False)
        masks["src_mask"] = m
    elif mask == "float":
        m = rng.standard_normal((S, S))
        masks["src_mask"] = m
    elif mask in ("causal", "causal_hint"):
        masks["src_mask"] = causal
        if mask == "causal_hint":
            masks["is_causal"] = True
    if kpm != "none":
        shape = (N, S) if batched else (S,)
        if kpm == "bool":
            k = rng.random(shape) < 0.3
            k[..., 0] = False
        else:
            k = rng.standard_normal(shape)
        masks["src_key_padding_mask"] = k
    return masks


@HYPO
@given(case=layer_case(), seed=st.integers(0, 2**16))
def test_encoder_layer_matches_torch(case, seed):
    act, kw, mode, batched, mask, kpm, S, N = case
    t_act = {"relu": "relu", "gelu": "gelu", "callable": torch.nn.functional.silu}[act]
    o_act = {"relu": "relu", "gelu": "gelu", "callable": _silu_ours}[act]
    p = 0.1 if mode == "eval" else 0.0
    theirs = torch.nn.TransformerEncoderLayer(
        E, H, FF, dropout=p, activation=t_act, dtype=torch.float64, **kw
    )
    ours = nn.TransformerEncoderLayer(E, H, FF, dropout=p, activation=o_act, dtype=np.float64,
                                      rng=seed, **kw)  # fmt: skip
    _load(ours, theirs, seed)
    if mode == "eval":
        ours.eval()
        theirs.eval()
    rng = np.random.default_rng(seed)
    shape = ((N, S, E) if kw["batch_first"] else (S, N, E)) if batched else (S, E)
    masks = _build_masks(rng, mask, kpm, S, N, batched)
    _compare(ours, theirs, [rng.standard_normal(shape)], seed=seed, **masks)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("final_norm", [False, True])
def test_encoder_stack_matches_torch(norm_first, final_norm):
    kw = {"dropout": 0.1, "norm_first": norm_first, "activation": "gelu"}
    theirs = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(E, H, FF, dtype=torch.float64, **kw),
        3,
        norm=torch.nn.LayerNorm(E, dtype=torch.float64) if final_norm else None,
        enable_nested_tensor=False,
    )
    ours = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(E, H, FF, dtype=np.float64, rng=0, **kw),
        3,
        norm=nn.LayerNorm(E, dtype=np.float64) if final_norm else None,
    )
    assert [n for n, _ in ours.named_parameters()][:2] == [
        "layers.0.self_attn.in_proj_weight",
        "layers.0.self_attn.in_proj_bias",
    ]
    _load(ours, theirs, 1)
    ours.eval()
    theirs.eval()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 2, E))
    kpm = np.zeros((2, 6))  # float, like the causal mask (torch warns about mixed types)
    kpm[1, 4:] = -np.inf
    causal = nn.generate_square_subsequent_mask(6, dtype=np.float64)
    _compare(ours, theirs, [x])
    _compare(ours, theirs, [x], mask=causal, src_key_padding_mask=kpm)  # detected causal
    _compare(ours, theirs, [x], mask=causal, is_causal=False)


def test_encoder_layers_are_independent_copies_sharing_the_generator():
    layer = nn.TransformerEncoderLayer(E, H, FF, rng=0)
    enc = nn.TransformerEncoder(layer, 2)
    a, b = enc.layers
    assert a is not layer and b is not a
    assert a.linear1.weight is not b.linear1.weight
    np.testing.assert_array_equal(a.linear1.weight.data, layer.linear1.weight.data)
    a.linear1.weight.data += 1  # copies do not share arrays either
    assert not np.array_equal(a.linear1.weight.data, b.linear1.weight.data)
    assert a.dropout.rng is b.dropout.rng is layer.dropout.rng  # masks differ by layer
    assert a.self_attn._rng is b.self_attn._rng
    assert len(enc.layers) == enc.num_layers == 2


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_matches_torch(norm_first):
    kw = {"dropout": 0.1, "norm_first": norm_first}
    theirs = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(E, H, FF, dtype=torch.float64, **kw), 2
    )
    ours = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(E, H, FF, dtype=np.float64, rng=0, **kw), 2
    )
    _load(ours, theirs, 2)
    ours.eval()
    theirs.eval()
    rng = np.random.default_rng(2)
    tgt, mem = rng.standard_normal((4, 3, E)), rng.standard_normal((6, 3, E))
    mem_kpm = rng.random((3, 6)) < 0.3
    mem_kpm[:, 0] = False
    _compare(ours, theirs, [tgt, mem])
    _compare(ours, theirs, [tgt, mem], tgt_mask=nn.generate_square_subsequent_mask(4, np.float64),
             memory_key_padding_mask=mem_kpm)  # fmt: skip
    layer_t, layer_o = theirs.layers[0], ours.layers[0]
    _compare(layer_o, layer_t, [tgt, mem], memory_mask=rng.standard_normal((4, 6)))


def test_training_mode_dropout_is_seeded_and_off_in_eval():
    x = Tensor(np.random.default_rng(3).standard_normal((5, 2, E)))
    outs = []
    for seed in (4, 4, 5):
        layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.3, rng=0)
        layer.load_state_dict(nn.TransformerEncoderLayer(E, H, FF, rng=0).state_dict())
        for m in layer.modules():  # reseed the dropout stream only
            if isinstance(m, nn.Dropout):
                m.rng = np.random.default_rng(seed)
        outs.append(layer(x).data)
        layer.eval()
        outs.append(layer(x).data)
    np.testing.assert_array_equal(outs[0], outs[2])
    assert not np.allclose(outs[0], outs[4])
    assert not np.allclose(outs[0], outs[1])
    np.testing.assert_array_equal(outs[1], outs[5])


def test_torch_fast_path_agrees_in_eval():
    """Under no_grad in eval mode torch runs its fused encoder kernel: same numbers."""
    theirs = torch.nn.TransformerEncoderLayer(E, H, FF, batch_first=True, dtype=torch.float64)
    ours = nn.TransformerEncoderLayer(E, H, FF, batch_first=True, dtype=np.float64, rng=0)
    _load(ours, theirs, 5)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(5).standard_normal((2, 4, E))
    with no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).numpy(), **TOL)


def test_square_subsequent_mask_as_torch():
    for n in (1, 4):
        ref = torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)
        np.testing.assert_array_equal(nn.generate_square_subsequent_mask(n, np.float64), ref)
    assert nn.generate_square_subsequent_mask(3).dtype == np.float32


def test_names_and_repr():
    theirs = torch.nn.TransformerDecoderLayer(E, H, FF)
    ours = nn.TransformerDecoderLayer(E, H, FF, rng=0)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }
    names = [n for n, _ in ours.named_children()]
    assert names == [n for n, _ in theirs.named_children()]
    assert "self_attn" in repr(nn.TransformerEncoderLayer(E, H, FF, rng=0))


def test_errors():
    with pytest.raises(ValueError, match="d_model=10 must be divisible by nhead=4"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(E, H, activation="tanh")
    with pytest.raises(ValueError, match="dropout must be in"):
        nn.TransformerDecoderLayer(E, H, dropout=1.0)
    with pytest.raises(ValueError, match="num_layers must be a positive integer, got 0"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, rng=0), 0)
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)
    layer = nn.TransformerEncoderLayer(E, H, FF, rng=0)
    with pytest.raises(ValueError, match="needs attn_mask"):
        layer(Tensor(np.zeros((3, 2, E))), is_causal=True)
