"""``Flatten``: merge a range of axes into one (no copy when the input is contiguous)."""

from __future__ import annotations

from tinygrad_opt.nn.module import Module
from tinygrad_opt.tensor import ShapeError, Tensor

__all__ = ["Flatten"]


class Flatten(Module):
    """Merge axes ``start_dim`` … ``end_dim`` (inclusive; negative counts from the end).

    ``Flatten()`` keeps the batch axis: (N, C, H, W) → (N, C·H·W), as ``torch.nn.Flatten``.
    The gradient is the incoming one reshaped back. An input without those axes raises a
    :class:`ShapeError` naming the layer and the shape.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        nd = max(x.ndim, 1)
        bad = [d for d in (self.start_dim, self.end_dim) if not -nd <= d < nd]
        if bad or self.start_dim % nd > self.end_dim % nd:
            raise ShapeError(
                f"Flatten({self.extra_repr()}): cannot flatten dims {self.start_dim}..."
                f"{self.end_dim} of an input of shape {x.shape}"
            )
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
