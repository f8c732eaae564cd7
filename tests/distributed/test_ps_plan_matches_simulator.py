"""The MPI parameter server's shard plan is the simulator's ``greedy`` placement."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt.cluster.placement import place_tensors
from tinygrad_opt.distributed.parameter_server import plan_shards


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(1, 300), min_size=1, max_size=25), k=st.integers(1, 6))
def test_plan_shards_equals_greedy_placement(sizes, k):
    k = min(k, len(sizes))
    params = [SimpleNamespace(data=np.empty(s, dtype=np.float32)) for s in sizes]
    owner = plan_shards(params, k).owner
    pieces = place_tensors(sizes, k, "greedy").pieces
    assert sorted(pieces) == [(i, owner[i], s) for i, s in enumerate(sizes)]
