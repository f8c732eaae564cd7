"""Shape, rearrange, window and pad ops beyond the table: errors (torch's classes and
words), finite-difference gradients, and hypothesis-drawn arguments against torch."""

from __future__ import annotations

import numpy as np
import pytest
from cases_shape import _ours, _theirs
from error_table import check_ours, check_torch_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from optable import compare, make_array, run_ours, run_torch, upstreams

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import DimError, ShapeError, Tensor, gradcheck

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _z(M, *shape):
    return M.zeros(*shape)


# (name, thunk(M), our exception class, words in our message)
ERRORS = [
    ("hsplit_divide", lambda M: _z(M, 2, 5).hsplit(2), ShapeError, ["not divisible", "5"]),
    ("vsplit_1d", lambda M: _z(M, 4).vsplit(2), ShapeError, ["at least 2 dimension"]),
    ("dsplit_2d", lambda M: _z(M, 2, 4).dsplit(1), ShapeError, ["at least 3 dimension"]),
    ("view_two_unknown", lambda M: _z(M, 6).view(-1, -1), ShapeError, ["only one dimension"]),
    ("view_bad_count", lambda M: _z(M, 2, 3).view(4, 2), ShapeError, ["view", "[4, 2]", "6"]),
    ("view_negative", lambda M: _z(M, 6).view(-2, 3), ShapeError, ["invalid shape dimension -2"]),
    ("reshape_ambiguous", lambda M: _z(M, 2, 0).reshape(0, -1), ShapeError, ["ambiguous"]),
    ("unflatten_count", lambda M: _z(M, 6).unflatten(0, (2, 2)), ShapeError, ["(6)", "[2, 2]"]),
    ("unflatten_empty", lambda M: _z(M, 6).unflatten(0, ()), ShapeError, ["non-empty"]),
    ("unflatten_two_unknown", lambda M: _z(M, 6).unflatten(0, (-1, -1)), ShapeError, ["one"]),
    ("movedim_count", lambda M: _z(M, 2, 3).movedim((0, 1), (0,)), ShapeError, ["same number"]),
    ("movedim_repeat", lambda M: _z(M, 2, 3).movedim((0, 0), (0, 1)), ShapeError, ["repeated"]),
    ("movedim_range", lambda M: _z(M, 2, 3).movedim(0, 2), DimError, ["out of range"]),
    ("repeat_fewer", lambda M: _z(M, 2, 3).repeat(2), ShapeError, ["can not be smaller"]),
    ("repeat_negative", lambda M: _z(M, 2, 3).repeat(1, -1), ShapeError, ["negative dimension"]),
    ("split_zero", lambda M: _z(M, 6).split(0), ShapeError, ["split_size can only be 0"]),
    ("split_negative", lambda M: _z(M, 6).split(-1), ShapeError, ["non-negative"]),
    ("split_sum", lambda M: _z(M, 6).split([2, 3]), ShapeError, ["sum exactly to 6", "[2, 3]"]),
    ("split_negative_size", lambda M: _z(M, 6).split([7, -1]), ShapeError, ["non-negative"]),
    ("split_0d", lambda M: M.tensor(1.0).split(1), ShapeError, ["1-dimensional"]),
    ("chunk_zero", lambda M: _z(M, 6).chunk(0), ShapeError, ["greater than 0", "0"]),
    ("chunk_0d", lambda M: M.tensor(1.0).chunk(2), ShapeError, ["1-dimensional"]),
    ("tensor_split_0d", lambda M: M.tensor(1.0).tensor_split(2), ShapeError, ["1-dimensional"]),
    ("unbind_0d", lambda M: M.tensor(1.0).unbind(0), DimError, ["no dimensions"]),
    ("unbind_dim", lambda M: _z(M, 2).unbind(1), DimError, ["out of range"]),
    ("flip_repeat", lambda M: _z(M, 2, 3).flip(0, -2), ShapeError, ["appears multiple times"]),
    ("fliplr_1d", lambda M: _z(M, 3).fliplr(), ShapeError, [">= 2-d"]),
    ("roll_align", lambda M: _z(M, 6).roll((1, 2), 0), ShapeError, ["must align"]),
    ("roll_no_dims", lambda M: _z(M, 6).roll((1, 2)), ShapeError, ["must align"]),
    ("roll_0d", lambda M: M.tensor(1.0).roll(1, 0), DimError, ["no dimensions"]),
    ("rot90_1d", lambda M: _z(M, 3).rot90(), ShapeError, ["total dims >= 2"]),
    ("rot90_same", lambda M: _z(M, 2, 3).rot90(1, (0, 0)), ShapeError, ["different"]),
    ("rot90_three", lambda M: _z(M, 2, 3).rot90(1, (0, 1, 1)), ShapeError, ["== 2"]),
    ("tril_1d", lambda M: _z(M, 3).tril(), ShapeError, ["tril", "at least 2 dimensions"]),
    ("triu_0d", lambda M: M.tensor(1.0).triu(), ShapeError, ["triu", "at least 2"]),
    ("diag_3d", lambda M: _z(M, 2, 2, 2).diag(), ShapeError, ["1D or 2D", "3D"]),
    ("diagonal_same", lambda M: _z(M, 2, 3).diagonal(0, 1, 1), ShapeError, ["identical"]),
    ("diagonal_range", lambda M: _z(M, 2, 3).diagonal(0, 0, 2), DimError, ["out of range"]),
    ("narrow_start", lambda M: _z(M, 6).narrow(0, 7, 1), DimError, ["start out of range"]),
    ("narrow_long", lambda M: _z(M, 6).narrow(0, 2, 5), ShapeError, ["exceeds dimension size"]),
    ("narrow_negative", lambda M: _z(M, 6).narrow(0, 2, -1), ShapeError, ["non-negative"]),
    ("narrow_0d", lambda M: M.tensor(1.0).narrow(0, 0, 1), DimError, ["0-dim"]),
    ("select_range", lambda M: _z(M, 3, 4).select(1, 4), DimError, ["index 4", "[3, 4]"]),
    ("select_0d", lambda M: M.tensor(1.0).select(0, 0), DimError, ["0-dim"]),
    (
        "broadcast_bad",
        lambda M: M.broadcast_tensors(_z(M, 3), _z(M, 2, 4)),
        ShapeError,
        ["(3)", "(4)"],
    ),
    ("broadcast_to_bad", lambda M: _z(M, 3).broadcast_to((2, 4)), ShapeError, ["(3)", "(4)"]),
    ("t_3d", lambda M: _z(M, 2, 3, 4).t(), ShapeError, ["<= 2 dimensions"]),
    ("mT_1d", lambda M: _z(M, 3).mT, ShapeError, ["matrices"]),
    ("unfold_size", lambda M: _z(M, 3).unfold(0, 4, 1), ShapeError, ["maximum size", "4"]),
    ("unfold_step", lambda M: _z(M, 3).unfold(0, 2, 0), ShapeError, ["step is 0"]),
    ("unfold_dim", lambda M: _z(M, 3).unfold(1, 2, 1), DimError, ["out of range"]),
    ("ri_negative", lambda M: _z(M, 3).repeat_interleave(-1), ShapeError, ["non-negative"]),
    ("ri_size", lambda M: _z(M, 3).repeat_interleave(M.tensor([1, 2])), ShapeError, ["size"]),
    (
        "ri_2d",
        lambda M: _z(M, 2).repeat_interleave(M.tensor([[1, 2]]), 0),
        ShapeError,
        ["0-dim or 1-dim"],
    ),
    (
        "ri_neg_tensor",
        lambda M: _z(M, 2).repeat_interleave(M.tensor([1, -1]), 0),
        ShapeError,
        ["negative"],
    ),
    ("ri_0d_dim", lambda M: M.tensor(1.0).repeat_interleave(2, dim=0), DimError, ["0-d"]),
    ("stack_mismatch", lambda M: M.stack([_z(M, 2), _z(M, 3)]), ShapeError, ["stack"]),
    # F.pad
    ("pad_odd", lambda M: M.F.pad(_z(M, 2, 3), (1,)), ShapeError, ["divisible by 2"]),
    ("pad_too_long", lambda M: M.F.pad(_z(M, 3), (1, 1, 1, 1)), ShapeError, ["padding length 4"]),
    ("pad_float", lambda M: M.F.pad(_z(M, 2, 3), (1.5, 1)), TypeError, ["tuple of ints"]),
    ("pad_mode", lambda M: M.F.pad(_z(M, 2, 3), (1, 1), mode="foo"), NotImplementedError, ["foo"]),  # noqa: E501
    ("pad_crop_too_much", lambda M: M.F.pad(_z(M, 1, 3), (-4, 2)), ShapeError, ["non-negative"]),
    (
        "pad_reflect_1d",
        lambda M: M.F.pad(_z(M, 3), (1, 1), mode="reflect"),
        NotImplementedError,
        ["Padding size 2", "1D"],
    ),
    (
        "pad_reflect_4d_one",
        lambda M: M.F.pad(_z(M, 1, 1, 2, 3), (1, 1), mode="replicate"),
        NotImplementedError,
        ["4D"],
    ),
    (
        "pad_circular_2d_two",
        lambda M: M.F.pad(_z(M, 2, 3), (1, 1, 1, 1), mode="circular"),
        NotImplementedError,
        ["Padding size 4"],
    ),
    (
        "pad_reflect_big",
        lambda M: M.F.pad(_z(M, 1, 3), (3, 3), mode="reflect"),
        ShapeError,
        ["less than", "(3, 3)"],
    ),
    (
        "pad_circular_big",
        lambda M: M.F.pad(_z(M, 1, 3), (4, 3), mode="circular"),
        ShapeError,
        ["wrapping around more than once"],
    ),
    (
        "pad_reflect_value",
        lambda M: M.F.pad(_z(M, 1, 3), (1, 1), mode="reflect", value=2.0),
        ShapeError,
        ["value"],
    ),
    (
        "pad_replicate_empty",
        lambda M: M.F.pad(_z(M, 1, 0), (1, 1), mode="replicate"),
        ShapeError,
        ["small"],
    ),
    (
        "pad_reflect_to_nothing",
        lambda M: M.F.pad(_z(M, 1, 3), (-2, -1), mode="reflect"),
        ShapeError,
        ["small"],
    ),
    # F.unfold / F.fold
    ("im2col_2d", lambda M: M.F.unfold(_z(M, 5, 6), 2), DimError, ["unfold", "3D or 4D"]),
    (
        "im2col_kernel",
        lambda M: M.F.unfold(_z(M, 1, 3, 5, 6), (2, 7)),
        ShapeError,
        ["at least one"],
    ),
    ("im2col_stride", lambda M: M.F.unfold(_z(M, 1, 3, 5, 6), 2, stride=0), ShapeError, ["stride"]),  # noqa: E501
    (
        "im2col_padding",
        lambda M: M.F.unfold(_z(M, 1, 3, 5, 6), 2, padding=-1),
        ShapeError,
        ["padding"],
    ),
    (
        "col2im_blocks",
        lambda M: M.F.fold(_z(M, 1, 12, 21), (5, 6), 2),
        ShapeError,
        ["4 * 5 = 20", "21"],
    ),
    (
        "col2im_channels",
        lambda M: M.F.fold(_z(M, 1, 11, 20), (5, 6), 2),
        ShapeError,
        ["divisible", "11"],
    ),
]


