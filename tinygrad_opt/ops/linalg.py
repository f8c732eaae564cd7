"""Matrix products: ``matmul`` (numpy/torch broadcasting rules), the strict ``mm``, ``bmm``,
``mv``, ``dot``, ``outer``, ``tensordot``, ``addmm``/``baddbmm``, and ``einsum``.

``mm``, ``bmm``, ``mv`` and ``dot`` insist on their ranks and on one dtype for both
operands, as torch does (``matmul`` promotes; ``outer`` promotes like ``mul``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant
from tinygrad_opt.errors import DTypeError, ShapeError

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = [
    "addmm",
    "baddbmm",
    "bmm",
    "dot",
    "einsum",
    "ger",
    "inner",
    "matmul",
    "mm",
    "mv",
    "outer",
    "tensordot",
    "trace",
    "vdot",
]


class MatMul(Function):
    """Matrix product with numpy's rules: 1-D, 2-D and batched (broadcast) operands."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        # C = A B  ⇒  dA = G Bᵀ,  dB = Aᵀ G. Vectors act as a row (A) or column (B) matrix.
        a, b = self.a, self.b
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        # A gradient is laid out as its input: for a transposed view (Xᵀ) the product is
        # taken transposed, so the gradient flowing on to X is contiguous again and sums
        # with X's other gradients at full speed (same products, same cost).
        ga = gb = None
        if self.needs_grad[0]:
            if _transposed(a2):
                ga = _t(b2 @ _t(g2))
            else:
                ga = g2 @ _t(b2)
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            if _transposed(b2):
                gb = _t(_t(g2) @ a2)
            else:
                gb = _t(a2) @ g2
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    def vjp(self, g):  # the same products in Tensor ops
        a, b = self.parents
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if self.needs_grad[0] else None), (g * a if self.needs_grad[1] else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-2) if a.ndim == 1 else g
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = matmul(g2, b2.transpose(-1, -2))
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if self.needs_grad[1]:
            gb = matmul(a2.transpose(-1, -2), g2)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb

    def describe_error(self, inputs, params, err):
        a, b = inputs
        if a.ndim == 0 or b.ndim == 0:
            return f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}"
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            return (
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"inner dimensions {k_a} != {k_b}"
            )
        return f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast"


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _transposed(a: np.ndarray) -> bool:
    """True for a matrix (stack) stored transposed: swapping its last two axes gives a
    C-contiguous array, while it is not one itself."""
    return not a.flags.c_contiguous and np.swapaxes(a, -1, -2).flags.c_contiguous


def matmul(input, other):
    """Matrix product with torch's rules: 1-D, 2-D and batched (broadcast) operands."""
    from tinygrad_opt.ops.elementwise import binary_operands

    return MatMul.apply(*binary_operands(input, other))


def _same_dtype(op: str, a, b) -> None:
    if a.dtype != b.dtype:
        raise DTypeError(
            f"{op}: expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}"
        )


def mm(input, mat2):
    """``(n, k) @ (k, m)``: both operands exactly 2-D, of one dtype."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ShapeError(f"mm: self must be a matrix, got shapes {input.shape} and {mat2.shape}")
    if input.shape[1] != mat2.shape[0]:
        (n, k), (k2, m) = input.shape, mat2.shape
        raise ShapeError(f"mm: mat1 and mat2 shapes cannot be multiplied ({n}x{k} and {k2}x{m})")
    _same_dtype("mm", input, mat2)
    return MatMul.apply(input, mat2)


def bmm(input, mat2):
    """``(b, n, k) @ (b, k, m)``: both exactly 3-D with the same batch size, one dtype."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise ShapeError(
            f"bmm: batch1 and batch2 must be 3D tensors, got shapes {input.shape} and {mat2.shape}"
        )
    want = [input.shape[0], input.shape[2]]
    if list(mat2.shape[:2]) != want:
        raise ShapeError(
            f"bmm: Expected size for first two dimensions of batch2 tensor to be: {want} but "
            f"got: {list(mat2.shape[:2])} (shapes {input.shape} and {mat2.shape})."
        )
    _same_dtype("bmm", input, mat2)
    return MatMul.apply(input, mat2)


