"""Engine speed, as ratios measured in one run (the machine is noisy; absolute times are not).

    python benchmarks/bench_engine.py [--repeats N] [--quick] [--only SECTION ...]

1. Scalar engine: one training step (forward, backward, SGD update) of MLP(2, [16, 16, 1])
   on 100 two-moons points with the hinge loss plus L2 term, the classic scalar-engine
   demo. Compared with the ``micrograd`` package (``pip install micrograd``, benchmarks
   only). Ours is measured twice: with the library's ``ScalarMLP`` (a neuron's weighted
   sum is one ``dot`` node) and with the same node-per-operation graph micrograd builds
   (built-in ``sum``), so the node count is the same as micrograd's.
2. Deep chain: backpropagating a 1,000,000-node ``Value`` chain.
3. Tensor engine: one training step of an MLP 784-256-256-10 (ReLU, softmax
   cross-entropy, batch 128, float32, plain SGD) against a hand-written numpy
   forward/backward of the same network, and against torch on the CPU with 2 threads
   (when installed). torch's threads: ``OMP_NUM_THREADS`` if set, else 2, the cores
   of the machine these numbers were written for and numpy's BLAS default there.
4. Transformer: one training step (forward, backward, SGD update) of a 2-layer
   ``TransformerEncoder`` against torch's, same thread count (2) and the same starting
   weights (our state dict loaded into torch). Sizes: d_model 128, 4 heads, context 64,
   batch 16, float32, dim_feedforward 512 (4·d_model; torch's default 2048 is sized for
   d_model 512); everything else torch's defaults: dropout 0.1 (training mode, so it is
   on), relu, post-norm, sequence-first layout. MSE loss against a random target.

Scalar timings are interleaved call by call (A, B, C, A, B, C, ...) with a
``gc.collect()`` before each, so no contender pays for another's garbage (micrograd's
cycles). Tensor timings run in blocks with pauses and rotating order (torch's OpenMP
threads keep spinning after a call and would slow whoever runs next). Medians throughout.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from tinygrad_opt import Tensor, Value, nn
from tinygrad_opt.data import make_moons
from tinygrad_opt.nn.scalar import ScalarMLP

LR = 0.01


def torch_threads() -> int:
    """torch's thread count: OMP_NUM_THREADS when set (numpy's BLAS follows it too), else 2,
    this machine's cores (numpy's BLAS default), so both sides use the same number."""
    first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(first) if first.isdigit() and int(first) > 0 else 2


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int, warmup: int = 2):
    """Median seconds per call of each contender, measured round-robin."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            gc.collect()  # nobody pays for another contender's garbage (micrograd's cycles)
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def block_times(
    contenders: dict[str, Callable[[], object]], rounds: int, per_block: int, pause: float
) -> dict[str, list[float]]:
    """Seconds of every timed call: ``rounds`` blocks of ``per_block`` calls per contender.

    Each block follows a pause (so no contender pays for another's spinning threads) and
    one untimed warm-up call; the order of contenders rotates from round to round.
    """
    names = list(contenders)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = contenders[name]
            time.sleep(pause)
            gc.collect()
            fn()
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return times


