"""Second derivatives of every layer of ``tinygrad_opt.nn`` against torch (float64).

Each layer (and the functional attention) is run through :func:`hvp_oracle.check`: the
gradients and the Hessian-vector product of L = Σ u₁·y² + u₂·y with respect to the
inputs and the parameters must agree with torch's to ~1e-9, torch's state_dict loaded
into ours. Convolutions, transposed convolutions and pools also over hypothesis-drawn
geometry. Losses: ``test_loss_second_order.py``; third derivatives:
``test_nn_third_order.py``.

Some layers are composed from ops that other modules own (activations, softmax,
indexing, concatenation); their cases need those ops' differentiable backward too.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from hvp_oracle import check, rng_for, twin  # noqa: E402

from tinygrad_opt import Tensor, nn  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.torch


def layer(kind, args, kw, shape, call=None, train=True, setup=None, domain="real"):
    """A case: layer ``kind`` on one input of ``shape`` (``call`` adapts the call)."""

    def run(name):
        ours, theirs = twin(kind, *args, **kw)
        if setup is not None:
            setup(ours, theirs)
        ours.train(train)
        theirs.train(train)
        x = data(rng_for(name), shape, domain)
        c = call or (lambda m, x: m(x))
        check(lambda t: c(ours, t), lambda t: c(theirs, t), [x], (ours, theirs))

    return run


def data(rng, shape, domain="real"):
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
    rng = rng_for("mha")
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
    rng = rng_for("decoder")
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
    p, x = 0.4, rng_for("dropout").standard_normal((3, 5))
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
    rng = rng_for(str(kw))
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
