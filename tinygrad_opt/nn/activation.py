"""Activation layers: each wraps one function of :mod:`tinygrad_opt.ops.activation` with
torch's constructor arguments (``ReLU(inplace=False)``, ``ELU(alpha=1.0)`` …).

``inplace=True`` is honoured: the layer writes its result into its input tensor (which
must then not be a leaf that requires grad, as in torch). Only :class:`PReLU` has a
parameter (its slope ``weight``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinygrad_opt.dtypes import get_default_dtype
from tinygrad_opt.nn.module import Module, Parameter
from tinygrad_opt.ops import activation as A
from tinygrad_opt.tensor import Tensor

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "SELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
]


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return A.relu(x, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class ReLU6(ReLU):
    """min(max(x, 0), 6)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.relu6(x, self.inplace)


class Hardtanh(Module):
    """clip(x, min_val, max_val); the gradient is 0 at both edges."""

    def __init__(
        self,
        min_val: float = -1.0,
        max_val: float = 1.0,
        inplace: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> None:
        if min_value is not None or max_value is not None:  # torch's deprecated spellings
            warnings.warn(
                "Hardtanh: min_value/max_value are deprecated, use min_val/max_val",
                DeprecationWarning,
                stacklevel=2,
            )
            min_val = min_val if min_value is None else min_value
            max_val = max_val if max_value is None else max_value
        if min_val > max_val:
            raise ValueError(
                f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})"
            )
        self.min_val, self.max_val, self.inplace = min_val, max_val, bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return A.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        text = f"min_val={self.min_val}, max_val={self.max_val}"
        return text + (", inplace=True" if self.inplace else "")


class Hardsigmoid(ReLU):
    """clip(x/6 + ½, 0, 1)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardsigmoid(x, self.inplace)


class Hardswish(ReLU):
    """x·clip(x + 3, 0, 6)/6."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardswish(x, self.inplace)


class SiLU(ReLU):
    """x·σ(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.silu(x, self.inplace)


class Mish(ReLU):
    """x·tanh(softplus(x))."""

    def forward(self, x: Tensor) -> Tensor:
        return A.mish(x, self.inplace)


class SELU(ReLU):
    """scale·elu(x, α) with the self-normalising constants."""

    def forward(self, x: Tensor) -> Tensor:
        return A.selu(x, self.inplace)


class ELU(Module):
    """x for x > 0, α(eˣ − 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        self.alpha, self.inplace = float(alpha), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return A.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x for x > 0, α(e^(x/α) − 1) otherwise."""

    def forward(self, x: Tensor) -> Tensor:
        return A.celu(x, self.alpha, self.inplace)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        self.negative_slope, self.inplace = float(negative_slope), bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return A.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}" + (
            ", inplace=True" if self.inplace else ""
        )


class GELU(Module):
    """x·Φ(x) with Φ the standard normal CDF; ``approximate="tanh"`` uses the tanh formula."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else "approximate='tanh'"


class Sigmoid(Module):
    """σ(x) = 1/(1 + e⁻ˣ)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class LogSigmoid(Module):
    """ln σ(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.logsigmoid(x)


class Softsign(Module):
    """x/(1 + |x|)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.softsign(x)


class Tanhshrink(Module):
    """x − tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.tanhshrink(x)


class Softplus(Module):
    """ln(1 + e^(βx))/β, x itself where βx > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return A.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    """x ∓ λ outside [−λ, λ], 0 inside."""

    def __init__(self, lambd: float = 0.5) -> None:
        self.lambd = float(lambd)

    def forward(self, x: Tensor) -> Tensor:
        return A.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x outside [−λ, λ], 0 inside."""

    def forward(self, x: Tensor) -> Tensor:
        return A.hardshrink(x, self.lambd)


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        self.threshold, self.value, self.inplace = threshold, value, bool(inplace)

    def forward(self, x: Tensor) -> Tensor:
        return A.threshold(x, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        text = f"threshold={self.threshold}, value={self.value}"
        return text + (", inplace=True" if self.inplace else "")


class GLU(Module):
    """a·σ(b) for the two halves a, b of the input along ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return A.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(Module):
    """exp(x)/Σ exp(x) along ``dim`` (torch's legacy implicit dim when None)."""

    _fn = staticmethod(A.softmax)

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._fn(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Softmax):
    """softmax(−x) along ``dim``."""

    _fn = staticmethod(A.softmin)


class LogSoftmax(Softmax):
    """x − logsumexp(x) along ``dim``."""

    _fn = staticmethod(A.log_softmax)


class PReLU(Module):
    """max(0, x) + w·min(0, x) with a learned slope: one shared (``num_parameters=1``)
    or one per channel (dim 1 of the input). ``weight`` starts at ``init`` everywhere.

    Unlike torch, the layer keeps no ``num_parameters`` attribute (it would hide
    :meth:`Module.num_parameters`); it is ``weight.shape[0]``."""

    def __init__(
        self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None
    ) -> None:
        if num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.init = float(init)
        dtype = get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(np.full(int(num_parameters), self.init), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        return A.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.weight.shape[0]}"
