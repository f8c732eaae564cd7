"""Elementwise math beyond the op table: special values (nan, ±inf, ±0, huge, tiny) against
torch, error classes and messages, integer division conventions, in-place forms, finite-
difference gradient checks and the accuracy of the error-function kernels.

The table cases (``cases_elementwise.py``) cover values, dtypes and gradients on ordinary
inputs; this file covers what a table cannot express.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import DTypeError, ShapeError, Tensor, gradcheck
from tinygrad_opt.ops.rounding import IntegerDivisionByZero
from tinygrad_opt.ops.special import erf_array, erfc_array, erfinv_array

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, -3.0]
SPECIAL += [40.0, -40.0, 800.0, -800.0, 1e300, -1e300, 1e-300, 1 - 1e-12, -1 + 1e-12]

UNARY_METHODS = (
    "sin cos tan asin acos atan sinh cosh asinh acosh atanh exp2 expm1 log2 log10 log1p "
    "rsqrt reciprocal square sinc deg2rad rad2deg erf erfc erfinv floor ceil round trunc "
    "frac sign exp log sqrt abs tanh sigmoid relu"
).split()

PAIR_VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e300, 1e-300]
PAIRS = np.array(list(itertools.product(PAIR_VALUES, PAIR_VALUES)))

BINARY_METHODS = (
    "atan2 hypot copysign logaddexp xlogy fmod remainder fmax fmin maximum minimum".split()
)


def assert_same(ours, theirs, what):
    theirs = np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs torch {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-300, equal_nan=True, err_msg=what)


def run_both(ours_fn, theirs_fn, arrays):
    """Values and gradients (upstream of ones) of both libraries on float64 ``arrays``."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = ours_fn(*xs)
        y.backward(np.ones(y.shape))
    ty = theirs_fn(*ts)
    ty.backward(torch.ones_like(ty))
    grads = [np.zeros_like(a) if x.grad is None else x.grad for a, x in zip(arrays, xs)]
    tgrads = [np.zeros_like(a) if t.grad is None else t.grad.numpy() for a, t in zip(arrays, ts)]
    return y.data, ty.detach().numpy(), grads, tgrads


# --------------------------------------------------------------------------- special values
@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", UNARY_METHODS)
def test_unary_special_values_match_torch(name):
    x = np.array(SPECIAL)
    out, ref, grads, tgrads = run_both(
        lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x]
    )
    assert_same(out, ref, f"{name} values")
    assert_same(grads[0], tgrads[0], f"{name} gradient")


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", BINARY_METHODS)
def test_binary_special_values_match_torch(name):
    a, b = PAIRS[:, 0].copy(), PAIRS[:, 1].copy()
    if name in ("fmod", "remainder"):  # torch's vector kernel gives nan for 1e300 mod 1e-300
        keep = ~((np.abs(a) == 1e300) & (b == 1e-300))
        a, b = a[keep], b[keep]
    out, ref, grads, tgrads = run_both(
        lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), [a, b]
    )
    assert_same(out, ref, f"{name} values")
    assert_same(grads[0], tgrads[0], f"{name} gradient of input")
    assert_same(grads[1], tgrads[1], f"{name} gradient of other")


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda a, b: a // b, lambda a, b: a.div(b, rounding_mode="floor")),
        (
            lambda a, b: a.div(b, rounding_mode="trunc"),
            lambda a, b: a.div(b, rounding_mode="trunc"),
        ),
        (lambda a, b: a / b, lambda a, b: a / b),
        (lambda a, b: a.lerp(b, 0.25), lambda a, b: a.lerp(b, 0.25)),
        (lambda a, b: a.lerp(b, 0.75), lambda a, b: a.lerp(b, 0.75)),
        (lambda a, b: a.clamp(min=b), lambda a, b: a.clamp(min=b)),
        (lambda a, b: a.clamp(max=b), lambda a, b: a.clamp(max=b)),
        (lambda a, b: a.clamp(b, b + 1), lambda a, b: a.clamp(b, b + 1)),
    ],
    ids=[
        "floor_divide",
        "div_trunc",
        "div",
        "lerp_low",
        "lerp_high",
        "clamp_min",
        "clamp_max",
        "clamp_both",
    ],  # fmt: skip
)
def test_binary_ops_special_values_match_torch(ours, theirs):
    a, b = PAIRS[:, 0].copy(), PAIRS[:, 1].copy()
    out, ref, grads, tgrads = run_both(ours, theirs, [a, b])
    assert_same(out, ref, "values")
    for g, t in zip(grads, tgrads):
        assert_same(g, t, "gradient")


