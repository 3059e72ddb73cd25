"""Browser fixtures: the API served by uvicorn on a loopback port, and Debian's Chromium.

Playwright drives the system's `chromium` (scripts/bootstrap.sh installs it); it never downloads
a browser. A failed test leaves a screenshot of its page in its tmp_path and prints where.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from hbi.api import create_app
from hbi.stack.process import free_port

TIMEOUT_MS = 20_000  # a search's first call loads the model: seconds on a loaded machine
expect.set_options(timeout=TIMEOUT_MS)


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """Serve app on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; missing Chromium fails the run, it never skips it."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Chromium is not installed: the browser tests drive Debian's `chromium` "
            "(run scripts/bootstrap.sh, or apt-get install chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def web(ingested) -> Iterator[str]:
    """The base URL of an API without a key, over the session's ingested corpus."""
    with served(create_app(api_key="")) as url:
        yield url


class PageErrors:
    """What a page reported that a working app never does: script errors and console errors."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text}")

    def page_error(self, error: Exception) -> None:
        self.messages.append(f"pageerror: {error}")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, tmp_path) -> Iterator[Page]:
    """A fresh browser tab (own session storage); on failure its screenshot goes to tmp_path."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors = PageErrors()
    tab.on("console", errors.console)
    tab.on("pageerror", errors.page_error)
    tab.errors = errors  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shot = tmp_path / f"{request.node.name}.png"
            tab.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot of the failed page: {shot}")
        context.close()
