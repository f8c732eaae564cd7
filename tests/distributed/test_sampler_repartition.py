"""A sampler's state loads into another world size with the same global batch (the same
examples per step, shared out anew) and is refused with another global batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.distributed import DistributedSampler


@settings(max_examples=40, deadline=None)
@given(
    world=st.sampled_from([(1, 12), (2, 6), (3, 4), (4, 3), (6, 2), (12, 1)]),
    other=st.sampled_from([(1, 12), (2, 6), (3, 4), (4, 3), (6, 2), (12, 1)]),
    taken=st.integers(0, 20),
)
def test_state_moves_to_another_world_size_with_the_same_global_batch(world, other, taken):
    n, (w0, b0), (w1, b1) = 100, world, other
    first = [DistributedSampler(n, b0, r, w0, seed=4) for r in range(w0)]
    its = [iter(s) for s in first]
    for _ in range(taken):
        for it in its:
            next(it)
    state = first[0].state_dict()
    second = [DistributedSampler(n, b1, r, w1, seed=4) for r in range(w1)]
    for s in second:
        s.load_state_dict(state)
    its0, its1 = [iter(s) for s in first], [iter(s) for s in second]
    for _ in range(10):  # the next global batches are the same examples, in the same order
        a = np.concatenate([next(it) for it in its0])
        b = np.concatenate([next(it) for it in its1])
        np.testing.assert_array_equal(a, b)


def test_another_global_batch_is_refused_naming_both():
    state = DistributedSampler(100, 8, 0, 2, seed=1).state_dict()
    with pytest.raises(ValueError, match=r"global batch of 16, this sampler 4 × 8 = 32"):
        DistributedSampler(100, 8, 0, 4, seed=1).load_state_dict(state)
    old = {k: v for k, v in state.items() if k != "global_batch_size"}  # older files
    DistributedSampler(100, 8, 0, 4, seed=1).load_state_dict(old)
