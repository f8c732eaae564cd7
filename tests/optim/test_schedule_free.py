"""Schedule-Free SGD and AdamW against the authors' ``schedulefree`` 1.4.1, step by step.

Three kinds of comparison, float64, rtol 1e-10: committed fixtures of the package
(``scripts/make_schedulefree_fixtures.py``; random hyperparameters covering warmup, r,
weight_lr_power, weight decay, maximize, a mid-run lr change, two groups, a parameter
that joins late; the training point y and the averaged point x after ``eval()``), the
package live with new random hyperparameters (hypothesis), and a numpy transcription of
the paper's three sequences with x, y, z kept explicitly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixture_helpers import load_npz
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import nn, optim
from tinygrad_opt.data import DataLoader, make_moons, train_test_split
from tinygrad_opt.optim import ScheduleFreeAdamW, ScheduleFreeSGD
from tinygrad_opt.optim.memory import measure
from tinygrad_opt.optim.testing import (
    apply_lr_change,
    compare_trajectories,
    gradient_sequence,
    initial_params,
)
from tinygrad_opt.tensor import Tensor
from tinygrad_opt.train import evaluate, fit

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "schedulefree.npz"
CLASSES = {"ScheduleFreeSGD": ScheduleFreeSGD, "ScheduleFreeAdamW": ScheduleFreeAdamW}
SHAPES = [(3, 4), (5,), ()]


DATA = load_npz(FIXTURE)
CASES = json.loads(str(DATA["cases"]))


def run_ours(case, init, grads, saved, dtype=np.float64, **options):
    """Our trajectory for a fixture-style ``case``: y and x (after ``eval()``, then
    ``train()``) of every parameter at each step in ``saved``."""
    params = [Tensor(np.array(p, dtype=dtype), requires_grad=True) for p in init]
    if case.get("group2_lr") is not None:
        groups = [{"params": params[:1]}, {"params": params[1:], "lr": case["group2_lr"]}]
    else:
        groups = [{"params": params}]
    opt = CLASSES[case["cls"]](groups, **case["kwargs"], **options)
    opt.train()  # a no-op here (we start in train mode); the package needs it
    ys, xs = [], []
    for t in range(1, len(grads[0]) + 1):
        apply_lr_change(opt, t, case.get("lr_change"))
        for i, p in enumerate(params):
            late = i == 2 and t <= case.get("late", 0)
            p.grad = None if late else np.array(grads[i][t - 1], dtype=dtype)
        opt.step()
        if t in saved:
            ys.append([p.data.copy() for p in params])
            opt.eval()
            xs.append([p.data.copy() for p in params])
            opt.train()
    return ys, xs, opt


def run_package(case, init, grads, saved):
    """The package's trajectory for the same case (torch float64)."""
    import schedulefree
    import torch

    cls = {
        "ScheduleFreeSGD": schedulefree.SGDScheduleFree,
        "ScheduleFreeAdamW": schedulefree.AdamWScheduleFree,
    }[case["cls"]]
    params = [torch.tensor(np.array(p), dtype=torch.float64, requires_grad=True) for p in init]
    if case.get("group2_lr") is not None:
        groups = [{"params": params[:1]}, {"params": params[1:], "lr": case["group2_lr"]}]
    else:
        groups = [{"params": params}]
    ref = {k: v for k, v in case["kwargs"].items() if k != "maximize"}
    if "betas" in ref:
        ref["betas"] = tuple(ref["betas"])
    opt = cls(groups, foreach=case.get("foreach", True), **ref)
    opt.train()
    sign = -1.0 if case["kwargs"].get("maximize") else 1.0
    ys, xs = [], []
    for t in range(1, len(grads[0]) + 1):
        apply_lr_change(opt, t, case.get("lr_change"))
        for i, p in enumerate(params):
            late = i == 2 and t <= case.get("late", 0)
            p.grad = None if late else torch.tensor(sign * np.array(grads[i][t - 1]))
        opt.step()
        if t in saved:
            ys.append([p.detach().numpy().copy() for p in params])
            opt.eval()
            xs.append([p.detach().numpy().copy() for p in params])
            opt.train()
    return ys, xs


