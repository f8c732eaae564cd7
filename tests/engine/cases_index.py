# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for indexing: ``x[index]`` with every kind of index part (and
torch's int-first rule), ``x[index] = v`` with gradients to ``v`` and to the elements
kept, ``index_put_``, masked_select, nonzero, take, take_along_dim, one_hot.

Index tensors are written inside the expressions (``M.tensor([...])`` with ``M`` the
library), so ours and theirs are the same code. Fixture:
``tests/fixtures/ops_index.npz`` (``python scripts/make_op_fixtures.py index``).
"""

from __future__ import annotations

from cases_shape import both, method

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

# (name, index builder) for a (3, 4, 5) tensor; L = [1, 2], T0 = the 0-d tensor 1
_L = lambda M: M.tensor([1, 2])  # noqa: E731
_L2 = lambda M: M.tensor([[0, 1], [1, 2]])  # noqa: E731
_M3 = lambda M: M.tensor([True, False, True])  # noqa: E731
_M4 = lambda M: M.tensor([True, False, True, True])  # noqa: E731
_S = slice(None)
E = Ellipsis

GETITEM = [
    ("plain_int", lambda M: 1),
    ("neg_int", lambda M: -1),
    ("slice_step", lambda M: (slice(None, None, 2), slice(1, None))),
    ("none_ellipsis", lambda M: (None, E, 0)),
    ("int_slice_L", lambda M: (0, _S, _L(M))),
    ("L_slice_int", lambda M: (_L(M), _S, 0)),
    ("int_L", lambda M: (0, _L(M))),
    ("slice_int_L", lambda M: (_S, 0, _L(M))),
    ("L_int_L", lambda M: (_L(M), 0, _L(M))),
    ("none_L_slice_int", lambda M: (None, _L(M), _S, 0)),
    ("L_none_L", lambda M: (_L(M), None, _L(M))),
    ("int_none_L", lambda M: (0, None, _L(M))),
    ("ellipsis_int_L", lambda M: (E, 0, _L(M))),
    ("L_ellipsis_int", lambda M: (_L(M), E, 0)),
    ("T0_slice_L", lambda M: (M.tensor(1), _S, _L(M))),
    ("T0", lambda M: M.tensor(2)),
    ("T0_L", lambda M: (M.tensor(0), _L(M))),
    ("L_slice_T0", lambda M: (_L(M), _S, M.tensor(1))),
    ("true_L", lambda M: (True, _L(M))),
    ("int_true_slice_L", lambda M: (0, True, _S, _L(M))),
    ("L2d_slice_int", lambda M: (_L2(M), _S, 0)),
    ("int_L2d_L", lambda M: (0, _L2(M), _L(M))),
    ("mask_slice_int", lambda M: (_M3(M), _S, 1)),
    ("int_mask_L", lambda M: (1, _M4(M), M.tensor([0, 1, 2]))),
    ("slice_mask_int", lambda M: (_S, M.tensor([True, False, True, False]), 1)),
    ("int_slice_none_L", lambda M: (0, _S, None, _L(M))),
    ("L_slice_none_int", lambda M: (_L(M), _S, None, 0)),
    ("L_range_L", lambda M: (_L(M), slice(1, 3), _L(M))),
    ("int_int_L", lambda M: (1, 2, _L(M))),
    ("L_L_int", lambda M: (_L(M), _L(M), 0)),
    ("ellipsis_L", lambda M: (E, _L(M))),
    ("none_ellipsis_L_int", lambda M: (None, E, _L(M), 0)),
    ("false", lambda M: False),
    ("list", lambda M: [0, 2, 2]),
    ("list_in_tuple", lambda M: (_S, [3, 0], 1)),
    ("mask_2d", lambda M: M.tensor([[True, False, True, False]] * 3)),
    ("int_mask_2d", lambda M: (0, M.tensor([[True, False] * 2 + [True]] * 4))),
    ("neg_L", lambda M: M.tensor([-1, 0, -3])),
    ("int32_L", lambda M: (_S, M.tensor([3, 1], dtype=M.int32))),
    ("empty_list", lambda M: []),
    ("repeated_L", lambda M: (M.tensor([0, 0, 2, 0]), _S, M.tensor([1, 1, 1, 4]))),
]

SETITEM = [
    # (name, index builder, value shape or None for the number 2.5)
    ("int", lambda M: 1, (4, 5)),
    ("int_bcast", lambda M: 1, (5,)),
    ("slice", lambda M: (_S, slice(1, 3)), (3, 2, 5)),
    ("slice_number", lambda M: (_S, slice(1, 3)), None),
    ("mask", lambda M: _M3(M), (2, 4, 5)),
    ("mask_bcast", lambda M: _M3(M), (5,)),
    ("mask_number", lambda M: _M3(M), None),
    ("mask_2d", lambda M: M.tensor([[True, False, True, False]] * 3), (6, 5)),
    ("L", lambda M: _L(M), (2, 4, 5)),
    ("L_L", lambda M: (_L(M), _L(M)), (2, 5)),
    ("int_slice_L", lambda M: (0, _S, _L(M)), (4, 2)),
    ("L_slice_int", lambda M: (_L(M), _S, 0), (2, 4)),
    ("slice_int_L", lambda M: (_S, 0, _L(M)), (3, 2)),
    ("int_L_number", lambda M: (2, _L(M)), None),
    ("none_ellipsis_int", lambda M: (None, E, 0), (1, 3, 4)),
    ("T0_L", lambda M: (M.tensor(0), _L(M)), (5,)),
    ("mask_int", lambda M: (_M3(M), 1), (2, 5)),
]


def _getitem_case(name, build):
    return both(f"getitem_{name}", lambda M, x: x[build(M)], [(3, 4, 5)])


def _setitem(M, x, v, build):
    y = x.clone()
    y[build(M)] = 2.5 if v is None else v
    return y


def _setitem_case(name, build, vshape):
    if vshape is None:
        return both(f"setitem_{name}", lambda M, x: _setitem(M, x, None, build), [(3, 4, 5)])
    return both(f"setitem_{name}", lambda M, x, v: _setitem(M, x, v, build), [(3, 4, 5), vshape])


def _index_put(M, x, v, accumulate):
    y = x.clone()
    y.index_put_((M.tensor([0, 2, 0]), M.tensor([1, 1, 1])), v, accumulate=accumulate)
    return y


CASES = [
    both(
        "masked_scatter",
        lambda M, x, m, s: x.masked_scatter(m, s),
        [(3, 4), ((3, 4), "bool"), (13,)],
    ),
    both(
        "masked_scatter_bcast",
        lambda M, x, m, s: M.masked_scatter(x, m, s),
        [(4,), ((2, 4), "bool"), (3, 4)],
    ),
    both(
        "masked_scatter_inplace",
        lambda M, x, m, s: x.clone().masked_scatter_(m, s),
        [(3, 4), ((4,), "bool"), (12,)],
    ),
    both("put", lambda M, x, s: x.put(M.tensor([0, 5, -1]), s), [(3, 4), (3,)]),
    both(
        "put_accumulate",
        lambda M, x, s: M.put(x, M.tensor([[0, 5], [0, 0]]), s, accumulate=True),
        [(3, 4), (2, 2)],
    ),
    both(
        "put_inplace_long",
        lambda M, x, s: x.clone().put_(M.tensor([1, 2]), s),
        [((3, 4), "long5"), ((2,), "long5")],
    ),
    both("masked_fill_2d", lambda M, x, m: x.masked_fill(m, -1.5), [(3, 4), ((3, 4), "bool")]),
    both("masked_fill_bcast", lambda M, x, m: M.masked_fill(x, m, 2), [(3, 4), ((4,), "bool")]),
    both(
        "masked_fill_bcast_input", lambda M, x, m: x.masked_fill(m, 2.0), [(4,), ((2, 4), "bool")]
    ),
    both(
        "masked_fill_tensor_value",
        lambda M, x, m, v: x.masked_fill(m, v),
        [(3, 4), ((3, 1), "bool"), ()],
    ),
    both(
        "masked_fill_long",
        lambda M, x, m: x.masked_fill(m, 2.7),
        [((3, 4), "long5"), ((3, 4), "bool")],
    ),
    both(
        "masked_fill_inplace",
        lambda M, x, m: x.clone().masked_fill_(m, 0.0),
        [(3, 4), ((4,), "bool")],
    ),
    *(_getitem_case(n, b) for n, b in GETITEM),
    both("getitem_long_input", lambda M, x: x[M.tensor([1, 0]), 1:], [((3, 4), "long5")]),
    both("getitem_bool_input", lambda M, x: x[..., M.tensor([2, 0])], [((3, 4), "bool")]),
    both("getitem_mask_from_compare", lambda M, x: x[x > 0], [(3, 4)]),
    both("getitem_0d_mask", lambda M, x: x[M.tensor(True)], [(2, 3)]),
    *(_setitem_case(n, b, v) for n, b, v in SETITEM),
    both(
        "setitem_long",
        lambda M, x: _setitem(M, x.long() if hasattr(x, "long") else x, None, lambda M: (0, _L(M))),
        [((3, 4), "long5")],
    ),
    both(
        "setitem_float_into_long",
        lambda M, x, v: _setitem(M, x, v.long(), lambda M: _L(M)),
        [((3, 4), "long5"), (4,)],
    ),
    both(
        "setitem_repeated",
        lambda M, x, v: _setitem(M, x, v, lambda M: M.tensor([1, 1])),
        [(3, 4), (2, 4)],
    ),
    both("index_put_", lambda M, x, v: _index_put(M, x, v, False), [(3, 4), (3,)]),
    both("index_put_accumulate", lambda M, x, v: _index_put(M, x, v, True), [(3, 4), (3,)]),
    both("index_put_accumulate_bcast", lambda M, x, v: _index_put(M, x, v, True), [(3, 4), ()]),
    both(
        "index_put_out_of_place",
        lambda M, x, v: x.index_put((M.tensor([True, False, True]),), v),
        [(3, 4), (4,)],
    ),
    both(
        "index_put_fn_accumulate",
        lambda M, x, v: M.index_put(x, (M.tensor([1, 1]), M.tensor([0, 0])), v, True),
        [(3, 4), (2,)],
    ),
    # masked_select / nonzero / argwhere / take / take_along_dim / one_hot
    both("masked_select", lambda M, x, m: x.masked_select(m), [(3, 4), ((3, 4), "bool")]),
    both("masked_select_bcast", lambda M, x, m: M.masked_select(x, m), [(4,), ((3, 4), "bool")]),
    both(
        "masked_select_bcast_input", lambda M, x, m: x.masked_select(m), [(3, 1), ((3, 4), "bool")]
    ),
    both("nonzero", lambda M, x: x.nonzero(), [((3, 4), "int")], grad=False),
    both("nonzero_bool_3d", lambda M, x: M.nonzero(x), [((2, 3, 2), "bool")]),
    both("nonzero_tuple", lambda M, x: x.nonzero(as_tuple=True), [((3, 4), "int")], grad=False),
    both("nonzero_0d", lambda M, x: x.nonzero(), [((), "bool")]),
    both("nonzero_0d_tuple", lambda M, x: M.nonzero(x, as_tuple=True), [((), "long5")]),
    both("nonzero_empty", lambda M, x: x.nonzero(), [((0, 3), "bool")]),
    both("argwhere", lambda M, x: M.argwhere(x), [((3, 4), "slong")]),
    both("take", lambda M, x, i: x.take(i), [(3, 4), ((2, 3), "long5")]),
    both("take_neg", lambda M, x: M.take(x, M.tensor([-1, 0, -12, 5])), [(3, 4)]),
    both("take_along_dim", lambda M, x, i: x.take_along_dim(i, 1), [(3, 4), ((3, 2), "long4")]),
    both(
        "take_along_dim_bcast",
        lambda M, x, i: M.take_along_dim(x, i, 0),
        [(3, 1, 4), ((2, 5, 1), "long3")],
    ),
    both("take_along_dim_flat", lambda M, x, i: M.take_along_dim(x, i), [(3, 4), ((5,), "long5")]),
    both(
        "take_along_dim_argsort_like",
        lambda M, x: x.take_along_dim(M.tensor([[1, 0, 2, 3]] * 3), -1),
        [(3, 4)],
    ),
    both("one_hot", lambda M, i: M.F.one_hot(i), [((5,), "long4")]),
    both("one_hot_classes", lambda M, i: M.F.one_hot(i, 6), [((2, 3), "long4")]),
    both("one_hot_empty", lambda M: M.F.one_hot(M.zeros(0, dtype=M.int64), 3), []),
    both("one_hot_0d", lambda M: M.F.one_hot(M.tensor(2), 4), []),
]

_ = method
