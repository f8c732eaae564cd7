"""Sophia (Liu et al. 2024): SophiaG against ``sophia-opt`` 0.2.2, SophiaH against Optax
0.2.8's ``contrib.sophia`` with the same Rademacher probes.

Fixtures (``scripts/make_sophia_fixtures.py``) run without the references; the live
tests draw new hyperparameters each run (hypothesis) and skip without the references.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import load_npz
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import nn
from tinygrad_opt.autograd.functional import hessian
from tinygrad_opt.curvature import hutchinson_products
from tinygrad_opt.optim import SophiaG, SophiaH, create
from tinygrad_opt.optim.sophia import rademacher_probe
from tinygrad_opt.optim.testing import apply_lr_change, compare_trajectories
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.train.sophia import gnb_gradients, sample_labels

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHAPES = [(3, 4), (5,), ()]
STEPS = 200


def objective(params):
    """The loss whose Hessian Sophia-H estimates: ``objective`` of the fixture script in
    our Tensor ops (quartic, softplus, a coupling of all three parameters)."""
    a, b, c = params
    return (
        0.25 * (a**4).sum()
        + (1.0 + b.exp()).log().sum()
        + 0.1 * (a.sum() * b.sum()) ** 2
        + c**2 * (b**2).sum()
        + c**4
    )


def _load(stem):
    return load_npz(FIXTURES / f"{stem}.npz")


def _tensors(arrays, dtype=np.float64):
    return [Tensor(np.array(a, dtype=dtype), requires_grad=True) for a in arrays]


# --------------------------------------------------------------------------- SophiaG runs
def _groups(params, case):
    if not case.get("groups"):
        return params
    return [
        {
            **{k: v for k, v in g.items() if k != "params"},
            "params": [params[i] for i in g["params"]],
        }
        for g in case["groups"]
    ]


def run_sophiag(case, init, grads, hgrads, *, via_grad=False, bs_in_step=True, flat=False):
    """Our SophiaG on the fixture's schedule; the parameters after every step."""
    params = _tensors(init)
    kwargs = dict(case["kwargs"])
    if not bs_in_step:
        kwargs["bs"] = case["bs"]
    opt = SophiaG(_groups(params, case), **kwargs, flat=flat)

    order = [i for g in case["groups"] for i in g["params"]] if case.get("groups") else None

    def feed(t):
        rows = [h[t] for h in hgrads]
        if via_grad:  # the package's form: ĝ in .grad, update_hessian()
            for p, h in zip(params, rows):
                p.grad = h.copy()
            opt.update_hessian()
        else:  # one array per parameter, in the optimizer's (group) order
            opt.update_hessian(rows if order is None else [rows[i] for i in order])

    if case["pre"]:
        feed(len(grads[0]) - 1)
    out = []
    for t in range(1, len(grads[0]) + 1):
        apply_lr_change(opt, t, case["lr_change"])
        for p, g in zip(params, grads):
            p.grad = g[t - 1].copy()
        opt.step(bs=case["bs"]) if bs_in_step else opt.step()
        if t % case["k"] == 0:
            feed(t - 1)
        out.append([p.data.copy() for p in params])
    return out


def run_package(case, init, grads, hgrads):
    import sophia_opt
    import torch

    params = [torch.tensor(np.array(p), requires_grad=True) for p in init]
    opt = sophia_opt.SophiaG(
        _groups(params, case), **dict(case["kwargs"], betas=tuple(case["kwargs"]["betas"]))
    )

    def feed(t):
        for p, h in zip(params, hgrads):
            p.grad = torch.tensor(h[t].copy())
        opt.update_hessian()

    if case["pre"]:
        feed(len(grads[0]) - 1)
    out = []
    for t in range(1, len(grads[0]) + 1):
        apply_lr_change(opt, t, case["lr_change"])
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g[t - 1].copy())
        opt.step(bs=case["bs"])
        if t % case["k"] == 0:
            feed(t - 1)
        out.append([p.detach().numpy().copy() for p in params])
    return out


