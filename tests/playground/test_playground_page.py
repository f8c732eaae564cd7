"""The playground page: its embedded paths are the library's, it needs no network, and the
`tinygrad-opt playground` command checks everything before any work."""

import re

import numpy as np
import pytest
from playground_page_helpers import (
    SMALL_FUNCTIONS,
    SMALL_GRID,
    SMALL_OPTIMIZERS,
    SMALL_STEPS,
    decode_paths,
    embedded_json,
)

from tinygrad_opt import playground
from tinygrad_opt.cli import main
from tinygrad_opt.playground.page import (
    LOSS_FLOOR,
    POSITION_CLIP,
    POSITION_LEVELS,
    Grid,
    hyperparameters_for,
    slider_axes,
)
from tinygrad_opt.playground.runner import SUGGESTED_LR


def test_each_optimizer_varies_along_the_sliders_it_uses():
    assert slider_axes("sgd") == {"lr": "lr"}
    assert slider_axes("adagrad") == {"lr": "lr"}
    assert slider_axes("momentum") == {"lr": "lr", "momentum": "momentum"}
    assert slider_axes("nesterov") == {"lr": "lr", "momentum": "momentum"}
    assert slider_axes("rmsprop") == {"lr": "lr", "rho2": "alpha"}
    assert slider_axes("adadelta") == {"lr": "lr", "rho2": "rho"}
    assert slider_axes("adam") == {"lr": "lr", "rho1": "betas[0]", "rho2": "betas[1]"}
    assert slider_axes("adan") == {"lr": "lr"}  # three betas: not ρ1/ρ2
    assert slider_axes("lookahead") == {"lr": "lr"}
    values = {"lr": 2.0, "rho1": 0.8, "rho2": 0.99, "momentum": 0.7}
    assert hyperparameters_for("beale", "adam", values) == {
        "lr": 2.0 * SUGGESTED_LR["beale"]["adam"],
        "betas": (0.8, 0.99),
    }
    assert hyperparameters_for("beale", "nesterov", values) == {
        "lr": 2.0 * SUGGESTED_LR["beale"]["nesterov"],
        "momentum": 0.7,
    }


def _grid_settings(function: str, optimizer: str) -> list[dict]:
    """The runs of one optimizer on the page, in the page's order, written out here."""
    lr0 = SUGGESTED_LR[function][optimizer]
    if optimizer == "adam":
        return [
            {"lr": lr0 * s, "betas": (b1, b2)}
            for s in SMALL_GRID.lr
            for b1 in SMALL_GRID.rho1
            for b2 in SMALL_GRID.rho2
        ]
    if optimizer in ("momentum", "nesterov"):
        return [{"lr": lr0 * s, "momentum": m} for s in SMALL_GRID.lr for m in SMALL_GRID.momentum]
    if optimizer == "rmsprop":
        return [{"lr": lr0 * s, "alpha": a} for s in SMALL_GRID.lr for a in SMALL_GRID.rho2]
    return [{"lr": lr0 * s} for s in SMALL_GRID.lr]


def test_embedded_paths_are_what_playground_run_gives(small_page):
    data = embedded_json(small_page[1])
    assert data["steps"] == SMALL_STEPS
    assert [f["name"] for f in data["functions"]] == list(SMALL_FUNCTIONS)
    diverged = 0
    for f in data["functions"]:
        fn = playground.get_function(f["name"])
        points, log_gaps, lengths = decode_paths(f, SMALL_STEPS)
        rx, ry = (
            (fn.xlim[1] - fn.xlim[0]) / POSITION_LEVELS,
            (fn.ylim[1] - fn.ylim[0]) / POSITION_LEVELS,
        )
        for opt in SMALL_OPTIMIZERS:
            block = f["optimizers"][opt]
            settings = _grid_settings(f["name"], opt)
            assert block["count"] == len(settings)
            for i, hp in enumerate(settings):
                r = block["offset"] + i
                with np.errstate(all="ignore"):
                    ref = playground.run(fn, {opt: (opt, hp)}, SMALL_STEPS).trajectories[opt]
                finite = np.isfinite(ref.losses) & np.isfinite(ref.points).all(axis=1)
                n = int(finite.sum())
                assert finite[:n].all() and lengths[r] == n
                diverged += n < SMALL_STEPS + 1
                far = POSITION_CLIP * np.array([rx, ry])  # stored θ is clipped there
                err = np.abs(points[r, :n] - np.clip(ref.points[:n], -far, far))
                assert (err[:, 0] <= rx / 2 + 1e-12).all() and (err[:, 1] <= ry / 2 + 1e-12).all()
                gap = np.maximum(ref.losses[:n] - fn.min_value, LOSS_FLOOR)
                np.testing.assert_allclose(log_gaps[r, :n], np.log10(gap), atol=5e-4 + 1e-9)
    assert diverged  # the grid holds diverging runs, and their length says where they end


