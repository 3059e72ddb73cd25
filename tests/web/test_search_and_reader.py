"""In Chromium: a sentence from a book of each format is found first, and its hit opens the
reader at the right page or section with the sentence in <mark>; filters live in the URL."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.web.corpus_places import Place, distinctive_place, one_line, squash

pytestmark = pytest.mark.integration

ONE_OF_EACH_FORMAT = [
    "h-g-wells_the-time-machine.pdf",
    "jane-austen_pride-and-prejudice.epub",
    "lewis-carroll_alices-adventures-in-wonderland.txt",
    "sun-tzu_the-art-of-war.md",
]


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def search(page: Page, web: str, query: str) -> None:
    page.goto(f"{web}/?q={quote(query)}")
    expect(page.locator("#status")).to_contain_text("Hits")


def first_hit_chunk(page: Page) -> int:
    return int(query_of(page.locator(".hit a").first.get_attribute("href"))["chunk"][0])


@pytest.fixture(scope="module", params=ONE_OF_EACH_FORMAT, ids=lambda book: book.rsplit(".")[-1])
def place(request: pytest.FixtureRequest, web: str) -> Place:
    return distinctive_place(request.param)


def test_a_sentence_lists_its_passage_first(page: Page, web: str, place: Place) -> None:
    search(page, web, place.sentence)
    first = page.locator(".hit").first
    expect(first.locator("a")).to_have_text(place.title)
    assert first_hit_chunk(page) in place.chunk_ids
    assert first.locator(".snippet mark").count() > 0
    assert not page.errors.messages


def test_the_hit_opens_the_reader_with_the_sentence_marked(
    page: Page, web: str, place: Place
) -> None:
    search(page, web, place.sentence)
    page.locator(".hit a").first.click()
    page.wait_for_url("**/read?**")
    expect(page.locator("#content mark").first).to_be_visible()
    opened = query_of(page.url)
    if place.format == "pdf":
        assert opened["page"] == [str(place.page)]
        # The text layer splits the passage into spans per line: join them.
        marked = " ".join(page.locator(".text-layer mark").all_text_contents())
        assert squash(place.sentence) in squash(marked)
        expect(page.locator(".page-view img")).to_have_attribute("src", re.compile("^blob:"))
    else:
        assert "section" in opened
        marks = [one_line(text) for text in page.locator("#content mark").all_text_contents()]
        assert any(one_line(place.sentence) in text for text in marks), marks
    assert not page.errors.messages


def test_next_goes_to_the_following_page_or_section(page: Page, web: str, place: Place) -> None:
    search(page, web, place.sentence)
    page.locator(".hit a").first.click()
    page.wait_for_url("**/read?**")
    expect(page.locator("#content mark").first).to_be_visible()
    before = query_of(page.url)
    title_before = page.locator("#meta").text_content()
    page.locator("#reader-nav-top a[rel=next]").click()
    page.wait_for_url(lambda url: query_of(url) != before)
    expect(page.locator("#status")).to_have_text("")
    after = query_of(page.url)
    if place.format == "pdf":
        assert after["page"] == [str(place.page + 1)]
        expect(page.locator("#meta")).to_contain_text(f"page {place.page + 1} of")
        assert page.locator(".text-layer .line").count() > 0
    else:
        assert after["section"] != before["section"]
        assert page.locator("#meta").text_content() != title_before
        assert page.locator(".passage p").count() > 0
    assert not page.errors.messages