# --------------------------------------------------------------------------- SophiaH runs
def run_sophiah(case, init, grads, probes, probe_steps, *, flat=False, dtype=np.float64):
    """Our SophiaH with ``step(closure, probes=...)``: the closure returns the objective
    (its graph gives H·u) and sets the step's gradient."""
    params = _tensors(init, dtype)
    opt = SophiaH(params, **case["kwargs"], flat=flat)
    probe_at = {int(t): r for r, t in enumerate(probe_steps)}
    out = []
    for t in range(1, len(grads[0]) + 1):
        apply_lr_change(opt, t, case["lr_change"])

        def closure(t=t):
            loss = objective(params)
            for p, g in zip(params, grads):
                p.grad = g[t - 1].astype(dtype)
            return loss

        r = probe_at.get(t)
        opt.step(closure, probes=None if r is None else [u[r] for u in probes])
        out.append([p.data.copy() for p in params])
    return out


def _saved(traj, steps):
    return [traj[t - 1] for t in steps]


def _fixture_cases(stem):
    return json.loads(str(_load(stem)["cases"]))


# --------------------------------------------------------------------------- fixtures
@pytest.mark.parametrize("case", _fixture_cases("sophiaopt_sophia"), ids=lambda c: c["name"])
def test_sophiag_matches_sophia_opt_fixture(case):
    data = _load("sophiaopt_sophia")
    assert str(data["version"]) == "0.2.2"
    steps = [int(s) for s in data["steps"]]
    n = len(SHAPES)
    init = [data[f"{case['name']}/init/{i}"] for i in range(n)]
    grads = [data[f"grads/{i}"] for i in range(n)]
    hgrads = [data[f"hgrads/{i}"] for i in range(n)]
    ref = [[data[f"{case['name']}/traj/{i}"][j] for i in range(n)] for j in range(len(steps))]
    ours = run_sophiag(case, init, grads, hgrads)
    compare_trajectories(_saved(ours, steps), ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", _fixture_cases("optax_sophia"), ids=lambda c: c["name"])
def test_sophiah_matches_optax_fixture(case):
    data = _load("optax_sophia")
    assert str(data["version"]) == "0.2.8"
    steps = [int(s) for s in data["steps"]]
    n, name = len(SHAPES), case["name"]
    init = [data[f"{name}/init/{i}"] for i in range(n)]
    grads = [data[f"grads/{i}"] for i in range(n)]
    probes = [data[f"{name}/probes/{i}"].astype(np.float64) for i in range(n)]
    ref = [[data[f"{name}/traj/{i}"][j] for i in range(n)] for j in range(len(steps))]
    ours = run_sophiah(case, init, grads, probes, data[f"{name}/probe_steps"])
    compare_trajectories(_saved(ours, steps), ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- live
def _draw_sophiag_case(draw):
    k = draw(st.sampled_from([1, 2, 3, 7]))
    case = dict(
        kwargs=dict(
            lr=draw(st.floats(1e-4, 3e-2)),
            betas=[draw(st.floats(0.5, 0.99)), draw(st.floats(0.5, 0.999))],
            rho=draw(st.floats(1e-3, 1.0)),
            weight_decay=draw(st.sampled_from([0.0, 1e-3, 0.1, 0.7])),
            maximize=draw(st.booleans()),
        ),
        bs=draw(st.integers(1, 100)),
        k=k,
        pre=draw(st.booleans()),
        lr_change=[60, draw(st.floats(0.1, 3.0))],
        groups=None,
    )
    if draw(st.booleans()):
        case["groups"] = [
            {"params": [0, 2], "lr": draw(st.floats(1e-4, 1e-2))},
            {"params": [1], "rho": draw(st.floats(1e-3, 1.0)), "maximize": False},
        ]
    return case


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_sophiag_matches_sophia_opt_live(data):
    pytest.importorskip("sophia_opt")
    case = _draw_sophiag_case(data.draw)
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    steps = 120
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal((steps, *s)) for s in SHAPES]
    hgrads = [rng.standard_normal((steps, *s)) * rng.uniform(0.01, 10) for s in SHAPES]
    ref = run_package(case, init, grads, hgrads)
    ours = run_sophiag(
        case,
        init,
        grads,
        hgrads,
        via_grad=data.draw(st.booleans()),
        bs_in_step=data.draw(st.booleans()),
    )
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


LR_CHANGE_STEP = 60
_OPTAX: dict = {}


def _optax_functions(clipped):
    """Jitted Optax sophia steps whose hyperparameters are traced arguments, so
    hypothesis examples share one compilation (per ``clipped``)."""
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    if clipped in _OPTAX:
        return _OPTAX[clipped]

    def obj(ps):
        a, b, c = ps
        return (
            0.25 * jnp.sum(a**4)
            + jnp.sum(jnp.log(1.0 + jnp.exp(b)))
            + 0.1 * (jnp.sum(a) * jnp.sum(b)) ** 2
            + c**2 * jnp.sum(b**2)
            + c**4
        )

    def make(hp, key):
        return optax.contrib.sophia(
            lambda count: jnp.where(count < LR_CHANGE_STEP, hp["lr"], hp["lr"] * hp["f"]),
            b1=hp["b1"],
            b2=hp["b2"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
            gamma=hp["gamma"],
            clip_threshold=hp["clip_threshold"] if clipped else None,
            update_interval=hp["update_interval"],
            hessian_diagonal_fn=optax.contrib.hutchinson_estimator_diag_hessian(key),
        )

    def step(hp, g, state, params):
        return make(hp, None).update(g, state, params, obj_fn=obj)

    _OPTAX[clipped] = (make, jax.jit(step))
    return _OPTAX[clipped]


def _optax_probes(key, init, steps, interval):
    """The probes Optax's Hutchinson estimator draws, generated as it does: the key in its
    state is split at every refresh (the first ``t`` with (t - 1) % k == 0, 1-based)
    and ``optax.tree.random_like(subkey, params, rademacher, float32)`` is drawn; they
    depend on the parameters' shapes only. (``_optax_run`` checks them against the
    keys it finds in Optax's state.)"""
    import jax
    import jax.numpy as jnp
    import optax

    _optax_functions(True)  # x64 on
    key = jax.random.PRNGKey(key)
    like = [jnp.asarray(p) for p in init]
    probes, probe_steps = [], []
    for t in range(1, steps + 1):
        if (t - 1) % interval == 0:
            key, sub = jax.random.split(key)
            signs = optax.tree.random_like(sub, like, jax.random.rademacher, dtype=jnp.float32)
            probes.append([np.asarray(u, dtype=np.float64) for u in signs])
            probe_steps.append(t)
    return [np.stack([pr[i] for pr in probes]) for i in range(len(init))], probe_steps


def _optax_run(case, init, grads, key, probes):
    """Optax's contrib.sophia on the given gradients; asserts that it draws ``probes``
    (read from its state's key as its estimator splits it); the trajectory."""
    import jax
    import jax.numpy as jnp
    import optax

    kw = case["kwargs"]
    clipped = kw["clip_threshold"] is not None
    make, step = _optax_functions(clipped)
    hp = {k: v for k, v in kw.items() if k not in ("betas", "clip_threshold")}
    hp.update(b1=kw["betas"][0], b2=kw["betas"][1], f=case["lr_change"][1])
    hp["clip_threshold"] = kw["clip_threshold"] if clipped else 0.0
    hp = {k: jnp.asarray(v) for k, v in hp.items()}
    params = [jnp.asarray(p) for p in init]
    state = make(hp, jax.random.PRNGKey(key)).init(params)
    traj, r = [], 0
    for t in range(1, len(grads[0]) + 1):
        if (t - 1) % kw["update_interval"] == 0:
            _, sub = jax.random.split(state[0].hessian_fn_state.key)
            signs = optax.tree.random_like(sub, params, jax.random.rademacher, dtype=jnp.float32)
            for u, mine in zip(signs, probes):
                assert np.array_equal(np.asarray(u, dtype=np.float64), mine[r])
            r += 1
        g = [jnp.asarray(x[t - 1]) for x in grads]
        updates, state = step(hp, g, state, params)
        params = optax.apply_updates(params, updates)
        traj.append([np.asarray(p, dtype=np.float64) for p in params])
    return traj


@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_sophiah_matches_optax_live(data):
    """Same probes, same objective, same gradients, hyperparameters drawn anew each run.
    The step's gradients are random arrays the closure puts in ``.grad``, or the
    objective's own, from ``backward`` in the closure (recorded, and given to Optax: each
    side differentiating by itself would differ in the last bits, which m / max(γ·h, ε)
    can magnify by up to 1/ε a step near a stationary point)."""
    pytest.importorskip("optax")
    draw = data.draw
    case = dict(
        kwargs=dict(
            lr=draw(st.floats(1e-3, 3e-2)),
            betas=[draw(st.floats(0.5, 0.99)), draw(st.floats(0.5, 0.999))],
            eps=draw(st.sampled_from([1e-12, 1e-8, 1e-3])),
            weight_decay=draw(st.sampled_from([0.0, 1e-4, 0.05])),
            gamma=draw(st.floats(1e-3, 1.0)),
            clip_threshold=draw(st.sampled_from([None, 0.5, 1.0, 2.0])),
            update_interval=draw(st.sampled_from([1, 2, 5, 10])),
        ),
        lr_change=[LR_CHANGE_STEP, draw(st.floats(0.1, 3.0))],
    )
    if case["kwargs"]["clip_threshold"] is None:  # no clip: only the floor ε bounds the step
        case["kwargs"]["eps"] = 1.0
    true_gradient = draw(st.booleans())
    key = draw(st.integers(0, 999))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    steps = 120
    init = [rng.standard_normal(s) * 0.7 for s in SHAPES]
    probes, probe_steps = _optax_probes(key, init, steps, case["kwargs"]["update_interval"])
    if true_gradient:
        params = _tensors(init)
        opt = SophiaH(params, **case["kwargs"])
        probe_at = {t: r for r, t in enumerate(probe_steps)}
        ours, used = [], []
        for t in range(1, steps + 1):
            if t == case["lr_change"][0] + 1:
                opt.param_groups[0]["lr"] *= case["lr_change"][1]

            def closure():
                opt.zero_grad()
                loss = objective(params)
                loss.backward()
                return loss

            r = probe_at.get(t)
            opt.step(closure, probes=None if r is None else [u[r] for u in probes])
            used.append([p.grad.copy() for p in params])
            ours.append([p.data.copy() for p in params])
        grads = [np.stack([u[i] for u in used]) for i in range(len(SHAPES))]
    else:
        grads = [rng.standard_normal((steps, *s)) for s in SHAPES]
        ours = run_sophiah(case, init, grads, probes, probe_steps)
    ref = _optax_run(case, init, grads, key, probes)
    compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- the paper
def test_sophiag_is_the_papers_algorithm_up_to_eps():
    """Algorithm 3 in numpy (ε as a floor, max(ρ·B·h, ε)): once h > 0 the package's
    ρ·B·h + ε is the same number up to rounding."""
    rng = np.random.default_rng(3)
    lr, (b1, b2), rho, bs, wd, k = 2e-3, (0.9, 0.95), 0.05, 16, 0.1, 4
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal((100, *s)) for s in SHAPES]
    hgrads = [rng.standard_normal((100, *s)) for s in SHAPES]
    params = _tensors(init)
    opt = SophiaG(params, lr=lr, betas=(b1, b2), rho=rho, weight_decay=wd, bs=bs)
    theta = [p.copy() for p in init]
    m = [np.zeros_like(p) for p in init]
    h = [np.zeros_like(p) for p in init]
    for t in range(100):
        if t % k == 0:  # refresh before the step (Algorithm 3: t mod k = 1, 1-based)
            opt.update_hessian([x[t] for x in hgrads])
            h = [b2 * hi + (1 - b2) * x[t] ** 2 for hi, x in zip(h, hgrads)]
        for p, g in zip(params, grads):
            p.grad = g[t].copy()
        opt.step()
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g[t]
            theta[i] = theta[i] - lr * wd * theta[i]
            theta[i] = theta[i] - lr * np.clip(m[i] / np.maximum(rho * bs * h[i], 1e-15), -1, 1)
        compare_trajectories([[p.data for p in params]], [theta], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- estimators
def test_hutchinson_products_are_u_times_dense_hessian_u():
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s) for s in SHAPES]
    params = _tensors(init)
    probes = [rademacher_probe(0, i, 5, p.data) for i, p in enumerate(params)]
    got = hutchinson_products(objective(params), params, probes)
    # dense Hessian of the objective as a function of the flat vector
    sizes = [int(np.prod(s)) for s in SHAPES]

    def flat_objective(x):
        pieces, o = [], 0
        for s, n in zip(SHAPES, sizes):
            pieces.append(x[o : o + n].reshape(s))
            o += n
        return objective(pieces)

    x = Tensor(np.concatenate([p.ravel() for p in init]), requires_grad=True)
    H = hessian(flat_objective, x).data
    u = np.concatenate([p.ravel() for p in probes])
    want = u * (H @ u)
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in got]), want, rtol=1e-12)
    assert all(g.shape == s for g, s in zip(got, SHAPES))
    assert all(p.grad is None for p in params)  # .grad left alone


