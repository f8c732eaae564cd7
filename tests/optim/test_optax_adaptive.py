"""ADOPT, AdEMAMix, Adan, Yogi and AdaBelief against Optax 0.2.8, and their invariants.

- Fixtures: ``tests/fixtures/optax_adaptive.npz`` holds Optax's trajectories (jax float64,
  200 steps of random gradients on a 2-D, a 1-D and a 0-d parameter, subsampled), four
  random hyperparameter draws per method covering every option both ways, the learning
  rate changed at step 100 (Optax schedule; ours changes ``group["lr"]``). Made by
  ``scripts/make_optax_adaptive_fixtures.py``. rtol 1e-10.
- Live: new random hyperparameters every run (the seed is in the failure message),
  compared with Optax step by step for 200 steps; skipped without optax. Likewise with
  pytorch_optimizer 4.1.0 where its method equals ours once the documented differences
  are switched off (ADOPT, AdEMAMix, Yogi, AdaBelief).
- Plain-numpy transcriptions of the papers' algorithms (ADOPT Alg. 1 with clipping,
  AdEMAMix Alg. 1 with its schedules, AdaBelief Alg. 2, Yogi Alg. 2 plus bias
  corrections); for Adan, the paper's weighting of the gradient difference is shown to
  differ from Optax's (documented).
- Exact resume through ``state_dict``, ``flat``/chunked steps bit-identical to plain ones,
  ``maximize`` = minimising the negated gradient bit for bit, float32 finite, parameter
  groups, invalid hyperparameters.
"""

from __future__ import annotations

import functools
import json
import math
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import assert_maximize_negates, load_npz, load_script, replay

from tinygrad_opt.optim import ADOPT, AdaBelief, Adan, AdEMAMix, Yogi, create
from tinygrad_opt.optim.ademamix import ademamix_schedules
from tinygrad_opt.optim.testing import (
    check_against_reference,
    compare_trajectories,
    gradient_sequence,
    initial_params,
    run_optimizer,
    run_torch,
)
from tinygrad_opt.tensor import Tensor

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "optax_adaptive.npz"
CLASSES = {"ADOPT": ADOPT, "AdEMAMix": AdEMAMix, "Adan": Adan, "Yogi": Yogi, "AdaBelief": AdaBelief}
SHAPES = ((3, 4), (5,), ())


GEN = load_script("make_optax_adaptive_fixtures")


def _make(cls, kw):
    kw = dict(kw)
    if "betas" in kw:
        kw["betas"] = tuple(kw["betas"])
    return lambda ps: cls(ps, **kw)


# --------------------------------------------------------------------------- Optax fixtures
DATA = load_npz(FIXTURE)
CASES = json.loads(str(DATA["cases"]))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_matches_optax_fixture(case):
    assert str(DATA["optax_version"]) == "0.2.8"
    make = _make(CLASSES[case["cls"]], case["kwargs"])
    ours, ref = replay(DATA, case, make, range(len(SHAPES)))
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


def test_fixture_cases_cover_every_option_both_ways():
    for method, cls in CLASSES.items():
        kws = [c["kwargs"] for c in CASES if c["cls"] == method]
        options = {k for kw in kws for k, v in kw.items() if isinstance(v, bool)}
        options |= {"weight_decay"} | ({"eps_root"} if "eps_root" in kws[0] else set())
        options |= {"clip_exponent"} if method == "ADOPT" else set()
        options |= {"t_alpha_beta3"} if method == "AdEMAMix" else set()
        for opt in options:
            seen = {bool(kw[opt]) if opt != "clip_exponent" else kw[opt] is not None for kw in kws}
            assert seen == {True, False}, (method, opt)
        assert set(kws[0]) == set(cls.hyperparameters), method


