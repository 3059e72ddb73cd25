"""A section's passages and one passage's neighbours, read from a small index (real SQLite)."""

from __future__ import annotations

import pytest

from hbi.books.book import BookMetadata, ExtractedBook, TocEntry
from hbi.bundle.rows import build_rows
from hbi.chunking import chunk_book
from hbi.index import reads
from hbi.index.db import connect
from hbi.index.writer import apply_books
from hbi.reader.errors import NotFoundError
from hbi.reader.passages import FRONT_MATTER, chunk_view, passage_view
from tests.reader.paged_book import paged_bundle
from tests.small_books import Words, projected, small_bundle


@pytest.fixture
def index(tmp_path):
    connection = connect(tmp_path / "index.sqlite")
    apply_books(connection, [projected(paged_bundle())])
    return connection


@pytest.fixture
def book(index) -> dict:
    chunks = reads.chunks(index, "paged")
    first, second = (s["section_id"] for s in reads.sections(index, "paged"))
    return {"chunks": [c["chunk_id"] for c in chunks], "first": first, "second": second}


def test_a_chunk_alone_opens_its_section_with_it_marked(index, book) -> None:
    view = passage_view(index, "paged", chunk_id=book["chunks"][4])
    assert view["section_id"] == book["second"]
    assert view["breadcrumb"] == ["Chapter 1", "Chapter 2"]
    assert view["section_title"] == "Chapter 2"
    assert [(c["chunk_id"], c["mark"]) for c in view["chunks"]] == [
        (book["chunks"][3], False),
        (book["chunks"][4], True),
    ]
    assert view["prev"] == {"section_id": book["first"], "title": "Chapter 1"}
    assert view["next"] is None


def test_the_front_matter_is_a_section_without_id(index, book) -> None:
    view = passage_view(index, "paged", section_id=FRONT_MATTER)
    assert view["section_id"] is None and view["section_title"] is None
    assert view["breadcrumb"] == [] and view["page"] == 1
    assert [c["text"] for c in view["chunks"]] == ["front words."]
    assert view["prev"] is None
    assert view["next"] == {"section_id": book["first"], "title": "Chapter 1"}
    assert passage_view(index, "paged")["section_id"] is None  # the book opens there


def test_a_chunk_given_with_another_section_is_shown_unmarked_there(index, book) -> None:
    view = passage_view(index, "paged", section_id=book["first"], chunk_id=book["chunks"][4])
    assert view["section_id"] == book["first"]
    assert not any(c["mark"] for c in view["chunks"])


def test_unknown_sections_and_chunks_of_other_books_are_not_found(index, book) -> None:
    with pytest.raises(NotFoundError, match="no section"):
        passage_view(index, "paged", section_id="other#s0000")
    with pytest.raises(NotFoundError, match="no such book"):
        passage_view(index, "absent")
    with pytest.raises(NotFoundError, match="no passage"):
        passage_view(index, "paged", chunk_id=-5)
    with pytest.raises(NotFoundError, match="no such passage"):
        chunk_view(index, -5)


def test_a_passage_comes_with_at_most_five_neighbours_each_side(index, book) -> None:
    view = chunk_view(index, book["chunks"][1], around=9)
    assert [c["chunk_id"] for c in view["before"]] == book["chunks"][:1]
    assert [c["chunk_id"] for c in view["after"]] == book["chunks"][2:]
    assert view["section_path"] == ["Chapter 1"] and view["page_label"] == "p2"
    assert view["title"] == "Paged" and view["text"] == "alpha beta."


@pytest.fixture
def overlapping(tmp_path):
    """An index of one section whose three chunks overlap by a word."""
    text = "one two three four five six seven.\n\n"
    book = ExtractedBook("text", text, [TocEntry(1, "Only", 0)], BookMetadata(title="O"))
    rows = build_rows(
        book_id="overlap",
        book=book,
        chunks=chunk_book(book, Words(), max_tokens=3, overlap_tokens=1),
        object_key="overlap.txt",
        etag=None,
        data=text.encode(),
    )
    connection = connect(tmp_path / "index.sqlite")
    apply_books(connection, [projected(small_bundle(rows))])
    return connection


def test_overlapping_chunks_show_each_word_once(overlapping) -> None:
    view = passage_view(overlapping, "overlap")
    assert [c["text"] for c in view["chunks"]] == ["one two three", " four five", " six seven."]


def test_the_marked_chunk_keeps_its_whole_text_and_the_one_before_stops_short(overlapping) -> None:
    middle = reads.chunks(overlapping, "overlap")[1]["chunk_id"]
    view = passage_view(overlapping, "overlap", chunk_id=middle)
    assert [(c["text"], c["mark"]) for c in view["chunks"]] == [
        ("one two ", False),
        ("three four five", True),
        (" six seven.", False),
    ]
