"""examples/custom_optimizer.py: a method written outside the library, checked with the
shipped helper."""

import importlib.util
import pathlib

import numpy as np
import pytest

from tinygrad_opt.optim.testing import check_against_reference

EXAMPLE = pathlib.Path(__file__).parents[2] / "examples" / "custom_optimizer.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("custom_optimizer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_and_matches_the_paper(example):
    result = example.main()
    assert result["check"].max_rel_error < 1e-10
    assert result["losses"]["adabelief"] < 0.01


def test_example_does_not_replace_the_built_in(example):
    from tinygrad_opt.optim import AdaBelief, lookup

    assert lookup("adabelief")[0] is AdaBelief
    assert lookup("my_adabelief")[0] is example.AdaBelief


def test_the_helper_catches_a_wrong_second_moment(example):
    class AdamInDisguise(example.AdaBelief):
        def update(self, p, g, state, group):  # uses g² instead of (g - s)²: plain Adam
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            state["step"] += 1
            t = state["step"]
            state["s"] += (1 - b1) * (g - state["s"])
            state["r"] += (1 - b2) * (g * g - state["r"])
            s_hat = state["s"] / (1 - b1**t)
            r_hat = state["r"] / (1 - b2**t)
            p -= lr * s_hat / (np.sqrt(r_hat) + eps)

    with pytest.raises(AssertionError, match="step 1, param 0"):
        check_against_reference(lambda ps: AdamInDisguise(ps, lr=1e-2), example.adabelief_reference)