# --------------------------------------------------------------------------- live Optax
@pytest.mark.parametrize("method", list(CLASSES))
def test_matches_optax_live_random_hyperparameters(method):
    pytest.importorskip("optax")
    import jax

    jax.config.update("jax_enable_x64", True)
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    for _ in range(2):
        kw = GEN.draw(method, rng)
        lr_change = [int(rng.integers(20, 180)), float(rng.uniform(0.1, 3.0))]
        grads = gradient_sequence(SHAPES, 200, seed=int(rng.integers(2**31)))
        params0 = initial_params(SHAPES, seed=int(rng.integers(2**31)))
        ref_arrays = GEN.run_optax(
            method, kw, lr_change, params0, [np.stack([g[i] for g in grads]) for i in range(3)]
        )
        ref = [[a[t] for a in ref_arrays] for t in range(200)]
        ours = run_optimizer(_make(CLASSES[method], kw), params0, grads, lr_change=lr_change)
        try:
            compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, {kw}, lr_change {lr_change}: {e}") from None


# --------------------------------------------------------------------------- pytorch_optimizer
def _torch_reference(method, kw):
    """pytorch_optimizer 4.1.0's class and arguments that equal our ``method(**kw)``, where
    the documented differences are switched off (ADOPT: its clip at t^c becomes
    (t-1)^c; AdaBelief: its single eps is our eps = eps_root); None where they cannot be."""
    import pytorch_optimizer as po

    common = dict(lr=kw["lr"], weight_decay=kw["weight_decay"], maximize=kw["maximize"])
    if method == "ADOPT":
        if kw["nesterov"]:
            return None
        c = kw["clip_exponent"]
        clip = None if c is None else (lambda step: (step - 1) ** c)
        return po.ADOPT, dict(
            common,
            betas=tuple(kw["betas"]),
            eps=kw["eps"],
            weight_decouple=kw["decoupled_weight_decay"],
            clip_lambda=clip,
        )
    if method == "AdEMAMix":
        if kw["eps_root"]:
            return None
        return po.AdEMAMix, dict(
            common,
            betas=tuple(kw["betas"]),
            alpha=kw["alpha"],
            eps=kw["eps"],
            t_alpha_beta3=kw["t_alpha_beta3"],
            weight_decouple=True,
        )
    if method == "Yogi":
        return po.Yogi, dict(
            common,
            betas=tuple(kw["betas"]),
            eps=kw["eps"],
            initial_accumulator=kw["initial_accumulator_value"],
            weight_decouple=False,
        )
    if method == "AdaBelief":
        if kw["nesterov"]:
            return None
        return po.AdaBelief, dict(common, betas=tuple(kw["betas"]), eps=kw["eps"])
    return None


