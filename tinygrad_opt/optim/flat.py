"""``flat=True``: a parameter group kept in one contiguous buffer and stepped as one array.

Every ``p.data`` of the group becomes a view of the buffer; the method's state is made
once for the whole buffer, and ``Optimizer.state[p]`` holds views of it (and copies of
its scalars), so ``state_dict`` is the same as without ``flat``. See ``optimizer.py``.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.optim.chunked import _chunks, _same_scalar, _Task, chunk_elements

if TYPE_CHECKING:
    from tinygrad_opt.optim.optimizer import Optimizer
    from tinygrad_opt.tensor import Tensor


class FlatGroup:
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

    def queue_step(
        self, opt: Optimizer, index: int, group: dict[str, Any], tasks: list[_Task]
    ) -> bool:
        """Queue this group's step as one flat array; False if it must step parameter by
        parameter instead (some parameters have no gradient)."""
        self.adopt_parameters()
        grads = [p.grad for p in self.params]
        missing = sum(g is None for g in grads)
        if missing == len(grads):
            return True  # nothing to do, as for every parameter without a gradient
        if missing and self.whole:
            warnings.warn(
                f"{type(opt).__name__}(flat=True): parameter group {index} has "
                f"{missing} of {len(grads)} parameters without a gradient; this group steps "
                "parameter by parameter from now on (same results, slower). Give every "
                "parameter a gradient (zero_grad(set_to_none=False) does) or move the "
                "others to their own group.",
                RuntimeWarning,
                stacklevel=4,
            )
            self.whole = False
        if not self.whole:
            return False
        views = self.grad_views or [None] * len(grads)
        # gradients to copy into the flat buffer (None: backward accumulated into the
        # view already); their shapes were checked by Optimizer.step
        sources = [None if g is view else g.reshape(-1) for g, view in zip(grads, views)]
        gather = any(src is not None for src in sources)
        if gather:
            self.ensure_grad_buffer()
        if self.state is None:
            self.init_state(opt, group)
        chunk = chunk_elements(opt, self.dtype) or self.size
        chunks, pieces = self.plan(chunk)
        arrays = {k: v for k, v in self.state.items() if isinstance(v, np.ndarray)}
        tasks.append(
            _Task(
                opt,
                group,
                self.data,
                self.grad,
                self.state,
                arrays,
                chunks,
                group.get("maximize", False),
                finish=self,
                gather=(pieces, sources) if gather else None,
            )
        )
        return True

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
