"""max_pool / avg_pool / adaptive pools (1-D and 2-D) and their layers against torch.

Forward values, input gradients and ``return_indices`` agree with torch in float64 over
hypothesis-drawn configurations (kernel, stride, padding, dilation, ceil_mode,
count_include_pad, divisor_override, output sizes incl. None, batch 1 and unbatched),
with ties on purpose (the gradient goes to the first maximum), NaNs and -inf.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from spatial_oracle import compare  # noqa: E402

from tinygrad_opt import Tensor, gradcheck, nn  # noqa: E402
from tinygrad_opt.nn import functional as F  # noqa: E402
from tinygrad_opt.tensor import ShapeError  # noqa: E402

pytestmark = pytest.mark.torch
HYPO = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _data(rng, shape, kind):
    if kind == "ties":  # small integers: many equal maxima in a window
        return rng.integers(-2, 3, shape).astype(np.float64)
    return rng.standard_normal(shape)


def _windows(n, k, s, p, d, ceil_mode):
    """Input positions of every window along one axis (torch's output-size rule)."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return np.arange(max(out, 0))[:, None] * s - p + np.arange(k)[None, :] * d


@st.composite
def pool_configs(draw, dilation=True):
    nsp = draw(st.sampled_from([1, 2]))
    k = tuple(draw(st.integers(1, 4)) for _ in range(nsp))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    d = tuple(draw(st.integers(1, 2)) for _ in range(nsp)) if dilation else (1,) * nsp
    ceil_mode = draw(st.booleans())
    pick = draw(st.integers(0, 2))  # int, tuple, or (for stride) None
    if pick == 2:
        s = k  # torch's default stride
    span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    # with ceil_mode a window may reach past the padded input, so a small input can do
    size = tuple(
        draw(st.integers(1 if ceil_mode else max(1, sp - 2 * pi), sp + 6))
        for sp, pi in zip(span, p)
    )
    windows = [_windows(*args, ceil_mode) for args in zip(size, k, s, p, d)]
    assume(all(len(w) for w in windows))
    # torch reads out of bounds when a dilated window lies entirely in the padding (its
    # backward can crash): such inputs are tested on their own below
    assume(all(((w >= 0) & (w < n)).any(axis=1).all() for w, n in zip(windows, size)))
    batch = draw(st.sampled_from([None, 1, 2]))
    shape = ((batch,) if batch else ()) + (draw(st.integers(1, 3)),) + size
    return {
        "nsp": nsp,
        "shape": shape,
        "kernel_size": k[0] if pick == 0 and len(set(k)) == 1 else k,
        "stride": None if pick == 2 else s,
        "padding": p,
        "dilation": d,
        "ceil_mode": ceil_mode,
        "data": draw(st.sampled_from(["ties", "normal"])),
    }


def _fns(name, nsp):
    return getattr(F, f"{name}{nsp}d"), getattr(TF, f"{name}{nsp}d")


# --------------------------------------------------------------------------- max pooling
@HYPO
@given(pool_configs(), st.booleans(), st.integers(0, 2**31))
def test_max_pool_matches_torch_values_indices_and_grads(cfg, with_indices, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = _fns("max_pool", cfg["nsp"])
    kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
    kw["return_indices"] = with_indices
    compare(
        lambda x: ours(x, **kw),
        lambda x: theirs(x, **kw),
        [_data(rng, cfg["shape"], cfg["data"])],
        rng,
        f"max_pool {cfg}",
    )


@pytest.mark.parametrize("nsp", [1, 2])
@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_max_pool_nan_and_minus_inf_windows_like_torch(nsp):
    rng = np.random.default_rng(0)
    x = rng.integers(-2, 3, (2, 2) + (7,) * nsp).astype(np.float64)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, 12, replace=False)] = np.nan
    flat[rng.choice(flat.size, 20, replace=False)] = -np.inf
    x[0, 0] = -np.inf  # a whole plane of -inf: the index is the window's first real element
    ours, theirs = _fns("max_pool", nsp)
    for kw in (
        {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True},
        {"kernel_size": 2, "padding": 1, "ceil_mode": True, "return_indices": True},
        {"kernel_size": 3, "stride": 1, "padding": 1, "dilation": 2, "return_indices": True},
    ):
        out, idx = ours(Tensor(x, requires_grad=True), **kw)
        want, widx = theirs(torch.tensor(x), **kw)
        np.testing.assert_array_equal(out.data, want.numpy())  # equal_nan for arrays
        np.testing.assert_array_equal(idx.data, widx.numpy())
        xt, xo = torch.tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
        u = rng.standard_normal(want.shape)
        (theirs(xt, **kw)[0] * torch.from_numpy(u)).sum().backward()
        (ours(xo, **kw)[0] * Tensor(u)).sum().backward()
        np.testing.assert_array_equal(xo.grad, xt.grad.numpy())


