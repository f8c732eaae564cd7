"""A small playground page, built once for the page and browser tests."""

import pytest
from playground_page_helpers import SMALL_FUNCTIONS, SMALL_GRID, SMALL_OPTIMIZERS, SMALL_STEPS

from tinygrad_opt.playground.page import build_page_data, render_page


@pytest.fixture(scope="session")
def small_page(tmp_path_factory):
    """(path of the written page, its HTML text)."""
    data = build_page_data(SMALL_FUNCTIONS, SMALL_OPTIMIZERS, SMALL_STEPS, SMALL_GRID, False)
    html = render_page(data)
    path = tmp_path_factory.mktemp("playground") / "playground.html"
    path.write_text(html, encoding="utf-8")
    return path, html
