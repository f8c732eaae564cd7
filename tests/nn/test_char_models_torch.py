"""The character language models of tinygrad_opt.models against the same models in torch.

A 2-layer GPT-style transformer (d_model 64, 4 heads, context 64) and a 2-layer LSTM
language model, built from our ``nn`` in float64, get torch's weights through
``load_state_dict`` (the parameter names are torch's) and must give the same logits, the
same cross-entropy on a batch of the shipped text (B=4, T=64) and the same gradient for
every parameter. Then three AdamW steps with gradient clipping must move both models'
weights identically.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt import optim
from tinygrad_opt.data import CharVocab, WindowSampler, load_text, train_val_split
from tinygrad_opt.models import CharLSTMLM, CharTransformerLM, causal_mask, lm_loss
from tinygrad_opt.tensor import Tensor

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = 1e-9  # the issue asks for 1e-6; float64 gives ~1e-13
B, T = 4, 64
D_MODEL, NHEAD, LAYERS, CONTEXT = 64, 4, 2, 64


# --------------------------------------------------------------------------- torch twins
class TorchCharTransformer(torch.nn.Module):
    """torch's build of CharTransformerLM, with the same attribute (state-dict) names."""

    def __init__(self, vocab, d_model, nhead, num_layers, context, dropout, approximate):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(vocab, d_model)
        self.pos_emb = torch.nn.Embedding(context, d_model)
        self.drop = torch.nn.Dropout(dropout)
        layer = torch.nn.TransformerEncoderLayer(
            d_model, nhead, 4 * d_model, dropout, torch.nn.GELU(approximate=approximate),
            batch_first=True, norm_first=True,
        )  # fmt: skip
        self.encoder = torch.nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(d_model)
        self.head = torch.nn.Linear(d_model, vocab)

    def forward(self, ids):
        t = ids.shape[1]
        h = self.drop(self.tok_emb(ids) + self.pos_emb(torch.arange(t)))
        mask = torch.nn.Transformer.generate_square_subsequent_mask(t, dtype=torch.float64)
        return self.head(self.norm(self.encoder(h, mask=mask, is_causal=True)))


class TorchCharLSTM(torch.nn.Module):
    """torch's build of CharLSTMLM: embedding, 2-layer batch-first LSTM, linear head."""

    def __init__(self, vocab, embedding_dim, hidden_size, num_layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding_dim)
        self.lstm = torch.nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, vocab)

    def forward(self, ids):
        out, state = self.lstm(self.embedding(ids))
        return self.head(out), state


# --------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """torch's float64 kernels on these small shapes are 10-30x slower with two threads
    on a busy machine (they contend); the comparison does not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def text_batch():
    """(vocab size, inputs, targets): a batch of B windows of T characters of the fables."""
    text = load_text("fables")
    vocab = CharVocab(text)
    train, _ = train_val_split(vocab.encode(text), 0.1)
    x, y = WindowSampler(train, context=T, batch_size=B, rng=0).sample()
    return len(vocab), x, y


