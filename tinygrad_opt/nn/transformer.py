"""Transformer layers as torch's: ``TransformerEncoderLayer``/``TransformerEncoder`` and
``TransformerDecoderLayer``/``TransformerDecoder``.

An encoder layer is self-attention then a position-wise feed-forward network, each with a
residual connection and a LayerNorm (Vaswani et al. 2017). Post-norm (``norm_first=False``,
the original and torch's default)::

    x = norm1(x + dropout1(self_attn(x, x, x)))
    x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

pre-norm (``norm_first=True``, Xiong et al. 2020) normalises each block's input instead::

    x = x + dropout1(self_attn(norm1(x), ...));   x = x + dropout2(ff(norm2(x)))

A decoder layer adds attention to the encoder's output (``memory``) between the two.
Submodule and parameter names are torch's (``self_attn.in_proj_weight``,
``linear1.weight``, ``norm1.bias``, ``layers.0....``), so a torch ``state_dict`` converted
to numpy loads as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_opt.nn.containers import ModuleList
from tinygrad_opt.nn.dropout import Dropout
from tinygrad_opt.nn.layer_norm import LayerNorm
from tinygrad_opt.nn.layers import Linear
from tinygrad_opt.nn.module import Module
from tinygrad_opt.nn.multihead_attention import MultiheadAttention
from tinygrad_opt.tensor import Tensor

__all__ = [
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "generate_square_subsequent_mask",
]

Activation = str | Callable[[Tensor], Tensor]


def generate_square_subsequent_mask(sz: int, dtype: Any = np.float32) -> np.ndarray:
    """The (sz, sz) causal mask: 0 on and below the diagonal, -inf above.

    Position i may attend to positions 0..i. As torch's
    ``nn.Transformer.generate_square_subsequent_mask``; pass it as ``src_mask``/``mask``
    (with ``is_causal=True`` as a hint if you like).
    """
    return np.triu(np.full((sz, sz), -np.inf, dtype=dtype), 1)


def _activation(spec: Activation) -> Callable[[Tensor], Tensor]:
    if isinstance(spec, str):
        if spec == "relu":
            return Tensor.relu
        if spec == "gelu":
            return Tensor.gelu
        raise ValueError(f"activation should be 'relu', 'gelu' or a callable, got {spec!r}")
    if callable(spec):
        return spec
    raise TypeError(f"activation should be 'relu', 'gelu' or a callable, got {spec!r}")


def _check_layer_args(who: str, d_model: int, nhead: int, dim_feedforward: int, p: Any) -> None:
    if d_model <= 0 or nhead <= 0 or dim_feedforward <= 0:
        raise ValueError(
            f"{who}: d_model, nhead and dim_feedforward must be positive, got "
            f"d_model={d_model}, nhead={nhead}, dim_feedforward={dim_feedforward}"
        )
    if d_model % nhead:
        raise ValueError(f"{who}: d_model={d_model} must be divisible by nhead={nhead}")
    if isinstance(p, bool) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{who}: dropout must be in [0, 1), got {p}")


class _FeedForwardMixin:
    """linear2(dropout(activation(linear1(x)))), shared by the encoder and decoder layers."""

    linear1: Linear
    linear2: Linear
    dropout: Dropout

    def _ff(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class TransformerEncoderLayer(_FeedForwardMixin, Module):
    """Self-attention and feed-forward blocks with residuals and LayerNorms, as torch's.

    ``TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False,
    bias=True, dtype=float32, rng=None)``

    Submodules: ``self_attn`` (:class:`MultiheadAttention`), ``linear1`` (d_model →
    dim_feedforward), ``dropout``, ``linear2`` (back to d_model), ``norm1``, ``norm2``
    (LayerNorm), ``dropout1``, ``dropout2``. ``activation``: "relu", "gelu" or any
    callable Tensor → Tensor (e.g. ``nn.GELU()``). The equations are in the module
    docstring; dropout acts in training mode only (``.eval()`` turns it off). One
    generator made from ``rng`` initialises every parameter and draws the dropout masks.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        _check_layer_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout)
        gen = np.random.default_rng(rng)
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, dtype=dtype,
            rng=gen,
        )  # fmt: skip
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=gen, dtype=dtype)
        self.dropout = Dropout(dropout, rng=gen)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=gen, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=gen)
        self.dropout2 = Dropout(dropout, rng=gen)
        self.activation = _activation(activation)

    def forward(
        self,
        src: Tensor,
        src_mask: Tensor | np.ndarray | None = None,
        src_key_padding_mask: Tensor | np.ndarray | None = None,
        is_causal: bool = False,
    ) -> Tensor:
        """One encoder layer on ``src`` (S, N, E) ((N, S, E) if batch_first; or (S, E)).

        ``src_mask`` is the attention mask ((S, S) or (N·nhead, S, S)) and
        ``src_key_padding_mask`` (N, S) marks padding, both in MultiheadAttention's
        convention (bool True = masked out, or float added to the scores);
        ``is_causal`` is a hint that ``src_mask`` is causal.
        """
        x = src if isinstance(src, Tensor) else Tensor(src, dtype=self.linear1.weight.dtype)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self.dropout2(self._ff(self.norm2(x)))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self.dropout2(self._ff(x)))

    def _sa(self, x, mask, kpm, is_causal) -> Tensor:
        out = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
            is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout1(out)


