"""Second (and third) derivatives of every layer and loss of ``tinygrad_opt.nn`` vs torch.

For each layer the scalar loss L = Σ u₁·y² + u₂·y of the layer's output(s) y (fixed
random u₁, u₂; the square makes even a linear layer's Hessian non-zero) is
differentiated with ``create_graph=True`` with respect to the float inputs *and* the
parameters, then the Hessian-vector product H·v = ∇(Σ ∇L·v) along a random v is
taken, in ours and in torch (float64, torch's state_dict loaded into ours, its
parameters perturbed first so that biases and norm scales matter). First-order
gradients and H·v must agree to ~1e-9. Losses are run the same way (their output is
the y). A last group checks third derivatives of a few fused ops.

Some layers are composed from ops that other modules own (activations, softmax,
indexing, concatenation): their cases fail here until those ops have a differentiable
backward too.
"""

from __future__ import annotations

import inspect
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tinygrad_opt as tg
from tinygrad_opt import Tensor, nn
from tinygrad_opt.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

pytestmark = pytest.mark.torch

TOL = {"rtol": 1e-9, "atol": 1e-10}


# --------------------------------------------------------------------------- helpers
def _rng(name: str) -> np.random.Generator:
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


def layer(kind, args, kw, shape, call=None, train=True, setup=None, domain="real"):
    """A case: layer ``kind`` on one input of ``shape`` (``call`` adapts the call)."""

    def run(name):
        ours, theirs = twin(kind, *args, **kw)
        if setup is not None:
            setup(ours, theirs)
        ours.train(train)
        theirs.train(train)
        x = _data(_rng(name), shape, domain)
        c = call or (lambda m, x: m(x))
        check(lambda t: c(ours, t), lambda t: c(theirs, t), [x], (ours, theirs))

    return run


def _data(rng, shape, domain="real"):
    n = int(np.prod(shape))
    if domain == "distinct":  # no ties for the max pools
        return (rng.permutation(n) * 0.25 + rng.uniform(0, 0.05, n)).reshape(shape) - n * 0.12
    return rng.uniform(-1.5, 1.5, shape)


def _running_stats(ours, theirs):
    with torch.no_grad():
        theirs.running_mean.copy_(torch.linspace(-0.5, 0.5, theirs.num_features))
        theirs.running_var.copy_(torch.linspace(0.5, 2.0, theirs.num_features))
    ours.load_state_dict({k: v.numpy().copy() for k, v in theirs.state_dict().items()})


