# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for shape ops: view/reshape, movedim, repeat/tile, split/chunk,
flip/roll, triangles and diagonals, narrow/select, broadcasting, stacking and
``Tensor.unfold`` (F.pad and F.unfold/F.fold: ``cases_pad.py``).

Each case is written once as ``f(M, *tensors)`` with ``M`` the module (``tinygrad_opt``
or ``torch``), so ours and theirs are the same expression. Format and runners:
``optable.py``; fixture: ``tests/fixtures/ops_shape.npz``
(``python scripts/make_op_fixtures.py shape``).
"""

from __future__ import annotations

from optable import Case, Reduce

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as tgF

try:
    import torch
    import torch.nn.functional as thF
except ImportError:  # the fixture tests still run
    torch = thF = None


class _NS:
    """``M.F`` is the module's nn.functional."""

    def __init__(self, mod, functional):
        self.mod, self.F = mod, functional

    def __getattr__(self, name):
        return getattr(self.mod, name)


def _ours():
    return _NS(tg, tgF)


def _theirs():
    return _NS(torch, thF)


def both(name, f, inputs, **kw):
    """A case whose expression is the same for both libraries: ``f(M, *tensors)``."""
    return Case(name, lambda *xs: f(_ours(), *xs), lambda *xs: f(_theirs(), *xs), inputs, **kw)


def method(name, f, inputs, **kw):
    """A case using only tensor methods: ``f(*tensors)`` for both."""
    return Case(name, f, f, inputs, **kw)


