"""Datasets and mini-batching.

* Generated on the spot (nothing is downloaded), seeded with ``numpy.random.Generator``:
  :func:`make_moons`, :func:`make_spirals`, :func:`make_blobs`, :func:`make_regression`,
  and :func:`train_test_split`.
* :class:`DataLoader` / :class:`ArrayDataset`: seeded, resumable mini-batches of numpy
  arrays.
* :func:`load_digits`: the real 8×8 handwritten digits, from scikit-learn's bundled copy
  (optional extra: ``pip install "tinygrad-opt[digits]"``).
* Character-level text (``data/chars.py``): :func:`load_text` (texts shipped in the
  package, e.g. ``"fables"``), :class:`CharVocab`, :func:`train_val_split`,
  :class:`WindowSampler` (seeded random windows) and :func:`sequential_windows`.
"""

from tinygrad_opt.data.chars import (
    CharVocab,
    WindowSampler,
    available_texts,
    load_text,
    sequential_windows,
    train_val_split,
)
from tinygrad_opt.data.datasets import make_moons, train_test_split
from tinygrad_opt.data.digits import load_digits
from tinygrad_opt.data.generated import make_blobs, make_regression, make_spirals
from tinygrad_opt.data.loader import ArrayDataset, DataLoader

__all__ = [
    "ArrayDataset",
    "CharVocab",
    "DataLoader",
    "WindowSampler",
    "available_texts",
    "load_digits",
    "load_text",
    "make_blobs",
    "make_moons",
    "make_regression",
    "make_spirals",
    "sequential_windows",
    "train_test_split",
    "train_val_split",
]
