"""Data: generated datasets, the DataLoader (batching, seeding, resuming) and the digits."""

import math
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.data import (
    ArrayDataset,
    DataLoader,
    load_digits,
    make_blobs,
    make_regression,
    make_spirals,
)


# --------------------------------------------------------------------------- make_spirals
def test_spirals_shapes_dtypes_labels():
    X, y = make_spirals(rng=0)
    assert X.shape == (300, 2) and X.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100, 100, 100]
    X, y = make_spirals(10, n_classes=4, rng=0, dtype=np.float64)
    assert X.dtype == np.float64 and np.bincount(y).tolist() == [3, 3, 2, 2]


def test_spirals_formula_without_noise():
    X, y = make_spirals(40, n_classes=2, noise=0.0, shuffle=False, dtype=np.float64)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[:20], np.linspace(0, 1, 20), atol=1e-12)
    np.testing.assert_allclose(r[20:], np.linspace(0, 1, 20), atol=1e-12)
    # x = (r sin t, r cos t) with t = 4r + 2πk/K: arm 1 is arm 0 turned by π
    np.testing.assert_allclose(X[20:], -X[:20], atol=1e-12)
    t_end = np.arctan2(X[19, 0], X[19, 1])  # angle of the outermost point of arm 0
    assert math.isclose(t_end % (2 * math.pi), 4.0, abs_tol=1e-12)
    assert y[:20].tolist() == [0] * 20 and y[20:].tolist() == [1] * 20


def test_spirals_seeding_and_noise():
    a, ya = make_spirals(rng=3)
    b, yb = make_spirals(rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    c, _ = make_spirals(rng=4)
    assert not np.array_equal(a, c)
    gen = np.random.default_rng(0)
    assert not np.array_equal(make_spirals(rng=gen)[0], make_spirals(rng=gen)[0])  # advanced
    # the noise is on the angle only: radii stay exactly on the grid
    X, _ = make_spirals(30, 1, noise=0.5, rng=0, shuffle=False, dtype=np.float64)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), np.linspace(0, 1, 30), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples must be positive, got 0"),
        ({"n_samples": -5}, "n_samples"),
        ({"n_classes": 0}, "n_classes must be positive"),
        ({"noise": -0.1}, "noise must be .*>= 0"),
        ({"n_samples": 2, "n_classes": 3}, r"n_samples \(2\) must be at least n_classes \(3\)"),
    ],
)
def test_spirals_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_spirals(**kwargs)


def test_spirals_rejects_non_integers():
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        make_spirals(10.5)


# --------------------------------------------------------------------------- make_blobs
def test_blobs_shapes_dtypes_labels():
    X, y = make_blobs(rng=0)
    assert X.shape == (100, 2) and X.dtype == np.float32
    assert y.dtype == np.int64 and np.bincount(y).tolist() == [34, 33, 33]
    X, y, C = make_blobs(50, centers=4, n_features=5, rng=0, return_centers=True)
    assert X.shape == (50, 5) and C.shape == (4, 5) and set(y.tolist()) == {0, 1, 2, 3}
    assert np.all((C >= -10) & (C <= 10))
    X, _ = make_blobs(10, dtype=np.float64, rng=0)
    assert X.dtype == np.float64


def test_blobs_centres_and_spread():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, -5.0, 2.0]])
    X, y = make_blobs(20_000, centers=centers, cluster_std=[0.5, 2.0], rng=0, dtype=np.float64)
    assert X.shape == (20_000, 3)
    for k, std in enumerate([0.5, 2.0]):
        pts = X[y == k]
        np.testing.assert_allclose(pts.mean(axis=0), centers[k], atol=5 * std / math.sqrt(10_000))
        np.testing.assert_allclose(pts.std(axis=0), std, rtol=0.05)
    # drawn centres: each cluster's mean sits on its returned centre
    X, y, C = make_blobs(3000, centers=3, cluster_std=0.1, rng=1, return_centers=True)
    for k in range(3):
        np.testing.assert_allclose(X[y == k].mean(axis=0), C[k], atol=0.02)


