"""tinygrad_opt.models.char_lm without torch: shapes, sampling, state carrying, errors,
finite differences. (The comparison with torch is tests/nn/test_char_models_torch.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt.gradcheck import gradcheck
from tinygrad_opt.models import CharLSTMLM, CharTransformerLM, generate, lm_loss
from tinygrad_opt.models.char_lm import _gelu_tanh
from tinygrad_opt.tensor import ShapeError, Tensor

V = 11


def tiny_transformer(**kw) -> CharTransformerLM:
    kw = {"d_model": 8, "nhead": 2, "num_layers": 2, "context": 6, "rng": 0, **kw}
    return CharTransformerLM(V, **kw)


def test_shapes_dtypes_and_parameter_names():
    model = tiny_transformer(dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, V, (3, 5))
    logits = model(ids)
    assert logits.shape == (3, 5, V) and logits.dtype == np.float64
    names = list(model.state_dict())
    assert names[:2] == ["tok_emb.weight", "pos_emb.weight"]
    assert "encoder.layers.1.self_attn.in_proj_weight" in names
    assert names[-4:] == ["norm.weight", "norm.bias", "head.weight", "head.bias"]
    assert model.head.weight.shape == (V, 8)  # torch's (out, in) layout
    assert model(Tensor(ids)).shape == (3, 5, V)  # an int64 Tensor works too

    lstm = CharLSTMLM(V, 4, 5, rng=0)
    out, (h, c) = lstm(ids)
    assert out.shape == (3, 5, V) and h.shape == c.shape == (2, 3, 5)
    assert list(lstm.state_dict())[:2] == ["embedding.weight", "lstm.weight_ih_l0"]


def test_same_seed_same_model():
    a, b = tiny_transformer(rng=3), tiny_transformer(rng=3)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert np.array_equal(p, q), name
    c = tiny_transformer(rng=4)
    assert not np.array_equal(a.head.weight.data, c.head.weight.data)


def test_dropout_only_in_training():
    model = tiny_transformer(dropout=0.5)
    ids = np.arange(6).reshape(1, 6) % V
    model.eval()
    assert np.array_equal(model(ids).data, model(ids).data)
    model.train()
    assert not np.array_equal(model(ids).data, model(ids).data)


def test_gelu_tanh_matches_the_engines_gelu():
    """The composite tanh-GELU the model uses is the engine's GELU("tanh"), value and slope."""
    x = np.linspace(-6, 6, 101)
    a, b = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    ours, ref = _gelu_tanh(a), b.gelu("tanh")
    assert np.allclose(ours.data, ref.data, rtol=0, atol=1e-15)
    ours.sum().backward()
    ref.sum().backward()
    assert np.allclose(a.grad, b.grad, rtol=0, atol=1e-14)


def test_lm_loss_is_mean_cross_entropy_and_gradcheck():
    rng = np.random.default_rng(0)
    logits = Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    y = rng.integers(0, 4, (2, 3))
    z = logits.data
    expected = np.mean(np.log(np.exp(z).sum(-1)) - np.take_along_axis(z, y[..., None], -1)[..., 0])
    assert abs(lm_loss(logits, y).item() - expected) < 1e-12
    assert gradcheck(lambda t: lm_loss(t, y), [logits])


def test_transformer_gradcheck_small():
    """Finite differences through the whole model (float64, two layers, tiny sizes)."""
    model = tiny_transformer(d_model=4, context=4, dim_feedforward=6, dtype=np.float64)
    model.eval()
    ids = np.array([[1, 2, 3, 4], [5, 6, 0, 1]])
    y = np.array([[2, 3, 4, 5], [6, 0, 1, 2]])
    params = [model.encoder.layers[0].self_attn.in_proj_weight, model.pos_emb.weight]
    assert gradcheck(lambda *_: lm_loss(model(ids), y), params)


def test_model_errors():
    model = tiny_transformer()
    with pytest.raises(ShapeError, match="sequence length 7 exceeds the context 6"):
        model(np.zeros((1, 7), dtype=np.int64))
    with pytest.raises(ShapeError, match=r"ids must have shape \(batch, time\), got shape \(5,\)"):
        model(np.zeros(5, dtype=np.int64))
    with pytest.raises(IndexError, match="index 11 is out of range"):
        model(np.full((1, 3), V))
    with pytest.raises(ValueError, match="context must be positive, got 0"):
        CharTransformerLM(V, context=0)
    with pytest.raises(ValueError, match="gelu_approximate must be 'none' or 'tanh'"):
        CharTransformerLM(V, gelu_approximate="erf")
    with pytest.raises(ValueError, match="must be divisible by nhead"):
        CharTransformerLM(V, d_model=10, nhead=4)
    with pytest.raises(ShapeError, match=r"need targets of shape \(2, 3\), got \(3, 2\)"):
        lm_loss(Tensor(np.zeros((2, 3, 4))), np.zeros((3, 2), dtype=int))
    with pytest.raises(ShapeError, match="logits must have shape"):
        lm_loss(Tensor(np.zeros((6, 4))), np.zeros(6, dtype=int))


# --------------------------------------------------------------------------- generate
def test_generate_is_seeded_and_keeps_the_prompt():
    model = tiny_transformer()
    out = generate(model, [1, 2, 3], 20, temperature=1.0, rng=7)
    assert out.dtype == np.int64 and out.shape == (23,)
    assert list(out[:3]) == [1, 2, 3] and out.min() >= 0 and out.max() < V
    assert np.array_equal(out, generate(model, [1, 2, 3], 20, temperature=1.0, rng=7))
    assert model.training  # restored


def test_generate_greedy_and_top_k_one_agree():
    model = tiny_transformer()
    greedy = generate(model, [4], 15, temperature=0)
    assert np.array_equal(greedy, generate(model, [4], 15, temperature=0.7, top_k=1, rng=1))
    # greedy by hand: argmax of the last position, window = last `context` ids
    ids = [4]
    model.eval()
    for _ in range(15):
        ids.append(int(np.argmax(model(np.array([ids[-6:]])).data[0, -1])))
    assert list(greedy) == ids


def test_generate_top_k_restricts_the_choice():
    model = tiny_transformer(rng=2).eval()
    prompt = [1, 2]
    z = model(np.array([prompt])).data[0, -1]
    allowed = set(np.argsort(z)[-3:].tolist())
    firsts = {
        int(generate(model, prompt, 1, temperature=5.0, top_k=3, rng=s)[-1]) for s in range(60)
    }
    assert firsts <= allowed and len(firsts) > 1


def test_generate_lstm_carries_its_state():
    """One id at a time with the carried state = the whole history read again."""
    model = CharLSTMLM(V, 4, 6, rng=0, dtype=np.float64)
    out = generate(model, [3, 1], 12, temperature=0)
    ids = [3, 1]
    model.eval()
    for _ in range(12):
        logits, _ = model(np.array([ids]))
        ids.append(int(np.argmax(logits.data[0, -1])))
    assert list(out) == ids


def test_generate_errors():
    model = tiny_transformer()
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        generate(model, [1], 3, temperature=-1)
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        generate(model, [1], 3, top_k=0)
    with pytest.raises(ValueError, match="the prompt must hold at least one id"):
        generate(model, [], 3)
