"""``Module``: the base class that finds, names, saves and loads parameters.

The rule is deliberately small: **every** :class:`~tinygrad_opt.tensor.Tensor` stored as
an attribute of a module is one of its parameters, and every ``Module`` stored as an
attribute is a child. Lists, tuples and dicts held in attributes are looked into (one
level), so ``self.layers = [Linear(2, 3), Linear(3, 1)]`` gives the names
``layers.0.weight`` ... ``layers.1.bias``. Attributes are visited in the order they were
first assigned, which makes ``parameters()`` deterministic. Constants that must not be
trained belong in plain numpy arrays, not Tensors.

A tensor or module reachable by two paths (weight tying, a layer used twice) is reported
once, under the first name found.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = ["IncompatibleKeys", "Module", "Parameter", "StateDictError"]


def Parameter(data: Any, dtype: Any = None, name: str | None = None) -> Tensor:
    """A trainable tensor: ``Tensor(data, requires_grad=True)``.

    Parameters are ordinary tensors; this helper only spells out the intent.
    """
    return Tensor(data, requires_grad=True, dtype=dtype, name=name)


class StateDictError(KeyError):
    """``load_state_dict`` got a dictionary whose keys do not match the module's."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class for layers and models: subclass it and write ``forward``.

    ``module(x)`` calls ``module.forward(x)``. Subclasses do not need to call
    ``super().__init__()``; all bookkeeping is derived from the attributes.
    """

    training: bool = True  # class default; train()/eval() set it on every instance
    #: Attributes holding numpy arrays that are state but not parameters (e.g. BatchNorm's
    #: running statistics): saved in ``state_dict``, never seen by optimizers.
    buffer_names: tuple[str, ...] = ()

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- discovery
    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, value) for each Tensor or Module attribute, lists/tuples/dicts expanded."""
        for attr, value in vars(self).items():
            if isinstance(value, (Tensor, Module)):
                yield attr, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Tensor, Module)):
                        yield f"{attr}.{i}", item
            elif isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, (Tensor, Module)):
                        yield f"{attr}.{key}", item

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their attribute names."""
        seen: set[int] = set()
        for name, value in self._members():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every submodule below it, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            kids = [(_join(name, n), m) for n, m in mod.named_children()]
            stack.extend(reversed(kids))  # depth-first, in attribute order

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted path (``"0.weight"``, ``"layers.1.bias"``).

        Depth-first in attribute order; a tensor shared by several modules appears once.
        """
        seen_params: set[int] = set()
        seen_mods: set[int] = set()

        def walk(mod: Module, path: str) -> Iterator[tuple[str, Tensor]]:
            seen_mods.add(id(mod))
            for name, value in mod._members():
                full = _join(path, name)
                if isinstance(value, Tensor):
                    if id(value) not in seen_params:
                        seen_params.add(id(value))
                        yield full, value
                elif id(value) not in seen_mods:
                    yield from walk(value, full)

        yield from walk(self, prefix)

    def register_buffer(self, name: str, value: np.ndarray | None) -> None:
        """Store ``value`` as attribute ``name`` and include it in ``state_dict``."""
        if isinstance(value, Tensor):
            raise TypeError(f"buffer {name!r} must be a numpy array, not a Tensor")
        setattr(self, name, None if value is None else np.asarray(value))
        if name not in self.buffer_names:
            self.buffer_names = (*self.buffer_names, name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every buffer of this module and its submodules."""
        for path, mod in self.named_modules(prefix):
            for name in mod.buffer_names:
                value = getattr(mod, name, None)
                if value is not None:
                    yield _join(path, name), value

    def _buffer_owners(self) -> dict[str, tuple[Module, str]]:
        return {
            _join(path, name): (mod, name)
            for path, mod in self.named_modules()
            for name in mod.buffer_names
            if getattr(mod, name, None) is not None
        }

    def parameters(self) -> list[Tensor]:
        """All parameters as a list, in ``named_parameters()`` order, without duplicates."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalars in the parameters (shared ones counted once)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ----------------------------------------------------------------- modes, grads
    def train(self, mode: bool = True) -> Module:
        """Set ``training = mode`` on this module and all submodules; returns self."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Reset ``.grad`` of every parameter to None (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = None

    # ----------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter's array, then of every buffer, by dotted name."""
        out = {name: p.data.copy() for name, p in self.named_parameters()}
        out.update((name, np.array(b, copy=True)) for name, b in self.named_buffers())
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy arrays from ``state_dict`` into the parameters (the tensors stay the same).

        Buffers (see ``buffer_names``) are loaded the same way. Checks, all done before
        anything is written:

        - keys: with ``strict=True`` any missing or unexpected key raises
          :class:`StateDictError` listing all of them; with ``strict=False`` they are
          skipped and returned.
        - shapes: a value whose shape differs from its parameter's raises
          :class:`~tinygrad_opt.tensor.ShapeError` naming the key and both shapes.
        - dtypes: numeric values are cast to the parameter's dtype; anything else
          (strings, objects, complex numbers, booleans) raises ``TypeError``.
        """
        params = dict(self.named_parameters())
        owners = self._buffer_owners()
        known = [*params, *owners]
        missing = [k for k in known if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params and k not in owners]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys: {missing}")
            if unexpected:
                parts.append(f"unexpected keys: {unexpected}")
            raise StateDictError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        new: list[tuple[Tensor, np.ndarray]] = []
        for key, p in params.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "fiu":
                raise TypeError(
                    f"load_state_dict: {key!r} has dtype {arr.dtype}; expected numbers "
                    f"castable to {p.dtype}"
                )
            if arr.shape != p.shape:
                raise ShapeError(
                    f"load_state_dict: shape mismatch for {key!r}: parameter has shape "
                    f"{p.shape}, state_dict has {arr.shape}"
                )
            new.append((p, np.array(arr, dtype=p.dtype, copy=True)))
        new_buffers: list[tuple[Module, str, np.ndarray]] = []
        for key, (mod, name) in owners.items():
            if key not in state_dict:
                continue
            old = getattr(mod, name)
            value = state_dict[key]
            arr = np.asarray(value.data if isinstance(value, Tensor) else value)
            if arr.dtype.kind not in "fiu":
                raise TypeError(
                    f"load_state_dict: {key!r} has dtype {arr.dtype}; expected numbers "
                    f"castable to {old.dtype}"
                )
            if arr.shape != old.shape:
                raise ShapeError(
                    f"load_state_dict: shape mismatch for {key!r}: buffer has shape "
                    f"{old.shape}, state_dict has {arr.shape}"
                )
            new_buffers.append((mod, name, np.array(arr, dtype=old.dtype, copy=True)))
        for p, arr in new:
            p.data = arr
        for mod, name, arr in new_buffers:
            setattr(mod, name, arr)
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """The text inside ``Name(...)`` on this module's line of the repr."""
        return ""

    def __repr__(self) -> str:
        n = self.num_parameters()
        head = f"{type(self).__name__}({self.extra_repr()})"
        if n:
            head += f": {n:,} parameter{'s' if n != 1 else ''}"
        lines = [head]
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