def test_page_needs_no_network(small_page):
    html = small_page[1]
    assert not re.search(r"https?:", html, re.I)  # no address (":" is not in base64)
    assert not re.search(r"<link(?![^>]*href=\"data:)", html)  # only the data: icon
    assert not re.search(r"\bsrc=\"(?!data:)", html)
    assert "import(" not in html and "@import" not in html and "fetch(" not in html
    assert "XMLHttpRequest" not in html and "WebSocket" not in html
    assert html.count("<script") == 2  # the data and the script, both inline
    assert "src=" not in "".join(re.findall(r"<script[^>]*>", html))


def test_slider_grids_hold_the_library_defaults():
    g = Grid()
    assert len(g.lr) == 9 and len(g.rho1) == len(g.rho2) == len(g.momentum) == 7
    assert [g.values(k)[g.default_index(k)] for k in ("lr", "rho1", "rho2", "momentum")] == [
        1.0,
        0.9,
        0.999,
        0.9,
    ]
    with pytest.raises(ValueError, match="grid rho2: decays must be in \\[0, 1\\), got 1.0"):
        Grid(rho2=(0.9, 1.0))
    with pytest.raises(ValueError, match="grid lr: multiples must be > 0"):
        Grid(lr=(0.0, 1.0))


def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "page.html"
    argv = ["playground", "--out", str(out), "--functions", "saddle", "--optimizers", "sgd,adam"]
    argv += ["--steps", "20", "--lr", "0.5,1", "--rho1", "0.9", "--rho2", "0.99,0.999"]
    assert main([*argv, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert re.match(r"wrote .*page\.html \(\d+\.\d MB\): 1 function\(s\) × 2 optimizer", printed)
    assert "6 runs per function" in printed  # sgd: 2 η; adam: 2 η × 1 ρ1 × 2 ρ2
    data = embedded_json(out.read_text(encoding="utf-8"))
    (f,) = data["functions"]
    assert f["name"] == "saddle" and f["optimizers"]["adam"] == {"offset": 2, "count": 4}
    points, _, _ = decode_paths(f, 20)
    ref = playground.run("saddle", [("adam", {"lr": 0.02, "betas": (0.9, 0.99)})], 20)
    res = 3.0 / POSITION_LEVELS
    assert np.abs(points[2 + 2] - ref.trajectories["adam"].points).max() <= res / 2 + 1e-12
    sliders = {s["key"]: s for s in data["sliders"]}
    assert sliders["lr"]["values"] == [0.5, 1.0] and sliders["lr"]["default"] == 1


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--functions", "rosenbrock,nope"], "unknown function(s) 'nope'; valid: beale"),
        (["--optimizers", "sgd,adamm"], "unknown optimizer(s) 'adamm'; valid: "),
        (["--optimizers", "muon"], "'muon' steps 2-D weight matrices only"),
        (["--optimizers", "adam,adam"], "--optimizers: 'adam' given twice"),
        (["--rho1", "0.9,1.5"], "--rho1: decays must be in [0, 1), got 1.5"),
        (["--momentum", "0,0.9"], "--momentum: must be in (0, 1), got 0.0"),
        (["--lr", "-1"], "--lr: multiples must be > 0, got -1.0"),
        (["--lr", "nan"], "--lr: nan is not a finite number"),
        (["--steps", "6000"], "--steps: must be <= 5,000, got 6,000"),
        (["--steps", "5000"], "= 22,684,536 points, more than 20,000,000"),
    ],
)
def test_cli_mistakes_exit_2_in_one_line_before_any_work(tmp_path, capsys, extra, message):
    out = tmp_path / "page.html"
    assert main(["playground", "--out", str(out), *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1 and not captured.out
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "out, message",
    [
        ("page.png", "--out: cannot write 'page.png': unknown extension '.png'; expected .html"),
        ("missing/page.html", "folder 'missing' does not exist"),
        ("page", "unknown extension '(none)'"),
    ],
)
def test_cli_refuses_a_bad_out_path_before_any_work(tmp_path, monkeypatch, capsys, out, message):
    monkeypatch.chdir(tmp_path)
    assert main(["playground", "--out", out]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_out_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main(["playground"])
    assert info.value.code == 2
    assert "--out" in capsys.readouterr().err


def test_only_the_sliders_an_optimizer_uses_multiply_its_runs(small_page):
    data = embedded_json(small_page[1])
    runs = sum(len(f["lengths"]) for f in data["functions"])
    assert runs == len(SMALL_FUNCTIONS) * (3 + 2 * 3 * 2 + 3 + 3 * 2 + 3 * 2 * 2)
