"""Character-level text data: shipped texts, a character vocabulary, and window batches.

::

    text = load_text("fables")                    # a str shipped inside the package
    vocab = CharVocab(text)                        # sorted distinct characters
    ids = vocab.encode(text)                       # int64 array, one id per character
    train, val = train_val_split(ids, 0.1)         # first 90% / last 10%, in order
    sampler = WindowSampler(train, context=64, batch_size=32, rng=0)
    x, y = sampler.sample()                        # int64 Tensors (32, 64); y = x shifted by 1

A window starting at position s is ``x = ids[s : s + context]`` and
``y = ids[s + 1 : s + context + 1]``: ``y[t]`` is the character that follows ``x[t]``,
so a causal model's output at t is scored against ``y[t]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any

import numpy as np

from tinygrad_opt.data._validate import RngLike, check_int
from tinygrad_opt.tensor import Tensor

__all__ = [
    "CharVocab",
    "WindowSampler",
    "available_texts",
    "load_text",
    "sequential_windows",
    "train_val_split",
]

_TEXT_DIR = "text"  # tinygrad_opt/data/text/*.txt, installed as package data


def available_texts() -> list[str]:
    """Names of the texts shipped with the package (file names without ``.txt``), sorted."""
    folder = resources.files("tinygrad_opt.data").joinpath(_TEXT_DIR)
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


def load_text(name: str = "fables") -> str:
    """The shipped text ``name`` as one str (UTF-8, newlines kept).

    ``"fables"``: about 38 kB of original short fables about learning, slopes and
    optimizers, written for this project (ASCII, 71 distinct characters). Raises
    ``ValueError`` listing the available names for an unknown one.
    """
    names = available_texts()
    if name not in names:
        raise ValueError(f"load_text: no text named {name!r}; available: {', '.join(names)}")
    path = resources.files("tinygrad_opt.data").joinpath(_TEXT_DIR).joinpath(f"{name}.txt")
    return path.read_text(encoding="utf-8")


class CharVocab:
    """A bijection between characters and ids 0..V-1, ids in sorted character order.

    ``CharVocab(text)`` takes the distinct characters of ``text`` (any iterable of
    one-character strings). ``itos[i]`` is the character of id i, ``stoi[c]`` the id of
    character c; ``encode`` and ``decode`` map whole strings. ``len(vocab)`` is V.
    """

    def __init__(self, text: str | Iterable[str]) -> None:
        chars = sorted(set(text))
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise TypeError(f"CharVocab: expected one-character strings, got {c!r}")
        if not chars:
            raise ValueError("CharVocab: the text is empty, so there are no characters")
        self.itos: list[str] = chars
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def vocab_size(self) -> int:
        """V, the number of distinct characters."""
        return len(self.itos)

    def __contains__(self, char: object) -> bool:
        return char in self.stoi

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters: {''.join(self.itos)!r})"

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, an int64 array of shape (len(text),).

        A character not in the vocabulary raises ``KeyError`` naming it and its position.
        """
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            raise KeyError(
                f"CharVocab.encode: character {text[pos]!r} at position {pos} is not in the "
                f"vocabulary of {len(self)} characters"
            ) from err

    def decode(self, ids: Any) -> str:
        """The string spelled by ``ids`` (a Tensor, array or list of ints, any shape,
        read in row-major order); an id outside [0, V) raises ``IndexError``."""
        arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        arr = arr.reshape(-1)
        if arr.size == 0:
            return ""
        if arr.dtype.kind not in "iu":
            raise TypeError(f"CharVocab.decode: ids must be integers, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= len(self))
        if bad.any():
            raise IndexError(
                f"CharVocab.decode: id {int(arr[bad][0])} is out of range for a vocabulary "
                f"of {len(self)} characters"
            )
        return "".join(map(self.itos.__getitem__, arr.tolist()))


def train_val_split(ids: Any, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split an id stream in two contiguous parts: the first ``1 - val_fraction`` for
    training and the last ``val_fraction`` for validation (views, no copy).

    Contiguous rather than shuffled: overlapping windows of a shuffled split would put
    the same characters in both parts. ``val_fraction`` must be in [0, 1).
    """
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"train_val_split: ids must be 1-D, got shape {arr.shape}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(round(len(arr) * float(val_fraction)))
    cut = len(arr) - n_val
    return arr[:cut], arr[cut:]


def _windows(ids: np.ndarray, starts: np.ndarray, context: int) -> tuple[Tensor, Tensor]:
    """x[b] = ids[s_b : s_b + context], y[b] = ids[s_b + 1 : s_b + context + 1]."""
    rows = starts[:, None] + np.arange(context + 1)  # (B, context + 1) positions
    chunk = ids[rows].astype(np.int64, copy=False)
    return Tensor(np.ascontiguousarray(chunk[:, :-1])), Tensor(np.ascontiguousarray(chunk[:, 1:]))


def _stream(who: str, ids: Any, context: int) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{who}: ids must be a 1-D integer array, got {arr.dtype} {arr.shape}")
    if len(arr) < context + 1:
        raise ValueError(
            f"{who}: {len(arr)} ids are too few for one window of context {context} "
            f"(needs context + 1 = {context + 1})"
        )
    return arr


class WindowSampler:
    """Random (inputs, targets) windows of ``context`` ids from a 1-D id stream.

    ``WindowSampler(ids, context, batch_size, rng=None)``. Each :meth:`sample` draws
    ``batch_size`` start positions uniformly (with replacement) from the
    ``len(ids) - context`` valid ones with the sampler's own seeded generator, so the same
    seed gives the same batches. Iterating yields samples forever.
    """

    def __init__(self, ids: Any, context: int, batch_size: int, rng: RngLike = None) -> None:
        self.context = check_int("WindowSampler", "context", context, 1)
        self.batch_size = check_int("WindowSampler", "batch_size", batch_size, 1)
        self.ids = _stream("WindowSampler", ids, self.context)
        self.rng = np.random.default_rng(rng)

    @property
    def num_windows(self) -> int:
        """How many distinct windows there are: ``len(ids) - context``."""
        return len(self.ids) - self.context

    def sample(self) -> tuple[Tensor, Tensor]:
        """One batch ``(x, y)``, int64 Tensors of shape (batch_size, context)."""
        starts = self.rng.integers(0, self.num_windows, self.batch_size)
        return _windows(self.ids, starts, self.context)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        while True:
            yield self.sample()


def sequential_windows(ids: Any, context: int, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Consecutive non-overlapping windows covering the stream once, in order, batched.

    Window k starts at k·context; there are ``(len(ids) - 1) // context`` of them (the
    tail too short for a whole window is left out), grouped into batches of
    ``batch_size`` (the last batch may be smaller). Every position of the stream is a
    target at most once, so the mean loss over these batches, weighted by batch size, is
    the loss on the stream: what a validation loss should measure.
    """
    context = check_int("sequential_windows", "context", context, 1)
    batch_size = check_int("sequential_windows", "batch_size", batch_size, 1)
    arr = _stream("sequential_windows", ids, context)
    starts = np.arange((len(arr) - 1) // context) * context
    for i in range(0, len(starts), batch_size):
        yield _windows(arr, starts[i : i + batch_size], context)
