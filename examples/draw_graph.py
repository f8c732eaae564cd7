"""Draw two computation graphs: a scalar neuron built from Values, and a tiny Tensor MLP.

Run ``python examples/draw_graph.py --out out`` and open ``out/neuron.svg`` and
``out/mlp.svg`` in a browser. Needs Graphviz's ``dot`` program (``apt-get install
graphviz``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinygrad_opt import Tensor, Value
from tinygrad_opt.viz import render_graph


def neuron() -> Value:
    """One tanh neuron with two inputs, o = tanh(x1*w1 + x2*w2 + b), after backward()."""
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")  # chosen so that o comes out near 0.7071
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def mlp_loss(seed: int = 0) -> Tensor:
    """Mean squared error of a 3 -> 8 -> 1 ReLU network on a batch of 4, after backward()."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 3)), dtype=np.float32, name="x")
    y = Tensor(rng.standard_normal((4, 1)), dtype=np.float32, name="y")
    w1 = Tensor(rng.standard_normal((3, 8)) * 0.5, dtype=np.float32, requires_grad=True, name="W1")
    b1 = Tensor.zeros(8, requires_grad=True, name="b1")
    w2 = Tensor(rng.standard_normal((8, 1)) * 0.5, dtype=np.float32, requires_grad=True, name="W2")
    b2 = Tensor.zeros(1, requires_grad=True, name="b2")
    h = (x @ w1 + b1).relu()
    h.name = "h"
    pred = h @ w2 + b2
    pred.name = "pred"
    loss = ((pred - y) ** 2).mean()
    loss.name = "loss"
    loss.backward()
    return loss


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Render both graphs as SVG into ``--out`` (default ``out``); return the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="output directory")
    parser.add_argument("--format", default="svg", choices=["svg", "png", "pdf"])
    args = parser.parse_args(argv)

    paths = [
        render_graph(neuron(), args.out / f"neuron.{args.format}"),
        render_graph(mlp_loss(), args.out / f"mlp.{args.format}"),
    ]
    for p in paths:
        print(f"wrote {p}")
    return paths


if __name__ == "__main__":
    main()
