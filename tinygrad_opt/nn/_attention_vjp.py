"""The nodes the attention vjp (``_SDPA.vjp`` in ``attention.py``) is built from.

With S = Q Kᵀ s + M, P = softmax(S) (rows of all -inf give P = 0), D the dropout scales
and G = dL/dO for O = (P ⊙ D) V, the backward is

    dV = (P ⊙ D)ᵀ G,   A = G Vᵀ,   dS = P ⊙ (D⊙A - rowsum(D⊙A⊙P)),   dQ = dS K s,
    dK = dSᵀ Q s,   dM = dS.

Written with Tensor ops this would recompute P and keep several (..., L, S) arrays per
step; instead P is an :class:`_AttnProbs` node (a function of Q, K, M valued from the
forward) and dS one :class:`_SoftmaxGrad` node, each with a fused numpy backward and a
composite (the same formula in Tensor ops) for derivatives of higher order. The products
are :func:`laid_out_matmul` nodes that store dQ, dK, dV the way Q, K, V are stored (a
head-split view of a projection), so the gradients flow on without copies.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import constant
from tinygrad_opt.ops.linalg import MatMul, matmul
from tinygrad_opt.parallel import CHUNK_ELEMENTS, for_each_chunk
from tinygrad_opt.tensor import Function, Tensor


class _AttnProbs(Function):
    """P = softmax(Q Kᵀ s + M) (dead rows 0), a node of the attention vjp's graph.

    Its value is the P of the fused forward (``saved`` = (P, Q·s, K repeated)); its
    backward is :func:`scores_backward`: dS = P ⊙ (G - rowsum(G ⊙ P)), dQ = dS K s,
    dK = dSᵀ Q s (summed over a query group), dM = dS. The composite
    (:func:`_probs_tensor`) gives the derivatives of higher order."""

    name = "attention_probs"

    def forward(self, q, k, mask=None, *, bias, scale, groups, saved):
        self.p, self.qs, self.k = saved
        self.scale, self.groups = scale, groups
        return self.p

    def backward(self, g):
        need_m = len(self.needs_grad) > 2 and self.needs_grad[2]
        ds = g * self.p  # P ⊙ G, then dS in place
        ds -= self.p * ds.sum(axis=-1, keepdims=True)
        dq, dk, dm = scores_backward(self, ds, *self.needs_grad[:2], need_m, softmax_done=True)
        return dq, dk, dm

    def composite(self, q, k, mask=None, *, bias, scale, groups, saved):
        return _probs_tensor(q, k, mask, bias=bias, scale=scale, groups=groups)


class _SoftmaxGrad(Function):
    """dS = s·P ⊙ (D⊙A - rowsum(D⊙A⊙P)) for A = G Vᵀ: the scores' gradient in the attention
    vjp's graph, one node (D the dropout scales or 1, s a constant scale).

    dS is linear in A and bilinear in (A, P); with U its gradient and r = rowsum(D⊙A⊙P):

        dA = s·D ⊙ P ⊙ (U - rowsum(U⊙P)),   dP = s·(U ⊙ (D⊙A - r) - D⊙A · rowsum(U⊙P)).
    """

    name = "softmax_grad"

    def forward(self, a, p, *, drop, scale):
        da = a if drop is None else a * drop
        self.da, self.p, self.drop, self.scale = da, p, drop, scale
        self.r = np.einsum("...j,...j->...", da, p)[..., None]
        out = da - self.r
        out *= p
        if scale != 1.0:
            out *= out.dtype.type(scale)
        return out

    def backward(self, u):
        p, da, scale = self.p, self.da, self.scale
        up = np.einsum("...j,...j->...", u, p)[..., None]  # rowsum(U⊙P)
        ga = gp = None
        if self.needs_grad[0]:
            ga = u - up
            ga *= p
            if self.drop is not None:
                ga *= self.drop
            if scale != 1.0:
                ga *= ga.dtype.type(scale)
        if self.needs_grad[1]:
            gp = da - self.r
            gp *= u
            gp -= da * up
            if scale != 1.0:
                gp *= gp.dtype.type(scale)
        return ga, gp

    def composite(self, a, p, *, drop, scale):
        da = a if drop is None else a * constant(drop)
        out = p * (da - (da * p).sum(-1, keepdim=True))
        return out * scale if scale != 1.0 else out


def _softmax_grad_rows(dp: np.ndarray, p: np.ndarray) -> None:
    """dP → dS = P ⊙ (dP - rowsum(dP ⊙ P)) for 2-D row blocks, in place in dp."""
    dp -= np.einsum("ij,ij->i", dp, p)[:, None]
    dp *= p


def scores_backward(fn: Any, dp: np.ndarray, need_q, need_k, need_m, softmax_done=False):
    """From dP (a fresh buffer, overwritten) to dQ, dK, dM, with ``fn``'s saved P, Q·s and
    (repeated) K: dS = P ⊙ (dP - rowsum(dP ⊙ P)), dQ = dS K s, dK = dSᵀ (Q s), dM = dS.
    With ``softmax_done`` dp is dS already."""
    if not softmax_done:
        p = fn.p
        n = dp.shape[-1]
        if dp.flags.c_contiguous and p.flags.c_contiguous and dp.shape == p.shape and n:
            dp2, p2 = dp.reshape(-1, n), p.reshape(-1, n)  # views
            # blocks of rows on the intra-op threads (one block when small)
            for_each_chunk(
                lambda i, j: _softmax_grad_rows(dp2[i:j], p2[i:j]),
                dp2.shape[0],
                max(1, CHUNK_ELEMENTS // n),
            )
        else:
            rows = np.einsum("...j,...j->...", dp, p)[..., None]  # rowsum(dP ⊙ P)
            dp -= rows
            dp *= p  # now dS
    dq = dk = dm = None
    if need_m:
        dm = dp.copy() if (need_q or need_k) else dp
    if need_q:
        dq = dp @ fn.k
        if fn.scale != 1.0:
            dq *= dq.dtype.type(fn.scale)
    if need_k:  # Q was saved already scaled
        dk = _sum_groups(np.swapaxes(dp, -1, -2) @ fn.qs, fn.groups[0])
    return dq, dk, dm


def _probs_tensor(q: Tensor, k: Tensor, mask: Tensor | None, *, bias, scale, groups) -> Tensor:
    """softmax(Q Kᵀ s + M) in Tensor ops, K repeated over query groups.

    The row maximum subtracted before ``exp`` is a constant (softmax does not depend on
    it); a row of all -inf scores keeps the forward's convention, P = 0, by adding 1 to
    its zero normaliser. No scores at all (an empty shape): the scores themselves."""
    k = _repeat_heads(k, groups[0])
    s = (q * scale if scale != 1.0 else q) @ k.transpose(-1, -2)
    if mask is not None:
        s = s + mask
    if bias is not None:
        s = s + constant(bias.astype(s.dtype, copy=False))
    if s.size == 0:
        return s
    top = s.data.max(axis=-1, keepdims=True)
    dead = top == -np.inf
    e = (s - constant(np.where(dead, 0, top).astype(s.dtype))).exp()
    total = e.sum(-1, keepdim=True)
    if dead.any():
        total = total + constant(dead.astype(s.dtype))
    return e / total


def _repeat_heads(t: Tensor, groups: int) -> Tensor:
    """``np.repeat(t, groups, axis=-3)`` in Tensor ops (expand a new axis, then merge)."""
    if groups == 1:
        return t
    shape = tuple(t.shape)
    lead, heads, rest = shape[:-3], shape[-3], shape[-2:]
    wide = t.reshape((*lead, heads, 1, *rest)).expand((*lead, heads, groups, *rest))
    return wide.reshape((*lead, heads * groups, *rest))


def _sum_groups_tensor(grad: Tensor, groups: int) -> Tensor:
    """:func:`_sum_groups` in Tensor ops."""
    if groups == 1:
        return grad
    shape = tuple(grad.shape)
    lead, heads, rest = shape[:-3], shape[-3], shape[-2:]
    return grad.reshape((*lead, heads // groups, groups, *rest)).sum(-3)


def _sum_groups(grad: np.ndarray, groups: int) -> np.ndarray:
    """Undo ``np.repeat(x, groups, axis=-3)``: sum each run of ``groups`` heads."""
    if groups == 1:
        return grad
    shape = grad.shape
    return grad.reshape(*shape[:-3], shape[-3] // groups, groups, *shape[-2:]).sum(axis=-3)


class _LaidOutMatMul(MatMul):
    """A @ B stored in the memory order ``order`` (its axes from the slowest to the
    fastest varying): the same product, derivatives and vjp as :class:`MatMul`."""

    def forward(self, a, b, order):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError("laid-out products take matrices (stacks)")
        self.a, self.b = a, b
        shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
        memory = np.empty([shape[i] for i in order], dtype=np.result_type(a, b))
        out = memory.transpose(np.argsort(order))
        np.matmul(a, b, out=out)
        return out


def memory_order(a: np.ndarray) -> tuple[int, ...] | None:
    """The axes of ``a`` from the slowest to the fastest varying when ``a`` is a
    permutation of a C-contiguous array that is not itself C-contiguous; else None."""
    if a.flags.c_contiguous or a.ndim < 2 or 0 in a.strides:
        return None
    order = tuple(int(i) for i in np.argsort([-st for st in a.strides], kind="stable"))
    return order if a.transpose(order).flags.c_contiguous else None


def laid_out_matmul(a: Tensor, b: Tensor, like: Tensor) -> Tensor:
    """``a @ b`` stored as ``like`` is (when the product has its shape and ``like`` is a
    permuted view, e.g. heads split off a projection): its gradient then reaches the
    projection as a contiguous array."""
    order = memory_order(like.data)
    if order is None or a.ndim < 2 or b.ndim < 2:
        return matmul(a, b)
    shape = (*np.broadcast_shapes(a.shape[:-2], b.shape[:-2]), a.shape[-2], b.shape[-1])
    if shape != tuple(like.shape):
        return matmul(a, b)
    return _LaidOutMatMul.apply(a, b, order=order)
