"""Takes the README's screenshots of the web app: docs/screenshots/search.png and reader.png.

Run it against a running `hbi serve` whose library holds the shared corpus:
    .venv/bin/python scripts/screenshots.py --url http://127.0.0.1:8000 [--key KEY]
It drives Debian's `chromium` through Playwright, as tests/web does (no browser download).
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Page, expect, sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
SEARCH_QUERY = "how to sanitize flash memory"
READER_QUERY = "that evident confusion in the sunshine, that hasty yet fumbling awkward flight"
VIEWPORT = {"width": 1100, "height": 820}


def with_key(page: Page, key: str | None) -> None:
    """Puts the key in the tab's session storage, as the key dialog does."""
    if key:
        page.add_init_script(f"sessionStorage.setItem('hbi-api-key', {key!r})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the served HBI API")
    parser.add_argument("--key", help="its API key, if it has one")
    args = parser.parse_args()
    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("chromium is not installed (scripts/bootstrap.sh installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(30_000)
        with_key(page, args.key)
        page.goto(f"{args.url}/?q={quote(SEARCH_QUERY)}")
        expect(page.locator("#status")).to_contain_text("Hits")
        page.screenshot(path=str(OUT / "search.png"))
        page.goto(f"{args.url}/?q={quote(READER_QUERY)}&format=pdf")
        expect(page.locator("#status")).to_contain_text("Hits")
        page.locator(".hit a").first.click()
        page.wait_for_url("**/read?**")
        expect(page.locator(".page-view img")).to_have_attribute("src", re.compile("^blob:"))
        page.wait_for_function("document.querySelector('.page-view img').complete")
        page.evaluate("window.scrollTo(0, 0)")  # the header too; the mark is high on the page
        page.screenshot(path=str(OUT / "reader.png"))
        browser.close()
    for name in ("search.png", "reader.png"):
        print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
