"""Chunked, threaded and flat steps of elementwise methods give the per-parameter results
exactly (the same bits), keep state_dict interchangeable, and fail clearly when misused."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import SGD, Adam, AdamW, Optimizer
from tinygrad_opt.optim.functional import scratch
from tinygrad_opt.optim.testing import compare_trajectories, gradient_sequence, run_torch

SHAPES = [(3, 4), (5,), (), (2, 3, 2), (1,), (17,)]

VARIANTS = {
    "sgd": (SGD, dict(lr=0.05)),
    "sgd_max_wd": (SGD, dict(lr=0.05, weight_decay=0.1, maximize=True)),
    "momentum": (SGD, dict(lr=0.05, momentum=0.9)),
    "dampening": (SGD, dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    "nesterov": (SGD, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    "nesterov_max": (SGD, dict(lr=1.0, momentum=0.5, nesterov=True, maximize=True)),
    "adam": (Adam, dict(lr=0.01)),
    "adam_wd": (Adam, dict(lr=0.01, weight_decay=0.1, betas=(0.5, 0.9), eps=1e-3)),
    "amsgrad_max": (Adam, dict(lr=0.01, amsgrad=True, maximize=True)),
    "adamw": (AdamW, dict(lr=0.01)),
    "adamw_amsgrad": (AdamW, dict(lr=0.01, amsgrad=True, weight_decay=0.3)),
}

MODES = {
    "flat": dict(flat=True),
    "flat_chunk7": dict(flat=True, chunk_size=7),
    "flat_chunk7_1thread": dict(flat=True, chunk_size=7, threads=1),
    "flat_chunk1": dict(flat=True, chunk_size=1, threads=3),
    "flat_one_piece": dict(flat=True, chunk_size=0),
    "chunk7": dict(chunk_size=7),
}


def make_params(shapes=SHAPES, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s), requires_grad=True, dtype=dtype) for s in shapes]


def two_groups(params, hp):
    """Two groups with different hyperparameters."""
    second = {"params": params[3:], "lr": hp["lr"] / 2}
    if "momentum" in hp:
        second["momentum"] = 0.5
    return [{"params": params[:3]}, second]


def run(make, steps=60, dtype=np.float64, seed=3, views=False, shapes=SHAPES):
    """Parameters and state after every step, feeding a fixed gradient sequence."""
    params = make_params(shapes, dtype=dtype)
    opt = make(params)
    out = []
    for grads in gradient_sequence(shapes, steps, seed=seed, dtype=dtype):
        if views:
            opt.zero_grad(set_to_none=False)
            for p, g in zip(params, grads):
                p.grad[...] = g
        else:
            for p, g in zip(params, grads):
                p.grad = g
        opt.step()
        out.append(snapshot(opt, params))
    return out


def snapshot(opt, params):
    data = [p.data.copy() for p in params]
    state = opt.state_dict()["state"]
    return data, state


def assert_same(a, b):
    """Bit-identical trajectories: parameters and every state entry at every step."""
    assert len(a) == len(b)
    for t, ((da, sa), (db, sb)) in enumerate(zip(a, b), start=1):
        for i, (x, y) in enumerate(zip(da, db)):
            assert x.shape == y.shape and x.dtype == y.dtype
            assert np.array_equal(x, y, equal_nan=True), f"step {t}, parameter {i}"
        assert sa.keys() == sb.keys(), f"step {t}: state of different parameters"
        for i in sa:
            assert sa[i].keys() == sb[i].keys(), f"step {t}, parameter {i}: state keys"
            for k in sa[i]:
                x, y = sa[i][k], sb[i][k]
                if isinstance(x, np.ndarray):
                    assert np.array_equal(x, y, equal_nan=True), f"step {t}, param {i}, {k}"
                else:
                    assert x == y, f"step {t}, parameter {i}, {k}: {x} != {y}"


# ----------------------------------------------------------------------------- equality
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_flat_and_chunked_steps_equal_the_per_parameter_steps(variant, mode):
    cls, hp = VARIANTS[variant]
    options = MODES[mode]
    reference = run(lambda ps: cls(two_groups(ps, hp), **hp, chunk_size=0, threads=1))
    ours = run(lambda ps: cls(two_groups(ps, hp), **hp, **options))
    assert_same(ours, reference)


@pytest.mark.parametrize("variant", ["momentum", "nesterov", "adam_wd", "adamw_amsgrad"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_as_views_of_the_flat_buffer_give_the_same_steps(variant, dtype):
    cls, hp = VARIANTS[variant]
    reference = run(lambda ps: cls(ps, **hp), dtype=dtype)
    views = run(lambda ps: cls(ps, **hp, flat=True, chunk_size=5), dtype=dtype, views=True)
    assert_same(views, reference)


@pytest.mark.parametrize("variant", ["momentum", "adam", "amsgrad_max"])
def test_a_large_parameter_is_chunked_over_threads_without_flat(variant):
    cls, hp = VARIANTS[variant]
    shapes = [(200, 100), (7,)]  # 160 KB of float64: stepped as a task, in 20 chunks
    reference = run(lambda ps: cls(ps, **hp, chunk_size=0, threads=1), 15, shapes=shapes)
    chunked = run(lambda ps: cls(ps, **hp, chunk_size=1000, threads=2), 15, shapes=shapes)
    assert_same(chunked, reference)


@pytest.mark.parametrize("variant", ["sgd", "momentum", "dampening", "nesterov_max", "adam",
                                     "adam_wd", "amsgrad_max", "adamw_amsgrad"])  # fmt: skip
def test_flat_chunked_steps_agree_with_torch(variant):
    torch = pytest.importorskip("torch")
    cls, hp = VARIANTS[variant]
    torch_cls = {SGD: torch.optim.SGD, Adam: torch.optim.Adam, AdamW: torch.optim.AdamW}[cls]
    shapes = [(3, 4), (5,), (2, 3, 2)]
    grads = gradient_sequence(shapes, 200, seed=4)
    params0 = [p.data.copy() for p in make_params(shapes)]
    ref = run_torch(lambda ps: torch_cls(ps, **hp), params0, grads)
    params = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = cls(params, **hp, flat=True, chunk_size=7)
    ours = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = g
        opt.step()
        ours.append([p.data.copy() for p in params])
    assert compare_trajectories(ours, ref, rtol=1e-10).max_rel_error < 1e-10


def test_momentum_switched_on_later_matches_in_every_mode():
    """torch starts the buffer (b ← g) the first step momentum is nonzero; a chunked step
    that creates the buffer then joins the chunks' new arrays into one."""

    def schedule(make):
        def build(ps):
            opt = make(ps)
            original = opt.step

            def step(closure=None):
                t = getattr(opt, "_t", 0) + 1
                opt._t = t
                for g in opt.param_groups:
                    g["momentum"] = 0.0 if t <= 3 else 0.9
                return original(closure)

            opt.step = step
            return opt

        return build

    shapes = [(200, 100), (3,)]
    ref = run(schedule(lambda ps: SGD(ps, lr=0.1, momentum=0.0, chunk_size=0)), 8, shapes=shapes)
    for options in (dict(chunk_size=999), dict(flat=True, chunk_size=7)):
        ours = run(schedule(lambda ps, o=options: SGD(ps, lr=0.1, **o)), 8, shapes=shapes)
        assert_same(ours, ref)
    # the first momentum step used b = g, as torch does
    grads = gradient_sequence(shapes, 8, seed=3)
    p = make_params(shapes)[1].data.copy()
    b = None
    for t, g in enumerate(grads, start=1):
        if t <= 3:
            p -= 0.1 * g[1]
        else:
            b = g[1].copy() if t == 4 else 0.9 * b + g[1]
            p -= 0.1 * b
    np.testing.assert_allclose(ref[-1][0][1], p, rtol=1e-12)