def test_blobs_seeding_and_shuffle():
    a = make_blobs(rng=5)
    b = make_blobs(rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], make_blobs(rng=6)[0])
    _, y = make_blobs(9, shuffle=False, rng=0)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    X, _ = make_blobs(4, centers=[[1.0, 2.0]], cluster_std=0.0, rng=0)
    np.testing.assert_array_equal(X, [[1.0, 2.0]] * 4)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"n_samples": 0}, ValueError, "n_samples must be positive, got 0"),
        ({"centers": 0}, ValueError, "centers must be positive"),
        ({"cluster_std": -1.0}, ValueError, "cluster_std must be finite and >= 0"),
        ({"cluster_std": [1.0, 2.0]}, ValueError, r"one value per center \(3\)"),
        ({"n_features": 0}, ValueError, "n_features must be positive"),
        ({"centers": [[0, 0], [1, 1]], "n_features": 3}, ValueError, "n_features=3 but.*2 col"),
        ({"centers": [1.0, 2.0]}, ValueError, "centers must be a count or"),
        ({"n_samples": 2, "centers": 3}, ValueError, r"n_samples \(2\).*centers \(3\)"),
        ({"center_box": (1.0, -1.0)}, ValueError, "center_box"),
    ],
)
def test_blobs_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        make_blobs(**kwargs)


# --------------------------------------------------------------------------- make_regression
def test_regression_shapes_dtypes():
    X, y = make_regression(rng=0)
    assert X.shape == (100, 10) and y.shape == (100,)
    assert X.dtype == np.float32 and y.dtype == np.float32
    X, y, w = make_regression(7, 3, rng=0, return_coef=True, dtype=np.float64)
    assert X.shape == (7, 3) and X.dtype == y.dtype == np.float64 and w.shape == (3,)
    assert np.all(w > 0)  # n_informative (10) clipped to n_features (3): all informative


def test_regression_coefficients_recovered_without_noise():
    X, y, w = make_regression(
        200, 8, n_informative=3, bias=2.5, rng=0, return_coef=True, dtype=np.float64
    )
    assert (w != 0).sum() == 3 and np.all((w >= 0) & (w < 100))
    np.testing.assert_allclose(X @ w + 2.5, y, rtol=1e-12, atol=1e-10)  # y = Xw + b exactly
    A = np.column_stack([X, np.ones(len(X))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(coef[:-1], w, atol=1e-9)
    assert math.isclose(coef[-1], 2.5, abs_tol=1e-9)
    # float32 output: still recoverable to float32 precision
    X, y, w = make_regression(200, 8, rng=0, return_coef=True)
    coef, *_ = np.linalg.lstsq(X.astype(np.float64), y.astype(np.float64), rcond=None)
    np.testing.assert_allclose(coef, w, rtol=1e-4, atol=1e-3)


def test_regression_noise_and_distribution():
    X, y, w = make_regression(
        20_000, 4, noise=3.0, rng=1, return_coef=True, dtype=np.float64, shuffle=False
    )
    assert abs(X.mean()) < 0.02 and abs(X.std() - 1) < 0.02  # X ~ N(0, 1)
    assert abs((y - X @ w).std() - 3.0) < 0.06  # residual std = noise
    X2, y2 = make_regression(20_000, 4, noise=3.0, rng=1, dtype=np.float64, shuffle=False)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    # shuffle permutes the columns (and w with them): informative ones are not all first
    _, _, w = make_regression(10, 50, n_informative=5, rng=0, return_coef=True)
    assert np.flatnonzero(w).tolist() != [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_samples": 0}, "n_samples must be positive"),
        ({"n_features": -1}, "n_features must be positive"),
        ({"n_informative": -1}, "n_informative must be >= 0"),
        ({"noise": -1.0}, "noise must be .*>= 0"),
        ({"noise": float("nan")}, "noise must be a finite"),
    ],
)
def test_regression_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regression(**kwargs)


# --------------------------------------------------------------------------- DataLoader
def _data(n=10):
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    return X, np.arange(n)


def test_loader_batches_in_order():
    X, y = _data(10)
    loader = DataLoader((X, y), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in batches)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), X)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert batches[0][0].dtype == np.float32
    batches[0][0][:] = -1  # batches are copies
    assert X.min() == 0


