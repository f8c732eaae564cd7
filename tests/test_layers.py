# ruff: noqa: E501  (the case table keeps one case per line)
"""Conv2d, pooling, BatchNorm, Dropout, Flatten and Embedding.

- **Gradients**: every fused op is gradient-checked in float64 (inputs and parameters)
  over hypothesis-generated shapes, strides and paddings.
- **Torch agreement**: the table ``CASES`` (functional ops, every input gets a gradient)
  and the BatchNorm multi-step scenarios ``BN_SCENARIOS`` (train steps, running
  statistics, eval) are compared with PyTorch live when it is importable (marker
  ``torch``) and, always, with the committed fixture ``tests/fixtures/layers_torch.npz``
  written by ``python scripts/make_layer_fixtures.py``.
- Layer behaviour (init, modes, state dicts, dropout statistics) and bad-input errors.
"""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_opt import ShapeError, Tensor, gradcheck, nn, no_grad
from tinygrad_opt.nn import functional as F

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover - torch is a test oracle only
    torch = None
    TF = None

FIXTURE = Path(__file__).parent / "fixtures" / "layers_torch.npz"
RTOL, ATOL = 1e-10, 1e-12
HYPO = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not importable")


from torch_oracle import Case, make_input, run_ours, run_torch  # noqa: E402, F401


def _t(a):
    return torch.from_numpy(np.asarray(a))


IDX = np.array([[0, 3, 3, 1], [3, 4, 0, 3]])  # repeated ids: their gradients must add up
RUN_MEAN = np.array([0.3, -0.2, 0.5])
RUN_VAR = np.array([0.8, 1.5, 0.4])
S, I = "distinct", "int"


def _cnn(x, w1, b1, w2):  # conv -> relu -> max pool -> flatten -> linear, in our API
    h = F.max_pool2d(F.conv2d(x, w1, b1, padding=1).relu(), 2)
    return nn.Flatten()(h) @ w2


def _cnn_torch(x, w1, b1, w2):
    h = TF.max_pool2d(TF.conv2d(x, w1, b1, padding=1).relu(), 2)
    return h.flatten(1) @ w2


# fmt: off
CASES: list[Case] = [
    # conv2d: (x, weight, bias)
    Case("conv_basic", lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b), [(2, 3, 6, 5), (4, 3, 3, 3), (4,)]),
    Case("conv_stride2_pad1", lambda x, w, b: F.conv2d(x, w, b, 2, 1), lambda x, w, b: TF.conv2d(x, w, b, 2, 1), [(2, 2, 7, 6), (3, 2, 3, 3), (3,)]),
    Case("conv_rect", lambda x, w, b: F.conv2d(x, w, b, (1, 2), (1, 0)), lambda x, w, b: TF.conv2d(x, w, b, (1, 2), (1, 0)), [(2, 2, 5, 7), (3, 2, 2, 3), (3,)]),
    Case("conv_stride3_pad2", lambda x, w, b: F.conv2d(x, w, b, 3, 2), lambda x, w, b: TF.conv2d(x, w, b, 3, 2), [(1, 2, 8, 7), (2, 2, 3, 3), (2,)]),
    Case("conv_1x1_nobias", lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), [(2, 3, 4, 4), (5, 3, 1, 1)]),
    Case("conv_full_kernel", lambda x, w, b: F.conv2d(x, w, b), lambda x, w, b: TF.conv2d(x, w, b), [(3, 2, 4, 3), (2, 2, 4, 3), (2,)]),
    Case("conv_digits", lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda x, w, b: TF.conv2d(x, w, b, padding=1), [(1, 1, 8, 8), (8, 1, 3, 3), (8,)]),
    # pooling
    Case("maxpool_2", lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [((2, 3, 6, 5), S)]),
    Case("maxpool_k3_s1_p1", lambda x: F.max_pool2d(x, 3, 1, 1), lambda x: TF.max_pool2d(x, 3, 1, 1), [((2, 2, 5, 6), S)]),
    Case("maxpool_rect", lambda x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1)), lambda x: TF.max_pool2d(x, (2, 3), (1, 2), (1, 1)), [((2, 2, 5, 7), S)]),
    Case("maxpool_ties_overlap", lambda x: F.max_pool2d(x, 2, 1), lambda x: TF.max_pool2d(x, 2, 1), [((2, 2, 5, 5), I)]),
    Case("maxpool_ties_pad", lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), [((2, 2, 6, 7), I)]),
    Case("avgpool_2", lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), [(2, 3, 6, 5)]),
    Case("avgpool_k3_s2_p1", lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), [(2, 2, 7, 6)]),
    Case("avgpool_rect", lambda x: F.avg_pool2d(x, (3, 2), (1, 2), (1, 1)), lambda x: TF.avg_pool2d(x, (3, 2), (1, 2), (1, 1)), [(2, 2, 5, 6)]),
    # batch norm (functional): batch statistics, and given running statistics
    Case("bn_train_nc", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(6, 3), (3,), (3,)]),
    Case("bn_train_ncl", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True), [(3, 3, 5), (3,), (3,)]),
    Case("bn_train_nchw", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=1e-3), lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True, eps=1e-3), [(4, 3, 3, 2), (3,), (3,)]),
    Case("bn_train_noaffine", lambda x: F.batch_norm(x, None, None, training=True), lambda x: TF.batch_norm(x, None, None, training=True), [(3, 3, 2, 2)]),
    Case("bn_eval_running", lambda x, w, b: F.batch_norm(x, RUN_MEAN.copy(), RUN_VAR.copy(), w, b), lambda x, w, b: TF.batch_norm(x, _t(RUN_MEAN), _t(RUN_VAR), w, b), [(4, 3, 2, 3), (3,), (3,)]),
    # embedding, flatten, and a small CNN end to end
    Case("embedding_repeats", lambda w: F.embedding(IDX, w), lambda w: TF.embedding(_t(IDX), w), [(5, 3)]),
    Case("flatten", lambda x: nn.Flatten(1, 2)(x), lambda x: x.flatten(1, 2), [(2, 3, 4, 2)]),
    Case("cnn", _cnn, _cnn_torch, [(3, 1, 6, 6), ((4, 1, 3, 3), S), (4,), (36, 5)]),
]
# fmt: on

