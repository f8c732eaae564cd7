"""State dicts cross between torch and this library unchanged, in both directions.

For each layer (and a few models) a torch module with random float64 parameters is
converted with ``{k: v.detach().numpy()}``, loaded into ours, and the two must agree
on the forward and on every gradient; then our state dict goes back into a fresh torch
module (``torch.from_numpy``) and the forward must agree again. BatchNorm also runs
several training steps on both sides (momentum and cumulative ``momentum=None``), after
which the running statistics and ``num_batches_tracked`` must match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from tinygrad_opt import Tensor, nn

torch = pytest.importorskip("torch")
tnn = torch.nn

TOL = {"rtol": 1e-10, "atol": 1e-12}


@dataclass
class Pair:
    name: str
    ours: Callable[[], nn.Module]
    theirs: Callable[[], torch.nn.Module]
    input_shape: tuple[int, ...]
    integer_input: int = 0  # > 0: indices in [0, integer_input) instead of floats


F64 = {"dtype": np.float64}
PAIRS = [
    Pair("linear", lambda: nn.Linear(4, 3, **F64), lambda: tnn.Linear(4, 3), (5, 4)),
    Pair("linear_nobias_3d", lambda: nn.Linear(4, 2, bias=False, **F64),
         lambda: tnn.Linear(4, 2, bias=False), (2, 3, 4)),
    Pair("layer_norm", lambda: nn.LayerNorm((2, 3), **F64), lambda: tnn.LayerNorm((2, 3)),
         (4, 2, 3)),
    Pair("group_norm", lambda: nn.GroupNorm(2, 4, **F64), lambda: tnn.GroupNorm(2, 4),
         (3, 4, 2, 2)),
    Pair("rms_norm", lambda: nn.RMSNorm(5, eps=1e-6, **F64), lambda: tnn.RMSNorm(5, eps=1e-6),
         (3, 5)),
    Pair("conv2d", lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1, **F64),
         lambda: tnn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 6)),
    Pair("embedding", lambda: nn.Embedding(7, 3, **F64), lambda: tnn.Embedding(7, 3), (2, 5),
         integer_input=7),
    Pair("batch_norm1d", lambda: nn.BatchNorm1d(3, **F64), lambda: tnn.BatchNorm1d(3), (6, 3)),
    Pair("batch_norm2d", lambda: nn.BatchNorm2d(3, momentum=None, **F64),
         lambda: tnn.BatchNorm2d(3, momentum=None), (4, 3, 2, 2)),
    Pair("mlp", lambda: nn.MLP([4, 6, 6, 2], activation="tanh", **F64),
         lambda: tnn.Sequential(tnn.Linear(4, 6), tnn.Tanh(), tnn.Linear(6, 6), tnn.Tanh(),
                                tnn.Linear(6, 2)), (5, 4)),
    Pair("sequential_cnn",
         lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, **F64), nn.BatchNorm2d(2, **F64),
                               nn.ReLU(), nn.Flatten(), nn.Linear(32, 3, **F64),
                               nn.LayerNorm(3, **F64)),
         lambda: tnn.Sequential(tnn.Conv2d(1, 2, 3, padding=1), tnn.BatchNorm2d(2), tnn.ReLU(),
                                tnn.Flatten(), tnn.Linear(32, 3), tnn.LayerNorm(3)),
         (3, 1, 4, 4)),
]  # fmt: skip


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Random parameters and (float) buffers, so nothing matches by accident."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(rng.uniform(-1, 1, tuple(p.shape))))
        for name, b in module.named_buffers():
            if b.is_floating_point():
                low = 0.5 if name.endswith("running_var") else -1.0
                b.copy_(torch.from_numpy(rng.uniform(low, 1.5, tuple(b.shape))))


def _input(pair: Pair, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if pair.integer_input:
        return rng.integers(0, pair.integer_input, pair.input_shape)
    return rng.standard_normal(pair.input_shape)


def _forward_both(pair, ours, theirs, x, u):
    """Outputs, and after backpropagating Σ u·out the gradients (input, params)."""
    if pair.integer_input:
        xo, xt = x, torch.from_numpy(x)
    else:
        xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    (out * Tensor(u)).sum().backward()
    (ref * torch.from_numpy(u)).sum().backward()
    return out, ref, xo, xt


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_torch_state_dict_loads_as_is_and_everything_matches(pair, mode):
    theirs = pair.theirs().double()
    _randomise(theirs, 0)
    ours = pair.ours()
    sd = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(sd)  # strict: the same keys and shapes
    assert sorted(ours.state_dict()) == sorted(sd)
    x = _input(pair, 1)
    with torch.no_grad():  # the output shape, from an eval call that changes nothing
        u = np.random.default_rng(2).standard_normal(theirs.eval()(torch.from_numpy(x)).shape)
    ours.train(mode == "train")
    theirs.train(mode == "train")
    out, ref, xo, xt = _forward_both(pair, ours, theirs, x, u)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **TOL)
    if not pair.integer_input:
        np.testing.assert_allclose(xo.grad, xt.grad.numpy(), **TOL)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, named[name].grad.numpy(), err_msg=name, **TOL)
    after = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for key, value in ours.state_dict().items():  # running statistics updated alike
        assert value.dtype == after[key].dtype, key
        np.testing.assert_allclose(value, after[key], err_msg=key, **TOL)


@pytest.mark.parametrize("pair", PAIRS, ids=[p.name for p in PAIRS])
def test_our_state_dict_loads_into_torch_as_is(pair):
    ours = pair.ours()
    theirs = pair.theirs().double()
    _randomise(theirs, 3)  # then overwritten by ours: the outputs must still agree
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = _input(pair, 4)
    xo = x if pair.integer_input else Tensor(x)
    np.testing.assert_allclose(ours(xo).data, theirs(torch.from_numpy(x)).detach().numpy(), **TOL)


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_batch_norm_buffers_track_torch_over_training_steps(kind, momentum):
    ours_cls, theirs_cls, shape = {
        "1d": (nn.BatchNorm1d, tnn.BatchNorm1d, (5, 3, 4)),
        "2d": (nn.BatchNorm2d, tnn.BatchNorm2d, (4, 3, 2, 3)),
    }[kind]
    ours = ours_cls(3, momentum=momentum, dtype=np.float64)
    theirs = theirs_cls(3, momentum=momentum).double()
    rng = np.random.default_rng(5)
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        np.testing.assert_allclose(
            ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(), **TOL
        )
    sd, ref = ours.state_dict(), theirs.state_dict()
    assert sd["num_batches_tracked"].dtype == np.int64 and int(sd["num_batches_tracked"]) == 4
    assert sd["num_batches_tracked"].shape == tuple(ref["num_batches_tracked"].shape) == ()
    for key in ref:
        np.testing.assert_allclose(sd[key], ref[key].numpy(), err_msg=key, **TOL)
    ours.eval()
    theirs.eval()  # eval: running statistics, no update
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(
        ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(), **TOL
    )
    assert int(ours.num_batches_tracked) == 4