# --------------------------------------------------------------------------- layers
LAYERS = {
    "Linear": layer("Linear", (4, 3), {}, (2, 5, 4)),
    "Linear_no_bias_1d": layer("Linear", (4, 3), {"bias": False}, (4,)),
    "Conv1d_groups_dilation_stride": layer(
        "Conv1d", (4, 6, 3), {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}, (2, 4, 9)
    ),
    "Conv1d_unbatched_same": layer("Conv1d", (2, 3, 4), {"padding": "same"}, (2, 7)),
    "Conv2d_groups_stride_dilation": layer(
        "Conv2d",
        (4, 2, (3, 2)),
        {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2), "groups": 2},
        (2, 4, 6, 5),
    ),
    "Conv2d_reflect": layer(
        "Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, (1, 2, 4, 5)
    ),
    "Conv2d_replicate": layer(
        "Conv2d", (2, 2, (2, 3)), {"padding": (2, 1), "padding_mode": "replicate"}, (2, 2, 3, 4)
    ),
    "Conv2d_circular": layer(
        "Conv2d", (2, 2, 3), {"padding": "same", "padding_mode": "circular"}, (1, 2, 4, 4)
    ),
    "Conv1d_circular": layer(
        "Conv1d", (3, 2, 2), {"padding": 1, "padding_mode": "circular"}, (2, 3, 5)
    ),
    "ConvTranspose1d": layer(
        "ConvTranspose1d",
        (4, 2, 3),
        {"stride": 2, "padding": 1, "output_padding": 1, "groups": 2, "dilation": 2},
        (2, 4, 5),
    ),
    "ConvTranspose2d": layer(
        "ConvTranspose2d",
        (2, 3, (3, 2)),
        {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2)},
        (1, 2, 3, 3),
    ),
    "ConvTranspose2d_unbatched": layer("ConvTranspose2d", (2, 2, 2), {"dilation": 2}, (2, 3, 2)),
    "MaxPool1d": layer(
        "MaxPool1d",
        (3,),
        {"stride": 2, "padding": 1, "ceil_mode": True},
        (2, 3, 8),
        domain="distinct",
    ),
    "MaxPool2d": layer(
        "MaxPool2d", ((3, 2),), {"stride": 1, "dilation": (1, 2)}, (1, 2, 5, 6), domain="distinct"
    ),
    "AvgPool1d": layer(
        "AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 2, 7)
    ),
    "AvgPool2d": layer(
        "AvgPool2d", (2,), {"stride": 1, "ceil_mode": True, "divisor_override": 3}, (1, 2, 4, 5)
    ),
    "AdaptiveAvgPool1d": layer("AdaptiveAvgPool1d", (3,), {}, (2, 2, 7)),
    "AdaptiveAvgPool2d": layer("AdaptiveAvgPool2d", ((2, 3),), {}, (1, 2, 5, 7)),
    "AdaptiveMaxPool1d": layer("AdaptiveMaxPool1d", (4,), {}, (2, 2, 9), domain="distinct"),
    "AdaptiveMaxPool2d": layer("AdaptiveMaxPool2d", ((3, 2),), {}, (1, 2, 7, 5), domain="distinct"),
    "Upsample_nearest": layer("Upsample", (), {"scale_factor": 2}, (1, 2, 3, 2)),
    "Upsample_bilinear": layer("Upsample", (), {"size": (5, 4), "mode": "bilinear"}, (1, 2, 3, 3)),
    "Upsample_bilinear_corners": layer(
        "Upsample",
        (),
        {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
        (2, 1, 3, 4),
    ),
    "Upsample_bicubic": layer("Upsample", (), {"size": (4, 5), "mode": "bicubic"}, (1, 1, 3, 3)),
    "Upsample_linear": layer("Upsample", (), {"size": 7, "mode": "linear"}, (2, 2, 4)),
    "Upsample_nearest_exact": layer(
        "Upsample", (), {"size": 5, "mode": "nearest-exact"}, (1, 2, 3)
    ),
    "BatchNorm1d_train": layer("BatchNorm1d", (3,), {}, (4, 3, 2)),
    "BatchNorm1d_train_2d_input": layer("BatchNorm1d", (3,), {"affine": False}, (5, 3)),
    "BatchNorm2d_train": layer("BatchNorm2d", (2,), {"eps": 1e-3}, (3, 2, 2, 3)),
    "BatchNorm2d_eval": layer(
        "BatchNorm2d", (3,), {}, (2, 3, 2, 2), train=False, setup=_running_stats
    ),
    "BatchNorm1d_no_running_stats_eval": layer(
        "BatchNorm1d", (3,), {"track_running_stats": False}, (4, 3), train=False
    ),
    "LayerNorm": layer("LayerNorm", ((2, 3),), {}, (2, 2, 3)),
    "LayerNorm_no_bias": layer("LayerNorm", (4,), {"bias": False, "eps": 1e-2}, (3, 4)),
    "LayerNorm_no_affine": layer("LayerNorm", (4,), {"elementwise_affine": False}, (3, 4)),
    "GroupNorm": layer("GroupNorm", (2, 4), {}, (2, 4, 3)),
    "GroupNorm_no_affine": layer("GroupNorm", (3, 3), {"affine": False}, (2, 3, 2, 2)),
    "RMSNorm": layer("RMSNorm", ((2, 3),), {"eps": 1e-6}, (2, 2, 3)),
    "RMSNorm_default_eps": layer("RMSNorm", (4,), {}, (3, 4)),
    "MultiheadAttention_self": layer(
        "MultiheadAttention",
        (4, 2),
        {"batch_first": True},
        (2, 3, 4),
        call=lambda m, x: m(x, x, x)[0],
    ),
    "MultiheadAttention_no_weights": layer(
        "MultiheadAttention",
        (4, 2),
        {},
        (3, 2, 4),
        call=lambda m, x: m(x, x * 0.5, x, need_weights=False)[0],
    ),
    "TransformerEncoderLayer": layer(
        "TransformerEncoderLayer", (4, 2, 6), {"dropout": 0.0, "batch_first": True}, (2, 3, 4)
    ),
    "TransformerEncoderLayer_norm_first_gelu": layer(
        "TransformerEncoderLayer",
        (4, 2, 6),
        {"dropout": 0.0, "norm_first": True, "activation": "gelu"},
        (3, 2, 4),
    ),
    "RNN_tanh": layer("RNN", (3, 4), {"num_layers": 2}, (5, 2, 3)),
    "RNN_relu_bidirectional": layer(
        "RNN",
        (3, 2),
        {"nonlinearity": "relu", "bidirectional": True, "batch_first": True},
        (2, 4, 3),
    ),
    "LSTM": layer("LSTM", (3, 2), {"num_layers": 2}, (4, 2, 3)),
    "LSTM_proj": layer("LSTM", (3, 4), {"proj_size": 2}, (3, 1, 3)),
    "GRU": layer("GRU", (3, 2), {"bidirectional": True}, (4, 2, 3)),
    "RNNCell": layer("RNNCell", (3, 4), {}, (2, 3)),
    "LSTMCell": layer("LSTMCell", (3, 2), {}, (2, 3)),
    "GRUCell": layer("GRUCell", (3, 2), {}, (3,)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_hvp(name):
    LAYERS[name](name)


def _masks():
    key_padding = np.array([[False, False, True], [False, False, False]])
    attn = np.array([[0.0, -1.0, 0.5], [-np.inf, 0.2, 0.0], [0.3, 0.0, -0.4]])
    return key_padding, attn


def test_multihead_attention_masks_cross():
    ours, theirs = twin("MultiheadAttention", 4, 2, kdim=3, vdim=5, add_bias_kv=True)
    key_padding, attn = _masks()
    rng = _rng("mha")
    arrays = [rng.standard_normal(s) for s in ((3, 2, 4), (3, 2, 3), (3, 2, 5))]
    check(
        lambda q, k, v: ours(q, k, v, key_padding_mask=key_padding, attn_mask=Tensor(attn)),
        lambda q, k, v: theirs(
            q, k, v, key_padding_mask=torch.tensor(key_padding), attn_mask=torch.tensor(attn)
        ),
        arrays,
        (ours, theirs),
    )


def test_transformer_decoder_layer_causal():
    ours, theirs = twin("TransformerDecoderLayer", 4, 2, 5, dropout=0.0, batch_first=True)
    rng = _rng("decoder")
    tgt, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 4))
    causal = np.triu(np.full((3, 3), -np.inf), 1)
    check(
        lambda t, m: ours(t, m, tgt_mask=Tensor(causal), tgt_is_causal=True),
        lambda t, m: theirs(t, m, tgt_mask=torch.tensor(causal), tgt_is_causal=True),
        [tgt, memory],
        (ours, theirs),
    )


