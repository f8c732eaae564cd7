"""The engine's torch-oracle tables: one format for every op, three ways to run it.

A table lives in a ``cases_<kind>.py`` module of this folder and may define:

- ``CASES``: fixed :class:`Case` s (named inputs, deterministic data). Each runs live
  against torch (forward values, dtypes, shapes; gradients of the float inputs in
  float64) and against the committed fixture ``tests/fixtures/ops_<kind>.npz`` (made by
  ``python scripts/make_op_fixtures.py``), so the agreement is checked without torch too.
- ``UNARY``, ``BINARY``, ``REDUCE``: :class:`Unary`, :class:`Binary`, :class:`Reduce`
  specs that ``test_op_table.py`` runs on hypothesis-drawn shapes (broadcasting pairs,
  0-d and empty tensors, every dim and keepdim) against torch, live.

Gradients are those of Σ_j sum(out_j · u_j) for fixed random ``u_j`` (a vector-Jacobian
product), so every output element's derivative counts.

Input domains (``shape`` or ``(shape, domain)``): the float domains of
``torch_oracle.make_input`` ("real", "pos", "away0", "unit", "distinct", "int", "wide"),
float64 unless suffixed "@f32"; and non-float ones: "bool", "long<K>" (int64 in [0, K)),
"int<K>" (int32 in [0, K)), "slong" (int64 in [-3, 3]).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch_oracle import make_input as make_float_input

from tinygrad_opt import Tensor

try:
    import torch
except ImportError:  # the fixture-based tests still run
    torch = None

TORCH_DTYPES: dict[str, Any] = {}
if torch is not None:
    TORCH_DTYPES = {
        "float16": torch.float16,
        "float32": torch.float32,
        "float64": torch.float64,
        "int8": torch.int8,
        "uint8": torch.uint8,
        "int16": torch.int16,
        "int32": torch.int32,
        "int64": torch.int64,
        "bool": torch.bool,
    }


def make_array(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """Deterministic data of ``shape`` from ``domain`` (see the module docstring)."""
    shape = tuple(shape)
    if domain == "bool":
        return rng.random(shape) < 0.5
    m = re.fullmatch(r"(long|int)(\d+)", domain)
    if m:
        dtype = np.int64 if m.group(1) == "long" else np.int32
        return rng.integers(0, int(m.group(2)), shape).astype(dtype)
    if domain == "slong":
        return rng.integers(-3, 4, shape).astype(np.int64)
    base, _, prec = domain.partition("@")
    x = make_float_input(rng, shape, base)
    return x.astype(np.float32) if prec == "f32" else x


def _spec(s: Any) -> tuple[tuple[int, ...], str]:
    if len(s) == 2 and isinstance(s[1], str):
        return tuple(s[0]), s[1]
    return tuple(s), "real"


@dataclass(frozen=True)
class Case:
    """``ours(*Tensors)`` must equal ``theirs(*torch.Tensors)``: values, dtypes, shapes and
    (with ``grad``) the gradients of every float input. Outputs may be a tensor or a
    tuple/list of tensors (e.g. ``sort``'s values and indices)."""

    name: str
    ours: Callable
    theirs: Callable
    inputs: list = field(default_factory=list)
    grad: bool = True
    rtol: float = 1e-10
    atol: float = 1e-12
    # second derivatives (test_second_order.py); a False needs its reason in a comment:
    second: bool = True  # checked at all (False: torch cannot double-differentiate it)
    second_fd: bool = True  # against finite differences (False: meaningless there)
    second_torch: bool = True  # False: torch's is nan in places (0/0); compared elsewhere

    def specs(self) -> list[tuple[tuple[int, ...], str]]:
        return [_spec(s) for s in self.inputs]

    def seed(self) -> int:
        return zlib.crc32(self.name.encode())

    def make_inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed())
        return [make_array(rng, shape, dom) for shape, dom in self.specs()]


def as_list(out: Any) -> list:
    """A single tensor or a tuple/list (named or not) of them, as a list."""
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def upstreams(seed: int, outs: list[np.ndarray]) -> list[np.ndarray | None]:
    """One fixed random upstream gradient per float output (None for the others)."""
    rng = np.random.default_rng(seed + 1)
    return [
        rng.standard_normal(o.shape).astype(o.dtype) if o.dtype.kind == "f" else None for o in outs
    ]


