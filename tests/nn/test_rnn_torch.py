"""RNN / LSTM / GRU layers and cells against torch in float64: outputs, final states and
the gradients of every parameter, of the input and of the initial states; plus
initialisation, dropout, long sequences and error cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import nn
from tinygrad_opt.gradcheck import gradcheck
from tinygrad_opt.nn import functional as F
from tinygrad_opt.tensor import ShapeError, Tensor, cat

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

TOL = 1e-9
LAYERS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CELLS = {"RNNCell": nn.RNNCell, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}


def twins(kind: str, *args, **kwargs):
    """(ours, torch's) module of class ``kind``, float64, ours loaded from torch's state_dict."""
    theirs = getattr(torch.nn, kind)(*args, **kwargs).double()
    ours = (LAYERS | CELLS)[kind](*args, **kwargs, dtype=np.float64, rng=0)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(state) == list(ours.state_dict()), "parameter names or order differ"
    ours.load_state_dict(state)
    return ours, theirs


def close(a, b, what: str, tol: float = TOL) -> None:
    a = a.data if isinstance(a, Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    assert a.shape == tuple(b.shape), f"{what}: shape {a.shape} != torch's {tuple(b.shape)}"
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol, f"{what}: max |ours - torch| = {err:.3g}"


def run_both(ours, theirs, x: np.ndarray, states: list[np.ndarray] | None, seed: int):
    """Forward both modules, backpropagate Σ uᵢ·resultᵢ with the same random uᵢ, compare."""
    ox = Tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ost = [Tensor(s, requires_grad=True) for s in states] if states is not None else None
    tst = [torch.tensor(s, requires_grad=True) for s in states] if states is not None else None
    lstm = len(states or ()) == 2 or isinstance(ours, (nn.LSTM, nn.LSTMCell))
    if ost is None:
        o_res, t_res = ours(ox), theirs(tx)
    elif lstm:
        o_res, t_res = ours(ox, tuple(ost)), theirs(tx, tuple(tst))
    else:
        o_res, t_res = ours(ox, ost[0]), theirs(tx, tst[0])
    o_flat, t_flat = _flatten(o_res), _flatten(t_res)
    assert len(o_flat) == len(t_flat)
    rng = np.random.default_rng(seed)
    o_loss, t_loss = 0, 0
    for i, (o, t) in enumerate(zip(o_flat, t_flat)):
        close(o, t, f"result {i}")
        u = rng.standard_normal(tuple(t.shape))
        o_loss = o_loss + (o * Tensor(u)).sum()
        t_loss = t_loss + (t * torch.from_numpy(u)).sum()
    o_loss.backward()
    t_loss.backward()
    close(ox.grad, tx.grad, "input grad")
    for i, (o, t) in enumerate(zip(ost or (), tst or ())):
        close(o.grad, t.grad, f"state {i} grad")
    ours_p = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        close(ours_p[name].grad, p.grad, f"grad of {name}")
    return o_res, t_res


def _flatten(res):
    if isinstance(res, (tuple, list)):
        return [t for r in res for t in _flatten(r)]
    return [res]


# --------------------------------------------------------------------------- layers
@st.composite
def layer_configs(draw):
    kind = draw(st.sampled_from(["RNN", "RNN-relu", "LSTM", "LSTM-proj", "GRU"]))
    H = draw(st.integers(2 if kind == "LSTM-proj" else 1, 5))
    kw = dict(
        num_layers=draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        bidirectional=draw(st.booleans()),
    )
    if kind == "RNN-relu":
        kw["nonlinearity"] = "relu"
    if kind == "LSTM-proj":
        kw["proj_size"] = draw(st.integers(1, H - 1))
    if kw["num_layers"] > 1:
        kw["dropout"] = draw(st.sampled_from([0.0, 0.4]))  # eval mode: no effect
    cfg = dict(
        kind=kind.split("-")[0],
        I=draw(st.integers(1, 4)),
        H=H,
        kw=kw,
        T=draw(st.integers(1, 6)),
        N=draw(st.sampled_from([None, 1, 3])),  # None: unbatched
        h0=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )
    return cfg


@settings(max_examples=80, deadline=None)
@given(layer_configs())
def test_layer_matches_torch(cfg):
    kind, I, H, kw, T, N = cfg["kind"], cfg["I"], cfg["H"], cfg["kw"], cfg["T"], cfg["N"]
    ours, theirs = twins(kind, I, H, **kw)
    ours.eval()
    theirs.eval()
    rng = np.random.default_rng(cfg["seed"])
    if N is None:
        x = rng.standard_normal((T, I))
    else:
        x = rng.standard_normal((N, T, I) if kw["batch_first"] else (T, N, I))
    states = None
    if cfg["h0"]:
        n = kw["num_layers"] * (2 if kw["bidirectional"] else 1)
        lead = (n,) if N is None else (n, N)
        states = [rng.standard_normal((*lead, kw.get("proj_size") or H))]
        if kind == "LSTM":
            states.append(rng.standard_normal((*lead, H)))
    run_both(ours, theirs, x, states, cfg["seed"])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_default_state_is_zeros(kind):
    ours, theirs = twins(kind, 3, 4, num_layers=2, bidirectional=True)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    n, zeros = 4, np.zeros((4, 2, 4))
    given_ = (Tensor(zeros), Tensor(zeros)) if kind == "LSTM" else Tensor(zeros)
    a, b = ours(Tensor(x)), ours(Tensor(x), given_)
    for u, v in zip(_flatten(a), _flatten(b)):
        np.testing.assert_array_equal(u.data, v.data)
    assert _flatten(a)[1].shape == (n, 2, 4)
    run_both(ours, theirs, x, None, 0)


def test_rnn_long_sequence_t1000():
    """T = 1000: the backward pass is iterative and the step slicing stays cheap."""
    ours, theirs = twins("RNN", 3, 8)
    x = np.random.default_rng(2).standard_normal((1000, 2, 3))
    h0 = np.random.default_rng(3).standard_normal((1, 2, 8))
    run_both(ours, theirs, x, [h0], 4)


def test_lstm_long_sequence_bidirectional():
    ours, theirs = twins("LSTM", 2, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = np.random.default_rng(5).standard_normal((2, 300, 2))
    run_both(ours, theirs, x, None, 6)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_empty_batch(kind):
    ours, theirs = twins(kind, 3, 4, num_layers=2)
    x = np.zeros((5, 0, 3))
    out, h = _flatten(ours(Tensor(x)))[:2]
    t_out, t_h = _flatten(theirs(torch.tensor(x)))[:2]
    assert out.shape == tuple(t_out.shape) == (5, 0, 4)
    assert h.shape == tuple(t_h.shape) == (2, 0, 4)


def test_numpy_input_and_float32():
    lstm = nn.LSTM(3, 4, num_layers=2, rng=0)
    out, (h, c) = lstm(np.ones((5, 2, 3)))
    assert out.dtype == h.dtype == c.dtype == np.float32
    assert out.shape == (5, 2, 4)


def test_gradcheck_lstm_with_projection():
    """Finite differences, independent of torch: a bidirectional 2-layer LSTM with proj."""
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=np.float64, rng=1)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    c0 = Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

    names = [n for n, _ in lstm.named_parameters()]

    def f(x, h0, c0, *params):
        for name, p in zip(names, params):  # run the layer on gradcheck's copies
            setattr(lstm, name, p)
        out, (h, c) = lstm(x, (h0, c0))
        return cat([t.reshape(-1) for t in (out, h, c)], axis=0)

    assert gradcheck(f, [x, h0, c0, *lstm.parameters()])


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_dropout_in_training_is_torch_with_our_masks(kind):
    """Training mode: each layer but the last sees inverted dropout of the layer below.

    torch's masks come from its own generator, so the reference is built from torch's
    single-layer modules with our masks applied between them, drawn from a generator
    equal to the layer's.
    """
    L, p = 3, 0.4
    ours, _ = twins(kind, 3, 4, num_layers=L, bidirectional=True, dropout=p)
    ours.train()
    ours.rng = np.random.default_rng(7)
    twin_rng = np.random.default_rng(7)
    x = np.random.default_rng(8).standard_normal((5, 2, 3))
    ox = Tensor(x, requires_grad=True)
    o_out = _flatten(ours(ox))[0]

    tx = torch.tensor(x, requires_grad=True)
    layer_in = tx
    state = ours.state_dict()
    for layer in range(L):
        if layer:
            mask = (twin_rng.random(tuple(layer_in.shape)) >= p) / (1 - p)
            layer_in = layer_in * torch.from_numpy(mask)
        single = getattr(torch.nn, kind)(layer_in.shape[-1], 4, bidirectional=True).double()
        names = single.state_dict()
        single.load_state_dict(
            {k: torch.from_numpy(state[k.replace("_l0", f"_l{layer}")]) for k in names}
        )
        layer_in = _flatten(single(layer_in))[0]
    close(o_out, layer_in, "output with dropout")
    u = np.random.default_rng(9).standard_normal(o_out.shape)
    (o_out * Tensor(u)).sum().backward()
    (layer_in * torch.from_numpy(u)).sum().backward()
    close(ox.grad, tx.grad, "input grad with dropout")


def test_dropout_seeded_and_off_in_eval():
    def make():
        return nn.GRU(3, 4, num_layers=2, dropout=0.5, rng=11)

    x = Tensor(np.random.default_rng(0).standard_normal((6, 2, 3)))
    a, b = make(), make()
    np.testing.assert_array_equal(a(x)[0].data, b(x)[0].data)  # same seed, same masks
    train_out = a(x)[0].data
    a.eval()
    eval_out, eval_again = a(x)[0].data, a(x)[0].data
    np.testing.assert_array_equal(eval_out, eval_again)
    assert not np.allclose(train_out, eval_out)


def test_dropout_one_cuts_the_lower_layers():
    """p = 1 zeroes the first layer's output: the input gets no gradient (torch: the same)."""
    ours, theirs = twins("LSTM", 3, 4, num_layers=2, dropout=1.0)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    ox, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    o, t = ours(ox)[0], theirs(tx)[0]
    close(o, t, "output with p=1")
    o.sum().backward()
    t.sum().backward()
    assert np.all(ox.grad == 0) and torch.all(tx.grad == 0)


# --------------------------------------------------------------------------- cells
@st.composite
def cell_configs(draw):
    return dict(
        kind=draw(st.sampled_from(["RNNCell", "RNNCell-relu", "LSTMCell", "GRUCell"])),
        I=draw(st.integers(1, 5)),
        H=draw(st.integers(1, 5)),
        bias=draw(st.booleans()),
        N=draw(st.sampled_from([None, 1, 4])),
        hx=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@settings(max_examples=60, deadline=None)
@given(cell_configs())
def test_cell_matches_torch(cfg):
    kind, I, H, N = cfg["kind"].split("-")[0], cfg["I"], cfg["H"], cfg["N"]
    kw = {"bias": cfg["bias"]}
    if cfg["kind"].endswith("relu"):
        kw["nonlinearity"] = "relu"
    ours, theirs = twins(kind, I, H, **kw)
    rng = np.random.default_rng(cfg["seed"])
    lead = () if N is None else (N,)
    x = rng.standard_normal((*lead, I))
    states = None
    if cfg["hx"]:
        states = [rng.standard_normal((*lead, H)) for _ in range(2 if kind == "LSTMCell" else 1)]
    run_both(ours, theirs, x, states, cfg["seed"])


def test_cells_unrolled_equal_layer():
    """A cell stepped by hand over a sequence gives the one-layer layer's output."""
    for kind in ("RNN", "LSTM", "GRU"):
        layer = LAYERS[kind](3, 4, dtype=np.float64, rng=0)
        cell = CELLS[kind + "Cell"](3, 4, dtype=np.float64, rng=1)
        cell.load_state_dict({k[: -len("_l0")]: v for k, v in layer.state_dict().items()})
        x = np.random.default_rng(2).standard_normal((6, 2, 3))
        state = None
        for t in range(6):
            state = cell(Tensor(x[t]), state)
        h = state[0] if kind == "LSTM" else state
        np.testing.assert_allclose(h.data, layer(Tensor(x))[0].data[-1], rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "kind,kw",
    [
        ("RNN", dict(num_layers=3, bidirectional=True)),
        ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=2)),
        ("GRU", dict(num_layers=2, bias=False)),
        ("RNNCell", {}),
        ("LSTMCell", dict(bias=False)),
        ("GRUCell", {}),
    ],
)
def test_names_shapes_and_init(kind, kw):
    theirs = getattr(torch.nn, kind)(5, 6, **kw)
    ours = (LAYERS | CELLS)[kind](5, 6, **kw, rng=3)
    t_state = theirs.state_dict()
    o_state = ours.state_dict()
    assert list(o_state) == list(t_state)
    for k, v in t_state.items():
        assert o_state[k].shape == tuple(v.shape), k
        assert o_state[k].dtype == np.float32
    bound = 1 / math.sqrt(6)
    allw = np.concatenate([v.ravel() for v in o_state.values()])
    assert np.all(np.abs(allw) <= bound)
    assert allw.max() > 0.9 * bound and allw.min() < -0.9 * bound  # uses the whole range
    assert abs(allw.mean()) < 0.1 * bound
    again = (LAYERS | CELLS)[kind](5, 6, **kw, rng=3).state_dict()
    other = (LAYERS | CELLS)[kind](5, 6, **kw, rng=4).state_dict()
    assert all(np.array_equal(o_state[k], again[k]) for k in o_state)
    assert not all(np.array_equal(o_state[k], other[k]) for k in o_state)
    assert repr(ours).startswith(repr(theirs).split("\n")[0])


