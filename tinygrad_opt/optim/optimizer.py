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

Speed for elementwise methods
-----------------------------
A method whose ``update`` is *elementwise* sets the class attribute ``elementwise = True``.
That is a promise of three rules:

a. ``update`` changes the state arrays ``init_state`` made only in place (``s *= b``,
   ``np.add(s, x, out=s)``), never rebinding ``state[key] = new_array``; it may add a new
   array of ``p``'s shape (a buffer made on first use);
b. every array it computes is an elementwise function of the arrays it is given (no
   sums, norms, sorting, reshaping or mixing of elements);
c. scalar state (e.g. ``step``) is derived from scalars only (hyperparameters and other
   scalar state) and stored as a plain number, not a 0-d array;

and, since chunks run on several threads, ``update`` writes neither to ``self`` nor to
``group`` (work arrays come from :func:`~tinygrad_opt.optim.functional.scratch`). Then
stepping any slice of a parameter gives exactly that slice of the whole step (for
correctly rounded ufuncs: + - * / sqrt, maximum, ...), and the base class may split the
work: big parameters are stepped in cache-sized chunks shared by a few threads (numpy
releases the GIL inside ufuncs). Each chunk gets its own state dict
``{k: v[lo:hi] if array else v}``; after all chunks the scalar state, which every chunk
computed alike (checked: a mismatch, or a rebound array, raises RuntimeError), is stored
once, and arrays added by ``update`` are joined. A subclass that overrides ``update`` is
not elementwise unless it says so again.

``flat=True`` (elementwise methods only) goes further, per parameter group: the group's
parameters (one dtype) are copied into one contiguous buffer and every ``p.data``
becomes a view of it (a ``p.data`` rebound later, e.g. by ``Module.load_state_dict``, is
copied back in at the next step); the state is made once for the group (``init_state``
gets the whole buffer) and ``self.state[p]`` holds views of it and copies of its
scalars, so ``state_dict``/``load_state_dict`` are unchanged and interchangeable with
``flat=False``. Each step gathers the gradients into a flat gradient buffer, skipping
those that already are views of it: ``zero_grad(set_to_none=False)`` installs such
views (zero-filled) as every ``p.grad``, so ``backward`` accumulates in place and
``step`` copies nothing. The group is then stepped as one array. Results are
bit-identical to ``flat=False`` (``tests/optim/test_flat.py``).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_opt.optim.chunked import queue_parameter, run_tasks
from tinygrad_opt.optim.flat import FlatGroup
from tinygrad_opt.optim.hyperparameters import (
    check_betas,
    check_declared_types,
    check_nonnegative,
    check_number,
    check_range,
    declared_init,
    plain_number,
)
from tinygrad_opt.optim.registry import available, create, lookup, register
from tinygrad_opt.parallel import default_threads
from tinygrad_opt.tensor import Tensor, no_grad

__all__ = [
    "Optimizer",
    "ParamsLike",
    "available",
    "check_betas",
    "check_nonnegative",
    "check_number",
    "check_range",
    "create",
    "lookup",
    "plain_number",
    "register",
]

