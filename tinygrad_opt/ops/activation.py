"""Activation functions, as torch.nn.functional has them (also exported from
:mod:`tinygrad_opt.nn.functional`; the modules are in :mod:`tinygrad_opt.nn.activation`).

Most are compositions of other ops, so their derivatives come for free. The primitives
(``Function`` classes below) are those where a composition would be slow, overflow, or
give a different derivative than torch at a kink: torch fixes a one-sided value there
(``relu'(0) = 0``, ``hardtanh'`` is 0 at both edges, ``hardswish'(−3) = 0``, ``elu'(0) = α``,
``softplus`` switches to the identity strictly above its threshold), and so do we.

Functions with ``inplace=True`` write the result into the input (``input._assign``), as
torch; integer inputs raise ``NotImplementedError`` where torch has no integer kernel.

Higher derivatives (each primitive's ``vjp``) keep torch's one-sided values at the kinks:
the masks are constants, so relu'', hardtanh'' … are 0; elu'' and softplus'' are 0 exactly
at 0 and at the threshold; hardswish'' is 1/3 strictly inside (−3, 3).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant, tensor_type
from tinygrad_opt.dtypes import DTYPE_NAMES
from tinygrad_opt.errors import ShapeError
from tinygrad_opt.ops.clamp import clamp_min
from tinygrad_opt.ops.common import dim_index, dim_tuple
from tinygrad_opt.ops.compare import Where
from tinygrad_opt.ops.elementwise import _float_input, exp, inplace_method, tanh
from tinygrad_opt.ops.norms import norm
from tinygrad_opt.ops.special import erf, erf_array
from tinygrad_opt.parallel import for_each_chunk, scratch

if TYPE_CHECKING:
    from tinygrad_opt.tensor import Tensor

#: the torch-style free functions of this module (exported by ``tinygrad_opt``; those
#: torch only has in ``torch.nn.functional`` are exported from ``nn.functional`` alone)
__all__ = [
    "sigmoid",
    "relu",
    "leaky_relu",
    "gelu",
    "selu",
    "celu",
    "prelu",
    "hardshrink",
    "threshold",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """σ(x) = 1/(1 + e⁻ˣ), as torch computes it: full relative accuracy in both tails
    (σ(−40) = 4.2e-18), and e⁻ˣ overflowing to inf just gives 0."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


def _pass(g: Tensor, mask: np.ndarray) -> Tensor:
    """``g`` where ``mask`` holds, 0 elsewhere (a where node: inf or nan in ``g`` stays out
    of the zeros, and the result is linear in ``g``, so it differentiates again)."""
    return Where.apply(g, constant(np.zeros((), dtype=g._data.dtype)), condition=mask)


# --------------------------------------------------------------------------- primitives
class Sigmoid(Function):
    def forward(self, a):  # σ(a) = 1/(1+e⁻ᵃ), see sigmoid_array
        self.out = sigmoid_array(a)
        return self.out

    def backward(self, g):  # dσ/da = σ(1-σ)
        return g * self.out * (1 - self.out)

    def vjp(self, g):
        s = sigmoid(self.parents[0])
        return g * (s * (1 - s))


class ReLU(Function):
    def forward(self, a):
        self.out = np.maximum(a, 0)
        return self.out

    def backward(self, g):  # d max(a,0)/da = 0 if a <= 0 else 1 (nan passes g, as torch)
        return g * ~(self.out <= 0)

    def vjp(self, g):  # g where a > 0 (or nan); the mask is constant, so relu'' = 0
        return _pass(g, ~(self.out <= 0))


