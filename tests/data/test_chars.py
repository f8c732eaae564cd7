"""Character-level text data: the shipped text, CharVocab, the split and the window samplers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.data import (
    CharVocab,
    WindowSampler,
    available_texts,
    load_text,
    sequential_windows,
    train_val_split,
)
from tinygrad_opt.tensor import Tensor

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- shipped text
def test_fables_is_shipped_and_sizeable():
    assert "fables" in available_texts()
    text = load_text("fables")
    assert load_text() == text  # the default
    assert 30_000 <= len(text.encode("utf-8")) <= 60_000
    assert text.isascii()
    assert text == (ROOT / "tinygrad_opt/data/text/fables.txt").read_text(encoding="utf-8")
    words = text.split()
    assert len(set(words)) > 2_000  # varied vocabulary for a character model
    for mark in ".,;:?!\"'()-\n":
        assert mark in text, mark


def test_text_is_declared_as_package_data():
    """pyproject installs data/text/*.txt, so importlib.resources finds it in a wheel too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinygrad_opt.data"]
    folder = ROOT / "tinygrad_opt" / "data"
    shipped = {p for pattern in patterns for p in folder.glob(pattern)}
    assert {folder / "text" / f"{name}.txt" for name in available_texts()} <= shipped


def test_unknown_text_names_the_available_ones():
    with pytest.raises(ValueError, match="no text named 'shakespeare'; available: fables"):
        load_text("shakespeare")


# --------------------------------------------------------------------------- vocabulary
def test_vocab_of_the_fables():
    text = load_text()
    vocab = CharVocab(text)
    assert vocab.itos == sorted(set(text))
    assert len(vocab) == vocab.vocab_size == len(set(text))
    assert all(vocab.stoi[c] == i for i, c in enumerate(vocab.itos))
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text
    assert "\n" in vocab and "~" not in vocab
    assert repr(vocab).startswith(f"CharVocab({len(vocab)} characters")


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40), st.data())
def test_encode_decode_round_trip(text, data):
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    assert vocab.decode(ids) == text
    assert vocab.decode(Tensor(ids)) == text
    assert vocab.decode(ids.tolist()) == text
    assert vocab.decode(ids.reshape(1, -1)) == text  # any shape, row-major
    sub = data.draw(st.text(alphabet=sorted(set(text)), max_size=10))
    assert vocab.decode(vocab.encode(sub)) == sub
    assert np.all(np.diff([vocab.stoi[c] for c in vocab.itos]) == 1)


def test_vocab_errors():
    vocab = CharVocab("abc")
    with pytest.raises(KeyError, match="character 'z' at position 2 is not in the vocabulary"):
        vocab.encode("abz")
    with pytest.raises(IndexError, match="id 3 is out of range for a vocabulary of 3"):
        vocab.decode([0, 3])
    with pytest.raises(IndexError, match="id -1 is out of range"):
        vocab.decode(np.array([-1]))
    with pytest.raises(TypeError, match="ids must be integers"):
        vocab.decode(np.array([0.5]))
    with pytest.raises(ValueError, match="the text is empty"):
        CharVocab("")
    with pytest.raises(TypeError, match="one-character strings"):
        CharVocab(["ab", "c"])
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""


# --------------------------------------------------------------------------- split
def test_train_val_split_is_contiguous():
    ids = np.arange(1000)
    train, val = train_val_split(ids, 0.1)
    assert np.array_equal(train, np.arange(900)) and np.array_equal(val, np.arange(900, 1000))
    train, val = train_val_split(ids, 0.0)
    assert len(train) == 1000 and len(val) == 0
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="val_fraction must be in"):
            train_val_split(ids, bad)
    with pytest.raises(ValueError, match="must be 1-D"):
        train_val_split(ids.reshape(10, 100))


# --------------------------------------------------------------------------- samplers
@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 300),
    context=st.integers(1, 40),
    batch=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_window_sampler_targets_are_inputs_shifted(n, context, batch, seed):
    if n < context + 1:
        with pytest.raises(ValueError, match="too few for one window"):
            WindowSampler(np.arange(n), context, batch)
        return
    ids = np.arange(n) * 7 % 1009  # distinct values, so windows can be located
    sampler = WindowSampler(ids, context, batch, rng=seed)
    x, y = sampler.sample()
    assert x.dtype == np.int64 and y.dtype == np.int64
    assert x.shape == y.shape == (batch, context)
    starts = [int(np.flatnonzero(ids == row[0])[0]) for row in x.data]
    for row_x, row_y, s in zip(x.data, y.data, starts):
        assert np.array_equal(row_x, ids[s : s + context])
        assert np.array_equal(row_y, ids[s + 1 : s + context + 1])
        assert 0 <= s < sampler.num_windows == n - context
    again = WindowSampler(ids, context, batch, rng=seed).sample()
    assert np.array_equal(again[0].data, x.data)  # seeded


def test_window_sampler_covers_every_start_and_iterates():
    ids = np.arange(20)
    sampler = WindowSampler(ids, context=5, batch_size=64, rng=0)
    seen = set()
    for _, (x, _) in zip(range(5), sampler):
        seen |= set(x.data[:, 0].tolist())
    assert seen == set(range(15))  # every valid start, none past the end


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="context must be positive, got 0"):
        WindowSampler(np.arange(10), 0, 2)
    with pytest.raises(ValueError, match="batch_size must be positive, got 0"):
        WindowSampler(np.arange(10), 3, 0)
    with pytest.raises(TypeError, match="context must be an integer"):
        WindowSampler(np.arange(10), 2.5, 2)
    with pytest.raises(ValueError, match="1-D integer array"):
        WindowSampler(np.arange(10.0), 3, 2)
    with pytest.raises(ValueError, match="1-D integer array"):
        list(sequential_windows(np.zeros((3, 4), dtype=int), 2, 2))


@pytest.mark.parametrize("n, context, batch", [(65, 64, 4), (200, 8, 5), (101, 10, 3)])
def test_sequential_windows_cover_the_stream_once(n, context, batch):
    ids = np.arange(n)
    batches = list(sequential_windows(ids, context, batch))
    x = np.concatenate([b[0].data for b in batches])
    y = np.concatenate([b[1].data for b in batches])
    k = (n - 1) // context
    assert x.shape == y.shape == (k, context)
    assert np.array_equal(x.reshape(-1), ids[: k * context])
    assert np.array_equal(y.reshape(-1), ids[1 : k * context + 1])
    assert all(len(b[0].data) == batch for b in batches[:-1])
