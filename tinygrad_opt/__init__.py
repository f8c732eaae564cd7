"""tinygrad_opt: understand and plan neural-network optimization.

- ``Value``: a scalar autograd engine for teaching and graph pictures.
- ``Tensor``: an n-dimensional autograd engine on numpy.
- ``gradcheck``: compare analytical gradients with central finite differences.
- ``nn``: layers, initialisers and losses; ``viz.draw_graph``: graphviz drawings.
"""

from tinygrad_opt.gradcheck import GradcheckError, gradcheck
from tinygrad_opt.tensor import (
    Function,
    ShapeError,
    Tensor,
    cat,
    is_grad_enabled,
    maximum,
    minimum,
    no_grad,
    stack,
    where,
)
from tinygrad_opt.value import Value

__version__ = "0.1.0"

__all__ = [
    "Function",
    "GradcheckError",
    "ShapeError",
    "Tensor",
    "Value",
    "cat",
    "gradcheck",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "no_grad",
    "stack",
    "where",
]
