"""examples/seed_claims/: each claim of the seed article, measured, in the direction stated.

Every test runs one claim's ``main`` (shortened where the full run is long) with fixed
seeds into ``tmp_path`` and asserts the direction of the effect — including, where the
claim holds only partly, the direction in which it fails (docs/seed-claims.md says so).
"""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

DIR = pathlib.Path(__file__).parents[2] / "examples" / "seed_claims"
PNG = b"\x89PNG\r\n\x1a\n"


def load(name):
    sys.path.insert(0, str(DIR))
    try:
        spec = importlib.util.spec_from_file_location(name, DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(DIR))
    return module


def run(name, tmp_path, *argv):
    result = load(name).main(["--out", str(tmp_path), "--quiet", *argv])
    assert pathlib.Path(result["figure"]).read_bytes()[:8] == PNG
    return result


def test_claim1_momentum_damps_the_zigzag_and_speeds_the_shallow_axis(tmp_path):
    r = run("claim1_momentum", tmp_path, "--per-decade", "10", "--steps", "600")
    best, fast = r["best"], r["same_lr"]["lr=0.18"]
    sgd, m9, m5 = "sgd", "momentum μ=0.9", "momentum μ=0.5"
    # SGD at a large lr flips θ1 every step; momentum does not
    assert fast[sgd]["zigzag_rate"] == 1.0
    assert fast[m9]["zigzag_rate"] < 0.6 and fast[m5]["zigzag_rate"] < 0.7
    # ... and momentum gets down the shallow axis and to the tolerance sooner
    for m in (m9, m5):
        assert best[m]["theta2_steps_to_1pct"] < best[sgd]["theta2_steps_to_1pct"]
        assert best[m]["steps_to_tol"] < best[sgd]["steps_to_tol"]
    # only partly: μ = 0.9 swings wider across θ1 than SGD (an underdamped oscillation);
    # a moderate μ = 0.5 does damp the amplitude at the same lr
    assert fast[m9]["theta1_amplitude_20_40"] > 10 * fast[sgd]["theta1_amplitude_20_40"]
    assert fast[m5]["theta1_amplitude_20_40"] < fast[sgd]["theta1_amplitude_20_40"]
    # and at a small lr SGD has no zig-zag to damp at all
    assert r["same_lr"]["lr=0.02"][sgd]["zigzag_rate"] == 0.0


def test_claim2_adaptive_methods_widen_the_lr_window_mostly_against_plain_sgd(tmp_path):
    r = run("claim2_lr_sensitivity", tmp_path, "--per-decade", "2", "--seeds", "1", "--epochs", "8")
    assert r["decades"] >= 4 and len(r["lrs"]) >= 9
    for kind, d in r["datasets"].items():
        frac = {m: v["fraction_reaching_target"] for m, v in d["optimizers"].items()}
        for m in ("adagrad", "rmsprop", "adam"):
            assert frac[m] > frac["sgd"], (kind, frac)
    rescaled = {m: v for m, v in r["datasets"]["rescaled"]["optimizers"].items()}
    assert rescaled["sgd"]["fraction_reaching_target"] == 0.0
    assert rescaled["adam"]["best_accuracy"] > rescaled["momentum"]["best_accuracy"]


def test_claim3_adagrad_step_vanishes_like_one_over_sqrt_t(tmp_path):
    r = run(
        "claim3_adagrad_vanishing",
        tmp_path,
        *("--steps", "3000", "--lr", "0.1", "--distances", "5", "10", "20"),
        *("--max-steps", "3000"),
    )
    s = r["adagrad"]["0.1"]
    assert s["end_over_start"] < 0.05
    assert s["slope_loglog"] == pytest.approx(-0.5, abs=0.03)
    assert s["final_distance"] > 15  # started 30 away: stalled
    assert r["distance_sweep"]["tail_exponent"] > 1.8


def test_claim4_rmsprop_keeps_its_step_but_hovers(tmp_path):
    r = run(
        "claim4_rmsprop",
        tmp_path,
        *("--steps", "2000", "--lr", "0.1", "1.0", "--per-decade", "1"),
        *("--distances", "20", "40", "160", "320", "--max-steps", "5000"),
    )
    ada, rms = r["long_valley"]["adagrad"], r["long_valley"]["rmsprop"]
    assert ada["0.1"]["end_over_start"] < 0.05
    for lr in ("0.1", "1"):
        assert 0.1 <= rms[lr]["end_over_start"] <= 10
    assert rms["0.1"]["final_distance"] < 0.01 * ada["0.1"]["final_distance"]
    sweep = r["distance_sweep"]
    assert sweep["rmsprop"]["tail_exponent"] < 1.5 < 1.8 < sweep["adagrad"]["tail_exponent"]
    rosen = r["rosenbrock"]
    assert rosen["rmsprop"]["best_distance"] < rosen["adagrad"]["best_distance"]
    # the price of a step that does not vanish: no convergence at a constant lr
    assert rms["1"]["hover_last_100"] > 0.1
    assert ada["1"]["final_distance"] < 1e-6


