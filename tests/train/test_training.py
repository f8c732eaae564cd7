"""End-to-end: datasets, an MLP trained with plain SGD, and the main example."""

from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_opt import ShapeError, Tensor, nn, no_grad
from tinygrad_opt.data import make_moons, train_test_split

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_moons.py"


# --------------------------------------------------------------------------- data
def test_make_moons_geometry_without_noise():
    X, y = make_moons(101, noise=0.0, shuffle=False, dtype=np.float64)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and list(np.bincount(y)) == [50, 51]
    outer, inner = X[y == 0], X[y == 1]
    # outer moon: the upper unit half circle; inner: the lower one centred at (1, 0.5)
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    assert np.all(outer[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0)
    assert np.all(inner[:, 1] <= 0.5 + 1e-12)
    np.testing.assert_allclose(outer[[0, -1]], [[1, 0], [-1, 0]], atol=1e-12)
    np.testing.assert_allclose(inner[[0, -1]], [[0, 0.5], [2, 0.5]], atol=1e-12)


def test_make_moons_is_seeded_and_noisy():
    X1, y1 = make_moons(200, noise=0.1, rng=0)
    X2, y2 = make_moons(200, noise=0.1, rng=0)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make_moons(200, noise=0.1, rng=1)
    assert not np.array_equal(X1, X3)
    clean, y_clean = make_moons(200, noise=0.0, rng=0)
    np.testing.assert_array_equal(y1, y_clean)  # same shuffle, then noise on top
    assert abs((X1 - clean).std() - 0.1) < 0.01
    assert y1[:20].min() == 0 and y1[:20].max() == 1  # shuffled
    Xf, _ = make_moons((3, 5), rng=0)
    assert Xf.shape == (8, 2) and Xf.dtype == np.float32  # the library's default dtype
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1)


def test_make_moons_matches_sklearn_when_available():
    datasets = pytest.importorskip("sklearn.datasets")
    ours, y = make_moons(30, noise=0.0, shuffle=False, dtype=np.float64)
    theirs, y_theirs = datasets.make_moons(30, noise=0.0, shuffle=False)
    np.testing.assert_allclose(ours, theirs)
    np.testing.assert_array_equal(y, y_theirs)


def test_train_test_split():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, rng=0)
    assert len(X_te) == math.ceil(2.5) == 3 and len(X_tr) == 7
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)  # rows stay paired
    np.testing.assert_array_equal(X_te[:, 0] // 2, y_te)
    assert sorted(np.concatenate([y_tr, y_te])) == list(range(10))
    again = train_test_split(X, y, test_size=0.25, rng=0)
    np.testing.assert_array_equal(again[3], y_te)
    _, _, _, y_te4 = train_test_split(X, y, test_size=4, shuffle=False)
    assert list(y_te4) == [6, 7, 8, 9]
    with pytest.raises(ShapeError, match="10 rows.*9"):
        train_test_split(X, y[:9])
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        train_test_split(X, y, test_size=1.5)


# --------------------------------------------------------------------------- training
def _sgd_train(model, X, y, epochs, lr, batch_size, rng):
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            model.zero_grad()
            loss = nn.cross_entropy(model(Tensor(X[idx])), y[idx])
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
    return loss.item()


def test_mlp_with_plain_sgd_learns_two_moons():
    X, y = make_moons(1000, noise=0.15, rng=1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, rng=1)
    model = nn.MLP([2, 32, 32, 2], rng=1)
    with no_grad():
        before = (model(Tensor(X_te)).data.argmax(1) == y_te).mean()
    t0 = time.perf_counter()
    final_loss = _sgd_train(model, X_tr, y_tr, 80, 0.1, 32, np.random.default_rng(1))
    assert time.perf_counter() - t0 < 10
    model.eval()
    with no_grad():
        acc = (model(Tensor(X_te)).data.argmax(1) == y_te).mean()
    assert acc >= 0.97, f"test accuracy {acc:.3f} (was {before:.3f} before training)"
    assert final_loss < 0.3
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_binary_head_with_bce_learns_two_moons():
    X, y = make_moons(600, noise=0.1, rng=2)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, rng=2)
    model = nn.MLP([2, 16, 16, 1], activation="tanh", rng=2)
    rng = np.random.default_rng(2)
    for _ in range(150):
        order = rng.permutation(len(y_tr))
        for start in range(0, len(order), 32):
            idx = order[start : start + 32]
            model.zero_grad()
            logits = model(Tensor(X_tr[idx]))[:, 0]
            nn.binary_cross_entropy_with_logits(logits, y_tr[idx]).backward()
            for p in model.parameters():
                p.data -= 0.2 * p.grad
    with no_grad():
        acc = ((model(Tensor(X_te)).data[:, 0] > 0) == y_te).mean()
    assert acc >= 0.97


# --------------------------------------------------------------------------- the example
def _load_example():
    spec = importlib.util.spec_from_file_location("train_moons", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_main_runs_and_reaches_97_percent(tmp_path, capsys):
    example = _load_example()
    result = example.main(["--out", str(tmp_path / "plots")])
    assert result["test_accuracy"] >= 0.97
    assert result["train_accuracy"] >= 0.95
    assert len(result["loss_history"]) == 100
    assert result["loss_history"][-1] < result["loss_history"][0]
    plot = Path(result["plot"])
    assert plot.parent == tmp_path / "plots" and plot.suffix == ".png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "test accuracy" in out and "1,218 parameters" in out and str(plot) in out


def test_example_quiet_without_plot(tmp_path, capsys):
    example = _load_example()
    result = example.main(["--epochs", "2", "--no-plot", "--quiet", "--out", str(tmp_path)])
    assert result["plot"] is None and len(result["loss_history"]) == 2
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []
