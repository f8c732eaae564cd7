"""Speed of one training step of the character-level transformer, ours against torch.

    python benchmarks/bench_transformer.py [--threads 1 2] [--configs d128 d64]
        [--rounds R] [--steps S] [--quick] [--out FILE.json]

The workload is :class:`tinygrad_opt.models.CharTransformerLM` (pre-norm, GELU tanh,
dropout 0, float32) trained with AdamW on next-character cross-entropy (``lm_loss``) over
windows of the shipped fables text (a vocabulary of about 70 characters). torch gets the
same model (same submodule names, so our state dict loads as it is) with the same starting
weights. A *step* is the whole of it on both sides: zero_grad, forward, loss, backward,
AdamW step.

Configurations (batch 32, context 64, feed-forward 4·d_model):

* ``d128``: d_model 128, 4 heads, 4 layers (the issue's target, ours / torch <= 1.5);
* ``d64``: d_model 64, 4 heads, 2 layers (so the result does not rest on one size).

Before timing, one step on each side from identical weights is compared: the losses, every
gradient, and the weights after the AdamW step must agree to float32 tolerance.

Each thread count n sets both libraries alike: ``torch.set_num_threads(n)``; numpy's
BLAS through threadpoolctl (``threadpool_limits(n)``; install threadpoolctl, or set
``OPENBLAS_NUM_THREADS`` and pass that one count); our intra-op threads
(``tinygrad_opt.parallel.set_num_threads(n)``) and our AdamW's ``threads``. Timing runs
in blocks with a pause before each and the order of the two rotating between rounds
(torch's OpenMP threads keep spinning after a call and would slow whoever ran next);
medians over all timed steps (and, steadier on a loaded machine, the ratio of the two
fastest steps).
The result (times, ratios, agreement errors, versions) is written as JSON to ``--out``
(default ``bench_transformer.json``) and printed as the last line.

``--retain-freed-memory`` first calls :func:`tinygrad_opt.memory.retain_freed_memory`
(glibc keeps freed memory instead of returning it to the kernel, so a step does not
fault in fresh pages for its activations); it is process-wide, so torch runs with it too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import block_times  # noqa: E402

from tinygrad_opt import optim, parallel  # noqa: E402
from tinygrad_opt.atomic_io import write_text_atomic
from tinygrad_opt.data import CharVocab, WindowSampler, load_text
from tinygrad_opt.memory import retain_freed_memory
from tinygrad_opt.models import CharTransformerLM, causal_mask, lm_loss

CONFIGS: dict[str, dict[str, int]] = {
    "d128": {"d_model": 128, "nhead": 4, "num_layers": 4, "context": 64, "batch": 32},
    "d64": {"d_model": 64, "nhead": 4, "num_layers": 2, "context": 64, "batch": 32},
}
ADAMW = {"lr": 3e-4, "betas": (0.9, 0.95), "weight_decay": 0.1}
GOAL = 1.5  # ours / torch, at d128
# float32 agreement: loss and gradients relative to the largest entry of each compared
# array; the weights after the step absolutely, within 5% of lr: Adam's first step moves
# each weight by about lr·g/(|g| + eps), which for gradients near eps turns float32
# rounding of g into a visible fraction of lr.
LOSS_RTOL, GRAD_RTOL = 1e-5, 2e-4
WEIGHT_ATOL = 0.05 * ADAMW["lr"]


def torch_model(torch, vocab: int, cfg: dict[str, int]):
    """torch's CharTransformerLM: the same attribute names, so the state dicts match."""

    class TorchCharTransformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            d = cfg["d_model"]
            self.tok_emb = torch.nn.Embedding(vocab, d)
            self.pos_emb = torch.nn.Embedding(cfg["context"], d)
            self.drop = torch.nn.Dropout(0.0)
            layer = torch.nn.TransformerEncoderLayer(
                d, cfg["nhead"], 4 * d, 0.0, torch.nn.GELU(approximate="tanh"),
                batch_first=True, norm_first=True,
            )  # fmt: skip
            self.encoder = torch.nn.TransformerEncoder(
                layer, cfg["num_layers"], enable_nested_tensor=False
            )
            self.norm = torch.nn.LayerNorm(d)
            self.head = torch.nn.Linear(d, vocab)
            mask = torch.from_numpy(causal_mask(cfg["context"]))
            self.register_buffer("mask", torch.zeros(mask.shape).masked_fill(mask, -torch.inf))

        def forward(self, ids):
            t = ids.shape[1]
            h = self.drop(self.tok_emb(ids) + self.pos_emb(torch.arange(t)))
            h = self.encoder(h, mask=self.mask[:t, :t], is_causal=True)
            return self.head(self.norm(h))

    return TorchCharTransformer()