# ----------------------------------------------------------------------------- state_dict
@pytest.mark.parametrize("variant", ["momentum", "nesterov", "adam_wd", "adamw_amsgrad"])
@pytest.mark.parametrize("direction", ["flat_to_plain", "plain_to_flat"])
def test_state_dict_moves_between_flat_and_per_parameter_optimizers(variant, direction):
    cls, hp = VARIANTS[variant]
    saving = dict(flat=True, chunk_size=7) if direction == "flat_to_plain" else {}
    loading = {} if direction == "flat_to_plain" else dict(flat=True, chunk_size=7)
    grads = gradient_sequence(SHAPES, 40, seed=5)

    def feed(params, g):
        for p, x in zip(params, g):
            p.grad = x

    straight = make_params()
    opt = cls(two_groups(straight, hp), **hp)
    for g in grads:
        feed(straight, g)
        opt.step()

    first = make_params()
    opt1 = cls(two_groups(first, hp), **hp, **saving)
    for g in grads[:20]:
        feed(first, g)
        opt1.step()
    saved = opt1.state_dict()
    second = make_params()
    for p, q in zip(second, first):
        p.data[...] = q.data
    opt2 = cls(two_groups(second, hp), **hp, **loading)
    opt2.load_state_dict(saved)
    for g in grads[20:]:
        feed(second, g)
        opt2.step()
    for p, q in zip(second, straight):
        assert np.array_equal(p.data, q.data)
    assert_same([snapshot(opt2, second)], [snapshot(opt, straight)])