def test_embedding():
    ours, theirs = twin("Embedding", 6, 3)
    idx = np.array([[0, 5, 2], [2, 2, 4]])
    check(ours, theirs, [idx], (ours, theirs))


def test_dropout_same_mask():
    """Dropout in training mode: ours draws its own mask; torch applies the same one."""
    p, x = 0.4, _rng("dropout").standard_normal((3, 5))
    ours = nn.Dropout(p, rng=3)
    mask = ours(Tensor(np.ones_like(x))).data  # the scale 1/(1-p) or 0 per element
    ours = nn.Dropout(p, rng=3)  # the same generator state again
    check(lambda t: ours(t) * 2.0, lambda t: t * torch.tensor(mask) * 2.0, [x])


# --------------------------------------------------------------------------- SDPA
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"is_causal": True},
        {"scale": 0.7, "mask": "float"},
        {"mask": "bool_dead_row"},
        {"mask": "float_grad"},
        {"enable_gqa": True},
    ],
    ids=["plain", "causal", "float_mask", "bool_mask_dead_row", "float_mask_grad", "gqa"],
)
def test_sdpa(kw):
    kw = dict(kw)
    rng = _rng(str(kw))
    hq = 4 if kw.get("enable_gqa") else 2
    arrays = [rng.standard_normal(s) for s in ((1, hq, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3))]
    mask = kw.pop("mask", None)
    if mask in ("float", "float_grad"):
        m = rng.standard_normal((3, 5))
        m[1, 2] = -np.inf
        if mask == "float_grad":
            arrays.append(m)
        else:
            kw["attn_mask"] = m
    elif mask == "bool_dead_row":
        m = rng.random((3, 5)) < 0.6
        m[1] = False  # every key masked: the row's output is 0
        kw["attn_mask"] = m

    def run(lib, fn, *xs):
        extra = dict(kw)
        if "attn_mask" in extra:
            extra["attn_mask"] = (Tensor if lib == "ours" else torch.tensor)(extra["attn_mask"])
        if len(xs) == 4:
            extra["attn_mask"] = xs[3]
        return fn(*xs[:3], **extra)

    check(
        lambda *xs: run("ours", F.scaled_dot_product_attention, *xs),
        lambda *xs: run("torch", TF.scaled_dot_product_attention, *xs),
        arrays,
    )


