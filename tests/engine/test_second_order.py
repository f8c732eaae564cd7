"""Second derivatives of every op-table case (``cases_*.py``): see ``secondorder.py``.

- ``test_recorded_first_order``: the recorded backward (``create_graph=True``) gives the
  same first-order gradients as the numpy one.
- ``test_second_order_finite_differences``: ∇S along random directions against central
  differences of the numpy first-order gradients (float64 cases; no torch).
- ``test_second_order_torch``: ∇S against ``torch.autograd.grad(create_graph=True)``.

A case opts out of the second-order checks with ``second=False`` in its table, of the
finite differences only with ``second_fd=False`` (meaningless there: a tie or kink at the
data, or S not finite), and lets torch be nan where ours is a number with
``second_torch=False`` (torch's formula divides 0 by 0 there) — each only for a reason
written beside it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from optable import run_ours, torch
from secondorder import (
    finite_differences,
    float64_only,
    run_second_ours,
    run_second_torch,
)
from test_op_table import CASES


def _float_domain(domain: str) -> bool:
    """Whether an input domain of the tables is floating ("int" is integer-valued floats;
    "int<K>", "long<K>", "slong" and "bool" are not)."""
    base = domain.split("@")[0]
    return base not in ("bool", "slong") and not re.fullmatch(r"(long|int)\d+", base)


DIFFERENTIABLE = [
    (kind, c)
    for kind, c in CASES
    if c.grad and getattr(c, "second", True) and any(_float_domain(s[1]) for s in c.specs())
]
IDS = [c.name for _, c in DIFFERENTIABLE]


@pytest.mark.parametrize("kind, case", DIFFERENTIABLE, ids=IDS)
def test_recorded_first_order(kind, case):
    inputs = case.make_inputs()
    firsts, _, _, us = run_second_ours(case.ours, inputs, case.seed())
    _, _, grads = run_ours(case.ours, inputs, True, us)
    for i, (a, b) in enumerate(zip(firsts, grads)):
        if a is None or b is None:
            continue
        np.testing.assert_allclose(
            a, b, rtol=case.rtol, atol=case.atol, equal_nan=True,
            err_msg=f"{case.name}: recorded gradient of input {i}",
        )  # fmt: skip


@pytest.mark.parametrize("kind, case", DIFFERENTIABLE, ids=IDS)
def test_second_order_finite_differences(kind, case):
    inputs = case.make_inputs()
    if not float64_only(inputs):
        pytest.skip("finite differences need float64 inputs")
    if any(domain.split("@")[0] == "int" for _, domain in case.specs()):
        pytest.skip("integer-valued data is put on the kinks: differences are meaningless there")
    if not case.second_fd:
        pytest.skip("finite differences are meaningless here (see the case's table)")
    _, sx, su, us = run_second_ours(case.ours, inputs, case.seed())
    for analytic, numeric in finite_differences(case.ours, inputs, us, sx, su, case.seed()):
        if np.isnan(numeric) and np.isnan(analytic):
            continue  # S itself is nan (inputs outside the domain, infinities)
        assert abs(analytic - numeric) <= 1e-5 + 1e-4 * abs(numeric), (
            f"{case.name}: directional second derivative {analytic!r}, finite differences "
            f"{numeric!r}"
        )


@pytest.mark.torch
@pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")
@pytest.mark.parametrize("kind, case", DIFFERENTIABLE, ids=IDS)
def test_second_order_torch(kind, case):
    inputs = case.make_inputs()
    _, sx, su, us = run_second_ours(case.ours, inputs, case.seed())
    try:
        tx, tu = run_second_torch(case.theirs, inputs, us, case.seed())
    except (RuntimeError, NotImplementedError) as e:
        if "not implemented" in str(e).lower():
            pytest.skip(f"torch has no double backward here: {e}")
        raise
    for what, ours, theirs in (("input", sx, tx), ("upstream", su, tu)):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if a is None or b is None:
                continue
            if not case.second_torch:  # torch's nan (0/0 in its formula) is ours elsewhere
                b = np.where(np.isnan(b) & ~np.isnan(a), a, b)
            np.testing.assert_allclose(
                a, b, rtol=max(case.rtol, 1e-9), atol=max(case.atol, 1e-11), equal_nan=True,
                err_msg=f"{case.name}: second derivative with respect to {what} {i}",
            )  # fmt: skip
