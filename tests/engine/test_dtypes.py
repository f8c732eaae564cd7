"""Integer and boolean tensors, and torch's type promotion, checked against torch."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import DTypeError, Tensor, promote_types, result_type

DTYPES = ["bool", "uint8", "int32", "int64", "float32", "float64"]
FORMS = ["dim", "zero_dim", "scalar"]


def _torch():
    return pytest.importorskip("torch")


def _operand(dtype: str, form: str, lib: str):
    """One operand of ``dtype`` as a 2-element tensor, a 0-d tensor or a Python number."""
    value = {"bool": True, "uint8": 3, "int32": 3, "int64": 3, "float32": 1.5, "float64": 1.5}
    if form == "scalar":
        v = value[dtype]
        return bool(v) if dtype == "bool" else int(v) if "int" in dtype else float(v)
    arr = np.array([value[dtype]] * 2 if form == "dim" else value[dtype], dtype=dtype)
    if lib == "ours":
        return Tensor(arr)
    return _torch().from_numpy(arr)


def _torch_name(d) -> str:
    return str(d).removeprefix("torch.")


OPS = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "lt": lambda a, b: a < b,
    "floordiv": lambda a, b: a // b,
}


@pytest.mark.torch
@pytest.mark.parametrize("op", sorted(OPS))
def test_binary_result_dtype_matches_torch(op):
    _torch()
    fn = OPS[op]
    checked = 0
    for (da, fa), (db, fb) in itertools.product(itertools.product(DTYPES, FORMS), repeat=2):
        if fa == "scalar" and fb == "scalar":
            continue
        if op == "floordiv" and "bool" in (da, db):
            continue  # torch refuses floor division of bools
        ours = fn(_operand(da, fa, "ours"), _operand(db, fb, "ours"))
        theirs = fn(_operand(da, fa, "torch"), _operand(db, fb, "torch"))
        assert str(ours.dtype) == _torch_name(theirs.dtype), (op, da, fa, db, fb)
        np.testing.assert_allclose(ours.data, theirs.numpy(), err_msg=f"{op} {da} {db}")
        checked += 1
    assert checked >= 200


@pytest.mark.torch
def test_promote_types_matches_torch():
    torch = _torch()
    for a, b in itertools.product(DTYPES, repeat=2):
        ours = promote_types(np.dtype(a), np.dtype(b))
        theirs = torch.promote_types(getattr(torch, a), getattr(torch, b))
        assert str(ours) == _torch_name(theirs), (a, b)


def test_result_type_categories():
    i64, f32 = Tensor(np.arange(3)), Tensor(np.ones(3, np.float32))
    assert result_type(i64, 2.5) == np.float32  # a float scalar lifts ints to the default
    assert result_type(f32, Tensor(np.float64(2.0))) == np.float32  # 0-d: same category
    assert result_type(Tensor(np.arange(3, dtype=np.int32)), Tensor(np.int64(2))) == np.int32
    assert result_type(i64, f32) == np.float32  # numpy would say float64
    assert result_type(Tensor([True]), 1) == np.int64


def test_constructor_dtypes_follow_torch_tensor():
    assert Tensor(3).dtype == np.int64 and Tensor(3.0).dtype == np.float32
    assert Tensor([True, False]).dtype == np.bool_
    assert Tensor([1, 2.5]).dtype == np.float32
    assert Tensor(np.arange(3, dtype=np.int16)).dtype == np.int16
    assert Tensor([1, 2], dtype=tg.float64).dtype == np.float64
    assert Tensor([1.7, -1.7], dtype=tg.long).data.tolist() == [1, -1]
    assert tg.tensor([Tensor(1.0), Tensor(2.0)]).dtype == np.float32


def test_conversions():
    x = Tensor([1.5, -2.5, 0.0])
    assert x.long().dtype == np.int64 and x.long().tolist() == [1, -2, 0]
    assert x.int().dtype == np.int32
    assert x.bool().tolist() == [True, True, False]
    assert x.double().dtype == np.float64 and x.float().dtype == np.float32
    assert x.to(tg.int64).dtype == np.int64 and x.to("cpu") is x
    assert x.to(Tensor([1], dtype=tg.float64)).dtype == np.float64
    assert Tensor([1, 2]).float().dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(DTypeError, match="floating point"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError):
        Tensor([True]).requires_grad_()
    x = Tensor([1.0, -2.0], requires_grad=True)
    for out in (x > 0, x.long(), x.max(0).indices, x == x):
        assert not out.requires_grad and out.grad_fn is None, out
    # a graph through an integer cast carries no gradient, as in torch
    assert not (x.long() * 2).requires_grad


def test_integer_results_stay_integer():
    a = Tensor([[1, 2], [3, 4]])
    assert (a * 2).dtype == np.int64 and (a + a).dtype == np.int64
    assert (a // 3).tolist() == [[0, 0], [1, 1]]
    assert (a / 2).dtype == np.float32
    assert a.sum().dtype == np.int64 and Tensor([True, True]).sum().item() == 2
    assert tg.arange(5).dtype == np.int64 and tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert a.max(1).indices.dtype == np.int64
    with pytest.raises(DTypeError, match="mean"):
        a.mean()
    assert a.mean(dtype=tg.float64).item() == 2.5


def test_item_and_python_conversions_keep_the_kind():
    assert isinstance(Tensor(3).item(), int) and isinstance(Tensor(3.0).item(), float)
    assert isinstance(Tensor(True).item(), bool)
    assert int(Tensor([7])) == 7 and float(Tensor(2.5)) == 2.5
    assert [10, 20, 30][Tensor(1)] == 20  # __index__
    with pytest.raises(TypeError):
        [10, 20][Tensor(1.0)]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(Tensor([1, 2]))


def test_default_dtype_can_be_changed():
    try:
        tg.set_default_dtype(tg.float64)
        assert Tensor(1.5).dtype == np.float64 and (Tensor([1]) / 2).dtype == np.float64
    finally:
        tg.set_default_dtype(tg.float32)
    assert Tensor(1.5).dtype == np.float32
    with pytest.raises(TypeError):
        tg.set_default_dtype(tg.int64)


def test_gradients_keep_their_input_dtype_through_promotion():
    x32 = Tensor([1.0, 2.0], requires_grad=True)
    x64 = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (x32 * x64).sum().backward()  # float64 result
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64
    np.testing.assert_allclose(x32.grad, [3.0, 4.0])
    np.testing.assert_allclose(x64.grad, [1.0, 2.0])
    n = Tensor([1, 2, 3])
    w = Tensor([0.5, 0.5, 0.5], requires_grad=True)
    (n * w).sum().backward()  # int * float -> float32; the int side needs nothing
    np.testing.assert_allclose(w.grad, [1, 2, 3])