# --------------------------------------------------------------------------- the package
def test_fixture_covers_every_option():
    assert str(DATA["schedulefree_version"]) == "1.4.1"
    kw = [c["kwargs"] for c in CASES]
    assert {c["cls"] for c in CASES} == set(CLASSES)
    assert any(k.get("warmup_steps", 0) > 200 for k in kw)  # still warming up at the end
    assert any(0 < k.get("warmup_steps", 0) < 200 for k in kw)
    assert any(k.get("r", 0) > 0 for k in kw)
    assert {k.get("weight_lr_power", 2.0) for k in kw} >= {0.0, 2.0, 3.5}
    assert any(k.get("weight_decay", 0) > 0 for k in kw)
    assert any(k.get("maximize") for k in kw)
    assert any(c["lr_change"] for c in CASES)
    assert any(c["group2_lr"] for c in CASES)
    assert any(c["late"] for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_schedulefree_fixture(case):
    name = case["name"]
    steps = [int(s) for s in DATA["steps"]]
    init = [DATA[f"init/{i}"] for i in range(len(SHAPES))]
    grads = [DATA[f"grads/{i}"] for i in range(len(SHAPES))]
    ys, xs, _ = run_ours(case, init, grads, set(steps))
    for kind, ours in (("y", ys), ("x", xs)):
        ref = [
            [DATA[f"{name}/{kind}/{i}"][j] for i in range(len(SHAPES))] for j in range(len(steps))
        ]
        compare_trajectories(ours, ref, rtol=1e-10, atol=1e-12)


@st.composite
def configurations(draw):
    """Random hyperparameters of either method, every option possible."""
    adam = draw(st.booleans())
    unit = st.floats(0.0, 1.0)
    lr = 10 ** (draw(unit) * 1.7 - 3.0) if adam else 10 ** (draw(unit) * 2 - 2)
    beta = draw(st.floats(0.3, 0.97))
    kw = {"lr": lr}
    if adam:
        kw["betas"] = [beta, draw(st.sampled_from([0.5, 0.9, 0.99, 0.999]))]
        kw["eps"] = 10 ** (draw(unit) * 8 - 12)
    else:
        kw["momentum"] = beta
    kw["weight_decay"] = draw(st.sampled_from([0.0, 1e-3, 0.05]))
    kw["warmup_steps"] = draw(st.integers(0, 150))
    kw["r"] = draw(st.sampled_from([0.0, 0.25, 1.0, 3.0]))
    kw["weight_lr_power"] = draw(st.sampled_from([0.0, 0.5, 2.0, 4.0]))
    kw["maximize"] = draw(st.booleans())
    return {
        "cls": "ScheduleFreeAdamW" if adam else "ScheduleFreeSGD",
        "kwargs": kw,
        "foreach": draw(st.booleans()),
        "lr_change": draw(st.none() | st.tuples(st.integers(10, 110), st.sampled_from([0.2, 3.0]))),
        "group2_lr": draw(st.none() | st.just(lr * draw(st.floats(0.1, 5.0)))),
        "late": draw(st.sampled_from([0, 0, 9])),
    }


@settings(max_examples=8, deadline=None)
@given(case=configurations(), seed=st.integers(0, 2**16))
def test_matches_schedulefree_live(case, seed):
    pytest.importorskip("schedulefree")
    pytest.importorskip("torch")
    steps = 120
    grads_by_step = gradient_sequence(SHAPES, steps, seed=seed)
    grads = [np.stack([g[i] for g in grads_by_step]) for i in range(len(SHAPES))]
    init = initial_params(SHAPES, seed=seed + 1)
    saved = set(range(1, steps + 1))  # every step, and x after an eval() at every step
    ys, xs, _ = run_ours(case, init, grads, saved)
    ref_ys, ref_xs = run_package(case, init, grads, saved)
    compare_trajectories(ys, ref_ys, rtol=1e-10, atol=1e-12)
    compare_trajectories(xs, ref_xs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_zero_learning_rate_then_a_positive_one_as_the_package(cls):
    """lr = 0 makes every weight 0 (W = 0, so c = 0: the package's ZeroDivisionError)."""
    schedulefree = pytest.importorskip("schedulefree")
    torch = pytest.importorskip("torch")
    ref_cls = {ScheduleFreeSGD: schedulefree.SGDScheduleFree}.get(
        cls, schedulefree.AdamWScheduleFree
    )
    init = initial_params(SHAPES, seed=3)
    ours = [Tensor(p.copy(), requires_grad=True) for p in init]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in init]
    a, b = cls(ours, lr=0.0, weight_decay=0.01), ref_cls(theirs, lr=0.0, weight_decay=0.01)
    b.train()
    for t, grads in enumerate(gradient_sequence(SHAPES, 30, seed=4)):
        if t == 10:
            a.param_groups[0]["lr"] = b.param_groups[0]["lr"] = 0.05
        for p, q, g in zip(ours, theirs, grads):
            p.grad, q.grad = g.copy(), torch.tensor(g.copy())
        a.step()
        b.step()
        assert a.param_groups[0]["weight_sum"] == b.param_groups[0]["weight_sum"]
    a.eval()
    b.eval()
    compare_trajectories([[p.data for p in ours]], [[q.detach().numpy() for q in theirs]])


def test_group_bookkeeping_matches_the_package():
    """k, weight_sum, lr_max, scheduled_lr and train_mode: the package's group entries."""
    schedulefree = pytest.importorskip("schedulefree")
    torch = pytest.importorskip("torch")
    case = next(c for c in CASES if c["name"] == "adamw2")
    init = [DATA[f"init/{i}"] for i in range(3)]
    grads = [DATA[f"grads/{i}"][:60] for i in range(3)]
    _, _, ours = run_ours(case, init, grads, set())
    params = [torch.tensor(p.copy(), requires_grad=True) for p in init]
    ref = schedulefree.AdamWScheduleFree(
        params, **{k: v for k, v in case["kwargs"].items() if k != "maximize"}
    )
    ref.train()
    for t in range(60):
        if case["lr_change"] and t == case["lr_change"][0]:
            ref.param_groups[0]["lr"] *= case["lr_change"][1]
        for i, p in enumerate(params):
            p.grad = torch.tensor(np.array(grads[i][t]))
        ref.step()
    for key in ("k", "weight_sum", "lr_max", "scheduled_lr", "train_mode"):
        assert ours.param_groups[0][key] == ref.param_groups[0][key], key
    assert ours.state_dict()["param_groups"][0]["k"] == 60


# --------------------------------------------------------------------------- the paper
def paper_schedule_free(adam, lr, beta, beta2=0.999, eps=1e-8, wd=0.0, warmup=0, q=0.0, w=2.0):
    """The three sequences, x and z kept explicitly (Defazio et al. 2024; Algorithm 1 for
    AdamW with the package's bias correction and η_max weighting), y = (1-β)z + βx."""

    def step(params, grads, state, t):
        if not state:
            state.update(x=[p.copy() for p in params], z=[p.copy() for p in params])
            state.update(r=[np.zeros_like(p) for p in params], W=0.0, lr_max=-1.0)
        lr_t = lr * min(1.0, t / warmup) if warmup else lr
        state["lr_max"] = max(state["lr_max"], lr_t)
        weight = t**q * state["lr_max"] ** w
        state["W"] += weight
        c = weight / state["W"] if state["W"] else 0.0
        for i, (y, g) in enumerate(zip(params, grads)):
            x, z, r = state["x"][i], state["z"][i], state["r"][i]
            if adam:
                r[...] = beta2 * r + (1 - beta2) * g * g
                u = g / (np.sqrt(r / (1 - beta2**t)) + eps) + wd * y
            else:
                u = g + wd * y
            z -= lr_t * u
            x[...] = (1 - c) * x + c * z
            y[...] = (1 - beta) * z + beta * x

    return step


@pytest.mark.parametrize("adam", [False, True], ids=["sgd", "adamw"])
def test_matches_the_three_sequences_written_out(adam):
    from tinygrad_opt.optim.testing import check_against_reference

    rng = np.random.default_rng(7)
    for _ in range(4):
        beta = float(rng.uniform(0.3, 0.95))
        hp = dict(
            lr=float(10 ** rng.uniform(-3, -1.5) if adam else 10 ** rng.uniform(-2, -0.5)),
            weight_decay=float(rng.choice([0.0, 0.01])),
            warmup_steps=int(rng.choice([0, 20, 300])),
            r=float(rng.choice([0.0, 1.0])),
            weight_lr_power=float(rng.choice([0.0, 2.0, 3.0])),
        )
        ours = dict(hp, **({"betas": (beta, 0.99), "eps": 1e-6} if adam else {"momentum": beta}))
        ref = paper_schedule_free(
            adam, hp["lr"], beta, 0.99, 1e-6, hp["weight_decay"], hp["warmup_steps"], hp["r"],
            hp["weight_lr_power"],
        )  # fmt: skip
        cls = ScheduleFreeAdamW if adam else ScheduleFreeSGD
        # y in one array (ours) vs x, z explicit: the same point, rounded differently
        check_against_reference(
            lambda ps, cls=cls, ours=ours: cls(ps, **ours), ref, SHAPES, rtol=1e-9, atol=1e-11
        )


def test_uniform_average_without_weights():
    """q = 0, ω = 0: x is the plain mean of z_2, …, z_{t+1} and z_1 (c = 1/t)."""
    g = gradient_sequence([(4,)], 30, seed=3)
    p = Tensor(np.zeros(4), requires_grad=True)
    opt = ScheduleFreeSGD([p], lr=0.1, momentum=0.5, weight_lr_power=0.0)
    zs = []
    for (gt,) in g:
        p.grad = gt.copy()
        opt.step()
        zs.append(opt.state[p]["z"].copy())
    opt.eval()
    np.testing.assert_allclose(p.data, np.mean(zs, axis=0), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- modes
def _stepped(cls=ScheduleFreeAdamW, steps=7, dtype=np.float64, **hp):
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES, dtype=dtype)]
    opt = cls(params, **hp)
    for grads in gradient_sequence(SHAPES, steps, seed=5, dtype=dtype):
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
    return params, opt


