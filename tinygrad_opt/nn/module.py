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

from collections.abc import Callable, Iterator, Mapping
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

    def named_modules(
        self,
        memo: set[Module] | None = None,
        prefix: str = "",
        remove_duplicate: bool = True,
    ) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every submodule below it, depth-first.

        A module reachable by several paths is reported once (under the first name)
        unless ``remove_duplicate=False``; ``memo`` holds modules to skip (and collects
        the ones reported), as in torch.
        """
        seen: set[Module] | None = (set() if memo is None else memo) if remove_duplicate else None
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if seen is not None:
                if mod in seen:
                    continue
                seen.add(mod)
            yield name, mod
            kids = [(_join(name, n), m) for n, m in mod._members() if isinstance(m, Module)]
            stack.extend(reversed(kids))  # depth-first, in attribute order

    def modules(self, remove_duplicate: bool = True) -> Iterator[Module]:
        """Every module of the tree, this one first (see :meth:`named_modules`)."""
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` (``""`` is this module), as torch."""
        mod: Module = self
        for part in target.split(".") if target else ():
            child = dict(mod.named_children()).get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} ({target!r})")
            mod = child
        return mod

    def add_module(self, name: str, module: Module | None) -> None:
        """Make ``module`` a child called ``name`` (an attribute), checked as torch does.

        ``TypeError`` if ``module`` is not a Module (or None) or ``name`` not a string;
        ``KeyError`` if ``name`` is empty, contains ``"."`` or names an attribute that is
        not already a child.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        _check_name("module", name)
        current = getattr(self, name, None)
        if hasattr(self, name) and not isinstance(current, Module) and current is not None:
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """Store ``param`` (a Tensor, or None for "no parameter") as attribute ``name``."""
        if param is not None and not isinstance(param, Tensor):
            raise TypeError(f"register_parameter: {type(param).__name__} is not a Tensor")
        _check_name("parameter", name)
        current = getattr(self, name, None)
        if hasattr(self, name) and not isinstance(current, Tensor) and current is not None:
            raise KeyError(f"attribute '{name}' already exists")
        setattr(self, name, param)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first, recursively), then on this
        module, as ``torch.nn.Module.apply`` (typical use: custom initialisation).
        Returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

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
        for path, mod in self.named_modules(prefix=prefix):
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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (they accumulate otherwise): to None, or
        with ``set_to_none=False`` fill existing ``.grad`` arrays with zeros in place."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` of every parameter (e.g. ``False`` to freeze); returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    # ----------------------------------------------------------------- dtype
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert every parameter (and its ``.grad``) and every floating buffer to a float
        dtype, in place; returns self.

        Accepts torch's forms ``to(dtype)``, ``to(tensor)`` (its dtype), ``to(device)``,
        ``to(device, dtype)`` and the keywords ``dtype=``/``device=``; the only device is
        ``"cpu"``. The Tensor objects stay the same (their ``.data`` is replaced), so an
        optimizer built before or after keeps working on them. Integer buffers (BatchNorm's
        ``num_batches_tracked``) keep their dtype, as in torch.
        """
        dtype = _to_dtype(args, kwargs)
        if dtype is not None:
            self._cast(dtype)
        return self

    def double(self) -> Module:
        """``to(float64)``."""
        return self._cast(np.dtype(np.float64))

    def float(self) -> Module:
        """``to(float32)``."""
        return self._cast(np.dtype(np.float32))

    def half(self) -> Module:
        """``to(float16)`` (numpy computes in float16 slowly; mostly for storage)."""
        return self._cast(np.dtype(np.float16))

    def _cast(self, dtype: np.dtype) -> Module:
        for p in self.parameters():
            p.data = p.data.astype(dtype, copy=False)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype, copy=False)
        for mod in self.modules():
            for name in mod.buffer_names:
                value = getattr(mod, name, None)
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    setattr(mod, name, value.astype(dtype, copy=False))
        return self

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


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name!r}')
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


_TORCH_NAMES = {"half": "float16", "float": "float32", "double": "float64"}


def _parse_dtype(value: Any) -> np.dtype | None:
    """A numpy dtype from a numpy/torch dtype, a dtype name or a Tensor; None if not one."""
    if isinstance(value, Tensor):
        return value.dtype
    if isinstance(value, (type, np.dtype)):
        try:
            return np.dtype(value)
        except TypeError:
            return None
    name = str(value).removeprefix("torch.")  # torch.float64 -> "float64"
    try:
        return np.dtype(_TORCH_NAMES.get(name, name))
    except TypeError:
        return None


def _to_dtype(args: tuple, kwargs: dict) -> np.dtype | None:
    """The dtype asked for by ``Module.to``'s arguments (None: keep the dtype)."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    dtype = None if dtype is None else _parse_dtype(dtype) or _bad_to_argument(dtype)
    for a in args:
        if isinstance(a, bool):  # non_blocking given positionally
            continue
        parsed = _parse_dtype(a)
        if parsed is not None:
            dtype = parsed
        elif isinstance(a, str) or type(a).__name__ == "device":
            device = a
        else:
            _bad_to_argument(a)
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"to(): the only device is 'cpu', got {str(device)!r}")
    if dtype is not None and dtype.kind != "f":
        raise TypeError(
            f"Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
        )
    return dtype


def _bad_to_argument(value: Any) -> np.dtype:
    raise TypeError(f"to(): expected a dtype, a Tensor or a device, got {value!r}")
