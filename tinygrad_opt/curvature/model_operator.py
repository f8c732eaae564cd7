"""``ModelOperator``: the shared construction of operators built from a model's loss.

Every concrete operator (Hessian, Gauss-Newton, empirical Fisher) is made the same three
ways — from ``(model, loss_fn, batch)``, or from an
:class:`~tinygrad_opt.curvature.objective.Objective` — and does its one-off work (graphs
kept for the products) in ``_setup(objective)``. ``refresh()`` redoes that work at the
model's current parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.curvature.operator import CurvatureOperator
from tinygrad_opt.tensor import Tensor

__all__ = ["ModelOperator"]


class ModelOperator(CurvatureOperator):
    """Base class of operators defined by a loss at a fixed point of parameter space.

    ``Op(model, loss_fn, (inputs, targets), parameters=None, dtype=np.float64,
    eval_mode=True)``: the loss is ``loss_fn(model(inputs), targets)``, differentiated
    w.r.t. ``parameters`` (default: every model parameter that requires grad), computed in
    ``dtype`` (None keeps the parameters' dtype), with the model in eval mode unless
    ``eval_mode=False``. The point is the parameters' values at construction.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Tensor, Any], Tensor],
        batch: tuple[Any, Any],
        *,
        parameters: Iterable[Tensor] | None = None,
        dtype: Any = np.float64,
        eval_mode: bool = True,
    ) -> None:
        params = None if parameters is None else list(parameters)
        self._rebuild: Callable[[], Objective] | None = lambda: Objective.from_model(
            model, loss_fn, batch, parameters=params, dtype=dtype, eval_mode=eval_mode
        )
        self._setup(self._rebuild())

    @classmethod
    def from_objective(cls, objective: Objective, **options: Any) -> Any:
        """The operator of an :class:`~tinygrad_opt.curvature.objective.Objective`
        (``options``: the subclass's own keywords, e.g. Fisher's ``reduction``)."""
        op = cls.__new__(cls)
        op._rebuild = None
        op._configure(**options)
        op._setup(objective)
        return op

    def _configure(self, **options: Any) -> None:
        if options:
            raise TypeError(f"{type(self).__name__} takes no options {sorted(options)}")

    def _setup(self, objective: Objective) -> None:
        CurvatureOperator.__init__(self, objective.layout)
        self.objective = objective

    def refresh(self) -> Any:
        """Rebuild at the model's current parameters (operators built from a model)."""
        if self._rebuild is None:
            raise TypeError("refresh: only an operator built from a model can be refreshed")
        self._setup(self._rebuild())
        return self
