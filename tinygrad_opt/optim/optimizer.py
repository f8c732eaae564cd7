"""The ``Optimizer`` base class: everything that is not the update rule, written once.

A method subclasses :class:`Optimizer` and writes two small things:

* ``init_state(p, group) -> dict``: the per-parameter state its algorithm needs (created
  lazily, the first time ``p`` has a gradient), e.g. ``{"step": 0, "m": zeros}``;
* ``update(p, g, state, group)``: one step of the algorithm for one parameter, in place on
  ``p`` (a numpy array: the parameter's data) given its gradient ``g``.

The base class provides parameter groups, ``zero_grad``, ``step(closure)``, lazy state,
``state_dict``/``load_state_dict`` (keyed by parameter index, validated on load),
hyperparameter validation with messages that name the value, the ``maximize`` flag, an
opt-in guard that skips steps with non-finite gradients, and ``state_bytes``. Methods
that need the whole group at once (L-BFGS) override ``step`` instead.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor, no_grad

ParamsLike = Iterable[Tensor] | Iterable[dict[str, Any]]

_REGISTRY: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {}


def register(*names: str, **preset: Any) -> Callable[[type[Optimizer]], type[Optimizer]]:
    """Class decorator: make an optimizer buildable by name with :func:`create`.

    ``preset`` hyperparameters apply under these names (e.g. ``"momentum"`` is SGD with
    momentum=0.9); arguments given to ``create`` override them.
    """

    def deco(cls: type[Optimizer]) -> type[Optimizer]:
        for name in names:
            _REGISTRY[name.lower()] = (cls, dict(preset))
        return cls

    return deco


def available() -> list[str]:
    """Names accepted by :func:`create`."""
    return sorted(_REGISTRY)


def create(name: str, params: ParamsLike, **hyperparameters: Any) -> Optimizer:
    """Build an optimizer by name: ``create("adam", model.parameters(), lr=1e-3)``."""
    key = name.lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"Unknown optimizer {name!r}; available: {', '.join(available())}")
    cls, preset = _REGISTRY[key]
    return cls(params, **{**preset, **hyperparameters})


class Optimizer:
    """Base class for all optimizers.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) each holding
    ``"params"`` and any hyperparameters that differ from the defaults. Options every
    method accepts:

    * ``skip_nonfinite`` (default False): if any gradient of a step contains NaN or inf,
      skip the whole step (nothing changes) and count it in ``skipped_steps``.
    """

    def __init__(
        self, params: ParamsLike, defaults: dict[str, Any], *, skip_nonfinite: bool = False
    ) -> None:
        self.defaults = dict(defaults)
        self.validate(self.defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_steps = 0
        groups = list(params) if not isinstance(params, Tensor) else [params]
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- for subclasses
    def init_state(self, p: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        """Fresh per-parameter state for ``p`` (an array); default: none."""
        return {}

    def update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any], group: dict) -> None:
        """Apply one step to ``p`` in place, given gradient ``g`` (already sign-flipped when
        ``maximize``). Subclasses implement this, or override :meth:`step`."""
        raise NotImplementedError(f"{type(self).__name__} must implement update() or step()")

    def validate(self, hp: dict[str, Any]) -> None:
        """Check hyperparameters; raise ValueError naming the bad one and its value.

        The base class checks the common ones when present; subclasses extend this.
        """
        if "lr" in hp:
            lr = hp["lr"]
            if not isinstance(lr, (int, float)) or not lr >= 0.0:
                raise ValueError(f"Invalid learning rate: {lr}")
        if "eps" in hp:
            check_nonnegative("epsilon value", hp["eps"])
        if "weight_decay" in hp:
            check_nonnegative("weight_decay value", hp["weight_decay"])
        if "momentum" in hp:
            check_nonnegative("momentum value", hp["momentum"])
        if "betas" in hp:
            check_betas(hp["betas"])

    # ----------------------------------------------------------------- groups
    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters, optionally with its own hyperparameters."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer parameters must be Tensors, got {type(p).__name__} at index {i}"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter appears more than once in the same group")
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no hyperparameter(s) {sorted(unknown)}; "
                f"known: {sorted(self.defaults)}"
            )
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.validate({k: v for k, v in group.items() if k != "params"})
        group["params"] = params
        self.param_groups.append(group)

    # ----------------------------------------------------------------- the step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One optimisation step over every parameter that has a gradient.

        ``closure``, if given, re-evaluates the model and returns the loss (it should
        call ``zero_grad`` and ``backward`` itself); its result is returned.
        """
        loss = closure() if closure is not None else None
        if self.skip_nonfinite and not self.gradients_are_finite():
            self.skipped_steps += 1
            return loss
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = -p.grad if group.get("maximize", False) else p.grad
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self.init_state(p.data, group)
                    self.update(p.data, g, state, group)
        return loss

    def gradients_are_finite(self) -> bool:
        """True if no gradient of any parameter holds NaN or inf."""
        return all(
            p.grad is None or bool(np.isfinite(p.grad).all())
            for group in self.param_groups
            for p in group["params"]
        )

    # ----------------------------------------------------------------- state
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered in group order, as in torch; arrays are copied.
        """
        index = {id(p): i for i, p in enumerate(self._indexed_params())}
        groups = []
        for group in self.param_groups:
            g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        state = {index[id(p)]: copy.deepcopy(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; validates before changing anything.

        The number of groups and each group's size must match; every state array must
        have its parameter's shape (or be a scalar/small buffer the method keeps) and a
        floating dtype equal to the parameter's.
        """
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError("state_dict must have 'state' and 'param_groups' entries") from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"parameter group {i}: loaded state dict has {len(saved['params'])} "
                    f"parameters, this optimizer has {len(mine['params'])}"
                )
        params = self._indexed_params()
        id_map = {
            old: p
            for saved, mine in zip(saved_groups, self.param_groups)
            for old, p in zip(saved["params"], mine["params"])
        }
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, s in saved_state.items():
            if key not in id_map:
                raise ValueError(f"state for parameter index {key}, which no group contains")
            p = id_map[key]
            for name, value in s.items():
                if isinstance(value, np.ndarray) and value.shape == p.shape:
                    if value.dtype != p.dtype:
                        raise ValueError(
                            f"state '{name}' of parameter {key} has dtype {value.dtype}, "
                            f"the parameter has {p.dtype}"
                        )
                elif isinstance(value, np.ndarray) and value.ndim == p.ndim and value.size > 1:
                    if not self.state_shape_ok(name, value.shape, p.shape):
                        raise ValueError(
                            f"state '{name}' of parameter {key} has shape {value.shape}, "
                            f"the parameter has shape {p.shape}"
                        )
            new_state[p] = copy.deepcopy(s)
        del params
        for mine, saved in zip(self.param_groups, saved_groups):
            hp = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            self.validate(hp)
            mine.update(hp)
        self.state = new_state

    def state_shape_ok(self, name: str, shape: tuple[int, ...], param_shape: tuple) -> bool:
        """Whether a state array of ``shape`` fits a parameter of ``param_shape``.

        Default: only the parameter's own shape. Methods with factored or reduced state
        (Adafactor) override this.
        """
        return shape == param_shape

    def state_bytes(self) -> int:
        """Bytes held in per-parameter state arrays (the optimizer's memory cost)."""
        total = 0
        for s in self.state.values():
            for value in s.values():
                if isinstance(value, np.ndarray):
                    total += value.nbytes
                elif isinstance(value, (list, tuple)):
                    total += sum(v.nbytes for v in value if isinstance(v, np.ndarray))
        return total

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            n = sum(p.size for p in group["params"])
            hp = ", ".join(f"{k}={v}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} tensors, {n} values; {hp}")
        lines.append(")")
        return "\n".join(lines)


# --------------------------------------------------------------------------- validation helpers
def check_nonnegative(what: str, value: Any) -> None:
    """Raise ``ValueError("Invalid <what>: <value>")`` unless value is a number >= 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0.0:
        raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas: Any) -> None:
    """Each beta must be in [0, 1): ``Invalid beta parameter at index i: value``."""
    try:
        items = list(betas)
    except TypeError:
        raise ValueError(f"Invalid betas: {betas} (expected a pair of numbers)") from None
    for i, b in enumerate(items):
        if not isinstance(b, (int, float)) or not 0.0 <= b < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {b}")


def check_range(what: str, value: Any, low: float, high: float, *, high_open: bool = False) -> None:
    """Raise ``ValueError("Invalid <what>: <value>")`` unless low <= value <= high (or < high)."""
    ok = (
        isinstance(value, (int, float))
        and low <= value
        and (value < high if high_open else value <= high)
    )
    if not ok or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"Invalid {what}: {value}")
