"""Muon against torch.optim.Muon (torch 2.13) and optax.contrib.muon (Optax 0.2.8).

- torch runs its Newton–Schulz iteration in bfloat16; ours runs in the parameter's dtype.
  The rtol-1e-10 comparisons therefore run torch's own ``_zeropower_via_newtonschulz``
  with its one ``grad.bfloat16()`` replaced by ``grad.clone()`` (torch's code otherwise
  unchanged, float64); :func:`test_torch_bfloat16_agrees_to_bfloat16_precision` runs
  torch unmodified and checks the first steps agree to ~bfloat16 precision.
- Fixtures ``tests/fixtures/{torch,optax}_muon.npz`` (``scripts/make_muon_fixtures.py``):
  150 float64 steps of random gradients on three 2-D parameters (wide, tall, square) for
  cases with random hyperparameters (every option: nesterov, weight decay, every
  ``adjust_lr_fn`` / ``consistent_rms``, ``adaptive``, maximize, momentum on both sides
  of 0.5, other NS coefficients and steps, eps), with the learning rate changed
  mid-run; rtol 1e-10. Live tests draw new hyperparameters every run (hypothesis).
- Invariants: the Newton–Schulz iteration against a plain-numpy transcription of its
  equation and against U·Vᵀ; exact ``state_dict`` resume; float32; the 2-D-only error;
  the Muon + AdamW recipe; the CLI's refusal on the 2-D playground.
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_opt import Tensor, nn
from tinygrad_opt.optim import AdamW, Muon, create, split_muon_params
from tinygrad_opt.optim.orthogonal import DEFAULT_COEFFICIENTS, newton_schulz
from tinygrad_opt.optim.testing import compare_trajectories, gradient_sequence, initial_params

FIXTURES = Path(__file__).parents[1] / "fixtures"
SHAPES = ((6, 4), (3, 7), (5, 5))  # tall, wide, square
STEPS = 150
SAVED = sorted({1, 2, 3, 4, 5, *range(10, STEPS + 1, 10)})
TOL = dict(rtol=1e-10, atol=1e-12)
CONVERGENT = (1.875, -1.25, 0.375)  # p(σ) = (15σ - 10σ³ + 3σ⁵)/8: p(1) = 1, p'(1) = 0


# --------------------------------------------------------------------------- configurations
def random_config(rng: np.random.Generator, variant: str) -> dict:
    """Random hyperparameters covering every option of ``variant``, plus a lr change:
    ``{"kwargs": ours, "lr_change": [k, f]}`` (the lr is multiplied by f after step k)."""
    kw: dict = {
        "lr": float(np.exp(rng.uniform(np.log(1e-3), np.log(5e-2)))),
        "weight_decay": float(rng.choice([0.0, rng.uniform(0.01, 0.3)])),
        "momentum": float(rng.uniform(0.3, 0.99)),  # both forms of torch.lerp
        "nesterov": bool(rng.integers(2)),
        "adjust_lr_fn": [None, "original", "match_rms_adamw"][rng.integers(3)],
        "ns_steps": int(rng.integers(1, 7)),
        "maximize": bool(rng.integers(2)),
    }
    if rng.random() < 0.3:
        kw["ns_coefficients"] = list(CONVERGENT)
    if variant == "optax":
        kw["variant"] = "optax"
        kw["eps"] = float(rng.choice([1e-8, 1e-3]))
        kw["adaptive"] = bool(rng.integers(2))
    else:
        kw["eps"] = float(rng.choice([1e-7, 1e-3]))
    change = [int(rng.integers(30, 100)), float(rng.choice([0.1, 0.5, 3.0]))]
    return {"kwargs": kw, "lr_change": change}


def ours_trajectory(config: dict, params0, grads, dtype=np.float64) -> list[list[np.ndarray]]:
    params = [Tensor(np.array(p, dtype=dtype), requires_grad=True) for p in params0]
    opt = Muon(params, **config["kwargs"])
    k, f = config["lr_change"]
    out = []
    for t, gs in enumerate(grads, start=1):
        if t == k + 1:
            for group in opt.param_groups:
                group["lr"] *= f
        for p, g in zip(params, gs):
            p.grad = np.array(g, dtype=dtype)
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


def torch_float64_newton_schulz():
    """torch's ``_zeropower_via_newtonschulz`` with its bfloat16 cast removed."""
    import torch
    import torch.optim._muon as tm

    source = inspect.getsource(tm._zeropower_via_newtonschulz)
    assert source.count("grad.bfloat16()") == 1, "torch's Newton-Schulz changed"
    namespace = {"torch": torch, "Tensor": torch.Tensor}
    exec(source.replace("grad.bfloat16()", "grad.clone()"), namespace)
    return namespace["_zeropower_via_newtonschulz"]


