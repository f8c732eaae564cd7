"""Datasets and mini-batching.

* Generated on the spot (nothing is downloaded), seeded with ``numpy.random.Generator``:
  :func:`make_moons`, :func:`make_spirals`, :func:`make_blobs`, :func:`make_regression`,
  and :func:`train_test_split`.
* :class:`DataLoader` / :class:`ArrayDataset`: seeded, resumable mini-batches of numpy
  arrays.
* :func:`load_digits`: the real 8×8 handwritten digits, from scikit-learn's bundled copy
  (optional extra: ``pip install "tinygrad-opt[digits]"``).
"""

from tinygrad_opt.data.datasets import make_moons, train_test_split
from tinygrad_opt.data.digits import load_digits
from tinygrad_opt.data.generated import make_blobs, make_regression, make_spirals
from tinygrad_opt.data.loader import ArrayDataset, DataLoader

__all__ = [
    "ArrayDataset",
    "DataLoader",
    "load_digits",
    "make_blobs",
    "make_moons",
    "make_regression",
    "make_spirals",
    "train_test_split",
]
