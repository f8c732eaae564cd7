"""Shared harness for comparing Tensor ops and layers with torch autograd.

A :class:`Case` pairs our function with torch's; inputs are generated deterministically
from the case's name, so the live comparison (when torch is importable) and the committed
fixtures (written by the scripts in ``scripts/``) see the same numbers.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tinygrad_opt import Tensor

try:
    import torch
except ImportError:  # the fixture-based tests still run
    torch = None

# --------------------------------------------------------------------------- inputs

DOMAINS = ("real", "pos", "away0", "unit", "distinct", "int", "wide")


def make_input(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """Deterministic float64 data of ``shape`` from ``domain``.

    real: U(-2, 2); pos: U(0.5, 2); away0: ±U(0.2, 2) (no kinks of abs/relu nearby);
    unit: U(-0.9, 0.9); distinct: a shuffled grid (no ties for max/min);
    int: integers in [-2, 2] (ties and zeros on purpose); wide: U(-40, 40).
    """
    n = math.prod(shape)
    if domain == "real":
        x = rng.uniform(-2, 2, n)
    elif domain == "pos":
        x = rng.uniform(0.5, 2, n)
    elif domain == "away0":
        x = rng.choice([-1.0, 1.0], n) * rng.uniform(0.2, 2, n)
    elif domain == "unit":
        x = rng.uniform(-0.9, 0.9, n)
    elif domain == "distinct":
        x = rng.permutation(n) * 0.3 - 0.15 * n + rng.uniform(0, 0.05, n)
    elif domain == "int":
        x = rng.integers(-2, 3, n).astype(np.float64)
    elif domain == "wide":
        x = rng.uniform(-40, 40, n)
    else:  # pragma: no cover
        raise ValueError(domain)
    return x.reshape(shape)


@dataclass(frozen=True)
class Case:
    """One op case: ``ours(*Tensors)`` must equal ``theirs(*torch.Tensors)``.

    ``inputs`` holds one entry per input: a shape, or ``(shape, domain)``.
    """

    name: str
    ours: Callable
    theirs: Callable
    inputs: list = field(default_factory=list)

    def specs(self) -> list[tuple[tuple[int, ...], str]]:
        out = []
        for s in self.inputs:
            if len(s) == 2 and isinstance(s[1], str):
                out.append((tuple(s[0]), s[1]))
            else:
                out.append((tuple(s), "real"))
        return out

    def seed(self) -> int:
        return zlib.crc32(self.name.encode())

    def make_inputs(self) -> list[np.ndarray]:
        rng = np.random.default_rng(self.seed())
        return [make_input(rng, shape, dom) for shape, dom in self.specs()]

    def make_upstream(self, out_shape: tuple[int, ...]) -> np.ndarray:
        return np.random.default_rng(self.seed() + 1).standard_normal(out_shape)


def run_ours(case: Case, inputs: list[np.ndarray], u: np.ndarray | None = None):
    """Our forward value, the upstream ``u`` used and our input gradients (float64)."""
    xs = [Tensor(a.copy(), requires_grad=True, dtype=np.float64) for a in inputs]
    out = case.ours(*xs)
    assert out.dtype == np.float64, f"{case.name}: float64 in, {out.dtype} out"
    if u is None:
        u = case.make_upstream(out.shape)
    (out * Tensor(u)).sum().backward()
    grads = [np.zeros_like(a) if x.grad is None else x.grad for a, x in zip(inputs, xs)]
    return np.array(out.data), u, grads


def run_torch(case: Case, inputs: list[np.ndarray], u: np.ndarray):
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in inputs]
    out = case.theirs(*xs)
    (out * torch.from_numpy(u)).sum().backward()
    grads = [np.zeros_like(a) if x.grad is None else x.grad.numpy() for a, x in zip(inputs, xs)]
    return out.detach().numpy(), grads


# --------------------------------------------------------------------------- fixtures
def torch_case_arrays(case: Case, prefix: str) -> dict[str, np.ndarray]:
    """torch's inputs, upstream gradient, output and input gradients for ``case``, keyed
    ``{prefix}{name}/in0``, ``/u``, ``/out``, ``/grad0``... (what the fixture files hold)."""
    inputs = case.make_inputs()
    u = case.make_upstream(tuple(case.theirs(*[torch.tensor(a) for a in inputs]).shape))
    out, grads = run_torch(case, inputs, u)
    key = f"{prefix}{case.name}"
    data = {f"{key}/in{i}": a for i, a in enumerate(inputs)}
    data[f"{key}/u"] = np.asarray(u, dtype=np.float64)
    data[f"{key}/out"] = np.asarray(out, dtype=np.float64)
    data.update({f"{key}/grad{i}": np.asarray(g, dtype=np.float64) for i, g in enumerate(grads)})
    return data


def write_or_check_fixture(data: dict[str, np.ndarray], path, check: bool) -> int:
    """Write ``data`` to the .npz at ``path``, or with ``check`` report whether it matches."""
    if check:
        with np.load(path) as old:
            old_keys = set(old.files)
            diff = sorted(old_keys ^ set(data))
            diff += [
                k
                for k in sorted(old_keys & set(data))
                if not np.array_equal(old[k], data[k], equal_nan=True)
            ]
        print("fixtures up to date" if not diff else f"differs: {diff}")
        return 1 if diff else 0
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **data)
    print(f"wrote {len(data)} arrays to {path} ({path.stat().st_size} bytes)")
    return 0
