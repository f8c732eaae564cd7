"""The 8×8 handwritten digits (UCI optdigits test set), from scikit-learn's bundled copy.

scikit-learn ships this small dataset inside its wheel (``sklearn/datasets/data/``), so
loading it downloads nothing. scikit-learn is an optional dependency:
``pip install "tinygrad-opt[digits]"``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["load_digits"]

INSTALL_HINT = 'load_digits needs scikit-learn: pip install "tinygrad-opt[digits]"'


@functools.lru_cache(maxsize=1)
def _raw_digits(sk_load_digits: Any) -> tuple[np.ndarray, np.ndarray]:
    """(images as uint8 (1797, 8, 8) with values 0..16, labels int64), read once."""
    bunch = sk_load_digits()
    images = np.asarray(bunch.images).astype(np.uint8)
    labels = np.asarray(bunch.target).astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_digits(
    flatten: bool = True,
    scale: bool = True,
    dtype: Any = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 grey-scale digit images and their labels 0–9 (about 180 per class).

    Pixel values are integers 0–16 (counts of set pixels in 4×4 blocks of the original
    32×32 bitmaps). With ``scale=True`` they are divided by 16, so ``X`` is in [0, 1].

    Returns ``(X, y)``: ``X`` of ``dtype`` with shape (1797, 64) if ``flatten`` (row-major
    pixels, for an MLP) else (1797, 1, 8, 8) (N, C, H, W, for a CNN); ``y`` (1797,)
    int64. The arrays are fresh copies, in scikit-learn's order (not shuffled).

    Raises ImportError with an install hint when scikit-learn is not installed.
    """
    try:  # imported on every call (cheap once loaded), so a missing sklearn always says so
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    images, labels = _raw_digits(sk_load_digits)
    X = (images / 16 if scale else images).astype(dtype)  # always a fresh array
    X = X.reshape(len(X), 64) if flatten else X.reshape(len(X), 1, 8, 8)
    return X, labels.copy()
