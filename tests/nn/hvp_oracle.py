"""Hessian-vector products of a layer or loss in ours and in torch (float64), compared.

For the scalar L = Σ u₁·y² + u₂·y of the output(s) y (fixed random u₁, u₂; the square
makes even a linear layer's Hessian non-zero), :func:`check` compares the first-order
gradients ∇L with respect to the float inputs and the parameters, and the
Hessian-vector product H·v = ∇(Σ ∇L·v) along a random v, taken with
``create_graph=True`` in ours and in torch. :func:`twin` builds a layer in both
libraries with torch's (perturbed) state_dict loaded into ours.
"""

from __future__ import annotations

import inspect
import zlib

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import tinygrad_opt as tg
from tinygrad_opt import Tensor, nn

TOL = {"rtol": 1e-9, "atol": 1e-10}


def rng_for(name: str) -> np.random.Generator:
    """A generator seeded by ``name`` (each case its own fixed data)."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def twin(kind: str, *args, perturb: float = 0.3, seed: int = 0, **kw):
    """(ours, torch's) layer ``kind`` built with the same arguments, float64, torch's
    parameters perturbed (biases start at 0, norm scales at 1) and its state_dict loaded
    into ours."""
    torch.manual_seed(seed)
    theirs = getattr(torch.nn, kind)(*args, **kw).double()
    cls = getattr(nn, kind)
    extra = {"dtype": np.float64} if "dtype" in inspect.signature(cls).parameters else {}
    ours = cls(*args, **kw, **extra)
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(perturb * torch.randn(p.shape, dtype=p.dtype))
    ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out) -> list:
    """The float tensors in a (nested) tuple of results, None dropped."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _params(module) -> list:
    return [] if module is None else [p for _, p in module.named_parameters()]


def hvp_ours(fn, arrays, module, seed):
    """(∇L, H·v) in ours, for the float ``arrays`` (inputs of ``fn``) and ``module``'s
    parameters, in that order."""
    xs = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    outs = _flat(fn(*xs))
    rng = np.random.default_rng(seed)
    loss = None
    for o in outs:
        u1, u2 = rng.standard_normal(o.shape), rng.standard_normal(o.shape)
        term = (o * o * Tensor(u1) + o * Tensor(u2)).sum()
        loss = term if loss is None else loss + term
    wrt = [x for x in xs if x.requires_grad] + _params(module)
    gs = tg.autograd.grad(loss, wrt, create_graph=True, allow_unused=True)
    vs = [rng.standard_normal(w.shape) for w in wrt]
    terms = [(g * Tensor(v)).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad]
    hs = [None] * len(wrt)
    if terms:
        hs = tg.autograd.grad(sum(terms[1:], terms[0]), wrt, allow_unused=True)
    first = [np.zeros(w.shape) if g is None else g.data for g, w in zip(gs, wrt)]
    second = [np.zeros(w.shape) if h is None else h.data for h, w in zip(hs, wrt)]
    return first, second


def hvp_torch(fn, arrays, module, seed):
    """:func:`hvp_ours` in torch, with the same upstreams and direction."""
    xs = [
        torch.tensor(a.copy(), requires_grad=True) if a.dtype.kind == "f" else torch.tensor(a)
        for a in arrays
    ]
    with sdpa_kernel(SDPBackend.MATH):  # torch's fused CPU kernels have no double backward
        outs = _flat(fn(*xs))
    rng = np.random.default_rng(seed)
    loss = 0
    for o in outs:
        u1, u2 = rng.standard_normal(tuple(o.shape)), rng.standard_normal(tuple(o.shape))
        loss = loss + (o * o * torch.tensor(u1) + o * torch.tensor(u2)).sum()
    wrt = [x for x in xs if x.requires_grad] + _params(module)
    gs = torch.autograd.grad(loss, wrt, create_graph=True, allow_unused=True)
    vs = [rng.standard_normal(tuple(w.shape)) for w in wrt]
    terms = [
        (g * torch.tensor(v)).sum() for g, v in zip(gs, vs) if g is not None and g.requires_grad
    ]
    hs = [None] * len(wrt)
    if terms:
        hs = torch.autograd.grad(sum(terms), wrt, allow_unused=True)

    def arr(t, w):
        return np.zeros(tuple(w.shape)) if t is None else t.detach().numpy(force=True)

    return [arr(g, w) for g, w in zip(gs, wrt)], [arr(h, w) for h, w in zip(hs, wrt)]


def check(ours, theirs, arrays, modules=(None, None), seed=0):
    """First-order gradients and H·v of L(y) agree with torch's, for inputs and params."""
    names = [f"input {i}" for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if modules[0] is not None:
        names += [n for n, _ in modules[0].named_parameters()]
        assert names[len(names) - len(_params(modules[1])) :] == [
            n for n, _ in modules[1].named_parameters()
        ], "parameter names or order differ"
    g1, h1 = hvp_ours(ours, arrays, modules[0], seed)
    g2, h2 = hvp_torch(theirs, arrays, modules[1], seed)
    for name, a, b in zip(names, g1, g2):
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"gradient of {name}")
    for name, a, b in zip(names, h1, h2):
        np.testing.assert_allclose(a, b, **TOL, err_msg=f"Hessian-vector product, {name}")
