"""Matrix products and einsum beyond the table: errors (torch's classes and words),
finite-difference gradients, and hypothesis-drawn einsum equations (repeated subscripts,
'...' broadcasting, implicit and explicit outputs) against torch."""

from __future__ import annotations

import numpy as np
import pytest
from error_table import check_ours, check_torch_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optable import compare, run_ours, run_torch, upstreams

import tinygrad_opt as tg
from tinygrad_opt import DTypeError, ShapeError, Tensor, gradcheck


def _r(M, *shape, dtype=None):
    return M.ones(*shape, dtype=dtype or M.float32)


ERRORS = [
    ("trace_3d", lambda M: M.trace(_r(M, 2, 3, 4)), ShapeError, ["matrix", "3"]),
    ("mm_shapes", lambda M: M.mm(_r(M, 3, 4), _r(M, 5, 6)), ShapeError, ["3x4", "5x6"]),
    ("mm_1d", lambda M: M.mm(_r(M, 3), _r(M, 3, 6)), ShapeError, ["matrix"]),
    ("mm_dtypes", lambda M: M.mm(_r(M, 3, 4), _r(M, 4, 6, dtype=M.float64)), DTypeError, ["dtype"]),  # noqa: E501
    ("bmm_2d", lambda M: M.bmm(_r(M, 3, 4), _r(M, 3, 4, 6)), ShapeError, ["3D"]),
    (
        "bmm_batch",
        lambda M: M.bmm(_r(M, 2, 3, 4), _r(M, 3, 4, 6)),
        ShapeError,
        ["[2, 4]", "[3, 4]"],
    ),
    ("bmm_inner", lambda M: M.bmm(_r(M, 2, 3, 4), _r(M, 2, 5, 6)), ShapeError, ["[2, 5]"]),
    ("mv_sizes", lambda M: M.mv(_r(M, 3, 4), _r(M, 5)), ShapeError, ["size mismatch"]),
    ("mv_2d_vec", lambda M: M.mv(_r(M, 3, 4), _r(M, 4, 1)), ShapeError, ["vector"]),
    ("dot_2d", lambda M: M.dot(_r(M, 3, 4), _r(M, 5)), ShapeError, ["1D tensors expected", "2D"]),
    ("dot_sizes", lambda M: M.dot(_r(M, 3), _r(M, 5)), ShapeError, ["inconsistent tensor size"]),
    ("dot_dtypes", lambda M: M.dot(_r(M, 3), _r(M, 3, dtype=M.float64)), DTypeError, ["dtype"]),
    ("outer_2d", lambda M: M.outer(_r(M, 3, 1), _r(M, 5)), ShapeError, ["1-D", "2-D"]),
    (
        "tensordot_negative",
        lambda M: M.tensordot(_r(M, 3, 4), _r(M, 4, 5), dims=-1),
        ShapeError,
        ["dims >= 0"],
    ),
    (
        "tensordot_sizes",
        lambda M: M.tensordot(_r(M, 3, 4, 5), _r(M, 4, 5, 6), dims=1),
        ShapeError,
        ["contracted dimensions need to match"],
    ),
    (
        "baddbmm_dtypes",
        lambda M: M.baddbmm(_r(M, 2, 3, 4), _r(M, 2, 3, 5), _r(M, 2, 5, 4, dtype=M.float64)),
        DTypeError,
        ["dtype"],
    ),
    (
        "addmm_input_shape",
        lambda M: M.addmm(_r(M, 3), _r(M, 2, 3), _r(M, 3, 4)),
        ShapeError,
        ["(3,)"],
    ),
    ("einsum_fewer", lambda M: M.einsum("ij,jk", _r(M, 2, 3)), ShapeError, ["fewer operands"]),
    ("einsum_more", lambda M: M.einsum("ij", _r(M, 2, 3), _r(M, 3)), ShapeError, ["more operands"]),
    (
        "einsum_out_repeat",
        lambda M: M.einsum("ij,jk->ii", _r(M, 2, 3), _r(M, 3, 4)),
        ShapeError,
        ["i appears more than once"],
    ),
    (
        "einsum_out_unknown",
        lambda M: M.einsum("ij,jk->iz", _r(M, 2, 3), _r(M, 3, 4)),
        ShapeError,
        ["z does not appear"],
    ),
    ("einsum_char", lambda M: M.einsum("i$j", _r(M, 2, 3)), ShapeError, ["[a-zA-Z]"]),
    (
        "einsum_dot",
        lambda M: M.einsum("i.j", _r(M, 2, 3)),
        ShapeError,
        ["not part of any ellipsis"],
    ),
    (
        "einsum_two_ellipses",
        lambda M: M.einsum("...i...", _r(M, 2, 3)),
        ShapeError,
        ["already found"],
    ),
    (
        "einsum_count",
        lambda M: M.einsum("ijk", _r(M, 2, 3)),
        ShapeError,
        ["(3)", "(2)", "no ellipsis"],
    ),
    (
        "einsum_repeat_sizes",
        lambda M: M.einsum("ii->i", _r(M, 3, 4)),
        ShapeError,
        ["i is repeated", "4 != 3"],
    ),
    (
        "einsum_broadcast",
        lambda M: M.einsum("ij,ij->ij", _r(M, 2, 3), _r(M, 4, 3)),
        ShapeError,
        ["broadcast"],
    ),
    (
        "einsum_dtypes",
        lambda M: M.einsum("ij,jk", _r(M, 2, 3), _r(M, 3, 4, dtype=M.float64)),
        DTypeError,
        ["dtype"],
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
def _t(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


GRADCHECKS = [
    ("trace_times_matrix", "ii,jk->jk", [(3, 3), (2, 2)]),
    ("diagonal_sum_only_here", "iij,k->ik", [(2, 2, 3), (4,)]),
    ("ellipsis_broadcast", "...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("three_operands", "ab,bc,ca->", [(2, 3), (3, 4), (4, 2)]),
    ("size1_broadcast", "ij,ij->i", [(3, 1), (1, 4)]),
]


@pytest.mark.parametrize("name, eq, shapes", GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_einsum_gradcheck(name, eq, shapes):
    inputs = [_t(*s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(lambda *xs: tg.einsum(eq, *xs), inputs)


def test_products_gradcheck():
    a, b, c = _t(2, 3, 4), _t(2, 4, 5, seed=1), _t(3, 5, seed=2)
    assert gradcheck(lambda x, y, z: tg.baddbmm(z, x, y, beta=0.5, alpha=2.0), [a, b, c])
    assert gradcheck(lambda x, y: tg.tensordot(x, y, ([0, 2], [0, 1])), [a, b])
    assert gradcheck(lambda x, y: tg.outer(x, y), [_t(3), _t(2, seed=1)])


# --------------------------------------------------------------------------- hypothesis vs torch
@st.composite
def einsum_problem(draw):
    """1-3 operands over letters a-e with fixed sizes (some 1, to broadcast), repeated
    letters within an operand, optional '...' dims, and an implicit or explicit output."""
    letters = "abcde"
    size = {c: draw(st.integers(1, 3)) for c in letters}
    ell_shape = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    n_ops = draw(st.integers(1, 3))
    use_ell = draw(st.booleans())
    terms, shapes = [], []
    for _ in range(n_ops):
        subs = draw(st.lists(st.sampled_from(letters), min_size=0, max_size=3))
        shape = [size[c] for c in subs]
        term = "".join(subs)
        if use_ell and draw(st.booleans()):
            k = draw(st.integers(0, len(ell_shape)))
            dims = list(ell_shape[len(ell_shape) - k :])
            dims = [1 if draw(st.booleans()) else n for n in dims]  # broadcast some
            at = draw(st.integers(0, len(subs)))
            term = term[:at] + "..." + term[at:]
            shape = shape[:at] + dims + shape[at:]
        # a letter may have size 1 in one operand only when it is single there (broadcast)
        if len(set(subs)) == len(subs) and subs and draw(st.booleans()):
            j = draw(st.integers(0, len(subs) - 1))
            pos = term.index(subs[j]) if "..." not in term[: term.index(subs[j])] else None
            if pos is not None:
                shape[j] = 1
        terms.append(term)
        shapes.append(tuple(shape))
    used = sorted({c for t in terms for c in t if c != "."})
    if draw(st.booleans()):
        out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        if any("..." in t for t in terms) and draw(st.booleans()):
            out = "..." + out
        eq = ",".join(terms) + "->" + out
    else:
        eq = ",".join(terms)
    return eq, shapes


@pytest.mark.torch
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=einsum_problem(), seed=st.integers(0, 2**16))
def test_einsum_random_equations(problem, seed):
    torch = pytest.importorskip("torch")
    eq, shapes = problem
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(s) for s in shapes]
    try:
        torch_outs, _ = run_torch(lambda *xs: torch.einsum(eq, *xs), inputs, False, [])
    except RuntimeError:  # an equation torch rejects (sizes): we must reject it too
        with pytest.raises(RuntimeError):
            tg.einsum(eq, *[Tensor(a) for a in inputs])
        return
    us = upstreams(0, torch_outs)
    outs, _, grads = run_ours(lambda *xs: tg.einsum(eq, *xs), inputs, True, us=us)
    ref_outs, ref_grads = run_torch(lambda *xs: torch.einsum(eq, *xs), inputs, True, us)
    compare(f"einsum {eq} {shapes}", outs, grads, ref_outs, ref_grads, 1e-10, 1e-12, "torch")
