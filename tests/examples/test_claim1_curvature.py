"""examples/seed_claims/claim1_curvature.py --quick: the Hessian along the path equals the
closed form, and every axis moves as the heavy-ball theory predicts from the measured λ."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

DIR = pathlib.Path(__file__).parents[2] / "examples" / "seed_claims"
PNG = b"\x89PNG\r\n\x1a\n"


def load():
    sys.path.insert(0, str(DIR))
    try:
        spec = importlib.util.spec_from_file_location(
            "claim1_curvature", DIR / "claim1_curvature.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DIR))
    return module


@pytest.fixture(scope="module")
def example():
    return load()


@pytest.fixture(scope="module")
def result(example, tmp_path_factory):
    out = tmp_path_factory.mktemp("claim1_curvature")
    r = example.main(["--quick", "--quiet", "--out", str(out)])
    assert pathlib.Path(r["figure"]).read_bytes()[:8] == PNG
    return r


def test_hessian_along_the_path_is_the_closed_form(result):
    c = result["quadratic"]["checks"]
    assert c["points"] > 1000
    # the autograd Hessian is diag(10, 0.2) at every point: eigenvalues and eigenvectors
    np.testing.assert_allclose(c["hessian_at_start"], np.diag([10.0, 0.2]), atol=1e-12)
    assert c["max_eigenvalue_error"] < 1e-10
    assert c["hvp_vs_hessian_at_start"] < 1e-12
    assert min(c["min_alignment_theta1"], c["min_alignment_theta2"]) > 1 - 1e-12
    # along the long valley the θ2 curvature changes by four decades and still matches
    for r in result["valley"]["runs"]:
        assert r["max_rel_error_lambda2"] < 1e-9
        assert r["hvp_vs_hessian"] < 1e-12
        assert r["max_error_lambda1"] < 1e-9 and r["max_offdiag"] < 1e-12
    spans = [r["lambda2"].max() / r["lambda2"].min() for r in result["valley"]["runs"]]
    assert max(spans) > 1e4


def test_each_axis_contracts_at_the_predicted_rate(result):
    seen = set()
    for run in result["quadratic"]["runs"]:
        for m in run["axes"].values():
            seen.add(m["regime"])
            if m["regime"] == "critical":  # double root: (a + bt)ρᵗ decays a bit slower
                assert m["rate_predicted"] <= m["rate_measured"] < 1.03 * m["rate_predicted"]
            else:
                assert m["rate_measured"] == pytest.approx(m["rate_predicted"], rel=2e-3)
            if m["half_period_predicted"] is not None:
                assert m["half_period_measured"] == pytest.approx(
                    m["half_period_predicted"], rel=0.05
                )
            elif m["regime"] == "monotone":
                assert m["half_period_measured"] is None
            if m["effective_lr_predicted"] is not None:
                measured = m["effective_lr_measured"]
                assert measured["median"] == pytest.approx(m["effective_lr_predicted"], rel=1e-3)
                assert measured["spread"] < 1e-2  # a real mode: −Δθ/g is constant
    assert {"monotone", "ripples", "flips", "critical"} <= seen


def test_momentum_trades_theta1_speed_for_theta2_speed(result):
    runs = {(r["setting"].label, r["setting"].lr): r["axes"] for r in result["quadratic"]["runs"]}
    sgd, mom = runs[("sgd", 0.02)], runs[("momentum μ=0.9", 0.02)]
    # θ1 converges more slowly with μ = 0.9 (|z| = √μ > 1 − ηλ1), θ2 faster
    assert mom[1]["rate_measured"] > sgd[1]["rate_measured"]
    assert mom[2]["rate_measured"] < sgd[2]["rate_measured"]
    assert mom[1]["steps_to_1e-6"] > 2 * sgd[1]["steps_to_1e-6"]
    assert sgd[2]["steps_to_1e-6"] is None and mom[2]["steps_to_1e-6"] is not None
    # the tuned pair puts both axes at the same rate √μ*, the fastest of all the runs
    opt = result["quadratic"]["optimal"]
    best = [a for (label, _), a in runs.items() if label.startswith("momentum μ*")][0]
    assert best[1]["rate_predicted"] == pytest.approx(opt["rate"], rel=1e-6)
    assert best[2]["rate_predicted"] == pytest.approx(opt["rate"], rel=1e-6)
    worst = [max(a[1]["rate_predicted"], a[2]["rate_predicted"]) for a in runs.values()]
    assert min(worst) == pytest.approx(opt["rate"], rel=1e-6)


def test_effective_lr_on_the_shallow_axis_is_eta_over_one_minus_mu(result):
    v = result["valley"]
    for r in v["runs"]:
        assert r["plateau_steps"] >= 50
        assert r["effective_lr_measured"] == pytest.approx(r["effective_lr_predicted"], rel=0.01)
    sgd, m9 = v["runs"][0], v["runs"][-1]
    assert sgd["setting"].momentum == 0 and m9["setting"].momentum == 0.9
    # near the floor ηλ2 enters the ripple region and only momentum overshoots, after that
    assert sgd["first_overshoot_step"] is None and sgd["ripple_from_step"] is None
    assert m9["ripple_from_step"] < m9["first_overshoot_step"]


def test_theory_matches_an_independent_root_computation(example):
    rng = np.random.default_rng(0)
    for _ in range(200):
        mu, a = rng.uniform(0, 0.99), rng.uniform(1e-4, 4.5)
        # the companion matrix of x_{t+1} = (1 + μ − a)x_t − μx_{t−1}
        rho = np.abs(np.linalg.eigvals([[1 + mu - a, -mu], [1.0, 0.0]])).max()
        assert example.contraction(a, mu) == pytest.approx(rho, rel=1e-9)
        r = example.regime(a, mu)
        assert (r == "diverges") == (rho >= 1 - 1e-12)
        if r == "ripples":
            assert rho == pytest.approx(np.sqrt(mu), rel=1e-9)
    eta, mu = example.optimal_heavy_ball(0.2, 10.0)
    grid = [max(example.contraction(eta * lam, mu) for lam in (0.2, 10.0))]
    for d_eta, d_mu in ((1.05, 1), (0.95, 1), (1, 1.05), (1, 0.95)):
        grid.append(max(example.contraction(eta * d_eta * lam, mu * d_mu) for lam in (0.2, 10.0)))
    assert grid[0] == min(grid)  # a local optimum of the worst-axis rate
