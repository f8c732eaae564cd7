"""Every built-in workload: determinism for a seed, its metric's direction, and that its
documented default optimizer reaches its target within its step budget.

The language models' full targets take a minute or two each, so in the default run they
are checked on a shortened override (smaller model, shorter context, an easier target)
and by a falling loss; ``TINYGRAD_OPT_FULL_WORKLOADS=1 python -m pytest -m slow
tests/workloads`` runs the full default-target checks (docs/workloads.md has their
measured steps and seconds).
"""

import math
import os

import numpy as np
import pytest

from tinygrad_opt import optim
from tinygrad_opt.workloads import available_workloads, get_workload, run


def _needs_data(name):
    if name in ("mlp", "cnn"):
        pytest.importorskip("sklearn")  # the digits workloads need the "digits" extra


ALL = ["logreg", "mlp", "cnn", "transformer", "lstm"]
FULL = os.environ.get("TINYGRAD_OPT_FULL_WORKLOADS") == "1"
# small versions of the language models for the determinism and falling-loss checks
SMALL = {
    "transformer": {"d_model": 32, "context": 32, "batch_size": 8},
    "lstm": {"embedding_dim": 16, "hidden_size": 32, "context": 32, "batch_size": 8},
}


def test_the_five_workloads_smallest_first():
    assert available_workloads()[:5] == ALL


@pytest.mark.parametrize(
    "name, metric, goal",
    [
        ("logreg", "val_loss", "min"),
        ("mlp", "val_accuracy", "max"),
        ("cnn", "val_accuracy", "max"),
        ("transformer", "val_loss", "min"),
        ("lstm", "val_loss", "min"),
    ],
)
def test_metric_and_direction(name, metric, goal):
    wl = get_workload(name)
    assert (wl.metric, wl.goal) == (metric, goal)
    assert wl.max_steps % wl.eval_every == 0
    step = 0.01 if goal == "max" else -0.01
    assert wl.reached(wl.target + step) and not wl.reached(wl.target - step)


def _first_losses(wl, seed, n=3):
    trial = wl.setup(seed)
    opt = optim.create("adam", trial.parameters(), lr=1e-3)
    losses = []
    for _ in range(n):
        opt.zero_grad()
        losses.append(trial.train_step())
        opt.step()
    return losses, trial.evaluate()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_run_other_seed_differs(name):
    _needs_data(name)
    wl = get_workload(name, **SMALL.get(name, {}))
    a, b, c = _first_losses(wl, 5), _first_losses(wl, 5), _first_losses(wl, 6)
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


@pytest.mark.parametrize("name", ["logreg", "mlp", "cnn"])
def test_default_optimizer_reaches_the_target(name):
    _needs_data(name)
    wl = get_workload(name)
    r = run(wl, wl.default_optimizer, wl.default_hyperparameters)
    assert r.reached and r.steps_to_target <= wl.max_steps and not r.diverged
    assert wl.reached(r.final_metric)
    assert not wl.reached(r.history[0][2])  # the untrained model is not there already


@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_language_model_loss_falls(name):
    wl = get_workload(name, **SMALL[name], eval_every=20)
    r = run(wl, "adam", {"lr": 0.01}, max_steps=40, stop_at_target=False)
    start, end = r.history[0][2], r.history[-1][2]
    assert start > math.log(60)  # about a uniform guess over ~71 characters
    assert end < start - 1.0, r.history
    assert np.mean(r.losses[-10:]) < np.mean(r.losses[:10]) - 0.5


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("transformer", {**SMALL["transformer"], "target": 3.0, "max_steps": 100}),
        ("lstm", {**SMALL["lstm"], "target": 3.1, "max_steps": 100}),
    ],
)
def test_language_model_reaches_a_shortened_target(name, overrides):
    wl = get_workload(name, eval_every=10, **overrides)
    r = run(wl, "adam", {"lr": 0.01})
    assert r.reached and not wl.reached(r.history[0][2]), r.history


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="a minute or two each: TINYGRAD_OPT_FULL_WORKLOADS=1")
@pytest.mark.parametrize("name", ["transformer", "lstm"])
def test_language_model_default_reaches_the_full_target(name):
    wl = get_workload(name)
    r = run(wl, wl.default_optimizer, wl.default_hyperparameters)
    assert r.reached and r.steps_to_target <= wl.max_steps, r.history


def test_option_validation_for_the_language_models():
    with pytest.raises(ValueError, match=r"no setting 'hidden'.*d_model"):
        get_workload("transformer", hidden=3)
    too_long = r"\(3858 characters\) is shorter than one window of context 40000"
    with pytest.raises(ValueError, match=too_long):
        get_workload("lstm", context=40_000).setup(0)
    with pytest.raises(ValueError, match=r"no text named .odyssey.; available: fables"):
        get_workload("transformer", text="odyssey").setup(0)
