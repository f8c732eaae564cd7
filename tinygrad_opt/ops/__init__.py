"""The engine's operations, grouped by kind; each module holds its ``Function`` classes
(forward with the derivative beside it), the torch-style free functions built on them,
and a mixin of the ``Tensor`` methods that call those functions.

==================  ===========================================================
module              what it holds
==================  ===========================================================
``elementwise``     arithmetic and math, elementwise, with broadcasting
``unary``           float math of one tensor: trig, hyperbolic, exp/log variants, erf
``special``         the error functions (erf, erfc, erfinv): numpy kernels and ops
``binary``          float math of two tensors: atan2, hypot, logaddexp, xlogy, lerp …
``clamp``           clamp/clip, clamp_min, clamp_max (number or tensor bounds)
``rounding``        floor, ceil, round, trunc, sign; ``//``, fmod, ``%``
``activation``      activation functions (torch.nn.functional's), primitives and composites
``compare``         comparisons, logic and value tests (bool results), where, masked_fill
``linalg``          matrix products (matmul, mm, bmm, dot, tensordot, addmm …)
``einsum``          einsum (equations and sublists; its gradients are einsums)
``reduce``          reductions (sum, mean, prod, var, any …)
``softmax``         logsumexp, softmax, log_softmax
``norms``           vector norms (norm)
``extrema``         max, min, amax, amin, argmax, argmin
``scan``            cumsum, cumprod, cummax, cummin, logcumsumexp
``sort``            sort, argsort, topk, kthvalue, median, mode, unique
``select``          TakeAlong: the values of max(dim), sort, topk … (gradient to indices)
``shape``           reshape, view, permute, movedim, expand, squeeze …
``join``            cat, stack, hstack/vstack/dstack, atleast_nd
``slicing``         split, chunk, unbind, narrow, select
``index``           indexing and index assignment, index_select, nonzero …
``scatter``         gather, scatter, scatter_reduce, index_add …
``rearrange``       repeat, tile, flip, roll, tril/triu, diagonals
``window``          sliding windows: Tensor.unfold, F.unfold / F.fold
``pad``             F.pad (constant, reflect, replicate, circular)
``creation``        zeros, ones, full, arange, linspace, eye, meshgrid …
``sampling``        rand, randn, randint, randperm …
``cast``            dtype conversion
``common``          argument handling shared by all (lifting, promotion, dims)
==================  ===========================================================
"""

from tinygrad_opt.ops import (
    activation,
    binary,
    cast,
    clamp,
    common,
    compare,
    creation,
    einsum,
    elementwise,
    extrema,
    index,
    join,
    linalg,
    norms,
    pad,
    rearrange,
    reduce,
    rounding,
    sampling,
    scan,
    scatter,
    select,
    shape,
    slicing,
    softmax,
    sort,
    unary,
    window,
)
from tinygrad_opt.ops.activation import GELU, LeakyReLU, ReLU, Sigmoid
from tinygrad_opt.ops.cast import Cast
from tinygrad_opt.ops.clamp import Clip
from tinygrad_opt.ops.compare import Compare, Where
from tinygrad_opt.ops.elementwise import (
    Abs,
    Add,
    BinaryOp,
    Div,
    Exp,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Sqrt,
    Sub,
    Tanh,
)
from tinygrad_opt.ops.extrema import Max, Min
from tinygrad_opt.ops.index import GetItem, IndexPut
from tinygrad_opt.ops.linalg import MatMul
from tinygrad_opt.ops.reduce import Mean, Prod, Reduction, Std, Sum, Var
from tinygrad_opt.ops.select import TakeAlong
from tinygrad_opt.ops.shape import Cat, Clone, Expand, Pad, Permute, Reshape, Stack
from tinygrad_opt.ops.softmax import LogSoftmax, LogSumExp, Softmax
from tinygrad_opt.ops.special import erf_array

__all__ = [
    "GELU",
    "Abs",
    "Add",
    "BinaryOp",
    "Cast",
    "Cat",
    "Clip",
    "Clone",
    "Compare",
    "Div",
    "Exp",
    "Expand",
    "GetItem",
    "IndexPut",
    "LeakyReLU",
    "Log",
    "LogSoftmax",
    "LogSumExp",
    "MatMul",
    "Max",
    "Maximum",
    "Mean",
    "Min",
    "Minimum",
    "Mul",
    "Neg",
    "Pad",
    "Permute",
    "Pow",
    "Prod",
    "ReLU",
    "Reduction",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Sqrt",
    "Stack",
    "Std",
    "Sub",
    "Sum",
    "TakeAlong",
    "Tanh",
    "Var",
    "Where",
    "activation",
    "binary",
    "cast",
    "clamp",
    "common",
    "compare",
    "creation",
    "einsum",
    "elementwise",
    "erf_array",
    "extrema",
    "index",
    "join",
    "linalg",
    "norms",
    "pad",
    "rearrange",
    "reduce",
    "rounding",
    "sampling",
    "scan",
    "scatter",
    "select",
    "shape",
    "slicing",
    "softmax",
    "sort",
    "unary",
    "window",
]
