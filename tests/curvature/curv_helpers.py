"""Small models and losses for the curvature tests, with torch twins.

The layers are written with ops that have second derivatives on every branch (matmul,
permute, add, tanh, exp, log, sum, mean), so the Hessian machinery is tested on its own.
``forward(params, x)`` and the losses are written once and run on either engine (our
Tensors and torch tensors share the method names), which is how the torch oracle sees
exactly the computation we do.
"""

from __future__ import annotations

import numpy as np

from tinygrad_opt import Tensor, nn


class Affine(nn.Module):
    """x Wᵀ + b, weight (out, in) as torch's Linear, from matmul and add."""

    def __init__(self, fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float64):
        bound = 1.0 / np.sqrt(fan_in)
        self.weight = nn.Parameter(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype))
        self.bias = nn.Parameter(rng.uniform(-bound, bound, fan_out).astype(dtype))

    def forward(self, x):
        return x @ self.weight.permute(1, 0) + self.bias


def tanh_mlp(sizes: list[int], seed: int = 0, dtype=np.float64, scale: float = 1.0) -> nn.Module:
    """Affine, Tanh, Affine, ..., Affine (no activation after the last layer); weights
    multiplied by ``scale`` (larger weights: more curvature, negative eigenvalues)."""
    rng = np.random.default_rng(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = Affine(a, b, rng, dtype)
        layer.weight.data *= scale
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def forward(params: list, x):
    """The same network as :func:`tanh_mlp` from a list [W0, b0, W1, b1, ...] of either
    engine's tensors."""
    for i in range(0, len(params), 2):
        x = x @ params[i].permute(1, 0) + params[i + 1]
        if i < len(params) - 2:
            x = x.tanh()
    return x


# ------------------------------------------------------------------ losses (either engine)
def mse(out, y):
    """Mean squared error over every element."""
    return ((out - y) ** 2).mean()


def logistic(out, y):
    """Binary cross-entropy on logits, mean over samples: log(1 + e^z) − y z."""
    return ((1 + out.exp()).log() - y * out).mean()


def softmax_xent(out, onehot):
    """Softmax cross-entropy from exp/log: mean over rows of logΣe^z − z_label."""
    return (out.exp().sum(-1).log() - (out * onehot).sum(-1)).mean()


LOSSES = {"mse": mse, "logistic": logistic, "xent": softmax_xent}


def make_data(kind: str, n: int, d_in: int, d_out: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for loss ``kind`` (targets already in the form the loss takes)."""
    rng = np.random.default_rng(seed + 1000)
    X = rng.standard_normal((n, d_in))
    if kind == "mse":
        y = rng.standard_normal((n, d_out))
    elif kind == "logistic":
        y = rng.integers(0, 2, (n, d_out)).astype(np.float64)
    else:
        y = np.eye(d_out)[rng.integers(0, d_out, n)]
    return X, y


def our_loss(kind: str):
    """``loss_fn(output, targets)`` for our operators: targets are numpy arrays."""
    f = LOSSES[kind]
    return lambda out, y: f(out, Tensor(y))


def param_arrays(model: nn.Module) -> list[np.ndarray]:
    return [p.data.copy() for p in model.parameters()]


def torch_flat_loss(kind: str, shapes: list[tuple], X: np.ndarray, y: np.ndarray):
    """L(θ) for torch on a flat float64 parameter vector."""
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    sizes = [int(np.prod(s)) for s in shapes]

    def unflat(flat):
        out, o = [], 0
        for s, k in zip(shapes, sizes):
            out.append(flat[o : o + k].reshape(s))
            o += k
        return out

    def loss(flat):
        return LOSSES[kind](forward(unflat(flat), Xt), yt)

    return loss, unflat


def torch_dense_hessian(kind: str, model: nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    import torch

    arrays = param_arrays(model)
    loss, _ = torch_flat_loss(kind, [a.shape for a in arrays], X, y)
    flat = torch.from_numpy(np.concatenate([a.reshape(-1) for a in arrays]))
    return torch.autograd.functional.hessian(loss, flat).numpy()
