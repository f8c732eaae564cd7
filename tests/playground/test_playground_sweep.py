"""run_settings: many playground runs at once, the same paths as playground.run."""

import numpy as np
import pytest

from tinygrad_opt import optim, playground
from tinygrad_opt.playground.sweep import run_settings

SETTINGS = [
    ("sgd", {"lr": 0.01}),
    ("momentum", {"lr": 0.003, "momentum": 0.95}),
    ("nesterov", {"lr": 0.002, "momentum": 0.5}),
    ("adagrad", {"lr": 0.3}),
    ("rmsprop", {"lr": 0.02, "alpha": 0.9}),
    ("adam", {"lr": 0.05, "betas": (0.0, 0.99)}),
    ("adam", {"lr": 0.1, "betas": (0.95, 0.9999)}),
    ("lion", {"lr": 0.01}),
    ("lookahead", {"lr": 0.01}),  # a wrapper over SGD
    ("sam", {"lr": 0.01}),  # needs a closure: run one by one
    ("adam", {}),  # no lr: the suggested one, as run()
]


@pytest.mark.parametrize("name", sorted(playground.FUNCTIONS))
def test_batched_runs_equal_run_bit_for_bit(name):
    with np.errstate(all="ignore"):  # some settings diverge on some functions, in both
        got = run_settings(name, SETTINGS, steps=60)
    assert len(got) == len(SETTINGS)
    for (opt, hp), t in zip(SETTINGS, got):
        with np.errstate(all="ignore"):
            ref = playground.run(name, {"x": (opt, dict(hp))}, 60).trajectories["x"]
        np.testing.assert_array_equal(t.points, ref.points)
        np.testing.assert_array_equal(t.losses, ref.losses)
        assert t.hyperparameters == ref.hyperparameters
        assert t.optimizer == opt


def test_a_diverging_setting_ends_in_nan_and_leaves_the_others_alone():
    settings = [("sgd", {"lr": 1.0}), ("sgd", {"lr": 0.05})]
    with np.errstate(all="ignore"):
        got = run_settings("quadratic", settings, steps=400)
        refs = [playground.run("quadratic", {"x": s}, 400).trajectories["x"] for s in settings]
    for t, ref in zip(got, refs):
        np.testing.assert_array_equal(t.points, ref.points)
        np.testing.assert_array_equal(t.losses, ref.losses)
    assert np.isnan(got[0].losses[-1]) and np.isfinite(got[1].losses[-1])


def test_progress_counts_the_steps_taken():
    seen = []
    run_settings(
        "saddle", [("sgd", {"lr": 0.05}), ("adam", {"lr": 0.02})], 25, progress=seen.append
    )
    assert sum(seen) == 2 * 25


def test_bad_settings_fail_before_any_run():
    with pytest.raises(ValueError, match="Invalid learning rate"):
        run_settings("quadratic", [("sgd", {"lr": 0.1}), ("adam", {"lr": -1.0})], 10)
    with pytest.raises(ValueError, match="Unknown optimizer 'nope'"):
        run_settings("quadratic", [("nope", {})], 10)
    with pytest.raises(ValueError, match="steps must be >= 0"):
        run_settings("quadratic", [("sgd", {})], -1)


@pytest.mark.parametrize(
    "name",
    [n for n in optim.available() if not getattr(optim.lookup(n)[0], "matrix_only", False)],
)
def test_every_optimizer_batched_equals_run(name):
    with np.errstate(all="ignore"):
        (got,) = run_settings("beale", [(name, {})], steps=15)
        ref = playground.run("beale", [name], 15).trajectories[name]
    np.testing.assert_array_equal(got.points, ref.points)
    np.testing.assert_array_equal(got.losses, ref.losses)