@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_and_message(name, thunk, cls, words):
    check_ours(name, thunk, cls, words)


@pytest.mark.torch
@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_is_torchs(name, thunk, cls, words):
    check_torch_class(name, thunk)


# --------------------------------------------------------------------------- finite differences
def _x(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


GRADCHECKS = [
    ("diagonal", lambda t: t.diagonal(1, 2, 0), (3, 4, 5)),
    ("diag_embed", lambda t: tg.diag_embed(t, -1, 0, 2), (2, 3)),
    ("diag_2d", lambda t: t.diag(-1), (4, 3)),
    ("tril", lambda t: t.tril(1), (3, 4)),
    ("flip", lambda t: t.flip(0, 1), (2, 3)),
    ("roll", lambda t: t.roll((2, -1), (1, 0)), (3, 4)),
    ("repeat", lambda t: t.repeat(2, 1, 2), (2, 3)),
    ("repeat_interleave", lambda t: t.repeat_interleave(Tensor([2, 0, 1]), dim=1), (2, 3)),
    ("unfold_overlap", lambda t: t.unfold(1, 3, 1), (2, 5)),
    ("unfold_gaps", lambda t: t.unfold(0, 2, 3), (8, 2)),
    (
        "im2col",
        lambda t: F.unfold(t, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        (1, 2, 5, 6),
    ),
    ("col2im", lambda t: F.fold(t, (4, 5), 2, stride=1), (1, 8, 12)),
    ("pad_reflect", lambda t: F.pad(t, (2, 1, -1, 2), mode="reflect"), (1, 4, 3)),
    ("pad_replicate", lambda t: F.pad(t, (2, 1, 0, 3), mode="replicate"), (1, 1, 3, 2)),
    ("pad_circular", lambda t: F.pad(t, (2, 1, 1, -1), mode="circular"), (1, 3, 3)),
    ("pad_constant", lambda t: F.pad(t, (-1, 2, 1, 0), value=3.0), (3, 3)),
    ("split_chunk", lambda t: t.split([1, 2], 1)[1] * t.chunk(2, 0)[0].sum(), (2, 3)),
    ("narrow_select", lambda t: t.narrow(0, 1, 2).select(1, -1), (3, 4)),
]


@pytest.mark.parametrize("name, fn, shape", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_gradcheck(name, fn, shape):
    assert gradcheck(fn, [_x(*shape)])


# --------------------------------------------------------------------------- hypothesis vs torch
def _agree(name, ours, theirs, inputs):
    torch_outs, _ = run_torch(theirs, inputs, False, [])
    us = upstreams(0, torch_outs)
    outs, _, grads = run_ours(ours, inputs, True, us=us)
    ref_outs, ref_grads = run_torch(theirs, inputs, True, us)
    compare(name, outs, grads, ref_outs, ref_grads, 1e-10, 1e-12, "torch")


def _array(shape, seed):
    return make_array(np.random.default_rng(seed), shape, "real")


@pytest.mark.torch
@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_split_and_chunk_random(shape, data, seed):
    pytest.importorskip("torch")
    d = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[d]
    if n:
        size = data.draw(st.integers(1, n + 2))
    else:
        size = data.draw(st.integers(0, 2))
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, n])]
    chunks = data.draw(st.integers(1, 7))
    fns = [
        lambda t: t.split(size, d),
        lambda t: t.split(sizes, d),
        lambda t: t.chunk(chunks, d),
        lambda t: t.tensor_split(chunks, d),
    ]
    for k, f in enumerate(fns):
        _agree(f"split/chunk variant {k} of {shape} along {d}", f, f, [_array(shape, seed)])


