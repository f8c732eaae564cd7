"""``einsum``: sums of products over labelled dims, with its derivative as einsums again.

An equation (``'bij,bjk->bik'``, or torch's sublist form) is parsed once into an
:class:`_EinsumPlan` of integer labels; :class:`Einsum` runs ``np.einsum`` on it. The
gradient for each operand is itself an einsum whose output is that operand's labels, so
derivatives of any order stay einsums. No ``Tensor`` method: torch has none either.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.autograd.function import Function, constant
from tinygrad_opt.errors import DTypeError, ShapeError

#: the torch-style free functions of this module (exported by ``tinygrad_opt``)
__all__ = ["einsum"]

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
