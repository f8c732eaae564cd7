"""Third derivatives through the linear shape, index, scatter and window ops, against torch.

These ops get their derivatives from an *adjoint pair*: the vjp of an op is another op
applied to the upstream gradient (getitem ↔ index-add into zeros, gather ↔ scatter-add,
diagonal ↔ diagonal-scatter, unfold ↔ fold, im2col ↔ col2im, flip ↔ flip ...), whose own
vjp is the first op again. A third derivative walks that pair twice, so every adjoint is
used both as a recorded vjp and as a differentiated op.

For ``f(x_1 … x_n) = Σ w · op(x)³`` (the cube keeps the third derivative nonzero) and
fixed random directions d, e:

    g_i = ∂f/∂x_i,   h_i = ∂⟨g, d⟩/∂x_i,   t_i = ∂⟨h, e⟩/∂x_i

are compared with torch's (float64, nested ``torch.autograd.grad``). The scatter with a
``src`` larger than ``index`` (torch has no gradient there) is checked against finite
differences instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import Tensor

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _i(M, values):
    return M.tensor(values)


# name -> (op(M, F, *inputs), input shapes); M is tinygrad_opt or torch, F its functional
CASES: dict[str, tuple[Callable, list[tuple[int, ...]]]] = {
    "getitem_basic": (lambda M, F, x: x[1:, ::2, -1], [(3, 4, 5)]),
    "getitem_repeats": (lambda M, F, x: x[[0, 2, 0, 0]], [(3, 4)]),
    "getitem_int_and_array": (lambda M, F, x: x[1, :, _i(M, [3, 3, 0])], [(3, 4, 5)]),
    "getitem_two_arrays": (lambda M, F, x: x[_i(M, [[0, 2], [2, 2]]), _i(M, [1, 1])], [(3, 4)]),
    "getitem_mask": (lambda M, F, x: x[x > 0.2], [(3, 4)]),
    "getitem_none_ellipsis": (lambda M, F, x: x[None, ..., 1], [(2, 3, 4)]),
    "setitem_int_array": (
        lambda M, F, x, v: _setitem(x, (_i(M, [2, 0]),), v),
        [(3, 4), (2, 4)],
    ),
    "setitem_mask_broadcast": (
        lambda M, F, x, v: _setitem(x, x < 0, v[0, 0] * 2),
        [(3, 4), (1, 1)],
    ),
    "index_put_accumulate": (
        lambda M, F, x, v: x.index_put((_i(M, [0, 2, 0]), _i(M, [1, 1, 1])), v, accumulate=True),
        [(3, 4), (3,)],
    ),
    "index_add": (lambda M, F, x, s: x.index_add(1, _i(M, [3, 0, 3]), s), [(2, 4), (2, 3)]),
    "index_copy": (lambda M, F, x, s: x.index_copy(0, _i(M, [2, 0]), s), [(3, 4), (2, 4)]),
    "index_select": (lambda M, F, x: x.index_select(1, _i(M, [3, 0, 3])), [(2, 4)]),
    "take": (lambda M, F, x: M.take(x, _i(M, [[5, 0], [5, -1]])), [(3, 4)]),
    "take_along_dim": (
        lambda M, F, x: M.take_along_dim(x, _i(M, [[0, 0], [2, 1]]), 1),
        [(2, 3)],
    ),
    "masked_select": (lambda M, F, x: x.masked_select(x > 0), [(3, 4)]),
    "gather": (lambda M, F, x: x.gather(1, _i(M, [[0, 0, 2], [1, 2, 1]])), [(2, 3)]),
    "scatter": (
        lambda M, F, x, s: x.scatter(0, _i(M, [[2, 0, 1], [0, 1, 2]]), s),
        [(3, 3), (2, 3)],
    ),
    "scatter_add": (
        lambda M, F, x, s: x.scatter_add(0, _i(M, [[2, 0, 2], [2, 1, 2]]), s),
        [(3, 3), (2, 3)],
    ),
    "scatter_reduce_mean": (
        lambda M, F, x, s: x.scatter_reduce(0, _i(M, [[2, 0, 2], [2, 1, 2]]), s, "mean"),
        [(3, 3), (2, 3)],
    ),
    "scatter_reduce_amax_noself": (
        lambda M, F, x, s: x.scatter_reduce(
            0, _i(M, [[2, 0, 2], [1, 1, 2]]), s, "amax", include_self=False
        ),
        [(3, 3), (2, 3)],
    ),
    "scatter_reduce_amax_ties": (  # src repeated, and self equal to src: shared maxima
        lambda M, F, x, s: M.cat([s, x[:1]]).scatter_reduce(
            0, _i(M, [[1, 0, 1], [1, 1, 0], [1, 0, 1]]), M.cat([s, s, x[:1]]), "amax"
        ),
        [(1, 3), (1, 3)],
    ),
    "scatter_reduce_amin_ties_noself": (
        lambda M, F, x, s: x.scatter_reduce(
            1, _i(M, [[0, 0, 2, 2]]), M.cat([s, s], 1), "amin", include_self=False
        ),
        [(1, 3), (1, 2)],
    ),
    "scatter_reduce_prod": (
        lambda M, F, x, s: x.scatter_reduce(1, _i(M, [[0, 0, 2], [1, 1, 1]]), s, "prod"),
        [(2, 3), (2, 3)],
    ),
    "scatter_reduce_prod_noself": (
        lambda M, F, x, s: x.scatter_reduce(
            1, _i(M, [[0, 0, 2], [1, 1, 1]]), s, "prod", include_self=False
        ),
        [(2, 3), (2, 3)],
    ),
    "cat_stack": (
        lambda M, F, x, y: M.stack([M.cat([x, y], 1), M.cat([y, x], 1)], -1),
        [(2, 3), (2, 3)],
    ),
    "split_chunk_unbind": (
        lambda M, F, x: M.cat(
            [
                x.split([1, 3], 1)[1].sum(1),
                x.chunk(2, 0)[0].reshape(-1),
                x.unbind(1)[2],
                x.narrow(1, 1, 2).reshape(-1),
                x.select(0, -1),
            ]
        ),
        [(3, 4)],
    ),
    "flip_roll_rot90": (
        lambda M, F, x: M.rot90(x.flip(0).roll((1, -2), (0, 1)), 1, (1, 0)),
        [(3, 4)],
    ),
    "tril_triu": (lambda M, F, x: x.tril(1) * 2 + x.triu(-1), [(2, 3, 4)]),
    "diagonal": (lambda M, F, x: x.diagonal(1, 0, 2), [(3, 2, 4)]),
    "diag_embed": (lambda M, F, x: M.diag_embed(x, -1, 0, 2), [(2, 3)]),
    "diag_both_ways": (
        lambda M, F, x: M.diag(M.diag(x[0], 1), 1) * x[1] + M.diag(x, 1).sum(),
        [(2, 3)],
    ),
    "repeat_tile_interleave": (
        lambda M, F, x: (
            x.repeat(2, 1, 1).sum(0) + x.tile((1, 2))[:, :3] + x.repeat_interleave(2, 1)[:, ::2]
        ),
        [(2, 3)],
    ),
    "tensor_unfold": (lambda M, F, x: x.unfold(1, 3, 2), [(2, 7)]),
    "tensor_unfold_wide_windows": (lambda M, F, x: x.unfold(0, 4, 1), [(5, 2)]),
    "im2col": (
        lambda M, F, x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        [(1, 2, 4, 5)],
    ),
    "col2im": (lambda M, F, c: F.fold(c, (4, 5), (2, 2), stride=1), [(1, 8, 12)]),
    "pad_modes": (
        lambda M, F, x: (
            F.pad(x, (2, 1), mode="reflect").sum(-1, keepdim=True)
            + F.pad(x, (1, 2), mode="replicate")[..., :4]
            + F.pad(x, (-1, 2), mode="circular")[..., :4]
            + F.pad(x, (1, -1), value=0.5)
        ),
        [(2, 2, 4)],
    ),
}


def _setitem(x, index, value):
    y = x * 1
    y[index] = value
    return y


def _derivatives(lib: str, name: str, arrays: list[np.ndarray], seed: int) -> list[list]:
    """[g, h, t] (lists of arrays, one per input) for ``Σ w · op(x)³``."""
    op, _ = CASES[name]
    rng = np.random.default_rng(seed)
    M, Fn, grad = (tg, F, tg.autograd.grad) if lib == "tg" else (torch, TF, torch.autograd.grad)
    wrap = Tensor if lib == "tg" else torch.tensor
    xs = [wrap(a.copy(), requires_grad=True) for a in arrays]
    out = op(M, Fn, *xs)
    w = rng.standard_normal(tuple(out.shape))
    f = (out**3 * wrap(w)).sum()
    levels = []
    for order in range(3):
        last = order == 2
        gs = grad(f, xs, create_graph=not last, allow_unused=True)
        levels.append(
            [np.zeros(a.shape) if g is None else np.array(_data(g)) for g, a in zip(gs, arrays)]
        )
        if not last:  # (a direction for every input, used or not: the same draws in both)
            ds = [wrap(rng.standard_normal(a.shape)) for a in arrays]
            f = sum((g * d).sum() for g, d in zip(gs, ds) if g is not None)
    return levels


def _data(t):
    return t.detach().numpy() if hasattr(t, "detach") and not isinstance(t, Tensor) else t.data


@pytest.mark.parametrize("name", sorted(CASES))
def test_third_order_matches_torch(name):
    _, shapes = CASES[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = _derivatives("tg", name, arrays, seed=1)
    theirs = _derivatives("torch", name, arrays, seed=1)
    for order, (a_level, b_level) in enumerate(zip(ours, theirs), start=1):
        for i, (a, b) in enumerate(zip(a_level, b_level)):
            np.testing.assert_allclose(
                a, b, rtol=1e-10, atol=1e-10, err_msg=f"{name}: order {order}, input {i}"
            )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 4),
    m=st.integers(1, 4),
    dim=st.integers(0, 1),
    data=st.data(),
)
def test_third_order_gather_scatter_add_drawn(n, m, dim, data):
    """gather then scatter_add with drawn shapes and (repeating) indices, three orders."""
    size = (n, m)[dim]
    k = data.draw(st.integers(1, 5), label="picks along dim")
    shape = (k, m) if dim == 0 else (n, k)
    index = np.asarray(
        data.draw(
            st.lists(
                st.integers(0, size - 1), min_size=k * shape[1 - dim], max_size=k * shape[1 - dim]
            ),
            label="index",
        )  # fmt: skip
    ).reshape(shape if dim == 0 else (shape[1], shape[0]))
    index = index if dim == 0 else index.T
    rng = np.random.default_rng(n * 31 + m * 7 + dim)
    x, s = rng.standard_normal((n, m)), rng.standard_normal(shape)

    def op(M, F, x, s):
        i = M.tensor(np.ascontiguousarray(index))
        return x.scatter_add(dim, i, s * x.gather(dim, i))

    CASES["_drawn"] = (op, [(n, m), shape])
    try:
        ours = _derivatives("tg", "_drawn", [x, s], seed=2)
        theirs = _derivatives("torch", "_drawn", [x, s], seed=2)
    finally:
        del CASES["_drawn"]
    for order, (a_level, b_level) in enumerate(zip(ours, theirs), start=1):
        for a, b in zip(a_level, b_level):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"order {order}")


@pytest.mark.parametrize("reduce", [None, "sum", "mean", "amax", "prod"])
def test_scatter_src_larger_than_index_second_order_by_finite_differences(reduce):
    """Only the index-shaped block of ``src`` is read, the rest gets zero gradient (torch
    cannot differentiate this case): ∇⟨∇f, d⟩ along a direction e against central
    differences of the first-order gradient."""
    # (no repeated place for the plain scatter: there the last write wins, yet every src
    # element gets its gradient, as torch, which finite differences do not see)
    index = np.array([[2, 0, 1], [0, 1, 2]] if reduce is None else [[2, 0, 1], [0, 0, 2]])
    rng = np.random.default_rng(5)
    x0, s0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 5))
    w = rng.standard_normal((3, 4))
    d = [rng.standard_normal((3, 4)), rng.standard_normal((2, 5))]
    e = [rng.standard_normal((3, 4)), rng.standard_normal((2, 5))]

    def f(x, s):
        i = Tensor(index)
        out = x.scatter(0, i, s) if reduce is None else x.scatter_reduce(0, i, s, reduce)
        return (out**3 * Tensor(w)).sum()

    def first(x0, s0, create_graph=False):
        x, s = Tensor(x0, requires_grad=True), Tensor(s0, requires_grad=True)
        return x, s, tg.autograd.grad(f(x, s), [x, s], create_graph=create_graph)

    x, s, gs = first(x0, s0, create_graph=True)
    inner = sum((g * Tensor(di)).sum() for g, di in zip(gs, d))
    hx, hs = tg.autograd.grad(inner, [x, s])
    analytic = float(np.sum(np.asarray(hx.data) * e[0]) + np.sum(np.asarray(hs.data) * e[1]))
    eps = 1e-6

    def inner_at(t):
        _, _, g = first(x0 + t * e[0], s0 + t * e[1])
        return sum(float(np.sum(np.asarray(gi.data) * di)) for gi, di in zip(g, d))

    numeric = (inner_at(eps) - inner_at(-eps)) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-6 * (1 + abs(numeric))
    assert np.all(np.asarray(hs.data)[:, 3:] == 0)  # the unread columns of src


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_two_zeros_in_a_place_refuses_a_second_derivative(include_self):
    """Two zeros of ``src`` in one place: the recorded first derivative is right (and
    torch's), its derivative is refused with torch's message."""
    x0 = np.array([[1.5, -2.0, 0.5]])
    s0 = np.array([[0.0, 3.0, 0.0, 2.0]])  # the zeros both go to place 1
    index = [[1, 1, 1, 2]]
    xs = [Tensor(x0, requires_grad=True), Tensor(s0, requires_grad=True)]
    ts = [torch.tensor(x0, requires_grad=True), torch.tensor(s0, requires_grad=True)]
    outs = [
        x.scatter_reduce(1, M.tensor(index), s, "prod", include_self=include_self)
        for M, (x, s) in ((tg, xs), (torch, ts))
    ]
    ours = tg.autograd.grad((outs[0] ** 2).sum(), xs, create_graph=True)
    theirs = torch.autograd.grad((outs[1] ** 2).sum(), ts, create_graph=True)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-12)
    message = "Double backward is unsupported for src when >1 zeros in src"
    with pytest.raises(RuntimeError, match=message):
        torch.autograd.grad(theirs[1].sum(), ts)
    with pytest.raises(RuntimeError, match=message):
        tg.autograd.grad(ours[1].sum(), xs)
    with pytest.raises(RuntimeError, match=message):
        tg.autograd.grad(ours[1].sum(), xs, create_graph=True)