class LeakyReLU(Function):
    def forward(self, a, slope):
        self.mask, self.slope = a > 0, slope
        return np.where(self.mask, a, a * slope).astype(a.dtype, copy=False)

    def backward(self, g):  # 1 if a > 0 else slope
        return np.where(self.mask, g, g * self.slope).astype(g.dtype, copy=False)

    def vjp(self, g):
        return Where.apply(g, g * self.slope, condition=self.mask)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class GELU(Function):
    """GELU(a) = a·Φ(a); with ``approximate='tanh'`` Φ(a) ≈ ½(1 + tanh(√(2/π)(a + 0.044715a³)))."""

    def forward(self, a, approximate):
        self.a, self.approximate = a, approximate
        if approximate == "tanh" and a.dtype.kind == "f":
            # in place in two new arrays (t, kept for backward, and the output), chunk by
            # chunk on the intra-op threads (tinygrad_opt.parallel): float32 stays float32
            a = a if a.flags.c_contiguous else a.copy(order="C")  # keeps a 0-d shape
            self.a = a
            t, out = np.empty_like(a), np.empty_like(a)
            a1, t1, out1 = a.reshape(-1), t.reshape(-1), out.reshape(-1)
            for_each_chunk(lambda i, j: _gelu_tanh_chunk(a1[i:j], t1[i:j], out1[i:j]), a.size)
            self.t = t
            return out
        if approximate == "tanh":
            self.t = np.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * (a * a * a)))  # a**3 is ~100x slower
            return (0.5 * a * (1 + self.t)).astype(a.dtype, copy=False)
        self.cdf = (0.5 * (1 + erf_array(a * _INV_SQRT_2))).astype(a.dtype, copy=False)
        return a * self.cdf

    def backward(self, g):
        a = self.a
        if self.approximate == "tanh" and a.dtype.kind == "f":
            t = self.t
            g = g if g.flags.c_contiguous else g.copy(order="C")
            d = np.empty(a.shape, np.result_type(a.dtype, g.dtype))
            a1, t1, g1, d1 = a.reshape(-1), t.reshape(-1), g.reshape(-1), d.reshape(-1)
            for_each_chunk(
                lambda i, j: _gelu_tanh_grad_chunk(a1[i:j], t1[i:j], g1[i:j], d1[i:j]), a.size
            )
            return d
        if self.approximate == "tanh":
            # d/da ½a(1+t) = ½(1+t) + ½a(1-t²)·√(2/π)(1 + 3·0.044715a²)
            dt = (1 - self.t**2) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + self.t) + 0.5 * a * dt)
        # d/da aΦ(a) = Φ(a) + a·φ(a),  φ(a) = e^(-a²/2)/√(2π)
        return g * (self.cdf + a * _INV_SQRT_2PI * np.exp(-0.5 * a * a))

    def vjp(self, g):  # the same derivatives in Tensor ops (erf' is 2/√π·e^(−x²))
        a = self.parents[0]
        if self.approximate == "tanh":
            t = tanh((a + a * a * a * 0.044715) * _SQRT_2_OVER_PI)
            dt = (1 - t * t) * ((1 + a * a * (3 * 0.044715)) * _SQRT_2_OVER_PI)
            return g * ((1 + t) * 0.5 + a * dt * 0.5)
        cdf = (1 + erf(a * _INV_SQRT_2)) * 0.5
        return g * (cdf + a * exp(a * a * -0.5) * _INV_SQRT_2PI)


def _gelu_tanh_chunk(a: np.ndarray, t: np.ndarray, out: np.ndarray) -> None:
    """t = tanh(a·(c + c·0.044715·a²)) with c = √(2/π), out = ½a(1 + t), in place."""
    np.multiply(a, a, out=t)
    t *= 0.044715 * _SQRT_2_OVER_PI
    t += _SQRT_2_OVER_PI
    t *= a
    np.tanh(t, out=t)
    np.add(t, 1, out=out)
    out *= a
    out *= 0.5


def _gelu_tanh_grad_chunk(a: np.ndarray, t: np.ndarray, g: np.ndarray, d: np.ndarray) -> None:
    """d = g · d/da ½a(1 + t) = g · ½(1 + t)(1 + w(1 - t)) with w = a·c(1 + 3·0.044715a²)
    (the same as ½(1 + t) + ½w(1 - t²)), in place with one per-thread scratch array."""
    s = scratch(a.size, d.dtype)
    np.multiply(a, a, out=d)
    d *= 3 * 0.044715 * _SQRT_2_OVER_PI
    d += _SQRT_2_OVER_PI
    d *= a
    np.subtract(1, t, out=s)
    d *= s
    d += 1
    np.add(t, 1, out=s)
    d *= s
    d *= 0.5
    d *= g


class Hardtanh(Function):
    """clip(a, lo, hi); the derivative is 1 strictly inside (lo, hi) and 0 at both edges
    (torch's convention, unlike ``clamp`` whose gradient passes at the edges)."""

    def forward(self, a, lo, hi):
        self.a, self.lo, self.hi = a, lo, hi
        return np.minimum(np.maximum(a, lo), hi)

    def backward(self, g):
        return g * ((self.a > self.lo) & (self.a < self.hi))

    def vjp(self, g):
        return _pass(g, (self.a > self.lo) & (self.a < self.hi))


