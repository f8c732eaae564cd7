# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for matrix products and einsum: mm, bmm, mv, dot, outer, inner,
tensordot, addmm, baddbmm, and einsum (explicit and implicit outputs, '...'
broadcasting, repeated subscripts for traces and diagonals, size-1 broadcasting, the
list and sublist forms), each with gradients of every operand.

Fixture: ``tests/fixtures/ops_linalg.npz`` (``python scripts/make_op_fixtures.py linalg``).
"""

from __future__ import annotations

from cases_shape import both

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

_EINSUMS = [
    # (name, equation, operand shapes)
    ("matmul", "ij,jk->ik", [(2, 3), (3, 4)]),
    ("matmul_implicit", "ij,jk", [(2, 3), (3, 4)]),
    ("implicit_ascii_order", "Ba,aC", [(4, 2), (2, 3)]),
    ("implicit_lower_after_upper", "ba,aC", [(4, 2), (2, 3)]),
    ("batch_matmul", "bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("batch_broadcast_size1", "bij,bjk->bik", [(1, 2, 3), (3, 3, 4)]),
    ("outer", "i,j->ij", [(3,), (4,)]),
    ("dot", "i,i->", [(5,), (5,)]),
    ("dot_broadcast_size1", "i,i", [(4,), (1,)]),
    ("elementwise_broadcast", "ij,ij->ij", [(3, 1), (1, 4)]),
    ("sum_all", "ij->", [(3, 4)]),
    ("sum_rows", "ij->j", [(3, 4)]),
    ("transpose", "ij->ji", [(3, 4)]),
    ("permute_3d", "abc->cab", [(2, 3, 4)]),
    ("trace", "ii", [(4, 4)]),
    ("trace_explicit", "ii->", [(3, 3)]),
    ("diagonal", "ii->i", [(3, 3)]),
    ("batch_diagonal", "bii->bi", [(2, 3, 3)]),
    ("diag_times_vector", "ii,i->i", [(3, 3), (3,)]),
    ("repeated_three", "iii->i", [(2, 2, 2)]),
    ("repeated_pair_kept", "iji->ij", [(3, 2, 3)]),
    ("bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("chain_three", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ellipsis_batch", "...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("ellipsis_sum_out", "...ij,...jk->...", [(2, 1, 2, 3), (4, 3, 2)]),
    ("ellipsis_implicit", "...ij,...jk", [(3, 2, 3), (3, 2)]),
    ("ellipsis_front", "i...->...", [(3, 2, 4)]),
    ("ellipsis_middle", "a...b->b...a", [(2, 3, 4, 5)]),
    ("ellipsis_only", "...", [(2, 3)]),
    ("ellipsis_none_dims", "...i,i->...", [(4,), (4,)]),
    ("ellipsis_to_middle", "ij...->i...j", [(2, 3, 4)]),
    ("summed_only_in_one", "ij,k->ik", [(2, 3), (4,)]),
    ("scalar_operand", ",ij->ij", [(), (2, 3)]),
    ("empty_sum", "i->", [(0,)]),
    ("empty_contract", "ij,jk->ik", [(2, 0), (0, 3)]),
    ("spaces", " i j , j k -> i k ", [(2, 3), (3, 4)]),
    ("upper_case", "iJ,Jk->ik", [(2, 3), (3, 4)]),
]


def _einsum_fn(equation):
    return lambda M, *xs: M.einsum(equation, *xs)


CASES = [
    *(both(f"einsum_{n}", _einsum_fn(eq), shapes) for n, eq, shapes in _EINSUMS),
    both("einsum_list", lambda M, a, b: M.einsum("ij,jk->ik", [a, b]), [(2, 3), (3, 4)]),
    both(
        "einsum_sublist", lambda M, a, b: M.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 4)]
    ),
    both(
        "einsum_sublist_implicit", lambda M, a, b: M.einsum(a, [0, 1], b, [1, 2]), [(2, 3), (3, 4)]
    ),
    both("einsum_sublist_ellipsis", lambda M, a: M.einsum(a, [..., 1], [1, ...]), [(2, 3, 4)]),
    both(
        "einsum_long",
        lambda M, a, b: M.einsum("ij,jk", a, b),
        [((2, 3), "long5"), ((3, 2), "long5")],
    ),
    both(
        "einsum_float32",
        lambda M, a, b: M.einsum("ij,jk", a, b),
        [((2, 3), "int@f32"), ((3, 2), "int@f32")],
        rtol=1e-6,
        atol=1e-7,
    ),
    both("mm", lambda M, a, b: M.mm(a, b), [(2, 3), (3, 4)]),
    both("trace", lambda M, a: M.trace(a), [(3, 4)]),
    both("trace_method_long", lambda M, a: a.trace(), [((3, 3), "int5")]),
    both("mm_method_long", lambda M, a, b: a.mm(b), [((2, 3), "long5"), ((3, 4), "long5")]),
    both("bmm", lambda M, a, b: M.bmm(a, b), [(2, 2, 3), (2, 3, 4)]),
    both("mv", lambda M, a, v: a.mv(v), [(2, 3), (3,)]),
    both("dot", lambda M, a, b: M.dot(a, b), [(4,), (4,)]),
    both("vdot", lambda M, a, b: M.vdot(a, b), [(4,), (4,)]),
    both("dot_empty", lambda M, a, b: a.dot(b), [(0,), (0,)]),
    both("outer", lambda M, a, b: M.outer(a, b), [(3,), (4,)]),
    both("outer_promotes", lambda M, a, b: a.outer(b), [((3,), "long5"), (2,)]),
    both("ger", lambda M, a, b: M.ger(a, b), [(2,), (3,)]),
    both("inner", lambda M, a, b: M.inner(a, b), [(2, 3), (4, 3)]),
    both("inner_0d", lambda M, a, b: M.inner(a, b), [(), (4, 3)]),
    both("tensordot_int", lambda M, a, b: M.tensordot(a, b), [(3, 4, 5), (4, 5, 2)]),
    both(
        "tensordot_lists",
        lambda M, a, b: M.tensordot(a, b, dims=([0, 2], [2, 0])),
        [(3, 4, 5), (5, 2, 3)],
    ),
    both("tensordot_zero", lambda M, a, b: M.tensordot(a, b, dims=0), [(2,), (3,)]),
    both("tensordot_one", lambda M, a, b: M.tensordot(a, b, 1), [(2, 3), (3, 2)]),
    both("addmm", lambda M, c, a, b: M.addmm(c, a, b), [(4,), (2, 3), (3, 4)]),
    both(
        "addmm_scaled",
        lambda M, c, a, b: c.addmm(a, b, beta=0.5, alpha=-2.0),
        [(2, 4), (2, 3), (3, 4)],
    ),
    both("addmm_beta0", lambda M, c, a, b: M.addmm(c, a, b, beta=0), [(2, 1), (2, 3), (3, 4)]),
    both(
        "baddbmm",
        lambda M, c, a, b: M.baddbmm(c, a, b, beta=0.5, alpha=2),
        [(3, 4), (2, 3, 5), (2, 5, 4)],
    ),
    both("baddbmm_method", lambda M, c, a, b: c.baddbmm(a, b), [(2, 3, 4), (2, 3, 5), (2, 5, 4)]),
]
