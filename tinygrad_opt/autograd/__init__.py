"""Automatic differentiation: the ``Function`` base class, grad mode and the backward pass.

- :mod:`~tinygrad_opt.autograd.function`: :class:`Function` (an op's forward, its numpy
  ``backward`` and its differentiable ``vjp``), ``no_grad``/``enable_grad``/
  ``set_grad_enabled``, :func:`unbroadcast`.
- :mod:`~tinygrad_opt.autograd.engine`: the iterative backward pass (numpy, or recorded
  for ``create_graph=True``).
- :mod:`~tinygrad_opt.autograd.gradients`: :func:`grad` and :func:`backward`, torch's
  ``torch.autograd.grad``/``backward``.
- :mod:`~tinygrad_opt.autograd.functional`: vjp, jvp, hvp, vhp, jacobian, hessian.
"""

from tinygrad_opt.autograd import functional
from tinygrad_opt.autograd.function import (
    Function,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    unbroadcast,
)
from tinygrad_opt.autograd.gradients import backward, grad

__all__ = [
    "Function",
    "backward",
    "enable_grad",
    "functional",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]