def torch_trajectory(config: dict, params0, grads, bfloat16: bool = False):
    """torch.optim.Muon on the same gradients (negated for maximize: torch has none)."""
    import torch
    import torch.optim._muon as tm

    kw = dict(config["kwargs"])
    sign = -1.0 if kw.pop("maximize", False) else 1.0
    assert kw.pop("variant", "torch") == "torch"
    kw["ns_coefficients"] = tuple(kw.get("ns_coefficients", DEFAULT_COEFFICIENTS))
    params = [torch.tensor(np.array(p, dtype=np.float64), requires_grad=True) for p in params0]
    original = tm._zeropower_via_newtonschulz
    if not bfloat16:
        tm._zeropower_via_newtonschulz = torch_float64_newton_schulz()
    try:
        opt = torch.optim.Muon(params, **kw)
        k, f = config["lr_change"]
        out = []
        for t, gs in enumerate(grads, start=1):
            if t == k + 1:
                for group in opt.param_groups:
                    group["lr"] *= f
            for p, g in zip(params, gs):
                p.grad = torch.tensor(sign * np.asarray(g, dtype=np.float64))
            opt.step()
            out.append([p.detach().numpy().copy() for p in params])
    finally:
        tm._zeropower_via_newtonschulz = original
    return out


def optax_trajectory(config: dict, params0, grads):
    """optax.contrib.muon (jax float64), the lr change as a piecewise-constant schedule."""
    import jax
    import jax.numpy as jnp
    import optax

    jax.config.update("jax_enable_x64", True)
    kw = config["kwargs"]
    k, f = config["lr_change"]
    opt = optax.contrib.muon(
        optax.piecewise_constant_schedule(kw["lr"], {k: f}),
        ns_coeffs=tuple(kw.get("ns_coefficients", DEFAULT_COEFFICIENTS)),
        ns_steps=kw["ns_steps"],
        beta=kw["momentum"],
        eps=kw["eps"],
        weight_decay=kw["weight_decay"],
        nesterov=kw["nesterov"],
        adaptive=kw["adaptive"],
        consistent_rms=0.2 if kw["adjust_lr_fn"] == "match_rms_adamw" else None,
    )
    sign = -1.0 if kw["maximize"] else 1.0
    params = [jnp.asarray(np.array(p, dtype=np.float64)) for p in params0]
    state = opt.init(params)
    update = jax.jit(opt.update)
    out = []
    for gs in grads:
        updates, state = update([jnp.asarray(sign * g) for g in gs], state, params)
        params = optax.apply_updates(params, updates)
        out.append([np.asarray(p, dtype=np.float64) for p in params])
    return out


def _data(seed: int, steps: int = STEPS):
    return gradient_sequence(SHAPES, steps, seed), initial_params(SHAPES, seed + 1)


# --------------------------------------------------------------------------- fixtures
def _fixture_cases():
    out = []
    for ref in ("torch", "optax"):
        if not (FIXTURES / f"{ref}_muon.npz").exists():  # being made by the script
            continue
        with np.load(FIXTURES / f"{ref}_muon.npz") as d:
            out += [(ref, i, case) for i, case in enumerate(json.loads(str(d["cases"])))]
    return out


@pytest.mark.parametrize("ref, index, case", _fixture_cases(), ids=lambda x: str(x))
def test_matches_fixture(ref, index, case):
    with np.load(FIXTURES / f"{ref}_muon.npz") as d:
        data = {k: d[k] for k in d.files}
    grads = [[data[f"grads/{i}"][t] for i in range(len(SHAPES))] for t in range(STEPS)]
    params0 = [data[f"{index}/init/{i}"] for i in range(len(SHAPES))]
    ours = ours_trajectory(case, params0, grads)
    steps = [int(s) for s in data["steps"]]
    n = len(SHAPES)
    ref_traj = [[data[f"{index}/traj/{i}"][j] for i in range(n)] for j in range(len(steps))]
    compare_trajectories([ours[s - 1] for s in steps], ref_traj, **TOL)