def test_all_weights_and_dtype():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    t = torch.nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    assert [[w.shape for w in g] for g in lstm.all_weights] == [
        [tuple(w.shape) for w in g] for g in t.all_weights
    ]
    assert all(p.dtype == np.float64 for p in lstm.parameters())


# --------------------------------------------------------------------------- the model
def test_embedding_two_layer_lstm_cross_entropy_matches_torch():
    """Embedding → 2-layer LSTM (batch_first) → projection x Wᵀ → cross-entropy: the same
    loss and the same gradient for every parameter as torch from the same weights."""
    V, E, H, B, T = 7, 5, 6, 3, 8
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, V, (B, T))
    targets = rng.integers(0, V, (B, T))

    t_emb = torch.nn.Embedding(V, E).double()
    t_lstm = torch.nn.LSTM(E, H, num_layers=2, batch_first=True).double()
    t_w = torch.nn.Parameter(torch.randn(V, H, dtype=torch.float64))
    t_logits = t_lstm(t_emb(torch.from_numpy(tokens)))[0] @ t_w.T
    t_loss = torch.nn.functional.cross_entropy(
        t_logits.reshape(B * T, V), torch.from_numpy(targets).reshape(-1)
    )
    t_loss.backward()

    emb = nn.Embedding(V, E, dtype=np.float64)
    emb.load_state_dict({"weight": t_emb.weight.detach().numpy()})
    lstm = nn.LSTM(E, H, num_layers=2, batch_first=True, dtype=np.float64)
    lstm.load_state_dict({k: v.numpy() for k, v in t_lstm.state_dict().items()})
    w = nn.Parameter(t_w.detach().numpy().copy(), dtype=np.float64)
    logits = lstm(emb(tokens))[0] @ w.T
    loss = F.cross_entropy(logits.reshape(B * T, V), targets.reshape(-1))
    loss.backward()

    assert abs(loss.item() - t_loss.item()) <= 1e-6
    close(emb.weight.grad, t_emb.weight.grad, "embedding grad", 1e-6)
    close(w.grad, t_w.grad, "projection grad", 1e-6)
    ours_p = dict(lstm.named_parameters())
    for name, p in t_lstm.named_parameters():
        close(ours_p[name].grad, p.grad, f"grad of {name}", 1e-6)


