"""Curvature products on the library's own layers and losses, against torch.

Every layer here reads its parameters from attributes at forward time, which is what
the operators' parameter substitution relies on; the comparisons check it end to end
(Hessian-vector products vs ``torch.autograd.functional.hvp`` through
``torch.func.functional_call`` on a torch twin loaded with our state dict).

These need the second derivatives of nn.Linear, ReLU, convolution, pooling, the
normalisations, attention, recurrent layers and the losses, which come from other
branches of issue 14: they pass once those are merged (checked on a scratch merge).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn
from tinygrad_opt.curvature import (
    EmpiricalFisherOperator,
    GGNOperator,
    HessianOperator,
    SharpnessCallback,
    lanczos,
)
from tinygrad_opt.data import DataLoader
from tinygrad_opt.nn import functional as F
from tinygrad_opt.optim import SGD
from tinygrad_opt.train import fit

torch = pytest.importorskip("torch")
TOL = {"rtol": 1e-10, "atol": 1e-12}


def squash(out):
    """A loss that is not quadratic in the output (either engine)."""
    return ((out * 0.5).tanh() ** 2).mean()


def torch_hvp(op, tmodel, X, loss_t, v, targets=None):
    from torch.func import functional_call

    names, shapes, sizes = op.layout.names, op.layout.shapes, list(op.layout.sizes)
    tparams = dict(tmodel.named_parameters())
    assert set(names) <= set(tparams), sorted(set(names) - set(tparams))
    Xt = torch.from_numpy(X)

    def loss(flat):
        params = {n: p.reshape(s) for n, p, s in zip(names, torch.split(flat, sizes), shapes)}
        out = functional_call(tmodel, params, (Xt,))
        return loss_t(out) if targets is None else loss_t(out, targets)

    flat = torch.cat([tparams[n].detach().reshape(-1) for n in names])
    return torch.autograd.functional.hvp(loss, flat, torch.from_numpy(v))[1].numpy()


def twin(ours, theirs):
    theirs.double()
    theirs.load_state_dict(
        {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in ours.state_dict().items()}
    )
    theirs.eval()
    return theirs


class First(nn.Module):
    """The first element of a recurrent layer's (output, state) pair."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


class TFirst(torch.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x)[0]


def cases():
    rng = np.random.default_rng(0)
    yield (
        "conv-pool",
        nn.Sequential(
            nn.Conv2d(3, 4, 3, rng=0), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16, 2, rng=1),
        ),
        torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3), torch.nn.Tanh(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(16, 2),
        ),
        rng.standard_normal((2, 3, 6, 6)),
    )  # fmt: skip
    yield (
        "layernorm-gelu",
        nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 6, rng=0), nn.GELU(), nn.Linear(6, 2, rng=1)),
        torch.nn.Sequential(
            torch.nn.LayerNorm(6), torch.nn.Linear(6, 6), torch.nn.GELU(), torch.nn.Linear(6, 2)
        ),
        rng.standard_normal((4, 5, 6)),
    )
    bn = nn.Sequential(
        nn.Linear(5, 6, rng=0),
        nn.BatchNorm1d(6),
        nn.Tanh(),
        nn.Dropout(0.5),
        nn.Linear(6, 2, rng=1),
    )
    bn(Tensor(rng.standard_normal((8, 5)).astype(np.float32)))  # running statistics move
    yield (
        "batchnorm-dropout-eval",
        bn,
        torch.nn.Sequential(
            torch.nn.Linear(5, 6), torch.nn.BatchNorm1d(6), torch.nn.Tanh(),
            torch.nn.Dropout(0.5), torch.nn.Linear(6, 2),
        ),
        rng.standard_normal((8, 5)),
    )  # fmt: skip
    yield (
        "transformer-layer",
        nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, rng=0),
        torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0),
        rng.standard_normal((5, 2, 8)),
    )
    yield (
        "lstm",
        First(nn.LSTM(3, 4, rng=0)),
        TFirst(torch.nn.LSTM(3, 4)),
        rng.standard_normal((5, 2, 3)),
    )
    yield (
        "gru-2-layers",
        First(nn.GRU(3, 4, num_layers=2, rng=0)),
        TFirst(torch.nn.GRU(3, 4, num_layers=2)),
        rng.standard_normal((5, 2, 3)),
    )


@pytest.mark.parametrize("case", list(cases()), ids=lambda c: c[0])
def test_hvp_on_layers_matches_torch(case):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    _, ours, theirs, X = case
    ours.double()
    tmodel = twin(ours, theirs)
    op = HessianOperator(ours, lambda out, _: squash(out), (X, None))
    v = np.random.default_rng(1).standard_normal(op.shape[0])
    with sdpa_kernel(SDPBackend.MATH):  # torch's fused attention has no double backward
        ref = torch_hvp(op, tmodel, X, squash, v)
    np.testing.assert_allclose(op.matvec(v), ref, **TOL)


def classifier(seed=0):
    return nn.MLP([4, 8, 8, 3], rng=seed).double()


def test_relu_mlp_with_cross_entropy_hessian_ggn_fisher_match_torch():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    model = classifier()
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.ReLU(),
        torch.nn.Linear(8, 3),
    )  # fmt: skip
    tmodel = twin(model, tmodel)
    yt = torch.from_numpy(y)
    H = HessianOperator(model, F.cross_entropy, (X, Tensor(y)))
    v = rng.standard_normal(H.shape[0])
    ref = torch_hvp(H, tmodel, X, torch.nn.functional.cross_entropy, v, yt)
    np.testing.assert_allclose(H.matvec(v), ref, **TOL)
    # f is linear in the last layer's parameters, so there H and G coincide; G is PSD
    G = GGNOperator(model, F.cross_entropy, (X, Tensor(y))).to_dense()
    last = slice(H.layout.slices[-2].start, None)
    np.testing.assert_allclose(G[last, last], H.to_dense()[last, last], **TOL)
    assert np.linalg.eigvalsh(G).min() >= -1e-12
    # Fisher vs per-sample gradients from torch
    rows = []
    for i in range(12):
        tmodel.zero_grad()
        torch.nn.functional.cross_entropy(
            tmodel(torch.from_numpy(X[i : i + 1])), yt[i : i + 1]
        ).backward()
        rows.append(
            np.concatenate([tmodel.get_parameter(n).grad.numpy().ravel() for n in H.layout.names])
        )
    rows = np.array(rows)
    Fop = EmpiricalFisherOperator(model, F.cross_entropy, (X, Tensor(y)))
    np.testing.assert_allclose(Fop.to_dense(), rows.T @ rows / 12, **TOL)


def test_sharpness_callback_on_a_relu_classifier_with_cross_entropy():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    model = classifier(1)
    cb = SharpnessCallback(F.cross_entropy, (X[:16], Tensor(y[:16])), every=2, tol=1e-10)
    loader = DataLoader((X, y), batch_size=10, shuffle=True, rng=0)
    fit(
        model,
        SGD(model.parameters(), lr=0.1),
        loader,
        F.cross_entropy,
        1,
        progress=False,
        callbacks=[cb],
    )
    assert cb.steps.tolist() == [2, 4]
    dense = HessianOperator(model, F.cross_entropy, (X[:16], Tensor(y[:16]))).to_dense()
    assert cb.values[-1][1] == pytest.approx(np.linalg.eigvalsh(dense)[-1], rel=1e-9)
    assert lanczos(dense, 1).eigenvalues[0] == pytest.approx(cb.values[-1][1], rel=1e-9)