def blocks(contenders: dict[str, Callable[[], object]], steps: int, rounds: int, pause=0.4):
    """Median seconds per call, each contender timed in blocks of steps/rounds calls
    (:func:`block_times`)."""
    times = block_times(contenders, rounds, max(steps // rounds, 1), pause)
    return {k: statistics.median(v) for k, v in times.items()}


# --------------------------------------------------------------------------- scalar engine
def scalar_step_factories():
    X, y = make_moons(100, noise=0.1, rng=1)
    ys = [1.0 if t == 1 else -1.0 for t in y]
    rows = [[float(a), float(b)] for a, b in X]
    contenders: dict[str, Callable[[], object]] = {}

    model = ScalarMLP(2, [16, 16, 1], rng=0)
    params = model.parameters()

    def ours_dot():
        scores = [model(r) for r in rows]
        data_loss = Value.sum((1.0 - yi * s).relu() for yi, s in zip(ys, scores)) * (1.0 / 100)
        reg = 1e-4 * Value.dot(params, params)
        loss = data_loss + reg
        model.zero_grad()
        loss.backward()
        for p in params:
            p.data -= LR * p.grad

    contenders["ours (ScalarMLP)"] = ours_dot

    # The same graph micrograd builds: one node per * and +.
    layers = []
    rng = np.random.default_rng(0)
    for n_in, n_out in [(2, 16), (16, 16), (16, 1)]:
        W = [[Value(float(v)) for v in rng.uniform(-1, 1, n_in)] for _ in range(n_out)]
        layers.append((W, [Value(0.0) for _ in range(n_out)]))
    flat = [p for W, b in layers for row in W for p in row] + [p for _, b in layers for p in b]

    def forward_classic(x):
        for k, (W, b) in enumerate(layers):
            x = [sum((wi * xi for wi, xi in zip(row, x)), bj) for row, bj in zip(W, b)]
            if k < 2:
                x = [v.relu() for v in x]
        return x[0]

    def ours_classic():
        scores = [forward_classic(r) for r in rows]
        data_loss = sum((1 + -yi * s).relu() for yi, s in zip(ys, scores)) * (1.0 / 100)
        reg = 1e-4 * sum(p * p for p in flat)
        loss = data_loss + reg
        for p in flat:
            p.grad = 0.0
        loss.backward()
        for p in flat:
            p.data -= LR * p.grad

    contenders["ours (node per op)"] = ours_classic

    try:
        from micrograd.engine import Value as MGValue
        from micrograd.nn import MLP as MGMLP
    except ImportError:
        print("micrograd not installed (pip install micrograd): scalar comparison skipped")
        return contenders

    mg = MGMLP(2, [16, 16, 1])

    def micrograd_step():
        inputs = [list(map(MGValue, r)) for r in rows]
        scores = list(map(mg, inputs))
        losses = [(1 + -yi * s).relu() for yi, s in zip(ys, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg = 1e-4 * sum(p * p for p in mg.parameters())
        loss = data_loss + reg
        mg.zero_grad()
        loss.backward()
        for p in mg.parameters():
            p.data -= LR * p.grad

    contenders["micrograd"] = micrograd_step
    return contenders


def deep_chain_seconds(depth: int = 1_000_000) -> float:
    x = Value(1.0)
    y = x
    for _ in range(depth):
        y = y * 1.0000001
    t0 = time.perf_counter()
    y.backward()
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- tensor engine
def tensor_step_factories(batch: int = 128):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model = nn.MLP([784, 256, 256, 10], rng=0)
    params = model.parameters()
    x = Tensor(X)

    def ours():
        loss = nn.cross_entropy(model(x), y)
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data -= LR * p.grad

    # The same starting weights for all three; W has torch's (out, in) layout in each.
    np_params = [p.data.copy() for p in params]  # W1, b1, W2, b2, W3, b3
    rows = np.arange(batch)

    def numpy_step():
        W1, b1, W2, b2, W3, b3 = np_params
        z1 = X @ W1.T + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2.T + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ W3.T + b3
        e = np.exp(z3 - z3.max(axis=1, keepdims=True))
        d3 = e / e.sum(axis=1, keepdims=True)  # dL/dz3 = (softmax - onehot) / N
        d3[rows, y] -= 1
        d3 /= batch
        grads = [None] * 6
        grads[4], grads[5] = d3.T @ h2, d3.sum(axis=0)
        d2 = d3 @ W3
        d2 *= z2 > 0
        grads[2], grads[3] = d2.T @ h1, d2.sum(axis=0)
        d1 = d2 @ W2
        d1 *= z1 > 0
        grads[0], grads[1] = d1.T @ X, d1.sum(axis=0)
        for p, g in zip(np_params, grads):
            p -= LR * g

    contenders = {"ours": ours, "numpy": numpy_step}
    try:
        import torch
    except ImportError:
        print("torch not installed: torch comparison skipped")
        return contenders
    torch.set_num_threads(torch_threads())
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(784, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    # same names ("0.weight", ...) and layouts: our state dict loads as is
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=LR)
    tx, ty = torch.from_numpy(X), torch.from_numpy(y)

    def torch_step():
        topt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()

    contenders["torch"] = torch_step
    return contenders


# --------------------------------------------------------------------------- transformer
TRANSFORMER = {"d_model": 128, "nhead": 4, "dim_feedforward": 512, "layers": 2, "context": 64,
               "batch": 16}  # fmt: skip


def transformer_step_factories():
    cfg = TRANSFORMER
    d, n_ctx, n_batch = cfg["d_model"], cfg["context"], cfg["batch"]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_ctx, n_batch, d)).astype(np.float32)
    Y = rng.standard_normal((n_ctx, n_batch, d)).astype(np.float32)
    layer = nn.TransformerEncoderLayer(d, cfg["nhead"], cfg["dim_feedforward"], rng=0)
    model = nn.TransformerEncoder(layer, cfg["layers"])
    params = model.parameters()
    x, target = Tensor(X), Tensor(Y)

    def ours():
        loss = nn.mse_loss(model(x), target)
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data -= LR * p.grad

    contenders = {"ours": ours}
    try:
        import torch
    except ImportError:
        print("torch not installed: transformer comparison skipped")
        return contenders
    torch.set_num_threads(torch_threads())
    tlayer = torch.nn.TransformerEncoderLayer(d, cfg["nhead"], cfg["dim_feedforward"])
    tmodel = torch.nn.TransformerEncoder(tlayer, cfg["layers"], enable_nested_tensor=False)
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=LR)
    tx, ty = torch.from_numpy(X), torch.from_numpy(Y)

    def torch_step():
        topt.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(tmodel(tx), ty).backward()
        topt.step()

    contenders["torch"] = torch_step
    return contenders


SECTIONS = ("scalar", "tensor", "transformer")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=0, help="timed rounds (default: by section)")
    ap.add_argument("--quick", action="store_true", help="few rounds, smaller chain (smoke test)")
    ap.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)"
    )
    args = ap.parse_args(argv)
    quick = args.quick
    sections = args.only or SECTIONS
    result: dict = {}

    if "scalar" in sections:
        scalar = interleaved(scalar_step_factories(), args.repeats or (2 if quick else 7), warmup=1)
        result["scalar_step_ms"] = {k: v * 1e3 for k, v in scalar.items()}
        if "micrograd" in scalar:
            for k in ("ours (ScalarMLP)", "ours (node per op)"):
                result[f"speedup_vs_micrograd[{k}]"] = scalar["micrograd"] / scalar[k]

        gc.collect()
        result["deep_chain_backward_s"] = deep_chain_seconds(100_000 if quick else 1_000_000)
        result["deep_chain_depth"] = 100_000 if quick else 1_000_000

    # torch's OpenMP workers keep spinning for a while after each call and slow whatever
    # runs next on the 2 cores, so every contender is timed in its own block, after a
    # pause, with the block order rotated between rounds; medians over all blocks.
    if "tensor" in sections:
        steps = tensor_step_factories()
        n = args.repeats or (20 if quick else 300)
        tensor = blocks(steps, n, rounds=2 if quick else 6)
        result["tensor_step_ms"] = {k: v * 1e3 for k, v in tensor.items()}
        result["ratio_vs_numpy"] = tensor["ours"] / tensor["numpy"]
        if "torch" in tensor:
            result["ratio_vs_torch"] = tensor["ours"] / tensor["torch"]
            result["numpy_vs_torch"] = tensor["numpy"] / tensor["torch"]

    if "transformer" in sections:
        steps = transformer_step_factories()
        tf = blocks(steps, args.repeats or (8 if quick else 60), rounds=2 if quick else 6)
        result["transformer_step_ms"] = {k: v * 1e3 for k, v in tf.items()}
        if "torch" in tf:
            result["transformer_ratio_vs_torch"] = tf["ours"] / tf["torch"]

    if "scalar" in sections:
        print("\n== scalar engine: MLP(2,[16,16,1]) step on 100 moons, hinge loss ==")
        for k, v in scalar.items():
            extra = (
                f"   {scalar['micrograd'] / v:6.1f}x faster than micrograd"
                if ("micrograd" in scalar and k != "micrograd")
                else ""
            )
            print(f"  {k:<22} {v * 1e3:9.2f} ms{extra}")
        print(f"\n== deep chain: backward through {result['deep_chain_depth']:,} Value nodes ==")
        print(f"  {result['deep_chain_backward_s']:.2f} s")
    if "tensor" in sections:
        print("\n== tensor engine: MLP 784-256-256-10 step, batch 128, float32 ==")
        for k, v in tensor.items():
            print(f"  {k:<19} {v * 1e3:8.3f} ms")
        print(f"  ours / numpy = {result['ratio_vs_numpy']:.3f}  (target <= 1.15)")
        if "ratio_vs_torch" in result:
            print(f"  ours / torch = {result['ratio_vs_torch']:.3f}  (target <= 0.80)")
    if "transformer" in sections:
        print("\n== transformer: 2-layer TransformerEncoder step, d 128, 4 heads, ctx 64, "
              "batch 16 ==")  # fmt: skip
        for k, v in tf.items():
            print(f"  {k:<19} {v * 1e3:8.3f} ms")
        if "transformer_ratio_vs_torch" in result:
            ratio = result["transformer_ratio_vs_torch"]
            print(f"  ours / torch = {ratio:.3f}  (target <= 1.5)")
    print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