# --------------------------------------------------------------------------- losses
_W4 = np.array([0.5, 2.0, 1.0, 1.5])
_SIGNS = np.array([1.0, -1.0, -1.0, 1.0, 1.0])


def _loss(ours, theirs, shapes, fixed=None):
    """A loss case: ``ours``/``theirs`` take the float inputs of ``shapes`` (domains:
    real, unit (0.05..0.95), pos) and the integer ``fixed`` arrays after them."""

    def run(name):
        rng = _rng(name)
        arrays = []
        for shape, dom in shapes:
            if dom == "unit":
                arrays.append(rng.uniform(0.05, 0.95, shape))
            elif dom == "pos":
                arrays.append(rng.uniform(0.2, 2.0, shape))
            else:
                arrays.append(rng.uniform(-2, 2, shape))
        arrays += [np.asarray(a) for a in (fixed or [])]
        check(ours, theirs, arrays)

    return run


def _both(name, build, shapes, fixed=None):
    """A loss module ``name`` built by ``build(lib)`` in both libraries (lib: ``nn`` or
    ``torch.nn``; ``T`` turns arrays into that library's constants)."""
    return _loss(build(nn, np.asarray), build(torch.nn, torch.tensor), shapes, fixed)


def _ce(lib, T, **kw):
    if "weight" in kw:
        kw["weight"] = T(kw["weight"])
    return lib.CrossEntropyLoss(**kw)