def test_rademacher_probe_is_reproducible_and_signs():
    like = np.zeros((50, 4))
    a, b = rademacher_probe(1, 2, 30, like), rademacher_probe(1, 2, 30, like)
    assert np.array_equal(a, b) and set(np.unique(a)) == {-1.0, 1.0}
    assert not np.array_equal(a, rademacher_probe(1, 2, 40, like))
    assert rademacher_probe(0, 0, 0, np.zeros((), np.float32)).dtype == np.float32


def test_gnb_gradients_are_the_gradient_for_sampled_labels():
    rng = np.random.default_rng(0)
    model = nn.Linear(3, 4, rng=0, dtype=np.float64)
    X = rng.standard_normal((64, 3))
    logits = model(Tensor(X))
    labels = sample_labels(logits.data, np.random.default_rng(7))
    got = gnb_gradients(logits, list(model.parameters()), np.random.default_rng(7))
    model.zero_grad()
    nn.cross_entropy(model(Tensor(X)), labels).backward()
    for g, p in zip(got, model.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-12, atol=1e-15)


def test_sample_labels_follow_the_softmax():
    z = np.array([[0.0, 1.0, 2.0, -1.0]])
    p = np.exp(z[0]) / np.exp(z[0]).sum()
    labels = sample_labels(np.repeat(z, 40000, axis=0), np.random.default_rng(0))
    freq = np.bincount(labels, minlength=4) / labels.size
    np.testing.assert_allclose(freq, p, atol=0.01)


