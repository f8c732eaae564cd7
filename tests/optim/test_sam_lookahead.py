"""SAM and Lookahead (the wrappers) against Optax, pytorch_optimizer and the papers.

- Optax 0.2.8 fixtures (``tests/fixtures/optax_sam_lookahead.npz``, jax float64, 150 steps,
  random hyperparameters drawn per case, made by ``scripts/make_sam_lookahead_fixtures.py``):
  ``contrib.sam`` (opaque and transparent modes, 1-3 ascent steps, default normalized-SGD
  adversary) and ``lookahead`` (k, α, reset_state) over sgd/adam/adamw/lion, on a fixed
  quartic loss whose gradient both sides compute, so SAM's second gradient is real.
  rtol 1e-10. Live: new draws each run (printed on failure) when optax is installed.
- pytorch_optimizer 4.1.0 (float64, live): ``Lookahead`` (k, α, pullback_momentum) over
  torch SGD/Adam, and ``SAM`` (rho, adaptive = ASAM, perturb_eps) over torch SGD/Adam.
- A plain-numpy transcription of SAM/ASAM (davda54/sam's two steps) with SGD.
- Exact resume, schedulers on the wrapper, bases SGD/Adam/Lion, flat bases, maximize,
  float32, errors, memory, the playground/CLI with a closure, ``fit``.
"""

from __future__ import annotations

import copy
import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import load_npz, load_script

from tinygrad_opt import optim
from tinygrad_opt.optim import SAM, SGD, Adam, Lookahead, Optimizer
from tinygrad_opt.optim.lr_scheduler import OneCycleLR, StepLR
from tinygrad_opt.optim.memory import measure
from tinygrad_opt.optim.testing import compare_trajectories
from tinygrad_opt.tensor import Tensor

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "optax_sam_lookahead.npz"


# the loss, the case draws and the Optax runner (imports optax lazily)
FX = load_script("make_sam_lookahead_fixtures")


# --------------------------------------------------------------------------- running ours
def build(case, params):
    return optim.create(
        case["wrapper"], params, base=case["base"], **case["settings"], **case["base_kwargs"]
    )


def run_ours(case, problem, params0, steps, make=build, dtype=np.float64):
    """Our wrapper on the case's loss: parameters (and Lookahead's φ) after each step."""
    params = [Tensor(np.array(p, dtype=dtype), requires_grad=True) for p in params0]
    opt = make(case, params)
    traj, slow = [], []
    for t in range(steps):
        if case.get("lr_change") and t == case["lr_change"][0]:
            for group in opt.param_groups:
                group["lr"] *= case["lr_change"][1]
        step(opt, params, problem, t)
        traj.append([p.data.copy() for p in params])
        if isinstance(opt, Lookahead):
            slow.append(opt.slow_weights())
    return traj, slow, opt


def step(opt, params, problem, t):
    def closure():
        opt.zero_grad()
        data = [p.data for p in params]
        for p, g in zip(params, FX.gradient(problem, data, t)):
            p.grad = np.asarray(g, dtype=p.dtype)
        return FX.loss(problem, data, t)

    if getattr(opt, "needs_closure", False):
        return opt.step(closure)
    closure()
    return opt.step()


# --------------------------------------------------------------------------- Optax fixtures
def _fixture():
    data = load_npz(FIXTURE)
    cases = json.loads(str(data["cases"]))
    n = len(FX.SHAPES)
    problem = {
        "a": [data[f"a/{i}"] for i in range(n)],
        "b": [data[f"b/{i}"] for i in range(n)],
        "c": float(data["c"]),
    }
    return data, cases, problem


DATA, CASES, PROBLEM = _fixture()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_matches_optax_fixture(case):
    n = len(FX.SHAPES)
    saved = DATA["steps"]
    params0 = [DATA[f"{case['name']}/init/{i}"] for i in range(n)]
    traj, slow, _ = run_ours(case, PROBLEM, params0, int(saved[-1]))
    for key, ours in (("traj", traj), ("slow", slow)):
        if key == "slow" and case["wrapper"] != "lookahead":
            continue
        ref = [[DATA[f"{case['name']}/{key}/{i}"][j] for i in range(n)] for j in range(len(saved))]
        mine = [ours[k - 1] for k in saved]
        try:
            compare_trajectories(mine, ref, rtol=1e-10, atol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"{case['optax']} ({key}): {e}") from None


