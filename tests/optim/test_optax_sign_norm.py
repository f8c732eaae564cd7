"""SignSGD, Signum, NovoGrad, SM3 and Fromage against Optax 0.2.8 and their papers.

- Fixtures: ``tests/fixtures/optax_sign_norm.npz`` holds Optax's trajectories (jax
  float64, 200 steps of random gradients, subsampled; a 2-D, a 1-D, a 3-D and a 0-d
  parameter, SM3 without the 0-d one) for 4 random hyperparameter draws per method,
  covering weight decay, eps_root, momentum 0, min_norm 0 with a parameter at zero, and
  maximize, with the learning rate changed after step 100. Made by
  ``scripts/make_optax_sign_norm_fixtures.py``. rtol 1e-10.
- Live: new random hyperparameters each run (hypothesis), compared with Optax at every
  step (skipped without optax).
- Invariants: SignSGD moves every coordinate by exactly lr, NovoGrad's first step moves
  each tensor by exactly lr, Fromage's relative step is lr and an orthogonal step keeps
  ‖θ‖; SM3 against a transcription of the paper's SM3-II with explicit covers, and its
  vectors as AdaGrad.
- Machinery: exact resume through state_dict, flat/chunked == plain bit for bit
  (SignSGD, Signum), maximize, float32, SM3's small state (shape validation on load, the
  memory measure), invalid hyperparameters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import (
    assert_finite_steps,
    assert_invalid_raises,
    assert_maximize_negates,
    fixture_cases,
    load_npz,
    load_script,
    replay,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.optim import SM3, Adagrad, Fromage, NovoGrad, SignSGD, Signum, create
from tinygrad_opt.optim.memory import measure
from tinygrad_opt.optim.testing import (
    compare_trajectories,
    gradient_sequence,
    initial_params,
    run_optimizer,
)
from tinygrad_opt.tensor import Tensor

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "optax_sign_norm.npz"
CLASSES = {c.__name__: c for c in (SignSGD, Signum, NovoGrad, SM3, Fromage)}
SHAPES = [(3, 4), (5,), (2, 3, 4), ()]


def _script():
    """The fixture script (its hyperparameter sampler and Optax constructions)."""
    return load_script("make_optax_sign_norm_fixtures")


# --------------------------------------------------------------------------- Optax fixtures
FIXTURE_CASES = fixture_cases(FIXTURE)


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=lambda c: c["name"])
def test_matches_optax_fixture(case):
    data = load_npz(FIXTURE)
    assert str(data["optax_version"]) == "0.2.8"
    cls = CLASSES[case["cls"]]
    ours, ref = replay(data, case, lambda ps: cls(ps, **case["kwargs"]), case["params"])
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


def test_fixture_covers_the_options():
    kw = {c["name"]: c["kwargs"] for c in FIXTURE_CASES}
    assert {c["cls"] for c in FIXTURE_CASES} == set(CLASSES)
    assert any(k["maximize"] for k in kw.values())
    assert any(k.get("weight_decay") for k in kw.values() if "betas" in k)  # NovoGrad
    assert any(k.get("eps_root") for k in kw.values())
    assert any(c["cls"] == "SM3" and c["kwargs"]["momentum"] == 0 for c in FIXTURE_CASES)
    assert any(c["cls"] == "Fromage" and c["kwargs"]["min_norm"] == 0 and c["zero"]
               for c in FIXTURE_CASES)  # fmt: skip
    assert any(c["cls"] == "SM3" and c["lr_change"] for c in FIXTURE_CASES)


# --------------------------------------------------------------------------- Optax, live
@pytest.mark.parametrize("cls", list(CLASSES))
@settings(max_examples=2, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 3))
def test_matches_optax_live(cls, seed, k):
    pytest.importorskip("optax")
    import jax

    jax.config.update("jax_enable_x64", True)
    script = _script()
    rng = np.random.default_rng(seed)
    kwargs = script.draw_kwargs(cls, rng, k)
    shapes = SHAPES[:3] if cls == "SM3" else SHAPES
    grads = gradient_sequence(shapes, 120, seed=seed % 1000)
    params0 = initial_params(shapes, seed=seed % 1000 + 1)
    change = [60, float(rng.uniform(0.1, 3.0))]
    ref = script.run_optax(cls, kwargs, params0, grads, change)
    ours = run_optimizer(lambda ps: CLASSES[cls](ps, **kwargs), params0, grads, lr_change=change)
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- invariants
def _one_step(cls, shapes=SHAPES, seed=0, **hp):
    params0 = initial_params(shapes, seed=seed + 1)
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    grads = gradient_sequence(shapes, 1, seed=seed)[0]
    opt = cls(params, **hp)
    for p, g in zip(params, grads):
        p.grad = g
    opt.step()
    return params0, grads, [p.data for p in params], opt


def _norm(x):
    return math.sqrt(float(np.sum(np.square(x))))


@pytest.mark.parametrize("cls, hp", [(SignSGD, {}), (Signum, dict(momentum=0.7))])
def test_sign_methods_move_every_coordinate_by_lr(cls, hp):
    before, _, after, opt = _one_step(cls, lr=0.01, **hp)
    for _ in range(5):  # Signum: the sign of the average, still exactly lr per coordinate
        for a, b in zip(before, after):
            np.testing.assert_allclose(np.abs(b - a), 0.01, rtol=1e-12)
        before = [b.copy() for b in after]
        for p, g in zip(opt.param_groups[0]["params"], gradient_sequence(SHAPES, 1, 9)[0]):
            p.grad = g
        opt.step()


def test_sign_sgd_ignores_magnitudes_and_zero_gradients_do_not_move():
    p = Tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    opt = SignSGD([p], lr=0.5)
    p.grad = np.array([1e-30, -1e30, 0.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [0.5, 1.5, 1.0])


def test_novograd_first_step_moves_each_tensor_by_lr():
    """t = 1: v = ‖g‖², so without δ and decay the step is η·g/‖g‖."""
    before, _, after, _ = _one_step(NovoGrad, lr=0.03, eps=0.0)
    for a, b in zip(before, after):
        assert _norm(b - a) == pytest.approx(0.03, rel=1e-12)


def test_novograd_is_invariant_to_rescaling_a_layers_gradients():
    """The second moment is per layer: scaling a tensor's gradients by c changes nothing
    (with δ = 0, no weight decay)."""
    grads = gradient_sequence(SHAPES, 30, seed=2)
    params0 = initial_params(SHAPES)
    scaled = [[g * c for g, c in zip(s, (1e3, 1e-3, 7.0, 0.5))] for s in grads]
    make = lambda ps: NovoGrad(ps, lr=0.01, eps=0.0)  # noqa: E731
    compare_trajectories(
        run_optimizer(make, params0, scaled), run_optimizer(make, params0, grads), rtol=1e-12
    )


def test_fromage_relative_step_and_norm_preservation():
    lr = 0.2
    before, _, after, _ = _one_step(Fromage, lr=lr)
    c = math.sqrt(1 + lr * lr)
    for a, b in zip(before, after):
        assert _norm(b * c - a) == pytest.approx(lr * _norm(a), rel=1e-12)
    # a gradient orthogonal to θ keeps ‖θ‖ exactly (the point of the 1/√(1+η²))
    theta = np.array([3.0, 4.0, 0.0])
    p = Tensor(theta.copy(), requires_grad=True)
    opt = Fromage([p], lr=lr)
    p.grad = np.array([-4.0, 3.0, 0.0]) * 1e-3
    opt.step()
    assert _norm(p.data) == pytest.approx(5.0, rel=1e-14)


def test_fromage_zero_norms():
    """min_norm = 0 and θ = 0: ratio 1 (plain step then shrink); g = 0: only the shrink."""
    p = Tensor(np.zeros(3), requires_grad=True)
    opt = Fromage([p], lr=0.5, min_norm=0.0)
    p.grad = np.array([1.0, -2.0, 0.0])
    opt.step()
    np.testing.assert_allclose(p.data, -0.5 * np.array([1.0, -2.0, 0.0]) / math.sqrt(1.25))
    p.grad = np.zeros(3)
    before = p.data.copy()
    opt.step()
    np.testing.assert_allclose(p.data, before / math.sqrt(1.25), rtol=1e-15)


def paper_sm3_ii(lr, eps=0.0):
    """Anil et al. 2019, SM3-II with the cover {slices along each axis} (a matrix: rows
    and columns), written with explicit index sets; vectors: one set per entry. No
    momentum. ν'(i) = min over the sets S ∋ i of μ'(S) + g(i)²; μ'(S) = max over S of ν'.
    δ inside the root as Optax (0 by default here)."""

    def covers(shape):
        if len(shape) < 2:
            return [[i] for i in np.ndindex(*shape)]  # one set per entry
        sets = []
        for axis, n in enumerate(shape):
            for j in range(n):
                sets.append([i for i in np.ndindex(*shape) if i[axis] == j])
        return sets

    def step(params, grads, state, t):
        for k, (w, g) in enumerate(zip(params, grads)):
            cover = covers(w.shape)
            mu = state.setdefault(k, [0.0] * len(cover))
            nu = np.zeros_like(w)
            for i in np.ndindex(*w.shape):
                nu[i] = min(mu[r] for r, s in enumerate(cover) if i in s) + g[i] ** 2
                w[i] -= lr * (g[i] / math.sqrt(nu[i] + eps) if nu[i] > 0 else 0.0)
            for r, s in enumerate(cover):
                mu[r] = max(nu[i] for i in s)

    return step


def test_sm3_matches_the_papers_sm3_ii_with_explicit_covers():
    from tinygrad_opt.optim.testing import check_against_reference

    shapes = [(3, 4), (2, 3, 2), (4,), ()]
    make = lambda ps: SM3(ps, lr=0.1, momentum=0.0, eps=0.0)  # noqa: E731
    check_against_reference(make, paper_sm3_ii(0.1), shapes=shapes, steps=40, rtol=1e-12)


def test_sm3_on_vectors_is_adagrad():
    """A vector is its own cover: SM3 is AdaGrad (ours, matched against torch elsewhere)."""
    grads = gradient_sequence([(6,)], 100)
    params0 = initial_params([(6,)])
    ours = run_optimizer(lambda ps: SM3(ps, lr=0.1, momentum=0.0, eps=0.0), params0, grads)
    ref = run_optimizer(lambda ps: Adagrad(ps, lr=0.1, eps=0.0), params0, grads)
    compare_trajectories(ours, ref, rtol=1e-12)


def test_sm3_scalar_is_a_one_entry_vector():
    grads = gradient_sequence([(1,)], 50)
    params0 = initial_params([(1,)])
    vector = run_optimizer(lambda ps: SM3(ps, lr=0.1), params0, grads)
    scalar = run_optimizer(lambda ps: SM3(ps, lr=0.1), [params0[0][0]], [[g[0][0]] for g in grads])
    for v, s in zip(vector, scalar):
        assert s[0].shape == () and s[0] == v[0][0]


# --------------------------------------------------------------------------- SM3's small state
def test_sm3_state_is_one_accumulator_per_slice():
    _, _, _, opt = _one_step(SM3, shapes=[(3, 4), (2, 3, 5), (7,)], momentum=0.0)
    shapes = [{k: v.shape for k, v in s.items()} for s in opt.state.values()]
    assert shapes == [
        {"acc_0": (3, 1), "acc_1": (1, 4)},
        {"acc_0": (2, 1, 1), "acc_1": (1, 3, 1), "acc_2": (1, 1, 5)},
        {"acc": (7,)},
    ]
    assert opt.state_bytes() == 8 * (3 + 4 + 2 + 3 + 5 + 7)
    _, _, _, opt = _one_step(SM3, shapes=[(3, 4)])
    assert opt.state_bytes() == 8 * (3 + 4 + 12)  # plus the momentum


def test_sm3_memory_is_sublinear_without_momentum():
    assert measure("sm3_nomomentum").per_parameter < 0.01
    assert 1.0 < measure("sm3").per_parameter < 1.01


def test_sm3_state_dict_shapes_are_validated_on_load():
    _, _, _, opt = _one_step(SM3, shapes=[(3, 4), (5,)])
    saved = opt.state_dict()
    fresh = SM3([Tensor(np.zeros((3, 4)), requires_grad=True), Tensor(np.zeros(5))])
    fresh.load_state_dict(saved)  # the (3, 1) and (1, 4) accumulators are accepted
    assert fresh.state_bytes() == opt.state_bytes()
    saved["state"][0]["acc_1"] = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"acc_1.*\(1, 3\)"):
        fresh.load_state_dict(saved)
    saved["state"][0]["acc_1"] = np.zeros((3, 1))  # a row accumulator in the column's place
    with pytest.raises(ValueError, match="acc_1"):
        fresh.load_state_dict(saved)
    assert not SM3.state_shape_ok(fresh, "acc_2", (1, 4), (3, 4))


# --------------------------------------------------------------------------- machinery
CONFIGS = {
    "signsgd": (SignSGD, dict(lr=0.01, weight_decay=0.1)),
    "signum": (Signum, dict(lr=0.01, momentum=0.8, weight_decay=0.1)),
    "novograd": (NovoGrad, dict(lr=0.01, betas=(0.8, 0.5), weight_decay=0.1, eps_root=1e-4)),
    "sm3": (SM3, dict(lr=0.1, momentum=0.7)),
    "sm3_nomomentum": (SM3, dict(lr=0.1, momentum=0.0)),
    "fromage": (Fromage, dict(lr=0.05)),
}


def _feed(params, grads):
    for p, g in zip(params, grads):
        p.grad = g.copy()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_resumes_exactly(name):
    cls, hp = CONFIGS[name]
    grads = gradient_sequence(SHAPES, 40, seed=3)
    straight = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt = cls(straight, **hp)
    for g in grads:
        _feed(straight, g)
        opt.step()
    first = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt = cls(first, **hp)
    for g in grads[:20]:
        _feed(first, g)
        opt.step()
    saved = opt.state_dict()
    second = [Tensor(p.data.copy(), requires_grad=True) for p in first]
    opt = cls(second, **hp)
    opt.load_state_dict(saved)
    for g in grads[20:]:
        _feed(second, g)
        opt.step()
    for a, b in zip(second, straight):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("name", ["signsgd", "signum"])
@pytest.mark.parametrize(
    "options", [dict(flat=True), dict(flat=True, chunk_size=7, threads=2), dict(chunk_size=5)]
)
def test_flat_and_chunked_equal_plain_bit_for_bit(name, options):
    cls, hp = CONFIGS[name]
    assert cls.elementwise
    grads = gradient_sequence(SHAPES, 30, seed=4)

    def make(**extra):
        def build(ps):
            groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": hp["lr"] / 3}]
            return cls(groups, **hp, **extra)

        return build

    plain = run_optimizer(make(chunk_size=0, threads=1), initial_params(SHAPES), grads)
    other = run_optimizer(make(**options), initial_params(SHAPES), grads)
    compare_trajectories(other, plain, rtol=0, atol=0)


@pytest.mark.parametrize("cls", [NovoGrad, SM3, Fromage], ids=lambda c: c.__name__)
def test_reducing_methods_are_not_elementwise(cls):
    assert not cls.elementwise
    with pytest.raises(ValueError, match="flat=True"):
        cls([Tensor(np.zeros(2), requires_grad=True)], flat=True)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_maximize_is_minimizing_the_negated_gradient(name):
    cls, hp = CONFIGS[name]
    assert_maximize_negates(cls, hp, SHAPES, 25)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_float32_runs_finite_with_float32_state(name):
    cls, hp = CONFIGS[name]
    grads = gradient_sequence(SHAPES, 50, dtype=np.float32)
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES, dtype=np.float32)]
    opt = cls(params, **hp)
    for g in grads:
        _feed(params, g)
        opt.step()
    for p in params:
        assert p.data.dtype == np.float32 and np.isfinite(p.data).all()
    for s in opt.state.values():
        for v in s.values():
            assert not isinstance(v, np.ndarray) or v.dtype == np.float32
            assert not isinstance(v, np.generic)  # scalars are plain Python numbers
    ref = run_optimizer(lambda ps: cls(ps, **hp), initial_params(SHAPES), grads)
    ours = [[p.data for p in params]]
    compare_trajectories(ours, ref[-1:], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_finite_inputs_give_finite_parameters(cls, data):
    script = _script()
    kwargs = script.draw_kwargs(cls.__name__, np.random.default_rng(data.draw(st.integers(0, 99))),
                                data.draw(st.integers(0, 3)))  # fmt: skip
    values = st.lists(st.floats(-1e3, 1e3), min_size=3, max_size=3)
    assert_finite_steps(cls, kwargs, lambda: data.draw(values))


INVALID = [
    (SignSGD, "lr", -1e-3),
    (SignSGD, "weight_decay", -0.1),
    (Signum, "momentum", 1.0),
    (Signum, "momentum", -0.5),
    (Signum, "lr", float("nan")),
    (NovoGrad, "betas", (0.9, 1.0)),
    (NovoGrad, "betas", (-0.1, 0.5)),
    (NovoGrad, "eps", -1e-6),
    (NovoGrad, "eps_root", -1e-8),
    (NovoGrad, "weight_decay", -1.0),
    (SM3, "momentum", 1.5),
    (SM3, "eps", -1e-8),
    (SM3, "lr", -0.1),
    (Fromage, "min_norm", -1e-6),
    (Fromage, "min_norm", float("nan")),
    (Fromage, "lr", -0.01),
]


@pytest.mark.parametrize("cls, name, value", INVALID, ids=lambda x: getattr(x, "__name__", str(x)))
def test_invalid_hyperparameters_raise_naming_the_value(cls, name, value):
    assert_invalid_raises(cls, name, value)


@pytest.mark.parametrize(
    "name, cls",
    [("signsgd", SignSGD), ("SignSGD", SignSGD), ("signum", Signum), ("novograd", NovoGrad),
     ("sm3", SM3), ("sm3_nomomentum", SM3), ("fromage", Fromage)],
)  # fmt: skip
def test_registered(name, cls):
    opt = create(name, [Tensor(np.zeros(2), requires_grad=True)], lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5
