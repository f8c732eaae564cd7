"""The interactive playground page: one self-contained HTML file of precomputed paths.

``write_page("playground.html")`` runs every chosen optimizer on every chosen 2-D test
function over a grid of slider values — η (a multiple of each optimizer's suggested
learning rate), ρ1 and ρ2 (the first- and second-moment decays: ``betas`` of Adam-like
methods, RMSprop's ``alpha``, Adadelta's ``rho``) and the momentum μ — with
:func:`~tinygrad_opt.playground.sweep.run_settings` (the registry's optimizers, the same
paths as :func:`~tinygrad_opt.playground.runner.run`), and writes a page whose script only
*looks up and draws* the path for the current slider values: no optimizer is written in
JavaScript. An optimizer's paths vary only along the sliders it uses (Adam: η, ρ1, ρ2;
momentum: η, μ; SGD: η), so the default grid (9 η × 7 ρ1 × 7 ρ2 × 7 μ) is 648 runs per
function, not 9·7³.

The page needs no network: its style, script, data and the contour pictures (PNG made with
matplotlib, as data URIs) are inline. Paths are stored quantised — θ to 1/8192 of the
plot window, log10(f − f*) to 0.001 — as per-step differences in int32, deflated and
base64-encoded (the browser inflates them with its built-in ``DecompressionStream``).
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_opt import optim
from tinygrad_opt.atomic_io import write_text_atomic
from tinygrad_opt.playground.functions import FUNCTIONS, TestFunction, get_function
from tinygrad_opt.playground.runner import Trajectory, suggested_lr
from tinygrad_opt.playground.sweep import run_settings

__all__ = [
    "DEFAULT_OPTIMIZERS",
    "LOSS_FLOOR",
    "LOSS_RESOLUTION",
    "POSITION_CLIP",
    "POSITION_LEVELS",
    "SLIDERS",
    "Grid",
    "PageData",
    "build_page_data",
    "count_runs",
    "settings_of",
    "hyperparameters_for",
    "render_page",
    "slider_axes",
    "write_page",
]

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")

#: The sliders: key -> (symbol, short label, what it is).
SLIDERS: dict[str, tuple[str, str, str]] = {
    "lr": ("η", "learning rate", "a multiple of each optimizer's suggested learning rate"),
    "rho1": ("ρ1", "β1", "first-moment decay: β1 of Adam-like methods"),
    "rho2": ("ρ2", "β2, α", "second-moment decay: β2, RMSprop's α, Adadelta's ρ"),
    "momentum": ("μ", "momentum", "momentum of SGD, Nesterov, LARS, ..."),
}

#: Methods whose second-moment decay is not the second of two ``betas``.
_SECOND_MOMENT = {
    "RMSprop": "alpha",
    "Adadelta": "rho",
    "TextbookRMSProp": "rho",
    "TextbookRMSPropNesterov": "rho",
}

CHROMIUM = "/usr/bin/chromium"
"""Debian's chromium, which the browser tests and the docs' screenshot open the page in
(through playwright; no browser is ever downloaded)."""
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
"""Its flags: headless, and no background connections (this machine's network is closed).
"""

POSITION_LEVELS = 8192
"""θ is stored to 1/POSITION_LEVELS of the plot window on each axis (~1/20 of a pixel)."""
LOSS_RESOLUTION = 1e-3
"""log10(f − f*) is stored to this many decades."""
LOSS_FLOOR = 1e-16
"""f − f* below this (or ≤ 0) is stored as this, as the loss plots of ``plot_paths``."""
POSITION_CLIP = 2**29
"""Stored θ is clipped to ±POSITION_CLIP units (65,536 windows away: far off the picture), so
the stored numbers and their differences fit in int32."""


@dataclass(frozen=True)
class Grid:
    """The values each slider steps through; the default is the library's default value
    (η ×1, β1 0.9, β2 0.999, μ 0.9) when the grid holds it, else the middle one."""

    lr: tuple[float, ...] = tuple(2.0**k for k in range(-4, 5))
    rho1: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
    rho2: tuple[float, ...] = (0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999)
    momentum: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)

    def __post_init__(self) -> None:
        for key in SLIDERS:
            values = getattr(self, key)
            if not values:
                raise ValueError(f"grid {key}: needs at least one value")
            for v in values:
                if not (isinstance(v, (int, float)) and math.isfinite(v)):
                    raise ValueError(f"grid {key}: {v!r} is not a finite number")
            if len(set(values)) != len(values):
                raise ValueError(f"grid {key}: repeated values in {list(values)}")
        if min(self.lr) <= 0:
            raise ValueError(f"grid lr: multiples must be > 0, got {min(self.lr)}")
        for key in ("rho1", "rho2"):
            bad = [v for v in getattr(self, key) if not 0.0 <= v < 1.0]
            if bad:
                raise ValueError(f"grid {key}: decays must be in [0, 1), got {bad[0]}")
        bad = [v for v in self.momentum if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"grid momentum: must be in (0, 1), got {bad[0]}")

    def values(self, key: str) -> tuple[float, ...]:
        return tuple(float(v) for v in getattr(self, key))

    def default_index(self, key: str) -> int:
        usual = {"lr": 1.0, "rho1": 0.9, "rho2": 0.999, "momentum": 0.9}[key]
        values = self.values(key)
        return values.index(usual) if usual in values else len(values) // 2


def slider_axes(optimizer: str) -> dict[str, str]:
    """The sliders that move ``optimizer``'s paths: slider key -> its hyperparameter.

    Every optimizer has η (``lr``); methods with two ``betas`` have ρ1 and ρ2; RMSprop
    (``alpha``) and Adadelta (``rho``) have ρ2; methods whose momentum is on by default
    (momentum, Nesterov, LARS, ...) have μ. A wrapper (SAM, Lookahead) has η only.
    """
    cls, preset = optim.lookup(optimizer)
    declared = {**getattr(cls, "hyperparameters", {}), **preset}
    axes = {"lr": "lr"}
    betas = declared.get("betas")
    if isinstance(betas, tuple) and len(betas) == 2:
        axes.update(rho1="betas[0]", rho2="betas[1]")
    elif cls.__name__ in _SECOND_MOMENT and _SECOND_MOMENT[cls.__name__] in declared:
        axes["rho2"] = _SECOND_MOMENT[cls.__name__]
    mu = declared.get("momentum")
    if isinstance(mu, (int, float)) and not isinstance(mu, bool) and mu > 0:
        axes["momentum"] = "momentum"
    return axes


def hyperparameters_for(
    function: str, optimizer: str, values: Mapping[str, float]
) -> dict[str, Any]:
    """The hyperparameters of ``optimizer`` at slider ``values`` (key -> value; the keys
    of :func:`slider_axes`): what the page's path for those values was run with."""
    hp: dict[str, Any] = {}
    for key, name in slider_axes(optimizer).items():
        if key == "lr":
            hp["lr"] = suggested_lr(function, optimizer) * values["lr"]
        elif name.startswith("betas"):
            hp["betas"] = (values["rho1"], values["rho2"])
        else:
            hp[name] = values[key]
    return hp


@dataclass
class OptimizerRuns:
    """One optimizer's runs on one function: the grid over its sliders, in C order."""

    name: str
    axes: dict[str, str]
    settings: list[dict[str, Any]]
    trajectories: list[Trajectory] = field(default_factory=list)


@dataclass
class PageData:
    """Everything the page shows, before encoding: per function, per optimizer, the runs."""

    grid: Grid
    steps: int
    functions: list[TestFunction]
    runs: dict[str, dict[str, OptimizerRuns]]  # function -> optimizer -> runs

    @property
    def n_runs(self) -> int:
        return sum(len(r.settings) for per_fn in self.runs.values() for r in per_fn.values())


def settings_of(function: str, optimizer: str, grid: Grid) -> list[dict[str, Any]]:
    """The hyperparameters of every run of ``optimizer`` on ``function``: the grid over
    its sliders (:func:`slider_axes`, in that order), in C order (the last slider fastest)."""
    keys = list(slider_axes(optimizer))
    return [
        hyperparameters_for(function, optimizer, dict(zip(keys, combo)))
        for combo in itertools.product(*(grid.values(k) for k in keys))
    ]


def _settings(function: str, optimizer: str, grid: Grid) -> OptimizerRuns:
    return OptimizerRuns(optimizer, slider_axes(optimizer), settings_of(function, optimizer, grid))


def count_runs(optimizers: Sequence[str], grid: Grid) -> int:
    """Runs per function for these optimizers on this grid."""
    return sum(math.prod(len(grid.values(k)) for k in slider_axes(o)) for o in optimizers)


def build_page_data(
    functions: Sequence[str] | None = None,
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    steps: int = 200,
    grid: Grid | None = None,
    progress: bool | None = None,
) -> PageData:
    """Run every optimizer over its slider grid on every function (all batched per
    function). ``progress``: a tqdm bar (None: only on a terminal)."""
    from tqdm.auto import tqdm

    grid = grid or Grid()
    names = list(FUNCTIONS) if functions is None else list(functions)
    fns = [get_function(n) for n in names]
    for o in optimizers:
        optim.lookup(o)  # an unknown name fails here, before any run
    per_fn = count_runs(optimizers, grid)
    bar = tqdm(
        total=per_fn * steps * len(fns),
        desc="playground",
        unit="step",
        unit_scale=True,
        disable=(not progress) if progress is not None else None,
        leave=False,
    )
    runs: dict[str, dict[str, OptimizerRuns]] = {}
    with bar, np.errstate(all="ignore"):  # diverging runs end in nan: shown, not warned
        for fn in fns:
            groups = [_settings(fn.name, o, grid) for o in optimizers]
            flat = [(g.name, hp) for g in groups for hp in g.settings]
            done = run_settings(fn, flat, steps, progress=bar.update)
            i = 0
            for g in groups:
                g.trajectories = done[i : i + len(g.settings)]
                i += len(g.settings)
            runs[fn.name] = {g.name: g for g in groups}
            bar.n = bar.total * (len(runs) / len(fns))  # runs that ended early skip steps
            bar.refresh()
    return PageData(grid, steps, fns, runs)


# ----------------------------------------------------------------------- encoding


def quantise(fn: TestFunction, t: Trajectory) -> tuple[int, np.ndarray]:
    """``(length, q)``: the number of leading steps with a finite θ and f, and the
    (3, steps + 1) integers stored for the path — θ1 and θ2 in units of 1/POSITION_LEVELS
    of the window, log10(max(f − f*, LOSS_FLOOR)) in units of LOSS_RESOLUTION — held
    constant after ``length``."""
    finite = np.isfinite(t.points).all(axis=1) & np.isfinite(t.losses)
    length = int(np.argmin(finite)) if not finite.all() else len(finite)
    res = _resolution(fn)
    with np.errstate(all="ignore"):
        gap = np.maximum(t.losses - fn.min_value, LOSS_FLOOR)
        rows = [
            t.points[:, 0] / res[0],
            t.points[:, 1] / res[1],
            np.log10(gap) / LOSS_RESOLUTION,
        ]
    q = np.zeros((3, len(t.losses)), dtype=np.int64)
    for c, row in enumerate(rows):
        q[c, :length] = np.clip(np.round(row[:length]), -POSITION_CLIP, POSITION_CLIP)
        q[c, length:] = q[c, length - 1] if length else 0
    return length, q


def _resolution(fn: TestFunction) -> tuple[float, float]:
    return (
        (fn.xlim[1] - fn.xlim[0]) / POSITION_LEVELS,
        (fn.ylim[1] - fn.ylim[0]) / POSITION_LEVELS,
    )


def _encode_function(fn: TestFunction, per_opt: dict[str, OptimizerRuns]) -> dict[str, Any]:
    lengths: list[int] = []
    blocks: list[np.ndarray] = []
    optimizers: dict[str, Any] = {}
    for name, runs in per_opt.items():
        optimizers[name] = {"offset": len(lengths), "count": len(runs.settings)}
        for t in runs.trajectories:
            length, q = quantise(fn, t)
            lengths.append(length)
            blocks.append(np.diff(q, axis=1, prepend=0))  # per-step differences
    raw = np.stack(blocks).astype("<i4").tobytes() if blocks else b""
    return {
        "name": fn.name,
        "description": fn.description,
        "xlim": list(fn.xlim),
        "ylim": list(fn.ylim),
        "start": list(fn.start),
        "minima": [list(m) for m in fn.minima],
        "min_value": fn.min_value,
        "resolution": list(_resolution(fn)),
        "base_lr": {name: suggested_lr(fn.name, name) for name in per_opt},
        "optimizers": optimizers,
        "lengths": lengths,
        "paths": base64.b64encode(zlib.compress(raw, 9)).decode("ascii"),
        "background": _background_png(fn),
    }


PLOT_SIZE = (400, 400)
"""Pixels of the contour picture (the plot area of the page's path canvas)."""


def _background_png(fn: TestFunction, size: tuple[int, int] = PLOT_SIZE) -> str:
    """A contour map of f over the plot window, exactly ``size`` pixels, no axes: base64."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    w, h = size
    xs = np.linspace(*fn.xlim, 240)
    ys = np.linspace(*fn.ylim, 240)
    X, Y = np.meshgrid(xs, ys)
    with np.errstate(all="ignore"):
        Z = fn.value(np.stack([X, Y]))
    shifted = Z - np.nanmin(Z)
    top = max(float(np.nanmax(shifted)), 1e-2)
    low = max(top * 1e-6, 1e-4)
    levels = np.geomspace(low, top, 24)
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    clipped = np.clip(shifted, low, top)
    ax.contourf(X, Y, clipped, levels=levels, cmap="viridis", norm=LogNorm(low, top))
    ax.contour(X, Y, clipped, levels=levels, colors="white", linewidths=0.4, alpha=0.35)
    ax.set_xlim(fn.xlim)
    ax.set_ylim(fn.ylim)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colours(n: int) -> list[str]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return [matplotlib.colors.to_hex(cmap(i % 10)) for i in range(n)]


def page_json(data: PageData) -> dict[str, Any]:
    """The data the page embeds (JSON-ready)."""
    grid = data.grid
    optimizers = list(next(iter(data.runs.values())).values()) if data.runs else []
    return {
        "format": 1,
        "steps": data.steps,
        "position_levels": POSITION_LEVELS,
        "loss_resolution": LOSS_RESOLUTION,
        "loss_floor": LOSS_FLOOR,
        "plot_size": list(PLOT_SIZE),
        "sliders": [
            {
                "key": key,
                "symbol": symbol,
                "label": label,
                "title": title,
                "values": list(grid.values(key)),
                "default": grid.default_index(key),
            }
            for key, (symbol, label, title) in SLIDERS.items()
        ],
        "optimizers": [
            {"name": r.name, "axes": r.axes, "colour": colour}
            for r, colour in zip(optimizers, _colours(len(optimizers)))
        ],
        "functions": [_encode_function(fn, data.runs[fn.name]) for fn in data.functions],
    }


def _template() -> str:
    return resources.files("tinygrad_opt.playground").joinpath("page.html").read_text("utf-8")


def render_page(data: PageData) -> str:
    """The HTML text of the page."""
    blob = json.dumps(page_json(data), separators=(",", ":"), allow_nan=False)
    blob = blob.replace("<", "\\u003c")  # nothing in the data can close the <script>
    return _template().replace("__PLAYGROUND_DATA__", blob)


def write_page(
    path: str | Path,
    functions: Sequence[str] | None = None,
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    steps: int = 200,
    grid: Grid | None = None,
    progress: bool | None = None,
    on_built: Callable[[PageData], None] | None = None,
) -> Path:
    """Compute the paths and write the page to ``path`` (atomically)."""
    data = build_page_data(functions, optimizers, steps, grid, progress)
    if on_built is not None:
        on_built(data)
    return write_text_atomic(path, render_page(data))
