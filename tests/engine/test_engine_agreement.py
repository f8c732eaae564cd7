"""The scalar ``Value`` engine and the ``Tensor`` engine agree on the same expressions.

Each expression below is written once and run on Values and on 0-d float64 Tensors;
forward values and every input's gradient must match.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, gradcheck
from tinygrad_opt.value import Value

SETTINGS = settings(max_examples=25, deadline=None)
real = st.floats(-2.0, 2.0, allow_nan=False)
positive = st.floats(0.2, 3.0, allow_nan=False)
away0 = st.one_of(st.floats(-2.0, -0.1), st.floats(0.1, 2.0))  # no kink of relu near


def neuron(x1, x2, w1, w2, b):
    return (x1 * w1 + x2 * w2 + b).tanh()


def polynomial(x):
    return 3.0 * x**3 - 2 * x**2 + x / 4.0 - 7.0 + 1.0 / (x * x + 1.0)


def power(x, y):
    return x**y + 2.0**y - y**2.0 + x ** (y * 0.5)


def mlp(x1, x2, w11, w12, w21, w22, b1, b2, v1, v2, c):
    h1 = (w11 * x1 + w12 * x2 + b1).tanh()
    h2 = (w21 * x1 + w22 * x2 + b2).tanh()
    return (v1 * h1 + v2 * h2 + c).sigmoid()


def softplus_logistic(x, y):
    # log(1 + e^x) and a logistic loss with exp, log, division and subtraction
    return (1.0 + x.exp()).log() - y * x + (x - y) / (1.0 + (x * y).exp())


def shared(a, b):
    s = a * b  # used three times
    return s * s + s - (s / (b * b + 1.0)).tanh() - a


def relu_mix(x, w, b):
    return (x * w + b).relu() * 2.0 - (-(x * w)).relu() + (x - 3.0).sigmoid()


def on_values(fn, args):
    vals = [Value(a) for a in args]
    out = fn(*vals)
    out.backward()
    return out.data, [v.grad for v in vals]


def on_tensors(fn, args):
    ts = [Tensor(np.float64(a), requires_grad=True) for a in args]
    out = fn(*ts)
    assert out.shape == () and out.dtype == np.float64
    out.backward()
    return out.item(), [0.0 if t.grad is None else float(t.grad) for t in ts]


def assert_agree(fn, args, rtol=1e-12, atol=1e-12):
    v_out, v_grads = on_values(fn, args)
    t_out, t_grads = on_tensors(fn, args)
    assert math.isfinite(v_out)
    np.testing.assert_allclose(t_out, v_out, rtol=rtol, atol=atol, err_msg="forward")
    np.testing.assert_allclose(t_grads, v_grads, rtol=rtol, atol=atol, err_msg="gradients")
    return v_out, v_grads


@SETTINGS
@given(x1=real, x2=real, w1=real, w2=real, b=real)
def test_neuron(x1, x2, w1, w2, b):
    out, grads = assert_agree(neuron, [x1, x2, w1, w2, b])
    # closed form: d tanh(z)/dw1 = (1 - tanh²z)·x1
    np.testing.assert_allclose(grads[2], (1 - out**2) * x1, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(x=real)
def test_polynomial(x):
    out, (g,) = assert_agree(polynomial, [x])
    expected = 9 * x**2 - 4 * x + 0.25 - 2 * x / (x * x + 1) ** 2
    np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(x=positive, y=real)
def test_power(x, y):
    _, (gx, gy) = assert_agree(power, [x, y])
    np.testing.assert_allclose(gx, y * x ** (y - 1) + 0.5 * y * x ** (0.5 * y - 1), rtol=1e-11)


@SETTINGS
@given(
    xs=st.lists(real, min_size=2, max_size=2),
    ws=st.lists(st.floats(-1.5, 1.5), min_size=9, max_size=9),
)
def test_tanh_mlp(xs, ws):
    assert_agree(mlp, xs + ws)


@SETTINGS
@given(x=real, y=st.sampled_from([0.0, 1.0]))
def test_softplus_logistic(x, y):
    assert_agree(softplus_logistic, [x, y])


@SETTINGS
@given(a=real, b=real)
def test_shared_subexpressions(a, b):
    assert_agree(shared, [a, b])


@SETTINGS
@given(x=away0, w=st.floats(0.5, 2.0), b=st.floats(-0.05, 0.05))
def test_relu(x, w, b):
    assert_agree(relu_mix, [x, w, b])


@pytest.mark.parametrize(
    "fn, args",
    [
        (neuron, [0.5, -1.0, 0.3, 0.7, -0.2]),
        (polynomial, [1.3]),
        (power, [1.7, -0.4]),
        (softplus_logistic, [0.3, 1.0]),
        (shared, [0.4, -1.1]),
    ],
)
def test_both_engines_pass_gradcheck(fn, args):
    assert gradcheck(fn, [Value(a) for a in args])
    assert gradcheck(fn, [Tensor(np.float64(a), requires_grad=True) for a in args])


@SETTINGS
@given(
    w=st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3),
    xs=st.lists(st.tuples(real, real, st.sampled_from([-1.0, 1.0])), min_size=1, max_size=6),
)
def test_batched_tensor_loss_matches_summed_scalar_losses(w, xs):
    """One vectorised Tensor loss over a batch == Σ of per-sample Value losses."""
    vw = [Value(a) for a in w]
    total = Value(0.0)
    for x1, x2, y in xs:
        pred = (vw[0] * x1 + vw[1] * x2 + vw[2]).tanh()
        total = total + (pred - y) ** 2
    total = total / len(xs)
    total.backward()

    X = Tensor(np.array([[a, b] for a, b, _ in xs]))
    Y = Tensor(np.array([y for *_, y in xs]))
    tw = Tensor(np.array(w[:2]), requires_grad=True)
    tb = Tensor(np.float64(w[2]), requires_grad=True)
    loss = (((X @ tw + tb).tanh() - Y) ** 2).mean()
    loss.backward()

    np.testing.assert_allclose(loss.item(), total.data, rtol=1e-12)
    np.testing.assert_allclose(tw.grad, [vw[0].grad, vw[1].grad], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(float(tb.grad), vw[2].grad, rtol=1e-11, atol=1e-14)
