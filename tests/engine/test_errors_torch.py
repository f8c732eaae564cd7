"""Mistakes raise the exception class torch raises (and shape errors stay ValueErrors)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_opt as tg
from tinygrad_opt import DimError, ShapeError, Tensor

A = np.arange(6.0).reshape(2, 3)
B = np.arange(12.0).reshape(3, 4)

# (name, our thunk taking the module `tg` and a constructor, words the message must contain)
MISTAKES = [
    ("add_shapes", lambda m, T: T(A) + T(B), ["(2, 3)", "(3, 4)"]),
    ("matmul_inner", lambda m, T: T(A) @ T(A), ["matmul", "(2, 3)"]),
    ("reshape_count", lambda m, T: T(A).reshape(4, 2), ["reshape", "(2, 3)"]),
    ("sum_dim", lambda m, T: T(A).sum(2), ["Dimension out of range", "2"]),
    ("softmax_dim", lambda m, T: T(A).softmax(-3), ["Dimension out of range"]),
    ("transpose_dim", lambda m, T: T(A).transpose(0, 2), ["Dimension out of range"]),
    ("unsqueeze_dim", lambda m, T: T(A).unsqueeze(4), ["Dimension out of range"]),
    ("cat_dim", lambda m, T: m.cat([T(A), T(A)], 2), ["Dimension out of range"]),
    ("cat_shapes", lambda m, T: m.cat([T(A), T(B)], 0), ["cat", "(2, 3)", "(3, 4)"]),
    ("stack_shapes", lambda m, T: m.stack([T(A), T(B)]), ["stack", "(2, 3)", "(3, 4)"]),
    ("index_bounds", lambda m, T: T(A)[5], ["index"]),
    ("index_float_tensor", lambda m, T: T(A)[T(np.array([0.0, 1.0]))], ["long, int, byte or bool"]),
    ("index_float", lambda m, T: T(A)[1.0], ["index"]),
    ("index_too_many", lambda m, T: T(A)[0, 0, 0], ["index"]),
    ("expand_bad", lambda m, T: T(A).expand(4, 3), ["expand", "(2, 3)"]),
    ("permute_count", lambda m, T: T(A).permute(0, 1, 2), ["permute"]),
    ("flatten_dim", lambda m, T: T(A).flatten(0, 3), ["Dimension out of range"]),
    ("max_empty", lambda m, T: T(np.zeros((0, 3))).max(), ["max", "(0, 3)"]),
    ("backward_nonscalar", lambda m, T: T(A, requires_grad=True).exp().backward(), ["scalar"]),
    ("requires_grad_int", lambda m, T: T(np.arange(3), requires_grad=True), ["floating point"]),
    ("mean_int", lambda m, T: T(np.arange(3)).mean(), ["mean"]),
]


def _torch_ctor(torch):
    def make(a, requires_grad=False):
        return torch.tensor(a, requires_grad=requires_grad)

    return make


def _ours_ctor(a, requires_grad=False):
    return Tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("name, thunk, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_message_names_the_problem(name, thunk, words):
    with pytest.raises(Exception) as info:
        thunk(tg, _ours_ctor)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{name}: {w!r} not in {msg!r}"


@pytest.mark.torch
@pytest.mark.parametrize("name, thunk, words", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_exception_class_is_torchs(name, thunk, words):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as theirs:
        thunk(torch, _torch_ctor(torch))
    with pytest.raises(Exception) as ours:
        thunk(tg, _ours_ctor)
    assert isinstance(ours.value, type(theirs.value)), (
        f"{name}: torch raises {type(theirs.value).__name__}, we raise "
        f"{type(ours.value).__name__} ({ours.value})"
    )


def test_shape_errors_are_still_value_errors():
    for thunk in (lambda: Tensor(A) + Tensor(B), lambda: Tensor(A) @ Tensor(A)):
        with pytest.raises(ValueError):
            thunk()
        with pytest.raises(RuntimeError):
            thunk()
    with pytest.raises(ShapeError):
        Tensor(A).sum(3)  # DimError is a ShapeError too
    assert issubclass(DimError, IndexError) and issubclass(DimError, ValueError)
