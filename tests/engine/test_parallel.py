"""tinygrad_opt.parallel: chunked elementwise work on the intra-op threads.

for_each_chunk must visit every index exactly once whatever the thread count, re-raise
a chunk's exception, and the tanh GELU built on it must give bit-identical results on
one thread and on several (each element sees the same operations), in float32, for
contiguous and strided inputs, and match the float64 formula.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from tinygrad_opt import Tensor, parallel
from tinygrad_opt.ops.activation import gelu


@pytest.fixture(autouse=True)
def restore_threads():
    before = parallel._state["threads"]
    yield
    parallel._state["threads"] = before


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize(("n", "chunk"), [(0, 4), (1, 4), (10, 3), (1000, 7), (64, 64)])
def test_every_index_is_visited_once(threads, n, chunk):
    parallel.set_num_threads(threads)
    hits = np.zeros(n, dtype=np.int64)
    names = set()

    def fn(i, j):
        assert 0 <= i < j <= n and j - i <= chunk
        hits[i:j] += 1
        names.add(threading.current_thread().name)

    parallel.for_each_chunk(fn, n, chunk=chunk)
    assert np.array_equal(hits, np.ones(n, dtype=np.int64))
    assert len(names) <= threads


def test_an_exception_in_a_chunk_reaches_the_caller():
    parallel.set_num_threads(2)

    def fn(i, j):
        if i <= 500 < j:
            raise ZeroDivisionError(f"chunk {i}:{j}")

    with pytest.raises(ZeroDivisionError, match="chunk"):
        parallel.for_each_chunk(fn, 1000, chunk=10)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="set_num_threads: n must be an integer >= 1"):
        parallel.set_num_threads(bad)


def test_thread_count_is_what_was_set():
    parallel.set_num_threads(3)
    assert parallel.get_num_threads() == 3
    parallel._state["threads"] = None
    assert 1 <= parallel.get_num_threads() <= 8


def test_scratch_is_reused_per_thread():
    a = parallel.scratch(10, np.float32)
    b = parallel.scratch(20, np.float32)
    assert a.dtype == np.float32 and a.shape == (10,) and b.shape == (20,)
    assert np.shares_memory(a, b)  # the same buffer, within CHUNK_ELEMENTS
    assert parallel.scratch(5, np.float64).dtype == np.float64


def _gelu_tanh_f64(x):
    x = x.astype(np.float64)
    t = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    dt = (1 - t * t) * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
    return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * dt


@pytest.mark.parametrize("strided", [False, True])
def test_gelu_tanh_same_bits_on_one_and_three_threads(strided):
    rng = np.random.default_rng(0)
    x = (4 * rng.standard_normal((3, 200_001))).astype(np.float32)  # several chunks
    x = x[:, ::2] if strided else x
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for threads in (1, 3):
        parallel.set_num_threads(threads)
        t = Tensor(x, requires_grad=True)
        y = gelu(t, "tanh")
        y.backward(Tensor(g))
        assert y.dtype == np.float32 and t.grad.dtype == np.float32
        results.append((y.data, np.asarray(t.grad)))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    value, slope = _gelu_tanh_f64(x)
    assert np.max(np.abs(results[0][0] - value)) <= 1e-5 * np.max(np.abs(value))
    assert np.max(np.abs(results[0][1] - g * slope)) <= 1e-5 * np.max(np.abs(g * slope))


@pytest.mark.parametrize("causal", [False, True])
def test_attention_same_bits_on_one_and_three_threads(causal):
    """Attention's softmax and its backward run in row blocks on the intra-op threads."""
    from tinygrad_opt.nn.functional import scaled_dot_product_attention

    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((4, 4, 128, 16)).astype(np.float32) for _ in range(3))
    g = rng.standard_normal((4, 4, 128, 16)).astype(np.float32)
    results = []
    for threads in (1, 3):
        parallel.set_num_threads(threads)
        tq, tk, tv = (Tensor(a, requires_grad=True) for a in (q, k, v))
        out = scaled_dot_product_attention(tq, tk, tv, is_causal=causal)
        out.backward(Tensor(g))
        results.append([out.data, *(np.asarray(t.grad) for t in (tq, tk, tv))])
    for a, b in zip(*results):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    s = q.astype(np.float64) @ np.swapaxes(k, -1, -2) / 4.0  # scale 1/sqrt(16)
    if causal:
        s = np.where(np.tri(128, dtype=bool), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(results[0][0], p @ v, rtol=1e-4, atol=1e-5)