CASES = [
    # view / reshape / unflatten
    method("view_infer", lambda x: x.view(-1, 6), [(2, 3, 4)]),
    method("view_tuple", lambda x: x.view((4, 6)), [(2, 3, 4)]),
    method("view_long", lambda x: x.view(3, 2, 2), [((12,), "long5")]),
    method("reshape_0d_to_11", lambda x: x.reshape(1, 1), [()]),
    method("reshape_empty", lambda x: x.reshape(0, 5, 3), [(2, 0, 5)]),
    method("view_as", lambda x, y: x.view_as(y), [(2, 6), (3, 4)]),
    method("unflatten_infer", lambda x: x.unflatten(1, (2, -1)), [(3, 6)]),
    method("unflatten_neg_dim", lambda x: x.unflatten(-1, (2, 2, 1)), [(3, 4)]),
    both("unflatten_fn", lambda M, x: M.unflatten(x, 0, (3, 1)), [((3, 2), "bool")]),
    method("flatten_mid", lambda x: x.flatten(1, 2), [(2, 3, 4, 2)]),
    method("ravel", lambda x: x.ravel(), [(2, 3, 4)]),
    both("ravel_fn_0d", lambda M, x: M.ravel(x), [()]),
    # movedim / transpose family
    method("movedim_int", lambda x: x.movedim(0, -1), [(2, 3, 4)]),
    method("movedim_tuple", lambda x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    method("moveaxis_neg", lambda x: x.moveaxis(-1, 1), [(2, 3, 4, 5)]),
    both("movedim_fn_int", lambda M, x: M.movedim(x, [2, 0], [0, 1]), [((2, 3, 4), "int5")]),
    method("t_2d", lambda x: x.t(), [(2, 3)]),
    method("t_1d", lambda x: x.t(), [(3,)]),
    method("T_matrix", lambda x: x.T, [(2, 3)]),
    method("H_2d", lambda x: x.H, [(2, 3)]),
    method("mT_batch", lambda x: x.mT, [(2, 3, 4)]),
    method("mH_batch", lambda x: x.mH, [(2, 3, 4)]),
    method("swapdims", lambda x: x.swapdims(0, 2), [(2, 3, 4)]),
    # squeeze / unsqueeze
    method("squeeze_all", lambda x: x.squeeze(), [(1, 2, 1, 3, 1)]),
    method("squeeze_neg", lambda x: x.squeeze(-1), [(2, 3, 1)]),
    method("squeeze_tuple_mixed", lambda x: x.squeeze((0, 1, 2)), [(1, 3, 1)]),
    method("unsqueeze_end", lambda x: x.unsqueeze(-1), [(2, 3)]),
    # repeat / tile / repeat_interleave
    method("repeat", lambda x: x.repeat(2, 1, 3), [(2, 3)]),
    method("repeat_tuple", lambda x: x.repeat((2, 2)), [(2, 3)]),
    method("repeat_zero", lambda x: x.repeat(0, 2), [(2, 3)]),
    method("repeat_bool", lambda x: x.repeat(2, 2), [((2, 3), "bool")]),
    method("repeat_0d", lambda x: x.repeat(3), [()]),
    method("tile_short", lambda x: x.tile((2,)), [(2, 3)]),
    method("tile_long", lambda x: x.tile((2, 1, 2)), [(2, 3)]),
    both("tile_fn", lambda M, x: M.tile(x, (3, 1)), [((2,), "long5")]),
    method("repeat_interleave_flat", lambda x: x.repeat_interleave(2), [(2, 3)]),
    method("repeat_interleave_dim", lambda x: x.repeat_interleave(3, dim=1), [(2, 3)]),
    both(
        "repeat_interleave_tensor",
        lambda M, x: x.repeat_interleave(M.tensor([1, 0, 2]), dim=1),
        [(2, 3)],
    ),
    both(
        "repeat_interleave_one_count",
        lambda M, x: x.repeat_interleave(M.tensor([2]), dim=0),
        [(2, 3)],
    ),
    both(
        "repeat_interleave_neg_dim",
        lambda M, x: M.repeat_interleave(x, M.tensor([2, 1]), dim=-2),
        [((2, 3), "int5")],
    ),
    both("repeat_interleave_counts", lambda M: M.repeat_interleave(M.tensor([1, 2, 0, 3])), []),
    both("repeat_interleave_0d", lambda M, x: M.repeat_interleave(x, 3), [()]),
    # split / chunk / unbind / tensor_split
    method("split_int", lambda x: x.split(2, 1), [(3, 5)]),
    method("split_list", lambda x: x.split([1, 3, 1], 1), [(3, 5)]),
    method("split_zero_sizes", lambda x: x.split([0, 3, 0], 0), [(3, 2)]),
    both("split_fn_long", lambda M, x: M.split(x, 2), [((5, 2), "long5")]),
    method("split_empty_dim", lambda x: x.split(2, 1), [(3, 0)]),
    method("chunk_even", lambda x: x.chunk(3, 0), [(6, 2)]),
    method("chunk_fewer", lambda x: x.chunk(4, 0), [(6, 2)]),
    method("chunk_uneven", lambda x: x.chunk(3, -1), [(2, 7)]),
    method("chunk_more_than_size", lambda x: x.chunk(5, 0), [(2, 3)]),
    method("chunk_empty", lambda x: x.chunk(3, 0), [(0, 2)]),
    method("unbind", lambda x: x.unbind(1), [(2, 3, 4)]),
    both("unbind_fn", lambda M, x: M.unbind(x, -1), [((2, 3), "bool")]),
    method("tensor_split_sections", lambda x: x.tensor_split(3, 1), [(2, 7)]),
    method("tensor_split_indices", lambda x: x.tensor_split([1, 4, 9], 0), [(6, 2)]),
    method("split_with_sizes", lambda x: x.split_with_sizes([2, 1], 0), [(3, 2)]),
    method("hsplit_sections", lambda x: x.hsplit(2), [(2, 6)]),
    method("hsplit_indices_1d", lambda x: x.hsplit([1, 3]), [(5,)]),
    both("vsplit_fn", lambda M, x: M.vsplit(x, 2), [(4, 3)]),
    both("dsplit_fn", lambda M, x: M.dsplit(x, [1]), [(2, 2, 3)]),
    # narrow / select
    method("narrow", lambda x: x.narrow(1, 1, 2), [(3, 4)]),
    method("narrow_neg_start", lambda x: x.narrow(1, -3, 2), [(3, 4)]),
    method("narrow_empty", lambda x: x.narrow(0, 3, 0), [(3, 4)]),
    both("narrow_fn_tensor_start", lambda M, x: M.narrow(x, 0, M.tensor(1), 2), [(3, 4)]),
    method("select", lambda x: x.select(1, 2), [(3, 4, 2)]),
    method("select_neg", lambda x: x.select(-1, -1), [(3, 4)]),
    both("select_fn_long", lambda M, x: M.select(x, 0, 1), [((3, 4), "long5")]),
    # flip / roll / rot90
    method("flip_two", lambda x: x.flip(0, 2), [(2, 3, 4)]),
    method("flip_list_neg", lambda x: x.flip([-1]), [(2, 3)]),
    method("flip_none", lambda x: x.flip(()), [(2, 3)]),
    method("flip_0d", lambda x: x.flip(0), [()]),
    both("flip_fn_bool", lambda M, x: M.flip(x, (1,)), [((2, 3), "bool")]),
    method("fliplr", lambda x: x.fliplr(), [(2, 3, 2)]),
    method("flipud", lambda x: x.flipud(), [(3,)]),
    method("roll_dim", lambda x: x.roll(2, 1), [(2, 5)]),
    method("roll_multi", lambda x: x.roll((1, -2), (0, 1)), [(3, 4)]),
    method("roll_flat", lambda x: x.roll(3), [(2, 5)]),
    method("roll_big_shift", lambda x: x.roll(-13, 0), [(5, 2)]),
    method("roll_same_dim_twice", lambda x: x.roll((1, 2), (0, 0)), [(5, 2)]),
    both("roll_fn_long", lambda M, x: M.roll(x, 1, 0), [((4,), "long5")]),
    method("rot90", lambda x: x.rot90(), [(2, 3)]),
    method("rot90_k2_dims", lambda x: x.rot90(2, [1, 2]), [(2, 3, 4)]),
    method("rot90_k3", lambda x: x.rot90(3), [(2, 3)]),
    method("rot90_kneg", lambda x: x.rot90(-1, (1, 0)), [(2, 3)]),
    # triangles and diagonals
    method("tril", lambda x: x.tril(), [(3, 4)]),
    method("tril_neg", lambda x: x.tril(-1), [(2, 4, 3)]),
    method("triu_pos", lambda x: x.triu(1), [(3, 4)]),
    method("triu_big", lambda x: x.triu(-5), [(3, 4)]),
    both("tril_fn_long", lambda M, x: M.tril(x, 1), [((3, 3), "long5")]),
    both("triu_fn_bool", lambda M, x: M.triu(x), [((2, 3, 3), "bool")]),
    method("diag_1d", lambda x: x.diag(), [(3,)]),
    method("diag_1d_offset", lambda x: x.diag(1), [(3,)]),
    method("diag_1d_neg_offset", lambda x: x.diag(-2), [(2,)]),
    method("diag_2d", lambda x: x.diag(), [(3, 4)]),
    method("diag_2d_neg", lambda x: x.diag(-1), [(3, 4)]),
    method("diag_2d_out_of_range", lambda x: x.diag(5), [(3, 4)]),
    both("diag_fn_long", lambda M, x: M.diag(x), [((3,), "long5")]),
    method("diagonal", lambda x: x.diagonal(), [(3, 4)]),
    method("diagonal_dims", lambda x: x.diagonal(1, 0, 2), [(3, 4, 5)]),
    method("diagonal_rev_dims", lambda x: x.diagonal(-1, 2, 0), [(3, 4, 5)]),
    both("diagonal_fn_neg", lambda M, x: M.diagonal(x, 0, -2, -1), [(2, 3, 3)]),
    method("diag_embed", lambda x: x.diag_embed(), [(2, 3)]),
    both("diag_embed_dims", lambda M, x: M.diag_embed(x, -1, 0, 2), [(2, 3)]),
    both("diag_embed_offset_1d", lambda M, x: M.diag_embed(x, 2), [(3,)]),
    # broadcasting
    method("broadcast_to", lambda x: x.broadcast_to(2, 3, 4), [(3, 1)]),
    both("broadcast_to_fn", lambda M, x: M.broadcast_to(x, (2, -1)), [(3,)]),
    both("broadcast_tensors", lambda M, a, b: M.broadcast_tensors(a, b), [(3, 1), (2, 1, 4)]),
    both(
        "broadcast_tensors_mixed", lambda M, a, b: M.broadcast_tensors(a, b), [((3,), "long5"), ()]
    ),
    method("expand_neg_one", lambda x: x.expand(2, -1, 4), [(3, 1)]),
    # stacking
    both("atleast_1d", lambda M, x: M.atleast_1d(x), [()]),
    both("atleast_2d_1d", lambda M, x: M.atleast_2d(x), [(3,)]),
    both("atleast_3d_1d", lambda M, x: M.atleast_3d(x), [(3,)]),
    both("atleast_3d_2d", lambda M, x: M.atleast_3d(x), [(2, 3)]),
    both("atleast_3d_many", lambda M, a, b: M.atleast_3d(a, b), [(), (2, 3, 4, 1)]),
    both("atleast_2d_list", lambda M, a, b: M.atleast_2d([a, b]), [(2,), (2, 3)]),
    both("hstack_1d", lambda M, a, b: M.hstack([a, b]), [(), (3,)]),
    both("hstack_2d", lambda M, a, b: M.hstack((a, b)), [(2, 3), (2, 1)]),
    both("vstack", lambda M, a, b: M.vstack([a, b]), [(3,), (2, 3)]),
    both("row_stack", lambda M, a, b: M.row_stack([a, b]), [(3,), (3,)]),
    both("dstack", lambda M, a, b: M.dstack([a, b]), [(3,), (1, 3)]),
    both("column_stack", lambda M, a, b: M.column_stack([a, b]), [(3,), (3, 2)]),
    both("stack_neg_dim", lambda M, a, b: M.stack([a, b], -1), [(2, 3), (2, 3)]),
    # Tensor.unfold (sliding windows)
    method("unfold_step", lambda x: x.unfold(1, 3, 2), [(2, 7)]),
    method("unfold_overlap", lambda x: x.unfold(0, 4, 1), [(6,)]),
    method("unfold_big_windows", lambda x: x.unfold(0, 4, 3), [(8, 2)]),
    method("unfold_dim0_3d", lambda x: x.unfold(0, 2, 1), [(3, 2, 2)]),
    method("unfold_size0", lambda x: x.unfold(0, 0, 1), [(3,)]),
    method("unfold_0d", lambda x: x.unfold(0, 1, 1), [()]),
    method("unfold_long", lambda x: x.unfold(-1, 2, 2), [((2, 5), "long5")]),
]

REDUCE = [
    # ops taking one dim, on drawn shapes (0-d and empty included) and every dim
    Reduce("flip_dim", lambda x, d, k: x.flip(d), lambda x, d, k: x.flip(d)),
    Reduce("movedim_to_front", lambda x, d, k: x.movedim(d, 0), lambda x, d, k: x.movedim(d, 0)),
    Reduce("unsqueeze_dim", lambda x, d, k: x.unsqueeze(d), lambda x, d, k: x.unsqueeze(d)),
    Reduce("squeeze_dim", lambda x, d, k: x.squeeze(d), lambda x, d, k: x.squeeze(d)),
    Reduce("flatten_from", lambda x, d, k: x.flatten(d), lambda x, d, k: x.flatten(d)),
    Reduce(
        "stack_dim", lambda x, d, k: tg.stack([x, x], d), lambda x, d, k: torch.stack([x, x], d)
    ),
    Reduce(
        "repeat_interleave_dim",
        lambda x, d, k: x.repeat_interleave(2, dim=d) if x.ndim else x,
        lambda x, d, k: x.repeat_interleave(2, dim=d) if x.ndim else x,
    ),
]
