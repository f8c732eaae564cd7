"""Prodigy, DAdaptAdam and DAdaptSGD against the authors' packages.

- Fixtures: ``tests/fixtures/prodigyopt_dadapt.npz`` (prodigyopt 1.1.2) and
  ``dadaptation_dadapt.npz`` (dadaptation 3.2), made by ``scripts/make_dadapt_fixtures.py``
  in torch float64: 8 random configurations per method (every flag on in some), 200 steps
  on a noisy quadratic, four parameters (2-D, 1-D, 1-D, 0-d) in two groups with their own
  hyperparameters, the lr changed at step 100 and, in half the cases, group 1 frozen
  (lr 0) from step 150; the trajectories and the d estimate are compared at 26 steps.
- Live (when the packages are installed): new random configurations each run
  (hypothesis), compared at every step.
- Exact ``state_dict`` resume, ``maximize``, float32, invalid hyperparameters, the
  group-lr rule, and the d estimate in ``param_groups``.

Tolerance: rtol 1e-10, atol 1e-11 (parameters are of order 1; an element crossing zero
keeps its ~1e-12 absolute error). The moving sums are written in the packages' rounding
order (``functional.decay_add_``), because while d is near d0 Prodigy's ⟨g, θ0 - θ⟩
cancels about |log10 d0| digits; the remaining differences are the order of summation in
the dot products and norms (numpy's vs torch's). Worst seen over 120 random
configurations: 2e-12 relative.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import assert_invalid_raises, load_npz, load_script
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import optim
from tinygrad_opt.optim import DAdaptAdam, DAdaptSGD, Prodigy
from tinygrad_opt.optim.testing import apply_lr_change, compare_trajectories
from tinygrad_opt.tensor import Tensor

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CLASSES = {"Prodigy": Prodigy, "DAdaptAdam": DAdaptAdam, "DAdaptSGD": DAdaptSGD}
RTOL, ATOL = 1e-10, 1e-11


# the gradient model, the random configurations and the reference runner
FIX = load_script("make_dadapt_fixtures")


def run_ours(case: dict, data: dict, dtype=np.float64, hook=None):
    """Our run of a fixture case: (trajectories at the saved steps, d at the saved steps).

    The same quadratic as the script; ours receives g and negates it itself when
    maximizing."""
    n = len(FIX.SHAPES)
    init = [data[f"init/{i}"].astype(dtype) for i in range(n)]
    if case["zero"]:
        init[2] = np.zeros_like(init[2])
    params = [Tensor(x.copy(), requires_grad=True) for x in init]
    sign = -1.0 if case["kwargs"].get("maximize") else 1.0
    opt = CLASSES[case["cls"]](
        [{"params": params[:2]}, {"params": params[2:], **case["group1"]}], **case["kwargs"]
    )
    saved = [int(s) for s in data["steps"]]
    traj: list[list[np.ndarray]] = [[] for _ in range(n)]
    ds = []
    for t in range(1, FIX.STEPS + 1):
        apply_lr_change(opt, t, case["lr_change"])
        if case["freeze"] is not None and t == case["freeze"] + 1:
            opt.param_groups[1]["lr"] = 0.0
        for i, p in enumerate(params):
            g = sign * (data[f"h/{i}"] * (p.data - data[f"target/{i}"])) + data[f"noise/{i}"][t - 1]
            p.grad = g.astype(dtype)
        opt.step()
        if hook is not None:
            hook(t, opt)
        if t in saved:
            for i, p in enumerate(params):
                traj[i].append(p.data.copy())
            ds.append(opt.param_groups[0]["d"])
    return [np.stack(x) for x in traj], np.array(ds)


def _compare(case, data, ref_traj, ref_d):
    traj, ds = run_ours(case, data)
    n = len(traj)
    steps = len(ds)
    compare_trajectories(
        [[traj[i][k] for i in range(n)] for k in range(steps)],
        [[ref_traj[i][k] for i in range(n)] for k in range(steps)],
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(ds, ref_d, rtol=RTOL, atol=0)
    return ds


# --------------------------------------------------------------------------- fixtures
DATA = {s: load_npz(FIXTURES / f"{s}.npz") for s in ("prodigyopt_dadapt", "dadaptation_dadapt")}
FIXTURE_CASES = [(stem, c) for stem, d in DATA.items() for c in json.loads(str(d["cases"]))]


@pytest.mark.parametrize("stem, case", FIXTURE_CASES, ids=[c["name"] for _, c in FIXTURE_CASES])
def test_matches_the_package_fixture(stem, case):
    data = DATA[stem]
    assert str(data["package"]) in ("prodigyopt 1.1.2", "dadaptation 3.2")
    traj = [data[f"{case['name']}/traj/{i}"] for i in range(len(FIX.SHAPES))]
    ds = _compare(case, data, traj, data[f"{case['name']}/d"])
    # the estimate is visible in the groups and grows from d0, as the package's
    assert ds[0] >= case["kwargs"]["d0"] and ds[-1] > 100 * case["kwargs"]["d0"]
    assert np.all(np.diff(ds) >= 0)


def test_fixtures_cover_every_option():
    seen: dict[str, set] = {}
    for _, case in FIXTURE_CASES:
        for k, v in {**case["kwargs"], **case["group1"]}.items():
            seen.setdefault(f"{case['cls']}.{k}", set()).add(json.dumps(v))
    for cls in CLASSES.values():
        for name, default in cls.hyperparameters.items():
            if name in ("log_every", "fsdp_in_use"):
                continue  # logging; no sharding here
            values = seen.get(f"{cls.__name__}.{name}", set())
            assert len(values | {json.dumps(default)}) > 1, (cls.__name__, name)


# --------------------------------------------------------------------------- live
@pytest.mark.parametrize("cls", list(CLASSES))
@settings(max_examples=4, deadline=None, derandomize=False)
@given(seed=st.integers(0, 2**32 - 1), i=st.integers(0, 7))
def test_matches_the_package_live(cls, seed, i):
    pytest.importorskip("torch")
    pytest.importorskip("prodigyopt" if cls == "Prodigy" else "dadaptation")
    case = FIX.draw_case(cls, np.random.default_rng(seed), i)
    data = FIX.problem(seed)
    data["steps"] = np.arange(1, FIX.STEPS + 1)  # compare at every step
    with contextlib.redirect_stdout(io.StringIO()):  # the packages print on decouple
        ref_traj, ref_d = FIX.run_reference(case, data, list(data["steps"]))
    _compare(case, data, ref_traj, ref_d)


REFERENCE_KW = {
    "Prodigy": dict(weight_decay=0.05, slice_p=2, use_bias_correction=True),
    "DAdaptAdam": dict(weight_decay=0.05, decouple=True),
    "DAdaptSGD": dict(weight_decay=0.05, momentum=0.8),
}


@pytest.mark.parametrize("cls", list(CLASSES))
def test_missing_gradients_are_skipped_as_by_the_package(cls):
    """Parameter 1 has no gradient on the first step and every 7th; parameter 2 on every
    5th: the packages skip such parameters in both passes (no state, no step)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("prodigyopt" if cls == "Prodigy" else "dadaptation")
    case = dict(cls=cls, kwargs=REFERENCE_KW[cls], group1={}, zero=False)
    ref_cls = FIX._reference(case)
    shapes = [(4, 3), (5,), (7,), ()]
    init = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    ours_p = [Tensor(x.copy(), requires_grad=True) for x in init]
    ref_p = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    ours = CLASSES[cls]([{"params": ours_p[:2]}, {"params": ours_p[2:]}], **case["kwargs"])
    with contextlib.redirect_stdout(io.StringIO()):
        ref = ref_cls([{"params": ref_p[:2]}, {"params": ref_p[2:]}], **case["kwargs"])
    noise = np.random.default_rng(9)
    for t in range(60):
        for i, (p, q) in enumerate(zip(ours_p, ref_p)):
            missing = (i == 1 and t % 7 == 0) or (i == 2 and t % 5 == 4)
            g = None if missing else (p.data - 1.0) + 0.1 * noise.standard_normal(p.shape)
            p.grad = None if g is None else g
            q.grad = None if g is None else torch.tensor(g.copy())
        ours.step()
        ref.step()
        for p, q in zip(ours_p, ref_p):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=RTOL, atol=ATOL)
        assert ours.param_groups[0]["d"] == pytest.approx(ref.param_groups[0]["d"], rel=RTOL)


