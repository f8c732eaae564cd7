"""The workload protocol (get_workload, Workload, Trial) and the run loop, on logreg."""

import dataclasses
import math

import numpy as np
import pytest

from tinygrad_opt import optim
from tinygrad_opt.workloads import (
    RunResult,
    Workload,
    available_workloads,
    get_workload,
    run,
)


def test_available_names_include_logreg_and_unknown_name_lists_them():
    names = available_workloads()
    assert "logreg" in names
    with pytest.raises(ValueError, match=r"unknown workload 'resnet'.*logreg"):
        get_workload("resnet")


def test_overrides_apply_and_bad_ones_name_the_value():
    wl = get_workload("logreg", max_steps=7, target=0.5, n_features=5)
    assert (wl.max_steps, wl.target, wl.options["n_features"]) == (7, 0.5, 5)
    assert get_workload("logreg").options["n_features"] == 20  # registry copy untouched
    with pytest.raises(ValueError, match=r"no setting 'depth'.*max_steps.*n_features"):
        get_workload("logreg", depth=3)
    with pytest.raises(ValueError, match=r"max_steps must be an integer >= 1, got 0"):
        get_workload("logreg", max_steps=0)
    with pytest.raises(ValueError, match=r"n_features must be int, got 2.5"):
        get_workload("logreg", n_features=2.5)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
        get_workload("logreg").setup(seed=-1)
    for bad in (float("nan"), float("inf"), "0.3", None):
        with pytest.raises(ValueError, match=rf"target must be a finite number, got {bad!r}"):
            get_workload("logreg", target=bad)
    assert get_workload("logreg", target=1).target == 1.0
    get_workload("logreg").default_hyperparameters["lr"] = 123.0  # a copy
    assert get_workload("logreg").default_hyperparameters["lr"] != 123.0