# --------------------------------------------------------------------------- live references
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_matches_torch_live(seed):
    pytest.importorskip("torch")
    config = random_config(np.random.default_rng(seed), "torch")
    grads, params0 = _data(seed % 1000, 100)
    compare_trajectories(
        ours_trajectory(config, params0, grads), torch_trajectory(config, params0, grads), **TOL
    )


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_matches_optax_live(seed):
    pytest.importorskip("optax")
    config = random_config(np.random.default_rng(seed), "optax")
    grads, params0 = _data(seed % 1000, 100)
    compare_trajectories(
        ours_trajectory(config, params0, grads), optax_trajectory(config, params0, grads), **TOL
    )


def test_matches_torch_with_param_groups():
    torch = pytest.importorskip("torch")
    import torch.optim._muon as tm

    grads, params0 = _data(3, 100)
    groups_hp = [dict(lr=0.02, momentum=0.9), dict(lr=0.005, weight_decay=0.0, nesterov=False)]
    ours_p = [Tensor(p.copy(), requires_grad=True) for p in params0]
    theirs_p = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
    ours = Muon([{"params": ours_p[:2], **groups_hp[0]}, {"params": ours_p[2:], **groups_hp[1]}])
    original = tm._zeropower_via_newtonschulz
    tm._zeropower_via_newtonschulz = torch_float64_newton_schulz()
    try:
        theirs = torch.optim.Muon(
            [{"params": theirs_p[:2], **groups_hp[0]}, {"params": theirs_p[2:], **groups_hp[1]}]
        )
        for gs in grads:
            for a, b, g in zip(ours_p, theirs_p, gs):
                a.grad, b.grad = g.copy(), torch.tensor(g)
            ours.step()
            theirs.step()
            compare_trajectories(
                [[p.data for p in ours_p]], [[p.detach().numpy() for p in theirs_p]], **TOL
            )
    finally:
        tm._zeropower_via_newtonschulz = original


@pytest.mark.parametrize("adjust_lr_fn", [None, "match_rms_adamw"])
def test_torch_bfloat16_agrees_to_bfloat16_precision(adjust_lr_fn):
    """Unmodified torch (bfloat16 Newton–Schulz): the first steps' updates agree to ~2%."""
    pytest.importorskip("torch")
    shapes = ((64, 32), (32, 48))
    grads = gradient_sequence(shapes, 3, seed=5)
    params0 = initial_params(shapes, 6)
    config = {"kwargs": dict(lr=0.02, adjust_lr_fn=adjust_lr_fn), "lr_change": [99, 1.0]}
    ours = ours_trajectory(config, params0, grads)
    theirs = torch_trajectory(config, params0, grads, bfloat16=True)
    before = params0
    for a_step, b_step in zip(ours, theirs):
        for a, b, p in zip(a_step, b_step, before):
            rel = np.linalg.norm(a - b) / np.linalg.norm(b - p)
            assert rel < 0.05, rel
        before = b_step


# --------------------------------------------------------------------------- errors
def test_rejects_non_matrix_parameters_like_torch():
    with pytest.raises(ValueError, match=r"size: \(5,\) \(parameter 1\)"):
        Muon([Tensor(np.zeros((2, 3))), Tensor(np.zeros(5))])
    with pytest.raises(ValueError, match=r"size: \(2, 3, 4\) \(parameter 'conv.weight'\)"):
        Muon(
            [("fc.weight", Tensor(np.zeros((2, 3)))), ("conv.weight", Tensor(np.zeros((2, 3, 4))))]
        )  # noqa: E501
    with pytest.raises(ValueError, match=r"size: \(\)"):
        Muon([Tensor(np.zeros(()))])
    opt = Muon([Tensor(np.zeros((2, 3)))])
    with pytest.raises(ValueError, match=r"size: \(4,\) \(parameter 1\)"):
        opt.add_param_group({"params": [Tensor(np.zeros(4))]})
    assert len(opt.param_groups) == 1
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="2D parameters"):  # the same class as torch
        torch.optim.Muon([torch.zeros(5)])


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(adjust_lr_fn="rms"), "Adjust learning rate function rms is not supported"),
        (dict(ns_steps=100), "Invalid ns_steps: 100"),
        (dict(ns_steps=2.0), "Invalid ns_steps: 2.0"),
        (dict(variant="jax"), "Invalid variant: 'jax'"),
        (dict(adaptive=True), "Invalid adaptive: True"),
        (dict(lr=-1.0), "Invalid learning rate: -1.0"),
        (dict(momentum=-0.5), "Invalid momentum value: -0.5"),
        (dict(momentum=1.0, variant="optax"), "Invalid momentum value: 1.0"),
        (dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
        (dict(eps=-1e-7), "Invalid epsilon value: -1e-07"),
        (dict(ns_coefficients=(1.0, 2.0)), r"Invalid ns_coefficients: \(1.0, 2.0\)"),
    ],
)
def test_invalid_hyperparameters(kwargs, text):
    with pytest.raises(ValueError, match=text):
        Muon([Tensor(np.zeros((2, 3)))], **kwargs)


