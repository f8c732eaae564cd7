"""Cost of second derivatives, as ratios measured in one run.

    python benchmarks/bench_curvature.py [--quick] [--only SECTION ...]

1. ``mlp``: an MLP 784-256-256-10 (ReLU, softmax cross-entropy, batch 128, float32).
2. ``transformer``: one ``TransformerEncoderLayer`` (d_model 128, 4 heads, feed-forward
   512, context 64, batch 16, float32, dropout 0 so every call computes the same function),
   MSE loss against a random target.

   For both: the time of one gradient (forward + backward, numpy path) and of one
   Hessian-vector product with respect to all parameters (forward, the recorded
   backward with ``create_graph=True``, and a backward through it with ``v`` as the
   upstream gradient). The goal is HVP ≤ 4 × gradient. torch's ratio
   (``torch.autograd.grad`` twice) is measured in the same run for context.
3. ``eigen``: the top Hessian eigenvalue of a 784-128-10 MLP's loss (101,770 parameters,
   batch 256, float64 Lanczos vectors), with ``tinygrad_opt.curvature``: seconds and the
   number of Hessian-vector products.

Timings run in blocks with pauses and rotating order (see ``bench_engine.py``); medians.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import blocks, torch_threads  # noqa: E402

from tinygrad_opt import Tensor, nn  # noqa: E402
from tinygrad_opt.autograd import grad  # noqa: E402


def _ours_pair(loss_fn: Callable[[], Tensor], params: list) -> dict[str, Callable[[], object]]:
    vs = [Tensor(np.random.default_rng(1).standard_normal(p.shape).astype(p.dtype)) for p in params]

    def gradient():
        return grad(loss_fn(), params)

    def hvp():
        gs = grad(loss_fn(), params, create_graph=True)
        return grad(gs, params, vs)

    return {"ours grad": gradient, "ours hvp": hvp}


def _torch_pair(torch, loss_fn, params) -> dict[str, Callable[[], object]]:
    gen = torch.Generator().manual_seed(1)
    vs = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]

    def gradient():
        return torch.autograd.grad(loss_fn(), params)

    def hvp():
        gs = torch.autograd.grad(loss_fn(), params, create_graph=True)
        return torch.autograd.grad(gs, params, vs)

    return {"torch grad": gradient, "torch hvp": hvp}


def _torch():
    try:
        import torch
    except ImportError:
        print("torch not installed: its ratios are skipped")
        return None
    torch.set_num_threads(torch_threads())
    return torch


def mlp_contenders() -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    model = nn.Sequential(
        nn.Linear(784, 256, rng=0), nn.ReLU(), nn.Linear(256, 256, rng=1), nn.ReLU(),
        nn.Linear(256, 10, rng=2),
    )  # fmt: skip
    params = model.parameters()
    x, target = Tensor(X), Tensor(y)
    contenders = _ours_pair(lambda: nn.functional.cross_entropy(model(x), target), params)
    torch = _torch()
    if torch is not None:
        tmodel = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
            torch.nn.ReLU(), torch.nn.Linear(256, 10),
        )  # fmt: skip
        tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
        tx, ty = torch.from_numpy(X), torch.from_numpy(y)
        tparams = list(tmodel.parameters())
        loss = lambda: torch.nn.functional.cross_entropy(tmodel(tx), ty)  # noqa: E731
        contenders.update(_torch_pair(torch, loss, tparams))
    return contenders


TRANSFORMER = {"d_model": 128, "nhead": 4, "dim_feedforward": 512, "context": 64, "batch": 16}


def transformer_contenders() -> dict[str, Callable[[], object]]:
    cfg = TRANSFORMER
    d, n_ctx, n_batch = cfg["d_model"], cfg["context"], cfg["batch"]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_ctx, n_batch, d)).astype(np.float32)
    Y = rng.standard_normal((n_ctx, n_batch, d)).astype(np.float32)
    layer = nn.TransformerEncoderLayer(d, cfg["nhead"], cfg["dim_feedforward"], dropout=0.0, rng=0)
    params = layer.parameters()
    x, target = Tensor(X), Tensor(Y)
    contenders = _ours_pair(lambda: nn.functional.mse_loss(layer(x), target), params)
    torch = _torch()
    if torch is not None:
        tlayer = torch.nn.TransformerEncoderLayer(d, cfg["nhead"], cfg["dim_feedforward"], 0.0)
        tlayer.load_state_dict({k: torch.from_numpy(v) for k, v in layer.state_dict().items()})
        tx, ty = torch.from_numpy(X), torch.from_numpy(Y)
        tparams = list(tlayer.parameters())
        from torch.nn.attention import SDPBackend, sdpa_kernel

        def loss():
            # torch's fused CPU attention kernel has no double backward: use its math path
            with sdpa_kernel(SDPBackend.MATH):
                return torch.nn.functional.mse_loss(tlayer(tx), ty)

        contenders.update(_torch_pair(torch, loss, tparams))
    return contenders


def eigen_seconds(quick: bool) -> dict[str, float]:
    from tinygrad_opt import curvature

    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 784))
    y = rng.integers(0, 10, 256)
    model = nn.Sequential(nn.Linear(784, 128, rng=0), nn.Tanh(), nn.Linear(128, 10, rng=1))
    model.double()
    n_params = sum(p.numel() for p in model.parameters())
    x, target = Tensor(X), Tensor(y)
    t0 = time.perf_counter()
    result = curvature.hessian_eigenvalues(
        model, nn.functional.cross_entropy, (x, target), k=1,
        max_iter=10 if quick else 100, seed=0,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    return {
        "params": n_params,
        "seconds": seconds,
        "eigenvalue": float(np.asarray(result.eigenvalues)[0]),
        "hvps": int(result.matvecs),
    }


SECTIONS = ("mlp", "transformer", "eigen")


def _ratios(times: dict[str, float]) -> dict[str, float]:
    out = {"ours hvp / grad": times["ours hvp"] / times["ours grad"]}
    if "torch hvp" in times:
        out["torch hvp / grad"] = times["torch hvp"] / times["torch grad"]
        out["ours hvp / torch hvp"] = times["ours hvp"] / times["torch hvp"]
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few rounds (smoke test)")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = ap.parse_args(argv)
    steps, rounds = (4, 2) if args.quick else (30, 5)
    result: dict = {}
    for name, make in (("mlp", mlp_contenders), ("transformer", transformer_contenders)):
        if name not in args.only:
            continue
        times = blocks(make(), steps, rounds, pause=0.0 if args.quick else 0.3)
        result[name] = {"ms": {k: v * 1e3 for k, v in times.items()}, **_ratios(times)}
        print(f"\n== {name}: gradient vs Hessian-vector product (ms, medians)")
        for k, v in times.items():
            print(f"  {k:12s} {v * 1e3:9.2f}")
        for k, v in _ratios(times).items():
            print(f"  {k:22s} {v:6.2f}")
    if "eigen" in args.only:
        e = eigen_seconds(args.quick)
        result["eigen"] = e
        print(f"\n== top Hessian eigenvalue, {e['params']:,} parameters: {e['seconds']:.2f} s, "
              f"{e['hvps']} HVPs, λ_max = {e['eigenvalue']:.4g}")  # fmt: skip
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