def test_workload_is_frozen_and_metric_direction():
    wl = get_workload("logreg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        wl.target = 1.0
    assert (wl.metric, wl.goal) == ("val_loss", "min")
    assert wl.reached(wl.target) and wl.reached(wl.target - 0.1)
    assert not wl.reached(wl.target + 0.1) and not wl.reached(float("nan"))
    acc = dataclasses.replace(wl, metric="val_accuracy", goal="max", target=0.9)
    assert acc.reached(0.95) and acc.reached(0.9) and not acc.reached(0.85)
    assert acc.better(0.95, 0.9) and wl.better(0.3, 0.4)
    with pytest.raises(ValueError, match=r"metric must be one of .*got 'loss'"):
        dataclasses.replace(wl, metric="loss")
    with pytest.raises(ValueError, match=r"goal must be 'min' or 'max', got 'up'"):
        dataclasses.replace(wl, goal="up")


def _losses(trial, n, opt_name="sgd", lr=0.01):
    opt = optim.create(opt_name, trial.parameters(), lr=lr)
    out = []
    for _ in range(n):
        opt.zero_grad()
        out.append(trial.train_step())
        opt.step()
    return out


def test_same_seed_same_losses_other_seed_differs():
    wl = get_workload("logreg")
    a = _losses(wl.setup(3), 20)
    b = _losses(wl.setup(3), 20)
    c = _losses(wl.setup(4), 20)
    assert a == b
    assert a != c
    assert wl.setup(3).evaluate() == wl.setup(3).evaluate() != wl.setup(4).evaluate()


def test_train_step_accumulates_and_closure_reevaluates_the_current_batch():
    trial = get_workload("logreg").setup(0)
    w = trial.parameters()[0]
    loss = trial.train_step()
    g = w.grad.copy()
    closure = trial.closure()
    again = closure()  # same batch, same parameters: same loss and gradient (not doubled)
    assert float(again) == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(w.grad, g, rtol=1e-6)
    assert again.requires_grad  # the loss carries its graph (Sophia-H differentiates it)
    trial.train_step()  # no zero_grad: gradients add up
    assert not np.allclose(w.grad, g)
    closure()  # zeroes first, so the current (second) batch's gradient only
    second = w.grad.copy()
    closure()
    np.testing.assert_allclose(w.grad, second, rtol=1e-6)
    assert trial.steps == 2  # closures never advance the stream
    names = [n for n, _ in trial.named_parameters()]
    assert names == ["weight", "bias"]


def test_closure_before_any_batch_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no minibatch yet"):
        get_workload("logreg").setup(0).closure()()


def test_run_reaches_target_and_records_history():
    wl = get_workload("logreg")
    r = run(wl, wl.default_optimizer, wl.default_hyperparameters)
    assert isinstance(r, RunResult) and r.reached and not r.diverged
    assert r.steps_to_target == r.steps <= wl.max_steps
    assert r.steps_to_target % wl.eval_every == 0
    assert r.history[0][:2] == (0, 0.0) and r.history[-1][0] == r.steps_to_target
    assert wl.reached(r.final_metric) and not wl.reached(r.history[-2][2])
    assert r.seconds_to_target == r.history[-1][1] > 0
    seconds = [h[1] for h in r.history]
    assert seconds == sorted(seconds)
    assert len(r.losses) == r.steps and all(math.isfinite(x) for x in r.losses)
    d = r.to_dict()
    assert d["steps_to_target"] == r.steps_to_target
    assert d["history"][0] == [0, 0.0, r.history[0][2]]


def test_run_is_deterministic_and_can_continue_past_the_target():
    wl = get_workload("logreg")
    a = run(wl, "adam", {"lr": 0.02}, seed=1, max_steps=100, stop_at_target=False)
    b = run(wl, "adam", {"lr": 0.02}, seed=1, max_steps=100, stop_at_target=False)
    assert a.losses == b.losses and [h[2] for h in a.history] == [h[2] for h in b.history]
    assert a.steps == 100 and a.history[-1][0] == 100
    assert a.reached and a.steps_to_target < 100


def test_run_without_reaching_and_a_diverging_run():
    wl = get_workload("logreg")
    slow = run(wl, "sgd", {"lr": 1e-4}, max_steps=25)
    assert not slow.reached and slow.seconds_to_target is None and slow.steps == 25
    assert [h[0] for h in slow.history] == [0, 10, 20, 25]  # the last step is evaluated
    bad = run(wl, "sgd", {"lr": 1e38}, max_steps=50)
    assert bad.diverged and not bad.reached and math.isnan(bad.final_metric)
    assert bad.steps < 50


@pytest.mark.parametrize(
    "name, hp",
    [
        ("lbfgs", {"lr": 0.05, "max_iter": 2}),  # needs_closure: step(closure)
        ("sam", {"base": "adam", "lr": 0.02}),
        ("sophiah", {"lr": 0.01}),  # takes Hessian-vector products through the closure
        ("schedulefree_adamw", {"lr": 0.02}),  # evaluated at its average (eval mode)
        ("textbook_nesterov", {"lr": 0.01}),  # evaluated at θ, not the look-ahead point
    ],
)
def test_run_handles_closure_and_mode_switching_optimizers(name, hp):
    r = run(get_workload("logreg"), name, hp, max_steps=30, stop_at_target=False)
    assert r.steps == 30 and not r.diverged
    assert r.history[-1][2] < r.history[0][2]


def test_run_with_an_optimizer_factory_and_bad_arguments():
    wl = get_workload("logreg")

    def adam_weights_sgd_bias(trial):
        named = dict(trial.named_parameters())
        return optim.Adam([named["weight"], named["bias"]], lr=0.02)

    r = run(wl, adam_weights_sgd_bias, {"note": "recorded only"})
    assert r.reached and r.optimizer == "adam_weights_sgd_bias"
    assert r.hyperparameters == {"note": "recorded only"}
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        run(wl, "adamm", {})
    with pytest.raises(ValueError, match="max_steps must be an integer >= 0, got -3"):
        run(wl, "adam", {}, max_steps=-3)
    with pytest.raises(TypeError, match="optimizer must be a name or a factory"):
        run(wl, 3, {})


def test_register_workload_makes_a_custom_one_available():
    from tinygrad_opt.workloads.base import _REGISTRY

    base = get_workload("logreg")
    custom = dataclasses.replace(base, name="logreg_small_test", options={**base.options})
    try:
        from tinygrad_opt.workloads import register_workload

        register_workload(custom)
        assert "logreg_small_test" in available_workloads()
        assert isinstance(get_workload("logreg_small_test", n_train=500), Workload)
    finally:
        _REGISTRY.pop("logreg_small_test", None)


@pytest.mark.parametrize("interval, calls", [(10, 3), (4, 7), (50, 0)])
def test_run_feeds_sophia_g_every_interval_steps(interval, calls):
    made = []

    def sophia_g(trial):
        opt = optim.create("sophiag", trial.parameters(), lr=0.003, rho=0.05, bs=64)
        folded = opt.update_hessian
        opt.fed = []
        opt.update_hessian = lambda grads: (opt.fed.append(grads), folded(grads))
        made.append(opt)
        return opt

    wl = get_workload("logreg")
    run(wl, sophia_g, max_steps=30, stop_at_target=False, hessian_interval=interval)
    opt = made[0]
    assert len(opt.fed) == calls
    h = [opt.state[p]["hessian"] for p in opt.param_groups[0]["params"]]
    assert all(np.any(x != 0) for x in h) == (calls > 0)
    if calls:
        # ĝ: one array per parameter, the gradient for labels sampled from the model
        assert [g.shape for g in opt.fed[0]] == [(1, 20), (1,)]


def test_class_logits_are_the_models_distribution():
    trial = get_workload("logreg").setup(0)
    trial.next_batch()
    two = trial.class_logits()
    assert two.shape == (64, 2) and np.all(two.data[:, 0] == 0)
    with pytest.raises(ValueError, match="hessian_interval must be an integer >= 1, got 0"):
        run(get_workload("logreg"), "adam", {}, hessian_interval=0)


def test_run_evaluates_schedule_free_at_its_average_and_leaves_train_mode():
    from tinygrad_opt.train import evaluation_point

    made = []

    def schedule_free(trial):
        opt = optim.create("schedulefree_adamw", trial.parameters(), lr=0.02)
        made.append((trial, opt))
        return opt

    r = run(get_workload("logreg"), schedule_free, max_steps=20, stop_at_target=False)
    trial, opt = made[0]
    assert opt.training  # switched to eval mode only while evaluating
    at_y = trial.evaluate()  # the tensors hold the gradient point y while training
    with evaluation_point(opt):
        at_x = trial.evaluate()  # the average x: what run measured
    assert r.final_metric == at_x != at_y


def test_workload_to_dict_is_json_ready_and_progress_bar_runs(capsys):
    import json

    d = get_workload("logreg", n_train=500).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["name"] == "logreg" and d["options"]["n_train"] == 500 and "builder" not in d
    r = run(get_workload("logreg"), "adam", {"lr": 0.02}, max_steps=15, progress=True)
    assert r.steps == 15
    assert "logreg/adam" in capsys.readouterr().err


def test_sophia_g_by_name_gets_bs_from_the_labels_per_batch():
    wl = get_workload("logreg")
    r = run(wl, "sophiag", {"lr": 0.003, "rho": 0.05}, max_steps=10)
    assert r.hyperparameters["bs"] == wl.batch_size == wl.setup(0).labels_per_batch
    assert run(wl, "sophiag", {"bs": 7}, max_steps=1).hyperparameters["bs"] == 7
    assert "bs" not in run(wl, "adam", {}, max_steps=1).hyperparameters
    lm = get_workload("transformer", batch_size=4, context=16, d_model=16)
    assert lm.setup(0).labels_per_batch == 64


def test_run_with_a_muon_plus_adamw_pair_from_named_parameters():
    pytest.importorskip("sklearn")
    from tinygrad_opt.optim.muon import split_muon_params

    class Pair:  # what run needs of an optimizer object: zero_grad() and step()
        def __init__(self, *opts):
            self.opts = opts

        def zero_grad(self):
            for o in self.opts:
                o.zero_grad()

        def step(self):
            for o in self.opts:
                o.step()

    def muon_adamw(trial):
        hidden, other = split_muon_params(trial.named_parameters(), exclude=["4"])
        assert [n for n, _ in hidden] == ["0.weight", "2.weight"]  # not the output layer
        return Pair(optim.create("muon", hidden, lr=0.05), optim.create("adamw", other, lr=0.01))

    r = run(get_workload("mlp"), muon_adamw)
    assert r.reached and not r.diverged
