"""torch's ``F.pad``: constant, reflect, replicate and circular padding, negative pads crop.

``pad`` lists (before, after) pairs from the **last** dim backwards:
``(left, right, top, bottom, front, back)`` pads dims -1, -2, -3. For an output
position ``j`` of a padded dim (``j`` counted in input coordinates, from ``-before`` to
``n + after - 1``), the element read is

- constant: ``x[j]`` inside, ``value`` outside;
- reflect: ``x[|j|]`` mirrored at both ends without repeating the edge (pads < n);
- replicate: ``x[clip(j, 0, n - 1)]`` (the edge repeated);
- circular: ``x'[j mod m]`` where ``x'`` is ``x`` after cropping the negative pads and
  ``m`` its length (pads ≤ m).

The non-constant modes are gathers along each padded dim (``x[..., idx, ...]``), so the
gradient adds every output gradient back into the element it was read from. Those
modes pad the last 1, 2 or 3 dims of a 2-3, 3-4 or 4-5 dimensional input, as torch.

This module's ``pad`` is exported as ``tinygrad_opt.nn.functional.pad`` (torch has no
``torch.pad``); ``Tensor.pad`` stays the older numpy-style method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_opt.errors import ShapeError
from tinygrad_opt.ops.index import GetItem
from tinygrad_opt.ops.shape import Clone, Pad
from tinygrad_opt.ops.slicing import Slice

__all__: list[str] = []  # F.pad only: nothing at tinygrad_opt's top level

_MODES = ("constant", "reflect", "replicate", "circular")


def _rank_error(n_pad: int, ndim: int) -> NotImplementedError:
    return NotImplementedError(
        f"Padding size {n_pad} is not supported for {ndim}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
    )


def _pairs(pad: Sequence[Any], ndim: int) -> list[tuple[int, int, int]]:
    """``(dim, before, after)`` for each padded dim, checked as torch checks ``pad``."""
    pad = tuple(pad)
    for i, p in enumerate(pad):
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(
                f"pad(): argument 'pad' must be tuple of ints, but found element of type "
                f"{type(p).__name__} at pos {i}"
            )
    if len(pad) % 2:
        raise ShapeError(f"pad: Padding length must be divisible by 2, got {pad}")
    if len(pad) // 2 > ndim:
        raise ShapeError(
            f"pad: Padding length should be less than or equal to two times the input "
            f"dimension but got padding length {len(pad)} and input of dimension {ndim}"
        )
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def _constant(input, pairs: list, value: Any):
    crop = [slice(None)] * input.ndim
    widths = [(0, 0)] * input.ndim
    for d, lo, hi in pairs:
        n = input.shape[d]
        if n + min(lo, 0) + min(hi, 0) < 0:
            raise ShapeError(
                f"pad: the negative padding ({lo}, {hi}) removes more than the {n} elements "
                f"of dim {d} (input shape {input.shape}); narrow(): length must be "
                "non-negative."
            )
        crop[d] = slice(max(-lo, 0), n - max(-hi, 0))
        widths[d] = (max(lo, 0), max(hi, 0))
    out = input
    if any(s != slice(None) for s in crop):
        out = Slice.apply(out, index=tuple(crop))
    if any(w != (0, 0) for w in widths):
        fill = np.asarray(0 if value is None else value).astype(input.dtype)
        out = Pad.apply(out, pad_width=tuple(widths), value=fill)
    elif out is input:
        out = Clone.apply(out)  # a new tensor, as torch
    return out


def _source_index(mode: str, n: int, lo: int, hi: int, d: int, shape: tuple) -> np.ndarray:
    """For each output position of a padded dim, the input position it reads."""
    where = f"padding ({lo}, {hi}) at dimension {d} of input {list(shape)}"
    if mode == "circular":
        if lo > n or hi > n:
            raise ShapeError(f"pad: Padding value causes wrapping around more than once ({where})")
        start, m = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
        plo, phi = max(lo, 0), max(hi, 0)
        if m + plo + phi < 0 or (m <= 0 and plo + phi > 0) or plo > m or phi > m:
            raise ShapeError(
                f"pad: circular {where} wraps around the cropped dim (size {max(m, 0)}) more "
                "than once"
            )
        return start + np.arange(-plo, m + phi) % max(m, 1)
    if mode == "reflect" and (lo >= n or hi >= n):
        raise ShapeError(
            f"pad: Argument #4: Padding size should be less than the corresponding input "
            f"dimension, but got: {where}"
        )
    if n + lo + hi < 1 or n == 0:
        raise ShapeError(
            f"pad: input (size {n} of dim {d}) is too small for {mode} {where}. "
            f"Calculated output size: {n + lo + hi}"
        )
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    j = np.abs(j)
    return np.where(j > n - 1, 2 * (n - 1) - j, j)


def pad(input, pad: Sequence[int], mode: str = "constant", value: float | None = None):
    """Pad (or, with negative amounts, crop) the last ``len(pad) // 2`` dims of ``input``.

    ``pad = (before_last, after_last, before_2nd_last, after_2nd_last, ...)``; ``mode``
    is 'constant' (filled with ``value``, default 0, cast to the input's dtype),
    'reflect', 'replicate' or 'circular' (see the module docstring)."""
    if mode not in _MODES:
        raise NotImplementedError(f"pad: Unrecognised padding mode {mode}")
    pairs = _pairs(pad, input.ndim)
    if mode == "constant":
        return _constant(input, pairs, value)
    if value is not None and value != 0:
        raise ShapeError(f'pad: Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pairs)
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise _rank_error(2 * k, input.ndim)
    out = input
    for d, lo, hi in pairs:
        idx = _source_index(mode, input.shape[d], lo, hi, d, input.shape)
        out = GetItem.apply(out, index=(slice(None),) * d + (idx,))
    return out
