"""``Objective``: a scalar loss as a function of parameter tensors, frozen at one point.

Every curvature operator differentiates some L(θ) at a fixed θ₀. An :class:`Objective`
holds θ₀ as private leaf tensors (copies of the parameters, in the compute dtype,
``requires_grad=True``), their :class:`~tinygrad_opt.curvature.layout.ParameterLayout`,
and knows how to build the graph of

- ``loss()``: the scalar L(θ₀), and, for objectives built from a model,
- ``output()``: the network output f(θ₀) and ``loss_of_output(z)``: ℓ(z), so that
  L(θ) = ℓ(f(θ)) — the split the Gauss-Newton and Fisher products need.

Three ways to make one:

- :meth:`Objective.from_model`: ``loss_fn(model(inputs), targets)`` on one batch
  ``(inputs, targets)``, w.r.t. the model's parameters (those that require grad, or a
  given subset). The model computes with the private copies (see
  :mod:`~tinygrad_opt.curvature.substitute`): its own tensors, gradients and optimizer
  state are never touched. By default the model runs in eval mode (Dropout off, BatchNorm
  on running statistics), so that L is a deterministic function of θ.
- :meth:`Objective.from_function`: ``func(*params)`` returning a scalar Tensor.
- :meth:`Objective.from_functions`: ``output_fn(*params)`` and ``loss_fn(output)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import enable_grad
from tinygrad_opt.curvature.layout import ParameterLayout
from tinygrad_opt.curvature.substitute import substituted_parameters
from tinygrad_opt.tensor import Tensor

__all__ = ["Objective"]


def _leaf(value: Any, dtype: Any) -> Tensor:
    data = np.asarray(getattr(value, "_data", value))
    if data.dtype.kind != "f":
        raise TypeError(f"parameters must be floating point arrays, got dtype {data.dtype}")
    return Tensor(np.array(data, dtype=dtype or data.dtype, copy=True), requires_grad=True)


def _cast(x: Any, dtype: Any) -> Any:
    """Floating inputs in the compute dtype; anything else (labels, indices) as given."""
    if dtype is None:
        return x
    if isinstance(x, Tensor):
        return x.detach().to(dtype) if x.dtype.kind == "f" and x.dtype != dtype else x.detach()
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return x.astype(dtype, copy=False)
    if isinstance(x, (tuple, list)):
        return type(x)(_cast(v, dtype) for v in x)
    return x


class Objective:
    """L(θ) at a fixed θ₀ (see the module docstring). ``leaves`` are the θ₀ tensors in
    ``layout`` order; ``has_output`` says whether ``output``/``loss_of_output`` exist."""

    def __init__(
        self,
        leaves: Sequence[Tensor],
        layout: ParameterLayout,
        loss: Callable[[Sequence[Tensor]], Tensor] | None = None,
        output: Callable[[Sequence[Tensor]], Tensor] | None = None,
        loss_of_output: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if loss is None and (output is None or loss_of_output is None):
            raise ValueError("Objective: give loss, or both output and loss_of_output")
        self.leaves: tuple[Tensor, ...] = tuple(leaves)
        self.layout = layout
        self._loss = loss
        self._output = output
        self._loss_of_output = loss_of_output

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_model(
        cls,
        model: Any,
        loss_fn: Callable[[Tensor, Any], Tensor],
        batch: tuple[Any, Any],
        *,
        parameters: Iterable[Tensor] | None = None,
        dtype: Any = np.float64,
        eval_mode: bool = True,
    ) -> Objective:
        """``loss_fn(model(inputs), targets)`` with ``batch = (inputs, targets)``.

        ``inputs`` is a numpy array or Tensor (given to the model as a Tensor);
        ``targets`` is passed to ``loss_fn`` as it is. ``parameters``: a subset of the
        model's parameters (default: all that require grad), in the model's order.
        ``dtype``: the compute dtype (parameters and floating inputs are cast to it; None
        keeps each parameter's own). ``eval_mode``: run the model in eval mode.
        """
        if not hasattr(model, "named_parameters"):
            raise TypeError(
                f"expected a Module (with named_parameters), got {type(model).__name__}; for a "
                f"plain function use from_function"
            )
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError("batch must be a pair (inputs, targets)")
        named = list(model.named_parameters())
        if parameters is None:
            chosen = [(n, p) for n, p in named if p.requires_grad]
        else:
            wanted = {id(p) for p in parameters}
            chosen = [(n, p) for n, p in named if id(p) in wanted]
            if len(chosen) != len(wanted):
                raise ValueError("parameters: every tensor must be a parameter of the model")
        if not chosen:
            raise ValueError("the model has no parameters to differentiate")
        names = [n for n, _ in chosen]
        leaves = [_leaf(p, dtype) for _, p in chosen]
        x, y = batch
        x = _cast(x, dtype)
        x = x if isinstance(x, Tensor) else Tensor(x)

        def output(current: Sequence[Tensor]) -> Tensor:
            swap = {id(p): t for (_, p), t in zip(chosen, current)}
            modes = [(m, m.training) for m in model.modules()] if eval_mode else []
            if eval_mode:
                model.eval()
            try:
                with substituted_parameters(model, swap), enable_grad():
                    out = model(x)
            finally:
                for m, mode in modes:
                    m.training = mode
            if not isinstance(out, Tensor):
                raise TypeError(f"the model must return one Tensor, got {type(out).__name__}")
            return out

        return cls(
            leaves,
            ParameterLayout(names, [leaf.shape for leaf in leaves]),
            output=output,
            loss_of_output=lambda z: loss_fn(z, y),
        )

    @classmethod
    def from_function(
        cls,
        func: Callable[..., Tensor],
        params: Sequence[Any] | Mapping[str, Any],
        *,
        dtype: Any = np.float64,
    ) -> Objective:
        """``func(*params)`` → scalar Tensor, at the point ``params`` (arrays or Tensors,
        a sequence, or a mapping name → array whose values are passed in order)."""
        names, values = _named(params)
        leaves = [_leaf(p, dtype) for p in values]
        return cls(
            leaves,
            ParameterLayout(names, [leaf.shape for leaf in leaves]),
            loss=lambda current: func(*current),
        )

    @classmethod
    def from_functions(
        cls,
        output_fn: Callable[..., Tensor],
        loss_fn: Callable[[Tensor], Tensor],
        params: Sequence[Any] | Mapping[str, Any],
        *,
        dtype: Any = np.float64,
    ) -> Objective:
        """L(θ) = ``loss_fn(output_fn(*params))``, with the output exposed (for GGN/Fisher)."""
        names, values = _named(params)
        leaves = [_leaf(p, dtype) for p in values]
        return cls(
            leaves,
            ParameterLayout(names, [leaf.shape for leaf in leaves]),
            output=lambda current: output_fn(*current),
            loss_of_output=loss_fn,
        )

    # ----------------------------------------------------------------- evaluation
    @property
    def has_output(self) -> bool:
        return self._output is not None

    def output(self) -> Tensor:
        """f(θ₀), a graph over ``leaves``."""
        if self._output is None:
            raise TypeError(
                "this objective is a plain function of the parameters, with no network output; "
                "build it with from_model or from_functions"
            )
        with enable_grad():
            return self._output(self.leaves)

    def loss_of_output(self, z: Tensor) -> Tensor:
        """ℓ(z): the loss as a function of the network output."""
        with enable_grad():
            return _scalar(self._loss_of_output(z))

    def loss(self) -> Tensor:
        """L(θ₀), a scalar graph over ``leaves``."""
        with enable_grad():
            if self._loss is not None:
                return _scalar(self._loss(self.leaves))
            return _scalar(self._loss_of_output(self._output(self.leaves)))


def _named(params: Sequence[Any] | Mapping[str, Any]) -> tuple[list[str], list[Any]]:
    if isinstance(params, Mapping):
        return [str(k) for k in params], list(params.values())
    if isinstance(params, (Tensor, np.ndarray)):
        params = [params]
    values = list(params)
    return [str(i) for i in range(len(values))], values


def _scalar(loss: Any) -> Tensor:
    if not isinstance(loss, Tensor):
        raise TypeError(f"the loss must be a Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(f"the loss must be a single number, got shape {loss.shape}")
    return loss
