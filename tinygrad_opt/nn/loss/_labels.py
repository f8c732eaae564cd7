"""Class-index targets: conversion, shape rules and range checks for the class losses."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.tensor import ShapeError, Tensor


class TargetIndexError(IndexError, ValueError):
    """A class-index target outside [0, C) that is not ``ignore_index``.

    An ``IndexError``, as torch raises; also a ``ValueError``, which is what this library
    raised before and what code written against it may catch.
    """


def class_indices(fn: str, target: Any) -> np.ndarray:
    """Integer class indices from an int array, a list of ints, or a Tensor (intp array).

    A float Tensor is accepted when it holds whole numbers (today's Tensors are float);
    bool and fractional values raise ``TypeError``.
    """
    if isinstance(target, Tensor):
        arr = target.data
        if arr.dtype.kind == "f":  # accept whole numbers only
            if arr.size and not np.array_equal(arr, np.floor(arr)):
                raise TypeError(
                    f"{fn}: targets must be integer class indices; the target Tensor holds "
                    f"non-integer values"
                )
            return arr.astype(np.intp)
    else:
        arr = np.asarray(target)
        if arr.size == 0 and arr.dtype.kind == "f":  # [] becomes float64
            arr = arr.astype(np.intp)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"{fn}: labels must be integer class indices, got dtype {arr.dtype} (use "
            f"y.astype(int); cross_entropy reads float targets of the input's shape as class "
            f"probabilities)"
        )
    return arr if arr.dtype == np.intp else arr.astype(np.intp)  # uint64 + int64 is float


def index_target_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The class-index target shape that fits an input of shape (C,), (N, C) or (N, C, d...)."""
    return () if len(input_shape) == 1 else (input_shape[0], *input_shape[2:])


def check_index_shape(fn: str, input_shape: tuple[int, ...], target_shape: tuple[int, ...]):
    want = index_target_shape(input_shape)
    if target_shape != want:
        probs = " or class probabilities of the input's shape" if fn == "cross_entropy" else ""
        raise ShapeError(
            f"{fn}: input of shape {input_shape} needs class-index targets of shape {want}"
            f"{probs}, got target of shape {target_shape} (inputs are (C,), (N, C) or "
            f"(N, C, d1, ...), with targets (), (N,) or (N, d1, ...))"
        )


def num_classes(fn: str, shape: tuple[int, ...]) -> int:
    if len(shape) == 0:
        raise ShapeError(f"{fn}: input must have shape (C,), (N, C) or (N, C, d1, ...), got ()")
    c = shape[1] if len(shape) > 1 else shape[0]
    if c == 0:
        raise ShapeError(f"{fn}: input of shape {shape} has no classes (C = 0)")
    return c


def valid_mask(fn: str, y: np.ndarray, c: int, ignore_index: int) -> np.ndarray | None:
    """Targets not equal to ``ignore_index`` (``None`` when that is all of them).

    Raises :class:`TargetIndexError` for any other target outside [0, C).
    """
    if y.size == 0:
        return None
    # One reduction checks both ends: seen as unsigned, negative labels become huge.
    if y.view(np.uintp).max() < c:
        if 0 <= ignore_index < c:
            valid = y != ignore_index
            return None if valid.all() else valid
        return None
    valid = y != ignore_index
    bad = valid & ((y < 0) | (y >= c))
    if bad.any():
        label = int(y[bad].flat[0])
        raise TargetIndexError(
            f"{fn}: label {label} is out of range for C = {c} classes (class indices must "
            f"be in [0, {c - 1}], or equal ignore_index = {ignore_index})"
        )
    return valid


def to_ncd(a: np.ndarray) -> np.ndarray:
    """View an (N, C, d1, ...) array as (N, C, D) and a (C,) array as (1, C, 1)."""
    if a.ndim == 1:
        return a.reshape(1, a.shape[0], 1)
    n, c = a.shape[:2]
    return a.reshape(n, c, int(np.prod(a.shape[2:], dtype=np.int64)))