def test_fixture_cases_cover_every_option():
    sam = [c for c in CASES if c["wrapper"] == "sam"]
    la = [c for c in CASES if c["wrapper"] == "lookahead"]
    assert {c["opaque"] for c in sam} == {True, False}
    assert {c["settings"]["ascent_steps"] for c in sam} >= {1, 2}
    assert {c["settings"]["reset_state"] for c in la} == {True, False}
    assert {c["base"] for c in CASES} == set(FX.BASES)
    assert any(c["lr_change"] for c in sam) and any(c["lr_change"] for c in la)
    assert any(c["base_kwargs"].get("momentum") for c in CASES)


def test_optax_live_random_hyperparameters():
    pytest.importorskip("optax")
    pytest.importorskip("jax")
    seed = int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    problem = FX.make_problem(seed, steps=100)
    for i, wrapper in enumerate(("sam", "lookahead", str(rng.choice(["sam", "lookahead"])))):
        case = FX.draw_case(rng, wrapper, f"live{i}")
        if case["lr_change"]:
            case["lr_change"][0] = min(case["lr_change"][0], 80)
        params0 = [rng.standard_normal(s) for s in FX.SHAPES]
        ref, ref_slow = FX.run_optax(case, problem, params0, 100)
        ours, slow, _ = run_ours(case, problem, params0, 100)
        try:
            compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)
            if ref_slow is not None:
                compare_trajectories(slow, ref_slow, rtol=1e-10, atol=1e-12)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, {case['optax']}: {e}") from None


# --------------------------------------------------------------------------- pytorch_optimizer
def _torch_run(torch, make_opt, problem, params0, steps, sam=False):
    params = [torch.tensor(np.array(p), requires_grad=True) for p in params0]
    opt = make_opt(params)

    def closure():
        opt.zero_grad()
        with torch.no_grad():
            grads = FX.gradient(problem, [p.detach().numpy() for p in params], t)
        for p, g in zip(params, grads):
            p.grad = torch.tensor(np.asarray(g, dtype=np.float64))
        return 0.0

    traj = []
    for t in range(steps):  # noqa: B007  (the closure reads t)
        closure()
        if sam:
            opt.step(closure)
        else:
            opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def _torch_base(torch, rng):
    """A random torch base optimizer and ours with the same hyperparameters."""
    if rng.random() < 0.5:
        kw = dict(
            lr=float(rng.uniform(0.01, 0.08)),
            momentum=float(rng.choice([0.0, rng.uniform(0.5, 0.95)])),
            weight_decay=float(rng.choice([0.0, rng.uniform(0.0, 0.1)])),
        )
        if kw["momentum"] and rng.random() < 0.5:
            kw["nesterov"] = True
        elif kw["momentum"]:
            kw["dampening"] = float(rng.uniform(0.0, 0.5))
        return torch.optim.SGD, SGD, kw
    kw = dict(
        lr=float(rng.uniform(1e-3, 2e-2)),
        betas=(float(rng.uniform(0.8, 0.95)), float(rng.uniform(0.95, 0.999))),
        weight_decay=float(rng.choice([0.0, rng.uniform(0.0, 0.1)])),
        amsgrad=bool(rng.random() < 0.3),
    )
    return torch.optim.Adam, Adam, kw


def _po_lookahead(po, tcls, kw, settings, params):
    return po.Lookahead(tcls(params, **kw), **settings)


def _po_sam(po, tcls, kw, settings, params):
    return po.SAM(params, tcls, foreach=False, **settings, **kw)


def _ours(cls, base, kw, settings, _case, params):
    return cls(params, base, **settings, **kw)