def test_gnb_expectation_is_the_gauss_newton_diagonal():
    """One example (B = 1): E_ŷ[ĝ⊙ĝ] = Σ_c p_c·g_c⊙g_c = diag(Jᵀ(diag p - ppᵀ)J), the
    Gauss-Newton diagonal of the cross-entropy (the paper's §2.3)."""
    rng = np.random.default_rng(1)
    model = nn.Linear(3, 4, rng=1, dtype=np.float64)
    x = rng.standard_normal((1, 3))
    z = model(Tensor(x)).data[0]
    p = np.exp(z - z.max())
    p /= p.sum()
    expect = [np.zeros(q.shape) for q in model.parameters()]
    for c in range(4):
        model.zero_grad()
        nn.cross_entropy(model(Tensor(x)), np.array([c])).backward()
        for e, q in zip(expect, model.parameters()):
            e += p[c] * q.grad**2
    # closed form for a linear layer W x + b: J = [x ⊗ I, I], M = diag p - ppᵀ
    M = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(expect[0], np.outer(np.diag(M), x[0] ** 2), rtol=1e-12)
    np.testing.assert_allclose(expect[1], np.diag(M), rtol=1e-12)


# --------------------------------------------------------------------------- properties
def _sophiag_run(n, flat=False, opt_state=None, params0=None, start=0):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal((40, *s)) for s in SHAPES]
    hgrads = [rng.standard_normal((40, *s)) for s in SHAPES]
    params = _tensors(params0 if params0 is not None else [rng.standard_normal(s) for s in SHAPES])
    opt = SophiaG(
        [{"params": params[:2]}, {"params": params[2:], "lr": 3e-3}],
        lr=1e-2,
        rho=0.1,
        bs=8,
        weight_decay=0.05,
        flat=flat,
    )
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    elif start == 0:
        opt.update_hessian([h[-1] for h in hgrads])  # before any step
    for t in range(start, start + n):
        for p, g in zip(params, grads):
            p.grad = g[t].copy()
        opt.step()
        if t % 3 == 2:
            opt.update_hessian([h[t] for h in hgrads])
    return params, opt


