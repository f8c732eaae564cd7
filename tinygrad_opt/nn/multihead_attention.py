"""``MultiheadAttention``: torch's layer, with its parameter names, shapes and semantics.

With h heads of width d = E/h, each head attends in its own subspace::

    Q = query W_qᵀ + b_q,   K = key W_kᵀ + b_k,   V = value W_vᵀ + b_v
    head_i = softmax(Q_i K_iᵀ / √d + mask) V_i       (Q_i: columns i·d ... (i+1)·d - 1)
    out = [head_1, ..., head_h] W_oᵀ + b_o

Parameters are named and shaped exactly as torch's (``in_proj_weight`` (3E, E) packing
W_q, W_k, W_v row-wise, ``in_proj_bias`` (3E), ``out_proj.weight``/``out_proj.bias``, or
``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim) when
the key/value widths differ from E; ``bias_k``/``bias_v`` (1, 1, E)), so a torch
``state_dict`` converted to numpy loads as it is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_opt.nn import functional as F
from tinygrad_opt.nn import init
from tinygrad_opt.nn.attention import scaled_dot_product_attention
from tinygrad_opt.nn.dropout import dropout as _dropout
from tinygrad_opt.nn.layers import Linear
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.tensor import ShapeError, Tensor, cat

__all__ = ["MultiheadAttention"]

_NAME = "MultiheadAttention"


class MultiheadAttention(Module):
    """Multi-head attention, as ``torch.nn.MultiheadAttention``.

    ``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
    add_zero_attn=False, kdim=None, vdim=None, batch_first=False, dtype=float32, rng=None)``

    - ``embed_dim`` E must be divisible by ``num_heads`` h (``ValueError`` otherwise);
      each head has width E/h.
    - ``dropout``: drop probability on the attention weights, in training mode only.
    - ``bias``: biases of the input and output projections.
    - ``add_bias_kv``: learnt vectors ``bias_k``, ``bias_v`` appended to the keys and
      values as one extra position; ``add_zero_attn``: a zero key/value position appended
      after the projection (both as torch; masks get a column that lets it through).
    - ``kdim``/``vdim``: widths of key and value (default E); when either differs from E
      the projections are three separate weights instead of the packed ``in_proj_weight``.
    - ``batch_first``: inputs and outputs are (N, L, E) instead of (L, N, E).

    Initialisation as torch: Xavier-uniform projection weights, zero biases, the output
    projection's weight as ``Linear``'s default, ``bias_k``/``bias_v`` Xavier-normal; one
    generator made from ``rng`` draws them all, and also the dropout masks.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"{_NAME}: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"{_NAME}: embed_dim={embed_dim} must be divisible by num_heads={num_heads}"
            )
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{_NAME}: dropout must be a probability in [0, 1], got {dropout}")
        gen = np.random.default_rng(rng)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        self._rng = gen
        E = self.embed_dim
        # Attribute order = torch's state_dict order: own parameters, then out_proj.
        self.in_proj_weight: Tensor | None = None
        self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(init.xavier_uniform((3 * E, E), rng=gen), dtype)
        else:
            self.q_proj_weight = Parameter(init.xavier_uniform((E, E), rng=gen), dtype)
            self.k_proj_weight = Parameter(init.xavier_uniform((E, self.kdim), rng=gen), dtype)
            self.v_proj_weight = Parameter(init.xavier_uniform((E, self.vdim), rng=gen), dtype)
        self.in_proj_bias = Parameter(np.zeros(3 * E), dtype) if bias else None
        self.bias_k = self.bias_v = None
        if add_bias_kv:
            self.bias_k = Parameter(init.xavier_normal((1, 1, E), rng=gen), dtype)
            self.bias_v = Parameter(init.xavier_normal((1, 1, E), rng=gen), dtype)
        self.out_proj = Linear(E, E, bias=bias, rng=gen, dtype=dtype)
        if bias:
            self.out_proj.bias.data[...] = 0

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout:g}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            text += ", batch_first=True"
        return text

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | np.ndarray | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | np.ndarray | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns (output, weights or None).

        Shapes (batch_first=False; with batch_first=True swap L/S and N): query (L, N, E),
        key (S, N, kdim), value (S, N, vdim), or unbatched (L, E), (S, kdim), (S, vdim).
        Output (L, N, E) (unbatched (L, E)). Weights, when ``need_weights``: (N, L, S)
        averaged over heads, or (N, h, L, S) with ``average_attn_weights=False``
        (unbatched without N); they are taken after dropout, as torch.

        Masks follow torch's MultiheadAttention convention, the opposite of
        ``scaled_dot_product_attention``'s: a **bool** True means *not allowed*
        (masked out); a **float** mask is added to the scores.

        - ``key_padding_mask``: (N, S) (unbatched (S,)): keys to ignore per sequence.
        - ``attn_mask``: (L, S) for every sequence and head, or (N·h, L, S) per sequence
          and head (unbatched: (h, L, S)).
        - ``is_causal``: a hint that ``attn_mask`` is the causal mask; it must then be
          given (``ValueError`` otherwise). Without ``need_weights`` and
          ``key_padding_mask`` the causal pattern replaces the mask, as torch.

        With ``need_weights`` a query whose keys are all masked gets nan weights and
        outputs (a plain softmax, as torch); without, zeros (see
        :func:`~tinygrad_opt.nn.functional.scaled_dot_product_attention`).
        """
        query, key, value = (
            x if isinstance(x, Tensor) else Tensor(x, dtype=self.out_proj.weight.dtype)
            for x in (query, key, value)
        )
        batched = self._check_shapes(query, key, value, key_padding_mask, attn_mask)
        if not batched:  # pretend there is a batch of one (at dim 1, or 0 if batch_first)
            bdim = 0 if self.batch_first else 1
            query, key, value = (x.unsqueeze(bdim) for x in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = _mask_op(key_padding_mask, lambda m: m[None])
        if self.batch_first:
            n, n_q, _ = query.shape
            n_k = key.shape[1]
        else:
            n_q, n, _ = query.shape
            n_k = key.shape[0]
        self._check_mask_shapes(key_padding_mask, attn_mask, n, n_q, n_k)
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{_NAME}: is_causal=True is a hint that attn_mask is causal and needs "
                "attn_mask (e.g. Transformer.generate_square_subsequent_mask(L))"
            )
        dtype = query.dtype
        kpm = _additive(key_padding_mask, dtype)
        use_causal = is_causal and kpm is None and not need_weights
        mask = None if use_causal else _additive(attn_mask, dtype)
        if mask is not None and mask.ndim == 3:  # (N·h, L, S) -> (N, h, L, S)
            mask = _mask_op(mask, lambda m: m.reshape(n, self.num_heads, n_q, n_k))

        q, k, v = self._in_projection(query, key, value)
        if self.bias_k is not None:  # one extra key/value position: the learnt biases
            k = _append_position(k, self.bias_k, self.batch_first)
            v = _append_position(v, self.bias_v, self.batch_first)
            mask, kpm = _pad_last(mask), _pad_last(kpm)
        q, k, v = (self._split_heads(t) for t in (q, k, v))  # (N, h, *, d)
        if self.add_zero_attn:  # and a zero one, after the projection
            k, v = (_append_zero_position(t) for t in (k, v))
            mask, kpm = _pad_last(mask), _pad_last(kpm)
        if kpm is not None:  # (N, S) -> (N, 1, 1, S), merged into the attention mask
            kpm = _mask_op(kpm, lambda m: m.reshape(m.shape[0], 1, 1, m.shape[1]))
            mask = kpm if mask is None else _mask_add(mask, kpm)
        p = self.dropout if self.training else 0.0

        weights = None
        if need_weights:
            out, weights = self._attend_with_weights(q, k, v, mask, p)
            if average_attn_weights:
                weights = weights.mean(1)
            if not batched:
                weights = weights.squeeze(0)
        else:
            out = scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p, is_causal=use_causal, rng=self._rng
            )
        out = self._merge_heads(out)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
        return out, weights

    # ----------------------------------------------------------------- pieces
    def _in_projection(self, query: Tensor, key: Tensor, value: Tensor):
        """Q, K, V = input Wᵀ + b for each input (rows of the packed weight, or own ones)."""
        E = self.embed_dim
        b = self.in_proj_bias
        bq = bk = bv = None
        if b is not None:
            bq, bk, bv = b[:E], b[E : 2 * E], b[2 * E :]
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:E], w[E : 2 * E], w[2 * E :]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(L, N, E) or (N, L, E) -> (N, h, L, d)."""
        a, b, _ = x.shape
        x = x.reshape(a, b, self.num_heads, self.head_dim)
        return x.permute(0, 2, 1, 3) if self.batch_first else x.permute(1, 2, 0, 3)

    def _merge_heads(self, x: Tensor) -> Tensor:
        """(N, h, L, d) -> (L, N, E) or (N, L, E)."""
        n, _, n_q, _ = x.shape
        if self.batch_first:
            return x.permute(0, 2, 1, 3).reshape(n, n_q, self.embed_dim)
        return x.permute(2, 0, 1, 3).reshape(n_q, n, self.embed_dim)

    def _attend_with_weights(self, q, k, v, mask, p):
        """Attention with the weights materialised as a Tensor of the graph (torch's math)."""
        scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-1, -2)
        if mask is not None:
            scores = scores + (mask if isinstance(mask, Tensor) else Tensor(mask))
        with np.errstate(invalid="ignore"):  # fully masked rows: nan, as torch (no warning)
            weights = scores.softmax(-1)
        if p >= 1.0:  # everything dropped (torch allows p = 1)
            weights = weights * 0.0
        elif p > 0.0:
            weights = _dropout(weights, p, training=True, rng=self._rng)
        return weights @ v, weights

    # ----------------------------------------------------------------- checks
    def _check_shapes(self, query, key, value, key_padding_mask, attn_mask) -> bool:
        """Torch's MultiheadAttention shape rules; True if the input is batched."""
        qs, ks, vs = query.shape, key.shape, value.shape
        if query.ndim not in (2, 3):
            raise ShapeError(
                f"{_NAME}: query must be 2-D (unbatched) or 3-D (batched), got shape {qs}"
            )
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(
                f"{_NAME}: for a {query.ndim}-D query of shape {qs}, key and value must be "
                f"{query.ndim}-D too, got shapes {ks} and {vs}"
            )
        if key_padding_mask is not None and np.ndim(_raw(key_padding_mask)) != query.ndim - 1:
            raise ShapeError(
                f"{_NAME}: for query shape {qs}, key_padding_mask must be "
                f"{query.ndim - 1}-D, got shape {np.shape(_raw(key_padding_mask))}"
            )
        if attn_mask is not None and np.ndim(_raw(attn_mask)) not in (2, 3):
            raise ShapeError(
                f"{_NAME}: attn_mask must be 2-D or 3-D, got shape {np.shape(_raw(attn_mask))}"
            )
        for name, shape, width in (
            ("query", qs, self.embed_dim),
            ("key", ks, self.kdim),
            ("value", vs, self.vdim),
        ):
            if shape[-1] != width:
                raise ShapeError(
                    f"{_NAME}: {name} shape {shape} must have last dimension {width} "
                    f"({'embed_dim' if name == 'query' else name[0] + 'dim'})"
                )
        if ks[:-1] != vs[:-1]:
            raise ShapeError(
                f"{_NAME}: key shape {ks} and value shape {vs} must agree in all but the "
                "last dimension"
            )
        bdim = 0 if self.batch_first else 1
        if batched and qs[bdim] != ks[bdim]:
            raise ShapeError(
                f"{_NAME}: query shape {qs} and key shape {ks} have different batch sizes "
                f"(dim {bdim})"
            )
        return batched

    def _check_mask_shapes(self, kpm, attn_mask, n, n_q, n_k) -> None:
        if kpm is not None and np.shape(_raw(kpm)) != (n, n_k):
            raise ShapeError(
                f"{_NAME}: key_padding_mask shape {np.shape(_raw(kpm))} should be (N, S) = "
                f"({n}, {n_k})"
            )
        if attn_mask is not None:
            shape = np.shape(_raw(attn_mask))
            want = (n_q, n_k) if len(shape) == 2 else (n * self.num_heads, n_q, n_k)
            if shape != want:
                raise ShapeError(
                    f"{_NAME}: the {len(shape)}-D attn_mask shape {shape} should be {want}"
                    + ("" if len(shape) == 2 else " (N·num_heads, L, S)")
                )


