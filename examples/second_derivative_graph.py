"""Where does d²y/dx² come from? Differentiate a derivative of Values and draw both graphs.

``grad(y, [x], create_graph=True)`` returns dy/dx as a Value built from Value operations,
so ``grad`` can be applied to it again. For y = x³ the first backward builds dy/dx = 3·x²
from x, and the second builds d²y/dx² = 3·(2·x) by applying the derivative rule of the
``x²`` node the first one made. The drawing colours each backward pass and joins every
derivative node to the node whose rule built it by a dotted edge.

Run ``python examples/second_derivative_graph.py --out out`` and open
``out/second_derivative.svg``. It also prints derivatives of a few functions next to their
closed forms. Drawing to a file needs Graphviz's ``dot`` program (``apt-get install
graphviz``); without it, ``--no-draw`` prints the numbers only.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from tinygrad_opt.value import Value, grad
from tinygrad_opt.viz import render_graph


def derivatives(f: Callable[[Value], Value], x0: float, n: int = 3) -> list[Value]:
    """[y, dy/dx, d²y/dx², ...] up to order ``n`` at ``x0``, each a Value with its graph."""
    x = Value(x0, label="x")
    y = f(x)
    y.label = "y"
    out = [y]
    for _ in range(n):
        (d,) = grad(out[-1], [x], create_graph=True, materialize_grads=True)
        out.append(d)
    return out


def _sigmoid(t: float) -> float:
    return 1.0 / (1.0 + math.exp(-t))


#: name, the function on Values, closed forms of y', y'', y''' on floats
FUNCTIONS: list[tuple[str, Callable[[Value], Value], list[Callable[[float], float]]]] = [
    ("x³", lambda x: x**3, [lambda t: 3 * t * t, lambda t: 6 * t, lambda t: 6.0]),
    (
        "tanh x",
        lambda x: x.tanh(),
        [
            lambda t: 1 - math.tanh(t) ** 2,
            lambda t: -2 * math.tanh(t) * (1 - math.tanh(t) ** 2),
            lambda t: -2 * (1 - math.tanh(t) ** 2) * (1 - 3 * math.tanh(t) ** 2),
        ],
    ),
    (
        "σ(x)",
        lambda x: x.sigmoid(),
        [
            lambda t: _sigmoid(t) * (1 - _sigmoid(t)),
            lambda t: _sigmoid(t) * (1 - _sigmoid(t)) * (1 - 2 * _sigmoid(t)),
            lambda t: (
                _sigmoid(t) * (1 - _sigmoid(t)) * (1 - 6 * _sigmoid(t) + 6 * _sigmoid(t) ** 2)
            ),
        ],
    ),
    (
        "x·ln x",
        lambda x: x * x.log(),
        [lambda t: math.log(t) + 1, lambda t: 1 / t, lambda t: -1 / t**2],
    ),
    (
        "xˣ",
        lambda x: x**x,
        [
            lambda t: t**t * (math.log(t) + 1),
            lambda t: t**t * ((math.log(t) + 1) ** 2 + 1 / t),
            lambda t: t**t * ((math.log(t) + 1) ** 3 + 3 * (math.log(t) + 1) / t - 1 / t**2),
        ],
    ),
]


def table(x0: float = 0.7) -> list[tuple[str, int, float, float]]:
    """(function, order, engine, closed form) for orders 1-3 of every function at ``x0``."""
    rows = []
    for name, f, closed in FUNCTIONS:
        ds = derivatives(f, x0, n=3)
        for k in (1, 2, 3):
            rows.append((name, k, ds[k].data, closed[k - 1](x0)))
    return rows


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """Print the table, draw y = x³ with both derivatives; return the files written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="output directory")
    parser.add_argument("--format", default="svg", choices=["svg", "png", "pdf"])
    parser.add_argument("--x", type=float, default=2.0, help="the point x for y = x³")
    parser.add_argument("--no-draw", action="store_true", help="print the numbers only")
    args = parser.parse_args(argv)

    y, dy, d2y, d3y = derivatives(lambda x: x**3, args.x, n=3)
    x0 = args.x
    print(f"y = x³ at x = {x0:g}")
    print(f"  dy/dx   = {dy.data:.12g}   closed form 3x² = {3 * x0 * x0:.12g}")
    print(f"  d²y/dx² = {d2y.data:.12g}   closed form 6x  = {6 * x0:.12g}")
    print(f"  d³y/dx³ = {d3y.data:.12g}   closed form 6   = 6")
    print()
    print(f"{'function':>8}  {'order':>5}  {'engine':>20}  {'closed form':>20}  {'|diff|':>8}")
    for name, k, got, want in table():
        print(f"{name:>8}  {k:>5}  {got:>20.14g}  {want:>20.14g}  {abs(got - want):8.1e}")

    if args.no_draw:
        return []
    paths = [
        render_graph([y, dy, d2y], args.out / f"second_derivative.{args.format}", show_grad=False),
        render_graph(d2y, args.out / f"second_derivative_d2y.{args.format}", show_grad=False),
    ]
    for p in paths:
        print(f"wrote {p}")
    return paths


if __name__ == "__main__":
    main()