def test_flat_state_holds_views_and_state_bytes_are_unchanged():
    params = make_params(dtype=np.float32)
    opt = Adam(params, flat=True)
    plain_params = make_params(dtype=np.float32)
    plain = Adam(plain_params)
    for ps, o in ((params, opt), (plain_params, plain)):
        for p in ps:
            p.grad = np.ones(p.shape, np.float32)
        o.step()
    assert opt.state_bytes() == plain.state_bytes() == 2 * sum(p.data.nbytes for p in params)
    buffer = opt._flat_groups[0].state["exp_avg"]
    for p in params:
        assert np.shares_memory(opt.state[p]["exp_avg"], buffer)
        assert np.shares_memory(p.data, opt._flat_groups[0].data)
        assert opt.state[p]["step"] == 1


def test_load_state_dict_with_partial_state_steps_per_parameter_with_the_same_results():
    grads = gradient_sequence(SHAPES, 10, seed=6)
    source = make_params()
    opt = Adam(source, lr=0.01)
    for g in grads[:5]:
        for i, (p, x) in enumerate(zip(source, g)):
            p.grad = x if i != 2 else None  # parameter 2 never has a gradient: no state
        opt.step()
    saved = opt.state_dict()
    results = []
    for options in ({}, dict(flat=True, chunk_size=4)):
        ps = make_params()
        for p, q in zip(ps, source):
            p.data[...] = q.data
        o = Adam(ps, lr=0.01, **options)
        with pytest.warns(RuntimeWarning, match="not the same") if options else _nothing():
            o.load_state_dict(saved)
        for g in grads[5:]:
            for p, x in zip(ps, g):
                p.grad = x
            o.step()
        results.append([snapshot(o, ps)])
    assert_same(results[1], results[0])


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# ----------------------------------------------------------------------------- models
def mlp_run(options, steps=5, set_to_none=True):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3))
    y = rng.standard_normal((16, 2))
    model = nn.MLP([3, 8, 8, 2], rng=0, dtype=np.float64)
    opt = Adam(model.parameters(), lr=0.01, weight_decay=0.01, **options)
    losses = []
    for _ in range(steps):
        opt.zero_grad(set_to_none=set_to_none)
        loss = nn.mse_loss(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses


@pytest.mark.parametrize("set_to_none", [True, False])
def test_a_model_trains_identically_after_its_parameters_are_flattened(set_to_none):
    plain, _, plain_losses = mlp_run({})
    flat, opt, flat_losses = mlp_run(dict(flat=True, chunk_size=16), set_to_none=set_to_none)
    assert flat_losses == plain_losses
    assert flat_losses[-1] < flat_losses[0]
    buffer = opt._flat_groups[0]
    for p, q in zip(flat.parameters(), plain.parameters()):
        assert np.array_equal(p.data, q.data)
        assert np.shares_memory(p.data, buffer.data)
        if not set_to_none:  # backward accumulated straight into the flat gradient buffer
            assert np.shares_memory(p.grad, buffer.grad)


def test_module_load_state_dict_rebinding_data_is_adopted_by_the_flat_buffer():
    model, opt, _ = mlp_run(dict(flat=True), steps=2)
    other = nn.MLP([3, 8, 8, 2], rng=7, dtype=np.float64)
    model.load_state_dict(other.state_dict())  # rebinds every p.data to a new array
    rng = np.random.default_rng(1)
    loss = nn.mse_loss(model(Tensor(rng.standard_normal((4, 3)))), np.zeros((4, 2)))
    loss.backward()
    before = [p.data.copy() for p in model.parameters()]
    np.testing.assert_array_equal(before[0], other.parameters()[0].data)
    opt.step()
    buffer = opt._flat_groups[0].data
    for p, b in zip(model.parameters(), before):
        assert np.shares_memory(p.data, buffer)
        assert not np.array_equal(p.data, b)  # the step reached the model's parameters


def test_zero_grad_set_to_none_false_installs_zeroed_views():
    params = make_params()
    opt = SGD(params, lr=0.1, flat=True)
    for p in params:
        p.grad = np.ones(p.shape)
    opt.zero_grad(set_to_none=False)
    buffer = opt._flat_groups[0].grad
    assert not buffer.any()
    for p in params:
        assert np.shares_memory(p.grad, buffer) and p.grad.shape == p.shape
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_does_not_modify_gradient_views_even_when_maximizing():
    params = make_params()
    opt = Adam(params, lr=0.1, weight_decay=0.1, maximize=True, flat=True, chunk_size=3)
    opt.zero_grad(set_to_none=False)
    for p in params:
        p.grad[...] = 2.0
    opt.step()
    assert (opt._flat_groups[0].grad == 2.0).all()


def test_add_param_group_flattens_the_new_group():
    a, b = make_params(shapes=[(3,), (4,)])
    opt = SGD([a], lr=0.1, flat=True)
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert np.shares_memory(b.data, opt._flat_groups[1].data)
    b0 = b.data.copy()
    b.grad = np.ones(4)
    opt.step()  # a has no gradient: its group is skipped without a warning
    np.testing.assert_allclose(b0 - b.data, 0.5)


# ----------------------------------------------------------------------------- guards
def test_nonfinite_guard_in_flat_mode():
    results = []
    for options in ({}, dict(flat=True, chunk_size=5)):
        params = make_params()
        opt = Adam(params, lr=0.1, skip_nonfinite=True, **options)
        for t, grads in enumerate(gradient_sequence(SHAPES, 6, seed=2)):
            if t == 3:
                grads[1][2] = np.nan
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
        assert opt.skipped_steps == 1
        assert all(s["step"] == 5 for s in opt.state.values())
        results.append([snapshot(opt, params)])
    assert_same(results[1], results[0])


def test_mixed_dtypes_in_a_flat_group_are_rejected_but_fine_in_separate_groups():
    a = Tensor(np.zeros(3), requires_grad=True, dtype=np.float32)
    b = Tensor(np.zeros(3), requires_grad=True, dtype=np.float64)
    with pytest.raises(ValueError, match="one dtype per parameter group.*float32, float64"):
        Adam([a, b], flat=True)
    opt = Adam([{"params": [a]}, {"params": [b]}], flat=True)
    assert opt._flat_groups[0].data.dtype == np.float32
    assert opt._flat_groups[1].data.dtype == np.float64


def test_flat_needs_an_elementwise_method():
    class SignSGD(Optimizer):  # elementwise in fact, but it does not say so
        def __init__(self, params, lr=0.01, **options):
            super().__init__(params, dict(lr=lr), **options)

        def update(self, p, g, state, group):
            p -= group["lr"] * np.sign(g)

    with pytest.raises(ValueError, match="SignSGD does not declare an elementwise update"):
        SignSGD(make_params(), flat=True)

    class MyAdam(Adam):  # a new update() does not inherit Adam's promise
        def update(self, p, g, state, group):
            super().update(p, g / max(1.0, float(np.abs(g).max())), state, group)

    assert Adam.elementwise and AdamW.elementwise and SGD.elementwise
    assert not MyAdam.elementwise
    with pytest.raises(ValueError, match="MyAdam does not declare"):
        MyAdam(make_params(), flat=True)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(chunk_size=-1), "Invalid chunk_size: -1"),
        (dict(chunk_size=2.5), "Invalid chunk_size: 2.5"),
        (dict(threads=0), "Invalid threads: 0"),
    ],
)
def test_invalid_options_name_the_value(options, message):
    with pytest.raises(ValueError, match=message):
        SGD(make_params(), **options)