def _sophiah_run(n, flat=False, opt_state=None, params0=None, start=0, dtype=np.float64):
    rng = np.random.default_rng(6)
    params = _tensors(
        params0 if params0 is not None else [rng.standard_normal(s) for s in SHAPES], dtype
    )
    opt = SophiaH(
        [{"params": params[:1]}, {"params": params[1:], "update_interval": 3, "seed": 4}],
        lr=2e-2,
        gamma=0.1,
        weight_decay=0.01,
        update_interval=2,
        flat=flat,
    )
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    def closure():
        opt.zero_grad()
        loss = objective(params)
        loss.backward()
        return loss

    for _ in range(start, start + n):
        opt.step(closure)
    return params, opt


@pytest.mark.parametrize("run", [_sophiag_run, _sophiah_run], ids=["G", "H"])
def test_exact_resume(run):
    full, _ = run(40)
    half, opt = run(20)
    saved = opt.state_dict()
    resumed, _ = run(20, opt_state=saved, params0=[p.data for p in half], start=20)
    for a, b in zip(full, resumed):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("run", [_sophiag_run, _sophiah_run], ids=["G", "H"])
def test_flat_is_bit_identical(run):
    a, opt_a = run(25)
    b, opt_b = run(25, flat=True)
    for x, y in zip(a, b):
        assert np.array_equal(x.data, y.data)
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    for i in sa:
        for k in sa[i]:
            assert np.array_equal(sa[i][k], sb[i][k]), (i, k)