@pytest.mark.parametrize("nsp", [1, 2])
def test_max_pool_window_entirely_in_the_padding(nsp):
    # kernel 2, dilation 2, padding 1 on a length-1 axis: the window reads positions -1
    # and 1, both padding. torch returns -inf and an index past the input (and its
    # backward reads out of bounds); ours returns the same values and index, and no
    # gradient flows from such a window.
    shape = (3,) + (1,) * nsp
    x = np.arange(3.0).reshape(shape)
    kw = {"kernel_size": 2, "stride": 3, "padding": 1, "dilation": 2, "ceil_mode": True}
    ours, theirs = _fns("max_pool", nsp)
    xo = Tensor(x, requires_grad=True)
    out, idx = ours(xo, **kw, return_indices=True)
    want, widx = theirs(torch.tensor(x), **kw, return_indices=True)
    np.testing.assert_array_equal(out.data, want.numpy())
    np.testing.assert_array_equal(idx.data, widx.numpy())
    assert np.isneginf(out.data).all()
    out.sum().backward()
    np.testing.assert_array_equal(xo.grad, np.zeros(shape))


def test_max_pool_gradcheck():
    x = Tensor(np.random.default_rng(2).permutation(60).reshape(1, 3, 4, 5) * 0.1, True)
    x = x.astype(np.float64)
    assert gradcheck(lambda t: F.max_pool2d(t, (2, 3), 1, (1, 1), (2, 1), True), [x])


# --------------------------------------------------------------------------- average pooling
@HYPO
@given(
    pool_configs(dilation=False),
    st.booleans(),
    st.sampled_from([None, None, 1, 3, 7]),
    st.integers(0, 2**31),
)
def test_avg_pool_matches_torch(cfg, count_include_pad, divisor, seed):
    rng = np.random.default_rng(seed)
    ours, theirs = _fns("avg_pool", cfg["nsp"])
    kw = {k: cfg[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    kw["count_include_pad"] = count_include_pad
    if cfg["nsp"] == 2:
        kw["divisor_override"] = divisor
    compare(
        lambda x: ours(x, **kw),
        lambda x: theirs(x, **kw),
        [rng.standard_normal(cfg["shape"])],
        rng,
        f"avg_pool {cfg} {kw}",
    )


def test_avg_pool_gradcheck():
    x = Tensor(np.random.default_rng(3).standard_normal((2, 2, 5, 4)), True)
    assert gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), [x])


# --------------------------------------------------------------------------- adaptive pooling
@st.composite
def adaptive_configs(draw):
    nsp = draw(st.sampled_from([1, 2]))
    size = tuple(draw(st.integers(1, 9)) for _ in range(nsp))
    entry = st.integers(1, 11) if nsp == 1 else st.one_of(st.none(), st.integers(1, 11))
    out = tuple(draw(entry) for _ in range(nsp))  # torch's 1-D version takes no None
    batch = draw(st.sampled_from([None, 1, 2]))
    shape = ((batch,) if batch else ()) + (draw(st.integers(1, 3)),) + size
    output_size = out[0] if nsp == 1 and draw(st.booleans()) else out
    return nsp, shape, output_size, draw(st.sampled_from(["ties", "normal"]))


@HYPO
@given(adaptive_configs(), st.integers(0, 2**31))
def test_adaptive_avg_pool_matches_torch(cfg, seed):
    nsp, shape, output_size, _ = cfg
    rng = np.random.default_rng(seed)
    ours, theirs = _fns("adaptive_avg_pool", nsp)
    compare(
        lambda x: ours(x, output_size),
        lambda x: theirs(x, output_size),
        [rng.standard_normal(shape)],
        rng,
        f"adaptive_avg_pool {cfg}",
    )


@HYPO
@given(adaptive_configs(), st.booleans(), st.integers(0, 2**31))
def test_adaptive_max_pool_matches_torch(cfg, with_indices, seed):
    nsp, shape, output_size, kind = cfg
    rng = np.random.default_rng(seed)
    ours, theirs = _fns("adaptive_max_pool", nsp)
    compare(
        lambda x: ours(x, output_size, with_indices),
        lambda x: theirs(x, output_size, with_indices),
        [_data(rng, shape, kind)],
        rng,
        f"adaptive_max_pool {cfg}",
    )