@pytest.mark.torch
@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_roll_unfold_repeat_random(shape, data, seed):
    pytest.importorskip("torch")
    nd = len(shape)
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=3))
    shifts = data.draw(st.lists(st.integers(-7, 7), min_size=len(dims), max_size=len(dims)))
    d = data.draw(st.integers(-nd, nd - 1))
    size = data.draw(st.integers(0, shape[d]))
    step = data.draw(st.integers(1, 4))
    reps = data.draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd + 1))
    x = [_array(shape, seed)]
    _agree("roll", lambda t: t.roll(shifts, dims), lambda t: t.roll(shifts, dims), x)
    _agree("unfold", lambda t: t.unfold(d, size, step), lambda t: t.unfold(d, size, step), x)
    _agree("repeat", lambda t: t.repeat(*reps), lambda t: t.repeat(*reps), x)
    _agree("tile", lambda t: t.tile(reps[1:]), lambda t: t.tile(reps[1:]), x)


@pytest.mark.torch
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_pad_random(data, seed):
    pytest.importorskip("torch")
    mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    k = data.draw(st.integers(1, 3))
    nd = k + data.draw(st.integers(1, 2)) if mode != "constant" else data.draw(st.integers(k, 4))
    shape = tuple(data.draw(st.integers(2, 4)) for _ in range(nd))
    pads = []
    for i in range(k):
        n = shape[nd - 1 - i]
        lo_bound = -(n // 2) if mode != "constant" else -n
        hi_bound = n - 1 if mode != "circular" else n // 2
        lo = data.draw(st.integers(lo_bound, hi_bound))
        hi = data.draw(st.integers(lo_bound, hi_bound))
        if n + lo + hi < (0 if mode == "constant" else 1):
            lo = hi = 0
        if mode == "circular":  # torch wraps the cropped dim, at most once
            lo, hi = max(lo, 0), max(hi, 0)
        pads += [lo, hi]
    x = [_array(shape, seed)]
    value = 0.5 if mode == "constant" else None

    def f(M):
        return lambda t: M.F.pad(t, tuple(pads), mode=mode, value=value)

    _agree(f"pad {mode} {pads} of {shape}", f(_ours()), f(_theirs()), x)


# --------------------------------------------------------------------------- behaviour
def test_numpy_style_tensor_pad_still_works():
    x = _x(2, 3)
    out = x.pad(((1, 0), (0, 2)), value=3.0)
    expected = np.pad(x.data, ((1, 0), (0, 2)), constant_values=3.0)
    np.testing.assert_array_equal(out.data, expected)
    assert gradcheck(lambda t: t.pad(1, value=-1.0), [x])


def test_view_dtype_reinterprets_bytes():
    x = Tensor(np.array([1.0, -2.0], dtype=np.float32))
    as_int = x.view(np.int32)
    assert as_int.dtype == np.int32
    np.testing.assert_array_equal(as_int.data, x.data.view(np.int32))
    with pytest.raises(ShapeError, match="view"):
        Tensor(np.zeros(3, dtype=np.float32)).view(np.float64)


def test_split_pieces_cover_the_input_and_gradients_add_up():
    x = _x(5, 3)
    pieces = x.split(2)
    assert [p.shape for p in pieces] == [(2, 3), (2, 3), (1, 3)]
    sum(p.sum() * (i + 1) for i, p in enumerate(pieces)).backward()
    np.testing.assert_array_equal(x.grad[:, 0], [1, 1, 2, 2, 3])


def test_meshgrid_like_expand_results_are_broadcast_views_of_one_value():
    a = Tensor([1.0, 2.0], requires_grad=True)
    out = a.broadcast_to(3, 2)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_float_repeats_are_refused_as_torch_does():
    check_ours(
        "ri_float",
        lambda M: M.zeros(2).repeat_interleave(M.tensor([1.0, 2.0]), 0),
        NotImplementedError,
        ["integer"],
    )
