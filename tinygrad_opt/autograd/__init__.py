"""Automatic differentiation: the ``Function`` base class, grad mode and the backward pass.

- :mod:`~tinygrad_opt.autograd.function`: :class:`Function` (an op's forward and
  backward), ``no_grad``/``enable_grad``/``set_grad_enabled``, :func:`unbroadcast`.
- :mod:`~tinygrad_opt.autograd.engine`: the iterative backward pass.
"""

from tinygrad_opt.autograd.function import (
    Function,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    unbroadcast,
)

__all__ = [
    "Function",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]