def test_lookahead_matches_pytorch_optimizer_live():
    torch = pytest.importorskip("torch")
    po = pytest.importorskip("pytorch_optimizer")
    torch.set_default_dtype(torch.float64)
    seed = int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    problem = FX.make_problem(seed, steps=100)
    for _ in range(4):
        tcls, ours, kw = _torch_base(torch, rng)
        k = int(rng.integers(1, 8))
        alpha = float(rng.uniform(0.05, 1.0))
        pullback = (
            str(rng.choice(["none", "reset", "pullback"])) if tcls is torch.optim.SGD else "none"
        )
        if pullback != "none":
            kw["momentum"] = kw["momentum"] or 0.9
        params0 = [rng.standard_normal(s) for s in FX.SHAPES]
        ref = _torch_run(
            torch,
            partial(
                _po_lookahead, po, tcls, kw, dict(k=k, alpha=alpha, pullback_momentum=pullback)
            ),
            problem,
            params0,
            100,
        )
        case = {"lr_change": None}
        mine, _, _ = run_ours(
            case,
            problem,
            params0,
            100,
            make=partial(
                _ours, Lookahead, ours, kw, dict(k=k, alpha=alpha, pullback_momentum=pullback)
            ),
        )
        try:
            compare_trajectories(mine, ref, rtol=1e-10, atol=1e-12)
        except AssertionError as e:
            raise AssertionError(
                f"seed {seed}: Lookahead(k={k}, alpha={alpha}, {pullback}) over "
                f"{tcls.__name__}({kw}): {e}"
            ) from None


