# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for gather/scatter along a dim: gather, scatter (src, value,
in place), scatter_add, scatter_reduce (every reduction, with and without self; ties
and zeros on purpose), index_select, index_add, index_copy, index_fill.

Fixture: ``tests/fixtures/ops_scatter.npz`` (``python scripts/make_op_fixtures.py scatter``).
"""

from __future__ import annotations

from cases_shape import both

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

# scatter indices without repeats along dim 0 (the written places are distinct)
_PERM = [[2, 0, 1, 2], [0, 1, 2, 0]]


def _reduce_fn(reduce, include_self):
    return lambda M, x, s, i: x.scatter_reduce(0, i, s, reduce, include_self=include_self)


CASES = [
    # gather
    both("gather_dim0", lambda M, x, i: x.gather(0, i), [(3, 4), ((2, 4), "long3")]),
    both("gather_dim1_small", lambda M, x, i: M.gather(x, 1, i), [(3, 4), ((2, 6), "long4")]),
    both("gather_neg_dim", lambda M, x, i: x.gather(-1, i), [(2, 3, 4), ((2, 3, 2), "long4")]),
    both(
        "gather_int32_index",
        lambda M, x: x.gather(1, M.tensor([[0, 0], [1, 0]], dtype=M.int32)),
        [(2, 3)],
    ),
    both(
        "gather_long_input", lambda M, x, i: x.gather(0, i), [((3, 4), "long5"), ((2, 4), "long3")]
    ),
    both("gather_empty", lambda M, x: x.gather(0, M.zeros(0, 2, dtype=M.int64)), [(3, 4)]),
    both("gather_0d", lambda M, x: x.gather(0, M.tensor(0)), [()]),
    # scatter / scatter_add / scatter_reduce
    both("scatter_src", lambda M, x, s: x.scatter(0, M.tensor(_PERM), s), [(3, 4), (2, 4)]),
    both(
        "scatter_src_bigger",
        lambda M, x, s: x.scatter(0, M.tensor(_PERM)[:, :3], s),
        [(3, 4), (2, 5)],
        grad=False,
    ),
    both("scatter_value", lambda M, x: x.scatter(1, M.tensor([[0], [2], [3]]), 1.5), [(3, 4)]),
    both(
        "scatter_fn_long",
        lambda M, x, s: M.scatter(x, 0, M.tensor(_PERM), s),
        [((3, 4), "long5"), ((2, 4), "long5")],
    ),
    both(
        "scatter_long_value_trunc",
        lambda M, x: x.scatter(0, M.tensor(_PERM), 5.7),
        [((3, 4), "long5")],
    ),
    both(
        "scatter_inplace",
        lambda M, x, s: x.clone().scatter_(1, M.tensor([[3, 0], [1, 2], [0, 3]]), s),
        [(3, 4), (3, 2)],
    ),
    both(
        "scatter_add",
        lambda M, x, s, i: x.scatter_add(0, i, s),
        [(3, 4), (5, 4), ((5, 4), "long3")],
    ),
    both(
        "scatter_add_fn_dim1",
        lambda M, x, s, i: M.scatter_add(x, 1, i, s),
        [(2, 3), (2, 4), ((2, 4), "long3")],
    ),
    both(
        "scatter_add_inplace_long",
        lambda M, x, s, i: x.clone().scatter_add_(0, i, s),
        [((3, 4), "long5"), ((5, 4), "long5"), ((5, 4), "long3")],
    ),
    *(
        both(
            f"scatter_reduce_{r}_{'self' if inc else 'noself'}",
            _reduce_fn(r, inc),
            [((3, 4), dom), ((5, 4), dom), ((5, 4), "long3")],
        )
        for r, dom in (
            ("sum", "real"),
            ("mean", "real"),
            ("amax", "int"),
            ("amin", "int"),
            ("prod", "int"),
        )
        for inc in (True, False)
    ),
    both(
        "scatter_reduce_prod_real",
        lambda M, x, s, i: M.scatter_reduce(x, 1, i, s, "prod"),
        [(2, 3), (2, 4), ((2, 4), "long3")],
    ),
    # amax/amin off ties (real data: the second derivative is smooth there, so finite
    # differences apply; the "int" cases above hold the ties)
    both(
        "scatter_reduce_amax_real",
        lambda M, x, s, i: x.scatter_reduce(1, i, s, "amax"),
        [(2, 3), (2, 5), ((2, 5), "long3")],
    ),
    both(
        "scatter_reduce_amin_real_noself",
        lambda M, x, s, i: x.scatter_reduce(0, i, s, "amin", include_self=False),
        [(3, 4), (5, 4), ((5, 4), "long3")],
    ),
    # prod with exact zeros: one in self, one src zero alone in its place, one sharing a
    # place with a zero of self (torch has no double backward for two src zeros per place)
    *(
        both(
            f"scatter_reduce_prod_zeros_{'self' if inc else 'noself'}",
            lambda M, x, s, inc=inc: (x * M.tensor([[1.0, 0, 1], [1, 1, 1]])).scatter_reduce(
                1,
                M.tensor([[0, 1, 1, 2], [2, 0, 2, 2]]),
                s * M.tensor([[1.0, 0, 1, 1], [1, 1, 0, 1]]),
                "prod",
                include_self=inc,
            ),
            [(2, 3), (2, 4)],
        )
        for inc in (True, False)
    ),
    both(
        "scatter_reduce_mean_long",
        lambda M, x, s, i: x.scatter_reduce(0, i, s, "mean"),
        [((3, 4), "long5"), ((5, 4), "long5"), ((5, 4), "long3")],
    ),
    both(
        "scatter_reduce_mean_long_noself",
        lambda M, x, s, i: x.scatter_reduce(0, i, s, "mean", include_self=False),
        [((3, 4), "slong"), ((5, 4), "slong"), ((5, 4), "long3")],
    ),
    both(
        "scatter_reduce_amax_long",
        lambda M, x, s, i: x.scatter_reduce(1, i, s, "amax", include_self=False),
        [((3, 4), "slong"), ((3, 5), "slong"), ((3, 5), "long4")],
    ),
    both(
        "scatter_reduce_inplace",
        lambda M, x, s, i: x.clone().scatter_reduce_(0, i, s, "amin"),
        [((3, 4), "int"), ((5, 4), "int"), ((5, 4), "long3")],
    ),
    both(
        "scatter_add_mode",
        lambda M, x, s: x.scatter(0, M.tensor([[1, 1, 0, 2]]), s, reduce="add"),
        [(3, 4), (1, 4)],
        grad=False,
    ),
    # index_select / index_add / index_copy / index_fill
    both("index_select", lambda M, x, i: x.index_select(1, i), [(3, 4), ((6,), "long4")]),
    both("index_select_fn_neg_dim", lambda M, x: M.index_select(x, -1, M.tensor([3, 0])), [(3, 4)]),
    both("index_select_0d_index", lambda M, x: x.index_select(0, M.tensor(2)), [(3, 4)]),
    both("index_select_0d_input", lambda M, x: x.index_select(0, M.tensor([0])), [()]),
    both(
        "index_select_long",
        lambda M, x, i: x.index_select(0, i),
        [((3, 4), "long5"), ((5,), "long3")],
    ),
    both("index_add", lambda M, x, s, i: x.index_add(0, i, s), [(3, 4), (5, 4), ((5,), "long3")]),
    both(
        "index_add_alpha",
        lambda M, x, s, i: M.index_add(x, 1, i, s, alpha=-2.0),
        [(3, 4), (3, 6), ((6,), "long4")],
    ),
    both(
        "index_add_inplace",
        lambda M, x, s: x.clone().index_add_(0, M.tensor([2, 0, 2]), s),
        [(3, 4), (3, 4)],
    ),
    both("index_copy", lambda M, x, s: x.index_copy(1, M.tensor([3, 0]), s), [(3, 4), (3, 2)]),
    both(
        "index_copy_inplace",
        lambda M, x, s: x.clone().index_copy_(0, M.tensor([2]), s),
        [(3, 4), (1, 4)],
    ),
    both("index_fill", lambda M, x: x.index_fill(1, M.tensor([1, 3]), -1.0), [(3, 4)]),
    both(
        "index_fill_inplace_long",
        lambda M, x: x.clone().index_fill_(0, M.tensor([0]), 7),
        [((3, 4), "long5")],
    ),
]
