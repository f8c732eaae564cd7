"""The embedding backward's scatter-add (sort + reduceat) against ``np.add.at``."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn
from tinygrad_opt.nn.embedding import scatter_add_rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "vocab"), [(0, 5), (1, 5), (50, 3), (2048, 71), (64, 64)])
def test_scatter_add_rows_is_add_at(dtype, n, vocab):
    rng = np.random.default_rng(n)
    idx = rng.integers(0, vocab, n)
    rows = rng.standard_normal((n, 7)).astype(dtype)
    expected = np.zeros((vocab, 7), dtype=dtype)
    np.add.at(expected, idx, rows)
    got = scatter_add_rows(idx, rows, (vocab, 7))
    assert got.dtype == dtype and got.shape == (vocab, 7)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    unused = np.setdiff1d(np.arange(vocab), idx)
    assert not got[unused].any()


def test_embedding_gradient_sums_repeated_ids():
    emb = nn.Embedding(4, 3, rng=0)
    ids = np.array([[0, 2, 2], [3, 2, 0]])
    out = emb(ids)
    g = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    out.backward(Tensor(g))
    expected = np.zeros((4, 3), dtype=np.float32)
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, 3))
    np.testing.assert_array_equal(emb.weight.grad.data, expected)