# --------------------------------------------------------------------------- errors
def _torch_raises(exc, fn):
    with pytest.raises(exc):
        fn()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_input_size(kind):
    ours, theirs = twins(kind, 3, 4, num_layers=2)
    x = np.zeros((5, 2, 7))
    with pytest.raises(ShapeError, match=rf"{kind}\(3, 4, num_layers=2\).*last dimension 3.*"
                       r"\(5, 2, 7\)"):  # fmt: skip
        ours(x)
    _torch_raises(RuntimeError, lambda: theirs(torch.tensor(x)))
    with pytest.raises(ShapeError, match=r"2-D \(unbatched\) or 3-D.*4-D"):
        ours(np.zeros((1, 5, 2, 3)))
    _torch_raises(ValueError, lambda: theirs(torch.zeros(1, 5, 2, 3, dtype=torch.float64)))
    with pytest.raises(ShapeError, match="sequence length"):
        ours(np.zeros((0, 2, 3)))
    _torch_raises(RuntimeError, lambda: theirs(torch.zeros(0, 2, 3, dtype=torch.float64)))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_wrong_h0_shape(kind):
    ours, theirs = twins(kind, 3, 4, num_layers=2, bidirectional=True)
    x = np.zeros((5, 2, 3))
    for bad in [(2, 2, 4), (4, 3, 4), (4, 2, 5), (4, 4)]:
        h = np.zeros(bad)
        good = np.zeros((4, 2, 4))
        o_hx = (h, good) if kind == "LSTM" else h
        t_hx = (torch.tensor(h), torch.tensor(good)) if kind == "LSTM" else torch.tensor(h)
        with pytest.raises(ShapeError, match=rf"{kind}\(.*\(4, 2, 4\).*{re_shape(bad)}"):
            ours(x, o_hx)
        _torch_raises(RuntimeError, lambda t_hx=t_hx: theirs(torch.tensor(x), t_hx))
    # unbatched input needs 2-D states
    with pytest.raises(ShapeError, match=r"\(4, 4\) for the unbatched"):
        h = np.zeros((4, 1, 4))
        ours(np.zeros((5, 3)), (h, h) if kind == "LSTM" else h)


