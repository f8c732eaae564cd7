"""``gradcheck`` itself: it passes correct gradients and catches wrong ones, precisely."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Function, GradcheckError, Tensor, gradcheck
from tinygrad_opt.value import Value

FACTOR = 1.5  # the buggy derivatives below are off by this factor


class BadSquare(Function):
    """a² with a wrong derivative: 3a instead of 2a (off by FACTOR)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        return 3.0 * self.a * g


class BadMul(Function):
    """a·b whose derivative with respect to b is off by FACTOR; the one for a is right."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.b, FACTOR * g * self.a


class BadAtOneElement(Function):
    """a² whose derivative is wrong at a single flat index only."""

    flat = 4

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, g):
        ga = 2.0 * self.a * g
        ga.reshape(-1)[self.flat] += 1.0
        return ga


class NanGrad(Function):
    def forward(self, a):
        return a * 1.0

    def backward(self, g):
        return g * np.nan


MSG = re.compile(
    r"gradcheck failed for (?P<name>input \d+(?: \([^)]*\))?) at element (?P<index>\([\d, ]*\)) "
    r"\((?P<what>[^)]*\)?[^)]*)\): numerical (?P<num>[^,\s]+), analytical (?P<ana>[^,\s]+)"
)


def parse(err: BaseException) -> dict:
    m = MSG.search(str(err))
    assert m, f"unexpected gradcheck message: {err}"
    d = m.groupdict()
    d["index"] = tuple(int(i) for i in re.findall(r"\d+", d["index"]))
    d["num"], d["ana"] = float(d["num"]), float(d["ana"])
    return d


def leaf(shape, seed=0, lo=0.5, hi=2.0, **kw) -> Tensor:
    data = np.random.default_rng(seed).uniform(lo, hi, shape)
    return Tensor(data, requires_grad=True, **kw)


# --------------------------------------------------------------------------- correct fns


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
def test_passes_correct_tensor_functions(seed, n):
    x, w = leaf((n, 3), seed, -1, 1), leaf((3, 2), seed + 1, -1, 1)
    assert gradcheck(lambda x, w: (x @ w).tanh().sum(0), [x, w]) is True
    assert gradcheck(lambda x: (x * x).sum(axis=1).sqrt(), [x]) is True
    assert gradcheck(lambda x: x.exp() / x.exp().sum(), [x]) is True


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.2, 2.0), b=st.floats(-2.0, 2.0), c=st.floats(-2.0, 2.0))
def test_passes_correct_value_functions(a, b, c):
    assert gradcheck(lambda a, b, c: (a * b + c).tanh(), [Value(a), Value(b), Value(c)])
    assert gradcheck(lambda a, b: a**b + (b * a).exp() / (a + 1.0), [Value(a), Value(b)])
    assert gradcheck(lambda a, c: (a.log() - c).sigmoid() * 3.0 - a / (c * c + 1.0), [a, c])


def test_passes_with_constant_arguments_and_frozen_tensors():
    x, frozen = leaf((2, 3)), Tensor(np.full((2, 3), 2.0))
    # the constant and the requires_grad=False tensor are passed through, not checked
    assert gradcheck(lambda x, k, f: BadSquare.apply(f) * x * k, [x, 3.0, frozen])


def test_vjp_path_passes_correct_function():
    x = leaf((100, 50), seed=3)
    assert gradcheck(lambda t: (t * t).tanh(), [x])


# --------------------------------------------------------------------------- wrong fns


def test_full_jacobian_path_catches_wrong_derivative():
    x = leaf((2, 3), seed=1, name="w")
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: BadSquare.apply(t), [x])
    d = parse(info.value)
    assert d["name"] == "input 0 (w)"
    assert "d output" in d["what"]
    idx = d["index"]
    assert len(idx) == 2 and idx[0] < 2 and idx[1] < 3
    # an elementwise op: the reported Jacobian entry is diagonal; closed forms 2a and 3a
    assert d["what"] == f"d output{idx}"
    a = x.data[idx]
    assert d["num"] == pytest.approx(2 * a, rel=1e-6)
    assert d["ana"] == pytest.approx(3 * a, rel=1e-9)
    # the worst element is reported: the largest |a|
    assert idx == np.unravel_index(np.argmax(x.data), x.shape)
    assert isinstance(info.value, AssertionError)


def test_vjp_path_catches_wrong_derivative():
    x = leaf((100, 50), seed=2, name="big")  # 5000 inputs x 5000 outputs: VJP path
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: BadSquare.apply(t), [x])
    d = parse(info.value)
    assert d["name"] == "input 0 (big)"
    assert "random u" in d["what"]
    assert d["index"][0] < 100 and d["index"][1] < 50 and len(d["index"]) == 2
    assert d["ana"] / d["num"] == pytest.approx(FACTOR, rel=1e-5)


@pytest.mark.parametrize("shape", [(3, 2), (60, 80)], ids=["full", "vjp"])
def test_names_the_wrong_input(shape):
    a, b = leaf(shape, seed=4), leaf(shape, seed=5)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: BadMul.apply(a, b), [a, b])
    d = parse(info.value)
    assert d["name"] == "input 1"
    assert d["ana"] / d["num"] == pytest.approx(FACTOR, rel=1e-5)
    if shape == (3, 2):  # the full Jacobian names the exact entry: d out[idx] / d b[idx] = a
        assert d["num"] == pytest.approx(a.data[d["index"]], rel=1e-6)


def test_full_jacobian_names_the_single_wrong_element():
    x = leaf((2, 3), seed=6)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: BadAtOneElement.apply(t), [x])
    d = parse(info.value)
    assert d["index"] == (1, 1)  # flat index 4 of shape (2, 3)
    assert d["ana"] - d["num"] == pytest.approx(1.0, abs=1e-6)


def test_catches_non_finite_gradient():
    with pytest.raises(GradcheckError, match="analytical nan"):
        gradcheck(lambda t: NanGrad.apply(t), [leaf((2,))])


def test_value_wrong_derivative_is_caught():
    # a * a.data cuts one path of the graph: analytical a, numerical 2a
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: a * a.data + b, [Value(1.5), Value(0.3)])
    d = parse(info.value)
    assert d["name"] == "input 0" and d["index"] == ()
    assert d["num"] == pytest.approx(3.0, rel=1e-6) and d["ana"] == pytest.approx(1.5)


@pytest.mark.parametrize("shape", [(2, 3), (100, 50)], ids=["full", "vjp"])
def test_raise_exception_false_returns_false(shape):
    x = leaf(shape)
    assert gradcheck(lambda t: BadSquare.apply(t), [x], raise_exception=False) is False
    assert gradcheck(lambda t: t * t, [x], raise_exception=False) is True
    v = Value(0.7)
    assert gradcheck(lambda a: a * a.data, [v], raise_exception=False) is False


def test_tolerances_are_respected():
    x = leaf((3,))
    # off by 50%: passes only if rtol is huge
    assert gradcheck(lambda t: BadSquare.apply(t), [x], rtol=0.6, atol=0)
    assert not gradcheck(lambda t: BadSquare.apply(t), [x], rtol=0.4, atol=0, raise_exception=False)


# --------------------------------------------------------------------------- hygiene


@pytest.mark.parametrize("shape", [(2, 3), (100, 50)], ids=["full", "vjp"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inputs_are_not_modified(shape, dtype):
    x = leaf(shape, dtype=dtype, name="x")
    y = Tensor(np.ones(shape, dtype=dtype))
    before, buf = x.data.copy(), x.data
    x.grad = old_grad = np.full(shape, 7.0, dtype=dtype)  # an earlier gradient stays as is
    gradcheck(lambda a, b: (a * b).tanh(), [x, y])
    gradcheck(lambda a: BadSquare.apply(a), [x], raise_exception=False)
    assert x.data is buf and x.dtype == dtype
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is old_grad and (old_grad == 7.0).all() and y.grad is None
    assert x.requires_grad and not y.requires_grad
    assert x.name == "x"


def test_value_inputs_are_not_modified():
    a = Value(0.5)
    gradcheck(lambda a: (a * a).tanh(), [a])
    assert a.data == 0.5 and a.grad == 0


def test_float32_inputs_are_checked_in_float64():
    seen = []

    def fn(t):
        seen.append(t.dtype)
        return t**3

    x = leaf((2, 2), dtype=np.float32)
    # float32 finite differences with eps=1e-6 would be wrong in the first digit
    assert gradcheck(fn, [x], eps=1e-6, atol=1e-8, rtol=1e-6)
    assert seen and all(d == np.float64 for d in seen)
    assert x.dtype == np.float32


def test_gradcheck_input_errors():
    with pytest.raises(ValueError, match="no inputs"):
        gradcheck(lambda: None, [])
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2.0, [Tensor([1.0, 2.0])])
    with pytest.raises(TypeError, match="must return a Tensor"):
        gradcheck(lambda t: 3.0, [leaf((2,))])


def test_full_jacobian_is_exact_for_closed_form():
    # f(a, b) = a·b (outer), d f[i,j]/d a[i] = b[j]: passes with a tolerance far below the
    # size of the entries, so a transposed or mis-scaled Jacobian could not slip through
    a, b = leaf((3, 1), seed=7), leaf((1, 4), seed=8)
    assert gradcheck(lambda a, b: a * b, [a, b], atol=1e-8, rtol=1e-7)
    assert math.isfinite(float((a * b).sum().item()))
