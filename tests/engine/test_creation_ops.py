"""Creation ops beyond the table: errors, memory sharing of ``from_numpy``/``as_tensor``,
``meshgrid``'s warning, seeded random tensors, and hypothesis-drawn ranges whose float32
values must be bit-identical to torch's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from error_table import check_ours, check_torch_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import DTypeError, ShapeError, Tensor

ERRORS = [
    ("arange_step0", lambda M: M.arange(0, 1, 0), ShapeError, ["step must be nonzero"]),
    ("arange_sign", lambda M: M.arange(0, 10, -1), ShapeError, ["inconsistent with step sign"]),
    ("arange_inf", lambda M: M.arange(0, float("inf")), ShapeError, ["unsupported range"]),
    ("linspace_negative", lambda M: M.linspace(0, 1, -1), ShapeError, ["non-negative"]),
    ("zeros_negative", lambda M: M.zeros(2, -1), ShapeError, ["negative dimension -1"]),
    ("full_negative", lambda M: M.full((-2,), 1.0), ShapeError, ["negative dimension"]),
    ("eye_negative", lambda M: M.eye(-1), ShapeError, ["n must be greater or equal to 0"]),
    ("randint_bounds", lambda M: M.randint(5, 3, (2,)), ShapeError, ["from=5", "to=3"]),
    ("randperm_negative", lambda M: M.randperm(-1), ShapeError, ["negative dimension"]),
    ("rand_like_int", lambda M: M.rand_like(M.zeros(2, dtype=M.int64)), DTypeError, ["floating"]),  # noqa: E501
    (
        "meshgrid_indexing",
        lambda M: M.meshgrid(M.zeros(2), indexing="ab"),
        ShapeError,
        ['"xy" or "ij"', "ab"],
    ),
    (
        "meshgrid_dtypes",
        lambda M: M.meshgrid(M.zeros(2), M.zeros(3, dtype=M.float64), indexing="ij"),
        DTypeError,
        ["same dtype"],
    ),
    (
        "meshgrid_2d",
        lambda M: M.meshgrid(M.zeros(2, 2), M.zeros(3), indexing="ij"),
        ShapeError,
        ["0D or 1D"],
    ),
    ("meshgrid_empty", lambda M: M.meshgrid(indexing="ij"), ShapeError, ["non-empty"]),
    ("from_numpy_list", lambda M: M.from_numpy([1, 2]), TypeError, ["np.ndarray", "list"]),
    (
        "from_numpy_complex",
        lambda M: M.from_numpy(np.zeros(2, np.complex64)),
        TypeError,
        ["complex64"],
    ),
]


@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_and_message(name, thunk, cls, words):
    check_ours(name, thunk, cls, words)


@pytest.mark.torch
@pytest.mark.parametrize("name, thunk, cls, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_error_class_is_torchs(name, thunk, cls, words):
    if name == "from_numpy_complex":
        pytest.skip("torch supports complex tensors; we do not")
    check_torch_class(name, thunk)


def test_device_other_than_cpu_is_refused():
    assert tg.zeros(2, device="cpu").shape == (2,)
    with pytest.raises(RuntimeError, match="cpu"):
        tg.zeros(2, device="cuda")


# --------------------------------------------------------------------------- memory, warnings
def test_from_numpy_shares_memory_both_ways():
    a = np.zeros(3, dtype=np.float32)
    t = tg.from_numpy(a)
    a[0] = 5.0
    assert t[0].item() == 5.0
    t.add_(1.0)
    np.testing.assert_array_equal(a, [6.0, 1.0, 1.0])
    assert tg.from_numpy(np.arange(3)).dtype == np.int64


def test_as_tensor_shares_when_it_can_and_copies_when_it_must():
    a = np.ones(2)
    t = tg.as_tensor(a)
    a[1] = 3.0
    assert t.dtype == np.float64 and t[1].item() == 3.0
    converted = tg.as_tensor(a, dtype=tg.float32)
    a[0] = 7.0
    assert converted.dtype == np.float32 and converted[0].item() == 1.0
    x = Tensor([1.0, 2.0])
    assert tg.as_tensor(x) is x
    assert tg.as_tensor(x, dtype=tg.float64).dtype == np.float64
    assert tg.as_tensor([1, 2]).dtype == np.int64


def test_meshgrid_warns_without_indexing_like_torch():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="indexing argument"):
        x, y = tg.meshgrid(a, b)
    assert x.shape == y.shape == (2, 3)  # 'ij'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.meshgrid(a, b, indexing="xy")


def test_meshgrid_gradients_count_every_use():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x, y = tg.meshgrid(a, b, indexing="xy")
    (x * y).sum().backward()
    np.testing.assert_allclose(a.grad, [6.0, 6.0])
    np.testing.assert_allclose(b.grad, [3.0, 3.0, 3.0])


# --------------------------------------------------------------------------- random
def test_random_tensors_are_seeded_and_typed():
    np.testing.assert_array_equal(tg.randn(2, 3, rng=1).data, tg.randn(2, 3, rng=1).data)
    assert tg.rand(4, rng=0, dtype=tg.float64).dtype == np.float64
    assert tg.randn(2, generator=np.random.default_rng(0)).dtype == np.float32
    r = tg.randint(3, 7, (200,), rng=0)
    assert r.dtype == np.int64 and r.data.min() >= 3 and r.data.max() < 7
    assert tg.randint(5, (3,), rng=0).data.max() < 5
    p = tg.randperm(6, rng=0)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(6))
    like = tg.randn_like(Tensor(np.zeros((2, 2))), rng=0)
    assert like.shape == (2, 2) and like.dtype == np.float64
    assert tg.randint_like(Tensor(np.zeros(3, np.int32)), 4, rng=0).dtype == np.int32
    assert tg.rand(2, 2, requires_grad=True).requires_grad
    with pytest.raises(DTypeError):
        tg.randn(2, dtype=tg.int64)


# --------------------------------------------------------------------------- ranges vs torch
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.torch
@SETTINGS
@given(
    start=st.floats(-100, 100),
    step=st.floats(0.01, 5) | st.floats(-5, -0.01),
    count=st.integers(0, 120),
    frac=st.floats(0.01, 0.99),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_arange_matches_torch_bit_for_bit(start, step, count, frac, dtype):
    torch = pytest.importorskip("torch")
    end = start + step * (count + frac)
    ours = tg.arange(start, end, step, dtype=getattr(tg, dtype)).data
    theirs = torch.arange(start, end, step, dtype=getattr(torch, dtype)).numpy()
    assert ours.shape == theirs.shape
    if dtype == "float32":
        np.testing.assert_array_equal(ours, theirs)
    else:  # float64: torch's blocked sums differ in the last bits of the larger bound
        scale = max(abs(start), abs(end))
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15 * scale)


@pytest.mark.torch
@SETTINGS
@given(
    start=st.floats(-100, 100),
    end=st.floats(-100, 100),
    steps=st.integers(0, 150),
    dtype=st.sampled_from(["float32", "float64", "int64"]),
)
def test_linspace_matches_torch(start, end, steps, dtype):
    torch = pytest.importorskip("torch")
    ours = tg.linspace(start, end, steps, dtype=getattr(tg, dtype)).data
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if dtype == "float64":
        scale = max(abs(start), abs(end))
        np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=1e-15 * scale)
    else:
        np.testing.assert_array_equal(ours, theirs)


def test_constructors_take_a_name_for_graph_drawings():
    from tinygrad_opt import Tensor

    for make in (Tensor.zeros, Tensor.ones, Tensor.randn, Tensor.rand):
        t = make(2, requires_grad=True, name="b1")
        assert t.name == "b1" and t.requires_grad and t.shape == (2,)
