"""Max and average pooling over fixed windows (torch's API): ``max_pool1d/2d``,
``avg_pool1d/2d`` and the layers ``MaxPool1d/2d``, ``AvgPool1d/2d``.

Inputs are (N, C, L) / (N, C, H, W) or unbatched (C, L) / (C, H, W). Windows of size k,
stride s (default: the kernel), dilation d, starting at ``o·s - p`` along each axis:
``⌊(L + 2p - d·(k-1) - 1) / s⌋ + 1`` of them, or with ``ceil_mode`` the division
rounded up as long as the last window starts inside the input or its left padding
(torch's rule). Padding is at most half the kernel, as in torch.

- **Max pooling** pads with -inf and takes the maximum over the k_h·k_w strided views
  of the padded input (offset (i, j) of every window at once). The gradient of each
  window goes to its maximum; on ties to the *first* one in row-major window order, and
  to the last NaN when a window holds NaNs, as torch's kernels. ``return_indices`` gives
  that element's flat position ``row·W + col`` in its input plane, as torch.
- **Average pooling** sums the zero-padded views and divides each window by: the
  window's size clipped to the padded input (``count_include_pad=True``), or the number
  of real input elements in it (``False``), or ``divisor_override``. Backward spreads
  ``g / divisor`` over the window, one strided add per kernel offset.

Derivatives of every order (``create_graph=True``, see ``_adjoint.py``): average
pooling is linear, so its vjp is the adjoint map (the spreading above), whose own vjp is
the pooling again; max pooling's vjp routes g to the recorded maxima (a scatter-add),
whose vjp gathers at the same positions, so its second derivative in x is 0, as torch's.

Adaptive pooling lives in ``adaptive_pooling.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_opt.nn import _spatial as sp
from tinygrad_opt.nn._adjoint import adjoint, put_flat
from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import Function, ShapeError, Tensor

__all__ = [
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool1d",
    "MaxPool2d",
    "avg_pool1d",
    "avg_pool2d",
    "max_pool1d",
    "max_pool2d",
]

IntOrTuple = int | tuple[int, ...]


# --------------------------------------------------------------------------- shared by max pools
def flat_index(arg: np.ndarray, kw: int, rows: np.ndarray, cols: np.ndarray, width: int):
    """Flat in-plane index ``row·width + col`` of the winning offset ``arg`` of each window.

    ``rows[i, y]`` / ``cols[j, x]`` give the input row / column of kernel offset i / j in
    output row y / column x.
    """
    ai, aj = np.divmod(arg, kw)
    y = np.arange(rows.shape[1])[:, None]
    x = np.arange(cols.shape[1])
    return rows[ai, y] * width + cols[aj, x]


def scatter_flat(flat: np.ndarray, g: np.ndarray, shape: tuple[int, ...], unique: bool):
    """Add ``g`` (N, C, Ho, Wo) into zeros of ``shape`` (N, C, H, W) at in-plane ``flat``."""
    n, c, h, w = shape
    glob = (flat + (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)).ravel()
    if unique:  # every input element is in at most one window: a plain assignment
        out = np.zeros(n * c * h * w, dtype=g.dtype)
        out[glob] = g.ravel()
    else:
        out = np.bincount(glob, weights=g.ravel(), minlength=n * c * h * w).astype(g.dtype)
    return out.reshape(shape)


def route_to_max(
    g: Tensor, flat: np.ndarray, shape4: tuple[int, ...], shape: tuple[int, ...], keep=None
) -> Tensor:
    """The max pools' vjp as a differentiable node: ``g`` added into zeros of the input's
    ``shape`` at each window's maximum (in-plane ``flat`` of the (N, C, H, W) view
    ``shape4``; windows where ``keep`` is False route nothing). Its own vjp gathers at
    the same positions, so the second derivative in x is 0 (the max is piecewise linear)
    and every order is exact."""
    n, c, h, w = shape4
    index = flat + (np.arange(n * c) * (h * w)).reshape(n, c, 1, 1)
    if keep is not None:
        keep = np.broadcast_to(keep, index.shape).reshape(g.shape)
    return put_flat(g, index.reshape(g.shape), shape, keep)


def apply_with_indices(fn: type[Function], x: Tensor, return_indices: bool, **params: Any):
    """``fn.apply(x, **params)``; with ``return_indices`` also the int64 index Tensor the
    op appends to its ``indices`` list (max pools)."""
    box: list[np.ndarray] | None = [] if return_indices else None
    out = fn.apply(x, indices=box, **params)
    return (out, Tensor(box[0])) if box is not None else out


def window_tables(n_out: int, k: int, s: int, lo: int, d: int) -> np.ndarray:
    """``table[i, o]`` = input position of kernel offset i of window o (may be padding)."""
    return np.arange(n_out)[None, :] * s - lo + np.arange(k)[:, None] * d


# --------------------------------------------------------------------------- max pooling
class _MaxPool(Function):
    """Window maximum; backward routes each window's gradient to its first maximum."""

    name = "max_pool"

    def forward(self, x, *, op, nsp, kernel, stride, pads, dilation, out_hw, indices=None):
        self.name = op
        batched = x.ndim == nsp + 2
        x4 = sp.lift(x, nsp, batched)
        (kh, kw), (ho, wo), (h, w) = kernel, out_hw, x4.shape[2:]
        xp = sp.pad_constant(x4, pads, -np.inf)
        views = [
            sp.offset_view(xp, i, j, stride, dilation, out_hw) for i in range(kh) for j in range(kw)
        ]
        out = sp.window_max(views)
        want_grad = bool(self.needs_grad) and self.needs_grad[0]
        if want_grad or indices is not None:
            rows = window_tables(ho, kh, stride[0], pads[0][0], dilation[0])
            cols = window_tables(wo, kw, stride[1], pads[1][0], dilation[1])
            arg = sp.first_max(views, out)
            padded = any(p for pair in pads for p in pair)
            bad = np.isneginf(out) if padded else None
            self.lost = None
            if bad is not None and bad.any():
                # a -inf maximum may be padding: take the window's first position at or
                # after the input's start, torch's rule (a real element if there is one)
                first_r, first_c = np.argmax(rows >= 0, axis=0), np.argmax(cols >= 0, axis=0)
                start = np.add.outer(first_r * kw, first_c)
                np.copyto(arg, start.astype(arg.dtype), where=bad)
                # a window entirely in the padding (possible with dilation) has nothing
                # to route its gradient to; torch's index for it points past the input
                empty_r = ~((rows >= 0) & (rows < h)).any(axis=0)
                empty_c = ~((cols >= 0) & (cols < w)).any(axis=0)
                lost = empty_r[:, None] | empty_c[None, :]
                self.lost = lost if lost.any() else None
            flat = flat_index(arg, kw, rows, cols, w)
            if indices is not None:
                indices.append(sp.lower(flat, nsp, batched))
            if want_grad:
                if self.lost is not None:
                    flat = np.where(self.lost, 0, flat)
                self.flat, self.shape4 = flat, x4.shape
                self.geom = (nsp, batched, x.shape)
                # windows that cannot overlap let backward assign instead of add
                self.unique = self.lost is None and all(
                    s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation)
                )
        return sp.lower(out, nsp, batched)

    def backward(self, g):
        nsp, batched, shape = self.geom
        g4 = sp.lift(g, nsp, batched)
        if self.lost is not None:
            g4 = np.where(self.lost, 0, g4)
        gx = scatter_flat(self.flat, g4, self.shape4, self.unique)
        return sp.lower(gx, nsp, batched).reshape(shape)

    def vjp(self, g):
        keep = None if self.lost is None else ~self.lost
        return route_to_max(g, self.flat, self.shape4, self.geom[2], keep)


