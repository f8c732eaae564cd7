"""Curvature tools' speed on a ~100k-parameter MLP, as measured numbers and ratios.

    python benchmarks/bench_curvature_tools.py [--quick] [--repeats N]

Model: MLP 128-256-256-10 with tanh (101,386 parameters), softmax cross-entropy on a
batch of 256, float64 (``--quick``: 32-64-64-10, batch 64). Reported:

- one gradient (forward + backward) vs one Hessian-vector product
  (``HessianOperator.matvec``: one backward pass through the recorded gradient graph,
  built once per operator — its cost is reported separately), and their ratio;
- the top Hessian eigenvalue by Lanczos (seed 0, default tol 1e-8 and tol 1e-6),
  end to end (operator construction included), with iterations and products;
- the same by power iteration (tol 1e-4), and a 20-probe Hutchinson trace.

The layers are ``nn.Linear`` when it has a second derivative; on a branch where it does
not yet, the same affine map written with matmul (reported in the output). Run with
``OPENBLAS_NUM_THREADS=1`` for the single-thread numbers quoted in docs/curvature.md.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from tinygrad_opt import Tensor, autograd, nn
from tinygrad_opt.curvature import HessianOperator, hutchinson_trace, lanczos, power_iteration


class MatmulLinear(nn.Module):
    """x Wᵀ + b with the weights of an ``nn.Linear`` (same layout), written with matmul."""

    def __init__(self, linear: nn.Linear) -> None:
        self.weight, self.bias = linear.weight, linear.bias

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.permute(1, 0) + self.bias


def xent(out: Tensor, onehot: np.ndarray) -> Tensor:
    """Softmax cross-entropy from exp/log (mean over rows)."""
    return (out.exp().sum(-1).log() - (out * Tensor(onehot)).sum(-1)).mean()


def build(sizes: list[int], seed: int) -> tuple[nn.Module, str]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, rng=seed + i, dtype=np.float64))
        if i < len(sizes) - 2:
            layers.append(nn.Tanh())
    model = nn.Sequential(*layers)
    try:
        HessianOperator(model, xent, (np.ones((2, sizes[0])), np.eye(sizes[-1])[:2]))
        return model, "nn.Linear"
    except NotImplementedError:
        swapped = [MatmulLinear(m) if isinstance(m, nn.Linear) else m for m in layers]
        return nn.Sequential(*swapped), "matmul (nn.Linear has no second derivative here)"


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small model (smoke test)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    sizes, batch = ([32, 64, 64, 10], 64) if args.quick else ([128, 256, 256, 10], 256)
    model, layers = build(sizes, seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    params = model.parameters()
    n = sum(p.numel() for p in params)

    def gradient():
        autograd.grad(xent(model(Tensor(X)), y), params)

    op = HessianOperator(model, xent, (X, y))
    v = rng.standard_normal(n)
    t_grad = timed(gradient, args.repeats)
    t_build = timed(lambda: HessianOperator(model, xent, (X, y)), args.repeats)
    t_hvp = timed(lambda: op.matvec(v), args.repeats)
    result = {
        "parameters": n,
        "layers": layers,
        "batch": batch,
        "gradient_ms": 1e3 * t_grad,
        "hvp_ms": 1e3 * t_hvp,
        "hvp_over_gradient": t_hvp / t_grad,
        "operator_build_ms": 1e3 * t_build,
    }
    print(f"MLP {sizes}, {n} parameters, batch {batch}, float64, layers: {layers}")
    print(
        f"  gradient {1e3 * t_grad:.1f} ms   HVP {1e3 * t_hvp:.1f} ms   ratio {t_hvp / t_grad:.2f}"
    )
    print(f"  operator construction (forward + recorded backward) {1e3 * t_build:.1f} ms")
    for tol in (1e-8, 1e-6):
        t0 = time.perf_counter()
        res = lanczos(HessianOperator(model, xent, (X, y)), 1, tol=tol)
        dt = time.perf_counter() - t0
        key = f"lanczos_top1_tol{tol:g}"
        result[key] = {
            "seconds": dt,
            "eigenvalue": float(res.eigenvalues[0]),
            "matvecs": res.matvecs,
        }
        print(
            f"  Lanczos top eigenvalue (tol {tol:g}): {res.eigenvalues[0]:.10g} in {dt:.2f} s, "
            f"{res.matvecs} products"
        )
    t0 = time.perf_counter()
    res = power_iteration(HessianOperator(model, xent, (X, y)), 1, tol=1e-4, max_iter=2000)
    dt = time.perf_counter() - t0
    result["power_top1_tol1e-4"] = {
        "seconds": dt,
        "eigenvalue": float(res.eigenvalues[0]),
        "matvecs": res.matvecs,
    }
    print(
        f"  power iteration (tol 1e-4): {res.eigenvalues[0]:.10g} in {dt:.2f} s, "
        f"{res.matvecs} products"
    )
    t0 = time.perf_counter()
    est = hutchinson_trace(op, 20)
    dt = time.perf_counter() - t0
    result["hutchinson_20"] = {"seconds": dt, "trace": est.trace, "stderr": est.stderr}
    print(f"  Hutchinson trace, 20 probes: {est.trace:.4g} ± {est.stderr:.2g} in {dt:.2f} s")
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
