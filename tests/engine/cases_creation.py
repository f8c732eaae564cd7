# ruff: noqa: E501  (the case table keeps one op per line)
"""Torch-oracle table for tensor creation: result dtypes, lengths and exact values of
``arange``/``linspace`` in float32, ``full``'s dtype inference, ``*_like``, ``eye``,
``meshgrid`` (with gradients), ``as_tensor``.

Fixture: ``tests/fixtures/ops_creation.npz`` (``python scripts/make_op_fixtures.py creation``).
"""

from __future__ import annotations

from cases_shape import both

try:
    import torch  # noqa: F401
except ImportError:
    torch = None

_ARANGES = [
    ("int_end", (5,), {}),
    ("int_range_step", (2, 11, 3), {}),
    ("int_negative_step", (10, 0, -3), {}),
    ("int_empty", (3, 3), {}),
    ("float_tenths", (0, 1, 0.1), {}),
    ("float_long", (-3.7, 11.3, 0.37), {}),
    ("float_many", (0.3, 100.1, 0.77), {}),
    ("float_negative_step", (5, -3, -0.13), {}),
    ("float_end_only", (4.5,), {}),
    ("float_large_offset", (1000.0, 1007.0, 0.011), {}),
    ("int_args_float32", (1, 10, 3), {"dtype": "float32"}),
    ("float64_tenths", (0, 1, 0.1), {"dtype": "float64"}),
    ("float64_long", (-3.7, 11.3, 0.37), {"dtype": "float64"}),
    ("float_args_int64", (0, 5, 1.5), {"dtype": "int64"}),
    ("float_args_int64_neg_start", (-0.5, 5.2, 1.3), {"dtype": "int64"}),
    ("int32", (7,), {"dtype": "int32"}),
]

_LINSPACES = [
    ("tenths", (0, 1, 11), {}),
    ("odd", (-3.7, 11.3, 37), {}),
    ("even", (0.1, 0.9, 8), {}),
    ("descending", (5, -2.2, 13), {}),
    ("big", (-1, 1, 101), {}),
    ("one", (2.5, 7, 1), {}),
    ("zero", (0, 1, 0), {}),
    ("float64", (-3.7, 11.3, 37), {"dtype": "float64"}),
    ("int64", (-1, 10, 6), {"dtype": "int64"}),
    ("int32_descending", (10, -1, 6), {"dtype": "int32"}),
]


def _dtype(M, kw):
    return {k: (getattr(M, v) if k == "dtype" else v) for k, v in kw.items()}


def _range_fn(fn_name, args, kw):
    return lambda M: getattr(M, fn_name)(*args, **_dtype(M, kw))


CASES = [
    *(both(f"arange_{n}", _range_fn("arange", a, kw), []) for n, a, kw in _ARANGES),
    *(both(f"linspace_{n}", _range_fn("linspace", a, kw), []) for n, a, kw in _LINSPACES),
    both("arange_tensor_end", lambda M: M.arange(M.tensor(4)), []),
    both("logspace_float64", lambda M: M.logspace(-2, 3, 11, dtype=M.float64), []),
    both("logspace_base2_float64", lambda M: M.logspace(0, 4, 5, base=2.0, dtype=M.float64), []),
    both("full_int", lambda M: M.full((2, 3), 1), []),
    both("full_bool", lambda M: M.full((2,), True), []),
    both("full_float", lambda M: M.full([2, 2], 1.5), []),
    both("full_int_as_float64", lambda M: M.full((2,), 3, dtype=M.float64), []),
    both("full_tensor_value", lambda M: M.full((2,), M.tensor(2)), []),
    both("full_0d", lambda M: M.full((), -1.25), []),
    both("zeros", lambda M: M.zeros(2, 3), []),
    both("zeros_tuple_int32", lambda M: M.zeros((2, 3), dtype=M.int32), []),
    both("zeros_0d", lambda M: M.zeros([]), []),
    both("ones_bool", lambda M: M.ones(2, dtype=M.bool), []),
    both("ones_empty", lambda M: M.ones(0, 3), []),
    both("empty_shape", lambda M: M.tensor(list(M.empty(2, 3).shape)), []),
    both("eye", lambda M: M.eye(3), []),
    both("tril_indices", lambda M: M.tril_indices(3, 4, 1), []),
    both("triu_indices", lambda M: M.triu_indices(4, 3, -1), []),
    both("tril_indices_empty", lambda M: M.tril_indices(0, 0), []),
    both("eye_rect_long", lambda M: M.eye(2, 4, dtype=M.int64), []),
    both("eye_empty", lambda M: M.eye(2, 0), []),
    both("zeros_like_long", lambda M, x: M.zeros_like(x), [((2, 3), "long5")]),
    both("ones_like_dtype", lambda M, x: M.ones_like(x, dtype=M.float64), [((2,), "bool")]),
    both("full_like_long_float_value", lambda M, x: M.full_like(x, 2.7), [((2, 3), "long5")]),
    both("full_like_float32", lambda M, x: M.full_like(x, 7), [((2,), "real@f32")]),
    both("empty_like_int32", lambda M, x: M.zeros_like(M.empty_like(x)), [((3,), "int5")]),
    both("new_zeros", lambda M, x: x.new_zeros(2, 2), [((3,), "int5")]),
    both("new_full", lambda M, x: x.new_full((2,), 3), [((3,), "real@f32")]),
    both("new_ones_dtype", lambda M, x: x.new_ones((1, 2), dtype=M.int64), [(3,)]),
    both("as_tensor_list", lambda M: M.as_tensor([1, 2, 3]), []),
    both("as_tensor_dtype", lambda M: M.as_tensor([1, 2], dtype=M.float64), []),
    both("as_tensor_tensor", lambda M, x: M.as_tensor(x) * 2, [(3,)]),
    both("tensor_mixed", lambda M: M.tensor([1, 2.5]), []),
    both("tensor_bool", lambda M: M.tensor([[True], [False]]), []),
    # meshgrid: gradients flow to every input
    both("meshgrid_ij", lambda M, a, b: M.meshgrid(a, b, indexing="ij"), [(3,), (4,)]),
    both("meshgrid_xy", lambda M, a, b, c: M.meshgrid(a, b, c, indexing="xy"), [(2,), (3,), (4,)]),
    both("meshgrid_list_xy", lambda M, a, b: M.meshgrid([a, b], indexing="xy"), [(), (3,)]),
    both("meshgrid_single", lambda M, a: M.meshgrid(a, indexing="xy"), [(3,)]),
    both(
        "meshgrid_long",
        lambda M, a, b: M.meshgrid(a, b, indexing="ij"),
        [((2,), "long5"), ((3,), "long5")],
    ),
]
