"""The reader's reads on the index: a chunk with its place, neighbours, pages, sections and
back-of-book terms (real SQLite files)."""

from __future__ import annotations

import pytest

from hbi.index import reads
from hbi.index.db import connect
from hbi.index.writer import apply_books
from tests.reader.paged_book import paged_bundle
from tests.small_books import book_rows, projected, small_bundle


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


def test_a_section_row_has_its_path_and_unknown_ones_are_none(index) -> None:
    second = reads.sections(index, "paged")[1]["section_id"]
    assert reads.section(index, second)["path"] == ["Chapter 1", "Chapter 2"]
    assert reads.section(index, "absent") is None


def test_the_section_at_a_page_is_the_last_begun_by_then(index) -> None:
    index.execute("UPDATE sections SET page = ordinal * 3 + 2 WHERE book_id = 'paged'")
    assert reads.section_at_page(index, "paged", 1) is None
    assert reads.section_at_page(index, "paged", 4)["title"] == "Chapter 1"
    assert reads.section_at_page(index, "paged", 5)["title"] == "Chapter 2"


def test_reading_units_are_the_front_matter_then_sections_with_text(index) -> None:
    units = reads.reading_units(index, "paged")
    assert [(u["title"], u["ordinal"]) for u in units] == [
        (None, -1),
        ("Chapter 1", 0),
        ("Chapter 2", 1),
    ]
    assert units[0]["section_id"] is None
