"""Second derivatives of the reductions, scans and sorts on hypothesis-drawn shapes (0-d
and empty included), dims and keepdim: the ``REDUCE`` specs of ``cases_reduce.py``,
``cases_scan.py`` and ``cases_sort.py``, against torch and against finite differences
(see ``secondorder.py`` for S and the three checks)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optable import make_array, torch
from secondorder import finite_differences, run_second_ours, run_second_torch
from test_op_table import REDUCE, _reduce_args

# sum_f64_dtype casts first: its second derivative is the cast's (another module's)
ELSEWHERE = {"sum_f64_dtype"}
SPECS = [
    (kind, s)
    for kind, s in REDUCE
    if kind in ("reduce", "scan", "sort")
    and s.grad
    and s.name not in ELSEWHERE
    and s.domain not in ("bool", "slong")
    and not re.fullmatch(r"(long|int)\d+", s.domain)
]
SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("kind, spec", SPECS, ids=[s.name for _, s in SPECS])
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_second_order_drawn(kind, spec, data, seed):
    shape, dim, keepdim = data.draw(_reduce_args(spec.dims, spec.nonempty))
    x = make_array(np.random.default_rng(seed), shape, spec.domain)
    what = f"{spec.name}(dim={dim}, keepdim={keepdim}) of {shape}"

    def ours(t):
        return spec.ours(t, dim, keepdim)

    def theirs(t):
        return spec.theirs(t, dim, keepdim)

    # ties ("int" data): the gradient jumps, so finite differences of it are meaningless
    fd = spec.domain != "int"
    _, sx, su, us = run_second_ours(ours, [x], seed)
    tx, tu = run_second_torch(theirs, [x], us, seed)
    for side, mine, ref in (("input", sx, tx), ("upstream", su, tu)):
        for a, b in zip(mine, ref):
            if a is None or b is None:
                continue
            if fd:  # torch's nan where a gradient is taken as 0 (its 0/0): ours is checked below
                b = np.where(np.isnan(b) & np.isfinite(a), a, b)
            np.testing.assert_allclose(
                a, b, rtol=1e-9, atol=1e-11, equal_nan=True, err_msg=f"{what}: {side}"
            )
    if not fd:
        return
    for analytic, numeric in finite_differences(ours, [x], us, sx, su, seed):
        if not np.isfinite(numeric):  # S itself is nan or inf there (n <= correction …)
            continue
        assert abs(analytic - numeric) <= 1e-5 + 1e-4 * abs(numeric), (
            f"{what}: directional second derivative {analytic!r}, finite differences {numeric!r}"
        )