def test_sophiah_maximize_is_minimizing_the_negative():
    """maximize=True on -f (gradient and Hessian of -f) is the run on f, bit for bit."""

    def run(maximize):
        params = _tensors([np.linspace(-1, 1, 12).reshape(3, 4), np.arange(5) / 5, 0.3])
        opt = SophiaH(params, lr=1e-2, update_interval=2, maximize=maximize)

        def closure():
            opt.zero_grad()
            loss = -objective(params) if maximize else objective(params)
            loss.backward()
            return loss

        for _ in range(30):
            opt.step(closure)
        return [p.data for p in params]

    for a, b in zip(run(False), run(True)):
        assert np.array_equal(a, b)


def test_sophiag_maximize_negates_the_gradient_only():
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal((30, *s)) for s in SHAPES]
    hg = [rng.standard_normal((30, *s)) for s in SHAPES]
    out = []
    for sign, maximize in ((1, False), (-1, True)):
        params = _tensors([np.ones(s) for s in SHAPES])
        opt = SophiaG(params, lr=1e-2, maximize=maximize, bs=4)
        for t in range(30):
            opt.update_hessian([sign * h[t] for h in hg])
            for p, g in zip(params, grads):
                p.grad = sign * g[t]
            opt.step()
        out.append([p.data for p in params])
    for a, b in zip(*out):
        assert np.array_equal(a, b)