# --------------------------------------------------------------------------- layers
@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.MaxPool1d(3, 2, 1, 1, True, True),
        lambda m: m.MaxPool2d((2, 3), 1, (1, 0), 2, True, False),
        lambda m: m.AvgPool1d(3, 2, 1, True, False),
        lambda m: m.AvgPool2d(3, (1, 2), 1, False, True, 4),
        lambda m: m.AdaptiveAvgPool1d(4),
        lambda m: m.AdaptiveAvgPool2d((None, 3)),
        lambda m: m.AdaptiveMaxPool1d(3, True),
        lambda m: m.AdaptiveMaxPool2d((2, 5), True),
    ],
)
def test_pool_layers_take_torchs_positional_arguments(make):
    ours, ref = make(nn), make(torch.nn)
    nsp = 1 if "1d" in type(ours).__name__ else 2
    x = np.random.default_rng(4).standard_normal((2, 3) + (7,) * nsp)
    compare(ours, ref, [x], np.random.default_rng(5), type(ours).__name__)
    assert ours.num_parameters() == 0 and ours.state_dict() == {}


def test_pool_layer_reprs():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel 2x2, stride 2x2)"
    assert repr(nn.MaxPool1d(3, 1, 1, 2, True, True)) == (
        "MaxPool1d(kernel 3, stride 1, padding 1, dilation 2, ceil_mode=True, return_indices=True)"
    )
    assert repr(nn.AvgPool2d(3, count_include_pad=False, divisor_override=2)) == (
        "AvgPool2d(kernel 3x3, stride 3x3, count_include_pad=False, divisor_override=2)"
    )
    assert repr(nn.AdaptiveAvgPool2d((None, 3))) == "AdaptiveAvgPool2d(output_size=(None, 3))"


# --------------------------------------------------------------------------- errors
X = np.zeros((1, 2, 3, 4))


@pytest.mark.parametrize(
    "call, ours_cls, match",
    [
        (lambda f: f.max_pool2d(X, 5), ShapeError,
         r"max_pool2d: input of spatial size 3x4 \(padded 3x4\) is smaller than the kernel 5x5"),
        (lambda f: f.avg_pool1d(X[0], 6, 2, ceil_mode=True), ShapeError,
         r"avg_pool1d: input of spatial size 4 .*smaller than the kernel 6"),
        (lambda f: f.max_pool2d(X[0, 0], 2), ShapeError,
         r"max_pool2d: expected input of shape \(C, H, W\) or \(N, C, H, W\), got \(3, 4\)"),
        (lambda f: f.max_pool1d(X[0, 0, 0], 2), ShapeError,
         r"max_pool1d: expected input of shape \(C, L\) or \(N, C, L\), got \(4,\)"),
        (lambda f: f.adaptive_avg_pool2d(X[0, 0], 2), ShapeError,
         r"adaptive_avg_pool2d: .*\(3, 4\)"),
        (lambda f: f.max_pool2d(X, 3, padding=2), ValueError,
         r"max_pool2d: padding 2x2 must be at most half the kernel 3x3"),
        (lambda f: f.avg_pool2d(X, 2, stride=0), ValueError, "avg_pool2d: stride must be >= 1"),
        (lambda f: f.avg_pool2d(X, 2, divisor_override=0), ValueError,
         "divisor_override must be a non-zero integer"),
        (lambda f: f.max_pool1d(X[0], 2, dilation=0), ValueError, "dilation must be >= 1"),
        (lambda f: f.adaptive_max_pool2d(X, (2, 2, 2)), ValueError,
         r"adaptive_max_pool2d: output_size must be an int or a tuple of 2"),
    ],
)  # fmt: skip
def test_errors_name_the_op_and_torch_rejects_them_too(call, ours_cls, match):
    with pytest.raises(ours_cls, match=match):
        call(F)

    class TorchF:
        def __getattr__(self, name):
            fn = getattr(TF, name)
            return lambda x, *a, **k: fn(torch.tensor(x), *a, **k)

    with pytest.raises((RuntimeError, ValueError)):
        call(TorchF())


def test_layer_errors_name_the_layer():
    with pytest.raises(ShapeError, match=r"AvgPool2d\(kernel 4x4, stride 4x4\): input of spatial"):
        nn.AvgPool2d(4)(Tensor(X))
    with pytest.raises(ValueError, match=r"MaxPool1d: padding 2 must be at most half the kernel 3"):
        nn.MaxPool1d(3, padding=2)