#: torch's hardsigmoid derivative is 1/6 rounded to float32, in every dtype
_ONE_SIXTH_F32 = float(np.float32(1.0) / np.float32(6.0))


class Hardsigmoid(Function):
    """clip(a + 3, 0, 6)/6;  d/da = 1/6 strictly inside (−3, 3), else 0 (1/6 is rounded
    to float32 first, as torch does, so float64 gradients agree to the last bit)."""

    def forward(self, a):
        self.a = a
        return np.minimum(np.maximum(a + 3, 0), 6) / 6

    def backward(self, g):
        return g * ((self.a > -3) & (self.a < 3)) * _ONE_SIXTH_F32

    def vjp(self, g):
        return _pass(g, (self.a > -3) & (self.a < 3)) * _ONE_SIXTH_F32


class Hardswish(Function):
    """a·clip(a + 3, 0, 6)/6;  d/da = 0 for a <= −3, a/3 + ½ for −3 < a < 3, 1 for a >= 3
    (torch's one-sided values at ±3)."""

    def forward(self, a):
        self.a = a
        return a * np.minimum(np.maximum(a + 3, 0), 6) / 6

    def backward(self, g):
        a = self.a
        d = np.where(a <= -3, 0, np.where(a >= 3, 1, a / 3 + 0.5)).astype(a.dtype, copy=False)
        return g * d  # nan stays nan

    def vjp(self, g):  # a/3 + ½ strictly inside (−3, 3) (so the slope 1/3 only there)
        a = self.parents[0]
        x = self.a
        outer = constant(np.where(x <= -3, 0, 1).astype(x.dtype))
        return g * Where.apply(a / 3 + 0.5, outer, condition=(x > -3) & (x < 3))


class Softplus(Function):
    """ln(1 + e^(βa))/β, and a itself where βa > threshold (strictly; as torch).

    d/da = σ(βa), and 1 above the threshold. ln(1 + eᶻ) is computed as
    max(z, 0) + ln(1 + e^(−|z|)), which never overflows."""

    def forward(self, a, beta, threshold):
        z = a * beta
        self.z, self.linear = z, z > threshold
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(self.linear, a, soft).astype(a.dtype, copy=False)

    def backward(self, g):
        return g * np.where(self.linear, 1, sigmoid_array(self.z)).astype(g.dtype, copy=False)

    def vjp(self, g):
        # σ(βa) below the threshold; at βa = threshold exactly σ takes βa as a constant, so
        # the second derivative there is 0 (torch's one-sided value), and 1 above it
        a = self.parents[0]
        z = Where.apply(
            a * self.params["beta"], constant(self.z), condition=self.z < self.params["threshold"]
        )
        one = constant(np.ones((), dtype=a._data.dtype))
        return g * Where.apply(one, sigmoid(z), condition=self.linear)


class ELU(Function):
    """The ELU family: scale·a for a > 0, scale·α·(e^(a·input_scale) − 1) for a <= 0
    (``elu``: scale = input_scale = 1; ``selu``: fixed α and scale; ``celu``:
    input_scale = 1/α). d/da = scale for a > 0, scale·α·input_scale·e^(a·input_scale)
    for a <= 0 (so elu'(0) = α, as torch)."""

    def forward(self, a, alpha, scale, input_scale):
        self.a, self.coef, self.input_scale = a, scale * alpha, input_scale
        self.scale = scale
        neg = np.expm1(np.minimum(a, 0) * input_scale) * self.coef
        return np.where(a > 0, a * scale, neg).astype(a.dtype, copy=False)

    def backward(self, g):
        a, k = self.a, self.input_scale
        d = np.where(a > 0, self.scale, self.coef * k * np.exp(np.minimum(a, 0) * k))
        return g * d.astype(g.dtype, copy=False)

    def vjp(self, g):
        # scale for a > 0, else coef·k·e^(a·k) with the exponent's input taken strictly
        # below 0 (so the second derivative at a = 0 is 0, torch's one-sided value)
        a = self.parents[0]
        x, k = self.a, self.input_scale
        zero = constant(np.zeros((), dtype=x.dtype))
        below = Where.apply(a, zero, condition=x < 0)
        scale = constant(np.asarray(self.scale, dtype=x.dtype))
        return g * Where.apply(scale, exp(below * k) * (self.coef * k), condition=x > 0)


