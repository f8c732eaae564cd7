"""The declared hyperparameter search space of every registered optimizer.

Every method gets the same tuning budget: ``budget`` trials drawn at random from its space
(:func:`sample`). A space names only what the method has: the learning rate (always,
log-uniform), β's / momentum (as ``1 - β`` log-uniform, so 0.9 … 0.999 is sampled as
evenly as 0.9 … 0.99), and decoupled weight decay for methods defined with it. Anything
not named keeps the registry's default (with the name's preset, e.g. ``momentum``'s μ =
0.9 before it is searched). A name missing from :data:`SEARCH_SPACES` cannot be
benchmarked: :func:`space_for` refuses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

__all__ = [
    "Fixed",
    "LogUniform",
    "OneMinusLogUniform",
    "SEARCH_SPACES",
    "Uniform",
    "describe_space",
    "sample",
    "space_for",
    "spaces_markdown",
]

SIGNIFICANT = 4
"""Sampled values are rounded to this many significant digits (readable JSON, and the
value written is exactly the value used)."""


def _round(x: float) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{SIGNIFICANT - 1}e}")


@dataclass(frozen=True)
class LogUniform:
    """exp(U(log low, log high))."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high:
            raise ValueError(f"LogUniform needs 0 < low <= high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return _round(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def describe(self) -> str:
        return f"log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class OneMinusLogUniform:
    """1 - exp(U(log low, log high)): a β or momentum whose gap to 1 is log-uniform."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low <= self.high < 1:
            raise ValueError(
                f"OneMinusLogUniform needs 0 < low <= high < 1, got {self.low}, {self.high}"
            )

    def sample(self, rng: np.random.Generator) -> float:
        gap = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return _round(1.0 - gap)

    def describe(self) -> str:
        return f"1 - log-uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform:
    """U(low, high)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"Uniform needs low <= high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return _round(rng.uniform(self.low, self.high))

    def describe(self) -> str:
        return f"uniform [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Fixed:
    """Always ``value`` (a component of a tuple such as Adan's third β)."""

    value: Any

    def sample(self, rng: np.random.Generator) -> Any:
        return self.value

    def describe(self) -> str:
        return f"{self.value!r}"


Dist = Union[LogUniform, OneMinusLogUniform, Uniform, Fixed]  # noqa: UP007 (a runtime alias, py3.10)
Space = Mapping[str, Any]

# Building blocks ---------------------------------------------------------------------------
B1 = OneMinusLogUniform(0.02, 0.2)  # β1 in [0.8, 0.98]
B2 = OneMinusLogUniform(1e-3, 1e-1)  # β2 in [0.9, 0.999]
MU = OneMinusLogUniform(0.01, 0.3)  # momentum in [0.7, 0.99]
RHO = OneMinusLogUniform(1e-3, 1e-1)  # squared-gradient average in [0.9, 0.999]
WD = LogUniform(1e-5, 1e-1)  # decoupled weight decay
ADAM_LR = LogUniform(1e-5, 1e-1)
SGD_LR = LogUniform(1e-3, 1.0)
MOMENTUM_LR = LogUniform(1e-4, 3e-1)
FREE_LR = LogUniform(0.3, 3.0)  # a multiplier of a parameter-free method's own estimate


def _adam_like(lr: LogUniform = ADAM_LR, wd: bool = False) -> dict[str, Any]:
    space: dict[str, Any] = {"lr": lr, "betas": (B1, B2)}
    if wd:
        space["weight_decay"] = WD
    return space


SEARCH_SPACES: dict[str, dict[str, Any]] = {
    # SGD family
    "sgd": {"lr": SGD_LR},
    "textbook_sgd": {"lr": SGD_LR},
    "asgd": {"lr": SGD_LR},
    "momentum": {"lr": MOMENTUM_LR, "momentum": MU},
    "nesterov": {"lr": MOMENTUM_LR, "momentum": MU},
    "textbook_momentum": {"lr": MOMENTUM_LR, "momentum": MU},
    "textbook_nesterov": {"lr": MOMENTUM_LR, "momentum": MU},
    "lars": {"lr": LogUniform(1e-2, 30.0), "momentum": MU},
    "signsgd": {"lr": LogUniform(1e-5, 1e-1)},
    "signum": {"lr": LogUniform(1e-5, 1e-1), "momentum": MU},
    "fromage": {"lr": LogUniform(1e-3, 3e-1)},
    "rprop": {"lr": LogUniform(1e-4, 1e-1)},
    "schedulefree_sgd": {"lr": LogUniform(1e-3, 3.0), "momentum": MU},
    "lookahead": {"lr": SGD_LR, "alpha": Uniform(0.3, 0.8)},  # base SGD's lr
    "sam": {"lr": SGD_LR, "rho": LogUniform(0.01, 0.2)},  # base SGD's lr
    "lbfgs": {"lr": LogUniform(1e-2, 1.0)},
    # AdaGrad / RMSProp family
    "adagrad": {"lr": SGD_LR},
    "textbook_adagrad": {"lr": SGD_LR},
    "adadelta": {"lr": LogUniform(1e-2, 10.0), "rho": RHO},
    "rmsprop": {"lr": ADAM_LR, "alpha": RHO},
    "rmsprop_centered": {"lr": ADAM_LR, "alpha": RHO},
    "textbook_rmsprop": {"lr": ADAM_LR, "rho": RHO},
    "textbook_rmsprop_nesterov": {"lr": ADAM_LR, "rho": RHO, "momentum": MU},
    "sm3": {"lr": SGD_LR, "momentum": MU},
    "sm3_nomomentum": {"lr": SGD_LR},
    "adafactor": {"lr": LogUniform(1e-4, 1e-1)},
    "shampoo": {"lr": LogUniform(1e-4, 1e-1)},
    # Adam family
    "adam": _adam_like(),
    "amsgrad": _adam_like(),
    "textbook_adam": _adam_like(),
    "adamax": _adam_like(),
    "nadam": _adam_like(),
    "radam": _adam_like(),
    "adabelief": _adam_like(),
    "adopt": {"lr": ADAM_LR, "betas": (B1, OneMinusLogUniform(1e-4, 1e-2))},
    "yogi": _adam_like(LogUniform(1e-4, 1.0)),
    "novograd": {"lr": LogUniform(1e-4, 1e-1), "betas": (B1, Uniform(0.1, 0.5))},
    "adamw": _adam_like(wd=True),
    "nadamw": _adam_like(wd=True),
    "radamw": _adam_like(wd=True),
    "lamb": _adam_like(LogUniform(1e-4, 1e-1), wd=True),
    "adan": {
        "lr": ADAM_LR,
        "betas": (OneMinusLogUniform(0.01, 0.1), OneMinusLogUniform(0.02, 0.2), B2),
        "weight_decay": WD,
    },
    "ademamix": {"lr": ADAM_LR, "betas": (B1, B2, Fixed(0.9999)), "weight_decay": WD},
    "schedulefree_adamw": _adam_like(LogUniform(1e-4, 1e-1), wd=True),
    "lion": {
        "lr": LogUniform(1e-6, 1e-2),
        "betas": (B1, OneMinusLogUniform(1e-3, 1e-1)),
        "weight_decay": WD,
    },
    "soap": {"lr": LogUniform(1e-4, 3e-2), "betas": (B1, B1), "weight_decay": WD},
    "sophia": {"lr": LogUniform(1e-5, 1e-2), "rho": LogUniform(0.01, 0.1), "weight_decay": WD},
    "sophiag": {"lr": LogUniform(1e-5, 1e-2), "rho": LogUniform(0.01, 0.1), "weight_decay": WD},
    "sophiah": {"lr": LogUniform(1e-5, 1e-2), "weight_decay": WD},
    "muon": {"lr": LogUniform(1e-3, 1e-1), "momentum": MU, "weight_decay": WD},
    "muon_optax": {"lr": LogUniform(1e-3, 1e-1), "momentum": MU},
    # parameter-free: the lr multiplies the method's own step-size estimate
    "dadapt_adam": {"lr": FREE_LR},
    "dadapt_sgd": {"lr": FREE_LR},
    "prodigy": {"lr": FREE_LR, "weight_decay": WD},
}
"""Optimizer name -> {hyperparameter: distribution (or a tuple of them, for ``betas``)}."""


def space_for(name: str) -> dict[str, Any]:
    """The declared space of ``name`` (registry spelling: case-insensitive, ``-`` = ``_``);
    a ``ValueError`` naming the method if it has none."""
    key = name.lower().replace("-", "_")
    if key not in SEARCH_SPACES:
        raise ValueError(
            f"optimizer {name!r} has no declared search space, so it cannot be tuned on an "
            "equal budget; add it to tinygrad_opt.benchmark.spaces.SEARCH_SPACES"
        )
    return SEARCH_SPACES[key]


def sample(space: Space, rng: np.random.Generator) -> dict[str, Any]:
    """One draw of every hyperparameter of ``space``, in declaration order (tuples become
    lists, as they come back from JSON)."""
    out: dict[str, Any] = {}
    for key, dist in space.items():
        if isinstance(dist, tuple):
            out[key] = [d.sample(rng) for d in dist]
        else:
            out[key] = dist.sample(rng)
    return out


def describe_space(space: Space) -> dict[str, str]:
    """``{"lr": "log-uniform [1e-05, 0.1]", "betas": "(…, …)"}``: for docs and the results
    file (a resumed run checks that the spaces did not change)."""
    out = {}
    for key, dist in space.items():
        if isinstance(dist, tuple):
            out[key] = "(" + ", ".join(d.describe() for d in dist) + ")"
        else:
            out[key] = dist.describe()
    return out


def spaces_markdown() -> str:
    """The table of every declared space (docs/benchmark.md; scripts/make_docs_tables.py)."""
    lines = ["| method | searched (everything else at the registry default) |", "|---|---|"]
    for name in sorted(SEARCH_SPACES):
        desc = describe_space(SEARCH_SPACES[name])
        lines.append(f"| `{name}` | " + "; ".join(f"{k} {v}" for k, v in desc.items()) + " |")
    return "\n".join(lines) + "\n"