@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_eval_train_round_trip_restores_the_parameters(cls):
    params, opt = _stepped(cls, lr=0.05)
    y = [p.data.copy() for p in params]
    assert opt.training
    opt.eval()
    assert not opt.training
    assert not any(g["train_mode"] for g in opt.param_groups)
    x = [p.data.copy() for p in params]
    assert not all(np.allclose(a, b) for a, b in zip(x, y))
    opt.eval()  # no-op in eval mode
    assert all(np.array_equal(p.data, a) for p, a in zip(params, x))
    opt.train()
    for p, a in zip(params, y):
        np.testing.assert_allclose(p.data, a, rtol=1e-13, atol=1e-15)
    before = [p.data.copy() for p in params]
    opt.train()  # no-op in train mode
    assert all(np.array_equal(p.data, a) for p, a in zip(params, before))


def test_eval_puts_the_average_into_the_tensors():
    """x = (y - (1-β)z)/β after eval(); y = (1-β)z + βx after train()."""
    params, opt = _stepped(ScheduleFreeSGD, lr=0.1, momentum=0.7)
    y = [p.data.copy() for p in params]
    z = [opt.state[p]["z"].copy() for p in params]
    opt.eval()
    for p, yi, zi in zip(params, y, z):
        np.testing.assert_allclose(p.data, (yi - 0.3 * zi) / 0.7, rtol=1e-12, atol=1e-14)


