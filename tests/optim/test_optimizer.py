"""The machinery every optimizer shares: groups, state, state_dict, validation, guards."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import SGD, Adam, Optimizer, available, create
from tinygrad_opt.optim.memory import measure
from tinygrad_opt.optim.testing import gradient_sequence


def make_params(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [
        Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=dtype),
        Tensor(rng.standard_normal(5), requires_grad=True, dtype=dtype),
    ]


def feed(params, grads):
    for p, g in zip(params, grads):
        p.grad = None if g is None else g.astype(p.dtype)


# ----------------------------------------------------------------------------- construction
def test_empty_parameter_list_is_rejected():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)


def test_duplicate_parameters_are_rejected():
    p = make_params()[0]
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p], lr=0.1)
    q = make_params()[1]
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p, q]}, {"params": [q]}], lr=0.1)


def test_non_tensor_parameters_and_unknown_hyperparameters_are_rejected():
    with pytest.raises(TypeError, match="must be Tensors, got ndarray at index 0"):
        SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="no hyperparameter"):
        SGD([{"params": make_params(), "betas": (0.9, 0.9)}], lr=0.1)
    with pytest.raises(TypeError):
        SGD(make_params(), lr=0.1, colour="red")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: SGD(ps, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda ps: SGD(ps, lr=0.1, momentum=-1), "Invalid momentum value: -1"),
        (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov"),
        (lambda ps: Adam(ps, betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (lambda ps: Adam(ps, betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
        (lambda ps: Adam(ps, eps=-1e-8), "Invalid epsilon value: -1e-08"),
        (lambda ps: Adam(ps, weight_decay=-1), "Invalid weight_decay value: -1"),
        (lambda ps: Adam(ps, lr=float("nan")), "Invalid learning rate: nan"),
    ],
)
def test_invalid_hyperparameters_name_the_value(make, message):
    with pytest.raises(ValueError) as info:
        make(make_params())
    assert message in str(info.value)


def test_invalid_hyperparameter_in_a_group_is_rejected():
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        SGD([{"params": make_params(), "lr": -1}], lr=0.1)


# ----------------------------------------------------------------------------- groups
def test_param_groups_take_their_own_hyperparameters_and_inherit_the_rest():
    a, b = make_params()
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0.9
    a0, b0 = a.data.copy(), b.data.copy()
    feed([a, b], [np.ones(a.shape), np.ones(b.shape)])
    opt.step()
    np.testing.assert_allclose(a0 - a.data, 0.1)
    np.testing.assert_allclose(b0 - b.data, 0.5)


def test_add_param_group_later():
    a, b = make_params()
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [a]})


# ----------------------------------------------------------------------------- stepping
def test_zero_grad_to_none_or_zeros():
    ps = make_params()
    opt = SGD(ps, lr=0.1)
    feed(ps, [np.ones(p.shape) for p in ps])
    buffers = [p.grad for p in ps]
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is buf and not p.grad.any() for p, buf in zip(ps, buffers))
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_parameters_without_gradient_are_skipped_and_get_no_state():
    a, b = make_params()
    b0 = b.data.copy()
    opt = Adam([a, b], lr=0.1)
    feed([a, b], [np.ones(a.shape), None])
    opt.step()
    np.testing.assert_array_equal(b.data, b0)
    assert a in opt.state and b not in opt.state


def test_step_with_closure_returns_the_loss_and_trains():
    model = nn.Linear(3, 1, rng=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)

    def closure():
        opt.zero_grad()
        loss = nn.mse_loss(model(Tensor(X)), y)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(100):
        last = opt.step(closure).item()
    assert last < first * 1e-3


def test_maximize_climbs():
    (p,) = make_params()[:1]
    p0 = p.data.copy()
    opt = SGD([p], lr=0.1, maximize=True)
    p.grad = np.ones(p.shape)
    opt.step()
    np.testing.assert_allclose(p.data - p0, 0.1)


def test_step_does_not_modify_the_gradient_array():
    ps = make_params()
    opt = Adam(ps, lr=0.1, weight_decay=0.1, maximize=True)
    grads = [np.ones(p.shape) for p in ps]
    feed(ps, grads)
    kept = [p.grad.copy() for p in ps]
    opt.step()
    for p, k in zip(ps, kept):
        np.testing.assert_array_equal(p.grad, k)


# ----------------------------------------------------------------------------- non-finite guard
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_guard_skips_and_counts_the_step(bad):
    ps = make_params()
    opt = Adam(ps, lr=0.1, skip_nonfinite=True)
    feed(ps, [np.ones(p.shape) for p in ps])
    opt.step()
    before = [p.data.copy() for p in ps]
    state_before = [s["exp_avg"].copy() for s in opt.state.values()]
    grads = [np.ones(p.shape) for p in ps]
    grads[1][2] = bad
    feed(ps, grads)
    opt.step()
    assert opt.skipped_steps == 1
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.data, b)
    for s, b in zip(opt.state.values(), state_before):
        np.testing.assert_array_equal(s["exp_avg"], b)
        assert s["step"] == 1
    feed(ps, [np.ones(p.shape) for p in ps])
    opt.step()
    assert opt.skipped_steps == 1 and all(np.isfinite(p.data).all() for p in ps)


def test_without_the_guard_nan_propagates():
    ps = make_params()
    opt = SGD(ps, lr=0.1)
    feed(ps, [np.full(p.shape, np.nan) for p in ps])
    opt.step()
    assert np.isnan(ps[0].data).all() and opt.skipped_steps == 0


# ----------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.01),
        lambda ps: Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.001}], lr=0.01),
    ],
)
def test_state_dict_round_trip_continues_bit_identically(make):
    grads = gradient_sequence([(3, 4), (5,)], 40, seed=3)
    ps_a = make_params()
    opt_a = make(ps_a)
    for g in grads:
        feed(ps_a, g)
        opt_a.step()

    ps_b = make_params()
    opt_b = make(ps_b)
    for g in grads[:20]:
        feed(ps_b, g)
        opt_b.step()
    saved = opt_b.state_dict()
    saved_params = [p.data.copy() for p in ps_b]
    for g in grads[20:25]:  # the saved copy must not follow later steps
        feed(ps_b, g)
        opt_b.step()

    ps_c = make_params()
    for p, v in zip(ps_c, saved_params):
        p.data[...] = v
    opt_c = make(ps_c)
    opt_c.load_state_dict(saved)
    for g in grads[20:]:
        feed(ps_c, g)
        opt_c.step()
    for a, c in zip(ps_a, ps_c):
        np.testing.assert_array_equal(a.data, c.data)


def test_state_dict_is_keyed_by_index_and_holds_copies():
    ps = make_params()
    opt = Adam(ps, lr=0.1)
    feed(ps, [np.ones(p.shape) for p in ps])
    opt.step()
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1}
    assert sd["param_groups"][0]["params"] == [0, 1]
    sd["state"][0]["exp_avg"][...] = 123.0
    assert not (opt.state[ps[0]]["exp_avg"] == 123.0).any()


def test_load_state_dict_validates_groups_sizes_shapes_and_dtypes():
    ps = make_params()
    opt = Adam(ps, lr=0.1)
    feed(ps, [np.ones(p.shape) for p in ps])
    opt.step()
    sd = opt.state_dict()

    two_groups = Adam([{"params": make_params()[:1]}, {"params": make_params()[1:]}])
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        two_groups.load_state_dict(sd)
    with pytest.raises(ValueError, match="has 2 parameters, this optimizer has 1"):
        Adam(make_params()[:1]).load_state_dict(sd)
    with pytest.raises(ValueError, match="dtype float64, the parameter has float32"):
        Adam(make_params(dtype=np.float32)).load_state_dict(sd)
    other = [Tensor(np.zeros((4, 3)), requires_grad=True), Tensor(np.zeros(5), requires_grad=True)]
    with pytest.raises(ValueError, match=r"shape \(3, 4\), the parameter has shape \(4, 3\)"):
        Adam(other).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        Adam(make_params()).load_state_dict({"nope": 1})
    fresh = Adam(make_params())
    bad = fresh.state_dict() | {"param_groups": [dict(sd["param_groups"][0], lr=-1.0)]}
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 1e-3  # nothing changed by the failed load


# ----------------------------------------------------------------------------- registry
def test_registry_builds_by_name_with_presets():
    for name in ("sgd", "momentum", "nesterov", "adam", "amsgrad", "adamw"):
        assert name in available()
    opt = create("momentum", make_params(), lr=0.1)
    assert isinstance(opt, SGD) and opt.param_groups[0]["momentum"] == 0.9
    opt = create("Nesterov", make_params(), lr=0.1, momentum=0.5)
    assert opt.param_groups[0]["nesterov"] and opt.param_groups[0]["momentum"] == 0.5
    assert create("amsgrad", make_params()).param_groups[0]["amsgrad"]
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'; available: .*adam"):
        create("adamm", make_params())


def test_custom_optimizer_on_the_public_base_class():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def update(self, p, g, state, group):
            p -= group["lr"] * np.sign(g)

    ps = make_params()
    p0 = ps[0].data.copy()
    opt = SignSGD(ps, lr=0.5)
    feed(ps, [np.full(p.shape, -3.0) for p in ps])
    opt.step()
    np.testing.assert_allclose(ps[0].data - p0, 0.5)
    assert opt.state_bytes() == 0


# ----------------------------------------------------------------------------- memory
@pytest.mark.parametrize(
    "name, ratio", [("sgd", 0.0), ("momentum", 1.0), ("adam", 2.0), ("amsgrad", 3.0)]
)
def test_state_bytes_per_parameter(name, ratio):
    row = measure(name, shapes=[(64, 32), (32,)])
    assert row.per_parameter == pytest.approx(ratio)


def test_state_bytes_counts_real_arrays():
    ps = make_params(dtype=np.float32)
    opt = Adam(ps)
    assert opt.state_bytes() == 0  # lazy: nothing before the first step
    feed(ps, [np.ones(p.shape) for p in ps])
    opt.step()
    assert opt.state_bytes() == 2 * sum(p.data.nbytes for p in ps)


# ----------------------------------------------------------------------------- hypothesis
@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(0, 10),
    momentum=st.floats(0, 0.999),
    dampening=st.floats(0, 1),
    weight_decay=st.floats(0, 1),
)
def test_sgd_never_produces_nan_from_finite_inputs(lr, momentum, dampening, weight_decay):
    ps = make_params()
    opt = SGD(ps, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    for g in gradient_sequence([(3, 4), (5,)], 20, seed=1):
        feed(ps, g)
        opt.step()
    assert all(not np.isnan(p.data).any() for p in ps)


@settings(max_examples=40, deadline=None)
@given(
    lr=st.floats(0, 1),
    b1=st.floats(0, 0.999),
    b2=st.floats(0, 0.9999),
    eps=st.floats(1e-12, 1),
    amsgrad=st.booleans(),
)
def test_adam_never_produces_nan_or_inf_from_finite_inputs(lr, b1, b2, eps, amsgrad):
    ps = make_params()
    opt = Adam(ps, lr=lr, betas=(b1, b2), eps=eps, amsgrad=amsgrad)
    for g in gradient_sequence([(3, 4), (5,)], 20, seed=2):
        feed(ps, g)
        opt.step()
    assert all(np.isfinite(p.data).all() for p in ps)


@settings(max_examples=60, deadline=None)
@given(
    lr=st.one_of(st.floats(allow_nan=True), st.integers(-5, 5)),
    b=st.floats(-2, 2),
)
def test_validation_accepts_exactly_the_valid_range(lr, b):
    valid = lr >= 0 and 0 <= b < 1  # nan fails both comparisons
    try:
        Adam(make_params(), lr=lr, betas=(b, 0.9))
    except ValueError as e:
        assert not valid
        assert str(lr) in str(e) or str(b) in str(e)
    else:
        assert valid


def test_lookup_gives_class_and_preset_and_names_unknown_ones():
    from tinygrad_opt.optim import SGD, Adam, lookup

    assert lookup("momentum") == (SGD, {"momentum": 0.9})
    assert lookup("Adam") == (Adam, {})
    cls, preset = lookup("momentum")
    preset["momentum"] = 0.1  # a copy: the registry is not changed
    assert lookup("momentum")[1] == {"momentum": 0.9}
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'; available: .*adam"):
        lookup("adamm")
