# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for ``F.pad`` (constant with cropping, reflect, replicate,
circular, for every rank torch accepts) and ``F.unfold`` / ``F.fold`` (im2col/col2im).

Fixture: ``tests/fixtures/ops_pad.npz`` (``python scripts/make_op_fixtures.py pad``).
"""

from __future__ import annotations

from cases_shape import both

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

CASES = [
    # F.unfold / F.fold
    both("im2col", lambda M, x: M.F.unfold(x, 2), [(2, 3, 4, 5)]),
    both(
        "im2col_params",
        lambda M, x: M.F.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        [(1, 2, 5, 6)],
    ),
    both("im2col_unbatched", lambda M, x: M.F.unfold(x, 3, padding=(0, 1), stride=2), [(2, 5, 5)]),
    both("col2im", lambda M, x: M.F.fold(x, (4, 5), 2), [(2, 12, 12)]),
    both(
        "col2im_params",
        lambda M, x: M.F.fold(x, (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)),
        [(1, 12, 15)],
    ),
    both("col2im_unbatched", lambda M, x: M.F.fold(x, 5, 3, padding=1, stride=2), [(18, 9)]),
    both(
        "fold_of_unfold",
        lambda M, x: M.F.fold(M.F.unfold(x, 3, stride=2), (7, 7), 3, stride=2),
        [(1, 2, 7, 7)],
    ),
    # F.pad: constant (any rank, negative pads crop), reflect / replicate / circular
    both("pad_const_last", lambda M, x: M.F.pad(x, (1, 2)), [(2, 3)]),
    both(
        "pad_const_three_dims", lambda M, x: M.F.pad(x, [0, 1, 2, 0, 1, 1], value=0.5), [(2, 3, 2)]
    ),
    both("pad_const_crop", lambda M, x: M.F.pad(x, (-1, 2, 1, -2)), [(4, 3)]),
    both("pad_const_crop_all", lambda M, x: M.F.pad(x, (-3, 2)), [(2, 3)]),
    both("pad_const_none", lambda M, x: M.F.pad(x, ()), [(2, 3)]),
    both("pad_const_0d", lambda M, x: M.F.pad(x, ()), [()]),
    both("pad_const_1d", lambda M, x: M.F.pad(x, (2, 1), value=-1.0), [(3,)]),
    both("pad_const_long", lambda M, x: M.F.pad(x, (1, 1), value=2.7), [((2, 3), "long5")]),
    both("pad_const_bool", lambda M, x: M.F.pad(x, (1, 0), value=1), [((2, 3), "bool")]),
    both("pad_const_empty", lambda M, x: M.F.pad(x, (1, 1)), [(1, 0)]),
    both("pad_reflect_2d", lambda M, x: M.F.pad(x, (2, 1), mode="reflect"), [(2, 4)]),
    both("pad_reflect_3d_one", lambda M, x: M.F.pad(x, (1, 2), mode="reflect"), [(2, 2, 4)]),
    both("pad_reflect_3d_two", lambda M, x: M.F.pad(x, (1, 2, 2, 0), mode="reflect"), [(2, 3, 4)]),
    both("pad_reflect_4d", lambda M, x: M.F.pad(x, (1, 1, 2, 1), mode="reflect"), [(1, 2, 3, 4)]),
    both(
        "pad_reflect_5d",
        lambda M, x: M.F.pad(x, (1, 0, 0, 1, 1, 1), mode="reflect"),
        [(1, 1, 2, 3, 2)],
    ),
    both(
        "pad_reflect_4d_three",
        lambda M, x: M.F.pad(x, (1, 0, 0, 1, 1, 1), mode="reflect"),
        [(2, 2, 3, 2)],
    ),
    both("pad_reflect_negative", lambda M, x: M.F.pad(x, (-1, 2), mode="reflect"), [(2, 4)]),
    both("pad_replicate_2d", lambda M, x: M.F.pad(x, (3, 1), mode="replicate"), [(2, 3)]),
    both(
        "pad_replicate_4d", lambda M, x: M.F.pad(x, (2, 1, 0, 3), mode="replicate"), [(1, 2, 3, 2)]
    ),
    both(
        "pad_replicate_5d",
        lambda M, x: M.F.pad(x, (1, 2, 1, 0, 2, 1), mode="replicate"),
        [(1, 1, 2, 2, 2)],
    ),
    both("pad_replicate_negative", lambda M, x: M.F.pad(x, (3, -1), mode="replicate"), [(2, 3)]),
    both(
        "pad_replicate_long", lambda M, x: M.F.pad(x, (2, 2), mode="replicate"), [((2, 3), "long5")]
    ),
    both("pad_circular_2d", lambda M, x: M.F.pad(x, (2, 3), mode="circular"), [(2, 3)]),
    both("pad_circular_4d", lambda M, x: M.F.pad(x, (1, 2, 2, 1), mode="circular"), [(1, 2, 3, 3)]),
    both(
        "pad_circular_5d",
        lambda M, x: M.F.pad(x, (1, 0, 1, 1, 0, 2), mode="circular"),
        [(1, 1, 2, 2, 3)],
    ),
    both(
        "pad_circular_crop", lambda M, x: M.F.pad(x, (-1, 1, 1, -1), mode="circular"), [(1, 3, 4)]
    ),
    both(
        "pad_circular_value_zero",
        lambda M, x: M.F.pad(x, (1, 1), mode="circular", value=0),
        [(2, 3)],
    ),
]
