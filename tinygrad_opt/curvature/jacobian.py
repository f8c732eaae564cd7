"""``OutputJacobian``: products with J = ∂f/∂θ, the Jacobian of a network's output.

For an objective L(θ) = ℓ(f(θ)) with output f ∈ ℝ^{N×…} (N samples), the Gauss-Newton
and Fisher products are sandwiches Jᵀ·M·J·v. Both halves come from reverse mode:

- ``vjp(w)`` = Jᵀw: one backward pass through f's graph with ``grad_outputs=w``;
- ``jvp(v)`` = Jv: the "double-vjp" trick. u ↦ Jᵀu is linear in u, so built once with
  ``create_graph=True`` for a dummy u (zeros, requiring grad), its vector-Jacobian product
  along v with respect to u is (Jv)ᵀ: one backward pass per product through that graph.

Both graphs are built on construction and reused by every product.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt.autograd.gradients import grad
from tinygrad_opt.curvature.objective import Objective
from tinygrad_opt.tensor import Tensor

__all__ = ["OutputJacobian"]


class OutputJacobian:
    """Jv and Jᵀw for the output f(θ₀) of ``objective`` (``output`` holds f(θ₀) as an
    array, ``output_tensor`` as the graph)."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        self.layout = objective.layout
        f = objective.output()
        if not f.requires_grad:
            raise ValueError("the network output does not depend on the parameters")
        self.output_tensor = f
        self.output = f._data
        u = Tensor(np.zeros(f.shape, dtype=f.dtype), requires_grad=True)
        jt_u = grad(f, objective.leaves, u, create_graph=True, allow_unused=True)
        self._u = u
        # Jᵀu for the parameters f depends on (a parameter entering f only linearly,
        # e.g. a last-layer bias, still has Jᵀu depending on u)
        self._cols = [i for i, t in enumerate(jt_u) if t is not None and t.requires_grad]
        self._jt_u = tuple(jt_u[i] for i in self._cols)

    def jvp(self, v: np.ndarray) -> np.ndarray:
        """J·v (shaped like the output) for a flat parameter vector ``v``."""
        if not self._jt_u:
            return np.zeros(self.output.shape, dtype=np.float64)
        pieces = self.layout.split(v)
        (jv,) = grad(
            self._jt_u, (self._u,), tuple(pieces[i] for i in self._cols), allow_unused=True
        )
        if jv is None:
            return np.zeros(self.output.shape, dtype=np.float64)
        return np.asarray(jv._data, dtype=np.float64)

    def vjp(self, w: np.ndarray) -> np.ndarray:
        """Jᵀ·w (flat, float64) for ``w`` shaped like the output."""
        w = np.asarray(w)
        if w.shape != self.output.shape:
            raise ValueError(f"vjp: w has shape {w.shape}, the output {self.output.shape}")
        g = grad(self.output_tensor, self.objective.leaves, w, allow_unused=True)
        return self.layout.gather(g)
