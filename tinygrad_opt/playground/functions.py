"""Two-dimensional test functions for watching optimizers move.

Each function is written with Tensor operations, so its gradient comes from the same
autograd engine the networks use. ``f(theta)`` takes a Tensor of shape (2,) — or of
shape (2, ...) to evaluate a whole grid at once for contour plots — and returns the
value(s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinygrad_opt.tensor import Tensor


@dataclass(frozen=True)
class TestFunction:
    """A named 2-D objective with a suggested start, plot window and known minima."""

    name: str
    f: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minima: tuple[tuple[float, float], ...]
    min_value: float
    description: str

    __test__ = False  # not a pytest test class, despite the name

    def __call__(self, theta: Tensor) -> Tensor:
        return self.f(theta)

    def value(self, xy: np.ndarray) -> np.ndarray:
        """Evaluate on a numpy array of shape (2, ...) (no graph recorded)."""
        return self.f(Tensor(np.asarray(xy, dtype=np.float64))).data

    def gradient(self, xy: np.ndarray) -> np.ndarray:
        """∇f at one point (2,), by backpropagation."""
        t = Tensor(np.asarray(xy, dtype=np.float64), requires_grad=True)
        self.f(t).backward()
        return t.grad


def _quadratic(theta: Tensor) -> Tensor:
    # f = ½(a·θ1² + b·θ2²) with a/b = 50: θ1 curves much more steeply than θ2
    return 0.5 * (10.0 * theta[0] ** 2 + 0.2 * theta[1] ** 2)


def _rosenbrock(theta: Tensor) -> Tensor:
    x, y = theta[0], theta[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _beale(theta: Tensor) -> Tensor:
    x, y = theta[0], theta[1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _himmelblau(theta: Tensor) -> Tensor:
    x, y = theta[0], theta[1]
    return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2


def _saddle(theta: Tensor) -> Tensor:
    # f = x² - y² + y⁴/2: a saddle at the origin (up along x, down along y); the quartic
    # term bounds it below, with minima at (0, ±1) where f = -1/2
    x, y = theta[0], theta[1]
    return x**2 - y**2 + 0.5 * y**4


def _local_minimum(theta: Tensor) -> Tensor:
    # a wide shallow basin at (-1, 0) beside a narrower, deeper one at (2, 0)
    x, y = theta[0], theta[1]
    shallow = -1.0 * ((-((x + 1) ** 2) - y**2) * 1.0).exp()
    deep = -2.0 * ((-((x - 2) ** 2) * 2.0 - y**2) * 1.0).exp()
    return shallow + deep + 0.05 * (x**2 + y**2)


def _long_valley(theta: Tensor) -> Tensor:
    # f = 5θ1² + √(1 + θ2²) - 1: steep walls across θ1, and a long floor along θ2 whose
    # slope is ≈ 1 far from the minimum (≈ |θ2| - 1 there), so the gradient along the
    # valley stays the same size for a long way — where AdaGrad's sum of squared
    # gradients grows linearly and its step shrinks like 1/√t
    return 5.0 * theta[0] ** 2 + ((1.0 + theta[1] ** 2) ** 0.5 - 1.0)


FUNCTIONS: dict[str, TestFunction] = {
    f.name: f
    for f in [
        TestFunction(
            "quadratic",
            _quadratic,
            start=(-1.0, 5.0),
            xlim=(-2.0, 2.0),
            ylim=(-6.0, 6.0),
            minima=((0.0, 0.0),),
            min_value=0.0,
            description="ill-conditioned bowl ½(10θ1² + 0.2θ2²): steep θ1 axis, shallow θ2",
        ),
        TestFunction(
            "rosenbrock",
            _rosenbrock,
            start=(-1.5, 2.0),
            xlim=(-2.0, 2.0),
            ylim=(-1.0, 3.0),
            minima=((1.0, 1.0),),
            min_value=0.0,
            description="(1-x)² + 100(y-x²)²: a curved narrow valley",
        ),
        TestFunction(
            "beale",
            _beale,
            start=(1.0, 1.5),
            xlim=(-4.5, 4.5),
            ylim=(-4.5, 4.5),
            minima=((3.0, 0.5),),
            min_value=0.0,
            description="Beale's function: flat plateaus and sharp ridges",
        ),
        TestFunction(
            "himmelblau",
            _himmelblau,
            start=(0.0, 0.0),
            xlim=(-5.0, 5.0),
            ylim=(-5.0, 5.0),
            minima=(
                (3.0, 2.0),
                (-2.805118, 3.131312),
                (-3.779310, -3.283186),
                (3.584428, -1.848126),
            ),
            min_value=0.0,
            description="four equal minima: where you end depends on the path",
        ),
        TestFunction(
            "saddle",
            _saddle,
            start=(1.0, 1e-3),
            xlim=(-1.5, 1.5),
            ylim=(-1.5, 1.5),
            minima=((0.0, 1.0), (0.0, -1.0)),
            min_value=-0.5,
            description="x² - y² + y⁴/2: a saddle at the origin, minima at (0, ±1)",
        ),
        TestFunction(
            "local_minimum",
            _local_minimum,
            start=(-2.5, 0.3),
            xlim=(-3.5, 3.5),
            ylim=(-2.0, 2.0),
            minima=((1.975173, 0.0),),
            min_value=-1.802614,
            description="a wide shallow basin at (-1, 0) beside a deeper one at (2, 0)",
        ),
        TestFunction(
            "long_valley",
            _long_valley,
            start=(1.0, 30.0),
            xlim=(-2.0, 2.0),
            ylim=(-5.0, 35.0),
            minima=((0.0, 0.0),),
            min_value=0.0,
            description="5θ1² + √(1 + θ2²) - 1: steep walls, a long floor of constant slope",
        ),
    ]
}


def get_function(name: str) -> TestFunction:
    """Look up a test function by name; unknown names list the valid ones."""
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown function {name!r}; available: {', '.join(sorted(FUNCTIONS))}"
        ) from None