class LogSigmoid(Function):
    """ln σ(a) = min(a, 0) − ln(1 + e^(−|a|));  d/da = 1 − σ(a) = σ(−a)."""

    def forward(self, a):
        self.a = a
        return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    def backward(self, g):
        return g * sigmoid_array(-self.a)

    def vjp(self, g):
        return g * sigmoid(-self.parents[0])


# --------------------------------------------------------------------------- helpers
def _floats_only(op: str, x: Tensor) -> None:
    """torch has no integer kernel for most activations: NotImplementedError, as torch."""
    if x._data.dtype.kind != "f":
        name = DTYPE_NAMES.get(x._data.dtype, str(x._data.dtype))
        raise NotImplementedError(f"\"{op}\" not implemented for '{name}'")


def _apply(fn: Any, input: Tensor, inplace: bool) -> Tensor:
    """``fn(input)``, or with ``inplace`` written into ``input`` (``Tensor._inplace``)."""
    return input._inplace(fn) if inplace else fn(input)


def _implicit_softmax_dim(op: str, ndim: int) -> int:
    """torch's legacy choice when ``dim`` is omitted (0 for 0-, 1- and 3-d inputs, else
    1), with torch's deprecation warning."""
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to "
        f"include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


# --------------------------------------------------------------------------- functions
def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1/(1 + e⁻ˣ)."""
    return Sigmoid.apply(_float_input(input))


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); relu'(0) = 0."""
    return _apply(ReLU.apply, input, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope·x (the slope also at 0)."""
    _floats_only("leaky_relu", input)
    slope = float(negative_slope)
    return _apply(lambda x: LeakyReLU.apply(x, slope=slope), input, inplace)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU x·Φ(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _floats_only("GeluKernelImpl", input)
    return GELU.apply(input, approximate=approximate)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """clip(x, min_val, max_val); gradient 1 strictly between them, 0 at the edges."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    dt = input.dtype
    lo, hi = (np.asarray(v, dtype=dt) if dt.kind != "f" else float(v) for v in (min_val, max_val))
    return _apply(lambda x: Hardtanh.apply(x, lo=lo, hi=hi), input, inplace)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (``hardtanh(x, 0, 6)``: gradient 0 at 0 and at 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """clip(x/6 + ½, 0, 1)."""
    _floats_only("hardsigmoid", input)
    return _apply(Hardsigmoid.apply, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·hardsigmoid(x) = x·clip(x + 3, 0, 6)/6."""
    _floats_only("hardswish", input)
    return _apply(Hardswish.apply, input, inplace)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x·σ(x) (also called swish)."""
    _floats_only("silu", input)
    return _apply(lambda x: x * sigmoid(x), input, inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(βx))/β, reverting to x where βx > threshold (for numerical stability)."""
    _floats_only("softplus", input)
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x·tanh(softplus(x))."""
    _floats_only("mish", input)
    return _apply(lambda x: x * softplus(x).tanh(), input, inplace)


def softsign(input: Tensor) -> Tensor:
    """x/(1 + |x|)."""
    return input / (1 + input.abs())


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, α(eˣ − 1) for x <= 0."""
    _floats_only("elu", input)
    a = float(alpha)
    return _apply(lambda x: ELU.apply(x, alpha=a, scale=1.0, input_scale=1.0), input, inplace)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale·elu(x, α) with the self-normalising constants α ≈ 1.6733, scale ≈ 1.0507."""
    _floats_only("elu", input)
    return _apply(
        lambda x: ELU.apply(x, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0),
        input,
        inplace,
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, α(e^(x/α) − 1) for x <= 0."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu: alpha must not be 0")
    _floats_only("elu", input)
    a = float(alpha)
    return _apply(lambda x: ELU.apply(x, alpha=a, scale=1.0, input_scale=1.0 / a), input, inplace)


def logsigmoid(input: Tensor) -> Tensor:
    """ln σ(x) = −softplus(−x), without overflow."""
    _floats_only("log_sigmoid", input)
    return LogSigmoid.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x − tanh(x)."""
    return input - input.tanh()


def _where(cond: Tensor, a: Any, b: Any) -> Tensor:
    from tinygrad_opt.ops.compare import where

    return where(cond, a, b)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x − λ for x > λ, x + λ for x < −λ, else 0 (λ >= 0); gradient 0 at ±λ."""
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be in range [0, inf), but found {lambd}")
    _floats_only("softshrink", input)
    inner = _where(input < -lambd, input + lambd, input * 0)  # x·0: nan stays nan
    return _where(input > lambd, input - lambd, inner)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, else 0; gradient 0 at ±λ."""
    _floats_only("hardshrink", input)
    # x·0 inside: a nan input gives nan with gradient 0, as torch
    return _where((input > lambd) | (input < -lambd), input, input * 0)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value`` (cast to x's dtype); gradient 0 at the
    threshold."""
    fill = tensor_type()(np.asarray(value).astype(input.dtype))
    return _apply(lambda x: _where(x > threshold, x, fill), input, inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """max(0, x) + w·min(0, x) with a learned slope ``w``: one for all channels or one
    per channel (dim 1; inputs with fewer than 2 dims have one channel)."""
    _floats_only("prelu", input)
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise ShapeError(
            f"prelu: Mismatch of parameter numbers and input channel size. Found parameter "
            f"numbers = {n} and channel size = {channels}."
        )
    w = weight.reshape(()) if n == 1 else weight.reshape((n,) + (1,) * (input.ndim - 2))
    zero = tensor_type()(np.zeros((), dtype=input.dtype))
    negative = _where(input > 0, zero, input)  # gradient to x where x <= 0
    return relu(input) + w * negative


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a·σ(b), where a and b are the first and second halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    _floats_only("glu", input)
    d = dim_index(dim, input.shape, "glu")
    n = input.shape[d]
    if n % 2:
        raise ShapeError(f"glu: Halving dimension must be even, but dimension {d} is size {n}")
    lead = (slice(None),) * d
    return input[lead + (slice(0, n // 2),)] * sigmoid(input[lead + (slice(n // 2, n),)])


def softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """exp(x)/Σ exp(x) along ``dim`` (torch's legacy implicit dim when omitted)."""
    from tinygrad_opt.ops.softmax import softmax as _softmax

    if dim is None:
        dim = _implicit_softmax_dim("softmax", input.ndim)
    return _softmax(input, dim, dtype=dtype)


def log_softmax(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """x − logsumexp(x) along ``dim`` (torch's legacy implicit dim when omitted)."""
    from tinygrad_opt.ops.softmax import log_softmax as _log_softmax

    if dim is None:
        dim = _implicit_softmax_dim("log_softmax", input.ndim)
    return _log_softmax(input, dim, dtype=dtype)


def softmin(
    input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
) -> Tensor:
    """softmax(−x) along ``dim``: weights that favour the smallest entries."""
    from tinygrad_opt.ops.softmax import softmax as _softmax

    if dim is None:
        dim = _implicit_softmax_dim("softmin", input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    _floats_only("softmax", input)
    return _softmax(-input, dim)


def normalize(
    input: Tensor, p: float = 2.0, dim: Any = 1, eps: float = 1e-12, out: Any = None
) -> Tensor:
    """x / max(‖x‖_p, eps), the p-norm (:func:`~tinygrad_opt.ops.norms.norm`, whose
    gradient at a zero vector is 0, as torch's) taken along ``dim`` (an int or a tuple)."""
    if out is not None:
        raise NotImplementedError("normalize: out= is not supported")
    if input.dtype.kind != "f":
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point tensor as input. Got "
            f"{DTYPE_NAMES.get(input.dtype, input.dtype)}"
        )
    dim_tuple(dim, input.shape, "normalize")  # torch's dim check and message
    return input / clamp_min(norm(input, p, dim, keepdim=True), eps)


class ActivationMethods:
    """Tensor methods for the activations torch has as methods (``t.relu()``), their
    in-place forms, and the older ``t.leaky_relu()`` / ``t.gelu()``."""

    __slots__ = ()

    sigmoid = sigmoid
    relu = relu
    leaky_relu = leaky_relu
    gelu = gelu
    hardshrink = hardshrink
    prelu = prelu

    sigmoid_ = inplace_method(sigmoid)
    relu_ = inplace_method(relu)