# --------------------------------------------------------------------------- masks
def _raw(mask: Any) -> np.ndarray:
    return mask.data if isinstance(mask, Tensor) else np.asarray(mask)


def _mask_op(mask: Any, fn) -> Any:
    """Apply a shape operation to a mask, keeping a Tensor a Tensor (for its gradient)."""
    return fn(mask) if isinstance(mask, Tensor) else fn(np.asarray(mask))


def _additive(mask: Any, dtype: np.dtype) -> Tensor | np.ndarray | None:
    """Torch's convention to an additive mask: bool True -> -inf, False -> 0; float kept.

    Float Tensors stay Tensors (they may need a gradient); everything else becomes a numpy
    array of ``dtype``.
    """
    if mask is None:
        return None
    arr = _raw(mask)
    if arr.dtype == np.bool_:
        return np.where(arr, dtype.type(-np.inf), dtype.type(0))
    if arr.dtype.kind != "f":
        raise TypeError(f"{_NAME}: masks must be bool or float, got dtype {arr.dtype}")
    if isinstance(mask, Tensor):
        return mask if mask.dtype == dtype else mask.astype(dtype)
    return arr.astype(dtype, copy=False)


def _mask_add(a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (a if isinstance(a, Tensor) else Tensor(a)) + b
    return a + b


def _pad_last(mask: Any) -> Any:
    """Append a 0 (= allowed) along the key axis, for an appended key position."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        return mask.pad([(0, 0)] * (mask.ndim - 1) + [(0, 1)])
    return np.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])


def _append_position(x: Tensor, bias: Tensor, batch_first: bool) -> Tensor:
    """Append ``bias`` (1, 1, E) as one more sequence position of x (S, N, E) / (N, S, E)."""
    if batch_first:
        n = x.shape[0]
        return cat([x, bias.expand(n, 1, bias.shape[-1])], 1)
    n = x.shape[1]
    return cat([x, bias.expand(1, n, bias.shape[-1])], 0)


def _append_zero_position(x: Tensor) -> Tensor:
    """(N, h, S, d) -> (N, h, S + 1, d) with zeros in the new position."""
    n, h, _, d = x.shape
    return cat([x, Tensor(np.zeros((n, h, 1, d), x.dtype))], 2)