class TransformerDecoderLayer(_FeedForwardMixin, Module):
    """Self-attention, attention to ``memory``, feed-forward; residuals and LayerNorms.

    Same arguments as :class:`TransformerEncoderLayer`. Submodules (torch's names):
    ``self_attn``, ``multihead_attn`` (queries from the target, keys/values from memory),
    ``linear1``, ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``norm3``, ``dropout1``,
    ``dropout2``, ``dropout3``. Post-norm::

        x = norm1(x + dropout1(self_attn(x, x, x)))
        x = norm2(x + dropout2(multihead_attn(x, memory, memory)))
        x = norm3(x + dropout3(ff(x)))

    and with ``norm_first`` each block adds its output to x, taking norm_i(x) as input.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: Activation = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        _check_layer_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout)
        gen = np.random.default_rng(rng)
        kw = {"dropout": dropout, "bias": bias, "batch_first": batch_first, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, rng=gen, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, rng=gen, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, rng=gen, dtype=dtype)
        self.dropout = Dropout(dropout, rng=gen)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, rng=gen, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=gen)
        self.dropout2 = Dropout(dropout, rng=gen)
        self.dropout3 = Dropout(dropout, rng=gen)
        self.activation = _activation(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | np.ndarray | None = None,
        memory_mask: Tensor | np.ndarray | None = None,
        tgt_key_padding_mask: Tensor | np.ndarray | None = None,
        memory_key_padding_mask: Tensor | np.ndarray | None = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """One decoder layer: ``tgt`` (T, N, E) attends to itself and to ``memory`` (S, N, E).

        Masks as in :meth:`TransformerEncoderLayer.forward`: ``tgt_mask`` (T, T),
        ``memory_mask`` (T, S), padding masks (N, T) and (N, S).
        """
        x = tgt if isinstance(tgt, Tensor) else Tensor(tgt, dtype=self.linear1.weight.dtype)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(
                self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal
            )
            return x + self.dropout3(self._ff(self.norm3(x)))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(
            x + self._mha(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        )
        return self.norm3(x + self.dropout3(self._ff(x)))

    def _sa(self, x, mask, kpm, is_causal) -> Tensor:
        out = self.self_attn(
            x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
            is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout1(out)

    def _mha(self, x, mem, mask, kpm, is_causal) -> Tensor:
        out = self.multihead_attn(
            x, mem, mem, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
            is_causal=is_causal,
        )[0]  # fmt: skip
        return self.dropout2(out)


# --------------------------------------------------------------------------- stacks
def _clones(layer: Module, n: int) -> ModuleList:
    """``n`` deep copies of ``layer`` that share its random generators.

    Sharing (as torch's layers share its global generator) keeps the copies from drawing
    the very same dropout masks, which independent copies of one generator state would.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"num_layers must be a positive integer, got {n!r}")
    memo: dict[int, Any] = {}
    for m in layer.modules():
        for value in vars(m).values():
            if isinstance(value, np.random.Generator):
                memo[id(value)] = value
    return ModuleList(copy.deepcopy(layer, dict(memo)) for _ in range(int(n)))


def _seq_len(x: Any, batch_first: bool) -> int:
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    return shape[0] if len(shape) == 2 else shape[1 if batch_first else 0]


def _detect_causal(mask: Any, is_causal: bool | None, size: int) -> bool:
    """``is_causal`` if given; else whether ``mask`` is exactly the (size, size) causal mask."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.shape != (size, size):
        return False
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    if arr.dtype == np.bool_:  # True = masked out
        return bool(np.array_equal(arr, upper))
    return bool(np.all(arr[upper] == -np.inf) and np.all(arr[~upper] == 0))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer``, then ``norm`` if given.

    ``TransformerEncoder(encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
    mask_check=True)``: parameters are named ``layers.0.self_attn.in_proj_weight`` ... as
    torch's. ``enable_nested_tensor`` and ``mask_check`` only steer torch's inference fast
    path (nested tensors); they are accepted and ignored: padded positions are computed
    like any others (torch's fast path writes zeros there instead).
    """

    def __init__(
        self,
        encoder_layer: TransformerEncoderLayer,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        if not isinstance(encoder_layer, Module):
            raise TypeError(
                f"TransformerEncoder: encoder_layer must be a Module, got "
                f"{type(encoder_layer).__name__}"
            )
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = len(self.layers)
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(
        self,
        src: Tensor,
        mask: Tensor | np.ndarray | None = None,
        src_key_padding_mask: Tensor | np.ndarray | None = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        """Each layer in turn with the same masks; ``is_causal=None`` detects a causal mask."""
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        causal = _detect_causal(mask, is_causal, _seq_len(src, batch_first))
        out = src
        for layer in self.layers:
            out = layer(
                out, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=causal
            )
        return out if self.norm is None else self.norm(out)


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer``, then ``norm`` if given."""

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        if not isinstance(decoder_layer, Module):
            raise TypeError(
                f"TransformerDecoder: decoder_layer must be a Module, got "
                f"{type(decoder_layer).__name__}"
            )
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = len(self.layers)
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | np.ndarray | None = None,
        memory_mask: Tensor | np.ndarray | None = None,
        tgt_key_padding_mask: Tensor | np.ndarray | None = None,
        memory_key_padding_mask: Tensor | np.ndarray | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        """Each layer in turn; ``tgt_is_causal=None`` detects a causal ``tgt_mask``."""
        batch_first = getattr(getattr(self.layers[0], "self_attn", None), "batch_first", False)
        causal = _detect_causal(tgt_mask, tgt_is_causal, _seq_len(tgt, batch_first))
        out = tgt
        for layer in self.layers:
            out = layer(
                out,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=causal,
                memory_is_causal=memory_is_causal,
            )
        return out if self.norm is None else self.norm(out)