def mv(input, vec):
    """``(n, m) @ (m,)`` → ``(n,)``."""
    if input.ndim != 2 or vec.ndim != 1:
        raise ShapeError(
            f"mv: vector + matrix @ vector expected, got shapes {input.shape} and {vec.shape}"
        )
    if input.shape[1] != vec.shape[0]:
        raise ShapeError(
            f"mv: size mismatch, got mat ({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})"
        )
    _same_dtype("mv", input, vec)
    return MatMul.apply(input, vec)


def dot(input, other):
    """Σ_i a_i b_i of two 1-D tensors of the same length and dtype (a 0-d result)."""
    if input.ndim != 1 or other.ndim != 1:
        raise ShapeError(
            f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors "
            f"(shapes {input.shape} and {other.shape})"
        )
    if input.shape != other.shape:
        raise ShapeError(
            f"dot: inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
            f"[{other.shape[0]}] to have the same number of elements, but got "
            f"{input.shape[0]} and {other.shape[0]} elements respectively"
        )
    _same_dtype("dot", input, other)
    return MatMul.apply(input, other)


vdot = dot  # real tensors: no conjugation


def trace(input):
    """Σ_i x[i, i] of a 2-D tensor (integers sum to int64)."""
    if input.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    from tinygrad_opt.ops.rearrange import diagonal

    return diagonal(input).sum()


def inner(input, other):
    """Σ over the last dim of both: ``out[i..., j...] = Σ_k a[i..., k] b[j..., k]``."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


def outer(input, vec2):
    """``out[i, j] = a[i] · b[j]`` for 1-D ``a`` and ``b`` (dtypes promote as ``mul``)."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise ShapeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def tensordot(a, b, dims: Any = 2):
    """Sum of products over pairs of dims: ``dims`` = n (the last n of ``a`` with the first
    n of ``b``) or two lists ``([dims of a], [dims of b])``. Composed from permute,
    reshape and matmul."""
    from tinygrad_opt.ops.common import dim_index

    if hasattr(dims, "ndim") and dims.ndim == 0:
        dims = int(dims.item())
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise ShapeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise ShapeError(
                f"tensordot: dims {dims} is more than the dims of shapes {a.shape}, {b.shape}"
            )
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
        if len(da) != len(db):
            raise ShapeError(
                f"tensordot: both dimension lists should have same length, got {da} and {db}"
            )
    da = [dim_index(d, a.shape, "tensordot") for d in da]
    db = [dim_index(d, b.shape, "tensordot") for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise ShapeError(
                f"tensordot: contracted dimensions need to match, but first has size "
                f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}"
            )
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    out_shape = tuple(a.shape[d] for d in free_a) + tuple(b.shape[d] for d in free_b)
    a2 = a.permute(*free_a, *da).reshape(-1, k)
    b2 = b.permute(*db, *free_b).reshape(k, -1)
    return matmul(a2, b2).reshape(out_shape)


def _scaled_sum(input, product, beta: Any, alpha: Any, op: str):
    """β·input + α·product; β = 0 ignores ``input`` (NaN in it does not spread), as torch."""
    try:
        shape = np.broadcast_shapes(input.shape, product.shape)
    except ValueError:
        shape = None
    if shape != product.shape:
        raise ShapeError(
            f"{op}: input of shape {input.shape} does not broadcast to the product's shape "
            f"{product.shape}"
        )
    prod = product if alpha == 1 else product * alpha
    if beta == 0:
        return prod
    return (input if beta == 1 else input * beta) + prod


def addmm(input, mat1, mat2, *, beta: Any = 1, alpha: Any = 1):
    """β·input + α·(mat1 @ mat2); ``input`` broadcasts to the product's shape."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha, "addmm")


def baddbmm(input, batch1, batch2, *, beta: Any = 1, alpha: Any = 1):
    """β·input + α·bmm(batch1, batch2); ``input`` broadcasts to the product's shape."""
    if input.dtype != batch1.dtype:
        raise DTypeError(
            f"baddbmm: expected input and batch1 to have the same dtype, got {input.dtype} "
            f"and {batch1.dtype}"
        )
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha, "baddbmm")


