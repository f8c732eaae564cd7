"""Pictures of playground runs: contour maps with paths, loss curves, an animated GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinygrad_opt.playground.runner import PlaygroundRun


def _figure(figsize: tuple[float, float]):
    """A Figure that belongs to no pyplot backend: drawing it neither opens a window nor
    switches the caller's backend (a notebook's inline backend stays as it was)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _grid(run: PlaygroundRun, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fn = run.function
    xs = np.linspace(*fn.xlim, n)
    ys = np.linspace(*fn.ylim, n)
    X, Y = np.meshgrid(xs, ys)
    Z = fn.value(np.stack([X, Y]))
    return X, Y, Z


def _contour(ax, run: PlaygroundRun) -> None:
    X, Y, Z = _grid(run)
    shifted = Z - np.nanmin(Z)
    levels = np.nanmin(shifted) + np.geomspace(1e-3, max(np.nanmax(shifted), 1e-2), 30)
    ax.contour(X, Y, shifted, levels=levels, cmap="viridis", linewidths=0.6, alpha=0.8)
    for m in run.function.minima:
        ax.plot(*m, marker="*", color="gold", markersize=12, markeredgecolor="k", zorder=5)
    ax.set_xlim(run.function.xlim)
    ax.set_ylim(run.function.ylim)
    ax.set_xlabel("θ1")
    ax.set_ylabel("θ2")


def plot_paths(run: PlaygroundRun, path: str | Path, title: str | None = None) -> Path:
    """Contour map of the function with every optimizer's path, plus loss vs step."""
    fig = _figure((12, 5))
    ax, ax_loss = fig.subplots(1, 2)
    _contour(ax, run)
    for name, t in run.trajectories.items():
        ax.plot(t.points[:, 0], t.points[:, 1], "-", lw=1.5, label=name)
        ax.plot(*t.points[0], "ko", ms=4)
        gap = t.losses - run.function.min_value
        ax_loss.plot(np.maximum(gap, 1e-16), label=name)
    ax.set_title(title or f"{run.function.name}: {run.function.description}", fontsize=9)
    ax.legend(fontsize=8)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("f(θ) - f*")
    ax_loss.grid(True, which="both", alpha=0.3)
    ax_loss.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def animate_paths(run: PlaygroundRun, path: str | Path, frames: int = 60, fps: int = 15) -> Path:
    """An animated GIF of the optimizers moving over the contour map (needs Pillow)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig = _figure((6, 5))
    ax = fig.subplots()
    _contour(ax, run)
    lines = {name: ax.plot([], [], "-", lw=1.5, label=name)[0] for name in run.trajectories}
    heads = {name: ax.plot([], [], "o", color=lines[name].get_color())[0] for name in lines}
    ax.legend(fontsize=8, loc="upper right")
    n_steps = max(len(t.points) for t in run.trajectories.values())
    cuts = np.unique(np.linspace(1, n_steps, frames).astype(int))

    def draw(i: int):
        k = cuts[i]
        for name, t in run.trajectories.items():
            lines[name].set_data(t.points[:k, 0], t.points[:k, 1])
            heads[name].set_data(t.points[k - 1 : k, 0], t.points[k - 1 : k, 1])
        ax.set_title(f"{run.function.name}, step {k - 1}")
        return [*lines.values(), *heads.values()]

    anim = FuncAnimation(fig, draw, frames=len(cuts), blit=False)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    anim.save(out, writer=PillowWriter(fps=fps))
    return out
