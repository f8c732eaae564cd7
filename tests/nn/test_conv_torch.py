"""conv1d / conv2d / conv_transpose1d / conv_transpose2d and their layers against torch.

Forward values and the gradients of input, weight and bias agree with torch in float64
to 1e-10 over hypothesis-drawn configurations (stride, padding incl. per-dim, 'same'
with odd and even kernels, 'valid', dilation, groups, output_padding, batch 1 and
unbatched inputs); torch's state_dicts load into our layers; errors use torch's classes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spatial_oracle import as_torch_state, compare  # noqa: E402

from tinygrad_opt import Tensor, gradcheck, nn  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402
from tinygrad_opt.tensor import ShapeError  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel"),
]
HYPO = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- strategies
@st.composite
def conv_configs(draw, transpose=False):
    """A valid convolution: shapes, hyperparameters in torch's argument form."""
    nsp = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nsp))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nsp))
    span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    if transpose:
        p = tuple(draw(st.integers(0, 2)) for _ in range(nsp))
        op = tuple(draw(st.integers(0, max(si, di) - 1)) for si, di in zip(s, d))
        size = [draw(st.integers(1, 5)) for _ in range(nsp)]
        # torch rejects an empty output; keep every output length >= 1
        for i in range(nsp):
            while (size[i] - 1) * s[i] - 2 * p[i] + span[i] + op[i] < 1:
                size[i] += 1
        padding, extra = p, op
    else:
        kind = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
        if kind == "same":
            s = (1,) * nsp
        if kind in ("int", "tuple"):
            p = (
                (draw(st.integers(0, 3)),) * nsp
                if kind == "int"
                else tuple(draw(st.integers(0, 3)) for _ in range(nsp))
            )
            padding = p[0] if kind == "int" else p
        else:
            p, padding = (0,) * nsp, kind
        lo = [max(1, sp - 2 * pi) if kind != "same" else 1 for sp, pi in zip(span, p)]
        size = [draw(st.integers(lo_i, lo_i + 5)) for lo_i in lo]
        extra = None
    batch = draw(st.sampled_from([None, 1, 2]))  # None: unbatched
    x_shape = ((batch,) if batch else ()) + (cin, *size)
    w_shape = (cin, cout // groups, *k) if transpose else (cout, cin // groups, *k)
    stride = s[0] if draw(st.booleans()) and len(set(s)) == 1 else s
    return {
        "nsp": nsp,
        "x": x_shape,
        "w": w_shape,
        "b": draw(st.booleans()),
        "cout": cout,
        "stride": stride,
        "padding": padding,
        "dilation": d,
        "groups": groups,
        "output_padding": extra,
    }


def _arrays(cfg, rng):
    arrays = [rng.standard_normal(cfg["x"]), rng.standard_normal(cfg["w"])]
    if cfg["b"]:
        arrays.append(rng.standard_normal(cfg["cout"]))
    return arrays


# --------------------------------------------------------------------------- functional
@HYPO
@given(conv_configs(), st.integers(0, 2**31))
def test_conv_matches_torch(cfg, seed):
    rng = np.random.default_rng(seed)
    kw = {k: cfg[k] for k in ("stride", "padding", "dilation", "groups")}
    ours = F.conv1d if cfg["nsp"] == 1 else F.conv2d
    theirs = TF.conv1d if cfg["nsp"] == 1 else TF.conv2d
    compare(
        lambda x, w, b=None: ours(x, w, b, **kw),
        lambda x, w, b=None: theirs(x, w, b, **kw),
        _arrays(cfg, rng),
        rng,
        f"conv{cfg['nsp']}d {cfg}",
    )


@HYPO
@given(conv_configs(transpose=True), st.integers(0, 2**31))
def test_conv_transpose_matches_torch(cfg, seed):
    rng = np.random.default_rng(seed)
    kw = {k: cfg[k] for k in ("stride", "padding", "output_padding", "groups", "dilation")}
    ours = F.conv_transpose1d if cfg["nsp"] == 1 else F.conv_transpose2d
    theirs = TF.conv_transpose1d if cfg["nsp"] == 1 else TF.conv_transpose2d
    compare(
        lambda x, w, b=None: ours(x, w, b, **kw),
        lambda x, w, b=None: theirs(x, w, b, **kw),
        _arrays(cfg, rng),
        rng,
        f"conv_transpose{cfg['nsp']}d {cfg}",
    )


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_same_padding_puts_the_extra_on_the_right_like_torch(k, d):
    rng = np.random.default_rng(k * 10 + d)
    arrays = [rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, k, k + 1))]
    out, _ = compare(
        lambda x, w: F.conv2d(x, w, padding="same", dilation=d),
        lambda x, w: TF.conv2d(x, w, padding="same", dilation=d),
        arrays,
        rng,
        f"same k={k} d={d}",
    )
    assert out.shape[2:] == (7, 6)
    arrays = [rng.standard_normal((3, 9)), rng.standard_normal((2, 3, k))]
    compare(
        lambda x, w: F.conv1d(x, w, padding="same", dilation=d),
        lambda x, w: TF.conv1d(x, w, padding="same", dilation=d),
        arrays,
        rng,
        f"same 1d k={k} d={d}",
    )