# --------------------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sublist_equation(args: tuple) -> tuple[str, list]:
    """torch's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as an equation."""

    def term(sub: Any) -> str:
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)

    body, out = (args[:-1], term(args[-1])) if len(args) % 2 else (args, None)
    ops, subs = list(body[0::2]), list(body[1::2])
    eq = ",".join(term(s) for s in subs)
    return (eq if out is None else f"{eq}->{out}"), ops


def _parse_term(term: str, op_i: int) -> tuple[list, bool]:
    """Labels of one operand's subscripts (``...`` as the marker ``None``)."""
    labels: list = []
    i, ellipsis = 0, False
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i : i + 3] != "...":
                raise ShapeError(
                    f"einsum(): found '.' for operand {op_i} that is not part of any ellipsis"
                )
            if ellipsis:
                raise ShapeError(
                    f"einsum(): found '.' for operand {op_i} for which an ellipsis was "
                    "already found"
                )
            labels.append(None)
            ellipsis, i = True, i + 3
            continue
        if c not in _LETTERS:
            raise ShapeError(
                f"einsum(): invalid subscript given at index {i} in the equation string "
                f"{term!r}, subscripts must be in [a-zA-Z]"
            )
        labels.append(c)
        i += 1
    return labels, ellipsis


class _EinsumPlan:
    """An equation resolved against operand shapes: every operand's dims as integer
    labels (letters, then one label per broadcast ``...`` dim), the output's labels, each
    label's size, and the size-1 dims to squeeze out of operands that broadcast them."""

    def __init__(self, equation: str, shapes: list[tuple[int, ...]]) -> None:
        eq = equation.replace(" ", "")
        lhs, arrow, rhs = eq.partition("->")
        if "->" in rhs:
            raise ShapeError(f"einsum(): more than one '->' in the equation {equation!r}")
        terms = lhs.split(",")
        if len(terms) > len(shapes):
            raise ShapeError(
                "einsum(): fewer operands were provided than specified in the equation"
            )  # noqa: E501
        if len(terms) < len(shapes):
            raise ShapeError("einsum(): more operands were provided than specified in the equation")  # noqa: E501
        parsed = [_parse_term(t, i) for i, t in enumerate(terms)]
        ell_nd = 0
        for i, ((labels, ell), shape) in enumerate(zip(parsed, shapes)):
            explicit = len(labels) - ell
            if explicit > len(shape) or (not ell and explicit != len(shape)):
                raise ShapeError(
                    f"einsum(): the number of subscripts in the equation ({explicit}) does not "
                    f"match the number of dimensions ({len(shape)}) for operand {i}"
                    + ("" if ell else " and no ellipsis was given")
                )
            if ell:
                ell_nd = max(ell_nd, len(shape) - explicit)
        ids: dict[Any, int] = {}
        ell_labels = [("...", k) for k in range(ell_nd)]
        for labels, _ in parsed:
            for c in labels:
                if c is not None and c not in ids:
                    ids[c] = len(ids)
        for e in ell_labels:
            ids[e] = len(ids)
        if len(ids) > 52:
            raise ShapeError(f"einsum(): at most 52 distinct dims are supported, got {len(ids)}")
        self.subs: list[list[int]] = []
        for (labels, _), shape in zip(parsed, shapes):
            sub: list[int] = []
            for c in labels:
                if c is None:
                    n = len(shape) - (len(labels) - 1)
                    sub.extend(ids[e] for e in ell_labels[ell_nd - n :])
                else:
                    sub.append(ids[c])
            self.subs.append(sub)
        if arrow:
            out_labels, out_ell = _parse_term(rhs, -1)
            self.out: list[int] = []
            for c in out_labels:
                if c is None:
                    self.out.extend(ids[e] for e in ell_labels)
                elif c not in ids:
                    raise ShapeError(
                        f"einsum(): output subscript {c} does not appear in the equation for "
                        "any input operand"
                    )
                elif ids[c] in self.out:
                    raise ShapeError(
                        f"einsum(): output subscript {c} appears more than once in the output"
                    )  # noqa: E501
                else:
                    self.out.append(ids[c])
        else:  # implicit: the broadcast dims, then the letters used once, in ASCII order
            counts: dict[str, int] = {}
            for labels, _ in parsed:
                for c in labels:
                    if c is not None:
                        counts[c] = counts.get(c, 0) + 1
            once = sorted(c for c, n in counts.items() if n == 1)
            self.out = [ids[e] for e in ell_labels] + [ids[c] for c in once]
        self._sizes(shapes, {v: k for k, v in ids.items()})

    def _sizes(self, shapes: list, names: dict) -> None:
        size: dict[int, int] = {}
        for i, (sub, shape) in enumerate(zip(self.subs, shapes)):
            mine: dict[int, int] = {}
            for lab, n in zip(sub, shape):
                if lab in mine and mine[lab] != n:
                    raise ShapeError(
                        f"einsum(): subscript {names[lab]} is repeated for operand {i} but the "
                        f"sizes don't match, {n} != {mine[lab]}"
                    )
                mine[lab] = n
            for lab, n in mine.items():
                if size.get(lab, 1) not in (1, n) and n != 1:
                    shown = "..." if isinstance(names[lab], tuple) else names[lab]
                    raise ShapeError(
                        f"einsum(): operands do not broadcast: subscript {shown} has size "
                        f"{size[lab]} and {n} (shapes {', '.join(map(str, shapes))})"
                    )
                if size.get(lab, 1) == 1:  # a size-1 dim takes the other's size (even 0)
                    size[lab] = n
        self.size = size
        # dims of size 1 where the label is longer elsewhere are squeezed (broadcast)
        self.squeeze = [
            tuple(j for j, lab in enumerate(sub) if shape[j] == 1 and size[lab] != 1)
            for sub, shape in zip(self.subs, shapes)
        ]
        self.kept = [
            [lab for j, lab in enumerate(sub) if j not in sq]
            for sub, sq in zip(self.subs, self.squeeze)
        ]

    @classmethod
    def from_labels(cls, subs: list[list[int]], out: list[int], size: dict) -> _EinsumPlan:
        """A plan for operands already of full size (nothing to squeeze) from integer
        labels, renumbered 0, 1, … in order of appearance (numpy takes labels < 52)."""
        ids: dict[int, int] = {}
        for lab in [lab for sub in subs for lab in sub] + list(out):
            ids.setdefault(lab, len(ids))
        if len(ids) > len(_LETTERS):
            raise NotImplementedError(
                f"einsum: the derivative needs {len(ids)} distinct dims, at most "
                f"{len(_LETTERS)} are supported"
            )
        plan = cls.__new__(cls)
        plan.subs = [[ids[lab] for lab in sub] for sub in subs]
        plan.kept = plan.subs
        plan.out = [ids[lab] for lab in out]
        plan.size = {ids[lab]: n for lab, n in size.items() if lab in ids}
        plan.squeeze = [() for _ in subs]
        return plan


