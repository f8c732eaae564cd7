"""``Wrapper``: the base of optimizers that wrap another optimizer (SAM, Lookahead).

A wrapper owns a *base* optimizer (given by name, class or instance) and shares its
parameter groups: ``wrapper.param_groups is wrapper.base.param_groups``, so a learning-rate
scheduler built on the wrapper changes the lr the base steps with. It is an
:class:`~tinygrad_opt.optim.optimizer.Optimizer` (``isinstance`` holds, as the schedulers
require) whose ``step`` and ``state_dict`` add the wrapper's own work and state around the
base's. The wrapper's own settings (SAM's ``rho``, Lookahead's ``k``) are global, not per
group; they live in :attr:`Wrapper.settings` and in ``state_dict()["wrapper"]``.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from tinygrad_opt.optim.optimizer import Optimizer, ParamsLike, check_number, lookup
from tinygrad_opt.tensor import Tensor

BaseLike = str | type[Optimizer] | Optimizer


class Wrapper(Optimizer):
    """An optimizer that adds an outer rule around a base optimizer.

    ``Wrapper(params, base="sgd", <settings>, **base_hyperparameters)``: ``base`` is a
    registered name (``"adam"``; its preset applies, as with ``create``), an
    :class:`Optimizer` class, or an already built optimizer over the same parameters (then
    ``params`` may be None, and no base hyperparameters are accepted: they were given to
    the instance). Every keyword that is not one of the wrapper's :attr:`settings` goes to
    the base (``lr``, ``betas``, ``weight_decay``, ``flat``, ``skip_nonfinite`` ...). To
    give the base a hyperparameter whose name a wrapper setting takes (RMSprop's
    ``alpha`` under Lookahead), build the base yourself and pass the instance.
    """

    #: The wrapper's own settings and their defaults (subclasses declare them).
    settings_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        params: ParamsLike | None,
        base: BaseLike = "sgd",
        settings: dict[str, Any] | None = None,
        base_hyperparameters: dict[str, Any] | None = None,
    ) -> None:
        base_hyperparameters = dict(base_hyperparameters or {})
        self.base: Optimizer = _make_base(type(self).__name__, params, base, base_hyperparameters)
        self.settings: dict[str, Any] = dict(type(self).settings_defaults)
        self.settings.update(settings or {})
        self.validate_settings(self.settings)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.flat = self.base.flat
        self.chunk_size = self.base.chunk_size
        self.threads = self.base.threads
        self._flat_groups = []  # the wrapper's own work is never flat; the base's may be

    # ----------------------------------------------------------------- shared with the base
    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The base's parameter groups (the same list): schedulers act on the base."""
        return self.base.param_groups

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self.base.param_groups = value

    @property
    def defaults(self) -> dict[str, Any]:  # type: ignore[override]
        """The base's defaults (so schedulers find ``momentum``/``betas`` there)."""
        return self.base.defaults

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self.base.defaults = value

    @property
    def skip_nonfinite(self) -> bool:  # type: ignore[override]
        return self.base.skip_nonfinite

    @skip_nonfinite.setter
    def skip_nonfinite(self, value: bool) -> None:
        self.base.skip_nonfinite = bool(value)

    @property
    def skipped_steps(self) -> int:  # type: ignore[override]
        """Steps the base skipped (``skip_nonfinite``)."""
        return self.base.skipped_steps

    @skipped_steps.setter
    def skipped_steps(self, value: int) -> None:
        self.base.skipped_steps = value

    @property
    def needs_closure(self) -> bool:
        """Whether ``step`` must be given a closure (the base's need, by default)."""
        return bool(getattr(self.base, "needs_closure", False))

    #: Attributes read from the base when the wrapper has none of its own: the evaluation
    #: hooks ``fit``/``evaluate`` and ``memory`` look for by duck typing (``at_theta`` of
    #: the textbook Nesterov forms, ``train``/``eval``/``training`` of Schedule-Free
    #: methods). A base without them leaves them missing here too.
    forwarded: ClassVar[tuple[str, ...]] = ("at_theta", "train", "eval", "training")

    def __getattr__(self, name: str) -> Any:
        if name in type(self).forwarded and "base" in self.__dict__:
            return getattr(self.base, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def validate(self, hp: dict[str, Any]) -> None:
        self.base.validate(hp)

    def validate_settings(self, settings: dict[str, Any]) -> None:
        """Check the wrapper's own settings (subclasses); ValueError naming the value."""
        unknown = set(settings) - set(type(self).settings_defaults)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown settings {sorted(unknown)}")

    def add_param_group(self, group: dict[str, Any]) -> None:
        self.base.add_param_group(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    # ----------------------------------------------------------------- state
    #: Keys of the wrapper's per-parameter state that are scratch (not saved).
    scratch_keys: ClassVar[tuple[str, ...]] = ()

    def wrapper_state(self) -> dict[str, Any]:
        """The wrapper's scalar state saved in ``state_dict()["wrapper"]`` besides its
        settings (Lookahead: the step counter)."""
        return {}

    def load_wrapper_state(self, saved: dict[str, Any]) -> None:
        """Restore what :meth:`wrapper_state` returned (checked first)."""

    def state_dict(self) -> dict[str, Any]:
        """``{"state": the wrapper's per-parameter state, "param_groups": the base's,
        "base_state": the base's per-parameter state, "wrapper": settings and counters}``.

        Parameters are numbered as in the base's ``state_dict``; arrays are copied.
        """
        base = self.base.state_dict()
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        own = {
            index[id(p)]: {k: copy.deepcopy(v) for k, v in s.items() if k not in self.scratch_keys}
            for p, s in self.state.items()
            if id(p) in index
        }
        own = {i: s for i, s in own.items() if s}
        wrapper = {**copy.deepcopy(self.settings), **self.wrapper_state()}
        return {
            "state": own,
            "param_groups": base["param_groups"],
            "base_state": base["state"],
            "wrapper": wrapper,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned: the base's state and groups, the
        wrapper's per-parameter state, settings and counters. If anything does not fit,
        a ValueError is raised and nothing changes."""
        try:
            groups = state_dict["param_groups"]
            base_state = state_dict["base_state"]
            own = state_dict["state"]
            wrapper = dict(state_dict["wrapper"])
        except (KeyError, TypeError):
            raise ValueError(
                f"a {type(self).__name__} state_dict must have 'state', 'param_groups', "
                "'base_state' and 'wrapper' entries"
            ) from None
        settings = {k: wrapper.pop(k) for k in list(wrapper) if k in type(self).settings_defaults}
        settings = {**type(self).settings_defaults, **settings}
        unknown = set(wrapper) - set(self.wrapper_state())
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the 'wrapper' entry has "
                f"{sorted(unknown)}, which this wrapper does not keep (saved by another one?)"
            )
        self.validate_settings(settings)
        previous = self.state_dict()
        try:
            self.base.load_state_dict({"state": base_state, "param_groups": groups})
            Optimizer.load_state_dict(self, {"state": own, "param_groups": groups})
            self.load_wrapper_state(wrapper)
        except Exception:
            self.base.load_state_dict(
                {"state": previous["base_state"], "param_groups": previous["param_groups"]}
            )
            Optimizer.load_state_dict(
                self, {"state": previous["state"], "param_groups": previous["param_groups"]}
            )
            raise
        self.settings = settings

    def state_bytes(self) -> int:
        """Bytes of the wrapper's state arrays plus the base's."""
        return Optimizer.state_bytes(self) + self.base.state_bytes()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"{type(self).__name__}({settings}) over {self.base!r}"


def _same_parameters(params: ParamsLike, base: Optimizer) -> bool:
    items = [params] if isinstance(params, Tensor) else list(params)
    flat: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            group = item.get("params", [])
            flat += [group] if isinstance(group, Tensor) else list(group)
        else:
            flat.append(item)
    flat = [p[1] if isinstance(p, tuple) else p for p in flat]
    return [id(p) for p in flat] == [id(p) for p in base._indexed_params()]


def _make_base(
    owner: str, params: ParamsLike | None, base: BaseLike, hyperparameters: dict[str, Any]
) -> Optimizer:
    if isinstance(base, Optimizer):
        if hyperparameters:
            raise TypeError(
                f"{owner}: the base optimizer was given as an instance, so its "
                f"hyperparameters belong to it, not here: {sorted(hyperparameters)}"
            )
        if params is not None and not _same_parameters(params, base):
            raise ValueError(
                f"{owner}: params are not the parameters of the base optimizer (same tensors, "
                "same order); pass params=None to take the base's"
            )
        return base
    if params is None:
        raise ValueError(f"{owner}: params may be None only when base is an optimizer instance")
    if isinstance(base, str):
        cls, preset = lookup(base)
    elif isinstance(base, type) and issubclass(base, Optimizer):
        cls, preset = base, {}
    else:
        raise TypeError(
            f"{owner}: base must be an optimizer name, an Optimizer class or an Optimizer, "
            f"got {type(base).__name__}"
        )
    return cls(params, **{**preset, **hyperparameters})


def check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    """TypeError unless ``value`` is a number, ValueError unless an integer >= ``minimum``."""
    check_number(name, value)
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, (bool, np.bool_))
        or value < minimum
    ):
        raise ValueError(f"Invalid {name} value: {value!r} (an integer >= {minimum})")


def check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Invalid {name} value: {value!r} (True or False)")
