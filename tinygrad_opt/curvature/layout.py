"""``ParameterLayout``: how a list of parameter tensors maps onto one flat vector.

Curvature operators act on θ ∈ ℝⁿ, all parameters concatenated in a fixed order (the
order of ``model.named_parameters()``, each tensor flattened in C order). The layout
records, for each parameter, its name, shape and slice of the flat vector, and converts
both ways without per-element Python loops: ``flatten`` is one ``np.concatenate``,
``unflatten`` returns reshaped *views* of the flat vector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["ParameterLayout"]


class ParameterLayout:
    """Names, shapes and offsets of parameters laid end to end in one vector.

    ``layout.slices[i]`` is the part of the flat vector holding parameter ``i``
    (``layout.names[i]``, shape ``layout.shapes[i]``); ``layout.size`` is n.
    """

    def __init__(self, names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> None:
        if len(names) != len(shapes):
            raise ValueError(f"ParameterLayout: {len(names)} names for {len(shapes)} shapes")
        if len(set(names)) != len(names):
            raise ValueError(f"ParameterLayout: parameter names must be unique, got {names}")
        self.names: tuple[str, ...] = tuple(names)
        self.shapes: tuple[tuple[int, ...], ...] = tuple(tuple(int(d) for d in s) for s in shapes)
        sizes = [int(np.prod(s, dtype=np.int64)) for s in self.shapes]
        ends = np.cumsum([0, *sizes])
        self.sizes: tuple[int, ...] = tuple(sizes)
        self.slices: tuple[slice, ...] = tuple(
            slice(int(a), int(b)) for a, b in zip(ends[:-1], ends[1:])
        )
        self.size: int = int(ends[-1])

    @classmethod
    def from_tensors(cls, tensors: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """The layout of ``tensors`` (anything with ``.shape``), named ``names`` or
        ``"0"``, ``"1"``, ..."""
        names = [str(i) for i in range(len(tensors))] if names is None else list(names)
        return cls(names, [tuple(t.shape) for t in tensors])

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}{list(s)}" for n, s in zip(self.names, self.shapes))
        return f"ParameterLayout(n={self.size}: {parts})"

    def index(self, name: str) -> int:
        """Position of parameter ``name`` (KeyError naming the known ones otherwise)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no parameter {name!r}; the layout has {list(self.names)}") from None

    def flatten(self, arrays: Sequence[Any] | Mapping[str, Any], dtype: Any = np.float64) -> Any:
        """One vector of length n from per-parameter arrays (a sequence in layout order,
        or a mapping name → array). Each array must have its parameter's shape."""
        if isinstance(arrays, Mapping):
            missing = [n for n in self.names if n not in arrays]
            extra = [k for k in arrays if k not in self.names]
            if missing or extra:
                raise KeyError(f"flatten: missing parameters {missing}, unknown {extra}")
            arrays = [arrays[n] for n in self.names]
        arrays = list(arrays)
        if len(arrays) != len(self.names):
            raise ValueError(f"flatten: got {len(arrays)} arrays for {len(self.names)} parameters")
        parts = []
        for name, shape, a in zip(self.names, self.shapes, arrays):
            a = np.asarray(getattr(a, "_data", a))
            if a.shape != shape:
                raise ValueError(f"flatten: {name} has shape {a.shape}, expected {shape}")
            parts.append(a.reshape(-1))
        if not parts:
            return np.zeros(0, dtype=dtype)
        return np.concatenate(parts).astype(dtype, copy=False)

    def split(self, vector: Any) -> list[np.ndarray]:
        """Parameter-shaped views of the flat ``vector`` (length n), in layout order."""
        v = self.check(vector)
        return [v[s].reshape(shape) for s, shape in zip(self.slices, self.shapes)]

    def unflatten(self, vector: Any) -> dict[str, np.ndarray]:
        """``{name: view of vector shaped like the parameter}``."""
        return dict(zip(self.names, self.split(vector)))

    def check(self, vector: Any) -> np.ndarray:
        """``vector`` as a 1-D array of length n (ValueError otherwise)."""
        v = np.asarray(getattr(vector, "_data", vector))
        if v.shape != (self.size,):
            raise ValueError(
                f"expected a flat vector of shape ({self.size},) (all parameters), got shape "
                f"{v.shape}"
            )
        return v

    def gather(self, tensors: Sequence[Any]) -> np.ndarray:
        """One float64 vector from per-parameter Tensors or arrays (None → zeros)."""
        out = np.zeros(self.size, dtype=np.float64)
        for s, t in zip(self.slices, tensors):
            if t is not None:
                out[s] = np.asarray(getattr(t, "_data", t)).reshape(-1)
        return out