def test_depthwise_and_valid_padding_and_float32():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((12, 1, 3, 3)), None
    compare(
        lambda x, w: F.conv2d(x, w, None, 2, "valid", 1, 6),
        lambda x, w: TF.conv2d(x, w, None, 2, "valid", 1, 6),
        [x, w],
        rng,
        "depthwise",
    )
    ours = F.conv2d(Tensor(x.astype(np.float32)), Tensor(w.astype(np.float32)), b, groups=6)
    ref = TF.conv2d(torch.tensor(x, dtype=torch.float32), torch.tensor(w, dtype=torch.float32),
                    groups=6)  # fmt: skip
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.data, ref.numpy(), rtol=1e-5, atol=1e-5)


def test_gradcheck_finite_differences():
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((1, 4, 5, 6)), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True, dtype=np.float64)
    b = Tensor(rng.standard_normal(2), requires_grad=True, dtype=np.float64)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, (2, 1), "valid", (1, 2), 2), [x, w, b])
    wt = Tensor(rng.standard_normal((4, 1, 3, 2)), requires_grad=True, dtype=np.float64)
    assert gradcheck(
        lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, (1, 0), 2, (1, 2)), [x, wt, b]
    )


# --------------------------------------------------------------------------- layers
PADDING_MODES = ["zeros", "reflect", "replicate", "circular"]