def _einsum_arrays(pairs: list, out: list[int]) -> np.ndarray:
    args: list = []
    for arr, sub in pairs:
        args += [arr, sub]
    return np.einsum(*args, out, optimize=len(pairs) > 1)


class Einsum(Function):
    """``np.einsum`` on integer labels from an :class:`_EinsumPlan`.

    Backward for operand k: the output gradient contracted with every other operand,
    itself an einsum whose output is operand k's labels. Labels that only operand k has
    (summed within it) are broadcast back; a label repeated in operand k (a diagonal or
    trace) gets the gradient written onto that diagonal of zeros; dims squeezed for
    broadcasting come back as size-1 dims (the engine needs no further summing)."""

    def forward(self, *arrays, plan):
        self.plan = plan
        self.arrays = [
            a.reshape([n for j, n in enumerate(a.shape) if j not in sq]) if sq else a
            for a, sq in zip(arrays, plan.squeeze)
        ]
        self.shapes = [a.shape for a in arrays]
        return _einsum_arrays(list(zip(self.arrays, plan.kept)), plan.out)

    def backward(self, g):
        plan = self.plan
        grads = []
        for k, (arr, sub) in enumerate(zip(self.arrays, plan.kept)):
            if not self.needs_grad[k]:
                grads.append(None)
                continue
            others = [(a, s) for j, (a, s) in enumerate(zip(self.arrays, plan.kept)) if j != k]
            avail = set(plan.out).union(*(s for _, s in others))
            uniq = list(dict.fromkeys(sub))
            present = [lab for lab in uniq if lab in avail]
            gp = _einsum_arrays([(g, plan.out), *others], present)
            # broadcast over the labels only this operand has, in first-appearance order
            gu = gp.reshape([plan.size[lab] if lab in present else 1 for lab in uniq])
            gu = np.broadcast_to(gu, [plan.size[lab] for lab in uniq])
            if len(uniq) == len(sub):
                grad = gu
            else:  # repeated labels: write onto the diagonal
                grad = np.zeros(arr.shape, dtype=g.dtype)
                nu = len(uniq)
                index = tuple(
                    np.arange(plan.size[lab]).reshape(
                        [-1 if u == uniq.index(lab) else 1 for u in range(nu)]
                    )
                    for lab in sub
                )
                grad[index] = gu
            grads.append(grad.reshape(self.shapes[k]))
        return tuple(grads)

    def vjp(self, g):
        # backward as one einsum per operand, so its derivatives are einsums again: a label
        # repeated in operand k gets a fresh label tied to it by an identity matrix (the
        # diagonal written into zeros); labels only operand k has are broadcast back
        plan = self.plan
        ops = [
            t if t.shape == a.shape else t.reshape(a.shape)
            for t, a in zip(self.parents, self.arrays)
        ]
        size = dict(plan.size)
        grads = []
        for k, sub in enumerate(plan.kept):
            if not self.needs_grad[k]:
                grads.append(None)
                continue
            terms = [(g, list(plan.out))]
            terms += [(t, s) for j, (t, s) in enumerate(zip(ops, plan.kept)) if j != k]
            labels: list[int] = []
            for lab in sub:
                if lab in labels:
                    fresh = max(size) + 1
                    size[fresh] = size[lab]
                    terms.append((constant(np.eye(size[lab], dtype=g.dtype)), [lab, fresh]))
                    lab = fresh
                labels.append(lab)
            avail = set(plan.out).union(*(s for _, s in terms))
            wanted = [lab for lab in labels if lab in avail]
            sub_plan = _EinsumPlan.from_labels([s for _, s in terms], wanted, size)
            grad = Einsum.apply(*[t for t, _ in terms], plan=sub_plan)
            if len(wanted) < len(labels):
                grad = grad.reshape([size[lab] if lab in avail else 1 for lab in labels])
                grad = grad.expand([size[lab] for lab in labels])
            grads.append(grad.reshape(self.shapes[k]))
        return tuple(grads)


