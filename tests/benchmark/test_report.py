"""The printed table and the performance-profile figure; the claims 2 & 5 script."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

from tinygrad_opt.benchmark import format_table, plot_profiles, score_trials
from tinygrad_opt.benchmark.report import profile_taus

ROOT = Path(__file__).resolve().parents[2]


def rec(workload, method, trial, seconds, steps):
    return {"workload": workload, "method": method, "study": 0, "trial": trial,
            "hyperparameters": {"lr": 0.1 * (trial + 1)}, "seconds_to_target": seconds,
            "steps_to_target": steps}  # fmt: skip


TRIALS = [
    rec("w1", "a", 0, 1.0, 10), rec("w1", "a", 1, None, None),
    rec("w1", "b", 0, 3.0, 20), rec("w1", "b", 1, 2.0, 30),
    rec("w2", "a", 0, None, None), rec("w2", "a", 1, None, None),
    rec("w2", "b", 0, 5.0, 50), rec("w2", "b", 1, None, None),
]  # fmt: skip


def test_table_shows_score_steps_reached_won_and_solved():
    text = format_table(score_trials(TRIALS), ["a", "b"], ["w1", "w2"])
    header, a, b = text.splitlines()
    assert header.split() == ["method", "w1", "w2", "won", "solved"]
    assert a.split() == ["a", "1s/10", "(1/2)", "never", "(0/2)", "1", "1/2"]
    # time and steps are separate scores: b's fastest trial took 30 steps, its fewest 20
    assert b.split() == ["b", "2s/20", "(2/2)", "5s/50", "(1/2)", "1", "2/2"]


def test_profile_figure_is_written_and_taus_cover_every_ratio(tmp_path):
    path = plot_profiles(score_trials(TRIALS), ["a", "b"], ["w1", "w2"], tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    taus = profile_taus({"a": [1.0, math.inf], "b": [2.0, 1.0]})
    assert taus[0] == 1.0 and 2.0 in taus and taus[-1] >= 3.0
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_drawing_leaves_the_callers_matplotlib_backend_alone(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plot_profiles(score_trials(TRIALS), ["a", "b"], ["w1", "w2"], tmp_path / "p.pdf")
        assert matplotlib.get_backend() == "svg"
        assert (tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
    finally:
        matplotlib.use(before)


def test_claims_2_and_5_script_on_a_short_workload(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "claim2_5", ROOT / "examples" / "seed_claims" / "claim2_5_transformer.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--workload", "logreg", "--max-steps", "100", "--lr-min", "1e-3", "--lr-max", "1",
            "--per-decade", "1", "--optimizers", "sgd,adam", "--out", str(tmp_path),
            "--quiet"]  # fmt: skip
    r = module.main(argv)
    assert r["lr_grid"] == [0.001, 0.01, 0.1, 1.0]
    for m in ("sgd", "adam"):
        info = r["methods"][m]
        reached = [s is not None for s in info["steps_by_lr"]]
        assert info["share_reaching"] == sum(reached) / 4
        if any(reached):
            times = [s for s in info["seconds_by_lr"] if s is not None]
            assert info["best_seconds"] == min(times)
            assert info["best_lr"] in info["lrs_reaching"]
    assert any(r["methods"][m]["share_reaching"] > 0 for m in ("sgd", "adam"))
    assert (tmp_path / "claim2_5_transformer.png").stat().st_size > 10_000
    again = module.main(argv)  # resumed from its results file: nothing reruns
    assert again == r