def test_step_in_eval_mode_raises_and_changes_nothing():
    params, opt = _stepped(lr=0.01)
    opt.eval()
    before = [p.data.copy() for p in params]
    state = opt.state_dict()
    calls = []
    with pytest.raises(RuntimeError, match="not in train mode"):
        opt.step(lambda: calls.append(1))
    assert calls == []  # the closure is not evaluated, as in the package
    assert all(np.array_equal(p.data, a) for p, a in zip(params, before))
    assert opt.state_dict()["param_groups"] == state["param_groups"]
    opt.train()
    opt.step()


def test_before_the_first_step_modes_change_no_tensor():
    params = [Tensor(p, requires_grad=True) for p in initial_params(SHAPES)]
    before = [p.data.copy() for p in params]
    opt = ScheduleFreeSGD(params)
    opt.eval()
    opt.train()
    assert all(np.array_equal(p.data, a) for p, a in zip(params, before))


def test_starting_in_eval_mode_as_the_package():
    class Strict(ScheduleFreeSGD):
        initial_train_mode = False

    p = Tensor(np.ones(3), requires_grad=True)
    opt = Strict([p])
    p.grad = np.ones(3)
    with pytest.raises(RuntimeError):
        opt.step()
    opt.train()
    opt.step()
    assert opt.param_groups[0]["k"] == 1


def test_a_group_added_later_takes_the_current_mode_and_fresh_bookkeeping():
    params, opt = _stepped(ScheduleFreeSGD, lr=0.1)
    opt.eval()
    extra = Tensor(np.ones(2), requires_grad=True)
    opt.add_param_group({"params": [extra], "lr": 0.5})
    group = opt.param_groups[-1]
    assert group["train_mode"] is False and group["k"] == 0 and group["lr_max"] == -1.0
    opt.train()
    extra.grad = np.ones(2)
    opt.step()
    assert group["k"] == 1 and opt.param_groups[0]["k"] == 8