# --------------------------------------------------------------------------- average pooling
class _AvgPool(Function):
    """Window sum / divisor; backward spreads g / divisor over each window."""

    name = "avg_pool"

    def forward(self, x, *, op, nsp, kernel, stride, pads, out_hw, divisor):
        self.name = op
        batched = x.ndim == nsp + 2
        x4 = sp.lift(x, nsp, batched)
        xp = sp.pad_constant(x4, pads, 0.0)
        out = np.zeros((*x4.shape[:2], *out_hw), dtype=x.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                out += sp.offset_view(xp, i, j, stride, (1, 1), out_hw)
        if np.ndim(divisor) == 0:
            out *= np.asarray(1.0 / divisor, dtype=x.dtype)
        else:
            out /= divisor.astype(x.dtype)
        self.geom = (nsp, batched, x.shape, x4.shape, kernel, stride, pads, out_hw, divisor)
        return sp.lower(out, nsp, batched)

    def backward(self, g):
        nsp, batched, shape, (n, c, h, w), kernel, stride, pads, out_hw, divisor = self.geom
        g4 = sp.lift(g, nsp, batched)
        if np.ndim(divisor) == 0:
            share = g4 * np.asarray(1.0 / divisor, dtype=g.dtype)
        else:
            share = g4 / divisor.astype(g.dtype)
        (pt, pb), (pl, pr) = pads
        gxp = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                sp.offset_view(gxp, i, j, stride, (1, 1), out_hw)[...] += share
        return sp.lower(sp.crop(gxp, pads, (h, w)), nsp, batched).reshape(shape)

    def vjp(self, g):  # linear: the adjoint map, whose own vjp is this op again
        return adjoint(self, g)


def _avg_divisor(size, n_out, k, s, p, count_include_pad):
    """Per-axis window sizes for the divisor, torch's rule (1-D arrays of length n_out)."""
    start = np.arange(n_out) * s - p
    end = np.minimum(start + k, size + p)  # windows clipped to the padded input
    if count_include_pad:
        return end - start
    return np.maximum(np.minimum(end, size) - np.maximum(start, 0), 0)


# --------------------------------------------------------------------------- argument checks
class _Geometry:
    """Validated pooling arguments, as given (``kernel`` ...) and in the 2-D canonical form."""

    def __init__(self, who, nsp, kernel_size, stride, padding, dilation, ceil_mode):
        self.nsp = nsp
        self.kernel = sp.ntuple(kernel_size, nsp, "kernel_size", who, 1)
        none = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
        self.stride = self.kernel if none else sp.ntuple(stride, nsp, "stride", who, 1)
        self.padding = sp.ntuple(padding, nsp, "padding", who, 0)
        self.dilation = sp.ntuple(dilation, nsp, "dilation", who, 1)
        self.ceil_mode = bool(ceil_mode)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(
                f"{who}: padding {sp.fmt(self.padding)} must be at most half the kernel "
                f"{sp.fmt(self.kernel)} (as in torch)"
            )

    def resolve(self, who: str, x: Tensor) -> dict[str, Any]:
        """Out size and (lo, hi) padding for ``x`` (hi grows for ceil_mode's last window)."""
        nsp = self.nsp
        sizes = x.shape[-nsp:]
        outs, pads = [], []
        for n, k, s, p, d in zip(sizes, self.kernel, self.stride, self.padding, self.dilation):
            o = sp.out_len(n, k, s, p, p, d, self.ceil_mode)
            outs.append(o)
            pads.append((p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)))
        if min(outs) < 1:
            padded = tuple(n + 2 * p for n, p in zip(sizes, self.padding))
            raise ShapeError(
                f"{who}: input of spatial size {sp.fmt(sizes)} (padded {sp.fmt(padded)}) is "
                f"smaller than the kernel {sp.fmt(self.kernel)}; got input shape {x.shape}"
            )
        return {
            "nsp": nsp,
            "kernel": sp.as2d(self.kernel, 1),
            "stride": sp.as2d(self.stride, 1),
            "pads": (((0, 0),) + tuple(pads)) if nsp == 1 else tuple(pads),
            "out_hw": sp.as2d(outs, 1),
        }

    def repr(self) -> str:
        text = f"kernel {sp.fmt(self.kernel)}, stride {sp.fmt(self.stride)}"
        if any(self.padding):
            text += f", padding {sp.fmt(self.padding)}"
        if any(d != 1 for d in self.dilation):
            text += f", dilation {sp.fmt(self.dilation)}"
        return text + (", ceil_mode=True" if self.ceil_mode else "")