def test_loader_drop_last():
    X, y = _data(10)
    loader = DataLoader((X, y), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[1]) for b in loader] == [4, 4]
    assert len(DataLoader((X, y), batch_size=5, drop_last=True)) == 2
    assert len(DataLoader((X, y), batch_size=11, drop_last=True)) == 0
    assert list(DataLoader((X, y), batch_size=11, drop_last=True)) == []
    assert len(DataLoader((X, y), batch_size=11)) == 1


def test_loader_shuffle_is_seeded_and_new_each_epoch():
    X, y = _data(50)
    a = DataLoader((X, y), batch_size=8, shuffle=True, rng=0)
    b = DataLoader((X, y), batch_size=8, shuffle=True, rng=np.random.default_rng(0))
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)  # same seed, same sequence of epochs
        assert sorted(ea.tolist()) == list(range(50))  # each sample exactly once
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # fresh permutation per epoch
    assert not np.array_equal(epochs_a[0], np.arange(50))
    # the permutation is the loader generator's: rng.permutation(n) per epoch
    ref = np.random.default_rng(0)
    np.testing.assert_array_equal(epochs_a[0], ref.permutation(50))
    np.testing.assert_array_equal(epochs_a[1], ref.permutation(50))
    c = DataLoader((X, y), batch_size=8, shuffle=True, rng=1)
    assert not np.array_equal(np.concatenate([yb for _, yb in c]), epochs_a[0])
    # rows stay paired
    for xb, yb in a:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)


def test_loader_single_array_and_dataset_objects():
    X, y = _data(7)
    batches = list(DataLoader(X, batch_size=3))
    assert [len(b) for b in batches] == [1, 1, 1] and batches[-1][0].shape == (1, 2)
    ds = ArrayDataset(X, y)
    assert len(ds) == 7 and ds[2][1] == 2
    np.testing.assert_array_equal(ds[[0, 3]][1], [0, 3])
    assert "ArrayDataset" in repr(ds)
    out = list(DataLoader(ds, batch_size=5))
    np.testing.assert_array_equal(out[1][0], X[5:])

    class Squares:  # a map-style dataset: items are (x, y) pairs
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float32), i % 2

    got = list(DataLoader(Squares(), batch_size=2, shuffle=True, rng=0))
    assert [b[0].shape for b in got] == [(2, 2), (2, 2), (1, 2)]
    xs = np.concatenate([b[0] for b in got])
    assert sorted(xs[:, 0].tolist()) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(xs[:, 1], xs[:, 0] ** 2)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), xs[:, 0] % 2)
    # items that are single arrays give 1-tuples
    got = list(DataLoader([np.ones(3), np.zeros(3)], batch_size=2))
    assert len(got) == 1 and got[0][0].shape == (2, 3)


def test_loader_errors():
    X, y = _data(10)
    with pytest.raises(ValueError, match="dataset is empty"):
        DataLoader((X[:0], y[:0]))
    for bad in (0, -3):
        with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got {bad}"):
            DataLoader((X, y), batch_size=bad)
    with pytest.raises(ValueError, match="batch_size.*2.5"):
        DataLoader((X, y), batch_size=2.5)
    with pytest.raises(ValueError, match=r"lengths \[10, 9\]"):
        DataLoader((X, y[:9]))
    with pytest.raises(ValueError, match=r"lengths \[10, 10, 3\]"):
        ArrayDataset(X, y, y[:3])
    with pytest.raises(ValueError, match="at least one array"):
        ArrayDataset()
    with pytest.raises(TypeError, match="dataset must be"):
        DataLoader(42)


def _flat(batches):
    return [tuple(a.copy() for a in b) for b in batches]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        for xa, xb in zip(ba, bb):
            np.testing.assert_array_equal(xa, xb)


def test_loader_state_restore_at_epoch_boundary():
    X, y = _data(23)
    ref = DataLoader((X, y), batch_size=5, shuffle=True, rng=7)
    run = [_flat(ref) for _ in range(4)]

    loader = DataLoader((X, y), batch_size=5, shuffle=True, rng=7)
    _flat(loader)
    _flat(loader)
    state = pickle.loads(pickle.dumps(loader.state_dict()))  # survives a checkpoint file
    assert state["epoch"] == 2 and state["batch"] == 0
    _flat(loader)  # training goes on; the saved state is unaffected

    resumed = DataLoader((X, y), batch_size=5, shuffle=True, rng=12345)  # other seed
    resumed.load_state_dict(state)
    assert resumed.epoch == 2
    _assert_same_batches(_flat(resumed), run[2])
    _assert_same_batches(_flat(resumed), run[3])
    assert resumed.epoch == 4


