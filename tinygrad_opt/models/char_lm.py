"""Character-level language models built from :mod:`tinygrad_opt.nn`, and sampling.

Both models map integer ids (B, T) to next-character logits (B, T, V):

* :class:`CharTransformerLM` (GPT-style, decoder-only)::

      h = tok_emb(ids) + pos_emb(0..T-1)              (B, T, d_model)
      h = drop(h)
      h = encoder(h, causal mask)                      pre-norm layers, GELU
      logits = head(norm(h))

  Position t attends to positions 0..t only, so the output at t predicts ids[t + 1].
* :class:`CharLSTMLM`: ``head(lstm(embedding(ids)))``, a 2-layer LSTM by default.

Submodule names are chosen so that a torch model built with the same attribute names
(``torch.nn.Embedding``, ``torch.nn.TransformerEncoder`` ...) has the same ``state_dict``
keys: a torch state dict converted to numpy loads as it is.

:func:`lm_loss` is the mean next-character cross-entropy and :func:`generate` samples
text with a temperature (and optional top-k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd import no_grad
from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.embedding import Embedding
from tinygrad_opt.nn.layer_norm import LayerNorm
from tinygrad_opt.nn.layers import GELU, Linear
from tinygrad_opt.nn.module import Module
from tinygrad_opt.nn.rnn import LSTM
from tinygrad_opt.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from tinygrad_opt.ops.activation import gelu
from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = ["CharLSTMLM", "CharTransformerLM", "causal_mask", "generate", "lm_loss"]

RngLike = np.random.Generator | int | None


def causal_mask(size: int) -> np.ndarray:
    """The (size, size) bool mask of MultiheadAttention's convention: True above the
    diagonal (position i may not look at j > i), False on and below it."""
    return np.triu(np.ones((size, size), dtype=bool), 1)


def _gelu_tanh(x: Tensor) -> Tensor:
    """½x(1 + tanh(√(2/π)(x + 0.044715x³))), torch's ``gelu(approximate="tanh")``: one
    fused node (its forward and closed-form derivative run in place in numpy)."""
    return gelu(x, "tanh")


def _activation(approximate: str) -> Any:
    if approximate == "tanh":
        return _gelu_tanh
    if approximate == "none":
        return GELU()
    raise ValueError(f"gelu_approximate must be 'none' or 'tanh', got {approximate!r}")


def _ids(who: str, ids: Any) -> np.ndarray:
    """Integer ids of shape (B, T) as an int array (from a Tensor, array or nested list)."""
    arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.ndim != 2:
        raise ShapeError(f"{who}: ids must have shape (batch, time), got shape {arr.shape}")
    return arr


class CharTransformerLM(Module):
    """A decoder-only transformer over characters (see the module docstring).

    ``CharTransformerLM(vocab_size, d_model=64, nhead=4, num_layers=2, context=64,
    dim_feedforward=None, dropout=0.0, gelu_approximate="tanh", dtype=float32, rng=None)``

    - ``context``: the longest sequence the model reads (size of the position table).
    - ``dim_feedforward``: width of each layer's feed-forward block (default 4·d_model).
    - ``dropout``: after the embeddings and inside every layer (attention weights,
      residual branches, feed-forward), in training mode only.
    - ``gelu_approximate``: the feed-forward activation is ``GELU(gelu_approximate)``:
      ``"tanh"`` (GPT-2's choice, ½x(1 + tanh(√(2/π)(x + 0.044715x³)))) or ``"none"``
      (the exact x·Φ(x), slower here because erf is a long series in numpy).

    Submodules: ``tok_emb`` (vocab_size, d_model), ``pos_emb`` (context, d_model),
    ``drop``, ``encoder`` (:class:`TransformerEncoder` of ``num_layers`` pre-norm
    (``norm_first``) batch-first :class:`TransformerEncoderLayer`), ``norm`` (final LayerNorm),
    ``head`` (Linear d_model → vocab_size). Initialisation is each layer's torch default;
    one generator made from ``rng`` draws every parameter and the dropout masks.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        nhead: int = 4,
        num_layers: int = 2,
        context: int = 64,
        dim_feedforward: int | None = None,
        dropout: float = 0.0,
        gelu_approximate: str = "tanh",
        dtype: Any = np.float32,
        rng: RngLike = None,
    ) -> None:
        if int(context) < 1:
            raise ValueError(f"CharTransformerLM: context must be positive, got {context}")
        gen = np.random.default_rng(rng)
        self.vocab_size, self.d_model, self.context = int(vocab_size), int(d_model), int(context)
        ff = 4 * self.d_model if dim_feedforward is None else int(dim_feedforward)
        self.tok_emb = Embedding(vocab_size, d_model, rng=gen, dtype=dtype)
        self.pos_emb = Embedding(context, d_model, rng=gen, dtype=dtype)
        self.drop = Dropout(dropout, rng=gen)
        act = _activation(gelu_approximate)
        layer = TransformerEncoderLayer(
            d_model, nhead, dim_feedforward=ff, dropout=dropout, activation=act,
            batch_first=True, norm_first=True, dtype=dtype, rng=gen,
        )  # fmt: skip
        self.encoder = TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = LayerNorm(d_model, dtype=dtype)
        self.head = Linear(d_model, vocab_size, rng=gen, dtype=dtype)

    def forward(self, ids: Any) -> Tensor:
        """Logits (B, T, vocab_size) for ids (B, T) with T <= context; the output at t
        depends on ids[:, :t + 1] only."""
        arr = _ids("CharTransformerLM", ids)
        T = arr.shape[1]
        if T > self.context:
            raise ShapeError(
                f"CharTransformerLM: sequence length {T} exceeds the context {self.context}"
            )
        h = self.drop(self.tok_emb(arr) + self.pos_emb(np.arange(T)))
        h = self.encoder(h, mask=causal_mask(T), is_causal=True)
        return self.head(self.norm(h))


class CharLSTMLM(Module):
    """Embedding → multi-layer LSTM (batch_first) → Linear head.

    ``CharLSTMLM(vocab_size, embedding_dim=64, hidden_size=128, num_layers=2, dropout=0.0,
    dtype=float32, rng=None)``. Submodules ``embedding``, ``lstm`` (torch's parameter
    names ``weight_ih_l0`` ...), ``head``. ``forward(ids, state=None)`` returns
    ``(logits (B, T, V), (h_n, c_n))``; pass the state back in to continue a sequence.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.0,
        dtype: Any = np.float32,
        rng: RngLike = None,
    ) -> None:
        gen = np.random.default_rng(rng)
        self.vocab_size = int(vocab_size)
        self.embedding = Embedding(vocab_size, embedding_dim, rng=gen, dtype=dtype)
        self.lstm = LSTM(
            embedding_dim, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout, rng=gen, dtype=dtype,
        )  # fmt: skip
        self.head = Linear(hidden_size, vocab_size, rng=gen, dtype=dtype)

    def forward(
        self, ids: Any, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        arr = _ids("CharLSTMLM", ids)
        out, state = self.lstm(self.embedding(arr), state)
        return self.head(out), state


def lm_loss(logits: Tensor, targets: Any) -> Tensor:
    """Mean cross-entropy of logits (B, T, V) against target ids (B, T):
    -(1/BT) Σ_{b,t} log softmax(logits[b, t])[targets[b, t]]."""
    if logits.ndim != 3:
        raise ShapeError(f"lm_loss: logits must have shape (B, T, V), got {logits.shape}")
    B, T, V = logits.shape
    y = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if y.shape != (B, T):
        raise ShapeError(
            f"lm_loss: logits of shape {logits.shape} need targets of shape ({B}, {T}), "
            f"got {y.shape}"
        )
    return F.cross_entropy(logits.reshape(B * T, V), y.reshape(-1))


def generate(
    model: Module,
    prompt: Any,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    rng: RngLike = None,
) -> np.ndarray:
    """Sample ``max_new_tokens`` ids after ``prompt`` (1-D ids); returns prompt + samples.

    A transformer (a model with a ``context`` attribute) reads the last ``context`` ids
    at each step; a recurrent model (one returning ``(logits, state)``) reads the prompt
    once and then one id at a time, carrying its state. From the logits z of the last
    position the next id is drawn from softmax(z / temperature), restricted to the
    ``top_k`` largest logits if given. ``temperature`` → 0 approaches greedy decoding;
    ``temperature`` = 0 is exactly greedy. Runs under ``no_grad`` in eval mode (the
    model's training flag is restored afterwards).
    """
    if temperature < 0:
        raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
    if top_k is not None and int(top_k) < 1:
        raise ValueError(f"generate: top_k must be a positive integer, got {top_k}")
    gen = np.random.default_rng(rng)
    ids = [int(i) for i in np.asarray(prompt).reshape(-1)]
    if not ids:
        raise ValueError("generate: the prompt must hold at least one id")
    context = getattr(model, "context", None)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            state = None  # a recurrent model's state after reading ids[:-1]
            for _ in range(int(max_new_tokens)):
                if context is not None:
                    out = model(np.asarray([ids[-context:]]))
                elif state is None:
                    out = model(np.asarray([ids]))
                else:
                    out = model(np.asarray([ids[-1:]]), state)
                if isinstance(out, tuple):  # recurrent: (logits, state)
                    out, state = out
                z = out.data[0, -1].astype(np.float64)
                ids.append(_sample(z, temperature, top_k, gen))
    finally:
        model.train(was_training)
    return np.asarray(ids, dtype=np.int64)


def _sample(z: np.ndarray, temperature: float, top_k: int | None, gen: np.random.Generator) -> int:
    if temperature == 0:
        return int(np.argmax(z))
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= kth, z, -np.inf)
    z = (z - z.max()) / temperature
    p = np.exp(z)
    return int(gen.choice(z.size, p=p / p.sum()))
