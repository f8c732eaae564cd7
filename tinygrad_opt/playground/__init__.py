"""The optimizer playground: 2-D test functions, side-by-side runs, and pictures.

from tinygrad_opt import playground
run = playground.run("rosenbrock", ["sgd", "momentum", "adagrad", "rmsprop", "adam"], 500)
playground.plot_paths(run, "out/rosenbrock.png")
playground.write_page("playground.html")  # the interactive page (docs/playground.md)
"""

from tinygrad_opt.playground.functions import FUNCTIONS, TestFunction, get_function
from tinygrad_opt.playground.page import write_page
from tinygrad_opt.playground.plots import animate_paths, plot_paths
from tinygrad_opt.playground.runner import SUGGESTED_LR, PlaygroundRun, Trajectory, run
from tinygrad_opt.playground.sweep import run_settings

__all__ = [
    "FUNCTIONS",
    "SUGGESTED_LR",
    "PlaygroundRun",
    "TestFunction",
    "Trajectory",
    "animate_paths",
    "get_function",
    "plot_paths",
    "run",
    "run_settings",
    "write_page",
]
