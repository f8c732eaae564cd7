"""examples/newton_vs_gd.py --quick: Newton (Hessian from autograd) converges in a few
steps, quadratically; gradient descent and Adam need orders of magnitude more."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the logistic regression uses load_digits")

PATH = pathlib.Path(__file__).parents[2] / "examples" / "newton_vs_gd.py"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("example_newton_vs_gd", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("newton_vs_gd")
    r = example.main(["--quick", "--quiet", "--out", str(out)])
    assert pathlib.Path(r["figure"]).read_bytes()[:8] == PNG
    return r


@pytest.mark.parametrize("key", ["rosenbrock", "logistic"])
def test_the_autograd_hessian_is_the_closed_form(result, key):
    assert result[key]["hessian_rel_error"] < 1e-12


def test_newton_needs_few_steps_gd_and_adam_many(result):
    ros, log = result["rosenbrock"]["summary"], result["logistic"]["summary"]
    assert ros["newton"]["steps"] <= 25 and log["newton"]["steps"] <= 8
    assert ros["gd"]["steps"] > 100 * ros["newton"]["steps"]
    assert log["gd"]["steps"] > 10 * log["newton"]["steps"]
    for s in (ros, log):
        assert s["adam"]["steps"] > 10 * s["newton"]["steps"]
    # on Rosenbrock (κ ≈ 2500 at the minimum) Newton also wins on wall time
    assert ros["newton"]["seconds"] < ros["gd"]["seconds"]
    assert result["rosenbrock"]["condition_number"] > 1000


@pytest.mark.parametrize("key", ["rosenbrock", "logistic"])
def test_newton_converges_quadratically(result, key):
    r = result[key]
    e = np.asarray(r["newton_error"])
    # the last steps are pure Newton: full step, no Hessian shift
    assert r["newton_t"][-3:] == [1.0, 1.0, 1.0]
    assert r["newton_shift"][-3:] == [0.0, 0.0, 0.0]
    # e_{k+1} ≤ C·e_k² with C bounded, while e falls by many decades (a linear rate would
    # make e_{k+1}/e_k² grow like 1/e_k)
    consts = r["newton_constant"]
    assert len(consts) >= 3 and max(consts) < 100
    inside = e[(e > 1e-13) & (e < 0.1)]
    assert inside.max() / inside.min() > 1e6
    # and ends at the minimum to rounding
    assert r["newton_gnorm"][-1] < 1e-12


def test_logistic_newton_order_is_two(result):
    order = result["logistic"]["newton_order"]
    assert len(order) >= 2
    assert all(1.8 < q < 2.2 for q in order)


def test_gd_rate_is_set_by_the_curvature_at_the_minimum(result):
    ros, log = result["rosenbrock"]["gd"], result["logistic"]["gd"]
    assert ros["rate_measured"] == pytest.approx(ros["rate_predicted"], rel=1e-3)
    # the slowest modes (weights of rarely inked pixels) start almost at their optimum,
    # so the observed rate can only be faster than the bound
    assert log["rate_measured"] <= log["rate_predicted"] + 1e-3


def test_gd_above_two_over_lambda_max_fails(example, result):
    r = result["rosenbrock"]
    problem = r["problem"]
    lr = 1.05 * r["gd"]["stability_limit"]
    run = example.first_order(problem, "gd", lr, 3000, r["f_star"], r["tol"], 50)
    assert run.steps_to(r["f_star"], r["tol"]) is None