CASE_BY_NAME = {c.name: c for c in CASES}
IDS = [c.name for c in CASES]


# BatchNorm over several steps: (name, class, input shape, constructor kwargs)
BN_SCENARIOS = {
    "bn1d_nc": ("BatchNorm1d", (6, 3), {}),
    "bn1d_ncl_cumulative": ("BatchNorm1d", (3, 3, 4), {"momentum": None}),
    "bn2d": ("BatchNorm2d", (3, 3, 2, 3), {"momentum": 0.3, "eps": 1e-3}),
    "bn2d_noaffine": ("BatchNorm2d", (2, 3, 3, 2), {"affine": False}),
    "bn2d_untracked": ("BatchNorm2d", (2, 3, 2, 2), {"track_running_stats": False}),
}
BN_TRAIN_STEPS = 3


def bn_inputs(name: str) -> dict[str, np.ndarray]:
    """Deterministic data for a scenario: γ, β, and per step an input and an upstream."""
    _, shape, _ = BN_SCENARIOS[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    c = shape[1]
    data = {"weight": rng.uniform(0.5, 1.5, c), "bias": rng.uniform(-0.5, 0.5, c)}
    for t in range(BN_TRAIN_STEPS + 1):  # the last step runs in eval mode
        loc, scale = rng.uniform(-1, 1, (1, c) + (1,) * (len(shape) - 2)), rng.uniform(0.5, 2)
        data[f"x{t}"] = loc + scale * rng.standard_normal(shape)
        data[f"u{t}"] = rng.standard_normal(shape)
    return data


def bn_run(name: str, data: dict[str, np.ndarray], backend: str) -> dict[str, np.ndarray]:
    """Train steps then one eval step; outputs, gradients and buffers after every step."""
    cls_name, shape, kwargs = BN_SCENARIOS[name]
    c = shape[1]
    if backend == "torch":
        layer = getattr(torch.nn, cls_name)(c, dtype=torch.float64, **kwargs)
        params = [] if layer.weight is None else [layer.weight, layer.bias]
        with torch.no_grad():
            for p, key in zip(params, ("weight", "bias")):
                p.copy_(torch.from_numpy(data[key]))

        def step(x, u):
            tx = torch.tensor(x, requires_grad=True)
            out = layer(tx)
            (out * torch.from_numpy(u)).sum().backward()
            return out.detach().numpy(), tx.grad.numpy()

        def grab(p):
            g = p.grad.numpy().copy()
            p.grad = None
            return g

        def buffers():
            return {k: v.numpy().copy() for k, v in layer.named_buffers()}
    else:
        layer = getattr(nn, cls_name)(c, dtype=np.float64, **kwargs)
        params = [] if layer.weight is None else [layer.weight, layer.bias]
        for p, key in zip(params, ("weight", "bias")):
            p.data = data[key].copy()

        def step(x, u):
            tx = Tensor(x, requires_grad=True)
            out = layer(tx)
            (out * Tensor(u)).sum().backward()
            return out.data.copy(), tx.grad.copy()

        def grab(p):
            g = p.grad.copy()
            p.grad = None
            return g

        def buffers():
            return {k: np.array(v) for k, v in layer.named_buffers()}

    result: dict[str, np.ndarray] = {}
    for t in range(BN_TRAIN_STEPS + 1):
        if t == BN_TRAIN_STEPS:
            layer.eval()
        result[f"out{t}"], result[f"gx{t}"] = step(data[f"x{t}"], data[f"u{t}"])
        for p, key in zip(params, ("gw", "gb")):
            result[f"{key}{t}"] = grab(p)
        for k, v in buffers().items():
            result[f"{k}{t}"] = v
    return result


# --------------------------------------------------------------------------- comparisons
def _assert_close(ours, theirs, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def _compare(case, out, grads, ref_out, ref_grads, source):
    _assert_close(out, ref_out, f"{case.name}: forward vs {source}")
    assert len(grads) == len(ref_grads)
    for i, (g, rg) in enumerate(zip(grads, ref_grads)):
        _assert_close(g, rg, f"{case.name}: gradient of input {i} vs {source}")


def _compare_bn(name, ours, ref, source):
    assert sorted(ours) == sorted(ref), f"{name}: recorded keys differ from {source}"
    for key in sorted(ref):
        _assert_close(ours[key], ref[key], f"{name}: {key} vs {source}")


def test_case_names_are_unique():
    assert len(CASE_BY_NAME) == len(CASES)


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", IDS)
def test_matches_torch_live(name):
    case = CASE_BY_NAME[name]
    inputs = case.make_inputs()
    out, u, grads = run_ours(case, inputs)
    ref_out, ref_grads = run_torch(case, inputs, u)
    _compare(case, out, grads, ref_out, ref_grads, "torch (live)")


@pytest.mark.torch
@needs_torch
@pytest.mark.parametrize("name", sorted(BN_SCENARIOS))
def test_batchnorm_steps_match_torch_live(name):
    data = bn_inputs(name)
    _compare_bn(name, bn_run(name, data, "ours"), bn_run(name, data, "torch"), "torch (live)")


@pytest.fixture(scope="module")
def fixture_data():
    if not FIXTURE.exists():
        pytest.fail(f"{FIXTURE} is missing: run `python scripts/make_layer_fixtures.py`")
    with np.load(FIXTURE) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", IDS)
def test_matches_torch_fixture(name, fixture_data):
    case = CASE_BY_NAME[name]
    assert f"case/{name}/out" in fixture_data, (
        f"case {name!r} is not in {FIXTURE.name}: run `python scripts/make_layer_fixtures.py`"
    )
    inputs = [fixture_data[f"case/{name}/in{i}"] for i in range(len(case.specs()))]
    for a, (shape, _) in zip(inputs, case.specs()):
        assert a.shape == shape, f"{name}: fixture input shape {a.shape}, table says {shape}"
    out, _, grads = run_ours(case, inputs, fixture_data[f"case/{name}/u"])
    ref_grads = [fixture_data[f"case/{name}/grad{i}"] for i in range(len(inputs))]
    _compare(case, out, grads, fixture_data[f"case/{name}/out"], ref_grads, "torch (fixture)")


@pytest.mark.parametrize("name", sorted(BN_SCENARIOS))
def test_batchnorm_steps_match_torch_fixture(name, fixture_data):
    prefix = f"bn/{name}/"
    stored = {k[len(prefix) :]: v for k, v in fixture_data.items() if k.startswith(prefix)}
    assert stored, f"scenario {name!r} is not in {FIXTURE.name}: run the fixture script"
    data = {k[3:]: v for k, v in stored.items() if k.startswith("in/")}
    ref = {k[4:]: v for k, v in stored.items() if k.startswith("out/")}
    _compare_bn(name, bn_run(name, data, "ours"), ref, "torch (fixture)")


def test_fixture_covers_tables_and_is_small(fixture_data):
    cases = {k.split("/")[1] for k in fixture_data if k.startswith("case/")}
    scenarios = {k.split("/")[1] for k in fixture_data if k.startswith("bn/")}
    assert cases == set(IDS), f"cases: missing {set(IDS) - cases}, stale {cases - set(IDS)}"
    assert scenarios == set(BN_SCENARIOS), "BN scenarios differ: run the fixture script"
    assert FIXTURE.stat().st_size < 200_000


# --------------------------------------------------------------------------- hypothesis shapes
@st.composite
def conv_setups(draw, max_channels=3):
    """(x shape, kernel, stride, padding) with the padded input at least the kernel."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    h = draw(st.integers(max(1, k[0] - 2 * p[0]), k[0] + 4))
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), k[1] + 4))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, max_channels)), h, w)
    return shape, k, s, p


@st.composite
def pool_setups(draw):
    """Like conv_setups, but padding at most half the kernel (torch's rule)."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h = draw(st.integers(max(1, k[0] - 2 * p[0]), k[0] + 4))
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), k[1] + 4))
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), k, s, p


