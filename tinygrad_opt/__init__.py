"""tinygrad_opt: understand and plan neural-network optimization.

- ``Value``: a scalar autograd engine for teaching and graph pictures; ``value_grad`` is
  its ``torch.autograd.grad`` (``tinygrad_opt.value.grad``: higher derivatives of Values).
- ``Tensor``: an n-dimensional autograd engine on numpy with torch's op set and names;
  the torch-style functions (``tinygrad_opt.sin(x)``, ``tinygrad_opt.cat(...)``) and dtypes
  (``tinygrad_opt.float64``, ``.long``, ``.bool``) are exported here.
- ``gradcheck``/``gradgradcheck``: compare analytical first/second derivatives with
  central finite differences.
- ``nn``: layers, initialisers and losses; ``viz.draw_graph``: graphviz drawings.
"""

from tinygrad_opt import dtypes as _dtypes
from tinygrad_opt import ops as _ops
from tinygrad_opt.autograd.function import (
    Function,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_opt.dtypes import (
    get_default_dtype,
    promote_types,
    result_type,
    set_default_dtype,
)
from tinygrad_opt.errors import DimError, DTypeError, InplaceError, ShapeError
from tinygrad_opt.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_opt.tensor import Size, Tensor, tensor
from tinygrad_opt.value import Value
from tinygrad_opt.value import grad as value_grad

__version__ = "0.1.0"


def _export_ops() -> list[str]:
    """Put every ops module's free functions (its ``__all__``) into this namespace."""
    names = []
    for module_name in _ops.__all__:
        module = getattr(_ops, module_name)
        if isinstance(module, type(_ops)) and hasattr(module, "__all__"):
            for name in module.__all__:
                if not name.startswith("_") and name not in ("getitem", "binary_operands"):
                    globals()[name] = getattr(module, name)
                    names.append(name)
    return names


_OP_FUNCTIONS = _export_ops()

# dtypes under torch's names (``bool``, ``float``, ``int`` as torch: bool, float32, int32)
for _name in (
    "float16 half float32 float64 double uint8 int8 int16 short int32 int64 long bool float int"
).split():
    globals()[_name] = getattr(_dtypes, _name)

__all__ = [
    "DTypeError",
    "DimError",
    "Function",
    "GradcheckError",
    "InplaceError",
    "ShapeError",
    "Size",
    "Tensor",
    "Value",
    "enable_grad",
    "get_default_dtype",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "promote_types",
    "result_type",
    "set_default_dtype",
    "set_grad_enabled",
    "tensor",
    "value_grad",
    *_OP_FUNCTIONS,
]