# --------------------------------------------------------------------------- invariants
def _grads(shapes, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]


SETTINGS = [
    (Prodigy, dict(slice_p=2, weight_decay=0.1, use_bias_correction=True, growth_rate=1.1)),
    (Prodigy, dict(betas=(0.0, 0.99), decouple=False, weight_decay=0.05, safeguard_warmup=True)),
    (DAdaptAdam, dict(decouple=True, weight_decay=0.1, use_bias_correction=True)),
    (DAdaptSGD, dict(momentum=0.9, weight_decay=0.01, growth_rate=1.5)),
]
IDS = [f"{c.__name__}-{i}" for i, (c, _) in enumerate(SETTINGS)]


def _make(cls, kw, params):
    return cls([{"params": params[:2]}, {"params": params[2:], "weight_decay": 0.02}], **kw)


@pytest.mark.parametrize("cls, kw", SETTINGS, ids=IDS)
def test_state_dict_resumes_exactly(cls, kw):
    shapes = [(4, 3), (5,), (7,), ()]
    grads = _grads(shapes, 40)
    init = [g.copy() for g in _grads(shapes, 1, seed=5)[0]]

    def fresh():
        return [Tensor(x.copy(), requires_grad=True) for x in init]

    def run(opt, params, gs):
        for step in gs:
            for p, g in zip(params, step):
                p.grad = (p.data - 2.0) + 0.1 * g  # a noisy quadratic: d grows
            opt.step()

    p1 = fresh()
    o1 = _make(cls, kw, p1)
    run(o1, p1, grads)
    p2 = fresh()
    o2 = _make(cls, kw, p2)
    run(o2, p2, grads[:20])
    saved = o2.state_dict()
    assert saved["param_groups"][0]["d"] == o2.param_groups[0]["d"] > kw.get("d0", 1e-6)
    p3 = [Tensor(p.data.copy(), requires_grad=True) for p in p2]
    o3 = _make(cls, {}, p3)  # default hyperparameters: load_state_dict restores them
    o3.load_state_dict(saved)
    run(o3, p3, grads[20:])
    for a, b in zip(p1, p3):
        assert np.array_equal(a.data, b.data)
    assert o1.param_groups == [
        {**g, "params": g2["params"]} for g, g2 in zip(o3.param_groups, o1.param_groups)
    ]