def re_shape(shape) -> str:
    return "\\(" + ", ".join(map(str, shape)) + "\\)"


def test_wrong_c0_shape_and_hx_form():
    ours, theirs = twins("LSTM", 3, 4, proj_size=2)
    x = np.zeros((5, 2, 3))
    h0, c0 = np.zeros((1, 2, 2)), np.zeros((1, 2, 2))
    with pytest.raises(ShapeError, match=r"c0 \(hx\[1\]\) of shape \(1, 2, 4\).*\(1, 2, 2\)"):
        ours(x, (h0, c0))
    _torch_raises(RuntimeError, lambda: theirs(torch.tensor(x), (torch.tensor(h0),) * 2))
    with pytest.raises(TypeError, match="pair"):
        ours(x, h0)
    out, (h, c) = ours(x, (h0, np.zeros((1, 2, 4))))
    assert h.shape == (1, 2, 2) and c.shape == (1, 2, 4) and out.shape == (5, 2, 2)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_shape_errors(kind):
    ours, theirs = twins(kind, 3, 4)
    with pytest.raises(ShapeError, match=rf"{kind}\(3, 4\).*last dimension 3.*\(2, 5\)"):
        ours(np.zeros((2, 5)))
    _torch_raises(RuntimeError, lambda: theirs(torch.zeros(2, 5, dtype=torch.float64)))
    with pytest.raises(ShapeError, match=r"1-D .* or 2-D .*3-D"):
        ours(np.zeros((1, 2, 3)))
    _torch_raises(ValueError, lambda: theirs(torch.zeros(1, 2, 3, dtype=torch.float64)))
    n = 2 if kind == "LSTMCell" else 1
    for bad in [(3, 4), (2, 5)]:
        hx = (np.zeros(bad),) * n if n == 2 else np.zeros(bad)
        with pytest.raises(ShapeError, match=rf"\(2, 4\).*{re_shape(bad)}"):
            ours(np.zeros((2, 3)), hx)
        t_h = torch.zeros(bad, dtype=torch.float64)
        t_hx = (t_h, t_h) if n == 2 else t_h
        _torch_raises(RuntimeError, lambda t_hx=t_hx: theirs(torch.zeros(2, 3).double(), t_hx))


