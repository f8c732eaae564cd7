"""Activation functions beyond the op table: special values against torch, errors (torch's
classes), ``inplace=True``, the implicit softmax dim, finite-difference gradients, and the
export lists (``nn.functional``, top-level, Tensor methods)."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as F
from tinygrad_opt import ShapeError, Tensor, gradcheck

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")

ACTIVATIONS = (
    "relu relu6 hardtanh hardsigmoid hardswish silu mish softplus softsign elu selu celu "
    "gelu logsigmoid tanhshrink softshrink hardshrink leaky_relu sigmoid tanh"
).split()
SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0]
SPECIAL += [20.0, 40.0, -40.0, 800.0, -800.0, 1e300, -1e300, 1e-300]


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_special_values_and_gradients_match_torch(name):
    data = np.array(SPECIAL)
    x = Tensor(data.copy(), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y = getattr(F, name)(x)
        y.backward(np.ones_like(data))
    tx = torch.tensor(data, requires_grad=True)
    ty = getattr(TF, name)(tx)
    ty.backward(torch.ones_like(tx))
    kw = {"rtol": 1e-10, "atol": 1e-300, "equal_nan": True}
    np.testing.assert_allclose(y.data, ty.detach().numpy(), err_msg=f"{name} values", **kw)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), err_msg=f"{name} gradient", **kw)


# --------------------------------------------------------------------------- errors
def _both(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(F, tg)
    if torch is not None:
        with pytest.raises(exc):
            fn(TF, torch)


@pytest.mark.parametrize(
    "name",
    [
        "hardsigmoid",
        "hardswish",
        "silu",
        "mish",
        "softplus",
        "elu",
        "selu",
        "celu",
        "gelu",
        "logsigmoid",
        "leaky_relu",
        "hardshrink",
        "softshrink",
    ],  # fmt: skip
)
def test_integer_inputs_raise_not_implemented_as_torch(name):
    _both(lambda f, m: getattr(f, name)(m.tensor([1, 2])), NotImplementedError, "Long")


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "softsign", "tanhshrink"])
def test_integer_inputs_that_torch_accepts(name):
    x = Tensor([-2, 3, 9])
    out = getattr(F, name)(x)
    if torch is not None:
        ref = getattr(TF, name)(torch.tensor([-2, 3, 9]))
        assert str(out.dtype) == str(ref.dtype).removeprefix("torch.")
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)


def test_hyperparameter_errors():
    _both(lambda f, m: f.hardtanh(m.ones(2), 1.0, -1.0), ValueError, "min_val")
    _both(lambda f, m: f.softshrink(m.ones(2), -0.5), RuntimeError, "lambda")
    _both(lambda f, m: f.glu(m.ones(2, 3)), RuntimeError, "even.*dimension 1 is size 3")
    _both(lambda f, m: f.glu(m.ones(2, 4), 2), IndexError, "out of range")
    _both(lambda f, m: f.glu(m.tensor(1.0)), RuntimeError, "scalars")
    _both(lambda f, m: f.normalize(m.tensor([[1, 2]])), RuntimeError, "floating point")
    _both(lambda f, m: f.normalize(m.ones(3)), IndexError, "out of range")
    _both(
        lambda f, m: f.prelu(m.ones(2, 4), m.ones(3)),
        RuntimeError,
        "parameter numbers = 3 and channel size = 4",
    )
    _both(lambda f, m: f.prelu(m.ones(3), m.ones(3)), RuntimeError, "channel size = 1")
    with pytest.raises(ShapeError):  # a RuntimeError and a ValueError
        F.glu(Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(Tensor([1.0]), approximate="fast")


# --------------------------------------------------------------------------- inplace
INPLACE = ["relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "silu", "mish", "elu",
           "selu", "celu", "leaky_relu"]  # fmt: skip


@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", INPLACE + ["threshold"])
def test_inplace_true_writes_into_the_input_and_keeps_gradients(name):
    args = (0.5, -2.0) if name == "threshold" else ()
    data = np.linspace(-4, 4, 9)
    x = Tensor(data.copy(), requires_grad=True)
    y = x * 1.25
    out = getattr(F, name)(y, *args, inplace=True)
    assert out is y and y._version == 1
    (y * Tensor(np.arange(9.0))).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    ty = tx * 1.25
    getattr(TF, name)(ty, *args, inplace=True)
    (ty * torch.arange(9.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


def test_inplace_on_a_leaf_that_requires_grad_is_refused_as_torch():
    _both(lambda f, m: f.relu(m.ones(2, requires_grad=True), inplace=True), RuntimeError, "leaf")


def test_inplace_without_grad_changes_the_array_itself():
    x = Tensor(np.array([-1.0, 2.0, 7.0]))
    arr = x.data
    F.relu6(x, inplace=True)
    assert x.data is arr
    np.testing.assert_array_equal(arr, [0.0, 2.0, 6.0])
    x = Tensor(np.array([-1.0, 2.0]))
    x.relu_().sigmoid_()
    np.testing.assert_allclose(x.data, 1 / (1 + np.exp(-np.array([0.0, 2.0]))))


# --------------------------------------------------------------------------- implicit dim
@needs_torch
@pytest.mark.torch
@pytest.mark.parametrize("name", ["softmin", "softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_omitted_dim_is_torchs_legacy_choice_with_a_warning(name, shape):
    data = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = getattr(F, name)(Tensor(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(TF, name)(torch.tensor(data))
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- finite differences
GRADCHECK = {
    "hardswish": lambda x: F.hardswish(x * 4),
    "silu": F.silu,
    "mish": F.mish,
    "softplus": lambda x: F.softplus(x * 5, beta=0.7, threshold=3),
    "elu": lambda x: F.elu(x, 1.7),
    "selu": F.selu,
    "celu": lambda x: F.celu(x, 0.6),
    "logsigmoid": lambda x: F.logsigmoid(x * 10),
    "softsign": F.softsign,
    "tanhshrink": F.tanhshrink,
    "softmin": lambda x: F.softmin(x.reshape(3, 4), 0),
    "glu": lambda x: F.glu(x.reshape(2, 6), 1),
    "normalize": lambda x: F.normalize(x.reshape(3, 4), dim=1),
    "normalize_p3": lambda x: F.normalize(x.reshape(3, 4), p=3, dim=0),
    "normalize_p1_5": lambda x: F.normalize(x.reshape(3, 4), p=1.5, dim=(0, 1)),
    "normalize_p_half": lambda x: F.normalize(x.reshape(3, 4), p=0.5, dim=1),
}


@pytest.mark.parametrize("name", GRADCHECK)
def test_gradients_match_finite_differences(name):
    rng = np.random.default_rng(1)
    x = Tensor(rng.choice([-1, 1], 12) * rng.uniform(0.1, 2, 12), requires_grad=True)
    assert gradcheck(GRADCHECK[name], [x])


def test_prelu_weight_gradcheck():
    rng = np.random.default_rng(2)
    x = Tensor(rng.choice([-1, 1], (2, 3, 2)) * rng.uniform(0.1, 2, (2, 3, 2)), requires_grad=True)
    w = Tensor(rng.uniform(0, 1, 3), requires_grad=True)
    assert gradcheck(F.prelu, [x, w])


# --------------------------------------------------------------------------- exports
FUNCTIONAL = ACTIVATIONS + ["glu", "normalize", "softmin", "softmax", "log_softmax",
                            "threshold", "prelu"]  # fmt: skip


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_signatures_match_torch(name):
    ours = getattr(F, name)
    assert name in F.__all__
    if torch is None:
        return
    try:
        theirs = inspect.signature(getattr(TF, name))
    except ValueError:  # a builtin without a signature: parse its docstring's first line
        doc = getattr(TF, name).__doc__.strip().splitlines()[0]
        params = [
            p.split("=")[0].strip() for p in doc[doc.index("(") + 1 : doc.index(")")].split(",")
        ]
        assert list(inspect.signature(ours).parameters)[: len(params)] == params
        return
    assert list(inspect.signature(ours).parameters) == list(theirs.parameters)
    for p in theirs.parameters.values():
        if p.default is not inspect.Parameter.empty:
            assert inspect.signature(ours).parameters[p.name].default == p.default, p.name


@pytest.mark.parametrize("name", ["selu", "celu", "prelu", "hardshrink", "threshold", "relu"])
def test_top_level_functions_torch_also_has(name):
    assert getattr(tg, name) is getattr(F, name)
    if torch is not None:
        assert hasattr(torch, name)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "hardshrink", "prelu", "relu_", "sigmoid_"])
def test_tensor_methods_torch_also_has(name):
    assert callable(getattr(Tensor, name))
    if torch is not None:
        assert hasattr(torch.Tensor, name)
