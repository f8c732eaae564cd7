"""Scaled dot-product attention, the core of every transformer, as one fused node.

For queries Q (..., L, E), keys K (..., S, E) and values V (..., S, Ev)::

    scores = Q Kᵀ · scale + M          (..., L, S), M an additive mask (0 or -inf for bool)
    P      = softmax(scores) over S     each query's weights over the keys
    O      = (P ⊙ D) V                 (..., L, Ev), D the dropout scales (1 without dropout)

:func:`scaled_dot_product_attention` has the signature and semantics of
``torch.nn.functional.scaled_dot_product_attention``; ``rng`` (an int seed or a
``numpy.random.Generator``) is ours and seeds the dropout masks. For derivatives of
higher order the op's ``composite`` writes the same attention in Tensor ops (the
reference); its vjp is built from the nodes of ``nn/_attention_vjp.py``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import constant
from tinygrad_opt.nn._attention_vjp import (
    _AttnProbs,
    _probs_tensor,
    _repeat_heads,
    _SoftmaxGrad,
    _sum_groups,
    _sum_groups_tensor,
    laid_out_matmul,
    scores_backward,
)
from tinygrad_opt.nn.dropout import keep_mask
from tinygrad_opt.parallel import CHUNK_ELEMENTS, for_each_chunk
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = ["scaled_dot_product_attention"]


class _SDPA(Function):
    """Attention forward and backward in one node.

    Forward (scale s, additive mask M, dropout scales D)::

        S = Q Kᵀ s + M,   P = softmax(S) row by row,   O = (P ⊙ D) V

    A row whose scores are all -inf (every key masked out) gets P = 0, hence O = 0 and
    zero gradients, as torch's CPU kernels do (a plain softmax would give 0/0 = nan).

    Backward, with G = dL/dO::

        dV = (P ⊙ D)ᵀ G
        dP = (G Vᵀ) ⊙ D
        dS = P ⊙ (dP - rowsum(dP ⊙ P))      (the softmax Jacobian diag(P) - P Pᵀ per row)
        dQ = dS K s,   dK = dSᵀ Q s,   dM = dS

    Why fused: written with separate ops, the graph would hold six (..., L, S) arrays
    (scores, scaled scores, masked scores, exp, P, dropped P) and walk them one small op
    at a time in both directions. Here the forward allocates one (..., L, S) buffer and
    works in place (scale folded into Q, mask added, exponentiated, normalised), keeping
    only P (and D) for the backward, which reuses the gradient buffer the same way. The
    attention matrix is the largest array of a transformer step (L·S per head), so this
    is where the time and memory go.

    With grouped-query attention each key/value head serves ``groups`` consecutive query
    heads: K and V are repeated along dim -3 in the forward and their gradients are summed
    over the group in the backward.
    """

    name = "scaled_dot_product_attention"

    def forward(self, q, k, v, mask=None, *, bias, scale, drop, groups):
        gk, gv = groups
        if gk > 1:
            k = np.repeat(k, gk, axis=-3)
        if gv > 1:
            v = np.repeat(v, gv, axis=-3)
        self.groups = groups
        qs = q * q.dtype.type(scale) if scale != 1.0 else q
        s = qs @ np.swapaxes(k, -1, -2)
        if mask is not None:
            s = _add_into(s, mask)
        if bias is not None:
            s = _add_into(s, bias)
        p = _safe_softmax(s, masked=mask is not None or bias is not None)
        pd = p if drop is None else p * drop
        self.qs, self.k, self.v, self.p, self.pd = qs, k, v, p, pd
        self.drop, self.scale = drop, scale
        return pd @ v

    def backward(self, g):
        need_q, need_k, need_v = self.needs_grad[:3]
        need_m = len(self.needs_grad) > 3 and self.needs_grad[3]
        dq = dk = dv = dm = None
        if need_v:
            dv = _sum_groups(np.swapaxes(self.pd, -1, -2) @ g, self.groups[1])
        if need_q or need_k or need_m:
            dp = g @ np.swapaxes(self.v, -1, -2)  # a fresh buffer: worked on in place
            if self.drop is not None:
                dp *= self.drop
            dq, dk, dm = scores_backward(self, dp, need_q, need_k, need_m)
        return dq, dk, dv, dm

    def vjp(self, g):
        """``backward``'s products in Tensor ops. P enters as an :class:`_AttnProbs` node:
        a function of Q, K (and a float mask) valued from the forward, whose derivative
        is the fused softmax-and-scores backward, so nothing of the forward is redone."""
        q, k, v = self.parents[:3]
        need_q, need_k, need_v = self.needs_grad[:3]
        need_m = len(self.needs_grad) > 3 and self.needs_grad[3]
        groups, drop = self.groups, self.drop
        dq = dk = dv = dm = None
        p = _AttnProbs.apply(*self.parents[:2], *self.parents[3:], **self._probs_params())
        pd = p if drop is None else p * constant(drop)
        if need_v:  # (products stored like the operand they are the gradient of)
            if groups[1] == 1:
                dv = laid_out_matmul(pd.transpose(-1, -2), g, like=v)
            else:
                dv = _sum_groups_tensor(pd.transpose(-1, -2) @ g, groups[1])
        if need_q or need_k or need_m:
            dp = g @ _repeat_heads(v, groups[1]).transpose(-1, -2)
            # dS·s (the scale folded in) unless the mask wants dS itself
            scale = 1.0 if need_m else self.scale
            ds = _SoftmaxGrad.apply(dp, p, drop=drop, scale=scale)
            dm = ds if need_m else None
            if need_q:
                dq = laid_out_matmul(ds, _repeat_heads(k, groups[0]), like=q)
                dq = dq * self.scale if scale != self.scale else dq
            if need_k:
                if groups[0] == 1:
                    dk = laid_out_matmul(ds.transpose(-1, -2), q, like=k)
                else:
                    dk = _sum_groups_tensor(ds.transpose(-1, -2) @ q, groups[0])
                dk = dk * self.scale if scale != self.scale else dk
        return dq, dk, dv, dm

    def _probs_params(self) -> dict:
        params = {key: self.params[key] for key in ("bias", "scale", "groups")}
        return {**params, "saved": (self.p, self.qs, self.k)}

    def composite(self, q, k, v, mask=None, *, bias, scale, drop, groups):
        """The same attention in Tensor ops (its derivative is the vjp's reference)."""
        p = _probs_tensor(q, k, mask, bias=bias, scale=scale, groups=groups)
        if drop is not None:
            p = p * constant(drop)
        return p @ _repeat_heads(v, groups[1])


def _add_into(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """s + m, in place when m broadcasts to s's shape (the wrapper made sure it does)."""
    if m.dtype != s.dtype:
        m = m.astype(s.dtype)
    if np.broadcast_shapes(s.shape, m.shape) == s.shape:
        s += m
        return s
    return s + m


def _safe_softmax(s: np.ndarray, masked: bool) -> np.ndarray:
    """Softmax over the last axis of a C-contiguous ``s``, in place.

    Rows of all -inf (every key masked) become 0 instead of nan. Speed (this runs on the
    largest array of a transformer step): the row maxima are read at ``argmax`` and the
    row sums are a matrix-vector product, both several times faster than numpy's
    ``max``/``sum`` along a short last axis.
    """
    n = s.shape[-1]
    if n == 0 or s.size == 0:
        return s
    flat = s.reshape(-1, n)  # a view: s is a fresh matmul result
    # blocks of rows on the intra-op threads (one block when s is small)
    for_each_chunk(
        lambda i, j: _softmax_rows(flat[i:j], masked), flat.shape[0], max(1, CHUNK_ELEMENTS // n)
    )
    return s


def _softmax_rows(flat: np.ndarray, masked: bool) -> None:
    """Softmax of each row of a C-contiguous 2-D block, in place."""
    n = flat.shape[1]
    m = flat.reshape(-1).take(np.arange(0, flat.size, n) + flat.argmax(axis=1))[:, None]
    if masked:
        dead = m == -np.inf
        if dead.any():
            m[dead] = 0  # exp(-inf - 0) = 0 everywhere in the row: the sum below is 0
    flat -= m
    np.exp(flat, out=flat)
    total = _row_sums(flat)
    if masked:
        total[total == 0] = 1
    flat /= total


def _row_sums(a: np.ndarray) -> np.ndarray:
    """Σ_j a[..., j] with keepdims, as a BLAS matrix-vector product for float32/64."""
    if a.dtype in (np.float32, np.float64):
        return (a @ np.ones(a.shape[-1], dtype=a.dtype))[..., None]
    return a.sum(axis=-1, keepdims=True)


@functools.lru_cache(maxsize=16)
def _causal_bias(n_q: int, n_k: int, dtype: np.dtype) -> np.ndarray:
    """0 on and below the diagonal (query i sees keys 0..i, top-left aligned), -inf above."""
    bias = np.where(np.tri(n_q, n_k, dtype=bool), 0, -np.inf).astype(dtype)
    bias.flags.writeable = False  # shared between calls
    return bias


def _as_tensor(x: Any, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except TypeError as e:
        raise TypeError(f"scaled_dot_product_attention: {what} must be a Tensor: {e}") from None


def _mask_kind(mask: Any) -> str:
    """'bool' (True = take part), 'float' (added to the scores) or raises TypeError."""
    arr = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype == np.bool_:
        return "bool"
    if arr.dtype.kind == "f":
        return "float"
    raise TypeError(
        f"scaled_dot_product_attention: attn_mask must be bool (True = take part) or "
        f"float (added to the scores), got dtype {arr.dtype}"
    )


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:
    """softmax(Q Kᵀ · scale + mask) V, one fused node (see :class:`_SDPA` for the derivative).

    Shapes: ``query`` (..., L, E), ``key`` (..., S, E), ``value`` (..., S, Ev); the
    leading (batch) dimensions broadcast; the result is (..., L, Ev). At least 2-D each.

    - ``attn_mask``: broadcastable to (..., L, S) without enlarging the result. A **bool**
      mask (numpy array or bool Tensor) marks with True the keys a query may attend to; a
      **float** mask is added to the scores (-inf excludes a key). A float mask given as a
      Tensor with ``requires_grad`` receives the gradient dL/dscores.
    - ``is_causal``: query i attends to keys 0..i (a lower-triangular L×S mask aligned at
      the top left, as torch); cannot be combined with ``attn_mask``.
    - ``scale``: default 1/√E.
    - ``dropout_p``: drop probability applied to the attention weights (whenever > 0, as
      torch: there is no training flag here), with masks drawn from ``rng``.
    - ``enable_gqa``: grouped-query attention; key/value may have fewer heads (dim -3)
      than query, a divisor of its count; head h of key/value serves query heads
      h·g ... h·g + g - 1.

    A query whose keys are all masked out gets an output row of zeros (and zero
    gradients), as torch 2.x does on the CPU.

    Errors: :class:`ShapeError` when shapes do not fit (naming the op and the shapes),
    ``ValueError`` for ``dropout_p`` outside [0, 1] or a mask together with ``is_causal``,
    ``TypeError`` for mixed dtypes or a mask that is neither bool nor float.
    """
    op = "scaled_dot_product_attention"
    q, k, v = _as_tensor(query, "query"), _as_tensor(key, "key"), _as_tensor(value, "value")
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ShapeError(
            f"{op}: query, key and value must be at least 2-D, got shapes {q.shape}, "
            f"{k.shape} and {v.shape}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(
            f"{op}: query shape {q.shape} and key shape {k.shape} must have the same last "
            f"dimension E ({q.shape[-1]} != {k.shape[-1]})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(
            f"{op}: key shape {k.shape} and value shape {v.shape} must have the same "
            f"sequence length S at dim -2 ({k.shape[-2]} != {v.shape[-2]})"
        )
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(
            f"{op}: query, key and value must have the same dtype, got {q.dtype}, {k.dtype} "
            f"and {v.dtype}"
        )
    if isinstance(dropout_p, bool) or not isinstance(
        dropout_p, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{op}: dropout_p must be a number in [0, 1], got {dropout_p!r}")
    p_drop = float(dropout_p)
    if not 0.0 <= p_drop <= 1.0:
        raise ValueError(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give either attn_mask or is_causal=True, not both")

    groups = (1, 1)
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and v.ndim >= 3:
        hq = q.shape[-3]
        hk, hv = k.shape[-3], v.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise ShapeError(
                f"{op}: with enable_gqa the number of query heads (dim -3 of query shape "
                f"{q.shape}) must be a multiple of the key and value heads (key shape "
                f"{k.shape}, value shape {v.shape})"
            )
        groups = (hq // hk, hq // hv)
    k_batch = _grouped(k.shape[:-2], groups[0])
    v_batch = _grouped(v.shape[:-2], groups[1])
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k_batch, v_batch)
    except ValueError:
        raise ShapeError(
            f"{op}: the batch dimensions of query shape {q.shape}, key shape {k.shape} and "
            f"value shape {v.shape} cannot be broadcast together"
        ) from None
    n_q, n_k = q.shape[-2], k.shape[-2]
    scores_shape = (*batch, n_q, n_k)
    sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if scale is None and q.shape[-1] == 0:
        sc = 1.0  # empty embeddings: every score is 0 whatever the scale

    inputs = [q, k, v]
    bias = None
    if attn_mask is not None:
        kind = _mask_kind(attn_mask)
        m_shape = tuple(np.shape(attn_mask.data if isinstance(attn_mask, Tensor) else attn_mask))
        try:
            fits = np.broadcast_shapes(m_shape, scores_shape) == scores_shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(
                f"{op}: attn_mask shape {m_shape} does not broadcast to the attention "
                f"scores' shape {scores_shape} (query {q.shape}, key {k.shape})"
            )
        if kind == "bool":
            arr = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            bias = np.where(arr, q.dtype.type(0), q.dtype.type(-np.inf))
        elif isinstance(attn_mask, Tensor):
            inputs.append(attn_mask)
        else:
            bias = np.asarray(attn_mask, dtype=q.dtype)
    elif is_causal:
        bias = _causal_bias(n_q, n_k, q.dtype)

    drop = None
    if p_drop > 0.0:
        if p_drop == 1.0:
            drop = np.zeros(scores_shape, dtype=q.dtype)
        else:
            keep = keep_mask(np.random.default_rng(rng), scores_shape, p_drop)
            drop = np.multiply(keep, q.dtype.type(1.0 / (1.0 - p_drop)), dtype=q.dtype)
    return _SDPA.apply(*inputs, bias=bias, scale=sc, drop=drop, groups=groups)


def _grouped(batch: tuple[int, ...], groups: int) -> tuple[int, ...]:
    """The batch shape after repeating dim -3 (the last batch dim) ``groups`` times."""
    if groups == 1:
        return batch
    return (*batch[:-1], batch[-1] * groups)