# --------------------------------------------------------------------------- state, dtypes
@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
@pytest.mark.parametrize("save_in_eval_mode", [False, True])
def test_state_dict_resumes_exactly(cls, save_in_eval_mode):
    hp = dict(lr=0.05, weight_decay=0.01, warmup_steps=6, r=1.0, maximize=True)
    grads = gradient_sequence(SHAPES, 20, seed=2)

    def run(params, opt, gs):
        for step_grads in gs:
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()

    def make(values):
        ps = [Tensor(v.copy(), requires_grad=True) for v in values]
        groups = [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}]
        return ps, cls(groups, **hp)

    init = initial_params(SHAPES)
    a_params, a = make(init)
    run(a_params, a, grads[:10])
    if save_in_eval_mode:
        a.eval()  # as the package recommends before saving
    saved_values = [p.data.copy() for p in a_params]
    saved = a.state_dict()
    a.train()
    run(a_params, a, grads[10:])

    b_params, b = make(saved_values)
    b.load_state_dict(saved)
    assert b.training == (not save_in_eval_mode)
    assert b.param_groups[1]["k"] == 10
    b.train()
    run(b_params, b, grads[10:])
    for p, q in zip(a_params, b_params):
        np.testing.assert_array_equal(p.data, q.data)
    for p, q in zip(a_params, b_params):
        for key in a.state[p]:
            np.testing.assert_array_equal(a.state[p][key], b.state[q][key])
    assert a.state_dict()["param_groups"] == b.state_dict()["param_groups"]


@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_flat_and_chunked_steps_are_bit_identical(cls):
    shapes = [(70, 50), (13,), (50, 70)]
    grads = gradient_sequence(shapes, 12, seed=4)
    init = initial_params(shapes)

    def run(**options):
        params = [Tensor(v.copy(), requires_grad=True) for v in init]
        opt = cls(params, lr=0.02, weight_decay=0.01, warmup_steps=3, **options)
        out = []
        for t, step_grads in enumerate(grads):
            for p, g in zip(params, step_grads):
                p.grad = g.copy()
            opt.step()
            if t % 4 == 3:
                opt.eval()
                out.append([p.data.copy() for p in params])
                opt.train()
            out.append([p.data.copy() for p in params])
        return out, opt

    plain, opt = run()
    for options in (
        dict(flat=True),
        dict(chunk_size=999, threads=2),
        dict(flat=True, chunk_size=500),
    ):
        other, opt2 = run(**options)
        for a, b in zip(plain, other):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


@pytest.mark.parametrize("cls", [ScheduleFreeSGD, ScheduleFreeAdamW])
def test_float32_runs_finite_and_close_to_float64(cls):
    p32, o32 = _stepped(
        cls, steps=60, dtype=np.float32, lr=0.01, weight_decay=0.01, warmup_steps=10
    )
    p64, _ = _stepped(cls, steps=60, dtype=np.float64, lr=0.01, weight_decay=0.01, warmup_steps=10)
    for a, b in zip(p32, p64):
        assert a.data.dtype == np.float32 and np.isfinite(a.data).all()
        np.testing.assert_allclose(a.data, b.data, rtol=1e-4, atol=1e-5)
    assert all(v.dtype == np.float32 for s in o32.state.values() for v in s.values())
    o32.eval()
    assert all(p.data.dtype == np.float32 for p in p32)


def test_skipped_nonfinite_step_leaves_the_bookkeeping_alone():
    p = Tensor(np.ones(3), requires_grad=True)
    opt = ScheduleFreeSGD([p], lr=0.1, skip_nonfinite=True)
    p.grad = np.array([1.0, np.nan, 0.0])
    opt.step()
    assert opt.skipped_steps == 1 and opt.param_groups[0]["k"] == 0 and not opt.state
    p.grad = np.ones(3)
    opt.step()
    assert opt.param_groups[0]["k"] == 1


