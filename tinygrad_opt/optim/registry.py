"""Optimizers by name: ``create("adam", params, lr=1e-3)``, for the CLI, the playground
and the benchmark. A class joins with the :func:`register` decorator."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinygrad_opt.optim.optimizer import Optimizer, ParamsLike

_REGISTRY: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {}


def register(*names: str, **preset: Any) -> Callable[[type[Optimizer]], type[Optimizer]]:
    """Class decorator: make an optimizer buildable by name with :func:`create`.

    ``preset`` hyperparameters apply under these names (e.g. ``"momentum"`` is SGD with
    momentum=0.9); arguments given to ``create`` override them.
    """

    def deco(cls: type[Optimizer]) -> type[Optimizer]:
        for name in names:
            key = name.lower().replace("-", "_")
            old = _REGISTRY.get(key, (cls,))[0]
            if (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
                raise ValueError(
                    f"optimizer name {name!r} is taken by {old.__module__}.{old.__qualname__}; "
                    "register yours under another name"
                )  # (the same class defined again, e.g. a re-run notebook cell, may replace it)
            _REGISTRY[key] = (cls, dict(preset))
        return cls

    return deco


def available() -> list[str]:
    """Names accepted by :func:`create`."""
    return sorted(_REGISTRY)


def lookup(name: str) -> tuple[type[Optimizer], dict[str, Any]]:
    """The class and preset hyperparameters registered under ``name`` (case-insensitive,
    ``-`` = ``_``): ``lookup("momentum") == (SGD, {"momentum": 0.9})``."""
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"Unknown optimizer {name!r}; available: {', '.join(available())}")
    cls, preset = _REGISTRY[key]
    return cls, dict(preset)


def create(name: str, params: ParamsLike, **hyperparameters: Any) -> Optimizer:
    """Build an optimizer by name: ``create("adam", model.parameters(), lr=1e-3)``."""
    cls, preset = lookup(name)
    return cls(params, **{**preset, **hyperparameters})
