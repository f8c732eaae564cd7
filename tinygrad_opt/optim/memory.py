"""How much memory each optimizer keeps per parameter, measured from the code.

The seed article says "Adam is memory demanding": it keeps two arrays (s and r) the size
of the model. :func:`memory_table` measures that for every registered method by running
one step on a model and dividing the bytes of optimizer state by the bytes of the
parameters, so the table in ``docs/optimizers.md`` is generated, never typed by hand::

    python -m tinygrad_opt.optim.memory          # prints the markdown table
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_opt.optim.optimizer import Optimizer, available, lookup
from tinygrad_opt.tensor import Tensor

#: The model the table is measured on: one big matrix (where factored methods differ
#: from elementwise ones) and a bias vector.
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((1024, 1024), (1024,))


@dataclass
class MemoryRow:
    name: str
    optimizer: str
    state_arrays: list[str]
    state_bytes: int
    param_bytes: int

    @property
    def per_parameter(self) -> float:
        """State size as a multiple of the parameters' size (Adam: 2.0)."""
        return self.state_bytes / self.param_bytes


def _one_step(opt: Optimizer, params: list[Tensor], rng: np.random.Generator) -> None:
    if callable(getattr(opt, "train", None)):
        opt.train()  # schedule-free methods step in train mode
    for p in params:
        p.grad = rng.standard_normal(p.shape).astype(p.dtype)
    if getattr(opt, "needs_closure", False):

        def closure() -> Tensor:
            loss = sum(((p * p).sum() for p in params), Tensor(0.0, dtype=params[0].dtype))
            opt.zero_grad()
            loss.backward()
            return loss

        opt.step(closure)
    else:
        opt.step()


def measure(
    name: str,
    shapes: Sequence[tuple[int, ...]] = DEFAULT_SHAPES,
    dtype: Any = np.float32,
    **hyperparameters: Any,
) -> MemoryRow:
    """Run one step of optimizer ``name`` on fresh parameters and measure its state."""
    rng = np.random.default_rng(0)
    cls, preset = lookup(name)
    if getattr(cls, "matrix_only", False):  # Muon: the matrices only
        shapes = [s for s in shapes if len(s) == 2]
    params = [Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    opt = cls(params, **{**preset, **hyperparameters})
    _one_step(opt, params, rng)
    arrays = sorted({k for s in opt.state.values() for k, v in s.items() if _holds_array(v)})
    return MemoryRow(
        name=name,
        optimizer=cls.__name__,
        state_arrays=arrays,
        state_bytes=opt.state_bytes(),
        param_bytes=sum(p.data.nbytes for p in params),
    )


def _holds_array(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return v.size > 1
    return isinstance(v, (list, tuple)) and any(isinstance(x, np.ndarray) for x in v)


def memory_table(
    names: Sequence[str] | None = None,
    shapes: Sequence[tuple[int, ...]] = DEFAULT_SHAPES,
    dtype: Any = np.float32,
) -> list[MemoryRow]:
    """One :class:`MemoryRow` per built-in optimizer name (or the ``names`` given).

    Methods registered from outside the library (your own) are left out by default.
    """
    if names is None:
        names = [n for n in available() if lookup(n)[0].__module__.startswith("tinygrad_opt.optim")]
    return [measure(n, shapes, dtype) for n in names]


def to_markdown(rows: Sequence[MemoryRow]) -> str:
    n_params = rows[0].param_bytes // 4 if rows else 0
    head = "| name | class | state arrays | state / parameters |\n|---|---|---|---|\n"
    body = "".join(
        f"| `{r.name}` | `{r.optimizer}` | {', '.join(r.state_arrays) or '—'} "
        f"| {r.per_parameter:.3g}× |\n"
        for r in rows
    )
    note = (
        f"\nMeasured after one step on float32 parameters of shapes "
        f"{', '.join(str(s) for s in DEFAULT_SHAPES)} ({n_params:,} values). "
        "Adafactor, and SM3 without momentum, keep row and column statistics per matrix "
        "(sub-linear); Shampoo and SOAP keep two matrices per dimension (statistics and "
        "roots or eigenbases: 4× a square matrix's size, plus their moments); Muon is "
        "measured on the matrix only (it takes no vectors); the wrappers count their "
        "base (SGD by default); L-BFGS's history grows with its iterations up to "
        "2·history_size vectors.\n"
    )
    return head + body + note


if __name__ == "__main__":
    import tinygrad_opt.optim  # noqa: F401  (registers every method)

    print(to_markdown(memory_table()), end="")
