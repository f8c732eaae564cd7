"""End-to-end training examples: examples/train_digits.py and examples/compare_optimizers.py.

The digits test runs the example exactly as shipped (20 epochs, seed 0): the targets
(MLP >= 95%, CNN >= 97% test accuracy) are asserted on the real run, which takes a few
seconds. The optimizer comparison runs every registered method for 2 epochs (the table,
the memory column and the figure), and three methods for the full 15 epochs.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from tinygrad_opt import optim

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("sklearn", reason="load_digits needs scikit-learn")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_valid_png(path: Path, min_size: tuple[int, int] = (300, 300)) -> None:
    """A real PNG: the signature, and matplotlib decodes it to an RGB(A) image."""
    from matplotlib.image import imread

    path = Path(path)
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    image = imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4), image.shape
    assert image.shape[0] >= min_size[1] and image.shape[1] >= min_size[0], image.shape
    assert image.std() > 0.01, f"{path} is blank"


# --------------------------------------------------------------------------- digits
@pytest.fixture(scope="module")
def digits():
    return _load("train_digits")


@pytest.fixture(scope="module")
def digits_run(digits, tmp_path_factory):
    """The example as shipped: default epochs, seed and learning rates."""
    out = tmp_path_factory.mktemp("digits")
    return out, digits.main(["--out", str(out), "--quiet"])


def test_digits_mlp_reaches_95_percent(digits_run):
    _, result = digits_run
    mlp = result["mlp"]
    assert mlp["test_accuracy"] >= 0.95
    assert mlp["target"] == 0.95
    assert len(mlp["history"]["val_metric"]) == 20  # the default number of epochs
    # the plain loop's bookkeeping agrees with the final evaluation
    assert mlp["history"]["val_metric"][-1] == pytest.approx(mlp["test_accuracy"])
    assert mlp["history"]["train_loss"][-1] < mlp["history"]["train_loss"][0] / 10


def test_digits_cnn_reaches_97_percent(digits_run):
    _, result = digits_run
    cnn = result["cnn"]
    assert cnn["test_accuracy"] >= 0.97
    assert cnn["parameters"] < result["mlp"]["parameters"]  # a small CNN
    history = cnn["history"]  # from fit(): one entry per epoch
    assert len(history["train_loss"]) == len(history["val_loss"]) == 20
    assert history["val_metric"][-1] == pytest.approx(cnn["test_accuracy"])
    assert history["lr"][0] > history["lr"][-1]  # the cosine schedule ran


def test_digits_figures_are_pngs(digits_run):
    out, result = digits_run
    plots = result["plots"]
    assert set(plots) == {"curves", "misclassified"}
    for path in plots.values():
        assert Path(path).parent == out
        assert_valid_png(path)
    assert result["seconds"] > 0 and result["train_seconds"] <= result["seconds"]


def test_digits_is_reproducible_and_flags_shorten_it(digits, tmp_path, capsys):
    args = ["--models", "mlp", "--epochs", "2", "--no-plot", "--quiet", "--out", str(tmp_path)]
    first, second = digits.main(args), digits.main(args)
    assert "cnn" not in first and first["plots"] == {}
    assert len(first["mlp"]["history"]["train_loss"]) == 2
    assert first["mlp"]["history"]["train_loss"] == second["mlp"]["history"]["train_loss"]
    assert first["mlp"]["test_accuracy"] == second["mlp"]["test_accuracy"]
    assert capsys.readouterr().out == ""  # --quiet
    assert not any(tmp_path.iterdir())  # --no-plot wrote nothing


def test_digits_prints_a_summary(digits, tmp_path, capsys):
    digits.main(["--models", "cnn", "--epochs", "1", "--no-progress", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "summary" in out and "CNN" in out and "total runtime" in out
    assert_valid_png(tmp_path / "digits_training_curves.png")
    assert_valid_png(tmp_path / "digits_misclassified.png")


def test_digits_rejects_unknown_models(digits):
    with pytest.raises(SystemExit):
        digits.main(["--models", "resnet", "--quiet"])


# --------------------------------------------------------------------------- optimizers
@pytest.fixture(scope="module")
def compare():
    return _load("compare_optimizers")


@pytest.fixture(scope="module")
def every_optimizer(compare, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return out, compare.main(["--epochs", "2", "--out", str(out), "--quiet"])


def test_compare_has_a_row_per_optimizer(every_optimizer):
    _, result = every_optimizer
    rows = {r["optimizer"]: r for r in result["rows"]}
    assert sorted(rows) == optim.available()  # nothing skipped, lbfgs included
    for name, r in rows.items():
        for key in ("lr", "final_train_loss", "test_accuracy", "seconds", "step_ms"):
            assert math.isfinite(r[key]), (name, key, r[key])
        assert r["seconds"] > 0 and r["step_ms"] > 0, name
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert len(r["losses"]) == 3  # epoch 0 (the shared start) and 2 epochs
        assert np.isfinite(r["losses"]).all(), name
        assert r["state_bytes"] >= 0 and r["param_bytes"] > 0
        assert r["state_ratio"] == r["state_bytes"] / r["param_bytes"]
    # every method starts from the same weights
    assert len({r["losses"][0] for r in rows.values()}) == 1
    # two epochs already help every method
    for name, r in rows.items():
        assert r["final_train_loss"] < r["losses"][0], name


def test_compare_state_memory(every_optimizer):
    _, result = every_optimizer
    rows = {r["optimizer"]: r for r in result["rows"]}
    adam, sgd = rows["adam"], rows["sgd"]
    assert adam["param_bytes"] == sgd["param_bytes"] == (64 * 128 + 128 + 128 * 10 + 10) * 4
    assert adam["state_bytes"] == 2 * adam["param_bytes"]  # m and v
    assert sgd["state_bytes"] == 0
    assert rows["momentum"]["state_ratio"] == 1.0  # one velocity
    assert rows["amsgrad"]["state_ratio"] == 3.0  # m, v and max v
    assert rows["adafactor"]["state_ratio"] < 0.5  # factored second moments


def test_compare_figure(every_optimizer):
    out, result = every_optimizer
    assert Path(result["plot"]) == out / "optimizers_loss.png"
    assert_valid_png(result["plot"])


def test_compare_full_length_subset(compare, tmp_path):
    """The real 15-epoch runs of three methods: all of them learn the digits."""
    args = ["--optimizers", "sgd,adam,lbfgs", "--no-plot", "--quiet", "--out", str(tmp_path)]
    result = compare.main(args)
    rows = {r["optimizer"]: r for r in result["rows"]}
    assert list(rows) == ["sgd", "adam", "lbfgs"]
    for name, r in rows.items():
        assert r["lr"] == compare.LEARNING_RATES[name]
        assert r["lr_source"] == "tuned"
        assert len(r["losses"]) == 16
        assert r["test_accuracy"] >= 0.95, (name, r["test_accuracy"])
        assert r["final_train_loss"] < 0.1, (name, r["final_train_loss"])
    assert rows["lbfgs"]["batch"] == "full" and rows["adam"]["batch"] == 32
    assert result["plot"] is None and not any(tmp_path.iterdir())


def test_compare_lr_table_follows_its_rule(compare):
    """Every tabulated lr is a grid value, for a registered method; nothing else is set."""
    assert compare.LEARNING_RATES, "the lr table is empty: run --tune"
    assert set(compare.LEARNING_RATES) <= set(optim.available())
    for name, lr in compare.LEARNING_RATES.items():
        assert lr in compare.GRID, (name, lr)


def test_compare_rejects_unknown_optimizers(compare):
    with pytest.raises(SystemExit):
        compare.main(["--optimizers", "adam,sgdd", "--quiet"])
