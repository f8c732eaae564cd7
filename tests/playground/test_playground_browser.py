"""The playground page in a real browser: Debian's chromium, driven by playwright.

No browser is ever downloaded: the tests use /usr/bin/chromium (``apt-get install
chromium``; .ci/run installs it) and skip, saying why, when it or the ``playwright`` package
is missing — except under CI (``CI`` set), where they must run and so fail instead.
"""

import io
import os
from pathlib import Path

import numpy as np
import pytest
from playground_page_helpers import SMALL_GRID, SMALL_STEPS

from tinygrad_opt import playground
from tinygrad_opt.playground.page import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOSS_FLOOR,
    POSITION_CLIP,
    POSITION_LEVELS,
)
from tinygrad_opt.playground.runner import SUGGESTED_LR


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs both)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield b
        b.close()


class Loaded:
    """A page opened from its file, with everything the browser reported about it."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.playground && window.playground.renders > 0")

    def drawn(self) -> dict:
        return self.page.evaluate("window.playground.drawn")

    def renders(self) -> int:
        return self.page.evaluate("window.playground.renders")

    def set_slider(self, key: str, index: int) -> None:
        """Set a slider as a user would: its value, then an input event; wait for the redraw."""
        before = self.renders()
        self.page.evaluate(
            """([key, index]) => {
                const el = document.getElementById("slider-" + key);
                el.value = String(index);
                el.dispatchEvent(new Event("input", { bubbles: true }));
            }""",
            [key, index],
        )
        self.page.wait_for_function(f"window.playground.renders > {before}")

    def canvas_png(self, element: str = "#paths") -> bytes:
        return self.page.locator(element).screenshot()


@pytest.fixture(scope="module")
def loaded(browser, small_page):
    page = Loaded(browser, small_page[0])
    yield page
    page.page.close()


def _pixels(png: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]


def _assert_drawn_is_run(drawn: dict, function: str, optimizer: str, hp: dict) -> None:
    """The path the page drew is playground.run's for these hyperparameters (to within the
    stored resolution), and so is its loss curve."""
    fn = playground.get_function(function)
    with np.errstate(all="ignore"):
        ref = playground.run(fn, {optimizer: (optimizer, hp)}, SMALL_STEPS).trajectories[optimizer]
    got = np.array(drawn[optimizer]["points"])
    n = len(got)
    assert n == int(np.isfinite(ref.losses).sum())
    res = np.array([fn.xlim[1] - fn.xlim[0], fn.ylim[1] - fn.ylim[0]]) / POSITION_LEVELS
    far = POSITION_CLIP * res  # stored θ is clipped there (65,536 windows away)
    assert (np.abs(got - np.clip(ref.points[:n], -far, far)) <= res / 2 + 1e-12).all()
    gap = np.maximum(ref.losses[:n] - fn.min_value, LOSS_FLOOR)
    np.testing.assert_allclose(drawn[optimizer]["logGaps"], np.log10(gap), atol=5e-4 + 1e-9)
    shown = drawn[optimizer]["hyperparameters"]
    assert shown["lr"] == pytest.approx(hp["lr"], rel=1e-12)


def test_page_loads_with_no_errors_and_no_network(loaded):
    assert loaded.errors == []
    assert [m for m in loaded.console if m[0] in ("error", "warning")] == []
    assert loaded.page.evaluate("window.playground.error") is None
    assert loaded.requests and all(u.startswith(("file:", "data:")) for u in loaded.requests)
    assert loaded.page.evaluate("window.playground.drawnFunction") == "quadratic"
    assert set(loaded.drawn()) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}


def test_screenshot_is_not_blank(loaded):
    for canvas in ("#paths", "#losses"):
        rgb = _pixels(loaded.canvas_png(canvas))
        colours = np.unique((rgb * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert rgb.std() > 0.05, canvas
        assert len(colours) > 50, canvas  # contour colours, paths, axes and labels
    path_pixels = _pixels(loaded.canvas_png("#paths"))
    # the paths' colours are there: tab10's blue (sgd) among the contour map's colours
    blue = np.array([0x1F, 0x77, 0xB4]) / 255
    assert (np.abs(path_pixels - blue).max(axis=-1) < 0.02).sum() > 20


def test_default_sliders_draw_the_library_defaults(loaded):
    drawn = loaded.drawn()
    lr = SUGGESTED_LR["quadratic"]
    _assert_drawn_is_run(drawn, "quadratic", "adam", {"lr": lr["adam"], "betas": (0.9, 0.999)})
    _assert_drawn_is_run(drawn, "quadratic", "momentum", {"lr": lr["momentum"], "momentum": 0.9})
    _assert_drawn_is_run(drawn, "quadratic", "sgd", {"lr": lr["sgd"]})


def test_moving_a_slider_redraws_the_path_of_the_new_value(loaded):
    before_png = loaded.canvas_png()
    before = loaded.drawn()
    loaded.set_slider("rho1", 0)  # ρ1 = 0.5: only Adam uses it
    after = loaded.drawn()
    assert after["adam"]["points"] != before["adam"]["points"]
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop"):
        assert after[name] == before[name]  # a slider moves only the optimizers that use it
    assert loaded.canvas_png() != before_png
    lr = SUGGESTED_LR["quadratic"]["adam"]
    _assert_drawn_is_run(after, "quadratic", "adam", {"lr": lr, "betas": (0.5, 0.999)})

    loaded.set_slider("lr", 2)  # η × 4 for every optimizer
    after_lr = loaded.drawn()
    for name, hp in [
        ("adam", {"betas": (0.5, 0.999)}),
        ("sgd", {}),
        ("momentum", {"momentum": 0.9}),
        ("rmsprop", {"alpha": 0.999}),
    ]:
        hp = {"lr": SUGGESTED_LR["quadratic"][name] * SMALL_GRID.lr[2], **hp}
        _assert_drawn_is_run(after_lr, "quadratic", name, hp)
    loaded.set_slider("lr", 1)
    loaded.set_slider("rho1", 1)
    assert loaded.drawn() == before


def test_switching_function_redraws_it(loaded):
    before_png = loaded.canvas_png()
    loaded.page.select_option("#function", label="beale")
    loaded.page.wait_for_function("window.playground.drawnFunction === 'beale'")
    assert loaded.canvas_png() != before_png
    drawn = loaded.drawn()
    lr = SUGGESTED_LR["beale"]
    _assert_drawn_is_run(drawn, "beale", "adam", {"lr": lr["adam"], "betas": (0.9, 0.999)})
    _assert_drawn_is_run(drawn, "beale", "nesterov", {"lr": lr["nesterov"], "momentum": 0.9})
    assert "Beale" in loaded.page.inner_text("#description")
    loaded.page.select_option("#function", label="quadratic")
    loaded.page.wait_for_function("window.playground.drawnFunction === 'quadratic'")


def test_a_diverging_run_ends_where_its_data_ends(loaded):
    loaded.page.select_option("#function", label="rosenbrock")
    loaded.page.wait_for_function("window.playground.drawnFunction === 'rosenbrock'")
    loaded.set_slider("lr", 2)  # SGD at 4× its suggested lr overflows at step 7
    sgd = loaded.drawn()["sgd"]
    assert sgd["length"] == len(sgd["points"]) < SMALL_STEPS + 1
    assert "diverged at step" in loaded.page.inner_text("#table")
    _assert_drawn_is_run(loaded.drawn(), "rosenbrock", "sgd", {"lr": 4 * 1e-3})
    loaded.set_slider("lr", 1)


def test_unchecking_an_optimizer_removes_it(loaded):
    before = loaded.renders()
    loaded.page.uncheck("#opt-adam")
    loaded.page.wait_for_function(f"window.playground.renders > {before}")
    assert "adam" not in loaded.drawn()
    before = loaded.renders()
    loaded.page.check("#opt-adam")
    loaded.page.wait_for_function(f"window.playground.renders > {before}")
    assert "adam" in loaded.drawn()
    assert loaded.errors == []
