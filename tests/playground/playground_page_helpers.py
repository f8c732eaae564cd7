"""The small page the playground tests build, and a decoder of its embedded data written
independently of the page's script."""

import base64
import json
import re
import zlib

import numpy as np

from tinygrad_opt.playground.page import Grid

SMALL_GRID = Grid(
    lr=(0.25, 1.0, 4.0),  # ×4: SGD on Rosenbrock overflows at step 7
    rho1=(0.5, 0.9),
    rho2=(0.99, 0.999),
    momentum=(0.5, 0.9),
)
SMALL_STEPS = 40
SMALL_FUNCTIONS = ("quadratic", "rosenbrock", "beale")
SMALL_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


def embedded_json(html: str) -> dict:
    """The JSON the page embeds."""
    tag = '<script id="playground-data" type="application/json">'
    m = re.search(re.escape(tag) + "(.*?)</script>", html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def decode_paths(f: dict, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (runs, steps + 1, 2), log10 gaps (runs, steps + 1), lengths) of one embedded
    function, decoded here independently of the page's script."""
    raw = zlib.decompress(base64.b64decode(f["paths"]))
    q = np.frombuffer(raw, dtype="<i4").reshape(len(f["lengths"]), 3, steps + 1)
    q = np.cumsum(q.astype(np.int64), axis=2)
    rx, ry = f["resolution"]
    points = np.stack([q[:, 0] * rx, q[:, 1] * ry], axis=-1)
    return points, q[:, 2] * 1e-3, np.array(f["lengths"])
