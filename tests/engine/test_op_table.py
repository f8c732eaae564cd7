"""Drives every torch-oracle table of ``tests/engine/cases_*.py`` (see ``optable.py``).

- ``test_case_live``: each fixed case against torch, now (skipped without torch).
- ``test_case_fixture``: each fixed case against torch's numbers committed in
  ``tests/fixtures/ops_<kind>.npz`` (refresh with ``python scripts/make_op_fixtures.py``).
- ``test_unary`` / ``test_binary`` / ``test_reduce``: hypothesis-drawn shapes (0-d, empty,
  broadcasting pairs), dims and keepdim, against torch, live.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from optable import compare, make_array, run_ours, run_torch, torch, upstreams

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "fixtures"
KINDS = sorted(p.stem.removeprefix("cases_") for p in HERE.glob("cases_*.py"))
TABLES = {k: importlib.import_module(f"cases_{k}") for k in KINDS}


def _collect(attr: str) -> list:
    out = []
    for kind, mod in TABLES.items():
        for item in getattr(mod, attr, []):
            out.append((kind, item))
    names = [item.name for _, item in out]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"duplicate {attr} names across tables: {sorted(dup)}"
    return out


CASES = _collect("CASES")
UNARY = _collect("UNARY")
BINARY = _collect("BINARY")
REDUCE = _collect("REDUCE")

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) not importable")


def fixture_path(kind: str) -> Path:
    return FIXTURES / f"ops_{kind}.npz"


# --------------------------------------------------------------------------- fixed cases
@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("kind, case", CASES, ids=[c.name for _, c in CASES])
def test_case_live(kind, case):
    inputs = case.make_inputs()
    outs, us, grads = run_ours(case.ours, inputs, case.grad, seed=case.seed())
    ref_outs, ref_grads = run_torch(case.theirs, inputs, case.grad, us)
    compare(case.name, outs, grads, ref_outs, ref_grads, case.rtol, case.atol, "torch")


_loaded: dict[str, dict[str, np.ndarray]] = {}


def _fixture(kind: str) -> dict[str, np.ndarray]:
    if kind not in _loaded:
        path = fixture_path(kind)
        if not path.exists():
            pytest.fail(f"{path} is missing: run `python scripts/make_op_fixtures.py`")
        with np.load(path) as f:
            _loaded[kind] = {k: f[k] for k in f.files}
    return _loaded[kind]


@pytest.mark.parametrize("kind, case", CASES, ids=[c.name for _, c in CASES])
def test_case_fixture(kind, case):
    data = _fixture(kind)
    name = case.name
    assert f"{name}/out0" in data, (
        f"case {name!r} is not in {fixture_path(kind).name}: "
        "run `python scripts/make_op_fixtures.py`"
    )
    inputs = [data[f"{name}/in{i}"] for i in range(len(case.specs()))]
    for a, (shape, _) in zip(inputs, case.specs()):
        assert a.shape == shape, f"{name}: fixture input shape {a.shape}, table says {shape}"
    n_out = sum(1 for k in data if k.startswith(f"{name}/out"))
    ref_outs = [data[f"{name}/out{j}"] for j in range(n_out)]
    us = [data.get(f"{name}/u{j}") for j in range(n_out)]
    outs, _, grads = run_ours(case.ours, inputs, case.grad, us=us)
    ref_grads = [data.get(f"{name}/grad{i}") for i in range(len(inputs))]
    compare(name, outs, grads, ref_outs, ref_grads, case.rtol, case.atol, "torch (fixture)")


@pytest.mark.parametrize("kind", [k for k in KINDS if getattr(TABLES[k], "CASES", None)])
def test_fixture_matches_table(kind):
    names = {c.name for k, c in CASES if k == kind}
    stored = {key.split("/")[0] for key in _fixture(kind)}
    assert stored == names, (
        f"{fixture_path(kind).name} and cases_{kind}.py differ: missing "
        f"{sorted(names - stored)}, stale {sorted(stored - names)}; "
        "run `python scripts/make_op_fixtures.py`"
    )


# --------------------------------------------------------------------------- hypothesis
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(name, ours, theirs, inputs, grad, rtol, atol):
    outs0, _ = run_torch(theirs, inputs, False, [])
    us = upstreams(0, outs0)
    outs, _, grads = run_ours(ours, inputs, grad, us=us)
    ref_outs, ref_grads = run_torch(theirs, inputs, grad, us)
    compare(name, outs, grads, ref_outs, ref_grads, rtol, atol, "torch")


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("kind, spec", UNARY, ids=[s.name for _, s in UNARY])
@SETTINGS
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
    seed=st.integers(0, 2**16),
)
def test_unary(kind, spec, shape, seed):
    x = make_array(np.random.default_rng(seed), shape, spec.domain)
    _check(spec.name, spec.ours, spec.theirs, [x], spec.grad, spec.rtol, spec.atol)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("kind, spec", BINARY, ids=[s.name for _, s in BINARY])
@SETTINGS
@given(
    shapes=hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=4
    ),
    seed=st.integers(0, 2**16),
)
def test_binary(kind, spec, shapes, seed):
    rng = np.random.default_rng(seed)
    a = make_array(rng, shapes.input_shapes[0], spec.domain_a)
    b = make_array(rng, shapes.input_shapes[1], spec.domain_b)
    _check(spec.name, spec.ours, spec.theirs, [a, b], spec.grad, spec.rtol, spec.atol)


@st.composite
def _reduce_args(draw, dims: str, nonempty: bool):
    shape = draw(
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=1 if nonempty else 0, max_side=4)
    )
    nd = len(shape)
    span = st.integers(-max(nd, 1), max(nd, 1) - 1)
    if dims == "one":
        dim = draw(span)
    elif dims == "opt":
        dim = draw(st.one_of(st.none(), span))
    else:
        many = (
            st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)
            if nd
            else st.just(())
        )
        dim = draw(st.one_of(st.none(), many))
    return shape, dim, draw(st.booleans())


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("kind, spec", REDUCE, ids=[s.name for _, s in REDUCE])
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_reduce(kind, spec, data, seed):
    shape, dim, keepdim = data.draw(_reduce_args(spec.dims, spec.nonempty))
    x = make_array(np.random.default_rng(seed), shape, spec.domain)
    _check(
        f"{spec.name}(dim={dim}, keepdim={keepdim}) of {shape}",
        lambda t: spec.ours(t, dim, keepdim),
        lambda t: spec.theirs(t, dim, keepdim),
        [x],
        spec.grad,
        spec.rtol,
        spec.atol,
    )
