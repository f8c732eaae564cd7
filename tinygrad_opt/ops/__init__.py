"""The engine's operations, grouped by kind; each module holds its ``Function`` classes
(forward with the derivative beside it), the torch-style free functions built on them,
and a mixin of the ``Tensor`` methods that call those functions.

==================  ===========================================================
module              what it holds
==================  ===========================================================
``elementwise``     arithmetic and math, elementwise, with broadcasting
``activation``      activation functions that are primitives
``compare``         comparisons and logic (bool results), ``where``
``linalg``          matrix products
``reduce``          reductions (sum, mean, prod, var, any …) and the softmax family
``norms``           vector norms (norm)
``extrema``         max, min, amax, amin, argmax, argmin
``scan``            cumsum, cumprod, cummax, cummin, logcumsumexp
``sort``            sort, argsort, topk, kthvalue, median, mode, unique
``select``          TakeAlong: the values of max(dim), sort, topk … (gradient to indices)
``shape``           reshape, permute, expand, squeeze, cat, stack …
``index``           indexing and index assignment
``creation``        zeros, ones, full, arange, eye, random …
``cast``            dtype conversion
``common``          argument handling shared by all (lifting, promotion, dims)
==================  ===========================================================
"""

from tinygrad_opt.ops import (
    activation,
    cast,
    common,
    compare,
    creation,
    elementwise,
    extrema,
    index,
    linalg,
    norms,
    reduce,
    scan,
    select,
    shape,
    sort,
)
from tinygrad_opt.ops.activation import GELU, LeakyReLU, ReLU, Sigmoid
from tinygrad_opt.ops.cast import Cast
from tinygrad_opt.ops.compare import Compare, Where
from tinygrad_opt.ops.elementwise import (
    Abs,
    Add,
    BinaryOp,
    Clip,
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
    erf,
)
from tinygrad_opt.ops.extrema import Max, Min
from tinygrad_opt.ops.index import GetItem, IndexPut
from tinygrad_opt.ops.linalg import MatMul
from tinygrad_opt.ops.reduce import (
    LogSoftmax,
    LogSumExp,
    Mean,
    Prod,
    Reduction,
    Softmax,
    Std,
    Sum,
    Var,
)
from tinygrad_opt.ops.select import TakeAlong
from tinygrad_opt.ops.shape import Cat, Clone, Expand, Pad, Permute, Reshape, Stack

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
    "cast",
    "common",
    "compare",
    "creation",
    "elementwise",
    "erf",
    "extrema",
    "index",
    "linalg",
    "norms",
    "reduce",
    "scan",
    "select",
    "shape",
    "sort",
]