def build(torch, cfg: dict[str, int], seed: int = 0):
    """(ours, theirs, ours' step, torch's step, the batch) for one configuration."""
    text = load_text("fables")
    vocab = CharVocab(text)
    x, y = WindowSampler(vocab.encode(text), cfg["context"], cfg["batch"], rng=seed).sample()
    ours = CharTransformerLM(
        len(vocab), cfg["d_model"], cfg["nhead"], cfg["num_layers"], cfg["context"],
        dropout=0.0, dtype=np.float32, rng=seed,
    )  # fmt: skip
    theirs = torch_model(torch, len(vocab), cfg)
    state = {k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=False)  # the mask buffer is torch's own
    opt = optim.AdamW(ours.parameters(), **ADAMW)
    t_opt = torch.optim.AdamW(theirs.parameters(), **ADAMW)
    tx, ty = torch.from_numpy(x.data), torch.from_numpy(y.data).reshape(-1)
    vsize = len(vocab)

    def ours_step() -> float:
        opt.zero_grad()
        loss = lm_loss(ours(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    def torch_step() -> float:
        t_opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(theirs(tx).reshape(-1, vsize), ty)
        loss.backward()
        t_opt.step()
        return loss.item()

    ours_step.optimizer = opt  # so that threads() can set its thread count
    return ours, theirs, ours_step, torch_step, len(vocab)


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check_agreement(torch, cfg: dict[str, int]) -> dict[str, float]:
    """One step on both sides from the same weights: loss, gradients, new weights."""
    ours, theirs, ours_step, torch_step, _ = build(torch, cfg, seed=1)
    loss, t_loss = ours_step(), torch_step()
    ours_p, theirs_p = dict(ours.named_parameters()), dict(theirs.named_parameters())
    if sorted(ours_p) != sorted(theirs_p):
        raise AssertionError("parameter names differ between our model and torch's")
    for name, p in ours_p.items():
        if p.data.dtype != np.float32 or p.grad.dtype != np.float32:
            raise AssertionError(f"{name}: weight {p.data.dtype}, gradient {p.grad.dtype}")
    grad = max(_rel_err(ours_p[k].grad, theirs_p[k].grad.numpy()) for k in ours_p)
    weight = max(
        float(np.max(np.abs(ours_p[k].data - theirs_p[k].detach().numpy()))) for k in ours_p
    )
    out = {"loss_rel_err": abs(loss - t_loss) / abs(t_loss), "grad_rel_err": grad,
           "weight_abs_err": weight}  # fmt: skip
    if not (out["loss_rel_err"] <= LOSS_RTOL and grad <= GRAD_RTOL and weight <= WEIGHT_ATOL):
        raise AssertionError(f"ours and torch disagree after one step: {out}")
    return out


@contextlib.contextmanager
def threads(torch, n: int, optimizer=None) -> Iterator[str]:
    """n threads for everyone: torch's intra-op threads, numpy's BLAS, our intra-op
    threads (tinygrad_opt.parallel) and our optimizer's; yields how BLAS's were set."""
    before = torch.get_num_threads(), parallel.get_num_threads()
    torch.set_num_threads(n)
    parallel.set_num_threads(n)
    if optimizer is not None:
        optimizer.threads = n
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        if env != str(n):
            raise SystemExit(
                f"bench_transformer: numpy's threads cannot be set to {n} without "
                f"threadpoolctl (pip install threadpoolctl); or run with "
                f"OPENBLAS_NUM_THREADS={n} --threads {n}"
            ) from None
        try:
            yield f"OPENBLAS_NUM_THREADS={env}"
        finally:
            torch.set_num_threads(before[0])
            parallel.set_num_threads(before[1])
        return
    try:
        with threadpool_limits(n):
            yield "threadpoolctl"
    finally:
        torch.set_num_threads(before[0])
        parallel.set_num_threads(before[1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts")
    ap.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--rounds", type=int, default=0, help="blocks per contender (default 6)")
    ap.add_argument("--steps", type=int, default=0, help="timed steps per block (default 5)")
    ap.add_argument("--quick", action="store_true", help="2 rounds of 2 steps (smoke test)")
    ap.add_argument("--out", default="bench_transformer.json", help="JSON result file")
    ap.add_argument(
        "--retain-freed-memory",
        action="store_true",
        help="call tinygrad_opt.memory.retain_freed_memory() first (process-wide: torch too)",
    )
    args = ap.parse_args(argv)
    if any(n < 1 for n in args.threads):
        ap.error(f"--threads must be positive, got {args.threads}")
    try:
        import torch
    except ImportError:
        ap.error("torch is needed (pip install torch --index-url .../whl/cpu)")
    retained = retain_freed_memory() if args.retain_freed_memory else False
    rounds = args.rounds or (2 if args.quick else 6)
    steps = args.steps or (2 if args.quick else 5)
    pause = 0.05 if args.quick else 0.3

    result: dict = {
        "versions": {
            "numpy": np.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },  # fmt: skip
        "cpus": os.cpu_count(),
        "retain_freed_memory": retained,
        "rounds": rounds,
        "steps_per_round": steps,
        "adamw": {k: list(v) if isinstance(v, tuple) else v for k, v in ADAMW.items()},
        "configs": {},
    }
    for name in args.configs:
        cfg = CONFIGS[name]
        entry: dict = {"config": cfg, "agreement": check_agreement(torch, cfg), "threads": {}}
        _, _, ours_step, torch_step, vocab = build(torch, cfg)
        entry["vocab"] = vocab
        for n in args.threads:
            with threads(torch, n, ours_step.optimizer) as how:
                t = block_times({"ours": ours_step, "torch": torch_step}, rounds, steps, pause)
            med = {k: statistics.median(v) for k, v in t.items()}
            entry["threads"][str(n)] = {
                "numpy_threads_set_by": how,
                "ours_ms": med["ours"] * 1e3,
                "torch_ms": med["torch"] * 1e3,
                "ratio": med["ours"] / med["torch"],
                # the fastest steps' ratio: steadier than medians on a loaded machine
                "ratio_of_minima": min(t["ours"]) / min(t["torch"]),
                "ours_ms_all": [v * 1e3 for v in t["ours"]],
                "torch_ms_all": [v * 1e3 for v in t["torch"]],
            }
        result["configs"][name] = entry

    mem = ", freed memory retained (both)" if retained else ""
    print(f"== CharTransformerLM training step (AdamW, lm_loss, float32), ours vs torch{mem} ==")
    for name, entry in result["configs"].items():
        cfg, agree = entry["config"], entry["agreement"]
        print(
            f"{name}: d_model {cfg['d_model']}, {cfg['nhead']} heads, {cfg['num_layers']} "
            f"layers, context {cfg['context']}, batch {cfg['batch']}, vocab {entry['vocab']}; "
            f"agreement: loss {agree['loss_rel_err']:.1e}, grads {agree['grad_rel_err']:.1e} "
            f"(relative), weights {agree['weight_abs_err']:.1e}"
        )
        for n, row in entry["threads"].items():
            goal = f"  (goal <= {GOAL})" if name == "d128" else ""
            print(
                f"  {n} thread{'s' if n != '1' else ' '}: ours {row['ours_ms']:8.2f} ms   "
                f"torch {row['torch_ms']:8.2f} ms   ours / torch = {row['ratio']:.3f}{goal}   "
                f"(fastest steps: {row['ratio_of_minima']:.3f})"
            )
    text = json.dumps(result, sort_keys=True)
    write_text_atomic(args.out, text + "\n")
    summary = {
        name: {n: round(row["ratio"], 3) for n, row in entry["threads"].items()}
        for name, entry in result["configs"].items()
    }
    print(f"written to {args.out}")
    print(json.dumps({"ratio_ours_over_torch": summary}, sort_keys=True))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