def run_ours(
    fn: Callable, inputs: list[np.ndarray], grad: bool, us: list | None = None, seed: int = 0
) -> tuple[list[np.ndarray], list, list]:
    """Our outputs (arrays), the upstreams used and our input gradients."""
    xs = [Tensor(a.copy(), requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    outs = as_list(fn(*xs))
    arrays = [np.array(o.data) for o in outs]
    if us is None:
        us = upstreams(seed, arrays)
    grads: list = [None] * len(xs)
    if grad:
        total = None
        for o, u in zip(outs, us):
            if u is not None and o.requires_grad:
                term = (o * Tensor(u)).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
        grads = [
            (np.zeros_like(a) if x.grad is None else x.grad) if a.dtype.kind == "f" else None
            for a, x in zip(inputs, xs)
        ]
    return arrays, us, grads


def run_torch(fn: Callable, inputs: list[np.ndarray], grad: bool, us: list):
    """torch's outputs and input gradients for the same inputs and upstreams."""
    xs = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in inputs]
    outs = as_list(fn(*xs))
    arrays = [o.detach().numpy().copy() for o in outs]
    grads: list = [None] * len(xs)
    if grad:
        total = None
        for o, u in zip(outs, us):
            if u is not None and o.requires_grad:
                term = (o * torch.from_numpy(np.asarray(u))).sum()
                total = term if total is None else total + term
        if total is not None:
            total.backward()
        grads = [
            (
                (np.zeros_like(a) if x.grad is None else x.grad.numpy())
                if a.dtype.kind == "f"
                else None
            )
            for a, x in zip(inputs, xs)
        ]
    return arrays, grads


def compare(
    name: str,
    outs: list[np.ndarray],
    grads: list,
    ref_outs: list[np.ndarray],
    ref_grads: list,
    rtol: float,
    atol: float,
    where: str,
) -> None:
    """Assert equal counts, shapes, dtypes and values (exact for non-floats; NaN = NaN)."""
    assert len(outs) == len(ref_outs), f"{name}: {len(outs)} outputs, {where} {len(ref_outs)}"
    for j, (o, r) in enumerate(zip(outs, ref_outs)):
        r = np.asarray(r)
        assert o.shape == r.shape, f"{name}: output {j} shape {o.shape}, {where} {r.shape}"
        assert o.dtype == r.dtype, f"{name}: output {j} dtype {o.dtype}, {where} {r.dtype}"
        if o.dtype.kind == "f":
            np.testing.assert_allclose(
                o, r, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}: output {j}"
            )
        else:
            np.testing.assert_array_equal(o, r, err_msg=f"{name}: output {j}")
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        if g is None or r is None:
            continue
        np.testing.assert_allclose(
            g, r, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{name}: gradient of input {i}"
        )


# --------------------------------------------------------------------------- hypothesis specs
@dataclass(frozen=True)
class Unary:
    """An elementwise op of one tensor, run on drawn shapes (0-d and empty included)."""

    name: str
    ours: Callable
    theirs: Callable
    domain: str = "real"
    grad: bool = True
    rtol: float = 1e-10
    atol: float = 1e-12


@dataclass(frozen=True)
class Binary:
    """An op of two broadcast-compatible tensors, run on drawn pairs of shapes."""

    name: str
    ours: Callable
    theirs: Callable
    domain_a: str = "real"
    domain_b: str = "real"
    grad: bool = True
    rtol: float = 1e-10
    atol: float = 1e-12


@dataclass(frozen=True)
class Reduce:
    """``ours(x, dim, keepdim)`` vs ``theirs(x, dim, keepdim)`` on drawn shapes and dims.

    ``dims``: "one" (an int dim, never None), "opt" (an int or None), "many" (a tuple of
    dims or None). ``nonempty``: draw no zero-size dims (for max, argmax ...)."""

    name: str
    ours: Callable
    theirs: Callable
    domain: str = "real"
    dims: str = "one"
    nonempty: bool = False
    grad: bool = True
    rtol: float = 1e-10
    atol: float = 1e-12


# --------------------------------------------------------------------------- fixtures
def fixture_arrays(case: Case) -> dict[str, np.ndarray]:
    """torch's inputs, upstreams, outputs and gradients for ``case``, keyed
    ``{name}/in0 … /u0 … /out0 … /grad0 …`` (what the fixture files hold)."""
    inputs = case.make_inputs()
    outs0, _ = run_torch(case.theirs, inputs, False, [])
    us = upstreams(case.seed(), outs0)
    outs, grads = run_torch(case.theirs, inputs, case.grad, us)
    data = {f"{case.name}/in{i}": a for i, a in enumerate(inputs)}
    data.update({f"{case.name}/u{j}": u for j, u in enumerate(us) if u is not None})
    data.update({f"{case.name}/out{j}": o for j, o in enumerate(outs)})
    data.update({f"{case.name}/grad{i}": g for i, g in enumerate(grads) if g is not None})
    return data