def _norm_squared_float64(torch):
    """pytorch_optimizer's ``get_global_gradient_norm`` without its cast to float32."""

    def norm(param_groups, device=None, *, weight_adaptive=False):
        grads = [
            p.grad * p.abs() if weight_adaptive and group.get("adaptive") else p.grad
            for group in param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        return torch.stack([g.norm() for g in grads]).square().sum().reshape(1)

    return norm


@pytest.mark.parametrize("float32_norm", [False, True])
def test_sam_matches_pytorch_optimizer_live(monkeypatch, float32_norm):
    """pytorch_optimizer's SAM (davda54's semantics, incl. adaptive = ASAM).

    It computes the global gradient norm in float32 even for float64 parameters (its
    quirk): 100 steps at rtol 1e-10 with that norm patched to float64; as shipped, the
    first 3 steps at rtol 1e-5 (float32's rounding of the norm, ~1e-7, is amplified
    without bound by runs that blow up, e.g. ASAM with rho 1.7: 1.1e-5 by step 4)."""
    torch = pytest.importorskip("torch")
    po = pytest.importorskip("pytorch_optimizer")
    torch.set_default_dtype(torch.float64)
    rtol = 1e-5 if float32_norm else 1e-10
    if not float32_norm:
        import pytorch_optimizer.optimizer.sam as po_sam

        monkeypatch.setattr(po_sam, "get_global_gradient_norm", _norm_squared_float64(torch))
    seed = int(np.random.SeedSequence().entropy % 2**32)
    rng = np.random.default_rng(seed)
    steps = 3 if float32_norm else 100
    problem = FX.make_problem(seed, steps=steps)
    for adaptive in (False, True, bool(rng.random() < 0.5)):
        tcls, ours, kw = _torch_base(torch, rng)
        rho = float(rng.uniform(0.01, 0.2) * (10 if adaptive else 1))
        eps = float(rng.choice([1e-12, 1e-6]))
        params0 = [rng.standard_normal(s) for s in FX.SHAPES]
        ref = _torch_run(
            torch,
            partial(_po_sam, po, tcls, kw, dict(rho=rho, adaptive=adaptive, perturb_eps=eps)),
            problem,
            params0,
            steps,
            sam=True,
        )
        mine, _, _ = run_ours(
            {"lr_change": None},
            problem,
            params0,
            steps,
            make=partial(_ours, SAM, ours, kw, dict(rho=rho, adaptive=adaptive, perturb_eps=eps)),
        )
        try:
            compare_trajectories(mine, ref, rtol=rtol, atol=rtol * 1e-2)
        except AssertionError as e:
            raise AssertionError(
                f"seed {seed}: SAM(rho={rho}, adaptive={adaptive}, eps={eps}) over "
                f"{tcls.__name__}({kw}): {e}"
            ) from None


# --------------------------------------------------------------------------- the papers in numpy
def _numpy_sam_sgd(problem, params0, steps, lr, rho, adaptive, eps, ascent_steps):
    """Foret et al. Alg. 1 / Kwon et al. (ASAM) with plain SGD, written out."""
    theta = [np.array(p) for p in params0]
    out = []
    for t in range(steps):
        g = FX.gradient(problem, theta, t)
        w = [p.copy() for p in theta]
        T = [np.abs(p) if adaptive else np.ones_like(p) for p in theta]
        for _ in range(ascent_steps):
            norm = np.sqrt(sum(np.sum((ti * gi) ** 2) for ti, gi in zip(T, g)))
            w = [wi + rho * ti**2 * gi / (norm + eps) for wi, ti, gi in zip(w, T, g)]
            g = FX.gradient(problem, w, t)
        theta = [p - lr * gi for p, gi in zip(theta, g)]
        out.append([p.copy() for p in theta])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_sam_matches_numpy_transcription(seed):
    rng = np.random.default_rng(seed)
    problem = FX.make_problem(seed, steps=120)
    lr, eps = float(rng.uniform(0.01, 0.1)), float(rng.choice([0.0, 1e-12, 1e-3]))
    adaptive = bool(seed % 2)
    rho = float(rng.uniform(0.01, 0.3)) * (5 if adaptive else 1)
    ascent = int(rng.integers(1, 4))
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    ref = _numpy_sam_sgd(problem, params0, 120, lr, rho, adaptive, eps, ascent)
    case = {"lr_change": None}
    mine, _, _ = run_ours(
        case,
        problem,
        params0,
        120,
        make=lambda _, ps: SAM(
            ps, "sgd", rho=rho, adaptive=adaptive, perturb_eps=eps, ascent_steps=ascent, lr=lr
        ),
    )
    compare_trajectories(mine, ref, rtol=1e-10, atol=1e-12)


def test_lookahead_matches_numpy_transcription():
    """Zhang et al. Alg. 1 with SGD as the inner optimizer."""
    rng = np.random.default_rng(3)
    problem = FX.make_problem(3, steps=100)
    lr, k, alpha = 0.05, 4, 0.3
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    theta = [p.copy() for p in params0]
    phi = [p.copy() for p in params0]
    ref = []
    for t in range(100):
        theta = [p - lr * g for p, g in zip(theta, FX.gradient(problem, theta, t))]
        if (t + 1) % k == 0:
            phi = [f + alpha * (p - f) for f, p in zip(phi, theta)]
            theta = [f.copy() for f in phi]
        ref.append(theta)
    mine, _, _ = run_ours(
        {"lr_change": None},
        problem,
        params0,
        100,
        make=lambda _, ps: Lookahead(ps, "sgd", k=k, alpha=alpha, lr=lr),
    )
    compare_trajectories(mine, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pullback", ["reset", "pullback"])
def test_lookahead_pullback_momentum_matches_numpy_transcription(pullback):
    """pytorch_optimizer's momentum handling at each synchronization, over SGD momentum."""
    rng = np.random.default_rng(6)
    problem = FX.make_problem(6, steps=80)
    lr, mu, k, alpha = 0.03, 0.8, 3, 0.6
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    theta = [p.copy() for p in params0]
    phi = [p.copy() for p in params0]
    b = [None] * len(theta)
    b_slow = [np.zeros_like(p) for p in theta]
    ref = []
    for t in range(80):
        g = FX.gradient(problem, theta, t)
        b = [gi if bi is None else mu * bi + gi for bi, gi in zip(b, g)]
        theta = [p - lr * bi for p, bi in zip(theta, b)]
        if (t + 1) % k == 0:
            phi = [f + alpha * (p - f) for f, p in zip(phi, theta)]
            theta = [f.copy() for f in phi]
            if pullback == "reset":
                b = [np.zeros_like(bi) for bi in b]
            else:
                b = [bi + (1 - alpha) * (s - bi) for bi, s in zip(b, b_slow)]
                b_slow = [bi.copy() for bi in b]
        ref.append(theta)
    mine, _, _ = run_ours(
        {"lr_change": None},
        problem,
        params0,
        80,
        make=lambda _, ps: Lookahead(
            ps, "sgd", k=k, alpha=alpha, pullback_momentum=pullback, lr=lr, momentum=mu
        ),
    )
    compare_trajectories(mine, ref, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- invariants
BASES = [("sgd", dict(lr=0.05, momentum=0.9)), ("adam", dict(lr=1e-2)), ("lion", dict(lr=1e-3))]


@pytest.mark.parametrize("base, kw", BASES, ids=[b for b, _ in BASES])
def test_degenerate_wrappers_are_their_base(base, kw):
    """SAM with ρ = 0 and Lookahead with k beyond the run are the base, bit for bit."""
    params0 = [np.random.default_rng(0).standard_normal(s) for s in FX.SHAPES]
    case = {"lr_change": [30, 0.5]}
    plain, _, _ = run_ours(
        case, PROBLEM, params0, 60, make=lambda _, ps: optim.create(base, ps, **kw)
    )
    sam, _, _ = run_ours(
        case, PROBLEM, params0, 60, make=lambda _, ps: SAM(ps, base, rho=0.0, **kw)
    )
    la, _, _ = run_ours(
        case, PROBLEM, params0, 60, make=lambda _, ps: Lookahead(ps, base, k=61, **kw)
    )
    for a, b, c in zip(plain, sam, la):
        for x, y, z in zip(a, b, c):
            np.testing.assert_array_equal(x, y)
            np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("base, kw", BASES, ids=[b for b, _ in BASES])
@pytest.mark.parametrize("wrapper", ["sam", "lookahead"])
def test_exact_resume(wrapper, base, kw):
    settings = (
        dict(rho=0.1, adaptive=True, ascent_steps=2)
        if wrapper == "sam"
        else dict(k=3, alpha=0.4, reset_state=base == "adam")
    )
    if wrapper == "lookahead" and base == "sgd":
        settings["pullback_momentum"] = "pullback"
    rng = np.random.default_rng(1)
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    case = {"wrapper": wrapper, "base": base, "settings": settings, "base_kwargs": kw}
    full, _, _ = run_ours(case, PROBLEM, params0, 40)
    # 20 steps (not a multiple of k), save, a fresh optimizer loads and runs 20 more
    case20 = {**case, "lr_change": None}
    first, _, opt = run_ours(case20, PROBLEM, params0, 20)
    saved = copy.deepcopy(opt.state_dict())
    params = [Tensor(p.copy(), requires_grad=True) for p in first[-1]]
    other = dict(settings, k=7) if wrapper == "lookahead" else dict(settings, rho=0.5)
    opt2 = optim.create(wrapper, params, base=base, **other, **{**kw, "lr": 123.0})
    opt2.load_state_dict(saved)
    assert opt2.settings == opt.settings
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for t in range(20, 40):
        step(opt2, params, PROBLEM, t)
    for a, b in zip(full[-1], params):
        np.testing.assert_array_equal(a, b.data)


def test_state_dict_holds_base_state_slow_weights_and_counter():
    params = [Tensor(np.ones(3), requires_grad=True)]
    opt = Lookahead(params, "adam", k=3, lr=0.1)
    for _ in range(4):
        params[0].grad = np.ones(3)
        opt.step()
    sd = opt.state_dict()
    assert sd["wrapper"]["steps_since_sync"] == 1
    assert set(sd["state"][0]) == {"slow_param"}
    assert set(sd["base_state"][0]) >= {"exp_avg", "exp_avg_sq", "step"}
    assert sd["param_groups"][0]["lr"] == 0.1
    bad = copy.deepcopy(sd)
    bad["state"][0]["slow_param"] = np.ones(4)
    before = opt.state_dict()
    with pytest.raises(ValueError):
        opt.load_state_dict(bad)
    np.testing.assert_array_equal(
        opt.state[params[0]]["slow_param"], before["state"][0]["slow_param"]
    )
    with pytest.raises(ValueError, match="base_state"):
        opt.load_state_dict({"state": {}, "param_groups": sd["param_groups"]})
    with pytest.raises(ValueError, match="does not keep"):
        SAM(params, "adam").load_state_dict(sd)
    np.testing.assert_array_equal(
        opt.base.state[params[0]]["exp_avg"], sd["base_state"][0]["exp_avg"]
    )


def test_schedulers_act_through_the_wrapper():
    """StepLR and OneCycleLR (which also cycles momentum) on the wrapper equal the same
    schedule on the bare base (Lookahead with k beyond the run never syncs)."""
    rng = np.random.default_rng(2)
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]

    def run(make, sched):
        params = [Tensor(p.copy(), requires_grad=True) for p in params0]
        opt = make(params)
        assert isinstance(opt, Optimizer)
        s = sched(opt)
        for t in range(30):
            step(opt, params, PROBLEM, t)
            s.step()
        return [p.data for p in params], opt

    for sched in (
        lambda o: StepLR(o, 7, 0.5),
        lambda o: OneCycleLR(o, max_lr=0.05, total_steps=31),
    ):
        a, _ = run(lambda ps: SGD(ps, lr=0.05, momentum=0.9), sched)
        b, opt = run(lambda ps: Lookahead(ps, "sgd", k=100, lr=0.05, momentum=0.9), sched)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
        assert opt.param_groups is opt.base.param_groups
    # on SAM: the base steps with the scheduled lr
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = optim.create("sam", params, base="adam", rho=0.05, lr=0.1)
    s = StepLR(opt, 2, 0.1)
    for t in range(4):
        step(opt, params, PROBLEM, t)
        s.step()
    assert opt.base.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_base_by_name_class_or_instance():
    params = [Tensor(np.ones((2, 2)), requires_grad=True)]
    a = optim.create("lookahead", params, base="adam", k=5, alpha=0.5, lr=1e-3)
    b = Lookahead(params, Adam, lr=1e-3)
    base = Adam(params, lr=1e-3)
    c = Lookahead(params, base)
    d = Lookahead(None, base)
    e = optim.create("sam", params, base="momentum", rho=0.05, lr=0.1)  # preset applies
    assert type(a.base) is type(b.base) is Adam and c.base is base and d.base is base
    assert e.base.param_groups[0]["momentum"] == 0.9
    assert isinstance(e, Optimizer) and e.needs_closure and not a.needs_closure
    with pytest.raises(TypeError, match="instance"):
        Lookahead(params, base, lr=0.1)
    with pytest.raises(ValueError, match="parameters of the base"):
        Lookahead([Tensor(np.ones(2), requires_grad=True)], base)
    with pytest.raises(TypeError, match="unexpected keyword"):
        SAM(params, "sgd", lr=0.1, k=3)
    # a base over a wrapper: Lookahead over SAM needs the closure too
    f = Lookahead(params, "sam", k=2, lr=0.1, rho=0.05)
    assert f.needs_closure


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda ps: SAM(ps, rho="0.1"), "rho"),
        (lambda ps: SAM(ps, perturb_eps="0"), "perturb_eps"),
        (lambda ps: SAM(ps, ascent_steps="1"), "ascent_steps"),
        (lambda ps: Lookahead(ps, k="5"), "k"),
        (lambda ps: Lookahead(ps, alpha="0.5"), "alpha"),
    ],
)
def test_non_numeric_settings_say_must_be_a_number(make, name):
    with pytest.raises(TypeError, match=f"{name} must be a number"):
        make([Tensor(np.ones(3), requires_grad=True)])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda ps: SAM(ps, rho=-0.1), "Invalid rho value: -0.1"),
        (lambda ps: SAM(ps, perturb_eps=-1.0), "Invalid perturb_eps value: -1.0"),
        (lambda ps: SAM(ps, ascent_steps=0), "Invalid ascent_steps value: 0"),
        (lambda ps: SAM(ps, adaptive="yes"), "Invalid adaptive value: 'yes'"),
        (lambda ps: Lookahead(ps, k=0), "Invalid k value: 0"),
        (lambda ps: Lookahead(ps, k=2.5), "Invalid k value: 2.5"),
        (lambda ps: Lookahead(ps, alpha=1.5), "Invalid alpha value: 1.5"),
        (lambda ps: Lookahead(ps, pullback_momentum="x"), "Invalid pullback_momentum value"),
        (lambda ps: Lookahead(ps, "adam", pullback_momentum="reset"), "momentum buffer"),
        (lambda ps: SAM(ps, lr=-1.0), "Invalid learning rate: -1.0"),
        (lambda ps: SAM(ps, "lbfgs"), "cannot wrap LBFGS"),
    ],
)
def test_invalid_settings_raise(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make([Tensor(np.ones(3), requires_grad=True)])


def test_sam_needs_a_closure_and_supports_the_two_step_loop():
    params = [Tensor(np.ones(3), requires_grad=True)]
    opt = SAM(params, "sgd", lr=0.1, rho=0.5)
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    # davda54's loop: gradient at θ, first_step, gradient at θ + ε, second_step
    params[0].grad = np.array([3.0, 4.0, 0.0])
    opt.first_step(zero_grad=True)
    np.testing.assert_allclose(params[0].data, [1.3, 1.4, 1.0])
    assert params[0].grad is None
    params[0].grad = np.array([1.0, 1.0, 1.0])
    opt.second_step()
    np.testing.assert_allclose(params[0].data, [0.9, 0.9, 0.9])


def test_sam_zero_gradient_and_parameters_without_gradient():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = SAM([a, b], "sgd", lr=0.1, perturb_eps=0.0)

    def closure():
        opt.zero_grad()
        a.grad = np.zeros(2)  # b gets none
        return 0.0

    opt.step(closure)
    np.testing.assert_array_equal(a.data, [1.0, 1.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0, 1.0])


def test_maximize_is_minimizing_the_negated_loss():
    rng = np.random.default_rng(4)
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    neg = {
        **PROBLEM,
        "a": [-a for a in PROBLEM["a"]],
        "b": [-b for b in PROBLEM["b"]],
        "c": -PROBLEM["c"],
    }
    for wrapper, settings in (("sam", dict(rho=0.1, adaptive=True)), ("lookahead", dict(k=3))):
        case = {"wrapper": wrapper, "base": "adam", "settings": settings, "lr_change": None}
        up, _, _ = run_ours({**case, "base_kwargs": dict(lr=1e-2, maximize=True)}, neg, params0, 50)
        down, _, _ = run_ours({**case, "base_kwargs": dict(lr=1e-2)}, PROBLEM, params0, 50)
        for x, y in zip(up[-1], down[-1]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("wrapper", ["sam", "lookahead"])
def test_flat_base_equals_unflat_and_float32_is_finite(wrapper):
    rng = np.random.default_rng(5)
    params0 = [rng.standard_normal(s) for s in FX.SHAPES]
    settings = dict(rho=0.05) if wrapper == "sam" else dict(k=3, pullback_momentum="reset")
    case = {"wrapper": wrapper, "base": "sgd", "settings": settings, "lr_change": None}
    kw = dict(lr=0.05, momentum=0.9)
    a, _, _ = run_ours({**case, "base_kwargs": kw}, PROBLEM, params0, 30)
    b, _, opt = run_ours({**case, "base_kwargs": {**kw, "flat": True}}, PROBLEM, params0, 30)
    assert opt.base.flat
    for x, y in zip(a[-1], b[-1]):
        np.testing.assert_array_equal(x, y)
    c, _, opt = run_ours({**case, "base_kwargs": kw}, PROBLEM, params0, 30, dtype=np.float32)
    assert all(np.isfinite(p).all() and p.dtype == np.float32 for p in c[-1])
    assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values())


def test_lookahead_does_not_count_skipped_steps():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = Lookahead([p], "sgd", k=2, lr=0.1, skip_nonfinite=True)
    p.grad = np.array([np.nan, 1.0])
    opt.step()
    assert opt.skipped_steps == 1 and opt.steps_since_sync == 0


def test_slow_weights_swap():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = Lookahead([p], "sgd", k=10, lr=0.5)
    p.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(opt.slow_weights()[0], [1.0, 1.0])
    opt.swap_slow_weights()
    np.testing.assert_array_equal(p.data, [1.0, 1.0])
    opt.swap_slow_weights()
    np.testing.assert_array_equal(p.data, [0.5, 0.5])


def test_evaluation_hooks_come_from_the_base():
    """``at_theta`` (textbook Nesterov) and ``train``/``eval`` (Schedule-Free methods)
    are the base's, found by duck typing as ``fit``/``evaluate`` do; absent if the base
    lacks them."""
    p = Tensor(np.ones(2), requires_grad=True)
    opt = Lookahead([p], "textbook_nesterov", k=3, lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    opt.step()
    with opt.at_theta():
        theta = p.data.copy()
    with opt.base.at_theta():
        np.testing.assert_array_equal(p.data, theta)
    plain = SAM([p], "sgd")
    assert getattr(plain, "at_theta", None) is None and getattr(plain, "train", None) is None
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = plain.nonexistent


def test_memory_is_measurable():
    sam, la, la_adam = measure("sam"), measure("lookahead"), measure("lookahead", base="adam")
    assert sam.state_arrays == ["old_param"] and sam.per_parameter == 1.0
    assert la.state_arrays == ["slow_param"] and la.per_parameter == 1.0
    assert la_adam.per_parameter == pytest.approx(3.0, rel=1e-3)


# --------------------------------------------------------------------------- tools
def test_playground_and_cli_pass_a_closure(capsys):
    from tinygrad_opt.cli import main
    from tinygrad_opt.playground import runner

    specs = {n: n for n in ("sam", "lookahead")} | {"la_adam": ("lookahead", {"base": "adam"})}
    run = runner.run("rosenbrock", specs, 100)
    for name, t in run.trajectories.items():
        assert np.isfinite(t.losses).all(), name
        assert t.losses[-1] < t.losses[0], name
    assert (
        run.trajectories["lookahead"].hyperparameters["lr"]
        == runner.SUGGESTED_LR["rosenbrock"]["sgd"]
    )
    assert (
        run.trajectories["la_adam"].hyperparameters["lr"]
        == runner.SUGGESTED_LR["rosenbrock"]["adam"]
    )
    assert main(
        [
            "compare",
            "--function",
            "rosenbrock",
            "--optimizers",
            "sam,lookahead,lbfgs",
            "--steps",
            "100",
        ]
    ) in (0, None)
    out = capsys.readouterr().out
    assert "sam" in out and "lookahead" in out and "lbfgs" in out


@pytest.mark.parametrize("wrapper", ["sam", "lookahead"])
def test_fit_trains_with_a_wrapper_and_resumes_exactly(tmp_path, wrapper):
    from tinygrad_opt import nn
    from tinygrad_opt.data import DataLoader, make_moons
    from tinygrad_opt.train import fit

    X, y = make_moons(128, noise=0.1, rng=0)

    def setup(seed=0):
        model = nn.MLP([2, 8, 2], rng=seed)
        extra = dict(rho=0.05) if wrapper == "sam" else dict(k=3)
        opt = optim.create(wrapper, model.parameters(), base="adam", lr=2e-2, **extra)
        sched = StepLR(opt, 2, 0.5)
        return model, opt, sched, DataLoader((X, y), batch_size=32, shuffle=True, rng=seed)

    model_a, opt_a, sched_a, loader_a = setup()
    h = fit(model_a, opt_a, loader_a, nn.cross_entropy, epochs=4, scheduler=sched_a, progress=False)
    assert h.train_loss[-1] < h.train_loss[0]
    ckpt = tmp_path / "run.ckpt"
    model_b, opt_b, sched_b, loader_b = setup()
    fit(
        model_b,
        opt_b,
        loader_b,
        nn.cross_entropy,
        epochs=2,
        scheduler=sched_b,
        checkpoint=ckpt,
        progress=False,
    )
    model_c, opt_c, sched_c, loader_c = setup(seed=7)
    fit(
        model_c,
        opt_c,
        loader_c,
        nn.cross_entropy,
        epochs=4,
        scheduler=sched_c,
        checkpoint=ckpt,
        resume=True,
        progress=False,
    )
    for a, c in zip(model_a.parameters(), model_c.parameters()):
        np.testing.assert_array_equal(a.data, c.data)
