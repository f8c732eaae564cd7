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
bit-identical to ``flat=False`` (``tests/test_optim_flat.py``).
"""

from __future__ import annotations

import concurrent.futures
import copy
import math
import os
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_opt.tensor import Tensor, no_grad

ParamsLike = Iterable[Tensor] | Iterable[dict[str, Any]]

_REGISTRY: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {}

#: Default chunk for elementwise updates, in bytes per array. Measured (2-core AMD EPYC,
#: 1 MiB L2 per core, 32 MiB L3; 2 threads; 10M float32 parameters, ms per step) for
#: chunks of 64 KiB / 256 KiB / 1 MiB / 4 MiB / 8 MiB: SGD-momentum 12.7 / 5.5 / 4.3 /
#: 4.7 / 8.1, Adam 26.9 / 13.0 / 10.7 / 12.3 / 25.2 (unchunked, 1 thread: 12.9 and 35.2);
#: float64 has the same optimum in bytes. Small chunks lose to the per-call overhead and
#: GIL hand-offs between threads, big ones to cache misses between the passes.
DEFAULT_CHUNK_BYTES = 1 << 20

#: Without ``flat``, parameters of at least this many bytes are stepped as tasks spread
#: over the threads (in chunks if big enough); smaller ones are stepped directly, where
#: the hand-off would cost more than the work.
MIN_TASK_BYTES = 128 * 1024


def default_threads() -> int:
    """Threads used for chunked steps unless ``threads=`` says otherwise: the CPUs this
    process may run on, at most 8 (elementwise steps are memory-bound beyond that), and
    at most ``OMP_NUM_THREADS`` when that is set (as torch's intra-op threads): MPI
    ranks sharing a machine each get one thread (``tinygrad-opt launch`` sets it), so
    they do not fight over the cores."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if omp.isdigit() and int(omp) > 0:
        n = min(n, int(omp))
    return max(1, min(n, 8))


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
    """

    #: Whether ``update`` obeys the elementwise rules (module docstring), allowing
    #: chunked, threaded and ``flat`` steps. Re-declare it when overriding ``update``.
    elementwise: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "update" in cls.__dict__ and "elementwise" not in cls.__dict__:
            cls.elementwise = False  # a new update() makes no promise its parent made

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
        self._flat_groups: list[_FlatGroup | None] = []
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
        self._flat_groups.append(_FlatGroup(params) if self.flat else None)

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
        if self.skip_nonfinite and not self.gradients_are_finite():
            self.skipped_steps += 1
            return loss
        with no_grad():
            tasks: list[_Task] = []  # chunked work, run together at the end
            for index, (group, flat) in enumerate(zip(self.param_groups, self._flat_groups)):
                if flat is None or not self._plan_flat_group(index, group, flat, tasks):
                    for p in group["params"]:
                        if p.grad is not None:
                            self._step_parameter(p, group, tasks)
            if tasks:
                self._run_tasks(tasks)
        return loss

    def _step_parameter(self, p: Tensor, group: dict[str, Any], tasks: list[_Task]) -> None:
        """Step one parameter now, or (elementwise, big enough) queue it as chunks."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = self.init_state(p.data, group)
        maximize = group.get("maximize", False)
        chunk = self._chunk_elements(p.dtype)
        if (
            self.elementwise
            and p.data.nbytes >= MIN_TASK_BYTES
            and (self.threads > 1 or 0 < chunk < p.size)  # else a task gains nothing
            and p.grad.shape == p.shape
            and _chunkable(p.data, state)
        ):
            arrays = {k: v.reshape(-1) for k, v in state.items() if isinstance(v, np.ndarray)}
            tasks.append(
                _Task(
                    self,
                    group,
                    p.data.reshape(-1),
                    p.grad.reshape(-1),
                    state,
                    arrays,
                    _chunks(p.size, chunk),
                    maximize,
                    finish=_PerParameterFinish(p.shape),
                )
            )
            return
        self.update(p.data, -p.grad if maximize else p.grad, state, group)

    def _chunk_elements(self, dtype: np.dtype) -> int:
        if self.chunk_size is not None:
            return self.chunk_size
        return max(1, DEFAULT_CHUNK_BYTES // np.dtype(dtype).itemsize)

    def _plan_flat_group(
        self, index: int, group: dict[str, Any], flat: _FlatGroup, tasks: list[_Task]
    ) -> bool:
        """Queue a flat group's step; False if it must step per parameter instead."""
        flat.adopt_parameters()
        grads = [p.grad for p in flat.params]
        missing = sum(g is None for g in grads)
        if missing == len(grads):
            return True  # nothing to do, as for every parameter without a gradient
        if missing and flat.whole:
            warnings.warn(
                f"{type(self).__name__}(flat=True): parameter group {index} has "
                f"{missing} of {len(grads)} parameters without a gradient; this group steps "
                "parameter by parameter from now on (same results, slower). Give every "
                "parameter a gradient (zero_grad(set_to_none=False) does) or move the "
                "others to their own group.",
                RuntimeWarning,
                stacklevel=3,
            )
            flat.whole = False
        if not flat.whole:
            return False
        views = flat.grad_views or [None] * len(grads)
        sources: list[np.ndarray | None] = []  # gradients to copy into the flat buffer
        for i, (p, g, view) in enumerate(zip(flat.params, grads, views)):
            if g is view:
                sources.append(None)  # already there: backward accumulated into the view
            elif g.shape == p.shape:
                sources.append(g.reshape(-1))
            else:
                raise ValueError(
                    f"gradient of parameter {i} of group {index} has shape {g.shape}, "
                    f"the parameter has shape {p.shape}"
                )
        gather = any(src is not None for src in sources)
        if gather:
            flat.ensure_grad_buffer()
        if flat.state is None:
            flat.init_state(self, group)
        chunk = self._chunk_elements(flat.dtype) or flat.size
        chunks, pieces = flat.plan(chunk)
        arrays = {k: v for k, v in flat.state.items() if isinstance(v, np.ndarray)}
        tasks.append(
            _Task(
                self,
                group,
                flat.data,
                flat.grad,
                flat.state,
                arrays,
                chunks,
                group.get("maximize", False),
                finish=flat,
                gather=(pieces, sources) if gather else None,
            )
        )
        return True

    def _run_tasks(self, tasks: list[_Task]) -> None:
        """Run every chunk of every task, split over ``self.threads`` threads; commit."""
        jobs = [(task, c) for task in tasks for c in range(len(task.chunks))]
        queue = _JobQueue(jobs)
        helpers = min(self.threads, len(jobs)) - 1
        if helpers == 0:
            queue.work()
        else:
            futures = [_thread_pool(helpers).submit(queue.work) for _ in range(helpers)]
            try:
                queue.work()
            except BaseException:
                queue.stop()  # the helpers finish their chunk and take no more
                raise
            finally:
                concurrent.futures.wait(futures)
            for f in futures:
                f.result()  # re-raise the first error of a helper
        for task in tasks:
            task.commit()

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


# --------------------------------------------------------------------------- chunked steps
class _Task:
    """One owner of state (a parameter, or a flat group) stepped chunk by chunk.

    ``p``, ``g`` and ``arrays`` (the state arrays) are 1-D views of the same length;
    ``state`` is the owner's dict, read (never written) while chunks run. ``gather``, for a
    flat group, is ``(pieces, sources)``: the gradient pieces each chunk copies into ``g``
    first (``sources[i]`` is parameter i's flattened gradient, None if already in place).
    """

    __slots__ = (
        "opt", "group", "p", "g", "state", "arrays", "chunks", "negate", "finish", "gather",
        "results",
    )  # fmt: skip

    def __init__(
        self,
        opt: Optimizer,
        group: dict[str, Any],
        p: np.ndarray,
        g: np.ndarray,
        state: dict[str, Any],
        arrays: dict[str, np.ndarray],
        chunks: list[tuple[int, int]],
        negate: bool,
        finish: Any,
        gather: tuple[list, list] | None = None,
    ) -> None:
        self.opt, self.group, self.p, self.g = opt, group, p, g
        self.state, self.arrays, self.chunks, self.negate = state, arrays, chunks, negate
        self.finish, self.gather = finish, gather
        self.results: list[dict[str, Any] | None] = [None] * len(chunks)

    def run(self, c: int) -> None:
        """Step chunk ``c`` (on any thread): gather, negate if maximizing, update."""
        lo, hi = self.chunks[c]
        if self.gather is not None:
            pieces, sources = self.gather
            for i, src_lo, dst_lo, n in pieces[c]:
                src = sources[i]
                if src is not None:
                    np.copyto(self.g[dst_lo : dst_lo + n], src[src_lo : src_lo + n])
        g = self.g[lo:hi]
        if self.negate:
            g = np.negative(g)
        views = {k: a[lo:hi] for k, a in self.arrays.items()}
        state = {**self.state, **views}
        self.opt.update(self.p[lo:hi], g, state, self.group)
        for k, v in views.items():
            if state.get(k) is not v:
                raise RuntimeError(
                    f"{type(self.opt).__name__}.update() replaced or removed state array "
                    f"{k!r}; an elementwise update must change state arrays in place"
                )
        self.results[c] = state

    def commit(self) -> None:
        """After every chunk ran: check and store the scalar state, join new arrays."""
        name = type(self.opt).__name__
        first = self.results[0]
        assert first is not None
        scalars: dict[str, Any] = {}
        new_arrays: dict[str, np.ndarray] = {}
        for k, v in first.items():
            if k in self.arrays:
                continue
            lo, hi = self.chunks[0]
            if isinstance(v, np.ndarray) and v.shape == (hi - lo,):  # made by this update
                new_arrays[k] = np.concatenate([r[k] for r in self.results])  # type: ignore[index]
                continue
            for r in self.results[1:]:
                if not _same_scalar(r.get(k, _MISSING), v):  # type: ignore[union-attr]
                    raise RuntimeError(
                        f"{name}.update() computed different values of scalar state {k!r} "
                        "on different chunks: scalar state must not depend on array data "
                        "(set elementwise = False for such a method)"
                    )
            scalars[k] = v
        gone = [k for k in self.state if k not in first]
        if gone:
            raise RuntimeError(f"{name}.update() removed state {gone}")
        self.finish.commit(self.state, scalars, new_arrays)


_MISSING = object()


def _same_scalar(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):
        return False


class _PerParameterFinish:
    """Commit for one parameter stepped in chunks (``flat=False``)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def commit(self, state: dict, scalars: dict, new_arrays: dict) -> None:
        state.update(scalars)
        for k, v in new_arrays.items():
            state[k] = v.reshape(self.shape)


def _chunkable(data: np.ndarray, state: dict[str, Any]) -> bool:
    """Whether a parameter and its state can be stepped as 1-D chunks (contiguous, and every
    state array has the parameter's shape)."""
    if not data.flags.c_contiguous:
        return False
    return all(
        v.shape == data.shape and v.flags.c_contiguous
        for v in state.values()
        if isinstance(v, np.ndarray)
    )


def _chunks(n: int, chunk: int) -> list[tuple[int, int]]:
    """``[(lo, hi), ...]`` covering ``range(n)`` in pieces of ``chunk`` (0: one piece)."""
    if n == 0:
        return [(0, 0)]
    chunk = chunk or n
    return [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]


class _JobQueue:
    """Chunks handed out one at a time, so a thread that gets less CPU (a busy machine)
    simply takes fewer chunks instead of making the others wait at the end."""

    def __init__(self, jobs: list[tuple[_Task, int]]) -> None:
        self.jobs, self.next, self.lock = jobs, 0, threading.Lock()

    def work(self) -> None:
        while True:
            with self.lock:
                i = self.next
                self.next = i + 1
            if i >= len(self.jobs):
                return
            task, c = self.jobs[i]
            task.run(c)

    def stop(self) -> None:
        with self.lock:
            self.next = len(self.jobs)


_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] = (0, 0)  # (process id, workers)


def _thread_pool(workers: int) -> concurrent.futures.ThreadPoolExecutor:
    """A process-wide pool with at least ``workers`` threads (rebuilt after fork)."""
    global _pool, _pool_key
    with _pool_lock:
        pid = os.getpid()
        if _pool is None or _pool_key[0] != pid or _pool_key[1] < workers:
            old = _pool if _pool_key[0] == pid else None
            _pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="tinygrad_opt-step"
            )
            _pool_key = (pid, workers)
            if old is not None:
                old.shutdown(wait=False)
        return _pool


class _FlatGroup:
    """A parameter group whose parameters are views of one contiguous buffer (``flat``).

    ``state`` is the group's flat state (arrays of the buffer's length, and scalars), the
    truth while ``whole`` is True; ``Optimizer.state[p]`` holds views of its arrays and a
    copy of its scalars, refreshed after every step. ``whole`` becomes False when the group
    must step per parameter (a step where only some parameters had gradients, or a loaded
    state that is not the same for all of them); the views stay, the speed goes.
    """

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.dtype = params[0].dtype
        self.bounds: list[tuple[int, int]] = []
        n = 0
        for p in params:
            self.bounds.append((n, n + p.size))
            n += p.size
        self.size = n
        self.data = np.empty(n, self.dtype)
        self.views = [self._view(self.data, i) for i in range(len(params))]
        for p, v in zip(params, self.views):
            v[...] = p.data
            p.data = v
        self.grad: np.ndarray | None = None
        self.grad_views: list[np.ndarray] | None = None
        self.state: dict[str, Any] | None = None
        self.param_states: list[dict[str, Any]] = []
        self.whole = True
        self._plans: dict[int, tuple[list, list]] = {}

    def _view(self, flat: np.ndarray, i: int) -> np.ndarray:
        lo, hi = self.bounds[i]
        return flat[lo:hi].reshape(self.params[i].shape)

    def adopt_parameters(self) -> None:
        """Bring back parameters whose ``.data`` was rebound (``p.data = new``, e.g.
        ``Module.load_state_dict``): copy the values into the buffer, view it again."""
        for i, (p, v) in enumerate(zip(self.params, self.views)):
            if p.data is not v:
                if p.data.shape != v.shape:
                    raise ValueError(
                        f"parameter {i} of a flat group changed shape from {v.shape} to "
                        f"{p.data.shape} after the optimizer was built"
                    )
                np.copyto(v, p.data, casting="same_kind")
                p.data = v

    def ensure_grad_buffer(self) -> None:
        if self.grad is None:
            self.grad = np.zeros(self.size, self.dtype)
            self.grad_views = [self._view(self.grad, i) for i in range(len(self.params))]

    def install_grad_views(self) -> None:
        self.ensure_grad_buffer()
        assert self.grad is not None and self.grad_views is not None
        self.grad.fill(0)
        for p, gv in zip(self.params, self.grad_views):
            p.grad = gv

    def plan(self, chunk: int) -> tuple[list[tuple[int, int]], list]:
        """Chunks of the buffer, and for each the gradient pieces that land in it:
        ``(param index, offset in its gradient, offset in the buffer, length)``."""
        plan = self._plans.get(chunk)
        if plan is None:
            chunks = _chunks(self.size, chunk)
            pieces: list[list[tuple[int, int, int, int]]] = []
            for lo, hi in chunks:
                here = []
                for i, (a, b) in enumerate(self.bounds):
                    s, e = max(a, lo), min(b, hi)
                    if s < e:
                        here.append((i, s - a, s, e - s))
                pieces.append(here)
            plan = self._plans[chunk] = (chunks, pieces)
        return plan

    def _link(self, opt_state: dict[Tensor, dict[str, Any]], keys: list[str]) -> None:
        """Make ``opt_state[p]`` a dict of views of (and scalars from) the flat state."""
        assert self.state is not None
        self.param_states = []
        for i, p in enumerate(self.params):
            s = {
                k: self._view(v, i) if isinstance(v, np.ndarray) else v
                for k, v in ((k, self.state[k]) for k in keys)
            }
            opt_state[p] = s
            self.param_states.append(s)

    def init_state(self, opt: Optimizer, group: dict[str, Any]) -> None:
        state = opt.init_state(self.data, group)
        for k, v in state.items():
            if isinstance(v, np.ndarray) and v.shape != self.data.shape:
                raise ValueError(
                    f"{type(opt).__name__}.init_state() returned {k!r} of shape {v.shape} "
                    f"for a flat parameter of shape {self.data.shape}: an elementwise "
                    "method's state arrays have the parameter's shape"
                )
        self.state = state
        self._link(opt.state, list(state))

    def commit(self, state: dict, scalars: dict, new_arrays: dict) -> None:
        state.update(scalars)
        state.update(new_arrays)
        for k, v in new_arrays.items():
            for i, s in enumerate(self.param_states):
                s[k] = self._view(v, i)
        for s in self.param_states:
            s.update(scalars)

    def _agrees(self, s: dict[str, Any], first: dict[str, Any], shape: tuple) -> bool:
        """Whether parameter state ``s`` can share flat storage with ``first`` (the first
        parameter's): same keys, arrays of the parameter's shape and the group's dtype,
        equal scalars."""
        if set(s) != set(first):
            return False
        for k, v in s.items():
            ref = first[k]
            if isinstance(v, np.ndarray) or isinstance(ref, np.ndarray):
                if not (
                    isinstance(v, np.ndarray)
                    and isinstance(ref, np.ndarray)
                    and v.shape == shape
                    and ref.shape == self.params[0].shape
                    and v.dtype == self.dtype
                ):
                    return False
            elif not _same_scalar(v, ref):
                return False
        return True

    def load_state(self, opt_state: dict[Tensor, dict[str, Any]]) -> bool:
        """After ``load_state_dict``: copy the loaded per-parameter state into flat arrays
        if it is complete and its scalars agree; else (False) step per parameter."""
        states = [opt_state.get(p) for p in self.params]
        self.state, self.param_states, self.whole = None, [], True
        if all(s is None for s in states):
            return True
        first = states[0]
        uniform = first is not None and all(
            s is not None and self._agrees(s, first, p.shape) for p, s in zip(self.params, states)
        )
        if not uniform:
            self.whole = False
            return False
        assert first is not None
        flat_state: dict[str, Any] = {}
        for k, v in first.items():
            if isinstance(v, np.ndarray):
                arr = np.empty(self.size, self.dtype)
                for i, s in enumerate(states):
                    self._view(arr, i)[...] = s[k]  # type: ignore[index]
                flat_state[k] = arr
            else:
                flat_state[k] = v
        self.state = flat_state
        self._link(opt_state, list(first))
        return True


# --------------------------------------------------------------------------- validation helpers
def plain_number(value: Any) -> Any:
    """A hyperparameter with numpy scalars (``np.float32(0.1)``, ``np.int64(5)``, 0-d
    arrays) replaced by the Python numbers they hold, inside tuples and lists too.

    torch accepts such values (it converts them to double); here they would fail the
    ``isinstance(x, (int, float))`` checks, and a float32 learning rate would make the
    scalar arithmetic of an update float32.
    """
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return value.item()
    if isinstance(value, tuple):
        return tuple(plain_number(v) for v in value)
    if isinstance(value, list):
        return [plain_number(v) for v in value]
    return value


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
