"""The screenshot of the playground page in docs/playground.md.

    python scripts/make_playground_screenshot.py    # writes docs/playground.png

Writes a page (Rosenbrock and Beale, the default optimizers and sliders, 200 steps), opens
it in Debian's chromium (/usr/bin/chromium, headless, through playwright, as the browser
tests do; no browser is downloaded), moves the η slider to ×2 and captures the controls and
both plots.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "playground.png"))
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from tinygrad_opt.playground.page import CHROMIUM, CHROMIUM_ARGS, write_page

    with tempfile.TemporaryDirectory() as tmp:
        page_path = write_page(Path(tmp) / "playground.html", ["rosenbrock", "beale"])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.goto(Path(page_path).resolve().as_uri())
            page.wait_for_function("window.playground && window.playground.renders > 0")
            before = page.evaluate("window.playground.renders")
            page.evaluate(
                """() => { const el = document.getElementById("slider-lr");
                           el.value = String(Number(el.value) + 1);
                           el.dispatchEvent(new Event("input", { bubbles: true })); }"""
            )
            page.wait_for_function(f"window.playground.renders > {before}")
            png = page.screenshot(clip={"x": 0, "y": 0, "width": 1250, "height": 740})
            browser.close()
    from PIL import Image  # matplotlib's dependency: 256 colours keep the file small

    Image.open(io.BytesIO(png)).convert("RGB").quantize(256).save(args.out, optimize=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