@pytest.mark.parametrize("method", ["ADOPT", "AdEMAMix", "Yogi", "AdaBelief"])
def test_matches_pytorch_optimizer_up_to_the_documented_differences(method):
    """pytorch_optimizer 4.1.0, float64, two random draws per run, 200 steps, rtol 1e-10
    (Adan is not compared: pytorch_optimizer weights the gradient difference as the paper,
    not as Optax)."""
    pytest.importorskip("pytorch_optimizer")
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    done = 0
    while done < 2:
        kw = GEN.draw(method, rng)
        if method == "AdaBelief":
            kw["eps_root"] = kw["eps"]
        ref = _torch_reference(method, kw)
        if ref is None:
            continue
        cls, args = ref
        lr_change = [int(rng.integers(20, 180)), float(rng.uniform(0.1, 3.0))]
        grads = gradient_sequence(SHAPES, 200, seed=int(rng.integers(2**31)))
        params0 = initial_params(SHAPES, seed=int(rng.integers(2**31)))
        make_theirs = functools.partial(cls, **args)
        theirs = run_torch(make_theirs, params0, grads, lr_change=lr_change)
        ours = run_optimizer(_make(CLASSES[method], kw), params0, grads, lr_change=lr_change)
        try:
            compare_trajectories(ours, theirs, rtol=1e-10, atol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, {kw}, lr_change {lr_change}: {e}") from None
        done += 1


# --------------------------------------------------------------------------- the papers, in numpy
def paper_adopt(lr, b1, b2, eps, clip=None):
    """Taniguchi et al. 2024, Algorithm 1 (v₀ = g₀²), with Clip(·, t^c) when ``clip``."""

    def step(params, grads, state, t):
        for i, (x, g) in enumerate(zip(params, grads)):
            if i not in state:
                state[i] = [np.zeros_like(x), g * g]  # v₀ from the first gradient
                continue
            m, v = state[i]
            k = t - 1  # the paper's step index: t = 0 was the initialisation
            u = g / np.maximum(np.sqrt(v), eps)
            if clip is not None:
                u = np.clip(u, -(k**clip), k**clip)
            m = b1 * m + (1 - b1) * u
            x -= lr * m
            state[i] = [m, b2 * v + (1 - b2) * g * g]

    return step


def paper_ademamix(lr, b1, b2, b3, alpha, eps, wd, period):
    """Pagliardini et al. 2024, Algorithm 1, schedules f_α, f_β3 at the 1-based step."""

    def step(params, grads, state, t):
        if period is None:
            a, b3t = alpha, b3
        else:
            a = min(t * alpha / period, alpha)
            frac = t / period
            l1, l3 = math.log(b1), math.log(b3)
            b3t = min(math.exp(l1 * l3 / ((1 - frac) * l3 + frac * l1)), b3)
        for i, (x, g) in enumerate(zip(params, grads)):
            m1, m2, nu = state.get(i, (0.0, 0.0, 0.0))
            m1 = b1 * m1 + (1 - b1) * g
            m2 = b3t * m2 + (1 - b3t) * g
            nu = b2 * nu + (1 - b2) * g * g
            m1_hat, nu_hat = m1 / (1 - b1**t), nu / (1 - b2**t)
            x -= lr * ((m1_hat + a * m2) / (np.sqrt(nu_hat) + eps) + wd * x)
            state[i] = (m1, m2, nu)

    return step


def paper_adabelief(lr, b1, b2, eps):
    """Zhuang et al. 2020, Algorithm 2 (ε added to s and outside the root)."""

    def step(params, grads, state, t):
        for i, (x, g) in enumerate(zip(params, grads)):
            m, s = state.get(i, (0.0, 0.0))
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * (g - m) ** 2 + eps
            x -= lr * (m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
            state[i] = (m, s)

    return step


def paper_yogi(lr, b1, b2, eps, v0, bias_correction=True):
    """Zaheer et al. 2018, Algorithm 2 (optionally with Adam's bias corrections)."""

    def step(params, grads, state, t):
        for i, (x, g) in enumerate(zip(params, grads)):
            m, v = state.get(i, (np.full_like(x, v0), np.full_like(x, v0)))
            m = b1 * m + (1 - b1) * g
            v = v - (1 - b2) * np.sign(v - g * g) * g * g
            c1, c2 = (1 - b1**t, 1 - b2**t) if bias_correction else (1.0, 1.0)
            x -= lr * (m / c1) / (np.sqrt(v / c2) + eps)
            state[i] = (m, v)

    return step


def paper_adan(lr, b1, b2, b3, eps, diff_weight):
    """Xie et al., Algorithm 1 in the decay-rate convention, bias-corrected as the official
    code, with the gradient difference weighted by ``diff_weight`` (paper: β2; Optax:
    1 - β2)."""

    def step(params, grads, state, t):
        for i, (x, g) in enumerate(zip(params, grads)):
            m, v, n, prev = state.get(i, (0.0, 0.0, 0.0, g))
            d = g - prev
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * d
            n = b3 * n + (1 - b3) * (g + diff_weight * d) ** 2
            u = (m / (1 - b1**t) + diff_weight * v / (1 - b2**t)) / (np.sqrt(n / (1 - b3**t)) + eps)
            x -= lr * u
            state[i] = (m, v, n, g)

    return step


PAPER_CASES = [
    (
        "adopt",
        lambda ps: ADOPT(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-4, clip_exponent=None),
        paper_adopt(0.02, 0.8, 0.99, 1e-4),
    ),
    (
        "adopt-clip",
        lambda ps: ADOPT(ps, lr=0.02, betas=(0.7, 0.999), eps=1e-2, clip_exponent=0.25),
        paper_adopt(0.02, 0.7, 0.999, 1e-2, clip=0.25),
    ),
    (
        "ademamix",
        lambda ps: AdEMAMix(ps, lr=0.01, betas=(0.8, 0.99, 0.999), alpha=3.0, weight_decay=0.1),
        paper_ademamix(0.01, 0.8, 0.99, 0.999, 3.0, 1e-8, 0.1, None),
    ),
    (
        "ademamix-schedules",
        lambda ps: AdEMAMix(ps, lr=0.01, betas=(0.9, 0.999, 0.9999), t_alpha_beta3=150),
        paper_ademamix(0.01, 0.9, 0.999, 0.9999, 5.0, 1e-8, 0.0, 150),
    ),
    (
        "adabelief",
        lambda ps: AdaBelief(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-10, eps_root=1e-10),
        paper_adabelief(0.01, 0.8, 0.99, 1e-10),
    ),
    (
        "yogi-bias-corrected",
        lambda ps: Yogi(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-4, initial_accumulator_value=1e-3),
        paper_yogi(0.02, 0.8, 0.99, 1e-4, 1e-3),
    ),
    (
        "adan-optax-weighting",
        lambda ps: Adan(ps, lr=0.01, eps_root=0.0),
        paper_adan(0.01, 0.98, 0.92, 0.99, 1e-8, diff_weight=1 - 0.92),
    ),
]


@pytest.mark.parametrize(
    "make, reference", [c[1:] for c in PAPER_CASES], ids=[c[0] for c in PAPER_CASES]
)
def test_matches_the_paper(make, reference):
    assert check_against_reference(make, reference, shapes=SHAPES).steps == 200


@pytest.mark.parametrize(
    "make, reference",
    [
        (
            lambda ps: Adan(ps, lr=0.01, eps_root=0.0),
            paper_adan(0.01, 0.98, 0.92, 0.99, 1e-8, 0.92),
        ),
        (lambda ps: Yogi(ps, lr=0.02), paper_yogi(0.02, 0.9, 0.999, 1e-3, 1e-6, False)),
    ],
    ids=["adan-paper-weighting", "yogi-without-bias-correction"],
)
def test_documented_differences_from_the_paper(make, reference):
    """Adan: Optax weights Δ by 1 - β2, the paper/official code by β2. Yogi: Optax
    bias-corrects, the paper's Algorithm 2 does not."""
    with pytest.raises(AssertionError):
        check_against_reference(make, reference, shapes=SHAPES)


def test_ademamix_schedules():
    assert ademamix_schedules(7, 5.0, 0.9, 0.9999, None) == (5.0, 0.9999)
    a, b = ademamix_schedules(0, 5.0, 0.9, 0.9999, 100)
    assert a == 0.0 and b == pytest.approx(0.9)  # β3 starts at β1
    a, b = ademamix_schedules(50, 5.0, 0.9, 0.9999, 100)
    assert a == 2.5 and 0.9 < b < 0.9999
    # the half-life ln ½ / ln β3_t is linear in t: 1/ln β3_t interpolates 1/ln β1, 1/ln β3
    for t in (10, 50, 90):
        f = t / 100
        b = ademamix_schedules(t, 5.0, 0.9, 0.9999, 100)[1]
        expected = (1 - f) / math.log(0.9) + f / math.log(0.9999)
        assert 1 / math.log(b) == pytest.approx(expected, rel=1e-9)
    assert ademamix_schedules(100, 5.0, 0.9, 0.9999, 100) == (5.0, pytest.approx(0.9999))
    assert ademamix_schedules(400, 5.0, 0.9, 0.9999, 100) == (5.0, 0.9999)


def test_adopt_first_step_only_initialises_the_second_moment():
    p = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = ADOPT([p], lr=0.1)
    p.grad = np.array([3.0, 0.5])
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0, -2.0])
    np.testing.assert_array_equal(opt.state[p]["exp_avg_sq"], [9.0, 0.25])
    p.grad = np.array([30.0, -0.5])  # clipped at (t-1)^0.25 = 1 before the momentum
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 0.1 * 1.0, -2.0 + 0.1 * 0.1 * 1.0])