def test_broken_elementwise_promises_are_caught_when_chunked():
    class Rebinds(Optimizer):
        elementwise = True

        def __init__(self, params, **options):
            super().__init__(params, dict(lr=0.1), **options)

        def init_state(self, p, group):
            return {"m": np.zeros_like(p)}

        def update(self, p, g, state, group):
            state["m"] = state["m"] + g  # a new array: the flat buffer never sees it
            p -= group["lr"] * state["m"]

    class NormScalar(Rebinds):
        elementwise = True

        def update(self, p, g, state, group):
            state["norm"] = float(np.abs(g).sum())  # depends on which elements it sees

    for cls, message in ((Rebinds, "replaced or removed state array 'm'"),
                         (NormScalar, "different values of scalar state 'norm'")):  # fmt: skip
        params = make_params()
        opt = cls(params, flat=True, chunk_size=4)
        for p in params:
            p.grad = np.arange(1.0, p.size + 1).reshape(p.shape)
        with pytest.raises(RuntimeError, match=message):
            opt.step()


def test_scratch_arrays_are_reused_per_thread_and_distinct():
    x = np.zeros((4, 5), np.float32)
    a, b = scratch(x, 2)
    assert a.shape == b.shape == (4, 5) and a.dtype == np.float32
    assert not np.shares_memory(a, b)
    (c,) = scratch(np.zeros(7, np.float32))
    assert np.shares_memory(a, c)  # the same buffers, handed out again
    big = np.zeros(1 << 21, np.float32)
    (d,) = scratch(big)
    assert not np.shares_memory(d, a)  # past SCRATCH_LIMIT: fresh arrays, nothing kept


def test_default_threads_follow_omp_num_threads(monkeypatch):
    from tinygrad_opt.parallel import default_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpus = default_threads()
    assert 1 <= cpus <= 8
    for value, want in (("1", 1), ("3", min(cpus, 3)), ("1,2", 1), ("64", cpus)):
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert default_threads() == want, value
        assert Adam([Tensor(np.zeros(3))]).threads == want  # what an optimizer takes
    for ignored in ("", "0", "many", "-2"):  # not a positive count: the CPUs decide
        monkeypatch.setenv("OMP_NUM_THREADS", ignored)
        assert default_threads() == cpus, ignored
