"""AlgoPerf-style scores and Dolan–Moré performance profiles, against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_opt.benchmark import performance_profile, score_trials
from tinygrad_opt.benchmark.scoring import profile_ratios

INF = math.inf


def trial(workload, method, study, i, seconds, steps, lr=0.1):
    return {
        "workload": workload,
        "method": method,
        "study": study,
        "trial": i,
        "hyperparameters": {"lr": lr},
        "seconds_to_target": seconds,
        "steps_to_target": steps,
    }


def test_score_is_median_over_studies_of_the_fastest_trial():
    trials = [
        # study 0: the fastest trial by time (2.0 s) is not the one with fewest steps
        trial("w", "adam", 0, 0, 3.0, 100, lr=0.1),
        trial("w", "adam", 0, 1, 2.0, 150, lr=0.2),
        trial("w", "adam", 0, 2, None, None, lr=0.3),
        # study 1: none reached -> inf
        trial("w", "adam", 1, 0, None, None),
        trial("w", "adam", 1, 1, None, None),
        trial("w", "adam", 1, 2, None, None),
        # study 2
        trial("w", "adam", 2, 0, 5.0, 60, lr=0.4),
        trial("w", "adam", 2, 1, 4.0, 80, lr=0.5),
        trial("w", "adam", 2, 2, None, None),
    ]
    s = score_trials(trials)["w"]["adam"]
    assert s.study_seconds == (2.0, INF, 4.0)
    assert s.study_steps == (100, INF, 60)
    assert s.seconds == 4.0 and s.steps == 100  # medians of (2, 4, inf) and (60, 100, inf)
    assert (s.reached, s.trials) == (4, 9)
    assert s.best["hyperparameters"] == {"lr": 0.2}  # fastest of all studies
    d = s.to_dict()
    assert d["study_seconds"] == [2.0, None, 4.0] and d["best_hyperparameters"] == {"lr": 0.2}


def test_a_method_that_never_reaches_scores_infinity():
    s = score_trials([trial("w", "sgd", 0, i, None, None) for i in range(3)])["w"]["sgd"]
    assert math.isinf(s.seconds) and math.isinf(s.steps) and s.best is None
    assert s.to_dict()["seconds_to_target"] is None and s.reached == 0


def test_ties_in_time_go_to_fewer_steps():
    s = score_trials([trial("w", "m", 0, 0, 1.0, 50, 0.1), trial("w", "m", 0, 1, 1.0, 40, 0.2)])
    assert s["w"]["m"].best["hyperparameters"] == {"lr": 0.2}


def test_performance_profile_against_a_hand_computation():
    # times of three methods on four workloads; w4 is solved by nobody
    scores = {
        "w1": {"a": 1.0, "b": 2.0, "c": 4.0},
        "w2": {"a": 3.0, "b": 1.0, "c": INF},
        "w3": {"a": 10.0, "b": 15.0, "c": 5.0},
        "w4": {"a": INF, "b": INF, "c": INF},
    }
    # ratios: a = (1, 3, 2, inf), b = (2, 1, 3, inf), c = (4, inf, 1, inf)
    ratios = profile_ratios(scores, ["a", "b", "c"])
    assert ratios == {"a": [1, 3, 2, INF], "b": [2, 1, 3, INF], "c": [4, INF, 1, INF]}
    taus = [1.0, 1.5, 2.0, 2.99, 3.0, 4.0, 100.0]
    rho = performance_profile(scores, ["a", "b", "c"], taus)
    np.testing.assert_array_equal(rho["a"], [1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4, 3 / 4])
    np.testing.assert_array_equal(rho["b"], [1 / 4, 1 / 4, 2 / 4, 2 / 4, 3 / 4, 3 / 4, 3 / 4])
    np.testing.assert_array_equal(rho["c"], [1 / 4, 1 / 4, 1 / 4, 1 / 4, 1 / 4, 2 / 4, 2 / 4])


def test_profile_missing_method_counts_as_never_and_bad_times_are_refused():
    rho = performance_profile({"w1": {"a": 2.0}, "w2": {"a": 1.0, "b": 0.5}}, ["a", "b"], [1, 2])
    np.testing.assert_array_equal(rho["a"], [0.5, 1.0])
    np.testing.assert_array_equal(rho["b"], [0.5, 0.5])
    with pytest.raises(ValueError, match="must be >= 0"):
        performance_profile({"w": {"a": -1.0}}, ["a"], [1.0])
    with pytest.raises(ValueError, match="at least one workload"):
        performance_profile({}, ["a"], [1.0])