def test_sign_of_nan_is_zero_and_abs_gradient_there_is_zero():
    x = Tensor([np.nan, -0.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(x.sign().data, [0.0, 0.0, 1.0])
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


# --------------------------------------------------------------------------- integer division
INT_DIV_OPS = {
    "floor_divide": lambda lib, a, b: a // b,
    "fmod": lambda lib, a, b: lib.fmod(a, b),
    "remainder": lambda lib, a, b: a % b,
    "div_trunc": lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    "div_floor": lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
}


@pytest.mark.parametrize("op", INT_DIV_OPS)
def test_integer_division_conventions_exhaustive(op):
    """Every sign combination of dividend and divisor in [-7, 7] against Python's own
    floor division / C truncation (torch's conventions)."""
    a, b = np.meshgrid(np.arange(-7, 8), np.r_[np.arange(-4, 0), np.arange(1, 5)])
    a, b = a.ravel(), b.ravel()
    trunc = np.array([int(x / y) for x, y in zip(a, b)])
    expected = {
        "floor_divide": a // b,
        "div_floor": a // b,
        "div_trunc": trunc,
        "fmod": np.array([math.fmod(x, y) for x, y in zip(a, b)]).astype(np.int64),
        "remainder": a % b,
    }[op]
    out = INT_DIV_OPS[op](tg, Tensor(a), Tensor(b))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, expected)


@pytest.mark.parametrize("op", INT_DIV_OPS)
def test_integer_division_by_zero_raises_as_torch(op):
    a, b = Tensor([5, -3], dtype=np.int32), Tensor([2, 0], dtype=np.int32)
    with pytest.raises(RuntimeError, match="division by zero") as info:
        INT_DIV_OPS[op](tg, a, b)
    assert isinstance(info.value, ZeroDivisionError)
    assert isinstance(info.value, IntegerDivisionByZero)
    if torch is not None:
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            INT_DIV_OPS[op](torch, torch.tensor([5, -3]), torch.tensor([2, 0]))


def test_integer_division_by_python_zero_raises():
    with pytest.raises(ZeroDivisionError):
        Tensor([1, 2]) // 0
    with pytest.raises(ZeroDivisionError):
        Tensor([1, 2]) % 0


def test_float_division_by_zero_gives_inf_and_nan_without_warnings():
    x = Tensor([1.0, -1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal((x // 0.0).data, [np.inf, -np.inf, np.nan])
        assert np.isnan(x.fmod(0.0).data).all()
        assert np.isnan((x % 0.0).data).all()


# --------------------------------------------------------------------------- errors
def _raises_like_torch(ours, theirs, exc, match):
    with pytest.raises(exc, match=match):
        ours()
    if torch is not None:
        with pytest.raises(exc):
            theirs()


L = lambda lib: lib.tensor([1, 2, 3])  # noqa: E731
B = lambda lib: lib.tensor([True, False])  # noqa: E731
Fl = lambda lib, *s: lib.ones(*s)  # noqa: E731

ERRORS = {
    "floor_of_bool": (lambda m: B(m).floor(), NotImplementedError, "floor.*Bool"),
    "round_decimals_of_long": (lambda m: L(m).round(decimals=1), NotImplementedError, "Long"),
    "frac_of_long": (lambda m: L(m).frac(), NotImplementedError, "Long"),
    "floordiv_of_bool": (lambda m: B(m) // B(m), NotImplementedError, "Bool"),
    "fmod_of_bool": (lambda m: B(m).fmod(B(m)), NotImplementedError, "Bool"),
    "remainder_of_bool": (lambda m: B(m) % B(m), NotImplementedError, "Bool"),
    "hypot_of_long": (lambda m: L(m).hypot(L(m)), NotImplementedError, "hypot.*Long"),
    "logaddexp_of_long": (lambda m: L(m).logaddexp(L(m)), NotImplementedError, "Long"),
    "lerp_of_long": (lambda m: L(m).lerp(L(m), 0.5), NotImplementedError, "Long"),
    "lerp_end_dtype": (
        lambda m: Fl(m, 3).lerp(Fl(m, 3).double(), 0.5),
        RuntimeError,
        "expected dtype .* for `end`",
    ),
    "sin_inplace_of_long": (lambda m: L(m).sin_(), RuntimeError, "can't be cast"),
    "floor_divide_inplace_float_into_long": (
        lambda m: L(m).floor_divide_(2.5),
        RuntimeError,
        "can't be cast",
    ),
    "clamp_without_bounds": (lambda m: Fl(m, 3).clamp(), RuntimeError, "at least one"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_have_torch_classes(case):
    fn, exc, match = ERRORS[case]
    _raises_like_torch(lambda: fn(tg), lambda: fn(torch), exc, match)


def test_clamp_without_bounds_is_also_a_value_error():
    with pytest.raises(ValueError, match="at least one"):
        Tensor([1.0]).clamp()


SHAPES = ((2, 3), (4,))


@pytest.mark.parametrize(
    "op, fn",
    [
        ("atan2", lambda a, b: a.atan2(b)),
        ("hypot", lambda a, b: a.hypot(b)),
        ("copysign", lambda a, b: a.copysign(b)),
        ("logaddexp", lambda a, b: a.logaddexp(b)),
        ("xlogy", lambda a, b: a.xlogy(b)),
        ("fmod", lambda a, b: a.fmod(b)),
        ("remainder", lambda a, b: a % b),
        ("floor_divide", lambda a, b: a // b),
        ("fmax", lambda a, b: a.fmax(b)),
        ("clamp", lambda a, b: a.clamp(b, None)),
        ("clamp", lambda a, b: a.clamp(None, b)),
        ("lerp", lambda a, b: a.lerp(b, 0.5)),
    ],
)
def test_broadcast_errors_name_the_op_and_both_shapes(op, fn):
    a, b = Tensor(np.ones(SHAPES[0])), Tensor(np.ones(SHAPES[1]))
    with pytest.raises(ShapeError, match=op) as info:
        fn(a, b)
    assert str(SHAPES[0]) in str(info.value) and str(SHAPES[1]) in str(info.value)
    assert isinstance(info.value, RuntimeError)  # torch's class
    if torch is not None:
        with pytest.raises(RuntimeError):
            fn(torch.ones(SHAPES[0]), torch.ones(SHAPES[1]))


def test_lerp_weight_must_fit_dtype():
    a, b = Tensor(np.ones(3, np.float32)), Tensor(np.ones(3, np.float32))
    with pytest.raises(DTypeError, match="weight"):
        a.lerp(b, Tensor(np.ones(3)))
    assert a.lerp(b, Tensor(np.float64(0.5))).dtype == np.float32  # a 0-d weight may differ
    with pytest.raises(TypeError, match="end must be a Tensor"):
        a.lerp(1.0, 0.5)


# --------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", ["sin", "exp2", "log1p", "erf", "rsqrt", "reciprocal", "sinc"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_float_valued_functions_of_integers_give_the_default_float(name, dtype):
    x = Tensor(np.array([1, 0, 1]).astype(dtype))
    assert getattr(x, name)().dtype == tg.get_default_dtype()
    tg.set_default_dtype(np.float64)
    try:
        assert getattr(x, name)().dtype == np.float64
    finally:
        tg.set_default_dtype(np.float32)


def test_rounding_of_integers_keeps_the_tensor_dtype_and_values():
    x = Tensor(np.array([-3, 0, 7], dtype=np.int32))
    for name in ("floor", "ceil", "round", "trunc", "fix"):
        out = getattr(x, name)()
        assert out.dtype == np.int32 and out is not x
        np.testing.assert_array_equal(out.data, x.data)


def test_rounding_is_in_the_graph_with_zero_gradient():
    x = Tensor([1.5, -2.5], requires_grad=True)
    for name in ("floor", "ceil", "round", "trunc", "sign"):
        y = getattr(x, name)()
        assert y.requires_grad and y.op == name
        x.grad = None
        (y * 3).sum().backward()
        np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    assert x.round(decimals=1).requires_grad
    assert (x // 2).requires_grad and (x // 2).op == "floor_divide"


# --------------------------------------------------------------------------- in-place forms
INPLACE = [
    ("sin_", ()),
    ("exp2_", ()),
    ("erf_", ()),
    ("floor_", ()),
    ("round_", ()),
    ("clamp_min_", (0.1,)),
    ("clamp_max_", (0.2,)),
    ("remainder_", (0.7,)),
    ("fmod_", (-0.7,)),
    ("atan2_", (np.array(0.3),)),
    ("hypot_", (np.array(-0.4),)),
    ("copysign_", (-1.0,)),
    ("exp_", ()),
    ("abs_", ()),
    ("tanh_", ()),
    ("square_", ()),
]


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name, args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_methods_match_torch_values_and_gradients(name, args):
    data = np.linspace(-1.7, 1.9, 6)
    x = Tensor(data.copy(), requires_grad=True)
    y = x * 1.5
    version = y._version
    out = getattr(y, name)(*[Tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    assert out is y and y._version == version + 1
    (y * Tensor(np.arange(6.0))).sum().backward()

    tx = torch.tensor(data, requires_grad=True)
    ty = tx * 1.5
    getattr(ty, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    (ty * torch.arange(6.0, dtype=torch.float64)).sum().backward()
    assert_same(y.data, ty.detach().numpy(), f"{name} values")
    assert_same(x.grad, tx.grad.numpy(), f"{name} gradient")


def test_inplace_operators_floordiv_and_mod():
    x = Tensor([7, -7, 5])
    x //= 2
    np.testing.assert_array_equal(x.data, [3, -4, 2])
    x %= 3
    np.testing.assert_array_equal(x.data, [0, 2, 2])
    assert x.dtype == np.int64


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    x = Tensor([0.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.sin_()


# --------------------------------------------------------------------------- finite differences
GRADCHECK = {
    "tan": (lambda x: x.tan(), "unit"),
    "asin": (lambda x: x.asin(), "unit"),
    "acosh": (lambda x: (x + 2).acosh(), "pos"),
    "atanh": (lambda x: x.atanh(), "unit"),
    "log10": (lambda x: x.log10(), "pos"),
    "rsqrt": (lambda x: x.rsqrt(), "pos"),
    "sinc": (lambda x: x.sinc(), "real"),
    "erfc": (lambda x: x.erfc(), "real"),
    "erfinv": (lambda x: x.erfinv(), "unit"),
    "frac": (lambda x: (x * 3 + 0.05).frac(), "real"),
    "atan2": (lambda x, y: x.atan2(y), "real", "real"),
    "hypot": (lambda x, y: x.hypot(y), "real", "away0"),
    "logaddexp": (lambda x, y: x.logaddexp(y * 2), "real", "real"),
    "logaddexp2": (lambda x, y: x.logaddexp2(y), "real", "real"),
    "xlogy": (lambda x, y: x.xlogy(y), "real", "pos"),
    "copysign": (lambda x, y: x.copysign(y), "away0", "away0"),
    "fmod": (lambda x, y: (x * 3).fmod(y), "away0", "away0"),
    "remainder": (lambda x, y: (x * 3).remainder(y), "away0", "away0"),
    "lerp": (lambda x, y, w: x.lerp(y, w), "real", "real", "unit"),
    "clamp": (lambda x, lo, hi: x.clamp(lo - 1, hi + 1), "real", "unit", "unit"),
}


def _points(domain, seed):
    rng = np.random.default_rng(seed)
    if domain == "unit":
        return rng.uniform(-0.8, 0.8, 7)
    if domain == "pos":
        return rng.uniform(0.5, 2, 7)
    if domain == "away0":
        return rng.choice([-1, 1], 7) * rng.uniform(0.4, 2, 7)
    return rng.uniform(-2, 2, 7)


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradients_match_finite_differences(name):
    fn, *domains = GRADCHECK[name]
    xs = [Tensor(_points(d, i), requires_grad=True) for i, d in enumerate(domains)]
    assert gradcheck(fn, xs)


# --------------------------------------------------------------------------- error function kernels
def test_erf_and_erfc_match_math_to_full_precision():
    x = np.concatenate([np.linspace(-6, 6, 2401), [1.9999999, 2.0, 2.0000001, -2.0]])
    np.testing.assert_allclose(erf_array(x), [math.erf(v) for v in x], rtol=0, atol=3e-15)
    # erfc keeps its relative accuracy far into the tail (where 1 - erf is 0)
    t = np.linspace(-5, 26, 1241)
    np.testing.assert_allclose(erfc_array(t), [math.erfc(v) for v in t], rtol=2e-13, atol=0)
    assert erf_array(np.array(0.0)) == 0.0 and erfc_array(np.array(0.0)) == 1.0


def test_erfinv_inverts_erf_and_its_edges():
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 4001), [1e-300, -1e-17, 0.5, -0.5]])
    x = erfinv_array(y)
    np.testing.assert_allclose(erf_array(x), y, rtol=1e-14, atol=1e-16)
    # near 1 the inverse goes through erfc, so erfc(erfinv(y)) recovers 1 - y exactly
    y = 1 - np.array([1e-3, 1e-6, 1e-10, 1e-15, 2**-52])
    np.testing.assert_allclose(erfc_array(erfinv_array(y)), 1 - y, rtol=1e-14)
    edges = erfinv_array(np.array([1.0, -1.0, 1.5, -2.0, np.nan, 0.0, -0.0]))
    np.testing.assert_array_equal(edges[:2], [np.inf, -np.inf])
    assert np.isnan(edges[2:5]).all()
    assert edges[5] == 0 and np.signbit(edges[6])


@needs_torch
@pytest.mark.torch
def test_error_functions_match_torch_on_a_dense_grid():
    x = np.linspace(-7, 7, 5001)
    u = np.linspace(-0.9999, 0.9999, 5001)
    for name, arr in (("erf", x), ("erfc", x), ("erfinv", u)):
        ours = getattr(Tensor(arr), name)().data
        ref = getattr(torch.tensor(arr), name)().numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-300, err_msg=name)


# --------------------------------------------------------------------------- exports
TORCH_NAMES = (
    "sin cos tan asin arcsin acos arccos atan arctan sinh cosh asinh arcsinh acosh arccosh "
    "atanh arctanh exp2 expm1 log2 log10 log1p rsqrt reciprocal square sinc deg2rad rad2deg "
    "erf erfc erfinv floor ceil round trunc fix frac sign sgn signbit floor_divide fmod "
    "remainder atan2 arctan2 hypot copysign logaddexp logaddexp2 xlogy lerp fmax fmin "
    "clamp clip clamp_min clamp_max maximum minimum"
).split()


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_torch_names_exist_as_functions_and_methods(name):
    assert callable(getattr(tg, name))
    if torch is None or hasattr(torch.Tensor, name):
        assert callable(getattr(Tensor, name))
    if torch is not None:
        assert hasattr(torch, name), f"{name} is not a torch function"
        if hasattr(torch.Tensor, name + "_") and name not in ("clamp_min", "clamp_max"):
            inplace = name + "_"
            if inplace not in ("signbit_", "hypot_", "logaddexp_", "logaddexp2_"):
                assert callable(getattr(Tensor, inplace, None)), f"missing {inplace}"