def test_loader_state_restore_mid_epoch():
    X, y = _data(23)
    ref = DataLoader((X, y), batch_size=5, shuffle=True, rng=3)
    run = [_flat(ref) for _ in range(3)]

    loader = DataLoader((X, y), batch_size=5, shuffle=True, rng=3)
    _flat(loader)
    it = iter(loader)
    seen = [next(it), next(it)]  # two batches of epoch 2 trained on, then a checkpoint
    state = loader.state_dict()
    assert state["epoch"] == 1 and state["batch"] == 2
    _assert_same_batches(_flat(seen), run[1][:2])

    resumed = DataLoader((X, y), batch_size=5, shuffle=True, rng=0)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state  # nothing happens until the next iter()
    _assert_same_batches(_flat(resumed), run[1][2:])  # rest of epoch 2
    _assert_same_batches(_flat(resumed), run[2])  # then epoch 3, as uninterrupted
    # a state taken just after an epoch's last batch is at the boundary
    done = DataLoader((X, y), batch_size=5, shuffle=True, rng=3)
    _flat(done)
    assert done.state_dict()["batch"] == 0 and done.state_dict()["epoch"] == 1


def test_loader_state_mismatch_errors():
    X, y = _data(23)
    loader = DataLoader((X, y), batch_size=5, shuffle=True, rng=0)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="batch_size: saved 5, now 4"):
        DataLoader((X, y), batch_size=4, shuffle=True).load_state_dict(state)
    with pytest.raises(KeyError, match="rng_state"):
        loader.load_state_dict({"epoch": 0, "batch": 0})
    # at an epoch boundary only the RNG stream and epoch counter carry over
    boundary = DataLoader((X, y), batch_size=5, shuffle=True, rng=0).state_dict()
    other = DataLoader((X, y), batch_size=4, shuffle=True, rng=9)
    other.load_state_dict(boundary)
    first = np.concatenate([yb for _, yb in other])
    np.testing.assert_array_equal(first, np.random.default_rng(0).permutation(23))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    batch_size=st.integers(1, 64),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_loader_every_sample_once_per_epoch(n, batch_size, shuffle, drop_last, seed):
    X, y = _data(n)
    loader = DataLoader((X, y), batch_size, shuffle=shuffle, drop_last=drop_last, rng=seed)
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader)
        sizes = [len(yb) for _, yb in batches]
        assert all(s == batch_size for s in sizes[:-1]) if sizes else n < batch_size
        seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
        if drop_last:
            assert len(loader) == n // batch_size and len(seen) == len(loader) * batch_size
            assert len(set(seen.tolist())) == len(seen)  # no sample twice
        else:
            assert len(loader) == math.ceil(n / batch_size)
            assert sorted(seen.tolist()) == list(range(n))  # each sample exactly once
        for xb, yb in batches:
            np.testing.assert_array_equal(xb[:, 0], 2 * yb)


# --------------------------------------------------------------------------- digits
def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    counts = np.bincount(y)
    assert counts.sum() == 1797 and len(counts) == 10 and counts.min() >= 170
    raw, y2 = load_digits(scale=False, dtype=np.float64)
    assert raw.max() == 16.0 and np.array_equal(raw, np.round(raw))
    np.testing.assert_allclose(raw / 16, X)
    np.testing.assert_array_equal(y, y2)
    images, _ = load_digits(flatten=False)
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    X[:] = 5  # a fresh copy each call
    assert load_digits()[0].max() == 1.0


def test_load_digits_without_sklearn_says_how_to_install(monkeypatch):
    # a None entry in sys.modules makes `import sklearn.datasets` raise ImportError
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError) as info:
        load_digits()
    assert str(info.value) == 'load_digits needs scikit-learn: pip install "tinygrad-opt[digits]"'