@HYPO
@given(
    st.sampled_from([1, 2]),
    st.sampled_from(PADDING_MODES),
    st.sampled_from([0, 1, 2, "same", "valid", (1, 2)]),
    st.integers(1, 2),
    st.integers(1, 3),
    st.booleans(),
    st.integers(0, 2**31),
)
def test_conv_layers_with_padding_modes_match_torch(nsp, mode, padding, groups, k, batched, seed):
    if nsp == 1 and isinstance(padding, tuple):
        padding = padding[1:]
    rng = np.random.default_rng(seed)
    their_cls, our_cls = (torch.nn.Conv1d, nn.Conv1d) if nsp == 1 else (torch.nn.Conv2d, nn.Conv2d)
    args = (2 * groups, 3 * groups, k)
    kw = {"padding": padding, "groups": groups, "padding_mode": mode, "dilation": 2 if k < 3 else 1}
    ref = their_cls(*args, **kw, dtype=torch.float64)
    ours = our_cls(*args, **kw, dtype=np.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.load_state_dict(as_torch_state(ref))
    x = rng.standard_normal(((2,) if batched else ()) + (2 * groups,) + (5,) * nsp)
    xt = torch.tensor(x, requires_grad=True)
    xo = Tensor(x, requires_grad=True)
    out, want = ours(xo), ref(xt)
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-10, atol=1e-10)
    u = rng.standard_normal(out.shape)
    (out * Tensor(u)).sum().backward()
    (want * torch.from_numpy(u)).sum().backward()
    np.testing.assert_allclose(xo.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (name, p), (_, q) in zip(ours.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("nsp", [1, 2])
def test_conv_transpose_layers_load_torch_state_and_take_output_size(nsp):
    rng = np.random.default_rng(nsp)
    their_cls = torch.nn.ConvTranspose1d if nsp == 1 else torch.nn.ConvTranspose2d
    our_cls = nn.ConvTranspose1d if nsp == 1 else nn.ConvTranspose2d
    kw = {"stride": 3, "padding": 1, "groups": 2, "dilation": 2}
    ref = their_cls(4, 6, 3, **kw, dtype=torch.float64)
    ours = our_cls(4, 6, 3, **kw, dtype=np.float64)
    assert {n: p.shape for n, p in ours.named_parameters()} == {
        n: tuple(p.shape) for n, p in ref.named_parameters()
    }
    ours.load_state_dict(as_torch_state(ref))
    x = rng.standard_normal((2, 4) + (4,) * nsp)
    for size in [None, (12,) * nsp, (14,) * nsp, (2, 6) + (13,) * nsp]:
        want = ref(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(Tensor(x), output_size=size).data, want, rtol=1e-10)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ours(Tensor(x), output_size=(15,) * nsp)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ref(torch.tensor(x), output_size=(15,) * nsp)


@pytest.mark.parametrize(
    "ctor",
    [
        lambda m, **kw: m.Conv1d(6, 4, 3, groups=2, **kw),
        lambda m, **kw: m.Conv2d(3, 8, (3, 2), **kw),
        lambda m, **kw: m.Conv2d(4, 4, 5, groups=4, bias=False, **kw),
        lambda m, **kw: m.ConvTranspose1d(4, 6, 3, groups=2, **kw),
        lambda m, **kw: m.ConvTranspose2d(3, 5, (2, 4), **kw),
    ],
)
def test_default_init_is_torchs_uniform_bound(ctor):
    ref = ctor(torch.nn)
    ours = ctor(nn, rng=0, dtype=np.float64)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(ref.weight)
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform(a=√5) == U(±1/√fan_in), bias likewise
    for name, p in ours.named_parameters():
        assert p.shape == tuple(dict(ref.named_parameters())[name].shape)
        assert np.abs(p.data).max() <= bound
        if p.size >= 30:  # uses the range: |w| reaches past 3/4 of the bound
            assert np.abs(p.data).max() > 0.75 * bound
            assert abs(p.data.std() - bound / math.sqrt(3)) < 0.35 * bound / math.sqrt(3)


def test_layer_repr_and_attributes():
    c = nn.Conv2d(4, 8, 3, stride=2, padding="valid", dilation=(1, 2), groups=2, rng=0)
    assert repr(c) == (
        "Conv2d(4 -> 8, kernel 3x3, stride 2x2, padding 'valid', dilation 1x2, groups 2): "
        "152 parameters"
    )
    assert c.padding == "valid" and c.padding_mode == "zeros" and c.stride == (2, 2)
    c = nn.Conv1d(2, 2, 4, padding="same", padding_mode="reflect", bias=False)
    assert repr(c) == (
        "Conv1d(2 -> 2, kernel 4, padding 'same', padding_mode 'reflect', bias=False): "
        "16 parameters"
    )
    t = nn.ConvTranspose2d(2, 3, 3, stride=2, output_padding=1)
    assert repr(t).startswith("ConvTranspose2d(2 -> 3, kernel 3x3, stride 2x2, output_padding 1x1)")


# --------------------------------------------------------------------------- errors
def _both_raise(ours, theirs, our_cls, their_cls, match):
    with pytest.raises(our_cls, match=match):
        ours()
    with pytest.raises(their_cls):
        theirs()


X = np.zeros((2, 4, 8, 8))


@pytest.mark.parametrize(
    "call, our_cls, their_cls, match",
    [
        # wrong number of input channels
        (lambda f: f.conv2d(X, np.zeros((8, 3, 3, 3))), ShapeError, RuntimeError,
         r"conv2d: expected input of shape \(3, H, W\) or \(N, 3, H, W\), got \(2, 4, 8, 8\) "
         r"\(weight of shape \(8, 3, 3, 3\), groups=1\)"),
        # groups does not divide the output channels
        (lambda f: f.conv2d(X, np.zeros((7, 2, 3, 3)), groups=2), ShapeError, RuntimeError,
         r"conv2d: groups=2 must divide the number of output channels.*\(7, 2, 3, 3\)"),
        # in_channels != weight channels · groups
        (lambda f: f.conv2d(X, np.zeros((6, 2, 3, 3)), groups=3), ShapeError, RuntimeError,
         r"expected input of shape \(6, H, W\).*groups=3"),
        # kernel larger than the padded input
        (lambda f: f.conv2d(X, np.zeros((8, 4, 9, 3)), padding=(0, 1)), ShapeError, RuntimeError,
         r"input of spatial size 8x8 \(padded 8x10\) is smaller than the kernel 9x3"),
        (lambda f: f.conv1d(X[0, :, 0], np.zeros((8, 4, 5)), dilation=2), ShapeError, RuntimeError,
         r"conv1d: .*smaller than the kernel 5 \(dilated to 9\)"),
        (lambda f: f.conv2d(X, np.zeros((8, 4, 3))), ShapeError, RuntimeError,
         r"conv2d: weight must have shape \(O, C/groups, kh, kw\), got \(8, 4, 3\)"),
        (lambda f: f.conv2d(X[0, 0], np.zeros((8, 4, 3, 3))), ShapeError, RuntimeError,
         r"\(4, H, W\) or \(N, 4, H, W\), got \(8, 8\)"),
        (lambda f: f.conv2d(X, np.zeros((8, 4, 3, 3)), np.zeros(3)), ShapeError, RuntimeError,
         r"conv2d: bias must have shape \(8,\), got \(3,\)"),
        (lambda f: f.conv_transpose2d(X, np.zeros((3, 2, 3, 3))), ShapeError, RuntimeError,
         r"conv_transpose2d: expected input of shape \(3, H, W\) or \(N, 3, H, W\)"),
    ],
)  # fmt: skip
def test_shape_errors_are_shape_errors_like_torchs_runtime_errors(call, our_cls, their_cls, match):
    to_t = lambda a: torch.tensor(a) if isinstance(a, np.ndarray) else a  # noqa: E731

    class TorchF:  # torch's functional, taking numpy arrays like ours
        def __getattr__(self, name):
            fn = getattr(TF, name)
            return lambda *a, **k: fn(*[to_t(v) for v in a], **k)

    _both_raise(lambda: call(F), lambda: call(TorchF()), our_cls, their_cls, match)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda m: m.Conv2d(4, 8, 3, groups=3), "in_channels must be divisible by groups"),
        (lambda m: m.Conv2d(4, 6, 3, groups=4), "out_channels must be divisible by groups"),
        (lambda m: m.Conv2d(4, 8, 3, groups=0), "groups must be a positive integer"),
        (lambda m: m.Conv2d(4, 8, 3, padding="foo"), "invalid padding string 'foo'"),
        (lambda m: m.Conv1d(4, 8, 3, padding="same", stride=2), "'same' is not supported"),
        (lambda m: m.Conv2d(4, 8, 3, padding_mode="foo"), "padding_mode must be one of"),
        (lambda m: m.ConvTranspose2d(4, 8, 3, padding_mode="reflect"), "only padding_mode='zeros'"),
        (lambda m: m.ConvTranspose1d(4, 6, 3, groups=4), "out_channels must be divisible"),
    ],
)  # fmt: skip
def test_bad_layer_arguments_are_value_errors_as_in_torch(make, match):
    with pytest.raises(ValueError, match=match):
        make(nn)
    with pytest.raises(ValueError):
        make(torch.nn)