def conv_reference(x, w, b, stride, padding):
    """Textbook loops over output pixels (slow, obviously correct)."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = w.shape
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], o, ho, wo))
    for y in range(ho):
        for z in range(wo):
            patch = xp[:, :, y * sh : y * sh + kh, z * sw : z * sw + kw]
            out[:, :, y, z] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out if b is None else out + b[None, :, None, None]


@HYPO
@given(conv_setups(), st.booleans(), st.integers(1, 3), st.integers(0, 2**31))
def test_conv2d_gradcheck_and_reference(setup, with_bias, out_ch, seed):
    shape, k, s, p = setup
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(shape), requires_grad=True, dtype=np.float64)
    w = Tensor(rng.standard_normal((out_ch, shape[1], *k)), requires_grad=True, dtype=np.float64)
    b = (
        Tensor(rng.standard_normal(out_ch), requires_grad=True, dtype=np.float64)
        if with_bias
        else None
    )
    out = F.conv2d(x, w, b, s, p)
    ref = conv_reference(x.data, w.data, None if b is None else b.data, s, p)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12, atol=1e-12)
    if b is None:
        assert gradcheck(lambda x, w: F.conv2d(x, w, None, s, p), [x, w])
    else:
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p), [x, w, b])


def _pool_reference(x, k, s, p, fill, reduce):
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=fill)
    ho, wo = (xp.shape[2] - k[0]) // s[0] + 1, (xp.shape[3] - k[1]) // s[1] + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for y in range(ho):
        for z in range(wo):
            out[:, :, y, z] = reduce(
                xp[:, :, y * s[0] : y * s[0] + k[0], z * s[1] : z * s[1] + k[1]], axis=(2, 3)
            )
    return out


@HYPO
@given(pool_setups(), st.integers(0, 2**31))
def test_max_pool2d_gradcheck_and_reference(setup, seed):
    shape, k, s, p = setup
    x = Tensor(make_input(np.random.default_rng(seed), shape, S), requires_grad=True)  # no ties
    out = F.max_pool2d(x, k, s, p)
    np.testing.assert_array_equal(out.data, _pool_reference(x.data, k, s, p, -np.inf, np.max))
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p), [x])


@HYPO
@given(pool_setups(), st.integers(0, 2**31))
def test_avg_pool2d_gradcheck_and_reference(setup, seed):
    shape, k, s, p = setup
    x = Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
    out = F.avg_pool2d(x, k, s, p)
    np.testing.assert_allclose(
        out.data, _pool_reference(x.data, k, s, p, 0.0, np.mean), rtol=1e-12, atol=1e-12
    )
    assert gradcheck(lambda t: F.avg_pool2d(t, k, s, p), [x])


@pytest.mark.torch
@needs_torch
@HYPO
@given(conv_setups(), pool_setups(), st.integers(1, 3), st.integers(0, 2**31))
def test_conv_and_pools_match_torch_live_on_random_shapes(conv, pool, out_ch, seed):
    rng = np.random.default_rng(seed)
    shape, k, s, p = conv
    x, w, b = (
        rng.standard_normal(shape),
        rng.standard_normal((out_ch, shape[1], *k)),
        rng.standard_normal(out_ch),
    )
    case = Case(
        "conv", lambda x, w, b: F.conv2d(x, w, b, s, p), lambda x, w, b: TF.conv2d(x, w, b, s, p)
    )
    u = rng.standard_normal(TF.conv2d(_t(x), _t(w), _t(b), s, p).shape)
    out, _, grads = run_ours(case, [x, w, b], u)
    _compare(case, out, grads, *run_torch(case, [x, w, b], u), "torch (live)")
    shape, k, s, p = pool
    x = make_input(rng, shape, I)  # ties on purpose: the first maximum must win
    for ours, theirs in ((F.max_pool2d, TF.max_pool2d), (F.avg_pool2d, TF.avg_pool2d)):
        case = Case("pool", lambda t, f=ours: f(t, k, s, p), lambda t, f=theirs: f(t, k, s, p))
        u = rng.standard_normal(theirs(_t(x), k, s, p).shape)
        out, _, grads = run_ours(case, [x], u)
        _compare(case, out, grads, *run_torch(case, [x], u), "torch (live)")


# --------------------------------------------------------------------------- gradcheck: the rest
@HYPO
@given(
    st.sampled_from([(5, 3), (2, 3, 4), (3, 2, 2, 3), (2, 1, 3, 1)]),
    st.booleans(),
    st.sampled_from([1e-5, 0.1]),
    st.integers(0, 2**31),
)
def test_batch_norm_gradcheck_train_and_eval(shape, affine, eps, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = Tensor(rng.standard_normal(shape) * 2 + 0.5, requires_grad=True)
    w = Tensor(rng.uniform(0.5, 1.5, c), requires_grad=True)
    b = Tensor(rng.standard_normal(c), requires_grad=True)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    if affine:
        assert gradcheck(
            lambda x, w, b: F.batch_norm(x, None, None, w, b, True, eps=eps), [x, w, b]
        )
        assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, False, eps=eps), [x, w, b])
    else:
        assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True, eps=eps), [x])
        assert gradcheck(lambda x: F.batch_norm(x, rm, rv, eps=eps), [x])


def test_dropout_gradcheck_with_fixed_mask():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    assert gradcheck(lambda t: F.dropout(t, 0.3, rng=np.random.default_rng(7)), [x])


def test_embedding_gradcheck_with_repeats():
    w = Tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.embedding(IDX, t), [w])


def test_conv_layer_gradcheck_through_module_parameters():
    conv = nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, rng=0, dtype=np.float64)
    x = Tensor(np.random.default_rng(1).standard_normal((2, 2, 5, 4)), requires_grad=True)

    def f(x, w, b):
        conv.weight, conv.bias = w, b  # gradcheck passes float64 copies of the parameters
        return conv(x)

    assert gradcheck(f, [x, conv.weight, conv.bias])


# --------------------------------------------------------------------------- Conv2d layer
def test_conv2d_layer_shapes_init_and_names():
    conv = nn.Conv2d(3, 8, 3, rng=0)
    assert [n for n, _ in conv.named_parameters()] == ["weight", "bias"]
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(3 * 3 * 3)
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound  # uses the whole range
    np.testing.assert_array_equal(conv.weight.data, nn.Conv2d(3, 8, 3, rng=0).weight.data)
    assert not np.array_equal(conv.weight.data, nn.Conv2d(3, 8, 3, rng=1).weight.data)
    assert repr(conv) == "Conv2d(3 -> 8, kernel 3x3): 224 parameters"
    c2 = nn.Conv2d(1, 2, (3, 5), stride=2, padding=(1, 2), bias=False)
    assert c2.bias is None and c2.num_parameters() == 30
    assert (
        repr(c2) == "Conv2d(1 -> 2, kernel 3x5, stride 2x2, padding 1x2, bias=False): 30 parameters"
    )
    out = c2(Tensor(np.zeros((4, 1, 9, 10), np.float32)))
    assert out.shape == (4, 2, 5, 5)  # (9 + 2 - 3) // 2 + 1, (10 + 4 - 5) // 2 + 1


def test_conv2d_float32_stays_float32_and_grads_accumulate():
    conv = nn.Conv2d(2, 4, 3, padding=1, rng=0)
    x = Tensor(
        np.random.default_rng(0).standard_normal((3, 2, 5, 5)).astype(np.float32),
        requires_grad=True,
    )
    out = conv(x)
    assert out.dtype == np.float32 and out.data.flags.c_contiguous
    out.sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32
    first = conv.weight.grad.copy()
    conv(x).sum().backward()
    np.testing.assert_allclose(conv.weight.grad, 2 * first, rtol=1e-6)
    np.testing.assert_allclose(conv.bias.grad, np.full(4, 2 * 3 * 25), rtol=1e-6)
    with no_grad():
        assert not conv(x).requires_grad


@pytest.mark.torch
@needs_torch
def test_conv2d_weights_copy_from_torch_unchanged():
    ref = torch.nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=(1, 0), dtype=torch.float64)
    conv = nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=(1, 0), dtype=np.float64)
    conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7))
    _assert_close(conv(Tensor(x)).data, ref(_t(x)).detach().numpy(), "Conv2d vs nn.Conv2d")


def test_pool_layers_default_stride_and_repr():
    mp, ap = nn.MaxPool2d(2), nn.AvgPool2d((3, 2), stride=1, padding=1)
    assert mp.stride == (2, 2) and mp.num_parameters() == 0
    assert repr(mp) == "MaxPool2d(kernel 2x2, stride 2x2)"
    assert repr(ap) == "AvgPool2d(kernel 3x2, stride 1x1, padding 1x1)"
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    np.testing.assert_array_equal(mp(x).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # count_include_pad: a corner window of AvgPool2d(3, 1, 1) holds 4 real values of 9
    ones = Tensor(np.ones((1, 1, 3, 3)))
    assert F.avg_pool2d(ones, 3, 1, 1).data[0, 0, 0, 0] == pytest.approx(4 / 9)


def test_max_pool_ties_route_to_the_first_maximum():
    x = Tensor(np.array([[[[1.0, 3, 3], [3, 2, 3], [0, 3, 1]]]]), requires_grad=True)
    F.max_pool2d(x, 2, 1).sum().backward()
    # windows (row-major): [[1,3],[3,2]] → (0,1); [[3,3],[2,3]] → (0,1); [[3,2],[0,3]] → (1,0);
    # [[2,3],[3,1]] → (1,2): the first maximum of each, as torch picks
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


# --------------------------------------------------------------------------- BatchNorm layers
def test_batchnorm_defaults_modes_and_running_stats():
    bn = nn.BatchNorm2d(3)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]  # buffers are not params
    np.testing.assert_array_equal(bn.weight.data, 1)
    np.testing.assert_array_equal(bn.bias.data, 0)
    assert repr(bn) == "BatchNorm2d(3): 6 parameters"
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2)).astype(np.float32) * 3 + 1
    y = bn(Tensor(x)).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, rtol=1e-3)  # biased var normalises
    m = 16
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    unbiased = x.var(axis=(0, 2, 3)) * m / (m - 1)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * unbiased, rtol=1e-5)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    before = bn.running_mean.copy()
    y = bn(Tensor(x)).data  # eval: running statistics, no update
    np.testing.assert_array_equal(bn.running_mean, before)
    expected = (x - bn.running_mean[:, None, None]) / np.sqrt(bn.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    # one value per channel is fine in eval mode (no batch statistics needed)
    assert bn(Tensor(x[:1, :, :1, :1])).shape == (1, 3, 1, 1)
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_var == 1)


def test_batchnorm_state_dict_round_trip_includes_running_stats():
    rng = np.random.default_rng(0)
    src = nn.BatchNorm1d(4, momentum=0.2)
    for _ in range(3):
        src(Tensor(rng.standard_normal((8, 4)) * 2 + 1)).sum().backward()
    src.weight.data = rng.uniform(0.5, 2, 4).astype(np.float32)
    sd = src.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"] == 3 and sd["num_batches_tracked"].dtype == np.int64
    sd["running_mean"][:] = 99  # a copy
    assert not np.any(src.running_mean == 99)
    sd = src.state_dict()
    dst = nn.BatchNorm1d(4, momentum=0.2)
    assert dst.load_state_dict(sd) == ([], [])
    for key in sd:
        np.testing.assert_array_equal(dst.state_dict()[key], sd[key])
    x = Tensor(rng.standard_normal((5, 4)))
    np.testing.assert_array_equal(src.eval()(x).data, dst.eval()(x).data)
    sd["running_var"][:] = -1  # the loaded arrays are not aliased either
    assert np.all(dst.running_var > 0)


def test_batchnorm_load_state_dict_checks_before_writing():
    bn = nn.BatchNorm2d(3)
    sd = bn.state_dict()
    del sd["running_var"]
    with pytest.raises(nn.StateDictError, match=r"missing keys: \['running_var'\]"):
        bn.load_state_dict(sd)
    sd["running_mean"] = np.full(3, 5.0)
    assert bn.load_state_dict(sd, strict=False).missing_keys == ["running_var"]
    np.testing.assert_array_equal(bn.running_mean, 5.0)
    sd = bn.state_dict()
    sd["running_var"] = np.ones(4)
    sd["weight"] = np.full(3, 7.0)
    with pytest.raises(ShapeError, match=r"'running_var'.*\(3,\).*\(4,\)"):
        bn.load_state_dict(sd)
    assert not np.any(bn.weight.data == 7.0)  # nothing written
    sd["running_var"] = np.ones(3)
    sd["bias"] = np.ones(4)
    with pytest.raises(ShapeError, match="'bias'"):
        bn.load_state_dict(sd)
    np.testing.assert_array_equal(bn.running_var, 1.0)
    untracked = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert untracked.state_dict() == {} and untracked.num_parameters() == 0


@pytest.mark.torch
@needs_torch
def test_batchnorm_loads_a_torch_state_dict():
    ref = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    for _ in range(2):
        ref(_t(x * 2 + 1))
    bn = nn.BatchNorm2d(3, dtype=np.float64)
    bn.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    _assert_close(bn.eval()(Tensor(x)).data, ref.eval()(_t(x)).detach().numpy(), "eval output")


def test_nested_batchnorm_running_stats_are_in_the_parents_state_dict():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    model(Tensor(np.random.default_rng(0).standard_normal((4, 1, 5, 5))))
    sd = model.state_dict()
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked"} <= set(sd)
    assert int(sd["1.num_batches_tracked"]) == 1
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh[1].running_var, model[1].running_var)
    assert [k for k, _ in fresh.named_buffers()] == [
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    bad = dict(sd, **{"1.running_mean": np.zeros(3)})
    with pytest.raises(ShapeError, match="buffer has shape"):
        fresh.load_state_dict(bad)


def test_batchnorm_layer_gradcheck_through_parameters():
    bn = nn.BatchNorm1d(3, dtype=np.float64)
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3, 2)), requires_grad=True)

    def f(x, w, b):
        bn.weight, bn.bias = w, b
        return bn(x)

    assert gradcheck(f, [x, bn.weight, bn.bias])


# --------------------------------------------------------------------------- Dropout
def test_dropout_eval_is_identity_and_train_scales_kept_values():
    x = Tensor(np.random.default_rng(0).uniform(1, 2, (50, 40)), requires_grad=True)
    layer = nn.Dropout(0.25, rng=0)
    assert repr(layer) == "Dropout(p=0.25)"
    layer.eval()
    assert layer(x) is x
    layer.train()
    y = layer(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], x.data[kept] / 0.75, rtol=1e-6)
    assert 0.2 < 1 - kept.mean() < 0.3
    y.sum().backward()
    np.testing.assert_allclose(x.grad, kept / 0.75, rtol=1e-6)
    assert nn.Dropout(0.0)(x) is x and F.dropout(x, 0.5, training=False) is x


def test_dropout_is_seeded_and_draws_fresh_masks():
    x = Tensor(np.ones((6, 7)))
    a, b = nn.Dropout(0.5, rng=3), nn.Dropout(0.5, rng=3)
    first, again = a(x).data, b(x).data
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, a(x).data)  # the next call draws a new mask
    np.testing.assert_array_equal(F.dropout(x, 0.5, rng=3).data, first)
    assert F.dropout(Tensor(np.ones(4, np.float32)), 0.5, rng=0).dtype == np.float32


def test_dropout_preserves_the_mean():
    x = Tensor(np.ones(200_000, np.float32))
    for p in (0.1, 0.5, 0.9):
        y = F.dropout(x, p, rng=int(p * 10)).data
        # mean of 200k i.i.d. values with sd √(p/(1-p)); 5 standard errors of slack
        assert abs(y.mean() - 1) < 5 * math.sqrt(p / (1 - p) / x.size)
        assert abs((y == 0).mean() - p) < 0.01


# --------------------------------------------------------------------------- Flatten, Embedding
def test_flatten_layer():
    x = Tensor(np.arange(24.0).reshape(2, 3, 2, 2), requires_grad=True)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 2, 2)
    assert nn.Flatten(-2)(x).shape == (2, 3, 4)
    nn.Flatten()(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3, 2, 2)))
    with pytest.raises(ShapeError, match=r"Flatten\(start_dim=1, end_dim=-1\).*shape \(5,\)"):
        nn.Flatten()(Tensor(np.zeros(5)))
    with pytest.raises(ShapeError, match="Flatten"):
        nn.Flatten(2, 1)(x)


def test_embedding_lookup_and_repeated_indices_accumulate():
    emb = nn.Embedding(5, 3, rng=0)
    assert emb.weight.shape == (5, 3) and repr(emb) == "Embedding(5, 3): 15 parameters"
    np.testing.assert_array_equal(emb.weight.data, nn.Embedding(5, 3, rng=0).weight.data)
    out = emb(IDX)
    assert out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[IDX])
    g = np.arange(24.0).reshape(2, 4, 3)
    out.backward(g)
    expected = np.zeros((5, 3))
    for pos, row in np.ndenumerate(IDX):
        expected[row] += g[pos]
    np.testing.assert_allclose(emb.weight.grad, expected)
    np.testing.assert_allclose(emb.weight.grad[3], g[0, 1] + g[0, 2] + g[1, 0] + g[1, 3])
    assert emb([4, 4]).shape == (2, 3) and emb(np.int64(2)).shape == (3,)
    assert emb(Tensor([1.0, 2.0])).shape == (2, 3)  # a Tensor of whole numbers


# --------------------------------------------------------------------------- bad input
def test_layer_shape_errors_name_the_layer_and_shapes():
    x = Tensor(np.zeros((2, 4, 8, 8), np.float32))
    msg = (
        "Conv2d(3 -> 8, kernel 3x3): expected input of shape (3, H, W) or (N, 3, H, W), "
        "got (2, 4, 8, 8)"
    )
    with pytest.raises(ShapeError) as err:
        nn.Conv2d(3, 8, 3)(x)
    assert str(err.value) == msg
    with pytest.raises(
        ShapeError, match=r"Conv2d\(4 -> 2, kernel 3x3\).*\(N, 4, H, W\), got \(8, 8\)"
    ):
        nn.Conv2d(4, 2, 3)(Tensor(np.zeros((8, 8))))  # (C, H, W) is fine, as in torch
    with pytest.raises(ShapeError) as err:
        nn.BatchNorm2d(8)(x)
    assert (
        str(err.value) == "BatchNorm2d(8): expected input of shape (N, 8, H, W), got (2, 4, 8, 8)"
    )
    with pytest.raises(
        ShapeError, match=r"BatchNorm1d\(4\).*\(N, 4\) or \(N, 4, L\), got \(2, 4, 8, 8\)"
    ):
        nn.BatchNorm1d(4)(x)
    with pytest.raises(
        ShapeError, match=r"MaxPool2d\(kernel 2x2, stride 2x2\).*\(N, C, H, W\), got \(8, 8\)"
    ):
        nn.MaxPool2d(2)(Tensor(np.zeros((8, 8))))
    with pytest.raises(ShapeError, match=r"conv2d: weight must have shape"):
        F.conv2d(x, Tensor(np.zeros((3, 3))))
    with pytest.raises(ShapeError, match=r"conv2d: bias must have shape \(2,\), got \(3,\)"):
        F.conv2d(x, Tensor(np.zeros((2, 4, 3, 3))), Tensor(np.zeros(3)))
    with pytest.raises(ShapeError, match=r"batch_norm: weight must have shape \(4,\)"):
        F.batch_norm(x, None, None, Tensor(np.ones(3)), training=True)


def test_input_smaller_than_kernel_is_a_clear_error():
    small = Tensor(np.zeros((1, 1, 3, 2)))
    with pytest.raises(ShapeError) as err:
        nn.Conv2d(1, 1, 5)(small)
    text = str(err.value)
    assert (
        "Conv2d(1 -> 1, kernel 5x5)" in text
        and "3x2" in text
        and "smaller than the kernel 5x5" in text
    )
    assert nn.Conv2d(1, 1, 5, padding=2)(small).shape == (1, 1, 3, 2)  # padding makes it fit
    with pytest.raises(ShapeError, match=r"AvgPool2d.*smaller than the kernel 3x3"):
        nn.AvgPool2d(3)(small)
    with pytest.raises(ShapeError, match="max_pool2d.*smaller than the kernel"):
        F.max_pool2d(small, 4)


def test_constructor_arguments_are_validated():
    for bad in (0, (3, 0), -1):
        with pytest.raises(ValueError, match="kernel_size must be >= 1"):
            nn.Conv2d(1, 1, bad)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        F.conv2d(Tensor(np.zeros((1, 1, 3, 3))), Tensor(np.zeros((1, 1, 1, 1))), padding=-1)
    for bad in ("3", 2.5, (1, 2, 3), True):
        with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
            nn.Conv2d(1, 1, bad)
    with pytest.raises(ValueError, match="channel counts must be positive"):
        nn.Conv2d(0, 3, 3)
    with pytest.raises(ValueError, match=r"padding 2x2 must be at most half the kernel 3x3"):
        nn.MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match="at most half"):
        F.avg_pool2d(Tensor(np.zeros((1, 1, 4, 4))), 2, padding=(0, 2))
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
            nn.Dropout(p)
    with pytest.raises(TypeError, match="p must be a number"):
        F.dropout(Tensor(np.ones(3)), "0.5")
    with pytest.raises(ValueError, match="num_features must be positive"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm2d(3, momentum=1.5)
    with pytest.raises(ValueError, match="sizes must be positive"):
        nn.Embedding(0, 3)


def test_batchnorm_training_needs_more_than_one_value_per_channel():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(
        ShapeError,
        match=r"BatchNorm1d\(3\): training needs more than one value per channel.*\(1, 3\)",
    ):
        bn(Tensor(np.zeros((1, 3))))
    assert int(bn.num_batches_tracked) == 0  # a failed call changes nothing
    assert bn(Tensor(np.zeros((1, 3, 2)))).shape == (1, 3, 2)  # N = 1 but L = 2 is fine


def test_embedding_rejects_bad_indices():
    emb = nn.Embedding(10, 4)
    with pytest.raises(IndexError) as err:
        emb(np.array([[1, 2], [12, 3]]))
    assert str(err.value) == (
        "Embedding(10, 4): index 12 is out of range for num_embeddings = 10 (indices must be in [0, 9])"
    )
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb([3, -1])  # no silent wrap-around
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        emb(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="non-integers"):
        emb(Tensor([0.5]))
    with pytest.raises(IndexError, match=r"embedding: index 5 .* num_embeddings = 5"):
        F.embedding([5], Tensor(np.zeros((5, 2))))


# --------------------------------------------------------------------------- a small CNN
def test_small_cnn_trains():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 0, 4:].mean(axis=(1, 2))).astype(int)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Dropout(0.1, rng=0),
        nn.Flatten(),
        nn.Linear(64, 2, rng=0),
    )
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = nn.cross_entropy(model(Tensor(x)), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    acc = (model(Tensor(x)).data.argmax(axis=1) == y).mean()
    assert acc > 0.9