ParamsLike = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class for all optimizers.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) each holding
    ``"params"`` and any hyperparameters that differ from the defaults. Options every
    method accepts:

    * ``skip_nonfinite`` (default False): if any gradient of a step contains NaN or inf,
      skip the whole step (nothing changes) and count it in ``skipped_steps``.

    Options for methods with ``elementwise = True`` (see the module docstring); none of
    them changes a single bit of the results:

    * ``flat`` (default False): keep each group's parameters, gradients and state in
      one contiguous buffer per group (every ``p.data`` becomes a view of it) and step the
      group as one array. A group must have a single dtype. If some parameters of a flat
      group have no gradient at a step while others do, that group steps parameter by
      parameter from then on (as with ``flat=False``: those parameters are skipped), with a
      ``RuntimeWarning``; ``zero_grad(set_to_none=False)`` avoids this.
    * ``chunk_size`` (elements; default: 1 MiB worth): step arrays in chunks of this
      size; 0 steps each array in one piece. Without ``flat``, parameters of at least
      :data:`MIN_TASK_BYTES` are stepped this way (and spread over the threads).
    * ``threads`` (default :func:`default_threads`): how many threads share the chunks
      of a step (the calling thread is one of them). 1 keeps everything on the caller.

    A method declares its hyperparameters once, as the class attribute
    :attr:`hyperparameters` (names, defaults, and the order positional arguments take
    them, as torch's signatures); the base class then makes its ``__init__``
    (``Adam(params, 1e-3)`` and ``Adam(params, lr=1e-3, flat=True)`` both work,
    ``help(Adam)`` shows the signature). A number's default makes the value a number
    (``TypeError`` otherwise), a tuple's default fixes the length of the tuple.
    """

    #: Hyperparameters and defaults, in positional order. A class that declares this and
    #: no ``__init__`` gets one made from it.
    hyperparameters: ClassVar[dict[str, Any]] = {}

    #: Whether ``update`` obeys the elementwise rules (module docstring), allowing
    #: chunked, threaded and ``flat`` steps. Re-declare it when overriding ``update``.
    elementwise: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "update" in cls.__dict__ and "elementwise" not in cls.__dict__:
            cls.elementwise = False  # a new update() makes no promise its parent made
        if "hyperparameters" in cls.__dict__ and "__init__" not in cls.__dict__:
            cls.__init__ = declared_init(cls, Optimizer.__init__)  # type: ignore[method-assign]

    def __init__(
        self,
        params: ParamsLike,
        defaults: dict[str, Any],
        *,
        skip_nonfinite: bool = False,
        flat: bool = False,
        chunk_size: int | None = None,
        threads: int | None = None,
    ) -> None:
        self.defaults = {k: plain_number(v) for k, v in defaults.items()}
        self.validate(self.defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.skip_nonfinite = bool(skip_nonfinite)
        self.skipped_steps = 0
        if flat and not self.elementwise:
            raise ValueError(
                f"{type(self).__name__} does not declare an elementwise update "
                "(elementwise = False), so flat=True is not available for it"
            )
        if chunk_size is not None and (
            not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 0
        ):
            raise ValueError(f"Invalid chunk_size: {chunk_size} (elements, >= 0; 0 = no chunks)")
        if threads is not None and (
            not isinstance(threads, int) or isinstance(threads, bool) or threads < 1
        ):
            raise ValueError(f"Invalid threads: {threads} (expected an integer >= 1)")
        self.flat = bool(flat)
        self.chunk_size = chunk_size
        self.threads = default_threads() if threads is None else threads
        self._flat_groups: list[FlatGroup | None] = []
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters must be an ordered collection (a list), not a set: "
                "the order of a set changes between runs"
            )
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
        declared = type(self).hyperparameters
        check_declared_types(declared, hp)
        if "lr" in hp:
            check_number("lr", hp["lr"])
            if not hp["lr"] >= 0.0:
                raise ValueError(f"Invalid learning rate: {hp['lr']}")
        if "eps" in hp and not isinstance(hp["eps"], (tuple, list)):
            check_nonnegative("epsilon value", hp["eps"])
        if "eps_root" in hp:  # Optax's δ inside the square root
            check_nonnegative("eps_root value", hp["eps_root"])
        if "weight_decay" in hp:
            check_nonnegative("weight_decay value", hp["weight_decay"])
        if "momentum" in hp:
            check_nonnegative("momentum value", hp["momentum"])
        if "betas" in hp:
            default = declared.get("betas")
            check_betas(hp["betas"], len(default) if isinstance(default, tuple) else 2)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters, optionally with its own hyperparameters.

        As in torch, the parameters may be ``(name, Tensor)`` pairs (what
        ``Module.named_parameters()`` yields): the names are kept in the group's
        ``"param_names"`` (and so in ``state_dict``). All parameters of all groups must
        be named, or none.
        """
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        group = dict(group)
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters must be an ordered collection (a list), not a set: "
                "the order of a set changes between runs"
            )
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        named = [p for p in params if isinstance(p, tuple)]
        if named:
            if len(named) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            if "param_names" in group:
                raise ValueError(
                    "give parameter names as (name, Tensor) pairs or as 'param_names', not both"
                )
            group["param_names"] = [pair[0] for pair in params]
            params = [pair[1] for pair in params]
        if "param_names" in group:
            names = group["param_names"] = list(group["param_names"])
            if len(names) != len(params) or not all(isinstance(n, str) for n in names):
                raise ValueError(
                    f"'param_names' must hold one string per parameter ({len(params)}), "
                    f"got {names!r}"
                )
        if self.param_groups and ("param_names" in group) != (
            "param_names" in self.param_groups[0]
        ):
            have = "with" if "param_names" in group else "without"
            other = "without" if "param_names" in group else "with"
            raise ValueError(
                f"all optimizer param groups should be with/without names: cannot add a "
                f"param group {have} names to an optimizer {other} names"
            )
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
        unknown = set(group) - set(self.defaults) - {"params", "param_names"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__} has no hyperparameter(s) {sorted(unknown)}; "
                f"known: {sorted(self.defaults)}"
            )
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        for key, value in group.items():
            if key not in ("params", "param_names"):
                group[key] = plain_number(value)
        self.validate({k: v for k, v in group.items() if k not in ("params", "param_names")})
        if self.flat:
            dtypes = sorted({str(p.dtype) for p in params})
            if len(dtypes) > 1:
                raise ValueError(
                    f"flat=True needs one dtype per parameter group; group "
                    f"{len(self.param_groups)} mixes {', '.join(dtypes)} (put each dtype in "
                    "its own group)"
                )
        group["params"] = params
        self.param_groups.append(group)
        self._flat_groups.append(FlatGroup(params) if self.flat else None)

    # ----------------------------------------------------------------- the step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place.

        With ``flat=True`` and ``set_to_none=False``, every parameter's ``.grad`` becomes a
        zero-filled view of its group's flat gradient buffer (so ``backward`` accumulates
        there and ``step`` needs no copy); a parameter that then gets no gradient is
        stepped with a zero gradient, as torch does for a zero ``.grad``.
        """
        for group, flat in zip(self.param_groups, self._flat_groups):
            if flat is not None and not set_to_none:
                flat.install_grad_views()
                continue
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
        if self.ready_to_step():
            self.apply_step()
        return loss

    def ready_to_step(self) -> bool:
        """The checks between evaluating the gradients and stepping, for every ``step``
        (overrides call it too): False, counting a skipped step, if ``skip_nonfinite``
        finds a NaN or inf gradient; RuntimeError if a gradient's shape is wrong."""
        if self.skip_nonfinite and not self.gradients_are_finite():
            self.skipped_steps += 1
            return False
        self.check_gradient_shapes()
        return True

    def apply_step(self) -> None:
        """The update of every parameter that has a gradient, with no closure and no
        checks (:meth:`step` does those first)."""
        with no_grad():
            tasks: list = []  # chunked work (chunked.py), run together at the end
            for index, (group, flat) in enumerate(zip(self.param_groups, self._flat_groups)):
                if flat is not None and flat.queue_step(self, index, group, tasks):
                    continue
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state_of(p, group)
                    if not queue_parameter(self, p, state, group, tasks):
                        g = -p.grad if group.get("maximize", False) else p.grad
                        self.update(p.data, g, state, group)
            if tasks:
                run_tasks(tasks, self.threads)

    def state_of(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """``p``'s state, made by :meth:`init_state` the first time it is asked for."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = self.init_state(p.data, group)
        return state

    def gradients(self, group: dict[str, Any]) -> list[tuple[Tensor, np.ndarray, dict]]:
        """``(p, g, state)`` for each parameter of ``group`` that has a gradient, with
        ``g`` negated when the group maximizes and the state made if new: what a method
        that overrides :meth:`step` (to see a whole group at once) loops over. Call
        :meth:`check_gradient_shapes` first."""
        maximize = group.get("maximize", False)
        return [
            (p, -p.grad if maximize else p.grad, self.state_of(p, group))
            for p in group["params"]
            if p.grad is not None
        ]

    def check_gradient_shapes(self) -> None:
        """RuntimeError naming the first parameter (its index, as in ``state_dict``) whose
        gradient's shape differs from its own; nothing is changed before this check."""
        for i, p in enumerate(self._indexed_params()):
            if p.grad is not None and p.grad.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.step(): the gradient of parameter {i} has shape "
                    f"{tuple(p.grad.shape)}, the parameter has shape {tuple(p.shape)}"
                )

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
        hps = [
            {k: plain_number(copy.deepcopy(v)) for k, v in saved.items() if k != "params"}
            for saved in saved_groups
        ]
        for hp in hps:
            self.validate(hp)
        for mine, hp in zip(self.param_groups, hps):
            mine.update(hp)
        self.state = new_state
        for index, flat in enumerate(self._flat_groups):
            if flat is not None and not flat.load_state(self.state):
                warnings.warn(
                    f"{type(self).__name__}(flat=True): the loaded state of parameter group "
                    f"{index} is not the same for all its parameters (some have none, or "
                    "their step counts differ); this group steps parameter by parameter "
                    "(same results, slower).",
                    RuntimeWarning,
                    stacklevel=2,
                )

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
            hp = ", ".join(
                f"{k}={v}" for k, v in group.items() if k not in ("params", "param_names")
            )
            lines.append(f"  group {i}: {len(group['params'])} tensors, {n} values; {hp}")
        lines.append(")")
        return "\n".join(lines)
