"""examples/char_transformer.py: the --quick run trains (the losses fall), plots, samples."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "char_transformer.py"


def _load():
    spec = importlib.util.spec_from_file_location("example_char_transformer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("char_transformer")
    return _load().main(["--quick", "--quiet", "--out", str(out)])


def test_quick_run_learns(quick_run):
    history = quick_run["history"]
    steps = len(history["train_loss"])
    assert steps == 60
    first, last = np.mean(history["train_loss"][:5]), np.mean(history["train_loss"][-5:])
    assert last < first - 0.5, (first, last)
    val = history["val_loss"]
    assert history["val_step"] == [0, 20, 40, 60]
    assert val[-1] < val[0] - 0.5 and val[-1] < math.log(quick_run["vocab_size"])
    assert quick_run["final_val_loss"] == val[-1]
    assert history["lr"][0] < history["lr"][5]  # warm-up
    assert history["lr"][-1] < max(history["lr"])  # then decay


def test_quick_run_plots_and_samples(quick_run):
    from matplotlib.image import imread

    png = quick_run["png"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.01
    samples = quick_run["samples"]
    assert len(samples) == 3
    for text in samples.values():
        assert text.startswith("The ") and len(text) == 4 + 120


def test_quick_mode_as_a_script_is_fast(tmp_path):
    """The command CI runs; the whole process (imports included) well under a minute."""
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "sample at temperature 0.8" in proc.stdout
    assert "val loss" in proc.stdout
    assert (tmp_path / "char_transformer_loss.png").is_file()