LOSSES = {
    "CrossEntropyLoss": _both(
        "ce", lambda lib, T: lambda x, y: _ce(lib, T)(x, y), [((5, 4), "real")], [[0, 3, 1, 1, 2]]
    ),
    "CrossEntropyLoss_all_options": _both(
        "ce_opt",
        lambda lib, T: (
            lambda x, y: _ce(lib, T, weight=_W4, ignore_index=2, label_smoothing=0.25)(x, y)
        ),
        [((3, 4, 2), "real")],
        [[[0, 2], [3, 1], [2, 2]]],
    ),
    "CrossEntropyLoss_none_1d": _both(
        "ce_none",
        lambda lib, T: lambda x, y: _ce(lib, T, reduction="none", label_smoothing=0.1)(x, y),
        [((4,), "real")],
        [np.int64(2)],
    ),
    "CrossEntropyLoss_probs": _both(
        "ce_probs",
        lambda lib, T: (
            lambda x, t: _ce(lib, T, weight=_W4, label_smoothing=0.2, reduction="sum")(x, t)
        ),
        [((3, 4), "real"), ((3, 4), "pos")],
    ),
    "NLLLoss": _both(
        "nll",
        lambda lib, T: lambda x, y: lib.NLLLoss(weight=T(_W4), ignore_index=1)(x, y),
        [((5, 4), "real")],
        [[0, 1, 3, 1, 2]],
    ),
    "BCELoss": _both(
        "bce",
        lambda lib, T: lambda x, t: lib.BCELoss(weight=T(_W4))(x, t),
        [((3, 4), "unit"), ((3, 4), "unit")],
    ),
    "BCEWithLogitsLoss": _both(
        "bcel",
        lambda lib, T: (
            lambda x, t: lib.BCEWithLogitsLoss(
                weight=T(_W4), pos_weight=T(_W4[::-1].copy()), reduction="sum"
            )(x, t)
        ),
        [((3, 4), "real"), ((3, 4), "unit")],
    ),
    "BCEWithLogitsLoss_plain": _both(
        "bcel_plain",
        lambda lib, T: lambda x, t: lib.BCEWithLogitsLoss(reduction="none")(x, t),
        [((2, 3), "real"), ((2, 3), "unit")],
    ),
    "MSELoss": _both(
        "mse", lambda lib, T: lambda x, t: lib.MSELoss()(x, t), [((3, 2), "real"), ((3, 2), "real")]
    ),
    "L1Loss_sum": _both(
        "l1",
        lambda lib, T: lambda x, t: lib.L1Loss(reduction="sum")(x, t),
        [((3, 2), "real"), ((3, 2), "real")],
    ),
    "SmoothL1Loss": _both(
        "sl1",
        lambda lib, T: lambda x, t: lib.SmoothL1Loss(beta=0.8)(x, t),
        [((4, 3), "real"), ((4, 3), "real")],
    ),
    "HuberLoss": _both(
        "huber",
        lambda lib, T: lambda x, t: lib.HuberLoss(delta=0.6, reduction="none")(x, t),
        [((4, 3), "real"), ((4, 3), "real")],
    ),
    "KLDivLoss_batchmean": _both(
        "kl",
        lambda lib, T: lambda x, t: lib.KLDivLoss(reduction="batchmean")(x, t),
        [((3, 4), "real"), ((3, 4), "pos")],
    ),
    "KLDivLoss_log_target": _both(
        "kl_log",
        lambda lib, T: lambda x, t: lib.KLDivLoss(log_target=True)(x, t),
        [((3, 4), "real"), ((3, 4), "real")],
    ),
    "SoftMarginLoss": _both(
        "soft",
        lambda lib, T: lambda x: lib.SoftMarginLoss()(x, T(_SIGNS)),
        [((5,), "real")],
    ),
    "MarginRankingLoss": _both(
        "rank",
        lambda lib, T: lambda a, b, y: lib.MarginRankingLoss(margin=0.2)(a, b, y),
        [((5,), "real"), ((5,), "real"), ((5,), "real")],
    ),
    "CosineEmbeddingLoss": _both(
        "cos",
        lambda lib, T: (
            lambda a, b: lib.CosineEmbeddingLoss(margin=-0.3, reduction="sum")(a, b, T(_SIGNS))
        ),
        [((5, 3), "real"), ((5, 3), "real")],
    ),
    "mse_loss_weighted": _loss(
        lambda x, t, w: F.mse_loss(x, t, weight=w),
        lambda x, t, w: TF.mse_loss(x, t, weight=w),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "l1_loss_weighted_mean": _loss(
        lambda x, t, w: F.l1_loss(x, t, weight=w),
        lambda x, t, w: TF.l1_loss(x, t, weight=w),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "huber_loss_weighted": _loss(
        lambda x, t, w: F.huber_loss(x, t, delta=0.5, weight=w, reduction="sum"),
        lambda x, t, w: TF.huber_loss(x, t, delta=0.5, weight=w, reduction="sum"),
        [((3, 2), "real"), ((3, 2), "real"), ((3, 2), "pos")],
    ),
    "smooth_l1_beta0_is_l1": _loss(
        lambda x, t: F.smooth_l1_loss(x, t, beta=0.0),
        lambda x, t: TF.smooth_l1_loss(x, t, beta=0.0),
        [((3, 2), "real"), ((3, 2), "real")],
    ),
    "hinge_loss": _loss(
        lambda s: F.hinge_loss(s, _SIGNS),
        lambda s: torch.relu(1 - torch.tensor(_SIGNS) * s).mean(),
        [((5,), "real")],
    ),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_hvp(name):
    LOSSES[name](name)


# --------------------------------------------------------------------------- third order
def _third(grad, tensor, fn, arrays, v1, v2):
    """∇ ⟨∇⟨∇ f, v₁⟩, v₂⟩ for a scalar f of several inputs (all differentiated)."""
    ts = [tensor(a) for a in arrays]
    g1 = grad(fn(*ts), ts, True)
    s1 = sum((g * tensor(v, False)).sum() for g, v in zip(g1, v1))
    g2 = grad(s1, ts, True)
    s2 = sum((g * tensor(v, False)).sum() for g, v in zip(g2, v2))
    return grad(s2, ts, False)


def _ours_grad(y, xs, create):
    gs = tg.autograd.grad(y, xs, create_graph=create, allow_unused=True)
    return [Tensor(np.zeros(x.shape)) if g is None else g for g, x in zip(gs, xs)]


def _torch_grad(y, xs, create):
    gs = torch.autograd.grad(y, xs, create_graph=create, allow_unused=True)
    return [torch.zeros(x.shape, dtype=x.dtype) if g is None else g for g, x in zip(gs, xs)]


def _textbook_norm(t, axes):
    """(x - μ)/√(σ² + ε) from torch's elementary ops: the reference for the third
    derivatives of layer_norm and batch_norm, because torch's own are wrong (its fused
    double-backward formulas are not differentiated correctly: at third order they
    disagree with finite differences of torch's second derivative, ours agree)."""
    c = t - t.mean(axes, keepdim=True)
    return c / ((c * c).mean(axes, keepdim=True) + 1e-5).sqrt()


# name: (f(M, *xs) with M = F or torch.nn.functional, input shapes, torch override or None)
THIRD = {
    "conv2d": (
        lambda M, x, w: (M.conv2d(x, w, padding=1, stride=(1, 2)) ** 2).sum(),
        [(1, 2, 3, 4), (2, 2, 2, 2)],
        None,
    ),
    "conv_transpose1d": (
        lambda M, x, w: (M.conv_transpose1d(x, w, stride=2, padding=1) ** 3).sum(),
        [(1, 2, 3), (2, 1, 3)],
        None,
    ),
    "max_pool2d": (
        lambda M, x: (M.max_pool2d(x * x, 2, stride=1) ** 3).sum(),
        [(1, 1, 3, 4)],
        None,
    ),
    "avg_pool1d": (
        lambda M, x: (M.avg_pool1d(x, 2, stride=1, padding=1) ** 4).sum(),
        [(1, 2, 5)],
        None,
    ),
    "interpolate": (
        lambda M, x: (M.interpolate(x, size=(3, 5), mode="bilinear") ** 3).sum(),
        [(1, 1, 2, 3)],
        None,
    ),
    "layer_norm": (
        lambda M, x: (M.layer_norm(x, (4,)) ** 3).sum(),
        [(3, 4)],
        lambda x: (_textbook_norm(x, (1,)) ** 3).sum(),
    ),
    "batch_norm": (
        lambda M, x: (M.batch_norm(x, None, None, training=True) ** 3).sum(),
        [(4, 3)],
        lambda x: (_textbook_norm(x, (0,)) ** 3).sum(),
    ),
    "group_norm": (lambda M, x: (M.group_norm(x, 2) ** 3).sum(), [(2, 4, 2)], None),
    "rms_norm": (lambda M, x: (M.rms_norm(x, (3,), eps=1e-5) ** 3).sum(), [(2, 3)], None),
    "sdpa": (
        lambda M, q, k, v: (M.scaled_dot_product_attention(q, k, v, is_causal=True) ** 2).sum(),
        [(2, 3, 2), (2, 3, 2), (2, 3, 2)],
        None,
    ),
    "cross_entropy": (
        lambda M, x: M.cross_entropy(x, _labels(M, [0, 2, 1]), label_smoothing=0.1),
        [(3, 4)],
        None,
    ),
    "bce_with_logits": (
        lambda M, x, t: M.binary_cross_entropy_with_logits(x, t * 0.2 + 0.5, reduction="sum"),
        [(3, 2), (3, 2)],
        None,
    ),
    "cosine_embedding": (
        lambda M, a, b: M.cosine_embedding_loss(a, b, _labels(M, [1.0, -1.0]), margin=-0.5),
        [(2, 3), (2, 3)],
        None,
    ),
    "huber": (lambda M, x: M.huber_loss(x * x, x, delta=0.8), [(3, 3)], None),
}


def _labels(M, values):
    a = np.asarray(values)
    return a if M is F else torch.tensor(a)


@pytest.mark.parametrize("name", list(THIRD))
def test_third_order(name):
    fn, shapes, reference = THIRD[name]
    rng = _rng(name)
    arrays, v1, v2 = ([rng.uniform(-1.5, 1.5, s) for s in shapes] for _ in range(3))
    ours = _third(
        _ours_grad,
        lambda a, rg=True: Tensor(a.copy(), requires_grad=rg),
        lambda *ts: fn(F, *ts),
        arrays,
        v1,
        v2,
    )
    theirs = _third(
        _torch_grad,
        lambda a, rg=True: torch.tensor(a.copy(), requires_grad=rg),
        reference or (lambda *ts: fn(TF, *ts)),
        arrays,
        v1,
        v2,
    )
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL, err_msg=f"input {i}")


def test_torch_third_derivative_of_layer_norm_is_the_odd_one():
    """Why the reference above: along a direction, our third derivative of layer_norm
    matches the central difference of our (torch-checked) second derivative."""
    rng = _rng("ln3")
    x, c, v1, d = (rng.uniform(-1.5, 1.5, (3, 4)) for _ in range(4))

    def second(a, create=False):
        t = Tensor(a, requires_grad=True)
        g = tg.autograd.grad((F.layer_norm(t, (4,)) * Tensor(c)).sum(), [t], create_graph=True)[0]
        return t, tg.autograd.grad((g * Tensor(v1)).sum(), [t], create_graph=create)[0]

    t, g2 = second(x, create=True)
    third = float((tg.autograd.grad((g2 * Tensor(d)).sum(), [t])[0] * Tensor(d)).sum().data)
    eps = 1e-5
    numeric = float(((second(x + eps * d)[1] - second(x - eps * d)[1]) * Tensor(d)).sum().data)
    assert abs(third - numeric / (2 * eps)) < 1e-5 * max(1.0, abs(third))


# --------------------------------------------------------------------------- drawn geometry
HYPO = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def conv_geometry(draw, transposed: bool):
    nsp = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
    size = tuple(draw(st.integers(2, 5)) for _ in range(nsp))
    kw = {"stride": stride, "dilation": dilation, "groups": groups, "padding": padding}
    if transposed:
        kw["output_padding"] = tuple(
            draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)
        )
        out = [
            (n - 1) * s - 2 * p + d * (k - 1) + q + 1
            for n, s, p, d, k, q in zip(
                size, stride, padding, dilation, kernel, kw["output_padding"]
            )
        ]
        assume(min(out) >= 1)
        weight = (cin, cout // groups, *kernel)
    else:
        span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        assume(all(n + 2 * p >= s for n, p, s in zip(size, padding, span)))
        weight = (cout, cin // groups, *kernel)
    batch = draw(st.sampled_from([(), (2,)]))
    return nsp, (*batch, cin, *size), weight, draw(st.booleans()), kw


def _conv_check(nsp, shape, weight, bias, kw, transposed, seed):
    name = f"conv_transpose{nsp}d" if transposed else f"conv{nsp}d"
    ours, theirs = getattr(F, name), getattr(TF, name)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(shape), rng.standard_normal(weight)]
    if bias:
        arrays.append(rng.standard_normal(weight[1] * kw["groups"] if transposed else weight[0]))
    check(lambda *t: ours(*t, **kw), lambda *t: theirs(*t, **kw), arrays)


@HYPO
@given(conv_geometry(False), st.integers(0, 2**16))
def test_conv_hvp_drawn_geometry(geometry, seed):
    _conv_check(*geometry, False, seed)


@HYPO
@given(conv_geometry(True), st.integers(0, 2**16))
def test_conv_transpose_hvp_drawn_geometry(geometry, seed):
    _conv_check(*geometry, True, seed)


@HYPO
@given(
    st.sampled_from(["max", "avg"]),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 1),
    st.booleans(),
    st.integers(4, 7),
    st.integers(0, 2**16),
)
def test_pool_hvp_drawn_geometry(kind, k, s, p, ceil, n, seed):
    assume(2 * p <= k)
    rng = np.random.default_rng(seed)
    x = (rng.permutation(2 * n * (n - 1)) * 0.3).reshape(1, 2, n, n - 1)  # no ties
    kw = {"stride": s, "padding": p, "ceil_mode": ceil}
    if kind == "avg":
        kw["count_include_pad"] = bool(seed % 2)
    check(
        lambda t: getattr(F, f"{kind}_pool2d")(t, k, **kw),
        lambda t: getattr(TF, f"{kind}_pool2d")(t, k, **kw),
        [x],
    )
