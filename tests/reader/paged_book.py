"""A small paged book for the reader's tests: front matter, nested sections, pages, terms."""

from __future__ import annotations

from hbi.books.book import BookMetadata, ExtractedBook, TocEntry
from hbi.bundle.files import BookBundle
from hbi.bundle.rows import build_rows
from hbi.chunking import chunk_book
from tests.small_books import Words, small_bundle

PARAGRAPHS = ["front words.", "alpha beta.", "gamma delta.", "epsilon zeta.", "eta theta."]


def paged_bundle(book_id: str = "paged") -> BookBundle:
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
