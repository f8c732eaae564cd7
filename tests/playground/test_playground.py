"""The optimizer playground and the `tinygrad-opt compare` command."""

import json

import numpy as np
import pytest

from tinygrad_opt import gradcheck, playground
from tinygrad_opt.cli import main
from tinygrad_opt.tensor import Tensor


@pytest.mark.parametrize("name", sorted(playground.FUNCTIONS))
def test_functions_have_their_stated_minima_and_correct_gradients(name):
    fn = playground.get_function(name)
    for m in fn.minima:
        assert np.linalg.norm(fn.gradient(np.array(m))) < 1e-3
    assert min(fn.value(np.array(m)) for m in fn.minima) == pytest.approx(fn.min_value, abs=1e-2)
    start = Tensor(np.array(fn.start) + 0.1, requires_grad=True)
    assert gradcheck(fn, [start])


def test_grid_evaluation_matches_pointwise():
    fn = playground.get_function("rosenbrock")
    xs = np.stack(np.meshgrid(np.linspace(-1, 1, 3), np.linspace(0, 2, 4)))
    grid = fn.value(xs)
    assert grid.shape == (4, 3)
    assert grid[2, 1] == pytest.approx(fn.value(xs[:, 2, 1]))


def test_run_matches_a_hand_written_gradient_descent():
    run = playground.run("quadratic", [("sgd", {"lr": 0.05})], steps=30)
    theta = np.array(playground.get_function("quadratic").start)
    for _ in range(30):
        theta = theta - 0.05 * np.array([10.0, 0.2]) * theta
    np.testing.assert_allclose(run.trajectories["sgd"].points[-1], theta, rtol=1e-12)
    assert run.trajectories["sgd"].points.shape == (31, 2)


def test_all_optimizers_start_at_the_same_point_and_descend():
    run = playground.run("himmelblau", ["sgd", "momentum", "adagrad", "rmsprop", "adam"], 300)
    for t in run.trajectories.values():
        np.testing.assert_array_equal(t.points[0], run.function.start)
        assert t.final_loss < t.losses[0] * 1e-3


@pytest.mark.filterwarnings("ignore:overflow")
def test_divergence_is_recorded_not_raised():
    run = playground.run("quadratic", [("sgd", {"lr": 1.0})], steps=2000)
    t = run.trajectories["sgd"]
    assert run.to_dict()["optimizers"]["sgd"]["diverged"]
    assert np.isnan(t.losses[-1])


def test_unknown_function_lists_valid_names():
    with pytest.raises(ValueError, match="available: .*rosenbrock"):
        playground.run("nope", ["sgd"])


def test_plots_are_written(tmp_path):
    run = playground.run("saddle", ["sgd", "adam"], 40)
    png = playground.plot_paths(run, tmp_path / "p.png")
    gif = playground.animate_paths(run, tmp_path / "p.gif", frames=5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_plots_leave_the_callers_matplotlib_backend_alone(tmp_path):
    # a notebook's inline backend must survive plot_paths / animate_paths (they used to
    # call matplotlib.use("Agg"), after which plt.show() in the notebook drew nothing)
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend("svg")
    try:
        run = playground.run("quadratic", ["sgd"], 10)
        playground.plot_paths(run, tmp_path / "p.png")
        playground.animate_paths(run, tmp_path / "p.gif", frames=3)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == []  # no figure left open in pyplot either
    finally:
        plt.switch_backend(before)


def test_cli_compare_json(tmp_path, capsys):
    out = tmp_path / "fig.png"
    code = main(
        [
            "compare",
            "--function",
            "rosenbrock",
            "--optimizers",
            "sgd,adam",
            "--steps",
            "50",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0 and out.exists()
    data = json.loads(capsys.readouterr().out)
    assert set(data["optimizers"]) == {"sgd", "adam"}
    start_loss = 2.5**2 + 100 * (2 - 1.5**2) ** 2  # f(-1.5, 2)
    assert data["optimizers"]["adam"]["final_loss"] < start_loss


def test_cli_compare_json_is_strict_when_runs_diverge(capsys):
    # a diverged run's loss is NaN: strict JSON (no NaN token) with null and "diverged"
    assert main(["compare", "--lr", "1e10", "--steps", "20", "--optimizers", "sgd", "--json"]) == 0
    text = capsys.readouterr().out
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
    assert data["optimizers"]["sgd"]["final_loss"] is None
    assert data["optimizers"]["sgd"]["diverged"] is True


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--optimizers", "sgd,adamm"], "unknown optimizer(s) 'adamm'; valid: "),
        (["compare", "--function", "nope"], "unknown function 'nope'; valid: beale"),
        (["compare", "--lr", "-1", "--steps", "2"], "--lr must be a finite number >= 0, got -1.0"),
        (["compare", "--start", "1,2,3"], "--start must be two numbers"),
    ],
)
def test_cli_bad_input_exits_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_malformed_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--steps", "0"])
    assert info.value.code == 2
    assert "must be positive" in capsys.readouterr().err


def test_cli_compare_table_columns_line_up_for_long_names(capsys):
    assert main(["compare", "--optimizers", "sgd,schedulefree_adamw", "--steps", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("optimizer"))
    rows = lines[head : head + 3]
    ends = {line.index("  final θ") if i == 0 else line.index("  (") for i, line in enumerate(rows)}
    assert len(ends) == 1, rows  # the last column starts at the same place in every row


def test_run_shows_progress_on_request(capsys):
    playground.run("rosenbrock", ["sgd", "adam"], 20, progress=True)
    assert "compare" in capsys.readouterr().err
    playground.run("rosenbrock", ["sgd", "adam"], 20)
    assert capsys.readouterr().err == ""


def test_cli_compare_function_names_in_any_case(capsys):
    assert main(["compare", "--function", "Rosenbrock", "--steps", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["function"] == "rosenbrock"
