"""The reader's reads on the index: a chunk with its place, neighbours, pages, sections and
back-of-book terms (real SQLite files)."""

from __future__ import annotations

import pytest

from hbi.books.book import BookMetadata, ExtractedBook, TocEntry
from hbi.bundle.rows import build_rows
from hbi.chunking import chunk_book
from hbi.index import reads
from hbi.index.db import connect
from hbi.index.writer import apply_books
from tests.small_books import Words, book_rows, projected, small_bundle

PARAGRAPHS = ["front words.", "alpha beta.", "gamma delta.", "epsilon zeta.", "eta theta."]


def paged_bundle(book_id: str = "paged"):
    """A book of five one-chunk paragraphs, the first before any ToC entry, on pages 1..5 (the
    third on 2..3); 'Chapter 2' is a child of 'Chapter 1' and holds the last two paragraphs."""
    text, starts = "", []
    for paragraph in PARAGRAPHS:
        starts.append(len(text))
        text += paragraph + "\n\n"
    toc = [TocEntry(1, "Chapter 1", starts[1]), TocEntry(2, "Chapter 2", starts[3])]
    book = ExtractedBook("text", text, toc, BookMetadata(title="Paged"))
    rows = build_rows(
        book_id=book_id,
        book=book,
        chunks=chunk_book(book, Words(), max_tokens=2, overlap_tokens=0),
        object_key=f"{book_id}.txt",
        etag=None,
        data=text.encode(),
    )
    bundle = small_bundle(rows)
    for page, row in enumerate(bundle.chunks, start=1):
        row.update(page_start=page, page_end=page, page_label_start=f"p{page}")
    bundle.chunks[2]["page_start"] = 2  # runs over pages 2..3
    chapter_1 = bundle.sections[0]["section_id"]
    bundle.terms.extend(
        [
            {
                "term_id": f"{book_id}#t1",
                "book_id": book_id,
                "term": "Zebra",
                "parents": [],
                "pages": ["3"],
                "section_ids": [chapter_1],
            },
            {
                "term_id": f"{book_id}#t2",
                "book_id": book_id,
                "term": "apple",
                "parents": [],
                "pages": ["2"],
                "section_ids": [chapter_1, "gone"],
            },
            {
                "term_id": f"{book_id}#t3",
                "book_id": book_id,
                "term": "core",
                "parents": ["apple"],
                "pages": ["4"],
                "section_ids": [],
            },
            {
                "term_id": f"{book_id}#t4",
                "book_id": book_id,
                "term": "a_b%",
                "parents": [],
                "pages": [],
                "section_ids": [],
            },
        ]
    )
    return bundle


@pytest.fixture
def index(tmp_path):
    connection = connect(tmp_path / "index.sqlite")
    apply_books(
        connection,
        [projected(paged_bundle()), projected(small_bundle(book_rows(["other book."], "other")))],
    )
    return connection


def ids(rows: list[dict]) -> list[int]:
    return [row["chunk_id"] for row in rows]


def test_a_chunk_carries_its_book_title_section_titles_and_page_label(index) -> None:
    third = reads.chunks(index, "paged")[3]
    row = reads.chunk(index, third["chunk_id"])
    assert row["text"] == "epsilon zeta."
    assert row["title"] == "Paged"
    assert row["section_path"] == ["Chapter 1", "Chapter 2"]
    assert row["page_label"] == "p4"


def test_a_front_matter_chunk_has_an_empty_section_path(index) -> None:
    first = reads.chunks(index, "paged")[0]
    row = reads.chunk(index, first["chunk_id"])
    assert row["section_id"] is None and row["section_path"] == []


def test_an_unknown_chunk_is_none(index) -> None:
    assert reads.chunk(index, 123456789) is None


def test_neighbours_come_from_the_same_book_in_reading_order(index) -> None:
    book = ids(reads.chunks(index, "paged"))
    before, after = reads.chunks_around(index, book[1], 2, 2)
    assert ids(before) == book[:1]
    assert ids(after) == book[2:4]
    assert reads.chunks_around(index, book[4], 0, 5) == ([], [])
    assert reads.chunks_around(index, 123456789, 2, 2) == ([], [])


def test_chunks_on_pages_are_those_whose_page_range_overlaps(index) -> None:
    book = ids(reads.chunks(index, "paged"))
    assert ids(reads.chunks_on_pages(index, "paged", 2, 2)) == book[1:3]
    assert ids(reads.chunks_on_pages(index, "paged", 3, 4)) == book[2:4]
    assert reads.chunks_on_pages(index, "paged", 9, 9) == []


def test_a_section_holds_only_its_own_chunks_and_none_is_the_front_matter(index) -> None:
    book = ids(reads.chunks(index, "paged"))
    chapter_1, chapter_2 = (s["section_id"] for s in reads.sections(index, "paged"))
    assert ids(reads.section_chunks(index, "paged", chapter_1)) == book[1:3]
    assert ids(reads.section_chunks(index, "paged", chapter_2)) == book[3:]
    assert ids(reads.section_chunks(index, "paged", None)) == book[:1]


def test_index_terms_are_alphabetical_with_subentries_after_their_parent(index) -> None:
    rows, total = reads.index_terms(index)
    assert total == 4
    assert [(r["parents"], r["term"]) for r in rows] == [
        ([], "a_b%"),
        ([], "apple"),
        (["apple"], "core"),
        ([], "Zebra"),
    ]
    apple = rows[1]
    assert apple["title"] == "Paged" and apple["pages"] == ["2"]
    assert [s["title"] for s in apple["sections"]] == ["Chapter 1"]


def test_index_terms_match_a_term_or_a_prefix_ignoring_case(index) -> None:
    assert [r["term"] for r in reads.index_terms(index, term="ZEBRA")[0]] == ["Zebra"]
    rows, total = reads.index_terms(index, prefix="AP")
    assert total == 1 and rows[0]["term"] == "apple"
    # LIKE's wildcards in a prefix match only themselves.
    assert [r["term"] for r in reads.index_terms(index, prefix="a_")[0]] == ["a_b%"]


def test_index_terms_page_by_limit_and_offset_and_filter_by_book(index) -> None:
    rows, total = reads.index_terms(index, limit=2, offset=1)
    assert total == 4 and [r["term"] for r in rows] == ["apple", "core"]
    assert reads.index_terms(index, book_ids=["other"]) == ([], 0)
    assert reads.index_terms(index, book_ids=[])[1] == 0
    assert reads.index_terms(index, book_ids=["paged", "other"])[1] == 4