def einsum(equation: Any, *operands: Any):
    """Sum of products over labelled dims, e.g. ``einsum('bij,bjk->bik', a, b)``.

    Subscripts are letters; ``...`` stands for broadcast dims; a letter repeated in one
    operand takes a diagonal; letters missing from the output (after ``->``) are summed.
    Without ``->`` the output is the ``...`` dims then the letters used exactly once, in
    ASCII order (upper case first). Operands may be given as one list, and torch's
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` works too. Size-1 dims
    broadcast against the same letter's size elsewhere. All operands share one dtype."""
    from tinygrad_opt.autograd.function import tensor_type

    T = tensor_type()
    if not isinstance(equation, str):
        equation, ops = _sublist_equation((equation, *operands))
    elif len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        ops = list(operands[0])
    else:
        ops = list(operands)
    ops = [x if isinstance(x, T) else T(x) for x in ops]
    if ops and any(t.dtype != ops[0].dtype for t in ops):
        raise DTypeError(
            "einsum(): expected all operands to have the same dtype, got "
            + ", ".join(str(t.dtype) for t in ops)
        )
    if ops and ops[0].dtype == np.bool_:
        raise DTypeError("einsum(): bool operands are not supported (as torch)")
    plan = _EinsumPlan(equation, [t.shape for t in ops])
    return Einsum.apply(*ops, plan=plan)


class LinalgMethods:
    """Tensor methods for matrix products."""

    __slots__ = ()

    matmul = matmul
    mm = mm
    bmm = bmm
    mv = mv
    dot = dot
    vdot = vdot
    inner = inner
    outer = ger = outer
    trace = trace
    addmm = addmm
    baddbmm = baddbmm