# --------------------------------------------------------------------------- invariants
VARIANTS = {
    "adopt": (ADOPT, dict(lr=0.01, weight_decay=0.1, nesterov=True)),
    "adopt_decoupled": (ADOPT, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "ademamix": (AdEMAMix, dict(lr=0.01, weight_decay=0.1, t_alpha_beta3=7, eps_root=1e-9)),
    "adan": (Adan, dict(lr=0.01, weight_decay=0.1)),
    "yogi": (Yogi, dict(lr=0.01, weight_decay=0.1)),
    "adabelief": (AdaBelief, dict(lr=0.01, weight_decay=0.1, nesterov=True)),
}
FLAT_SHAPES = [(3, 4), (5,), (), (2, 3, 2), (17,)]


def _snapshot(opt, params):
    state = [
        {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state[p].items()}
        for p in params
    ]
    return [p.data.copy() for p in params], state


def _assert_identical(a, b):
    (pa, sa), (pb, sb) = a, b
    for x, y in zip(pa, pb):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    for x, y in zip(sa, sb):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], np.ndarray):
                assert np.array_equal(x[k], y[k]), k
            else:
                assert x[k] == y[k] and type(x[k]) is type(y[k]), k


def _steps(opt, params, grads):
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g.copy()
        opt.step()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_state_dict_resume_is_exact(name):
    cls, hp = VARIANTS[name]
    grads = gradient_sequence(SHAPES, 20, seed=4)
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt = cls(params, **hp)
    _steps(opt, params, grads[:10])
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    params2 = [Tensor(p.data.copy(), requires_grad=True) for p in params]
    opt2 = cls(params2)  # defaults: load_state_dict restores the hyperparameters
    opt2.load_state_dict(saved)
    _steps(opt, params, grads[10:])
    _steps(opt2, params2, grads[10:])
    _assert_identical(_snapshot(opt, params), _snapshot(opt2, params2))
    for v in opt.state[params[0]].values():
        assert isinstance(v, (int, np.ndarray)) and not isinstance(v, np.generic)


