"""Gradient buckets: parameters' gradients as views of a few contiguous buffers.

One message per parameter costs one latency ``α`` each; a model with hundreds of small
tensors pays hundreds of ``α``. PyTorch DDP instead packs gradients into buckets of about
25 MiB (Li et al. 2020) and sends one message per bucket. Here each parameter's ``.grad``
*is* a view into its bucket (installed by :meth:`GradientBuckets.install_views`), so
``backward`` accumulates straight into the buffers and sending a bucket copies nothing.
A ``.grad`` that was replaced by another array (``zero_grad(set_to_none=True)``, user
code) is copied into the bucket before sending, so the result is the same either way.

Buckets are filled in reverse parameter order (the order backward produces gradients),
one dtype per bucket, each at most ``bucket_bytes`` (a parameter bigger than that gets
a bucket of its own).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Bucket", "GradientBuckets", "DEFAULT_BUCKET_BYTES"]

DEFAULT_BUCKET_BYTES = 25 * 2**20


class Bucket:
    """A contiguous buffer and the parameters whose gradients live in it."""

    def __init__(self, params: list[Any], dtype: np.dtype) -> None:
        self.params = params
        self.dtype = np.dtype(dtype)
        sizes = [p.data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=self.dtype)
        # one view object per parameter, made once: gather() recognises them by identity
        self.views = [self.view(i) for i in range(len(params))]

    @property
    def nbytes(self) -> int:
        return int(self.buffer.nbytes)

    def view(self, i: int) -> np.ndarray:
        p = self.params[i]
        return self.buffer[self.offsets[i] : self.offsets[i + 1]].reshape(p.data.shape)

    def install_views(self) -> None:
        """Zero the buffer and make every parameter's ``.grad`` a view of it."""
        self.buffer.fill(0)
        for p, v in zip(self.params, self.views):
            p.grad = v

    def gather(self) -> None:
        """Make the buffer hold every gradient (copy those that are not views of it).

        A parameter without a gradient contributes zeros.
        """
        for p, v in zip(self.params, self.views):
            g = p.grad
            if g is v:  # the usual case (install_views, then backward): nothing to do
                continue
            if g is None:
                v.fill(0)
                p.grad = v
            elif not _same_view(g, v):
                np.copyto(v, g)
                p.grad = v

    def params_to_buffer(self, out: np.ndarray) -> None:
        """Copy the parameters' values into ``out`` (same layout as the buffer)."""
        for i, p in enumerate(self.params):
            out[self.offsets[i] : self.offsets[i + 1]] = p.data.reshape(-1)

    def buffer_to_params(self, src: np.ndarray) -> None:
        """Copy ``src`` (same layout as the buffer) into the parameters, in place."""
        for i, p in enumerate(self.params):
            np.copyto(p.data, src[self.offsets[i] : self.offsets[i + 1]].reshape(p.data.shape))


class GradientBuckets:
    """The buckets of a list of parameters (see the module docstring)."""

    def __init__(self, params: list[Any], bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        if not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes <= 0:
            raise ValueError(f"bucket_bytes must be a positive integer, got {bucket_bytes!r}")
        self.params = list(params)
        self.buckets: list[Bucket] = []
        current: list[Any] = []
        size = 0
        dtype = None
        for p in reversed(self.params):
            nbytes = p.data.nbytes
            if current and (p.data.dtype != dtype or size + nbytes > bucket_bytes):
                self.buckets.append(Bucket(current, dtype))
                current, size = [], 0
            current.append(p)
            size += nbytes
            dtype = p.data.dtype
        if current:
            self.buckets.append(Bucket(current, dtype))

    def __len__(self) -> int:
        return len(self.buckets)

    def __iter__(self):
        return iter(self.buckets)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buckets)

    def install_views(self) -> None:
        for b in self.buckets:
            b.install_views()

    def gather(self) -> None:
        for b in self.buckets:
            b.gather()


def _same_view(a: Any, b: np.ndarray) -> bool:
    """Whether ``a`` is exactly the array view ``b`` (same memory, shape and strides)."""
    return (
        isinstance(a, np.ndarray)
        and a.shape == b.shape
        and a.strides == b.strides
        and a.dtype == b.dtype
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )
