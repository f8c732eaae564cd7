"""Third derivatives of the math, activation and selection ops (``create_graph=True`` all
the way down), against torch's nested ``torch.autograd.grad`` and against central
differences of our own second-order pass.

For ``out = f(x_1 … x_n)`` and fixed random tensors u, w, v (one per variable), with the
variables V = (x_1 … x_n, u):

    S1 = sum(out · u),   S2 = Σ_i sum(∂S1/∂V_i · w_i),   S3 = Σ_i sum(∂S2/∂V_i · v_i)

and the checked quantity is ∇_V S3: every third derivative of f (and the second ones,
through u) contracted with w and v. Also: sinc at 0, where the second derivative is the
limit −π²/3 (torch's is nan there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
import tinygrad_opt.nn.functional as TGF
from tinygrad_opt import Tensor

try:
    import torch
except ImportError:  # the finite-difference tests still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")


def _data(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """Float64 test data: real U(−2, 2), pos U(0.5, 2), unit U(−0.9, 0.9), away0
    ±U(0.3, 2), int (integers in [−2, 2]: the kinks of relu, hardtanh, abs …)."""
    if domain == "real":
        return rng.uniform(-2, 2, shape)
    if domain == "pos":
        return rng.uniform(0.5, 2, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "away0":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2, shape)
    if domain == "int":
        return rng.integers(-2, 3, shape).astype(np.float64)
    raise ValueError(domain)


def _weights(rng: np.random.Generator, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    return [rng.standard_normal(s) for s in shapes]


def _third(lib: Any, fn: Callable, arrays: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """∇_V S3 (module docstring) computed by ``lib`` (tinygrad_opt or torch)."""
    is_torch = lib is torch
    make = (
        (lambda a: torch.tensor(a, requires_grad=True))
        if is_torch
        else (lambda a: Tensor(a.copy(), requires_grad=True))
    )
    grad = torch.autograd.grad if is_torch else tg.autograd.grad
    xs = [make(a) for a in arrays]
    out = fn(*xs)
    rng = np.random.default_rng(seed)
    u = make(rng.standard_normal(tuple(out.shape)))
    vs = [*xs, u]
    shapes = [tuple(t.shape) for t in vs]
    w, v = _weights(rng, shapes), _weights(rng, shapes)
    lift = torch.from_numpy if is_torch else Tensor
    s = (out * u).sum()
    for coefs, create in ((w, True), (v, True), (None, False)):
        if not s.requires_grad:  # nothing left to differentiate: all zeros
            return [np.zeros(sh) for sh in shapes]
        gs = grad(s, vs, create_graph=create, allow_unused=True, materialize_grads=True)
        if coefs is None:
            return [np.asarray(g.detach().numpy(force=True) if is_torch else g.data) for g in gs]
        s = sum(((g * lift(c)).sum() for g, c in zip(gs, coefs)), lift(np.zeros(())))
    raise AssertionError("unreachable")


def _second_sum(fn: Callable, arrays: list[np.ndarray], u: np.ndarray, seed: int) -> float:
    """S3 of the module docstring, by our engine (two create_graph passes), as a number:
    its derivative along a direction is checked by central differences."""
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    ut = Tensor(u.copy(), requires_grad=True)
    vs = [*xs, ut]
    rng = np.random.default_rng(seed)
    rng.standard_normal(u.shape)  # (the draw _third used for u)
    shapes = [tuple(t.shape) for t in vs]
    w, v = _weights(rng, shapes), _weights(rng, shapes)
    s = (fn(*xs) * ut).sum()
    g1 = tg.autograd.grad(s, vs, create_graph=True, allow_unused=True, materialize_grads=True)
    s2 = sum(((g * Tensor(c)).sum() for g, c in zip(g1, w)), Tensor(np.zeros(())))
    if not s2.requires_grad:
        return 0.0
    g2 = tg.autograd.grad(s2, vs, allow_unused=True, materialize_grads=True)
    return float(sum(np.sum(np.asarray(g.data) * c) for g, c in zip(g2, v)))


def same(fn_name: str, *args: Any, **kwargs: Any) -> tuple[Callable, Callable]:
    """The method ``fn_name`` of both libraries' tensors."""
    return (
        lambda *t: getattr(t[0], fn_name)(*t[1:], *args, **kwargs),
        lambda *t: getattr(t[0], fn_name)(*t[1:], *args, **kwargs),
    )


def functional(fn_name: str, **kwargs: Any) -> tuple[Callable, Callable]:
    """``nn.functional.fn_name`` of both libraries."""
    return (
        lambda *t: getattr(TGF, fn_name)(*t, **kwargs),
        lambda *t: getattr(torch.nn.functional, fn_name)(*t, **kwargs),
    )


# name: ((ours, theirs), input domains)
OPS: dict[str, tuple[tuple[Callable, Callable], list[str]]] = {
    "sin": (same("sin"), ["real"]),
    "tan": (same("tan"), ["unit"]),
    "asin": (same("asin"), ["unit"]),
    "acos": (same("acos"), ["unit"]),
    "atan": (same("atan"), ["real"]),
    "cosh": (same("cosh"), ["real"]),
    "asinh": (same("asinh"), ["real"]),
    "acosh": ((lambda x: (x + 1.5).acosh(), lambda x: (x + 1.5).acosh()), ["pos"]),
    "atanh": (same("atanh"), ["unit"]),
    "exp2": (same("exp2"), ["real"]),
    "expm1": (same("expm1"), ["real"]),
    "log2": (same("log2"), ["pos"]),
    "log1p": (same("log1p"), ["pos"]),
    "rsqrt": (same("rsqrt"), ["pos"]),
    "sinc": (same("sinc"), ["away0"]),
    "erf": (same("erf"), ["real"]),
    "erfc": (same("erfc"), ["real"]),
    "erfinv": (same("erfinv"), ["unit"]),
    "sigmoid": (same("sigmoid"), ["real"]),
    "gelu": (functional("gelu"), ["real"]),
    "gelu_tanh": (functional("gelu", approximate="tanh"), ["real"]),
    "softplus": (functional("softplus", beta=2.0, threshold=3.0), ["real"]),
    "elu": (functional("elu", alpha=0.7), ["away0"]),
    "selu": (functional("selu"), ["away0"]),
    "celu": (functional("celu", alpha=1.5), ["away0"]),
    "logsigmoid": (functional("logsigmoid"), ["real"]),
    "silu": (functional("silu"), ["real"]),
    "mish": (functional("mish"), ["real"]),
    "hardswish": (functional("hardswish"), ["real"]),
    "relu_kinks": (functional("relu"), ["int"]),
    "hardtanh_kinks": (functional("hardtanh"), ["int"]),
    "leaky_relu_kinks": (functional("leaky_relu", negative_slope=0.2), ["int"]),
    "abs_kinks": (same("abs"), ["int"]),
    "floor": (same("floor"), ["real"]),
    "atan2": (same("atan2"), ["real", "away0"]),
    "hypot": (same("hypot"), ["away0", "away0"]),
    "logaddexp": (same("logaddexp"), ["real", "real"]),
    "logaddexp2": (same("logaddexp2"), ["real", "real"]),
    "xlogy": (same("xlogy"), ["real", "pos"]),
    "copysign": (same("copysign"), ["away0", "real"]),
    "fmod": (same("fmod"), ["real", "away0"]),
    "remainder": (same("remainder"), ["real", "away0"]),
    "lerp": (same("lerp"), ["real", "real", "real"]),
    "pow": (same("pow"), ["pos", "real"]),
    "div": (same("div"), ["real", "away0"]),
    "cast": ((lambda x: x.float().double().sin(), lambda x: x.float().double().sin()), ["real"]),
    "where": (
        (
            lambda a, b: tg.where(a > b, a * b, b.exp()),
            lambda a, b: torch.where(a > b, a * b, b.exp()),
        ),
        ["real", "real"],
    ),
    "masked_fill_tensor_value": (
        (
            lambda a, b: a.masked_fill(a > 0, b.sum()) ** 3,
            lambda a, b: a.masked_fill(a > 0, b.sum()) ** 3,
        ),
        ["real", "real"],
    ),
}

SHAPES = {1: (3, 4), 2: (3, 4), 3: (3, 4)}
TOL = {"rtol": 1e-9, "atol": 1e-10}


def _inputs(name: str, seed: int, shape: tuple[int, ...] | None = None) -> list[np.ndarray]:
    domains = OPS[name][1]
    rng = np.random.default_rng(seed)
    shapes = [shape or SHAPES[len(domains)]] * len(domains)
    if name == "masked_fill_tensor_value":
        shapes[1] = ()  # the fill value is 0-d
    return [_data(rng, s, d) for s, d in zip(shapes, domains)]


@needs_torch
@pytest.mark.parametrize("name", sorted(OPS))
def test_third_order_against_torch(name):
    (ours, theirs), _ = OPS[name]
    arrays = _inputs(name, 7)
    got = _third(tg, ours, arrays, 11)
    want = _third(torch, theirs, arrays, 11)
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"{name}: third derivative, variable {i}")


# not differenced: the kink cases ("int" data sits on the kinks), floor (steps) and cast
# (the float32 round trip is a staircase of ~1e-7 steps, below any useful eps)
SMOOTH = [n for n, (_, doms) in OPS.items() if "int" not in doms and n not in ("floor", "cast")]


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_third_order_finite_differences(name):
    """⟨∇S3, d⟩ equals the central difference of S3 (our second-order pass) along d."""
    (ours, _), _ = OPS[name]
    arrays = _inputs(name, 3)
    grads = _third(tg, ours, arrays, 5)
    out_shape = np.shape(np.asarray(ours(*map(Tensor, arrays)).data))
    u = np.random.default_rng(5).standard_normal(out_shape)  # the u that _third drew
    rng = np.random.default_rng(9)
    dirs = [rng.standard_normal(g.shape) for g in grads]
    analytic = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
    eps = 1e-5

    def s3(t: float) -> float:
        xs = [a + t * d for a, d in zip(arrays, dirs)]
        return _second_sum(ours, xs, u + t * dirs[-1], 5)

    numeric = (s3(eps) - s3(-eps)) / (2 * eps)
    assert abs(analytic - numeric) <= 1e-5 + 1e-5 * abs(numeric), (name, analytic, numeric)


UNARY = sorted(n for n, (_, doms) in OPS.items() if len(doms) == 1)


@needs_torch
@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(UNARY),
    shape=st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple),
    seed=st.integers(0, 2**16),
)
def test_third_order_drawn_shapes(name, shape, seed):
    """Unary ops on drawn shapes (0-d and empty included) and data, against torch."""
    (ours, theirs), _ = OPS[name]
    arrays = _inputs(name, seed, shape)
    got = _third(tg, ours, arrays, seed + 1)
    want = _third(torch, theirs, arrays, seed + 1)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"{name} on shape {shape}")


def test_sinc_derivatives_at_zero():
    """sinc is smooth at 0: sinc'(0) = 0, sinc''(0) = −π²/3, sinc'''(0) = 0 (torch's double
    backward gives nan there, from its masked 0/0)."""
    x = Tensor(np.zeros(3), requires_grad=True)
    (d1,) = tg.autograd.grad(x.sinc().sum(), [x], create_graph=True)
    (d2,) = tg.autograd.grad(d1.sum(), [x], create_graph=True)
    (d3,) = tg.autograd.grad(d2.sum(), [x])
    np.testing.assert_allclose(np.asarray(d1.data), 0.0, atol=0)
    np.testing.assert_allclose(np.asarray(d2.data), -(math.pi**2) / 3, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(d3.data), 0.0, atol=1e-12)
    # and the second derivative agrees with its neighbours (central differences of sinc')
    h = 1e-4
    y = Tensor(np.array([-h, h]), requires_grad=True)
    (dy,) = tg.autograd.grad(y.sinc().sum(), [y])
    numeric = (np.asarray(dy)[1] - np.asarray(dy)[0]) / (2 * h)
    assert abs(numeric - (-(math.pi**2) / 3)) < 1e-6