def test_compare_cli_refuses_muon_in_one_line(capsys):
    """The playground's point is a 2-vector: Muon refuses it (exit 2, one line, no
    traceback) rather than silently treating it as a 1×2 matrix."""
    from tinygrad_opt.cli import main

    code = main(["compare", "--function", "rosenbrock", "--optimizers", "muon", "--steps", "50"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'muon' steps 2-D weight matrices only" in err and "2-vector" in err
    # the library's own error, through the playground's Python API
    from tinygrad_opt import playground

    with pytest.raises(ValueError, match=r"Muon only supports 2D parameters .* \(2,\)"):
        playground.run("rosenbrock", ["muon"], steps=5)


# --------------------------------------------------------------------------- state, dtypes, names
@pytest.mark.parametrize("variant", ["torch", "optax"])
def test_state_dict_resumes_exactly(variant):
    grads, params0 = _data(7, 20)
    kw = dict(lr=0.01, variant=variant, nesterov=True, weight_decay=0.05)

    def make(ps):
        return Muon(ps, **kw)

    full = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = make(full)
    first = [Tensor(p.copy(), requires_grad=True) for p in params0]
    opt_first = make(first)
    for t, gs in enumerate(grads):
        for p, g in zip(full, gs):
            p.grad = g.copy()
        opt.step()
        if t < 10:
            for p, g in zip(first, gs):
                p.grad = g.copy()
            opt_first.step()
    saved = opt_first.state_dict()
    assert saved["state"][0]["step"] == 10 and isinstance(saved["state"][0]["step"], int)
    resumed = [Tensor(p.data.copy(), requires_grad=True) for p in first]
    opt_resumed = make(resumed)
    opt_resumed.load_state_dict(saved)
    for gs in grads[10:]:
        for p, g in zip(resumed, gs):
            p.grad = g.copy()
        opt_resumed.step()
    for a, b in zip(resumed, full):
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("variant", ["torch", "optax"])
def test_float32_runs_in_float32(variant):
    grads, params0 = _data(9, 30)
    config = {"kwargs": dict(lr=0.02, variant=variant), "lr_change": [15, 0.5]}
    f32 = ours_trajectory(config, params0, grads, dtype=np.float32)
    f64 = ours_trajectory(config, params0, grads)
    assert all(p.dtype == np.float32 and np.isfinite(p).all() for p in f32[-1])
    for a, b in zip(f32[-1], f64[-1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    p = Tensor(params0[0].astype(np.float32), requires_grad=True)
    opt = Muon([p], variant=variant)
    p.grad = grads[0][0].astype(np.float32)
    opt.step()
    assert opt.state[p]["momentum_buffer"].dtype == np.float32


def test_maximize_is_minimizing_the_negated_gradient():
    grads, params0 = _data(11, 20)
    for variant in ("torch", "optax"):
        up = {"kwargs": dict(lr=0.01, maximize=True, variant=variant), "lr_change": [99, 1.0]}
        down = {"kwargs": dict(lr=0.01, variant=variant), "lr_change": [99, 1.0]}
        neg = [[-g for g in gs] for gs in grads]
        a, b = ours_trajectory(up, params0, grads), ours_trajectory(down, params0, neg)
        assert all(np.array_equal(x, y) for sa, sb in zip(a, b) for x, y in zip(sa, sb))


def test_registry_names_and_memory():
    p = Tensor(np.zeros((4, 3)), requires_grad=True)
    assert create("muon", [p]).defaults["variant"] == "torch"
    optax_style = create("muon_optax", [p]).defaults
    assert (optax_style["variant"], optax_style["eps"], optax_style["weight_decay"]) == (
        "optax",
        1e-8,
        0.0,
    )
    from tinygrad_opt.optim.memory import measure

    row = measure("muon", shapes=((256, 256),))
    assert row.state_arrays == ["momentum_buffer"] and row.per_parameter == 1.0


# --------------------------------------------------------------------------- Newton–Schulz
def plain_newton_schulz(g, coefficients, steps, eps, add=False):
    """The docstring's equation, transcribed: X₀ = G / max(‖G‖, ε) (or ‖G‖ + ε),
    X ← aX + (bA + cA²)X with A = XXᵀ, on the wide orientation."""
    a, b, c = coefficients
    tall = g.shape[0] > g.shape[1]
    x = g.T if tall else g
    norm = np.linalg.norm(x)
    x = x / (norm + eps if add else max(norm, eps))
    for _ in range(steps):
        A = x @ x.T
        x = a * x + (b * A + c * A @ A) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(7, 7), (5, 9), (9, 5), (1, 6), (6, 1), (40, 13)])
@pytest.mark.parametrize("add", [False, True])
def test_newton_schulz_matches_its_equation(shape, add):
    g = np.random.default_rng(0).standard_normal(shape)
    cases = ((DEFAULT_COEFFICIENTS, 5), (CONVERGENT, 3), (DEFAULT_COEFFICIENTS, 0))
    for coefficients, steps in cases:
        ours = newton_schulz(g, coefficients, steps, 1e-7, eps_mode="add" if add else "clamp")
        np.testing.assert_allclose(
            ours, plain_newton_schulz(g, coefficients, steps, 1e-7, add), rtol=1e-12, atol=1e-13
        )
    # transposing the input transposes the output
    np.testing.assert_allclose(newton_schulz(g.T), newton_schulz(g).T, rtol=1e-13, atol=1e-14)


def test_newton_schulz_singular_values():
    rng = np.random.default_rng(1)
    g = rng.standard_normal((64, 32)) @ np.diag(np.exp(rng.uniform(-2, 0, 32)))  # cond ≈ e²·…
    u, s, vt = np.linalg.svd(g, full_matrices=False)
    # Jordan's coefficients: every singular value lands near 1 (in ~[0.6, 1.25]),
    # singular vectors kept: O·V = U·diag(σ')
    sigma = np.linalg.svd(newton_schulz(g), compute_uv=False)
    assert sigma.min() > 0.6 and sigma.max() < 1.25, sigma
    o = newton_schulz(g)
    core = u.T @ o @ vt.T  # diagonal: σ' on the diagonal, nothing else
    np.testing.assert_allclose(core, np.diag(np.diag(core)), atol=1e-10)
    # a convergent iteration (p(1) = 1, p'(1) = 0) reaches U·Vᵀ itself
    o = newton_schulz(g, CONVERGENT, 40)
    np.testing.assert_allclose(o, u @ vt, atol=1e-10)


def test_newton_schulz_dtypes_out_and_zero():
    g = np.random.default_rng(2).standard_normal((12, 20)).astype(np.float32)
    o = newton_schulz(g)
    assert o.dtype == np.float32
    np.testing.assert_allclose(o, newton_schulz(g.astype(np.float64)), rtol=1e-4, atol=1e-5)
    h = g.copy()
    assert newton_schulz(h, out=h) is h and np.array_equal(h, o)  # in place
    assert not newton_schulz(np.zeros((3, 4))).any()  # ‖G‖ = 0: clamped by ε, zero out
    with pytest.raises(ValueError, match="2-D"):
        newton_schulz(np.zeros(4))


# --------------------------------------------------------------------------- the recipe
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 8, rng=0)
        self.hidden = nn.Linear(8, 16, rng=1)
        self.norm = nn.LayerNorm(16)
        self.head = nn.Linear(16, 3, rng=2)

    def forward(self, idx):
        return self.head(self.norm(self.hidden(self.embed(idx)).tanh()))


def test_split_muon_params_and_the_two_optimizer_recipe():
    model = _Net()
    hidden, other = split_muon_params(model, exclude=["head"])
    assert [n for n, _ in hidden] == ["hidden.weight"]
    assert sorted(n for n, _ in other) == sorted(
        ["embed.weight", "hidden.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"]
    )
    # from named_parameters() alone the embedding is only known by name
    hidden2, _ = split_muon_params(model.named_parameters(), exclude=["head", "embed"])
    assert [n for n, _ in hidden2] == ["hidden.weight"]
    opts = [Muon(hidden, lr=0.02), AdamW(other, lr=3e-3)]
    idx = np.arange(10) % 10
    y = np.arange(10) % 3
    losses = []
    for _ in range(30):
        loss = nn.cross_entropy(model(Tensor(idx)), y)
        for opt in opts:
            opt.zero_grad()
        loss.backward()
        for opt in opts:
            opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0] and math.isfinite(losses[-1])
