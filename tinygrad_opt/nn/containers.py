"""Containers of modules with torch's API: ``Sequential``, ``ModuleList``, ``ModuleDict``.

A container's entries are its children: the parameters of entry ``k`` are named
``"k.weight"`` and so on, and a container stored as attribute ``layers`` of a model
gives ``"layers.0.weight"``, exactly torch's state-dict keys.

- :class:`ModuleList` / :class:`Sequential`: entries are numbered 0..n-1 by position
  (renumbered after ``insert``/``del``/``pop``). Indexing takes negative indices; a
  slice returns a new container of the same kind holding the same module objects.
  ``Sequential(x)`` additionally chains the entries; a ``ModuleList`` has no forward.
- :class:`ModuleDict`: entries keyed by strings (no ``"."``, not empty), kept in
  insertion order; also reachable as attributes (``blocks.encoder``).

Entries must be :class:`Module` instances (``TypeError`` otherwise); a bad index raises
``IndexError``, a missing key ``KeyError``, as in torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tinygrad_opt.nn.module import Module, _check_name

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


def _module(who: str, item: Any, where: Any = None) -> Module:
    if not isinstance(item, Module):
        what = "the argument" if where is None else f"item {where!r}"
        raise TypeError(f"{who}: {what} is a {type(item).__name__}, not a Module")
    return item


class _ModuleSequence(Module):
    """Positional storage shared by :class:`ModuleList` and :class:`Sequential`."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        name = type(self).__name__
        self._layers: list[Module] = [_module(name, m, i) for i, m in enumerate(modules)]

    def _members(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self._layers):
            yield str(i), m
        for name, value in super()._members():  # anything a subclass adds
            if not name.startswith("_layers."):
                yield name, value

    def _new(self, modules: list[Module]) -> _ModuleSequence:
        return type(self)(modules)

    def _index(self, idx: Any) -> int:
        """``idx`` as a position in [0, n), or IndexError as torch's message."""
        try:
            i = idx.__index__()
        except AttributeError:
            raise TypeError(
                f"{type(self).__name__} indices must be integers or slices, not "
                f"{type(idx).__name__}"
            ) from None
        n = len(self._layers)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {type(self).__name__} of length {n}")
        return i % n

    # ----------------------------------------------------------------- reading
    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return self._new(self._layers[idx])
        return self._layers[self._index(idx)]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)

    def __contains__(self, module: object) -> bool:
        return any(m is module for m in self._layers)

    # ----------------------------------------------------------------- writing
    def __setitem__(self, idx: int, module: Module) -> None:
        self._layers[self._index(idx)] = _module(type(self).__name__, module, idx)

    def __delitem__(self, idx: int | slice) -> None:
        if isinstance(idx, slice):
            del self._layers[idx]
        else:
            del self._layers[self._index(idx)]

    def append(self, module: Module) -> _ModuleSequence:
        """Add ``module`` at the end; returns self."""
        self._layers.append(_module(f"{type(self).__name__}.append", module))
        return self

    def extend(self, modules: Iterable[Module]) -> _ModuleSequence:
        """Append every module of ``modules``; returns self."""
        who = f"{type(self).__name__}.extend"
        if not isinstance(modules, Iterable):
            raise TypeError(
                f"{who} should be called with an iterable, got {type(modules).__name__}"
            )
        self._layers.extend([_module(who, m, i) for i, m in enumerate(modules)])
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (clamped, as ``list.insert``)."""
        self._layers.insert(index, _module(f"{type(self).__name__}.insert", module))

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index`` (the last by default)."""
        return self._layers.pop(self._index(index))

    def __add__(self, other: Iterable[Module]) -> _ModuleSequence:
        return self._new([*self._layers, *other])

    def __iadd__(self, other: Iterable[Module]) -> _ModuleSequence:
        return self.extend(other)


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters belong to the owner, as ``torch.nn.ModuleList``.

    ``ModuleList([Linear(4, 4) for _ in range(3)])``; supports ``append``, ``extend``,
    ``insert``, ``pop``, ``[i]``, ``[i:j]`` (a ModuleList), ``[i] = m``, ``del [i]`` or
    ``del [i:j]``, ``len``, iteration, ``in`` and ``+``. It has no ``forward``: iterate
    over it in the owner's forward.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__(() if modules is None else modules)


class Sequential(_ModuleSequence):
    """Apply modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``, as
    ``torch.nn.Sequential``.

    Has the list operations of :class:`ModuleList` (a slice is a Sequential); the
    parameters of module ``i`` are named ``"i.weight"`` and so on.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def _new(self, modules: list[Module]) -> Sequential:
        return Sequential(*modules)

    def forward(self, x: Any) -> Any:
        for m in self._layers:
            x = m(x)
        return x


class ModuleDict(Module):
    """An ordered dict of named modules, as ``torch.nn.ModuleDict``.

    ``ModuleDict({"enc": Linear(4, 2), "dec": Linear(2, 4)})`` (or pairs); parameters are
    named ``"enc.weight"``... Supports ``[key]``, ``[key] = m``, ``del [key]``, ``len``,
    iteration over keys, ``in``, ``keys``, ``values``, ``items``, ``update``, ``pop``,
    ``clear`` and attribute access ``d.enc``. Keys are strings without ``"."``.
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        self._dict: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from self._dict.items()
        for name, value in super()._members():
            if not name.startswith("_dict."):
                yield name, value

    def __getattr__(self, name: str) -> Module:  # only called when normal lookup fails
        entries = self.__dict__.get("_dict")
        if entries is not None and name in entries:
            return entries[name]
        raise AttributeError(f"{type(self).__name__} has no attribute or key {name!r}")

    def __getitem__(self, key: str) -> Module:
        try:
            return self._dict[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no key {key!r}; keys: {list(self._dict)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        _check_name("module", key)
        if hasattr(type(self), key) or key == "_dict":  # d.key must reach the entry
            raise KeyError(f"attribute '{key}' already exists")
        self._dict[key] = _module("ModuleDict", module, key)

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __len__(self) -> int:
        return len(self._dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def keys(self) -> Any:
        return self._dict.keys()

    def values(self) -> Any:
        return self._dict.values()

    def items(self) -> Any:
        return self._dict.items()

    def pop(self, key: str) -> Module:
        """Remove and return the module under ``key``."""
        module = self[key]
        del self._dict[key]
        return module

    def clear(self) -> None:
        self._dict.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or an iterable of (key, module) pairs."""
        if isinstance(modules, Mapping):
            pairs = list(modules.items())
        else:
            if not isinstance(modules, Iterable):
                raise TypeError(
                    f"ModuleDict.update should be called with a mapping or an iterable of "
                    f"(key, module) pairs, got {type(modules).__name__}"
                )
            pairs = []
            for i, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(
                        f"ModuleDict.update: element #{i} should be a (key, module) pair, "
                        f"got {pair!r}"
                    )
                pairs.append((pair[0], pair[1]))
        for key, module in pairs:
            self[key] = module
