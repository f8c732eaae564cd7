"""Helpers the optimizer tests share: reading the reference fixtures that
``scripts/make_*_fixtures.py`` write, and checks every method gets (invalid values,
maximize, finite steps).

Most files share one layout: ``grads/<i>`` (steps, *shape_i), ``steps`` (the 1-based steps
saved), ``cases`` (JSON list), ``<name>/init/<i>`` and ``<name>/traj/<i>`` (saved steps,
*shape_i). :func:`replay` runs one case of such a file through our optimizer.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tinygrad_opt.optim.testing import (
    Trajectory,
    compare_trajectories,
    gradient_sequence,
    initial_params,
    run_optimizer,
)
from tinygrad_opt.tensor import Tensor

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@functools.cache
def load_script(stem: str) -> ModuleType:
    """``scripts/<stem>.py`` as a module (its samplers and reference runners)."""
    spec = importlib.util.spec_from_file_location(stem, ROOT / "scripts" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read into memory."""
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def fixture_cases(path: Path) -> list[dict]:
    """The ``cases`` JSON list of a fixture file."""
    with np.load(path) as d:
        return json.loads(str(d["cases"]))


def step_gradients(data: dict[str, np.ndarray], idx: Sequence[int]) -> list[list[np.ndarray]]:
    """Per step, the gradients ``grads/<i>`` of the parameters ``idx``."""
    return [[data[f"grads/{i}"][t] for i in idx] for t in range(len(data["grads/0"]))]


def saved_trajectory(data: dict[str, np.ndarray], name: str, idx: Sequence[int]) -> Trajectory:
    """Per saved step, the reference's parameters ``<name>/traj/<i>`` for ``idx``."""
    return [[data[f"{name}/traj/{i}"][k] for i in idx] for k in range(len(data["steps"]))]


def replay(
    data: dict[str, np.ndarray],
    case: dict[str, Any],
    make: Callable[[list], Any],
    idx: Sequence[int],
) -> tuple[Trajectory, Trajectory]:
    """(ours, reference) at the saved steps of ``case``: ours made by ``make`` from
    ``<name>/init/<i>``, fed ``grads/<i>``, its lr changed by ``case["lr_change"]``."""
    name = case["name"]
    steps = [int(s) for s in data["steps"]]
    params0 = [data[f"{name}/init/{i}"] for i in idx]
    ours = run_optimizer(
        make, params0, step_gradients(data, idx), lr_change=case["lr_change"], saved=steps
    )
    return ours, saved_trajectory(data, name, idx)


# --------------------------------------------------------------------------- shared checks
def assert_invalid_raises(cls: type, name: str, value: Any) -> None:
    """``cls(params, name=value)`` raises ValueError whose message shows the bad value
    (for a betas tuple: the first beta outside [0, 1))."""
    shown = str([b for b in value if not 0 <= b < 1][0] if isinstance(value, tuple) else value)
    with pytest.raises(ValueError, match=re.escape(shown)):
        cls([Tensor(np.zeros(2), requires_grad=True)], **{name: value})


def assert_maximize_negates(cls: type, hp: dict, shapes: Sequence[tuple], steps: int) -> None:
    """``maximize=True`` takes bit for bit the steps of minimizing with negated gradients."""
    grads = gradient_sequence(shapes, steps)
    params0 = initial_params(shapes)
    up = run_optimizer(lambda ps: cls(ps, **hp, maximize=True), params0, grads)
    down = run_optimizer(lambda ps: cls(ps, **hp), params0, [[-g for g in s] for s in grads])
    compare_trajectories(up, down, rtol=0, atol=0)


def assert_finite_steps(cls: type, hp: dict, draw: Callable[[], list], steps: int = 3) -> None:
    """A parameter ``draw()`` stays finite over ``steps`` steps of gradients ``draw()``."""
    p = Tensor(np.array(draw()), requires_grad=True)
    opt = cls([p], **hp)
    for _ in range(steps):
        p.grad = np.array(draw())
        opt.step()
        assert np.isfinite(p.data).all(), (hp, p.data)