def test_float32_runs_finite_and_keep_dtype():
    for run in (_sophiag_run, _sophiah_run):
        rng = np.random.default_rng(0)
        params = [
            Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES
        ]
        if run is _sophiag_run:
            opt = SophiaG(params, lr=1e-2, bs=32)
            for t in range(30):
                for p in params:
                    p.grad = rng.standard_normal(p.shape).astype(np.float32)
                opt.step()
                if t % 5 == 0:
                    opt.update_hessian(
                        [rng.standard_normal(p.shape).astype(np.float32) for p in params]
                    )
        else:
            params, opt = _sophiah_run(30, dtype=np.float32)
        for p in params:
            assert p.data.dtype == np.float32 and np.isfinite(p.data).all()
        for s in opt.state.values():
            assert s["exp_avg"].dtype == np.float32 and s["hessian"].dtype == np.float32


def test_clip_bounds_every_move_by_lr():
    """|Δθ| ≤ η·c (plus the decay): the property the paper's clip exists for."""
    rng = np.random.default_rng(0)
    p = Tensor(rng.standard_normal(100), requires_grad=True)
    opt = SophiaH([p], lr=0.1, clip_threshold=0.5, weight_decay=0.0)
    opt.update_hessian([np.full(100, -3.0)])  # negative curvature: floored by ε
    for _ in range(10):
        before = p.data.copy()
        p.grad = 1e3 * rng.standard_normal(100)
        opt.step()
        assert np.abs(p.data - before).max() <= 0.05 + 1e-15


# --------------------------------------------------------------------------- API
def test_registered_names():
    p = [Tensor(np.zeros(2), requires_grad=True)]
    assert type(create("sophia", p)) is SophiaG
    assert type(create("sophiag", p, rho=0.1)) is SophiaG
    opt = create("SophiaH", p, lr=0.5)
    assert type(opt) is SophiaH and opt.param_groups[0]["lr"] == 0.5
    assert SophiaH.needs_closure and not getattr(SophiaG, "needs_closure", False)


INVALID = [
    (SophiaG, "lr", -1e-3, "Invalid learning rate: -0.001"),
    (SophiaG, "rho", -0.5, "Invalid rho value: -0.5"),
    (SophiaG, "bs", -2, "Invalid bs value: -2"),
    (SophiaG, "eps", -1e-15, "Invalid epsilon value: -1e-15"),
    (SophiaG, "weight_decay", -0.1, "Invalid weight_decay value: -0.1"),
    (SophiaG, "betas", (0.9, 1.0), "Invalid beta parameter at index 1: 1.0"),
    (SophiaH, "gamma", -1.0, "Invalid gamma value: -1.0"),
    (SophiaH, "clip_threshold", 0.0, "Invalid clip_threshold value: 0.0"),
    (SophiaH, "update_interval", 0, "Invalid update_interval value: 0"),
    (SophiaH, "update_interval", 2.5, "Invalid update_interval value: 2.5"),
    (SophiaH, "seed", -1, "Invalid seed value: -1"),
    (SophiaH, "betas", (-0.1, 0.9), "Invalid beta parameter at index 0: -0.1"),
]