@pytest.mark.parametrize("cls, kw", SETTINGS, ids=IDS)
def test_maximize_is_minimize_of_the_negated_gradient(cls, kw):
    shapes = [(4, 3), (5,), (7,), ()]
    grads = _grads(shapes, 30)
    init = _grads(shapes, 1, seed=3)[0]
    out = []
    for maximize, sign in ((True, -1.0), (False, 1.0)):
        params = [Tensor(x.copy(), requires_grad=True) for x in init]
        opt = _make(cls, {**kw, "maximize": maximize}, params)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = sign * g
            opt.step()
        out.append([p.data.copy() for p in params])
    for a, b in zip(*out):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=list(CLASSES))
def test_float32_runs_stay_finite_and_float32(cls):
    data = DATA["prodigyopt_dadapt"]
    case = FIX.draw_case(cls.__name__, np.random.default_rng(7), 5)
    states = []
    traj, ds = run_ours(case, data, np.float32, hook=lambda t, opt: states.append(opt.state))
    assert all(np.isfinite(x).all() and x.dtype == np.float32 for x in traj)
    assert np.isfinite(ds).all() and ds[-1] > case["kwargs"]["d0"]
    for state in states[-1].values():
        for v in state.values():
            assert not isinstance(v, np.ndarray) or v.dtype == np.float32
            assert not isinstance(v, np.generic)  # scalars are plain numbers
    ref, ref_d = run_ours(case, data)
    assert ds[-1] == pytest.approx(ref_d[-1], rel=0.2)  # noise-level differences, no more
    for i, (a, b) in enumerate(zip(traj, ref)):
        target = data[f"target/{i}"]
        assert np.abs(a[-1] - target).max() < 2 * np.abs(b[-1] - target).max() + 0.2


