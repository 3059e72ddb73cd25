"""In Chromium: filters narrow the hits and live in the URL, a reload keeps the search, and the
library lists every book with a ToC tree that opens the reader."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from hbi.index import reads
from hbi.index.db import connect, default_index_path

pytestmark = pytest.mark.integration

QUERY = "the time of war"
TIME_MACHINE = "h-g-wells_the-time-machine.pdf"
ART_OF_WAR = "sun-tzu_the-art-of-war.md"


def hit_books(page: Page) -> set[str]:
    hrefs = page.locator(".hit a.hit-title").evaluate_all("links => links.map(a => a.pathname)")
    return {href.split("/")[2] for href in hrefs}


def submit(page: Page) -> None:
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Hits")


def test_format_filter_narrows_hits_and_is_in_the_url(page: Page, web: str) -> None:
    page.goto(web + "/")
    page.get_by_label("Words or a sentence").fill(QUERY)
    submit(page)
    assert len(hit_books(page)) > 1
    page.get_by_label("Format").select_option("markdown")
    submit(page)
    assert hit_books(page) == {ART_OF_WAR}
    assert parse_qs(urlsplit(page.url).query)["format"] == ["markdown"]
    assert not page.errors.messages


def test_book_filter_survives_a_reload(page: Page, web: str) -> None:
    page.goto(web + "/")
    page.get_by_label("Words or a sentence").fill(QUERY)
    page.get_by_label("Book", exact=True).select_option(TIME_MACHINE)
    page.get_by_label("One hit per book").check()
    submit(page)
    assert hit_books(page) == {TIME_MACHINE}
    state = parse_qs(urlsplit(page.url).query)
    assert state["book"] == [TIME_MACHINE] and state["per_book"] == ["1"]
    hits = page.locator(".hit a.hit-title").count()
    page.reload()
    expect(page.locator("#status")).to_contain_text("Hits")
    expect(page.get_by_label("Words or a sentence")).to_have_value(QUERY)
    expect(page.get_by_label("Book", exact=True)).to_have_value(TIME_MACHINE)
    expect(page.get_by_label("One hit per book")).to_be_checked()
    assert page.locator(".hit a.hit-title").count() == hits
    assert hit_books(page) == {TIME_MACHINE}


def test_back_returns_to_the_previous_search(page: Page, web: str) -> None:
    page.goto(web + "/?q=rabbit")
    expect(page.locator("#status")).to_contain_text("Hits")
    page.get_by_label("Words or a sentence").fill("cavalry")
    submit(page)
    expect(page).to_have_url(f"{web}/?q=cavalry")
    page.go_back()
    expect(page.get_by_label("Words or a sentence")).to_have_value("rabbit")
    expect(page.locator(".hit .snippet mark").first).to_have_text(re.compile("rabbit", re.I))


def test_explain_shows_each_lists_rank(page: Page, web: str) -> None:
    page.goto(web + "/?q=rabbit&explain=1")
    expect(page.locator(".hit .explain").first).to_contain_text("Lexical")
    expect(page.locator(".hit .explain").first).to_contain_text("rank")


def test_library_lists_every_book(page: Page, web: str, ingested: dict) -> None:
    page.goto(web + "/library")
    expect(page.locator("#status")).to_contain_text("books indexed")
    # Other tests add books to the session's library: every book the index holds is listed.
    indexed = reads.books(connect(default_index_path()))
    rows = page.locator("#library table").first.locator("tbody tr")
    expect(rows).to_have_count(len(indexed))
    assert len(ingested) == 8 and set(ingested) <= {book["book_id"] for book in indexed}
    for book in indexed:
        expect(rows.filter(has_text=book["title"]).first).to_be_visible()
    headings = page.locator("#library table").first.locator("thead th")
    assert "Language" in headings.all_inner_texts() and "OCR" in headings.all_inner_texts()
    war = rows.filter(has_text="The Art of War").first
    expect(war.locator("td").nth(2)).to_have_text("en")
    assert not page.errors.messages


def test_a_toc_entry_opens_the_reader_at_its_section(page: Page, web: str) -> None:
    page.goto(web + "/library")
    page.get_by_role("link", name="The Art of War").click()
    page.wait_for_url("**/library/**")
    entry = page.locator("#toc a", has_text="Attack by Stratagem").first
    entry.click()
    page.wait_for_url("**/read?section=**")
    expect(page.locator("#meta")).to_contain_text("Attack by Stratagem", ignore_case=True)
    assert page.locator(".passage p").count() > 0
    assert not page.errors.messages