def _max_pool(who: str, geo: _Geometry, x: Any, return_indices: bool):
    x = sp.as_tensor(x)
    sp.check_input(who, x, geo.nsp)
    args = geo.resolve(who, x)
    dilation = sp.as2d(geo.dilation, 1)
    return apply_with_indices(
        _MaxPool, x, return_indices, op=f"max_pool{geo.nsp}d", dilation=dilation, **args
    )


def _avg_pool(who, geo: _Geometry, x: Any, count_include_pad: bool, divisor_override):
    x = sp.as_tensor(x)
    sp.check_input(who, x, geo.nsp)
    args = geo.resolve(who, x)
    (kh, kw), pads = args["kernel"], args["pads"]
    if divisor_override is not None:
        divisor: Any = float(divisor_override)
    elif (
        pads[0][0] == pads[0][1]
        and pads[1][0] == pads[1][1]
        and (count_include_pad or not any(pads[0] + pads[1]))
    ):  # no window reaches past the padded input, none is clipped: one divisor for all
        divisor = float(kh * kw)
    else:
        (sh, sw), (ho, wo) = args["stride"], args["out_hw"]
        ph, pw = pads[0][0], pads[1][0]
        h, w = sp.lift(x.data, geo.nsp, x.ndim == geo.nsp + 2).shape[2:]
        rows = _avg_divisor(h, ho, kh, sh, ph, count_include_pad)
        cols = _avg_divisor(w, wo, kw, sw, pw, count_include_pad)
        divisor = np.outer(rows, cols).astype(np.float64)
        divisor[divisor == 0] = 1.0  # an empty window averages to 0, as in torch
        if (divisor == divisor.flat[0]).all():
            divisor = float(divisor.flat[0])
    return _AvgPool.apply(x, op=f"avg_pool{geo.nsp}d", divisor=divisor, **args)