def test_bad_hyperparameters():
    for cls in (nn.RNN, nn.RNNCell):
        with pytest.raises(ValueError, match="nonlinearity 'sigmoid'"):
            cls(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError):
        torch.nn.RNN(3, 4, nonlinearity="sigmoid")
    for kind in ("RNN", "LSTM", "GRU"):
        for p in (-0.1, 1.5, True, "0.5"):
            with pytest.raises(ValueError, match=rf"dropout .*\[0, 1\].*{p!r}"):
                LAYERS[kind](3, 4, num_layers=2, dropout=p)
            with pytest.raises(ValueError):
                getattr(torch.nn, kind)(3, 4, num_layers=2, dropout=p)
        with pytest.raises(ValueError, match="hidden_size must be greater than zero, got 0"):
            LAYERS[kind](3, 0)
        with pytest.raises(ValueError, match="num_layers must be greater than zero, got 0"):
            LAYERS[kind](3, 4, num_layers=0)
        with pytest.raises(TypeError, match="input_size should be an int"):
            LAYERS[kind](3.0, 4)
        with pytest.raises(TypeError, match="batch_first should be a bool"):
            LAYERS[kind](3, 4, batch_first=1)
        with pytest.warns(UserWarning, match="num_layers=1"):
            LAYERS[kind](3, 4, dropout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.2)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size must be at least 0, got -1"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="input_size must be greater than zero"):
        nn.GRUCell(0, 4)