@pytest.mark.parametrize(
    "mode",
    [dict(flat=True), dict(flat=True, chunk_size=7, threads=3), dict(chunk_size=5, threads=2)],
    ids=["flat", "flat7", "chunk5"],
)
@pytest.mark.parametrize("name", list(VARIANTS))
def test_flat_and_chunked_steps_are_bit_identical(name, mode):
    cls, hp = VARIANTS[name]
    grads = gradient_sequence(FLAT_SHAPES, 15, seed=5)
    out = []
    for options in ({}, mode):
        params = [Tensor(p, requires_grad=True) for p in initial_params(FLAT_SHAPES)]
        opt = cls(params, **hp, **options)
        _steps(opt, params, grads)
        out.append(_snapshot(opt, params))
    _assert_identical(*out)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_maximize_is_minimizing_the_negated_gradient(name):
    cls, hp = VARIANTS[name]
    assert_maximize_negates(cls, hp, SHAPES, 20)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_float32_steps_stay_float32_and_finite(name):
    cls, hp = VARIANTS[name]
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES, dtype=np.float32)]
    opt = cls(params, **hp)
    grads = gradient_sequence(SHAPES, 50, dtype=np.float32, scale=10.0)
    grads[10] = [np.zeros_like(g) for g in grads[10]]  # a zero gradient on the way
    _steps(opt, params, grads)
    for p in params:
        assert p.data.dtype == np.float32 and np.isfinite(p.data).all()
        for v in opt.state[p].values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32 and np.isfinite(v).all()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_groups_with_their_own_hyperparameters(name):
    """Two groups = two optimizers; gradients are left untouched."""
    cls, hp = VARIANTS[name]
    grads = gradient_sequence(SHAPES, 10, seed=6)
    a = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    b = [Tensor(p.data.copy(), requires_grad=True) for p in a]
    other = {**hp, "lr": hp["lr"] / 3, "weight_decay": 0.0}
    opt = cls([{"params": a[:2]}, {"params": a[2:], **other}], **hp)
    one, two = cls(b[:2], **hp), cls(b[2:], **other)
    for step_grads in grads:
        for p, q, g in zip(a, b, step_grads):
            p.grad, q.grad = g.copy(), g.copy()
        opt.step()
        one.step()
        two.step()
        for p, g in zip(a, step_grads):
            assert np.array_equal(p.grad, g)
    _assert_identical((([p.data for p in a]), []), (([p.data for p in b]), []))


