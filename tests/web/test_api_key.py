"""In Chromium, against an API with a key: the page asks for the key on the first 401, shows
results once it is given, and says so when the key is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import served

pytestmark = pytest.mark.integration

API_KEY = "browser-test-key"


@pytest.fixture(scope="module")
def keyed_web(ingested) -> Iterator[str]:
    from hbi.api import create_app

    with served(create_app(api_key=API_KEY)) as url:
        yield url


def enter_key(page: Page, key: str) -> None:
    dialog = page.get_by_role("dialog", name="API key needed")
    dialog.get_by_label("API key").fill(key)
    dialog.get_by_role("button", name="Use this key").click()


def test_the_page_asks_for_the_key_then_shows_results(page: Page, keyed_web: str) -> None:
    page.goto(keyed_web + "/?q=rabbit")
    dialog = page.get_by_role("dialog", name="API key needed")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("alert")).to_contain_text("asks for an API key")
    enter_key(page, API_KEY)
    expect(dialog).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Hits")
    assert page.locator(".hit").count() > 0


def test_a_wrong_key_is_refused_with_a_message(page: Page, keyed_web: str) -> None:
    page.goto(keyed_web + "/library")
    enter_key(page, "not-the-key")
    dialog = page.get_by_role("dialog", name="API key needed")
    expect(dialog.get_by_role("alert")).to_contain_text("refused that key")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status")).to_contain_text("Error 401")


def test_pages_and_static_files_need_no_key_but_data_does(page: Page, keyed_web: str) -> None:
    for path in ("/", "/library", "/library/x", "/books/x/read?page=1", "/static/common.js"):
        assert page.request.get(keyed_web + path, headers={"Accept": "text/html"}).ok, path
    assert page.request.get(keyed_web + "/books").status == 401
    assert page.request.get(keyed_web + "/library").status == 401
    answer = page.request.get(keyed_web + "/", headers={"Accept": "text/html"})
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