@pytest.mark.parametrize(
    "cls, hp, message",
    [
        (ScheduleFreeSGD, dict(momentum=0.0), "Invalid momentum value: 0.0"),
        (ScheduleFreeSGD, dict(momentum=1.0), "Invalid momentum value: 1.0"),
        (ScheduleFreeSGD, dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (ScheduleFreeSGD, dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
        (ScheduleFreeSGD, dict(warmup_steps=-1), "Invalid warmup_steps value: -1"),
        (ScheduleFreeSGD, dict(warmup_steps=2.5), "Invalid warmup_steps value: 2.5"),
        (ScheduleFreeSGD, dict(weight_lr_power=-1.0), "Invalid weight_lr_power value: -1.0"),
        (ScheduleFreeSGD, dict(r=float("nan")), "Invalid r value: nan"),
        (ScheduleFreeAdamW, dict(betas=(0.0, 0.9)), "Invalid beta parameter at index 0: 0.0"),
        (ScheduleFreeAdamW, dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
        (ScheduleFreeAdamW, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ],
)
def test_invalid_hyperparameters_raise_naming_the_value(cls, hp, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        cls([Tensor(np.ones(2), requires_grad=True)], **hp)


def test_registered_and_memory_measured():
    for name, cls, arrays in (
        ("schedulefree_sgd", ScheduleFreeSGD, ["z"]),
        ("schedulefree_adamw", ScheduleFreeAdamW, ["exp_avg_sq", "z"]),
    ):
        assert isinstance(optim.create(name, [Tensor(np.ones(2), requires_grad=True)]), cls)
        row = measure(name)
        assert row.state_arrays == arrays
        assert row.per_parameter == len(arrays)


def test_playground_runs_them():
    from tinygrad_opt.playground.runner import run

    result = run("rosenbrock", ["schedulefree_sgd", "schedulefree_adamw"], steps=200)
    for traj in result.trajectories.values():
        assert np.isfinite(traj.points).all() and traj.losses[-1] < traj.losses[0]


# --------------------------------------------------------------------------- fit
def _moons(seed=0):
    X, y = make_moons(300, noise=0.15, rng=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, rng=0)
    model = nn.MLP([2, 16, 2], rng=seed, dtype=np.float64)
    opt = ScheduleFreeAdamW(model.parameters(), lr=0.02, warmup_steps=10)
    loader = DataLoader((Xtr, ytr), batch_size=32, shuffle=True, rng=seed)
    return model, opt, loader, (Xte, yte)


def test_fit_evaluates_schedule_free_at_the_average_and_ends_in_eval_mode():
    model, opt, loader, val = _moons()
    modes = []

    class Spy:
        def on_step_end(self, step, model, loss):
            modes.append(opt.training)

    h = fit(
        model, opt, loader, nn.cross_entropy, 4, val_data=val, progress=False, callbacks=[Spy()]
    )
    assert all(modes) and len(modes) == 4 * len(loader)  # stepped in train mode
    assert not opt.training  # the model holds x, the point to use
    assert evaluate(model, *val, nn.cross_entropy)["loss"] == pytest.approx(h.val_loss[-1])
    # evaluate() with the optimizer, in train mode: at x, then back to y
    opt.train()
    y = [p.data.copy() for p in model.parameters()]
    at_y = evaluate(model, *val, nn.cross_entropy)["loss"]
    at_x = evaluate(model, *val, nn.cross_entropy, optimizer=opt)["loss"]
    assert opt.training
    assert at_x == pytest.approx(h.val_loss[-1], rel=1e-12)
    assert at_x != pytest.approx(at_y, rel=1e-9)
    for p, a in zip(model.parameters(), y):
        np.testing.assert_allclose(p.data, a, rtol=1e-12, atol=1e-12)
    # in eval mode evaluate() leaves it there
    opt.eval()
    evaluate(model, *val, nn.cross_entropy, optimizer=opt)
    assert not opt.training


def test_fit_resumes_a_schedule_free_run_bit_identically(tmp_path):
    model_a, opt_a, loader_a, val = _moons()
    fit(model_a, opt_a, loader_a, nn.cross_entropy, 4, val_data=val, progress=False)
    ckpt = tmp_path / "sf.ckpt"
    model_b, opt_b, loader_b, _ = _moons()
    fit(
        model_b, opt_b, loader_b, nn.cross_entropy, 2, val_data=val, checkpoint=ckpt, progress=False
    )
    model_c, opt_c, loader_c, _ = _moons(seed=5)
    fit(
        model_c, opt_c, loader_c, nn.cross_entropy, 4, val_data=val, checkpoint=ckpt,
        resume=True, progress=False,
    )  # fmt: skip
    for p, q in zip(model_a.parameters(), model_c.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt_a.state_dict()["param_groups"] == opt_c.state_dict()["param_groups"]