def _divisor_override(who: str, value: Any) -> int | None:
    if value is None:
        return None
    if not sp.is_int(value) or int(value) == 0:
        raise ValueError(f"{who}: divisor_override must be a non-zero integer, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- functional forms
def max_pool1d(
    input: Tensor | np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over windows of ``input`` (N, C, L) or (C, L), as ``torch.nn.functional.max_pool1d``.

    out[n, c, y] = max_i xpad[n, c, s·y + d·i] with -inf padding; with
    ``return_indices`` also the argmax's position in L (first maximum on ties).
    """
    geo = _Geometry("max_pool1d", 1, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool("max_pool1d", geo, input, return_indices)


def max_pool2d(
    input: Tensor | np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over kh×kw windows of (N, C, H, W) or (C, H, W), as torch's ``max_pool2d``.

    out[n, c, y, x] = max_ij xpad[n, c, sh·y + dh·i, sw·x + dw·j] with -inf padding;
    ``stride`` defaults to ``kernel_size``. The gradient of each window goes to its first
    maximum (torch's choice); ``return_indices`` also returns its flat index row·W + col.
    """
    geo = _Geometry("max_pool2d", 2, kernel_size, stride, padding, dilation, ceil_mode)
    return _max_pool("max_pool2d", geo, input, return_indices)


def avg_pool1d(
    input: Tensor | np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """Mean over windows of ``input`` (N, C, L) or (C, L), as ``torch.nn.functional.avg_pool1d``.

    out[n, c, y] = Σ_i xpad[n, c, s·y + i] / divisor (zero padding); the divisor counts
    the padding (``count_include_pad=True``) or only real elements.
    """
    geo = _Geometry("avg_pool1d", 1, kernel_size, stride, padding, 1, ceil_mode)
    return _avg_pool("avg_pool1d", geo, input, bool(count_include_pad), None)


def avg_pool2d(
    input: Tensor | np.ndarray,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Mean over kh×kw windows of (N, C, H, W) or (C, H, W), as ``torch.nn.functional.avg_pool2d``.

    out = Σ_window xpad / divisor with zero padding; divisor = ``divisor_override`` if
    given, else the window size clipped to the padded input (``count_include_pad=True``)
    or the number of real input elements in the window.
    """
    geo = _Geometry("avg_pool2d", 2, kernel_size, stride, padding, 1, ceil_mode)
    div = _divisor_override("avg_pool2d", divisor_override)
    return _avg_pool("avg_pool2d", geo, input, bool(count_include_pad), div)


# --------------------------------------------------------------------------- layers
class _PoolNd(Module):
    """Base of the pooling layers: validates the window arguments once (a
    :class:`_Geometry`) and exposes them as torch's attributes."""

    _nsp = 2

    def _set_geometry(self, kernel_size, stride, padding, dilation, ceil_mode) -> _Geometry:
        name = type(self).__name__
        self._geo = geo = _Geometry(
            name, self._nsp, kernel_size, stride, padding, dilation, ceil_mode
        )
        self.kernel_size, self.stride, self.padding = geo.kernel, geo.stride, geo.padding
        self.ceil_mode = geo.ceil_mode
        return geo


class _MaxPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        geo = self._set_geometry(kernel_size, stride, padding, dilation, ceil_mode)
        self.dilation = geo.dilation
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return _max_pool(sp.layer_name(self), self._geo, input, self.return_indices)

    def extra_repr(self) -> str:
        return self._geo.repr() + (", return_indices=True" if self.return_indices else "")


class MaxPool1d(_MaxPoolNd):
    """Max pooling over windows of (N, C, L) or (C, L) input; see :func:`max_pool1d`.

    ``MaxPool1d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, as torch's (``stride`` defaults to ``kernel_size``).
    """

    _nsp = 1


class MaxPool2d(_MaxPoolNd):
    """Max pooling over kh×kw windows of NCHW (or CHW) input; see :func:`max_pool2d`.

    ``MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
    ceil_mode=False)``, as torch's. Ties route the gradient to the first maximum.
    """

    _nsp = 2


class _AvgPoolNd(_PoolNd):
    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self._set_geometry(kernel_size, stride, padding, 1, ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = _divisor_override(type(self).__name__, divisor_override)

    def forward(self, input: Tensor) -> Tensor:
        args = (self.count_include_pad, self.divisor_override)
        return _avg_pool(sp.layer_name(self), self._geo, input, *args)

    def extra_repr(self) -> str:
        text = self._geo.repr()
        if not self.count_include_pad:
            text += ", count_include_pad=False"
        if self.divisor_override is not None:
            text += f", divisor_override={self.divisor_override}"
        return text


class AvgPool1d(_AvgPoolNd):
    """Average pooling over windows of (N, C, L) or (C, L) input; see :func:`avg_pool1d`.

    ``AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True)``, as torch's.
    """

    _nsp = 1

    def __init__(
        self,
        kernel_size: IntOrTuple,
        stride: IntOrTuple | None = None,
        padding: IntOrTuple = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Average pooling over kh×kw windows of NCHW (or CHW) input; see :func:`avg_pool2d`.

    ``AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``, as torch's; zero padding counts in
    the divisor by default.
    """

    _nsp = 2
