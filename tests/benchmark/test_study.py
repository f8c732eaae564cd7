"""Running a benchmark: the results file, and resuming after an interruption gives the
file an uninterrupted run writes."""

from __future__ import annotations

import json

import pytest
from benchmark_helpers import TinyRunner, TinyWorkload, step_cost

from tinygrad_opt.benchmark import ResumeError, Settings, run_benchmark
from tinygrad_opt.benchmark.study import FORMAT

SETTINGS = Settings(optimizers=("sgd", "adam", "momentum"), workloads=("tiny", "tiny_hard"),
                    budget=3, studies=2, seed=5)  # fmt: skip
TOTAL = 3 * 2 * 3 * 2


def test_a_full_run_writes_every_trial_and_the_scores(tmp_path, tiny_workloads):
    runner = TinyRunner()
    out = tmp_path / "b.json"
    doc = run_benchmark(SETTINGS, out, tiny_workloads, runner, progress=False)
    assert doc["complete"] and len(doc["trials"]) == TOTAL == len(runner.calls)
    assert json.loads(out.read_text()) == doc
    assert doc["format"] == FORMAT and doc["settings"]["budget"] == 3
    assert doc["spaces"]["adam"]["lr"].startswith("log-uniform")
    assert doc["workloads"]["tiny_hard"]["target"] == 0.05
    t = doc["trials"][0]
    fields = {"workload", "method", "hyperparameters", "steps_to_target", "seconds_to_target",
              "final_metric", "diverged", "seed", "history"}  # fmt: skip
    assert set(t) >= fields
    # every trial's record is what the runner measured for the planned draw
    for t, (w, m, hp, seed) in zip(doc["trials"], runner.calls):
        assert (t["workload"], t["method"], t["hyperparameters"], t["seed"]) == (w, m, hp, seed)
        if t["steps_to_target"] is not None:
            assert t["seconds_to_target"] == pytest.approx(t["steps_to_target"] * step_cost(m))
    reached = [t for t in doc["trials"] if t["steps_to_target"] is not None]
    assert 0 < len(reached) < TOTAL  # the draws span good and bad learning rates
    scores = {(s["workload"], s["method"]): s for s in doc["scores"]}
    assert len(scores) == 6
    for (w, m), s in scores.items():
        mine = [t for t in doc["trials"] if (t["workload"], t["method"]) == (w, m)]
        assert s["reached"] == sum(t["steps_to_target"] is not None for t in mine)
        per_study = []
        for study in (0, 1):
            times = [t["seconds_to_target"] for t in mine if t["study"] == study]
            per_study.append(min((x for x in times if x is not None), default=None))
        assert s["study_seconds"] == per_study


@pytest.mark.parametrize("k", [1, 7, TOTAL - 1])
def test_stopped_after_k_trials_then_continued_equals_an_uninterrupted_run(
    tmp_path, tiny_workloads, k
):
    whole = tmp_path / "whole.json"
    run_benchmark(SETTINGS, whole, tiny_workloads, TinyRunner(), progress=False)
    part = tmp_path / "part.json"
    first = TinyRunner()
    doc = run_benchmark(SETTINGS, part, tiny_workloads, first, stop_after=k, progress=False)
    assert not doc["complete"] and len(doc["trials"]) == k == len(first.calls)
    assert "scores" not in json.loads(part.read_text())
    rest = TinyRunner()
    run_benchmark(SETTINGS, part, tiny_workloads, rest, progress=False)
    assert len(rest.calls) == TOTAL - k  # finished trials are not run again
    assert part.read_bytes() == whole.read_bytes()
    again = TinyRunner()  # a complete file: nothing runs, nothing changes
    run_benchmark(SETTINGS, part, tiny_workloads, again, progress=False)
    assert again.calls == [] and part.read_bytes() == whole.read_bytes()


def test_interrupted_by_keyboard_keeps_finished_trials_and_resumes(tmp_path, tiny_workloads):
    whole = tmp_path / "whole.json"
    run_benchmark(SETTINGS, whole, tiny_workloads, TinyRunner(), progress=False)
    out = tmp_path / "b.json"
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(SETTINGS, out, tiny_workloads, TinyRunner(interrupt_at=10), progress=False)
    assert len(json.loads(out.read_text())["trials"]) == 10
    run_benchmark(SETTINGS, out, tiny_workloads, TinyRunner(), progress=False)
    assert out.read_bytes() == whole.read_bytes()


def test_resuming_with_other_settings_is_refused_before_any_trial(tmp_path, tiny_workloads):
    out = tmp_path / "b.json"
    run_benchmark(SETTINGS, out, tiny_workloads, TinyRunner(), stop_after=2, progress=False)
    before = out.read_bytes()
    cases = [
        (Settings(**{**SETTINGS.__dict__, "budget": 4}), tiny_workloads, "settings.budget: 3"),
        (Settings(**{**SETTINGS.__dict__, "seed": 6}), tiny_workloads, "settings.seed: 5"),
        (Settings(**{**SETTINGS.__dict__, "optimizers": ("sgd", "adam")}), tiny_workloads,
         "settings.optimizers"),
        (SETTINGS, {**tiny_workloads, "tiny": TinyWorkload(target=0.4)},
         "workloads.tiny.target: 0.5 there, 0.4 now"),
    ]  # fmt: skip
    for settings, workloads, message in cases:
        runner = TinyRunner()
        with pytest.raises(ResumeError, match=message):
            run_benchmark(settings, out, workloads, runner, progress=False)
        assert runner.calls == [] and out.read_bytes() == before


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path, tiny_workloads):
    for text in ["not json", '{"format": "something else"}', "[1, 2]"]:
        out = tmp_path / "b.json"
        out.write_text(text)
        with pytest.raises(ResumeError, match="not a benchmark results file"):
            run_benchmark(SETTINGS, out, tiny_workloads, TinyRunner(), progress=False)
        assert out.read_text() == text


def test_settings_are_checked():
    with pytest.raises(ValueError, match="budget must be positive, got 0"):
        Settings(("sgd",), ("w",), budget=0)
    with pytest.raises(ValueError, match="no optimizers"):
        Settings((), ("w",))
    with pytest.raises(ValueError, match="studies must be positive"):
        Settings(("sgd",), ("w",), studies=0)
