"""The declared search spaces: one per registered optimizer, accepted by it, sampled
deterministically from the benchmark's one seed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_opt import optim
from tinygrad_opt.benchmark import SEARCH_SPACES, Settings, plan_trials, sample, space_for
from tinygrad_opt.benchmark.spaces import LogUniform, OneMinusLogUniform, Uniform
from tinygrad_opt.benchmark.study import hyperparameter_rng, training_seed
from tinygrad_opt.tensor import Tensor


def test_every_registered_optimizer_has_a_space_and_no_space_is_stale():
    assert set(SEARCH_SPACES) == set(optim.available())


@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_each_space_draw_builds_the_optimizer_and_steps(name):
    cls, _ = optim.lookup(name)
    rng = np.random.default_rng(0)
    shape = (3, 2) if getattr(cls, "matrix_only", False) else (4,)
    w = Tensor(np.linspace(-1, 1, int(np.prod(shape)), dtype=np.float32).reshape(shape))
    w.requires_grad = True
    hp = sample(space_for(name), rng)
    opt = optim.create(name, [w], **hp)
    before = w.numpy().copy()

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    for _ in range(3):  # ADOPT's first step only initializes its second moment
        if getattr(opt, "needs_closure", False):
            opt.step(closure)
        else:
            closure()
            opt.step()
    assert np.all(np.isfinite(w.numpy()))
    assert not np.array_equal(w.numpy(), before), f"{name} with {hp} did not move"


def test_a_method_without_a_space_is_refused_by_name():
    with pytest.raises(ValueError, match="'my_opt' has no declared search space"):
        space_for("my_opt")
    assert space_for("Rmsprop-Centered") is SEARCH_SPACES["rmsprop_centered"]


def test_draws_stay_in_their_ranges_and_are_log_uniform():
    rng = np.random.default_rng(1)
    lr = np.array([LogUniform(1e-5, 1e-1).sample(rng) for _ in range(4000)])
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1
    # log-uniform: each decade holds about a quarter of the draws
    counts = np.histogram(np.log10(lr), bins=[-5, -4, -3, -2, -1])[0] / len(lr)
    np.testing.assert_allclose(counts, 0.25, atol=0.03)
    beta = np.array([OneMinusLogUniform(1e-3, 1e-1).sample(rng) for _ in range(2000)])
    assert beta.min() >= 0.9 - 1e-12 and beta.max() <= 0.999 + 1e-12
    assert abs(np.median(1 - beta) - 1e-2) < 3e-3  # geometric middle of the gap
    u = np.array([Uniform(0.3, 0.8).sample(rng) for _ in range(2000)])
    assert 0.3 <= u.min() and u.max() <= 0.8 and abs(u.mean() - 0.55) < 0.02
    with pytest.raises(ValueError, match="low <= high"):
        LogUniform(1.0, 0.1)


def test_sampling_is_determined_by_seed_workload_method_study_and_trial():
    a = sample(space_for("adam"), hyperparameter_rng(0, "mlp", "adam", 0, 3))
    assert a == sample(space_for("adam"), hyperparameter_rng(0, "mlp", "adam", 0, 3))
    others = [
        hyperparameter_rng(1, "mlp", "adam", 0, 3),
        hyperparameter_rng(0, "cnn", "adam", 0, 3),
        hyperparameter_rng(0, "mlp", "adamw", 0, 3),
        hyperparameter_rng(0, "mlp", "adam", 1, 3),
        hyperparameter_rng(0, "mlp", "adam", 0, 4),
    ]
    for rng in others:
        assert sample(space_for("adam"), rng) != a
    assert set(a) == {"lr", "betas"} and len(a["betas"]) == 2
    assert all(isinstance(v, float) for v in [a["lr"], *a["betas"]])


def test_training_seed_is_shared_by_methods_and_differs_by_trial():
    s = Settings(optimizers=("sgd", "adam", "lion"), workloads=("w1", "w2"), budget=3, seed=7)
    plan = plan_trials(s)
    assert len(plan) == 2 * 3 * 3
    by_key = {p.key: p for p in plan}
    for w in ("w1", "w2"):
        for t in range(3):
            seeds = {by_key[(w, m, 0, t)].seed for m in ("sgd", "adam", "lion")}
            assert seeds == {training_seed(7, w, 0, t)}
    assert len({p.seed for p in plan}) == 6  # 2 workloads x 3 trials
    # a method's draws do not depend on which other methods or workloads are benchmarked
    alone = plan_trials(Settings(optimizers=("adam",), workloads=("w2",), budget=3, seed=7))
    assert [p.hyperparameters for p in alone] == [
        by_key[("w2", "adam", 0, t)].hyperparameters for t in range(3)
    ]
    again = plan_trials(s)
    assert [(p.key, p.hyperparameters, p.seed) for p in again] == [
        (p.key, p.hyperparameters, p.seed) for p in plan
    ]
    assert plan_trials(Settings(("adam",), ("w2",), budget=3, seed=8))[0].hyperparameters != (
        alone[0].hyperparameters
    )


def test_lr_grid_plan_uses_each_lr_once_with_defaults_otherwise():
    grid = (1e-3, 1e-2, 1e-1)
    plan = plan_trials(Settings(("sgd", "adam"), ("w",), budget=3, lr_grid=grid))
    assert [p.hyperparameters for p in plan] == [{"lr": x} for x in grid] * 2
    with pytest.raises(ValueError, match="budget is its length"):
        Settings(("sgd",), ("w",), budget=4, lr_grid=grid)
    assert math.isclose(plan[0].hyperparameters["lr"], 1e-3)