@pytest.mark.parametrize(
    "name, cls, n_arrays",
    [
        ("adopt", ADOPT, 2),
        ("ademamix", AdEMAMix, 3),
        ("adan", Adan, 4),
        ("yogi", Yogi, 2),
        ("adabelief", AdaBelief, 2),
    ],
)
def test_registered_and_state_size(name, cls, n_arrays):
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    opt = create(name, params, lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5
    _steps(opt, params, gradient_sequence(SHAPES, 1))
    assert opt.state_bytes() == n_arrays * sum(p.data.nbytes for p in params)


INVALID = [
    (ADOPT, "lr", -1e-3, "-0.001"),
    (ADOPT, "betas", (0.9, 1.0), "1.0"),
    (ADOPT, "eps", -1e-6, "-1e-06"),
    (ADOPT, "clip_exponent", -0.25, "-0.25"),
    (ADOPT, "weight_decay", float("nan"), "nan"),
    (AdEMAMix, "betas", (0.9, 0.999), "(0.9, 0.999)"),
    (AdEMAMix, "betas", (0.9, 0.999, 1.5), "1.5"),
    (AdEMAMix, "alpha", -1.0, "-1.0"),
    (AdEMAMix, "eps_root", -1e-8, "-1e-08"),
    (AdEMAMix, "t_alpha_beta3", 0, "0"),
    (AdEMAMix, "t_alpha_beta3", -5.0, "-5.0"),
    (Adan, "betas", (0.98, -0.1, 0.99), "-0.1"),
    (Adan, "eps_root", -1.0, "-1.0"),
    (Adan, "weight_decay", -0.1, "-0.1"),
    (Yogi, "initial_accumulator_value", -1e-6, "-1e-06"),
    (Yogi, "eps", float("nan"), "nan"),
    (AdaBelief, "eps_root", -1e-16, "-1e-16"),
    (AdaBelief, "betas", (1.0, 0.999), "1.0"),
]


@pytest.mark.parametrize("cls, name, value, shown", INVALID)
def test_invalid_hyperparameters_raise_naming_the_value(cls, name, value, shown):
    with pytest.raises(ValueError, match=re.escape(shown)):
        cls([Tensor(np.zeros(2), requires_grad=True)], **{name: value})


def test_ademamix_schedule_needs_positive_beta1():
    with pytest.raises(ValueError, match=re.escape("(0.0, 0.999, 0.9999)")):
        AdEMAMix(
            [Tensor(np.zeros(2), requires_grad=True)], betas=(0.0, 0.999, 0.9999), t_alpha_beta3=10
        )
    AdEMAMix([Tensor(np.zeros(2), requires_grad=True)], betas=(0.0, 0.999, 0.9999))