def test_the_estimate_lives_in_the_groups_and_grows_from_d0():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = Prodigy([p], d0=1e-5)
    assert opt.param_groups[0]["d"] == opt.param_groups[0]["d_max"] == 1e-5
    seen = [1e-5]
    for _ in range(30):
        p.grad = p.data - 3.0  # minimum at 3: distance 2
        opt.step()
        seen.append(opt.param_groups[0]["d"])
    assert all(b >= a for a, b in zip(seen, seen[1:])) and seen[-1] > 0.1
    group = opt.param_groups[0]
    assert {"d_numerator", "d_denom", "d_hat", "k"} <= set(group) and group["k"] == 30
    for cls in (DAdaptAdam, DAdaptSGD):
        q = Tensor(np.ones(3), requires_grad=True)
        o = cls([q])
        for _ in range(30):
            q.grad = q.data - 3.0
            o.step()
        assert o.param_groups[0]["d"] > 1e3 * 1e-6 and o.param_groups[0]["k"] == 30


@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=list(CLASSES))
def test_group_learning_rates_must_be_equal_or_zero(cls):
    a, b = (Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = cls([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad, b.grad = np.ones(2), np.ones(2)
    with pytest.raises(RuntimeError, match="lr 0.5"):
        opt.step()
    assert np.array_equal(a.data, np.ones(2)) and not opt.state  # nothing changed
    opt.param_groups[1]["lr"] = 0.0  # a frozen group is allowed
    opt.step()
    assert not np.array_equal(a.data, np.ones(2))


def test_all_zero_first_gradient():
    for cls in (Prodigy, DAdaptAdam):
        p = Tensor(np.ones(2), requires_grad=True)
        opt = cls([p])
        p.grad = np.zeros(2)
        opt.step()  # Σ‖a‖₁ = 0: no step, as the package
        assert np.array_equal(p.data, np.ones(2)) and opt.param_groups[0]["k"] == 0
    p = Tensor(np.ones(2), requires_grad=True)
    opt = DAdaptSGD([p])
    p.grad = np.zeros(2)
    with pytest.raises(ZeroDivisionError, match="all zero"):
        opt.step()


INVALID = [
    (Prodigy, "d0", 0.0),
    (Prodigy, "d0", -1e-6),
    (Prodigy, "lr", -1.0),
    (Prodigy, "eps", 0.0),
    (Prodigy, "betas", (0.9, 1.0)),
    (Prodigy, "beta3", 1.5),
    (Prodigy, "d_coef", -2.0),
    (Prodigy, "growth_rate", 0.5),
    (Prodigy, "slice_p", 0),
    (Prodigy, "slice_p", 2.5),
    (Prodigy, "weight_decay", -0.1),
    (DAdaptAdam, "d0", 0.0),
    (DAdaptAdam, "eps", -1e-8),
    (DAdaptAdam, "betas", (1.2, 0.9)),
    (DAdaptAdam, "layer_scale", -1.0),
    (DAdaptAdam, "log_every", -3),
    (DAdaptAdam, "growth_rate", 0.99),
    (DAdaptSGD, "momentum", 1.0),
    (DAdaptSGD, "momentum", -0.5),
    (DAdaptSGD, "d0", -3.0),
    (DAdaptSGD, "weight_decay", float("nan")),
]


@pytest.mark.parametrize("cls, name, value", INVALID, ids=lambda x: getattr(x, "__name__", str(x)))
def test_invalid_hyperparameters_raise_naming_the_value(cls, name, value):
    assert_invalid_raises(cls, name, value)


@pytest.mark.parametrize(
    "name, cls", [("prodigy", Prodigy), ("dadapt-adam", DAdaptAdam), ("dadapt_sgd", DAdaptSGD)]
)
def test_registered_and_state_memory(name, cls):
    params = [Tensor(np.ones((6, 4)), requires_grad=True), Tensor(np.ones(4), requires_grad=True)]
    opt = optim.create(name, params, lr=0.5)
    assert type(opt) is cls and opt.param_groups[0]["lr"] == 0.5
    for p in params:
        p.grad = np.ones(p.shape)
    opt.step()
    assert opt.state_bytes() == (4 if cls is Prodigy else 3) * 28 * 8
    sliced = Prodigy([Tensor(np.ones(12), requires_grad=True)], slice_p=5)
    sliced.param_groups[0]["params"][0].grad = np.ones(12)
    sliced.step()
    state = next(iter(sliced.state.values()))
    assert state["s"].shape == state["p0"].shape == (3,)  # elements 0, 5, 10
    assert math.isfinite(sliced.param_groups[0]["d"])