def test_bad_functional_arguments_are_value_errors():
    x, w = Tensor(X), Tensor(np.zeros((8, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d: invalid padding string 'foo'"):
        F.conv2d(x, w, padding="foo")
    with pytest.raises(ValueError, match=r"conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=(1, 2))
    with pytest.raises(ValueError, match="conv2d: stride must be >= 1"):
        F.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="conv2d: dilation must be >= 1"):
        F.conv2d(x, w, dilation=(1, 0))
    with pytest.raises(ValueError, match="conv2d: padding must be >= 0"):
        F.conv2d(x, w, padding=-1)
    with pytest.raises(TypeError, match=r"conv2d: padding must be an int or a pair of ints"):
        F.conv2d(x, w, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or"):
        F.conv_transpose2d(x, Tensor(np.zeros((4, 2, 3, 3))), stride=2, output_padding=2)
    with pytest.raises(ShapeError, match="conv_transpose1d: padding 5 is too large"):
        F.conv_transpose1d(Tensor(np.zeros((1, 4, 2))), Tensor(np.zeros((4, 2, 3))), padding=5)


def test_padding_mode_limits_name_the_layer():
    with pytest.raises(ShapeError, match=r"Conv2d\(.*\): padding \(2, 2\) in mode 'reflect'"):
        nn.Conv2d(1, 1, 5, padding=2, padding_mode="reflect")(Tensor(np.zeros((1, 1, 2, 6))))
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(1, 1, 5, padding=2, padding_mode="reflect")(torch.zeros(1, 1, 2, 6))
    with pytest.raises(ShapeError, match="mode 'circular'"):
        nn.Conv1d(1, 1, 7, padding=3, padding_mode="circular")(Tensor(np.zeros((1, 1, 2))))
