"""Train a small character-level transformer on the fables shipped with the package.

    python examples/char_transformer.py            # a few minutes; prints samples
    python examples/char_transformer.py --quick    # a smoke run, < 1 minute
    python examples/char_transformer.py --help

The text is ``tinygrad_opt.data.load_text("fables")``: about 38 kB of original short
fables (71 distinct characters), split into the first 90% for training and the last 10%
for validation. The model is :class:`tinygrad_opt.models.CharTransformerLM`, GPT-style:
token and learned position embeddings, 2 pre-norm transformer layers (d_model 64,
4 heads, GELU feed-forward of width 256, causal mask), a final LayerNorm and a linear
head, about 110k parameters, all from ``tinygrad_opt.nn``.

Training: random windows of 64 characters (batches of 32), next-character
cross-entropy, AdamW (lr 1e-2, betas (0.9, 0.95), weight decay 0.1 on the matrices
only), gradient clipping at norm 1, a linear warm-up then cosine decay of the lr. Every
``--eval-every`` steps the validation loss is measured on the whole validation text.
At the end the script writes the loss curves to ``--out``/char_transformer_loss.png and
prints text sampled at a few temperatures.

Measured numbers (defaults, seed 0) are in docs/examples.md.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tinygrad_opt import no_grad, optim
from tinygrad_opt.data import (
    CharVocab,
    WindowSampler,
    load_text,
    sequential_windows,
    train_val_split,
)
from tinygrad_opt.models import CharTransformerLM, generate, lm_loss
from tinygrad_opt.optim.lr_scheduler import CosineAnnealingLR, with_warmup

QUICK = {  # --quick: a small model for a few steps (CI smoke test)
    "steps": 60,
    "batch_size": 16,
    "context": 32,
    "d_model": 32,
    "eval_every": 20,
    "warmup": 5,
    "sample_chars": 120,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--text", default="fables", help="name of a text shipped in the package")
    p.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--context", type=int, default=64, help="characters per window")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--nhead", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-2, help="peak AdamW learning rate")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--eval-every", type=int, default=100, help="validation every N steps")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompt", default="The ", help="start of every sample")
    p.add_argument("--sample-chars", type=int, default=400, help="characters per sample")
    p.add_argument(
        "--temperatures", type=float, nargs="+", default=[0.5, 0.8, 1.0], help="sampling"
    )
    p.add_argument("--out", default="out", help="folder for the loss-curve PNG")
    p.add_argument("--quick", action="store_true", help="tiny run for smoke tests (< 1 min)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no samples")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


def evaluate(model: CharTransformerLM, ids: np.ndarray, context: int) -> float:
    """Mean next-character loss over the whole stream ``ids`` (non-overlapping windows)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with no_grad():
        for x, y in sequential_windows(ids, context, batch_size=64):
            total += lm_loss(model(x), y).item() * y.data.size
            count += y.data.size
    model.train(was_training)
    return total / count


def param_groups(model: CharTransformerLM, weight_decay: float) -> list[dict[str, Any]]:
    """Decay the weight matrices of the linear layers only (GPT-2's choice): not biases,
    LayerNorm gains or embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        is_matrix = p.ndim == 2 and "emb" not in name
        (decay if is_matrix else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def plot_losses(history: dict[str, list], vocab_size: int, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    steps = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(steps, history["train_loss"], color="0.75", lw=0.8, label="train (per batch)")
    k = max(1, len(steps) // 50)  # a running mean makes the trend readable
    smooth = np.convolve(history["train_loss"], np.ones(k) / k, mode="valid")
    ax.plot(steps[k - 1 :], smooth, color="tab:blue", lw=1.5, label=f"train ({k}-step mean)")
    ax.plot(history["val_step"], history["val_loss"], "o-", color="tab:red", label="validation")
    ax.axhline(math.log(vocab_size), color="0.5", ls=":", lw=1, label="uniform guess")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("Character transformer on the fables")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    text = load_text(args.text)
    vocab = CharVocab(text)
    train_ids, val_ids = train_val_split(vocab.encode(text), args.val_fraction)
    sampler = WindowSampler(train_ids, args.context, args.batch_size, rng=args.seed)
    model = CharTransformerLM(
        len(vocab), args.d_model, args.nhead, args.layers, args.context,
        dropout=args.dropout, rng=args.seed,
    )  # fmt: skip
    n_params = sum(p.size for p in model.parameters())
    opt = optim.AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95))
    cosine = CosineAnnealingLR(opt, T_max=max(1, args.steps - args.warmup), eta_min=args.lr / 10)
    schedule = with_warmup(opt, cosine, warmup_steps=args.warmup) if args.warmup else cosine

    history: dict[str, list] = {"train_loss": [], "val_step": [], "val_loss": [], "lr": []}
    history["val_step"].append(0)
    history["val_loss"].append(evaluate(model, val_ids, args.context))
    if not args.quiet:
        print(
            f"{len(text):,} characters, vocabulary {len(vocab)}, train {len(train_ids):,} / "
            f"val {len(val_ids):,}; model {n_params:,} parameters; "
            f"initial val loss {history['val_loss'][0]:.3f} (ln V = {math.log(len(vocab)):.3f})"
        )
    start = time.perf_counter()
    bar = tqdm(range(1, args.steps + 1), disable=args.quiet, desc="training", unit="step")
    for step in bar:
        x, y = sampler.sample()
        opt.zero_grad()
        loss = lm_loss(model(x), y)
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        history["lr"].append(opt.param_groups[0]["lr"])
        schedule.step()
        history["train_loss"].append(loss.item())
        if step % args.eval_every == 0 or step == args.steps:
            history["val_step"].append(step)
            history["val_loss"].append(evaluate(model, val_ids, args.context))
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{history['val_loss'][-1]:.3f}")
    seconds = time.perf_counter() - start

    png = Path(args.out) / "char_transformer_loss.png"
    plot_losses(history, len(vocab), png)
    prompt = vocab.encode(args.prompt)
    samples = {
        t: vocab.decode(generate(model, prompt, args.sample_chars, temperature=t, rng=args.seed))
        for t in args.temperatures
    }
    result = {
        "history": history,
        "parameters": n_params,
        "vocab_size": len(vocab),
        "final_val_loss": history["val_loss"][-1],
        "best_val_loss": min(history["val_loss"]),
        "seconds": seconds,
        "seconds_per_step": seconds / max(1, args.steps),
        "samples": samples,
        "png": png,
    }
    if not args.quiet:
        print(
            f"\n{args.steps} steps in {seconds:.0f} s ({1000 * result['seconds_per_step']:.0f} ms"
            f"/step); val loss {history['val_loss'][0]:.3f} -> {result['final_val_loss']:.3f} "
            f"(best {result['best_val_loss']:.3f}); loss curve: {png}"
        )
        for t, sample in samples.items():
            print(f"\n--- sample at temperature {t} ---\n{sample}")
    return result


if __name__ == "__main__":
    main()
