"""Bad input to any registered optimizer, found as a new user would: the error names the
problem, with the exception class torch raises, and nothing changes before it.

Every test runs over ``optim.available()``, so a new method is covered by registering it.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from tinygrad_opt import optim
from tinygrad_opt.optim import Optimizer, register
from tinygrad_opt.tensor import Tensor

NAMES = optim.available()


def _params(shapes=((3, 4), (4, 5))):
    rng = np.random.default_rng(0)
    return [Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def _build(name, params, **hp):
    opt = optim.create(name, params, **hp)
    if callable(getattr(opt, "train", None)):
        opt.train()  # schedule-free methods step only in train mode
    return opt


def _step(opt, params, grads):
    def closure():
        for p, g in zip(params, grads):
            p.grad = g
        return 0.0

    closure()
    if getattr(opt, "needs_closure", False):
        return opt.step(closure)
    return opt.step()


@pytest.mark.parametrize("name", NAMES)
def test_gradient_of_another_shape_is_refused_naming_the_parameter(name):
    params = _params()
    opt = _build(name, params)
    before = [p.data.copy() for p in params]
    bad = [np.ones((3, 4)), np.ones((5, 4))]  # parameter 1 is (4, 5)
    with pytest.raises(RuntimeError) as err:
        _step(opt, params, bad)
    message = str(err.value)
    assert "parameter 1" in message and "(5, 4)" in message and "(4, 5)" in message
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.data, b)  # nothing stepped


@pytest.mark.parametrize("name", NAMES)
def test_gradient_that_would_broadcast_is_refused(name):
    params = _params(((3, 4),))
    opt = _build(name, params)
    with pytest.raises(RuntimeError, match=r"parameter 0 has shape \(4,\)"):
        _step(opt, params, [np.ones(4)])


def _numeric_hyperparameters():
    cases = []
    for name in NAMES:
        cls, _ = optim.lookup(name)
        sig = inspect.signature(cls)
        for hp, parameter in sig.parameters.items():
            default = parameter.default
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                cases.append((name, hp))
    return cases


@pytest.mark.parametrize("name, hp", _numeric_hyperparameters())
def test_non_numeric_hyperparameter_says_must_be_a_number(name, hp):
    with pytest.raises(TypeError, match=f"{hp} must be a number, got '0.1' \\(str\\)"):
        optim.create(name, _params(), **{hp: "0.1"})


def test_string_learning_rate_is_a_type_error_as_in_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr="0.1")
    with pytest.raises(TypeError, match="lr must be a number"):
        optim.Adam(_params(), lr="0.1")


@pytest.mark.parametrize(
    "name", [n for n in NAMES if "betas" in inspect.signature(optim.lookup(n)[0]).parameters]
)
def test_betas_of_the_wrong_length_say_so(name):
    cls, _ = optim.lookup(name)
    n = len(inspect.signature(cls).parameters["betas"].default)
    wrong = tuple([0.9] * (n + 1))
    with pytest.raises(ValueError, match=rf"expected {n} numbers"):
        optim.create(name, _params(), betas=wrong)
    with pytest.raises(ValueError, match=rf"expected {n} numbers"):
        optim.create(name, _params(), betas=(0.9,) * (n - 1) if n > 1 else ())


@pytest.mark.parametrize("name", NAMES)
def test_a_set_of_parameters_is_refused_as_in_torch(name):
    params = set(_params())
    with pytest.raises(TypeError, match="set"):
        optim.create(name, params)
    with pytest.raises(TypeError, match="set"):
        optim.create(name, [{"params": params}])


def test_torch_refuses_a_set_in_a_group():
    """torch refuses a set as a group's ``params``; given as the whole ``params`` it turns
    it into a list in the set's (run-dependent) order. We refuse both."""
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.optim.SGD([{"params": {torch.zeros(2, requires_grad=True)}}], lr=0.1)


def test_declared_hyperparameters_make_the_constructor():
    class Plain(Optimizer):
        hyperparameters = dict(lr=0.1, betas=(0.5, 0.6), flag=False)

        def update(self, p, g, state, group):
            p -= group["lr"] * g

    sig = inspect.signature(Plain)
    assert list(sig.parameters) == ["params", "lr", "betas", "flag", "options"]
    opt = Plain(_params(), 0.2, [0.1, 0.2], flat=False, threads=1)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[0]["betas"] == (0.1, 0.2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'momentum'"):
        Plain(_params(), momentum=0.9)
    with pytest.raises(TypeError, match="multiple values for argument 'lr'"):
        Plain(_params(), 0.2, lr=0.3)
    with pytest.raises(TypeError, match="at most 3 hyperparameters"):
        Plain(_params(), 0.1, (0.5, 0.6), False, 4)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        Plain(_params(), lr=-1)
    with pytest.raises(TypeError, match=r"betas\[1\] must be a number"):
        Plain(_params(), betas=(0.5, "x"))


def test_register_refuses_a_name_taken_by_another_class():
    with pytest.raises(ValueError, match="'adam' is taken by"):

        @register("adam")
        class NotAdam(Optimizer):
            pass