@pytest.mark.parametrize("cls, name, value, message", INVALID, ids=lambda x: str(x))
def test_invalid_hyperparameters(cls, name, value, message):
    p = [Tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(p, **{name: value})


def test_misuse_raises():
    p = [Tensor(np.zeros(2), requires_grad=True), Tensor(np.zeros(3), requires_grad=True)]
    g = SophiaG(p)
    with pytest.raises(ValueError, match="got 1 gradients"):
        g.update_hessian([np.zeros(2)])
    with pytest.raises(ValueError, match=r"gradients 1 has shape \(2,\)"):
        g.update_hessian([np.zeros(2), np.zeros(2)])
    p[0].grad = np.ones(2)
    with pytest.raises(ValueError, match="Invalid bs value: -1"):
        g.step(bs=-1)
    h = SophiaH(p)
    with pytest.raises(ValueError, match="probes are used only with a closure"):
        h.step(probes=[np.ones(2), np.ones(3)])
    with pytest.raises(TypeError, match="closure must return the loss as a Tensor"):
        h.step(lambda: 1.0)
    with pytest.warns(RuntimeWarning, match="without a closure"):
        h.step()


def test_step_bs_is_for_one_step_only():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = SophiaG([p], bs=100)
    opt.update_hessian([np.full(3, 0.1)])
    p.grad = np.ones(3)
    opt.step(bs=1)
    assert opt.param_groups[0]["bs"] == 100 and opt._bs is None


# --------------------------------------------------------------------------- in training
def _moons_model():
    from tinygrad_opt.data import make_moons

    X, y = make_moons(200, noise=0.1, rng=0)
    model = nn.MLP([2, 16, 2], activation="tanh", rng=0, dtype=np.float64)
    return X, y, model


def test_sophiag_trains_a_classifier_with_gnb_every_k_steps():
    X, y, model = _moons_model()
    params = list(model.parameters())
    opt = SophiaG(params, lr=0.02, rho=0.05, bs=len(X), weight_decay=0.0)
    rng = np.random.default_rng(0)
    losses = []
    for step in range(80):
        logits = model(Tensor(X))
        loss = nn.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % 10 == 9:  # the GNB estimate at the new θ, every k = 10 steps
            opt.update_hessian(gnb_gradients(model(Tensor(X)), params, rng))
    assert losses[-1] < 0.6 * losses[0]
    assert all(np.any(s["hessian"]) for s in opt.state.values())


def test_sophiah_trains_a_classifier_with_a_closure_and_with_fit():
    from tinygrad_opt.data import ArrayDataset, DataLoader
    from tinygrad_opt.train import fit

    X, y, model = _moons_model()
    opt = SophiaH(model.parameters(), lr=0.02, gamma=0.05, weight_decay=0.0)
    first = nn.cross_entropy(model(Tensor(X)), y).item()

    def closure():
        opt.zero_grad()
        loss = nn.cross_entropy(model(Tensor(X)), y)
        loss.backward()
        return loss

    for _ in range(40):
        opt.step(closure)
    mid = nn.cross_entropy(model(Tensor(X)), y).item()
    assert mid < 0.7 * first
    loader = DataLoader(ArrayDataset(X, y), batch_size=50, shuffle=True, rng=0)
    history = fit(model, opt, loader, nn.cross_entropy, epochs=3, progress=False)
    assert history.train_loss[-1] < mid
    assert all(np.any(s["hessian"]) for s in opt.state.values())


def test_compare_cli_runs_sophiah(tmp_path):
    """``tinygrad-opt compare --function rosenbrock --optimizers sophiah --steps 100``."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinygrad_opt.cli",
            "compare",
            "--function",
            "rosenbrock",
            "--optimizers",
            "sophiah",
            "--steps",
            "100",
            "--json",
            "--out",
            str(tmp_path / "r.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)["optimizers"]["sophiah"]
    assert not result["diverged"] and result["final_loss"] < 12.5  # f(start) = 12.5


def test_sophiah_with_a_closure_on_rosenbrock():
    """What the playground does for a method with ``needs_closure``."""
    from tinygrad_opt.playground.functions import get_function
    from tinygrad_opt.playground.runner import SUGGESTED_LR

    fn = get_function("rosenbrock")
    theta = Tensor(np.array(fn.start, dtype=np.float64), requires_grad=True)
    opt = create("sophiah", [theta], lr=SUGGESTED_LR["rosenbrock"]["sophiah"])

    def closure():
        theta.grad = None
        loss = fn(theta)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(99):
        last = opt.step(closure).item()
    assert last < 0.1 * first