def test_claim5_adam_direction_from_s_scale_from_r_and_not_always_fastest(tmp_path):
    r = run(
        "claim5_adam",
        tmp_path,
        *("--adam-epochs", "1", "--functions", "quadratic,beale", "--epochs", "0"),
    )
    a = r["inside_adam"]
    cos = a["mean_cosine"]
    assert cos["adam: -ŝ/(√r̂+δ)"] > 0.999
    assert cos["momentum: -ŝ"] > cos["sgd: -g"]
    assert cos["rmsprop: -g/(√r̂+δ)"] < 0.9
    assert a["corr_step_over_s_vs_inv_sqrt_r"] > 0.999
    assert a["spread_update_decades"] < a["spread_momentum_decades"]
    assert "adam" in r["fastest"]["beale"]
    assert "adam" not in r["fastest"]["quadratic"]


def test_claim6_adam_keeps_two_arrays_adafactor_and_lion_less(tmp_path):
    r = run("claim6_memory", tmp_path, "--models", "mlp", "--hidden", "64")
    per = r["models"]["mlp"]
    pb = per["adam"]["param_bytes"]
    assert per["adam"]["state_bytes"] == 2 * pb
    assert per["amsgrad"]["state_bytes"] == 3 * pb
    for m in ("momentum", "adagrad", "rmsprop", "lion"):
        assert per[m]["state_bytes"] == pb
    assert per["sgd"]["state_bytes"] == 0
    assert per["adafactor"]["state_bytes"] < 0.1 * per["adam"]["state_bytes"]
    assert per["adam"]["first_step_peak_bytes"] > per["sgd"]["first_step_peak_bytes"]
    for m, v in per.items():
        assert v["first_step_retained_bytes"] >= v["state_bytes"], m


def test_claim7_adaptive_methods_ignore_how_close_to_the_saddle_noise_is_needed(tmp_path):
    r = run(
        "claim7_escape",
        tmp_path,
        *("--y0", "1e-2", "1e-6", "0", "--saddle-steps", "1500", "--seeds", "2"),
        *("--grid", "3", "3", "--noise", "0", "1", "--noisy-steps", "600"),
        *("--settle-steps", "200"),
    )
    sad = r["saddle"]
    for m, v in sad.items():
        steps = v["same_lr"]["steps"]
        assert steps[2] is None, m  # exactly on the ridge: the θ2 gradient is 0
        assert v["same_lr_noisy"]["escaped_fraction"][2] == 1.0, m
    for m in ("sgd", "momentum", "nesterov"):  # time grows like log(1/y0)
        assert sad[m]["same_lr"]["steps"][1] > 2 * sad[m]["same_lr"]["steps"][0]
    for m in ("adagrad", "rmsprop", "adam"):  # normalised: independent of y0
        a, b = sad[m]["same_lr"]["steps"][:2]
        assert abs(a - b) <= 2, m
    assert sad["momentum"]["same_lr"]["steps"][1] < sad["sgd"]["same_lr"]["steps"][1]
    basin = r["deep_basin_fraction"]
    assert all(v["0"] == 0.0 for v in basin.values())
    assert basin["nesterov"]["1"] > 0.3 and basin["momentum"]["1"] > 0.0
    for m in ("sgd", "adagrad", "adam"):
        assert basin[m]["1"] == 0.0, m


def test_run_all_writes_json(tmp_path):
    result = load("run_all").main(["--out", str(tmp_path), "--quiet", "--only", "6"])
    assert "claim6" in result
    text = (tmp_path / "seed_claims.json").read_text()
    assert '"claim6"' in text and np.isfinite(result["claim6"]["seconds"])


def test_claims_3_and_4_draw_when_fewer_than_two_distances_are_reached(tmp_path):
    # AdaGrad reaches only the nearest start within --max-steps: no exponent (None), and
    # the figure's legend says "—" instead of failing to format None
    r3 = run(
        "claim3_adagrad_vanishing",
        tmp_path,
        *("--steps", "100", "--lr", "0.1", "--distances", "5", "10", "--max-steps", "100"),
    )
    assert r3["distance_sweep"]["exponent"] is None
    r4 = run(
        "claim4_rmsprop",
        tmp_path,
        *("--steps", "100", "--lr", "0.1", "--per-decade", "1"),
        *("--distances", "20", "40", "--max-steps", "100"),
    )
    assert r4["distance_sweep"]["adagrad"]["tail_exponent"] is None
    assert r4["distance_sweep"]["rmsprop"]["tail_exponent"] is not None


def test_plotting_keeps_the_callers_matplotlib_backend():
    # a notebook's inline backend must survive a claim script's figure (it used to be
    # switched to Agg, after which plt.show() drew nothing)
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plt = load("claim1_momentum").pyplot()  # the scripts' shared _common.pyplot
        plt.close(plt.figure())
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