def torch_weights(theirs, seed: int) -> dict[str, np.ndarray]:
    """Perturb torch's initial weights (its LayerNorms start at exactly 1 and 0, its
    attention biases at 0) so that no parameter is special, and return them as numpy."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}


def load_twin(ours, theirs, seed: int = 0):
    state = torch_weights(theirs, seed)
    assert list(state) == list(ours.state_dict()), "state-dict names or order differ"
    ours.load_state_dict(state)
    for name, value in ours.state_dict().items():
        assert np.array_equal(value, state[name]), name


def max_err(a, b) -> float:
    a = a.data if isinstance(a, Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == tuple(b.shape), (a.shape, tuple(b.shape))
    return float(np.max(np.abs(a - b)))


def assert_same_grads(ours, theirs, tol: float = TOL) -> dict[str, float]:
    ours_p = dict(ours.named_parameters())
    theirs_p = dict(theirs.named_parameters())
    assert sorted(ours_p) == sorted(theirs_p)
    errs = {}
    for name, p in theirs_p.items():
        assert p.grad is not None and ours_p[name].grad is not None, name
        errs[name] = max_err(ours_p[name].grad, p.grad)
        assert errs[name] <= tol, f"grad of {name}: max |ours - torch| = {errs[name]:.3g}"
        assert np.abs(p.grad.numpy()).max() > 0, f"{name} got no gradient in torch"
    return errs


def transformer_twins(vocab: int, approximate: str, dropout: float = 0.1):
    ours = CharTransformerLM(
        vocab, D_MODEL, NHEAD, LAYERS, CONTEXT, dropout=dropout, gelu_approximate=approximate,
        dtype=np.float64, rng=1,
    )  # fmt: skip
    torch.manual_seed(0)
    theirs = TorchCharTransformer(vocab, D_MODEL, NHEAD, LAYERS, CONTEXT, dropout, approximate)
    theirs.double()
    load_twin(ours, theirs)
    return ours.eval(), theirs.eval()


def lstm_twins(vocab: int):
    ours = CharLSTMLM(vocab, 32, 48, num_layers=2, dtype=np.float64, rng=1)
    torch.manual_seed(0)
    theirs = TorchCharLSTM(vocab, 32, 48, 2).double()
    load_twin(ours, theirs)
    return ours.eval(), theirs.eval()


# --------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_transformer_lm_loss_and_every_gradient_match_torch(text_batch, approximate):
    """Same logits, loss and gradient of every parameter (eval mode: dropout off)."""
    vocab, x, y = text_batch
    ours, theirs = transformer_twins(vocab, approximate)
    logits = ours(x)
    loss = lm_loss(logits, y)
    loss.backward()

    t_logits = theirs(torch.from_numpy(x.data))
    t_loss = torch.nn.functional.cross_entropy(
        t_logits.reshape(B * T, vocab), torch.from_numpy(y.data).reshape(-1)
    )
    t_loss.backward()

    assert logits.shape == (B, T, vocab)
    assert max_err(logits, t_logits) <= TOL
    assert abs(loss.item() - t_loss.item()) <= TOL
    errs = assert_same_grads(ours, theirs)
    assert len(errs) == 6 + 12 * LAYERS  # 2 embeddings, final norm and head (2 each), layers


def test_lstm_lm_loss_and_every_gradient_match_torch(text_batch):
    vocab, x, y = text_batch
    ours, theirs = lstm_twins(vocab)
    logits, (h_n, c_n) = ours(x)
    loss = lm_loss(logits, y)
    loss.backward()

    t_logits, (t_h, t_c) = theirs(torch.from_numpy(x.data))
    t_loss = torch.nn.functional.cross_entropy(
        t_logits.reshape(B * T, vocab), torch.from_numpy(y.data).reshape(-1)
    )
    t_loss.backward()

    assert max_err(logits, t_logits) <= TOL
    assert max_err(h_n, t_h) <= TOL and max_err(c_n, t_c) <= TOL
    assert abs(loss.item() - t_loss.item()) <= TOL
    errs = assert_same_grads(ours, theirs)
    assert len(errs) == 1 + 4 * 2 + 2  # embedding, 4 LSTM tensors per layer, head


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
def test_three_adamw_steps_with_clipping_match_torch(text_batch, kind):
    """The training step of the example (AdamW, clip_grad_norm_) moves both models alike."""
    vocab, x, y = text_batch
    ours, theirs = transformer_twins(vocab, "tanh") if kind == "transformer" else lstm_twins(vocab)
    kw = {"lr": 3e-3, "betas": (0.9, 0.95), "weight_decay": 0.1}
    opt = optim.AdamW(ours.parameters(), **kw)
    t_opt = torch.optim.AdamW(theirs.parameters(), **kw)
    tx, ty = torch.from_numpy(x.data), torch.from_numpy(y.data).reshape(-1)
    for step in range(3):
        opt.zero_grad()
        out = ours(x)
        loss = lm_loss(out[0] if kind == "lstm" else out, y)
        loss.backward()
        norm = optim.clip_grad_norm_(ours.parameters(), 0.1)
        opt.step()

        t_opt.zero_grad()
        t_out = theirs(tx)
        t_out = t_out[0] if kind == "lstm" else t_out
        t_loss = torch.nn.functional.cross_entropy(t_out.reshape(B * T, vocab), ty)
        t_loss.backward()
        t_norm = torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1)
        t_opt.step()

        assert abs(loss.item() - t_loss.item()) <= TOL, step
        assert abs(float(norm) - float(t_norm)) <= TOL, step
        assert float(t_norm) > 0.1, "clipping must be active for this test to mean anything"
    ours_p = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert max_err(ours_p[name], p) <= TOL, name


# --------------------------------------------------------------------------- model properties
def test_transformer_is_causal(text_batch):
    """Changing the characters after position t leaves the logits up to t unchanged."""
    vocab, x, _ = text_batch
    model = CharTransformerLM(vocab, 32, 4, 2, CONTEXT, dtype=np.float64, rng=0).eval()
    base = model(x).data
    changed = x.data.copy()
    changed[:, 40:] = (changed[:, 40:] + 1) % vocab
    out = model(changed).data
    assert np.array_equal(out[:, :40], base[:, :40])
    assert np.abs(out[:, 40:] - base[:, 40:]).max() > 1e-3


def test_causal_mask_is_torchs():
    for n in (1, 5, 64):
        t_mask = torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=torch.float64)
        assert np.array_equal(causal_mask(n), np.isinf(t_mask.numpy()))
